package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/lib/pq"
)

func TestTranslate(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"too many connections", &pq.Error{Code: "53300"}, ErrUnavailable},
		{"connection failure", &pq.Error{Code: "08006"}, ErrUnavailable},
		{"admin shutdown", &pq.Error{Code: "57P01"}, ErrUnavailable},
		{"starting up", &pq.Error{Code: "57P03"}, ErrUnavailable},
		{"NUL byte", &pq.Error{Code: "22021"}, ErrInvalidInput},
		{"value too long", &pq.Error{Code: "22001"}, ErrInvalidInput},
		{"query cancelled", &pq.Error{Code: "57014"}, context.Canceled},
		{"serialization failure", &pq.Error{Code: "40001"}, ErrConflict},
		{"deadlock", &pq.Error{Code: "40P01"}, ErrConflict},
		{"connection refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, ErrUnavailable},
		{"connection lost", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), ErrUnavailable},
		{"deadline", context.DeadlineExceeded, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := translate(tc.err)
			if !errors.Is(got, tc.want) {
				t.Errorf("translate(%v) = %v, want it to wrap %v", tc.err, got, tc.want)
			}
			if !errors.Is(got, tc.err) && !errors.Is(tc.err, tc.want) {
				t.Errorf("translate dropped the original error %v", tc.err)
			}
		})
	}
	other := &pq.Error{Code: "42P01"} // undefined_table: a bug, passes through
	if got := translate(other); got != error(other) {
		t.Errorf("translate(undefined_table) = %v, want it unchanged", got)
	}
	if translate(nil) != nil {
		t.Error("translate(nil) != nil")
	}
}

func TestWithSessionDefaults(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u@h:5432/db?sslmode=disable":             "postgres://u@h:5432/db?application_name=ordersettle&connect_timeout=5&sslmode=disable&timezone=UTC",
		"postgres://u@h/db?timezone=Europe%2FParis":          "postgres://u@h/db?application_name=ordersettle&connect_timeout=5&timezone=Europe%2FParis",
		"host=h dbname=db":                                   "host=h dbname=db timezone=UTC connect_timeout=5 application_name=ordersettle",
		"host=h connect_timeout=1 application_name=x":        "host=h connect_timeout=1 application_name=x timezone=UTC",
		"postgresql://u@h/db?connect_timeout=9&timezone=UTC": "postgresql://u@h/db?application_name=ordersettle&connect_timeout=9&timezone=UTC",
	} {
		got, err := withSessionDefaults(in)
		if err != nil || got != want {
			t.Errorf("withSessionDefaults(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestTranslateCommit: only an ERROR in answer to COMMIT, or a COMMIT never
// sent, proves that nothing committed; anything else leaves the outcome
// unknown.
func TestTranslateCommit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		unknown bool
	}{
		{"refused at commit", &pq.Error{Severity: "ERROR", Code: "40001"}, false},
		{"failed transaction", pq.ErrInFailedTransaction, false},
		{"never sent", context.Canceled, false},
		{"already rolled back", sql.ErrTxDone, false},
		{"connection lost", driver.ErrBadConn, true},
		{"EOF", io.ErrUnexpectedEOF, true},
		{"unexpected", errors.New("unexpected command tag"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := translateCommit(tc.err)
			if errors.Is(got, ErrCommitUnknown) != tc.unknown {
				t.Errorf("translateCommit(%v) = %v; unknown outcome: %v, want %v", tc.err, got, !tc.unknown, tc.unknown)
			}
			if tc.unknown && !errors.Is(got, ErrUnavailable) {
				t.Errorf("an unknown outcome must be ErrUnavailable too: %v", got)
			}
		})
	}
}
