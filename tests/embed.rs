//! An engine embedding Weir, with the library's public API only: a built-in
//! source table defined in code (no SQL) is read as Arrow batches and
//! written through a filesystem sink with the csv format, then committed.
//! The files are checked with plain `std::fs`, not with Weir.

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use weir::pipeline::{Position, ScanSource, ScanStep, SinkWriter, Table};
use weir::policy::Grants;
use weir::types::{Field, LogicalType, Schema};

fn table(name: &str, options: &[(&str, &str)]) -> Table {
    Table {
        name: name.to_owned(),
        schema: Schema {
            fields: vec![
                Field { name: "id".into(), data_type: LogicalType::Bigint, nullable: false },
                Field { name: "name".into(), data_type: LogicalType::String, nullable: true },
            ],
            nested: Vec::new(),
            primary_key: Vec::new(),
        },
        metadata: Vec::new(),
        partition_keys: Vec::new(),
        options: options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        at: Position::default(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embedder_reads_a_source_as_arrow_and_commits_through_a_sink() {
    let runtime = weir_tests::runtime().await;
    let dir = std::env::temp_dir().join(format!("weir-embed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("out");
    let source = table(
        "Gen",
        &[
            ("connector", "datagen"),
            ("number-of-rows", "1000"),
            ("fields.id.kind", "sequence"),
            ("fields.id.start", "1"),
            ("fields.id.end", "1000"),
            ("fields.name.length", "5"),
        ],
    );
    let path = out.display().to_string();
    let sink = table("Out", &[("connector", "filesystem"), ("path", &path), ("format", "csv")]);
    let grants = Grants { write: vec![out.clone()], ..Grants::none() };

    let mut reader = ScanSource::open(&runtime, &source, &grants).await.expect("source opens");
    assert_eq!(reader.splits(), 1);
    let mut writer = SinkWriter::open(&runtime, &sink, &grants).await.expect("sink opens");
    let mut seen = Vec::new();
    loop {
        match reader.next().await.expect("reads") {
            ScanStep::Rows(rows) => {
                // Arrow columns, typed as declared.
                let ids = rows.rows.column(0).as_primitive::<Int64Type>();
                assert_eq!(ids.null_count(), 0);
                seen.extend(ids.values().iter().copied());
                writer.write(rows).await.expect("writes");
            }
            ScanStep::Idle => tokio::task::yield_now().await,
            ScanStep::End => break,
        }
    }
    assert_eq!(seen, (1..=1000).collect::<Vec<i64>>());
    // Nothing is visible before the commit.
    let visible = |dir: &std::path::Path| -> Vec<String> {
        let mut lines = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && !name.contains("inprogress") {
                lines.extend(std::fs::read_to_string(entry.path()).expect("read").lines().map(str::to_owned));
            }
        }
        lines
    };
    assert!(visible(&out).is_empty(), "staged rows must not be visible before the commit");
    let staged = writer.prepare_commit(1).await.expect("prepares");
    writer.commit(&staged).await.expect("commits");
    writer.commit(&staged).await.expect("a second commit is harmless");
    writer.close().await.expect("closes");
    let lines = visible(&out);
    let mut ids: Vec<i64> = lines.iter().map(|l| l.split(',').next().expect("id").parse().expect("number")).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=1000).collect::<Vec<i64>>(), "every row exactly once in the committed csv files");
    assert!(lines.iter().all(|l| l.split(',').nth(1).is_some_and(|n| n.len() == 5)), "{lines:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Receives a job's SELECT rows as Arrow batches (and EXPLAIN text).
#[derive(Default)]
struct Collect {
    batches: Vec<weir::batch::ChangelogBatch>,
    text: String,
}

impl weir::pipeline::Output for Collect {
    fn rows(&mut self, rows: &weir::batch::ChangelogBatch) -> std::io::Result<()> {
        self.batches.push(rows.clone());
        Ok(())
    }

    fn write_fmt(&mut self, text: std::fmt::Arguments<'_>) -> std::io::Result<()> {
        self.text.push_str(&text.to_string());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_run_from_code_hands_its_select_rows_over_as_arrow() {
    let runtime = weir_tests::runtime().await;
    let job = weir_sql::parse(
        "embedded.sql",
        "CREATE TABLE Gen (id BIGINT NOT NULL) WITH ('connector' = 'datagen', 'number-of-rows' = '100',
           'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '100');
         SELECT id FROM Gen WHERE id > 90;
         EXPLAIN SELECT id FROM Gen;",
    )
    .expect("parses");
    let mut out = Collect::default();
    let config = weir::pipeline::RunConfig::default();
    weir::pipeline::run(&runtime, &job, &Grants::none(), &config, &mut out).await.expect("runs");
    let ids: Vec<i64> =
        out.batches.iter().flat_map(|b| b.rows.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
    assert_eq!(ids, (91..=100).collect::<Vec<i64>>());
    assert!(out.batches.iter().all(|b| b.row_kinds.iter().all(|&k| k == 0)), "inserts only");
    assert!(out.text.contains("source Gen: connector 'datagen'"), "{}", out.text);
}
