//! Engines embedding Weir. The first uses the library (`weir`) alone: a
//! built-in source component is opened through its typed handle, its splits
//! read as Arrow batches, encoded by the csv format's handle and written
//! through the filesystem sink's handle, then committed. The second does the
//! same one level up, with tables of the pipeline (`weir-pipeline`). The
//! files are checked with plain `std::fs`, not with Weir.

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use weir::catalog::Role;
use weir::handles::{Encoder, Read, Records, ScanRequest, ScanSource, SinkWriter, WriterContext};
use weir::model::{DataType, Field, Schema};
use weir::options::{Target, validate};
use weir::policy::Grants;
use weir_pipeline::{Position, ScanStep, Table, TableSink, TableSource};

fn schema() -> Schema {
    Schema::new(vec![Field::new("id", DataType::BigInt).not_null(), Field::new("name", DataType::String)])
}

fn options(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The committed csv lines under `dir` (in-progress and hidden files left out).
fn visible(dir: &std::path::Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && !name.contains("inprogress") {
            lines.extend(std::fs::read_to_string(entry.path()).expect("read").lines().map(str::to_owned));
        }
    }
    lines
}

fn ids_of(lines: &[String]) -> Vec<i64> {
    let mut ids: Vec<i64> = lines.iter().map(|l| l.split(',').next().expect("id").parse().expect("number")).collect();
    ids.sort_unstable();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embedder_drives_components_through_the_library_handles() {
    let runtime = weir_tests::runtime().await;
    let dir = std::env::temp_dir().join(format!("weir-embed-lib-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("out");
    let catalog = runtime.catalog();
    let target = |role| Target { table: "embedded", role, prefix: None };

    let datagen = catalog.find("datagen", Role::Source).expect("datagen is built in");
    let given = options(&[
        ("number-of-rows", "500"),
        ("fields.id.kind", "sequence"),
        ("fields.id.start", "1"),
        ("fields.id.end", "500"),
        ("fields.name.length", "4"),
    ]);
    let source_options = validate(target("connector"), &datagen.spec, &given).expect("valid options");
    let mut source = ScanSource::open(datagen, &source_options, &schema(), &ScanRequest::default(), &Grants::none())
        .await
        .expect("source opens");
    let plan = source.plan().await.expect("plans");
    assert!(plan.bounded && !plan.splits.is_empty());

    let csv = catalog.find("csv", Role::Format).expect("csv is built in");
    let csv_options = validate(target("format"), &csv.spec, &[]).expect("defaults");
    let mut encoder = Encoder::open(csv, &csv_options, &schema(), &Grants::none()).await.expect("encoder opens");
    let filesystem = catalog.find("filesystem", Role::Sink).expect("filesystem is built in");
    let path = out.display().to_string();
    let sink_options = validate(target("connector"), &filesystem.spec, &options(&[("path", &path)])).expect("valid");
    let grants = Grants { write: vec![out.clone()], ..Grants::none() };
    let context = WriterContext { parallelism: 1, ..WriterContext::default() };
    let mut sink =
        SinkWriter::open(filesystem, &sink_options, &schema(), &context, &[], &grants).await.expect("sink opens");

    let mut seen = Vec::new();
    for split in &plan.splits {
        let reader = source.open_reader(split, None).await.expect("reader opens");
        loop {
            match source.read(reader, 128).await.expect("reads") {
                Read::Rows(rows) => {
                    seen.extend(rows.rows.column(0).as_primitive::<Int64Type>().values().iter().copied());
                    let values = encoder.encode(&rows).await.expect("encodes");
                    assert_eq!(values.len(), rows.rows.num_rows(), "one csv line per row");
                    sink.write_records(Records { values, ..Records::default() }).await.expect("writes");
                }
                Read::WouldBlock => tokio::task::yield_now().await,
                Read::EndOfSplit => break,
                Read::Records(_) => panic!("datagen produces rows"),
            }
        }
    }
    assert_eq!(seen, (1..=500).collect::<Vec<i64>>());
    assert!(visible(&out).is_empty(), "staged rows must not be visible before the commit");
    let staged = sink.prepare_commit(1).await.expect("prepares");
    sink.commit(&staged).await.expect("commits");
    sink.close().await.expect("closes");
    let lines = visible(&out);
    assert_eq!(ids_of(&lines), (1..=500).collect::<Vec<i64>>(), "every row exactly once");
    assert!(lines.iter().all(|l| l.split(',').nth(1).is_some_and(|n| n.len() == 4)), "{lines:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn table(name: &str, options: &[(&str, &str)]) -> Table {
    Table {
        name: name.to_owned(),
        schema: schema(),
        metadata: Vec::new(),
        partition_keys: Vec::new(),
        computed: Vec::new(),
        options: options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        at: Position::default(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embedder_reads_a_table_as_arrow_and_commits_through_a_table_sink() {
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

    let mut reader = TableSource::open(&runtime, &source, &grants).await.expect("source opens");
    assert_eq!(reader.splits(), 1);
    let mut writer = TableSink::open(&runtime, &sink, &grants).await.expect("sink opens");
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
    assert!(visible(&out).is_empty(), "staged rows must not be visible before the commit");
    let staged = writer.prepare_commit(1).await.expect("prepares");
    writer.commit(&staged).await.expect("commits");
    writer.commit(&staged).await.expect("a second commit is harmless");
    writer.close().await.expect("closes");
    let lines = visible(&out);
    assert_eq!(ids_of(&lines), (1..=1000).collect::<Vec<i64>>(), "every row exactly once in the committed csv files");
    assert!(lines.iter().all(|l| l.split(',').nth(1).is_some_and(|n| n.len() == 5)), "{lines:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Receives a job's SELECT rows as Arrow batches (and EXPLAIN text).
#[derive(Default)]
struct Collect {
    batches: Vec<weir::batch::ChangelogBatch>,
    text: String,
}

impl weir_pipeline::Output for Collect {
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
    let config = weir_pipeline::RunConfig::default();
    weir_pipeline::run(&runtime, &job, &Grants::none(), &config, &mut out).await.expect("runs");
    let ids: Vec<i64> =
        out.batches.iter().flat_map(|b| b.rows.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
    assert_eq!(ids, (91..=100).collect::<Vec<i64>>());
    assert!(out.batches.iter().all(|b| b.row_kinds.iter().all(|&k| k == 0)), "inserts only");
    assert!(out.text.contains("source Gen: connector 'datagen'"), "{}", out.text);
}
