//! Real servers for integration tests: Redis (`redis-server`), PostgreSQL
//! (`initdb` + `pg_ctl`) and a TCP listener that never answers.
//!
//! Every server listens on 127.0.0.1 on a port of its own and lives in a
//! temporary directory of its own, so tests can run in parallel. Dropping a
//! server stops it and removes its directory.
//!
//! Nothing is mocked and nothing is skipped: when `redis-server` or `initdb`
//! is missing the harness panics and says how to install them.
//!
//! Use from a test file with `mod support;`. Not every test file uses every
//! helper, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod image;
pub mod pki;
pub mod tools;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What to do when a server binary is missing.
const INSTALL_HINT: &str = "run ./scripts/setup.sh to install redis-server and postgresql";

/// How long a server may take to start before the harness gives up.
const START_TIMEOUT: Duration = Duration::from_secs(20);

// ------------------------------------------------------------------ helpers

/// A TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads the
/// port the kernel chose and releases it.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener.local_addr().expect("reading the bound address").port()
}

/// A fresh, empty directory under the system temporary directory, removed on
/// drop (also when a test panics). Short names keep Unix socket paths under
/// their length limit.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("xagent-{prefix}-"))
        .tempdir()
        .unwrap_or_else(|e| panic!("creating a temporary directory: {e}"))
}

/// Whether this process runs as root (asks `id -u`, no libc needed).
pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The first executable called `name` on PATH.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// Runs `command`, panicking with its output unless it succeeds.
pub fn run_ok(command: &mut Command, what: &str) -> Output {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The end of a log file, for panic messages.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

// -------------------------------------------------------------------- Redis

/// The `redis-server` binary: `$REDIS_SERVER`, else PATH, else a panic.
fn redis_server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("REDIS_SERVER") {
        return PathBuf::from(p);
    }
    find_on_path("redis-server").unwrap_or_else(|| panic!("redis-server not found: {INSTALL_HINT}"))
}

/// The `redis-cli` binary (package redis-tools, a dependency of redis-server).
fn redis_cli_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("REDIS_CLI") {
        return PathBuf::from(p);
    }
    find_on_path("redis-cli").unwrap_or_else(|| panic!("redis-cli not found: {INSTALL_HINT}"))
}

/// A real `redis-server` on 127.0.0.1, without persistence, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    /// The port it listens on (kept across [`RedisServer::restart`]).
    pub port: u16,
    password: Option<String>,
    /// Certificate and key when the server speaks TLS only.
    tls: Option<(PathBuf, PathBuf)>,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server that speaks only TLS, with the certificate of `pki`,
    /// and requires `password`.
    pub fn start_tls(password: &str, pki: &pki::Pki) -> Self {
        let dir = temp_dir("redis");
        let tls = Some(pki.install_server_pair(dir.path()));
        let mut server = Self { port: free_port(), password: Some(password.into()), tls, child: None, dir };
        server.spawn();
        server
    }

    /// Starts a server that requires `password` (none: no AUTH needed) and
    /// waits until it answers.
    pub fn start(password: Option<&str>) -> Self {
        let mut server = Self {
            port: free_port(),
            password: password.map(str::to_string),
            tls: None,
            child: None,
            dir: temp_dir("redis"),
        };
        server.spawn();
        server
    }

    /// `redis://[:PASSWORD@]127.0.0.1:PORT` with the given password (which
    /// must not need percent-encoding), whatever the server requires.
    pub fn url_with(&self, password: Option<&str>) -> String {
        match password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// The URL with the server's own password.
    pub fn url(&self) -> String {
        self.url_with(self.password.as_deref())
    }

    /// Kills the server and waits for it to exit; the port then refuses connections.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server (if running) and starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Runs `redis-cli` against the server (authenticated with its password)
    /// and returns its trimmed standard output; panics if the reply is an error.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut command = Command::new(redis_cli_binary());
        command.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]).args(args);
        // REDISCLI_AUTH keeps the password off the command line and avoids the -a warning.
        match &self.password {
            Some(p) => command.env("REDISCLI_AUTH", p),
            None => command.env_remove("REDISCLI_AUTH"),
        };
        let output = run_ok(&mut command, "redis-cli");
        let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
        assert!(
            !stdout.starts_with("ERR") && !stdout.starts_with("NOAUTH") && !stdout.starts_with("WRONGPASS"),
            "redis-cli {args:?} answered an error: {stdout}"
        );
        stdout
    }

    /// One numeric field of `INFO <section>`.
    pub fn info_field(&self, section: &str, field: &str) -> u64 {
        let info = self.cli(&["INFO", section]);
        info.lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no numeric {field} in INFO {section}:\n{info}"))
    }

    /// `total_connections_received` from `INFO stats` (each call itself adds one).
    pub fn connections_received(&self) -> u64 {
        self.info_field("stats", "total_connections_received")
    }

    /// `connected_clients` from `INFO clients` (counts the asking redis-cli too).
    pub fn connected_clients(&self) -> u64 {
        self.info_field("clients", "connected_clients")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening the redis log");
        let mut command = Command::new(redis_server_binary());
        let port = self.port.to_string();
        match &self.tls {
            None => command.args(["--port", &port]),
            Some((crt, key)) => command
                .args(["--port", "0", "--tls-port", &port, "--tls-auth-clients", "no"])
                .arg("--tls-cert-file")
                .arg(crt)
                .arg("--tls-key-file")
                .arg(key),
        };
        command
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path());
        if let Some(p) = &self.password {
            command.args(["--requirepass", p]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting redis-server ({e}): {INSTALL_HINT}"));
        self.child = Some(child);
        self.wait_until_answering();
    }

    /// Polls until a PING gets any reply (+PONG, or -NOAUTH when a password is required).
    fn wait_until_answering(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("redis-server exited with {status}:\n{}", log_tail(&self.log_path()));
            }
            // A TLS server cannot be PINGed in plaintext; its accepting is enough.
            let up = if self.tls.is_some() {
                TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            } else {
                ping_answers(self.port)
            };
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {} within {START_TIMEOUT:?}:\n{}",
                self.port,
                log_tail(&self.log_path())
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether something on `port` answers an inline PING with a RESP reply.
fn ping_answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(1) if byte[0] == b'+' || byte[0] == b'-')
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

