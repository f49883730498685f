package settlement

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/ordersettle/ordersettle/store"
)

// TestPublicErrorHidesDetails: a FAILED job's error says what to do, never
// a server path, SQL or driver text.
func TestPublicErrorHidesDetails(t *testing.T) {
	const secret = "/srv/secret-dir/.f5034e1b.csv.tmp-123"
	pathErr := func(errno error) error {
		return fmt.Errorf("write settlement file: %w", &os.PathError{Op: "write", Path: secret, Err: errno})
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{pathErr(syscall.ENOSPC), "no space left in the settlement directory"},
		{pathErr(syscall.EACCES), "settlement directory (SETTLEMENT_DIR) is not writable"},
		{pathErr(syscall.EROFS), "settlement directory (SETTLEMENT_DIR) is not writable"},
		{pathErr(syscall.EISDIR), "writing the settlement file failed"},
		{fmt.Errorf("publish settlement file: %w", &os.LinkError{Op: "rename", Old: secret, New: secret + "x", Err: syscall.EEXIST}), "writing the settlement file failed"},
		{fmt.Errorf("aggregate batch: %w: pq: relation \"transactions\" does not exist (SELECT … FROM transactions)", store.ErrUnavailable), "database was unavailable"},
		{errors.New(`pq: syntax error at or near "SELECT" in SELECT merchant_id FROM transactions`), "failed unexpectedly"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timed out"},
	} {
		got := publicError(tc.err)
		if !strings.Contains(got, tc.want) {
			t.Errorf("publicError(%v) = %q, want it to say %q", tc.err, got, tc.want)
		}
		for _, leak := range []string{"/srv", "secret", "pq:", "SELECT", "transactions"} {
			if strings.Contains(got, leak) {
				t.Errorf("publicError(%v) = %q leaks %q", tc.err, got, leak)
			}
		}
	}
}

func TestTempJobID(t *testing.T) {
	id := "0b7f3f7e-2a55-4a55-9d3c-3d6a3b1c2e10"
	for name, want := range map[string]bool{
		"." + id + ".csv.tmp-123456": true,
		"." + id + ".csv.tmp-":       true,
		id + ".csv":                  false,
		"." + id + ".csv":            false,
		".notauuid.csv.tmp-1":        false,
		"x" + id + ".csv.tmp-1":      false,
		".0B7F3F7E-2A55-4A55-9D3C-3D6A3B1C2E10.csv.tmp-1": false, // not a name this engine writes
	} {
		got, ok := tempJobID(name)
		if ok != want || (ok && got.String() != id) {
			t.Errorf("tempJobID(%q) = %v, %v; want ok=%v", name, got, ok, want)
		}
	}
}
