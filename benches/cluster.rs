//! Figures on a real Kubernetes API server, each printed beside its target.
//!
//! The control plane is the real-API-server tests' own (etcd,
//! kube-apiserver and kube-controller-manager v1.33 from
//! `target/kubebuilder-assets`, which `scripts/setup.sh` fills); the operator
//! is the release binary, run as its own ServiceAccount under only the RBAC
//! of `config/rbac`, watching one namespace per scenario. Times come from
//! the API server's audit log (when it received the XAgent's create, when it
//! completed the operator's last child create), requests are counted there
//! too, and CPU and RSS are read from `/proc` for the operator's process.
//!
//! Every figure is printed twice: a line for people and a JSON line
//! (`{"figure":…,"value":…,"unit":…,"target":…,"met":…,"source":"real-server"}`)
//! that a side-by-side comparison with another controller can read.
//!
//! Run: `cargo bench --bench cluster` (about 15 minutes on 2 cores), or
//! `cargo bench --bench cluster -- --quick` (200 XAgents instead of 1,000,
//! no concurrency curve), or `-- --no-curve` (1,000, no curve).

#[path = "../tests/cluster/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use futures::StreamExt;
use harness::{AuditEvent, Cluster, ManagerLimits, OPERATOR_USER, User, free_port, root, spawn_logged};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use xagent_operator::crd::XAgent;

/// Requests per second the operator's client may send in the scale
/// scenarios: well above what 2 cores serve, so the server, not the
/// client-side limit (50 by default), sets the pace.
const QPS: &str = "2000";

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let curve = !quick && !std::env::args().any(|a| a == "--no-curve");
    let assets = harness::find_assets().unwrap_or_else(|e| panic!("{}", e.0));
    // The operator's figures, not the controller-manager's queue: with its
    // default 20 requests/s for all controllers, 1,000 XAgents' rollouts
    // take over 20 minutes.
    let cluster = Cluster::start_with(assets, ManagerLimits::SCALED);
    install(&cluster);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let admin = cluster.client(User::Admin).await;
        xagent_watches_served(&admin).await;
        latency(&cluster, &admin, 20).await;
        if curve {
            concurrency_curve(&cluster, &admin, 50, &[1, 4, 8, 16]).await;
        }
        let default = xagent_operator::controller::run::DEFAULT_CONCURRENCY;
        let small = scale(&cluster, &admin, 100, default).await;
        small.print("100");
        let (many, label) = if quick { (200, "200") } else { (1000, "1000") };
        let large = scale(&cluster, &admin, many, default).await;
        large.print(label);
        steady_state(&cluster, &large, Duration::from_secs(60));
    });
}

/// Installs the XAgent CRD, the operator's RBAC and the Prometheus Operator
/// CRDs, so each default XAgent has its 13 children.
fn install(cluster: &Cluster) {
    let apply = |path: &Path| {
        cluster.kubectl_ok(&["apply", "--server-side", "-f", &path.display().to_string()]);
    };
    apply(&root().join("crds/xagent.io_xagents.yaml"));
    for kind in ["servicemonitors", "prometheusrules", "alertmanagerconfigs"] {
        apply(&root().join(format!("tests/alerts/monitoring.coreos.com_{kind}.yaml")));
    }
    // Retried: a CRD read before the server's first status write has no
    // conditions, which `kubectl wait` reports as an error.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cluster
        .kubectl(User::Admin, &["wait", "--for=condition=Established", "crd", "--all"])
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "the CRDs were not Established within 60 s");
        std::thread::sleep(Duration::from_millis(250));
    }
    cluster.kubectl_ok(&["create", "namespace", "xagent-system"]);
    cluster.kubectl_ok(&["apply", "--server-side", "-k", &root().join("config/rbac").display().to_string()]);
}

