//! `xagent-operator run` as a real process against the test cluster, as the
//! operator's ServiceAccount (only the RBAC of `config/rbac`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::harness::{Cluster, User, free_port, log_tail, spawn_logged};
use crate::support::image::Image;

/// A running operator process; killed on drop.
pub struct Operator {
    child: Option<Child>,
    /// Port of /metrics, /healthz, /readyz.
    pub metrics_port: u16,
    /// Its log file.
    pub log: PathBuf,
}

impl Operator {
    /// Starts the operator as `user`, watching `namespace`, with `extra` arguments.
    pub fn start(cluster: &Cluster, user: User, namespace: &str, extra: &[&str]) -> Operator {
        let mut command = Command::new(env!("CARGO_BIN_EXE_xagent-operator"));
        command.env("KUBECONFIG", cluster.kubeconfig(user)).env_remove("KUBERNETES_SERVICE_HOST");
        Operator::spawn(cluster, user, namespace, extra, command)
    }

    /// Starts the operator as `user` with its own kubeconfig file (e.g. one
    /// that reaches the API server through a proxy).
    pub fn start_with_kubeconfig(
        cluster: &Cluster,
        user: User,
        namespace: &str,
        kubeconfig: &Path,
    ) -> Operator {
        let mut command = Command::new(env!("CARGO_BIN_EXE_xagent-operator"));
        command.env("KUBECONFIG", kubeconfig).env_remove("KUBERNETES_SERVICE_HOST");
        Operator::spawn(cluster, user, namespace, &[], command)
    }

    /// Starts the operator from the unpacked container image, under chroot
    /// as the image's user, with a kubeconfig and CA certificate copied in.
    pub fn start_from_image(cluster: &Cluster, user: User, namespace: &str, image: &Image) -> Operator {
        let ca = image.put(&cluster.ca_certificate(), "ca.crt");
        let kubeconfig = image.write("kubeconfig", &cluster.kubeconfig_text(user, &ca));
        let mut command = image.command(&[]);
        command.env("KUBECONFIG", kubeconfig);
        Operator::spawn(cluster, user, namespace, &[], command)
    }

    /// Spawns `command run` with the test's namespace, metrics port and log.
    fn spawn(
        cluster: &Cluster,
        user: User,
        namespace: &str,
        extra: &[&str],
        mut command: Command,
    ) -> Operator {
        let metrics_port = free_port();
        let log = cluster.scratch("operators").join(format!("{namespace}-{}-{metrics_port}.log", user.uid()));
        command
            .arg("run")
            .arg("--namespace")
            .arg(namespace)
            .arg("--metrics-address")
            .arg(format!("127.0.0.1:{metrics_port}"))
            .args(extra)
            .env("RUST_LOG", "info,kube=warn");
        let child = spawn_logged(&mut command, &log);
        let operator = Operator { child: Some(child), metrics_port, log };
        operator.wait_for_http();
        operator
    }

    fn wait_for_http(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.metrics_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "operator never opened its metrics port:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `kill -9`: no Lease release, no grace period.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The body of GET `path` on the metrics port.
    pub fn http_get(&self, path: &str) -> String {
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.metrics_port)).expect("connecting to the operator");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("setting a timeout");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .expect("request");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
    }

    /// The sum of every sample of metric `name` whose labels contain `filter`.
    pub fn metric_sum(&self, name: &str, filter: &str) -> f64 {
        self.http_get("/metrics")
            .lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']) && l.contains(filter))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// The end of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log, 40)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- operator log {} ---\n{}", self.log.display(), self.log_tail());
        }
        self.kill9();
    }
}
