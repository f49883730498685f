-- A job's CSV is always <SETTLEMENT_DIR>/<job_id>.csv: the path follows from
-- the job id and the server's settings. A stored absolute path was never
-- read, and would be wrong for servers that mount shared storage elsewhere.
ALTER TABLE jobs DROP COLUMN IF EXISTS result_path;
