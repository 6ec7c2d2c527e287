//! Aggregating runs: hdrhistograms per metric, the table, the JSON report.

use serde::Serialize;
use vmsc_latency::LatencyHistogram;
use vmsc_runtime::cluster::console::count;

use crate::experiment::floor::Floor;
use crate::experiment::load::LoadSpec;
use crate::experiment::locks::{self, LockClassReport, LockRun, Throughput};
use crate::experiment::measure::{EpisodeRun, Kind};

/// The unit of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Milliseconds (`scaled` as measured, `real` = scaled × time scale).
    Ms,
    /// Multiples of the slowest RTT among the survivors (the same scaled and real).
    Rtt,
}

/// Percentiles of one metric in its unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Stat {
    /// Number of values.
    pub count: u64,
    /// Smallest.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Stat {
    /// From a histogram whose values are `1/per_unit` of the unit (µs for ms: 1000).
    pub(crate) fn of(h: &LatencyHistogram, per_unit: f64, factor: f64) -> Stat {
        let s = h.summary();
        let v = |x: u64| x as f64 / per_unit * factor;
        Stat {
            count: s.count,
            min: v(s.min_us),
            p50: v(s.p50_us),
            p90: v(s.p90_us),
            p99: v(s.p99_us),
            max: v(s.max_us),
            mean: s.mean_us / per_unit * factor,
        }
    }
}

/// One metric of one episode over all runs.
#[derive(Clone, Debug, Serialize)]
pub struct Metric {
    /// `detection`, `wait`, `protocol`, `transition`, `resumed`, `overhead`, `overhead_rtt`,
    /// `protocol_rtt`.
    pub name: &'static str,
    /// `ms` or `rtt`.
    pub unit: Unit,
    /// As measured in the scaled runs.
    pub scaled: Stat,
    /// In real terms: ms × time scale; RTT multiples unchanged.
    pub real: Stat,
    /// The predicted floor in the same unit, scaled (the smallest over the runs).
    pub floor_scaled: Option<f64>,
    /// The predicted floor, real.
    pub floor_real: Option<f64>,
    /// Median over the runs of measured / floor.
    pub ratio_p50: Option<f64>,
    /// Smallest measured / floor over the runs (below 1 means the floor was beaten).
    pub ratio_min: Option<f64>,
}

/// One episode over all runs.
#[derive(Clone, Debug, Serialize)]
pub struct EpisodeReport {
    /// Index of the episode's first step in the scenario.
    pub first_step: usize,
    /// The steps in words.
    pub label: String,
    /// `fault` or `heal`.
    pub kind: Kind,
    /// Runs in which the episode happened.
    pub runs: usize,
    /// Runs in which it ended with survivors that completed a transition.
    pub measured: usize,
    /// Survivors in the first measured run (every run's are in `per_run`).
    pub survivors: Vec<String>,
    /// CLUEXITs in the first measured run.
    pub cluexit: Vec<String>,
    /// The slowest survivor pair in the first measured run: `[a, b, rtt_ms]` (real ms).
    pub slowest_rtt: Option<(String, String, f64)>,
    /// The floor of the first measured run (real ms), with its terms.
    pub floor: Option<Floor>,
    /// The metrics.
    pub metrics: Vec<Metric>,
    /// Every run's raw figures.
    pub per_run: Vec<EpisodeRun>,
}

/// Lock latency under load (see [`crate::experiment::locks`]). Without a `[load]` section only
/// `available: false` and the `note` saying why.
#[derive(Clone, Debug, Serialize)]
pub struct LockReport {
    /// Whether lock latency was measured.
    pub available: bool,
    /// Why not, or what was measured.
    pub note: String,
    /// The load as run (nodes, clients, requests, mode, resources with master and directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadSpec>,
    /// How each request was classified: `"trace"` (the requester's Lookup/Request messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classified_by: Option<&'static str>,
    /// Timed requests, all runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// Requests whose class differs from the one the layout predicts (another client of the
    /// node held a lock on the tree, so the master was known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction_mismatches: Option<u64>,
    /// Grants per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
    /// Per class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<LockClassReport>>,
    /// Every request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_request: Option<Vec<LockRun>>,
}

impl LockReport {
    /// No lock load in this experiment, or `note` says why nothing was measured.
    pub fn not_measured(note: &str) -> Self {
        Self {
            available: false,
            note: note.into(),
            load: None,
            classified_by: None,
            requests: None,
            prediction_mismatches: None,
            throughput: None,
            classes: None,
            per_request: None,
        }
    }

