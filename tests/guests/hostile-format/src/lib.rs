//! A hostile format. Its decoder carries out the attack named by the
//! `attack` option on the first `decode` call; the hostile-guest suite
//! (`tests/hostile.rs`) runs each one and asserts it is contained.
//!
//! The spec declares only what options ask for (`path` → read, `out` →
//! write, `target` → tcp-connect, `url` → http), so most attacks go for
//! something the spec never declared. An attack that *succeeds* returns the
//! loot as rows (the tests fail on any row); one that is refused returns the
//! refusal as a connection error, so the test can check what the sandbox
//! said.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};

use weir_sdk::{
    Batch, BatchBuilder, CapabilityKind, Column, ColumnData, ComponentSpec, Error, Format, OptionSpec, Options,
    OptionsExt, Result, RowKind, Schema, VarData,
};

struct Hostile {
    attack: String,
    options: Vec<(String, String)>,
    schema: Schema,
}

/// What an attack that got through returns: the loot as one row.
fn loot(schema: &Schema, what: String) -> Result<Batch> {
    let mut out = BatchBuilder::new(schema);
    out.column(0).push_str(&what)?;
    out.end_row(RowKind::Insert)?;
    out.finish()
}

fn refused(attack: &str, e: impl std::fmt::Display) -> Error {
    Error::connection(format!("{attack} refused: {e}"))
}

/// A one-column STRING batch with raw parts, for the malformed-batch attacks.
fn strings(rows: u32, offsets: Vec<i32>, data: Vec<u8>) -> Batch {
    Batch {
        row_count: rows,
        row_kinds: Vec::new(),
        columns: vec![Column { validity: None, data: ColumnData::Utf8(VarData { offsets, data }) }],
        children: Vec::new(),
    }
}

/// `copies` vectors that all own the same `len`-byte buffer: what a
/// malicious guest can put in its results (never dropped here; the
/// canonical ABI's post-return may free them, which is the guest's own
/// problem).
pub fn aliases(len: usize, copies: usize) -> Vec<Vec<u8>> {
    let mut big = std::mem::ManuallyDrop::new(vec![b'a'; len]);
    let (ptr, cap) = (big.as_mut_ptr(), big.capacity());
    // SAFETY: not safe at all, on purpose — the vectors alias.
    (0..copies).map(|_| unsafe { Vec::from_raw_parts(ptr, len, cap) }).collect()
}

#[inline(never)]
fn recurse(depth: u64, acc: &mut [u64; 64]) -> u64 {
    acc[(depth % 64) as usize] = depth;
    if depth == u64::MAX { 0 } else { recurse(depth + 1, acc) + acc[0] }
}

