//! The Redis and PostgreSQL probes, and the `probe` subcommand, against real
//! servers started by `tests/support` (redis-server, initdb + pg_ctl) and a TCP
//! listener that never answers. Each test starts its own servers on free ports.

mod support;

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::pki::{Pki, SERVER_NAME};
use support::{PostgresServer, RedisServer, SilentListener, free_port};
use xagent_operator::crd::SslMode;
use xagent_operator::probes::endpoint::{PostgresEndpoint, RedisEndpoint, Trust, Verify};
use xagent_operator::probes::postgres::{self, PostgresTarget};
use xagent_operator::probes::redis::{self, RedisTarget};
use xagent_operator::probes::{ProbeResult, timeout_message};

/// Generous: every healthy probe here runs on loopback.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The short timeout of the silent-listener tests.
const ONE_SECOND: Duration = Duration::from_secs(1);

const REDIS_PASSWORD: &str = "Redis-s3cret-7f3a";
const PG_PASSWORD: &str = "Pg-s3cret-2c9e";
/// Never the right password of any server here.
const WRONG_PASSWORD: &str = "Wr0ng-s3cret-91b4";

// ------------------------------------------------------------------ helpers

async fn probe_redis(url: &str, timeout: Duration) -> (RedisTarget, ProbeResult) {
    let target = RedisTarget::from_url(url, None).expect("a valid Redis URL");
    let result = redis::probe(&target, timeout).await;
    (target, result)
}

async fn probe_postgres(url: &str, timeout: Duration) -> (PostgresTarget, ProbeResult) {
    let target = PostgresTarget::from_url(url, None).expect("a valid PostgreSQL URL");
    let result = postgres::probe(&target, timeout).await;
    (target, result)
}

/// Asserts that none of `secrets` appears anywhere a probe result or target
/// can be shown: the message, the result's Debug and JSON, the target's Debug.
fn assert_no_secret(target: &dyn std::fmt::Debug, result: &ProbeResult, secrets: &[&str]) {
    let json = serde_json::to_string(result).expect("a probe result serializes");
    let shown = [
        ("message", result.message.clone()),
        ("result Debug", format!("{result:?}")),
        ("JSON", json),
        ("target Debug", format!("{target:?}")),
    ];
    for secret in secrets {
        for (what, text) in &shown {
            assert!(!text.contains(secret), "the password {secret:?} leaks through the {what}: {text}");
        }
    }
}

fn assert_unhealthy(result: &ProbeResult, needle: &str) {
    assert!(!result.healthy, "expected unhealthy, got {result:?}");
    assert!(
        result.message.to_lowercase().contains(&needle.to_lowercase()),
        "expected a message containing {needle:?}, got {result:?}"
    );
    assert_eq!(result.saturation, None, "an unhealthy probe reports no saturation: {result:?}");
}

/// Polls `f` (awaiting between tries, so spawned tasks keep running) until it
/// returns `want` or `within` has passed; returns the last value.
async fn eventually(within: Duration, want: u64, f: impl Fn() -> u64) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let got = f();
        if got == want || Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The binary under test, with no probe URL inherited from the environment.
fn cli() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xagent-operator"));
    command.env_remove("XAGENT_PROBE_URL").env_remove("RUST_LOG");
    command
}

/// Runs `xagent-operator probe <kind> [args]` with `XAGENT_PROBE_URL=url`.
fn cli_probe(kind: &str, url: Option<&str>, args: &[&str]) -> (Output, Duration) {
    let mut command = cli();
    command.args(["probe", kind]).args(args);
    if let Some(url) = url {
        command.env("XAGENT_PROBE_URL", url);
    }
    let started = Instant::now();
    let output = command.output().expect("running xagent-operator");
    (output, started.elapsed())
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit status, that stdout is exactly one JSON line with the keys
/// healthy, latency_ms and message, and that no secret reaches stdout or stderr.
/// Returns the JSON.
fn assert_cli_json(output: &Output, code: i32, secrets: &[&str]) -> Value {
    let (out, err) = (stdout(output), stderr(output));
    assert_eq!(output.status.code(), Some(code), "exit status; stdout: {out} stderr: {err}");
    assert_no_secret_in_output(output, secrets);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line expected on stdout, got: {out:?}");
    let json: Value = serde_json::from_str(lines[0]).expect("stdout is JSON");
    let keys: BTreeSet<&str> = json.as_object().expect("a JSON object").keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["healthy", "latency_ms", "message"]), "{json}");
    assert!(
        json["healthy"].is_boolean() && json["latency_ms"].is_u64() && json["message"].is_string(),
        "{json}"
    );
    assert_eq!(json["healthy"], Value::Bool(code == 0), "{json}");
    json
}

fn assert_no_secret_in_output(output: &Output, secrets: &[&str]) {
    let (out, err) = (stdout(output), stderr(output));
    for secret in secrets {
        assert!(!out.contains(secret), "the password {secret:?} leaks to stdout: {out}");
        assert!(!err.contains(secret), "the password {secret:?} leaks to stderr: {err}");
    }
}

