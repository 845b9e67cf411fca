//! The `chroma` connector against a real Chroma server (PyPI `chromadb`,
//! started by the tests on a free loopback port), over `wasi:http` under an
//! `--allow-http` grant. The data are real embeddings: 240 short documents
//! and 24 queries embedded by all-MiniLM-L6-v2 (`tests/data/minilm`, written
//! by `scripts/embed-test-data`). Results are checked with Chroma's own
//! Python client and an exact search computed here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use weir::policy::Grants;
use weir_pipeline as pipeline;
use weir_tests::peers::chroma;
use weir_tests::runtime;

/// `tests/data/minilm`.
fn data() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/minilm"))
}

/// One line of `documents.csv` / `queries.csv`.
struct Embedded {
    id: usize,
    topic: String,
    text: String,
    vector: Vec<f32>,
}

fn load(name: &str) -> Vec<Embedded> {
    std::fs::read_to_string(data().join(name))
        .expect("read the embeddings")
        .lines()
        .map(|line| {
            let mut parts = line.splitn(4, ',');
            let mut next = || parts.next().expect("four fields").to_owned();
            let (id, topic, text, vector) = (next(), next(), next(), next());
            Embedded {
                id: id.parse().expect("id"),
                topic,
                text,
                vector: vector.split(';').map(|v| v.parse().expect("element")).collect(),
            }
        })
        .collect()
}

fn grants(dirs: &[PathBuf]) -> Grants {
    Grants { read: dirs.to_vec(), http: vec![format!("{}/", chroma().url())], ..Grants::none() }
}

/// The chroma table `name` on `collection`, with `extra` options.
fn table(name: &str, collection: &str, extra: &str) -> String {
    format!(
        "CREATE TABLE {name} (id INT, topic STRING, text STRING, embedding ARRAY<FLOAT>, PRIMARY KEY (id) NOT ENFORCED)
           WITH ('connector' = 'chroma', 'url' = '{}', 'collection' = '{collection}', 'document-column' = 'text'{extra});",
        chroma().url()
    )
}

async fn run_with(sql: &str, grants: &Grants) -> weir::Result<String> {
    let runtime = runtime().await;
    let job = weir_sql::parse("chroma.sql", sql).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    pipeline::run(&runtime, &job, grants, &pipeline::RunConfig::default(), &mut out).await?;
    Ok(String::from_utf8(out).expect("UTF-8"))
}

async fn run(sql: &str) -> weir::Result<String> {
    run_with(sql, &grants(&[data()])).await
}

/// Loads `documents.csv` into `collection` through the sink (created with
/// `metric`'s distance).
async fn load_collection(collection: &str, metric: &str) {
    chroma().client("drop", collection);
    let sql = format!(
        "CREATE TABLE Docs (id INT, topic STRING, text STRING, embedding ARRAY<FLOAT>) WITH ('connector' = 'filesystem',
           'path' = '{}', 'format' = 'csv');
         {}
         INSERT INTO Store SELECT * FROM Docs;",
        data().join("documents.csv").display(),
        table("Store", collection, &format!(", 'vector-search.metric' = '{metric}', 'sink.buffer-flush.max-rows' = '64'"))
    );
    run(&sql).await.unwrap_or_else(|e| panic!("loading {collection}: {e}"));
}

