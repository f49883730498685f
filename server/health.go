package server

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ordersettle/ordersettle/gen"
)

// readinessTimeout bounds the database check of GET /readyz and GET /health.
const readinessTimeout = time.Second

// GetLiveness implements GET /livez: 200 while the process serves. It never
// touches the database.
func (s *Server) GetLiveness(context.Context, gen.GetLivenessRequestObject) (gen.GetLivenessResponseObject, error) {
	return gen.GetLiveness200JSONResponse{Body: gen.Liveness{Status: gen.LivenessOK}}, nil
}

// GetReadiness implements GET /readyz.
func (s *Server) GetReadiness(ctx context.Context, _ gen.GetReadinessRequestObject) (gen.GetReadinessResponseObject, error) {
	ready, body := s.readiness(requestContext(ctx))
	if !ready {
		return gen.GetReadiness503JSONResponse{NotReadyJSONResponse: notReady(body)}, nil
	}
	return gen.GetReadiness200JSONResponse{ReadyJSONResponse: gen.ReadyJSONResponse{Body: body}}, nil
}

// GetHealth implements GET /health, which answers like GET /readyz.
func (s *Server) GetHealth(ctx context.Context, _ gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	ready, body := s.readiness(requestContext(ctx))
	if !ready {
		return gen.GetHealth503JSONResponse{NotReadyJSONResponse: notReady(body)}, nil
	}
	return gen.GetHealth200JSONResponse{ReadyJSONResponse: gen.ReadyJSONResponse{Body: body}}, nil
}

// BeginShutdown marks the server as shutting down: from now on GET /readyz
// and GET /health answer 503, so that load balancers stop sending traffic
// while requests in flight finish. The composition root calls it when the
// shutdown signal arrives, before http.Server.Shutdown. Everything else keeps
// serving; /livez stays 200.
func (s *Server) BeginShutdown() { s.shuttingDown.Store(true) }

// readiness checks the database within readinessTimeout and reports the
// server ready when it answers and no shutdown has begun.
func (s *Server) readiness(ctx context.Context) (ready bool, body gen.Readiness) {
	ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
	defer cancel()
	body = gen.Readiness{Status: gen.ReadinessOK, Database: gen.DatabaseOK}
	if err := s.dbCheck.check(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness check: database unreachable", "err", err)
		body.Database = gen.DatabaseUnreachable
	}
	if body.Database != gen.DatabaseOK || s.shuttingDown.Load() {
		body.Status = gen.ReadinessUnavailable
		return false, body
	}
	return true, body
}

func notReady(body gen.Readiness) gen.NotReadyJSONResponse {
	return gen.NotReadyJSONResponse{Body: body, Headers: gen.NotReadyResponseHeaders{RetryAfter: retryAfterSeconds}}
}

// dbCheck runs the readiness probes' database check. The ping itself goes
// over the store's connection of its own (see store.Store.Ping), so it never
// queues behind API requests for a pooled connection. Probes that arrive
// while a ping is in flight share its result instead of starting another, so
// a burst of probes costs the database one round trip, and every probe
// returns within its own deadline even if the driver does not (a ping on a
// dead TCP connection can block far longer than a second): the ping runs in
// a goroutine of its own, bounded by readinessTimeout, and is not repeated
// while it is still stuck.
type dbCheck struct {
	ping func(context.Context) error

	mu      sync.Mutex
	current *pingRound // the ping in flight; nil when none
}

// pingRound is one ping and the probes waiting for it. err and panicked are
// written before done is closed.
type pingRound struct {
	done     chan struct{}
	err      error
	panicked any // what the ping panicked with, with its stack
}

// check returns the result of a ping that is in flight or starts now, or
// ctx's error when ctx ends first. A ping that panicked panics again here,
// in the request's goroutine, where the recovery middleware answers 500.
func (d *dbCheck) check(ctx context.Context) error {
	d.mu.Lock()
	r := d.current
	if r == nil {
		r = &pingRound{done: make(chan struct{})}
		d.current = r
		go d.run(r)
	}
	d.mu.Unlock()
	select {
	case <-r.done:
		if r.panicked != nil {
			panic(r.panicked)
		}
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %s: %w", readinessTimeout, ctx.Err())
	}
}

func (d *dbCheck) run(r *pingRound) {
	ctx, cancel := context.WithTimeout(context.Background(), readinessTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			r.panicked = fmt.Sprintf("readiness check panicked: %v\n%s", v, debug.Stack())
		}
		d.mu.Lock()
		d.current = nil
		d.mu.Unlock()
		close(r.done)
	}()
	r.err = d.ping(ctx)
}
