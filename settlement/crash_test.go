package settlement_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

// crashChildEnv holds the database URL when the test binary runs as the
// engine process that TestCrashRecovery kills.
const crashChildEnv = "SETTLEMENT_CRASH_CHILD_DSN"

// runCrashChild runs an engine until the process is killed.
func runCrashChild() {
	ctx := context.Background()
	st, err := store.Open(ctx, os.Getenv(crashChildEnv), store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	eng := settlement.New(st, settlement.Config{
		Lease:             time.Second,
		HeartbeatInterval: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond, Logger: testkit.Quiet,
	})
	_ = eng.Run(ctx)
	os.Exit(0)
}

// TestCrashRecovery kills (SIGKILL) the process running a job; once its
// lease expires another engine runs the job again from scratch and it
// completes correctly, with the crash counted as an attempt. Both layouts.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	for _, l := range []layout{byTime, shuffled} {
		t.Run(string(l), func(t *testing.T) {
			t.Parallel()
			from, to := day("2025-10-01"), day("2025-10-02")
			dsn := dbtest.NewDSN(t)
			st, err := store.Open(context.Background(), dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			loadAs(t, st, txnSpec{n: 1500, merchants: 10, from: from, to: to, seed: 9}.rows(), l)
			want := referenceCSV(t, st, from, to)

			release := lockTransactions(t, st) // keeps the child's run inside SQL
			child := exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(os.Environ(), crashChildEnv+"="+dsn)
			child.Stderr = os.Stderr
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			killed := false
			t.Cleanup(func() {
				if !killed {
					_ = child.Process.Kill()
					_ = child.Wait()
				}
			})

			submitter := settlement.New(st, settlement.Config{Logger: testkit.Quiet})
			job, err := submitter.Submit(context.Background(), from, to)
			if err != nil {
				t.Fatal(err)
			}
			running := waitJob(t, st, job.ID, store.JobRunning)
			if running.Attempts != 1 {
				t.Fatalf("attempts = %d after the first claim", running.Attempts)
			}
			time.Sleep(200 * time.Millisecond)
			if err := child.Process.Kill(); err != nil { // SIGKILL: no shutdown code runs
				t.Fatal(err)
			}
			_ = child.Wait()
			killed = true
			release()

			if j, _ := st.GetJob(context.Background(), job.ID); j.Status != store.JobRunning {
				t.Fatalf("right after the crash the job is %s; it should still look RUNNING until its lease expires", j.Status)
			}
			cfg := testConfig(t, 2, 200)
			startEngine(t, st, cfg)
			j := waitJob(t, st, job.ID)
			if j.Status != store.JobCompleted || j.Attempts != 2 {
				t.Fatalf("job ended %s after %d attempts, want COMPLETED after 2", j.Status, j.Attempts)
			}
			if got := resultCSV(t, st, j.ID); !bytes.Equal(got, want) {
				t.Fatalf("CSV after recovery differs: %s", firstDiff(got, want))
			}
		})
	}
}

// TestCrashAfterLastAttemptFails: a run whose lease expires on its last
// attempt ends FAILED with a reason instead of running forever.
func TestCrashAfterLastAttemptFails(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	job, err := st.CreateJob(ctx, day("2025-01-01"), day("2025-01-01"), "")
	if err != nil {
		t.Fatal(err)
	}
	// Two claims whose engines died; then a third.
	for attempt := 1; attempt <= settlement.DefaultMaxAttempts; attempt++ {
		claimed, ok, err := st.ClaimJob(ctx, fmt.Sprintf("dead-engine-%d", attempt), time.Millisecond)
		if err != nil || !ok || claimed.ID != job.ID || claimed.Attempts != attempt {
			t.Fatalf("claim %d: %v %v %+v", attempt, ok, err, claimed)
		}
		time.Sleep(5 * time.Millisecond)
		reaped, err := st.ReapExpiredJobs(ctx, settlement.DefaultMaxAttempts)
		if err != nil || len(reaped) != 1 {
			t.Fatalf("reap %d: %v, %d jobs", attempt, err, len(reaped))
		}
		want := store.JobQueued
		if attempt == settlement.DefaultMaxAttempts {
			want = store.JobFailed
		}
		if reaped[0].Status != want {
			t.Fatalf("after attempt %d the job is %s, want %s", attempt, reaped[0].Status, want)
		}
	}
	j, _ := st.GetJob(ctx, job.ID)
	if j.Error == nil || j.FinishedAt == nil {
		t.Fatalf("FAILED job without error or finish time: %+v", j)
	}
	t.Logf("error shown: %s", *j.Error)
}
