package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// checkJSON refuses what encoding/json and kin-openapi accept silently in a
// body that is otherwise valid JSON: bytes that are not UTF-8 (decoded as
// U+FFFD, so the stored text would differ from the text sent), \u escapes
// that are lone UTF-16 surrogates (likewise), and an object with the same
// key twice at any depth (the last one would win, so {"quantity":1,
// "quantity":2} would order 2). The error names the key and where it is.
//
// body must be valid JSON (singleJSONValue): the scan below relies on it
// and is a single pass without decoding, a few times cheaper than
// json.Decoder's tokens on the request path.
func checkJSON(body []byte) error {
	if !utf8.Valid(body) {
		return fmt.Errorf("invalid UTF-8 at byte %d", invalidUTF8At(body))
	}
	if !bytes.ContainsAny(body, `{\`) {
		return nil // no object and no escape: nothing more to check
	}
	s := jsonScan{b: body}
	return s.value()
}

// jsonScan walks a valid JSON text; path holds the keys and indexes of the
// values around the current one, for messages.
type jsonScan struct {
	b    []byte
	i    int
	path []string
}

// value checks the value at s.i and moves past it.
func (s *jsonScan) value() error {
	s.space()
	if s.i >= len(s.b) {
		return nil
	}
	switch s.b[s.i] {
	case '{':
		return s.object()
	case '[':
		return s.array()
	case '"':
		_, err := s.str()
		return err
	}
	for s.i < len(s.b) && !strings.ContainsRune(",]} \t\r\n", rune(s.b[s.i])) {
		s.i++ // a number, true, false or null
	}
	return nil
}

func (s *jsonScan) object() error {
	s.i++ // {
	var keys []string
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] == '}' {
			s.i++
			return nil
		}
		raw, err := s.str()
		if err != nil {
			return err
		}
		key := string(raw)
		if bytes.IndexByte(raw, '\\') >= 0 { // compare keys as decoded: "a" and "\u0061" are one key
			_ = json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &key)
		}
		for _, k := range keys {
			if k == key {
				return s.errorf("duplicate key %q", key)
			}
		}
		keys = append(keys, key)
		s.space()
		s.i++ // :
		s.path = append(s.path, key)
		if err := s.value(); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.space()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
		}
	}
}

func (s *jsonScan) array() error {
	s.i++ // [
	for n := 0; ; n++ {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] == ']' {
			s.i++
			return nil
		}
		s.path = append(s.path, strconv.Itoa(n))
		if err := s.value(); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.space()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
		}
	}
}

// str moves past the string at s.i and returns its raw contents (between
// the quotes, escapes undecoded), refusing an escaped lone surrogate.
func (s *jsonScan) str() ([]byte, error) {
	s.i++ // "
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			raw := s.b[start:s.i]
			s.i++
			return raw, nil
		case '\\':
			if s.i+1 < len(s.b) && s.b[s.i+1] == 'u' {
				if err := s.checkSurrogate(); err != nil {
					return nil, err
				}
			}
			s.i += 2 // the escape; a \u's four digits are ordinary bytes
		default:
			s.i++
		}
	}
	return s.b[start:], nil
}

// checkSurrogate checks the \u escape at s.i: a high surrogate must be
// followed by a \u escape of a low one, and a low one must not come alone.
// (A pair is checked at its first half; its second half then passes as
// part of it.)
func (s *jsonScan) checkSurrogate() error {
	r := s.hex4(s.i + 2)
	switch {
	case r >= 0xD800 && r < 0xDC00:
		if lo := s.hex4(s.i + 8); s.i+7 < len(s.b) && s.b[s.i+6] == '\\' && s.b[s.i+7] == 'u' && lo >= 0xDC00 && lo <= 0xDFFF {
			s.i += 6 // the high half; the loop skips the low one
			return nil
		}
	case r >= 0xDC00 && r <= 0xDFFF:
	default:
		return nil
	}
	return s.errorf(`\u%04X is half a UTF-16 surrogate pair (not valid Unicode)`, r)
}

// hex4 decodes the four hex digits at i, or returns -1.
func (s *jsonScan) hex4(i int) int {
	if i+4 > len(s.b) {
		return -1
	}
	n, err := strconv.ParseUint(string(s.b[i:i+4]), 16, 16)
	if err != nil {
		return -1
	}
	return int(n)
}

func (s *jsonScan) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\r' || s.b[s.i] == '\n') {
		s.i++
	}
}

// errorf builds an error prefixed with where it is: the keys and indexes of
// the values around it, dotted ("items.0.name").
func (s *jsonScan) errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if len(s.path) == 0 {
		return err
	}
	return fmt.Errorf("%s: %w", strings.Join(s.path, "."), err)
}

// invalidUTF8At returns the offset of the first byte of b that does not
// start a valid UTF-8 sequence.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}
