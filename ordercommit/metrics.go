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
	outcomeProductNotFound = "product_not_found" // refused now: no such product
	outcomeReplayed        = "replayed"          // an Idempotency-Key retry got the first outcome
	outcomeKeyConflict     = "key_conflict"      // key in use by a request in flight, or reused
	outcomeInvalid         = "invalid"           // a value the database cannot store
	outcomeShed            = "shed"              // refused at once: queue full or shutting down
	outcomeCancelled       = "cancelled"         // the requester stopped waiting
	outcomeFailed          = "failed"            // the database failed
)

var outcomes = []string{
	outcomePlaced, outcomeOutOfStock, outcomeProductNotFound, outcomeReplayed, outcomeKeyConflict,
	outcomeInvalid, outcomeShed, outcomeCancelled, outcomeFailed,
}

// metrics are the committer's Prometheus metrics.
type metrics struct {
	batchSize prometheus.Histogram
	orders    *prometheus.CounterVec
	retries   prometheus.Counter
	queued    prometheus.GaugeFunc
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
			Help: "Orders by outcome: placed, out_of_stock, product_not_found, replayed, key_conflict, invalid, shed, cancelled, failed.",
		}, []string{"outcome"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ordersettle_order_batch_retries_total",
			Help: "Order batches and key claims run again after failing before their commit.",
		}),
		queued: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ordersettle_order_queue_length",
			Help: "Orders waiting for a claimer or a committer.",
		}, queued),
	}
	for _, o := range outcomes {
		m.orders.WithLabelValues(o) // every outcome shows, at 0 until it happens
	}
	return m
}

func (m *metrics) count(outcome string) { m.orders.WithLabelValues(outcome).Inc() }

func (m *metrics) describe(ch chan<- *prometheus.Desc) {
	m.batchSize.Describe(ch)
	m.orders.Describe(ch)
	m.retries.Describe(ch)
	m.queued.Describe(ch)
}

func (m *metrics) collect(ch chan<- prometheus.Metric) {
	m.batchSize.Collect(ch)
	m.orders.Collect(ch)
	m.retries.Collect(ch)
	m.queued.Collect(ch)
}

// claimOutcome is the outcome of an order whose Idempotency-Key claim
// answered it: a replayed refusal, a key conflict, or a failure.
func claimOutcome(err error) string {
	switch {
	case errors.Is(err, domain.ErrOutOfStock), errors.Is(err, domain.ErrProductNotFound):
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