// -------------------------------------------------------------------- Redis

#[tokio::test]
async fn redis_healthy_with_the_right_password() {
    let server = RedisServer::start(Some(REDIS_PASSWORD));
    let before = server.connections_received();

    let started = Instant::now();
    let (_, result) = probe_redis(&server.url(), TIMEOUT).await;
    let wall = started.elapsed();

    assert!(result.healthy, "{result:?}");
    assert_eq!(result.message, "PING answered over plaintext");
    assert_eq!(result.reason, "ProbeSucceeded");
    assert!(
        u128::from(result.latency_ms) <= wall.as_millis(),
        "latency {result:?} beyond the wall time {wall:?}"
    );
    // maxmemory is 0 (unlimited) by default: nothing to be saturated against.
    assert_eq!(result.saturation, None, "{result:?}");
    // The probe really talked to this server: its connection plus the next redis-cli.
    assert!(server.connections_received() >= before + 2, "the probe never connected to the server");
}

#[tokio::test]
async fn redis_healthy_without_a_password_when_none_is_required() {
    let server = RedisServer::start(None);
    let (_, result) = probe_redis(&server.url_with(None), TIMEOUT).await;
    assert!(result.healthy, "{result:?}");
    assert_eq!(result.message, "PING answered over plaintext");
}

#[tokio::test]
async fn redis_wrong_password_is_unhealthy_with_an_authentication_message() {
    let server = RedisServer::start(Some(REDIS_PASSWORD));
    let (target, result) = probe_redis(&server.url_with(Some(WRONG_PASSWORD)), TIMEOUT).await;
    // redis-rs turns WRONGPASS into "Password authentication failed- AuthenticationFailed".
    assert_unhealthy(&result, "authentication failed");
    assert_eq!(result.reason, "AuthenticationFailed");
    assert_no_secret(&target, &result, &[WRONG_PASSWORD, REDIS_PASSWORD]);
}

#[tokio::test]
async fn redis_missing_password_when_one_is_required_is_unhealthy() {
    let server = RedisServer::start(Some(REDIS_PASSWORD));
    let (target, result) = probe_redis(&server.url_with(None), TIMEOUT).await;
    // "NOAUTH Authentication required."
    assert_unhealthy(&result, "auth");
    assert!(result.message.contains("NOAUTH"), "{result:?}");
    assert_eq!(result.reason, "AuthenticationFailed");
    assert_no_secret(&target, &result, &[REDIS_PASSWORD]);
}

#[tokio::test]
async fn redis_saturation_is_used_memory_over_maxmemory() {
    let server = RedisServer::start(Some(REDIS_PASSWORD));
    assert_eq!(server.cli(&["CONFIG", "SET", "maxmemory", "100mb"]), "OK");
    let used = server.info_field("memory", "used_memory") as f64;

    let (_, result) = probe_redis(&server.url(), TIMEOUT).await;

    assert!(result.healthy, "{result:?}");
    let saturation = result.saturation.expect("saturation once maxmemory is set");
    assert!(saturation > 0.0 && saturation < 1.0, "saturation {saturation} out of (0, 1)");
    // A fresh Redis uses about a megabyte: the ratio must be of that order.
    let expected = used / (100.0 * 1024.0 * 1024.0);
    assert!((saturation - expected).abs() < 0.01, "saturation {saturation}, INFO says about {expected}");
}

#[tokio::test]
async fn redis_probe_closes_its_connection() {
    let server = RedisServer::start(Some(REDIS_PASSWORD));
    for _ in 0..3 {
        let (_, result) = probe_redis(&server.url(), TIMEOUT).await;
        assert!(result.healthy, "{result:?}");
    }
    // Only the redis-cli asking should remain connected.
    let clients = eventually(Duration::from_secs(3), 1, || server.connected_clients()).await;
    assert_eq!(clients, 1, "the probes left {} connection(s) open", clients.saturating_sub(1));
}

#[tokio::test]
async fn redis_stop_and_restart() {
    let mut server = RedisServer::start(Some(REDIS_PASSWORD));
    let url = server.url();
    let (_, result) = probe_redis(&url, TIMEOUT).await;
    assert!(result.healthy, "before the stop: {result:?}");

    server.stop();
    let started = Instant::now();
    let (target, result) = probe_redis(&url, TIMEOUT).await;
    assert_unhealthy(&result, "refused");
    assert_eq!(result.reason, "ConnectionRefused");
    assert!(started.elapsed() < TIMEOUT, "a refused connection must fail fast, not time out");
    assert_no_secret(&target, &result, &[REDIS_PASSWORD]);

    server.restart();
    assert_eq!(server.url(), url, "restart keeps the port");
    let (_, result) = probe_redis(&url, TIMEOUT).await;
    assert!(result.healthy, "after the restart: {result:?}");
}

