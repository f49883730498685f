package ordercommit

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersettle/ordersettle/domain"
)

// Values of the outcome label of ordersettle_orders_total: a fixed set.
const (
	outcomePlaced          = "placed"            // placed now
	outcomeOutOfStock      = "out_of_stock"      // refused now: not enough stock
	outcomeBuyerLimit      = "buyer_limit"       // refused now: the buyer's max_per_buyer
	outcomeProductNotFound = "product_not_found" // refused now: no such product
	outcomeReplayed        = "replayed"          // an Idempotency-Key retry got the first outcome
	outcomeKeyConflict     = "key_conflict"      // key in use by a request in flight, or reused
	outcomeInvalid         = "invalid"           // a value the database cannot store
	outcomeShed            = "shed"              // refused at once: queue full or shutting down
	outcomeCancelled       = "cancelled"         // the requester stopped waiting
	outcomeFailed          = "failed"            // the database failed
)

var outcomes = []string{
	outcomePlaced, outcomeOutOfStock, outcomeBuyerLimit, outcomeProductNotFound, outcomeReplayed, outcomeKeyConflict,
	outcomeInvalid, outcomeShed, outcomeCancelled, outcomeFailed,
}

// Values of the to label of ordersettle_order_transitions_total: the
// statuses an order changes to after it was placed.
var transitionTargets = []string{domain.OrderStatusCompleted, domain.OrderStatusCancelled, domain.OrderStatusExpired}

// metrics are the committer's Prometheus metrics.
type metrics struct {
	batchSize   prometheus.Histogram
	orders      *prometheus.CounterVec
	retries     prometheus.Counter
	queued      prometheus.GaugeFunc
	transitions *prometheus.CounterVec
	holds       prometheus.Gauge
}

func newMetrics(queued func() float64) *metrics {
	m := &metrics{
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ordersettle_order_batch_size",
			Help:    "Orders per batch: one database transaction, and at most one WAL flush, for all of them.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 … 1024
		}),
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersettle_orders_total",
			Help: "Orders by outcome: placed, out_of_stock, buyer_limit, product_not_found, replayed, key_conflict, invalid, shed, cancelled, failed.",
		}, []string{"outcome"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ordersettle_order_batch_retries_total",
			Help: "Order batches and key claims run again after failing before their commit.",
		}),
		queued: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ordersettle_order_queue_length",
			Help: "Orders waiting for a claimer or a committer.",
		}, queued),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersettle_order_transitions_total",
			Help: "Orders whose status changed after they were placed, by new status: completed (confirmed), cancelled, expired (by this process).",
		}, []string{"to"}),
		holds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ordersettle_order_holds",
			Help: "Pending orders (holds) in the database, all instances, expired ones not yet swept included; refreshed by the expiry sweep.",
		}),
	}
	for _, o := range outcomes {
		m.orders.WithLabelValues(o) // every outcome shows, at 0 until it happens
	}
	for _, to := range transitionTargets {
		m.transitions.WithLabelValues(to)
	}
	return m
}

func (m *metrics) count(outcome string) { m.orders.WithLabelValues(outcome).Inc() }

func (m *metrics) describe(ch chan<- *prometheus.Desc) {
	m.batchSize.Describe(ch)
	m.orders.Describe(ch)
	m.retries.Describe(ch)
	m.queued.Describe(ch)
	m.transitions.Describe(ch)
	m.holds.Describe(ch)
}

func (m *metrics) collect(ch chan<- prometheus.Metric) {
	m.batchSize.Collect(ch)
	m.orders.Collect(ch)
	m.retries.Collect(ch)
	m.queued.Collect(ch)
	m.transitions.Collect(ch)
	m.holds.Collect(ch)
}

// claimOutcome is the outcome of an order whose Idempotency-Key claim
// answered it: a replayed refusal, a key conflict, or a failure.
func claimOutcome(err error) string {
	switch {
	case errors.Is(err, domain.ErrOutOfStock), errors.Is(err, domain.ErrProductNotFound),
		errors.Is(err, domain.ErrBuyerLimitExceeded):
		return outcomeReplayed
	case errors.Is(err, domain.ErrIdempotencyKeyInUse), errors.Is(err, domain.ErrIdempotencyKeyReused):
		return outcomeKeyConflict
	}
	return placeOutcome(err)
}

// placeOutcome is the outcome of an order that went through a batch.
func placeOutcome(err error) string {
	switch {
	case err == nil:
		return outcomePlaced
	case errors.Is(err, domain.ErrOutOfStock):
		return outcomeOutOfStock
	case errors.Is(err, domain.ErrBuyerLimitExceeded):
		return outcomeBuyerLimit
	case errors.Is(err, domain.ErrProductNotFound):
		return outcomeProductNotFound
	case errors.Is(err, domain.ErrIdempotencyKeyInUse), errors.Is(err, domain.ErrIdempotencyKeyReused):
		return outcomeKeyConflict
	case errors.Is(err, domain.ErrInvalidInput):
		return outcomeInvalid
	case errors.Is(err, ErrQueueFull), errors.Is(err, ErrClosed):
		return outcomeShed
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return outcomeCancelled
	}
	return outcomeFailed
}
