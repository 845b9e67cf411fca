//! The foundation's acceptance tests: real guest components loaded by the
//! real host — spec, option validation, a 10,000-row bit-exact round trip
//! through a guest and Arrow, traps contained, the catalog and the cache.

use std::sync::Arc;

use arrow_array::types::Decimal128Type;
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Float32Array, Float64Array, Int8Array, Int16Array,
    Int32Array, Int64Array, PrimitiveArray, RecordBatch, StringArray, Time32MillisecondArray,
    TimestampMicrosecondArray, TimestampNanosecondArray,
};
use weir::batch::{self, ChangelogBatch};
use weir::catalog::{Catalog, Origin, Role};
use weir::engine::EngineConfig;
use weir::model::Schema;
use weir::options::OptionsError;
use weir::policy::Grants;
use weir::{Error, GuestError, TrapReason};
use weir_tests::guests::{PANIC_FORMAT, ROUNDTRIP_FORMAT};
use weir_tests::{Rng, opts, runtime, runtime_with};

const ROWS: usize = 10_000;

/// `v`, or null for about one value in seven.
fn opt<T>(r: &mut Rng, v: T) -> Option<T> {
    if r.next().is_multiple_of(7) { None } else { Some(v) }
}

fn all_types_schema() -> Schema {
    let mut schema = weir::schema![
        ("b", Boolean),
        ("ti", TinyInt),
        ("si", SmallInt),
        ("i", Int),
        ("bi", BigInt),
        ("f", Float),
        ("d", Double),
        ("dec", Decimal { precision: 38, scale: 10 }),
        ("s", String),
        ("by", Bytes),
        ("dt", Date),
        ("t", Time(3)),
        ("ts", Timestamp(6)),
        ("tsl", TimestampLtz(9)),
    ];
    schema.fields[3].nullable = false; // INT NOT NULL: a column without nulls
    schema
}

/// 10,000 rows of every scalar type, nulls in every nullable column, and
/// values chosen to catch lossy handling: NaN payloads, -0.0, infinities,
/// extreme integers, multi-byte UTF-8, empty strings, 0xFF bytes.
fn all_types_batch() -> ChangelogBatch {
    let specials = [
        f64::NAN,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE / 2.0,
        f64::from_bits(0x7ff8_dead_beef_0001),
    ];
    let texts = ["", "Alice", "wörld", "日本語", "emoji 🦀", "a|b,c\"d\n"];
    let mut r = Rng(0xfeed);
    let b: BooleanArray = (0..ROWS).map(|i| opt(&mut r, i % 3 == 0)).collect();
    let ti: Int8Array = (0..ROWS).map(|i| opt(&mut r, [i8::MIN, -1, 0, 1, i8::MAX][i % 5])).collect();
    let si: Int16Array = (0..ROWS).map(|i| opt(&mut r, (i as i16).wrapping_mul(77))).collect();
    let i: Int32Array = (0..ROWS).map(|i| Some([i32::MIN, i32::MAX, 0, i as i32][i % 4])).collect();
    let bi: Int64Array = (0..ROWS)
        .map(|_| {
            let v = r.next() as i64;
            opt(&mut r, v)
        })
        .collect();
    let f: Float32Array = (0..ROWS).map(|i| opt(&mut r, (i as f32) * 1.5 - 1e6)).collect();
    let d: Float64Array = (0..ROWS)
        .map(|i| {
            let v = if i % 10 == 0 { specials[i / 10 % specials.len()] } else { f64::from_bits(r.next() >> 2) };
            opt(&mut r, v)
        })
        .collect();
    let dec = (0..ROWS)
        .map(|i| {
            let v = if i % 2 == 0 { 10i128.pow(37) - 1 } else { -(r.next() as i128) * 12345 };
            opt(&mut r, v)
        })
        .collect::<PrimitiveArray<Decimal128Type>>()
        .with_precision_and_scale(38, 10)
        .expect("valid decimal type");
    let s: StringArray = (0..ROWS).map(|i| opt(&mut r, format!("{}-{i}", texts[i % texts.len()]))).collect();
    let bytes: Vec<Option<Vec<u8>>> =
        (0..ROWS).map(|i| opt(&mut r, (0..(i % 17) as u8).map(|k| k.wrapping_mul(31) | 0x80).collect())).collect();
    let by = BinaryArray::from_iter(bytes);
    let dt: Date32Array = (0..ROWS).map(|i| opt(&mut r, i as i32 - 5000)).collect();
    let t: Time32MillisecondArray = (0..ROWS).map(|i| opt(&mut r, (i as i32 * 8_641) % 86_400_000)).collect();
    let ts: TimestampMicrosecondArray = (0..ROWS)
        .map(|_| {
            let v = r.next() as i64 >> 8;
            opt(&mut r, v)
        })
        .collect();
    let tsl = (0..ROWS)
        .map(|_| {
            let v = r.next() as i64 >> 1;
            opt(&mut r, v)
        })
        .collect::<TimestampNanosecondArray>()
        .with_timezone("UTC");

    let columns: Vec<ArrayRef> = vec![
        Arc::new(b),
        Arc::new(ti),
        Arc::new(si),
        Arc::new(i),
        Arc::new(bi),
        Arc::new(f),
        Arc::new(d),
        Arc::new(dec),
        Arc::new(s),
        Arc::new(by),
        Arc::new(dt),
        Arc::new(t),
        Arc::new(ts),
        Arc::new(tsl),
    ];
    let arrow_schema = all_types_schema().to_arrow().expect("schema converts");
    let rows = RecordBatch::try_new(Arc::new(arrow_schema), columns).expect("valid record batch");
    let row_kinds = (0..ROWS).map(|i| (i % 4) as u8).collect();
    ChangelogBatch { rows, row_kinds }
}

