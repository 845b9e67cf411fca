//! The table Flink hands over, as Weir sees it: the Java factory writes the
//! table's physical schema and its `WITH` options as Flink SQL DDL; here it
//! becomes a [`Table`] whose connector is the named component, and the
//! `weir.*` options become the operator's [`Grants`].

use std::path::{Path, PathBuf};

use weir::catalog::{Entry, Origin};
use weir::error::Error;
use weir::policy::{self, Endpoint, Grants, UrlPrefix};
use weir_pipeline::{Query, Statement, Table};

use crate::Bridge;

/// The option naming the component: a catalog identifier (`filesystem`)
/// or the path of a `.wasm` file.
pub const COMPONENT: &str = "component";

/// Grant options, each a `;`-separated list (Flink's list syntax), and what
/// `weir run` calls them.
const GRANTS: &[(&str, &str)] = &[
    ("weir.allow-read", "--allow-read"),
    ("weir.allow-write", "--allow-write"),
    ("weir.allow-net", "--allow-net"),
    ("weir.allow-http", "--allow-http"),
    ("weir.allow-env", "--allow-env"),
    ("weir.allow-stdout", "--allow-stdout"),
    ("weir.allow-stderr", "--allow-stderr"),
    ("weir.policy", "--policy"),
];

/// A table of a Flink job, ready for the pipeline's handles.
pub struct FlinkTable {
    /// The table, `'connector'` naming the component's identifier.
    pub table: Table,
    /// What the operator granted in the table's options.
    pub grants: Grants,
    /// What Flink pushed down into the source (columns, filters, limit),
    /// written by the Java side as a `SELECT` after the table.
    pub query: Option<Query>,
}

/// The first table of the DDL the Java side wrote, the catalog identifier
/// its `component` option names (a `.wasm` file is loaded into the catalog
/// the first time), its other options in order, and the `SELECT` after it,
/// if any. `missing` words the error when there is no `component`.
async fn parse(
    bridge: &Bridge,
    ddl: &str,
    missing: impl FnOnce(&str) -> String,
) -> Result<(Table, String, Vec<(String, String)>, Option<Query>), String> {
    let job = weir_sql::parse("(Flink table)", ddl).map_err(|e| e.to_string())?;
    let query = job.statements.into_iter().find_map(|s| match s {
        Statement::Select(query) => Some(query),
        _ => None,
    });
    let Some(mut table) = job.tables.into_iter().next() else {
        return Err("the Flink bridge was given no table".to_owned());
    };
    let mut options = std::mem::take(&mut table.options);
    let Some(at) = options.iter().position(|(k, _)| k == COMPONENT) else {
        return Err(missing(&table.name));
    };
    let (_, component) = options.remove(at);
    let identifier = identifier(bridge, &component).await.map_err(|e| format!("table '{}': {e}", table.name))?;
    Ok((table, identifier, options, query))
}

/// Parses the DDL of a `'connector' = 'wasm'` table: its connector is the
/// named component, its `weir.*` options the operator's grants.
pub async fn table(bridge: &Bridge, ddl: &str) -> Result<FlinkTable, String> {
    let (mut table, identifier, given, query) = parse(bridge, ddl, |name| {
        format!(
            "table '{name}' has 'connector' = 'wasm' but no 'component': name a Weir connector \
             ('component' = 'filesystem') or a component file ('component' = '/path/to/connector.wasm')"
        )
    })
    .await?;
    let mut grants = Grants::none();
    let base = std::env::current_dir().unwrap_or_default();
    let mut options = vec![("connector".to_owned(), identifier)];
    for (key, value) in given {
        if key == "connector" {
            continue;
        }
        if key.starts_with("weir.") {
            grant(&mut grants, &key, &value, &base).map_err(|e| format!("table '{}': {e}", table.name))?;
            continue;
        }
        options.push((key, value));
    }
    table.options = options;
    Ok(FlinkTable { table, grants, query })
}

/// The catalog identifier of `component`: itself, or the identifier of
/// the `.wasm` file it names (loaded into the catalog once: the map stays
/// locked while a file loads, so subtasks opening at once load it once).
async fn identifier(bridge: &Bridge, component: &str) -> Result<String, String> {
    if !component.ends_with(".wasm") {
        return Ok(component.to_owned());
    }
    let path = PathBuf::from(component);
    let mut loaded = bridge.loaded.lock().await;
    if let Some(known) = loaded.get(&path) {
        return Ok(known.clone());
    }
    let wasm = std::fs::read(&path).map_err(|e| format!("cannot read component '{component}': {e}"))?;
    let mut runtime = bridge.weir.write().await;
    let entry = Entry::load(runtime.engine().clone(), Origin::File(path.clone()), &wasm)
        .await
        .map_err(|e| format!("component '{component}': {e}"))?;
    let identifier = entry.spec.identifier.clone();
    runtime.catalog_mut().add(entry).map_err(|e| format!("component '{component}': {e}"))?;
    loaded.insert(path, identifier.clone());
    Ok(identifier)
}

/// The format a `'format' = 'wasm'` DDL names: the table (its schema),
/// the format's identifier and its options (the table's other options,
/// without the `wasm.` prefix the Java side already removed).
pub async fn format(bridge: &Bridge, ddl: &str) -> Result<(Table, String, Vec<(String, String)>), String> {
    let (table, identifier, options, _) = parse(bridge, ddl, |name| {
        format!(
            "table '{name}' has 'format' = 'wasm' but no 'wasm.component': name a Weir format ('wasm.component' = \
             'csv') or a component file ('wasm.component' = '/path/to/format.wasm')"
        )
    })
    .await?;
    Ok((table, identifier, options))
}