    /// From every run's classified requests.
    pub fn measured(
        load: LoadSpec,
        runs: Vec<LockRun>,
        windows_us: &[u64],
        time_scale: f64,
    ) -> Self {
        let mismatches = runs.iter().filter(|r| r.class != r.predicted).count() as u64;
        let note = format!(
            "lock latency under load: {} node(s) x {} client(s) x {} {} enq/deq cycles on {} \
             resource(s), {} runs; grant latency from the client (request line to completion), \
             classified from the requesting node's trace",
            load.nodes.len(),
            load.clients_per_node,
            load.requests_per_client,
            load.mode,
            load.resources.len(),
            windows_us.len()
        );
        Self {
            available: true,
            note,
            classified_by: Some("trace"),
            requests: Some(runs.len() as u64),
            prediction_mismatches: Some(mismatches),
            throughput: Some(locks::throughput(runs.len() as u64, windows_us, time_scale)),
            classes: Some(locks::aggregate(&runs, time_scale)),
            per_request: Some(runs),
            load: Some(load),
        }
    }
}

/// The timers, real ms.
#[derive(Clone, Debug, Serialize)]
pub struct Timers {
    /// Hello interval.
    pub hello_interval_ms: f64,
    /// Listen timeout.
    pub listen_timeout_ms: f64,
    /// RECNXINTERVAL.
    pub recnx_interval_ms: f64,
    /// Boot delay after a CLUEXIT.
    pub boot_delay_ms: f64,
    /// LAN RTT within a region.
    pub lan_rtt_ms: f64,
}

/// The whole report (`--json`).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The cluster file.
    pub cluster: String,
    /// The scenario file.
    pub scenario: String,
    /// The RTT table.
    pub rtt_table: String,
    /// Runs asked for.
    pub runs: usize,
    /// Runs that settled and were measured.
    pub runs_settled: usize,
    /// Cluster time ran this many times faster than real time.
    pub time_scale: f64,
    /// The configured timers (real).
    pub timers: Timers,
    /// One entry per episode.
    pub episodes: Vec<EpisodeReport>,
    /// Lock latency.
    pub locks: LockReport,
}

/// What `vmsc experiment` says about locks when the scenario has no `[load]` section.
pub const LOCKS_NOT_AVAILABLE: &str = "lock latency not measured: the scenario has no [load] \
section (see specs/scenarios/seed-locks.scenario.toml)";

type Extract = fn(&EpisodeRun) -> Option<(f64, Option<f64>)>;

fn rtt_of(e: &EpisodeRun) -> Option<f64> {
    e.slowest_rtt.as_ref().map(|s| s.2).filter(|&r| r > 0.0)
}

/// Metric definitions: name, unit, and per run (measured value in the unit — µs for ms — and
/// the floor in the same unit, real).
const METRICS: [(&str, Unit, Extract); 8] = [
    ("detection", Unit::Ms, |e| {
        Some((
            e.detection_us? as f64,
            e.floor.as_ref().map(|f| f.detection_ms),
        ))
    }),
    ("wait", Unit::Ms, |e| {
        Some((
            e.wait_us? as f64,
            e.floor
                .as_ref()
                .map(|f| f.transition_ms - f.detection_ms - f.protocol_ms),
        ))
    }),
    ("protocol", Unit::Ms, |e| {
        Some((
            e.protocol_us()? as f64,
            e.floor.as_ref().map(|f| f.protocol_ms),
        ))
    }),
    ("transition", Unit::Ms, |e| {
        Some((
            e.transition_us? as f64,
            e.floor.as_ref().map(|f| f.transition_ms),
        ))
    }),
    ("resumed", Unit::Ms, |e| {
        Some((e.resumed_us? as f64, e.floor.as_ref().map(|f| f.resumed_ms)))
    }),
    ("overhead", Unit::Ms, |e| {
        Some((
            e.overhead_us()? as f64,
            e.floor.as_ref().map(|f| f.overhead_ms),
        ))
    }),
    ("overhead_rtt", Unit::Rtt, |e| {
        let rtt = rtt_of(e)?;
        Some((
            e.overhead_us()? as f64,
            e.floor.as_ref().map(|f| f.overhead_ms / rtt),
        ))
    }),
    ("protocol_rtt", Unit::Rtt, |e| {
        let rtt = rtt_of(e)?;
        Some((
            e.protocol_us()? as f64,
            e.floor.as_ref().map(|f| f.protocol_ms / rtt),
        ))
    }),
];

