// Package testkit holds the helpers the tests of several packages share: a
// quiet logger, polling until a condition holds, and products, stock and row
// locks on a real database. (The server child process is in
// internal/testkit/testserver, so that tests that do not start a server
// do not link it.)
package testkit

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/store"
)

// Quiet is a logger that drops everything.
var Quiet = slog.New(slog.DiscardHandler)

// Eventually polls cond, at first often and then every 20 ms, until it
// holds; it fails tb when it does not within timeout. what says what was
// awaited.
func Eventually(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// CreateProduct creates a product named name through st.
func CreateProduct(tb testing.TB, st *store.Store, name string, stock, price int32) store.Product {
	tb.Helper()
	p, err := st.CreateProduct(context.Background(), store.NewProduct{Name: name, Stock: stock, PriceCents: price})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// StockOf reads the product's stock.
func StockOf(tb testing.TB, st *store.Store, id int32) int32 {
	tb.Helper()
	p, err := st.GetProduct(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return p.Stock
}

// LockProduct holds the product's row lock in an open transaction until
// release is called (or tb ends), so that whatever orders it waits.
func LockProduct(tb testing.TB, st *store.Store, id int32) (release func()) {
	tb.Helper()
	tx, err := st.DB().Begin()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := tx.Exec(`SELECT 1 FROM products WHERE id = $1 FOR UPDATE`, id); err != nil {
		tb.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback() }) }
	tb.Cleanup(release)
	return release
}

// SyncBuffer is a bytes.Buffer that may be written (by a logger, a child
// process's output) while the test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