#[tokio::test]
async fn redis_silent_server_times_out_on_time() {
    let listener = SilentListener::start();
    let url = format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{}", listener.port);

    let started = Instant::now();
    let (target, result) = probe_redis(&url, ONE_SECOND).await;
    let wall = started.elapsed();

    assert!(!result.healthy, "{result:?}");
    assert_eq!(result.message, timeout_message(ONE_SECOND));
    assert_eq!(result.message, "no answer within the 1 s timeout");
    assert_eq!(result.reason, "Timeout");
    assert!(wall >= ONE_SECOND && wall < ONE_SECOND * 2, "took {wall:?} for a 1 s timeout");
    assert!(result.latency_ms >= 1000 && result.latency_ms < 2000, "{result:?}");
    assert!(listener.accepted() >= 1, "the probe never reached the listener");
    assert_no_secret(&target, &result, &[REDIS_PASSWORD]);
}

#[tokio::test]
async fn redis_failures_never_show_the_password() {
    let server = RedisServer::start(Some(REDIS_PASSWORD));
    let listener = SilentListener::start();
    let closed = free_port();
    // Percent-encoded in the URL ("%2F" is "/"): neither form may show.
    let encoded = "Enc-s3cret%2Fx9";
    let decoded = "Enc-s3cret/x9";
    let secrets = [REDIS_PASSWORD, WRONG_PASSWORD, encoded, decoded];

    let cases = [
        (server.url_with(Some(WRONG_PASSWORD)), Duration::from_secs(5)),
        (server.url_with(Some(encoded)), Duration::from_secs(5)),
        (format!("redis://:{WRONG_PASSWORD}@127.0.0.1:{closed}"), Duration::from_secs(5)),
        (format!("redis://:{WRONG_PASSWORD}@127.0.0.1:{}", listener.port), Duration::from_millis(300)),
        (format!("redis://default:{WRONG_PASSWORD}@127.0.0.1:{}/3", server.port), Duration::from_secs(5)),
    ];
    for (url, timeout) in &cases {
        let (target, result) = probe_redis(url, *timeout).await;
        assert!(!result.healthy, "{url}: {result:?}");
        assert_no_secret(&target, &result, &secrets);
    }

    for bad in [
        format!("redis://:{REDIS_PASSWORD}@127.0.0.1:99999"),
        format!("redis://:{REDIS_PASSWORD}@127.0.0.1:6379/not-a-db"),
        format!("redis://:{REDIS_PASSWORD}@"),
        format!("redis+unix://:{REDIS_PASSWORD}@/tmp/redis.sock"),
        format!("http://:{REDIS_PASSWORD}@127.0.0.1:6379"),
    ] {
        let error =
            RedisTarget::from_url(&bad, None).expect_err(&format!("{bad} must not parse")).to_string();
        assert!(error.starts_with("invalid Redis URL"), "{error}");
        assert!(!error.contains(REDIS_PASSWORD), "the parse error shows the password: {error}");
    }
}

// --------------------------------------------------------------- PostgreSQL

#[tokio::test]
async fn postgres_healthy() {
    let server = PostgresServer::start(PG_PASSWORD);
    let started = Instant::now();
    let (_, result) = probe_postgres(&server.superuser_url(), TIMEOUT).await;
    let wall = started.elapsed();

    assert!(result.healthy, "{result:?}");
    assert_eq!(result.message, "SELECT 1 answered over TLS or plaintext (sslmode prefer)");
    assert_eq!(result.reason, "ProbeSucceeded");
    assert!(
        u128::from(result.latency_ms) <= wall.as_millis(),
        "latency {result:?} beyond the wall time {wall:?}"
    );
    // The probe's own backend is at least one of max_connections (100).
    let saturation = result.saturation.expect("connections / max_connections");
    assert!(saturation > 0.0 && saturation < 1.0, "saturation {saturation} out of (0, 1)");
    assert!(saturation < 0.2, "a fresh server with one client: {saturation}");
}

#[tokio::test]
async fn postgres_healthy_as_an_ordinary_role() {
    let server = PostgresServer::start(PG_PASSWORD);
    server.psql("CREATE ROLE xagent LOGIN PASSWORD 'Role-s3cret-55aa'");
    server.psql("CREATE DATABASE xagent OWNER xagent");
    let (_, result) = probe_postgres(&server.url("xagent", "Role-s3cret-55aa", "xagent"), TIMEOUT).await;
    assert!(result.healthy, "{result:?}");
    assert!(result.saturation.is_some_and(|s| s > 0.0 && s < 1.0), "{result:?}");
}

#[tokio::test]
async fn postgres_wrong_password_is_unhealthy() {
    let server = PostgresServer::start(PG_PASSWORD);
    let (target, result) = probe_postgres(&server.url("postgres", WRONG_PASSWORD, "postgres"), TIMEOUT).await;
    assert_unhealthy(&result, "password authentication failed");
    assert_eq!(result.reason, "AuthenticationFailed");
    assert_no_secret(&target, &result, &[WRONG_PASSWORD, PG_PASSWORD]);
}

