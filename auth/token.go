package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"math/big"
	"strings"
)

// KeyPrefix starts every API key.
const KeyPrefix = "os_"

// keyChars is the length of an API key after its prefix: 43 base62
// characters hold 256 random bits.
const keyChars = 43

// minKeyChars is the shortest key (after the prefix) that the verifier looks
// up: 32 base62 characters hold more than 128 bits.
const minKeyChars = 32

// maxKeyChars bounds what the verifier hashes.
const maxKeyChars = 128

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// HashSize is the size of a key hash.
const HashSize = sha256.Size

// NewToken makes up a new API key: KeyPrefix and 43 base62 characters from
// crypto/rand, and returns it with its hash, which is all that is stored.
func NewToken() (token string, hash []byte, err error) {
	var b strings.Builder
	b.Grow(len(KeyPrefix) + keyChars)
	b.WriteString(KeyPrefix)
	max := big.NewInt(int64(len(base62)))
	for range keyChars {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", nil, err
		}
		b.WriteByte(base62[n.Int64()])
	}
	token = b.String()
	return token, HashToken(token), nil
}

// HashToken returns the SHA-256 hash of an API key. A plain hash is the right
// tool for keys with 256 random bits: nobody can guess one, so there is
// nothing for a slow, salted hash to protect, and the hash is a lookup key.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// LooksLikeKey reports whether token has the shape of an API key: KeyPrefix
// followed by 32 to 128 base62 characters. Tokens without it are refused
// without a look-up.
func LooksLikeKey(token string) bool {
	rest, ok := strings.CutPrefix(token, KeyPrefix)
	if !ok || len(rest) < minKeyChars || len(rest) > maxKeyChars {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// sameHash compares two hashes in constant time.
func sameHash(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
