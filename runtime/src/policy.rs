//! The one place where a guest's capabilities are decided.
//!
//! Every component instance gets a WASI context built here from its
//! [`Grants`]. The default grants nothing: no files, no sockets (and no name
//! lookups), no environment, no arguments, no stdin; stdout is discarded and
//! stderr is captured by the host only to attach a panic message to the
//! error. Clocks and random numbers are available, as they give the guest no
//! reach into the world.
//!
//! A job gives an instance exactly what its component *declares* (its
//! spec's capabilities, templated on the table's options) **and** the
//! operator *granted* (`--allow-read`, `--allow-write`, `--allow-net`,
//! `--allow-http`, `--allow-stdout`, `--allow-env`, or a policy file);
//! [`authorize`] computes that intersection or lists what is missing.
//! Enforcement is at the WASI choke points: directories through cap-std
//! preopens with read-only or read-write permissions, sockets through the
//! socket-address check, name lookups through [`may_resolve`] (only granted
//! host names), outgoing `wasi:http` requests through [`may_request`] (only
//! granted URL prefixes). An access the component did not declare fails even
//! if it tries.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use crate::spec::{Capability, CapabilityKind};

/// How much of a guest's stderr the host keeps for error messages.
pub const STDERR_CAPTURE_BYTES: usize = 64 * 1024;

/// A `host:port` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP address.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Endpoint {
    /// Parses `host:port` (`[v6]:port` for IPv6 literals).
    pub fn parse(text: &str) -> Option<Endpoint> {
        let (host, port) = text.trim().rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        (!host.is_empty()).then(|| Some(Endpoint { host: host.to_owned(), port: port.parse().ok()? }))?
    }

    /// The addresses the host name resolves to (on the host, once).
    fn addresses(&self) -> Vec<IpAddr> {
        (self.host.as_str(), self.port).to_socket_addrs().map(|a| a.map(|s| s.ip()).collect()).unwrap_or_default()
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// What one instance may touch (or what an operator allows a whole job).
/// Empty by default: the policy "deny everything".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Directories readable (recursively).
    pub read: Vec<PathBuf>,
    /// Directories readable and writable (recursively).
    pub write: Vec<PathBuf>,
    /// Endpoints a TCP connection may be opened to.
    pub connect: Vec<Endpoint>,
    /// The terminal's standard output.
    pub stdout: bool,
    /// The terminal's standard error.
    pub stderr: bool,
    /// Environment variables the guest may read (their host values).
    pub env: Vec<String>,
    /// URL prefixes outgoing HTTP requests may start with
    /// (`https://api.example.com/v1/`).
    pub http: Vec<String>,
    /// For an instance's grants (filled by [`authorize`]): the operator's
    /// grant each `read`/`write` path lies beneath. The host opens the path
    /// from that root without leaving it (symbolic links that point out of
    /// the root are refused); a path with no entry is its own root, as when
    /// the operator named it directly.
    pub roots: BTreeMap<PathBuf, PathBuf>,
}

impl Grants {
    /// The grant-nothing policy.
    pub fn none() -> Self {
        Grants::default()
    }

    /// The operator's grant `path` lies beneath, for reading.
    fn read_root(&self, path: &Path) -> Option<&PathBuf> {
        self.read.iter().chain(&self.write).find(|g| path.starts_with(g))
    }

    /// The operator's grant `path` lies beneath, for writing.
    fn write_root(&self, path: &Path) -> Option<&PathBuf> {
        self.write.iter().find(|g| path.starts_with(g))
    }

    /// Where the host starts opening `path` from: its root, or itself.
    fn root_of<'a>(&'a self, path: &'a Path) -> &'a Path {
        self.roots.get(path).map_or(path, PathBuf::as_path)
    }
}

/// An operator's policy file: what jobs run with it may grant their
/// components. Paths are relative to the file's directory.
///
/// ```toml
/// read = ["data/in"]
/// write = ["data/out"]
/// net = ["localhost:9999"]
/// env = ["TZ"]
/// http = ["https://api.example.com/v1/"]
/// stdout = true
/// ```
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    write: Vec<String>,
    #[serde(default)]
    net: Vec<String>,
    #[serde(default)]
    stdout: bool,
    #[serde(default)]
    stderr: bool,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    http: Vec<String>,
}