#[tokio::test]
async fn postgres_unknown_database_is_unhealthy_and_named() {
    let server = PostgresServer::start(PG_PASSWORD);
    let (target, result) =
        probe_postgres(&server.url("postgres", PG_PASSWORD, "no_such_db_4711"), TIMEOUT).await;
    assert_unhealthy(&result, "no_such_db_4711");
    assert!(result.message.contains("does not exist"), "{result:?}");
    assert_eq!(result.reason, "DatabaseNotFound");
    assert_no_secret(&target, &result, &[PG_PASSWORD]);
}

#[tokio::test]
async fn postgres_probe_closes_its_connection() {
    let server = PostgresServer::start(PG_PASSWORD);
    for _ in 0..3 {
        let (_, result) = probe_postgres(&server.superuser_url(), TIMEOUT).await;
        assert!(result.healthy, "{result:?}");
    }
    let backends = eventually(Duration::from_secs(3), 0, || server.backends()).await;
    assert_eq!(backends, 0, "the probes left {backends} backend(s) connected");
}

#[tokio::test]
async fn postgres_stop_and_restart() {
    let mut server = PostgresServer::start(PG_PASSWORD);
    let url = server.superuser_url();
    let (_, result) = probe_postgres(&url, TIMEOUT).await;
    assert!(result.healthy, "before the stop: {result:?}");

    server.stop();
    let started = Instant::now();
    let (target, result) = probe_postgres(&url, TIMEOUT).await;
    // Should name the cause too: see postgres_refused_connection_says_refused.
    assert_unhealthy(&result, "connection refused");
    assert_eq!(result.reason, "ConnectionRefused");
    assert!(started.elapsed() < TIMEOUT, "a refused connection must fail fast, not time out");
    assert_no_secret(&target, &result, &[PG_PASSWORD]);

    server.restart();
    assert_eq!(server.superuser_url(), url, "restart keeps the port");
    let (_, result) = probe_postgres(&url, TIMEOUT).await;
    assert!(result.healthy, "after the restart: {result:?}");
}

#[tokio::test]
async fn postgres_refused_connection_says_refused() {
    let closed = free_port();
    let url = format!("postgres://postgres:{PG_PASSWORD}@127.0.0.1:{closed}/postgres");
    let (target, result) = probe_postgres(&url, TIMEOUT).await;
    assert_unhealthy(&result, "connection refused");
    assert_eq!(result.reason, "ConnectionRefused");
    assert_no_secret(&target, &result, &[PG_PASSWORD]);
}

#[tokio::test]
async fn postgres_silent_server_times_out_on_time() {
    let listener = SilentListener::start();
    let url = format!("postgres://postgres:{PG_PASSWORD}@127.0.0.1:{}/postgres", listener.port);

    let started = Instant::now();
    let (target, result) = probe_postgres(&url, ONE_SECOND).await;
    let wall = started.elapsed();

    assert!(!result.healthy, "{result:?}");
    assert_eq!(result.message, timeout_message(ONE_SECOND));
    assert_eq!(result.reason, "Timeout");
    assert!(wall >= ONE_SECOND && wall < ONE_SECOND * 2, "took {wall:?} for a 1 s timeout");
    assert!(result.latency_ms >= 1000 && result.latency_ms < 2000, "{result:?}");
    assert!(listener.accepted() >= 1, "the probe never reached the listener");
    assert_no_secret(&target, &result, &[PG_PASSWORD]);
}

#[tokio::test]
async fn postgres_failures_never_show_the_password() {
    let server = PostgresServer::start(PG_PASSWORD);
    let listener = SilentListener::start();
    let closed = free_port();
    let encoded = "Enc-s3cret%2Fx9";
    let decoded = "Enc-s3cret/x9";
    let secrets = [PG_PASSWORD, WRONG_PASSWORD, encoded, decoded];

    let cases = [
        (server.url("postgres", WRONG_PASSWORD, "postgres"), Duration::from_secs(5)),
        (server.url("postgres", encoded, "postgres"), Duration::from_secs(5)),
        (server.url("nobody", WRONG_PASSWORD, "postgres"), Duration::from_secs(5)),
        (server.url("postgres", PG_PASSWORD, "missing_db"), Duration::from_secs(5)),
        (format!("postgres://postgres:{WRONG_PASSWORD}@127.0.0.1:{closed}/postgres"), Duration::from_secs(5)),
        (
            format!("postgres://postgres:{WRONG_PASSWORD}@127.0.0.1:{}/postgres", listener.port),
            Duration::from_millis(300),
        ),
        (
            format!(
                "host=127.0.0.1 port={} user=postgres password={WRONG_PASSWORD} dbname=postgres",
                server.port
            ),
            Duration::from_secs(5),
        ),
    ];
    for (url, timeout) in &cases {
        let (target, result) = probe_postgres(url, *timeout).await;
        assert!(!result.healthy, "{url}: {result:?}");
        assert_no_secret(&target, &result, &secrets);
    }

    for bad in [
        format!("postgres://postgres:{PG_PASSWORD}@127.0.0.1:notaport/postgres"),
        format!("postgres://postgres:{PG_PASSWORD}@127.0.0.1/postgres?sslmode=sometimes"),
        format!("postgres://postgres:{PG_PASSWORD}@127.0.0.1/postgres?bogus_option=1"),
        format!("host=127.0.0.1 password={PG_PASSWORD} port="),
        format!("password='{PG_PASSWORD}"),
        format!("user=postgres password={PG_PASSWORD}"),
    ] {
        let error =
            PostgresTarget::from_url(&bad, None).expect_err(&format!("{bad} must not parse")).to_string();
        assert!(error.starts_with("invalid PostgreSQL URL"), "{error}");
        assert!(!error.contains(PG_PASSWORD), "the parse error shows the password: {error}");
    }

    // An unquoted password with spaces makes its words look like options:
    // the error must not name them.
    let error =
        PostgresTarget::from_url("host=127.0.0.1 user=postgres password=correct horse=battery staple", None)
            .expect_err("an unknown option")
            .to_string();
    for word in ["correct", "horse", "battery", "staple"] {
        assert!(!error.contains(word), "the parse error shows part of the password: {error}");
    }
}

