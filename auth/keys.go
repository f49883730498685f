package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"
)

// ErrInvalidCredential means the credential is missing, malformed, unknown,
// revoked or expired. Its text never holds the credential.
var ErrInvalidCredential = errors.New("invalid credential")

// Key is a stored API key: everything but the token, of which only the hash
// is kept.
type Key struct {
	ID         uuid.UUID
	Name       string
	Hash       []byte // SHA-256 of the token (HashToken)
	Scopes     ScopeSet
	MerchantID *int32
	BuyerID    *string
	RateLimit  *int32 // requests per second; nil: the server's default
	ExpiresAt  *time.Time
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	// UpdatedAt changes whenever the key does (created, revoked), never for
	// last_used_at: it is what KeysChangedSince compares.
	UpdatedAt time.Time
}

// Principal returns the principal the key stands for.
func (k Key) Principal() *Principal {
	p := &Principal{ID: "key:" + k.ID.String(), Scopes: k.Scopes, MerchantID: k.MerchantID, BuyerID: k.BuyerID}
	if k.RateLimit != nil {
		p.RateLimit = float64(*k.RateLimit)
	}
	return p
}

// usable reports whether the key can be used at now.
func (k Key) usable(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// KeySource is where a KeyVerifier reads keys: the database.
type KeySource interface {
	// APIKeysChangedSince returns the keys whose UpdatedAt is after since
	// (every key for the zero time), revoked ones included.
	APIKeysChangedSince(ctx context.Context, since time.Time) ([]Key, error)
	// APIKeyByHash returns the key with this hash; found is false when
	// there is none.
	APIKeyByHash(ctx context.Context, hash []byte) (k Key, found bool, err error)
	// TouchAPIKeys sets last_used_at of the keys to the times given.
	TouchAPIKeys(ctx context.Context, used map[uuid.UUID]time.Time) error
}

// KeyVerifierOptions tune a KeyVerifier. Zero values get the defaults.
type KeyVerifierOptions struct {
	// Refresh is how often the cache reads the keys changed since the last
	// read (default 1 s): revocations and new keys reach this process within
	// about that long. Expiry needs no refresh.
	Refresh time.Duration
	// Overlap is how far back each refresh looks before the newest change it
	// saw (default 10 s), so that a change whose transaction committed late
	// is not missed.
	Overlap time.Duration
	// MissLookups bounds the database look-ups of unknown tokens, per second
	// (default 20, burst the same); beyond it unknown tokens are refused
	// without one. Only a key created in the last Refresh on another process
	// needs such a look-up.
	MissLookups float64
	// TouchEvery is how rarely last_used_at is written per key (default
	// 1 minute).
	TouchEvery time.Duration
	// Logger receives refresh failures; nil means slog.Default().
	Logger *slog.Logger
}

// cachedKey is a live key in the cache.
type cachedKey struct {
	key       Key
	principal *Principal
	touched   atomic.Int64 // unix nanoseconds of the last last_used_at queued for it
}

// keyMap is the cache: hash → key. A map is never changed once published;
// changes publish a new one (copy on write), so readers take no lock.
type keyMap map[[HashSize]byte]*cachedKey

// KeyVerifier verifies API keys from an in-memory cache of every live key,
// which Run refreshes in the background.
type KeyVerifier struct {
	src  KeySource
	opts KeyVerifierOptions
	log  *slog.Logger

	keys    atomic.Pointer[keyMap]
	writeMu sync.Mutex // serializes publishing a new keys map

	// Look-ups of unknown tokens: rate limited, and each unknown hash is
	// remembered for a while (misses) so that a repeated garbage token costs
	// nothing.
	missLimiter *rate.Limiter
	missMu      sync.Mutex
	misses      map[[HashSize]byte]time.Time // hash → until when it is known unknown

	lookups atomic.Uint64 // database look-ups of unknown tokens

	usedMu sync.Mutex
	used   map[uuid.UUID]time.Time // last_used_at waiting to be written

	since time.Time // watermark of the refresh; only Run touches it
	ready atomic.Bool
}

// Defaults of KeyVerifierOptions.
const (
	DefaultKeyRefresh  = time.Second
	DefaultKeyOverlap  = 10 * time.Second
	DefaultMissLookups = 20
	DefaultTouchEvery  = time.Minute
	missTTL            = 2 * time.Second
	maxMisses          = 10000
)

// NewKeyVerifier returns a verifier over src. Call Run to fill and refresh
// its cache.
func NewKeyVerifier(src KeySource, opts KeyVerifierOptions) *KeyVerifier {
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultKeyRefresh
	}
	if opts.Overlap <= 0 {
		opts.Overlap = DefaultKeyOverlap
	}
	if opts.MissLookups <= 0 {
		opts.MissLookups = DefaultMissLookups
	}
	if opts.TouchEvery <= 0 {
		opts.TouchEvery = DefaultTouchEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	v := &KeyVerifier{
		src:         src,
		opts:        opts,
		log:         opts.Logger,
		missLimiter: rate.NewLimiter(rate.Limit(opts.MissLookups), max(1, int(opts.MissLookups))),
		misses:      map[[HashSize]byte]time.Time{},
		used:        map[uuid.UUID]time.Time{},
	}
	v.keys.Store(&keyMap{})
	return v
}

// Lookups is how many times an unknown token was looked up in the database.
// In steady state (every key in use already cached) it does not grow.
func (v *KeyVerifier) Lookups() uint64 { return v.lookups.Load() }

// Ready reports whether the cache has been loaded once.
func (v *KeyVerifier) Ready() bool { return v.ready.Load() }

// Verify returns the principal of the API key token, or ErrInvalidCredential
// when it is malformed, unknown, revoked or expired. A known key costs no
// database round trip; an unknown one may cost one (see
// KeyVerifierOptions.MissLookups). Other errors mean the database failed.
func (v *KeyVerifier) Verify(ctx context.Context, token string) (*Principal, error) {
	if !LooksLikeKey(token) {
		return nil, ErrInvalidCredential
	}
	var h [HashSize]byte
	copy(h[:], HashToken(token))
	now := time.Now()
	if ck := (*v.keys.Load())[h]; ck != nil {
		if !sameHash(ck.key.Hash, h[:]) || !ck.key.usable(now) {
			return nil, ErrInvalidCredential
		}
		v.markUsed(ck, now)
		return ck.principal, nil
	}
	return v.lookUp(ctx, h, now)
}

// lookUp asks the source for a hash that is not in the cache.
func (v *KeyVerifier) lookUp(ctx context.Context, h [HashSize]byte, now time.Time) (*Principal, error) {
	v.missMu.Lock()
	until, known := v.misses[h]
	v.missMu.Unlock()
	if known && now.Before(until) || !v.missLimiter.AllowN(now, 1) {
		return nil, ErrInvalidCredential
	}
	v.lookups.Add(1)
	k, found, err := v.src.APIKeyByHash(ctx, h[:])
	if err != nil {
		return nil, fmt.Errorf("look up API key: %w", err)
	}
	if !found {
		v.missMu.Lock()
		if len(v.misses) >= maxMisses {
			clear(v.misses)
		}
		v.misses[h] = now.Add(missTTL)
		v.missMu.Unlock()
		return nil, ErrInvalidCredential
	}
	v.apply([]Key{k})
	if !k.usable(now) || !sameHash(k.Hash, h[:]) {
		return nil, ErrInvalidCredential
	}
	ck := (*v.keys.Load())[h]
	if ck == nil {
		return nil, ErrInvalidCredential
	}
	v.markUsed(ck, now)
	return ck.principal, nil
}

// markUsed queues a last_used_at write for the key, at most once per
// TouchEvery; Run writes the queue in one statement.
func (v *KeyVerifier) markUsed(ck *cachedKey, now time.Time) {
	last := ck.touched.Load()
	if now.UnixNano()-last < int64(v.opts.TouchEvery) || !ck.touched.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	v.usedMu.Lock()
	v.used[ck.key.ID] = now
	v.usedMu.Unlock()
}

// Remember puts k in the cache at once (a key this process just created or
// revoked), ahead of the next refresh.
func (v *KeyVerifier) Remember(k Key) { v.apply([]Key{k}) }

// apply publishes a cache with the keys changed: usable ones in, revoked
// ones out. Expired keys stay (Verify checks the time) until revoked.
func (v *KeyVerifier) apply(changed []Key) {
	if len(changed) == 0 {
		return
	}
	v.writeMu.Lock()
	defer v.writeMu.Unlock()
	old := *v.keys.Load()
	next := make(keyMap, len(old)+len(changed))
	for h, ck := range old {
		next[h] = ck
	}
	for _, k := range changed {
		var h [HashSize]byte
		if len(k.Hash) != HashSize {
			continue
		}
		copy(h[:], k.Hash)
		if k.RevokedAt != nil {
			delete(next, h)
			continue
		}
		ck := &cachedKey{key: k, principal: k.Principal()}
		if prev := old[h]; prev != nil {
			ck.touched.Store(prev.touched.Load())
		} else if k.LastUsedAt != nil {
			ck.touched.Store(k.LastUsedAt.UnixNano())
		}
		next[h] = ck
	}
	v.keys.Store(&next)
}

// Run loads every key, then refreshes the cache every Refresh and writes
// queued last_used_at times, until ctx ends (then it writes them once more).
func (v *KeyVerifier) Run(ctx context.Context) {
	t := time.NewTicker(v.opts.Refresh)
	defer t.Stop()
	for {
		v.tick(ctx)
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			v.flushUsed(fctx)
			cancel()
			return
		case <-t.C:
		}
	}
}

