package settlement_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

// TestLayoutTellsTheOrders: the layout sample sees time order as correlated
// and a shuffled table as not, and the share of the table in the range.
func TestLayoutTellsTheOrders(t *testing.T) {
	t.Parallel()
	from, to := day("2025-03-01"), day("2025-03-05")
	rows := txnSpec{n: 20000, merchants: 20, from: from, to: to, seed: 11}.rows()
	for _, tc := range []struct {
		l             layout
		minCorrAbs    float64
		maxCorrAbs    float64
		wantPlanBlock bool
	}{
		{byTime, 0.95, 1, false}, // half the table, in order: the index
		{shuffled, 0, 0.1, true}, // half the table, scattered: the blocks
	} {
		t.Run(string(tc.l), func(t *testing.T) {
			t.Parallel()
			st := dbtest.New(t)
			loadAs(t, st, rows, tc.l)
			snap, err := st.OpenSnapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			l, err := snap.Layout(context.Background(), from, to.AddDate(0, 0, 1), 300)
			if err != nil {
				t.Fatal(err)
			}
			if c := math.Abs(l.Correlation); c < tc.minCorrAbs || c > tc.maxCorrAbs {
				t.Errorf("correlation %.3f, want |c| in [%v, %v]", l.Correlation, tc.minCorrAbs, tc.maxCorrAbs)
			}
			// 5 of the 10 days the data spans.
			if s := l.Share(); s < 0.4 || s > 0.6 {
				t.Errorf("share %.3f, want about 0.5", s)
			}
			if l.Blocks < 50 || l.SampledBlocks != l.Blocks || l.Merchants < 10 || l.Days != 5 {
				t.Errorf("layout %+v: want the whole small table sampled, 5 days, most merchants", l)
			}
		})
	}
}

