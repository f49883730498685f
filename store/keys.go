package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/ordersettle/ordersettle/auth"
)

// ErrKeyNotFound means no API key has the requested id.
var ErrKeyNotFound = errors.New("API key not found")

// NewAPIKey is an API key to store: its token's hash, never the token.
type NewAPIKey struct {
	Name       string
	Hash       []byte // auth.HashToken of the token
	Scopes     auth.ScopeSet
	MerchantID *int32
	BuyerID    *string
	RateLimit  *int32
	ExpiresAt  *time.Time
}

// APIKeyCursor is a key's place in the order ListAPIKeys returns: newest
// first by created_at, then by id.
type APIKeyCursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// apiKeyRow is an api_keys row as the driver scans it.
type apiKeyRow struct {
	ID         uuid.UUID      `db:"id"`
	Name       string         `db:"name"`
	Hash       []byte         `db:"token_hash"`
	Scopes     pq.StringArray `db:"scopes"`
	MerchantID *int32         `db:"merchant_id"`
	BuyerID    *string        `db:"buyer_id"`
	RateLimit  *int32         `db:"rate_limit"`
	ExpiresAt  *time.Time     `db:"expires_at"`
	CreatedAt  time.Time      `db:"created_at"`
	LastUsedAt *time.Time     `db:"last_used_at"`
	RevokedAt  *time.Time     `db:"revoked_at"`
	UpdatedAt  time.Time      `db:"updated_at"`
}

const apiKeyColumns = `id, name, token_hash, scopes, merchant_id, buyer_id, rate_limit,
	expires_at, created_at, last_used_at, revoked_at, updated_at`

