-- Flink's full-stack example, as written in Flink's documentation: a socket
-- source feeding the changelog-csv format. Start a server first, e.g.
--   printf 'INSERT|Alice|12\nINSERT|Bob|5\nDELETE|Alice|12\nINSERT|Alice|18\n' | nc -lk 9999
-- then
--   weir run examples/user-scores.sql --allow-net localhost:9999
CREATE TABLE UserScores (name STRING, score INT) WITH (
  'connector' = 'socket', 'hostname' = 'localhost', 'port' = '9999',
  'byte-delimiter' = '10', 'format' = 'changelog-csv',
  'changelog-csv.column-delimiter' = '|');

SELECT * FROM UserScores;
