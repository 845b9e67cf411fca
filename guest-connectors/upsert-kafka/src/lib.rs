//! Flink's `upsert-kafka` connector: the `kafka` connector's client,
//! reader and writer in upsert mode.
//!
//! - The key is the table's PRIMARY KEY, encoded with `key.format`; the
//!   value with `value.format` (`value.fields-include` as in Flink).
//! - **Reading** starts at the earliest offset; a record with a value is a
//!   +I (the value format's row), a tombstone (null value) a -D of its key.
//! - **Writing**: +I and +U write the row under its key, -D writes a
//!   tombstone, -U is dropped (the +U that follows replaces the value).
//!   `sink.buffer-flush.max-rows` / `.interval` keep only the last row per
//!   key in a buffer before it is produced, as Flink's reducing buffer.

use weir_sdk::{Error, Result, Schema};

/// The table must have a PRIMARY KEY: its columns are the record key.
pub fn primary_key(schema: &Schema) -> Result<()> {
    if schema.primary_key.is_empty() {
        return Err(Error::config(
            None,
            "an upsert-kafka table needs a PRIMARY KEY (…) NOT ENFORCED: its columns are the record key",
        ));
    }
    Ok(())
}

weir_connector_kafka::kafka_component!(
    UpsertKafka,
    spec: weir_connector_kafka::upsert_spec,
    upsert: true,
    check: crate::primary_key
);
