//! Decode and encode throughput of the csv, json and debezium-json formats, inside WASM
//! through the runtime versus the same crates compiled natively, on
//! generated rows with a mixed schema (ints, doubles, strings, timestamps,
//! nulls).
//!
//! ```text
//! cargo bench -p weir-tests --bench formats            # 100 MB per format
//! cargo bench -p weir-tests --bench formats -- --mb 20 # quicker
//! cargo bench -p weir-tests --bench formats -- --no-epoch  # cost of epoch checks
//! cargo bench -p weir-tests --bench formats -- --only csv  # one format
//! ```
//!
//! Both sides decode the same frames into the contract's batch and encode
//! those batches back; the encoded bytes of both sides are compared, so the
//! figures are for identical work. Each measurement is the best of
//! `--runs` passes (default 5), native and wasm passes alternating over all the data.

use std::time::{Duration, Instant};

use weir::Runtime;
use weir_sdk::Format;
use weir_tests::{Rng, parse_schema};

/// The mixed schema of the generated rows.
const SCHEMA: &str = "id BIGINT NOT NULL, qty INT, price DOUBLE, score DOUBLE, name STRING, \
    comment STRING, created TIMESTAMP(3), updated TIMESTAMP(3)";

/// Rows per decode / encode call: one batch as a connector would hand it.
const BATCH_ROWS: usize = 4096;

