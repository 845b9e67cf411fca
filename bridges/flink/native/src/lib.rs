//! The native half of Weir's Flink bridge (`'connector' = 'wasm'`): the
//! JNI functions of `dev.weir.flink.Native`, built only on the public API
//! of the Weir library and pipeline — the same resolution, validation,
//! capability checks and component handles `weir run` uses.
//!
//! One [`Bridge`] per loaded library (one per TaskManager JVM and user
//! class loader): a tokio runtime and a Weir runtime (engine + catalog).
//! A Flink subtask holds handles — a source reader, a sink writer, a
//! committer — each its own sandboxed component instances, as a `jlong`.
//! Batches cross as one byte array each ([`columns`]). An error, a
//! component trap or a panic becomes a `dev.weir.flink.WeirException`,
//! which fails the Flink task (Flink restarts it by its restart strategy);
//! nothing unwinds into the JVM.

mod columns;
mod table;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use jni::JNIEnv;
use jni::objects::{JByteArray, JClass, JString};
use jni::objects::{JFloatArray, JIntArray};
use jni::sys::{jboolean, jbyteArray, jint, jlong};
use weir::catalog::Role;
use weir::checkpoint::{SplitState, unhex};
use weir::handles::{LookupTable, Split, VectorIndex};
use weir::{Decoder, Encoder, Frames, Runtime, RuntimeConfig};
use weir_pipeline::{ScanStep, TableCommitter, TableSink, TableSource};

use table::FlinkTable;

/// The Java exception every failure becomes.
const EXCEPTION: &str = "dev/weir/flink/WeirException";

/// What one loaded copy of the library shares.
pub struct Bridge {
    tokio: tokio::runtime::Runtime,
    weir: tokio::sync::RwLock<Runtime>,
    /// Component files loaded into the catalog: path → identifier.
    loaded: tokio::sync::Mutex<HashMap<PathBuf, String>>,
}

static BRIDGE: OnceLock<Result<Bridge, String>> = OnceLock::new();

fn bridge() -> Result<&'static Bridge, String> {
    BRIDGE
        .get_or_init(|| {
            let tokio = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("weir-flink")
                .build()
                .map_err(|e| format!("cannot start the bridge's tokio runtime: {e}"))?;
            let config = RuntimeConfig {
                plugin_dir: std::env::var_os("WEIR_PLUGIN_DIR").map(PathBuf::from),
                ..RuntimeConfig::default()
            };
            let (weir, problems) = tokio
                .block_on(Runtime::new(config))
                .map_err(|e| format!("cannot start the Weir runtime: {}", table::message(&e)))?;
            for problem in problems {
                eprintln!("weir: a plugin was not loaded: {problem}");
            }
            Ok(Bridge { tokio, weir: tokio::sync::RwLock::new(weir), loaded: Default::default() })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs `body` on the bridge; its error (or panic) is thrown as a
/// `WeirException` and `fallback` returned to Java.
fn call<T>(env: &mut JNIEnv<'_>, fallback: T, body: impl FnOnce(&mut JNIEnv<'_>, &Bridge) -> Result<T, String>) -> T {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let bridge = bridge()?;
        body(env, bridge)
    }));
    let message = match outcome {
        Ok(Ok(value)) => return value,
        Ok(Err(message)) => message,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            format!("the Weir bridge failed: {what}")
        }
    };
    if !env.exception_check().unwrap_or(false) {
        let _ = env.throw_new(EXCEPTION, message);
    }
    fallback
}

fn string(env: &mut JNIEnv<'_>, s: &JString<'_>) -> Result<String, String> {
    env.get_string(s).map(Into::into).map_err(|e| format!("a string from Java: {e}"))
}

fn bytes(env: &mut JNIEnv<'_>, array: &JByteArray<'_>) -> Result<Option<Vec<u8>>, String> {
    if array.is_null() {
        return Ok(None);
    }
    env.convert_byte_array(array).map(Some).map_err(|e| format!("a byte array from Java: {e}"))
}

