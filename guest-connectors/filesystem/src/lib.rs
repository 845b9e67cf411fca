//! Flink's `filesystem` connector.
//!
//! **Source**: `path` is a file or a directory; every file under it (hidden
//! files and those starting with `_` or `.` skipped, as Flink does) is one
//! split, read in 256 KiB chunks and cut into lines for the table's `format`.
//! A reader's checkpoint is the byte offset of the next line, so a restored
//! reader resumes exactly there.
//!
//! **Sink**, exactly-once like Flink's `FileSink`: rows go to hidden
//! in-progress files (`.part-<subtask>-<n>.inprogress`) that roll at
//! `sink.rolling-policy.file-size` or `sink.rolling-policy.rollover-interval`;
//! at a checkpoint the writer closes and fsyncs them and hands their names
//! to the host as committables; `commit` renames each to its final name
//! (`part-<subtask>-<n>`) — idempotently, so a commit repeated after a crash
//! is harmless — and `abort` deletes them. A writer opened after a restore
//! deletes in-progress files of its subtask that no checkpoint committed.
//! Readers of the directory see only whole, committed files.
//!
//! With `source.monitor-interval` the scan is unbounded: one split watches
//! the directory and reads every new file once, in name order.
//!
//! Hive-style `key=value` directories between `path` and a file are handed
//! to the host as per-record metadata under the key, which fills the
//! table's `PARTITIONED BY` columns from them. Filters `=`, `<>`, IS [NOT]
//! NULL on such columns are accepted and prune whole files at planning.
//!
//! Files larger than `source.split-size` are read as byte ranges, each split
//! owning the lines that start in it (formats here are one record per
//! line), so readers share a large file.
//!
//! Writing a `PARTITIONED BY` table, the runner sends each partition's rows
//! with the partition values as metadata; they go to `k=v/` directories
//! (Hive's escaping), each with its own in-progress files.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use weir_framing::{Framer, Framing};
use weir_sdk::{
    Accepted, CapabilityKind, Column, ColumnData, Committable, CompareOp, ComponentSpec, Connector, Error, OptionSpec,
    Options, OptionsExt, Payload, Predicate, RawRecords, ReadResult, Result, Scalar, ScanPlan, ScanRequest, Schema,
    Sink, SinkAbilities, SinkInput, Source, Split, VarData, WriterContext, export_connector,
};

const CHUNK: usize = 256 << 10;

/// One file being read: a chunked reader cut into lines.
struct OneFile {
    path: PathBuf,
    file: File,
    framer: Framer,
    buffer: Vec<u8>,
    /// Hive-style `key=value` directories between the root and the file,
    /// and the requested metadata of the file: values for every record.
    partitions: Vec<(String, Option<String>)>,
    /// A byte-range split reads the lines that start before `end`.
    end: Option<u64>,
    /// Bytes read from the file so far (its position).
    position: u64,
}

impl OneFile {
    /// Opens `path` at `offset` (a line start). A byte-range split that
    /// begins mid-file (`align`) first skips to the next line start: the
    /// line it lands in belongs to the split before.
    fn open(
        root: &Path,
        path: PathBuf,
        offset: u64,
        end: Option<u64>,
        align: bool,
        metadata_keys: &[String],
    ) -> Result<OneFile> {
        let mut file = File::open(&path).map_err(|e| io_error("open", &path, e))?;
        let mut start = offset;
        if align && offset > 0 {
            file.seek(SeekFrom::Start(offset - 1)).map_err(|e| io_error("seek in", &path, e))?;
            let mut byte = [0u8; 1];
            start = offset - 1;
            loop {
                match file.read(&mut byte).map_err(|e| io_error("read", &path, e))? {
                    0 => break,
                    _ => {
                        start += 1;
                        if byte[0] == b'\n' {
                            break;
                        }
                    }
                }
            }
        }
        file.seek(SeekFrom::Start(start)).map_err(|e| io_error("seek in", &path, e))?;
        let mut framer = Framer::new(Framing::Newline);
        framer.set_offset(start);
        let mut partitions = partitions(root, &path);
        // Flink's filesystem metadata keys, constant per file.
        for key in metadata_keys {
            let value = match key.as_str() {
                "file.path" => path.display().to_string(),
                "file.name" => path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                "file.size" => fs::metadata(&path).map_err(|e| io_error("read", &path, e))?.len().to_string(),
                other => {
                    return Err(Error::config(
                        None,
                        format!(
                            "unknown metadata key '{other}'; the filesystem connector has file.path, file.name, file.size"
                        ),
                    ));
                }
            };
            partitions.push((key.clone(), Some(value)));
        }
        Ok(OneFile { path, file, framer, buffer: Vec::new(), partitions, end, position: start })
    }

