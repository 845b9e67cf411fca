//! The change-data-capture formats on Flink's own test files
//! (`../shared/conformance/flink-formats`, copied byte for byte into
//! `tests/conformance/flink-formats`): every file decodes to the changelog
//! the Debezium documentation defines for its events — create/read → +I,
//! update → -U then +U, delete → -D — written out below by hand from the
//! files' events (the products table of the Debezium tutorial), not taken
//! from this implementation.

use std::path::PathBuf;

use weir_tests::{FormatUnderTest, parse_schema, runtime};

const PRODUCTS: &str = "id INT NOT NULL, name STRING, description STRING, weight FLOAT";

/// The changelog of the products table in every Debezium file.
const PRODUCTS_CHANGELOG: [&str; 20] = [
    "+I[101, scooter, Small 2-wheel scooter, 3.14]",
    "+I[102, car battery, 12V car battery, 8.1]",
    "+I[103, 12-pack drill bits, 12-pack of drill bits with sizes ranging from #40 to #3, 0.8]",
    "+I[104, hammer, 12oz carpenter's hammer, 0.75]",
    "+I[105, hammer, 14oz carpenter's hammer, 0.875]",
    "+I[106, hammer, 16oz carpenter's hammer, 1.0]",
    "+I[107, rocks, box of assorted rocks, 5.3]",
    "+I[108, jacket, water resistent black wind breaker, 0.1]",
    "+I[109, spare tire, 24 inch spare tire, 22.2]",
    "-U[106, hammer, 16oz carpenter's hammer, 1.0]",
    "+U[106, hammer, 18oz carpenter hammer, 1.0]",
    "-U[107, rocks, box of assorted rocks, 5.3]",
    "+U[107, rocks, box of assorted rocks, 5.1]",
    "+I[110, jacket, water resistent white wind breaker, 0.2]",
    "+I[111, scooter, Big 2-wheel scooter , 5.18]",
    "-U[110, jacket, water resistent white wind breaker, 0.2]",
    "+U[110, jacket, new water resistent white wind breaker, 0.5]",
    "-U[111, scooter, Big 2-wheel scooter , 5.18]",
    "+U[111, scooter, Big 2-wheel scooter , 5.17]",
    "-D[111, scooter, Big 2-wheel scooter , 5.17]",
];

/// The changelog of `products2` in Canal's files (product 106 has a null
/// description there) and of `product` in Maxwell's (where it does not):
/// the Debezium changelog, then an update of two rows in one message and a
/// delete of two rows.
fn canal_changelog(description_106: &str) -> Vec<String> {
    let mut rows: Vec<String> = PRODUCTS_CHANGELOG.iter().map(|r| (*r).to_owned()).collect();
    rows[5] = format!("+I[106, hammer, {description_106}, 1.0]");
    rows[9] = format!("-U[106, hammer, {description_106}, 1.0]");
    rows.extend(
        [
            "-U[101, scooter, Small 2-wheel scooter, 3.14]",
            "+U[101, scooter, Small 2-wheel scooter, 5.17]",
            "-U[102, car battery, 12V car battery, 8.1]",
            "+U[102, car battery, 12V car battery, 5.17]",
            "-D[102, car battery, 12V car battery, 5.17]",
            "-D[103, 12-pack drill bits, 12-pack of drill bits with sizes ranging from #40 to #3, 0.8]",
        ]
        .map(str::to_owned),
    );
    rows
}

