//! `vmsc node`: one cluster node as one OS process (see `vmsc_runtime::cluster::process`).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Args;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{filter, EnvFilter};
use vmsc_runtime::cluster::console::{count, CONSOLE_TARGET};
use vmsc_runtime::cluster::process::{self, NodeOptions};

use crate::runtime_args::{BasePortArgs, ClusterTimeArgs};

/// `vmsc node --help`'s examples.
const EXAMPLES: &str = "Examples:
  # The lock test cluster, one node per terminal, on 127.0.0.1:7001-7003 (UDP and control):
  vmsc node --config tests/data/runtime-locks.toml --name ALPHA
  vmsc node --config tests/data/runtime-locks.toml --name BRAVO
  vmsc node --config tests/data/runtime-locks.toml --name CHARLY
  # The seed cluster's FRANK1, 10 times faster, without injected latency, from port 9001 on:
  vmsc node --config specs/scenarios/seed.toml --name FRANK1 --time-scale 10 --no-latency --base-port 9001
  # Its console: SHOW CLUSTER over the control endpoint
  printf 'show\\n' | nc -N 127.0.0.1 9001";

/// Arguments of `vmsc node`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct NodeArgs {
    /// The cluster file (TOML).
    #[arg(long, value_name = "CLUSTER.toml")]
    pub config: PathBuf,
    /// This node's SCSNODE name in the cluster file.
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub ports: BasePortArgs,
    /// Every node's UDP address, comma-separated in cluster-file order; overrides the file and
    /// --base-port (`vmsc run` passes it).
    #[arg(long, value_delimiter = ',', value_name = "ADDR,...")]
    pub addresses: Vec<SocketAddr>,
    /// TCP port of the control endpoint on 127.0.0.1; default: the node's UDP port number.
    #[arg(long, value_name = "N")]
    pub control_port: Option<u16>,
    /// Write the node's trace (start, messages, timers, faults, circuits, status) as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Trace and console timestamps count from this instant, in µs since the Unix epoch
    /// (`vmsc run` gives every node the same one); default: the node's start.
    #[arg(long, value_name = "US")]
    pub epoch_us: Option<u64>,
    /// Exit when stdin reaches end of input (`vmsc run` uses it so no node outlives it).
    #[arg(long)]
    pub watch_stdin: bool,
    /// Do not print the cluster file's warnings (errors still stop the node): `vmsc run` and
    /// `vmsc experiment` print them once and pass this to the nodes they launch.
    #[arg(long)]
    pub quiet_config: bool,
    #[command(flatten)]
    pub time: ClusterTimeArgs,
}

/// Seconds since the run's epoch, as console lines show it: `   12.345`.
struct SinceEpoch(SystemTime);

impl FormatTime for SinceEpoch {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let elapsed = SystemTime::now().duration_since(self.0).unwrap_or_default();
        write!(w, "{:>9.3}", elapsed.as_secs_f64())
    }
}

/// Console lines to stdout (time and text only); everything else to stderr, filtered by
/// `RUST_LOG` (default: warnings).
fn init_tracing(epoch: SystemTime) {
    let console = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stdout)
        .with_ansi(std::io::stdout().is_terminal())
        .with_timer(SinceEpoch(epoch))
        .with_level(false)
        .with_target(false)
        .with_filter(filter::filter_fn(|meta| meta.target() == CONSOLE_TARGET));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_timer(SinceEpoch(epoch))
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_filter(filter::filter_fn(|meta| meta.target() != CONSOLE_TARGET));
    tracing_subscriber::registry()
        .with(console)
        .with(logs)
        .init();
}

/// Runs `vmsc node`.
pub fn run(a: NodeArgs) -> Result<ExitCode> {
    let spec = if a.quiet_config {
        crate::load::cluster_and_warnings(&a.config)?.0
    } else {
        crate::load::cluster(&a.config)?
    };
    let Some(me) = spec.node_index(&a.name) else {
        let names: Vec<&str> = spec.nodes.iter().map(|n| n.name.as_str()).collect();
        bail!(
            "--name: {} is not a node of {} (nodes: {})",
            a.name,
            a.config.display(),
            names.join(", ")
        );
    };
    let epoch = a
        .epoch_us
        .map_or_else(SystemTime::now, |us| UNIX_EPOCH + Duration::from_micros(us));
    let mut options = NodeOptions::new(spec, me, Some(a.ports.base_port)).context("--base-port")?;
    if !a.addresses.is_empty() {
        if a.addresses.len() != options.spec.len() {
            bail!(
                "--addresses: {} for {}",
                count(a.addresses.len() as u64, "address", "addresses"),
                count(options.spec.len() as u64, "node", "nodes")
            );
        }
        options.addresses = a.addresses.clone();
        options.control.set_port(options.addresses[me].port());
    }
    if let Some(port) = a.control_port {
        options.control.set_port(port);
    }
    options.latency = a.time.latency()?;
    options.time_scale = a.time.clock.time_scale;
    options.boot_delay = a.time.clock.boot_delay_ms.map(Duration::from_millis);
    options.trace = a.trace.clone();
    options.epoch = Some(epoch);
    options.watch_stdin = a.watch_stdin;
    init_tracing(epoch);
    let summary =
        process::run_node_blocking(options).with_context(|| format!("node {}", a.name))?;
    if let Some(lines) = summary.trace_lines {
        let records = count(lines, "trace record", "trace records");
        tracing::info!(target: CONSOLE_TARGET, "%VMSC-I-TRACE, {records} written");
    }
    Ok(ExitCode::SUCCESS)
}