// key converts the row; scopes the code no longer knows grant nothing.
func (r apiKeyRow) key() auth.Key {
	var set auth.ScopeSet
	for _, s := range r.Scopes {
		set |= auth.NewScopeSet(auth.Scope(s))
	}
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return auth.Key{
		ID: r.ID, Name: r.Name, Hash: r.Hash, Scopes: set,
		MerchantID: r.MerchantID, BuyerID: r.BuyerID, RateLimit: r.RateLimit,
		ExpiresAt: utc(r.ExpiresAt), CreatedAt: r.CreatedAt.UTC(), LastUsedAt: utc(r.LastUsedAt),
		RevokedAt: utc(r.RevokedAt), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

func keysOf(rows []apiKeyRow) []auth.Key {
	keys := make([]auth.Key, len(rows))
	for i, r := range rows {
		keys[i] = r.key()
	}
	return keys
}

// CreateAPIKey stores a new key.
func (s *Store) CreateAPIKey(ctx context.Context, in NewAPIKey) (auth.Key, error) {
	if !storableText(in.Name) || in.BuyerID != nil && !storableText(*in.BuyerID) {
		return auth.Key{}, fmt.Errorf("%w: name or buyer_id is not storable text", ErrInvalidInput)
	}
	var r apiKeyRow
	err := s.db.GetContext(ctx, &r, `
		INSERT INTO api_keys (name, token_hash, scopes, merchant_id, buyer_id, rate_limit, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		RETURNING `+apiKeyColumns,
		in.Name, in.Hash, pq.StringArray(in.Scopes.Strings()), in.MerchantID, in.BuyerID, in.RateLimit, in.ExpiresAt)
	if err != nil {
		return auth.Key{}, fmt.Errorf("create API key: %w", translate(err))
	}
	return r.key(), nil
}

// APIKeyQuery asks ListAPIKeys for one page of keys.
type APIKeyQuery struct {
	// MerchantID and BuyerID, when set, keep only the keys with exactly
	// that binding (a bound administrator sees only its own kind).
	MerchantID *int32
	BuyerID    *string
	// After starts the page after this key (exclusive); nil starts at the
	// newest key.
	After *APIKeyCursor
	// Limit is the most keys on the page (at least 1).
	Limit int
}

// ListAPIKeys returns one page of keys, newest first, revoked ones included,
// and whether more follow.
func (s *Store) ListAPIKeys(ctx context.Context, q APIKeyQuery) (keys []auth.Key, more bool, err error) {
	if q.Limit < 1 {
		return nil, false, fmt.Errorf("list API keys: limit %d is below 1", q.Limit)
	}
	var w where
	if q.MerchantID != nil {
		w.add("merchant_id = ?", *q.MerchantID)
	}
	if q.BuyerID != nil {
		w.add("buyer_id = ?", *q.BuyerID)
	}
	if q.After != nil {
		w.add("(created_at, id) < (?, ?)", q.After.CreatedAt, q.After.ID)
	}
	lim := w.param(q.Limit + 1)
	var rows []apiKeyRow
	err = s.db.SelectContext(ctx, &rows, `SELECT `+apiKeyColumns+` FROM api_keys `+w.String()+`
		ORDER BY created_at DESC, id DESC LIMIT `+lim, w.args...)
	if err != nil {
		return nil, false, fmt.Errorf("list API keys: %w", translate(err))
	}
	if len(rows) > q.Limit {
		return keysOf(rows[:q.Limit]), true, nil
	}
	return keysOf(rows), false, nil
}

// GetAPIKey returns the key with id, or ErrKeyNotFound.
func (s *Store) GetAPIKey(ctx context.Context, id uuid.UUID) (auth.Key, error) {
	var r apiKeyRow
	err := s.db.GetContext(ctx, &r, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Key{}, ErrKeyNotFound
	}
	if err != nil {
		return auth.Key{}, fmt.Errorf("get API key %s: %w", id, translate(err))
	}
	return r.key(), nil
}

// RevokeAPIKey revokes the key with id and returns it; revoking a revoked key
// changes nothing. An unknown id gives ErrKeyNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, id uuid.UUID) (auth.Key, error) {
	var r apiKeyRow
	err := s.db.GetContext(ctx, &r, `
		UPDATE api_keys SET revoked_at = clock_timestamp(), updated_at = clock_timestamp()
		WHERE id = $1 AND revoked_at IS NULL
		RETURNING `+apiKeyColumns, id)
	if errors.Is(err, sql.ErrNoRows) {
		return s.GetAPIKey(ctx, id) // already revoked, or unknown
	}
	if err != nil {
		return auth.Key{}, fmt.Errorf("revoke API key %s: %w", id, translate(err))
	}
	return r.key(), nil
}

// CountAPIKeys counts every key, revoked ones included.
func (s *Store) CountAPIKeys(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM api_keys`); err != nil {
		return 0, fmt.Errorf("count API keys: %w", translate(err))
	}
	return n, nil
}

// APIKeysChangedSince returns the keys created or revoked after since (every
// key for the zero time). It implements auth.KeySource.
func (s *Store) APIKeysChangedSince(ctx context.Context, since time.Time) ([]auth.Key, error) {
	var rows []apiKeyRow
	var err error
	if since.IsZero() {
		err = s.db.SelectContext(ctx, &rows, `SELECT `+apiKeyColumns+` FROM api_keys WHERE revoked_at IS NULL`)
	} else {
		err = s.db.SelectContext(ctx, &rows, `SELECT `+apiKeyColumns+` FROM api_keys WHERE updated_at > $1`, since)
	}
	if err != nil {
		return nil, fmt.Errorf("read changed API keys: %w", translate(err))
	}
	return keysOf(rows), nil
}

// APIKeyByHash returns the key whose token has this hash. It implements
// auth.KeySource.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (auth.Key, bool, error) {
	var r apiKeyRow
	err := s.db.GetContext(ctx, &r, `SELECT `+apiKeyColumns+` FROM api_keys WHERE token_hash = $1`, hash)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Key{}, false, nil
	}
	if err != nil {
		return auth.Key{}, false, fmt.Errorf("look up API key: %w", translate(err))
	}
	return r.key(), true, nil
}

// TouchAPIKeys sets last_used_at of the keys, in one statement; it never
// moves last_used_at back nor changes updated_at. It implements
// auth.KeySource.
func (s *Store) TouchAPIKeys(ctx context.Context, used map[uuid.UUID]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	ids := make([]string, 0, len(used))
	times := make([]string, 0, len(used))
	for id, t := range used {
		ids = append(ids, id.String())
		times = append(times, t.UTC().Format(time.RFC3339Nano))
	}
	_, err := s.db.ExecContext(ctx, `
		UPDATE api_keys k SET last_used_at = u.t
		FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, t)
		WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.t)`,
		pq.StringArray(ids), pq.StringArray(times))
	if err != nil {
		return fmt.Errorf("write API keys' last_used_at: %w", translate(err))
	}
	return nil
}

var _ auth.KeySource = (*Store)(nil)
