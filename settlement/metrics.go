package settlement

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordersettle/ordersettle/domain"
)

// jobCountTimeout bounds the query behind ordersettle_settlement_jobs; when
// it fails the gauge keeps its last values.
const jobCountTimeout = time.Second

// metrics is the engine's Prometheus collector.
type metrics struct {
	counter func(ctx context.Context) (map[domain.JobStatus]int64, error) // jobs per status, all instances
	log     *slog.Logger

	// counts is the last answer of counter, refreshed by the engine's Run
	// loop (at every poll and whenever a job is submitted or ends), so that
	// a scrape of /metrics never waits for the database; nil until the
	// first refresh.
	mu     sync.Mutex
	counts map[domain.JobStatus]int64

	jobs          *prometheus.Desc
	finishedTotal *prometheus.CounterVec
	rowsProcessed prometheus.Counter
	duration      prometheus.Histogram
}

func newMetrics(st Store, log *slog.Logger) *metrics {
	m := &metrics{
		counter: st.CountJobsByStatus,
		log:     log,
		jobs: prometheus.NewDesc("ordersettle_settlement_jobs",
			"Settlement jobs in the database per status (all server instances), as of this engine's last poll.",
			[]string{"status"}, nil),
		finishedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ordersettle_settlement_jobs_finished_total",
			Help: "Settlement jobs this process ended, per final status (COMPLETED, FAILED, CANCELLED).",
		}, []string{"status"}),
		rowsProcessed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ordersettle_settlement_rows_processed_total",
			Help: "Transactions aggregated by settlement runs in this process (every run, finished or not).",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ordersettle_settlement_job_duration_seconds",
			Help:    "Run time of completed settlement jobs in this process, from claim to completion.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 15), // 50 ms .. ~27 min
		}),
	}
	for _, s := range []domain.JobStatus{domain.JobCompleted, domain.JobFailed, domain.JobCancelled} {
		m.finishedTotal.WithLabelValues(string(s)) // every series exists from the start, at 0
	}
	return m
}

// finished counts a job this process ended, if status is final.
func (m *metrics) finished(status domain.JobStatus) {
	if status.Final() {
		m.finishedTotal.WithLabelValues(string(status)).Inc()
	}
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.jobs
	m.finishedTotal.Describe(ch)
	m.rowsProcessed.Describe(ch)
	m.duration.Describe(ch)
}

// refreshJobCounts reads the jobs per status from the database for the
// ordersettle_settlement_jobs gauge. On failure the gauge keeps its last
// values.
func (m *metrics) refreshJobCounts(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, jobCountTimeout)
	defer cancel()
	counts, err := m.counter(ctx)
	if err != nil {
		if parent.Err() == nil { // not the engine stopping
			m.log.Warn("counting settlement jobs for /metrics failed; the gauge keeps its last values", "err", err)
		}
		return
	}
	m.mu.Lock()
	m.counts = counts
	m.mu.Unlock()
}

// Collect implements prometheus.Collector. It never touches the database.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	counts := m.counts
	m.mu.Unlock()
	if counts != nil {
		for _, s := range domain.JobStatuses() {
			ch <- prometheus.MustNewConstMetric(m.jobs, prometheus.GaugeValue, float64(counts[s]), string(s))
		}
	}
	m.finishedTotal.Collect(ch)
	m.rowsProcessed.Collect(ch)
	m.duration.Collect(ch)
}

// Metrics returns the engine's Prometheus collector; register it once:
// ordersettle_settlement_jobs{status} (gauge, jobs per status in the
// database, all instances), ordersettle_settlement_jobs_finished_total{status}
// (jobs this process ended COMPLETED, FAILED or CANCELLED),
// ordersettle_settlement_rows_processed_total and
// ordersettle_settlement_job_duration_seconds (histogram, completed jobs).
func (e *Engine) Metrics() prometheus.Collector { return e.metrics }
