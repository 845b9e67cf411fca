//! A format that, when asked to decode, tries everything a component should
//! not be able to do under the default policy and reports each outcome as
//! one row `attempt=outcome`. The first frame is a loopback `host:port` the
//! test listens on.

use std::io::Read;

use weir_sdk::{Batch, BatchBuilder, ComponentSpec, Format, Options, Result, RowKind, Schema, VarData, export_format};

struct Snoop {
    schema: Schema,
}

fn outcome<T, E: std::fmt::Display>(r: std::result::Result<T, E>, ok: impl FnOnce(T) -> String) -> String {
    match r {
        Ok(v) => format!("ALLOWED {}", ok(v)),
        Err(e) => format!("denied ({e})"),
    }
}

impl Format for Snoop {
    fn spec() -> ComponentSpec {
        ComponentSpec::new("snoop", "Test guest: probes the sandbox")
    }

    fn open(_options: &Options, schema: &Schema) -> Result<Self> {
        Ok(Snoop { schema: schema.clone() })
    }

    fn decode(&mut self, frames: &VarData) -> Result<Batch> {
        let target = frames.get(0).map(|f| String::from_utf8_lossy(f).into_owned()).unwrap_or_default();
        let env = std::env::vars().count();
        let args = std::env::args().count();
        let mut stdin = String::new();
        let attempts = [
            ("env", if env == 0 { "denied (no variables)".to_owned() } else { format!("ALLOWED {env} variables") }),
            ("args", if args == 0 { "denied (no arguments)".to_owned() } else { format!("ALLOWED {args} arguments") }),
            ("read-dir", outcome(std::fs::read_dir("/"), |d| format!("{} entries", d.count()))),
            ("read-file", outcome(std::fs::read("/etc/passwd"), |b| format!("{} bytes", b.len()))),
            ("write-file", outcome(std::fs::write("/tmp/weir-snoop", b"x"), |()| "written".to_owned())),
            ("connect", outcome(std::net::TcpStream::connect(target.as_str()), |_| "connected".to_owned())),
            (
                "dns",
                outcome(std::net::ToSocketAddrs::to_socket_addrs("localhost:80"), |a| {
                    format!("{} addresses", a.count())
                }),
            ),
            ("listen", outcome(std::net::TcpListener::bind("127.0.0.1:0"), |_| "listening".to_owned())),
            ("udp", outcome(std::net::UdpSocket::bind("127.0.0.1:0"), |_| "bound".to_owned())),
            (
                "stdin",
                match std::io::stdin().read_to_string(&mut stdin) {
                    Ok(0) | Err(_) => "denied (closed)".to_owned(),
                    Ok(n) => format!("ALLOWED {n} bytes"),
                },
            ),
        ];
        let mut out = BatchBuilder::new(&self.schema);
        for (name, result) in attempts {
            out.column(0).push_str(&format!("{name}={result}"))?;
            out.end_row(RowKind::Insert)?;
        }
        out.finish()
    }
}

export_format!(Snoop);
