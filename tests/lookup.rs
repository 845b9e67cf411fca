//! The lookup-table and vector-index handles against a component that
//! implements both (`tests/guests/lookup-source`): Arrow keys in, matching
//! rows tagged with their key out; a query vector in, the top-k rows with
//! scores out — and a component whose answers do not add up is refused with
//! an error naming it, never passed on.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use arrow_array::{Int64Array, RecordBatch};
use weir::catalog::Role;
use weir::handles::{LookupTable, VectorIndex};
use weir::model::{DataType, Field, Schema};
use weir::options::{Target, validate};
use weir::policy::Grants;
use weir::{ChangelogBatch, Error, Runtime};
use weir_tests::guests::LOOKUP_SOURCE;
use weir_tests::{opts, runtime_with};

fn products() -> Schema {
    Schema::new(vec![
        Field::new("id", DataType::BigInt).not_null(),
        Field::new("name", DataType::String),
        Field::new("embedding", DataType::array(DataType::Float)),
    ])
}

fn options(runtime: &Runtime, given: &[(&str, &str)]) -> Vec<(String, String)> {
    let entry = runtime.catalog().find("lookup-source", Role::Source).expect("loaded");
    let target = Target { table: "Products", role: "connector", prefix: None };
    validate(target, &entry.spec, &opts(given)).expect("valid options")
}

async fn lookup_table(runtime: &Runtime, given: &[(&str, &str)]) -> weir::Result<LookupTable> {
    let entry = runtime.catalog().find("lookup-source", Role::Source).expect("loaded");
    LookupTable::open(entry, &options(runtime, given), &products(), &[0], &Grants::none()).await
}

async fn vector_index(runtime: &Runtime, given: &[(&str, &str)]) -> weir::Result<VectorIndex> {
    let entry = runtime.catalog().find("lookup-source", Role::Source).expect("loaded");
    VectorIndex::open(entry, &options(runtime, given), &products(), 2, &Grants::none()).await
}

fn keys(table: &LookupTable, ids: &[i64]) -> ChangelogBatch {
    let schema = Arc::new(table.key_schema().to_arrow().expect("arrow schema"));
    let rows = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(ids.to_vec()))]).expect("keys");
    ChangelogBatch { rows, row_kinds: Vec::new() }
}

#[tokio::test(flavor = "multi_thread")]
async fn lookups_return_each_match_tagged_with_its_key() {
    let runtime = runtime_with(&[LOOKUP_SOURCE]).await;
    let mut table = lookup_table(&runtime, &[("rows", "50")]).await.expect("opens");
    assert_eq!(table.key_schema().fields[0].name, "id");
    // 7 and 3 exist, 99 does not (no row for it), 7 is asked twice.
    let found = table.lookup(&keys(&table, &[7, 99, 3, 7])).await.expect("looks up");
    let ids = found.rows.rows.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, [7, 3, 7]);
    assert_eq!(found.matches, [0, 2, 3], "each row names the key row it answers");
    let names = found.rows.rows.column(1).as_string::<i32>();
    assert_eq!(names.value(1), "item-3");
    // An empty lookup is an empty answer.
    let none = table.lookup(&keys(&table, &[])).await.expect("looks up nothing");
    assert_eq!((none.rows.rows.num_rows(), none.matches.len()), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn searches_return_the_nearest_rows_best_first() {
    let runtime = runtime_with(&[LOOKUP_SOURCE]).await;
    let mut index = vector_index(&runtime, &[("rows", "100")]).await.expect("opens");
    let found = index.search(&[41.8, 1.0], 3).await.expect("searches");
    let ids = found.rows.rows.column(0).as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, [42, 41, 43]);
    assert!(found.scores.windows(2).all(|w| w[0] >= w[1]), "best first: {:?}", found.scores);
    let first = found.rows.rows.column(2).as_list::<i32>().value(0);
    assert_eq!(first.as_primitive::<Float32Type>().values().to_vec(), [42.0, 1.0]);
    // A bad query is the component's data error, not a crash.
    let e = index.search(&[1.0], 3).await.expect_err("one dimension").to_string();
    assert!(e.contains("2 dimensions") && e.contains("lookup-source"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_that_do_not_add_up_are_refused() {
    let runtime = runtime_with(&[LOOKUP_SOURCE]).await;
    let refused = |e: Error, what: &str| {
        let text = e.to_string();
        assert!(matches!(e, Error::InvalidBatch { .. }), "{text}");
        assert!(text.contains("lookup-source") && text.contains(what), "{text}");
    };
    let mut table = lookup_table(&runtime, &[("misbehave", "bad-match")]).await.expect("opens");
    refused(table.lookup(&keys(&table, &[1, 2])).await.expect_err("bad tag"), "had 2 keys");
    let mut table = lookup_table(&runtime, &[("misbehave", "missing-tags")]).await.expect("opens");
    refused(table.lookup(&keys(&table, &[1, 2])).await.expect_err("short tags"), "match tags");
    let mut index = vector_index(&runtime, &[("misbehave", "extra-rows")]).await.expect("opens");
    refused(index.search(&[5.0, 1.0], 2).await.expect_err("too many"), "top-2");
    let mut index = vector_index(&runtime, &[("misbehave", "missing-tags")]).await.expect("opens");
    refused(index.search(&[5.0, 1.0], 2).await.expect_err("short scores"), "scores");
}

#[tokio::test(flavor = "multi_thread")]
async fn handles_refuse_columns_that_cannot_be_keys_or_vectors() {
    let runtime = runtime_with(&[LOOKUP_SOURCE]).await;
    let entry = runtime.catalog().find("lookup-source", Role::Source).expect("loaded");
    let options = options(&runtime, &[]);
    let e = LookupTable::open(entry, &options, &products(), &[5], &Grants::none()).await.err().expect("no column 5");
    assert!(e.to_string().contains("not columns"), "{e}");
    let e = VectorIndex::open(entry, &options, &products(), 1, &Grants::none()).await.err().expect("STRING");
    assert!(e.to_string().contains("ARRAY<FLOAT>") && e.to_string().contains("'name' STRING"), "{e}");
    // The component's own refusal (it looks up by id only) names it.
    let e = LookupTable::open(entry, &options, &products(), &[1], &Grants::none()).await.err().expect("by name");
    assert!(e.to_string().contains("lookup-source") && e.to_string().contains("id (column 0)"), "{e}");
}
