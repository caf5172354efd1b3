//! The `xagent-operator` binary: `run`, `crd` and `render`.

use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::time::Duration;

use xagent_operator::builders::{self, AnnotationPolicy};
use xagent_operator::controller::run::{RunConfig, Scope, run};
use xagent_operator::leader::LeaseConfig;
use xagent_operator::probes::postgres::PostgresTarget;
use xagent_operator::probes::redis::RedisTarget;
use xagent_operator::telemetry::{self, LogFormat};
use xagent_operator::{crd, probes, render};

/// mimalloc rather than glibc's malloc: the controller's watch decoding and
/// `render`'s builders allocate many small, short-lived values, which glibc
/// serves about a third slower and, across tokio's worker threads, returns
/// to the system less readily (see docs/performance.md). Without the
/// `mimalloc` feature, the system's malloc, for heap profilers.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the X-Agent platform from XAgent custom resources.
#[derive(Parser)]
#[command(name = "xagent-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller against the cluster in KUBECONFIG or the in-cluster config.
    Run {
        /// Watch only these namespaces, comma-separated or repeated (default: all namespaces).
        #[arg(long, env = "XAGENT_WATCH_NAMESPACE", value_delimiter = ',')]
        namespace: Vec<String>,
        /// Log format.
        #[arg(long, value_enum, default_value = "text", env = "XAGENT_LOG_FORMAT")]
        log_format: LogFormat,
        /// Address of the /metrics, /healthz and /readyz endpoint.
        #[arg(long, default_value = "0.0.0.0:8080", env = "XAGENT_METRICS_ADDRESS")]
        metrics_address: SocketAddr,
        /// Kubernetes API requests per second at most (a watch counts once, when it starts).
        #[arg(long, default_value_t = xagent_operator::client::DEFAULT_QPS, env = "XAGENT_KUBE_API_QPS",
              value_parser = clap::value_parser!(u32).range(1..=10_000))]
        kube_api_qps: u32,
        /// XAgents reconciled at the same time, per watched namespace.
        #[arg(long, default_value_t = xagent_operator::controller::run::DEFAULT_CONCURRENCY,
              env = "XAGENT_CONCURRENCY", value_parser = clap::value_parser!(u16).range(1..=256))]
        concurrency: u16,
        /// Threads the operator runs its work on.
        #[arg(long, default_value_t = DEFAULT_WORKER_THREADS, env = "XAGENT_WORKER_THREADS",
              value_parser = clap::value_parser!(u16).range(1..=64))]
        worker_threads: u16,
        #[command(flatten)]
        leader: LeaderArgs,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Print the XAgent CustomResourceDefinition as YAML.
    Crd,
    /// Check one Redis or PostgreSQL endpoint and print {"healthy","latency_ms","message"} as JSON.
    ///
    /// Exit status: 0 healthy, 1 unhealthy, 2 bad usage or URL.
    Probe {
        /// Which kind of server.
        #[arg(value_enum)]
        dependency: ProbeKind,
        /// redis://[:PASSWORD@]HOST[:PORT][/DB] (rediss:// for verified TLS,
        /// rediss://…/#insecure for unverified), or
        /// postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...] (libpq's
        /// modes, verify-ca and verify-full included). Prefer the environment
        /// variable, which keeps the password off the command line.
        #[arg(env = "XAGENT_PROBE_URL", hide_env_values = true)]
        url: String,
        /// PEM file of the CA certificates to verify the server against
        /// (default: the system CA bundle).
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Give up after this many seconds (connect, authenticate and query together).
        #[arg(long, default_value = "5", value_parser = parse_timeout)]
        timeout: Duration,
    },
    /// Validate XAgents and print, offline, the child objects the operator would apply.
    Render {
        /// File with one or more XAgent documents; `-` reads standard input.
        #[arg(short = 'f', long = "filename")]
        file: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
}

/// Installation settings, the same for `run` and `render` so a render shows
/// what the operator applies.
#[derive(clap::Args)]
struct SettingsArgs {
    /// Ingress annotations passed through: keys matching one of these
    /// patterns (`*` matches any run of characters), comma-separated.
    #[arg(long, default_value = "*", value_delimiter = ',', env = "XAGENT_INGRESS_ANNOTATIONS_ALLOW")]
    ingress_annotations_allow: Vec<String>,
    /// Ingress annotations never passed through, even when allowed
    /// (default: ingress-nginx's configuration snippets). Empty denies none.
    #[arg(long, default_value = "*-snippet", value_delimiter = ',', env = "XAGENT_INGRESS_ANNOTATIONS_DENY")]
    ingress_annotations_deny: Vec<String>,
}

impl SettingsArgs {
    fn settings(self) -> builders::Settings {
        let keep = |patterns: Vec<String>| patterns.into_iter().filter(|p| !p.is_empty()).collect();
        let policy =
            AnnotationPolicy::new(keep(self.ingress_annotations_allow), keep(self.ingress_annotations_deny));
        builders::Settings { ingress_annotations: policy }
    }
}

