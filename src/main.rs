//! The `xagent-operator` binary: `run`, `crd` and `render`.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;

use xagent_operator::controller::run::{RunConfig, Scope, run};
use xagent_operator::telemetry::{self, LogFormat};
use xagent_operator::{crd, render};

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
        /// Watch only this namespace (default: all namespaces).
        #[arg(long, env = "XAGENT_WATCH_NAMESPACE")]
        namespace: Option<String>,
        /// Log format.
        #[arg(long, value_enum, default_value = "text", env = "XAGENT_LOG_FORMAT")]
        log_format: LogFormat,
        /// Address of the /metrics, /healthz and /readyz endpoint.
        #[arg(long, default_value = "0.0.0.0:8080", env = "XAGENT_METRICS_ADDRESS")]
        metrics_address: SocketAddr,
    },
    /// Print the XAgent CustomResourceDefinition as YAML.
    Crd,
    /// Validate XAgents and print, offline, the child objects the operator would apply.
    Render {
        /// File with one or more XAgent documents; `-` reads standard input.
        #[arg(short = 'f', long = "filename")]
        file: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crd => {
            print!("{}", crd::crd_yaml());
            Ok(())
        }
        Command::Render { file } => render_file(&file),
        Command::Run { namespace, log_format, metrics_address } => {
            let config = RunConfig { scope: Scope { namespace }, metrics_address };
            run_controller(config, log_format)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn render_file(file: &str) -> anyhow::Result<()> {
    let input = if file == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading standard input")?;
        s
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
    };
    print!("{}", render::render(&input)?);
    Ok(())
}

fn run_controller(config: RunConfig, log_format: LogFormat) -> anyhow::Result<()> {
    telemetry::init(log_format);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let client = kube::Client::try_default().await.context("connecting to Kubernetes")?;
        let address = config.metrics_address;
        run(client, config).await.with_context(|| format!("serving metrics on {address}"))
    })
}
