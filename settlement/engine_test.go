package settlement_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

// TestSettlementMatchesSQLReference checks the CSV byte for byte and the
// settlements rows against a plain SQL aggregation, on random data with
// skewed merchants, all statuses and boundary timestamps, stored in each
// layout (time order, shuffled, moved by updates), with each plan (chosen,
// or forced) and several pool and batch sizes (including a batch larger
// than the data).
func TestSettlementMatchesSQLReference(t *testing.T) {
	t.Parallel()
	from, to := day("2025-03-01"), day("2025-03-05")
	rows := txnSpec{n: 6000, merchants: 40, from: from, to: to, seed: 1}.rows()
	for _, l := range layouts {
		t.Run(string(l), func(t *testing.T) {
			t.Parallel()
			st := dbtest.New(t)
			loadAs(t, st, rows, l)
			want := referenceCSV(t, st, from, to)
			if n := bytes.Count(want, []byte("\n")); n < 100 {
				t.Fatalf("reference has only %d lines; the data is too thin to test anything", n)
			}
			for _, tc := range []struct {
				plan           settlement.Plan
				workers, batch int
			}{
				{settlement.PlanAuto, 1, 1}, {settlement.PlanAuto, 4, 999}, {settlement.PlanAuto, 16, 1_000_000},
				{settlement.PlanIndex, 1, 7}, {settlement.PlanIndex, 2, 100}, {settlement.PlanIndex, 8, 10000},
				{settlement.PlanBlocks, 1, 1}, {settlement.PlanBlocks, 3, 50}, {settlement.PlanBlocks, 16, 1},
			} {
				t.Run(fmt.Sprintf("plan=%s,workers=%d,batch=%d", tc.plan, tc.workers, tc.batch), func(t *testing.T) {
					cfg := testConfig(t, tc.workers, tc.batch)
					cfg.Plan = tc.plan
					eng := startEngine(t, st, cfg)
					job, err := eng.Submit(context.Background(), from, to)
					if err != nil {
						t.Fatal(err)
					}
					j := waitJob(t, st, job.ID)
					if j.Status != store.JobCompleted {
						t.Fatalf("job ended %s: %v", j.Status, j.Error)
					}
					got := resultCSV(t, st, j.ID)
					if !bytes.Equal(got, want) {
						t.Fatalf("CSV differs from the SQL reference: %s", firstDiff(got, want))
					}
					if stored := storedCSV(t, st, from, to, j.ID); !bytes.Equal(stored, want) {
						t.Fatalf("settlements table differs from the SQL reference: %s", firstDiff(stored, want))
					}
					var inRange int64
					if err := st.DB().Get(&inRange, `SELECT count(*) FROM transactions WHERE paid_at >= $1 AND paid_at < $2`,
						from, to.AddDate(0, 0, 1)); err != nil {
						t.Fatal(err)
					}
					if j.Total != inRange || j.Processed != inRange || j.Progress != 100 {
						t.Errorf("job total/processed/progress = %d/%d/%v, want %d/%d/100", j.Total, j.Processed, j.Progress, inRange, inRange)
					}
				})
			}
		})
	}
}

// TestRerunIsIdempotent: a second run of the same range gives the same rows
// and a byte-identical CSV, takes the rows over (unique_run_id), deletes rows
// of the range it did not produce and leaves other days alone.
func TestRerunIsIdempotent(t *testing.T) {
	t.Parallel()
	from, to := day("2025-04-10"), day("2025-04-12")
	st := dbtest.New(t)
	load(t, st, txnSpec{n: 2000, merchants: 15, from: from, to: to, seed: 2}.rows())
	eng := startEngine(t, st, testConfig(t, 4, 300))
	ctx := context.Background()

	first, _ := eng.Submit(ctx, from, to)
	j1 := waitJob(t, st, first.ID)
	// A row in the range that no transaction backs (stale), and one outside it.
	if _, err := st.DB().Exec(`INSERT INTO settlements (merchant_id, date, gross_cents, fee_cents, net_cents, txn_count, unique_run_id)
		VALUES (999, '2025-04-11', 1, 0, 1, 1, gen_random_uuid()), (999, '2025-04-20', 5, 1, 4, 1, gen_random_uuid())`); err != nil {
		t.Fatal(err)
	}
	second, _ := eng.Submit(ctx, from, to)
	j2 := waitJob(t, st, second.ID)
	if j1.Status != store.JobCompleted || j2.Status != store.JobCompleted {
		t.Fatalf("jobs ended %s and %s", j1.Status, j2.Status)
	}
	csv1, csv2 := resultCSV(t, st, j1.ID), resultCSV(t, st, j2.ID)
	if !bytes.Equal(csv1, csv2) {
		t.Fatalf("re-run CSV differs: %s", firstDiff(csv2, csv1))
	}
	if stored := storedCSV(t, st, from, to, j2.ID); !bytes.Equal(stored, csv2) {
		t.Fatalf("settlements after the re-run differ from its CSV: %s", firstDiff(stored, csv2))
	}
	var outside int
	if err := st.DB().Get(&outside, `SELECT count(*) FROM settlements WHERE merchant_id = 999 AND date = '2025-04-20'`); err != nil || outside != 1 {
		t.Errorf("the row outside the range: count %d (%v), want 1", outside, err)
	}
}

