-- Nearest documents by meaning, with Flink's VECTOR_SEARCH over a Chroma
-- collection: the same documents and questions as nearest-documents.sql
-- (all-MiniLM-L6-v2 embeddings in tests/data/minilm), stored in Chroma
-- through its REST API. The chroma connector speaks HTTP from inside its
-- sandbox, and only under the URL prefix the operator grants.
--
-- A Chroma server (PyPI chromadb):
--   chroma run --path /tmp/chroma --host 127.0.0.1 --port 8000
-- From the repository's root:
--   weir run examples/nearest-documents-chroma.sql --allow-read tests/data/minilm \
--     --allow-http http://127.0.0.1:8000/
-- The sink creates the collection (with the cosine distance) if it is
-- missing. tests/chroma.rs runs this file against the tests' own Chroma.

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

-- The key is the record's id, `text` its document, `topic` a metadata key.
CREATE TABLE Documents (
  id        INT,
  topic     STRING,
  text      STRING,
  embedding ARRAY<FLOAT>,
  PRIMARY KEY (id) NOT ENFORCED
) WITH (
  'connector' = 'chroma',
  'url' = 'http://127.0.0.1:8000',
  'collection' = 'minilm-documents',
  'document-column' = 'text',
  'vector-search.metric' = 'cosine'
);

-- Upserts by id: running the job again rewrites the same records.
INSERT INTO Documents SELECT * FROM DocumentFiles;

SELECT Questions.text AS question, d.text AS nearest, d.score
FROM Questions,
  LATERAL TABLE(VECTOR_SEARCH(TABLE Documents, DESCRIPTOR(embedding), Questions.embedding, 3)) AS d;
