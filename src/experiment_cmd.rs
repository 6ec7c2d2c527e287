//! `vmsc experiment`: run a placed cluster through a scenario N times and measure its
//! transitions against the predicted floor (see `src/experiment/`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::experiment::floor::Timing;
use crate::experiment::load::LoadSpec;
use crate::experiment::run::{self, Config};
use crate::experiment::{plot, report, ExperimentError};
use anyhow::{bail, Context, Result};
use clap::Args;
use vmsc_latency::{Regions, EMBEDDED_RTT_NAME};
use vmsc_runtime::cluster::process::{scaled_spec, Latency, BOOT_DELAY_HELLOS};
use vmsc_runtime::cluster::scenario::Scenario;

use crate::runtime_args::{ClockArgs, ClusterTimeArgs, LatencyArgs, EXPERIMENT_TIME_SCALE_DEFAULT};

/// `vmsc experiment --help`'s examples.
const EXAMPLES: &str = "Time: --time-scale defaults to 20 here (1 for `vmsc node` and `vmsc run`) so that the runs
take seconds; the report gives every figure scaled, as measured, and real (in cluster ms, x F).
The RTT table is also checked against the fibre bound (no RTT below the speed of light in fibre).

Examples:
  # Transition times of the FRA-LHR cut and heal against their floors, 20 runs, with a CDF plot:
  vmsc experiment specs/scenarios/seed.toml --scenario specs/scenarios/seed-fra-lhr-heal.scenario.toml --runs 20 --plot cdf.svg
  # Lock grant latency under load, at real time (lock latencies are RTT-sized):
  vmsc experiment specs/scenarios/seed-locks.toml --scenario specs/scenarios/seed-locks.scenario.toml --time-scale 1 --runs 3 --json report.json";

/// Arguments of `vmsc experiment`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
#[command(mut_arg("time_scale", |a| a.default_value(EXPERIMENT_TIME_SCALE_DEFAULT)))]
pub struct ExperimentArgs {
    /// The cluster file (TOML): nodes, regions, votes, hello interval, RECNXINTERVAL.
    #[arg(value_name = "CLUSTER.toml")]
    pub cluster: PathBuf,
    /// Scenario file (TOML): the cuts, heals, crashes and reboots to measure; steps less than
    /// one hello interval apart form one episode.
    #[arg(long, value_name = "SCENARIO.toml")]
    pub scenario: PathBuf,
    #[command(flatten)]
    pub latency: LatencyArgs,
    /// How many times to launch the cluster and run the scenario.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub runs: usize,
    /// Also write the report as JSON to FILE (written whole, via a temporary file).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also draw the CDF of transition times as SVG to FILE.svg.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub clock: ClockArgs,
    /// Wall-clock seconds one run (launch, scenario, settle) may take before it is skipped.
    #[arg(long, default_value_t = 120, value_name = "S")]
    pub timeout_s: u64,
    /// Keep every run's node traces and console log in DIR/run-N/ (default: a temporary
    /// directory, removed).
    #[arg(long, value_name = "DIR")]
    pub keep_traces: Option<PathBuf>,
}

/// The directory an output file goes to must exist before any run starts.
fn check_output(flag: &str, path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        bail!(
            "{flag} {}: directory {} does not exist",
            path.display(),
            parent.display()
        );
    }
    Ok(())
}

/// Runs `vmsc experiment`. Exit 0 with the report, 1 if runs failed or none settled, 2 on bad
/// input.
pub fn run(a: ExperimentArgs) -> Result<ExitCode> {
    let spec = crate::load::cluster(&a.cluster)?;
    let (scenario, sections) = Scenario::load_with_sections(&a.scenario, &spec, &["load"])?;
    let load = match sections.get("load").and_then(toml::Value::as_table) {
        Some(table) => Some(Arc::new(LoadSpec::parse(
            &a.scenario.display().to_string(),
            table,
            &spec,
        )?)),
        None => None,
    };
    if a.runs == 0 {
        bail!("--runs: 0; give at least 1");
    }
    if let Some(p) = &a.json {
        check_output("--json", p)?;
    }
    if let Some(p) = &a.plot {
        if p.extension().and_then(|e| e.to_str()) != Some("svg") {
            bail!("--plot {}: the file name must end in .svg", p.display());
        }
        check_output("--plot", p)?;
    }
    let time = ClusterTimeArgs {
        latency: a.latency.clone(),
        no_latency: false,
        clock: a.clock.clone(),
    };
    let latency = time.latency()?;
    let Latency::Table { table, .. } = &latency else {
        bail!("internal: the experiment always injects latency");
    };
    let rtt_name = match &a.latency.rtt {
        Some(p) => p.display().to_string(),
        None => EMBEDDED_RTT_NAME.to_string(),
    };
    table
        .validate(&Regions::embedded())
        .with_context(|| format!("--rtt {rtt_name}"))?;
    // Fail before launching anything if the table lacks a pair or the scale breaks the timers.
    scaled_spec(&spec, a.clock.time_scale).context("--time-scale")?;
    latency
        .matrix(&spec, a.clock.time_scale)
        .with_context(|| format!("--rtt {rtt_name}"))?;
    let boot_delay_ms = a.clock.boot_delay_ms.map_or(
        spec.hello_interval_ms as f64 * f64::from(BOOT_DELAY_HELLOS),
        |ms| ms as f64,
    );
    let timing = Timing {
        spec: spec.clone(),
        table: table.clone(),
        lan_rtt_ms: a.latency.lan_rtt_ms,
        boot_delay_ms,
        time_scale: a.clock.time_scale,
    };
    let exe = std::env::current_exe().context("cannot find the vmsc executable to launch nodes")?;
    let config = Config {
        cluster_file: a.cluster.clone(),
        spec,
        scenario_file: a.scenario.clone(),
        scenario,
        exe,
        node_args: [time.to_args(), vec!["--quiet-config".into()]].concat(),
        latency,
        rtt_name,
        timing,
        runs: a.runs,
        timeout: Duration::from_secs(a.timeout_s),
        keep_traces: a.keep_traces.clone(),
        progress: std::io::stderr().is_terminal(),
        load,
    };
    let report = match run::run_experiment(&config) {
        Ok(report) => report,
        Err(e @ (ExperimentError::Run { .. } | ExperimentError::NothingMeasured { .. })) => {
            eprintln!("vmsc: error: {:#}", anyhow::Error::from(e));
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    // Render everything before writing anything.
    let table = report::render(&report);
    let json = serde_json::to_string_pretty(&report)?;
    let svg = a.plot.as_ref().map(|_| plot::svg(&report)).transpose()?;
    if let Some(path) = &a.json {
        run::write_atomic(path, format!("{json}\n").as_bytes())?;
    }
    if let (Some(path), Some(svg)) = (&a.plot, svg) {
        run::write_atomic(path, svg.as_bytes())?;
    }
    print!("{table}");
    Ok(ExitCode::SUCCESS)
}
