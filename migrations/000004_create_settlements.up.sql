-- One row per merchant and UTC day, written by the settlement job that last
-- completed a range covering that day (unique_run_id = its job_id).
CREATE TABLE settlements (
    id            UUID      PRIMARY KEY DEFAULT gen_random_uuid(),
    merchant_id   INTEGER   NOT NULL,
    date          DATE      NOT NULL,
    gross_cents   BIGINT    NOT NULL,
    fee_cents     BIGINT    NOT NULL,
    net_cents     BIGINT    NOT NULL,
    txn_count     INTEGER   NOT NULL,
    generated_at  TIMESTAMP NOT NULL DEFAULT NOW(),
    unique_run_id UUID      NOT NULL,
    UNIQUE (merchant_id, date),
    CONSTRAINT settlements_net_check CHECK (net_cents = gross_cents - fee_cents),
    CONSTRAINT settlements_txn_count_positive CHECK (txn_count > 0)
);

-- A completing job deletes the rows of its date range that it did not produce.
CREATE INDEX settlements_date_idx ON settlements (date);
