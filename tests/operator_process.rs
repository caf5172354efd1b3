//! The `run` command as a real process: its HTTP endpoint answers and its
//! /metrics output parses (checked by promtool), and SIGTERM stops it cleanly.
//!
//! No API server can run here, so the process is pointed at a kubeconfig whose
//! server refuses connections: the watches fail and back off, which is exactly
//! the state in which health and metrics must still be served.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Operator {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A kubeconfig pointing at a loopback port where nothing listens.
fn dead_kubeconfig(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("kubeconfig");
    let port = free_port();
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: dead\n  cluster:\n    server: http://127.0.0.1:{port}\n\
         contexts:\n- name: dead\n  context:\n    cluster: dead\n    user: nobody\n    namespace: default\n\
         current-context: dead\nusers:\n- name: nobody\n  user:\n    token: not-a-secret\n"
    );
    std::fs::write(&path, config).unwrap();
    path
}

fn start(extra: &[&str]) -> Operator {
    let dir = tempfile::Builder::new().prefix("xagent-op-").tempdir().unwrap();
    let kubeconfig = dead_kubeconfig(dir.path());
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_xagent-operator"))
        .arg("run")
        .arg("--metrics-address")
        .arg(format!("127.0.0.1:{port}"))
        .args(extra)
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "warn")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let op = Operator { child, port, _dir: dir };
    wait_for_http(op.port);
    op
}

fn wait_for_http(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the operator never opened its metrics port");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// (status code, body) of `GET path`.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, body.to_string())
}

#[test]
fn health_endpoints_answer_while_the_api_is_unreachable() {
    let op = start(&[]);
    assert_eq!(get(op.port, "/healthz").0, 200);
    let (code, body) = get(op.port, "/readyz");
    assert_eq!(code, 503, "caches cannot sync without an API server: {body}");
    assert_eq!(get(op.port, "/nope").0, 404);
}

#[test]
fn metrics_are_valid_prometheus_text_with_every_family() {
    let op = start(&[]);
    let (code, body) = get(op.port, "/metrics");
    assert_eq!(code, 200);
    for family in [
        "xagent_reconciles",
        "xagent_reconcile_errors",
        "xagent_reconcile_duration_seconds",
        "xagent_objects_applied",
        "xagent_dependency_probe_duration_seconds",
    ] {
        assert!(body.contains(&format!("# TYPE {family} ")), "{family} missing from:\n{body}");
    }
    assert!(body.trim_end().ends_with("# EOF"), "OpenMetrics text ends with # EOF");
    // Known label values start at zero rather than being absent.
    assert!(body.contains(r#"xagent_reconciles_total{outcome="error"} 0"#), "{body}");
    assert!(body.contains(r#"xagent_reconcile_errors_total{reason="ApplyFailed"} 0"#), "{body}");
    let promtool = std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{promtool} not runnable ({e}): run ./scripts/setup.sh"));
    check.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Exit 1 is a parse error. Exit 3 is lint only: promtool reads the classic
    // text format, where OpenMetrics' HELP on `name` for samples `name_total`
    // looks like missing help text; Prometheus itself scrapes OpenMetrics.
    let lint_only = report.lines().all(|l| l.trim().is_empty() || l.ends_with("no help text"));
    assert!(
        out.status.code() == Some(0) || (out.status.code() == Some(3) && lint_only),
        "promtool could not parse /metrics ({}): {report}\n{body}",
        out.status
    );
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
        assert!(value.parse::<f64>().is_ok(), "value of {series} is not a number: {value}");
        assert!(series.starts_with("xagent_"), "unexpected series {series}");
    }
}

#[test]
fn a_standby_replica_is_ready_while_it_waits_for_the_lease() {
    let op = start(&["--leader-election", "--lease-namespace", "ops", "--identity", "pod-a"]);
    assert_eq!(get(op.port, "/readyz").0, 200);
}

#[test]
fn sigterm_stops_the_operator_cleanly() {
    let mut op = start(&[]);
    let pid = libc::pid_t::try_from(op.child.id()).expect("a pid");
    // SAFETY: kill(2) on our own child's pid touches no memory.
    let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(sent, 0, "sending SIGTERM: {}", std::io::Error::last_os_error());
    // Reconciles get a 10 s grace period; nothing is in flight here.
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = op.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running 15 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}
