package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDBCheckSharesOnePing: probes that arrive while a ping is in flight
// wait for it and share its result; the next probe pings again.
func TestDBCheckSharesOnePing(t *testing.T) {
	var pings atomic.Int32
	unblock := make(chan struct{})
	d := &dbCheck{ping: func(context.Context) error {
		pings.Add(1)
		<-unblock
		return errors.New("down")
	}}
	const probes = 50
	start := make(chan struct{})
	errs := make(chan error, probes)
	var wg sync.WaitGroup
	for range probes {
		wg.Go(func() {
			<-start
			errs <- d.check(context.Background())
		})
	}
	close(start)
	// Every probe is waiting once the ping runs and no new one starts.
	for pings.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(unblock)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil || err.Error() != "down" {
			t.Errorf("check = %v, want the ping's error", err)
		}
	}
	// Probes that started after the ping ended (none here, but a slow
	// goroutine could) ping again; in any case far fewer than 50 times.
	if n := pings.Load(); n < 1 || n > probes/2 {
		t.Errorf("%d pings for %d concurrent probes", n, probes)
	}

	before := pings.Load()
	if err := d.check(context.Background()); err == nil {
		t.Error("the ping fails, check does not")
	}
	if pings.Load() != before+1 {
		t.Error("a probe after the round did not ping again")
	}
}

// TestDBCheckBoundedByTheProbe: a ping that hangs (a dead TCP connection)
// does not hold the probe beyond its own deadline.
func TestDBCheckBoundedByTheProbe(t *testing.T) {
	unblock := make(chan struct{})
	defer close(unblock)
	d := &dbCheck{ping: func(context.Context) error { <-unblock; return nil }}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.check(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("check = %v, want the probe's deadline", err)
	}
}

// TestDBCheckPanics: a ping that panics makes the probe panic (the recovery
// middleware answers 500), not the process crash.
func TestDBCheckPanics(t *testing.T) {
	d := &dbCheck{ping: func(context.Context) error { panic("boom") }}
	defer func() {
		v := recover()
		if !strings.Contains(fmt.Sprint(v), "boom") {
			t.Errorf("recovered %v, want the ping's panic", v)
		}
	}()
	_ = d.check(context.Background())
	t.Error("check returned")
}
