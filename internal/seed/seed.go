// Package seed generates realistic, deterministic demo data: payment
// transactions spread over a date range, with skewed merchants (a few large,
// many small), the four statuses at about 85/5/5/5 and log-normal amounts
// with card-like fees.
//
// Row i of a Config is a function of the seed and i alone, so the rows can
// be emitted in any order without holding them: in paid_at order (the way a
// payment system records them) or in an order unrelated to paid_at (late
// arrivals, bulk loads from other systems, restores). Both orders give the
// same set of rows.
package seed

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/store"
)

// Order is the order in which a Generator emits its rows, and so the
// physical order in which a bulk load stores them.
type Order string

// Orders a Generator can emit.
const (
	// ByTime emits rows in paid_at order.
	ByTime Order = "time"
	// Shuffled emits rows in a deterministic pseudo-random order unrelated
	// to paid_at.
	Shuffled Order = "shuffled"
)

// ParseOrder returns the Order named s.
func ParseOrder(s string) (Order, error) {
	switch o := Order(s); o {
	case ByTime, Shuffled:
		return o, nil
	default:
		return "", fmt.Errorf("unknown order %q: want %q or %q", s, ByTime, Shuffled)
	}
}

// Config describes the transactions to generate.
type Config struct {
	N         int64     // how many transactions
	From      time.Time // first day (UTC midnight)
	To        time.Time // last day, included (UTC midnight)
	Merchants int       // merchant ids 1..Merchants
	Seed      uint64    // the same seed gives the same rows
	Order     Order     // emission order; "" means ByTime
}

// Generator yields the transactions of a Config in its Order.
type Generator struct {
	cfg      Config
	src      *rand.PCG // reseeded for every row
	rng      *rand.Rand
	zipf     *rand.Zipf
	merchant []int32 // Zipf rank -> merchant id, so large merchants are not just 1, 2, 3
	step     float64 // microseconds between consecutive transactions in time order
	perm     *permutation
	pos      int64 // next position to emit
}

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	if cfg.Order == "" {
		cfg.Order = ByTime
	}
	setup := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	ids := make([]int32, cfg.Merchants)
	for i := range ids {
		ids[i] = int32(i + 1)
	}
	setup.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	span := cfg.To.AddDate(0, 0, 1).Sub(cfg.From)
	step := 0.0
	if cfg.N > 0 {
		step = float64(span.Microseconds()) / float64(cfg.N)
	}
	src := rand.NewPCG(0, 0)
	rng := rand.New(src)
	g := &Generator{
		cfg:      cfg,
		src:      src,
		rng:      rng,
		zipf:     rand.NewZipf(rng, 1.07, 2, uint64(max(cfg.Merchants-1, 0))),
		merchant: ids,
		step:     step,
	}
	if cfg.Order == Shuffled {
		g.perm = newPermutation(cfg.N, cfg.Seed)
	}
	return g
}

// Next returns the next transaction, and false after the last one.
func (g *Generator) Next() (store.Transaction, bool) {
	if g.pos >= g.cfg.N {
		return store.Transaction{}, false
	}
	i := g.pos
	if g.perm != nil {
		i = g.perm.at(i)
	}
	g.pos++
	return g.Row(i), true
}

// Row returns transaction i (0 <= i < N) of the time order: the same row
// whatever the emission order.
func (g *Generator) Row(i int64) store.Transaction {
	g.src.Seed(mix(g.cfg.Seed^0x243f6a8885a308d3, uint64(i)), mix(g.cfg.Seed, uint64(i)))
	// Spread evenly over the range with jitter inside each slot, so paid_at
	// grows with i and never leaves the range.
	offset := int64((float64(i) + g.rng.Float64()) * g.step)

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
		PaidAt:      g.cfg.From.Add(time.Duration(offset) * time.Microsecond),
	}
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

// mix is SplitMix64's finaliser over a ^ b·golden: a well-spread 64-bit
// value for each (a, b), used to seed a row's random source.
func mix(a, b uint64) uint64 {
	z := a ^ (b * 0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
