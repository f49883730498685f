package settlement_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/seed"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

// steppedStore lets one batch through per step, so that a test sees every
// batch's effect on the job's progress.
type steppedStore struct {
	*store.Store
	step chan struct{}
}

func (s *steppedStore) AggregateBatch(ctx context.Context, snapshotID string, b store.Batch, each func(store.DailyTotal)) error {
	select {
	case <-s.step:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.AggregateBatch(ctx, snapshotID, b, each)
}

// TestProgressMovesForEveryPlan: a whole-month job over a table in time
// order and shuffled, with the plan chosen (the block plan) and the index
// plan, shows at least 5 distinct progress values strictly between 0 and
// 100, never a jump of more than 30 points, processed and progress never
// decreasing, total never below processed, progress = 100 × processed /
// total whenever the total is exact, and COMPLETED with progress 100,
// processed = total, total exact. Batches land one at a time (the test
// steps them), so every step is seen, and each is written as it lands, not
// at the next heartbeat (a minute away here).
func TestProgressMovesForEveryPlan(t *testing.T) {
	t.Parallel()
	from, to := day("2025-01-01"), day("2025-01-31")
	for _, order := range []seed.Order{seed.ByTime, seed.Shuffled} {
		for _, plan := range []settlement.Plan{settlement.PlanAuto, settlement.PlanIndex} {
			t.Run(fmt.Sprintf("%s/%s", order, orAuto(plan)), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				st := dbtest.New(t)
				gen := seed.New(seed.Config{N: 60_000, From: from, To: to, Merchants: 20, Seed: 42, Order: order})
				if _, err := st.ReplaceTransactions(ctx, gen.Next, nil); err != nil {
					t.Fatal(err)
				}
				if err := st.AnalyzeTransactions(ctx); err != nil {
					t.Fatal(err)
				}
				stepped := &steppedStore{Store: st, step: make(chan struct{})}
				cfg := testConfig(t, 8, 2000) // 8 workers as by default; ~30 index batches
				cfg.Plan = plan
				// Heartbeats a minute apart: only the write as a batch
				// lands can show the steps.
				cfg.HeartbeatInterval = time.Minute
				cfg.Lease = 2 * time.Minute
				eng := startEngine(t, stepped, cfg)
				job, err := eng.Submit(ctx, from, to)
				if err != nil {
					t.Fatal(err)
				}
				waitJob(t, st, job.ID, store.JobRunning)

				var (
					last   store.Job
					values = []float64{0}
					steps  int
				)
				check := func(j store.Job) {
					t.Helper()
					if j.Progress < last.Progress || j.Processed < last.Processed || j.Total < j.Processed {
						t.Fatalf("went back: %+v after %+v", j, last)
					}
					if !j.TotalEstimated && j.Total > 0 && j.Status == store.JobRunning &&
						math.Abs(j.Progress-100*float64(j.Processed)/float64(j.Total)) > 0.01 {
						t.Fatalf("exact total, but progress %v != 100 × %d / %d", j.Progress, j.Processed, j.Total)
					}
					if j.Progress != values[len(values)-1] {
						values = append(values, j.Progress)
					}
					last = j
				}
				for {
					j, err := st.GetJob(ctx, job.ID)
					if err != nil {
						t.Fatal(err)
					}
					check(j)
					if j.Status == store.JobCompleted {
						if j.Progress != 100 || j.Processed != j.Total || j.Total != 60_000 || j.TotalEstimated {
							t.Fatalf("COMPLETED: %+v", j)
						}
						break
					}
					if j.Status != store.JobRunning {
						t.Fatalf("job ended %s", j.Status)
					}
					// Let one more batch in, then wait for the run to write
					// what it did.
					select {
					case stepped.step <- struct{}{}:
						steps++
						before := j.Processed
						deadline := time.Now().Add(5 * time.Second)
						for {
							j, _ = st.GetJob(ctx, job.ID)
							if j.Processed > before || j.Status != store.JobRunning {
								break
							}
							if time.Now().After(deadline) {
								t.Fatalf("batch %d landed but was not written within 5 s (heartbeats are a minute apart): %+v", steps, j)
							}
							time.Sleep(2 * time.Millisecond)
						}
					case <-time.After(20 * time.Millisecond): // no batch waiting: completing
					}
				}
				inside, jump := 0, 0.0
				for i, v := range values {
					if v > 0 && v < 100 {
						inside++
					}
					if i > 0 {
						jump = math.Max(jump, v-values[i-1])
					}
				}
				t.Logf("%d batches; progress seen: %v", steps, values)
				if inside < 5 || jump > 30 {
					t.Fatalf("%d values strictly between 0 and 100 (want >= 5), largest jump %.1f (want <= 30): %v", inside, jump, values)
				}
			})
		}
	}
}

func orAuto(p settlement.Plan) string {
	if p == settlement.PlanAuto {
		return "auto"
	}
	return string(p)
}
