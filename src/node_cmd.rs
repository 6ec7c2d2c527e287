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
use vmsc_latency::RttTable;
use vmsc_model::config::{ClusterSpec, BASE_PORT_DEFAULT};
use vmsc_runtime::cluster::console::{count, CONSOLE_TARGET};
use vmsc_runtime::cluster::process::{self, Latency, NodeOptions, LAN_RTT_MS_DEFAULT};

/// Latency and timing flags shared by `vmsc node` and `vmsc run` (which passes them on).
#[derive(Args, Debug, Clone)]
pub struct ClusterTimeArgs {
    /// RTT table (CSV `from,to,rtt_ms,source`) for inter-region delays; default: the shipped table.
    #[arg(long, value_name = "FILE")]
    pub rtt: Option<PathBuf>,
    /// Round-trip time between two nodes of the same region, in ms.
    #[arg(long, default_value_t = LAN_RTT_MS_DEFAULT, value_name = "MS")]
    pub lan_rtt_ms: f64,
    /// Extra uniform delay per datagram, up to this many ms (flows stay FIFO).
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    pub jitter_ms: f64,
    /// Inject no latency at all.
    #[arg(long)]
    pub no_latency: bool,
    /// Run the cluster F times faster: hello, RECNXINTERVAL, injected delays, boot delay and
    /// scenario times are divided by F.
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    pub time_scale: f64,
    /// Delay before a node that took a CLUEXIT boots again, in cluster ms (default: 2 hello intervals).
    #[arg(long, value_name = "MS")]
    pub boot_delay_ms: Option<u64>,
}

impl ClusterTimeArgs {
    /// The latency setting these flags describe.
    pub fn latency(&self) -> Result<Latency> {
        if self.no_latency {
            return Ok(Latency::Off);
        }
        if !(self.lan_rtt_ms.is_finite() && self.lan_rtt_ms >= 0.0) {
            bail!(
                "--lan-rtt-ms: {} is not a non-negative number of ms",
                self.lan_rtt_ms
            );
        }
        if !(self.jitter_ms.is_finite() && self.jitter_ms >= 0.0) {
            bail!(
                "--jitter-ms: {} is not a non-negative number of ms",
                self.jitter_ms
            );
        }
        let table = match &self.rtt {
            Some(path) => {
                RttTable::load(path).with_context(|| format!("--rtt {}", path.display()))?
            }
            None => RttTable::embedded(),
        };
        Ok(Latency::Table {
            table,
            lan_rtt_ms: self.lan_rtt_ms,
            jitter: Duration::from_secs_f64(self.jitter_ms / 1000.0),
        })
    }

    /// The same flags as `vmsc node` arguments.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--lan-rtt-ms".to_string(),
            self.lan_rtt_ms.to_string(),
            "--jitter-ms".to_string(),
            self.jitter_ms.to_string(),
            "--time-scale".to_string(),
            self.time_scale.to_string(),
        ];
        if let Some(rtt) = &self.rtt {
            args.push("--rtt".into());
            args.push(rtt.display().to_string());
        }
        if self.no_latency {
            args.push("--no-latency".into());
        }
        if let Some(ms) = self.boot_delay_ms {
            args.push("--boot-delay-ms".into());
            args.push(ms.to_string());
        }
        args
    }
}

/// Arguments of `vmsc node`.
#[derive(Args, Debug)]
pub struct NodeArgs {
    /// The cluster file (TOML).
    #[arg(long, value_name = "CLUSTER.toml")]
    pub config: PathBuf,
    /// This node's SCSNODE name in the cluster file.
    #[arg(long)]
    pub name: String,
    /// Base UDP port for nodes without an `address` in the file: node i (in file order) uses
    /// 127.0.0.1:(N + i).
    #[arg(long, default_value_t = BASE_PORT_DEFAULT, value_name = "N")]
    pub base_port: u16,
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
    let spec = ClusterSpec::load(&a.config)?;
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
    let mut options = NodeOptions::new(spec, me, Some(a.base_port)).context("--base-port")?;
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
    options.time_scale = a.time.time_scale;
    options.boot_delay = a.time.boot_delay_ms.map(Duration::from_millis);
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
