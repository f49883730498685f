ALTER TABLE jobs ADD COLUMN IF NOT EXISTS result_path TEXT;
-- The file name of completed jobs, relative to SETTLEMENT_DIR.
UPDATE jobs SET result_path = job_id || '.csv' WHERE status = 'COMPLETED';
