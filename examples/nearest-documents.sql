-- Nearest documents by meaning, with Flink's VECTOR_SEARCH over pgvector.
-- 240 short documents and 24 questions, embedded by a real model
-- (all-MiniLM-L6-v2, 384 dimensions; tests/data/minilm, written by
-- scripts/embed-test-data). The job writes the documents into a pgvector
-- table through the jdbc sink, then prints each question's three nearest
-- documents, best first, with their cosine similarity.
--
-- The table, in PostgreSQL with pgvector (psql):
--   CREATE EXTENSION IF NOT EXISTS vector;
--   CREATE TABLE documents (id INT PRIMARY KEY, topic TEXT, text TEXT, embedding vector(384));
--   CREATE INDEX ON documents USING hnsw (embedding vector_cosine_ops);  -- optional: approximate, faster
--
-- From the repository's root (set the url, username and password below to
-- your server's):
--   weir run examples/nearest-documents.sql --allow-read tests/data/minilm --allow-net 127.0.0.1:5432
-- tests/postgres.rs runs this file against the tests' own PostgreSQL.

CREATE TABLE DocumentFiles (
  id        INT,
  topic     STRING,
  text      STRING,
  embedding ARRAY<FLOAT>
) WITH ('connector' = 'filesystem', 'path' = 'tests/data/minilm/documents.csv', 'format' = 'csv');

CREATE TABLE Questions (
  id        INT,
  topic     STRING,
  text      STRING,
  embedding ARRAY<FLOAT>
) WITH ('connector' = 'filesystem', 'path' = 'tests/data/minilm/queries.csv', 'format' = 'csv');

CREATE TABLE Documents (
  id        INT,
  topic     STRING,
  text      STRING,
  embedding ARRAY<FLOAT>,
  PRIMARY KEY (id) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = 'jdbc:postgresql://127.0.0.1:5432/postgres',
  'table-name' = 'documents',
  'username' = 'postgres',
  'password' = 'change-me',
  'vector-search.metric' = 'cosine'
);

-- Upserts by id: running the job again rewrites the same rows.
INSERT INTO Documents SELECT * FROM DocumentFiles;

SELECT Questions.text AS question, d.text AS nearest, d.score
FROM Questions,
  LATERAL TABLE(VECTOR_SEARCH(TABLE Documents, DESCRIPTOR(embedding), Questions.embedding, 3)) AS d;
