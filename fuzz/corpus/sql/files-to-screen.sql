-- Step 2 of the demo: read the JSON files back, convert them to CSV files,
-- and print the large orders the way Flink's print sink does.
--   weir run examples/files-to-screen.sql --allow-read demo --allow-write demo --allow-stdout
SET 'execution.checkpointing.interval' = '1 s';

CREATE TABLE OrderFiles (
  order_id BIGINT NOT NULL, customer STRING, amount DECIMAL(10, 2), placed TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'demo/orders-json', 'format' = 'json');

CREATE TABLE OrderCsv (
  order_id BIGINT NOT NULL, customer STRING, amount DECIMAL(10, 2), placed TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = 'demo/orders-csv', 'format' = 'csv', 'csv.null-literal' = '\N');

CREATE TABLE Screen (order_id BIGINT NOT NULL, customer STRING, amount DECIMAL(10, 2))
WITH ('connector' = 'print', 'print-identifier' = 'big-orders');

INSERT INTO OrderCsv SELECT * FROM OrderFiles;

EXPLAIN INSERT INTO Screen SELECT order_id, customer, amount FROM OrderCsv WHERE amount > 999.5 LIMIT 5;
INSERT INTO Screen SELECT order_id, customer, amount FROM OrderCsv WHERE amount > 999.5 LIMIT 5;
