package server

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// jsonError is why a JSON request body is refused, for the 400's message.
type jsonError struct {
	// syntax is set when the body is not (exactly one value of) JSON.
	syntax bool
	// where is the dotted path of the value concerned ("items.0.name"),
	// empty at the top level.
	where string
	msg   string
}

func (e *jsonError) Error() string {
	if e.where == "" {
		return e.msg
	}
	return e.where + ": " + e.msg
}

// message is the error's text in a 400 answer.
func (e *jsonError) message() string {
	if e.syntax {
		return "request body is not valid JSON: " + e.Error()
	}
	return "request body: " + e.Error()
}

// checkJSON refuses a body that is not exactly one JSON value, and what
// encoding/json and kin-openapi would accept silently in one that is: bytes
// that are not UTF-8 and \u escapes that are lone UTF-16 surrogates (both
// decoded as U+FFFD, so the stored text would differ from the text sent),
// an object with the same name twice at any depth, also spelled
// differently ("a" and "\u0061": the last one would win, so
// {"quantity":1,"quantity":2} would order 2), and numbers beyond the range
// of a float64 (1e400), and NUL characters, which no text column can hold
// (\u0000). The jsontext decoder does the strict parsing; the
// error names the value concerned.
func checkJSON(body []byte) *jsonError {
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	// A NUL can only be escaped: a raw control character is not JSON.
	mayHoldNUL := bytes.Contains(body, []byte(`\u0000`))
	for {
		if dec.PeekKind() == '0' {
			v, err := dec.ReadValue()
			if err != nil {
				return describeJSONError(body, err)
			}
			if f, err := strconv.ParseFloat(string(v), 64); err != nil || math.IsInf(f, 0) {
				return &jsonError{where: dotted(dec.StackPointer()), msg: fmt.Sprintf("number %s is out of range", v)}
			}
		} else if tok, err := dec.ReadToken(); err != nil {
			return describeJSONError(body, err)
		} else if mayHoldNUL && tok.Kind() == '"' && strings.IndexByte(tok.String(), 0) >= 0 {
			return &jsonError{where: dotted(dec.StackPointer()), msg: "NUL characters (U+0000) are not allowed"}
		}
		if dec.StackDepth() == 0 {
			break
		}
	}
	if rest := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		r, _ := utf8.DecodeRune(rest)
		return &jsonError{syntax: true, msg: fmt.Sprintf("invalid character %q after top-level value", r)}
	}
	return nil
}

// describeJSONError turns the decoder's error into the answer's words,
// telling invalid UTF-8 and lone surrogates by the bytes where it stopped.
func describeJSONError(body []byte, err error) *jsonError {
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) {
		return &jsonError{syntax: true, msg: "unexpected end of input"} // io.EOF: nothing but space
	}
	where := dotted(se.JSONPointer)
	off := int(se.ByteOffset)
	if errors.Is(se.Err, jsontext.ErrDuplicateName) {
		return &jsonError{where: dotted(se.JSONPointer.Parent()), msg: fmt.Sprintf("duplicate key %q", se.JSONPointer.LastToken())}
	}
	if off >= 0 && off < len(body) {
		if r, size := utf8.DecodeRune(body[off:]); r == utf8.RuneError && size <= 1 {
			return &jsonError{where: where, msg: fmt.Sprintf("invalid UTF-8 at byte %d", off)}
		}
		if u := escapedSurrogate(body[off:]); u != 0 {
			return &jsonError{where: where, msg: fmt.Sprintf(`\u%04X is half a UTF-16 surrogate pair (not valid Unicode)`, u)}
		}
	}
	msg := se.Err.Error()
	if off > 0 {
		msg += " at byte " + strconv.Itoa(off)
	}
	return &jsonError{syntax: true, where: where, msg: msg}
}

// escapedSurrogate returns the UTF-16 surrogate that the \u escape at the
// start of b encodes, or 0 when b does not start with one.
func escapedSurrogate(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0
	}
	n, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	if err != nil || n < 0xD800 || n > 0xDFFF {
		return 0
	}
	return rune(n)
}

// dotted writes a JSON pointer as the dotted path the validator's messages
// use ("/items/0/name" → "items.0.name").
func dotted(p jsontext.Pointer) string {
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
	}
	return strings.Join(parts, ".")
}
