-- A completed job's CSV, stored in the database so that every server instance
-- serves it, written in the completion transaction together with the
-- settlements and the COMPLETED status. The bytes are split into chunks of at
-- most 1 MiB, so that a download streams them one chunk at a time.
CREATE TABLE job_results (
    job_id     UUID        PRIMARY KEY REFERENCES jobs (job_id) ON DELETE CASCADE,
    sha256     TEXT        NOT NULL,            -- hex digest of the whole CSV (strong ETag)
    size       BIGINT      NOT NULL,            -- bytes
    chunks     INTEGER     NOT NULL,
    created_at TIMESTAMP   NOT NULL DEFAULT NOW(),
    CONSTRAINT job_results_size_check CHECK (size >= 0 AND chunks >= 0)
);

CREATE TABLE job_result_chunks (
    job_id UUID    NOT NULL REFERENCES job_results (job_id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,                    -- 0, 1, …
    data   BYTEA   NOT NULL,
    PRIMARY KEY (job_id, seq)
);
-- Chunks are stored out of line without compression: a CSV compresses
-- well, but a download then reads each chunk as stored, with no work.
ALTER TABLE job_result_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- Retention purges the oldest results first.
CREATE INDEX job_results_created_at_idx ON job_results (created_at);