    /// The next lines, and whether the file (or the byte range) has ended.
    fn next(&mut self) -> Result<(weir_framing::VarData, bool)> {
        loop {
            if self.buffer.is_empty() {
                self.buffer.resize(CHUNK, 0);
            }
            if let Some(end) = self.end
                && self.framer.offset() >= end
            {
                // Every line that starts in the range has been returned.
                self.buffer = Vec::new();
                return Ok((weir_framing::VarData::default(), true));
            }
            // Up to the range's end; past it only to complete the last line.
            let want = match self.end {
                Some(end) if self.position < end => ((end - self.position) as usize).min(self.buffer.len()),
                _ => self.buffer.len(),
            };
            let n = self.file.read(&mut self.buffer[..want]).map_err(|e| io_error("read", &self.path, e))?;
            let past_end = self.end.is_some_and(|end| self.position >= end);
            let take = if past_end {
                // Finish the line that started before the end, no more.
                self.buffer[..n].iter().position(|&b| b == b'\n').map_or(n, |i| i + 1)
            } else {
                n
            };
            self.position += n as u64;
            let eof = n == 0;
            let frames = if eof { self.framer.finish() } else { self.framer.push(&self.buffer[..take]) }
                .map_err(|e| Error::data(0, b"", format!("{}: {e}", self.path.display())))?;
            if eof {
                self.buffer = Vec::new();
            }
            if !frames.is_empty() || eof {
                return Ok((frames, eof));
            }
        }
    }
}

/// `source.monitor-interval`: one split that lists the directory every
/// interval and reads each new file once, in name order. Its state is the
/// files done and the position in the current one, so a restore neither
/// skips nor repeats a line. New files should appear whole (written
/// elsewhere and moved in), as with Flink's monitoring source.
struct Watch {
    root: PathBuf,
    interval: Duration,
    done: std::collections::BTreeSet<PathBuf>,
    current: Option<OneFile>,
    last_scan: Option<Instant>,
    metadata_keys: Vec<String>,
}

/// A split reader: one file, or the watch of a monitored directory.
pub enum FileReader {
    /// A file split.
    File(Box<OneFileSplit>),
    /// The monitored directory.
    Watch(Box<WatchSplit>),
}

/// Reader state of a file split (public only as the enum's payload).
pub struct OneFileSplit(OneFile, bool);

/// Reader state of a monitored directory (public only as the enum's payload).
pub struct WatchSplit(Watch);

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::connection(format!("cannot {what} {}: {e}", path.display()))
}

/// `k=v` directories of `path` below `root`; Hive's
/// `__HIVE_DEFAULT_PARTITION__` stands for null.
fn partitions(root: &Path, path: &Path) -> Vec<(String, Option<String>)> {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .filter_map(|c| {
            let part = c.as_os_str().to_string_lossy();
            let (k, v) = part.split_once('=')?;
            Some((unescape_partition(k), (v != "__HIVE_DEFAULT_PARTITION__").then(|| unescape_partition(v))))
        })
        .collect()
}

/// Frames as records, with each partition value as a metadata column (one
/// value per record) under the partition key.
fn records(frames: weir_framing::VarData, partitions: &[(String, Option<String>)]) -> ReadResult {
    let n = frames.offsets.len().saturating_sub(1);
    let metadata = partitions
        .iter()
        .map(|(key, value)| {
            let weir_framing::VarData { offsets, data } =
                weir_framing::VarData::repeated(value.as_deref().unwrap_or_default().as_bytes(), n);
            let validity = value.is_none().then(|| vec![0u8; n.div_ceil(8)]);
            (key.clone(), Column { validity, data: ColumnData::Utf8(VarData { offsets, data }) })
        })
        .collect();
    ReadResult::Records(RawRecords {
        values: VarData { offsets: frames.offsets, data: frames.data },
        keys: None,
        timestamps: None,
        metadata,
    })
}