const NAMES: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"];
const WORDS: &[&str] =
    &["quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "then", "rests,", "naïve", "日本"];

/// One generated row, as the values both layouts are written from.
struct Row {
    id: u64,
    qty: Option<i32>,
    price: f64,
    score: Option<f64>,
    name: String,
    comment: Option<String>,
    created: String,
    updated: Option<String>,
}

fn row(r: &mut Rng, id: u64) -> Row {
    let timestamp = |r: &mut Rng| {
        format!(
            "2024-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
            1 + r.below(12),
            1 + r.below(28),
            r.below(24),
            r.below(60),
            r.below(60),
            r.below(1000)
        )
    };
    Row {
        id,
        qty: (r.below(10) != 0).then(|| r.below(1000) as i32 - 100),
        price: r.below(10_000_000) as f64 / 100.0,
        score: (r.below(5) != 0).then(|| (r.next() >> 11) as f64 / (1u64 << 53) as f64),
        name: format!("{}{}", NAMES[r.below(NAMES.len() as u64) as usize], r.below(1000)),
        comment: (r.below(3) != 0).then(|| {
            (0..1 + r.below(8)).map(|_| WORDS[r.below(WORDS.len() as u64) as usize]).collect::<Vec<_>>().join(" ")
        }),
        created: timestamp(r),
        updated: (r.below(10) != 0).then(|| timestamp(r)),
    }
}

fn csv_line(row: &Row, out: &mut String) {
    use std::fmt::Write;
    let opt = |v: Option<String>| v.unwrap_or_default();
    let comment = match &row.comment {
        Some(c) if c.contains(',') => format!("\"{c}\""),
        Some(c) => c.clone(),
        None => String::new(),
    };
    let _ = write!(
        out,
        "{},{},{},{},{},{},{},{}",
        row.id,
        opt(row.qty.map(|v| v.to_string())),
        row.price,
        opt(row.score.map(|v| v.to_string())),
        row.name,
        comment,
        row.created,
        opt(row.updated.clone())
    );
}

fn json_line(row: &Row, out: &mut String) {
    use std::fmt::Write;
    let num = |v: Option<String>| v.unwrap_or_else(|| "null".to_owned());
    let text = |v: &Option<String>| v.as_ref().map_or_else(|| "null".to_owned(), |s| format!("\"{s}\""));
    let _ = write!(
        out,
        r#"{{"id":{},"qty":{},"price":{},"score":{},"name":"{}","comment":{},"created":"{}","updated":{}}}"#,
        row.id,
        num(row.qty.map(|v| v.to_string())),
        row.price,
        num(row.score.map(|v| v.to_string())),
        row.name,
        text(&row.comment),
        row.created,
        text(&row.updated)
    );
}

/// A Debezium change event of the row: mostly creates, every fourth an
/// update (before and after images), every tenth a delete.
fn debezium_line(row: &Row, out: &mut String) {
    let mut image = String::new();
    json_line(row, &mut image);
    match row.id % 10 {
        0 => out.push_str(&format!(r#"{{"before":{image},"after":null,"op":"d"}}"#)),
        id if id % 4 == 1 => out.push_str(&format!(r#"{{"before":{image},"after":{image},"op":"u"}}"#)),
        _ => out.push_str(&format!(r#"{{"before":null,"after":{image},"op":"c"}}"#)),
    }
}

/// Frames in batches of `BATCH_ROWS`, about `mb` megabytes in all.
struct Data {
    batches: Vec<(Vec<i32>, Vec<u8>)>,
    rows: usize,
    bytes: usize,
}

fn generate(mb: usize, line: fn(&Row, &mut String)) -> Data {
    let mut r = Rng(0x5eed);
    let (mut batches, mut rows, mut bytes) = (Vec::new(), 0, 0);
    let mut text = String::new();
    while bytes < mb * 1_000_000 {
        let (mut offsets, mut data) = (vec![0i32], Vec::new());
        for _ in 0..BATCH_ROWS {
            text.clear();
            line(&row(&mut r, rows as u64), &mut text);
            data.extend_from_slice(text.as_bytes());
            offsets.push(data.len() as i32);
            rows += 1;
        }
        bytes += data.len();
        batches.push((offsets, data));
    }
    Data { batches, rows, bytes }
}

/// Options with every default filled in, as the host passes them.
fn options_of<F: Format>() -> Vec<(String, String)> {
    F::spec().options.iter().filter_map(|o| Some((o.key.clone(), o.default_value.clone()?))).collect()
}

struct Figures {
    native_decode: Duration,
    wasm_decode: Duration,
    native_encode: Duration,
    wasm_encode: Duration,
}

async fn measure<F: Format>(runtime: &Runtime, format: &str, data: &Data, runs: usize) -> Figures {
    let schema = parse_schema(SCHEMA);
    let options = options_of::<F>();
    let native_schema: weir_sdk::Schema = sdk_schema(&schema);

    // Native: the format crate called directly. WASM: the component through
    // the runtime (lowering, guest code, lifting). Passes alternate between
    // the two so both see the same machine; the best pass of each counts.
    let mut native = F::open(&options, &native_schema).unwrap_or_else(|e| panic!("{format}: {}", e.message()));
    let native_frames: Vec<weir_sdk::VarData> =
        data.batches.iter().map(|(o, d)| weir_sdk::VarData { offsets: o.clone(), data: d.clone() }).collect();
    let mut decoder = runtime.decoder("bench", format, &[], &schema).await.expect("decoder");
    let mut encoder = runtime.encoder("bench", format, &[], &schema).await.expect("encoder");
    let wasm_frames: Vec<weir::Frames> =
        data.batches.iter().map(|(o, d)| weir::Frames::from_parts(o.clone(), d.clone()).expect("frames")).collect();

    let (mut native_decode, mut wasm_decode) = (Duration::MAX, Duration::MAX);
    let (mut native_batches, mut wasm_batches) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        native_batches = native_frames.iter().map(|f| native.decode(f).expect("native decode")).collect();
        native_decode = native_decode.min(start.elapsed());

        let start = Instant::now();
        let mut batches = Vec::with_capacity(wasm_frames.len());
        for frames in &wasm_frames {
            batches.push(decoder.decode_contract(frames).await.expect("wasm decode"));
        }
        wasm_decode = wasm_decode.min(start.elapsed());
        wasm_batches = batches;
    }

    let (mut native_encode, mut wasm_encode) = (Duration::MAX, Duration::MAX);
    let (mut native_out, mut wasm_out) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        native_out = native_batches.iter().map(|b| native.encode(b).expect("native encode").data).collect();
        native_encode = native_encode.min(start.elapsed());

        let start = Instant::now();
        let mut out = Vec::with_capacity(wasm_batches.len());
        for batch in &wasm_batches {
            out.push(encoder.encode_contract(batch).await.expect("wasm encode").into_parts().1);
        }
        wasm_encode = wasm_encode.min(start.elapsed());
        wasm_out = out;
    }
    assert!(native_out == wasm_out, "{format}: native and wasm encoders wrote different bytes");
    Figures { native_decode, wasm_decode, native_encode, wasm_encode }
}

/// The same schema in the SDK's binding types (one WIT, two bindings).
fn sdk_schema(schema: &weir::Schema) -> weir_sdk::Schema {
    use weir::DataType as H;
    use weir_sdk::LogicalType as G;
    let ty = |t: &H| match t {
        H::BigInt => G::Bigint,
        H::Int => G::Int,
        H::Double => G::Double,
        H::String => G::String,
        H::Timestamp(p) => G::Timestamp(*p),
        other => panic!("the benchmark schema has no {other:?}"),
    };
    weir_sdk::Schema {
        fields: schema
            .fields
            .iter()
            .map(|f| weir_sdk::Field { name: f.name.clone(), data_type: ty(&f.data_type), nullable: f.nullable })
            .collect(),
        nested: Vec::new(),
        primary_key: Vec::new(),
    }
}

fn line(format: &str, what: &str, data: &Data, native: Duration, wasm: Duration) {
    let rate = |d: Duration| (data.rows as f64 / d.as_secs_f64(), data.bytes as f64 / 1e6 / d.as_secs_f64());
    let ((nr, nm), (wr, wm)) = (rate(native), rate(wasm));
    println!(
        "{format:<13} {what:<6} {:>12.0} {:>9.1} {:>12.0} {:>9.1} {:>7.2}",
        nr,
        nm,
        wr,
        wm,
        native.as_secs_f64() / wasm.as_secs_f64()
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number")))
    };
    let (mb, runs) = (arg("--mb", 100), arg("--runs", 5));
    let epoch = !args.iter().any(|a| a == "--no-epoch");
    let pooling = !args.iter().any(|a| a == "--no-pooling");
    let config = weir::RuntimeConfig {
        engine: weir::engine::EngineConfig { epoch_interruption: epoch, pooling, ..weir_tests::engine_config() },
        plugin_dir: None,
    };
    let (runtime, _) = Runtime::new(config).await.expect("runtime starts");
    println!(
        "Weir format throughput: {mb} MB of generated rows per format, {BATCH_ROWS} rows per call, best of {runs}"
    );
    println!("schema: {SCHEMA}");
    println!("epoch interruption: {}", if epoch { "on (default)" } else { "off (--no-epoch)" });
    println!("instance allocation: {}", if pooling { "pooling (default)" } else { "on demand (--no-pooling)" });
    println!();
    println!("{:<13} {:<6} {:>12} {:>9} {:>12} {:>9} {:>7}", "", "", "native", "", "wasm", "", "wasm/");
    println!("{:<13} {:<6} {:>12} {:>9} {:>12} {:>9} {:>7}", "fmt", "op", "rows/s", "MB/s", "rows/s", "MB/s", "native");
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1));
    let formats = [("csv", csv_line as fn(&Row, &mut String)), ("json", json_line), ("debezium-json", debezium_line)];
    for (format, gen_line) in formats {
        if only.is_some_and(|o| o != format) {
            continue;
        }
        let data = generate(mb, gen_line);
        let figures = match format {
            "csv" => measure::<weir_format_csv::Csv>(&runtime, format, &data, runs).await,
            "json" => measure::<weir_format_json::Json>(&runtime, format, &data, runs).await,
            _ => measure::<weir_format_debezium_json::DebeziumJson>(&runtime, format, &data, runs).await,
        };
        line(format, "decode", &data, figures.native_decode, figures.wasm_decode);
        line(format, "encode", &data, figures.native_encode, figures.wasm_encode);
    }
}
