//! Lookup joins (Flink's `JOIN dim FOR SYSTEM_TIME AS OF s.proc_time`):
//! each batch of source rows becomes one lookup of its distinct keys in
//! the dimension table's component (one round trip per batch, not per
//! row), answered rows are joined to every source row with that key.
//!
//! The partial cache (`lookup.cache` = `PARTIAL`) lives here, in the host,
//! not in each component: it works the same for components in any
//! language, a hit costs no guest call at all, and its size is bounded by
//! the operator's `lookup.partial-cache.max-rows` rather than by the
//! component's memory limit. As in Flink, it holds up to `max-rows` keys,
//! each with the rows it matched (none, with `cache-missing-key`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array};
use arrow_row::{RowConverter, SortField};
use weir::batch::ChangelogBatch;
use weir::error::{Error, Result};
use weir::handles::LookupTable;
use weir::options::parse_duration;
use weir::policy::Grants;

use super::columns::{joined, nullable, widen, with_computed};
use super::filter::evaluate;
use super::model;
use super::resolve::Resolved;

/// Counters of a lookup join (every reader's together), in progress
/// events and the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Source rows joined.
    pub rows: u64,
    /// Distinct keys (per source batch) answered from the cache.
    pub hits: u64,
    /// Distinct keys (per source batch) asked of the component.
    pub misses: u64,
    /// Calls of the component's `lookup`.
    pub calls: u64,
}

impl LookupStats {
    /// The share of keys the cache answered, 0 to 1.
    pub fn hit_rate(&self) -> f64 {
        self.hits as f64 / (self.hits + self.misses).max(1) as f64
    }
}

/// [`LookupStats`] shared by the readers of one statement.
#[derive(Debug, Default)]
pub(super) struct LookupCounters {
    rows: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    calls: AtomicU64,
}

impl LookupCounters {
    pub(super) fn snapshot(&self) -> LookupStats {
        LookupStats {
            rows: self.rows.load(Ordering::Relaxed),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
        }
    }
}

/// A lookup join's operator: the dimension table's component and the cache.
pub(super) struct Lookup {
    dim: Arc<Resolved>,
    join: model::LookupJoin,
    table: LookupTable,
    /// The dimension table's key columns' schema (what key rows must be),
    /// and it in Arrow: as asked (keys without nulls) and nullable (the
    /// source's key columns).
    key_schema: weir::model::Schema,
    key_arrow: Arc<arrow_schema::Schema>,
    key_arrow_nullable: Arc<arrow_schema::Schema>,
    converter: RowConverter,
    cache: Option<Cache>,
    /// One row of nulls in the dimension table's schema (LEFT joins).
    nulls: RecordBatch,
    pub(super) counters: Arc<LookupCounters>,
}

impl Lookup {
    /// Opens the dimension table's lookup table for `join`.
    pub(super) async fn open(dim: Arc<Resolved>, join: &model::LookupJoin, operator: &Grants) -> Result<Lookup> {
        let table = &dim.table;
        let fail = |m: String| Error::Host(anyhow::anyhow!("table '{}': {m}", table.name));
        let stored = table.stored_columns();
        let key_columns: Vec<usize> =
            join.keys.iter().map(|&(_, d)| stored.iter().position(|&s| s == d).expect("a stored column")).collect();
        let grants = dim.grants(operator)?;
        let handle =
            LookupTable::open(&dim.connector, &dim.options, &table.stored_schema(), &key_columns, &grants).await?;
        let key_schema = handle.key_schema().clone();
        let key_arrow = Arc::new(key_schema.to_arrow().map_err(fail)?);
        let key_arrow_nullable = Arc::new(nullable(&key_arrow));
        let converter =
            RowConverter::new(key_arrow.fields().iter().map(|f| SortField::new(f.data_type().clone())).collect())
                .map_err(|e| fail(format!("lookup keys: {e}")))?;
        let schema = Arc::new(nullable(&table.schema.to_arrow().map_err(fail)?));
        let columns = schema.fields().iter().map(|f| arrow_array::new_null_array(f.data_type(), 1)).collect();
        let nulls = RecordBatch::try_new(schema, columns).map_err(|e| fail(e.to_string()))?;
        Ok(Lookup {
            cache: Cache::from_options(table)?,
            dim,
            join: join.clone(),
            table: handle,
            key_schema,
            key_arrow,
            key_arrow_nullable,
            converter,
            nulls,
            counters: Arc::default(),
        })
    }