impl Grants {
    /// Reads a policy file (TOML) written by an operator; `base` is the
    /// directory relative paths start from.
    pub fn from_policy(text: &str, base: &Path) -> anyhow::Result<Grants> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let connect = file
            .net
            .iter()
            .map(|e| {
                Endpoint::parse(e)
                    .ok_or_else(|| anyhow::anyhow!("net = \"{e}\": write HOST:PORT, e.g. \"localhost:9999\""))
            })
            .collect::<anyhow::Result<_>>()?;
        for prefix in &file.http {
            UrlPrefix::parse(prefix).map_err(|e| anyhow::anyhow!("http = \"{prefix}\": {e}"))?;
        }
        Ok(Grants {
            read: file.read.iter().map(|p| absolute(base, p)).collect(),
            write: file.write.iter().map(|p| absolute(base, p)).collect(),
            connect,
            stdout: file.stdout,
            stderr: file.stderr,
            env: file.env,
            http: file.http,
            roots: BTreeMap::new(),
        })
    }

    /// Everything `self` or `other` grants.
    pub fn union(mut self, other: Grants) -> Grants {
        self.read.extend(other.read);
        self.write.extend(other.write);
        self.connect.extend(other.connect);
        self.stdout |= other.stdout;
        self.stderr |= other.stderr;
        self.env.extend(other.env);
        self.http.extend(other.http);
        self.roots.extend(other.roots);
        self
    }
}

/// A declared capability with its template filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// Kind of access.
    pub kind: CapabilityKind,
    /// The concrete target (`/data/in`, `localhost:9999`, empty for stdout).
    pub target: String,
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.target.is_empty() { write!(f, "{}", self.kind) } else { write!(f, "{} {}", self.kind, self.target) }
    }
}

impl Need {
    /// The command-line flag that grants this need.
    pub fn flag(&self) -> String {
        match self.kind {
            CapabilityKind::Read => format!("--allow-read {}", self.target),
            CapabilityKind::Write => format!("--allow-write {}", self.target),
            CapabilityKind::TcpConnect => format!("--allow-net {}", self.target),
            CapabilityKind::Stdout => "--allow-stdout".to_owned(),
            CapabilityKind::Stderr => "--allow-stderr".to_owned(),
            CapabilityKind::Env => format!("--allow-env {}", self.target),
            CapabilityKind::Http => format!("--allow-http {}", self.target),
            CapabilityKind::TcpListen => "(no grant exists: components may not listen)".to_owned(),
            CapabilityKind::Udp => "(no grant exists: components may not use UDP)".to_owned(),
        }
    }
}

/// Fills the templates of `declared` with option values (`{path}`,
/// `{hostname}:{port}`); capabilities whose `when_option` is unset or
/// `false` are skipped. Relative paths are made absolute against `base`.
pub fn needs(declared: &[Capability], options: &[(String, String)], base: &Path) -> Vec<Need> {
    let value = |k: &str| options.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    declared
        .iter()
        .filter(|c| c.when_option.as_deref().is_none_or(|o| value(o).is_some_and(|v| !v.eq_ignore_ascii_case("false"))))
        .map(|c| {
            let mut target = c.target.clone();
            for (k, v) in options {
                target = target.replace(&format!("{{{k}}}"), v);
            }
            if matches!(c.kind, CapabilityKind::Read | CapabilityKind::Write) {
                target = absolute(base, &target).display().to_string();
            }
            Need { kind: c.kind, target }
        })
        .collect()
}