// --------------------------------------------------------------- PostgreSQL

/// The directory holding `initdb`, `pg_ctl` and `psql`: `$PG_BIN_DIR`, else the
/// newest `/usr/lib/postgresql/<version>/bin`, else the directory of `initdb`
/// on PATH, else a panic.
fn postgres_bin_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("PG_BIN_DIR") {
        let bin = PathBuf::from(p);
        assert!(bin.join("initdb").is_file(), "no initdb in PG_BIN_DIR={}: {INSTALL_HINT}", bin.display());
        return bin;
    }
    let debian = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin);
    debian
        .or_else(|| find_on_path("initdb").and_then(|p| p.parent().map(Path::to_path_buf)))
        .unwrap_or_else(|| panic!("initdb not found: {INSTALL_HINT}"))
}

/// A real PostgreSQL cluster on 127.0.0.1 whose superuser `postgres` logs in
/// with a password (scram-sha-256, also over TCP). Stopped and deleted on drop.
///
/// PostgreSQL refuses to run as root, so when the tests run as root the
/// cluster belongs to the system user `postgres` and `initdb`/`pg_ctl` run
/// through `runuser -u postgres --`.
#[derive(Debug)]
pub struct PostgresServer {
    /// The port it listens on (kept across [`PostgresServer::restart`]).
    pub port: u16,
    password: String,
    bin: PathBuf,
    as_root: bool,
    running: bool,
    dir: tempfile::TempDir,
}

impl PostgresServer {
    /// Creates a cluster whose superuser `postgres` has `password` (which must
    /// not need percent-encoding in URLs), starts it and waits until it accepts
    /// connections.
    pub fn start(password: &str) -> Self {
        let bin = postgres_bin_dir();
        let as_root = running_as_root();
        let dir = temp_dir("pg");
        let mut server =
            Self { port: free_port(), password: password.to_string(), bin, as_root, running: false, dir };
        let pwfile = server.dir.path().join("pwfile");
        fs::write(&pwfile, format!("{password}\n")).expect("writing the password file");
        if as_root {
            run_ok(
                Command::new("chown").args(["-R", "postgres:postgres"]).arg(server.dir.path()),
                "chown to postgres",
            );
        }
        let mut initdb = server.tool("initdb");
        initdb
            .arg("-D")
            .arg(server.data_dir())
            .args(["-U", "postgres", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()));
        run_ok(&mut initdb, "initdb");
        let _ = fs::remove_file(&pwfile);
        server.pg_start();
        server
    }