/// Waits until the API server serves watches of XAgents. A CRD's watch
/// cache fills after the CRD is Established; until then the server refuses
/// watches with 429 "storage is (re)initializing", retry after 1 s. The
/// first timed create met that once (its first child request 1.0 s after
/// the create, the other 19 after 8–17 ms): the server's warm-up, which
/// every client waits out alike, not the operator's reaction.
async fn xagent_watches_served(admin: &kube::Client) {
    let api: Api<XAgent> = Api::all(admin.clone());
    let params = kube::api::WatchParams::default().timeout(1);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let refused = match api.watch(&params, "0").await {
            Err(error) => Some(error.to_string()),
            Ok(events) => {
                let mut events = std::pin::pin!(events);
                match events.next().await {
                    Some(Err(error)) => Some(error.to_string()),
                    _ => None,
                }
            }
        };
        let Some(refused) = refused else { return };
        assert!(Instant::now() < deadline, "the server did not serve XAgent watches within 60 s: {refused}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The release operator as its own ServiceAccount; killed on drop.
struct Operator {
    child: Child,
    port: u16,
    /// Whether the operator runs under a wrapper, in a process group of its
    /// own: outside one, Ctrl-C on the benchmark reaches it as before.
    wrapped: bool,
}

impl Operator {
    fn start(cluster: &Cluster, namespace: &str, extra: &[&str]) -> Operator {
        let port = free_port();
        let log = cluster.scratch("operators").join(format!("{namespace}.log"));
        let binary = env!("CARGO_BIN_EXE_xagent-operator");
        // A profiler to run the operator under, e.g. `perf record -g -o FILE`
        // or `heaptrack -o FILE`, `{ns}` in it replaced by the operator's
        // namespace (CPU and RSS figures are then the wrapper's).
        let wrapper = std::env::var("XAGENT_BENCH_WRAPPER").unwrap_or_default().replace("{ns}", namespace);
        let mut argv: Vec<&str> = wrapper.split_whitespace().collect();
        argv.push(binary);
        let mut command = Command::new(argv[0]);
        let wrapped = argv.len() > 1;
        if wrapped {
            command.process_group(0);
        }
        command
            .args(&argv[1..])
            .env("KUBECONFIG", cluster.kubeconfig(User::Operator))
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env("RUST_LOG", "warn")
            .args(["run", "--namespace", namespace, "--metrics-address", &format!("127.0.0.1:{port}")])
            .args(extra);
        let operator = Operator { child: spawn_logged(&mut command, &log), port, wrapped };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !operator.get("/readyz").starts_with("HTTP/1.1 200") {
            assert!(Instant::now() < deadline, "operator not ready:\n{}", harness::log_tail(&log, 20));
            std::thread::sleep(Duration::from_millis(100));
        }
        operator
    }

    /// The whole HTTP response to GET `path`, or "" while nothing listens.
    fn get(&self, path: &str) -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return String::new() };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
    }

    /// The sum of every sample of metric `name`.
    fn metric(&self, name: &str) -> f64 {
        self.get("/metrics")
            .lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// User plus system CPU seconds of the process so far.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
        let ticks: f64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<f64>().ok()).sum();
        // SAFETY: sysconf reads a constant of the system.
        ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
    }

    /// Resident set size in MiB.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:")?.trim().strip_suffix("kB")?.trim().parse().ok());
        kib.unwrap_or(0.0) / 1024.0
    }
}

impl Drop for Operator {
    /// SIGTERM first, as a Deployment's rollout would stop it: a profiler
    /// wrapping the operator writes its data only on a clean exit. A wrapper
    /// that does not pass the signal on (`heaptrack` is a script) is killed
    /// after 30 s with its whole process group, so the operator under it
    /// does not outlive the benchmark.
    fn drop(&mut self) {
        // SAFETY: signals our own child, whose pid we hold until `wait`.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        if self.wrapped {
            // SAFETY: the group our child led keeps its id while any member
            // lives; whatever of it is left (the wrapped operator) is killed.
            unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        }
        let _ = self.child.wait();
    }
}

