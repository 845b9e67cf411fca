-- A lookup join, as Flink writes it: generated orders enriched with their
-- customer from PostgreSQL (or MySQL/MariaDB: change the url), looked up as
-- each batch of orders is processed, with a partial cache.
--
-- The customers table, in PostgreSQL (psql):
--   CREATE TABLE customers (id INT PRIMARY KEY, name TEXT, country TEXT);
--   INSERT INTO customers SELECT i, 'customer ' || i, 'c' || (i % 20) FROM generate_series(1, 1000) i;
--
--   weir run examples/enrich-orders.sql --allow-net 127.0.0.1:5432 --allow-stdout
-- (set the url, username and password below to your server's)
CREATE TABLE Orders (
  order_id    BIGINT,
  customer_id INT,
  amount      DECIMAL(10, 2),
  proc_time AS PROCTIME()
) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '20',
  'fields.order_id.kind' = 'sequence', 'fields.order_id.start' = '1', 'fields.order_id.end' = '20',
  'fields.customer_id.min' = '1', 'fields.customer_id.max' = '1200',
  'fields.amount.min' = '1', 'fields.amount.max' = '500'
);

CREATE TABLE Customers (
  id      INT,
  name    STRING,
  country STRING
) WITH (
  'connector' = 'jdbc',
  'url' = 'jdbc:postgresql://127.0.0.1:5432/postgres',
  'table-name' = 'customers',
  'username' = 'postgres',
  'password' = 'change-me',
  'lookup.cache' = 'PARTIAL',
  'lookup.partial-cache.max-rows' = '10000',
  'lookup.partial-cache.expire-after-write' = '10 min'
);

CREATE TABLE Enriched (
  order_id BIGINT,
  amount   DECIMAL(10, 2),
  name     STRING,
  country  STRING
) WITH ('connector' = 'print');

-- Orders of customers 1001..1200 (not in the table) keep their row, with nulls.
INSERT INTO Enriched
SELECT o.order_id, o.amount, c.name, c.country
FROM Orders AS o
  LEFT JOIN Customers FOR SYSTEM_TIME AS OF o.proc_time AS c ON o.customer_id = c.id;
