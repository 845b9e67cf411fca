//! The formats' acceptance tests: golden files (input → rows as Flink prints
//! them → encoded bytes), round trips of every type, malformed input with
//! position-bearing errors and the skip counter, and Flink's option
//! defaults checked one by one.

use weir_tests::{Golden, runtime};

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