impl Hostile {
    fn option(&self, key: &str) -> &str {
        self.options.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    fn attack(&mut self) -> Result<Batch> {
        let attack = self.attack.clone();
        let (path, out, target, victim) =
            (self.option("path"), self.option("out"), self.option("target"), self.option("victim"));
        let read = |file: &str| std::fs::read_to_string(file).map_err(|e| refused(&attack, e));
        let connect = |addr: &str| TcpStream::connect(addr).map_err(|e| refused(&attack, e));
        match attack.as_str() {
            // ---- files -------------------------------------------------
            "read-outside" => read("/etc/passwd").and_then(|s| loot(&self.schema, s)),
            "dotdot-escape" => {
                read(&format!("{path}/../../../../../../etc/passwd")).and_then(|s| loot(&self.schema, s))
            }
            "symlink-escape" => read(&format!("{path}/link/passwd")).and_then(|s| loot(&self.schema, s)),
            "undeclared-read" => read(victim).and_then(|s| loot(&self.schema, s)),
            "write-readonly" => std::fs::write(format!("{path}/planted"), b"owned")
                .map_err(|e| refused(&attack, e))
                .and_then(|()| loot(&self.schema, "planted".into())),
            "write-outside" => std::fs::write(format!("{out}/../planted"), b"owned")
                .map_err(|e| refused(&attack, e))
                .and_then(|()| loot(&self.schema, "planted".into())),
            "list-dir" => std::fs::read_dir(victim)
                .map_err(|e| refused(&attack, e))
                .and_then(|d| loot(&self.schema, format!("{} entries", d.count()))),
            // A relative link out of the writable directory, for the next
            // program that opens `{out}/dt=x` (made through WASI directly:
            // std has no stable symlink call on wasip2).
            "symlink-create" => symlink_at(out, victim, "dt=x")
                .map_err(|e| refused(&attack, e))
                .and_then(|()| loot(&self.schema, "link created".into())),
            "list-root" => std::fs::read_dir("/")
                .map_err(|e| refused(&attack, e))
                .and_then(|d| loot(&self.schema, format!("{} entries", d.count()))),
            "file-flood" => {
                let mut held = Vec::new();
                loop {
                    match std::fs::File::open(path) {
                        Ok(f) => held.push(f),
                        Err(e) => return Err(refused(&attack, format!("after {} files: {e}", held.len()))),
                    }
                }
            }
            // ---- network -----------------------------------------------
            "connect-port" | "connect-host" => {
                let mut s = connect(victim)?;
                let _ = s.write_all(b"exfiltrated");
                loot(&self.schema, "connected".into())
            }
            "dns-lookup" => (victim, 80)
                .to_socket_addrs()
                .map_err(|e| refused(&attack, e))
                .and_then(|a| loot(&self.schema, format!("{} addresses", a.count()))),
            "listen" => TcpListener::bind(victim)
                .map_err(|e| refused(&attack, e))
                .and_then(|_| loot(&self.schema, "listening".into())),
            "udp" => UdpSocket::bind("0.0.0.0:0")
                .and_then(|s| s.send_to(b"exfiltrated", victim))
                .map_err(|e| refused(&attack, e))
                .and_then(|_| loot(&self.schema, "sent".into())),
            "socket-flood" => {
                let mut held = Vec::new();
                loop {
                    match TcpStream::connect(target) {
                        Ok(s) => held.push(s),
                        Err(e) => return Err(refused(&attack, format!("after {} sockets: {e}", held.len()))),
                    }
                }
            }
            "blocking-read" => {
                let mut s = connect(target)?;
                let mut buf = [0u8; 16];
                let n = s.read(&mut buf).map_err(|e| refused(&attack, e))?;
                loot(&self.schema, format!("read {n} bytes"))
            }
            // ---- process -----------------------------------------------
            "env" => match std::env::vars().next() {
                Some((k, v)) => loot(&self.schema, format!("{k}={v}")),
                None => Err(refused(&attack, "no variables")),
            },
            "args-stdin" => {
                let mut stdin = String::new();
                let _ = std::io::stdin().read_to_string(&mut stdin);
                let args = std::env::args().count();
                if args > 0 || !stdin.is_empty() {
                    loot(&self.schema, format!("{args} args, {} bytes of stdin", stdin.len()))
                } else {
                    Err(refused(&attack, "no arguments, empty stdin"))
                }
            }
            "exit" => std::process::exit(3),
            "stderr-flood" => {
                let chunk = vec![b'x'; 1 << 20];
                for _ in 0..256 {
                    let _ = std::io::stderr().write_all(&chunk);
                }
                panic!("wrote 256 MiB to stderr")
            }
            "metric-flood" => {
                let long = "x".repeat(1000);
                for i in 0..20_000u32 {
                    weir_sdk::log::counter_add(&format!("metric-{i}-{long}"), 1);
                    weir_sdk::log::gauge_set(&format!("gauge-{i}-{long}"), 1.0);
                }
                weir_sdk::log::info(&"y".repeat(1 << 20));
                loot(&self.schema, "sent 20000 metric names".into())
            }
            // ---- CPU, memory, stack ------------------------------------
            "infinite-loop" => {
                let mut x = 0u64;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
            }
            "slow-loop" => loop {
                // Calls into the host every turn, never returns from decode.
                let _ = std::hint::black_box(std::time::Instant::now());
            },
            "sleep-forever" => {
                std::thread::sleep(std::time::Duration::from_secs(86_400));
                Err(refused(&attack, "woke up"))
            }
            "memory-bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "stack-overflow" => {
                let mut acc = [0u64; 64];
                let n = recurse(0, &mut acc);
                loot(&self.schema, n.to_string())
            }
            "panic" => panic!("hostile guest panics on purpose"),
            // ---- what the host lifts -----------------------------------
            "huge-batch" => Ok(strings(u32::MAX, vec![0, 1], b"x".to_vec())),
            "aliased-columns" => {
                // 1024 columns whose data is the same 16 MiB buffer: 16 GiB
                // if lifted naively, from 16 MiB of guest memory.
                let columns = aliases(16 << 20, 1024)
                    .into_iter()
                    .map(|data| Column {
                        validity: None,
                        data: ColumnData::Binary(VarData { offsets: vec![0, data.len() as i32], data }),
                    })
                    .collect();
                Ok(Batch { row_count: 1, row_kinds: Vec::new(), columns, children: Vec::new() })
            }
            "offsets-out-of-bounds" => Ok(strings(2, vec![0, 3, 1_000_000], b"abc".to_vec())),
            "offsets-backwards" => Ok(strings(2, vec![0, 3, 1], b"abc".to_vec())),
            "invalid-utf8" => Ok(strings(1, vec![0, 2], vec![0xC3, 0x28])),
            "wrong-column-count" => {
                let mut b = strings(1, vec![0, 1], b"x".to_vec());
                b.columns.push(b.columns[0].clone());
                Ok(b)
            }
            "wrong-column-type" => Ok(Batch {
                row_count: 1,
                row_kinds: Vec::new(),
                columns: vec![Column { validity: None, data: ColumnData::Int64(vec![42]) }],
                children: Vec::new(),
            }),
            "short-bitmap" => Ok(Batch {
                row_count: 100,
                row_kinds: Vec::new(),
                columns: vec![Column {
                    validity: Some(vec![0xFF]),
                    data: ColumnData::Utf8(VarData { offsets: vec![0; 101], data: Vec::new() }),
                }],
                children: Vec::new(),
            }),
            "bad-row-kind" => {
                let mut b = strings(1, vec![0, 1], b"x".to_vec());
                b.row_kinds = vec![200];
                Ok(b)
            }
            "errors-forever" => Err(Error::transient("try again (forever)")),
            // ---- what reaches the operator's terminal and logs ----------
            // 64 Mi rows in an 8 MiB BOOLEAN column: inside the result limit;
            // rendering every row at once cost the host ~450 times that.
            "bool-flood" => {
                let rows: u32 = self.option("rows").parse().unwrap_or(64 << 20);
                Ok(Batch {
                    row_count: rows,
                    row_kinds: Vec::new(),
                    columns: vec![Column {
                        validity: None,
                        data: ColumnData::Boolean(vec![0xA5; rows.div_ceil(8) as usize]),
                    }],
                    children: Vec::new(),
                })
            }
            // Rewrites the operator's terminal: erase the line, retitle it.
            "evil-error" => Err(Error::connection("\u{1b}[2K\rall good\u{1b}]0;pwned\u{7}\nforged: line")),
            "evil-values" => loot(&self.schema, "\u{1b}[2K\r+I[forged]\u{1b}[8m".into()),
            "huge-error" => Err(Error::connection("E".repeat(50 << 20))),
            "log-flood" => {
                let line = "z".repeat(1024);
                for _ in 0..200_000 {
                    weir_sdk::log::warn(&line);
                }
                loot(&self.schema, "logged 200000 lines".into())
            }
            // ---- http --------------------------------------------------
            "http-get" => http_get(victim).map_err(|e| refused(&attack, e)).and_then(|body| loot(&self.schema, body)),
            other => Err(Error::config(Some("attack"), format!("unknown attack '{other}'"))),
        }
    }
}

