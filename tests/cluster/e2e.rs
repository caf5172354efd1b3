//! `e2e/run.sh`, the project's end-to-end script, against the test cluster:
//! its kubectl as admin, the operator it starts out of cluster as the
//! operator's ServiceAccount (only the RBAC of `config/rbac`). The cluster has
//! no nodes, so the script skips what needs running pods.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::harness::{Cluster, OPERATOR_USER, User, log_tail, root, spawn_logged};
use crate::install::install_monitoring_crds;

/// The scenarios of this module.
pub fn scenarios() -> Vec<crate::Scenario> {
    vec![("e2e::run_sh_passes_against_the_test_cluster", run_sh)]
}

/// How long the whole script may take (each of its waits is bounded by
/// `E2E_TIMEOUT`, 120 s by default).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// `bash e2e/run.sh` in a process group of its own (with the operator it
/// starts); the whole group is killed on drop.
struct Script(Child);

impl Script {
    /// Waits for the script, or kills it after `timeout`.
    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.0.try_wait().expect("waiting for run.sh") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        // The group's id is the script's pid (process_group(0)). Harmless
        // after a clean exit: its trap stopped the operator already.
        let group = i32::try_from(self.0.id()).expect("a pid fits in i32");
        // SAFETY: kill(2) with a negative pid only sends a signal.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// What the script's final summary line (`N passed, F failed, S skipped`)
/// and its `PASS:` / `SKIP:` lines say.
#[derive(Debug, Default)]
struct Summary {
    /// The namespace the script worked in.
    namespace: String,
    passed: usize,
    failed: usize,
    skipped: usize,
    pass_lines: Vec<String>,
    skip_lines: Vec<String>,
}

fn summary(output: &str) -> Option<Summary> {
    let mut summary = Summary::default();
    let mut counts = None;
    for line in output.lines() {
        // Every line of the script's own starts with `[e2e HH:MM:SS] `.
        let Some(text) = line.strip_prefix("[e2e ").and_then(|l| l.split_once("] ")).map(|(_, t)| t) else {
            continue;
        };
        if let Some((_, ns)) =
            text.strip_prefix("cluster reachable").and_then(|t| t.rsplit_once("; namespace "))
        {
            summary.namespace = ns.trim().to_string();
        } else if let Some(what) = text.strip_prefix("PASS: ") {
            summary.pass_lines.push(what.to_string());
        } else if let Some(what) = text.strip_prefix("SKIP: ") {
            summary.skip_lines.push(what.to_string());
        } else if let Some(parsed) = counts_line(text) {
            counts = Some(parsed);
        }
    }
    (summary.passed, summary.failed, summary.skipped) = counts?;
    Some(summary)
}

/// `N passed, F failed, S skipped`.
fn counts_line(text: &str) -> Option<(usize, usize, usize)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let [passed, "passed,", failed, "failed,", skipped, "skipped"] = words.as_slice() else { return None };
    Some((passed.parse().ok()?, failed.parse().ok()?, skipped.parse().ok()?))
}

/// `PATH` with the directory of the test kubectl first.
fn path_with(kubectl: &Path) -> std::ffi::OsString {
    let dir = kubectl.parent().expect("kubectl has a directory").to_path_buf();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&rest))).expect("a joinable PATH")
}

fn run_sh(cluster: &Cluster) {
    // Present already (earlier scenarios); the script re-applies them too.
    install_monitoring_crds(cluster);
    let prometheus_crds = crate::install::monitoring_crds_dir();
    let output = cluster.scratch("e2e").join("run.sh.log");
    let started = Instant::now();
    let mut command = Command::new("bash");
    command
        .arg(root().join("e2e/run.sh"))
        .arg("--prometheus-crds")
        .arg(&prometheus_crds)
        .current_dir(root())
        .env("KUBECONFIG", cluster.kubeconfig(User::Admin))
        .env("XAGENT_OPERATOR_KUBECONFIG", cluster.kubeconfig(User::Operator))
        .env("XAGENT_OPERATOR_BIN", env!("CARGO_BIN_EXE_xagent-operator"))
        .env("PATH", path_with(&cluster.kubectl_binary()))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("XAGENT_WATCH_NAMESPACE")
        .env_remove("E2E_IMAGE")
        .env_remove("E2E_EXPECT_READY")
        .process_group(0);
    let mut script = Script(spawn_logged(&mut command, &output));
    let status = script.wait(SCRIPT_TIMEOUT);
    let took = started.elapsed();
    let tail = || format!("--- end of {} ---\n{}", output.display(), log_tail(&output, 60));
    let Some(status) = status else {
        panic!("e2e/run.sh still running after {SCRIPT_TIMEOUT:?}; killed\n{}", tail());
    };
    assert!(status.success(), "e2e/run.sh failed ({status}) after {took:.0?}\n{}", tail());

    let text = std::fs::read_to_string(&output).expect("reading the script's output");
    let Some(summary) = summary(&text) else { panic!("no `N passed, F failed, S skipped` line\n{}", tail()) };
    assert_eq!(summary.failed, 0, "the script exited 0 but counted a failure\n{}", tail());
    assert!(summary.passed > 0, "the script passed no step\n{}", tail());
    assert_eq!(
        summary.passed,
        summary.pass_lines.len(),
        "the count of passes differs from the PASS lines\n{}",
        tail()
    );
    assert_eq!(
        summary.skipped,
        summary.skip_lines.len(),
        "the count of skips differs from the SKIP lines\n{}",
        tail()
    );
    // Every request of the operator's ServiceAccount is audited: writes of it in the
    // script's namespace show the operator ran as it, not as admin.
    assert!(!summary.namespace.is_empty(), "no `namespace NAME` in the script's first line\n{}", tail());
    let writes = cluster
        .audit()
        .into_iter()
        .filter(|e| e.username == OPERATOR_USER && e.namespace == summary.namespace && e.is_mutating())
        .count();
    assert!(
        writes > 0,
        "no write of {OPERATOR_USER} in {}: the operator ran as someone else\n{}",
        summary.namespace,
        tail()
    );
    eprintln!(
        "e2e/run.sh passed in {took:.0?}: {} passed, {} skipped; the operator wrote {writes} times as {OPERATOR_USER}",
        summary.passed, summary.skipped
    );
    for skipped in &summary.skip_lines {
        eprintln!("  skipped: {skipped}");
    }
}
