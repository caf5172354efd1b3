//! A real Kubernetes control plane for tests, in the envtest style: etcd,
//! kube-apiserver and kube-controller-manager on free loopback ports in a
//! temporary directory, with static-token users and an audit log.
//!
//! Binaries come from an asset directory laid out like `setup-envtest`'s
//! (`etcd`, `kube-apiserver`, `kube-controller-manager`, `kubectl` side by
//! side): `$KUBEBUILDER_ASSETS`, else `target/kubebuilder-assets`, which
//! `scripts/setup.sh` fills. Every process is killed when the harness is
//! dropped, and by the kernel if the test process dies first.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use crate::support::run_ok;

/// The operator's identity: the ServiceAccount that `config/rbac` binds.
pub const OPERATOR_USER: &str = "system:serviceaccount:xagent-system:xagent-operator";

/// A user of the test cluster, authenticated by a static token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// `system:masters`: sets up and inspects.
    Admin,
    /// The operator's ServiceAccount, with uid `operator-a`.
    Operator,
    /// The same ServiceAccount with uid `operator-b`: a second replica whose
    /// requests the audit log tells apart from the first's.
    OperatorB,
    /// `alice`, an app-team member; scenarios grant her roles.
    Alice,
    /// `bob`, another person; scenarios grant him roles.
    Bob,
}

impl User {
    const ALL: [User; 5] = [User::Admin, User::Operator, User::OperatorB, User::Alice, User::Bob];

    fn token(self) -> &'static str {
        match self {
            User::Admin => "admin-token",
            User::Operator => "operator-a-token",
            User::OperatorB => "operator-b-token",
            User::Alice => "alice-token",
            User::Bob => "bob-token",
        }
    }

    /// The uid the API server records for this user.
    pub fn uid(self) -> &'static str {
        match self {
            User::Admin => "admin",
            User::Operator => "operator-a",
            User::OperatorB => "operator-b",
            User::Alice => "alice",
            User::Bob => "bob",
        }
    }

    fn token_line(self) -> String {
        match self {
            User::Admin => format!("{},admin,admin,\"system:masters\"", self.token()),
            User::Alice | User::Bob => {
                format!("{},{},{},\"system:authenticated\"", self.token(), self.uid(), self.uid())
            }
            User::Operator | User::OperatorB => format!(
                "{},{OPERATOR_USER},{},\"system:serviceaccounts,system:serviceaccounts:xagent-system,system:authenticated\"",
                self.token(),
                self.uid()
            ),
        }
    }
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Why no cluster could be started.
#[derive(Debug)]
pub struct MissingAssets(pub String);

/// A running control plane. Dropping it stops every process and removes its directory.
pub struct Cluster {
    dir: tempfile::TempDir,
    assets: PathBuf,
    processes: Vec<(&'static str, Child)>,
    /// `https://127.0.0.1:PORT` of the API server.
    pub url: String,
}

/// How many requests per second the controller-manager may send, and in
/// what burst. Here all its controllers share one client
/// (`--use-service-account-credentials=false`); a production control plane
/// gives each controller its own client, each with the default limit.
#[derive(Debug, Clone, Copy)]
pub struct ManagerLimits {
    /// `--kube-api-qps`.
    pub qps: u32,
    /// `--kube-api-burst`.
    pub burst: u32,
}

impl ManagerLimits {
    /// kube-controller-manager's defaults: plenty for a test's few objects.
    pub const DEFAULT: ManagerLimits = ManagerLimits { qps: 20, burst: 30 };
    /// About what the Deployment, ReplicaSet, HPA and disruption controllers
    /// sustain together with a client each (5 × the default): for scale
    /// scenarios, whose thousands of rollouts would otherwise queue behind
    /// one shared 20 requests/s.
    #[allow(dead_code, reason = "the cluster benchmark's, which shares this harness")]
    pub const SCALED: ManagerLimits = ManagerLimits { qps: 100, burst: 150 };
}

/// One request in the audit log.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// get, list, watch, create, patch, update, delete…
    pub verb: String,
    /// The authenticated user's uid (see [`User::uid`]).
    pub user_uid: String,
    /// The authenticated user's name.
    pub username: String,
    /// Resource plural, e.g. `deployments`.
    pub resource: String,
    /// Subresource, e.g. `status`, or empty.
    pub subresource: String,
    /// Namespace of the object, or empty.
    pub namespace: String,
    /// Name of the object, or empty.
    pub name: String,
    /// The request body, where the audit policy records it.
    pub request: Option<Value>,
    /// The HTTP status code of the response.
    pub code: u16,
    /// The response's message (set on failures).
    pub message: String,
    /// The request's id: a watch has two events (response started, complete).
    pub audit_id: String,
    /// When the API server received the request, as the audit log says.
    pub received: Option<k8s_openapi::jiff::Timestamp>,
    /// When the API server finished its response (the event's stage time).
    #[allow(dead_code)] // read by benches/cluster.rs, which shares this harness
    pub completed: Option<k8s_openapi::jiff::Timestamp>,
}

