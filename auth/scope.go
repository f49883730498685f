package auth

import (
	"fmt"
	"math/bits"
	"strings"
)

// Scope names what a credential may do.
type Scope string

// The scopes, as the API spec lists them.
const (
	// ScopeProductsWrite creates, patches and restocks products.
	ScopeProductsWrite Scope = "products:write"
	// ScopeOrdersWrite places, confirms and cancels orders.
	ScopeOrdersWrite Scope = "orders:write"
	// ScopeOrdersRead gets and lists orders.
	ScopeOrdersRead Scope = "orders:read"
	// ScopeJobsWrite queues, cancels and retries settlement jobs.
	ScopeJobsWrite Scope = "jobs:write"
	// ScopeJobsRead gets and lists jobs and downloads their files.
	ScopeJobsRead Scope = "jobs:read"
	// ScopeSettlementsRead lists stored settlements.
	ScopeSettlementsRead Scope = "settlements:read"
	// ScopeKeysAdmin manages API keys.
	ScopeKeysAdmin Scope = "keys:admin"
	// ScopeMetricsRead reads /metrics.
	ScopeMetricsRead Scope = "metrics:read"
)

// All is the word that stands for every scope when a key is created.
const All = "all"

// scopes lists every scope; a ScopeSet's bit i stands for scopes[i].
var scopes = []Scope{
	ScopeProductsWrite, ScopeOrdersWrite, ScopeOrdersRead, ScopeJobsWrite,
	ScopeJobsRead, ScopeSettlementsRead, ScopeKeysAdmin, ScopeMetricsRead,
}

// Scopes returns every scope, in the spec's order.
func Scopes() []Scope { return append([]Scope(nil), scopes...) }

// ScopeSet is a set of scopes. The zero value is empty.
type ScopeSet uint16

// AllScopes is the set of every scope.
var AllScopes = ScopeSet(1<<len(scopes) - 1)

// bit returns the bit of s, or 0 when s is no scope.
func bit(s Scope) ScopeSet {
	for i, known := range scopes {
		if s == known {
			return 1 << i
		}
	}
	return 0
}

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return bit(s) != 0 }

// NewScopeSet returns the set of ss; unknown scopes are left out.
func NewScopeSet(ss ...Scope) ScopeSet {
	var set ScopeSet
	for _, s := range ss {
		set |= bit(s)
	}
	return set
}

// ParseScopes reads scope names (or All) into a set; an unknown name is an
// error.
func ParseScopes(names []string) (ScopeSet, error) {
	var set ScopeSet
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == All:
			set |= AllScopes
		case Scope(n).Valid():
			set |= bit(Scope(n))
		default:
			return 0, fmt.Errorf("unknown scope %q (known: %s, or %s)", n, AllScopes, All)
		}
	}
	return set, nil
}

// Has reports whether s is in the set.
func (set ScopeSet) Has(s Scope) bool {
	b := bit(s)
	return b != 0 && set&b == b
}

// Contains reports whether every scope of other is in the set.
func (set ScopeSet) Contains(other ScopeSet) bool { return set&other == other }

// Len is the number of scopes in the set.
func (set ScopeSet) Len() int { return bits.OnesCount16(uint16(set & AllScopes)) }

// List returns the set's scopes in the spec's order.
func (set ScopeSet) List() []Scope {
	list := make([]Scope, 0, set.Len())
	for i, s := range scopes {
		if set&(1<<i) != 0 {
			list = append(list, s)
		}
	}
	return list
}

// Strings returns the set's scope names in the spec's order.
func (set ScopeSet) Strings() []string {
	list := set.List()
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = string(s)
	}
	return names
}

// String is the set's scope names, comma-separated.
func (set ScopeSet) String() string { return strings.Join(set.Strings(), ",") }