    /// The dimension table.
    pub(super) fn table_name(&self) -> &str {
        &self.dim.table.name
    }

    /// `rows` (every source column) joined: the source columns followed by
    /// the dimension table's, one row per match (a LEFT join keeps a source
    /// row without one, with nulls).
    pub(super) async fn join(&mut self, rows: ChangelogBatch) -> Result<ChangelogBatch> {
        let name = self.dim.table.name.clone();
        let fail = |m: String| Error::Host(anyhow::anyhow!("lookup join with '{name}': {m}"));
        let n = rows.rows.num_rows();
        self.counters.rows.fetch_add(n as u64, Ordering::Relaxed);
        // The source's key values, as the dimension table's key types.
        let key_columns: Vec<ArrayRef> = self.join.keys.iter().map(|&(s, _)| rows.rows.column(s).clone()).collect();
        let keys = RecordBatch::try_new(self.key_arrow_nullable.clone(), key_columns.clone()).or_else(|_| {
            // Different (wider) types: cast as the INSERT would.
            let fields = key_columns
                .iter()
                .enumerate()
                .map(|(i, c)| arrow_schema::Field::new(format!("k{i}"), c.data_type().clone(), true))
                .collect::<Vec<_>>();
            let batch = RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), key_columns.clone())
                .map_err(|e| fail(e.to_string()))?;
            let batch = ChangelogBatch { rows: batch, row_kinds: Vec::new() };
            Ok::<_, Error>(widen(&batch, &self.key_schema)?.map_or(batch.rows, |b| b.rows))
        })?;
        let encoded = self.converter.convert_columns(keys.columns()).map_err(|e| fail(e.to_string()))?;
        // Per source row, the distinct key it has (None: a null in the key,
        // which matches nothing).
        let mut distinct: HashMap<&[u8], usize> = HashMap::new();
        let mut order: Vec<usize> = Vec::new();
        let mut row_key: Vec<Option<usize>> = Vec::with_capacity(n);
        for r in 0..n {
            if keys.columns().iter().any(|c| c.is_null(r)) {
                row_key.push(None);
                continue;
            }
            let next = distinct.len();
            let k = *distinct.entry(encoded.row(r).data()).or_insert_with(|| {
                order.push(r);
                next
            });
            row_key.push(Some(k));
        }
        // Each distinct key's rows: (slot, rows in it). Slot 0 is the row
        // of nulls, slot 1 this call's answer, the rest cached answers.
        let mut slots: Vec<RecordBatch> = vec![self.nulls.clone()];
        let mut found: Vec<Option<(usize, Vec<u32>)>> = vec![None; order.len()];
        let mut ask: Vec<usize> = Vec::new();
        for (k, &r) in order.iter().enumerate() {
            match self.cache.as_mut().and_then(|c| c.get(encoded.row(r).data())) {
                Some(batch) => {
                    self.counters.hits.fetch_add(1, Ordering::Relaxed);
                    found[k] = Some((slots.len(), (0..batch.num_rows() as u32).collect()));
                    slots.push(batch);
                }
                None => ask.push(k),
            }
        }
        if !ask.is_empty() {
            self.counters.misses.fetch_add(ask.len() as u64, Ordering::Relaxed);
            self.counters.calls.fetch_add(1, Ordering::Relaxed);
            let indices = UInt32Array::from(ask.iter().map(|&k| order[k] as u32).collect::<Vec<_>>());
            let asked = arrow_select::take::take_record_batch(&keys, &indices).map_err(|e| fail(e.to_string()))?;
            let asked = RecordBatch::try_new(self.key_arrow.clone(), asked.columns().to_vec())
                .map_err(|e| fail(format!("a null key reached the lookup: {e}")))?;
            let answer = self.table.lookup(&ChangelogBatch { rows: asked, row_kinds: Vec::new() }).await?;
            let answer_rows = with_computed(&self.dim.table, answer.rows)?.rows;
            let answer_rows = RecordBatch::try_new(self.nulls.schema(), answer_rows.columns().to_vec())
                .map_err(|e| fail(e.to_string()))?;
            let mut per_key: Vec<Vec<u32>> = vec![Vec::new(); ask.len()];
            for (row, &m) in answer.matches.iter().enumerate() {
                per_key[m as usize].push(row as u32);
            }
            let slot = slots.len();
            slots.push(answer_rows.clone());
            for (i, rows_of) in per_key.into_iter().enumerate() {
                let k = ask[i];
                if let Some(cache) = self.cache.as_mut() {
                    let taken =
                        arrow_select::take::take_record_batch(&answer_rows, &UInt32Array::from(rows_of.clone()))
                            .map_err(|e| fail(e.to_string()))?;
                    cache.put(encoded.row(order[k]).data().to_vec(), taken);
                }
                found[k] = Some((slot, rows_of));
            }
        }
        // The joined rows: source row r with each of its key's matches.
        let mut source_rows: Vec<u32> = Vec::with_capacity(n);
        let mut dim_rows: Vec<(usize, usize)> = Vec::with_capacity(n);
        for (r, k) in row_key.iter().enumerate() {
            let matches = k.and_then(|k| found[k].as_ref()).filter(|(_, rows)| !rows.is_empty());
            match matches {
                Some((slot, rows)) => {
                    for &m in rows {
                        source_rows.push(r as u32);
                        dim_rows.push((*slot, m as usize));
                    }
                }
                None if self.join.left => {
                    source_rows.push(r as u32);
                    dim_rows.push((0, 0));
                }
                None => {}
            }
        }
        let mut dim_columns = Vec::with_capacity(self.nulls.num_columns());
        for (c, field) in self.nulls.schema().fields().iter().enumerate() {
            let arrays: Vec<&dyn Array> = slots.iter().map(|s| s.column(c).as_ref()).collect();
            let column = arrow_select::interleave::interleave(&arrays, &dim_rows).map_err(|e| fail(e.to_string()))?;
            dim_columns.push((field.clone(), column));
        }
        let joined = joined(&rows, source_rows, dim_columns)?;
        self.filter(joined, rows.rows.num_columns())
    }

    /// `WHERE` conditions on the dimension table's columns.
    fn filter(&self, joined: ChangelogBatch, offset: usize) -> Result<ChangelogBatch> {
        if self.join.filters.is_empty() {
            return Ok(joined);
        }
        let n = joined.rows.num_rows();
        let mut keep = vec![true; n];
        for filter in &self.join.filters {
            let mask = evaluate(joined.rows.column(offset + filter.column), filter).map_err(|m| {
                let field = &self.dim.table.schema.fields[filter.column];
                Error::Config(format!(
                    "table '{}': WHERE {} {} {}: {m}",
                    self.dim.table.name, field.name, filter.op, filter.value
                ))
            })?;
            for (k, m) in keep.iter_mut().zip(mask.iter()) {
                *k &= m == Some(true);
            }
        }
        let mask = BooleanArray::from(keep.clone());
        let rows = arrow_select::filter::filter_record_batch(&joined.rows, &mask)
            .map_err(|e| Error::Host(anyhow::anyhow!("filter: {e}")))?;
        let row_kinds = if joined.row_kinds.is_empty() {
            Vec::new()
        } else {
            joined.row_kinds.iter().zip(&keep).filter(|(_, k)| **k).map(|(b, _)| *b).collect()
        };
        Ok(ChangelogBatch { rows, row_kinds })
    }
}