const WATCH: &[u8] = b"watch:";

/// The connector: one spec and validation for reading and writing.
struct Filesystem;

impl Connector for Filesystem {
    fn spec() -> ComponentSpec {
        ComponentSpec::new(
            "filesystem",
            "Files in a directory: splits per file, exactly-once sink (Flink's filesystem connector)",
        )
        .payload(Payload::RawRecords)
        .source_abilities(weir_sdk::SourceAbilities::READING_METADATA)
        .sink_abilities(SinkAbilities::empty())
        .option(OptionSpec::string("path", "File or directory to read, or directory to write").required())
        .option(
            OptionSpec::new(
                "source.split-size",
                weir_sdk::OptionType::MemorySize,
                "Files larger than this are read as several byte-range splits (in parallel with scan.parallelism)",
            )
            .default_value("128 mb"),
        )
        .option(OptionSpec::new(
            "source.monitor-interval",
            weir_sdk::OptionType::Duration,
            "Keep watching the directory for new files at this interval (unbounded scan)",
        ))
        .option(
            OptionSpec::new(
                "sink.rolling-policy.file-size",
                weir_sdk::OptionType::MemorySize,
                "Size at which an in-progress file is rolled",
            )
            .default_value("128 mb"),
        )
        .option(
            OptionSpec::new(
                "sink.rolling-policy.rollover-interval",
                weir_sdk::OptionType::Duration,
                "Age at which an in-progress file is rolled",
            )
            .default_value("30 min"),
        )
        .capability(CapabilityKind::Read, "{path}")
        .capability(CapabilityKind::Write, "{path}")
    }
}

