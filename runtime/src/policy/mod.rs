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
//!
//! One file per resource, each the single place its checks live: [`files`]
//! (paths opened beneath their grant, file-only preopens, the compile cache
//! kept out of reach, and the `wasi:filesystem` gate), [`sockets`] (TCP
//! addresses, name lookups), [`http`] (URL prefixes, the request hook),
//! `env`, `stdio`; operator policy files in `policy_file`.

mod env;
pub mod files;
pub mod http;
#[cfg(feature = "policy-file")]
mod policy_file;
pub mod sockets;
mod stdio;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use crate::spec::{Capability, CapabilityKind};

pub use http::{UrlPrefix, canonical_path, may_request};
pub use sockets::{Endpoint, may_resolve};
pub use stdio::STDERR_CAPTURE_BYTES;

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

impl Grants {
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
/// `{hostname}:{port}`; a comma-separated endpoint list gives one need per
/// endpoint); capabilities whose `when_option` is unset or
/// `false` are skipped. Relative paths are made absolute against `base`.
pub fn needs(declared: &[Capability], options: &[(String, String)], base: &Path) -> Vec<Need> {
    let value = |k: &str| options.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    declared
        .iter()
        .filter(|c| c.when_option.as_deref().is_none_or(|o| value(o).is_some_and(|v| !v.eq_ignore_ascii_case("false"))))
        .flat_map(|c| {
            let mut target = c.target.clone();
            for (k, v) in options {
                target = target.replace(&format!("{{{k}}}"), v);
            }
            if matches!(c.kind, CapabilityKind::Read | CapabilityKind::Write) {
                target = absolute(base, &target).display().to_string();
            }
            // An endpoint option may list several (`properties.bootstrap.servers`
            // = `b1:9092,b2:9092`): one need each. A URL
            // (`jdbc:postgresql://db:5432/app`) needs its host:port.
            let targets: Vec<String> = if c.kind == CapabilityKind::TcpConnect {
                target
                    .split(',')
                    .map(|t| {
                        let t = t.trim();
                        let authority = t.split_once("://").map_or(t, |(_, rest)| rest);
                        authority.split(['/', '?']).next().unwrap_or_default().to_owned()
                    })
                    .filter(|t| !t.is_empty())
                    .collect()
            } else {
                vec![target]
            };
            targets.into_iter().map(move |target| Need { kind: c.kind, target })
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

/// Builds the WASI context of one instance from its grants; no granted path
/// may cover or lie inside one of the `protected` directories. Refused
/// socket uses are recorded in `denials`.
pub fn wasi_context(grants: &Grants, denials: &Denials, protected: &[PathBuf]) -> anyhow::Result<Sandbox> {
    let mut builder = WasiCtxBuilder::new();
    let stderr = stdio::configure(&mut builder, grants.stdout, grants.stderr);
    env::configure(&mut builder, &grants.env);
    let only_files = files::preopen(&mut builder, grants, protected)?;
    sockets::configure(&mut builder, &grants.connect, denials);
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

    #[test]
    fn an_endpoint_list_needs_each_endpoint() {
        let declared = [Capability {
            kind: CapabilityKind::TcpConnect,
            target: "{properties.bootstrap.servers}".into(),
            when_option: None,
        }];
        let options = [("properties.bootstrap.servers".to_owned(), "b1:9092, b2:9093,".to_owned())];
        let n = needs(&declared, &options, Path::new("/"));
        assert_eq!(n, [need(CapabilityKind::TcpConnect, "b1:9092"), need(CapabilityKind::TcpConnect, "b2:9093")]);
        let declared = [Capability { kind: CapabilityKind::TcpConnect, target: "{url}".into(), when_option: None }];
        let options = [("url".to_owned(), "jdbc:postgresql://db.example:5432/app?ssl=false".to_owned())];
        assert_eq!(needs(&declared, &options, Path::new("/")), [need(CapabilityKind::TcpConnect, "db.example:5432")]);
    }
}