fn file(name: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/flink-formats").join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

async fn decode(name: &str, options: &[(&str, &str)]) -> weir::Result<Vec<String>> {
    decode_with("debezium-json", name, options).await
}

async fn decode_with(format: &str, name: &str, options: &[(&str, &str)]) -> weir::Result<Vec<String>> {
    let runtime = runtime().await;
    let mut f = FormatUnderTest::open(&runtime, format, options, &parse_schema(PRODUCTS)).await?;
    let lines = file(name);
    let frames: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    f.rows(&frames).await
}

#[tokio::test(flavor = "multi_thread")]
async fn debezium_files_decode_to_the_products_changelog() {
    for (name, include) in [
        ("debezium-data-schema-exclude.txt", "false"),
        ("debezium-data-schema-include.txt", "true"),
        ("debezium-postgres-data-schema-exclude.txt", "false"),
        ("debezium-postgres-data-schema-include.txt", "true"),
    ] {
        let rows = decode(name, &[("schema-include", include)]).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rows, PRODUCTS_CHANGELOG, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn updates_without_a_before_image_name_replica_identity_full() {
    // PostgreSQL with REPLICA IDENTITY DEFAULT: updates and deletes carry no
    // "before" image. The first such event (record 9, 0-based) fails…
    let err = decode("debezium-postgres-data-replica-identity.txt", &[]).await.expect_err("no before image");
    let text = err.to_string();
    assert!(matches!(err, weir::Error::Guest { error: weir::GuestError::Data { position: 9, .. }, .. }), "{text}");
    assert!(text.contains("REPLICA IDENTITY") && text.contains("UPDATE"), "{text}");
    // …and with ignore-parse-errors the reads and creates come through.
    let rows = decode("debezium-postgres-data-replica-identity.txt", &[("ignore-parse-errors", "true")])
        .await
        .expect("skips what it cannot read");
    let inserts: Vec<&str> = PRODUCTS_CHANGELOG.iter().copied().filter(|r| r.starts_with("+I")).collect();
    assert_eq!(rows, inserts);
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_include_must_match_the_events() {
    let err = decode("debezium-data-schema-include.txt", &[]).await.expect_err("enveloped events").to_string();
    assert!(err.contains("'debezium-json.schema-include' = 'true'"), "{err}");
    let err = decode("debezium-data-schema-exclude.txt", &[("schema-include", "true")])
        .await
        .expect_err("bare events")
        .to_string();
    assert!(err.contains("'debezium-json.schema-include' = 'false'"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tombstones_are_skipped_and_bad_events_are_data_errors() {
    let runtime = runtime().await;
    let mut f = FormatUnderTest::open(&runtime, "debezium-json", &[], &parse_schema("id INT, name STRING"))
        .await
        .expect("opens");
    let create = br#"{"before":null,"after":{"id":1,"name":"a"},"op":"c"}"#;
    let rows = f.rows(&[create, b"", b"null"]).await.expect("tombstones give no row");
    assert_eq!(rows, ["+I[1, a]"]);
    for (bad, why) in [
        (&br#"{"before":null,"after":{"id":1,"name":"a"},"op":"x"}"#[..], "unknown \"op\" value \"x\""),
        (br#"{"before":null,"after":null,"op":"c"}"#, "without an \"after\" image"),
        (br#"{"before":null,"after":{"id":1"#, "malformed JSON"),
        (br#"{"before":null,"after":{"id":"one","name":"a"},"op":"c"}"#, "after: field 'id'"),
    ] {
        let e = f.rows(&[create, bad]).await.expect_err("bad event").to_string();
        assert!(e.contains("record 1") && e.contains(why), "{e}");
    }
    // With ignore-parse-errors a bad field is null (as in json), but an update
    // whose after image cannot be read (a NOT NULL field) leaves neither row.
    let mut f = FormatUnderTest::open(
        &runtime,
        "debezium-json",
        &[("ignore-parse-errors", "true")],
        &parse_schema("id INT NOT NULL, name STRING"),
    )
    .await
    .expect("opens");
    let update = br#"{"before":{"id":1,"name":"a"},"after":{"id":"x","name":"b"},"op":"u"}"#;
    assert_eq!(f.rows(&[create, update]).await.expect("skipped"), ["+I[1, a]"]);
    assert_eq!(f.counter("records-skipped"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_encoder_writes_flinks_layout_and_reads_it_back() {
    let runtime = runtime().await;
    let mut f = FormatUnderTest::open(&runtime, "debezium-json", &[], &parse_schema(PRODUCTS)).await.expect("opens");
    let lines = file("debezium-data-schema-exclude.txt");
    let frames: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    let batch = f.decoder.decode(&weir::Frames::new(&frames)).await.expect("decodes");
    let encoded = f.encoder.encode(&batch).await.expect("encodes");
    let written: Vec<String> = encoded.iter().map(|l| String::from_utf8(l.to_vec()).expect("UTF-8")).collect();
    assert_eq!(written.len(), 20);
    assert_eq!(
        written[0],
        r#"{"before":null,"after":{"id":101,"name":"scooter","description":"Small 2-wheel scooter","weight":3.14},"op":"c"}"#
    );
    // Flink writes -U as a delete and +U as a create.
    assert!(written[9].starts_with(r#"{"before":{"id":106,"#) && written[9].ends_with(r#""after":null,"op":"d"}"#));
    assert!(written[10].starts_with(r#"{"before":null,"after":{"id":106,"#) && written[10].ends_with(r#""op":"c"}"#));
    let back = f.rows(&encoded.iter().collect::<Vec<_>>()).await.expect("reads its own output");
    let expected: Vec<String> =
        PRODUCTS_CHANGELOG.iter().map(|r| r.replacen("-U[", "-D[", 1).replacen("+U[", "+I[", 1)).collect();
    assert_eq!(back, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changelog_goes_to_print_and_is_refused_by_an_insert_only_csv_sink() {
    let runtime = runtime().await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance/flink-formats");
    let input = std::env::temp_dir().join(format!("weir-cdc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&input);
    std::fs::create_dir_all(&input).expect("dir");
    std::fs::copy(dir.join("debezium-data-schema-exclude.txt"), input.join("products.json")).expect("copy");
    let tables = format!(
        "CREATE TABLE Products ({PRODUCTS}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'debezium-json');
         CREATE TABLE Shown ({PRODUCTS}) WITH ('connector' = 'print');
         CREATE TABLE Flat ({PRODUCTS}) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');",
        input.display(),
        input.join("out").display()
    );
    let grants = weir::policy::Grants {
        read: vec![input.clone()],
        write: vec![input.join("out")],
        stdout: true,
        ..weir::policy::Grants::none()
    };
    // The changelog reaches a changelog-capable sink…
    let job = weir_sql::parse("cdc.sql", &format!("{tables}\nSELECT * FROM Products;")).expect("parses");
    let mut out = Vec::new();
    weir_pipeline::run(&runtime, &job, &grants, &Default::default(), &mut out).await.expect("runs");
    let printed: Vec<String> = String::from_utf8(out).expect("UTF-8").lines().map(str::to_owned).collect();
    assert_eq!(printed, PRODUCTS_CHANGELOG);
    let job =
        weir_sql::parse("cdc.sql", &format!("{tables}\nINSERT INTO Shown SELECT * FROM Products;")).expect("parses");
    weir_pipeline::run(&runtime, &job, &grants, &Default::default(), &mut Vec::new())
        .await
        .expect("print takes changes");
    // …and an insert-only csv file refuses it before anything starts.
    let job =
        weir_sql::parse("cdc.sql", &format!("{tables}\nINSERT INTO Flat SELECT * FROM Products;")).expect("parses");
    let err = weir_pipeline::run(&runtime, &job, &grants, &Default::default(), &mut Vec::new())
        .await
        .expect_err("updates into csv")
        .to_string();
    assert!(err.contains("table 'Flat'") && err.contains("accepts only +I") && err.contains("-U, +U, -D"), "{err}");
    assert!(!input.join("out").exists(), "nothing was written");
    let _ = std::fs::remove_dir_all(&input);
}

#[tokio::test(flavor = "multi_thread")]
async fn canal_files_decode_to_their_changelog() {
    let expected = canal_changelog("null");
    for name in ["canal-data.txt", "canal-data-with-init.txt"] {
        let rows = decode_with("canal-json", name, &[]).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rows, expected, "{name}");
    }
    // One database and table of several: the others' rows (some not even
    // of this schema) are never read.
    let only = [("database.include", "mydb"), ("table.include", "product")];
    let rows = decode_with("canal-json", "canal-data-filter-table.txt", &only).await.expect("filters");
    assert_eq!(rows, expected);
    let err = decode_with("canal-json", "canal-data-filter-table.txt", &[]).await.expect_err("other tables");
    assert!(err.to_string().contains("field 'id'"), "without the filter the orders rows fail: {err}");
    let runtime = runtime().await;
    let bad = FormatUnderTest::open(&runtime, "canal-json", &[("table.include", "(")], &parse_schema(PRODUCTS)).await;
    let err = bad.err().expect("not a pattern").to_string();
    assert!(err.contains("canal-json.table.include") && err.contains("regular expression"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn maxwell_and_ogg_files_decode_to_their_changelog() {
    let rows = decode_with("maxwell-json", "maxwell-data.txt", &[]).await.expect("decodes");
    assert_eq!(rows, canal_changelog("16oz carpenter's hammer"));
    let rows = decode_with("ogg-json", "ogg-data.txt", &[]).await.expect("decodes");
    assert_eq!(rows, PRODUCTS_CHANGELOG);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_cdc_encoder_writes_what_its_decoder_reads() {
    let runtime = runtime().await;
    let expected: Vec<String> =
        PRODUCTS_CHANGELOG.iter().map(|r| r.replacen("-U[", "-D[", 1).replacen("+U[", "+I[", 1)).collect();
    for (format, first) in [
        (
            "canal-json",
            r#"{"data":[{"id":101,"name":"scooter","description":"Small 2-wheel scooter","weight":3.14}],"type":"INSERT"}"#,
        ),
        (
            "maxwell-json",
            r#"{"data":{"id":101,"name":"scooter","description":"Small 2-wheel scooter","weight":3.14},"type":"insert"}"#,
        ),
        (
            "ogg-json",
            r#"{"before":null,"after":{"id":101,"name":"scooter","description":"Small 2-wheel scooter","weight":3.14},"op_type":"I"}"#,
        ),
    ] {
        let mut source =
            FormatUnderTest::open(&runtime, "ogg-json", &[], &parse_schema(PRODUCTS)).await.expect("opens");
        let lines = file("ogg-data.txt");
        let frames: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let batch = source.decoder.decode(&weir::Frames::new(&frames)).await.expect("decodes");
        let mut f = FormatUnderTest::open(&runtime, format, &[], &parse_schema(PRODUCTS)).await.expect("opens");
        let encoded = f.encoder.encode(&batch).await.expect("encodes");
        assert_eq!(encoded.get(0), Some(first.as_bytes()), "{format}");
        let back = f.rows(&encoded.iter().collect::<Vec<_>>()).await.expect("reads its own output");
        assert_eq!(back, expected, "{format}");
    }
}
