package settlement_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ordersettle/ordersettle/gen/client"
	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/pglocal"
	"github.com/ordersettle/ordersettle/internal/seed"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

const benchRuns = 3

// benchPoll is how often the benchmarks ask whether a job has finished.
// Every 5 ms (200 requests a second, each an authenticated GET and a
// query, on the 2 cores the database also uses) slowed the job it watched
// by about a fifth; 25 ms costs little and stays far more eager than any
// real client.
const benchPoll = 25 * time.Millisecond

// benchRowsEnv sets the rows BenchmarkSettlement seeds (default 10,000,000).
const benchRowsEnv = "SETTLEMENT_BENCH_ROWS"

// BenchmarkSettlement seeds N transactions (31 days, 1000 merchants; N =
// 10,000,000, or $SETTLEMENT_BENCH_ROWS), first stored in paid_at order,
// then the same rows in an order unrelated to paid_at, and for each layout
// compares, on the same database with durability on:
//   - a settlement job through HTTP (POST /jobs/settlement until COMPLETED,
//     CSV on disk) on a server process with the default WORKERS/BATCH_SIZE;
//   - the raw-SQL floor: one INSERT … SELECT … GROUP BY … ON CONFLICT DO
//     UPDATE plus COPY (SELECT … ORDER BY …) TO STDOUT into a file (psql).
//
// It checks that the job's CSV equals the floor's, prints the progress a
// client polling every 200 ms over HTTP sees (the server configured by
// default), the server's peak RSS for a job of N/10 rows vs one of N rows,
// and a WORKERS × BATCH_SIZE sweep of the engine on the shuffled layout.
func BenchmarkSettlement(b *testing.B) {
	for range b.N {
		benchSettlement(b)
	}
}