/// Compares two batches buffer by buffer: bit-exact, NaN payloads included
/// (Arrow's `==` would treat NaN as unequal and -0.0 as 0.0).
fn assert_bit_exact(expected: &ChangelogBatch, actual: &ChangelogBatch) {
    assert_eq!(expected.row_kinds, actual.row_kinds, "row kinds");
    assert_eq!(expected.rows.schema(), actual.rows.schema(), "schema");
    assert_eq!(expected.rows.num_rows(), actual.rows.num_rows(), "row count");
    for (c, (e, a)) in expected.rows.columns().iter().zip(actual.rows.columns()).enumerate() {
        let name = expected.rows.schema().field(c).name().clone();
        let (e, a) = (e.to_data(), a.to_data());
        assert_eq!(e.nulls(), a.nulls(), "validity of column {name}");
        assert_eq!(e.buffers().len(), a.buffers().len(), "buffers of column {name}");
        for (k, (eb, ab)) in e.buffers().iter().zip(a.buffers()).enumerate() {
            if eb.as_slice() != ab.as_slice() {
                let at = eb.as_slice().iter().zip(ab.as_slice()).position(|(x, y)| x != y);
                panic!("column {name}: buffer {k} differs (first differing byte {at:?})");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn spec_is_read_from_a_test_format() {
    let runtime = runtime_with(&[ROUNDTRIP_FORMAT]).await;
    let entry = runtime.catalog().find("roundtrip", Role::Format).expect("found");
    assert_eq!(entry.kind, weir::spec::Kind::Format);
    assert_eq!(entry.loaded().expect("load the component").wit_version, "0.1.0");
    let keys: Vec<&str> = entry.spec.options.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["marker", "strict"]);
    assert!(entry.spec.options[0].required);
    assert_eq!(entry.spec.options[1].default_value.as_deref(), Some("true"));
    assert_eq!(entry.spec.changelog_mode.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn options_are_validated_with_clear_errors() {
    let runtime = runtime_with(&[ROUNDTRIP_FORMAT]).await;
    let schema = weir::schema![("x", Int)];

    let missing = runtime.decoder("Orders", "roundtrip", &opts(&[]), &schema).await.err().expect("missing key fails");
    let msg = missing.to_string();
    assert!(
        matches!(&missing, Error::Options(e) if matches!(&**e, OptionsError::Missing { key, .. } if key == "roundtrip.marker")),
        "{msg}"
    );
    assert!(msg.contains("table 'Orders'") && msg.contains("requires option 'roundtrip.marker'"), "{msg}");

    let unknown = runtime
        .decoder("Orders", "roundtrip", &opts(&[("marker", "m"), ("colour", "red")]), &schema)
        .await
        .err()
        .expect("unknown key fails");
    let msg = unknown.to_string();
    assert!(msg.contains("unsupported option 'roundtrip.colour'"), "{msg}");
    assert!(msg.contains("supported options: roundtrip.marker, roundtrip.strict"), "{msg}");

    let bad = runtime
        .decoder("Orders", "roundtrip", &opts(&[("marker", "m"), ("strict", "maybe")]), &schema)
        .await
        .err()
        .expect("bad boolean fails");
    assert!(
        bad.to_string()
            .contains("option 'roundtrip.strict' of format 'roundtrip' expects true or false, but got 'maybe'"),
        "{bad}"
    );

    // The component's own validation runs after the host's; its key is named
    // as users write it, with the format's prefix.
    let guest = runtime
        .decoder("Orders", "roundtrip", &opts(&[("marker", "")]), &schema)
        .await
        .err()
        .expect("empty marker fails");
    assert!(
        matches!(&guest, Error::Guest { component, error: GuestError::Config { key: Some(k), .. } } if component == "roundtrip" && k == "roundtrip.marker"),
        "{guest}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_rows_round_trip_bit_exact_through_a_guest() {
    let runtime = runtime_with(&[ROUNDTRIP_FORMAT]).await;
    let schema = all_types_schema();
    let options = opts(&[("marker", "m")]);
    let mut encoder = runtime.encoder("t", "roundtrip", &options, &schema).await.expect("encoder");
    let mut decoder = runtime.decoder("t", "roundtrip", &options, &schema).await.expect("decoder");

    let original = all_types_batch();
    assert!(
        original.rows.columns().iter().enumerate().all(|(i, c)| i == 3 || c.null_count() > 0),
        "every nullable column has nulls"
    );

    // Arrow → boundary batch → guest encoder → frames → guest decoder →
    // boundary batch → Arrow.
    let frames = encoder.encode(&original).await.expect("encode");
    assert_eq!(frames.len(), ROWS, "one frame per row");
    let decoded = decoder.decode(&frames).await.expect("decode");
    assert_bit_exact(&original, &decoded);

    // And the boundary batch itself survives host → Arrow → host unchanged.
    let direct = batch::from_arrow(&original).expect("from arrow");
    let again = batch::to_arrow("host", &schema.to_contract(), direct).expect("to arrow");
    assert_bit_exact(&original, &again);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_guest_is_contained_and_named() {
    let runtime = runtime_with(&[PANIC_FORMAT, ROUNDTRIP_FORMAT]).await;
    let schema = weir::schema![("x", Int)];
    let mut decoder = runtime.decoder("t", "panicky", &[], &schema).await.expect("opens");

    let err = decoder.decode(&weir::Frames::new(["a", "b"])).await.expect_err("the guest panics");
    let Error::Trap { component, reason, stderr } = &err else { panic!("expected a trap, got {err}") };
    assert_eq!(component, "panicky");
    assert_eq!(*reason, TrapReason::Panic);
    assert!(stderr.contains("panicky decoder asked to decode 2 frames"), "stderr: {stderr}");
    assert!(err.to_string().starts_with("component 'panicky' was stopped: the component panicked"), "{err}");
    assert!(decoder.instance().is_poisoned());

    // The trapped instance refuses further calls instead of misbehaving…
    let again = decoder.decode(&weir::Frames::new(["c"])).await.expect_err("poisoned");
    assert!(again.to_string().contains("instance already stopped earlier"), "{again}");

    // …and the host keeps serving: a new instance of another component works.
    let mut ok = runtime.decoder("t", "roundtrip", &opts(&[("marker", "m")]), &schema).await.expect("opens");
    let batch = ok.decode(&weir::Frames::new::<[&[u8]; 0], &[u8]>([])).await.expect("decodes nothing");
    assert_eq!(batch.rows.num_rows(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn builtin_raw_format_decodes_and_reports_bad_records() {
    let runtime = runtime().await;
    let text = weir::schema![("line", String)];
    let mut d = runtime.decoder("t", "raw", &[], &text).await.expect("raw decoder");
    let rows = d.decode(&weir::Frames::new(["hello", "wörld"])).await.expect("decodes");
    let col = rows.rows.column(0).as_any().downcast_ref::<StringArray>().expect("strings");
    assert_eq!(col.iter().collect::<Vec<_>>(), [Some("hello"), Some("wörld")]);

    let bad = d.decode(&weir::Frames::new([&b"ok"[..], &[0xff, 0xfe][..]])).await.expect_err("invalid UTF-8");
    assert!(
        matches!(&bad, Error::Guest { error: GuestError::Data { position: 1, .. }, .. }),
        "the error gives the record's position: {bad}"
    );

    let int = weir::schema![("n", Int)];
    let opts_le = opts(&[("endianness", "little-endian")]);
    let mut d = runtime.decoder("t", "raw", &opts_le, &int).await.expect("raw int decoder");
    let rows = d.decode(&weir::Frames::new([[1u8, 0, 0, 0], [0xff, 0xff, 0xff, 0xff]])).await.expect("decodes");
    let col = rows.rows.column(0).as_any().downcast_ref::<Int32Array>().expect("ints");
    assert_eq!(col.values().to_vec(), [1, -1]);

    let two_columns = weir::schema![("a", Int), ("b", Int)];
    let err = runtime.decoder("Wide", "raw", &[], &two_columns).await.err().expect("raw needs one column");
    assert!(err.to_string().contains("needs exactly one column, the table has 2"), "{err}");

    let unknown = runtime.decoder("t", "raw", &opts(&[("charst", "UTF-8")]), &text).await.err().expect("typo");
    assert!(unknown.to_string().contains("did you mean 'raw.charset'"), "{unknown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn blackhole_sink_swallows_and_counts() {
    let runtime = runtime().await;
    let entry = runtime.catalog().find("blackhole", Role::Sink).expect("built-in");
    let schema = weir::schema![("x", Int)];
    let context = weir::handles::WriterContext { parallelism: 1, ..Default::default() };
    let mut writer =
        weir::handles::SinkWriter::open(entry, &[], &schema, &context, &[], &Grants::none()).await.expect("writer");
    let rows = ChangelogBatch {
        rows: RecordBatch::try_new(
            Arc::new(schema.to_arrow().expect("schema")),
            vec![Arc::new(Int32Array::from((0..1234).collect::<Vec<i32>>()))],
        )
        .expect("batch"),
        row_kinds: vec![],
    };
    writer.write_rows(&rows).await.expect("write");
    writer.write_rows(&rows).await.expect("write");
    assert!(writer.prepare_commit(1).await.expect("prepare").is_empty());
    writer.commit(&[]).await.expect("commit");
    assert_eq!(writer.instance().metrics().counters.get("rows-discarded"), Some(&2468));
}

#[tokio::test(flavor = "multi_thread")]
async fn plugin_directory_extends_the_catalog_and_reports_bad_files() {
    let dir = std::env::temp_dir().join(format!("weir-plugins-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::copy(ROUNDTRIP_FORMAT, dir.join("roundtrip.wasm")).expect("copy");
    std::fs::copy(ROUNDTRIP_FORMAT, dir.join("roundtrip-again.wasm")).expect("copy");
    std::fs::write(dir.join("garbage.wasm"), b"not a component").expect("write");
    std::fs::write(dir.join("notes.txt"), b"ignored").expect("write");

    let engine = Arc::new(weir::engine::Engine::new(&weir_tests::engine_config()).expect("engine"));
    let (catalog, problems) = Catalog::load(engine, Some(&dir)).await.expect("catalog loads despite bad plugins");
    let ids: Vec<&str> = catalog.entries().iter().map(|e| e.spec.identifier.as_str()).collect();
    assert_eq!(
        ids,
        [
            "raw",
            "csv",
            "json",
            "changelog-csv",
            "debezium-json",
            "canal-json",
            "maxwell-json",
            "ogg-json",
            "blackhole",
            "datagen",
            "print",
            "socket",
            "filesystem",
            "kafka",
            "upsert-kafka",
            "jdbc",
            "chroma",
            "roundtrip"
        ]
    );
    assert_eq!(
        catalog.find("roundtrip", Role::Format).expect("found").origin,
        Origin::File(dir.join("roundtrip-again.wasm"))
    );

    let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    let garbage = messages.iter().find(|m| m.contains("garbage.wasm")).expect("garbage.wasm reported");
    assert!(garbage.contains("not a WebAssembly component") && !garbage.contains('\n'), "one line: {garbage}");
    assert!(
        messages.iter().any(|m| m.contains("declares identifier 'roundtrip', already provided by")),
        "{messages:#?}"
    );

    let missing = catalog.find("roundtrip", Role::Source).err().expect("not a source");
    assert!(missing.to_string().contains("no source connector named 'roundtrip'"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn compiled_components_are_cached_on_disk() {
    let _ = runtime().await;
    let cached = std::fs::read_dir(weir_tests::cache_dir())
        .expect("cache dir exists")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .count();
    assert!(cached >= 2, "expected the built-ins precompiled in the cache, found {cached}");
}

/// A process reads the built-ins' specs from the compile cache and loads a
/// component only when its job uses it (start-up cost grows with what a
/// job uses, not with the size of the catalog).
#[tokio::test(flavor = "multi_thread")]
async fn builtin_specs_come_from_the_cache_and_components_load_on_first_use() {
    let dir = std::env::temp_dir().join(format!("weir-catalog-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let engine = || {
        let config = EngineConfig { cache_dir: Some(dir.clone()), ..EngineConfig::default() };
        Arc::new(weir::engine::Engine::new(&config).expect("engine"))
    };
    let (first, problems) = Catalog::load(engine(), None).await.expect("catalog");
    assert!(problems.is_empty(), "{problems:?}");
    assert!(first.entries().iter().all(|e| e.is_loaded()), "a cold cache loads every built-in to read its spec");
    let (second, _) = Catalog::load(engine(), None).await.expect("catalog");
    assert!(second.entries().iter().all(|e| !e.is_loaded()), "a warm cache loads none");
    assert_eq!(second.entries().len(), first.entries().len());
    for (a, b) in first.entries().iter().zip(second.entries()) {
        assert_eq!((&a.spec, a.kind), (&b.spec, b.kind));
    }
    let csv = second.find("csv", Role::Format).expect("csv");
    assert_eq!(csv.loaded().expect("loads").kind, csv.kind);
    assert!(csv.is_loaded());
    assert_eq!(second.entries().iter().filter(|e| e.is_loaded()).count(), 1, "only what was used");
    let _ = std::fs::remove_dir_all(&dir);
}
