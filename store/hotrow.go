package store

import (
	"context"
	"sync"
)

// DefaultOrdersPerProduct is how many order statements for one product this
// process runs at once (Options.OrdersPerProduct).
const DefaultOrdersPerProduct = 2

// productGate caps the order statements in flight per product. Orders for one
// product serialise on its row lock anyway; letting hundreds of connections
// queue on that lock only adds lock-manager and scheduling work (measured
// here: 64 connections on one row commit less than half of what 4 do), so the
// surplus waits in Go instead, where waiting is cheap and bounded by the
// request's context. Different products never wait for each other.
type productGate struct {
	limit int
	mu    sync.Mutex
	slots map[int32]*gateSlot
}

type gateSlot struct {
	sem   chan struct{}
	users int // requests holding or waiting for sem; the slot is freed at 0
}

func newProductGate(limit int) *productGate {
	if limit <= 0 {
		limit = DefaultOrdersPerProduct
	}
	return &productGate{limit: limit, slots: map[int32]*gateSlot{}}
}

// enter waits for a turn on product id; call the returned leave when done.
func (g *productGate) enter(ctx context.Context, id int32) (leave func(), err error) {
	g.mu.Lock()
	s := g.slots[id]
	if s == nil {
		s = &gateSlot{sem: make(chan struct{}, g.limit)}
		g.slots[id] = s
	}
	s.users++
	g.mu.Unlock()

	release := func() {
		g.mu.Lock()
		s.users--
		if s.users == 0 {
			delete(g.slots, id)
		}
		g.mu.Unlock()
	}
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
