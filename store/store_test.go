package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"
)

func TestTranslate(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"too many connections", &pq.Error{Code: "53300"}, ErrUnavailable},
		{"connection failure", &pq.Error{Code: "08006"}, ErrUnavailable},
		{"admin shutdown", &pq.Error{Code: "57P01"}, ErrUnavailable},
		{"starting up", &pq.Error{Code: "57P03"}, ErrUnavailable},
		{"NUL byte", &pq.Error{Code: "22021"}, ErrInvalidInput},
		{"value too long", &pq.Error{Code: "22001"}, ErrInvalidInput},
		{"query cancelled", &pq.Error{Code: "57014"}, context.Canceled},
		{"connection refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, ErrUnavailable},
		{"connection lost", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), ErrUnavailable},
		{"deadline", context.DeadlineExceeded, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := translate(tc.err)
			if !errors.Is(got, tc.want) {
				t.Errorf("translate(%v) = %v, want it to wrap %v", tc.err, got, tc.want)
			}
			if !errors.Is(got, tc.err) && !errors.Is(tc.err, tc.want) {
				t.Errorf("translate dropped the original error %v", tc.err)
			}
		})
	}
	other := &pq.Error{Code: "42P01"} // undefined_table: a bug, passes through
	if got := translate(other); got != error(other) {
		t.Errorf("translate(undefined_table) = %v, want it unchanged", got)
	}
	if translate(nil) != nil {
		t.Error("translate(nil) != nil")
	}
}

func TestWithSessionDefaults(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u@h:5432/db?sslmode=disable":             "postgres://u@h:5432/db?application_name=ordersettle&connect_timeout=5&sslmode=disable&timezone=UTC",
		"postgres://u@h/db?timezone=Europe%2FParis":          "postgres://u@h/db?application_name=ordersettle&connect_timeout=5&timezone=Europe%2FParis",
		"host=h dbname=db":                                   "host=h dbname=db timezone=UTC connect_timeout=5 application_name=ordersettle",
		"host=h connect_timeout=1 application_name=x":        "host=h connect_timeout=1 application_name=x timezone=UTC",
		"postgresql://u@h/db?connect_timeout=9&timezone=UTC": "postgresql://u@h/db?application_name=ordersettle&connect_timeout=9&timezone=UTC",
	} {
		got, err := withSessionDefaults(in)
		if err != nil || got != want {
			t.Errorf("withSessionDefaults(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestProductGate: at most limit holders per product at once, other products
// never wait, a cancelled wait gives up, and idle products are forgotten.
func TestProductGate(t *testing.T) {
	g := newProductGate(2)
	ctx := context.Background()

	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			leave, err := g.enter(ctx, 7)
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			leave()
		}()
	}
	wg.Wait()
	if most.Load() != 2 {
		t.Errorf("at most %d holders at once, want 2", most.Load())
	}

	a, _ := g.enter(ctx, 1)
	b, _ := g.enter(ctx, 1)
	other, err := g.enter(ctx, 2) // another product: no wait
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := g.enter(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a third holder of product 1 got %v, want a deadline error", err)
	}
	a()
	b()
	other()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.slots) != 0 {
		t.Errorf("%d products still tracked after every holder left", len(g.slots))
	}
}
