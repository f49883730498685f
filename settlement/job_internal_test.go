package settlement

import (
	"context"
	"errors"
	"fmt"
	"math"
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
		{pathErr(syscall.ENOSPC), "no space left"},
		{pathErr(syscall.EACCES), "settlement file failed"},
		{pathErr(syscall.EISDIR), "settlement file failed"},
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

// TestDecide: the outcome of a run follows from its error, its context's
// cause and whether the engine stops, in this order of precedence.
func TestDecide(t *testing.T) {
	other := errors.New("boom")
	fault := fmt.Errorf("aggregate batch: %w", store.ErrUnavailable)
	for _, tc := range []struct {
		name         string
		err, cause   error
		shuttingDown bool
		want         outcomeKind
	}{
		{"completed", nil, nil, false, outcomeCompleted},
		{"completed during shutdown", nil, context.Canceled, true, outcomeCompleted},
		{"cancel found at completion", store.ErrCancelRequested, nil, false, outcomeCancelled},
		{"cancelled by the user", context.Canceled, ErrCancelled, false, outcomeCancelled},
		{"cancelled while shutting down", context.Canceled, ErrCancelled, true, outcomeCancelled},
		{"claim lost at completion", store.ErrJobLost, nil, false, outcomeLost},
		{"claim lost by the heartbeat", context.Canceled, store.ErrJobLost, true, outcomeLost},
		{"shutdown", context.Canceled, context.Canceled, true, outcomeShutdown},
		{"database fault", fault, nil, false, outcomeFault},
		{"database fault while shutting down", fault, context.Canceled, true, outcomeShutdown},
		{"failure", other, nil, false, outcomeFailed},
	} {
		if got := decide(tc.err, tc.cause, tc.shuttingDown); got.kind != tc.want {
			t.Errorf("%s: decide = %v, want %v", tc.name, got.kind, tc.want)
		}
	}
}

// TestSortedIntegerSafe: merchants at both ends of the INTEGER range sort
// as integers (a subtraction of int32s would wrap and misorder them).
func TestSortedIntegerSafe(t *testing.T) {
	d := newDailyTotals()
	for _, m := range []int32{math.MaxInt32, 1, math.MinInt32, -1, 0, math.MinInt32 + 1, math.MaxInt32 - 1} {
		for _, day := range []int32{math.MaxInt16, 0, -5} {
			d.add(store.DailyTotal{MerchantID: m, Day: day, TxnCount: 1, GrossCents: 1})
		}
	}
	var got []dayKey
	for s := range d.sorted() {
		got = append(got, dayKey{day: int32(s.Date.Unix() / 86400), merchant: s.MerchantID})
	}
	if len(got) != 21 {
		t.Fatalf("%d rows, want 21", len(got))
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.day > b.day || (a.day == b.day && a.merchant >= b.merchant) {
			t.Fatalf("rows %d and %d out of order: %+v then %+v", i-1, i, a, b)
		}
	}
	if compareKeys(dayKey{merchant: math.MinInt32}, dayKey{merchant: math.MaxInt32}) >= 0 {
		t.Fatal("MinInt32 must sort before MaxInt32")
	}
}

// TestProgressNeverGoesBack: the reported progress and processed never
// decrease, the total is never below processed, and an exact total is
// reported only with progress = 100 × processed / total.
func TestProgressNeverGoesBack(t *testing.T) {
	for _, byBlock := range []bool{true, false} {
		p := newProgress()
		p.start(batchPlan{byBlock: byBlock, sizes: evenCut(100, 10)}, store.Layout{Blocks: 100, SampledBlocks: 100, SampledRows: 10000, InRange: 5000}, 500)
		var last store.JobProgress
		check := func(r store.JobProgress) {
			t.Helper()
			if r.Percent < last.Percent || r.Processed < last.Processed || r.Total < r.Processed || r.Percent > 100 {
				t.Fatalf("byBlock=%v: %+v after %+v", byBlock, r, last)
			}
			if !r.TotalEstimated && r.Total > 0 && math.Abs(r.Percent-100*float64(r.Processed)/float64(r.Total)) > 1e-9 {
				t.Fatalf("byBlock=%v: exact total but progress %v != 100 × %d / %d", byBlock, r.Percent, r.Processed, r.Total)
			}
			last = r
		}
		check(p.report())
		for i := range 10 {
			p.planned(int64(i + 1))
			p.batchDone(int64(300+100*(i%3)), 10)
			check(p.report())
			if i == 4 {
				p.exact(4000) // exact, and lower than the estimate so far
				check(p.report())
			}
		}
		if last.Percent <= 0 {
			t.Fatalf("byBlock=%v: progress never moved", byBlock)
		}
	}
}
