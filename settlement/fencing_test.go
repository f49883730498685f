package settlement_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

// pausedStore is the real store of an engine whose process is "paused":
// once paused, its heartbeats and batches wait (ignoring their contexts, as
// a stopped process would) until resume; afterwards it records what the
// job writes of the paused run answered.
type pausedStore struct {
	*store.Store
	once    sync.Once
	paused  chan struct{} // closed by resume
	claimed atomic.Bool   // a job was claimed: the loop pauses too

	mu     sync.Mutex
	fenced []error // answers of the run's writes after resume
}

func newPausedStore(st *store.Store) *pausedStore {
	return &pausedStore{Store: st, paused: make(chan struct{})}
}

func (p *pausedStore) resume() { p.once.Do(func() { close(p.paused) }) }

func (p *pausedStore) record(err error) {
	p.mu.Lock()
	p.fenced = append(p.fenced, err)
	p.mu.Unlock()
}

func (p *pausedStore) lost() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, err := range p.fenced {
		if errors.Is(err, store.ErrJobLost) {
			return true
		}
	}
	return false
}

// ClaimJob claims as usual until a job is claimed; then the engine's loop
// is paused too (it would reap and claim its own lost job again).
func (p *pausedStore) ClaimJob(ctx context.Context, owner string, lease time.Duration) (store.Job, bool, error) {
	if p.claimed.Load() {
		<-p.paused
	}
	j, ok, err := p.Store.ClaimJob(ctx, owner, lease)
	if ok {
		p.claimed.Store(true)
	}
	return j, ok, err
}

func (p *pausedStore) ReapExpiredJobs(ctx context.Context, maxAttempts int) ([]store.Job, error) {
	if p.claimed.Load() {
		<-p.paused
	}
	return p.Store.ReapExpiredJobs(ctx, maxAttempts)
}

func (p *pausedStore) Heartbeat(ctx context.Context, c store.JobClaim, pr store.JobProgress, lease time.Duration) (bool, error) {
	<-p.paused
	ok, err := p.Store.Heartbeat(ctx, c, pr, lease)
	p.record(err)
	return ok, err
}

func (p *pausedStore) AggregateBatch(ctx context.Context, snapshotID string, b store.Batch, each func(store.DailyTotal)) error {
	<-p.paused
	return p.Store.AggregateBatch(ctx, snapshotID, b, each)
}

func (p *pausedStore) BeginCompletion(ctx context.Context, c store.JobClaim) (*store.Completion, error) {
	comp, err := p.Store.BeginCompletion(ctx, c)
	p.record(err)
	return comp, err
}

func (p *pausedStore) EndRun(ctx context.Context, c store.JobClaim, end store.RunEnd, msg string, maxAttempts int, backoff time.Duration) (store.JobStatus, error) {
	status, err := p.Store.EndRun(ctx, c, end, msg, maxAttempts, backoff)
	p.record(err)
	return status, err
}

// TestFencedRunWritesNothing: an engine is paused (heartbeat and batches
// blocked) past its job's lease; new rows arrive in the range; another
// engine reaps the lost run, runs the job again and completes it; then the
// first engine resumes. Its run is fenced off: the settlements, the CSV, the
// status and attempts are the second run's.
func TestFencedRunWritesNothing(t *testing.T) {
	t.Parallel()
	for _, plan := range []settlement.Plan{settlement.PlanIndex, settlement.PlanBlocks} {
		t.Run(string(plan), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			from, to := day("2025-04-01"), day("2025-04-03")
			st := dbtest.New(t)
			load(t, st, txnSpec{n: 2000, merchants: 10, from: from, to: to, seed: 21}.rows())

			paused := newPausedStore(st)
			cfgA := testConfig(t, 2, 200)
			cfgA.Plan = plan
			cfgA.Lease = 300 * time.Millisecond
			// Both engines go by one name, as one process's engine would
			// after claiming its own lost job again: only the claim's token
			// tells the runs apart.
			cfgA.Owner = "same-owner"
			a := settlement.New(paused, cfgA)
			actx, stopA := context.WithCancel(ctx)
			var aErr error
			aDone := make(chan struct{})
			go func() { aErr = a.Run(actx); close(aDone) }()
			t.Cleanup(func() { paused.resume(); stopA(); <-aDone })

			job, err := a.Submit(ctx, from, to)
			if err != nil {
				t.Fatal(err)
			}
			first := waitJob(t, st, job.ID, store.JobRunning)
			// A is paused; its lease runs out. New rows arrive in the range.
			time.Sleep(cfgA.Lease + 200*time.Millisecond)
			load(t, st, txnSpec{n: 500, merchants: 10, from: from, to: to, seed: 22}.rows())
			want := referenceCSV(t, st, from, to)

			cfgB := testConfig(t, 2, 200)
			cfgB.Plan = plan
			cfgB.Owner = cfgA.Owner
			startEngine(t, st, cfgB)
			second := waitJob(t, st, job.ID)
			if second.Status != store.JobCompleted || second.Attempts != 2 || second.ClaimToken == first.ClaimToken {
				t.Fatalf("second run: %s after %d attempts (tokens %d, %d)", second.Status, second.Attempts, first.ClaimToken, second.ClaimToken)
			}

			paused.resume()
			deadline := time.Now().Add(10 * time.Second)
			for !paused.lost() {
				if time.Now().After(deadline) {
					t.Fatal("the resumed run never tried to write (and was never fenced)")
				}
				time.Sleep(10 * time.Millisecond)
			}
			stopA()
			<-aDone
			if aErr != nil {
				t.Fatal(aErr)
			}

			end, _ := st.GetJob(ctx, job.ID)
			if end.Status != store.JobCompleted || end.Attempts != 2 || end.ClaimToken != second.ClaimToken ||
				!end.FinishedAt.Equal(*second.FinishedAt) || end.Processed != second.Processed || end.TotalEstimated {
				t.Fatalf("after the fenced run resumed: %+v, want the second run's %+v", end, second)
			}
			if got := resultCSV(t, st, job.ID); string(got) != string(want) {
				t.Fatalf("the CSV is not the second run's (with the new rows): %s", firstDiff(got, want))
			}
			if got := storedCSV(t, st, from, to, job.ID); string(got) != string(want) {
				t.Fatalf("the settlements are not the second run's: %s", firstDiff(got, want))
			}
		})
	}
}

