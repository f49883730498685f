package server_test

import (
	"context"
	"database/sql"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/store"
)

// wantProbesOK asserts that /livez, /readyz and /health answer 200 ok (the
// database ok too) and that /metrics is served.
func wantProbesOK(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	live, err := h.client.GetLivenessWithResponse(ctx)
	if err != nil || live.JSON200 == nil || live.JSON200.Status != client.LivenessOK {
		t.Errorf("GET /livez: %v, status %d: %s; want 200 ok", err, live.StatusCode(), live.Body)
	}
	ready, err := h.client.GetReadinessWithResponse(ctx)
	if err != nil || ready.JSON200 == nil || ready.JSON200.Status != client.ReadinessOK || ready.JSON200.Database != client.DatabaseOK {
		t.Errorf("GET /readyz: %v, status %d: %s; want 200 ok/ok", err, ready.StatusCode(), ready.Body)
	}
	health, err := h.client.GetHealthWithResponse(ctx)
	if err != nil || health.JSON200 == nil || health.JSON200.Status != client.ReadinessOK || health.JSON200.Database != client.DatabaseOK {
		t.Errorf("GET /health: %v, status %d: %s; want 200 ok/ok", err, health.StatusCode(), health.Body)
	}
	if m := h.scrape(); m.status != http.StatusOK {
		t.Errorf("GET /metrics: status %d", m.status)
	}
}

// TestProbes: on an idle server every probe answers 200.
func TestProbes(t *testing.T) {
	t.Parallel()
	wantProbesOK(t, newHarness(t))
}

// TestProbesWhileThePoolIsSaturated: with a pool of two connections, both
// held by API requests that wait for a table lock and more requests queued
// for a connection, the server is still live and ready: the probes never
// wait for a pooled connection and are never shed.
func TestProbesWhileThePoolIsSaturated(t *testing.T) {
	t.Parallel()
	dsn := dbtest.NewDSN(t)
	st, err := store.Open(context.Background(), dsn, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h := newHarnessWithStore(t, st)
	h.store = st
	p := h.createProduct("locked", 1, 1)

	// Another session locks the products table: every read of it waits.
	other, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	lock, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(`LOCK TABLE products IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { _ = lock.Rollback() }) }
	t.Cleanup(release)

	const requests = 8
	var wg sync.WaitGroup
	statuses := make(chan int, requests)
	for range requests {
		wg.Go(func() {
			resp, err := h.client.GetProductWithResponse(context.Background(), p.ID)
			if err != nil {
				t.Error(err)
				return
			}
			statuses <- resp.StatusCode()
		})
	}
	// Saturated: both pool connections wait for the lock, and requests have
	// queued for a connection.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := other.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if s := st.DB().Stats(); waiting == 2 && s.InUse == 2 && s.WaitCount > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool never saturated: %d sessions wait for the lock, pool %+v", waiting, st.DB().Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}

	wantProbesOK(t, h)

	release()
	wg.Wait()
	close(statuses)
	for status := range statuses {
		if status != http.StatusOK {
			t.Errorf("GET /products/{id} once the lock was released: %d, want 200", status)
		}
	}
}

// TestReadyzDuringShutdown: from the moment a graceful shutdown begins,
// /readyz and /health answer 503 with the database still ok, while /livez
// and the API go on serving.
func TestReadyzDuringShutdown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	wantProbesOK(t, h)

	h.server.BeginShutdown()
	ready, err := h.client.GetReadinessWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ready.JSON503 == nil || ready.JSON503.Status != client.ReadinessUnavailable || ready.JSON503.Database != client.DatabaseOK {
		t.Errorf("GET /readyz: status %d: %s; want 503 unavailable/ok", ready.StatusCode(), ready.Body)
	}
	health, err := h.client.GetHealthWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if health.JSON503 == nil || health.JSON503.Status != client.ReadinessUnavailable || health.JSON503.Database != client.DatabaseOK {
		t.Errorf("GET /health: status %d: %s; want 503 unavailable/ok", health.StatusCode(), health.Body)
	}
	live, err := h.client.GetLivenessWithResponse(ctx)
	if err != nil || live.JSON200 == nil {
		t.Errorf("GET /livez: %v, status %d: %s; want 200", err, live.StatusCode(), live.Body)
	}
	list, err := h.client.ListProductsWithResponse(ctx, nil)
	if err != nil || list.JSON200 == nil {
		t.Errorf("GET /products during shutdown: %v, status %d: %s; want 200", err, list.StatusCode(), list.Body)
	}
}
