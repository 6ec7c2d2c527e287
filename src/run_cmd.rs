//! `vmsc run`: every node of a cluster as its own process on loopback, driven by a scenario
//! (see `vmsc_runtime::cluster::launch`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use vmsc_runtime::cluster::launch::{self, LaunchError, Printer, RunOptions};
use vmsc_runtime::cluster::process::node_addresses;
use vmsc_runtime::cluster::scenario::Scenario;

use crate::runtime_args::{BasePortArgs, ClusterTimeArgs};

/// `vmsc run --help`'s examples.
const EXAMPLES: &str = "Examples:
  # The seed talk's FRA-LHR cut, 20 times faster; one JSON outcome, console lines on stderr:
  vmsc run specs/scenarios/seed.toml --scenario specs/scenarios/seed-fra-lhr.scenario.toml --time-scale 20 --json
  # A node crash without injected latency; SHOW CLUSTER after each transition, until Ctrl-C:
  vmsc run specs/scenarios/seed.toml --scenario specs/scenarios/seed-crash-frank1.scenario.toml --no-latency
  # The lock test cluster on 127.0.0.1:7001-7003, for `vmsc lock --config ... --name ...`:
  vmsc run tests/data/runtime-locks.toml --serve";

/// Arguments of `vmsc run`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct RunArgs {
    /// The cluster file (TOML); every node in it is launched.
    #[arg(value_name = "CLUSTER.toml")]
    pub cluster: PathBuf,
    /// Scenario file (TOML): timed cuts, heals, crashes and reboots to inject.
    #[arg(long, value_name = "SCENARIO.toml")]
    pub scenario: Option<PathBuf>,
    /// Once the scenario ran and the cluster settled, print one JSON outcome
    /// (`members`, `hung`, `cluexit`, `down`, `views`, `settled`) and exit; console output goes
    /// to stderr.
    #[arg(long)]
    pub json: bool,
    /// Exit once the scenario ran and the cluster settled (implied by --json); otherwise keep
    /// the cluster running until Ctrl-C.
    #[arg(long)]
    pub once: bool,
    /// Wall-clock ms without any change after which the cluster counts as settled; default:
    /// 4 hello intervals plus the largest injected round trip (scaled).
    #[arg(long, value_name = "MS")]
    pub settle_ms: Option<u64>,
    /// Seconds to wait for the scenario and the final settle before giving up (exit 1).
    #[arg(long, default_value_t = 120, value_name = "S")]
    pub timeout_s: u64,
    /// Write each node's trace to DIR/NAME.trace.jsonl (timestamps share one epoch).
    #[arg(long, value_name = "DIR")]
    pub trace_dir: Option<PathBuf>,
    /// Serve the cluster where `vmsc node` and `vmsc lock --config FILE --name NODE` expect it
    /// (the file's addresses, else 127.0.0.1:(--base-port + i), each control endpoint on its
    /// node's port number) instead of on free ports picked at random; once it settled, print
    /// every node's control endpoint and keep it running until Ctrl-C (unless --once/--json).
    #[arg(long)]
    pub serve: bool,
    #[command(flatten)]
    pub ports: BasePortArgs,
    #[command(flatten)]
    pub time: ClusterTimeArgs,
}

/// Runs `vmsc run`. Exit 0 when the cluster settled, 1 when it did not before the timeout or a
/// node failed, 130 on Ctrl-C; bad input is an error (exit 2).
pub fn run(a: RunArgs) -> Result<ExitCode> {
    let spec = crate::load::cluster(&a.cluster)?;
    let scenario = a
        .scenario
        .as_ref()
        .map(|path| Scenario::load(path, &spec))
        .transpose()?;
    if a.serve {
        node_addresses(&spec, a.ports.base_port).context("--base-port")?;
    }
    let latency = a.time.latency()?;
    if let Some(dir) = &a.trace_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("--trace-dir {}", dir.display()))?;
    }
    let exe = std::env::current_exe().context("cannot find the vmsc executable to launch nodes")?;
    let options = RunOptions {
        cluster_file: a.cluster.clone(),
        spec,
        scenario,
        exe,
        node_args: [a.time.to_args(), vec!["--quiet-config".into()]].concat(),
        latency,
        time_scale: a.time.clock.time_scale,
        settle: a.settle_ms.map(Duration::from_millis),
        timeout: Duration::from_secs(a.timeout_s),
        exit_when_settled: a.json || a.once,
        trace_dir: a.trace_dir.clone(),
        before_steps: None,
        base_port: a.serve.then_some(a.ports.base_port),
    };
    let printer = if a.json {
        Printer::new(Box::new(std::io::stderr()))
    } else {
        Printer::new(Box::new(std::io::stdout()))
    };
    match launch::run_cluster_blocking(options, printer) {
        Ok(outcome) => {
            if a.json {
                println!("{}", serde_json::to_string(&outcome)?);
            }
            Ok(if outcome.settled {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        // Bad settings are bad input (exit 2); everything else happened while running.
        Err(e @ LaunchError::Node(_)) => Err(e.into()),
        Err(e @ LaunchError::PortInUse { .. }) => Err(anyhow::Error::from(e).context("--serve")),
        Err(LaunchError::Interrupted) => {
            eprintln!("vmsc: interrupted; every node stopped");
            Ok(ExitCode::from(130))
        }
        Err(e) => {
            eprintln!("vmsc: error: {:#}", anyhow::Error::from(e));
            Ok(ExitCode::from(1))
        }
    }
}