// ---------------------------------------------------------------------- CLI

#[test]
fn cli_redis_healthy_prints_one_json_line_and_exits_0() {
    let server = RedisServer::start(Some(REDIS_PASSWORD));
    let (output, _) = cli_probe("redis", Some(&server.url()), &[]);
    let json = assert_cli_json(&output, 0, &[REDIS_PASSWORD]);
    assert_eq!(json["message"], "PING answered over plaintext");
}

#[test]
fn cli_redis_url_as_an_argument_works_too() {
    let server = RedisServer::start(None);
    let output = cli().args(["probe", "redis", &server.url_with(None)]).output().expect("running the CLI");
    assert_cli_json(&output, 0, &[]);
}

#[test]
fn cli_redis_unhealthy_exits_1() {
    let server = RedisServer::start(Some(REDIS_PASSWORD));
    let (output, _) = cli_probe("redis", Some(&server.url_with(Some(WRONG_PASSWORD))), &[]);
    let json = assert_cli_json(&output, 1, &[REDIS_PASSWORD, WRONG_PASSWORD]);
    let message = json["message"].as_str().unwrap_or_default();
    assert!(message.contains("authentication failed"), "{json}");
}

#[test]
fn cli_malformed_url_exits_2_without_showing_it() {
    for (kind, url) in [
        ("redis", format!("redis://:{REDIS_PASSWORD}@127.0.0.1:99999")),
        ("redis", format!("http://:{REDIS_PASSWORD}@127.0.0.1:6379")),
        ("redis", format!("redis://:{REDIS_PASSWORD}@127.0.0.1:6379/not-a-db")),
        ("postgres", format!("postgres://postgres:{PG_PASSWORD}@127.0.0.1:notaport/postgres")),
        ("postgres", format!("postgres://postgres:{PG_PASSWORD}@/postgres")),
        ("postgres", format!("password={PG_PASSWORD} host=127.0.0.1 sslmode=never")),
    ] {
        let (output, _) = cli_probe(kind, Some(&url), &[]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{url}: stdout {} stderr {}",
            stdout(&output),
            stderr(&output)
        );
        assert_eq!(stdout(&output), "", "nothing on stdout for a bad URL");
        let expected = if kind == "redis" { "invalid Redis URL" } else { "invalid PostgreSQL URL" };
        assert!(stderr(&output).contains(expected), "{url}: {}", stderr(&output));
        assert_no_secret_in_output(&output, &[REDIS_PASSWORD, PG_PASSWORD]);
    }
}

#[test]
fn cli_missing_url_exits_2() {
    for kind in ["redis", "postgres"] {
        let (output, _) = cli_probe(kind, None, &[]);
        assert_eq!(output.status.code(), Some(2), "{kind}: {}", stderr(&output));
        assert_eq!(stdout(&output), "");
        assert!(!stderr(&output).is_empty(), "a usage error must say what is missing");
    }
}

#[test]
fn cli_bad_timeout_exits_2_without_showing_the_url() {
    let url = format!("redis://:{REDIS_PASSWORD}@127.0.0.1:6379");
    for timeout in ["0", "-1", "soon", "3601"] {
        let (output, _) = cli_probe("redis", Some(&url), &["--timeout", timeout]);
        assert_eq!(output.status.code(), Some(2), "--timeout {timeout}: {}", stderr(&output));
        assert_eq!(stdout(&output), "");
        assert_no_secret_in_output(&output, &[REDIS_PASSWORD]);
    }
}

