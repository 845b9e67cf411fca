//! The format checks: which scalar types open, round trips of generated
//! rows of every supported type, empty and malformed input.

use wasmtime::component::ResourceAny;

use weir::batch::{self, ChangelogBatch};
use weir::error::{Error, GuestError};
use weir::instance::Instance;
use weir::types::{Field, LogicalType, Options, Schema};
use weir::{Frames, display, generate};

use crate::{Fault, Suite};

impl Suite<'_> {
    pub(crate) async fn format_checks(&mut self, options: Result<Options, String>) {
        let options = match options {
            Ok(o) => o,
            Err(e) => {
                self.report.skip("format.types", e);
                return;
            }
        };
        // Which scalar types the format opens on.
        let mut supported = Vec::new();
        let mut refused = Vec::new();
        for (name, ty) in scalar_types() {
            let schema = one_column(ty, true);
            match self.open_format(&options, &schema).await {
                Ok(_) => supported.push((name, ty)),
                Err(f) if f.message.contains("config") || f.message.contains("unsupported") => refused.push(name),
                Err(f) => {
                    self.report.fail(
                        "format.types",
                        format!("opening on {name} failed without a config error: {}", f.message),
                    );
                    return;
                }
            }
        }
        if supported.is_empty() {
            self.report.fail("format.types", "the format opens on no scalar type");
            return;
        }
        let names: Vec<&str> = supported.iter().map(|(n, _)| *n).collect();
        let detail = if refused.is_empty() {
            format!("all {} scalar types", names.len())
        } else {
            format!("{} (refuses {})", names.join(", "), refused.join(", "))
        };
        self.report.pass("format.types", detail);

        // Round trips: one column per supported type (formats such as `raw`
        // take exactly one); nullable first, NOT NULL when the format cannot
        // write nulls of that type.
        let kinds = self.changelog_kinds();
        let mut failures = Vec::new();
        let mut no_nulls = Vec::new();
        let mut rows_checked = 0;
        for (name, ty) in &supported {
            match self.round_trip(&options, ty, &kinds).await {
                Ok((n, note)) => {
                    rows_checked += n;
                    if note.is_some() {
                        no_nulls.push(*name);
                    }
                }
                Err(m) => failures.push(format!("{name}: {m}")),
            }
        }
        if failures.is_empty() {
            let mut detail =
                format!("{rows_checked} generated rows over {} types decode to what was encoded", supported.len());
            if !no_nulls.is_empty() {
                detail.push_str(&format!(" (null and empty not told apart for {})", no_nulls.join(", ")));
            }
            self.report.pass("format.round-trip", detail);
        } else {
            self.report.fail("format.round-trip", failures.join("; "));
        }

        // Empty and malformed input, on the first supported type.
        let schema = one_column(supported[0].1, true);
        match self.open_format(&options, &schema).await {
            Ok((mut instance, decoder, _)) => {
                let r =
                    instance.decode(decoder, Frames::new(Vec::<&[u8]>::new()).as_contract()).await.map_err(Fault::from);
                self.observe(&instance, r.as_ref().err());
                match r {
                    Ok(b) if b.row_count == 0 => self.report.pass("format.empty-input", "no frames, no rows"),
                    Ok(b) => self.report.fail("format.empty-input", format!("{} rows from no input", b.row_count)),
                    Err(f) => self.report.fail("format.empty-input", f.message),
                }
            }
            Err(f) => self.report.fail("format.empty-input", f.message),
        }
        let garbage: [&[u8]; 6] =
            [b"\xff\xfe\x00garbage", b"{{{{\"", b"", b"|||||||||", b"\x00\x01\x02\x03", &[b'9'; 70_000]];
        let mut traps = Vec::new();
        let mut data_errors = 0;
        let mut accepted = Vec::new();
        let mut refused_otherwise = Vec::new();
        let describe = |frame: &[u8]| {
            let shown = String::from_utf8_lossy(&frame[..frame.len().min(16)]).into_owned();
            if frame.len() > 16 { format!("{shown:?}… ({} bytes)", frame.len()) } else { format!("{shown:?}") }
        };
        for (i, frame) in garbage.iter().enumerate() {
            let Ok((mut instance, decoder, _)) = self.open_format(&options, &schema).await else { continue };
            let r = instance.decode(decoder, Frames::new([*frame]).as_contract()).await;
            let fault = r.as_ref().err().map(Fault::from);
            self.observe(&instance, fault.as_ref());
            match r {
                Ok(_) => accepted.push(describe(frame)),
                Err(Error::Guest { error: GuestError::Data { .. }, .. }) => data_errors += 1,
                Err(e @ (Error::Guest { .. } | Error::InvalidBatch { .. })) => {
                    refused_otherwise.push(format!("{} ({e})", describe(frame)))
                }
                Err(e) => traps.push(format!("input {i}: {e}")),
            }
        }
        if traps.is_empty() {
            let mut detail = format!("{} malformed inputs: {data_errors} data errors, no trap", garbage.len());
            if !accepted.is_empty() {
                detail.push_str(&format!("; accepted as rows: {}", accepted.join(", ")));
            }
            if !refused_otherwise.is_empty() {
                detail.push_str(&format!("; refused with another error: {}", refused_otherwise.join(", ")));
            }
            self.report.pass("format.malformed-input", detail);
        } else {
            self.report.fail(
                "format.malformed-input",
                format!("malformed input must give a data error, not a trap: {}", traps.join("; ")),
            );
        }
    }

    pub(crate) fn changelog_kinds(&self) -> Vec<u8> {
        let mut kinds: Vec<u8> = self.spec().changelog_mode.iter().map(|k| *k as u8).collect();
        if kinds.is_empty() {
            kinds.push(0);
        }
        kinds
    }

    pub(crate) async fn open_format(
        &mut self,
        options: &Options,
        schema: &Schema,
    ) -> Result<(Instance, ResourceAny, ResourceAny), Fault> {
        let mut instance = self.instance(options).await?;
        let r = async {
            instance.validate(options, schema).await?;
            let decoder = instance.open_decoder(options, schema).await?;
            let encoder = instance.open_encoder(options, schema).await?;
            Ok::<_, Error>((decoder, encoder))
        }
        .await
        .map_err(Fault::from);
        self.observe(&instance, r.as_ref().err());
        let (decoder, encoder) = r?;
        Ok((instance, decoder, encoder))
    }

    /// Encode → decode → same rows, for one type; the number of rows and
    /// a note when the format does not keep nulls of this type.
    pub(crate) async fn round_trip(
        &mut self,
        options: &Options,
        ty: &LogicalType,
        kinds: &[u8],
    ) -> Result<(usize, Option<String>), String> {
        const ROWS: usize = 200;
        // The type next to a NOT NULL INT, so a null is never a whole empty
        // record; alone for formats that take one column (`raw`).
        let mut layouts = vec![true, false].into_iter().peekable();
        let mut null_note: Option<String> = None;
        while let Some(with_companion) = layouts.next() {
            for nullable in [true, false] {
                let mut schema = one_column(*ty, nullable);
                if with_companion {
                    schema.fields.push(Field { name: "k".into(), data_type: LogicalType::Int, nullable: false });
                }
                let mut rows = generate::random_rows(
                    &weir::Schema::from_contract(&schema).expect("a schema verify built"),
                    ROWS,
                    0x5eed,
                    SAFE_TEXT,
                );
                rows.row_kinds =
                    if kinds == [0] { Vec::new() } else { (0..ROWS).map(|i| kinds[i % kinds.len()]).collect() };
                let (mut instance, decoder, encoder) = match self.open_format(options, &schema).await {
                    Ok(open) => open,
                    // The format takes one column only: try the next layout.
                    Err(f) if with_companion && f.message.contains("config") && layouts.peek().is_some() => break,
                    Err(f) => return Err(f.message),
                };
                let outcome = async {
                    let batch = batch::from_arrow(&rows)
                        .map_err(|e| Error::InvalidBatch { component: String::new(), message: e })?;
                    let frames = instance.encode(encoder, &batch).await?;
                    let back = instance.decode(decoder, &frames).await?;
                    batch::to_arrow(&self.spec().identifier, &schema, back)
                }
                .await;
                let fault = outcome.as_ref().err().map(Fault::from);
                self.observe(&instance, fault.as_ref());
                match outcome {
                    Ok(back) => match compare(&rows, &back) {
                        Ok(()) => return Ok((ROWS, null_note)),
                        // CDC formats write an update as a delete and an
                        // insert (Flink's debezium-json, canal-json…): the
                        // same rows with -U/+U read back as -D/+I.
                        Err(_) if compare(&as_delete_insert(&rows), &back).is_ok() => {
                            let note = "updates are written as a delete and an insert (-U/+U read back as -D/+I)";
                            return Ok((ROWS, Some(null_note.map_or(note.to_owned(), |n| format!("{n}; {note}")))));
                        }
                        // Nulls that come back as values (raw writes a null
                        // string as an empty record): a documented loss, not
                        // a failure, if everything else round-trips.
                        Err(m) if nullable && m.contains("null") => null_note = Some(m),
                        Err(m) => return Err(m),
                    },
                    // A format that cannot write nulls of this type says so
                    // with a data error: try again without nulls.
                    Err(Error::Guest { error: GuestError::Data { message, .. }, .. }) if nullable => {
                        null_note = Some(message)
                    }
                    // Empty values read back as nulls (Flink's csv without a
                    // null literal): the same conflation, seen from the
                    // other side.
                    Err(Error::Guest { error: GuestError::Data { message, .. }, .. })
                        if message.contains("NOT NULL, but the value is null") && null_note.is_some() =>
                    {
                        return Ok((ROWS, Some(format!("empty values read back as null: {message}"))));
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        Err(null_note.unwrap_or_else(|| "no layout of the type could be written".into()))
    }

    // ---- sources ------------------------------------------------------------------

    /// Marks data-path checks skipped for want of options or grants.
    pub(crate) fn skip_unready(&mut self, names: [&str; 2], why: &str) {
        for name in names {
            self.report.skip(name, why);
        }
    }
}

/// Characters generated strings are made of: no delimiters, quotes or line
/// breaks (which text formats may refuse to write), but multi-byte UTF-8.
pub(crate) const SAFE_TEXT: &[char] = &['a', 'Z', 'q', '0', '7', ' ', '-', '_', 'é', 'ß', '日', '🦀'];

pub(crate) fn scalar_types() -> Vec<(&'static str, LogicalType)> {
    use weir::types::DecimalType;
    vec![
        ("BOOLEAN", LogicalType::Boolean),
        ("TINYINT", LogicalType::Tinyint),
        ("SMALLINT", LogicalType::Smallint),
        ("INT", LogicalType::Int),
        ("BIGINT", LogicalType::Bigint),
        ("FLOAT", LogicalType::Float),
        ("DOUBLE", LogicalType::Double),
        ("DECIMAL(10, 2)", LogicalType::Decimal(DecimalType { precision: 10, scale: 2 })),
        ("STRING", LogicalType::String),
        ("BYTES", LogicalType::Bytes),
        ("DATE", LogicalType::Date),
        ("TIME(3)", LogicalType::Time(3)),
        ("TIMESTAMP(3)", LogicalType::Timestamp(3)),
        ("TIMESTAMP_LTZ(6)", LogicalType::TimestampLtz(6)),
    ]
}

pub(crate) fn one_column(data_type: LogicalType, nullable: bool) -> Schema {
    Schema {
        fields: vec![Field { name: "v".into(), data_type, nullable }],
        nested: Vec::new(),
        primary_key: Vec::new(),
    }
}

/// `rows` with -U as -D and +U as +I.
fn as_delete_insert(rows: &ChangelogBatch) -> ChangelogBatch {
    let kinds = rows.row_kinds.iter().map(|&k| match k {
        1 => 3,
        2 => 0,
        k => k,
    });
    ChangelogBatch { rows: rows.rows.clone(), row_kinds: kinds.collect() }
}

pub(crate) fn compare(expected: &ChangelogBatch, actual: &ChangelogBatch) -> Result<(), String> {
    let (e, a) = (display::format_rows(expected), display::format_rows(actual));
    if let Some((i, (x, y))) = e.iter().zip(&a).enumerate().find(|(_, (x, y))| x != y) {
        return Err(format!("row {i}: wrote {x}, read back {y}"));
    }
    if e.len() != a.len() {
        return Err(format!("wrote {} rows, read back {}", e.len(), a.len()));
    }
    Ok(())
}