// TestImportsExistingFiles: an engine given a settlement directory stores
// the <job_id>.csv files found there as the results of their COMPLETED jobs
// that have none (files written before results lived in the database), and
// touches nothing else.
func TestImportsExistingFiles(t *testing.T) {
	t.Parallel()
	st := dbtest.New(t)
	ctx := context.Background()
	from := day("2025-02-01")
	load(t, st, txnSpec{n: 200, merchants: 3, from: from, to: from, seed: 12}.rows())

	eng := settlement.New(st, testConfig(t, 2, 100))
	ectx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(ectx) }()
	old, _ := eng.Submit(ctx, from, from)
	kept, _ := eng.Submit(ctx, from, from)
	waitJob(t, st, old.ID)
	waitJob(t, st, kept.ID)
	// Stopped, so that it cannot run the job queued below.
	stop()
	<-done
	want := resultCSV(t, st, kept.ID)
	// As if old had completed before results lived in the database.
	if _, err := st.DB().Exec(`DELETE FROM job_results WHERE job_id = $1`, old.ID); err != nil {
		t.Fatal(err)
	}
	queued, _ := st.CreateJob(ctx, from, from, "")

	dir := t.TempDir()
	files := map[uuid.UUID][]byte{
		old.ID:    []byte("from the old file\n"),
		kept.ID:   []byte("must not replace the stored result\n"),
		queued.ID: []byte("not COMPLETED: ignored\n"),
	}
	for id, b := range files {
		if err := os.WriteFile(filepath.Join(dir, id.String()+".csv"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`UPDATE jobs SET status = 'CANCELLED', finished_at = now() WHERE job_id = $1`, queued.ID); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, 1, 100)
	cfg.Dir = dir
	startEngine(t, st, cfg)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, err := st.ReadResult(ctx, old.ID); err == nil {
			if string(got) != string(files[old.ID]) {
				t.Fatalf("imported %q", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old file was not imported")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := resultCSV(t, st, kept.ID); string(got) != string(want) {
		t.Fatalf("a stored result was replaced by a file: %q", got)
	}
	noResult(t, st, queued.ID)
	if !exists(filepath.Join(dir, old.ID.String()+".csv")) {
		t.Fatal("the imported file was removed; it must stay")
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// stallingStore lets the first batches through and then blocks every batch
// until its job stops, so a job can be caught with progress made.
type stallingStore struct {
	*store.Store
	allowed atomic.Int64
}

func (s *stallingStore) AggregateBatch(ctx context.Context, snapshotID string, b store.Batch, each func(store.DailyTotal)) error {
	if s.allowed.Add(-1) < 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Store.AggregateBatch(ctx, snapshotID, b, each)
}

// TestShutdownResetsProgress: a job handed back at shutdown shows processed,
// total and progress 0 while QUEUED, and its next run starts from scratch.
func TestShutdownResetsProgress(t *testing.T) {
	t.Parallel()
	from, to := day("2025-09-10"), day("2025-09-12")
	st := dbtest.New(t)
	load(t, st, txnSpec{n: 3000, merchants: 5, from: from, to: to, seed: 13}.rows())
	cfg := testConfig(t, 2, 50)
	cfg.Plan = settlement.PlanIndex
	stalling := &stallingStore{Store: st}
	stalling.allowed.Store(5)

	eng := settlement.New(stalling, cfg)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	job, err := eng.Submit(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, _ := st.GetJob(context.Background(), job.ID)
		if j.Processed > 0 && j.Total > 0 && j.Progress > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress recorded: %+v", j)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	j, _ := st.GetJob(context.Background(), job.ID)
	if j.Status != store.JobQueued || j.Processed != 0 || j.Total != 0 || j.Progress != 0 || j.Attempts != 0 {
		t.Fatalf("handed back: %s processed %d total %d progress %v attempts %d; want QUEUED 0 0 0 0",
			j.Status, j.Processed, j.Total, j.Progress, j.Attempts)
	}
	startEngine(t, st, cfg)
	if j := waitJob(t, st, job.ID); j.Status != store.JobCompleted || j.Processed != j.Total || j.Total == 0 {
		t.Fatalf("next run: %s %d/%d", j.Status, j.Processed, j.Total)
	}
}

// TestMetricsMoveAfterAJob: the engine's collector counts the finished job,
// its rows and its duration, and reads the jobs per status from the database.
func TestMetricsMoveAfterAJob(t *testing.T) {
	t.Parallel()
	from, to := day("2025-11-01"), day("2025-11-02")
	st := dbtest.New(t)
	load(t, st, txnSpec{n: 1000, merchants: 5, from: from, to: to, seed: 14}.rows())
	eng := startEngine(t, st, testConfig(t, 2, 100))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(eng.Metrics())

	if v := metricValue(t, reg, "ordersettle_settlement_jobs_finished_total", "COMPLETED"); v != 0 {
		t.Fatalf("finished before any job: %v", v)
	}
	queued, err := st.CreateJob(context.Background(), day("2030-01-01"), day("2030-01-01"), "") // stays QUEUED: cancelled below
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CancelJob(context.Background(), queued.ID); err != nil {
		t.Fatal(err)
	}
	job, err := eng.Submit(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, st, job.ID)
	if j.Status != store.JobCompleted {
		t.Fatalf("job ended %s", j.Status)
	}
	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{"ordersettle_settlement_jobs_finished_total", "COMPLETED", 1},
		{"ordersettle_settlement_jobs_finished_total", "FAILED", 0},
		{"ordersettle_settlement_rows_processed_total", "", float64(j.Total)},
		{"ordersettle_settlement_job_duration_seconds", "", 1}, // sample count
	} {
		if got := metricValue(t, reg, c.name, c.label); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.label, got, c.want)
		}
	}

	// The jobs-per-status gauge is refreshed by the engine's loop (a scrape
	// never queries the database); the job's end wakes the loop.
	deadline := time.Now().Add(10 * time.Second)
	for {
		completed := metricValue(t, reg, "ordersettle_settlement_jobs", "COMPLETED")
		cancelled := metricValue(t, reg, "ordersettle_settlement_jobs", "CANCELLED")
		queued := metricValue(t, reg, "ordersettle_settlement_jobs", "QUEUED")
		if completed == 1 && cancelled == 1 && queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ordersettle_settlement_jobs: COMPLETED %v, CANCELLED %v, QUEUED %v; want 1, 1, 0", completed, cancelled, queued)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metricValue gathers reg and returns the value of metric name (with label
// status = label when label is not empty): a counter's or gauge's value, a
// histogram's sample count.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if label != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no metric %s{status=%q}", name, label)
	return 0
}
