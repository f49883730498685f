package server

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/store"
)

// Cursors are opaque to clients: base64url (no padding) of a kind byte, which
// also versions the format, and the key of the last item of the page. A
// cursor of one list is refused by the other, and anything that does not
// decode to exactly a key is 400.
const (
	jobCursorKind        = 'j' // + created_at in Unix microseconds (8 bytes) + job_id (16 bytes)
	settlementCursorKind = 's' // + date in days since 1970-01-01 (4 bytes, signed) + merchant_id (4 bytes)
	orderCursorKind      = 'o' // + created_at in Unix microseconds (8 bytes) + order id (16 bytes)
)

// errBadCursor is why a cursor was refused; the message says what to do.
var errBadCursor = errors.New("not a cursor this list gave out; pass next_cursor as is, with the same filters")

var cursorEncoding = base64.RawURLEncoding.Strict()

// encodeJobCursor is the next_cursor of a GET /jobs page ending at k.
func encodeJobCursor(k domain.JobKey) string {
	b := make([]byte, 0, 25)
	b = append(b, jobCursorKind)
	b = binary.BigEndian.AppendUint64(b, uint64(k.CreatedAt.UnixMicro()))
	b = append(b, k.ID[:]...)
	return cursorEncoding.EncodeToString(b)
}

// decodeJobCursor parses a cursor of GET /jobs.
func decodeJobCursor(s string) (domain.JobKey, error) {
	b, err := cursorEncoding.DecodeString(s)
	if err != nil || len(b) != 25 || b[0] != jobCursorKind {
		return domain.JobKey{}, errBadCursor
	}
	id, err := uuid.FromBytes(b[9:])
	if err != nil {
		return domain.JobKey{}, errBadCursor
	}
	created := time.UnixMicro(int64(binary.BigEndian.Uint64(b[1:9]))).UTC()
	if !plausibleYear(created) {
		return domain.JobKey{}, errBadCursor
	}
	return domain.JobKey{CreatedAt: created, ID: id}, nil
}

// encodeOrderCursor is the next_cursor of a GET /orders page ending at k.
func encodeOrderCursor(k domain.OrderKey) string {
	return encodeTimeIDCursor(orderCursorKind, k.CreatedAt, k.ID)
}

// decodeOrderCursor parses a cursor of GET /orders.
func decodeOrderCursor(s string) (domain.OrderKey, error) {
	created, id, err := decodeTimeIDCursor(orderCursorKind, s)
	return domain.OrderKey{CreatedAt: created, ID: id}, err
}

// encodeTimeIDCursor encodes a (timestamp, uuid) key as a cursor of kind.
func encodeTimeIDCursor(kind byte, t time.Time, id uuid.UUID) string {
	b := make([]byte, 0, 25)
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(t.UnixMicro()))
	b = append(b, id[:]...)
	return cursorEncoding.EncodeToString(b)
}

// decodeTimeIDCursor parses a cursor that encodeTimeIDCursor made for kind.
func decodeTimeIDCursor(kind byte, s string) (time.Time, uuid.UUID, error) {
	b, err := cursorEncoding.DecodeString(s)
	if err != nil || len(b) != 25 || b[0] != kind {
		return time.Time{}, uuid.UUID{}, errBadCursor
	}
	id, err := uuid.FromBytes(b[9:])
	if err != nil {
		return time.Time{}, uuid.UUID{}, errBadCursor
	}
	t := time.UnixMicro(int64(binary.BigEndian.Uint64(b[1:9]))).UTC()
	if !plausibleYear(t) {
		return time.Time{}, uuid.UUID{}, errBadCursor
	}
	return t, id, nil
}

// encodeSettlementCursor is the next_cursor of a GET /settlements page
// ending at k.
func encodeSettlementCursor(k store.SettlementKey) string {
	days := k.Date.Unix() / 86400
	b := make([]byte, 0, 9)
	b = append(b, settlementCursorKind)
	b = binary.BigEndian.AppendUint32(b, uint32(int32(days)))
	b = binary.BigEndian.AppendUint32(b, uint32(k.MerchantID))
	return cursorEncoding.EncodeToString(b)
}

// decodeSettlementCursor parses a cursor of GET /settlements.
func decodeSettlementCursor(s string) (store.SettlementKey, error) {
	b, err := cursorEncoding.DecodeString(s)
	if err != nil || len(b) != 9 || b[0] != settlementCursorKind {
		return store.SettlementKey{}, errBadCursor
	}
	days := int64(int32(binary.BigEndian.Uint32(b[1:5])))
	date := time.Unix(days*86400, 0).UTC()
	if !plausibleYear(date) {
		return store.SettlementKey{}, errBadCursor
	}
	merchant := int32(binary.BigEndian.Uint32(b[5:9]))
	return store.SettlementKey{Date: date, MerchantID: merchant}, nil
}

// plausibleYear reports whether t lies in the years 1..9999, the ones that
// a key from the database can have and that format as plain dates.
func plausibleYear(t time.Time) bool {
	return t.Year() >= 1 && t.Year() <= 9999
}
