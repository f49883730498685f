// Package seed generates realistic, deterministic demo data: payment
// transactions spread over a date range in time order, with skewed merchants
// (a few large, many small), the four statuses at about 85/5/5/5 and
// log-normal amounts with card-like fees.
package seed

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/store"
)

// Config describes the transactions to generate.
type Config struct {
	N         int64     // how many transactions
	From      time.Time // first day (UTC midnight)
	To        time.Time // last day, included (UTC midnight)
	Merchants int       // merchant ids 1..Merchants
	Seed      uint64    // the same seed gives the same rows
}

// Generator yields the transactions of a Config, ordered by paid_at, the way
// a payment system records them.
type Generator struct {
	cfg      Config
	rng      *rand.Rand
	zipf     *rand.Zipf
	merchant []int32 // Zipf rank -> merchant id, so large merchants are not just 1, 2, 3
	start    time.Time
	step     float64 // microseconds between consecutive transactions
	i        int64
}

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	ids := make([]int32, cfg.Merchants)
	for i := range ids {
		ids[i] = int32(i + 1)
	}
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	span := cfg.To.AddDate(0, 0, 1).Sub(cfg.From)
	step := 0.0
	if cfg.N > 0 {
		step = float64(span.Microseconds()) / float64(cfg.N)
	}
	return &Generator{
		cfg:      cfg,
		rng:      rng,
		zipf:     rand.NewZipf(rng, 1.07, 2, uint64(cfg.Merchants-1)),
		merchant: ids,
		start:    cfg.From,
		step:     step,
	}
}

// Next returns the next transaction, and false after the last one.
func (g *Generator) Next() (store.Transaction, bool) {
	if g.i >= g.cfg.N {
		return store.Transaction{}, false
	}
	// Spread evenly over the range with jitter inside each slot, so paid_at
	// never decreases and never leaves the range.
	offset := int64((float64(g.i) + g.rng.Float64()) * g.step)
	g.i++

	amount := int32(math.Min(math.Max(math.Exp(g.rng.NormFloat64()*1.1+math.Log(2500)), 50), 5_000_000))
	fee := int32(math.Round(float64(amount)*0.029)) + 30 // 2.9% + 30 cents
	var id uuid.UUID
	hi, lo := g.rng.Uint64(), g.rng.Uint64()
	for k := range 8 {
		id[k], id[8+k] = byte(hi>>(8*k)), byte(lo>>(8*k))
	}
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant

	return store.Transaction{
		ID:          id,
		MerchantID:  g.merchant[g.zipf.Uint64()],
		AmountCents: amount,
		FeeCents:    fee,
		Status:      g.status(),
		PaidAt:      g.start.Add(time.Duration(offset) * time.Microsecond),
	}, true
}

// status draws PAID / PENDING / FAILED / REFUNDED at about 85/5/5/5.
func (g *Generator) status() string {
	switch n := g.rng.IntN(100); {
	case n < 85:
		return store.TxnPaid
	case n < 90:
		return store.TxnPending
	case n < 95:
		return store.TxnFailed
	default:
		return store.TxnRefunded
	}
}
