package ordercommit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersettle/ordersettle/domain"
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
	// Committers is how many batches may be committed at once, and how many
	// key claims (DefaultCommitters). Batches on the same products wait for
	// each other on the products' row locks; another committer keeps orders
	// for other products moving meanwhile.
	Committers int
	// MaxBatch is the most orders one batch (or one claim statement) holds
	// (DefaultMaxBatch).
	MaxBatch int
	// QueueSize is how many orders may wait for a committer, and how many
	// for a key claim (DefaultQueueSize); beyond it Place fails at once with
	// ErrQueueFull.
	QueueSize int
	// Logger receives batch failures; nil means slog.Default().
	Logger *slog.Logger
	// CleanupTimeout bounds how long a failed keyed order waits for its key
	// to be released before Place returns (default store.ReleaseTimeout).
	// Keep it within the part of the request timeout the server keeps for
	// cleanup (server.CleanupReserve), so requests end in time even when
	// the database stalls.
	CleanupTimeout time.Duration
}

// Store is what the committer needs of the data layer (*store.Store).
type Store interface {
	ClaimIdempotencyKeys(ctx context.Context, orders []domain.KeyedOrder) ([]*domain.Claim, error)
	ResolveIdempotencyKey(ctx context.Context, key string, in domain.NewOrder) (*domain.Claim, *domain.Order, error)
	ReleaseClaim(ctx context.Context, c domain.Claim) error
	PlaceOrders(ctx context.Context, batch []domain.BatchOrder) ([]domain.Placement, error)
	ConfirmOrder(ctx context.Context, id uuid.UUID, buyerID string) (domain.Order, bool, error)
	CancelOrder(ctx context.Context, id uuid.UUID, buyerID string) (domain.Order, bool, error)
	ExpireHolds(ctx context.Context, limit int) (int, error)
	Holds(ctx context.Context) (store.HoldStats, error)
}

// Committer places orders by group commit. Create it with New, run it with
// Run, and call Place from any number of goroutines.
//
// An order with an Idempotency-Key goes through two stages, each a queue
// worked by Committers goroutines that take everything queued (up to
// MaxBatch) in one statement: first its key is claimed (claims), then it is
// placed (queue). An order without a key goes to the second stage directly.
type Committer struct {
	store   Store
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	// claims holds orders whose Idempotency-Key is to be claimed. Place
	// writes it (under mu's read lock, never once closed is set), the
	// claimers read it; Run closes it.
	claims chan *request
	// queue holds orders waiting for a batch. Place and the claimers write
	// it (Place under mu's read lock, never once closed is set; the
	// claimers until they have returned), the committers read it; Run closes
	// it once the claimers have returned.
	queue   chan *request
	mu      sync.RWMutex
	closed  bool
	running bool
}

// request is an order on its way through the stages.
type request struct {
	ctx context.Context // the requester's; it is waiting while ctx lasts
	key string          // its Idempotency-Key; empty for none
	// order is what the batch places. Its Claim is set by whoever claims the
	// key (a claimer, or Place after resolving the key) before it queues the
	// request for a batch.
	order domain.BatchOrder
	// claim is the same claim, for Place to release when the order fails.
	claim atomic.Pointer[domain.Claim]
	// done receives the answer of each stage: written by a claimer or a
	// committer, read by Place. Its buffer of one keeps them from ever
	// waiting for a requester that has left.
	done chan answer
}

// answer is the outcome of a stage for a request.
type answer struct {
	order domain.Order
	err   error
	// resolve means the request's key was held already: Place asks the
	// store what to answer (store.ResolveIdempotencyKey).
	resolve bool
}

// answer sends a to the requester; it never blocks.
func (r *request) answer(a answer) {
	select {
	case r.done <- a:
	default: // answered already (a stage that panicked after answering)
	}
}

// wait waits for the answer of the request's stage, or for its context to
// end; an answer already there wins.
func (r *request) wait() answer {
	select {
	case a := <-r.done:
		return a
	case <-r.ctx.Done():
		select {
		case a := <-r.done:
			return a
		default:
			return answer{err: r.ctx.Err()}
		}
	}
}

// setClaim records the request's claim; call it before queueing the
// request for a batch.
func (r *request) setClaim(c *domain.Claim) {
	r.order.Claim = c
	r.claim.Store(c)
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
	if cfg.CleanupTimeout <= 0 || cfg.CleanupTimeout > store.ReleaseTimeout {
		cfg.CleanupTimeout = store.ReleaseTimeout
	}
	c := &Committer{
		store:  st,
		cfg:    cfg,
		log:    cfg.Logger,
		claims: make(chan *request, cfg.QueueSize),
		queue:  make(chan *request, cfg.QueueSize),
	}
	c.metrics = newMetrics(func() float64 { return float64(len(c.claims) + len(c.queue)) })
	return c
}

// Run runs the claimer and committer goroutines until ctx ends, then stops
// taking orders (Place fails with ErrClosed), places every order still
// queued, answers it, and returns. Stop the HTTP server first, so that no
// order is refused while its clients are still being served. Run may be
// called once.
func (c *Committer) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running || c.closed {
		c.mu.Unlock()
		return errors.New("ordercommit: Run called twice")
	}
	c.running = true
	c.mu.Unlock()

	var claimers, committers sync.WaitGroup
	for range c.cfg.Committers {
		claimers.Go(c.claimLoop)
		committers.Go(c.commitLoop)
	}
	<-ctx.Done()
	c.mu.Lock()
	c.closed = true
	close(c.claims) // the claimers drain it into queue, then return
	c.mu.Unlock()
	claimers.Wait()
	close(c.queue) // nobody writes it any more; the committers drain it, then return
	committers.Wait()
	return nil
}

