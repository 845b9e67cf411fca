//! The formats' acceptance tests: golden files (input → rows as Flink prints
//! them → encoded bytes), round trips of every type, malformed input with
//! position-bearing errors and the skip counter, and Flink's option
//! defaults checked one by one.

use weir_tests::{Golden, opts, runtime};

async fn golden(format: &str, case: &str) {
    let runtime = runtime().await;
    Golden::read(&format!("{format}/{case}.golden")).check(&runtime, format).await;
}

#[tokio::test]
async fn golden_changelog_csv_flink_example() {
    golden("changelog-csv", "flink-example").await;
}

#[tokio::test]
async fn golden_changelog_csv_updates() {
    golden("changelog-csv", "updates").await;
}

#[tokio::test]
async fn golden_raw_lines() {
    golden("raw", "lines").await;
}

#[tokio::test]
async fn golden_csv_all_types() {
    golden("csv", "all-types").await;
}

#[tokio::test]
async fn golden_csv_options() {
    golden("csv", "options").await;
}

#[tokio::test]
async fn golden_json_all_types() {
    golden("json", "all-types").await;
}

#[tokio::test]
async fn golden_json_nested() {
    golden("json", "nested").await;
}

// ---------------------------------------------------------------------------
// Malformed input: position-bearing data errors, or skipped and counted.
// ---------------------------------------------------------------------------

use weir_tests::{FormatUnderTest, assert_data_error, parse_schema};

/// Opens `format` with `options` on the schema given in Flink type syntax.
async fn open(format: &str, options: &[(&str, &str)], schema: &str) -> FormatUnderTest {
    let runtime = runtime().await;
    FormatUnderTest::open(&runtime, format, options, &parse_schema(schema))
        .await
        .unwrap_or_else(|e| panic!("open {format}: {e}"))
}

#[tokio::test]
async fn csv_malformed_records_name_position_and_excerpt() {
    let schema = "id INT NOT NULL, small TINYINT, price DECIMAL(5,2), ok BOOLEAN, name STRING";
    let mut f = open("csv", &[], schema).await;
    let good = "1,2,3.50,true,x";
    let cases = [
        ("1,2,3.50,true", "expected 5 fields, found 4"),
        ("1,2,3.50,true,x,extra", "expected 5 fields, found 6"),
        ("1,128,3.50,true,x", "out of range"),
        ("1,2,3.505,true,x", "round"),
        ("1,2,12345.5,true,x", "does not fit DECIMAL(5, 2)"),
        ("x,2,3.50,true,x", "INT"),
        (",2,3.50,true,x", "column 'id': NOT NULL, but the value is null"),
        ("1,2,3.50,true,\"unclosed", "quote"),
    ];
    for (bad, message) in cases {
        assert_data_error(&mut f, &format!("{good}\n{good}\n{bad}\n{good}"), 2, message).await;
    }
    // Invalid UTF-8 is found, not replaced.
    let err = f.rows(&[good.as_bytes(), b"1,2,3.50,true,\xff\xfe"]).await.expect_err("invalid UTF-8");
    assert!(err.to_string().contains("data error at record 1") && err.to_string().contains("UTF-8"), "{err}");
    // The decoder keeps working after an error.
    assert_eq!(f.rows_of(good).await.expect("decodes"), ["+I[1, 2, 3.50, true, x]"]);
}

#[tokio::test]
async fn csv_ignore_parse_errors_nulls_bad_fields_and_skips_bad_records() {
    // Flink: "Skip fields and rows with parse errors instead of failing.
    // Fields are set to null in case of errors."
    let mut f = open("csv", &[("ignore-parse-errors", "true")], "id INT NOT NULL, v BIGINT").await;
    let rows = f.rows_of("1,10\nnot,a,row\n2,x\n3,99999999999999999999\n,1\n4,40").await.expect("bad rows skipped");
    assert_eq!(rows, ["+I[1, 10]", "+I[2, null]", "+I[3, null]", "+I[4, 40]"]);
    // Skipped: the record with three fields, and the one whose NOT NULL id is empty.
    assert_eq!(f.counter("records-skipped"), 2);
    f.rows_of("5,50\nbad").await.expect("bad rows skipped");
    assert_eq!(f.counter("records-skipped"), 3, "the counter accumulates");
}