/// Prints one figure for people and as a JSON line.
fn figure(name: &str, value: f64, unit: &str, target: &str, met: Option<bool>) {
    let verdict = match met {
        Some(true) => "met",
        Some(false) => "NOT MET",
        None => "",
    };
    println!("{name:<58} {value:>12.3} {unit:<12} target {target:<36} {verdict}");
    let line = json!({"figure": name, "value": value, "unit": unit, "target": target, "met": met,
                      "source": "real-server"});
    println!("{line}");
}

/// Applies a default XAgent `name` in `ns` as admin; returns it as stored.
async fn apply_xagent(admin: &kube::Client, ns: &str, name: &str) -> XAgent {
    let body = json!({"apiVersion": "xagent.io/v1alpha1", "kind": "XAgent",
                      "metadata": {"name": name, "namespace": ns}, "spec": {}});
    let api: Api<XAgent> = Api::namespaced(admin.clone(), ns);
    api.patch(name, &PatchParams::apply("bench").force(), &Patch::Apply(body))
        .await
        .unwrap_or_else(|e| panic!("applying XAgent {ns}/{name}: {e}"))
}

/// The operator's and the XAgents' audited requests in `ns`.
fn audit_of(cluster: &Cluster, ns: &str) -> Vec<AuditEvent> {
    cluster.audit().into_iter().filter(|e| e.namespace == ns).collect()
}

/// The operator's creates of children: server-side applies answered 201.
fn is_child_create(e: &AuditEvent) -> bool {
    e.username == OPERATOR_USER
        && e.verb == "patch"
        && e.code == 201
        && !matches!(e.resource.as_str(), "xagents" | "events")
}

/// The XAgent a child named `child` belongs to, given the XAgents' names
/// (an Event about XAgent `x` is named `x.<nanoseconds>`).
fn owner_of<'a>(child: &str, names: &'a [String]) -> Option<&'a str> {
    names
        .iter()
        .map(String::as_str)
        .find(|n| child == *n || child.strip_prefix(*n).is_some_and(|r| r.starts_with(['-', '.'])))
}

fn seconds(from: Timestamp, to: Timestamp) -> f64 {
    to.duration_since(from).as_secs_f64()
}

/// The `p`th percentile (0..=100) of sorted `values`, nearest rank.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Polls every 500 ms until `check` holds, or panics after `timeout`.
async fn until(what: &str, timeout: Duration, check: impl FnMut() -> bool) {
    assert!(within(timeout, check).await, "timed out after {timeout:?} waiting for {what}");
}

