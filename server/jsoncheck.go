package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
func checkJSON(body []byte) error {
	if !utf8.Valid(body) {
		return fmt.Errorf("invalid UTF-8 at byte %d", invalidUTF8At(body))
	}
	if !bytes.ContainsAny(body, `{\`) {
		return nil // no object and no escape: nothing more to check
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()       // numbers are not looked at; keep them cheap
	var stack []jsonFrame // the objects and arrays around the current token
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err // singleJSONValue has checked the syntax; not expected
		}
		if s, ok := tok.(string); ok {
			// The raw token, with the separator and space before it.
			if err := checkSurrogates(body[start:dec.InputOffset()]); err != nil {
				return prefixed(stack, err)
			}
			if top := len(stack) - 1; top >= 0 && stack[top].expectKey {
				f := &stack[top]
				if f.keys[s] {
					f.expectKey = true // the path ends at the object, not the key
					return prefixed(stack, fmt.Errorf("duplicate key %q", s))
				}
				f.keys[s] = true
				f.key, f.expectKey = s, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, jsonFrame{keys: map[string]bool{}, expectKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, jsonFrame{array: true})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: next comes a key in an object, an element in an array.
		if top := len(stack) - 1; top >= 0 {
			if f := &stack[top]; f.array {
				f.index++
			} else {
				f.expectKey = true
			}
		}
	}
}

// jsonFrame is an object or array that checkJSON is inside.
type jsonFrame struct {
	array     bool
	index     int             // array: the element being read
	keys      map[string]bool // object: the keys seen so far
	key       string          // object: the key whose value is being read
	expectKey bool            // object: the next string is a key
}

// prefixed prefixes err with where it is: the keys and indexes of the
// values around it, dotted ("items.0.name").
func prefixed(stack []jsonFrame, err error) error {
	var path []string
	for _, f := range stack {
		switch {
		case f.array:
			path = append(path, strconv.Itoa(f.index))
		case !f.expectKey:
			path = append(path, f.key)
		}
	}
	if len(path) == 0 {
		return err
	}
	return fmt.Errorf("%s: %w", strings.Join(path, "."), err)
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

// checkSurrogates refuses a JSON string token (raw, with the separator and
// space before it) with a \u escape of a UTF-16 surrogate that is not part
// of a high-low pair.
func checkSurrogates(raw []byte) error {
	i := bytes.IndexByte(raw, '"')
	if i < 0 || !bytes.Contains(raw[i:], []byte(`\u`)) {
		return nil
	}
	s := raw[i+1:]
	for j := 0; j < len(s); j++ {
		if s[j] != '\\' {
			continue
		}
		j++ // the escaped character
		if j >= len(s) || s[j] != 'u' || j+4 >= len(s) {
			continue
		}
		r := hex4(s[j+1 : j+5])
		switch {
		case r >= 0xD800 && r < 0xDC00: // high surrogate: a low one must follow
			next := s[j+5:]
			if len(next) < 6 || next[0] != '\\' || next[1] != 'u' {
				return fmt.Errorf(`\u%04X is half a UTF-16 surrogate pair (not valid Unicode)`, r)
			}
			if lo := hex4(next[2:6]); lo < 0xDC00 || lo > 0xDFFF {
				return fmt.Errorf(`\u%04X is half a UTF-16 surrogate pair (not valid Unicode)`, r)
			}
			j += 4 + 6 // the pair
		case r >= 0xDC00 && r <= 0xDFFF: // low surrogate without a high one
			return fmt.Errorf(`\u%04X is half a UTF-16 surrogate pair (not valid Unicode)`, r)
		default:
			j += 4
		}
	}
	return nil
}

// hex4 decodes four hex digits (valid: the JSON was checked), or -1.
func hex4(b []byte) int {
	n, err := strconv.ParseUint(string(b), 16, 16)
	if err != nil {
		return -1
	}
	return int(n)
}
