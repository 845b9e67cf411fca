-- Vector search, as Flink's planner reads it: for each query vector, the
-- three nearest documents in a pgvector table, best first, with a score.
--
-- The documents, in PostgreSQL with pgvector (psql):
--   CREATE EXTENSION IF NOT EXISTS vector;
--   CREATE TABLE documents (id INT PRIMARY KEY, title TEXT, embedding vector(3));
--   INSERT INTO documents VALUES (1, 'BigData', '[1,1,0]'), (2, 'Streaming', '[-5,-12,-13]'), (3, 'Batch', '[5,12,13]');
-- The queries, one JSON object per line in queries/q.json:
--   {"id": 1, "keyword": "Spark", "embedding": [5, 12, 13]}
--   {"id": 2, "keyword": "Flink", "embedding": [-5, -12, -13]}
--
--   weir run examples/nearest-documents.sql --allow-read queries --allow-net 127.0.0.1:5432 --allow-stdout
-- (set the url, username and password below to your server's)
CREATE TABLE Queries (
  id        INT,
  keyword   STRING,
  embedding ARRAY<FLOAT>
) WITH ('connector' = 'filesystem', 'path' = 'queries', 'format' = 'json');

CREATE TABLE Documents (
  id        INT,
  title     STRING,
  embedding ARRAY<FLOAT>
) WITH (
  'connector' = 'jdbc',
  'url' = 'jdbc:postgresql://127.0.0.1:5432/postgres',
  'table-name' = 'documents',
  'username' = 'postgres',
  'password' = 'change-me',
  'vector-search.metric' = 'cosine'
);

SELECT Queries.keyword, d.title, d.score
FROM Queries,
  LATERAL TABLE(VECTOR_SEARCH(TABLE Documents, DESCRIPTOR(embedding), Queries.embedding, 3)) AS d;
