-- Step 1 of the demo: generate orders and write them as JSON files.
--   weir run examples/orders-to-files.sql --allow-write demo
CREATE TABLE GeneratedOrders (
  order_id BIGINT NOT NULL,
  customer STRING,
  amount   DECIMAL(10, 2),
  placed   TIMESTAMP(3)
) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '100000',
  'rows-per-second' = '1000000',
  'fields.order_id.kind' = 'sequence', 'fields.order_id.start' = '1', 'fields.order_id.end' = '100000',
  'fields.customer.length' = '8', 'fields.customer.null-rate' = '0.05',
  'fields.amount.min' = '1', 'fields.amount.max' = '1000',
  'fields.placed.max-past' = '7 d',
  'seed' = '2026'
);

CREATE TABLE OrderFiles (
  order_id BIGINT NOT NULL,
  customer STRING,
  amount   DECIMAL(10, 2),
  placed   TIMESTAMP(3)
) WITH (
  'connector' = 'filesystem',
  'path' = 'demo/orders-json',
  'format' = 'json',
  'sink.rolling-policy.file-size' = '1 mb'
);

INSERT INTO OrderFiles SELECT * FROM GeneratedOrders;
