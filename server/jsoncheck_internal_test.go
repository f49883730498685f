package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckJSON(t *testing.T) {
	for _, tc := range []struct {
		body string
		want string // "" for no error, else a part of the message
	}{
		{`{"quantity":1,"buyer_id":"b"}`, ""},
		{`{"quantity":1,"quantity":2}`, `duplicate key "quantity"`},
		{`{"a":{"b":1,"b":2}}`, `a: duplicate key "b"`},
		{`{"a":[{"b":1},{"c":1,"c":2}]}`, `a.1: duplicate key "c"`},
		{`[{"x":1},[{"y":1,"y":1}]]`, `1.0: duplicate key "y"`},
		{`{"a":{"b":1},"b":2,"c":[1,"b"]}`, ""},     // the same key in different objects
		{`{"a":1,"\u0061":2}`, `duplicate key "a"`}, // the same key, escaped
		{`{"a":1,"A":2}`, ""},                       // keys are case-sensitive here; the schema refuses unknown ones
		{`{"name":"caf\u00e9 \ud83d\ude00"}`, ""},   // a surrogate pair is fine
		{`{"name":"\\ud800"}`, ""},                  // an escaped backslash, not an escape
		{`{"name":"x\ud800"}`, `name: \uD800 is half a UTF-16 surrogate pair`},
		{`{"name":"\udc00x"}`, `name: \uDC00 is half`},
		{`{"name":"\ud800\u0041"}`, `\uD800 is half`},
		{`{"k\ud800":1}`, `\uD800 is half`},
		{"{\"name\":\"caf\xe9\"}", "invalid UTF-8 at byte 12"},
		{"\"\xff\"", "invalid UTF-8 at byte 1"},
		{`"plain"`, ""},
		{`[1,2,{"a":[],"b":{}}]`, ""},
		{`{"a":{"b":{"c":1,"\u0063":2}}}`, `a.b: duplicate key "c"`},
		{`{"quantity":1e400}`, `quantity: number 1e400 is out of range`},
		{`{"x":[1,-1E+999]}`, `x.1: number -1E+999 is out of range`},
		{`{"price":1e308,"tiny":1e-400}`, ""}, // within range, or rounded to 0
		{`{"a":1} {}`, `invalid character '{' after top-level value`},
		{`{"a":1} x`, `invalid character 'x' after top-level value`},
		{`{"a":1},`, `invalid character ',' after top-level value`},
		{`{"a":1,}`, `invalid character`},
		{`{"a":`, `unexpected EOF`},
		{`{"a/b~c":1,"a/b~c":2}`, `duplicate key "a/b~c"`},
	} {
		err := checkJSON([]byte(tc.body))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v; want no error", tc.body, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v; want an error with %q", tc.body, err, tc.want)
		}
	}
}

// hasDuplicateKey is a slow, obviously right reference for the duplicate
// keys checkJSON finds: json.Decoder's tokens, a key set per object.
func hasDuplicateKey(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		keys      map[string]bool
		expectKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := len(stack) - 1
		if s, ok := tok.(string); ok && top >= 0 && stack[top].keys != nil && stack[top].expectKey {
			if stack[top].keys[s] {
				return true
			}
			stack[top].keys[s], stack[top].expectKey = true, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, expectKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
		}
		if top := len(stack) - 1; top >= 0 && stack[top].keys != nil {
			stack[top].expectKey = true
		}
	}
}

// FuzzCheckJSON: on any valid JSON, checkJSON does not panic and finds a
// duplicate key exactly when the reference does (or refuses the text for
// another reason: invalid UTF-8 or a lone surrogate).
func FuzzCheckJSON(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"a":2}`, `{"a":{"b":[1,{"c":1,"c":2}]}}`, `[{"x":1},{"x":1}]`, `{"a":1,"\u0061":2}`,
		`{"name":"caf\u00e9 \ud83d\ude00"}`, `{"n":"\ud800"}`, `"\\u"`, `{"":1,"":2}`, `{"a":[],"b":{},"c":null}`,
		` { "a" : 1 , "b" : [ true , false ] } `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		err := checkJSON(body)
		dup := hasDuplicateKey(body)
		switch {
		case dup && err == nil:
			t.Errorf("%q has a duplicate key; checkJSON passed it", body)
		case !dup && err != nil && strings.Contains(err.Error(), "duplicate key"):
			t.Errorf("%q: checkJSON found a duplicate key the reference does not: %v", body, err)
		case err != nil && !strings.Contains(err.Error(), "duplicate key") && utf8.Valid(body) &&
			!strings.Contains(err.Error(), "surrogate") && !strings.Contains(err.Error(), "out of range"):
			t.Errorf("%q: unexpected error %v", body, err)
		}
	})
}
