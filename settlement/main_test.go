package settlement_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/internal/dbtest"
	"github.com/ordersettle/ordersettle/internal/testkit"
	"github.com/ordersettle/ordersettle/settlement"
	"github.com/ordersettle/ordersettle/store"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		runCrashChild() // the subprocess of TestCrashRecovery
		return
	}
	dbtest.Main(m)
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// testConfig is an engine config with fast polling for tests.
func testConfig(t testing.TB, workers, batchSize int) settlement.Config {
	return settlement.Config{
		Workers:           workers,
		BatchSize:         batchSize,
		HeartbeatInterval: 50 * time.Millisecond,
		PollInterval:      50 * time.Millisecond,
		Lease:             2 * time.Second,
		RetryBackoff:      10 * time.Millisecond,
		Logger:            testkit.Quiet,
	}
}

// startEngine runs an engine until the test ends.
func startEngine(t testing.TB, st settlement.Store, cfg settlement.Config) *settlement.Engine {
	t.Helper()
	eng := settlement.New(st, cfg)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
	})
	return eng
}

// waitJob polls until the job reaches one of the final states (or want) and
// returns it.
func waitJob(t testing.TB, st *store.Store, id uuid.UUID, want ...store.JobStatus) store.Job {
	t.Helper()
	if len(want) == 0 {
		want = []store.JobStatus{store.JobCompleted, store.JobFailed, store.JobCancelled}
	}
	var j store.Job
	testkit.Eventually(t, fmt.Sprintf("job %s to be %v", id, want), 60*time.Second, func() bool {
		var err error
		if j, err = st.GetJob(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		return slices.Contains(want, j.Status)
	})
	return j
}

// txnSpec generates random transactions in [from-2 days, to+3 days) with
// skewed merchants, all four statuses and the boundary timestamps of
// [from, to] on both sides.
type txnSpec struct {
	n         int
	merchants int
	from, to  time.Time
	seed      uint64
}

func (s txnSpec) rows() []store.Transaction {
	rng := rand.New(rand.NewPCG(s.seed, 7))
	zipf := rand.NewZipf(rng, 1.3, 1, uint64(s.merchants-1))
	statuses := []string{store.TxnPaid, store.TxnPaid, store.TxnPaid, store.TxnPending, store.TxnFailed, store.TxnRefunded}
	lo := s.from.AddDate(0, 0, -2)
	span := s.to.AddDate(0, 0, 3).Sub(lo)
	end := s.to.AddDate(0, 0, 1)
	boundaries := []time.Time{
		s.from,                        // included
		end.Add(-time.Microsecond),    // included: to 23:59:59.999999
		end,                           // excluded: to+1 00:00:00
		s.from.Add(-time.Microsecond), // excluded: from-1 23:59:59.999999
		s.from.Add(12 * time.Hour),    // included
		s.from.AddDate(0, 0, 1),       // a day boundary inside the range
		s.from.AddDate(0, 0, 1).Add(-time.Microsecond),
	}
	out := make([]store.Transaction, 0, s.n+len(boundaries)*3)
	add := func(at time.Time, merchant int32, status string) {
		amount := int32(100 + rng.IntN(1_000_000))
		out = append(out, store.Transaction{
			ID: uuid.New(), MerchantID: merchant, AmountCents: amount, FeeCents: amount / 40,
			Status: status, PaidAt: at,
		})
	}
	for _, b := range boundaries {
		add(b, int32(1+rng.IntN(s.merchants)), store.TxnPaid)
		add(b, 1, store.TxnPaid) // several rows share this timestamp and merchant
		add(b, 1, store.TxnRefunded)
	}
	for range s.n {
		at := lo.Add(time.Duration(rng.Int64N(int64(span/time.Microsecond))) * time.Microsecond)
		add(at, int32(1+zipf.Uint64()), statuses[rng.IntN(len(statuses))])
	}
	// Insert out of paid_at order, as late-arriving data would be.
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// load inserts rows into st in their order (txnSpec.rows shuffles them: a
// physical order unrelated to paid_at).
func load(t testing.TB, st *store.Store, rows []store.Transaction) {
	t.Helper()
	i := 0
	next := func() (store.Transaction, bool) {
		if i == len(rows) {
			return store.Transaction{}, false
		}
		i++
		return rows[i-1], true
	}
	if _, err := st.CopyTransactions(context.Background(), next, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.AnalyzeTransactions(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// layout is a physical order of the transactions table.
type layout string

const (
	// byTime: rows stored in paid_at order, as a payment system writes them.
	byTime layout = "time"
	// shuffled: rows stored in an order unrelated to paid_at (bulk loads).
	shuffled layout = "shuffled"
	// moved: stored in paid_at order, then status updates wrote a new
	// version of a fifth of the rows elsewhere (not vacuumed afterwards).
	moved layout = "moved"
)

var layouts = []layout{byTime, shuffled, moved}

// loadAs inserts rows into st stored in layout l.
func loadAs(t testing.TB, st *store.Store, rows []store.Transaction, l layout) {
	t.Helper()
	rows = slices.Clone(rows)
	if l != shuffled {
		slices.SortStableFunc(rows, func(a, b store.Transaction) int { return a.PaidAt.Compare(b.PaidAt) })
	}
	load(t, st, rows)
	if l == moved {
		// PENDING → PAID for some, and a status round trip for others: new
		// tuple versions on other pages (COPY filled the pages), and pages
		// that are no longer all-visible.
		if _, err := st.DB().Exec(`UPDATE transactions SET status = CASE status WHEN 'PENDING' THEN 'PAID' ELSE status END
			WHERE status = 'PENDING' OR get_byte(uuid_send(id), 15) % 8 = 0`); err != nil {
			t.Fatal(err)
		}
	}
}

// referenceCSV computes the expected CSV of [from, to] with one plain SQL
// query, formatted independently of the engine's writer.
func referenceCSV(t testing.TB, st *store.Store, from, to time.Time) []byte {
	t.Helper()
	rows, err := st.DB().Query(`
		SELECT merchant_id, to_char(paid_at::date, 'YYYY-MM-DD'), sum(amount_cents), sum(fee_cents),
		       sum(amount_cents) - sum(fee_cents), count(*)
		FROM transactions
		WHERE status = 'PAID' AND paid_at >= $1 AND paid_at < $2
		GROUP BY merchant_id, paid_at::date
		ORDER BY paid_at::date, merchant_id`, from, to.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b bytes.Buffer
	b.WriteString("merchant_id,date,gross_cents,fee_cents,net_cents,txn_count\n")
	for rows.Next() {
		var m, g, f, n, c int64
		var d string
		if err := rows.Scan(&m, &d, &g, &f, &n, &c); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d,%s,%d,%d,%d,%d\n", m, d, g, f, n, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// storedCSV renders the settlements table for [from, to] in the CSV format,
// and checks every row belongs to run.
func storedCSV(t testing.TB, st *store.Store, from, to time.Time, run uuid.UUID) []byte {
	t.Helper()
	rows, err := st.SettlementsBetween(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("merchant_id,date,gross_cents,fee_cents,net_cents,txn_count\n")
	for _, r := range rows {
		if r.UniqueRunID != run {
			t.Errorf("settlement %d/%s has unique_run_id %s, want %s", r.MerchantID, r.Date.Format(time.DateOnly), r.UniqueRunID, run)
		}
		fmt.Fprintf(&b, "%d,%s,%d,%d,%d,%d\n", r.MerchantID, r.Date.Format(time.DateOnly), r.GrossCents, r.FeeCents, r.NetCents, r.TxnCount)
	}
	return b.Bytes()
}

// resultCSV is job id's stored CSV.
func resultCSV(t testing.TB, st *store.Store, id uuid.UUID) []byte {
	t.Helper()
	b, err := st.ReadResult(context.Background(), id)
	if err != nil {
		t.Fatalf("result of job %s: %v", id, err)
	}
	return b
}

// noResult fails the test when job id has a stored result.
func noResult(t testing.TB, st *store.Store, id uuid.UUID) {
	t.Helper()
	if _, err := st.GetResult(context.Background(), id); !errors.Is(err, store.ErrResultNotFound) {
		t.Errorf("job %s has a result (err %v), want none", id, err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstDiff(a, b []byte) string {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(la) && i < len(lb); i++ {
		if !bytes.Equal(la[i], lb[i]) {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("got %d lines, want %d", len(la), len(lb))
}

func mustUUID(t testing.TB, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
