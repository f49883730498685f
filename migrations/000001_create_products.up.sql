-- Products with limited stock. The CHECK is the last line of defence against
-- overselling: the order statement's guarded UPDATE never lets stock go below 0.
CREATE TABLE products (
    id          SERIAL PRIMARY KEY,
    name        VARCHAR(255) NOT NULL,
    stock       INTEGER      NOT NULL DEFAULT 0,
    price_cents INTEGER      NOT NULL,
    created_at  TIMESTAMP    NOT NULL DEFAULT NOW(),
    CONSTRAINT products_stock_non_negative CHECK (stock >= 0),
    CONSTRAINT products_price_non_negative CHECK (price_cents >= 0)
);
