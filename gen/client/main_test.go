package client_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/ordercommit"
	"github.com/ordersettle/ordersettle/server"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

// exampleURL is the base URL of the server the examples call: the real
// service (HTTP handler and settlement engine) over a fresh database that
// holds exampleTransactions. TestMain starts it.
var exampleURL string

// exampleToken is the API key the examples send (jobs and settlements
// scopes). The server refuses requests that do not carry it as
// "Authorization: Bearer <token>", so the Example proves that
// WithBearerToken sends it.
var exampleToken string

// exampleTransactions are the payments the example settles: merchants 1 and
// 2 over the first three days of January 2025, one of them refunded.
const exampleTransactions = `
	INSERT INTO transactions (merchant_id, amount_cents, fee_cents, status, paid_at) VALUES
		(1, 12500, 375, 'PAID',     '2025-01-01 09:30:00'),
		(1,  4000, 120, 'PAID',     '2025-01-01 17:05:00'),
		(2,  9900, 297, 'PAID',     '2025-01-01 12:00:00'),
		(1,  2500,  75, 'REFUNDED', '2025-01-02 10:00:00'),
		(1,  7000, 210, 'PAID',     '2025-01-02 11:00:00'),
		(2,  1000,  30, 'PAID',     '2025-01-03 08:00:00'),
		(1, 30000, 900, 'PAID',     '2025-01-03 23:59:59')`

func TestMain(m *testing.M) { os.Exit(dbtest.Run(withServer{m})) }

// withServer runs the package's tests and examples with the example server
// up.
type withServer struct{ m *testing.M }

func (w withServer) Run() int {
	stop, err := startExampleServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "example server:", err)
		return 1
	}
	defer stop()
	return w.m.Run()
}

// startExampleServer starts the server for the examples and returns the func
// that stops it and drops its database.
func startExampleServer() (stop func(), err error) {
	ctx := context.Background()
	dsn, drop, err := dbtest.NewDatabase(ctx)
	if err != nil {
		return nil, err
	}
	var undo []func()
	stop = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	undo = append(undo, func() { _ = drop() })
	defer func() {
		if err != nil {
			stop()
		}
	}()

	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() { _ = st.Close() })
	if _, err := st.DB().ExecContext(ctx, exampleTransactions); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ordersettle-example-")
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() { _ = os.RemoveAll(dir) })

	eng := settlement.New(st, settlement.Config{
		Dir: dir, Logger: testkit.Quiet, PollInterval: 100 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond,
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(runCtx) }()
	undo = append(undo, func() { cancel(); <-done })

	orders := ordercommit.New(st, ordercommit.Config{Logger: testkit.Quiet})
	ordersCtx, stopOrders := context.WithCancel(ctx)
	ordersDone := make(chan error, 1)
	go func() { ordersDone <- orders.Run(ordersCtx) }()
	undo = append(undo, func() { stopOrders(); <-ordersDone })

	srv, err := server.New(st, orders, eng, server.Config{Logger: testkit.Quiet})
	if err != nil {
		return nil, err
	}
	undo = append(undo, srv.Close)
	ts := httptest.NewServer(srv.Handler())
	undo = append(undo, ts.Close)
	exampleURL = ts.URL

	// An API key with the scopes the example needs.
	token, hash, err := auth.NewToken()
	if err != nil {
		return nil, err
	}
	if _, err := st.CreateAPIKey(ctx, store.NewAPIKey{Name: "example", Hash: hash,
		Scopes: auth.NewScopeSet(auth.ScopeJobsWrite, auth.ScopeJobsRead, auth.ScopeSettlementsRead)}); err != nil {
		return nil, err
	}
	exampleToken = token
	return stop, nil
}