/// Chroma's records of `collection` as its own client reads them, by id.
fn records(collection: &str) -> BTreeMap<usize, serde_json::Value> {
    chroma()
        .client("get", collection)
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).expect("JSON");
            (record["id"].as_str().expect("id").parse().expect("numeric id"), record)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sink_writes_real_embeddings_that_chromas_own_client_reads_back() {
    // l2: Chroma keeps the vectors as sent (a cosine collection stores
    // them normalised, a last-bit difference for these already unit-length
    // vectors), so they must come back bit for bit.
    load_collection("minilm-sink", "l2").await;
    let docs = load("documents.csv");
    let stored = records("minilm-sink");
    assert_eq!(stored.len(), docs.len(), "every document stored once");
    for doc in &docs {
        let record = &stored[&doc.id];
        assert_eq!(record["document"], doc.text.as_str(), "document {}", doc.id);
        assert_eq!(record["metadata"], serde_json::json!({ "topic": doc.topic }), "metadata {}", doc.id);
        let embedding: Vec<f32> =
            record["embedding"].as_array().expect("embedding").iter().map(|v| v.as_f64().expect("f") as f32).collect();
        assert_eq!(embedding, doc.vector, "embedding {}", doc.id);
    }
    // The scan reads the same collection back.
    let out = run(&format!("{}\nSELECT id, topic, text FROM Store;", table("Store", "minilm-sink", "")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut got: Vec<String> = out.lines().map(str::to_owned).collect();
    got.sort();
    let mut want: Vec<String> = docs.iter().map(|d| format!("+I[{}, {}, {}]", d.id, d.topic, d.text)).collect();
    want.sort();
    assert_eq!(got, want);

    // A CDC stream (debezium-json): an update, a delete and an insert
    // arrive as upserts and a delete by id.
    let dir = std::env::temp_dir().join(format!("weir-chroma-cdc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let row = |id: usize, topic: &str, text: &str, v: &[f32]| {
        format!(
            "{{\"id\": {id}, \"topic\": \"{topic}\", \"text\": \"{text}\", \"embedding\": [{}]}}",
            v.iter().map(f32::to_string).collect::<Vec<_>>().join(", ")
        )
    };
    let (one, three) = (&docs[0], &docs[2]);
    let changes = [
        format!(
            "{{\"before\": {}, \"after\": {}, \"op\": \"u\"}}",
            row(1, &one.topic, &one.text, &one.vector),
            row(1, "changed", "The first document, rewritten.", &docs[1].vector)
        ),
        format!("{{\"before\": {}, \"after\": null, \"op\": \"d\"}}", row(3, &three.topic, &three.text, &three.vector)),
        format!(
            "{{\"before\": null, \"after\": {}, \"op\": \"c\"}}",
            row(1001, "new", "A new document.", &docs[5].vector)
        ),
    ];
    std::fs::write(dir.join("changes.json"), changes.join("\n") + "\n").expect("write");
    let sql = format!(
        "CREATE TABLE Changes (id INT, topic STRING, text STRING, embedding ARRAY<FLOAT>) WITH ('connector' = 'filesystem',
           'path' = '{}', 'format' = 'debezium-json');
         {}
         INSERT INTO Store SELECT * FROM Changes;",
        dir.join("changes.json").display(),
        table("Store", "minilm-sink", "")
    );
    run_with(&sql, &grants(std::slice::from_ref(&dir))).await.unwrap_or_else(|e| panic!("{e}"));
    let stored = records("minilm-sink");
    assert_eq!(stored.len(), docs.len(), "one updated, one deleted, one inserted");
    assert!(!stored.contains_key(&3), "document 3 deleted");
    assert_eq!(stored[&1]["document"], "The first document, rewritten.");
    assert_eq!(stored[&1]["metadata"], serde_json::json!({ "topic": "changed" }));
    assert_eq!(stored[&1001]["document"], "A new document.");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Exact scores of every document for `query`: cosine similarity or
/// Euclidean distance, computed here in f64.
fn exact(docs: &[Embedded], query: &[f32], cosine: bool) -> Vec<(usize, f64)> {
    let mut scored: Vec<(usize, f64)> = docs
        .iter()
        .map(|d| {
            let dot: f64 = d.vector.iter().zip(query).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
            let norm = |v: &[f32]| v.iter().map(|a| f64::from(*a).powi(2)).sum::<f64>().sqrt();
            let l2 = d.vector.iter().zip(query).map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2)).sum::<f64>();
            (d.id, if cosine { dot / (norm(&d.vector) * norm(query)) } else { l2.sqrt() })
        })
        .collect();
    scored.sort_by(|a, b| if cosine { b.1.total_cmp(&a.1) } else { a.1.total_cmp(&b.1) });
    scored
}

/// VECTOR_SEARCH over Chroma: for cosine and l2 and k = 1, 5, 20, each
/// query's results are the exact top-k (ids and order — a position may
/// only hold another id when the two exact scores tie within 1e-5), with
/// scores within 1e-5 of the exact ones; recall@10 is reported (Chroma's
/// index is HNSW) and at least 0.95.
#[tokio::test(flavor = "multi_thread")]
async fn vector_search_over_chroma_finds_the_nearest_documents() {
    let docs = load("documents.csv");
    let queries = load("queries.csv");
    let select = "SELECT Queries.id, d.id, d.score FROM Queries,
        LATERAL TABLE(VECTOR_SEARCH(TABLE Store, DESCRIPTOR(embedding), Queries.embedding, {k})) AS d;";
    let queries_table = format!(
        "CREATE TABLE Queries (id INT, topic STRING, text STRING, embedding ARRAY<FLOAT>) WITH (
           'connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');",
        data().join("queries.csv").display()
    );
    for (metric, cosine) in [("cosine", true), ("l2", false)] {
        let collection = format!("minilm-{metric}");
        load_collection(&collection, metric).await;
        let mut hits = 0;
        for k in [1, 5, 20] {
            let sql = format!(
                "{queries_table}\n{}\n{}",
                table("Store", &collection, ""),
                select.replace("{k}", &k.to_string())
            );
            let out = run(&sql).await.unwrap_or_else(|e| panic!("{metric} k={k}: {e}"));
            let mut found: BTreeMap<usize, Vec<(usize, f64)>> = BTreeMap::new();
            for line in out.lines() {
                let f: Vec<&str> = line.trim_start_matches("+I[").trim_end_matches(']').split(", ").collect();
                found
                    .entry(f[0].parse().expect("qid"))
                    .or_default()
                    .push((f[1].parse().expect("id"), f[2].parse().expect("score")));
            }
            assert_eq!(found.len(), queries.len(), "{metric} k={k}: every query answered");
            for (qid, rows) in &found {
                let all = exact(&docs, &queries[qid - 1].vector, cosine);
                let score_of: BTreeMap<usize, f64> = all.iter().copied().collect();
                assert_eq!(rows.len(), k, "{metric} k={k} query {qid}");
                for (i, (id, score)) in rows.iter().enumerate() {
                    let (want_id, want_score) = all[i];
                    assert!(
                        (score - want_score).abs() < 1e-5,
                        "{metric} k={k} query {qid} #{i}: {score} vs {want_score}"
                    );
                    assert!((score - score_of[id]).abs() < 1e-5, "{metric} k={k} query {qid}: {id}'s score {score}");
                    assert!(
                        *id == want_id || (score_of[id] - want_score).abs() < 1e-5,
                        "{metric} k={k} query {qid} #{i}: {id} instead of {want_id}"
                    );
                }
                if k == 20 {
                    let top10: Vec<usize> = all[..10].iter().map(|r| r.0).collect();
                    hits += rows[..10].iter().filter(|r| top10.contains(&r.0)).count();
                }
            }
        }
        let recall = hits as f64 / (10 * queries.len()) as f64;
        eprintln!("chroma {metric}: recall@10 over {} queries of {} documents: {recall:.3}", queries.len(), docs.len());
        assert!(recall >= 0.95, "{metric} recall@10 {recall}");
    }
    // The nearest document is on the query's subject (the model works).
    let sql = format!(
        "{queries_table}\n{}\n{}",
        table("Store", "minilm-cosine", ""),
        "SELECT Queries.text, d.text FROM Queries, LATERAL TABLE(VECTOR_SEARCH(TABLE Store, DESCRIPTOR(embedding), Queries.embedding, 1)) AS d;"
    );
    let out = run(&sql).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(out.contains("+I[live jazz concert, The jazz pianist"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_and_an_unreachable_or_ungranted_store_are_named() {
    load_collection("minilm-errors", "cosine").await;
    let dir = std::env::temp_dir().join(format!("weir-chroma-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let queries = |line: &str| {
        std::fs::write(dir.join("q.json"), format!("{line}\n")).expect("write");
        format!(
            "CREATE TABLE Q (qid INT, q ARRAY<FLOAT>) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');",
            dir.join("q.json").display()
        )
    };
    let search = |collection: &str, extra: &str, q: &str| {
        format!(
            "{q}\n{}\nSELECT Q.qid, d.id FROM Q, LATERAL TABLE(VECTOR_SEARCH(TABLE Store, DESCRIPTOR(embedding), Q.q, 3)) AS d;",
            table("Store", collection, extra)
        )
    };
    let grants = grants(&[dir.clone(), data()]);
    let fails =
        |sql: String, grants: Grants| async move { run_with(&sql, &grants).await.expect_err("refused").to_string() };
    // A query of the wrong dimension.
    let e = fails(search("minilm-errors", "", &queries("{\"qid\": 1, \"q\": [0.5, 0.5]}")), grants.clone()).await;
    assert!(e.contains("the query vector has 2 dimensions but collection 'minilm-errors' holds vectors of 384"), "{e}");
    // A NULL query vector.
    let e = fails(search("minilm-errors", "", &queries("{\"qid\": 1, \"q\": null}")), grants.clone()).await;
    assert!(e.contains("NULL query vector"), "{e}");
    let ok = queries("{\"qid\": 1, \"q\": [0.5, 0.5]}");
    // A collection that does not exist, and one with another distance.
    let e = fails(search("no-such-collection", "", &ok), grants.clone()).await;
    assert!(e.contains("has no collection 'no-such-collection'"), "{e}");
    let e = fails(search("minilm-errors", ", 'vector-search.metric' = 'l2'", &ok), grants.clone()).await;
    assert!(e.contains("was created with cosine"), "{e}");
    // A store nobody listens on (granted): unreachable, said so.
    let port = weir_tests::peers::free_port();
    let unreachable = search("minilm-errors", "", &ok).replace(&chroma().url(), &format!("http://127.0.0.1:{port}"));
    let e = fails(unreachable, Grants { http: vec![format!("http://127.0.0.1:{port}/")], ..grants.clone() }).await;
    assert!(e.contains(&format!("http://127.0.0.1:{port} is unreachable: connection refused")), "{e}");
    // Not granted: the job does not start, and says which grant it needs.
    let e = fails(search("minilm-errors", "", &ok), Grants { http: Vec::new(), ..grants.clone() }).await;
    assert!(e.contains(&format!("--allow-http {}", chroma().url())), "{e}");
    // A table the connector cannot map: no key.
    let sql = format!(
        "{ok}\nCREATE TABLE Store (id INT, embedding ARRAY<FLOAT>) WITH ('connector' = 'chroma', 'url' = '{}',
           'collection' = 'minilm-errors');
         SELECT * FROM Store;",
        chroma().url()
    );
    let e = fails(sql, grants.clone()).await;
    assert!(e.contains("declare a PRIMARY KEY of one column"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `examples/nearest-documents-chroma.sql` as written, pointed at the tests'
/// Chroma: it loads the documents and prints each question's three nearest,
/// which are the exact cosine top 3.
#[tokio::test(flavor = "multi_thread")]
async fn the_nearest_documents_example_runs_as_written() {
    chroma().client("drop", "minilm-documents");
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/nearest-documents-chroma.sql"))
            .expect("read the example");
    let sql = example
        .replace("http://127.0.0.1:8000", &chroma().url())
        .replace("'tests/data/minilm/", &format!("'{}/", data().display()));
    let out = run(&sql).await.unwrap_or_else(|e| panic!("{e}"));
    let (docs, queries) = (load("documents.csv"), load("queries.csv"));
    let text: BTreeMap<usize, &str> = docs.iter().map(|d| (d.id, d.text.as_str())).collect();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3 * queries.len(), "{out}");
    for (query, got) in queries.iter().zip(lines.chunks(3)) {
        for (line, (id, score)) in got.iter().zip(exact(&docs, &query.vector, true)) {
            let want = format!("+I[{}, {}, ", query.text, text[&id]);
            assert!(line.starts_with(&want), "{line} should start with {want}");
            let got: f64 = line.rsplit(", ").next().expect("score").trim_end_matches(']').parse().expect("score");
            assert!((got - score).abs() < 1e-5, "{line}: {score}");
        }
    }
}
