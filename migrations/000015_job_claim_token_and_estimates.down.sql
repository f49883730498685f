ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_completed_total_exact;
ALTER TABLE jobs DROP COLUMN IF EXISTS total_estimated;
ALTER TABLE jobs DROP COLUMN IF EXISTS claim_token;