/// Leader election flags of `run`.
#[derive(clap::Args)]
struct LeaderArgs {
    /// Hold a coordination.k8s.io Lease before reconciling, so several replicas can run.
    #[arg(long, env = "XAGENT_LEADER_ELECTION")]
    leader_election: bool,
    /// Name of the Lease.
    #[arg(long, default_value = "xagent-operator", env = "XAGENT_LEASE_NAME")]
    lease_name: String,
    /// Namespace of the Lease (default: the pod's namespace, from POD_NAMESPACE).
    #[arg(long, env = "XAGENT_LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    /// This replica's identity in the Lease (default: POD_NAME, else the host name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
}

impl LeaderArgs {
    fn lease(self) -> anyhow::Result<Option<LeaseConfig>> {
        if !self.leader_election {
            return Ok(None);
        }
        let namespace = self
            .lease_namespace
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .context("--leader-election needs --lease-namespace or POD_NAMESPACE")?;
        let identity = self
            .identity
            .or_else(|| std::env::var("HOSTNAME").ok())
            .context("--leader-election needs --identity, POD_NAME or HOSTNAME")?;
        Ok(Some(LeaseConfig::new(namespace, self.lease_name, identity)))
    }
}

/// The servers `probe` can check.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ProbeKind {
    /// Redis: AUTH + PING.
    Redis,
    /// PostgreSQL: SELECT 1.
    Postgres,
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|_| format!("not a number of seconds: {s}"))?;
    if !(secs > 0.0 && secs <= 3600.0) {
        return Err("timeout must be more than 0 and at most 3600 seconds".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Probe { dependency, url, timeout, ca_file } = &cli.command {
        return probe(*dependency, url, *timeout, ca_file.as_deref());
    }
    let result = match cli.command {
        Command::Crd => {
            print!("{}", crd::CRD_YAML);
            Ok(())
        }
        Command::Render { file, settings } => render_file(&file, &settings.settings()),
        Command::Probe { .. } => unreachable!("handled above"),
        Command::Run {
            namespace,
            log_format,
            metrics_address,
            kube_api_qps,
            concurrency,
            worker_threads,
            leader,
            settings,
        } => leader.lease().and_then(|lease| {
            let config = RunConfig {
                scope: Scope { namespaces: namespace },
                metrics_address,
                leader_election: lease,
                settings: settings.settings(),
                concurrency,
            };
            run_controller(config, log_format, (kube_api_qps, worker_threads))
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn render_file(file: &str, settings: &builders::Settings) -> anyhow::Result<()> {
    let input = if file == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading standard input")?;
        s
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
    };
    // Each document goes out as it is rendered: a large input never holds
    // its whole output in memory.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    render::render_to(&input, settings, &mut out)?;
    out.flush().context("writing standard output")?;
    Ok(())
}

/// The operator's worker threads by default: one. It waits on the API
/// server far more than it computes; on the real-server benchmark a second
/// thread bought no wall time and cost 7-14% more CPU (threads waking each
/// other) and 2-3 MiB more RSS (see docs/performance.md).
const DEFAULT_WORKER_THREADS: u16 = 1;

fn run_controller(
    config: RunConfig,
    log_format: LogFormat,
    (qps, threads): (u32, u16),
) -> anyhow::Result<()> {
    telemetry::init(log_format);
    prepare_validation();
    let work = async move {
        let client = xagent_operator::client::rate_limited(qps).await.context("connecting to Kubernetes")?;
        let address = config.metrics_address;
        run(client, config).await.with_context(|| format!("operator with metrics on {address}"))
    };
    if threads == 1 {
        // Everything on the thread that waits for it: a request and its
        // connection's I/O never wake another thread (see DEFAULT_WORKER_THREADS).
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        return runtime.context("starting the async runtime")?.block_on(work);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::from(threads))
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // Spawned, so the work runs on the workers rather than on this thread,
    // which would otherwise be one more to wake.
    runtime.block_on(async { tokio::spawn(work).await.context("the operator's task")? })
}

/// Compiles the validation before the operator watches anything, so the
/// first XAgent after a start does not wait for it (about 60 ms on 2
/// cores), then hands the compilation's scratch memory (the CRD's schema
/// as JSON, most of a megabyte with its descriptions) back to the system
/// instead of leaving it in pages the caches fill later.
fn prepare_validation() {
    if let Err(error) = xagent_operator::validate::prepare() {
        tracing::warn!(%error, "compiling the validation: the default XAgent fails it");
    }
    #[cfg(feature = "mimalloc")]
    // SAFETY: `mi_collect` takes no pointer; it frees and returns the
    // calling thread's empty pages, which nothing references.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

/// Runs one probe and maps its result to the exit status.
fn probe(kind: ProbeKind, url: &str, timeout: Duration, ca_file: Option<&Path>) -> ExitCode {
    let ca = match ca_file.map(std::fs::read).transpose() {
        Ok(ca) => ca,
        Err(e) => {
            eprintln!("error: reading --ca-file: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match kind {
        ProbeKind::Redis => RedisTarget::from_url(url, ca.as_deref())
            .map(|t| runtime.block_on(probes::redis::probe(&t, timeout))),
        ProbeKind::Postgres => {
            let target = PostgresTarget::from_url(url, ca.as_deref());
            target.map(|t| runtime.block_on(probes::postgres::probe(&t, timeout)))
        }
    };
    match result {
        Err(e) => {
            // The parse error never contains the URL itself.
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Ok(result) => {
            println!("{}", serde_json::to_string(&result).unwrap_or_default());
            if result.healthy { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
    }
}