/// Creates the symbolic link `dir/name → target` through
/// `wasi:filesystem` on the preopen named `dir`.
fn symlink_at(dir: &str, target: &str, name: &str) -> std::result::Result<(), String> {
    let dirs = wasip2::filesystem::preopens::get_directories();
    let (descriptor, _) = dirs.iter().find(|(_, path)| path == dir).ok_or_else(|| format!("{dir} is not preopened"))?;
    descriptor.symlink_at(target, name).map_err(|e| format!("{e:?}"))
}

/// A GET of `url` through `wasi:http/outgoing-handler`; the body as text.
fn http_get(url: &str) -> std::result::Result<String, String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;

    let (scheme, rest) = url.split_once("://").ok_or("not a URL")?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    let request = OutgoingRequest::new(Fields::new());
    let scheme = if scheme == "https" { Scheme::Https } else { Scheme::Http };
    request.set_scheme(Some(&scheme)).map_err(|()| "bad scheme")?;
    request.set_authority(Some(authority)).map_err(|()| "bad authority")?;
    request.set_path_with_query(Some(path)).map_err(|()| "bad path")?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    let response = pending.get().ok_or("no response")?.map_err(|()| "response taken")?.map_err(|e| format!("{e:?}"))?;
    let body = response.consume().map_err(|()| "no body")?;
    let stream = body.stream().map_err(|()| "no body stream")?;
    let mut out = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => out.extend(chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(format!("{e:?}")),
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

impl Format for Hostile {
    fn spec() -> ComponentSpec {
        // The description and a capability carry terminal escapes: erase the
        // line, move up, hide text — what a rendered `weir inspect` showed.
        ComponentSpec::new("hostile", "Test guest: attacks the host from its decoder\u{1b}[8m (hidden text)\u{1b}[0m")
            .option(OptionSpec::string("attack", "Which attack to carry out").required())
            .option(OptionSpec::string("path", "A directory the spec declares for reading"))
            .option(OptionSpec::string("out", "A directory the spec declares for writing"))
            .option(OptionSpec::string("target", "An endpoint the spec declares"))
            .option(OptionSpec::string("victim", "What the attack goes for (never declared)"))
            .capability_when(CapabilityKind::Read, "{path}", "path")
            .capability_when(CapabilityKind::Write, "{out}", "out")
            .option(OptionSpec::string("url", "A URL prefix the spec declares for HTTP"))
            .capability_when(CapabilityKind::TcpConnect, "{target}", "target")
            .capability_when(CapabilityKind::Http, "{url}", "url")
            .option(OptionSpec::string("steal-env", "Never set by a test"))
            .option(OptionSpec::string("rows", "Rows of the bool-flood batch (default 64 Mi)"))
            .capability_when(
                CapabilityKind::Env,
                "AWS_SECRET_ACCESS_KEY\u{1b}[1A\u{1b}[2K\rcapabilities:  none (pure computation)",
                "steal-env",
            )
    }

    fn open(options: &Options, schema: &Schema) -> Result<Self> {
        Ok(Hostile { attack: options.string("attack")?.to_owned(), options: options.clone(), schema: schema.clone() })
    }

    fn decode(&mut self, _frames: &VarData) -> Result<Batch> {
        self.attack()
    }
}

weir_sdk::export_format!(Hostile);
