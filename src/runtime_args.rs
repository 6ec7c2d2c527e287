//! The flag families of the runtime commands (`node`, `run`, `lock`, `experiment`): one clap
//! struct per family, flattened into each command that takes it, so a flag has one spelling,
//! one unit and one meaning everywhere.
//!
//! Times are **cluster ms**: the cluster file's own time, before `--time-scale F` divides it
//! (hello interval, RECNXINTERVAL, injected delays, boot delay and scenario times alike).
//! `vmsc experiment` calls the same figures "real" in its report, beside the scaled ones it
//! measures. Only `--time-scale`'s default differs between commands: 1 for `node` and `run`
//! (real time), 20 for `experiment` (its benchmark runs ten clusters; at 20 they take seconds,
//! not minutes); each command's help shows its own default.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use vmsc_latency::RttTable;
use vmsc_model::config::BASE_PORT_DEFAULT;
use vmsc_runtime::cluster::process::{Latency, LAN_RTT_MS_DEFAULT};

/// The environment variable that gives `--base-port` when the flag is absent.
pub const BASE_PORT_ENV: &str = "VMSC_BASE_PORT";

/// `--time-scale`'s default for `vmsc experiment` (see the module doc).
pub const EXPERIMENT_TIME_SCALE_DEFAULT: &str = "20";

/// Injected latency: `--rtt`, `--lan-rtt-ms`, `--jitter-ms`.
#[derive(Args, Debug, Clone)]
pub struct LatencyArgs {
    /// RTT table (CSV `from,to,rtt_ms,source`) for the inter-region delays; default: the
    /// shipped table.
    #[arg(long, value_name = "FILE")]
    pub rtt: Option<PathBuf>,
    /// Round-trip time between two nodes of the same region, in cluster ms.
    #[arg(long, default_value_t = LAN_RTT_MS_DEFAULT, value_name = "MS")]
    pub lan_rtt_ms: f64,
    /// Extra uniform delay per datagram, up to this many cluster ms (flows stay FIFO).
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    pub jitter_ms: f64,
}

/// Cluster time: `--time-scale`, `--boot-delay-ms`.
#[derive(Args, Debug, Clone)]
pub struct ClockArgs {
    /// Run the cluster F times faster than its file says: the hello interval, RECNXINTERVAL,
    /// injected delays and jitter, the boot delay and scenario times are divided by F.
    #[arg(long, default_value_t = 1.0, value_name = "F")]
    pub time_scale: f64,
    /// Delay before a node that took a CLUEXIT boots again, in cluster ms; default: 2 hello
    /// intervals.
    #[arg(long, value_name = "MS")]
    pub boot_delay_ms: Option<u64>,
}

/// Where the nodes listen: `--base-port` (or `VMSC_BASE_PORT`).
#[derive(Args, Debug, Clone)]
pub struct BasePortArgs {
    /// Base port of the nodes without an `address` in the cluster file: node i (in file order,
    /// from 0) uses UDP 127.0.0.1:(N + i), and its control endpoint TCP port N + i (`vmsc run`:
    /// with --serve; otherwise it picks free ports).
    #[arg(long, default_value_t = BASE_PORT_DEFAULT, value_name = "N", env = BASE_PORT_ENV)]
    pub base_port: u16,
}

/// The latency and time flags of `vmsc node` and `vmsc run` (which passes them on).
#[derive(Args, Debug, Clone)]
pub struct ClusterTimeArgs {
    #[command(flatten)]
    pub latency: LatencyArgs,
    /// Inject no latency at all.
    #[arg(long)]
    pub no_latency: bool,
    #[command(flatten)]
    pub clock: ClockArgs,
}

impl LatencyArgs {
    /// The latency these flags describe.
    pub fn latency(&self) -> Result<Latency> {
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
}

impl ClusterTimeArgs {
    /// The latency setting these flags describe.
    pub fn latency(&self) -> Result<Latency> {
        if self.no_latency {
            return Ok(Latency::Off);
        }
        self.latency.latency()
    }

    /// The same flags as `vmsc node` arguments.
    pub fn to_args(&self) -> Vec<String> {
        let (latency, clock) = (&self.latency, &self.clock);
        let mut args = vec![
            "--lan-rtt-ms".to_string(),
            latency.lan_rtt_ms.to_string(),
            "--jitter-ms".to_string(),
            latency.jitter_ms.to_string(),
            "--time-scale".to_string(),
            clock.time_scale.to_string(),
        ];
        if let Some(rtt) = &latency.rtt {
            args.push("--rtt".into());
            args.push(rtt.display().to_string());
        }
        if self.no_latency {
            args.push("--no-latency".into());
        }
        if let Some(ms) = clock.boot_delay_ms {
            args.push("--boot-delay-ms".into());
            args.push(ms.to_string());
        }
        args
    }
}
