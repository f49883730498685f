package settlement

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/ordersettle/ordersettle/domain"
	"github.com/ordersettle/ordersettle/store"
)

// Store is what the engine needs of the data layer (*store.Store): the job
// queue, the snapshot reader and a busy query.
type Store interface {
	JobQueue
	SnapshotReader
	// Busy keeps one database core busy for about n × 30 ns, reading
	// nothing: the engine's measure of the database's parallelism.
	Busy(ctx context.Context, n int64) error
}

// JobQueue is what the engine needs of the jobs table: submitting, listing,
// cancelling and retrying jobs; claiming, renewing and ending runs (each
// write guarded by the run's claim); the completion that stores a run's
// settlements and result with its COMPLETED status; and the import of
// result files of earlier versions.
type JobQueue interface {
	CreateJob(ctx context.Context, from, to time.Time, createdBy string) (domain.Job, error)
	GetJob(ctx context.Context, id uuid.UUID) (domain.Job, error)
	ListJobs(ctx context.Context, q store.JobQuery) ([]domain.Job, bool, error)
	CountJobsByStatus(ctx context.Context) (map[domain.JobStatus]int64, error)
	CancelJob(ctx context.Context, id uuid.UUID) (domain.Job, error)
	RetryJob(ctx context.Context, id uuid.UUID) (domain.Job, error)

	ClaimJob(ctx context.Context, owner string, lease time.Duration) (domain.Job, bool, error)
	ReapExpiredJobs(ctx context.Context, maxAttempts int) ([]domain.Job, error)
	Heartbeat(ctx context.Context, c store.JobClaim, p store.JobProgress, lease time.Duration) (bool, error)
	EndRun(ctx context.Context, c store.JobClaim, end store.RunEnd, errMsg string, maxAttempts int, backoff time.Duration) (domain.JobStatus, error)
	BeginCompletion(ctx context.Context, c store.JobClaim) (*store.Completion, error)
	ImportResult(ctx context.Context, id uuid.UUID, csv []byte) (bool, error)
}

// SnapshotReader is what a run needs to read the transactions: one
// consistent snapshot, aggregated batch by batch.
type SnapshotReader interface {
	OpenSnapshot(ctx context.Context) (*store.Snapshot, error)
	AggregateBatch(ctx context.Context, snapshotID string, b store.Batch, each func(store.DailyTotal)) error
}

// Config tunes an Engine. Zero values get the defaults.
type Config struct {
	// Workers is the number of goroutines aggregating batches (default 8).
	Workers int
	// BatchSize is about how many transactions one batch covers (default 10000).
	BatchSize int
	// Parallelism is how many of a job's batches run at once, at most
	// Workers. Zero (the default) measures it: how many queries the database
	// runs at once at full speed (see parallelism.go).
	Parallelism int
	// Dir is optional (SETTLEMENT_DIR): results live in the database. When
	// set, Run imports the <job_id>.csv files found there (written by
	// earlier versions) as the results of their COMPLETED jobs that have
	// none, and leaves the files in place.
	Dir string
	// Plan forces how jobs cut their range into batches; PlanAuto (the
	// default) picks per job from the table's layout.
	Plan Plan
	// MaxJobs is how many jobs this engine runs at once, sharing the workers
	// (default 2).
	MaxJobs int
	// Lease is how long a running job stays claimed without a heartbeat; after
	// it, the job is considered abandoned and is run again (default 15 s).
	Lease time.Duration
	// HeartbeatInterval is how often a running job renews its lease, persists
	// its progress and checks for a cancel from another process (default 500 ms).
	HeartbeatInterval time.Duration
	// PollInterval is how often the engine looks for queued jobs and expired
	// leases when nothing wakes it (default 1 s).
	PollInterval time.Duration
	// MaxAttempts is how many claims a job gets before it ends FAILED (default 3).
	MaxAttempts int
	// RetryBackoff delays a failed job's next attempt by RetryBackoff × attempts
	// (default 2 s).
	RetryBackoff time.Duration
	// Owner names this engine in the jobs table (default host-pid-random).
	Owner string
	// Logger receives job lifecycle logs; nil means slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultWorkers           = 8
	DefaultBatchSize         = 10000
	DefaultMaxJobs           = 2
	DefaultLease             = 15 * time.Second
	DefaultHeartbeatInterval = 500 * time.Millisecond
	DefaultPollInterval      = time.Second
	DefaultMaxAttempts       = 3
	DefaultRetryBackoff      = 2 * time.Second
)