#[tokio::test]
async fn csv_rows_of_scalars_join_their_fields_with_the_array_delimiter() {
    let mut f = open("csv", &[], "id INT, r ROW<a INT, b STRING>, tags ARRAY<INT>").await;
    let (rows, written) = f.round_trip("1,2;x,7;8\n2,3,\n3,,").await.expect("round trip");
    assert_eq!(rows[0], "+I[1, +I[2, x], [7, 8]]");
    assert_eq!(rows[1], "+I[2, +I[3, null], null]", "missing ROW fields are null");
    assert_eq!(rows[2], "+I[3, null, null]");
    assert_eq!(written[0], "1,2;x,7;8");
    assert_data_error(&mut f, "1,2;x;extra,", 0, "more parts than the ROW's 2 fields").await;
}

#[tokio::test]
async fn csv_writes_what_flink_writes() {
    // Flink 2.3.0 (PyFlink, filesystem + csv, parallelism 1) wrote the
    // expected text below for these rows (`INSERT INTO … VALUES`, the same
    // values as the JSON lines): DECIMAL stripped of trailing zeros, text
    // quoted by Jackson's check (a space, '#', ',', '"' …), numbers and
    // booleans bare, a line break kept inside quotes.
    let schema = "id INT, s STRING, d DECIMAL(10, 2), ts TIMESTAMP(3), sp STRING, c STRING, q STRING, e STRING, \
                  n STRING, x DOUBLE, b BOOLEAN, dt DATE, tiny DECIMAL(20, 10), big DOUBLE, arr ARRAY<INT>";
    let json_lines = r##"{"id":1,"s":"plain","d":1.5,"ts":"2024-01-02 03:04:05.678","sp":" lead","c":"a,b","q":"say \"hi\"","e":"","n":null,"x":1.0E-5,"b":true,"dt":"2024-02-29","tiny":0.0000000123,"big":1.0E20,"arr":[1,2]}
{"id":2,"s":"x y","d":-0.05,"ts":"2024-01-02 03:04:05","sp":"trail ","c":"line\nbreak","q":"#hash","e":" ","n":"null","x":12345.678,"b":false,"dt":"1970-01-01","tiny":100,"big":0.0,"arr":[3]}
"##;
    let flink = r##"1,plain,1.5,"2024-01-02 03:04:05.678"," lead","a,b","say ""hi""",,,1.0E-5,true,2024-02-29,1.23E-8,1.0E20,1;2
2,"x y",-0.05,"2024-01-02 03:04:05","trail ","line
break","#hash"," ",null,12345.678,false,1970-01-01,1E+2,0.0,3
"##;
    let mut json = open("json", &[], schema).await;
    let lines: Vec<&[u8]> = json_lines.lines().map(str::as_bytes).collect();
    let rows = json.decoder.decode(&weir::Frames::new(lines)).await.expect("decodes");
    let mut csv = open("csv", &[], schema).await;
    let written = csv.encoder.encode(&rows).await.expect("encodes");
    let text: String = written.iter().map(|f| String::from_utf8(f.to_vec()).expect("UTF-8") + "\n").collect();
    assert_eq!(text, flink);
}

#[tokio::test]
async fn csv_reads_booleans_and_fractions_as_flink() {
    // Flink's CsvToRowDataConverters: Boolean.parseBoolean, and timestamps
    // parsed to full precision (cut here to the column's).
    let mut f = open("csv", &[], "ok BOOLEAN, at TIMESTAMP(3), t TIME(0)").await;
    let rows = f
        .rows_of("yes,2024-01-01 00:00:00.123456,12:00:00.9\nTrue,2024-01-01 00:00:00.5,12:00:01")
        .await
        .expect("reads");
    assert_eq!(rows, ["+I[false, 2024-01-01T00:00:00.123, 12:00]", "+I[true, 2024-01-01T00:00:00.500, 12:00:01]"]);
}