impl Source for FileReader {
    fn plan(options: &Options, schema: &Schema, request: &ScanRequest) -> Result<ScanPlan> {
        let root = PathBuf::from(options.string("path")?);
        // Partition pruning: `=` / `<>` / IS [NOT] NULL on a column that is a
        // `k=v` directory level are decided per file here, not per row.
        let pruning: Vec<(u32, &Predicate)> = request
            .filters
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                use weir_sdk::LogicalType as T;
                let ty = schema.fields.get(p.column as usize).map(|f| &f.data_type);
                let text_column = matches!(ty, Some(T::String | T::Varchar(_) | T::Char(_)));
                let int_column = matches!(ty, Some(T::Tinyint | T::Smallint | T::Int | T::Bigint));
                match (&p.op, &p.value) {
                    (CompareOp::IsNull | CompareOp::IsNotNull, _) => true,
                    (CompareOp::Eq | CompareOp::NotEq, Scalar::Text(_)) => text_column,
                    (CompareOp::Eq | CompareOp::NotEq, Scalar::Integer(_)) => int_column,
                    _ => false,
                }
            })
            .map(|(i, p)| (i as u32, p))
            .collect();
        let mut accepted = Accepted { projection: false, filters: Vec::new(), limit: false, partitions: false };
        if options.get("source.monitor-interval").is_some() {
            let mut payload = WATCH.to_vec();
            payload.extend(root.display().to_string().into_bytes());
            return Ok(ScanPlan {
                splits: vec![Split { id: format!("watch {}", root.display()), payload }],
                bounded: false,
                accepted,
            });
        }
        let mut files = Vec::new();
        collect(&root, &mut files)?;
        files.sort();
        // A filter is pruned here only if every file has that column as a
        // directory level; otherwise the runner applies it.
        let name = |c: u32| schema.fields.get(c as usize).map(|f| f.name.as_str());
        let pruned: Vec<(u32, &Predicate)> = pruning
            .into_iter()
            .filter(|(_, p)| {
                !files.is_empty()
                    && files
                        .iter()
                        .all(|f| partitions(&root, f).iter().any(|(k, _)| Some(k.as_str()) == name(p.column)))
            })
            .collect();
        accepted.filters = pruned.iter().map(|(i, _)| *i).collect();
        files.retain(|f| {
            let parts = partitions(&root, f);
            pruned.iter().all(|(_, p)| {
                let value =
                    parts.iter().find(|(k, _)| Some(k.as_str()) == name(p.column)).and_then(|(_, v)| v.as_deref());
                // Equal as text for string columns, as numbers for integers
                // (`hr=07` is 7); a null partition matches neither = nor <>.
                let equal = match (&p.value, value) {
                    (Scalar::Text(t), Some(v)) => Some(t == v),
                    (Scalar::Integer(i), Some(v)) => Some(v.trim().parse::<i64>().ok() == Some(*i)),
                    _ => None,
                };
                match p.op {
                    CompareOp::IsNull => value.is_none(),
                    CompareOp::IsNotNull => value.is_some(),
                    CompareOp::Eq => equal == Some(true),
                    CompareOp::NotEq => equal == Some(false),
                    _ => true,
                }
            })
        });
        let split_size = options.memory_size("source.split-size")?.max(1);
        let mut splits = Vec::new();
        for f in files {
            let id = f.strip_prefix(&root).unwrap_or(&f).display().to_string();
            let id = if id.is_empty() { f.display().to_string() } else { id };
            let size = fs::metadata(&f).map_err(|e| io_error("read", &f, e))?.len();
            // Line-based formats: a large file is read as byte ranges, each
            // owning the lines that start in it.
            let mut start = 0;
            loop {
                let end = (start + split_size).min(size);
                let ranged = size > split_size;
                splits.push(Split {
                    id: if ranged { format!("{id}@{start}") } else { id.clone() },
                    payload: format!(
                        "{start}\0{}\0{}",
                        if ranged { end.to_string() } else { String::new() },
                        f.display()
                    )
                    .into_bytes(),
                });
                start = end;
                if start >= size {
                    break;
                }
            }
        }
        Ok(ScanPlan { splits, bounded: true, accepted })
    }

    fn open(
        options: &Options,
        _schema: &Schema,
        request: &ScanRequest,
        split: &Split,
        state: Option<&[u8]>,
    ) -> Result<Self> {
        let damaged = || Error::config(None, "filesystem reader state is damaged");
        if let Some(root) = split.payload.strip_prefix(WATCH) {
            let mut watch = Watch {
                root: PathBuf::from(String::from_utf8_lossy(root).into_owned()),
                interval: options.duration("source.monitor-interval")?,
                done: Default::default(),
                current: None,
                last_scan: None,
                metadata_keys: request.metadata_keys.clone(),
            };
            // State: lines `F <path>` (done) and `C <offset> <path>` (current).
            for line in String::from_utf8_lossy(state.unwrap_or_default()).lines() {
                match line.split_once(' ') {
                    Some(("F", path)) => {
                        watch.done.insert(PathBuf::from(path));
                    }
                    Some(("C", rest)) => {
                        let (offset, path) = rest.split_once(' ').ok_or_else(damaged)?;
                        let offset = offset.parse().map_err(|_| damaged())?;
                        watch.current = Some(OneFile::open(
                            &watch.root,
                            PathBuf::from(path),
                            offset,
                            None,
                            false,
                            &watch.metadata_keys,
                        )?);
                    }
                    _ => return Err(damaged()),
                }
            }
            return Ok(FileReader::Watch(Box::new(WatchSplit(watch))));
        }
        // Payload: `start \0 end \0 path` (end empty for a whole file).
        let payload = String::from_utf8_lossy(&split.payload).into_owned();
        let mut parts = payload.splitn(3, '\0');
        let (Some(start), Some(end), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(damaged());
        };
        let start: u64 = start.parse().map_err(|_| damaged())?;
        let end: Option<u64> = if end.is_empty() { None } else { Some(end.parse().map_err(|_| damaged())?) };
        let (offset, align) = match state {
            Some(s) => (u64::from_le_bytes(s.try_into().map_err(|_| damaged())?), false),
            None => (start, true),
        };
        let root = PathBuf::from(options.string("path")?);
        let file = OneFile::open(&root, PathBuf::from(path), offset, end, align, &request.metadata_keys)?;
        Ok(FileReader::File(Box::new(OneFileSplit(file, false))))
    }

    fn next(&mut self, _max_records: u32) -> Result<ReadResult> {
        match self {
            FileReader::File(split) => {
                let OneFileSplit(file, ended) = split.as_mut();
                if *ended {
                    return Ok(ReadResult::EndOfSplit);
                }
                let (frames, eof) = file.next()?;
                *ended = eof;
                Ok(records(frames, &file.partitions))
            }
            FileReader::Watch(split) => {
                let watch = &mut split.0;
                if let Some(file) = watch.current.as_mut() {
                    let (frames, eof) = file.next()?;
                    let result = records(frames, &file.partitions);
                    if eof {
                        watch.done.insert(file.path.clone());
                        watch.current = None;
                    }
                    return Ok(result);
                }
                if watch.last_scan.is_some_and(|t| t.elapsed() < watch.interval) {
                    return Ok(ReadResult::WouldBlock);
                }
                watch.last_scan = Some(Instant::now());
                let mut files = Vec::new();
                collect(&watch.root, &mut files)?;
                files.sort();
                match files.into_iter().find(|f| !watch.done.contains(f)) {
                    Some(next) => {
                        watch.current = Some(OneFile::open(&watch.root, next, 0, None, false, &watch.metadata_keys)?);
                        watch.last_scan = None;
                        Ok(ReadResult::WouldBlock)
                    }
                    None => Ok(ReadResult::WouldBlock),
                }
            }
        }
    }

    fn checkpoint(&mut self) -> Result<Vec<u8>> {
        Ok(match self {
            FileReader::File(split) => split.0.framer.offset().to_le_bytes().to_vec(),
            FileReader::Watch(split) => {
                let watch = &split.0;
                let mut state = String::new();
                for path in &watch.done {
                    state.push_str(&format!("F {}\n", path.display()));
                }
                if let Some(file) = &watch.current {
                    state.push_str(&format!("C {} {}\n", file.framer.offset(), file.path.display()));
                }
                state.into_bytes()
            }
        })
    }
}