    /// `postgres://USER:PASSWORD@127.0.0.1:PORT/DB` (parts must not need
    /// percent-encoding).
    pub fn url(&self, user: &str, password: &str, db: &str) -> String {
        format!("postgres://{user}:{password}@127.0.0.1:{}/{db}", self.port)
    }

    /// The superuser's URL for database `postgres`.
    pub fn superuser_url(&self) -> String {
        self.url("postgres", &self.password, "postgres")
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`); the port then
    /// refuses connections. The cluster stays on disk for [`Self::restart`].
    pub fn stop(&mut self) {
        if self.running {
            let mut pg_ctl = self.tool("pg_ctl");
            pg_ctl.arg("-D").arg(self.data_dir()).args(["-m", "immediate", "-w", "stop"]);
            run_ok(&mut pg_ctl, "pg_ctl stop");
            self.running = false;
        }
    }

    /// Stops the server (if running) and starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.pg_start();
    }

    /// Runs `sql` with `psql` as the superuser and returns the unaligned,
    /// tuples-only output, trimmed. Panics on any error.
    pub fn psql(&self, sql: &str) -> String {
        let mut psql = Command::new(self.bin.join("psql"));
        psql.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", "postgres"])
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGPASSWORD", &self.password)
            .env("PGCONNECT_TIMEOUT", "5")
            .env_remove("PGSERVICE");
        let output = run_ok(&mut psql, "psql");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// Client backends connected now, from `pg_stat_activity` (psql's own excluded).
    pub fn backends(&self) -> u64 {
        let count = self.psql(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
        );
        count.parse().unwrap_or_else(|_| panic!("not a count from pg_stat_activity: {count:?}"))
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A PostgreSQL tool, run as `postgres` when we are root.
    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    /// Turns TLS on with the server certificate of `pki` and restarts the server.
    pub fn enable_tls(&mut self, pki: &pki::Pki) {
        let (crt, key) = pki.install_server_pair(&self.data_dir());
        if self.as_root {
            run_ok(Command::new("chown").arg("postgres:postgres").arg(&crt).arg(&key), "chown certificate");
        }
        let conf = self.data_dir().join("postgresql.conf");
        let mut text = fs::read_to_string(&conf).expect("reading postgresql.conf");
        text.push_str("\nssl = on\n");
        fs::write(&conf, text).expect("writing postgresql.conf");
        self.restart();
    }

    /// Replaces pg_hba.conf with `rules` and restarts the server.
    pub fn replace_hba(&mut self, rules: &str) {
        let hba = self.data_dir().join("pg_hba.conf");
        fs::write(&hba, rules).expect("writing pg_hba.conf");
        if self.as_root {
            run_ok(Command::new("chown").arg("postgres:postgres").arg(&hba), "chown pg_hba.conf");
        }
        self.restart();
    }

    fn pg_start(&mut self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c shared_buffers=16MB -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let mut pg_ctl = self.tool("pg_ctl");
        pg_ctl.arg("-D").arg(self.data_dir()).arg("-l").arg(self.log_path()).args([
            "-o",
            &options,
            "-w",
            "-t",
            &START_TIMEOUT.as_secs().to_string(),
            "start",
        ]);
        let output = pg_ctl
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("pg_ctl start: could not run ({e}): {INSTALL_HINT}"));
        assert!(
            output.status.success(),
            "pg_ctl start failed ({}):\n{}\n{}\nserver log:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            log_tail(&self.log_path())
        );
        self.running = true;
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if self.running {
            let mut pg_ctl = self.tool("pg_ctl");
            pg_ctl.arg("-D").arg(self.data_dir()).args(["-m", "immediate", "-w", "stop"]);
            let _ = pg_ctl.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        // The TempDir field then removes the cluster.
    }
}

// ---------------------------------------------------------- SilentListener

/// A TCP listener on 127.0.0.1 that accepts connections and never writes a
/// byte; accepted sockets stay open until drop. Clients that wait for a
/// greeting or a reply hang until their own timeout.
#[derive(Debug)]
pub struct SilentListener {
    /// The port it listens on.
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentListener {
    /// Binds a free port and accepts in a background thread.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the silent listener");
        let port = listener.local_addr().expect("reading the silent listener's address").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepted, stop) = (Arc::clone(&accepted), Arc::clone(&stop));
            thread::spawn(move || {
                let mut open = Vec::new();
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        accepted.fetch_add(1, Ordering::SeqCst);
                        open.push(stream);
                    }
                }
                for stream in open {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            })
        };
        Self { port, accepted, stop, thread: Some(thread) }
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// How many connections it has accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr(), Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