/// Polls every 500 ms until `check` holds (true) or `timeout` passes (false).
async fn within(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !check() {
        if started.elapsed() >= timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    true
}

/// XAgent create → its last child created, one XAgent at a time on an
/// otherwise idle server.
async fn latency(cluster: &Cluster, admin: &kube::Client, n: usize) {
    let ns = "bench-latency";
    cluster.kubectl_ok(&["create", "namespace", ns]);
    let _operator = Operator::start(cluster, ns, &[]);
    let names: Vec<String> = (0..n).map(|i| format!("lat-{i:03}")).collect();
    let mut created = 0;
    for name in &names {
        let stored = apply_xagent(admin, ns, name).await;
        created += xagent_operator::builders::build(&stored).len();
        until(&format!("the children of {name}"), Duration::from_secs(60), || {
            audit_of(cluster, ns).iter().filter(|e| is_child_create(e)).count() >= created
        })
        .await;
        // Idle between XAgents: each is timed alone.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let events = audit_of(cluster, ns);
    // Per XAgent: (create → last child created, create → the operator's
    // first request for it): the second is the operator's own reaction, the
    // rest is the server creating 13 objects at once.
    let timings: Vec<(f64, f64)> = names.iter().map(|name| create_timings(&events, name, &names)).collect();
    let mut latencies: Vec<f64> = timings.iter().map(|t| t.0).collect();
    let mut reactions: Vec<f64> = timings.iter().map(|t| t.1).collect();
    latencies.sort_by(f64::total_cmp);
    reactions.sort_by(f64::total_cmp);
    let gets = events.iter().filter(|e| e.username == OPERATOR_USER && e.verb == "get").count();
    let stored = status_writes(&events);
    println!("\n# create → all children of one XAgent ({n} XAgents one at a time, idle server)");
    figure("create_to_last_child_p50_s", percentile(&latencies, 50.0), "s", "-", None);
    let p99 = percentile(&latencies, 99.0);
    figure("create_to_last_child_p99_s", p99, "s", "< 0.15", Some(p99 < 0.15));
    figure("create_to_first_child_request_p50_s", percentile(&reactions, 50.0), "s", "-", None);
    figure("create_to_first_child_request_p99_s", percentile(&reactions, 99.0), "s", "-", None);
    figure("create_gets_per_xagent", gets as f64 / n as f64, "requests", "0", Some(gets == 0));
    let writes = stored.values().sum::<usize>() as f64 / n as f64;
    figure("create_status_writes_per_xagent", writes, "writes", "<= 2", Some(writes <= 2.0));
}

/// For XAgent `name`: seconds from the server receiving its create to the
/// last of its children created, and to the operator's first request for it.
fn create_timings(events: &[AuditEvent], name: &str, names: &[String]) -> (f64, f64) {
    let create = events
        .iter()
        .find(|e| e.resource == "xagents" && e.name == name && e.code == 201 && e.username != OPERATOR_USER)
        .and_then(|e| e.received)
        .unwrap_or_else(|| panic!("no audited create of XAgent {name}"));
    let creates: Vec<&AuditEvent> =
        events.iter().filter(|e| is_child_create(e) && owner_of(&e.name, names) == Some(name)).collect();
    let last = creates.iter().filter_map(|e| e.completed).max();
    let first = creates.iter().filter_map(|e| e.received).min();
    match (first, last) {
        (Some(first), Some(last)) => (seconds(create, last), seconds(create, first)),
        _ => panic!("no audited child create of {name}"),
    }
}

/// What one scale run measured.
struct Scale {
    ns: String,
    n: usize,
    concurrency: u16,
    operator: Operator,
    wall_s: f64,
    first_status_s: f64,
    reconciles: f64,
    cpu_s: f64,
    rss_idle_mib: f64,
    rss_mib: f64,
    verbs: BTreeMap<String, usize>,
    /// Children of all the XAgents together.
    children: usize,
    /// The operator's mutating requests about each XAgent and its children,
    /// up to and including its first status write, and after it.
    creation: Split,
    child_gets: usize,
    status_writes_stored: usize,
    status_writes_max: usize,
    /// Whether the operator stopped writing within [`SETTLE_LIMIT`].
    settled: bool,
}

/// How long a scale run waits for the operator to stop writing.
const SETTLE_LIMIT: Duration = Duration::from_secs(1500);

impl Scale {
    fn print(&self, label: &str) {
        let n = self.n as f64;
        println!("\n# {label} XAgents applied at once (concurrency {})", self.concurrency);
        if !self.settled {
            println!(
                "(the operator was still writing {} s after the last first status)",
                SETTLE_LIMIT.as_secs()
            );
        }
        let settled = if self.settled { 1.0 } else { 0.0 };
        figure(&format!("xagents_{label}_settled"), settled, "bool", "1", Some(self.settled));
        figure(&format!("xagents_{label}_all_children_wall_s"), self.wall_s, "s", "-", None);
        figure(&format!("xagents_{label}_all_first_status_wall_s"), self.first_status_s, "s", "-", None);
        figure(&format!("xagents_{label}_reconciles_per_s"), self.reconciles / self.wall_s, "1/s", "-", None);
        figure(
            &format!("xagents_{label}_reconciles_per_xagent"),
            self.reconciles / n,
            "reconciles",
            "-",
            None,
        );
        for (verb, count) in &self.verbs {
            figure(
                &format!("xagents_{label}_requests_per_xagent_{verb}"),
                *count as f64 / n,
                "requests",
                "-",
                None,
            );
        }
        let mutating: usize = self.verbs.iter().filter(|(v, _)| is_mutating_verb(v)).map(|(_, c)| c).sum();
        figure(
            &format!("xagents_{label}_mutating_requests_per_xagent"),
            mutating as f64 / n,
            "requests",
            "-",
            None,
        );
        // The two targets, read together: creating an XAgent's children
        // costs one request per child plus one status write (and the one
        // "Created" Event); the rollout's end is the second of the "<= 2 status
        // writes per XAgent on create".
        let (split, per_child) = (&self.creation, self.children as f64 / n);
        let budget = per_child + 2.0;
        let target = format!("<= {per_child} children + 1 status + 1 event");
        let to_first = split.to_first_status as f64 / n;
        let worst = split.worst_to_first_status as f64;
        figure(
            &format!("xagents_{label}_creation_requests_per_xagent"),
            to_first,
            "requests",
            &target,
            Some(to_first <= budget),
        );
        figure(
            &format!("xagents_{label}_creation_requests_max_one_xagent"),
            worst,
            "requests",
            &target,
            Some(worst <= budget),
        );
        let after = split.after as f64 / n;
        figure(
            &format!("xagents_{label}_rollout_requests_per_xagent"),
            after,
            "requests",
            "<= 1 (its end: status write 2 of 2)",
            Some(after <= 1.0),
        );
        let status = self.verbs.get("patch status").copied().unwrap_or(0) as f64 / n;
        figure(&format!("xagents_{label}_status_patches_per_xagent"), status, "requests", "-", None);
        let stored = self.status_writes_stored as f64 / n;
        figure(
            &format!("xagents_{label}_status_writes_per_xagent"),
            stored,
            "writes",
            "<= 2",
            Some(stored <= 2.0),
        );
        figure(
            &format!("xagents_{label}_status_writes_max_one_xagent"),
            self.status_writes_max as f64,
            "writes",
            "<= 2",
            Some(self.status_writes_max <= 2),
        );
        let gets = self.child_gets as f64 / n;
        figure(
            &format!("xagents_{label}_child_gets_per_xagent"),
            gets,
            "requests",
            "0 (no GET per child on create)",
            Some(self.child_gets == 0),
        );
        let cpu_met = (self.n >= 1000).then_some(self.cpu_s < 10.0);
        figure(&format!("xagents_{label}_operator_cpu_s"), self.cpu_s, "s", "< 10 at 1000", cpu_met);
        figure(&format!("xagents_{label}_operator_rss_idle_mib"), self.rss_idle_mib, "MiB", "-", None);
        let rss_met = (self.n >= 1000).then_some(self.rss_mib < 32.0);
        figure(&format!("xagents_{label}_operator_rss_mib"), self.rss_mib, "MiB", "< 32 at 1000", rss_met);
    }
}

/// Applies `n` default XAgents at once into a new namespace watched by a
/// fresh operator, and measures until every child exists and every XAgent
/// has its first status.
async fn scale(cluster: &Cluster, admin: &kube::Client, n: usize, concurrency: u16) -> Scale {
    let ns = format!("bench-{n}-c{concurrency}");
    cluster.kubectl_ok(&["create", "namespace", &ns]);
    let operator =
        Operator::start(cluster, &ns, &["--kube-api-qps", QPS, "--concurrency", &concurrency.to_string()]);
    let cpu_before = operator.cpu_seconds();
    let rss_idle_mib = operator.rss_mib();
    let reconciles_before = operator.metric("xagent_reconciles_total");
    let names: Vec<String> = (0..n).map(|i| format!("x{i:04}")).collect();
    let children: usize = futures::stream::iter(&names)
        .map(|name| async { xagent_operator::builders::build(&apply_xagent(admin, &ns, name).await).len() })
        .buffer_unordered(16)
        .fold(0, |sum, n| async move { sum + n })
        .await;
    until(&format!("{children} children in {ns}"), Duration::from_secs(1800), || {
        audit_of(cluster, &ns).iter().filter(|e| is_child_create(e)).count() >= children
    })
    .await;
    until("every XAgent's first status", Duration::from_secs(600), || {
        status_writes(&audit_of(cluster, &ns)).len() >= n
    })
    .await;
    // Settled: no write of the operator for 10 s. The operator writes each
    // XAgent's status as its rollout ends, at the controller-manager's pace
    // (see `ManagerLimits::SCALED`): minutes for thousands of Deployments. What
    // is still written after the limit falls into the steady-state window.
    let mut quiet_since = (Instant::now(), 0);
    let settled = within(SETTLE_LIMIT, || {
        let writes =
            audit_of(cluster, &ns).iter().filter(|e| e.username == OPERATOR_USER && e.is_mutating()).count();
        if writes != quiet_since.1 {
            quiet_since = (Instant::now(), writes);
        }
        quiet_since.0.elapsed() > Duration::from_secs(10)
    })
    .await;
    let events = audit_of(cluster, &ns);
    let first_create = events
        .iter()
        .filter(|e| e.resource == "xagents" && e.username != OPERATOR_USER)
        .filter_map(|e| e.received)
        .min()
        .unwrap();
    let last_child = events.iter().filter(|e| is_child_create(e)).filter_map(|e| e.completed).max().unwrap();
    let ours: Vec<&AuditEvent> = events.iter().filter(|e| e.username == OPERATOR_USER).collect();
    let first_statuses: HashMap<&str, Timestamp> = ours
        .iter()
        .filter(|e| e.subresource == "status" && e.code == 200)
        .fold(HashMap::new(), |mut m, e| {
            if let Some(t) = e.completed {
                m.entry(e.name.as_str()).or_insert(t);
            }
            m
        });
    let last_first_status = first_statuses.values().max().copied().unwrap();
    let mut verbs: BTreeMap<String, usize> = BTreeMap::new();
    for e in &ours {
        let verb = if e.subresource == "status" {
            format!("{} status", e.verb)
        } else if e.resource == "events" {
            format!("{} event", e.verb)
        } else {
            e.verb.clone()
        };
        *verbs.entry(verb).or_default() += 1;
    }
    let child_gets = ours.iter().filter(|e| e.verb == "get" && e.resource != "xagents").count();
    let creation = Split::of(&ours, &names);
    let stored = status_writes(&events);
    let status_writes_max = stored.values().copied().max().unwrap_or(0);
    let status_writes_stored = stored.values().sum();
    Scale {
        ns,
        n,
        concurrency,
        wall_s: seconds(first_create, last_child),
        first_status_s: seconds(first_create, last_first_status),
        reconciles: operator.metric("xagent_reconciles_total") - reconciles_before,
        cpu_s: operator.cpu_seconds() - cpu_before,
        rss_idle_mib,
        rss_mib: operator.rss_mib(),
        verbs,
        creation,
        children,
        child_gets,
        status_writes_stored,
        status_writes_max,
        settled,
        operator,
    }
}

/// The operator's mutating requests split at each XAgent's first status
/// write: the creation of its children (with the write itself), and what
/// followed (the rollout's end, retries).
#[derive(Default)]
struct Split {
    to_first_status: usize,
    after: usize,
    worst_to_first_status: usize,
}

impl Split {
    /// Splits `ours`, the operator's requests, by the XAgent each is about
    /// (by name, see [`owner_of`]); one about no XAgent counts as creation.
    fn of(ours: &[&AuditEvent], names: &[String]) -> Self {
        let mutating = || ours.iter().filter(|e| e.is_mutating());
        let mut first_status: HashMap<&str, Timestamp> = HashMap::new();
        for e in mutating().filter(|e| e.subresource == "status") {
            if let Some(t) = e.received {
                let first = first_status.entry(e.name.as_str()).or_insert(t);
                *first = (*first).min(t);
            }
        }
        let mut split = Split::default();
        let mut per_xagent: HashMap<&str, usize> = HashMap::new();
        for e in mutating() {
            let owner = owner_of(&e.name, names);
            let first = owner.and_then(|o| first_status.get(o));
            if first.is_some_and(|first| e.received.is_some_and(|t| t > *first)) {
                split.after += 1;
            } else {
                split.to_first_status += 1;
                *per_xagent.entry(owner.unwrap_or("")).or_default() += 1;
            }
        }
        split.worst_to_first_status = per_xagent.values().copied().max().unwrap_or(0);
        split
    }
}

/// Whether `verb` (as [`Scale::verbs`] names them) can change something.
fn is_mutating_verb(verb: &str) -> bool {
    ["create", "patch", "update", "delete"].iter().any(|v| verb.starts_with(v))
}

/// How many status writes the server took, per XAgent name.
fn status_writes(events: &[AuditEvent]) -> HashMap<&str, usize> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for e in
        events.iter().filter(|e| e.username == OPERATOR_USER && e.subresource == "status" && e.code == 200)
    {
        *seen.entry(e.name.as_str()).or_default() += 1;
    }
    seen
}

/// The scale scenario at each concurrency: wall time and operator CPU.
async fn concurrency_curve(cluster: &Cluster, admin: &kube::Client, n: usize, levels: &[u16]) {
    println!("\n# concurrency curve: {n} XAgents at once per level");
    for &level in levels {
        let run = scale(cluster, admin, n, level).await;
        figure(&format!("curve_c{level}_all_children_wall_s"), run.wall_s, "s", "-", None);
        figure(&format!("curve_c{level}_operator_cpu_s"), run.cpu_s, "s", "-", None);
    }
}

/// `window` of steady state after a scale run: the controller-manager keeps
/// updating the HPAs and Deployments; the operator must write nothing.
fn steady_state(cluster: &Cluster, run: &Scale, window: Duration) {
    let count = |cluster: &Cluster| {
        let events = audit_of(cluster, &run.ns);
        let ours = events.iter().filter(|e| e.username == OPERATOR_USER);
        let writes = ours.clone().filter(|e| e.is_mutating()).count();
        let status = ours.clone().filter(|e| e.subresource == "status" && e.is_mutating()).count();
        let gets = ours.filter(|e| e.verb == "get").count();
        (writes, status, gets)
    };
    let reconciles = run.operator.metric("xagent_reconciles_total");
    let cpu = run.operator.cpu_seconds();
    let before = count(cluster);
    std::thread::sleep(window);
    let after = count(cluster);
    let secs = window.as_secs();
    println!("\n# steady state: {} XAgents, {secs} s", run.n);
    let writes = after.0 - before.0;
    figure(&format!("steady_{secs}s_mutating_requests"), writes as f64, "requests", "0", Some(writes == 0));
    let status = after.1 - before.1;
    figure(&format!("steady_{secs}s_status_writes"), status as f64, "writes", "0", Some(status == 0));
    let gets = after.2 - before.2;
    figure(&format!("steady_{secs}s_gets"), gets as f64, "requests", "0", Some(gets == 0));
    figure(
        &format!("steady_{secs}s_reconciles"),
        run.operator.metric("xagent_reconciles_total") - reconciles,
        "reconciles",
        "-",
        None,
    );
    figure(&format!("steady_{secs}s_operator_cpu_s"), run.operator.cpu_seconds() - cpu, "s", "-", None);
    figure(
        &format!("steady_{secs}s_operator_rss_mib"),
        run.operator.rss_mib(),
        "MiB",
        "< 32 at 1000",
        (run.n >= 1000).then_some(run.operator.rss_mib() < 32.0),
    );
}