// Place places the order in, under the Idempotency-Key key unless key is
// empty, and returns it once it is committed. Its errors are those of
// store.CheckOrder, store.ResolveIdempotencyKey and store.PlaceOrders
// (ErrInvalidInput, ErrOutOfStock, ErrProductNotFound,
// ErrIdempotencyKeyInUse, ErrIdempotencyKeyReused; ErrUnavailable and
// others when a statement failed), ErrQueueFull, ErrClosed, or ctx's error
// when ctx ended first. An order whose context ends after its batch has
// locked its rows may still be placed; with a key, its outcome is then
// recorded, so that a retry gets the order.
func (c *Committer) Place(ctx context.Context, key string, in domain.NewOrder) (domain.Order, error) {
	if err := store.CheckOrder(key, in); err != nil {
		c.metrics.count(outcomeInvalid)
		return domain.Order{}, err
	}
	r := &request{
		ctx:   ctx,
		key:   key,
		order: domain.BatchOrder{NewOrder: in, Abandoned: ctx.Done()},
		done:  make(chan answer, 1),
	}
	stage := c.queue
	if key != "" {
		stage = c.claims
	}
	if err := c.enqueue(stage, r); err != nil {
		c.metrics.count(outcomeShed)
		return domain.Order{}, err
	}
	a := r.wait()

	if a.resolve { // the key was held already: replay, refuse, or take it over
		claim, replayed, err := c.store.ResolveIdempotencyKey(ctx, key, in)
		switch {
		case err != nil:
			c.metrics.count(claimOutcome(err))
			return domain.Order{}, err
		case replayed != nil:
			c.metrics.count(outcomeReplayed)
			return *replayed, nil
		}
		r.setClaim(claim)
		if err := c.enqueue(c.queue, r); err != nil {
			c.release(claim)
			c.metrics.count(outcomeShed)
			return domain.Order{}, err
		}
		a = r.wait()
	}

	if errors.Is(a.err, domain.ErrAbandoned) {
		a.err = fmt.Errorf("%w: %w", ctx.Err(), a.err) // left out because ctx ended
	}
	if a.err != nil && !recorded(a.err) {
		if claim := r.claim.Load(); c.release(claim) != nil {
			// The key stays held until its claim lapses: say when a
			// retry will be served.
			a.err = &KeyHeldError{Err: a.err, Until: claim.Lapses}
		}
	}
	c.metrics.count(placeOutcome(a.err))
	return a.order, a.err
}

// enqueue adds r to stage, or fails at once when it is full or closed.
func (c *Committer) enqueue(stage chan<- *request, r *request) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	select {
	case stage <- r:
		return nil
	default:
		return ErrQueueFull
	}
}

// take returns first and what else is queued in stage, up to MaxBatch, in
// batch (whose contents it replaces).
func (c *Committer) take(stage <-chan *request, first *request, batch []*request) []*request {
	batch = append(batch[:0], first)
	for len(batch) < c.cfg.MaxBatch {
		select {
		case r, ok := <-stage:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// live answers the requests of batch whose requester has gone and returns
// the others.
func live(batch []*request) []*request {
	out := make([]*request, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.answer(answer{err: err}) // nobody reads it; leave the request out
			continue
		}
		out = append(out, r)
	}
	return out
}

// release frees the key of a request that failed; nil does nothing. It
// waits CleanupTimeout at most, whatever the request's context and even
// when the database does not answer (the release then finishes or fails in
// the background): the request's cleanup must fit in the time it keeps for
// it.
func (c *Committer) release(claim *domain.Claim) error {
	if claim == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- c.store.ReleaseClaim(context.Background(), *claim) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(c.cfg.CleanupTimeout):
		err = fmt.Errorf("releasing the idempotency key took longer than %v", c.cfg.CleanupTimeout)
	}
	if err != nil {
		c.log.Warn("releasing an idempotency key failed; it frees itself when its claim lapses",
			"lapses_in", time.Until(claim.Lapses).Round(time.Millisecond).String(), "err", err)
	}
	return err
}

// KeyHeldError is the error of a keyed order that failed and whose key
// could not be released (the database was unreachable, say): the key stays
// held, and a retry of the same request is refused as in flight, until the
// claim lapses at Until. Its RetryAfter says how long that is, for the
// answer's Retry-After.
type KeyHeldError struct {
	Err   error     // why the order failed
	Until time.Time // when the claim lapses
}

func (e *KeyHeldError) Error() string {
	return fmt.Sprintf("%v (its idempotency key stays held for %v)", e.Err, e.RetryAfter())
}

// Unwrap returns the order's error.
func (e *KeyHeldError) Unwrap() error { return e.Err }

// RetryAfter is how long until a retry of the same request is served: the
// time left until the claim lapses, at least a second.
func (e *KeyHeldError) RetryAfter() time.Duration {
	return max(time.Until(e.Until), time.Second)
}

// recorded reports whether err is an outcome recorded under the request's
// key (or proof that the key is not the request's own), so that the key must
// not be released.
func recorded(err error) bool {
	return errors.Is(err, domain.ErrOutOfStock) || errors.Is(err, domain.ErrProductNotFound) ||
		errors.Is(err, domain.ErrBuyerLimitExceeded) || errors.Is(err, domain.ErrIdempotencyKeyInUse)
}

// Describe implements prometheus.Collector.
func (c *Committer) Describe(ch chan<- *prometheus.Desc) { c.metrics.describe(ch) }

// Collect implements prometheus.Collector.
func (c *Committer) Collect(ch chan<- prometheus.Metric) { c.metrics.collect(ch) }
