//! Operator policy files (`--policy policy.toml`, feature `policy-file`).

use std::collections::BTreeMap;
use std::path::Path;

use super::{Endpoint, Grants, UrlPrefix, absolute};

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
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

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
}
