-- Orders. total_amount_cents is BIGINT: quantity (<= 10000) x price_cents
-- (<= 2^31-1) overflows INTEGER.
CREATE TABLE orders (
    id                 UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    product_id         INTEGER      NOT NULL REFERENCES products (id),
    buyer_id           VARCHAR(255) NOT NULL,
    quantity           INTEGER      NOT NULL,
    total_amount_cents BIGINT       NOT NULL,
    status             VARCHAR(50)  NOT NULL DEFAULT 'pending',
    created_at         TIMESTAMP    NOT NULL DEFAULT NOW(),
    CONSTRAINT orders_quantity_positive CHECK (quantity > 0),
    CONSTRAINT orders_total_non_negative CHECK (total_amount_cents >= 0),
    CONSTRAINT orders_status_check CHECK (status IN ('pending', 'completed', 'cancelled'))
);

CREATE INDEX orders_product_id_idx ON orders (product_id);