/// `path` made absolute against `base`, with `.` and `..` resolved
/// lexically (the path may not exist yet).
pub fn absolute(base: &Path, path: &str) -> PathBuf {
    let joined = base.join(path);
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The grants of one instance: each need, if the operator granted it.
/// Otherwise every need that is missing, with the flag that grants it.
pub fn authorize(needs: &[Need], operator: &Grants) -> Result<Grants, Vec<Need>> {
    let mut grants = Grants::none();
    let mut missing = Vec::new();
    for need in needs {
        let path = Path::new(&need.target);
        let granted = match need.kind {
            CapabilityKind::Read | CapabilityKind::Write => {
                let write = need.kind == CapabilityKind::Write;
                let root = if write { operator.write_root(path) } else { operator.read_root(path) };
                if let Some(root) = root {
                    grants.roots.insert(path.to_owned(), operator.root_of(root).to_owned());
                    if write { &mut grants.write } else { &mut grants.read }.push(path.to_owned());
                }
                root.is_some()
            }
            CapabilityKind::TcpConnect => match Endpoint::parse(&need.target) {
                Some(e) if operator.connect.contains(&e) => {
                    grants.connect.push(e);
                    true
                }
                _ => false,
            },
            CapabilityKind::Stdout if operator.stdout => {
                grants.stdout = true;
                true
            }
            CapabilityKind::Stderr if operator.stderr => {
                grants.stderr = true;
                true
            }
            CapabilityKind::Env if operator.env.contains(&need.target) => {
                grants.env.push(need.target.clone());
                true
            }
            // A declared prefix is granted when it lies inside a granted one.
            CapabilityKind::Http if may_request(&operator.http, &need.target) => {
                grants.http.push(need.target.clone());
                true
            }
            _ => false,
        };
        if !granted {
            missing.push(need.clone());
        }
    }
    if missing.is_empty() { Ok(grants) } else { Err(missing) }
}

/// Whether a guest whose granted endpoints have the host names `allowed`
/// (lower case) may resolve `name`: only those names, compared without case
/// and a trailing dot. IP literals need no lookup and are always "resolved"
/// (the socket-address check still decides whether they can be reached).
pub fn may_resolve(allowed: &[String], name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<IpAddr>().is_ok() || allowed.iter().any(|a| a.trim_end_matches('.') == name)
}

/// A URL prefix of an `http` grant, parsed: requests must use the same
/// scheme and authority (host and port, the scheme's default port spelled
/// out or not) and a path under the prefix's path. `https://api.x.com/v1`
/// admits `/v1` and `/v1/…` but neither `/v10` nor `api.x.com.evil.net`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPrefix {
    scheme: String,
    host: String,
    port: u16,
    path: String,
}

impl UrlPrefix {
    /// Parses `scheme://host[:port][/path]` (http or https).
    pub fn parse(text: &str) -> Result<UrlPrefix, String> {
        let (scheme, rest) =
            text.split_once("://").ok_or_else(|| "write a URL prefix such as https://host/path/".to_owned())?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            other => return Err(format!("scheme '{other}' is not http or https")),
        };
        let (authority, path) = rest.find(['/', '?', '#']).map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
        if authority.contains('@') {
            return Err("user information (user@host) is not allowed in a URL prefix".to_owned());
        }
        let port = |p: &str| p.parse::<u16>().map_err(|_| format!("'{p}' is not a port"));
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| "unclosed '[' in the host".to_owned())?;
            match after.strip_prefix(':') {
                Some(p) => (host, port(p)?),
                None if after.is_empty() => (host, default_port),
                None => return Err(format!("unexpected '{after}' after the host")),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, p)) => (host, port(p)?),
                None => (authority, default_port),
            }
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            return Err("the URL prefix has no host".to_owned());
        }
        // Query and fragment are not part of what a prefix admits.
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let path = if path.is_empty() { "/".to_owned() } else { path.to_owned() };
        Ok(UrlPrefix { scheme, host, port, path })
    }

    /// Whether the URL (or narrower prefix) `url` lies under this prefix.
    /// Both paths are compared as servers will read them: fully decoded
    /// ([`canonical_path`]); a path that could be read two ways is refused.
    fn admits(&self, url: &UrlPrefix) -> bool {
        if self.scheme != url.scheme || self.host != url.host || self.port != url.port {
            return false;
        }
        let (Some(prefix), Some(path)) = (canonical_path(&self.path), canonical_path(&url.path)) else {
            return false;
        };
        match path.strip_prefix(prefix.as_str()) {
            Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }
}

