package auth

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestNewToken: os_ and 43 base62 characters, different every time, and a
// hash that matches only its own token.
func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok, hash, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if !LooksLikeKey(tok) || len(tok) != len(KeyPrefix)+keyChars || seen[tok] {
			t.Fatalf("token %q: shape or repeat", tok)
		}
		seen[tok] = true
		if !sameHash(hash, HashToken(tok)) || sameHash(hash, HashToken(tok+"x")) || len(hash) != HashSize {
			t.Fatal("hash does not identify the token")
		}
	}
	for _, bad := range []string{"", "os_", "os_short", "xx_" + strings.Repeat("a", 43), "os_" + strings.Repeat("a", 42) + "!",
		"os_" + strings.Repeat("é", 40), "os_" + strings.Repeat("a", 129)} {
		if LooksLikeKey(bad) {
			t.Errorf("LooksLikeKey(%q) = true", bad)
		}
	}
}

// TestScopes: parsing, all, and set operations.
func TestScopes(t *testing.T) {
	set, err := ParseScopes([]string{"orders:read", " jobs:write"})
	if err != nil || !set.Has(ScopeOrdersRead) || !set.Has(ScopeJobsWrite) || set.Has(ScopeKeysAdmin) || set.Len() != 2 {
		t.Fatalf("%v %v", set, err)
	}
	if set.String() != "orders:read,jobs:write" {
		t.Errorf("String() = %q", set.String())
	}
	all, err := ParseScopes([]string{All})
	if err != nil || all != AllScopes || all.Len() != len(Scopes()) || !all.Contains(set) || set.Contains(all) {
		t.Fatalf("all: %v %v", all, err)
	}
	if _, err := ParseScopes([]string{"orders:delete"}); err == nil {
		t.Error("an unknown scope parsed")
	}
	if NewScopeSet("nonsense").Len() != 0 || Scope("nonsense").Valid() {
		t.Error("an unknown scope counts")
	}
}

// TestRateLimiter: a bucket per principal at its own rate (burst the same),
// else the default; 0 is unlimited; Retry-After is whole seconds ≥ 1; idle
// buckets are evicted.
func TestRateLimiter(t *testing.T) {
	l := NewRateLimiter(3)
	now := time.Now()
	a, b := &Principal{ID: "key:a"}, &Principal{ID: "key:b", RateLimit: 1}
	for i := range 3 {
		if ok, _ := l.Allow(a, now); !ok {
			t.Fatalf("request %d of a 3/s bucket refused", i)
		}
	}
	ok, wait := l.Allow(a, now)
	if ok || wait != time.Second {
		t.Errorf("4th request: ok %v, retry after %v; want refused, 1s", ok, wait)
	}
	if ok, _ := l.Allow(b, now); !ok {
		t.Error("b's first request refused")
	}
	if ok, _ := l.Allow(b, now); ok {
		t.Error("b's own limit (1/s) ignored")
	}
	if ok, _ := l.Allow(a, now.Add(time.Second)); !ok {
		t.Error("a refused after a second")
	}
	l.Evict(now.Add(time.Hour))
	n := 0
	l.buckets.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Errorf("%d buckets left after eviction", n)
	}
	unlimited := NewRateLimiter(0)
	for range 10000 {
		if ok, _ := unlimited.Allow(a, now); !ok {
			t.Fatal("an unlimited limiter refused")
		}
	}
}

// TestPrincipalContext: a principal travels in a context; nil is safe.
func TestPrincipalContext(t *testing.T) {
	buyer := "b-1"
	p := &Principal{ID: "jwt:x", BuyerID: &buyer}
	if got := FromContext(NewContext(context.Background(), p)); got != p || got.Buyer() != "b-1" {
		t.Fatal("principal lost")
	}
	if got := FromContext(context.Background()); got != nil || got.Buyer() != "" {
		t.Fatal("no principal expected")
	}
}

// TestJWTVerifierNeedsItsSettings: the URL, issuer and audience are all
// required.
func TestJWTVerifierNeedsItsSettings(t *testing.T) {
	for _, o := range []JWTOptions{{}, {JWKSURL: "http://x"}, {JWKSURL: "http://x", Issuer: "i"}} {
		if _, err := NewJWTVerifier(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