/// Aggregates the runs of one episode. `time_scale` converts scaled to real.
pub fn aggregate(runs: Vec<EpisodeRun>, time_scale: f64) -> EpisodeReport {
    let first = runs
        .iter()
        .find(|r| r.transition_us.is_some())
        .or(runs.first())
        .cloned();
    let mut metrics = Vec::new();
    for (name, unit, extract) in METRICS {
        let mut h = LatencyHistogram::new();
        let mut ratios = LatencyHistogram::new();
        let mut floor_min: Option<f64> = None;
        for run in &runs {
            let Some((value_us, floor_real)) = extract(run) else {
                continue;
            };
            // ms metrics are recorded in scaled µs; RTT metrics in thousandths of an RTT.
            let (recorded, floor_scaled) = match unit {
                Unit::Ms => (value_us, floor_real.map(|f| f / time_scale)),
                Unit::Rtt => {
                    let Some(rtt_scaled_ms) = rtt_of(run).map(|r| r / time_scale) else {
                        continue;
                    };
                    (value_us / rtt_scaled_ms, floor_real)
                }
            };
            h.record_us(recorded.round() as u64);
            if let Some(f) = floor_scaled {
                let measured = recorded / 1000.0;
                if f > 0.0 {
                    ratios.record_us((measured / f * 1000.0).round() as u64);
                }
                floor_min = Some(floor_min.map_or(f, |m: f64| m.min(f)));
            }
        }
        if h.is_empty() {
            continue;
        }
        let real_factor = match unit {
            Unit::Ms => time_scale,
            Unit::Rtt => 1.0,
        };
        let ratio = (!ratios.is_empty()).then(|| ratios.summary());
        metrics.push(Metric {
            name,
            unit,
            scaled: Stat::of(&h, 1000.0, 1.0),
            real: Stat::of(&h, 1000.0, real_factor),
            floor_scaled: floor_min,
            floor_real: floor_min.map(|f| f * real_factor),
            ratio_p50: ratio.map(|r| r.p50_us as f64 / 1000.0),
            ratio_min: ratio.map(|r| r.min_us as f64 / 1000.0),
        });
    }
    EpisodeReport {
        first_step: first.as_ref().map_or(0, |f| f.first_step),
        label: first.as_ref().map_or_else(String::new, |f| f.label.clone()),
        kind: first.as_ref().map_or(Kind::Fault, |f| f.kind),
        runs: runs.len(),
        measured: runs.iter().filter(|r| r.transition_us.is_some()).count(),
        survivors: first
            .as_ref()
            .map_or_else(Vec::new, |f| f.survivors.clone()),
        cluexit: first.as_ref().map_or_else(Vec::new, |f| f.cluexit.clone()),
        slowest_rtt: first.as_ref().and_then(|f| f.slowest_rtt.clone()),
        floor: first.as_ref().and_then(|f| f.floor.clone()),
        metrics,
        per_run: runs,
    }
}

fn real_seconds(ms: f64) -> String {
    format!("{:.3} s", ms / 1000.0)
}

fn rtt_multiple(v: f64) -> String {
    format!("{v:.2} RTT")
}

fn fmt(v: f64) -> String {
    format!("{v:.2}")
}

