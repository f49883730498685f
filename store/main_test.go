package store_test

import (
	"testing"

	"github.com/ordersettle/ordersettle/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }
