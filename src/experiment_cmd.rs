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
use vmsc_runtime::cluster::process::{scaled_spec, Latency, BOOT_DELAY_HELLOS, LAN_RTT_MS_DEFAULT};
use vmsc_runtime::cluster::scenario::Scenario;

use crate::node_cmd::ClusterTimeArgs;

/// Arguments of `vmsc experiment`.
#[derive(Args, Debug)]
pub struct ExperimentArgs {
    /// The cluster file (TOML): nodes, regions, votes, hello interval, RECNXINTERVAL.
    #[arg(value_name = "CLUSTER.toml")]
    pub cluster: PathBuf,
    /// Scenario file (TOML): the cuts, heals, crashes and reboots to measure; steps less than
    /// one hello interval apart form one episode.
    #[arg(long, value_name = "SCENARIO.toml")]
    pub scenario: PathBuf,
    /// RTT table (CSV `from,to,rtt_ms,source`) for the injected delays and the floor; checked
    /// against the fibre bound; default: the shipped table.
    #[arg(long, value_name = "FILE")]
    pub rtt: Option<PathBuf>,
    /// How many times to launch the cluster and run the scenario.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub runs: usize,
    /// Also write the report as JSON to FILE (written whole, via a temporary file).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also draw the CDF of transition times as SVG to FILE.svg.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Run the cluster F times faster than real time: hello, RECNXINTERVAL, boot delay,
    /// injected delays and scenario times are divided by F; figures are reported scaled and
    /// real (x F).
    #[arg(long, default_value_t = 20.0, value_name = "F")]
    pub time_scale: f64,
    /// Round-trip time between two nodes of the same region, in ms.
    #[arg(long, default_value_t = LAN_RTT_MS_DEFAULT, value_name = "MS")]
    pub lan_rtt_ms: f64,
    /// Extra uniform delay per datagram, up to this many ms (real).
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    pub jitter_ms: f64,
    /// Delay before a node that took a CLUEXIT boots again, in real ms (default: 2 hello
    /// intervals).
    #[arg(long, value_name = "MS")]
    pub boot_delay_ms: Option<u64>,
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
        rtt: a.rtt.clone(),
        lan_rtt_ms: a.lan_rtt_ms,
        jitter_ms: a.jitter_ms,
        no_latency: false,
        time_scale: a.time_scale,
        boot_delay_ms: a.boot_delay_ms,
    };
    let latency = time.latency()?;
    let Latency::Table { table, .. } = &latency else {
        bail!("internal: the experiment always injects latency");
    };
    let rtt_name = match &a.rtt {
        Some(p) => p.display().to_string(),
        None => EMBEDDED_RTT_NAME.to_string(),
    };
    table
        .validate(&Regions::embedded())
        .with_context(|| format!("--rtt {rtt_name}"))?;
    // Fail before launching anything if the table lacks a pair or the scale breaks the timers.
    scaled_spec(&spec, a.time_scale).context("--time-scale")?;
    latency
        .matrix(&spec, a.time_scale)
        .with_context(|| format!("--rtt {rtt_name}"))?;
    let boot_delay_ms = a.boot_delay_ms.map_or(
        spec.hello_interval_ms as f64 * f64::from(BOOT_DELAY_HELLOS),
        |ms| ms as f64,
    );
    let timing = Timing {
        spec: spec.clone(),
        table: table.clone(),
        lan_rtt_ms: a.lan_rtt_ms,
        boot_delay_ms,
        time_scale: a.time_scale,
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