/// The partial cache: key (row-encoded) → the rows it matched.
struct Cache {
    max_keys: usize,
    expire_after_write: Option<Duration>,
    expire_after_access: Option<Duration>,
    cache_missing: bool,
    entries: HashMap<Vec<u8>, Entry>,
}

struct Entry {
    rows: RecordBatch,
    written: Instant,
    accessed: Instant,
}

impl Cache {
    /// Flink's `lookup.cache` options of the dimension table (validated by
    /// the connector's spec already); `None` without a cache.
    fn from_options(table: &model::Table) -> Result<Option<Cache>> {
        let bad = |key: &str, v: &str, want: &str| {
            Error::Config(format!("table '{}': '{key}' = '{v}': expected {want}", table.name))
        };
        let mode = table.option("lookup.cache").unwrap_or("NONE");
        if mode.eq_ignore_ascii_case("NONE") {
            return Ok(None);
        }
        if !mode.eq_ignore_ascii_case("PARTIAL") {
            return Err(bad("lookup.cache", mode, "NONE or PARTIAL (FULL caching is not supported yet)"));
        }
        let duration = |key: &str| -> Result<Option<Duration>> {
            table
                .option(key)
                .map(|v| parse_duration(v).ok_or_else(|| bad(key, v, "a duration such as '10 min'")))
                .transpose()
        };
        let max_keys = match table.option("lookup.partial-cache.max-rows") {
            Some(v) => v.trim().parse::<usize>().map_err(|_| bad("lookup.partial-cache.max-rows", v, "a row count"))?,
            None => {
                return Err(Error::Config(format!(
                    "table '{}': 'lookup.cache' = 'PARTIAL' needs 'lookup.partial-cache.max-rows' (and usually \
                     'lookup.partial-cache.expire-after-write'), as in Flink",
                    table.name
                )));
            }
        };
        let cache_missing = match table.option("lookup.partial-cache.cache-missing-key") {
            Some(v) => v
                .trim()
                .parse::<bool>()
                .map_err(|_| bad("lookup.partial-cache.cache-missing-key", v, "true or false"))?,
            None => true,
        };
        Ok(Some(Cache {
            max_keys: max_keys.max(1),
            expire_after_write: duration("lookup.partial-cache.expire-after-write")?,
            expire_after_access: duration("lookup.partial-cache.expire-after-access")?,
            cache_missing,
            entries: HashMap::new(),
        }))
    }

