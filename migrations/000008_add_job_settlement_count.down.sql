ALTER TABLE jobs DROP COLUMN IF EXISTS settlement_count;
