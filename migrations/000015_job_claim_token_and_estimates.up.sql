-- Fencing: every claim of a job gets its own token (the claim counter). Every
-- write of a running job (heartbeat, progress, completion, failure, hand-back)
-- names the token of its claim, so a run whose claim was taken over (its
-- process paused past the lease) can no longer write anything.
ALTER TABLE jobs ADD COLUMN claim_token BIGINT NOT NULL DEFAULT 0;

-- Whether total_count is an estimate (from the plan's sample) rather than the
-- range's exact row count. Exact once counted, and always for COMPLETED jobs
-- (the completion sets it).
ALTER TABLE jobs ADD COLUMN total_estimated BOOLEAN NOT NULL DEFAULT true;
UPDATE jobs SET total_estimated = false WHERE status = 'COMPLETED';