/// The readable table: per episode a heading, then one line per metric with p50, p90, p99, max
/// and count as measured (scaled ms, or RTT multiples), the floor, p50/floor, and p50 and floor
/// in real terms (seconds).
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "vmsc experiment: {} with {} ({} of {} settled), RTTs from {}\n",
        report.cluster,
        report.scenario,
        report.runs_settled,
        count(report.runs as u64, "run", "runs"),
        report.rtt_table
    ));
    let t = &report.timers;
    out.push_str(&format!(
        "time scale {}: hello {} ms, listen timeout {} ms, RECNXINTERVAL {} ms, boot delay {} ms \
         (real); measured figures are scaled, real = scaled x {}\n",
        report.time_scale,
        t.hello_interval_ms,
        t.listen_timeout_ms,
        t.recnx_interval_ms,
        t.boot_delay_ms,
        report.time_scale
    ));
    for (i, e) in report.episodes.iter().enumerate() {
        out.push('\n');
        out.push_str(&format!(
            "episode {}: {} ({}), measured in {} of {}\n",
            i + 1,
            e.label,
            match e.kind {
                Kind::Fault => "fault",
                Kind::Heal => "heal",
            },
            e.measured,
            count(e.runs as u64, "run", "runs")
        ));
        out.push_str(&format!(
            "  survivors [{}]  cluexit [{}]",
            e.survivors.join(" "),
            e.cluexit.join(" ")
        ));
        if let Some((a, b, rtt)) = &e.slowest_rtt {
            out.push_str(&format!(
                "  slowest survivor RTT {a}-{b} {rtt:.2} ms real = {:.3} ms scaled",
                rtt / report.time_scale
            ));
        }
        out.push('\n');
        if e.metrics.is_empty() {
            out.push_str("  no transition completed (no survivors, or nothing changed)\n");
            continue;
        }
        let header = [
            "metric",
            "p50",
            "p90",
            "p99",
            "max",
            "count",
            "floor",
            "p50/floor",
            "real p50",
            "real floor",
        ];
        let mut rows: Vec<[String; 10]> = Vec::new();
        for m in &e.metrics {
            let (suffix, real) = match m.unit {
                Unit::Ms => ("_ms", real_seconds as fn(f64) -> String),
                Unit::Rtt => ("", rtt_multiple as fn(f64) -> String),
            };
            rows.push([
                format!("{}{}", m.name, suffix),
                fmt(m.scaled.p50),
                fmt(m.scaled.p90),
                fmt(m.scaled.p99),
                fmt(m.scaled.max),
                m.scaled.count.to_string(),
                m.floor_scaled.map_or("-".into(), fmt),
                m.ratio_p50.map_or("-".into(), fmt),
                real(m.real.p50),
                m.floor_real.map_or("-".into(), real),
            ]);
        }
        out.push_str(&aligned(&header, &rows));
        if let Some(f) = &e.floor {
            let terms: Vec<String> = f
                .terms
                .iter()
                .map(|t| format!("{} {:.2}", t.what, t.ms))
                .collect();
            out.push_str(&format!(
                "  floor (real ms) = {} = {:.2}\n",
                terms.join(" + "),
                f.transition_ms
            ));
        }
    }
    out.push_str(&format!("\n{}\n", report.locks.note));
    render_locks(&mut out, report);
    out
}

fn ms(v: f64) -> String {
    format!("{v:.2} ms")
}

/// The lock rows: per class, then per route; scaled ms as measured, floor, p50/floor, real.
fn render_locks(out: &mut String, report: &Report) {
    let l = &report.locks;
    let (Some(classes), Some(load), Some(tp)) = (&l.classes, &l.load, &l.throughput) else {
        return;
    };
    out.push_str(&format!(
        "  resources: {}\n",
        load.resources
            .iter()
            .map(|r| format!(
                "{} (master {}, directory {}{})",
                r.name,
                r.master_name,
                r.directory,
                if r.known { ", known" } else { "" }
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str(&format!(
        "  {} grants in {:.1} ms scaled: {:.1} grants/s scaled = {:.1} grants/s real; {} of {} \
         requests took another class than the layout predicts (another lock of the node on the tree)\n",
        tp.grants,
        tp.window_ms_scaled,
        tp.per_s_scaled,
        tp.per_s_real,
        l.prediction_mismatches.unwrap_or(0),
        l.requests.unwrap_or(0)
    ));
    let header = [
        "lock class / route",
        "msgs",
        "p50",
        "p90",
        "p99",
        "max",
        "count",
        "floor",
        "p50/floor",
        "real p50",
        "real floor",
    ];
    let row = |name: String, msgs: String, f: &locks::LockFigures| -> [String; 11] {
        [
            name,
            msgs,
            fmt(f.scaled.p50),
            fmt(f.scaled.p90),
            fmt(f.scaled.p99),
            fmt(f.scaled.max),
            f.count.to_string(),
            fmt(f.floor_scaled),
            f.ratio_p50.map_or("-".into(), fmt),
            ms(f.real.p50),
            ms(f.floor_real),
        ]
    };
    let mut rows = Vec::new();
    for c in classes {
        rows.push(row(
            format!("{}_ms", c.class.name()),
            c.messages.to_string(),
            &c.figures,
        ));
        for r in &c.routes {
            rows.push(row(format!("  {}", r.route), String::new(), &r.figures));
        }
    }
    out.push_str(&aligned(&header, &rows));
    out.push_str(
        "  floor (real ms): local 0; remote 1 x RTT to the peer; directory_remote RTT to the \
         directory + RTT to the master (routes by region: requester>directory>master)\n",
    );
}

/// A table indented by two spaces: the first column left-aligned, the others right-aligned,
/// every column as wide as its widest cell, trailing blanks trimmed.
fn aligned<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: &[String; N]| {
        let mut l = String::from("  ");
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i == 0 {
                l.push_str(&format!("{c:<w$}"));
            } else {
                l.push_str(&format!("  {c:>w$}"));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(&header.map(String::from));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}