fn array(env: &mut JNIEnv<'_>, bytes: &[u8]) -> Result<jbyteArray, String> {
    env.byte_array_from_slice(bytes).map(JByteArray::into_raw).map_err(|e| format!("a byte array for Java: {e}"))
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The handle behind a `jlong`.
///
/// # Safety
/// `handle` came from `Box::into_raw` of a `T` in this library and was not
/// closed: the Java side owns it and calls from one thread at a time.
unsafe fn handle<'a, T>(handle: jlong) -> Result<&'a mut T, String> {
    if handle == 0 {
        return Err("the Weir handle was closed".to_owned());
    }
    // SAFETY: see above.
    Ok(unsafe { &mut *(handle as *mut T) })
}

fn open<T>(value: T) -> jlong {
    Box::into_raw(Box::new(value)) as jlong
}

/// Closes the handle behind a `jlong`: its instances are dropped (inside
/// the runtime, whose tasks they may wait for).
///
/// # Safety
/// As [`close`].
unsafe fn drop_handle<T>(env: &mut JNIEnv<'_>, handle: jlong) {
    call(env, (), |_, bridge| {
        // SAFETY: the caller's.
        if let Some(value) = unsafe { close::<T>(handle) } {
            let _guard = bridge.tokio.enter();
            drop(value);
        }
        Ok(())
    })
}

/// # Safety
/// As [`handle`]; the handle is not used again.
unsafe fn close<T>(handle: jlong) -> Option<T> {
    // SAFETY: see above.
    (handle != 0).then(|| *unsafe { Box::from_raw(handle as *mut T) })
}

/// `ddl`'s table resolved for `role` (options validated by the spec,
/// format found), and the grants its options give.
async fn resolve(
    bridge: &Bridge,
    ddl: &str,
    role: Role,
) -> Result<(weir_pipeline::Table, weir_pipeline::Resolved, weir::policy::Grants), String> {
    let FlinkTable { table, grants, .. } = table::table(bridge, ddl).await?;
    let runtime = bridge.weir.read().await;
    let resolved = weir_pipeline::resolve(&runtime, &table, role).map_err(|e| table::message(&e))?;
    Ok((table, resolved, grants))
}

/// Checks a table for Flink's planner: options (by the component's spec),
/// format, capabilities. Returns `[bounded, row kinds…]` (Flink's byte
/// values) of the source, or `[1, row kinds…]` accepted by the sink.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_describe<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    ddl: JString<'l>,
    sink: jboolean,
) -> jbyteArray {
    call(&mut env, std::ptr::null_mut(), |env, bridge| {
        let ddl = string(env, &ddl)?;
        let role = if sink != 0 { Role::Sink } else { Role::Source };
        let out = bridge.tokio.block_on(async {
            let (table, resolved, grants) = resolve(bridge, &ddl, role).await?;
            resolved.grants(&grants).map_err(|e| table::message(&e))?;
            resolved.format_grants(&grants).map_err(|e| table::message(&e))?;
            resolved.validate().await.map_err(|e| table::message(&e))?;
            let bounded = match role {
                Role::Source => {
                    let runtime = bridge.weir.read().await;
                    let source = TableSource::open(&runtime, &table, &grants).await.map_err(|e| table::message(&e))?;
                    source.plan().bounded
                }
                _ => true,
            };
            let mut out = vec![u8::from(bounded)];
            out.extend(resolved.changelog().iter().map(|&k| k as u8));
            Ok::<_, String>(out)
        })?;
        array(env, &out)
    })
}

/// Plans the source's splits (Flink's split enumerator): `u32 count`, then
/// per split its id and payload, each as `u32 length | bytes`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_plan<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    ddl: JString<'l>,
) -> jbyteArray {
    call(&mut env, std::ptr::null_mut(), |env, bridge| {
        let ddl = string(env, &ddl)?;
        let out = bridge.tokio.block_on(async {
            let FlinkTable { table, grants, query } = table::table(bridge, &ddl).await?;
            let runtime = bridge.weir.read().await;
            let source = TableSource::open_query(&runtime, &table, query.as_ref(), &grants)
                .await
                .map_err(|e| table::message(&e))?;
            let mut out = Vec::new();
            out.extend_from_slice(&(source.plan().splits.len() as u32).to_le_bytes());
            for split in &source.plan().splits {
                put(&mut out, split.id.as_bytes());
                put(&mut out, &split.payload);
            }
            Ok::<_, String>(out)
        })?;
        array(env, &out)
    })
}