/// Every visible file under `path` (or `path` itself).
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = fs::metadata(path).map_err(|e| io_error("read", path, e))?;
    if meta.is_file() {
        out.push(path.to_owned());
        return Ok(());
    }
    for entry in fs::read_dir(path).map_err(|e| io_error("list", path, e))? {
        let entry = entry.map_err(|e| io_error("list", path, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        collect(&entry.path(), out)?;
    }
    Ok(())
}

/// A sink writer (one per subtask).
pub struct FileWriter {
    dir: PathBuf,
    subtask: u32,
    max_size: u64,
    max_age: Duration,
    /// The open in-progress file of each partition directory: (path,
    /// file, bytes written, opened at).
    current: std::collections::BTreeMap<PathBuf, (PathBuf, File, u64, Instant)>,
    /// Closed in-progress files waiting for the next checkpoint.
    closed: Vec<PathBuf>,
    /// Number of the next part file.
    next_part: u64,
    buffer: Vec<u8>,
}

impl Sink for FileWriter {
    fn open(options: &Options, _schema: &Schema, context: &WriterContext) -> Result<Self> {
        let dir = PathBuf::from(options.string("path")?);
        fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
        let mine = format!(".part-{}-", context.subtask);
        let mut next_part = 0;
        cleanup(&dir, &mine, &mut next_part)?;
        Ok(FileWriter {
            dir,
            subtask: context.subtask,
            max_size: options.memory_size("sink.rolling-policy.file-size")?,
            max_age: options.duration("sink.rolling-policy.rollover-interval")?,
            current: Default::default(),
            closed: Vec::new(),
            next_part,
            buffer: Vec::new(),
        })
    }

    fn write(&mut self, input: SinkInput) -> Result<()> {
        let SinkInput::Records(records) = input else {
            return Err(Error::unsupported("the filesystem sink writes encoded records; give the table a 'format'"));
        };
        // A partitioned table: the runner sends one partition per call, its
        // values as metadata columns; the rows go to `k=v/` directories.
        let mut dir = self.dir.clone();
        for (key, column) in &records.metadata {
            let value = match (&column.validity, &column.data) {
                (Some(bits), _) if bits.first().is_none_or(|b| b & 1 == 0) => "__HIVE_DEFAULT_PARTITION__".to_owned(),
                (_, ColumnData::Utf8(v)) if v.offsets.len() > 1 => {
                    String::from_utf8_lossy(&v.data[v.offsets[0] as usize..v.offsets[1] as usize]).into_owned()
                }
                _ => continue,
            };
            dir.push(format!("{}={}", escape_partition(key), escape_partition(&value)));
        }
        self.buffer.clear();
        weir_framing::join(
            &weir_framing::VarData { offsets: records.values.offsets, data: records.values.data },
            Framing::Newline,
            &mut self.buffer,
        );
        if self.current.get(&dir).is_some_and(|(_, _, size, at)| *size >= self.max_size || at.elapsed() >= self.max_age)
        {
            self.roll(Some(&dir))?;
        }
        if !self.current.contains_key(&dir) {
            fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
            let path = dir.join(format!(".part-{}-{}.inprogress", self.subtask, self.next_part));
            self.next_part += 1;
            let file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&path)
                .map_err(|e| io_error("create", &path, e))?;
            self.current.insert(dir.clone(), (path, file, 0, Instant::now()));
        }
        if let Some((path, file, size, _)) = self.current.get_mut(&dir) {
            file.write_all(&self.buffer).map_err(|e| io_error("write", path, e))?;
            *size += self.buffer.len() as u64;
        }
        Ok(())
    }

    fn prepare_commit(&mut self, _checkpoint_id: u64) -> Result<Vec<Committable>> {
        self.roll(None)?;
        Ok(std::mem::take(&mut self.closed).into_iter().map(|p| p.display().to_string().into_bytes()).collect())
    }

    fn commit(_options: &Options, committables: Vec<Committable>) -> Result<()> {
        for committable in committables {
            let from = PathBuf::from(String::from_utf8_lossy(&committable).into_owned());
            let to = final_name(&from)?;
            match fs::rename(&from, &to) {
                Ok(()) => {}
                // Committed before (a commit repeated after a restart).
                Err(_) if !from.exists() && to.exists() => {}
                Err(e) => return Err(io_error("commit", &from, e)),
            }
        }
        Ok(())
    }

    fn abort(_options: &Options, committables: Vec<Committable>) -> Result<()> {
        for committable in committables {
            let path = PathBuf::from(String::from_utf8_lossy(&committable).into_owned());
            if path.exists() {
                fs::remove_file(&path).map_err(|e| io_error("remove", &path, e))?;
            }
        }
        Ok(())
    }
}

