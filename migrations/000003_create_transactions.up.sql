-- Payment transactions to settle. paid_at holds UTC wall-clock time.
CREATE TABLE transactions (
    id           UUID        PRIMARY KEY DEFAULT gen_random_uuid(),
    merchant_id  INTEGER     NOT NULL,
    amount_cents INTEGER     NOT NULL,
    fee_cents    INTEGER     NOT NULL,
    status       VARCHAR(50) NOT NULL,
    paid_at      TIMESTAMP   NOT NULL,
    CONSTRAINT transactions_status_check CHECK (status IN ('PAID', 'PENDING', 'FAILED', 'REFUNDED')),
    CONSTRAINT transactions_amounts_non_negative CHECK (amount_cents >= 0 AND fee_cents >= 0)
);

-- Settlement jobs count, split and aggregate by paid_at ranges.
CREATE INDEX transactions_paid_at_idx ON transactions (paid_at);