/// How many rounds of percent-decoding a path may need; more is refused.
const MAX_DECODE_ROUNDS: usize = 4;

/// A request path as a server that decodes and normalises it would see it,
/// or `None` when it is ambiguous — then the request is refused (fail
/// closed). Each `/`-separated segment is percent-decoded until it no
/// longer changes (so `%252e` counts as `.`); refused are segments that
/// decode to `.` or `..`, that contain `/` or `\` after decoding (an
/// encoded separator, or one that some servers take as a separator), `;`
/// (path parameters, which some servers strip: `..;/`), control
/// characters, or invalid escapes and UTF-8.
pub fn canonical_path(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        let mut text = segment.to_owned();
        let mut rounds = 0;
        while text.contains('%') {
            rounds += 1;
            if rounds > MAX_DECODE_ROUNDS {
                return None;
            }
            text = percent_decode(&text)?;
        }
        if text == "." || text == ".." || text.contains(['/', '\\', ';']) || text.chars().any(char::is_control) {
            return None;
        }
        if i > 0 {
            out.push('/');
        }
        out.push_str(&text);
    }
    Some(out)
}

/// One round of percent-decoding; `None` for a bad escape or invalid UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether an outgoing HTTP request to `url` (or a declared prefix) lies
/// under one of the granted URL `prefixes`. Unparsable URLs are refused.
pub fn may_request(prefixes: &[String], url: &str) -> bool {
    let Ok(url) = UrlPrefix::parse(url) else { return false };
    prefixes.iter().filter_map(|p| UrlPrefix::parse(p).ok()).any(|p| p.admits(&url))
}

/// Accesses the policy refused one instance (`connect to 10.0.0.1:80`),
/// kept so an operator — and `weir verify` — can see what a component
/// tried beyond its grants, even when it swallowed the error.
#[derive(Debug, Clone, Default)]
pub struct Denials(Arc<std::sync::Mutex<Vec<String>>>);

impl Denials {
    /// Most refusals kept per instance.
    const MAX: usize = 64;

    /// Records a refused access.
    pub fn record(&self, what: String) {
        tracing::debug!(target: "weir::policy", "refused: {what}");
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if list.len() < Self::MAX && !list.contains(&what) {
            list.push(what);
        }
    }

