package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/auth"
	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/store"
)

// TestAPIKeys: a key round-trips; revoking changes updated_at (the caches'
// "changed since") and is idempotent; last_used_at writes never do, never
// move the time back; listing pages newest first and filters by binding in
// SQL; unknown ids and hashes are reported as such.
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	m := int32(3)
	create := func(name string, merchant *int32) auth.Key {
		_, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		k, err := st.CreateAPIKey(ctx, store.NewAPIKey{Name: name, Hash: hash, Scopes: auth.NewScopeSet(auth.ScopeOrdersRead), MerchantID: merchant})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a, b, c := create("a", nil), create("b", &m), create("c", &m)
	if a.Scopes.String() != "orders:read" || b.MerchantID == nil || *b.MerchantID != 3 || a.RevokedAt != nil {
		t.Fatalf("created %+v", b)
	}
	got, found, err := st.APIKeyByHash(ctx, a.Hash)
	if err != nil || !found || got.ID != a.ID {
		t.Fatalf("by hash: %v %v", found, err)
	}
	if _, found, err := st.APIKeyByHash(ctx, make([]byte, 32)); err != nil || found {
		t.Fatalf("unknown hash: %v %v", found, err)
	}

	all, err := st.APIKeysChangedSince(ctx, time.Time{})
	if err != nil || len(all) != 3 {
		t.Fatalf("all: %d %v", len(all), err)
	}
	mark := c.UpdatedAt
	used := time.Now().UTC().Truncate(time.Microsecond)
	if err := st.TouchAPIKeys(ctx, map[uuid.UUID]time.Time{a.ID: used, b.ID: used}); err != nil {
		t.Fatal(err)
	}
	if err := st.TouchAPIKeys(ctx, map[uuid.UUID]time.Time{a.ID: used.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if changed, err := st.APIKeysChangedSince(ctx, mark); err != nil || len(changed) != 0 {
		t.Fatalf("last_used_at changed updated_at: %d %v", len(changed), err)
	}
	if got, _ := st.GetAPIKey(ctx, a.ID); got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) {
		t.Errorf("last_used_at = %v, want %v", got.LastUsedAt, used)
	}

	r1, err := st.RevokeAPIKey(ctx, b.ID)
	if err != nil || r1.RevokedAt == nil {
		t.Fatalf("revoke: %v", err)
	}
	r2, err := st.RevokeAPIKey(ctx, b.ID)
	if err != nil || !r2.RevokedAt.Equal(*r1.RevokedAt) {
		t.Fatalf("revoke again: %v %v", r2.RevokedAt, err)
	}
	changed, err := st.APIKeysChangedSince(ctx, mark)
	if err != nil || len(changed) != 1 || changed[0].ID != b.ID || changed[0].RevokedAt == nil {
		t.Fatalf("changed since: %+v %v", changed, err)
	}
	if live, _ := st.APIKeysChangedSince(ctx, time.Time{}); len(live) != 2 {
		t.Errorf("the first load holds %d keys, want the 2 live ones", len(live))
	}
	if _, err := st.RevokeAPIKey(ctx, uuid.New()); !errors.Is(err, store.ErrKeyNotFound) {
		t.Errorf("unknown key: %v", err)
	}

	var ids []uuid.UUID
	q := store.APIKeyQuery{Limit: 1}
	for {
		page, more, err := st.ListAPIKeys(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page {
			ids = append(ids, k.ID)
		}
		if !more {
			break
		}
		last := page[len(page)-1]
		q.After = &store.APIKeyCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	if len(ids) != 3 || ids[0] != c.ID || ids[2] != a.ID {
		t.Errorf("pages: %v, want c b a", ids)
	}
	bound, _, err := st.ListAPIKeys(ctx, store.APIKeyQuery{MerchantID: &m, Limit: 10})
	if err != nil || len(bound) != 2 {
		t.Errorf("merchant 3's keys: %d %v", len(bound), err)
	}
	if n, err := st.CountAPIKeys(ctx); err != nil || n != 3 {
		t.Errorf("count %d %v", n, err)
	}
}