// tick refreshes the cache and writes last_used_at once. A panic of the
// source is logged: the loop must outlive a broken store.
func (v *KeyVerifier) tick(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			v.log.Error("the API key cache's refresh panicked", "panic", r)
		}
	}()
	if err := v.Refresh(ctx); err != nil && ctx.Err() == nil {
		v.log.Warn("refreshing the API key cache failed; retrying", "err", err)
	}
	v.flushUsed(ctx)
}

// Refresh reads the keys changed since the last refresh (all of them the
// first time) into the cache. Run calls it; tests may too. It must not run
// concurrently with itself.
func (v *KeyVerifier) Refresh(ctx context.Context) error {
	since := time.Time{}
	if !v.since.IsZero() {
		since = v.since.Add(-v.opts.Overlap)
	}
	changed, err := v.src.APIKeysChangedSince(ctx, since)
	if err != nil {
		return err
	}
	v.apply(changed)
	for _, k := range changed {
		if k.UpdatedAt.After(v.since) {
			v.since = k.UpdatedAt
		}
	}
	v.ready.Store(true)
	return nil
}

// flushUsed writes the queued last_used_at times in one call.
func (v *KeyVerifier) flushUsed(ctx context.Context) {
	v.usedMu.Lock()
	if len(v.used) == 0 {
		v.usedMu.Unlock()
		return
	}
	used := v.used
	v.used = map[uuid.UUID]time.Time{}
	v.usedMu.Unlock()
	if err := v.src.TouchAPIKeys(ctx, used); err != nil && ctx.Err() == nil {
		v.log.Warn("writing API keys' last_used_at failed", "keys", len(used), "err", err)
	}
}