#[tokio::test]
async fn json_malformed_records_name_position_and_excerpt() {
    let schema = "id INT NOT NULL, small SMALLINT, price DECIMAL(5,2), at TIMESTAMP(3), tags ARRAY<INT>";
    let mut f = open("json", &[], schema).await;
    let good = r#"{"id":1,"small":2,"price":3.5,"at":"2024-01-01 00:00:00","tags":[1]}"#;
    let cases = [
        (r#"{"id":1,"small":2"#, "EOF"),
        (r#"[1,2]"#, "object"),
        (r#"{"id":1,"small":40000}"#, "out of range"),
        (r#"{"id":"1.5"}"#, "INT"),
        (r#"{"id":1,"price":1.234}"#, "round"),
        (r#"{"id":1,"at":"2024-01-01T00:00:00"}"#, "TIMESTAMP"),
        (r#"{"id":1,"tags":[1,"x"]}"#, "INT"),
        (r#"{"id":1,"tags":{"a":1}}"#, "expected an array, found an object"),
        (r#"{"id":null}"#, "NOT NULL"),
        (r#"{"small":1}"#, "NOT NULL"),
    ];
    for (bad, message) in cases {
        assert_data_error(&mut f, &format!("{good}\n{bad}\n{good}"), 1, message).await;
    }
    let err = f.rows(&[b"{\"id\":1,\"s\":\"\xff\"}"]).await.expect_err("invalid UTF-8");
    assert!(err.to_string().contains("data error at record 0"), "{err}");
}

/// json's one-pass scanner finds a string's end 16 bytes at a time
/// (`simd128` inside the component), and its encoder the bytes to escape:
/// every special byte at every offset around those steps reads as
/// serde_json reads it and is written back so, and a control character or
/// invalid UTF-8 at any offset is still a data error.
#[tokio::test]
async fn json_strings_read_right_whatever_the_offset_of_their_special_bytes() {
    let mut f = open("json", &[], "s STRING, t STRING").await;
    for special in ["\"", "\\", "/", "\n", "\t", "\u{1}", "é", "€", "😀", "\u{7f}", "\u{e9}x\"y"] {
        for at in 0..40 {
            let value = format!("{}{special}{}", "x".repeat(at), "y".repeat(40 - at));
            let record = format!("{{\"s\":{},\"t\":\"tail\"}}", serde_json::to_string(&value).expect("json"));
            let (rows, written) = f.round_trip(&record).await.unwrap_or_else(|e| panic!("{record}: {e}"));
            assert_eq!(rows, [format!("+I[{value}, tail]")], "{record}");
            // Written back with the escapes JSON needs, found the same way.
            let back: serde_json::Value = serde_json::from_str(&written[0]).expect("the encoder writes JSON");
            assert_eq!(back["s"], value.as_str(), "{record} written as {}", written[0]);
        }
    }
    for at in 0..40 {
        let head = format!("{{\"s\":\"{}", "x".repeat(at));
        for bad in [&b"\x01"[..], b"\x1f", b"\xff", b"\xc3\x28", b"\xed\xa0\x80"] {
            let record = [head.as_bytes(), bad, "y".repeat(20).as_bytes(), b"\",\"t\":\"tail\"}"].concat();
            let err = f.rows(&[&record]).await.expect_err("a control character or invalid UTF-8 in a string");
            assert!(err.to_string().contains("data error at record 0"), "{}: {err}", String::from_utf8_lossy(&record));
        }
    }
}

/// csv cuts a record 16 bytes at a time (`simd128` inside the component)
/// and leaves records with quotes to its byte loop: delimiters and quotes
/// at every offset around those steps read the same.
#[tokio::test]
async fn csv_fields_read_right_whatever_the_offset_of_delimiters_and_quotes() {
    let mut f = open("csv", &[], "a STRING, b STRING").await;
    for at in 0..40 {
        let (x, y) = ("x".repeat(at), "y".repeat(40 - at));
        for (record, want) in [
            (format!("{x},{y}"), format!("+I[{x}, {y}]")),
            (format!("\"{x},q\",{y}"), format!("+I[{x},q, {y}]")),
            // A quote inside a field (not at its start) is a plain byte.
            (format!("a{x}\"q,{y}"), format!("+I[a{x}\"q, {y}]")),
            (format!("{y},\"{x}\"\"q\""), format!("+I[{y}, {x}\"q]")),
        ] {
            let rows = f.rows(&[record.as_bytes()]).await.unwrap_or_else(|e| panic!("{record}: {e}"));
            assert_eq!(rows, [want], "{record}");
        }
        let three = format!("{x},{y},z");
        assert_data_error(&mut f, &three, 0, "expected 2 fields, found 3").await;
    }
}

#[tokio::test]
async fn json_reads_what_flink_reads() {
    // Flink's documented leniencies (JsonToRowDataConverters): a number with
    // a fraction truncated into an integer column, a string BOOLEAN true only
    // for "true", fractional seconds beyond the precision cut off.
    let schema = "i INT, b BOOLEAN, t TIMESTAMP(3), tags ARRAY<BIGINT>";
    let mut f = open("json", &[], schema).await;
    let rows = f
        .rows_of(
            "{\"i\":1.9,\"b\":\"TRUE\",\"t\":\"2024-01-01 00:00:00.123456\",\"tags\":[2.5,-3.7]}\n\
             {\"i\":-1.9,\"b\":\"yes\",\"t\":\"2024-01-01 00:00:00.9999\",\"tags\":[1e2]}",
        )
        .await
        .expect("reads");
    assert_eq!(
        rows,
        ["+I[1, true, 2024-01-01T00:00:00.123, [2, -3]]", "+I[-1, false, 2024-01-01T00:00:00.999, [100]]"]
    );
    // An integer that does not fit stays an error.
    assert_data_error(&mut f, "{\"i\":1e20}", 0, "out of range").await;
}

#[tokio::test]
async fn json_ignore_parse_errors_nulls_the_bad_field_and_keeps_the_row() {
    // Flink: "Skip fields and rows with parse errors instead of failing.
    // Fields are set to null in case of errors."
    let mut f = open("json", &[("ignore-parse-errors", "true")], "id INT NOT NULL, n INT, tags ARRAY<INT>").await;
    let rows = f
        .rows_of("{\"id\":1,\"n\":\"x\",\"tags\":[1,\"y\"]}\n{\"id\":\"z\",\"n\":2}\n{oops\n{\"id\":3,\"n\":4}")
        .await
        .expect("reads");
    assert_eq!(
        rows,
        ["+I[1, null, null]", "+I[3, 4, null]"],
        "bad fields null; a bad NOT NULL field or record skipped"
    );
    assert_eq!(f.counter("records-skipped"), 2);
}

#[tokio::test]
async fn json_fail_on_missing_field_and_skip_counter() {
    let mut strict = open("json", &[("fail-on-missing-field", "true")], "a INT, b STRING").await;
    assert_data_error(&mut strict, "{\"a\":1,\"b\":null}\n{\"a\":1}", 1, "'b'").await;

    let mut lenient = open("json", &[("ignore-parse-errors", "true")], "a INT, b STRING").await;
    let rows = lenient.rows_of("{\"a\":1}\n{oops\n{\"a\":\"x\"}\n{\"a\":2,\"b\":\"y\"}").await.expect("skips");
    // The malformed record is skipped; the bad field is null, its row kept.
    assert_eq!(rows, ["+I[1, null]", "+I[null, null]", "+I[2, y]"]);
    assert_eq!(lenient.counter("records-skipped"), 1);
}

#[tokio::test]
async fn changelog_csv_malformed_records() {
    let mut f = open("changelog-csv", &[], "name STRING, score INT").await;
    let good = "INSERT|Alice|12";
    for (bad, message) in [
        ("UPSERT|Alice|12", "not a row kind"),
        ("INSERT|Alice", "expected a row kind and 2 fields, found 1"),
        ("DELETE|Alice|12|x", "2 fields, found 3"),
        ("INSERT|Alice|12.5", "INT"),
        ("INSERT|Alice|99999999999", "out of range"),
    ] {
        assert_data_error(&mut f, &format!("{good}\n{bad}"), 1, message).await;
    }
}

#[tokio::test]
async fn raw_rejects_what_it_cannot_hold() {
    let mut f = open("raw", &[], "n INT").await;
    assert_data_error(&mut f, "abcd\nabc", 1, "expected 4 bytes for type INT, got 3").await;
    let mut text = open("raw", &[], "s STRING NOT NULL").await;
    let err = text.rows(&[b"ok", b"\xc3\x28"]).await.expect_err("invalid UTF-8");
    assert!(err.to_string().contains("data error at record 1"), "{err}");
}

#[tokio::test]
async fn csv_quoted_line_breaks_stay_in_one_record() {
    let mut f = open("csv", &[], "id INT, note STRING").await;
    let rows = f.rows(&[b"1,\"two\nlines\"", b"2,\"a \"\"quote\"\"\""]).await.expect("quoted line breaks");
    assert_eq!(rows, ["+I[1, two\nlines]", "+I[2, a \"quote\"]"]);
    let err = f.rows(&[b"1,ok", b"2,two\nrecords"]).await.expect_err("unquoted line break");
    assert!(err.to_string().contains("data error at record 1: a line break outside quotes"), "{err}");
}

// ---------------------------------------------------------------------------
// Options: Flink's defaults one by one, and contradictions refused.
// ---------------------------------------------------------------------------

/// Every option of `format` with its default, as Flink documents them.
async fn assert_defaults(format: &str, expected: &[(&str, Option<&str>)]) {
    let runtime = runtime().await;
    let entry = runtime.catalog().find(format, weir::catalog::Role::Format).expect("format in the catalog");
    let actual: Vec<(&str, Option<&str>)> =
        entry.spec.options.iter().map(|o| (o.key.as_str(), o.default_value.as_deref())).collect();
    assert_eq!(actual, expected, "options of '{format}' and their defaults");
    for option in &entry.spec.options {
        assert!(!option.required, "{format}.{} should be optional", option.key);
        assert!(option.description.len() > 15, "{format}.{} needs a description", option.key);
    }
}

#[tokio::test]
async fn flink_defaults_of_raw() {
    assert_defaults("raw", &[("charset", Some("UTF-8")), ("endianness", Some("big-endian"))]).await;
}

#[tokio::test]
async fn flink_defaults_of_csv() {
    assert_defaults(
        "csv",
        &[
            ("field-delimiter", Some(",")),
            ("disable-quote-character", Some("false")),
            ("quote-character", Some("\"")),
            ("allow-comments", Some("false")),
            ("ignore-parse-errors", Some("false")),
            ("array-element-delimiter", Some(";")),
            ("escape-character", None),
            ("null-literal", None),
            ("write-bigdecimal-in-scientific-notation", Some("true")),
        ],
    )
    .await;
}

#[tokio::test]
async fn flink_defaults_of_json() {
    assert_defaults(
        "json",
        &[
            ("fail-on-missing-field", Some("false")),
            ("ignore-parse-errors", Some("false")),
            ("timestamp-format.standard", Some("SQL")),
            ("map-null-key.mode", Some("FAIL")),
            ("map-null-key.literal", Some("null")),
            ("encode.decimal-as-plain-number", Some("false")),
            ("encode.ignore-null-fields", Some("false")),
            ("decode.json-parser.enabled", Some("true")),
        ],
    )
    .await;
}

#[tokio::test]
async fn flink_defaults_of_changelog_csv() {
    assert_defaults("changelog-csv", &[("column-delimiter", Some("|"))]).await;
    let runtime = runtime().await;
    let entry = runtime.catalog().find("changelog-csv", weir::catalog::Role::Format).expect("in the catalog");
    assert_eq!(entry.spec.changelog_mode.len(), 4, "changelog-csv produces +I -U +U -D");
}

/// Opening `format` with `options` on `schema` fails naming `key` and
/// saying `message`.
async fn assert_config_error(format: &str, options: &[(&str, &str)], schema: &str, key: &str, message: &str) {
    let runtime = runtime().await;
    let err = FormatUnderTest::open(&runtime, format, options, &parse_schema(schema))
        .await
        .err()
        .unwrap_or_else(|| panic!("{format} {options:?} must be refused"));
    let text = err.to_string();
    assert!(text.contains(key) && text.contains(message), "expected '{key}' and {message:?} in: {text}");
}

#[tokio::test]
async fn contradicting_or_bad_options_are_refused() {
    let one = "a STRING";
    assert_config_error(
        "csv",
        &[("disable-quote-character", "true"), ("quote-character", "'")],
        one,
        "quote-character",
        "cannot be set at the same time",
    )
    .await;
    assert_config_error("csv", &[("field-delimiter", ";;")], one, "field-delimiter", "single character").await;
    assert_config_error("csv", &[("field-delimiter", "é")], one, "field-delimiter", "ASCII").await;
    assert_config_error("csv", &[("quote-character", ",")], one, "quote-character", "differ").await;
    assert_config_error("csv", &[("allow-comments", "yes")], one, "csv.allow-comments", "true").await;
    assert_config_error("csv", &[], "m MAP<STRING, INT>", "'m'", "json format").await;
    assert_config_error("json", &[("timestamp-format.standard", "RFC")], one, "timestamp-format.standard", "ISO-8601")
        .await;
    assert_config_error("json", &[("map-null-key.mode", "KEEP")], one, "map-null-key.mode", "LITERAL").await;
    assert_config_error(
        "json",
        &[("fail-on-missing-field", "true"), ("ignore-parse-errors", "true")],
        one,
        "fail-on-missing-field",
        "ignore-parse-errors",
    )
    .await;
    assert_config_error("changelog-csv", &[("column-delimiter", "")], one, "column-delimiter", "empty").await;
    assert_config_error("raw", &[], "a INT, b INT", "raw", "exactly one column").await;
    assert_config_error("raw", &[("charset", "KLINGON")], one, "charset", "UTF-8").await;
    assert_config_error("csv", &[("field-delimiter2", ",")], one, "csv.field-delimiter2", "csv.field-delimiter").await;
}

// ---------------------------------------------------------------------------
// Round trips of every type: generated rows → encode → decode → same rows.
// ---------------------------------------------------------------------------

use weir::batch::ChangelogBatch;
use weir_tests::generate::{ALL_SCALARS, TEXT, random_rows};

/// Encodes `rows`, decodes the frames and expects the same rows, compared
/// as Flink prints them (exact for every type: floats print their
/// shortest round-tripping digits).
async fn assert_round_trip(f: &mut FormatUnderTest, rows: &ChangelogBatch) {
    let frames = f.encoder.encode(rows).await.expect("encodes");
    let back = f.decoder.decode(&frames).await.expect("decodes what it encoded");
    let (expected, actual) = (weir::display::format_rows(rows), weir::display::format_rows(&back));
    assert_eq!(expected.len(), actual.len());
    for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
        let frame = frames.get(i).expect("a frame per row");
        assert_eq!(e, a, "row {i}, encoded as {:?}", String::from_utf8_lossy(frame));
    }
}

#[tokio::test]
async fn json_round_trips_every_scalar_type() {
    let schema = parse_schema(ALL_SCALARS);
    for options in [&[][..], &[("timestamp-format.standard", "ISO-8601"), ("encode.decimal-as-plain-number", "true")]] {
        let runtime = runtime().await;
        let mut f = FormatUnderTest::open(&runtime, "json", options, &schema).await.expect("opens");
        assert_round_trip(&mut f, &random_rows(&schema, 2_000, 7, TEXT)).await;
    }
}

#[tokio::test]
async fn csv_round_trips_every_scalar_type() {
    let schema = parse_schema(ALL_SCALARS);
    let variants: [&[(&str, &str)]; 3] = [
        &[("null-literal", "\\N")],
        &[("null-literal", "NULL"), ("field-delimiter", "\t"), ("write-bigdecimal-in-scientific-notation", "false")],
        &[("null-literal", "~"), ("disable-quote-character", "true"), ("escape-character", "\\")],
    ];
    for options in variants {
        let runtime = runtime().await;
        let mut f = FormatUnderTest::open(&runtime, "csv", options, &schema).await.expect("opens");
        let text: Vec<char> = TEXT.iter().copied().filter(|c| !"NUL~".contains(*c)).collect();
        assert_round_trip(&mut f, &random_rows(&schema, 2_000, 11, &text)).await;
    }
}

#[tokio::test]
async fn changelog_csv_round_trips_every_scalar_type_and_row_kind() {
    let schema = parse_schema(&ALL_SCALARS.replace(
        "s STRING, c CHAR(5), vc VARCHAR(20), by BYTES, bin BINARY(8), vb VARBINARY(30)",
        "s STRING NOT NULL, by BYTES NOT NULL",
    ));
    let runtime = runtime().await;
    let mut f = FormatUnderTest::open(&runtime, "changelog-csv", &[], &schema).await.expect("opens");
    let text: Vec<char> = TEXT.iter().copied().filter(|c| !"|\n\r".contains(*c)).collect();
    let mut rows = random_rows(&schema, 2_000, 13, &text);
    rows.row_kinds = (0..2_000).map(|i| (i % 4) as u8).collect();
    assert_round_trip(&mut f, &rows).await;
    let frames = f.encoder.encode(&rows).await.expect("encodes");
    let back = f.decoder.decode(&frames).await.expect("decodes");
    assert_eq!(back.row_kinds, rows.row_kinds, "row kinds survive");
}

#[tokio::test]
async fn raw_round_trips_each_supported_type() {
    for (ty, options) in [
        ("STRING", &[][..]),
        ("STRING", &[("charset", "UTF-16LE")][..]),
        ("STRING", &[("charset", "UTF-16")][..]),
        ("BYTES", &[][..]),
        ("TINYINT", &[][..]),
        ("SMALLINT", &[("endianness", "little-endian")][..]),
        ("INT", &[][..]),
        ("BIGINT", &[("endianness", "little-endian")][..]),
        ("FLOAT", &[][..]),
        ("DOUBLE", &[][..]),
        ("BOOLEAN", &[][..]),
    ] {
        // A null is an empty frame, which reads back as '' for text and bytes.
        let not_null = if matches!(ty, "STRING" | "BYTES") { " NOT NULL" } else { "" };
        let schema = parse_schema(&format!("v {ty}{not_null}"));
        let runtime = runtime().await;
        let mut f = FormatUnderTest::open(&runtime, "raw", options, &schema)
            .await
            .unwrap_or_else(|e| panic!("raw {ty} {options:?}: {e}"));
        assert_round_trip(&mut f, &random_rows(&schema, 500, 17, TEXT)).await;
    }
}

// ---------------------------------------------------------------------------
// json: null MAP keys (only a batch can hold them — JSON keys are strings).
// ---------------------------------------------------------------------------

/// One row with `MAP<STRING, INT>` = {null=1, a=2}.
fn map_with_null_key() -> weir::types::Batch {
    use weir::types::{Batch, Column, ColumnData, ListData, VarData};
    let plain = |data| Column { validity: None, data };
    Batch {
        row_count: 1,
        row_kinds: Vec::new(),
        columns: vec![plain(ColumnData::List(ListData { offsets: vec![0, 2], child: 0 }))],
        children: vec![
            plain(ColumnData::Struct(vec![1, 2])),
            Column {
                validity: Some(vec![0b10]),
                data: ColumnData::Utf8(VarData { offsets: vec![0, 0, 1], data: b"a".to_vec() }),
            },
            plain(ColumnData::Int32(vec![1, 2])),
        ],
    }
}

#[tokio::test]
async fn json_map_null_key_modes() {
    let schema = parse_schema("m MAP<STRING, INT>");
    let runtime = runtime().await;
    let encode = |options: Vec<(&'static str, &'static str)>| {
        let (runtime, schema) = (&runtime, &schema);
        async move {
            // A raw contract batch, straight to the component's instance.
            let entry = runtime.catalog().find("json", weir::catalog::Role::Format).expect("json");
            let target = weir::options::Target { table: "t", role: "format", prefix: Some("json") };
            let options = weir::options::validate(target, &entry.spec, &opts(&options)).expect("valid options");
            let grants = weir::policy::Grants::none();
            let mut instance =
                entry.loaded().expect("load the component").instantiate("json", &grants).await.expect("instance");
            let encoder = instance.open_encoder(&options, &schema.to_contract()).await.expect("opens");
            instance
                .encode(encoder, &map_with_null_key())
                .await
                .map(|frames| String::from_utf8(frames.data).expect("UTF-8"))
        }
    };
    let err = encode(vec![]).await.expect_err("FAIL is the default");
    assert!(err.to_string().contains("map-null-key.mode"), "the error says which option to set: {err}");
    assert_eq!(encode(vec![("map-null-key.mode", "DROP")]).await.expect("drops"), r#"{"m":{"a":2}}"#);
    assert_eq!(encode(vec![("map-null-key.mode", "LITERAL")]).await.expect("literal"), r#"{"m":{"null":1,"a":2}}"#);
    let custom = vec![("map-null-key.mode", "LITERAL"), ("map-null-key.literal", "<none>")];
    assert_eq!(encode(custom).await.expect("literal"), r#"{"m":{"<none>":1,"a":2}}"#);
}

#[tokio::test]
async fn golden_json_decimal_plain() {
    golden("json", "decimal-plain").await;
}