// TestEmptyRange: no transactions give a header-only CSV and progress 100.
func TestEmptyRange(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	load(t, st, txnSpec{n: 200, merchants: 5, from: day("2025-01-10"), to: day("2025-01-11"), seed: 3}.rows())
	eng := startEngine(t, st, testConfig(t, 2, 100))
	job, err := eng.Submit(context.Background(), day("2030-01-01"), day("2030-01-31"))
	if err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, st, job.ID)
	if j.Status != store.JobCompleted || j.Progress != 100 || j.Total != 0 || j.Processed != 0 {
		t.Fatalf("job = %s progress %v total %d processed %d", j.Status, j.Progress, j.Total, j.Processed)
	}
	if got := string(resultCSV(t, st, j.ID)); got != settlement.CSVHeader {
		t.Fatalf("CSV = %q, want the header only", got)
	}
}

// lockTransactions takes an ACCESS EXCLUSIVE lock on transactions in an open
// transaction, so that a job blocks inside its SQL until release.
func lockTransactions(t *testing.T, st *store.Store) (release func()) {
	t.Helper()
	tx, err := st.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`LOCK TABLE transactions IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

// TestCancelRunningStopsInFlightSQL: a job blocked inside a query is stopped
// by Cancel within 2 s, whether the cancel reaches the engine running it
// directly or through the database (from another process), and it leaves no
// CSV and no settlements.
func TestCancelRunningStopsInFlightSQL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		remote bool
		plan   settlement.Plan
	}{{false, settlement.PlanIndex}, {true, settlement.PlanIndex}, {false, settlement.PlanBlocks}, {true, settlement.PlanBlocks}} {
		remote := tc.remote
		t.Run(fmt.Sprintf("remote=%v,plan=%s", remote, tc.plan), func(t *testing.T) {
			t.Parallel()
			from, to := day("2025-05-01"), day("2025-05-02")
			st := dbtest.New(t)
			load(t, st, txnSpec{n: 500, merchants: 5, from: from, to: to, seed: 4}.rows())
			cfg := testConfig(t, 2, 50)
			cfg.Plan = tc.plan
			cfg.HeartbeatInterval = 200 * time.Millisecond
			eng := startEngine(t, st, cfg)
			release := lockTransactions(t, st)

			job, _ := eng.Submit(context.Background(), from, to)
			waitJob(t, st, job.ID, store.JobRunning)
			time.Sleep(300 * time.Millisecond) // let it block in its query

			started := time.Now()
			var (
				j   store.Job
				err error
			)
			if remote {
				j, err = st.CancelJob(context.Background(), job.ID) // as another server process would
			} else {
				j, err = eng.Cancel(context.Background(), job.ID)
			}
			if err != nil || j.Status != store.JobRunning {
				t.Fatalf("cancel: %v, status %s; want RUNNING while it winds down", err, j.Status)
			}
			end := waitJob(t, st, job.ID)
			took := time.Since(started)
			release()
			if end.Status != store.JobCancelled {
				t.Fatalf("job ended %s, want CANCELLED", end.Status)
			}
			if took > 2*time.Second {
				t.Errorf("cancel took %v, want <= 2 s", took)
			}
			noResult(t, st, job.ID)
			if n, _ := st.SettlementsBetween(context.Background(), from, to); len(n) != 0 {
				t.Errorf("a cancelled job left %d settlements", len(n))
			}
			// Cancelling again is a no-op; it stays CANCELLED.
			again, err := eng.Cancel(context.Background(), job.ID)
			if err != nil || again.Status != store.JobCancelled {
				t.Errorf("second cancel: %v, status %s", err, again.Status)
			}
		})
	}
}

// TestCancelQueuedAndFinished: a queued job is CANCELLED at once; a
// COMPLETED one cannot be cancelled.
func TestCancelQueuedAndFinished(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	// No engine runs: the job stays QUEUED.
	idle := settlement.New(st, testConfig(t, 1, 10))
	job, err := idle.Submit(ctx, day("2025-01-01"), day("2025-01-01"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := idle.Cancel(ctx, job.ID)
	if err != nil || j.Status != store.JobCancelled {
		t.Fatalf("cancel queued: %v, %s", err, j.Status)
	}
	// A cancelled job is never claimed.
	eng := startEngine(t, st, testConfig(t, 1, 10))
	done, _ := eng.Submit(ctx, day("2025-01-02"), day("2025-01-02"))
	if j := waitJob(t, st, done.ID); j.Status != store.JobCompleted {
		t.Fatalf("second job ended %s", j.Status)
	}
	if j, _ := st.GetJob(ctx, job.ID); j.Status != store.JobCancelled || j.Attempts != 0 {
		t.Errorf("cancelled job is now %s with %d attempts", j.Status, j.Attempts)
	}
	if _, err := eng.Cancel(ctx, done.ID); !errors.Is(err, store.ErrJobNotCancellable) {
		t.Errorf("cancel completed: %v, want ErrJobNotCancellable", err)
	}
}

// TestFailedJobRetriesThenFails: a job whose every attempt fails is retried
// and ends FAILED after MaxAttempts, with a reason, no settlements and no CSV.
func TestFailedJobRetriesThenFails(t *testing.T) {
	t.Parallel()
	from, to := day("2025-06-01"), day("2025-06-01")
	st := dbtest.New(t)
	load(t, st, txnSpec{n: 300, merchants: 3, from: from, to: to, seed: 5}.rows())
	cfg := testConfig(t, 2, 100)
	idle := settlement.New(st, cfg)
	job, _ := idle.Submit(context.Background(), from, to)
	// Every completion fails, with an error that is no database fault.
	startEngine(t, failingCompletions{st}, cfg)
	j := waitJob(t, st, job.ID)
	if j.Status != store.JobFailed || j.Attempts != settlement.DefaultMaxAttempts || j.Error == nil {
		t.Fatalf("job = %s after %d attempts, error %v", j.Status, j.Attempts, j.Error)
	}
	t.Logf("error shown: %s", *j.Error)
	if !strings.Contains(*j.Error, "failed unexpectedly") || strings.Contains(*j.Error, "secret") {
		t.Errorf("error %q is not the public text of an unexpected failure", *j.Error)
	}
	if rows, _ := st.SettlementsBetween(context.Background(), from, to); len(rows) != 0 {
		t.Errorf("a failed job left %d settlements", len(rows))
	}
	noResult(t, st, job.ID)
}

// failingCompletions is the real store whose completions always fail.
type failingCompletions struct{ *store.Store }

func (failingCompletions) BeginCompletion(context.Context, store.JobClaim) (*store.Completion, error) {
	return nil, errors.New("completion refused: secret details")
}

// TestProgressNeverDecreases watches a job with many batches: progress and
// processed never decrease, processed <= total, and COMPLETED has
// processed = total.
func TestProgressNeverDecreases(t *testing.T) {
	t.Parallel()
	from, to := day("2025-07-01"), day("2025-07-10")
	st := dbtest.New(t)
	load(t, st, txnSpec{n: 40000, merchants: 50, from: from, to: to, seed: 6}.rows())
	cfg := testConfig(t, 1, 200)    // ~200 batches on one worker: slow enough to watch
	cfg.Plan = settlement.PlanIndex // the block plan cuts this range into a few big batches
	cfg.HeartbeatInterval = 10 * time.Millisecond
	eng := startEngine(t, st, cfg)
	job, _ := eng.Submit(context.Background(), from, to)

	var last store.Job
	seen := map[string]bool{}
	for {
		j, err := st.GetJob(context.Background(), job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.Progress < last.Progress || j.Processed < last.Processed {
			t.Fatalf("progress went back: %v/%d after %v/%d", j.Progress, j.Processed, last.Progress, last.Processed)
		}
		if j.Processed > j.Total {
			t.Fatalf("processed %d > total %d", j.Processed, j.Total)
		}
		if j.Status == store.JobRunning && j.Processed > 0 && j.Processed < j.Total {
			seen["partial"] = true
		}
		last = j
		if j.Status != store.JobQueued && j.Status != store.JobRunning {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if last.Status != store.JobCompleted || last.Processed != last.Total || last.Progress != 100 {
		t.Fatalf("ended %s with %d/%d (%v%%)", last.Status, last.Processed, last.Total, last.Progress)
	}
	if !seen["partial"] {
		t.Errorf("never saw partial progress; the job finished between two polls")
	}
}

// TestTwoEnginesShareTheQueue: two engines on one database run N jobs; each
// job is claimed exactly once and its result is correct.
func TestTwoEnginesShareTheQueue(t *testing.T) {
	t.Parallel()
	from, to := day("2025-08-01"), day("2025-08-03")
	st := dbtest.New(t)
	load(t, st, txnSpec{n: 3000, merchants: 20, from: from, to: to, seed: 7}.rows())
	want := referenceCSV(t, st, from, to)

	counters := []*claimCounter{{Store: st}, {Store: st}}
	for _, c := range counters {
		startEngine(t, c, testConfig(t, 2, 250))
	}
	reader := settlement.New(st, settlement.Config{Logger: testkit.Quiet})

	const n = 8
	var ids []string
	for range n {
		j, err := reader.Submit(context.Background(), from, to)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID.String())
	}
	for _, id := range ids {
		j := waitJob(t, st, mustUUID(t, id))
		if j.Status != store.JobCompleted || j.Attempts != 1 {
			t.Fatalf("job %s: %s after %d attempts", id, j.Status, j.Attempts)
		}
		if got := resultCSV(t, st, j.ID); !bytes.Equal(got, want) {
			t.Fatalf("job %s CSV differs: %s", id, firstDiff(got, want))
		}
	}
	total := 0
	for i, c := range counters {
		c.mu.Lock()
		t.Logf("engine %d ran %d jobs", i, len(c.claimed))
		for id, times := range c.claimed {
			if times != 1 {
				t.Errorf("engine %d claimed job %s %d times", i, id, times)
			}
			for _, other := range counters[:i] {
				if other.claimed[id] > 0 {
					t.Errorf("job %s was claimed by two engines", id)
				}
			}
		}
		total += len(c.claimed)
		c.mu.Unlock()
	}
	if total != n {
		t.Errorf("%d claims for %d jobs", total, n)
	}
}

// claimCounter is the real store, recording which jobs its engine claimed.
type claimCounter struct {
	*store.Store
	mu      sync.Mutex
	claimed map[string]int
}

func (c *claimCounter) ClaimJob(ctx context.Context, owner string, lease time.Duration) (store.Job, bool, error) {
	j, ok, err := c.Store.ClaimJob(ctx, owner, lease)
	if ok {
		c.mu.Lock()
		if c.claimed == nil {
			c.claimed = map[string]int{}
		}
		c.claimed[j.ID.String()]++
		c.mu.Unlock()
	}
	return j, ok, err
}

// TestShutdownHandsJobsBack: an engine stopping gracefully requeues its
// running job without counting the attempt; another engine completes it.
func TestShutdownHandsJobsBack(t *testing.T) {
	t.Parallel()
	from, to := day("2025-09-01"), day("2025-09-01")
	st := dbtest.New(t)
	load(t, st, txnSpec{n: 300, merchants: 4, from: from, to: to, seed: 8}.rows())
	cfg := testConfig(t, 2, 100)
	release := lockTransactions(t, st)

	eng := settlement.New(st, cfg)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	job, _ := eng.Submit(context.Background(), from, to)
	waitJob(t, st, job.ID, store.JobRunning)
	time.Sleep(200 * time.Millisecond)
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of shutdown")
	}
	j, _ := st.GetJob(context.Background(), job.ID)
	if j.Status != store.JobQueued || j.Attempts != 0 {
		t.Fatalf("after shutdown the job is %s with %d attempts, want QUEUED with 0", j.Status, j.Attempts)
	}
	release()
	startEngine(t, st, cfg)
	if j := waitJob(t, st, job.ID); j.Status != store.JobCompleted || j.Attempts != 1 {
		t.Fatalf("job ended %s after %d attempts", j.Status, j.Attempts)
	}
}
