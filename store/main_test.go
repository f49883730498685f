package store_test

import (
	"testing"

	"github.com/ordersettle/ordersettle/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
