-- GET /settlements pages through the table in (date, merchant_id) order with
-- a keyset cursor (never OFFSET), so each page reads only its own rows from
-- an index that yields them in that order:
--
--   * without merchant_id: settlements_date_merchant_idx (date, merchant_id),
--     range scan from max(from, the cursor's key) to `to`;
--   * with merchant_id: the UNIQUE (merchant_id, date) index of 000004, range
--     scan of that merchant's dates after the cursor's date.
--
-- The new index also serves what the (date) index it replaces served: a
-- completing job deleting the rows of its date range that it did not produce.
-- (GET /jobs pages are served by the jobs indexes of 000005:
-- jobs_created_at_idx without a status, jobs_status_created_at_idx with one.)
CREATE INDEX settlements_date_merchant_idx ON settlements (date, merchant_id);
DROP INDEX settlements_date_idx;