// benchRows is the rows the settlement benchmarks seed: 10,000,000, or
// $SETTLEMENT_BENCH_ROWS.
func benchRows(b *testing.B) int64 {
	v := os.Getenv(benchRowsEnv)
	if v == "" {
		return 10_000_000
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1000 {
		b.Fatalf("%s=%q: want a row count of at least 1000", benchRowsEnv, v)
	}
	return n
}

func benchSettlement(b *testing.B) {
	ctx := context.Background()
	n := benchRows(b)
	dsn := dbtest.NewDSN(b)
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	bin := buildServer(b)
	dir := b.TempDir()
	from, to := day("2025-01-01"), day("2025-01-31")
	tenthTo := day("2025-01-03") // a job of about N/10 rows: 3 of the 31 days

	var report strings.Builder
	for _, order := range []seed.Order{seed.ByTime, seed.Shuffled} {
		t0 := time.Now()
		gen := seed.New(seed.Config{N: n, From: from, To: to, Merchants: 1000, Seed: 42, Order: order})
		if _, err := st.ReplaceTransactions(ctx, gen.Next, nil); err != nil {
			b.Fatal(err)
		}
		if err := st.AnalyzeTransactions(ctx); err != nil {
			b.Fatal(err)
		}
		seeded := time.Since(t0)

		// Floor and service, alternating, on warm caches.
		srv := startServer(b, bin, dsn, dir)
		floorCSV := filepath.Join(b.TempDir(), "floor.csv")
		floor := func() time.Duration { return runFloor(b, dsn, from, to, floorCSV) }
		floor()
		srv.settle(b, from, to)
		var floors, services []time.Duration
		var lastJob uuid.UUID
		for range benchRuns {
			floors = append(floors, floor())
			d, id := srv.settle(b, from, to)
			services = append(services, d)
			lastJob = id
		}
		// Progress as a client sees it: the same job polled every 200 ms
		// over HTTP, the server configured by default.
		seen := srv.progressSeen(b, from, to, 200*time.Millisecond)
		inside, jump := progressShape(seen)
		srv.stop(b)
		if got, want := resultCSV(b, st, lastJob), readFile(b, floorCSV); !bytes.Equal(got, want) {
			b.Fatalf("%s order: the job's CSV differs from the floor's: %s", order, firstDiff(got, want))
		}
		fMed, sMed := median(floors), median(services)
		ratio := float64(sMed) / float64(fMed)

		// Peak RSS of a fresh server per job size.
		var rss [2]int64
		var rows [2]int64
		for i, end := range []time.Time{tenthTo, to} {
			s := startServer(b, bin, dsn, dir)
			_, id := s.settle(b, from, end)
			j, _ := st.GetJob(ctx, id)
			rss[i], rows[i] = s.peakRSS(b), j.Total
			s.stop(b)
		}
		rssRatio := float64(rss[1]) / float64(rss[0])

		fmt.Fprintf(&report, "\n%s transactions stored in %s order (seeded in %v), 31 days, 1000 merchants; median of %d runs, durability on\n"+
			"  raw-SQL floor (INSERT … GROUP BY … ON CONFLICT + COPY TO file): %v  %v\n"+
			"  POST /jobs/settlement → COMPLETED over HTTP (WORKERS=8, BATCH_SIZE=10000): %v  %v\n"+
			"  ratio service / floor: %.2fx (target <= 1.30x)\n"+
			"  progress polled every 200 ms over HTTP: %d distinct values strictly between 0 and 100 (target >= 5), largest jump %.1f points (target <= 30): %v\n"+
			"  peak server RSS: %d-row job %d MiB, %d-row job %d MiB, ratio %.2fx (target <= 1.25x)\n",
			commas(n), order, seeded.Round(time.Second), benchRuns, fMed.Round(time.Millisecond), roundAll(floors),
			sMed.Round(time.Millisecond), roundAll(services), ratio, inside, jump, seen, rows[0], rss[0]>>20, rows[1], rss[1]>>20, rssRatio)
		b.ReportMetric(sMed.Seconds(), "job-s-"+string(order))
		b.ReportMetric(fMed.Seconds(), "floor-s-"+string(order))
		b.ReportMetric(ratio, "x-floor-"+string(order))
		b.ReportMetric(rssRatio, "x-rss-"+string(order))
	}

	// WORKERS × BATCH_SIZE sweep of the engine (in process, no HTTP), on the
	// shuffled layout loaded last.
	var sweep strings.Builder
	fmt.Fprintf(&sweep, "  %-8s %10s %10s %10s\n", "WORKERS", "5k", "10k", "20k")
	for _, w := range []int{2, 4, 8, 16} {
		fmt.Fprintf(&sweep, "  %-8d", w)
		for _, bs := range []int{5000, 10000, 20000} {
			fmt.Fprintf(&sweep, " %10v", engineRun(b, st, w, bs, from, to).Round(time.Millisecond))
		}
		sweep.WriteString("\n")
	}
	fmt.Printf("%sengine WORKERS × BATCH_SIZE sweep (Submit → COMPLETED, %s rows, shuffled order):\n%s",
		report.String(), commas(n), sweep.String())
}

// commas formats n with thousands separators.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// runFloor runs the raw-SQL floor with psql and returns its wall time.
func runFloor(b *testing.B, dsn string, from, to time.Time, out string) time.Duration {
	binDir, err := pglocal.FindBinaries()
	if err != nil {
		b.Fatal(err)
	}
	f, t := from.Format(time.DateOnly), to.AddDate(0, 0, 1).Format(time.DateOnly)
	upsert := fmt.Sprintf(`BEGIN;
INSERT INTO settlements (merchant_id, date, gross_cents, fee_cents, net_cents, txn_count, unique_run_id)
SELECT merchant_id, paid_at::date, sum(amount_cents), sum(fee_cents), sum(amount_cents) - sum(fee_cents), count(*), gen_random_uuid()
FROM transactions WHERE paid_at >= '%s' AND paid_at < '%s' AND status = 'PAID'
GROUP BY merchant_id, paid_at::date
ON CONFLICT (merchant_id, date) DO UPDATE SET gross_cents = EXCLUDED.gross_cents, fee_cents = EXCLUDED.fee_cents,
  net_cents = EXCLUDED.net_cents, txn_count = EXCLUDED.txn_count, unique_run_id = EXCLUDED.unique_run_id, generated_at = now();
COMMIT;`, f, t)
	copyOut := fmt.Sprintf(`\copy (SELECT merchant_id, to_char(date, 'YYYY-MM-DD') AS date, gross_cents, fee_cents, net_cents, txn_count FROM settlements WHERE date >= '%s' AND date < '%s' ORDER BY date, merchant_id) TO '%s' WITH (FORMAT csv, HEADER)`, f, t, out)
	cmd := exec.Command(filepath.Join(binDir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", upsert, "-c", copyOut, dsn)
	start := time.Now()
	if outp, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("floor: %v: %s", err, outp)
	}
	return time.Since(start)
}

// engineRun times one in-process engine run with the given pool and batch size.
func engineRun(b *testing.B, st *store.Store, workers, batchSize int, from, to time.Time) time.Duration {
	cfg := settlement.Config{Workers: workers, BatchSize: batchSize, Dir: b.TempDir(), Logger: testkit.Quiet,
		PollInterval: 10 * time.Millisecond}
	eng := settlement.New(st, cfg)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	defer func() { stop(); <-done }()
	// A first job of a day (not timed) takes the engine's measure of the
	// database's parallelism, as a server's first job does.
	if _, err := eng.Submit(context.Background(), from, from); err != nil {
		b.Fatal(err)
	}
	for {
		counts, err := st.CountJobsByStatus(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if counts[store.JobQueued]+counts[store.JobRunning] == 0 {
			break
		}
		time.Sleep(benchPoll)
	}
	start := time.Now()
	job, err := eng.Submit(context.Background(), from, to)
	if err != nil {
		b.Fatal(err)
	}
	for {
		j, err := st.GetJob(context.Background(), job.ID)
		if err != nil {
			b.Fatal(err)
		}
		if j.Status == store.JobCompleted {
			return time.Since(start)
		}
		if j.Status != store.JobQueued && j.Status != store.JobRunning {
			b.Fatalf("sweep job ended %s", j.Status)
		}
		time.Sleep(benchPoll)
	}
}

// buildServer compiles cmd/server for the benchmark.
func buildServer(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "server")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/server")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build server: %v: %s", err, out)
	}
	return bin
}

