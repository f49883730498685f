package settlement_test

import (
	"context"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/pgproxy"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

// TestLostCommitAnswer runs a job's completion through a proxy that cuts
// the connection as its COMMIT goes out: after PostgreSQL committed (the
// answer is lost) or before (nothing committed). Either way the engine
// reads the job back and acts on the truth: the job ends COMPLETED with its
// result and exact settlements, never COMPLETED without a result; a commit
// that did happen is kept (one attempt), one that did not is run again
// without counting the fault as an attempt.
func TestLostCommitAnswer(t *testing.T) {
	t.Parallel()
	for name, mode := range map[string]int32{"committed": pgproxy.CutAfterCommit, "not committed": pgproxy.CutBeforeCommit} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			from, to := day("2025-05-01"), day("2025-05-02")
			dsn := dbtest.NewDSN(t)
			st, err := store.Open(ctx, dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			load(t, st, txnSpec{n: 1500, merchants: 8, from: from, to: to, seed: 31}.rows())
			want := referenceCSV(t, st, from, to)

			proxy, proxied := pgproxy.NewCommitCutter(t, dsn)
			pst, err := store.Open(ctx, proxied, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = pst.Close() })
			// The engine's only COMMIT is a completion's: claims, heartbeats
			// and ends are single statements, snapshots and batches roll back.
			proxy.Arm(mode)
			eng := startEngine(t, pst, testConfig(t, 2, 200))
			job, err := eng.Submit(ctx, from, to)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-proxy.Fired():
			case <-time.After(30 * time.Second):
				t.Fatal("the completion's COMMIT never went through the proxy")
			}
			j := waitJob(t, st, job.ID)
			if j.Status != store.JobCompleted || j.Attempts != 1 || j.Processed != j.Total || j.TotalEstimated {
				t.Fatalf("job ended %s after %d attempts (%d/%d, estimated %v), want COMPLETED after 1",
					j.Status, j.Attempts, j.Processed, j.Total, j.TotalEstimated)
			}
			if got := resultCSV(t, st, job.ID); string(got) != string(want) {
				t.Fatalf("result: %s", firstDiff(got, want))
			}
			if got := storedCSV(t, st, from, to, job.ID); string(got) != string(want) {
				t.Fatalf("settlements: %s", firstDiff(got, want))
			}
		})
	}
}

var _ settlement.Store = (*store.Store)(nil)
