//! Running the cluster N times and measuring each run.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use vmsc_model::config::ClusterSpec;
use vmsc_runtime::cluster::console::count;
use vmsc_runtime::cluster::launch::{self, Printer, RunOptions};
use vmsc_runtime::cluster::process::Latency;
use vmsc_runtime::cluster::scenario::Scenario;

use crate::experiment::error::ExperimentError;
use crate::experiment::floor::{Timing, LISTEN_TIMEOUT_HELLOS};
use crate::experiment::load::{self, LoadSpec, Sample};
use crate::experiment::locks::{self, LockRun};
use crate::experiment::measure::{measure_run, EpisodeRun};
use crate::experiment::report::{aggregate, LockReport, Report, Timers, LOCKS_NOT_AVAILABLE};
use crate::experiment::trace::{self, Record};

/// Everything an experiment needs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The cluster file, as given (passed to every node).
    pub cluster_file: PathBuf,
    /// Its contents (unscaled).
    pub spec: ClusterSpec,
    /// The scenario file, as given.
    pub scenario_file: PathBuf,
    /// The scenario.
    pub scenario: Scenario,
    /// The `vmsc` executable that runs the nodes.
    pub exe: PathBuf,
    /// Extra `vmsc node` arguments (latency, time scale, boot delay).
    pub node_args: Vec<String>,
    /// The latency every node injects.
    pub latency: Latency,
    /// The RTT table's name, for the report.
    pub rtt_name: String,
    /// The timers and RTTs in real terms, for the floor.
    pub timing: Timing,
    /// Number of runs.
    pub runs: usize,
    /// Wall-time budget per run.
    pub timeout: Duration,
    /// Keep each run's traces and console log in `DIR/run-N/` (otherwise a temporary directory
    /// that is removed).
    pub keep_traces: Option<PathBuf>,
    /// Show progress on stderr (for a terminal).
    pub progress: bool,
    /// The scenario's `[load]` section: lock clients run once the cluster has first settled,
    /// before the scenario's first step.
    pub load: Option<Arc<LoadSpec>>,
}