    /// The refusals so far.
    pub fn list(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What [`wasi_context`] built for one instance.
pub struct Sandbox {
    /// The WASI context, with exactly the granted capabilities.
    pub wasi: WasiCtx,
    /// Where the guest's stderr goes (unless it was granted the terminal's).
    pub stderr: MemoryOutputPipe,
    /// Preopened directories (by guest path) through which only some files
    /// may be reached: those of file grants. `store::FsGate` enforces it.
    pub only_files: BTreeMap<String, Vec<String>>,
}

/// A granted path as the host opened it, beneath its root.
enum Opened {
    Dir(cap_std::fs::Dir),
    /// A file: its directory (preopened, but only `name` reachable).
    File {
        parent: cap_std::fs::Dir,
        name: String,
    },
}

/// Opens the granted `path` beneath the operator's grant `root` without
/// leaving it: symbolic links are followed only while they stay inside
/// `root` (cap-std resolves every component from the root's handle), so a
/// link planted inside a grant — `granted/link → /etc` — cannot make the
/// host open something the operator never granted. The root itself is the
/// operator's own path and is opened as given. A write grant's directory is
/// created (beneath the root) when missing; a read grant must exist.
fn open_beneath(root: &Path, path: &Path, write: bool) -> Result<Opened, String> {
    use cap_std::ambient_authority;
    use cap_std::fs::Dir;
    let shown = path.display();
    let io = |what: &str, e: std::io::Error| {
        if e.to_string().contains("outside of the filesystem") {
            format!(
                "the granted path {shown} leads outside the operator's grant {} (through a symbolic link or '..'); \
                 the host refuses to follow it — grant the link's target instead",
                root.display()
            )
        } else {
            format!("cannot {what} the granted path {shown}: {e}")
        }
    };
    let rel = path.strip_prefix(root).map_err(|_| format!("{shown} is not beneath its grant {}", root.display()))?;
    if write {
        std::fs::create_dir_all(root).map_err(|e| io("create", e))?;
    }
    let meta = std::fs::metadata(root).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "the granted path {} does not exist (a read grant needs an existing file or directory)",
                root.display()
            )
        } else {
            io("open", e)
        }
    })?;
    let root_dir = if meta.is_dir() {
        Dir::open_ambient_dir(root, ambient_authority()).map_err(|e| io("open", e))?
    } else if rel.as_os_str().is_empty() && !write {
        // The operator granted this very file: its directory, that file only.
        let name = root.file_name().and_then(|n| n.to_str()).ok_or_else(|| format!("{shown} has no file name"))?;
        let parent = root.parent().unwrap_or(Path::new("/"));
        let parent = Dir::open_ambient_dir(parent, ambient_authority()).map_err(|e| io("open", e))?;
        return Ok(Opened::File { parent, name: name.to_owned() });
    } else {
        return Err(format!("the granted path {} is a file, not a directory", root.display()));
    };
    if rel.as_os_str().is_empty() {
        return Ok(Opened::Dir(root_dir));
    }
    if write {
        return match root_dir.open_dir(rel) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                root_dir.create_dir_all(rel).map_err(|e| io("create", e))?;
                root_dir.open_dir(rel).map(Opened::Dir).map_err(|e| io("open", e))
            }
            opened => opened.map(Opened::Dir).map_err(|e| io("open", e)),
        };
    }
    match root_dir.metadata(rel) {
        Ok(m) if m.is_dir() => root_dir.open_dir(rel).map(Opened::Dir).map_err(|e| io("open", e)),
        Ok(_) => {
            let name = rel.file_name().and_then(|n| n.to_str()).ok_or_else(|| format!("{shown} has no file name"))?;
            let parent = match rel.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(p) => root_dir.open_dir(p).map_err(|e| io("open", e))?,
                None => root_dir,
            };
            Ok(Opened::File { parent, name: name.to_owned() })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("the granted path {shown} does not exist (a read grant needs an existing file or directory)"))
        }
        Err(e) => Err(io("open", e)),
    }
}

/// A host path naming exactly the directory `dir` the host already opened,
/// for wasmtime-wasi's preopen (which takes a path): on Linux the
/// descriptor's `/proc/self/fd` entry, which names that directory itself,
/// not a path to resolve again. Elsewhere the resolved path, checked to lie
/// beneath `root`.
fn host_path_of(dir: &cap_std::fs::Dir, path: &Path, root: &Path) -> Result<PathBuf, String> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let proc = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        if proc.exists() {
            return Ok(proc);
        }
    }
    let _ = dir;
    let real = std::fs::canonicalize(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let root = std::fs::canonicalize(root).map_err(|e| format!("cannot open {}: {e}", root.display()))?;
    if real.starts_with(&root) {
        Ok(real)
    } else {
        Err(format!("the granted path {} leads outside the operator's grant {}", path.display(), root.display()))
    }
}