func (c *Config) setDefaults() {
	setDefault(&c.Workers, DefaultWorkers)
	setDefault(&c.BatchSize, DefaultBatchSize)
	setDefault(&c.MaxJobs, DefaultMaxJobs)
	setDefault(&c.Lease, DefaultLease)
	setDefault(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	setDefault(&c.PollInterval, DefaultPollInterval)
	setDefault(&c.MaxAttempts, DefaultMaxAttempts)
	setDefault(&c.RetryBackoff, DefaultRetryBackoff)
	if c.Owner == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		c.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// ErrCancelled is the cause of a run's context when a user cancelled the job.
var ErrCancelled = errors.New("settlement job cancelled")

// ErrAlreadyRunning is what a second call of Engine.Run returns: an engine
// runs once.
var ErrAlreadyRunning = errors.New("settlement engine already running (Run is called once)")

// Engine runs settlement jobs. Create it with New, start it with Run.
type Engine struct {
	store Store
	cfg   Config
	log   *slog.Logger

	// wake nudges the claim loop after Submit. Written by Submit (without
	// blocking), read by Run's claim loop; capacity 1.
	wake chan struct{}
	// batches carries batches from running jobs to the workers. Written by
	// each job's feeder goroutine, read by the Workers goroutines; closed by
	// Run once every job has ended.
	batches chan batch

	metrics *metrics

	// started is set by the first Run; a later Run returns ErrAlreadyRunning.
	started atomic.Bool

	mu      sync.Mutex
	running map[uuid.UUID]*runningJob // jobs running here, by id

	par parallelism // the database's, as measured
}

// New returns an engine over st. It does nothing until Run.
func New(st Store, cfg Config) *Engine {
	cfg.setDefaults()
	return &Engine{
		store:   st,
		cfg:     cfg,
		log:     cfg.Logger.With("engine", cfg.Owner),
		wake:    make(chan struct{}, 1),
		batches: make(chan batch),
		running: map[uuid.UUID]*runningJob{},
		metrics: newMetrics(st, cfg.Logger),
	}
}

// Submit queues a job for the days from..to (both included, UTC) and wakes
// the engine. Any engine on the database may run it.
func (e *Engine) Submit(ctx context.Context, from, to time.Time) (domain.Job, error) {
	return e.SubmitBy(ctx, from, to, "")
}

// SubmitBy is Submit for a job queued by the principal createdBy (its
// Job.CreatedBy).
func (e *Engine) SubmitBy(ctx context.Context, from, to time.Time, createdBy string) (domain.Job, error) {
	if to.Before(from) {
		return domain.Job{}, fmt.Errorf("settlement range %s..%s ends before it starts", from.Format(time.DateOnly), to.Format(time.DateOnly))
	}
	j, err := e.store.CreateJob(ctx, from, to, createdBy)
	if err != nil {
		return domain.Job{}, err
	}
	e.nudge()
	return j, nil
}

// runningJobs is how many jobs run in this engine.
func (e *Engine) runningJobs() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.running)
}

// nudge wakes the claim loop without blocking.
func (e *Engine) nudge() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Get returns a job (domain.ErrJobNotFound if there is none).
func (e *Engine) Get(ctx context.Context, id uuid.UUID) (domain.Job, error) {
	return e.store.GetJob(ctx, id)
}

// List returns one page of jobs, newest first, and whether more follow (see
// store.Store.ListJobs).
func (e *Engine) List(ctx context.Context, q store.JobQuery) ([]domain.Job, bool, error) {
	return e.store.ListJobs(ctx, q)
}

