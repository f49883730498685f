CREATE INDEX IF NOT EXISTS settlements_date_idx ON settlements (date);
DROP INDEX IF EXISTS settlements_date_merchant_idx;