    fn get(&mut self, key: &[u8]) -> Option<RecordBatch> {
        let now = Instant::now();
        let entry = self.entries.get_mut(key)?;
        let expired = self.expire_after_write.is_some_and(|d| now.duration_since(entry.written) >= d)
            || self.expire_after_access.is_some_and(|d| now.duration_since(entry.accessed) >= d);
        if expired {
            self.entries.remove(key);
            return None;
        }
        entry.accessed = now;
        Some(entry.rows.clone())
    }

    fn put(&mut self, key: Vec<u8>, rows: RecordBatch) {
        if rows.num_rows() == 0 && !self.cache_missing {
            return;
        }
        if self.entries.len() >= self.max_keys && !self.entries.contains_key(&key) {
            // Make room: the least recently used tenth (at least one).
            let mut by_access: Vec<(Instant, Vec<u8>)> =
                self.entries.iter().map(|(k, e)| (e.accessed, k.clone())).collect();
            by_access.sort_unstable_by_key(|(at, _)| *at);
            let evict = (self.max_keys / 10).max(1).min(by_access.len());
            for (_, k) in by_access.into_iter().take(evict) {
                self.entries.remove(&k);
            }
        }
        let now = Instant::now();
        self.entries.insert(key, Entry { rows, written: now, accessed: now });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(max: usize, missing: bool) -> Cache {
        Cache {
            max_keys: max,
            expire_after_write: None,
            expire_after_access: None,
            cache_missing: missing,
            entries: HashMap::new(),
        }
    }

    fn rows(n: usize) -> RecordBatch {
        let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
            "v",
            arrow_schema::DataType::Int32,
            true,
        )]));
        RecordBatch::try_new(schema, vec![Arc::new(arrow_array::Int32Array::from(vec![7; n]))]).expect("batch")
    }

    #[test]
    fn the_cache_keeps_at_most_max_keys_evicting_the_least_recently_used() {
        let mut c = cache(10, true);
        for k in 0..10u8 {
            c.put(vec![k], rows(1));
        }
        std::thread::sleep(Duration::from_millis(2));
        assert!(c.get(&[0]).is_some(), "key 0 is used again");
        c.put(vec![10], rows(1));
        assert!(c.entries.len() <= 10);
        assert!(c.get(&[0]).is_some(), "the recently used key stays");
        assert!(c.get(&[1]).is_none(), "the least recently used key went");
    }

    #[test]
    fn missing_keys_are_cached_only_when_asked() {
        let mut c = cache(10, false);
        c.put(vec![1], rows(0));
        assert!(c.get(&[1]).is_none());
        let mut c = cache(10, true);
        c.put(vec![1], rows(0));
        assert_eq!(c.get(&[1]).map(|b| b.num_rows()), Some(0));
    }

    #[test]
    fn entries_expire_after_write() {
        let mut c = cache(10, true);
        c.expire_after_write = Some(Duration::from_millis(20));
        c.put(vec![1], rows(2));
        assert!(c.get(&[1]).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(c.get(&[1]).is_none());
    }
}