#[test]
fn cli_timeout_against_a_silent_server_exits_1_on_time() {
    let listener = SilentListener::start();
    for (kind, url) in [
        ("redis", format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{}", listener.port)),
        ("postgres", format!("postgres://postgres:{PG_PASSWORD}@127.0.0.1:{}/postgres", listener.port)),
    ] {
        let (output, elapsed) = cli_probe(kind, Some(&url), &["--timeout", "1"]);
        let json = assert_cli_json(&output, 1, &[REDIS_PASSWORD, PG_PASSWORD]);
        assert_eq!(json["message"], "no answer within the 1 s timeout", "{kind}");
        assert!(elapsed >= ONE_SECOND && elapsed < ONE_SECOND * 2, "{kind}: took {elapsed:?}");
    }
    assert!(listener.accepted() >= 2, "the probes never reached the listener");
}

#[test]
fn cli_postgres_healthy_exits_0_and_wrong_password_exits_1() {
    let server = PostgresServer::start(PG_PASSWORD);

    let (output, _) = cli_probe("postgres", Some(&server.superuser_url()), &[]);
    let json = assert_cli_json(&output, 0, &[PG_PASSWORD]);
    assert_eq!(json["message"], "SELECT 1 answered over TLS or plaintext (sslmode prefer)");

    let (output, _) = cli_probe("postgres", Some(&server.url("postgres", WRONG_PASSWORD, "postgres")), &[]);
    let json = assert_cli_json(&output, 1, &[PG_PASSWORD, WRONG_PASSWORD]);
    let message = json["message"].as_str().unwrap_or_default();
    assert!(message.contains("password authentication failed"), "{json}");
}

#[test]
fn cli_refused_connection_exits_1() {
    let closed = free_port();
    for (kind, url, expected) in [
        ("redis", format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{closed}"), "connection refused"),
        // Should say "refused" too: see postgres_refused_connection_says_refused.
        (
            "postgres",
            format!("postgres://postgres:{PG_PASSWORD}@127.0.0.1:{closed}/postgres"),
            "connection refused",
        ),
    ] {
        let (output, elapsed) = cli_probe(kind, Some(&url), &[]);
        let json = assert_cli_json(&output, 1, &[REDIS_PASSWORD, PG_PASSWORD]);
        assert!(json["message"].as_str().unwrap_or_default().to_lowercase().contains(expected), "{json}");
        assert!(elapsed < TIMEOUT, "{kind}: a refused connection took {elapsed:?}");
    }
}

// ------------------------------------------------------------- bad addresses

#[tokio::test]
async fn unresolvable_hosts_are_unhealthy_with_a_clear_message_and_no_hang() {
    // `.invalid` never resolves (RFC 6761), so this needs no network.
    let started = std::time::Instant::now();
    let (_, redis) = probe_redis("redis://:pw@no-such-host.invalid:6379/0", Duration::from_secs(5)).await;
    let (_, pg) =
        probe_postgres("postgres://u:pw@no-such-host.invalid:5432/db", Duration::from_secs(5)).await;
    assert!(started.elapsed() < Duration::from_secs(11), "both answered within their timeouts");
    for result in [&redis, &pg] {
        assert!(!result.healthy);
        assert_eq!(result.reason, "DnsResolutionFailed", "{}", result.message);
        assert!(!result.message.is_empty());
        assert!(!result.message.contains("pw@"), "{}", result.message);
    }
    let pg_lower = pg.message.to_lowercase();
    assert!(
        pg_lower.contains("resolve")
            || pg_lower.contains("lookup")
            || pg_lower.contains("name")
            || pg_lower.contains("connect"),
        "{}",
        pg.message
    );
}

// ------------------------------------------------------------------- TLS

const PG_TLS_PASSWORD: &str = "tls-probe-pw";
const REDIS_TLS_PASSWORD: &str = "tls-redis-pw";

fn trust(verify: Verify, server_name: Option<&str>) -> Trust {
    Trust { verify, ca: None, server_name: server_name.map(str::to_string) }
}

fn redis_tls_endpoint(port: u16, tls: Trust) -> RedisEndpoint {
    RedisEndpoint {
        host: "127.0.0.1".into(),
        port,
        database: 0,
        tls: Some(tls),
        secret: None,
        allow_insecure_password: false,
    }
}

fn pg_endpoint(port: u16, ssl_mode: SslMode, tls: Trust) -> PostgresEndpoint {
    PostgresEndpoint {
        host: "127.0.0.1".into(),
        port,
        database: "postgres".into(),
        user: "postgres".into(),
        ssl_mode,
        trust: tls,
        secret: None,
        allow_insecure_password: false,
    }
}

/// A PostgreSQL server with the certificate of `pki` that takes logins over TLS only.
fn tls_only_postgres(pki: &Pki, method: &str) -> PostgresServer {
    let mut pg = PostgresServer::start(PG_TLS_PASSWORD);
    pg.enable_tls(pki);
    pg.replace_hba(&format!(
        "hostssl all all 127.0.0.1/32 {method}\nhostnossl all all 127.0.0.1/32 reject\nlocal all all scram-sha-256\n"
    ));
    pg
}

async fn probe_redis_tls(port: u16, tls: Trust, ca: &[u8]) -> ProbeResult {
    let endpoint = redis_tls_endpoint(port, tls);
    let target = RedisTarget::new(&endpoint, Some(REDIS_TLS_PASSWORD.into()), Some(ca)).expect("a target");
    let result = redis::probe(&target, TIMEOUT).await;
    assert_no_secret(&target, &result, &[REDIS_TLS_PASSWORD]);
    result
}

async fn probe_pg_tls(port: u16, mode: SslMode, tls: Trust, ca: &[u8]) -> ProbeResult {
    let endpoint = pg_endpoint(port, mode, tls);
    let target = PostgresTarget::new(&endpoint, Some(PG_TLS_PASSWORD), Some(ca)).expect("a target");
    let result = postgres::probe(&target, TIMEOUT).await;
    assert_no_secret(&target, &result, &[PG_TLS_PASSWORD]);
    result
}

fn assert_rejected(result: &ProbeResult, needle: &str, case: &str) {
    assert!(!result.healthy, "{case}: expected a refusal, got {result:?}");
    assert_eq!(result.reason, "CertificateRejected", "{case}: {result:?}");
    assert!(result.message.contains(needle), "{case}: expected {needle:?} in {:?}", result.message);
}

#[tokio::test]
async fn redis_tls_passes_with_the_right_ca_and_name_and_fails_with_a_wrong_ca_or_name() {
    let pki = Pki::new();
    let server = RedisServer::start_tls(REDIS_TLS_PASSWORD, &pki);
    let (ca, stranger) = (pki.ca_pem(), pki.stranger_ca_pem());
    let full = |name: Option<&str>| trust(Verify::ChainAndName, name);

    let ok = probe_redis_tls(server.port, full(Some(SERVER_NAME)), &ca).await;
    assert!(ok.healthy, "right CA and name: {ok:?}");
    assert_eq!(ok.message, "PING answered over verified TLS");

    let wrong_ca = probe_redis_tls(server.port, full(Some(SERVER_NAME)), &stranger).await;
    assert_rejected(&wrong_ca, "UnknownIssuer", "a CA that did not sign the certificate");
    // Dialled by address with no serverName: the certificate is for localhost only.
    let by_address = probe_redis_tls(server.port, full(None), &ca).await;
    assert_rejected(&by_address, "not valid for name", "dialled as 127.0.0.1");
    let wrong_name = probe_redis_tls(server.port, full(Some("redis.elsewhere.test")), &ca).await;
    assert_rejected(&wrong_name, "redis.elsewhere.test", "a serverName the certificate lacks");

    // insecureSkipVerify with the opt-in: encrypted, any certificate, and the status says so.
    let mut endpoint = redis_tls_endpoint(server.port, trust(Verify::Nothing, None));
    endpoint.allow_insecure_password = true;
    let target = RedisTarget::new(&endpoint, Some(REDIS_TLS_PASSWORD.into()), None).unwrap();
    let unverified = redis::probe(&target, TIMEOUT).await;
    assert!(unverified.healthy, "{unverified:?}");
    assert_eq!(unverified.message, "PING answered over TLS without certificate verification");
}

#[tokio::test]
async fn postgres_verify_full_checks_chain_and_name_and_verify_ca_the_chain_only() {
    let pki = Pki::new();
    let pg = tls_only_postgres(&pki, "scram-sha-256");
    let (ca, stranger) = (pki.ca_pem(), pki.stranger_ca_pem());

    let full =
        probe_pg_tls(pg.port, SslMode::VerifyFull, trust(Verify::ChainAndName, Some(SERVER_NAME)), &ca).await;
    assert!(full.healthy, "verify-full, right CA and name: {full:?}");
    assert_eq!(full.message, "SELECT 1 answered over verified TLS");
    // verify-ca: the certificate names localhost, the probe dials 127.0.0.1, and that is fine.
    let chain = probe_pg_tls(pg.port, SslMode::VerifyCa, trust(Verify::Chain, None), &ca).await;
    assert!(chain.healthy, "verify-ca, right CA: {chain:?}");

    let by_address = probe_pg_tls(pg.port, SslMode::VerifyFull, trust(Verify::ChainAndName, None), &ca).await;
    assert_rejected(&by_address, "not valid for name", "verify-full dialled as 127.0.0.1");
    for (mode, verify) in [(SslMode::VerifyFull, Verify::ChainAndName), (SslMode::VerifyCa, Verify::Chain)] {
        let result = probe_pg_tls(pg.port, mode, trust(verify, Some(SERVER_NAME)), &stranger).await;
        assert_rejected(&result, "UnknownIssuer", &format!("{} with a stranger CA", mode.as_str()));
    }
}

#[tokio::test]
async fn the_probe_cli_verifies_against_a_ca_file() {
    let pki = Pki::new();
    let pg = tls_only_postgres(&pki, "scram-sha-256");
    let url = format!("{}?sslmode=verify-ca", pg.url("postgres", PG_TLS_PASSWORD, "postgres"));
    let ca = pki.ca_file().display().to_string();
    let (out, _) = cli_probe("postgres", Some(&url), &["--ca-file", &ca]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verify-ca with the right CA file: {stdout} {stderr}");
    assert!(stdout.contains("certificate chain verified"), "{stdout}");
    let full = url.replace("verify-ca", "verify-full");
    let (out, _) = cli_probe("postgres", Some(&full), &["--ca-file", &ca]);
    assert_eq!(out.status.code(), Some(1), "verify-full dialled as 127.0.0.1 must fail");
    assert!(String::from_utf8_lossy(&out.stdout).contains("not valid for name"));
}

#[tokio::test]
async fn a_password_without_verified_tls_or_opt_in_is_refused_before_any_connection() {
    let listener = SilentListener::start();
    let plain_redis =
        RedisEndpoint { tls: None, ..redis_tls_endpoint(listener.port, trust(Verify::Nothing, None)) };
    let unverified_redis = redis_tls_endpoint(listener.port, trust(Verify::Nothing, None));
    for endpoint in [plain_redis, unverified_redis] {
        let target = RedisTarget::new(&endpoint, Some(REDIS_TLS_PASSWORD.into()), None).unwrap();
        let result = redis::probe(&target, ONE_SECOND).await;
        assert_eq!(result.reason, "InsecurePasswordRefused", "{result:?}");
        assert!(result.message.contains("allowInsecurePassword"), "{}", result.message);
    }
    for mode in [SslMode::Disable, SslMode::Prefer, SslMode::Require] {
        let endpoint = pg_endpoint(listener.port, mode, trust(Verify::Nothing, None));
        let target = PostgresTarget::new(&endpoint, Some(PG_TLS_PASSWORD), None).unwrap();
        let result = postgres::probe(&target, ONE_SECOND).await;
        assert_eq!(result.reason, "InsecurePasswordRefused", "{}: {result:?}", mode.as_str());
    }
    assert_eq!(listener.accepted(), 0, "a refused probe must not even connect");
}

/// A server that answers the startup message with AuthenticationCleartextPassword
/// and returns every byte the client sends afterwards.
async fn cleartext_asking_server() -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let length = socket.read_u32().await.unwrap() as usize;
        let mut startup = vec![0; length - 4];
        socket.read_exact(&mut startup).await.unwrap();
        socket.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await.unwrap();
        let mut after = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), socket.read_to_end(&mut after)).await;
        after
    });
    (port, server)
}