/// The identity (device, inode) of a directory, to compare paths that may
/// reach it through symbolic links or bind mounts.
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Whether `a` is `b` or one of its ancestors, comparing identities (so a
/// symbolic link or bind mount naming the same directory counts).
#[cfg(unix)]
fn is_ancestor_or_same(a: &Path, b: &Path) -> bool {
    let Some(a) = identity(a) else { return false };
    let b = std::fs::canonicalize(b).unwrap_or_else(|_| b.to_owned());
    b.ancestors().any(|p| identity(p) == Some(a))
}

#[cfg(not(unix))]
fn is_ancestor_or_same(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    canon(b).starts_with(canon(a))
}

/// Refuses to open `dir` (what `path` was opened as) for a component when
/// it covers, or lies inside, one of Weir's own `protected` directories
/// (the precompiled-component cache: native code the host loads). With
/// `file_only`, only lying inside counts (the rest of `dir` is not
/// reachable).
fn check_protected(host: &Path, path: &Path, protected: &[PathBuf], file_only: bool) -> Result<(), String> {
    for p in protected.iter().filter(|p| p.exists()) {
        let covers = !file_only && is_ancestor_or_same(host, p);
        if covers || is_ancestor_or_same(p, host) {
            return Err(format!(
                "the granted path {} {} Weir's component cache {}, which no component may reach (it holds native code \
                 the host runs); grant a narrower directory, or move the cache elsewhere with WEIR_CACHE_DIR",
                path.display(),
                if covers { "covers" } else { "lies inside" },
                p.display()
            ));
        }
    }
    Ok(())
}

/// Builds the WASI context of one instance from its grants; no granted path
/// may cover or lie inside one of the `protected` directories. Refused
/// socket uses are recorded in `denials`.
pub fn wasi_context(grants: &Grants, denials: &Denials, protected: &[PathBuf]) -> anyhow::Result<Sandbox> {
    let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
    let mut builder = WasiCtxBuilder::new();
    if grants.stderr {
        builder.inherit_stderr();
    } else {
        builder.stderr(stderr.clone());
    }
    if grants.stdout {
        builder.inherit_stdout();
    }
    // Environment: only the granted variables, with the host's values.
    for name in &grants.env {
        if let Ok(value) = std::env::var(name) {
            builder.env(name, value);
        }
    }
    // Files: each granted path is opened beneath the operator's grant it
    // came from, then preopened at the same absolute path inside the guest,
    // read-only or read-write. A directory grant gives that directory; a
    // file grant gives that file only: its directory is preopened, and the
    // filesystem gate lets no other name in it be opened, listed or linked.
    let mut dirs = Vec::new();
    let mut files: BTreeMap<PathBuf, (cap_std::fs::Dir, PathBuf, Vec<String>)> = BTreeMap::new();
    for (path, write) in grants.read.iter().map(|p| (p, false)).chain(grants.write.iter().map(|p| (p, true))) {
        let root = grants.root_of(path);
        match open_beneath(root, path, write).map_err(anyhow::Error::msg)? {
            Opened::Dir(dir) => dirs.push((dir, path.clone(), root.to_owned(), write)),
            Opened::File { parent, name } => {
                let guest = path.parent().map(Path::to_owned).unwrap_or_default();
                files.entry(guest).or_insert_with(|| (parent, root.to_owned(), Vec::new())).2.push(name);
            }
        }
    }
    let mut only_files = BTreeMap::new();
    // A file inside a granted directory needs no preopen of its own.
    files.retain(|parent, _| !dirs.iter().any(|(_, d, _, _)| parent.starts_with(d)));
    let preopens = dirs
        .into_iter()
        .map(|(dir, path, root, write)| (dir, path, root, write, None))
        .chain(files.into_iter().map(|(parent, (dir, root, names))| (dir, parent, root, false, Some(names))));
    for (dir, path, root, write, names) in preopens {
        let host = host_path_of(&dir, &path, &root).map_err(anyhow::Error::msg)?;
        check_protected(&host, &path, protected, names.is_some()).map_err(anyhow::Error::msg)?;
        let perms = if write { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
        let guest = path.display().to_string();
        builder
            .preopened_dir(&host, &guest, perms)
            .map_err(|e| anyhow::anyhow!("cannot open the granted directory {guest}: {e}"))?;
        if let Some(names) = names {
            only_files.insert(guest, names);
        }
    }
    // Sockets: TCP only when an endpoint is granted, and then only to the
    // addresses those endpoints resolve to (plus the implicit bind a
    // connect performs first). No UDP.
    let allowed: Arc<Vec<SocketAddr>> = Arc::new(
        grants
            .connect
            .iter()
            .flat_map(|e| e.addresses().into_iter().map(move |ip| SocketAddr::new(ip, e.port)))
            .collect(),
    );
    // Name lookups need a connect grant, and then only the granted host
    // names resolve (checked by `store::NameLookup`, linked over WASI's own).
    // TCP sockets can always be created, so that every connect and bind
    // reaches the socket-address check below — which refuses anything not
    // granted (everything, with no grant) and records the attempt.
    let any = !grants.connect.is_empty();
    builder.allow_tcp(true).allow_udp(false).allow_ip_name_lookup(any);
    let denials = denials.clone();
    builder.socket_addr_check(move |addr, use_| {
        let allowed = allowed.clone();
        let denials = denials.clone();
        Box::pin(async move {
            let ok = match use_ {
                SocketAddrUse::TcpConnect => allowed.contains(&addr),
                // The bind a connect does first, to an unspecified address.
                SocketAddrUse::TcpBind => !allowed.is_empty() && addr.ip().is_unspecified() && addr.port() == 0,
                _ => false,
            };
            if !ok {
                denials.record(match use_ {
                    SocketAddrUse::TcpConnect => format!("TCP connect to {addr}"),
                    // What a connect does first; with no grant it is refused
                    // here, before the destination is known.
                    SocketAddrUse::TcpBind if addr.ip().is_unspecified() && addr.port() == 0 => {
                        format!("TCP connect or listen (its bind to {addr})")
                    }
                    SocketAddrUse::TcpBind => format!("TCP bind on {addr}"),
                    SocketAddrUse::TcpListen => format!("TCP listen on {addr}"),
                    SocketAddrUse::TcpAccept => format!("TCP accept from {addr}"),
                    SocketAddrUse::UdpBind => format!("UDP bind on {addr}"),
                    SocketAddrUse::UdpSend => format!("UDP datagram to {addr}"),
                    SocketAddrUse::UdpReceive => format!("UDP datagram from {addr}"),
                });
            }
            ok
        })
    });
    Ok(Sandbox { wasi: builder.build(), stderr, only_files })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(kind: CapabilityKind, target: &str) -> Need {
        Need { kind, target: target.to_owned() }
    }

    #[test]
    fn authorize_grants_the_intersection_or_lists_what_is_missing() {
        let operator = Grants {
            read: vec!["/data".into()],
            write: vec!["/out".into()],
            connect: vec![Endpoint { host: "localhost".into(), port: 9999 }],
            stdout: true,
            stderr: false,
            env: vec!["TZ".into()],
            http: vec!["https://api.example.com/v1/".into()],
            roots: BTreeMap::new(),
        };
        let ok = authorize(
            &[need(CapabilityKind::Read, "/data/in/a.csv"), need(CapabilityKind::TcpConnect, "localhost:9999")],
            &operator,
        )
        .expect("granted");
        assert_eq!(ok.read, [PathBuf::from("/data/in/a.csv")]);
        assert_eq!(ok.roots[Path::new("/data/in/a.csv")], PathBuf::from("/data"), "opened beneath its grant");
        assert!(ok.write.is_empty() && !ok.stdout, "only what was needed");

        let missing = authorize(
            &[
                need(CapabilityKind::Write, "/data/out"),
                need(CapabilityKind::Read, "/etc/passwd"),
                need(CapabilityKind::TcpConnect, "localhost:80"),
                need(CapabilityKind::Stderr, ""),
                need(CapabilityKind::Read, "/out/x"),
                need(CapabilityKind::Env, "HOME"),
                need(CapabilityKind::Http, "https://api.example.com/v2/"),
            ],
            &operator,
        )
        .expect_err("not granted");
        let flags: Vec<String> = missing.iter().map(Need::flag).collect();
        assert_eq!(
            flags,
            [
                "--allow-write /data/out",
                "--allow-read /etc/passwd",
                "--allow-net localhost:80",
                "--allow-stderr",
                "--allow-env HOME",
                "--allow-http https://api.example.com/v2/"
            ]
        );
    }

    #[test]
    fn http_grants_admit_only_urls_under_the_prefix() {
        let grants = [
            "https://api.example.com/v1".to_owned(),
            "http://localhost:8080/".to_owned(),
            "http://[::1]:9/".to_owned(),
        ];
        for ok in [
            "https://api.example.com/v1",
            "https://api.example.com/v1/users?id=1",
            "https://API.example.com:443/v1/x",
            "http://localhost:8080/anything",
            "http://localhost:8080",
            "http://[::1]:9/x",
            "https://api.example.com/%76%31/users",
            "https://api.example.com/v1/a%20b",
        ] {
            assert!(may_request(&grants, ok), "{ok} should be admitted");
        }
        for denied in [
            "https://api.example.com/v10",
            "https://api.example.com/v2/x",
            "https://api.example.com.evil.net/v1/",
            "https://evil.net/?https://api.example.com/v1/",
            "https://api.example.com@evil.net/v1/",
            "http://api.example.com/v1/",
            "https://api.example.com:8443/v1/",
            "https://api.example.com/v1/../admin",
            "https://api.example.com/v1/%2E./admin",
            "https://api.example.com/v1/..%2fadmin/secret.txt",
            "https://api.example.com/v1/..%2Fadmin",
            "https://api.example.com/v1/..%5cadmin",
            "https://api.example.com/v1/..\\admin",
            "https://api.example.com/v1/..;/admin",
            "https://api.example.com/v1/%252e%252e/admin",
            "https://api.example.com/v1/%25252e%25252e/admin",
            "https://api.example.com/v1/./x",
            "https://api.example.com/v1/a%00b",
            "https://api.example.com/v1/%zz",
            "https://api.example.com/v1/%ff",
            "https://api.example.com/%76%31%2fx/../../admin",
            "http://localhost:8081/",
            "ftp://localhost:8080/",
            "not a url",
        ] {
            assert!(!may_request(&grants, denied), "{denied} should be refused");
        }
        assert!(UrlPrefix::parse("localhost:80").is_err());
        assert!(UrlPrefix::parse("https://:80/").is_err());
    }

    #[test]
    fn policy_files_grant_relative_to_their_directory() {
        let g = Grants::from_policy(
            "read = [\"in\", \"/abs\"]\nwrite = [\"../out\"]\nnet = [\"localhost:9999\"]\nstdout = true\nhttp = [\"http://localhost:1/\"]\n",
            Path::new("/ops/policies"),
        )
        .expect("parses");
        assert_eq!(g.read, [PathBuf::from("/ops/policies/in"), PathBuf::from("/abs")]);
        assert_eq!(g.write, [PathBuf::from("/ops/out")]);
        assert_eq!(g.connect, [Endpoint { host: "localhost".into(), port: 9999 }]);
        assert!(g.stdout && !g.stderr);
        assert_eq!(g.http, ["http://localhost:1/"]);
        let e = Grants::from_policy("http = [\"localhost\"]", Path::new("/")).expect_err("no scheme").to_string();
        assert!(e.contains("URL prefix"), "{e}");
        let e = Grants::from_policy("reed = [\"x\"]", Path::new("/")).expect_err("typo").to_string();
        assert!(e.contains("reed"), "{e}");
        let e = Grants::from_policy("net = [\"nohost\"]", Path::new("/")).expect_err("bad endpoint").to_string();
        assert!(e.contains("HOST:PORT"), "{e}");
    }

    #[test]
    fn needs_fill_templates_and_absolutize_paths() {
        let declared = [
            Capability { kind: CapabilityKind::Read, target: "{path}".into(), when_option: None },
            Capability { kind: CapabilityKind::TcpConnect, target: "{hostname}:{port}".into(), when_option: None },
            Capability { kind: CapabilityKind::Stdout, target: String::new(), when_option: Some("x".into()) },
        ];
        let options = [
            ("path".to_owned(), "in/../data".to_owned()),
            ("hostname".into(), "h".into()),
            ("port".into(), "1".into()),
        ];
        let n = needs(&declared, &options, Path::new("/jobs"));
        assert_eq!(n, [need(CapabilityKind::Read, "/jobs/data"), need(CapabilityKind::TcpConnect, "h:1")]);
        assert_eq!(Endpoint::parse("[::1]:80"), Some(Endpoint { host: "::1".into(), port: 80 }));
        assert_eq!(Endpoint::parse("nope"), None);
    }
}