impl FileWriter {
    /// Closes the in-progress file of `dir` (of every directory with
    /// `None`), flushed and synced, for the next commit.
    fn roll(&mut self, dir: Option<&PathBuf>) -> Result<()> {
        let dirs: Vec<PathBuf> = match dir {
            Some(d) => vec![d.clone()],
            None => self.current.keys().cloned().collect(),
        };
        for d in dirs {
            if let Some((path, file, _, _)) = self.current.remove(&d) {
                file.sync_all().map_err(|e| io_error("sync", &path, e))?;
                self.closed.push(path);
            }
        }
        Ok(())
    }
}

/// Under `dir` and its partition directories: deletes this subtask's
/// in-progress files (left from before a crash, never committed) and finds
/// the next part number after its committed parts.
fn cleanup(dir: &Path, mine: &str, next_part: &mut u64) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| io_error("list", dir, e))? {
        let entry = entry.map_err(|e| io_error("list", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) && name.contains('=') {
            cleanup(&path, mine, next_part)?;
        } else if name.starts_with(mine) && name.ends_with(".inprogress") {
            fs::remove_file(&path).map_err(|e| io_error("remove", &path, e))?;
        } else if let Some(n) = name.strip_prefix(&mine[1..]).and_then(|n| n.parse::<u64>().ok()) {
            *next_part = (*next_part).max(n + 1);
        }
    }
    Ok(())
}

/// Hive's escaping of partition names and values: `/`, `=`, `%` and
/// control characters as `%XX`.
fn escape_partition(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '/' | '\\' | '=' | '%' | ':' | '#' | '\n' | '\r')
            || c.is_control()
            || (c == '.' && text.chars().all(|c| c == '.'))
        {
            for b in c.to_string().bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Undoes [`escape_partition`] (`%XX` → the byte).
fn unescape_partition(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `.part-0-3.inprogress` → `part-0-3`.
fn final_name(in_progress: &Path) -> Result<PathBuf> {
    let name = in_progress.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let base = name.strip_prefix('.').and_then(|n| n.strip_suffix(".inprogress")).ok_or_else(|| {
        Error::config(None, format!("'{}' is not an in-progress file of this sink", in_progress.display()))
    })?;
    Ok(in_progress.with_file_name(base))
}

export_connector!(Filesystem, FileReader, FileWriter);