// Cancel cancels a job: a QUEUED job is CANCELLED at once; a RUNNING job is
// stopped (within HeartbeatInterval when another engine runs it, at once when
// this one does) and ends CANCELLED; cancelling a CANCELLED job changes
// nothing. A COMPLETED or FAILED job gives domain.ErrJobNotCancellable.
func (e *Engine) Cancel(ctx context.Context, id uuid.UUID) (domain.Job, error) {
	j, err := e.store.CancelJob(ctx, id)
	if err != nil {
		return j, err
	}
	if j.Status == domain.JobRunning {
		e.mu.Lock()
		r := e.running[id]
		e.mu.Unlock()
		if r != nil {
			r.cancel(ErrCancelled)
		}
	}
	return j, nil
}

// Retry queues a FAILED or CANCELLED job again under the same id, as a new
// run from scratch (attempts 0, no progress, error or finish time), and
// wakes the engine; any engine on the database may run it. A QUEUED, RUNNING
// or COMPLETED job gives domain.ErrJobNotRetryable with the job as it is, an
// unknown one domain.ErrJobNotFound.
func (e *Engine) Retry(ctx context.Context, id uuid.UUID) (domain.Job, error) {
	j, err := e.store.RetryJob(ctx, id)
	if err != nil {
		return j, err
	}
	e.nudge()
	return j, nil
}

// Run starts the workers and claims and runs jobs until ctx ends. Then it
// stops claiming, stops the running jobs and hands them back (QUEUED), waits
// for the workers to drain, and returns nil. An engine runs once: a second
// Run returns ErrAlreadyRunning at once.
func (e *Engine) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	if e.cfg.Dir != "" {
		e.importFiles(ctx)
	}
	var workers sync.WaitGroup
	for range e.cfg.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			e.work()
		}()
	}

	var jobs sync.WaitGroup
	slots := make(chan struct{}, e.cfg.MaxJobs) // a slot per job running here
	e.log.Info("settlement engine started", "workers", e.cfg.Workers, "batch_size", e.cfg.BatchSize)

	ticker := time.NewTicker(e.cfg.PollInterval)
	defer ticker.Stop()
	for ctx.Err() == nil {
		e.reap(ctx)
		e.metrics.refreshJobCounts(ctx)
		// Claim while this engine has free slots and jobs are queued. Only
		// this loop fills slots, so the send below never blocks.
		for len(slots) < cap(slots) && ctx.Err() == nil {
			job, ok := e.claim(ctx)
			if !ok {
				break
			}
			slots <- struct{}{}
			jobs.Add(1)
			go func() {
				defer jobs.Done()
				e.runJob(ctx, job)
				<-slots
				e.nudge() // a slot is free: look for queued jobs now
			}()
		}
		select {
		case <-ctx.Done():
		case <-e.wake:
		case <-ticker.C:
		}
	}

	jobs.Wait()
	close(e.batches)
	workers.Wait()
	e.log.Info("settlement engine stopped")
	return nil
}

// claimTimeout bounds one claim statement.
const claimTimeout = 5 * time.Second

// claim claims one queued job, logging (not returning) database errors: the
// loop tries again at the next poll. The statement is not cancelled by a
// shutdown: a claim cancelled in flight may still commit in the database,
// leaving a RUNNING job that no run of this engine knows (until its lease
// expires). Run instead always learns of its claim, and a run that starts
// during the shutdown hands its job straight back.
func (e *Engine) claim(ctx context.Context) (domain.Job, bool) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	defer cancel()
	job, ok, err := e.store.ClaimJob(cctx, e.cfg.Owner, e.cfg.Lease)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("claiming a settlement job failed; retrying at the next poll", "err", err)
		}
		return domain.Job{}, false
	}
	return job, ok
}

// reap ends the runs of dead engines (expired leases).
func (e *Engine) reap(ctx context.Context) {
	jobs, err := e.store.ReapExpiredJobs(ctx, e.cfg.MaxAttempts)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("reaping expired settlement jobs failed", "err", err)
		}
		return
	}
	for _, j := range jobs {
		e.metrics.finished(j.Status)
		e.log.Warn("settlement job lost its engine (lease expired)", "job", j.ID, "attempts", j.Attempts, "now", j.Status)
	}
}
