package server_test

import (
	"context"
	"testing"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/store"
)

// startCommitter runs an order committer over st until t ends; a zero cfg
// gets the committer's defaults and a silent logger.
func startCommitter(t testing.TB, st *store.Store, cfg ordercommit.Config) *ordercommit.Committer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testkit.Quiet
	}
	c := ordercommit.New(st, cfg)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	swept := make(chan error, 1)
	go func() { swept <- c.RunExpiry(ctx) }()
	t.Cleanup(func() { stop(); <-swept })
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("order committer: %v", err)
		}
	})
	return c
}

// newHarnessWithCommitter is newHarness with an order committer configured
// by cfg.
func newHarnessWithCommitter(t testing.TB, cfg ordercommit.Config) *harness {
	t.Helper()
	dsn := dbtest.NewDSN(t)
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h := newHarnessWithOrders(t, st, startCommitter(t, st, cfg))
	h.store, h.dsn = st, dsn
	return h
}