/// A source reader (one per Flink reader subtask): its own source and
/// decoder instances, reading the splits it is given.
struct Reader {
    source: TableSource,
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_openReader<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    ddl: JString<'l>,
) -> jlong {
    call(&mut env, 0, |env, bridge| {
        let ddl = string(env, &ddl)?;
        bridge.tokio.block_on(async {
            let FlinkTable { table, grants, query } = table::table(bridge, &ddl).await?;
            let runtime = bridge.weir.read().await;
            let source = TableSource::open_unassigned(&runtime, &table, query.as_ref(), &grants)
                .await
                .map_err(|e| table::message(&e))?;
            Ok(open(Reader { source }))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_addSplit<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    reader: jlong,
    id: JString<'l>,
    payload: JByteArray<'l>,
    state: JByteArray<'l>,
) {
    call(&mut env, (), |env, _| {
        // SAFETY: a handle of `openReader`, owned by the calling reader.
        let reader = unsafe { handle::<Reader>(reader)? };
        let id = string(env, &id)?;
        let payload = bytes(env, &payload)?.unwrap_or_default();
        let state = bytes(env, &state)?;
        reader.source.add_split(Split { id, payload }, state);
        Ok(())
    })
}

/// The next rows: `[0, batch…]`, `[1]` for nothing yet (an unbounded
/// source), `[2]` when every split given was read to its end.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_next<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    reader: jlong,
) -> jbyteArray {
    call(&mut env, std::ptr::null_mut(), |env, bridge| {
        // SAFETY: a handle of `openReader`, owned by the calling reader.
        let reader = unsafe { handle::<Reader>(reader)? };
        let out = match bridge.tokio.block_on(reader.source.next()).map_err(|e| table::message(&e))? {
            ScanStep::Rows(rows) => {
                let mut out = vec![0];
                out.extend(columns::encode(&rows)?);
                out
            }
            ScanStep::Idle => vec![1],
            ScanStep::End => vec![2],
        };
        array(env, &out)
    })
}

/// Where the reader's splits stand: `u32 count`, then per split its id
/// (`u32 length | bytes`), `u8` 0 finished / 1 reading, and the state
/// (`u32 length | bytes`). Splits not started are left out.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_checkpoint<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    reader: jlong,
) -> jbyteArray {
    call(&mut env, std::ptr::null_mut(), |env, bridge| {
        // SAFETY: a handle of `openReader`, owned by the calling reader.
        let reader = unsafe { handle::<Reader>(reader)? };
        let states = bridge.tokio.block_on(reader.source.checkpoint()).map_err(|e| table::message(&e))?;
        let mut out = Vec::new();
        out.extend_from_slice(&(states.len() as u32).to_le_bytes());
        for (id, state) in states {
            put(&mut out, id.as_bytes());
            match state {
                SplitState::Finished => {
                    out.push(0);
                    put(&mut out, &[]);
                }
                SplitState::Reading(hex) => {
                    out.push(1);
                    put(&mut out, &unhex(&hex).ok_or("a split state is not hex")?);
                }
            }
        }
        array(env, &out)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_closeReader<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    reader: jlong,
) {
    // SAFETY: a handle of `openReader`, closed once by its reader.
    unsafe { drop_handle::<Reader>(&mut env, reader) }
}

/// A sink writer (one per Flink writer subtask).
struct Writer {
    sink: Option<TableSink>,
    schema: arrow_schema::SchemaRef,
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_openWriter<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    ddl: JString<'l>,
    subtask: jint,
    parallelism: jint,
    restored: jlong,
) -> jlong {
    call(&mut env, 0, |env, bridge| {
        let ddl = string(env, &ddl)?;
        bridge.tokio.block_on(async {
            let FlinkTable { table, grants, .. } = table::table(bridge, &ddl).await?;
            let schema = Arc::new(table.schema.to_arrow()?);
            let runtime = bridge.weir.read().await;
            let sink = TableSink::open_subtask(
                &runtime,
                &table,
                &grants,
                subtask.max(0) as u32,
                parallelism.max(1) as u32,
                restored.max(0) as u64,
            )
            .await
            .map_err(|e| table::message(&e))?;
            Ok(open(Writer { sink: Some(sink), schema }))
        })
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_write<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    writer: jlong,
    batch: JByteArray<'l>,
) {
    call(&mut env, (), |env, bridge| {
        // SAFETY: a handle of `openWriter`, owned by the calling writer.
        let writer = unsafe { handle::<Writer>(writer)? };
        let batch = bytes(env, &batch)?.unwrap_or_default();
        let rows = columns::decode(&batch, &writer.schema)?;
        let sink = writer.sink.as_mut().ok_or("the writer was closed")?;
        bridge.tokio.block_on(sink.write(rows)).map_err(|e| table::message(&e))
    })
}

/// Stages what was written for checkpoint `id`: the committables as
/// `u32 count`, then each as `u32 length | bytes`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_prepare<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    writer: jlong,
    id: jlong,
) -> jbyteArray {
    call(&mut env, std::ptr::null_mut(), |env, bridge| {
        // SAFETY: a handle of `openWriter`, owned by the calling writer.
        let writer = unsafe { handle::<Writer>(writer)? };
        let sink = writer.sink.as_mut().ok_or("the writer was closed")?;
        let committables =
            bridge.tokio.block_on(sink.prepare_commit(id.max(0) as u64)).map_err(|e| table::message(&e))?;
        array(env, &list(&committables))
    })
}

fn list(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    for item in items {
        put(&mut out, item);
    }
    out
}

fn unlist(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let short = || "a committable list from Java is cut short".to_owned();
    let word = |at: usize| -> Result<usize, String> {
        Ok(u32::from_le_bytes(bytes.get(at..at + 4).ok_or_else(short)?.try_into().map_err(|_| short())?) as usize)
    };
    let n = word(0)?;
    let mut at = 4;
    let mut items = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let len = word(at)?;
        items.push(bytes.get(at + 4..at + 4 + len).ok_or_else(short)?.to_vec());
        at += 4 + len;
    }
    Ok(items)
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_closeWriter<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    writer: jlong,
) {
    call(&mut env, (), |_, bridge| {
        // SAFETY: a handle of `openWriter`, closed once by its writer.
        if let Some(sink) = unsafe { close::<Writer>(writer) }.and_then(|mut w| w.sink.take()) {
            bridge.tokio.block_on(sink.close()).map_err(|e| table::message(&e))?;
        }
        Ok(())
    })
}

/// A committer (Flink's, one per committer subtask).
struct Committer {
    committer: TableCommitter,
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_openCommitter<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    ddl: JString<'l>,
) -> jlong {
    call(&mut env, 0, |env, bridge| {
        let ddl = string(env, &ddl)?;
        bridge.tokio.block_on(async {
            let FlinkTable { table, grants, .. } = table::table(bridge, &ddl).await?;
            let runtime = bridge.weir.read().await;
            let committer = TableCommitter::open(&runtime, &table, &grants).await.map_err(|e| table::message(&e))?;
            Ok(open(Committer { committer }))
        })
    })
}

/// Commits (`abort` false) or aborts a committable list (as `prepare`
/// returned it).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_commit<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    committer: jlong,
    committables: JByteArray<'l>,
    abort: jboolean,
) {
    call(&mut env, (), |env, bridge| {
        // SAFETY: a handle of `openCommitter`, owned by the calling committer.
        let committer = unsafe { handle::<Committer>(committer)? };
        let committables = unlist(&bytes(env, &committables)?.unwrap_or_default())?;
        let done = if abort != 0 {
            bridge.tokio.block_on(committer.committer.abort(&committables))
        } else {
            bridge.tokio.block_on(committer.committer.commit(&committables))
        };
        done.map_err(|e| table::message(&e))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_closeCommitter<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    committer: jlong,
) {
    // SAFETY: a handle of `openCommitter`, closed once by its committer.
    unsafe { drop_handle::<Committer>(&mut env, committer) }
}

/// A lookup table (Flink's lookup function, one per join subtask): one
/// instance of a source component with the `lookup` ability.
struct Lookup {
    table: LookupTable,
    keys: arrow_schema::SchemaRef,
}

/// Opens `ddl`'s table for lookups on the columns `keys`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_openLookup<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    ddl: JString<'l>,
    keys: JIntArray<'l>,
) -> jlong {
    call(&mut env, 0, |env, bridge| {
        let ddl = string(env, &ddl)?;
        let n = env.get_array_length(&keys).map_err(|e| format!("lookup keys from Java: {e}"))?;
        let mut columns = vec![0; n.max(0) as usize];
        env.get_int_array_region(&keys, 0, &mut columns).map_err(|e| format!("lookup keys from Java: {e}"))?;
        let columns: Vec<usize> = columns.iter().map(|&c| c.max(0) as usize).collect();
        bridge.tokio.block_on(async {
            let (table, resolved, grants) = resolve(bridge, &ddl, Role::Source).await?;
            let grants = resolved.grants(&grants).map_err(|e| table::message(&e))?;
            let lookup =
                LookupTable::open(&resolved.connector, &resolved.options, &table.stored_schema(), &columns, &grants)
                    .await
                    .map_err(|e| table::message(&e.in_table(&table.name)))?;
            let keys = Arc::new(lookup.key_schema().to_arrow()?);
            Ok(open(Lookup { table: lookup, keys }))
        })
    })
}

/// The rows matching the key rows of `keys` (a batch of the key columns),
/// as a batch of the table's rows.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_lookup<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    lookup: jlong,
    keys: JByteArray<'l>,
) -> jbyteArray {
    call(&mut env, std::ptr::null_mut(), |env, bridge| {
        // SAFETY: a handle of `openLookup`, owned by the calling function.
        let lookup = unsafe { handle::<Lookup>(lookup)? };
        let keys = columns::decode(&bytes(env, &keys)?.unwrap_or_default(), &lookup.keys)?;
        let found = bridge.tokio.block_on(lookup.table.lookup(&keys)).map_err(|e| table::message(&e))?;
        array(env, &columns::encode(&found.rows)?)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_closeLookup<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    lookup: jlong,
) {
    // SAFETY: a handle of `openLookup`, closed once by its function.
    unsafe { drop_handle::<Lookup>(&mut env, lookup) }
}

/// A vector index (Flink's vector search function, one per subtask): one
/// instance of a source component with the `vector-search` ability.
struct Search {
    index: VectorIndex,
}

/// Opens `ddl`'s table for top-k searches on the ARRAY<FLOAT> column
/// `column`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_openSearch<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    ddl: JString<'l>,
    column: jint,
) -> jlong {
    call(&mut env, 0, |env, bridge| {
        let ddl = string(env, &ddl)?;
        bridge.tokio.block_on(async {
            let (table, resolved, grants) = resolve(bridge, &ddl, Role::Source).await?;
            let grants = resolved.grants(&grants).map_err(|e| table::message(&e))?;
            let index = VectorIndex::open(
                &resolved.connector,
                &resolved.options,
                &table.stored_schema(),
                column.max(0) as usize,
                &grants,
            )
            .await
            .map_err(|e| table::message(&e.in_table(&table.name)))?;
            Ok(open(Search { index }))
        })
    })
}

/// The `top_k` rows nearest to `query`, best first: `u32 count`, the
/// scores as f32, then the rows as a batch.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_search<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    search: jlong,
    query: JFloatArray<'l>,
    top_k: jint,
) -> jbyteArray {
    call(&mut env, std::ptr::null_mut(), |env, bridge| {
        // SAFETY: a handle of `openSearch`, owned by the calling function.
        let search = unsafe { handle::<Search>(search)? };
        let n = env.get_array_length(&query).map_err(|e| format!("a query vector from Java: {e}"))?;
        let mut vector = vec![0f32; n.max(0) as usize];
        env.get_float_array_region(&query, 0, &mut vector).map_err(|e| format!("a query vector from Java: {e}"))?;
        let found =
            bridge.tokio.block_on(search.index.search(&vector, top_k.max(0) as u32)).map_err(|e| table::message(&e))?;
        let mut out = Vec::new();
        out.extend_from_slice(&(found.scores.len() as u32).to_le_bytes());
        for score in &found.scores {
            out.extend_from_slice(&score.to_le_bytes());
        }
        out.extend(columns::encode(&found.rows)?);
        array(env, &out)
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_closeSearch<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    search: jlong,
) {
    // SAFETY: a handle of `openSearch`, closed once by its function.
    unsafe { drop_handle::<Search>(&mut env, search) }
}

/// Every option key of every format component in the catalog, `\n`
/// separated: what `'format' = 'wasm'` may be given as `wasm.<key>` (Flink
/// checks format options against a factory's list before any table exists).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_formatOptions<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jbyteArray {
    call(&mut env, std::ptr::null_mut(), |env, bridge| {
        let runtime = bridge.tokio.block_on(bridge.weir.read());
        let mut keys: Vec<&str> = runtime
            .catalog()
            .entries()
            .iter()
            .filter(|e| e.kind == weir::spec::Kind::Format)
            .flat_map(|e| e.spec.options.iter().map(|o| o.key.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        array(env, keys.join("\n").as_bytes())
    })
}

/// A format component as a Flink format (`'format' = 'wasm'`): one decoder
/// or encoder instance per Flink (de)serialization schema.
struct Format {
    decoder: Option<Decoder>,
    encoder: Option<Encoder>,
    schema: arrow_schema::SchemaRef,
}

/// Opens a decoder (`encode` false) or encoder of the format `ddl` names:
/// a table whose options are the format's (`component` naming it).
/// Returns the handle; `describe` of the format's changelog is `kinds`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_openFormat<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    ddl: JString<'l>,
    encode: jboolean,
) -> jlong {
    call(&mut env, 0, |env, bridge| {
        let ddl = string(env, &ddl)?;
        bridge.tokio.block_on(async {
            let (table, format, options) = table::format(bridge, &ddl).await?;
            let schema = Arc::new(table.schema.to_arrow()?);
            let runtime = bridge.weir.read().await;
            let (decoder, encoder) = if encode != 0 {
                let encoder = runtime.encoder(&table.name, &format, &options, &table.schema).await;
                (None, Some(encoder.map_err(|e| table::message(&e.in_table(&table.name)))?))
            } else {
                let decoder = runtime.decoder(&table.name, &format, &options, &table.schema).await;
                (Some(decoder.map_err(|e| table::message(&e.in_table(&table.name)))?), None)
            };
            Ok(open(Format { decoder, encoder, schema }))
        })
    })
}

/// The row kinds the format `ddl` names produces (Flink's byte values);
/// its options are validated on the way.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_describeFormat<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    ddl: JString<'l>,
) -> jbyteArray {
    call(&mut env, std::ptr::null_mut(), |env, bridge| {
        let ddl = string(env, &ddl)?;
        let kinds = bridge.tokio.block_on(async {
            let (table, format, options) = table::format(bridge, &ddl).await?;
            let runtime = bridge.weir.read().await;
            let entry = runtime.catalog().find(&format, Role::Format).map_err(|e| table::message(&e))?;
            let target = weir::options::Target { table: &table.name, role: "format", prefix: Some("wasm") };
            weir::options::validate(target, &entry.spec, &options).map_err(|e| format!("{e}"))?;
            let kinds: Vec<u8> = if entry.spec.changelog_mode.is_empty() {
                vec![0]
            } else {
                entry.spec.changelog_mode.iter().map(|&k| k as u8).collect()
            };
            Ok::<_, String>(kinds)
        })?;
        array(env, &kinds)
    })
}

/// Decodes one record (Flink hands a format one message at a time): the
/// rows it makes, as a batch.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_decode<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    format: jlong,
    record: JByteArray<'l>,
) -> jbyteArray {
    call(&mut env, std::ptr::null_mut(), |env, bridge| {
        // SAFETY: a handle of `openFormat`, owned by the calling schema.
        let format = unsafe { handle::<Format>(format)? };
        let record = bytes(env, &record)?.unwrap_or_default();
        let decoder = format.decoder.as_mut().ok_or("the format was opened to encode")?;
        let rows = bridge.tokio.block_on(decoder.decode(&Frames::new([record]))).map_err(|e| table::message(&e))?;
        array(env, &columns::encode(&rows)?)
    })
}

/// Encodes a batch of rows: the records, as a list (`u32 count`, then
/// `u32 length | bytes` each).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_encode<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    format: jlong,
    batch: JByteArray<'l>,
) -> jbyteArray {
    call(&mut env, std::ptr::null_mut(), |env, bridge| {
        // SAFETY: a handle of `openFormat`, owned by the calling schema.
        let format = unsafe { handle::<Format>(format)? };
        let rows = columns::decode(&bytes(env, &batch)?.unwrap_or_default(), &format.schema)?;
        let encoder = format.encoder.as_mut().ok_or("the format was opened to decode")?;
        let frames = bridge.tokio.block_on(encoder.encode(&rows)).map_err(|e| table::message(&e))?;
        let records: Vec<Vec<u8>> = frames.iter().map(<[u8]>::to_vec).collect();
        array(env, &list(&records))
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weir_flink_Native_closeFormat<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    format: jlong,
) {
    // SAFETY: a handle of `openFormat`, closed once by its schema.
    unsafe { drop_handle::<Format>(&mut env, format) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_committable_list_survives_the_round_trip_and_a_cut_one_is_an_error() {
        let items = vec![b"a".to_vec(), Vec::new(), b"/tmp/.part-0-1.inprogress".to_vec()];
        let bytes = super::list(&items);
        assert_eq!(super::unlist(&bytes).expect("unlist"), items);
        for cut in 0..bytes.len() {
            assert!(super::unlist(&bytes[..cut]).is_err());
        }
    }
}
