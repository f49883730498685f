-- How many settlement rows a job's completed run produced (Job.settlements in
-- the API). The completion transaction sets it together with COMPLETED; a
-- retry clears it with the rest of the run's results.
ALTER TABLE jobs ADD COLUMN settlement_count BIGINT;

-- Jobs completed before this migration: count the rows that still carry the
-- job's id. That is exact for the last job to settle each day; for an older
-- job whose days a later job settled again it counts only what is left.
UPDATE jobs SET settlement_count = (
    SELECT count(*) FROM settlements s
    WHERE s.unique_run_id = jobs.job_id AND s.date BETWEEN jobs.from_date AND jobs.to_date
) WHERE status = 'COMPLETED';

ALTER TABLE jobs
    ADD CONSTRAINT jobs_settlement_count_check CHECK (settlement_count >= 0),
    ADD CONSTRAINT jobs_completed_has_settlement_count
        CHECK (status <> 'COMPLETED' OR settlement_count IS NOT NULL);
