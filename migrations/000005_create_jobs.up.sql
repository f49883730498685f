-- Settlement jobs. This table is the truth about every job; the engine's
-- channels only feed work to the goroutines of one process.
CREATE TABLE jobs (
    job_id           UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    from_date        DATE         NOT NULL,
    to_date          DATE         NOT NULL,
    status           VARCHAR(50)  NOT NULL DEFAULT 'QUEUED',
    progress         DECIMAL(5,2) NOT NULL DEFAULT 0.00,
    processed_count  BIGINT       NOT NULL DEFAULT 0,
    total_count      BIGINT       NOT NULL DEFAULT 0,
    result_path      TEXT,
    created_at       TIMESTAMP    NOT NULL DEFAULT NOW(),
    updated_at       TIMESTAMP    NOT NULL DEFAULT NOW(),
    -- Engine bookkeeping.
    error            TEXT,                               -- last error; shown when FAILED
    attempts         INTEGER      NOT NULL DEFAULT 0,    -- claims so far
    cancel_requested BOOLEAN      NOT NULL DEFAULT FALSE,
    owner            TEXT,                               -- engine instance running it
    lease_expires_at TIMESTAMP,                          -- renewed by the owner's heartbeat
    run_after        TIMESTAMP    NOT NULL DEFAULT NOW(), -- not claimed before (retry backoff)
    started_at       TIMESTAMP,
    finished_at      TIMESTAMP,
    CONSTRAINT jobs_status_check
        CHECK (status IN ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    CONSTRAINT jobs_range_check CHECK (from_date <= to_date),
    CONSTRAINT jobs_progress_check CHECK (progress BETWEEN 0 AND 100),
    CONSTRAINT jobs_counts_check
        CHECK (processed_count >= 0 AND total_count >= 0 AND processed_count <= total_count),
    CONSTRAINT jobs_running_has_owner
        CHECK (status <> 'RUNNING' OR (owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);

-- Claiming the oldest runnable job and finding expired leases.
CREATE INDEX jobs_queued_idx ON jobs (created_at) WHERE status = 'QUEUED';
CREATE INDEX jobs_running_idx ON jobs (lease_expires_at) WHERE status = 'RUNNING';
-- Listing newest first, optionally by status.
CREATE INDEX jobs_created_at_idx ON jobs (created_at DESC, job_id DESC);
CREATE INDEX jobs_status_created_at_idx ON jobs (status, created_at DESC, job_id DESC);
