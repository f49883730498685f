package seed

// permutation is a deterministic pseudo-random bijection of [0, n): a
// four-round Feistel network over the smallest even number of bits that
// holds n, with cycle walking (values >= n are permuted again until they
// land inside). It needs no memory beyond its key, so a load of any size can
// emit row perm(p) at position p.
type permutation struct {
	n    uint64
	half uint   // bits in each Feistel half
	mask uint64 // (1 << half) - 1
	key  uint64
}

func newPermutation(n int64, key uint64) *permutation {
	half := uint(1)
	for uint64(1)<<(2*half) < uint64(n) {
		half++
	}
	return &permutation{n: uint64(n), half: half, mask: 1<<half - 1, key: key}
}

// at returns the image of p (0 <= p < n).
func (q *permutation) at(p int64) int64 {
	x := uint64(p)
	for {
		x = q.encrypt(x)
		if x < q.n {
			return int64(x)
		}
	}
}

func (q *permutation) encrypt(x uint64) uint64 {
	l, r := x>>q.half, x&q.mask
	for round := range uint64(4) {
		l, r = r, l^(mix(q.key+round, r)&q.mask)
	}
	return l<<q.half | r
}