impl AuditEvent {
    /// Whether the request could change something.
    pub fn is_mutating(&self) -> bool {
        matches!(self.verb.as_str(), "create" | "update" | "patch" | "delete" | "deletecollection")
    }
}

/// The asset directory, or why there is none.
pub fn find_assets() -> Result<PathBuf, MissingAssets> {
    let dir = match std::env::var_os("KUBEBUILDER_ASSETS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/kubebuilder-assets"),
    };
    for binary in ["etcd", "kube-apiserver", "kube-controller-manager", "kubectl"] {
        if !dir.join(binary).is_file() {
            return Err(MissingAssets(format!(
                "{binary} not found in {} (set KUBEBUILDER_ASSETS, or run ./scripts/setup.sh to unpack the \
                 control-plane binaries)",
                dir.display()
            )));
        }
    }
    Ok(dir)
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0").local_addr().expect("local address").port()
}

/// Spawns `command` with output to `log` and a parent-death signal, so the
/// process cannot outlive the test binary even after a `kill -9` of it.
pub fn spawn_logged(command: &mut Command, log: &Path) -> Child {
    let out = fs::File::create(log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
    let err = out.try_clone().expect("cloning a file handle");
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"))
}

/// The last `n` lines of a log file, for failure messages.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Records every request of the operator's ServiceAccount (with the body of
/// its writes to Deployments and XAgent status), and of everybody else only the writes of
/// XAgents: when each XAgent was created is where a benchmark starts timing.
const AUDIT_POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Request
    users: ["system:serviceaccount:xagent-system:xagent-operator"]
    verbs: ["create", "patch", "update"]
    resources:
      - group: apps
        resources: ["deployments"]
      - group: xagent.io
        resources: ["xagents/status"]
  - level: Metadata
    users: ["system:serviceaccount:xagent-system:xagent-operator"]
  - level: Metadata
    verbs: ["create", "patch", "update"]
    resources:
      - group: xagent.io
        resources: ["xagents"]
  - level: None
"#;

impl Cluster {
    /// Starts etcd, the API server and the controller-manager, and waits
    /// until the API server is ready and serves the built-in kinds.
    pub fn start(assets: PathBuf) -> Cluster {
        Cluster::start_with(assets, ManagerLimits::DEFAULT)
    }

    /// [`Cluster::start`], with the controller-manager's client limited to `limits`.
    pub fn start_with(assets: PathBuf, limits: ManagerLimits) -> Cluster {
        let dir = tempfile::Builder::new().prefix("xagent-cluster-").tempdir().expect("creating a temp dir");
        let mut cluster = Cluster { dir, assets, processes: Vec::new(), url: String::new() };
        let etcd_url = cluster.start_etcd();
        cluster.write_credentials();
        let port = cluster.start_apiserver(&etcd_url);
        cluster.url = format!("https://127.0.0.1:{port}");
        for user in User::ALL {
            cluster.write_kubeconfig(user);
        }
        cluster.wait_ready();
        cluster.start_controller_manager(limits);
        cluster
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn binary(&self, name: &str) -> PathBuf {
        self.assets.join(name)
    }

    fn start_etcd(&mut self) -> String {
        let (client, peer) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client}");
        let child = spawn_logged(
            Command::new(self.binary("etcd"))
                .arg("--data-dir")
                .arg(self.path("etcd"))
                .arg(format!("--listen-client-urls={url}"))
                .arg(format!("--advertise-client-urls={url}"))
                .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}")),
            &self.path("etcd.log"),
        );
        self.processes.push(("etcd", child));
        url
    }

    fn write_credentials(&self) {
        let key = self.path("sa.key");
        run_ok(Command::new("openssl").arg("genrsa").arg("-out").arg(&key).arg("2048"), "openssl genrsa");
        run_ok(
            Command::new("openssl")
                .arg("rsa")
                .arg("-in")
                .arg(&key)
                .arg("-pubout")
                .arg("-out")
                .arg(self.path("sa.pub")),
            "openssl rsa -pubout",
        );
        let tokens: Vec<String> = User::ALL.iter().map(|u| u.token_line()).collect();
        fs::write(self.path("tokens.csv"), tokens.join("\n") + "\n").expect("writing tokens.csv");
        fs::write(self.path("audit-policy.yaml"), AUDIT_POLICY).expect("writing the audit policy");
    }

    fn start_apiserver(&mut self, etcd_url: &str) -> u16 {
        let port = free_port();
        let d = |name: &str| self.path(name).display().to_string();
        let child = spawn_logged(
            Command::new(self.binary("kube-apiserver")).args([
                format!("--etcd-servers={etcd_url}"),
                format!("--cert-dir={}", d("certs")),
                format!("--secure-port={port}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                "--service-account-issuer=https://kubernetes.default.svc".into(),
                format!("--service-account-key-file={}", d("sa.pub")),
                format!("--service-account-signing-key-file={}", d("sa.key")),
                "--service-cluster-ip-range=10.0.0.0/16".into(),
                "--authorization-mode=RBAC".into(),
                format!("--token-auth-file={}", d("tokens.csv")),
                "--disable-admission-plugins=ServiceAccount".into(),
                format!("--audit-policy-file={}", d("audit-policy.yaml")),
                format!("--audit-log-path={}", d("audit.log")),
                "--audit-log-format=json".into(),
                // Written as requests complete, so a test can count them at once.
                "--audit-log-mode=blocking".into(),
            ]),
            &self.path("apiserver.log"),
        );
        self.processes.push(("kube-apiserver", child));
        port
    }

    fn start_controller_manager(&mut self, limits: ManagerLimits) {
        let kubeconfig = self.kubeconfig(User::Admin).display().to_string();
        let controllers = "*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-route,-service,\
            -persistentvolume-binder,-attachdetach,-persistentvolume-expander,-ttl,-bootstrapsigner,\
            -tokencleaner,-service-ca-cert-publisher";
        let child = spawn_logged(
            Command::new(self.binary("kube-controller-manager")).args([
                format!("--kubeconfig={kubeconfig}"),
                format!("--authentication-kubeconfig={kubeconfig}"),
                format!("--authorization-kubeconfig={kubeconfig}"),
                "--leader-elect=false".into(),
                "--bind-address=127.0.0.1".into(),
                format!("--secure-port={}", free_port()),
                format!("--service-account-private-key-file={}", self.path("sa.key").display()),
                "--use-service-account-credentials=false".into(),
                format!("--controllers={controllers}"),
                // HPA status moves every 5 s: steady-state tests see real churn.
                "--horizontal-pod-autoscaler-sync-period=5s".into(),
                format!("--kube-api-qps={}", limits.qps),
                format!("--kube-api-burst={}", limits.burst),
            ]),
            &self.path("controller-manager.log"),
        );
        self.processes.push(("kube-controller-manager", child));
    }

    fn write_kubeconfig(&self, user: User) {
        let ca = self.ca_certificate().display().to_string();
        fs::write(self.kubeconfig(user), self.kubeconfig_text(user, &ca)).expect("writing a kubeconfig");
    }

    /// A kubeconfig for `user` that trusts the CA certificate at `ca`, for
    /// a process that sees the file system elsewhere (a chroot).
    pub fn kubeconfig_text(&self, user: User, ca: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    \
             certificate-authority: {ca}\nusers:\n- name: u\n  user:\n    token: {}\ncontexts:\n- name: test\n  \
             context:\n    cluster: test\n    user: u\n    namespace: default\ncurrent-context: test\n",
            self.url,
            user.token()
        )
    }

    /// The CA certificate of the API server's serving certificate.
    pub fn ca_certificate(&self) -> PathBuf {
        self.path("certs/apiserver.crt")
    }

    /// The kubeconfig file of `user`.
    pub fn kubeconfig(&self, user: User) -> PathBuf {
        self.path(&format!("kubeconfig-{}", user.uid()))
    }

    /// A directory for a test's own files, removed with the cluster.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let dir = self.path(&format!("scratch/{name}"));
        fs::create_dir_all(&dir).expect("creating a scratch dir");
        dir
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = self.kubectl(User::Admin, &["get", "--raw", "/readyz"]);
            if ready.status.success() {
                return;
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "kube-apiserver not ready after 60 s:\n{}",
                log_tail(&self.path("apiserver.log"), 30)
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn assert_running(&mut self) {
        for (name, child) in &mut self.processes {
            if let Ok(Some(status)) = child.try_wait() {
                let log = match *name {
                    "etcd" => "etcd.log",
                    "kube-apiserver" => "apiserver.log",
                    _ => "controller-manager.log",
                };
                panic!("{name} exited ({status}):\n{}", log_tail(&self.dir.path().join(log), 30));
            }
        }
    }

    /// Runs the test kubectl as `user`.
    pub fn kubectl(&self, user: User, args: &[&str]) -> Output {
        Command::new(self.binary("kubectl"))
            .arg("--kubeconfig")
            .arg(self.kubeconfig(user))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running kubectl")
    }

    /// Runs kubectl as admin and panics unless it succeeds; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(User::Admin, args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The test kubectl binary.
    pub fn kubectl_binary(&self) -> PathBuf {
        self.binary("kubectl")
    }

    /// A client for `user`.
    pub async fn client(&self, user: User) -> Client {
        let kubeconfig = Kubeconfig::read_from(self.kubeconfig(user)).expect("reading the kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("a client config from the kubeconfig");
        Client::try_from(config).expect("a client")
    }

    /// Every audit event recorded so far.
    pub fn audit(&self) -> Vec<AuditEvent> {
        let Ok(file) = fs::File::open(self.path("audit.log")) else { return Vec::new() };
        BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
            .map(|e| parse_audit(&e))
            .collect()
    }
}

fn parse_audit(e: &Value) -> AuditEvent {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let obj = &e["objectRef"];
    AuditEvent {
        verb: s(&e["verb"]),
        user_uid: s(&e["user"]["uid"]),
        username: s(&e["user"]["username"]),
        resource: s(&obj["resource"]),
        subresource: s(&obj["subresource"]),
        namespace: s(&obj["namespace"]),
        name: s(&obj["name"]),
        request: e.get("requestObject").cloned(),
        code: e["responseStatus"]["code"].as_u64().and_then(|c| u16::try_from(c).ok()).unwrap_or_default(),
        message: s(&e["responseStatus"]["message"]),
        audit_id: s(&e["auditID"]),
        received: e["requestReceivedTimestamp"].as_str().and_then(|t| t.parse().ok()),
        completed: e["stageTimestamp"].as_str().and_then(|t| t.parse().ok()),
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Reverse order: the controller-manager and API server before etcd.
        for (_, child) in self.processes.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