// serverProcess is cmd/server running against the benchmark's database.
type serverProcess struct {
	cmd    *exec.Cmd
	url    string
	client *client.ClientWithResponses
}

func startServer(b *testing.B, bin, dsn, dir string) *serverProcess {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn, "PORT="+strconv.Itoa(port), "SETTLEMENT_DIR="+dir,
		"MIGRATE=false", "LOG_LEVEL=warn", "WORKERS=8", "BATCH_SIZE=10000")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &serverProcess{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	b.Cleanup(func() { s.stop(b) })
	// The jobs API needs a key: made by the server binary itself, as an
	// operator would, on the benchmark's database.
	keys := exec.Command(bin, "keys", "create", "--name", "bench", "--scopes", "jobs:write,jobs:read")
	keys.Env = append(os.Environ(), "DATABASE_URL="+dsn, "MIGRATE=false", "LOG_LEVEL=warn")
	out, err := keys.Output()
	if err != nil {
		b.Fatalf("server keys create: %v", err)
	}
	token, _, _ := strings.Cut(string(out), "\n")
	s.client, err = client.NewClientWithResponses(s.url, client.WithBearerToken(token))
	if err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := http.Get(s.url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("server did not become healthy: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settle runs one job over HTTP and returns POST → COMPLETED time.
func (s *serverProcess) settle(b *testing.B, from, to time.Time) (time.Duration, uuid.UUID) {
	ctx := context.Background()
	start := time.Now()
	resp, err := s.client.CreateSettlementJobWithResponse(ctx, client.NewSettlementJob{From: dateOf(from), To: dateOf(to)})
	if err != nil || resp.JSON202 == nil {
		b.Fatalf("create job: %v %s", err, resp.Body)
	}
	id := resp.JSON202.JobID
	for {
		got, err := s.client.GetJobWithResponse(ctx, id)
		if err != nil || got.JSON200 == nil {
			b.Fatalf("get job: %v", err)
		}
		switch got.JSON200.Status {
		case client.JobCompleted:
			return time.Since(start), id
		case client.JobFailed, client.JobCancelled:
			b.Fatalf("job ended %s", got.JSON200.Status)
		}
		time.Sleep(benchPoll)
	}
}

// progressSeen runs one job over HTTP, polling it every poll, and returns
// the progress values seen (0 first, 100 last).
func (s *serverProcess) progressSeen(b *testing.B, from, to time.Time, poll time.Duration) []float64 {
	ctx := context.Background()
	resp, err := s.client.CreateSettlementJobWithResponse(ctx, client.NewSettlementJob{From: dateOf(from), To: dateOf(to)})
	if err != nil || resp.JSON202 == nil {
		b.Fatalf("create job: %v %s", err, resp.Body)
	}
	values := []float64{0}
	for {
		got, err := s.client.GetJobWithResponse(ctx, resp.JSON202.JobID)
		if err != nil || got.JSON200 == nil {
			b.Fatalf("get job: %v", err)
		}
		j := got.JSON200
		if float64(j.Progress) != values[len(values)-1] {
			values = append(values, float64(j.Progress))
		}
		switch j.Status {
		case client.JobCompleted:
			return values
		case client.JobFailed, client.JobCancelled:
			b.Fatalf("job ended %s", j.Status)
		}
		time.Sleep(poll)
	}
}

// peakRSS reads the process's high-water resident set (VmHWM).
func (s *serverProcess) peakRSS(b *testing.B) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
}

func (s *serverProcess) stop(b *testing.B) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	_ = s.cmd.Wait()
}

func dateOf(t time.Time) openapi_types.Date { return openapi_types.Date{Time: t} }

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// BenchmarkSettlementProgress seeds N transactions (as BenchmarkSettlement:
// 31 days, 1000 merchants; N = 10,000,000 or $SETTLEMENT_BENCH_ROWS) in
// time order, then shuffled, and for each runs the whole-month job in
// process, alternating the plan as it cuts batches now (enough for progress
// to move, as many batches at once as the database runs at full speed) and
// as it did before (SetProgressSteps(0): 11 batches, all the workers at
// once), polling the job every 200 ms. It reports the progress values seen
// strictly between 0 and 100, the largest jump (the worst of the runs), and
// the cost ratio now / before (medians of progressRuns each).
func BenchmarkSettlementProgress(b *testing.B) {
	ctx := context.Background()
	n := benchRows(b)
	st, err := store.Open(ctx, dbtest.NewDSN(b), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	from, to := day("2025-01-01"), day("2025-01-31")
	for range b.N {
		for _, order := range []seed.Order{seed.ByTime, seed.Shuffled} {
			gen := seed.New(seed.Config{N: n, From: from, To: to, Merchants: 1000, Seed: 42, Order: order})
			if _, err := st.ReplaceTransactions(ctx, gen.Next, nil); err != nil {
				b.Fatal(err)
			}
			if err := st.AnalyzeTransactions(ctx); err != nil {
				b.Fatal(err)
			}
			// One engine for the layout: its first job (not timed) measures
			// the database's parallelism, kept for the runs that follow.
			eng, stop := startProgressEngine(st)
			progressRun(b, st, eng, from, to, 200*time.Millisecond)
			var now, before []time.Duration
			var shapes []string
			inside, jump := math.MaxInt, 0.0
			for range progressRuns {
				d, values := progressRun(b, st, eng, from, to, 200*time.Millisecond)
				now = append(now, d)
				in, j := progressShape(values)
				inside, jump = min(inside, in), math.Max(jump, j)
				shapes = append(shapes, fmt.Sprint(values))
				restore := settlement.SetProgressSteps(0)
				d, _ = progressRun(b, st, eng, from, to, 200*time.Millisecond)
				restore()
				before = append(before, d)
			}
			stop()
			ratio := float64(median(now)) / float64(median(before))
			fmt.Printf("%s rows, %s order: job %v %v (before %v %v, ratio %.3fx, target <= 1.05x); "+
				"polled every 200 ms, worst of %d runs: %d distinct values strictly between 0 and 100 (target >= 5), largest jump %.1f points (target <= 30):\n  %s\n",
				commas(n), order, median(now).Round(time.Millisecond), roundAll(now), median(before).Round(time.Millisecond), roundAll(before), ratio,
				progressRuns, inside, jump, strings.Join(shapes, "\n  "))
			b.ReportMetric(ratio, "x-before-"+string(order))
			b.ReportMetric(float64(inside), "values-"+string(order))
			b.ReportMetric(jump, "max-jump-"+string(order))
		}
	}
}

// progressRuns is how many times BenchmarkSettlementProgress runs each plan
// per layout.
const progressRuns = 5

// startProgressEngine runs an engine with the default configuration (but
// quick polls and heartbeats) for progressRun, until stop.
func startProgressEngine(st *store.Store) (eng *settlement.Engine, stop func()) {
	cfg := settlement.Config{Logger: slog.New(onlyParallelism{slog.NewTextHandler(os.Stdout, nil)}),
		PollInterval: 10 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond}
	eng = settlement.New(st, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	return eng, func() { cancel(); <-done }
}

// onlyParallelism passes on the engine's record of its measure of the
// database's parallelism, and nothing else.
type onlyParallelism struct{ slog.Handler }

func (h onlyParallelism) Handle(ctx context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "parallelism") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h onlyParallelism) WithAttrs(as []slog.Attr) slog.Handler {
	return onlyParallelism{h.Handler.WithAttrs(as)}
}

// progressRun runs one whole-range job on eng, polling it every poll, and
// returns its time (created to finished, as the database recorded them)
// and the progress values seen (0 first, 100 last).
func progressRun(tb testing.TB, st *store.Store, eng *settlement.Engine, from, to time.Time, poll time.Duration) (time.Duration, []float64) {
	job, err := eng.Submit(context.Background(), from, to)
	if err != nil {
		tb.Fatal(err)
	}
	values := []float64{0}
	var last store.Job
	for {
		j, err := st.GetJob(context.Background(), job.ID)
		if err != nil {
			tb.Fatal(err)
		}
		if j.Progress < last.Progress || j.Processed < last.Processed || j.Processed > j.Total ||
			(!j.TotalEstimated && j.Total > 0 && j.Status == store.JobRunning && math.Abs(j.Progress-math.Round(10000*float64(j.Processed)/float64(j.Total))/100) > 0.011) {
			tb.Fatalf("progress broke an invariant: %+v after %+v", j, last)
		}
		last = j
		if j.Progress != values[len(values)-1] {
			values = append(values, j.Progress)
		}
		switch j.Status {
		case store.JobCompleted:
			if j.Processed != j.Total || j.Progress != 100 || j.TotalEstimated || j.FinishedAt == nil {
				tb.Fatalf("COMPLETED job: %+v", j)
			}
			return j.FinishedAt.Sub(j.CreatedAt), values
		case store.JobQueued, store.JobRunning:
		default:
			tb.Fatalf("job ended %s", j.Status)
		}
		time.Sleep(poll)
	}
}

// progressShape counts the distinct values strictly between 0 and 100 and
// finds the largest step between consecutive values.
func progressShape(values []float64) (inside int, jump float64) {
	for i, v := range values {
		if v > 0 && v < 100 {
			inside++
		}
		if i > 0 {
			jump = math.Max(jump, v-values[i-1])
		}
	}
	return inside, jump
}
