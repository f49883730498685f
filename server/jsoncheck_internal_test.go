package server

import (
	"strings"
	"testing"
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