#[tokio::test]
async fn a_cleartext_password_request_over_plaintext_is_refused_and_nothing_is_sent() {
    let (port, server) = cleartext_asking_server().await;
    let url = format!("postgres://postgres:{PG_TLS_PASSWORD}@127.0.0.1:{port}/postgres?sslmode=disable");
    let (target, result) = probe_postgres(&url, TIMEOUT).await;
    assert_eq!(result.reason, "CleartextPasswordRefused", "{result:?}");
    assert!(result.message.contains("refused to send it"), "{}", result.message);
    assert_no_secret(&target, &result, &[PG_TLS_PASSWORD]);
    let sent = server.await.unwrap();
    assert!(
        !String::from_utf8_lossy(&sent).contains(PG_TLS_PASSWORD),
        "the password reached the server: {sent:?}"
    );

    // The real server, configured for cleartext passwords: refused over plaintext, fine over TLS.
    let pki = Pki::new();
    let mut pg = PostgresServer::start(PG_TLS_PASSWORD);
    pg.enable_tls(&pki);
    pg.replace_hba("host all all 127.0.0.1/32 password\nlocal all all scram-sha-256\n");
    let plain = format!("{}?sslmode=disable", pg.url("postgres", PG_TLS_PASSWORD, "postgres"));
    let (_, refused) = probe_postgres(&plain, TIMEOUT).await;
    assert_eq!(refused.reason, "CleartextPasswordRefused", "{refused:?}");
    let (_, over_tls) = probe_postgres(&plain.replace("disable", "require"), TIMEOUT).await;
    assert!(over_tls.healthy, "cleartext over TLS is the server's choice to make: {over_tls:?}");
    // SCRAM never puts the password on the wire, so plaintext with SCRAM passes the guard.
    pg.replace_hba("host all all 127.0.0.1/32 scram-sha-256\nlocal all all scram-sha-256\n");
    let (_, scram) = probe_postgres(&plain, TIMEOUT).await;
    assert!(scram.healthy, "{scram:?}");
}

#[tokio::test]
async fn postgres_sslmode_require_and_prefer_use_tls_and_disable_is_refused_by_a_tls_only_server() {
    let pki = Pki::new();
    let pg = tls_only_postgres(&pki, "scram-sha-256");
    for mode in ["require", "prefer"] {
        let url = format!("{}?sslmode={mode}", pg.url("postgres", PG_TLS_PASSWORD, "postgres"));
        let (_, result) = probe_postgres(&url, Duration::from_secs(5)).await;
        assert!(result.healthy, "sslmode={mode}: {}", result.message);
    }
    let url = format!("{}?sslmode=disable", pg.url("postgres", PG_TLS_PASSWORD, "postgres"));
    let (_, result) = probe_postgres(&url, Duration::from_secs(5)).await;
    assert!(!result.healthy, "a plaintext login must be rejected by this server");
    assert!(
        result.message.contains("no encryption") || result.message.contains("pg_hba"),
        "{}",
        result.message
    );
    assert_eq!(result.reason, "AuthenticationFailed", "pg_hba.conf refuses the login");
    assert!(!result.message.contains(PG_TLS_PASSWORD));
}