/// Adds the grant option `key` to `grants`.
fn grant(grants: &mut Grants, key: &str, value: &str, base: &Path) -> Result<(), String> {
    let items = || value.split(';').map(str::trim).filter(|v| !v.is_empty());
    let path = |p: &str| policy::absolute(base, p);
    let yes = || match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("'{key}' is 'true' or 'false', not '{other}'")),
    };
    match key {
        "weir.allow-read" => grants.read.extend(items().map(path)),
        "weir.allow-write" => grants.write.extend(items().map(path)),
        "weir.allow-net" => {
            for item in items() {
                grants.connect.push(
                    Endpoint::parse(item)
                        .ok_or_else(|| format!("'{key}' = '{item}': write HOST:PORT, e.g. 'localhost:9092'"))?,
                );
            }
        }
        "weir.allow-http" => {
            for item in items() {
                UrlPrefix::parse(item).map_err(|e| format!("'{key}' = '{item}': {e}"))?;
                grants.http.push(item.to_owned());
            }
        }
        "weir.allow-env" => grants.env.extend(items().map(str::to_owned)),
        "weir.allow-stdout" => grants.stdout = yes()?,
        "weir.allow-stderr" => grants.stderr = yes()?,
        "weir.policy" => {
            let file = path(value.trim());
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("'{key}': cannot read policy file {}: {e}", file.display()))?;
            let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
            let policy = Grants::from_policy(&text, &dir)
                .map_err(|e| format!("'{key}': policy file {} is not valid: {e:#}", file.display()))?;
            *grants = std::mem::take(grants).union(policy);
        }
        _ => {
            let known: Vec<&str> = GRANTS.iter().map(|(k, _)| *k).collect();
            let suggestion = weir::options::closest(key, known.iter().copied())
                .map(|c| format!(" (did you mean '{c}'?)"))
                .unwrap_or_default();
            return Err(format!("unknown option '{key}'{suggestion}; the grant options are {}", known.join(", ")));
        }
    }
    Ok(())
}

/// Weir's error as Flink users read it: a denied capability names the
/// table option that grants it instead of `weir run`'s flag.
pub fn message(error: &Error) -> String {
    if let Error::Denied { table, role, component, missing } = error {
        let missing: Vec<String> = missing
            .iter()
            .map(|(need, flag)| match GRANTS.iter().find(|(_, f)| flag.starts_with(f)) {
                Some((option, f)) => match flag[f.len()..].trim() {
                    "" => format!("{need} (grant with '{option}' = 'true')"),
                    value => format!("{need} (grant with '{option}' = '{value}')"),
                },
                None => format!("{need} {flag}"),
            })
            .collect();
        return format!(
            "table '{table}': {role} '{component}' needs {} that the table's options do not grant: {}",
            if missing.len() == 1 { "a capability" } else { "capabilities" },
            missing.join("; ")
        );
    }
    format!("{error:#}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_options_become_grants_relative_paths_made_absolute() {
        let mut grants = Grants::none();
        let base = Path::new("/work");
        grant(&mut grants, "weir.allow-read", "/data/in; rel/dir", base).expect("read");
        grant(&mut grants, "weir.allow-net", "localhost:9092;127.0.0.1:5432", base).expect("net");
        grant(&mut grants, "weir.allow-stdout", "true", base).expect("stdout");
        grant(&mut grants, "weir.allow-env", "TZ", base).expect("env");
        assert_eq!(grants.read, [PathBuf::from("/data/in"), PathBuf::from("/work/rel/dir")]);
        assert_eq!(grants.connect.len(), 2);
        assert!(grants.stdout && !grants.stderr);
        assert_eq!(grants.env, ["TZ"]);
    }

    #[test]
    fn a_bad_grant_option_says_what_to_write() {
        let mut grants = Grants::none();
        let base = Path::new("/");
        let e = grant(&mut grants, "weir.allow-net", "localhost", base).expect_err("no port");
        assert!(e.contains("write HOST:PORT"), "{e}");
        let e = grant(&mut grants, "weir.allow-stdout", "yes", base).expect_err("not a boolean");
        assert!(e.contains("'true' or 'false'"), "{e}");
        let e = grant(&mut grants, "weir.allow-reed", "/x", base).expect_err("misspelt");
        assert!(e.contains("did you mean 'weir.allow-read'"), "{e}");
        let e = grant(&mut grants, "weir.policy", "/nonexistent/policy.toml", base).expect_err("no file");
        assert!(e.contains("cannot read policy file"), "{e}");
    }

    #[test]
    fn a_policy_file_adds_its_grants() {
        let dir = std::env::temp_dir().join(format!("weir-flink-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("policy.toml");
        std::fs::write(&file, "read = [\"/data\"]\nnet = [\"localhost:9092\"]\n").expect("policy");
        let mut grants = Grants::none();
        grant(&mut grants, "weir.policy", &file.display().to_string(), Path::new("/")).expect("policy");
        assert_eq!(grants.read, [PathBuf::from("/data")]);
        assert_eq!(grants.connect.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_denial_names_the_table_option_that_grants_it() {
        let e = Error::Denied {
            table: "src".into(),
            role: "connector".into(),
            component: "filesystem".into(),
            missing: vec![
                ("read /data".into(), "--allow-read /data".into()),
                ("stdout".into(), "--allow-stdout".into()),
            ],
        };
        assert_eq!(
            message(&e),
            "table 'src': connector 'filesystem' needs capabilities that the table's options do not grant: \
             read /data (grant with 'weir.allow-read' = '/data'); stdout (grant with 'weir.allow-stdout' = 'true')"
        );
    }
}
