package store

import (
	"fmt"
	"strings"
)

// where builds the WHERE clause of a query from optional conditions, numbering
// their parameters: each ? of a condition becomes the next $n.
type where struct {
	conds []string
	args  []any
}

// add appends a condition; its ? placeholders take args, in order.
func (w *where) add(cond string, args ...any) {
	var b strings.Builder
	next := 0
	for _, r := range cond {
		if r == '?' && next < len(args) {
			w.args = append(w.args, args[next])
			next++
			fmt.Fprintf(&b, "$%d", len(w.args))
			continue
		}
		b.WriteRune(r)
	}
	if next != len(args) {
		panic(fmt.Sprintf("store: condition %q has %d placeholders for %d arguments", cond, next, len(args)))
	}
	w.conds = append(w.conds, b.String())
}

// param adds v as the next parameter, without a condition, and returns its
// placeholder ($n), for use after the WHERE clause (a LIMIT, say).
func (w *where) param(v any) string {
	w.args = append(w.args, v)
	return fmt.Sprintf("$%d", len(w.args))
}

// String is the clause: "WHERE c1 AND c2 …", or "" without conditions.
func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(w.conds, " AND ")
}
