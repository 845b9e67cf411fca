//! Components written in Python and JavaScript (built by
//! `scripts/build-polyglot`): the three `changelog-csv` implementations —
//! Rust, Python, JavaScript — produce identical rows and identical bytes on
//! the same input, pass the same golden files, and fail on the same records;
//! the Python `logfmt` and JavaScript `urlencoded` formats work end to end.

use weir_tests::generate::{ALL_SCALARS, TEXT, random_rows};
use weir_tests::{FormatUnderTest, Golden, assert_data_error, parse_schema, polyglot, runtime_with};

/// The three implementations, by identifier.
const CHANGELOG_CSVS: [&str; 3] = ["changelog-csv", "changelog-csv-py", "changelog-csv-js"];

async fn polyglot_runtime() -> weir::Runtime {
    let paths: Vec<String> = ["python-changelog-csv", "js-changelog-csv", "python-logfmt", "js-urlencoded"]
        .iter()
        .map(|n| polyglot(n))
        .collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    runtime_with(&refs).await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_changelog_csv_passes_the_golden_files() {
    let runtime = polyglot_runtime().await;
    for format in CHANGELOG_CSVS {
        for case in ["flink-example", "updates"] {
            Golden::read(&format!("changelog-csv/{case}.golden")).check(&runtime, format).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_three_changelog_csvs_agree_on_every_scalar_type() {
    let runtime = polyglot_runtime().await;
    let schema = parse_schema(&ALL_SCALARS.replace(
        "s STRING, c CHAR(5), vc VARCHAR(20), by BYTES, bin BINARY(8), vb VARBINARY(30)",
        "s STRING NOT NULL, by BYTES NOT NULL",
    ));
    let text: Vec<char> = TEXT.iter().copied().filter(|c| !"|\n\r".contains(*c)).collect();
    let mut rows = random_rows(&schema, 500, 29, &text);
    rows.row_kinds = (0..500).map(|i| (i % 4) as u8).collect();

    // The Rust encoder writes the input all three decode.
    let mut rust = FormatUnderTest::open(&runtime, "changelog-csv", &[], &schema).await.expect("opens");
    let frames = rust.encoder.encode(&rows).await.expect("encodes");
    let lines: Vec<&[u8]> = frames.iter().collect();
    let expected = weir::display::format_rows(&rows);

    for format in CHANGELOG_CSVS {
        let mut f = FormatUnderTest::open(&runtime, format, &[], &schema).await.expect("opens");
        let decoded = f.decoder.decode(&weir::Frames::new(lines.iter().copied())).await.expect("decodes");
        let printed = weir::display::format_rows(&decoded);
        for (i, (e, a)) in expected.iter().zip(&printed).enumerate() {
            assert_eq!(e, a, "{format}: row {i} from {:?}", String::from_utf8_lossy(lines[i]));
        }
        assert_eq!(expected.len(), printed.len(), "{format}: row count");
        assert_eq!(decoded.row_kinds, rows.row_kinds, "{format}: row kinds");
        // And each encodes the rows to the same bytes.
        let encoded = f.encoder.encode(&rows).await.expect("encodes");
        for (i, ours) in encoded.iter().enumerate() {
            assert_eq!(String::from_utf8_lossy(ours), String::from_utf8_lossy(lines[i]), "{format}: frame {i}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_three_changelog_csvs_reject_the_same_records() {
    let runtime = polyglot_runtime().await;
    let schema = parse_schema("id INT NOT NULL, name STRING, price DECIMAL(5,2), at TIMESTAMP(3), ok BOOLEAN");
    let good = "INSERT|1|a|1.50|2024-01-31 23:59:59.999|true";
    let bad = [
        ("UPSERT|1|a|1.50||true", "not a row kind"),
        ("INSERT|1|a|1.50|", "expected a row kind and 5 fields, found 4"),
        ("INSERT||a|1.50||true", "NOT NULL"),
        ("INSERT|x|a|1.50||true", "INT"),
        ("INSERT|99999999999|a|1.50||true", "out of range"),
        ("INSERT|1|a|1.505||true", "round"),
        ("INSERT|1|a|1234.5||true", "does not fit DECIMAL(5, 2)"),
        ("INSERT|1|a|1.50|2024-02-30 00:00:00|true", "TIMESTAMP"),
        ("INSERT|1|a|1.50|2024-01-01 00:00:00.0001|true", "fractional"),
        ("INSERT|1|a|1.50||yes", "BOOLEAN"),
    ];
    for format in CHANGELOG_CSVS {
        let mut f = FormatUnderTest::open(&runtime, format, &[], &schema).await.expect("opens");
        for (line, message) in bad {
            assert_data_error(&mut f, &format!("{good}\n{line}\n{good}"), 1, message).await;
        }
        // Invalid UTF-8 is a data error too.
        let err = f.rows(&[good.as_bytes(), b"INSERT|1|\xff|1.50||true"]).await.expect_err("invalid UTF-8");
        assert!(err.to_string().contains("data error at record 1"), "{format}: {err}");
        // Empty input, empty output.
        assert!(f.rows(&[]).await.expect("empty").is_empty(), "{format}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn python_logfmt_reads_and_writes_key_value_lines() {
    let runtime = polyglot_runtime().await;
    let schema = parse_schema("level STRING, msg STRING, status INT, took DOUBLE, at TIMESTAMP(3), debug BOOLEAN");
    let mut f = FormatUnderTest::open(&runtime, "logfmt", &[], &schema).await.expect("opens");
    let input = "level=info msg=\"user logged in\" status=200 took=0.25 at=\"2024-01-31 23:59:59.5\" debug\n\
                 msg=\"quote \\\" and \\\\ inside\" level=warn unknown=ignored status=404\n\
                 level=error status=500 status=503";
    let (rows, output) = f.round_trip(input).await.expect("round trip");
    assert_eq!(
        rows,
        [
            "+I[info, user logged in, 200, 0.25, 2024-01-31T23:59:59.500, true]",
            "+I[warn, quote \" and \\ inside, 404, null, null, null]",
            "+I[error, null, 503, null, null, null]",
        ]
    );
    assert_eq!(
        output,
        [
            "level=info msg=\"user logged in\" status=200 took=0.25 at=\"2024-01-31 23:59:59.5\" debug=true",
            "level=warn msg=\"quote \\\" and \\\\ inside\" status=404",
            "level=error status=503",
        ]
    );
    let err = f.rows_of("level=info msg=\"unclosed").await.expect_err("bad line");
    assert!(err.to_string().contains("unclosed quote"), "{err}");
    let mut lenient =
        FormatUnderTest::open(&runtime, "logfmt", &[("ignore-parse-errors", "true")], &schema).await.expect("opens");
    let rows = lenient.rows_of("level=a\nstatus=x\nmsg=\"open\nlevel=b").await.expect("skips");
    assert_eq!(rows.len(), 2);
    assert_eq!(lenient.counter("records-skipped"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn js_urlencoded_reads_and_writes_form_records() {
    let runtime = polyglot_runtime().await;
    let schema = parse_schema("name STRING, score INT, city STRING, paid DECIMAL(6,2)");
    let mut f = FormatUnderTest::open(&runtime, "urlencoded", &[], &schema).await.expect("opens");
    let input = "name=Alice&score=12&city=S%C3%A3o+Paulo&paid=9.50\nscore=5&name=Bob%20%26%20co&x=1\nname=&score=7";
    let (rows, output) = f.round_trip(input).await.expect("round trip");
    assert_eq!(rows, ["+I[Alice, 12, São Paulo, 9.50]", "+I[Bob & co, 5, null, null]", "+I[, 7, null, null]"]);
    assert_eq!(
        output,
        ["name=Alice&score=12&city=S%C3%A3o%20Paulo&paid=9.50", "name=Bob%20%26%20co&score=5", "name=&score=7"]
    );
    let err = f.rows_of("name=%E0%A4%A").await.expect_err("bad escape");
    assert!(err.to_string().contains("percent-encoding"), "{err}");
}
