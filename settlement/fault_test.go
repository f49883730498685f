package settlement_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/store"
)

// faultyStore fails the first batch with a connection fault, and the first
// endFaults writes that end a run as well, as a connection reset between
// the server and PostgreSQL would.
type faultyStore struct {
	*store.Store
	batchFaults atomic.Int64
	endFaults   atomic.Int64
	ends        atomic.Int64
}

func (f *faultyStore) AggregateBatch(ctx context.Context, snapshotID string, b store.Batch, each func(store.DailyTotal)) error {
	if f.batchFaults.Add(-1) >= 0 {
		return fmt.Errorf("aggregate batch: %w: connection reset by peer", store.ErrUnavailable)
	}
	return f.Store.AggregateBatch(ctx, snapshotID, b, each)
}

func (f *faultyStore) EndRun(ctx context.Context, c store.JobClaim, end store.RunEnd, msg string, maxAttempts int, backoff time.Duration) (store.JobStatus, error) {
	f.ends.Add(1)
	if f.endFaults.Add(-1) >= 0 {
		return "", fmt.Errorf("end job run: %w: connection reset by peer", store.ErrUnavailable)
	}
	return f.Store.EndRun(ctx, c, end, msg, maxAttempts, backoff)
}

// TestFaultCostsARetryNotALease: a run broken by a connection fault, whose
// own end write also meets the fault twice, is handed back within the
// retry's backoff — not left RUNNING until its lease expires — and the
// fault does not count as an attempt: the job completes after one.
func TestFaultCostsARetryNotALease(t *testing.T) {
	t.Parallel()
	from, to := day("2025-06-10"), day("2025-06-11")
	st := dbtest.New(t)
	load(t, st, txnSpec{n: 1000, merchants: 5, from: from, to: to, seed: 41}.rows())
	want := referenceCSV(t, st, from, to)
	faulty := &faultyStore{Store: st}
	faulty.batchFaults.Store(1)
	faulty.endFaults.Store(2)
	cfg := testConfig(t, 2, 200)
	cfg.Lease = time.Minute // a job left to its lease would not finish in this test
	eng := startEngine(t, faulty, cfg)
	start := time.Now()
	job, err := eng.Submit(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var j store.Job
	for {
		j, _ = st.GetJob(context.Background(), job.ID)
		if j.Status == store.JobCompleted || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	if j.Status != store.JobCompleted || j.Attempts != 1 {
		t.Fatalf("after a fault: %s with %d attempts after %v, want COMPLETED with 1 attempt", j.Status, j.Attempts, took)
	}
	if faulty.ends.Load() != 3 {
		t.Errorf("the end of the faulted run was written %d times, want 3 (two faults, then the write)", faulty.ends.Load())
	}
	if got := resultCSV(t, st, job.ID); string(got) != string(want) {
		t.Fatalf("CSV: %s", firstDiff(got, want))
	}
	t.Logf("completed %v after the fault (lease %v)", took.Round(time.Millisecond), cfg.Lease)
}
