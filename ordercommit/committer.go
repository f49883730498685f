package ordercommit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersettle/ordersettle/store"
)

// Defaults of Config, chosen by measurement (see the README's "Flash sales").
const (
	// DefaultCommitters is how many batches are committed at once.
	DefaultCommitters = 2
	// DefaultMaxBatch is the most orders one batch (one transaction) holds.
	DefaultMaxBatch = 256
	// DefaultQueueSize is how many orders may wait for a committer.
	DefaultQueueSize = 1024
)

// Errors of Place besides those of the store.
var (
	// ErrQueueFull means QueueSize orders were already waiting: the order
	// was refused at once, and nothing was placed.
	ErrQueueFull = errors.New("order queue is full")
	// ErrClosed means the committer has stopped (the server is shutting
	// down): the order was refused, and nothing was placed.
	ErrClosed = errors.New("order committer is stopped")
)

// Config tunes a Committer. Zero values get the defaults.
type Config struct {
	// Committers is how many batches may be committed at once
	// (DefaultCommitters). Batches on the same products wait for each other
	// on the products' row locks; more committers help orders spread over
	// many products.
	Committers int
	// MaxBatch is the most orders one batch holds (DefaultMaxBatch).
	MaxBatch int
	// QueueSize is how many orders may wait for a committer
	// (DefaultQueueSize); beyond it Place fails at once with ErrQueueFull.
	QueueSize int
	// Logger receives batch failures; nil means slog.Default().
	Logger *slog.Logger
}

// Store is what the committer needs of the data layer (*store.Store).
type Store interface {
	PlaceOrders(ctx context.Context, batch []store.BatchOrder) ([]store.Placement, error)
	ClaimIdempotencyKey(ctx context.Context, key string, in store.NewOrder) (*store.Claim, *store.Order, error)
	ReleaseClaim(ctx context.Context, c store.Claim) error
}

// Committer places orders by group commit. Create it with New, run it with
// Run, and call Place from any number of goroutines.
type Committer struct {
	store   Store
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	// queue is written by Place (under mu's read lock, never after closed
	// is set) and read by the committer goroutines; Run closes it.
	queue   chan *request
	mu      sync.RWMutex
	closed  bool
	running bool
}

// request is an order waiting for its batch.
type request struct {
	ctx   context.Context // the requester's; it is waiting while ctx lasts
	order store.BatchOrder
	// done receives the answer: written once by the committer, read by
	// Place. Its buffer of one keeps a committer from ever waiting for a
	// requester that has left.
	done chan answer
}

// answer is the outcome of a request.
type answer struct {
	order store.Order
	err   error
}

// answer sends a to the requester; it never blocks.
func (r *request) answer(a answer) {
	select {
	case r.done <- a:
	default: // answered already (a batch that panicked after answering)
	}
}

// New returns a Committer over st. It places nothing until Run is called.
func New(st Store, cfg Config) *Committer {
	if cfg.Committers <= 0 {
		cfg.Committers = DefaultCommitters
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Committer{
		store: st,
		cfg:   cfg,
		log:   cfg.Logger,
		queue: make(chan *request, cfg.QueueSize),
	}
	c.metrics = newMetrics(func() float64 { return float64(len(c.queue)) })
	return c
}

// Run runs the committer goroutines until ctx ends, then stops taking
// orders (Place fails with ErrClosed), commits every order still queued,
// answers it, and returns. Stop the HTTP server first, so that no order is
// refused while its clients are still being served. Run may be called once.
func (c *Committer) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running || c.closed {
		c.mu.Unlock()
		return errors.New("ordercommit: Run called twice")
	}
	c.running = true
	c.mu.Unlock()

	var wg sync.WaitGroup
	for range c.cfg.Committers {
		wg.Go(c.commitLoop)
	}
	<-ctx.Done()
	c.mu.Lock()
	c.closed = true
	close(c.queue) // the committers drain what is queued, then return
	c.mu.Unlock()
	wg.Wait()
	return nil
}

// Place places the order in, under the Idempotency-Key key unless key is
// empty, and returns it once it is committed. Its errors are those of
// store.PlaceOrders and store.ClaimIdempotencyKey (ErrOutOfStock,
// ErrProductNotFound, ErrIdempotencyKeyInUse, ErrIdempotencyKeyReused,
// ErrInvalidInput; ErrUnavailable and others when the batch failed),
// ErrQueueFull, ErrClosed, or ctx's error when ctx ended first. An order
// whose context ends after it has joined a batch may still be placed; with
// a key, its outcome is then recorded, so that a retry gets the order.
func (c *Committer) Place(ctx context.Context, key string, in store.NewOrder) (store.Order, error) {
	var claim *store.Claim
	if key != "" {
		var replayed *store.Order
		var err error
		claim, replayed, err = c.store.ClaimIdempotencyKey(ctx, key, in)
		switch {
		case err != nil:
			c.metrics.count(claimOutcome(err))
			return store.Order{}, err
		case replayed != nil:
			c.metrics.count(outcomeReplayed)
			return *replayed, nil
		}
	}

	r := &request{
		ctx:   ctx,
		order: store.BatchOrder{NewOrder: in, Claim: claim, Abandoned: ctx.Done()},
		done:  make(chan answer, 1),
	}
	if err := c.enqueue(r); err != nil {
		c.release(claim)
		c.metrics.count(outcomeShed)
		return store.Order{}, err
	}

	var a answer
	select {
	case a = <-r.done:
	case <-ctx.Done():
		select {
		case a = <-r.done: // answered meanwhile: the answer wins
		default:
			a = answer{err: ctx.Err()}
		}
	}
	if errors.Is(a.err, store.ErrAbandoned) {
		a.err = fmt.Errorf("%w: %w", ctx.Err(), a.err) // left out because ctx ended
	}
	if a.err != nil && !recorded(a.err) {
		c.release(claim)
	}
	c.metrics.count(placeOutcome(a.err))
	return a.order, a.err
}

// enqueue adds r to the queue, or fails at once when it is full or closed.
func (c *Committer) enqueue(r *request) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	select {
	case c.queue <- r:
		return nil
	default:
		return ErrQueueFull
	}
}

// release frees the key of a request that failed; nil does nothing.
func (c *Committer) release(claim *store.Claim) {
	if claim == nil {
		return
	}
	if err := c.store.ReleaseClaim(context.Background(), *claim); err != nil {
		c.log.Warn("releasing an idempotency key failed; it frees itself when its claim lease passes", "err", err)
	}
}

// recorded reports whether err is an outcome recorded under the request's
// key (or proof that the key is not the request's own), so that the key must
// not be released.
func recorded(err error) bool {
	return errors.Is(err, store.ErrOutOfStock) || errors.Is(err, store.ErrProductNotFound) ||
		errors.Is(err, store.ErrIdempotencyKeyInUse)
}

// Describe implements prometheus.Collector.
func (c *Committer) Describe(ch chan<- *prometheus.Desc) { c.metrics.describe(ch) }

// Collect implements prometheus.Collector.
func (c *Committer) Collect(ch chan<- prometheus.Metric) { c.metrics.collect(ch) }