fn io_err(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> ExperimentError {
    let path = path.to_path_buf();
    move |source| ExperimentError::Io { path, what, source }
}

/// Reads every node's trace of one run, merged and ordered by time (then node).
///
/// # Errors
/// As [`trace::load`].
pub fn load_run(dir: &Path, spec: &ClusterSpec) -> Result<Vec<Record>, ExperimentError> {
    let mut records = Vec::new();
    for node in &spec.nodes {
        records.extend(trace::load(
            &dir.join(format!("{}.trace.jsonl", node.name)),
        )?);
    }
    records.sort_by_key(|r| (r.t_us, r.node));
    Ok(records)
}

/// Runs the experiment: `runs` times launch the cluster, apply the scenario, wait for it to
/// settle, and measure each episode from the traces; then aggregate.
///
/// # Errors
/// [`ExperimentError`] if a run fails to start or a node dies, if traces cannot be read, or if
/// no run settled.
pub fn run_experiment(config: &Config) -> Result<Report, ExperimentError> {
    let mut episodes: BTreeMap<usize, Vec<EpisodeRun>> = BTreeMap::new();
    let mut settled = 0;
    let mut lock_runs: Vec<LockRun> = Vec::new();
    let mut lock_windows_us: Vec<u64> = Vec::new();
    let names: Arc<Vec<String>> =
        Arc::new(config.spec.nodes.iter().map(|n| n.name.clone()).collect());
    let temp_root = std::env::temp_dir().join(format!("vmsc-experiment-{}", std::process::id()));
    for run in 0..config.runs {
        if config.progress {
            eprint!(
                "\r%VMSC-I-EXPERIMENT, run {}/{} ({} settled so far) ",
                run + 1,
                config.runs,
                settled
            );
            let _ = std::io::stderr().flush();
        }
        let dir = match &config.keep_traces {
            Some(root) => root.join(format!("run-{run}")),
            None => temp_root.join(format!("run-{run}")),
        };
        std::fs::create_dir_all(&dir).map_err(io_err(&dir, "cannot create the trace directory"))?;
        let log_path = dir.join("console.log");
        let log = std::fs::File::create(&log_path)
            .map_err(io_err(&log_path, "cannot create the console log"))?;
        let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
        let options = RunOptions {
            cluster_file: config.cluster_file.clone(),
            spec: config.spec.clone(),
            scenario: Some(config.scenario.clone()),
            exe: config.exe.clone(),
            node_args: config.node_args.clone(),
            latency: config.latency.clone(),
            time_scale: config.timing.time_scale,
            settle: None,
            timeout: config.timeout,
            exit_when_settled: true,
            trace_dir: Some(dir.clone()),
            before_steps: config.load.as_ref().map(|l| {
                load::phase(
                    Arc::clone(l),
                    Arc::clone(&names),
                    config.timing.time_scale,
                    Arc::clone(&samples),
                )
            }),
            base_port: None,
        };
        let outcome = launch::run_cluster_blocking(options, Printer::new(Box::new(log)))
            .map_err(|source| ExperimentError::Run { run, source })?;
        let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(PoisonError::into_inner));
        if let (Some(l), false) = (&config.load, samples.is_empty()) {
            let records = load_run(&dir, &config.spec)?;
            lock_runs.extend(locks::measure_run(
                &config.timing,
                l,
                run,
                &samples,
                &records,
            )?);
            let first = samples.iter().map(|s| s.issued_us).min().unwrap_or(0);
            let last = samples.iter().map(|s| s.granted_us).max().unwrap_or(0);
            lock_windows_us.push(last.saturating_sub(first));
        }
        if outcome.settled {
            settled += 1;
            let records = load_run(&dir, &config.spec)?;
            for e in measure_run(
                &config.timing,
                &config.scenario,
                &outcome.step_times_us,
                &records,
            )? {
                episodes.entry(e.first_step).or_default().push(e);
            }
        } else if config.progress {
            eprintln!(
                "\n%VMSC-W-EXPERIMENT, run {} did not settle; skipped",
                run + 1
            );
        }
        if config.keep_traces.is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    if config.keep_traces.is_none() {
        let _ = std::fs::remove_dir_all(&temp_root);
    }
    if config.progress {
        eprintln!(
            "\r%VMSC-I-EXPERIMENT, {} done, {} settled            ",
            count(config.runs as u64, "run", "runs"),
            settled
        );
    }
    if settled == 0 {
        return Err(ExperimentError::NothingMeasured { runs: config.runs });
    }
    let t = &config.timing;
    Ok(Report {
        cluster: config.cluster_file.display().to_string(),
        scenario: config.scenario_file.display().to_string(),
        rtt_table: config.rtt_name.clone(),
        runs: config.runs,
        runs_settled: settled,
        time_scale: t.time_scale,
        timers: Timers {
            hello_interval_ms: t.hello_ms(),
            listen_timeout_ms: t.hello_ms() * f64::from(LISTEN_TIMEOUT_HELLOS),
            recnx_interval_ms: t.recnx_ms(),
            boot_delay_ms: t.boot_delay_ms,
            lan_rtt_ms: t.lan_rtt_ms,
        },
        episodes: episodes
            .into_values()
            .map(|runs| aggregate(runs, t.time_scale))
            .collect(),
        locks: match &config.load {
            Some(l) if !lock_runs.is_empty() => {
                LockReport::measured((**l).clone(), lock_runs, &lock_windows_us, t.time_scale)
            }
            Some(_) => LockReport::not_measured(
                "lock latency not measured: no run got as far as the [load] (the cluster never \
                 settled before it)",
            ),
            None => LockReport::not_measured(LOCKS_NOT_AVAILABLE),
        },
    })
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a half-written file and a failure leaves any old file in place.
///
/// # Errors
/// [`ExperimentError::Io`] naming `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ExperimentError> {
    let file_name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io_err(path, "cannot write"))
}