// TestRunTwice: an engine runs once; a second Run (while running, or after)
// returns ErrAlreadyRunning instead of closing the batch channel again.
func TestRunTwice(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	eng := settlement.New(st, testConfig(t, 1, 10))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	if err := eng.Run(ctx); !errors.Is(err, settlement.ErrAlreadyRunning) {
		t.Fatalf("second Run while running: %v", err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := eng.Run(context.Background()); !errors.Is(err, settlement.ErrAlreadyRunning) {
		t.Fatalf("Run after Run: %v", err)
	}
}

// lateClaimStore delivers the engine's claim of a job after the engine has
// begun stopping and handed the job back: the claim commits in the
// database, as a claim cancelled in flight may, and the engine hears of the
// cancel if its context carries one.
type lateClaimStore struct {
	*store.Store
	armed   atomic.Bool
	release chan struct{} // closed by the test once the job is handed back
	claimed chan struct{} // closed once the late claim is made
	once    sync.Once
}

func (s *lateClaimStore) ClaimJob(ctx context.Context, owner string, lease time.Duration) (store.Job, bool, error) {
	if !s.armed.Load() {
		return s.Store.ClaimJob(ctx, owner, lease)
	}
	var (
		j   store.Job
		ok  bool
		err = errors.New("only one late claim")
	)
	s.once.Do(func() {
		<-s.release
		j, ok, err = s.Store.ClaimJob(context.WithoutCancel(ctx), owner, lease)
		close(s.claimed)
		if err == nil && ctx.Err() != nil {
			err = ctx.Err() // committed, but the caller hears of its cancel
		}
	})
	return j, ok, err
}

// TestShutdownDuringClaim: a claim that commits while the engine stops is
// run and handed back (QUEUED, attempts 0, no progress) — never left RUNNING
// until its lease expires. (This is the race behind a flaky
// TestShutdownResetsProgress: the claim loop's statement was cancelled by
// the shutdown after PostgreSQL had committed it.)
func TestShutdownDuringClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	from, to := day("2025-09-20"), day("2025-09-20")
	st := dbtest.New(t)
	load(t, st, txnSpec{n: 300, merchants: 3, from: from, to: to, seed: 23}.rows())
	release := lockTransactions(t, st) // keeps the first run inside SQL
	late := &lateClaimStore{Store: st, release: make(chan struct{}), claimed: make(chan struct{})}
	cfg := testConfig(t, 1, 100)
	cfg.Lease = time.Minute // a job left RUNNING would stay so for the test
	eng := settlement.New(late, cfg)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(rctx) }()
	job, err := eng.Submit(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, st, job.ID, store.JobRunning)
	late.armed.Store(true) // the loop's next claim (a free slot) waits
	time.Sleep(3 * cfg.PollInterval)
	stop()
	waitJob(t, st, job.ID, store.JobQueued) // the run handed it back
	close(late.release)                     // now the waiting claim commits
	<-late.claimed
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	release()
	j, _ := st.GetJob(ctx, job.ID)
	if j.Status != store.JobQueued || j.Attempts != 0 || j.Processed != 0 || j.Total != 0 || j.Progress != 0 {
		t.Fatalf("after a claim that committed during shutdown: %s, attempts %d, %d/%d, progress %v; want QUEUED, 0, 0/0, 0",
			j.Status, j.Attempts, j.Processed, j.Total, j.Progress)
	}
}
