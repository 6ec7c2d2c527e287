//! `vmsc check` and `vmsc whatif`.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;
use stateright::Expectation;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vmsc_model::checker::{self, Checker};
use vmsc_model::cluster_model::{ClusterModel, Fault};
use vmsc_model::config::ClusterSpec;
use vmsc_model::explore;
use vmsc_model::explorer_view;
use vmsc_model::whatif::{self, Limits, Variant};

/// Which protocol variant to check.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum VariantArg {
    /// The protocol as specified.
    Correct,
    /// Negative control: quorum = floor(E/2).
    HalfQuorum,
    /// Negative control: corosync's two_node shortcut (one vote is quorum) without fencing.
    TwoNode,
    /// Negative control: a lost circuit reaches the far end late (no timing assumption).
    NoTimingAssumption,
}

impl From<VariantArg> for Variant {
    fn from(v: VariantArg) -> Self {
        match v {
            VariantArg::Correct => Variant::Correct,
            VariantArg::HalfQuorum => Variant::HalfQuorum,
            VariantArg::TwoNode => Variant::TwoNode,
            VariantArg::NoTimingAssumption => Variant::NoTimingAssumption,
        }
    }
}

/// Lock-manager variant (negative controls for the DLM; only meaningful with `[[client]]`s).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DlmVariantArg {
    /// The lock manager as specified.
    Correct,
    /// Masters treat PR and PW as compatible.
    BrokenMatrix,
    /// Suspended or removed nodes keep granting and using locks.
    GrantWhileSuspended,
    /// The value block stays valid when a PW/EX holder's node fails.
    SkipValueInvalidation,
    /// Surviving masters keep the failed nodes' locks after the rebuild.
    KeepFailedLocks,
    /// No deadlock search (DEADLOCK_WAIT never armed).
    NoDeadlockSearch,
    /// The deadlock coordinator trusts one round of reports (no confirmation round).
    SinglePhaseSearch,
    /// New requests compatible with the granted locks jump the waiting queue.
    QueueJump,
    /// A node that does not master a tree applies a stale request for it (re-creates a dropped
    /// tree) instead of answering NotMaster.
    NoMasterCheck,
}

impl From<DlmVariantArg> for vmsc_model::dlm::DlmVariant {
    fn from(v: DlmVariantArg) -> Self {
        use vmsc_model::dlm::DlmVariant as D;
        match v {
            DlmVariantArg::Correct => D::Correct,
            DlmVariantArg::BrokenMatrix => D::BrokenMatrix,
            DlmVariantArg::GrantWhileSuspended => D::GrantWhileSuspended,
            DlmVariantArg::SkipValueInvalidation => D::SkipValueInvalidation,
            DlmVariantArg::KeepFailedLocks => D::KeepFailedLocks,
            DlmVariantArg::NoDeadlockSearch => D::NoDeadlockSearch,
            DlmVariantArg::SinglePhaseSearch => D::SinglePhaseSearch,
            DlmVariantArg::QueueJump => D::QueueJump,
            DlmVariantArg::NoMasterCheck => D::NoMasterCheck,
        }
    }
}

/// Which search runs the check. All but `persistent` visit the same states; `specs/checker.md`
/// explains.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum CheckerArg {
    /// vmsc's explorer with sleep sets: every state once, fewer transitions executed (default).
    Reduced,
    /// vmsc's explorer without reduction (shortest counterexamples under `check`).
    Explorer,
    /// Stateright's own breadth-first checker (2 threads).
    StaterightBfs,
    /// Stateright's own depth-first checker (2 threads).
    StaterightDfs,
    /// vmsc's explorer with persistent sets, depth-first on one thread: a state reduction that
    /// keeps every verdict and every settled outcome, not the state count (`--threads` ignored).
    Persistent,
}

impl From<CheckerArg> for Checker {
    fn from(c: CheckerArg) -> Self {
        match c {
            CheckerArg::Reduced => Checker::Reduced,
            CheckerArg::Explorer => Checker::Explorer,
            CheckerArg::StaterightBfs => Checker::StaterightBfs,
            CheckerArg::StaterightDfs => Checker::StaterightDfs,
            CheckerArg::Persistent => Checker::Persistent,
        }
    }
}

/// When a node that took a CLUEXIT after the heal reboots (`--reboot`).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum RebootArg {
    /// Once the cluster has settled (the default): a CLUEXIT writes a crash dump and boots
    /// again, minutes, while the transition that made it exit ends in seconds. Nodes that exited
    /// together still reboot in every order and join concurrently.
    Settled,
    /// At any moment, even in the middle of the transition that followed the CLUEXIT: reboots
    /// no real node is fast enough to make, explored as well (far more states).
    Anytime,
}

impl From<RebootArg> for whatif::Reboots {
    fn from(r: RebootArg) -> Self {
        match r {
            RebootArg::Settled => whatif::Reboots::Settled,
            RebootArg::Anytime => whatif::Reboots::Anytime,
        }
    }
}

/// The `whatif` heal that `--heal` and `--reboot` ask for.
pub fn heal_of(heal: bool, reboot: RebootArg) -> whatif::Heal {
    if heal {
        whatif::Heal::Yes(reboot.into())
    } else {
        whatif::Heal::No
    }
}

impl CheckerArg {
    fn name(self) -> &'static str {
        Checker::from(self).name()
    }
}

/// Arguments of `vmsc check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The cluster file (TOML). Default: the embedded seed topology (FRANK1, FRANK2, UK1, CHIC1, CHIC2).
    pub cluster: Option<PathBuf>,
    /// Most simultaneous faults (inter-region link cuts and node crashes) in one run.
    #[arg(long, default_value_t = 1)]
    pub max_faults: usize,
    /// Also heal: any applied fault may be repaired at any moment, and a node that took a CLUEXIT reboots.
    #[arg(long)]
    pub heal: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Protocol variant; the non-default ones are negative controls the checker must catch.
    #[arg(long, value_enum, default_value = "correct")]
    pub variant: VariantArg,
    /// Lock-manager variant; the non-default ones are the DLM negative controls.
    #[arg(long, value_enum, default_value = "correct")]
    pub dlm_variant: DlmVariantArg,
    /// The search (all visit the same states; see specs/checker.md).
    #[arg(long, value_enum, default_value = "reduced")]
    pub checker: CheckerArg,
    /// Give up after this many seconds (the run is then incomplete).
    #[arg(long)]
    pub timeout_s: Option<u64>,
    /// Give up after this many unique states (the run is then incomplete).
    #[arg(long, default_value_t = 50_000_000)]
    pub states_max: usize,
    /// Workers of vmsc's explorer (`reduced`, `explorer`); 0 (the default) = one per core,
    /// 1 = the sequential breadth-first search. The verdicts and state counts are the same
    /// either way, and so is each counterexample: a violation found by several workers is
    /// found again by the sequential search, which stops there (reproducible and shortest).
    /// Several workers search depth-first, so memory stays at the visited set (a long
    /// breadth-first run also holds its frontier: gigabytes on a large cluster).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// The address the Explorer will serve on, as `vmsc explore --addr` takes it: used in the
    /// printed `vmsc explore` command and deep link of each counterexample.
    #[arg(long, default_value = DEFAULT_EXPLORER_ADDR)]
    pub explorer_addr: String,
}

/// `vmsc explore`'s default `--addr`, and `vmsc check`'s default `--explorer-addr`.
pub const DEFAULT_EXPLORER_ADDR: &str = "127.0.0.1:3000";

/// Arguments of `vmsc whatif`.
#[derive(Args, Debug)]
pub struct WhatifArgs {
    /// The cluster file (TOML). Default: the embedded seed topology.
    pub cluster: Option<PathBuf>,
    /// A fault: `link:A-B` (two region keys: every link between them; or two node names: that link) or `node:NAME` (that node crashes). Repeatable.
    #[arg(long = "fail")]
    pub fail: Vec<String>,
    /// Once the faults have settled, restore every link and reboot every crashed node once; a
    /// node that then takes a CLUEXIT reboots once, as `--reboot` says.
    #[arg(long)]
    pub heal: bool,
    /// With `--heal`: when a node that took a CLUEXIT reboots (see specs/checker.md, "Reboot
    /// timing"). The JSON names it in a `"reboot"` field.
    #[arg(long, value_enum, default_value = "settled", requires = "heal")]
    pub reboot: RebootArg,
    /// Print the JSON object (the default output is a readable table).
    #[arg(long)]
    pub json: bool,
    /// Protocol variant; the non-default ones are negative controls.
    #[arg(long, value_enum, default_value = "correct")]
    pub variant: VariantArg,
    /// Give up after this many seconds (the run is then incomplete).
    #[arg(long)]
    pub timeout_s: Option<u64>,
    /// The search (all visit the same states; see specs/checker.md).
    #[arg(long, value_enum, default_value = "reduced")]
    pub checker: CheckerArg,
    /// Workers of vmsc's explorer (`reduced`, `explorer`); 0 (the default) = one per core,
    /// 1 = sequential. The outcomes, violations and state counts are the same either way.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Give up after this many unique states (the run is then incomplete).
    #[arg(long, default_value_t = 50_000_000)]
    pub states_max: usize,
}

/// `--threads`: 0 means one worker per core.
pub fn threads(n: usize) -> usize {
    if n == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        n
    }
}

/// Loads the cluster file, or the embedded seed topology.
pub fn load_spec(
    path: &Option<PathBuf>,
) -> Result<Arc<ClusterSpec>, vmsc_model::config::ConfigError> {
    Ok(Arc::new(crate::load::cluster_or_seed(path.as_deref())?))
}

fn progress_printer(quiet: bool) -> impl FnMut(usize, usize, Duration) {
    move |states, depth, elapsed| {
        if !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let rate = states as f64 / elapsed.as_secs_f64().max(1e-9);
            eprint!(
                "\rchecking: {states} states, depth {depth}, {rate:.0} states/s, {:.0} s   ",
                elapsed.as_secs_f64()
            );
            let _ = std::io::stderr().flush();
        }
    }
}

#[derive(Serialize)]
struct PropertyJson {
    name: String,
    expectation: &'static str,
    holds: bool,
    path: Option<Vec<String>>,
    /// Extension: the Explorer encoding of the path.
    explorer_path: Option<String>,
}

#[derive(Serialize)]
struct CheckJson {
    complete: bool,
    states: usize,
    seconds: f64,
    properties: Vec<PropertyJson>,
    checker: &'static str,
}

fn expectation_name(e: &Expectation) -> &'static str {
    match e {
        Expectation::Always => "always",
        Expectation::Sometimes => "sometimes",
        Expectation::Eventually => "eventually",
    }
}

/// Renders a path as readable steps: the action, then the console lines it caused.
pub fn render_path(m: &ClusterModel, path: &[usize]) -> Vec<String> {
    let Some((init, steps)) = explore::replay(m, path) else {
        return vec!["(path does not replay)".into()];
    };
    let mut lines = Vec::new();
    let mut prev = init;
    for (a, s) in steps {
        let mut line = m.describe_action(&a);
        let events: Vec<String> = explorer_view::step_events(m, &prev, &s)
            .into_iter()
            .filter(|e| !e.contains("connection to system"))
            .collect();
        if !events.is_empty() {
            line = format!("{line}  [{}]", events.join("; "));
        }
        lines.push(line);
        prev = s;
    }
    lines
}

/// `vmsc check`.
pub fn run_check(a: CheckArgs) -> Result<ExitCode> {
    let spec = load_spec(&a.cluster)?;
    let variant: Variant = a.variant.into();
    let m = whatif::check_model(spec.clone(), a.max_faults, a.heal, variant);
    let m = if a.dlm_variant == DlmVariantArg::Correct {
        m
    } else {
        let mut cfg = m.cfg.clone();
        cfg.protocol.dlm = a.dlm_variant.into();
        ClusterModel::new(spec.clone(), cfg)
    };
    let start = Instant::now();
    let timeout = a.timeout_s.map(Duration::from_secs);
    let mut progress = progress_printer(a.json);
    let workers = threads(a.threads);
    let (report, _) = checker::run_threads(
        &m,
        a.checker.into(),
        explore::Options {
            strategy: explore::Strategy::Bfs,
            states_max: a.states_max,
            deadline: timeout.map(|t| start + t),
            progress: Some(&mut progress),
            visit: None,
            visit_only: None,
            fingerprint: None,
            stop_when_found: false,
        },
        workers,
    );
    let (complete, states, mut results) = (report.complete, report.states, report.properties);
    if workers > 1 {
        let budget = start.elapsed().max(Duration::from_secs(10));
        shortest_counterexamples(&m, a.checker.into(), &mut results, states, budget);
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut out = String::new();
    if !a.json {
        eprint!("\r");
    }
    let ok = complete && results.iter().all(|r| r.holds);
    let cluster_arg = a
        .cluster
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if a.json {
        let report = CheckJson {
            complete,
            states,
            seconds,
            checker: a.checker.name(),
            properties: results
                .iter()
                .map(|r| PropertyJson {
                    name: r.name.to_string(),
                    expectation: expectation_name(&r.expectation),
                    holds: r.holds,
                    path: r.path.as_ref().map(|p| render_path(&m, p)),
                    explorer_path: r.path.as_ref().map(|p| explore::encode(p)),
                })
                .collect(),
        };
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&report)?);
    } else {
        let _ = writeln!(
            out,
            "vmsc check: cluster {} ({} nodes), up to {} fault(s){}, variant {:?}, checker {}",
            spec.name,
            spec.len(),
            a.max_faults,
            if a.heal { " with heal" } else { "" },
            a.variant,
            a.checker.name()
        );
        let _ = writeln!(
            out,
            "  {} unique states, {}, {:.2} s ({:.0} states/s)",
            states,
            if complete { "complete" } else { "INCOMPLETE" },
            seconds,
            states as f64 / seconds.max(1e-9)
        );
        for r in &results {
            let mark = if r.holds { "ok  " } else { "FAIL" };
            let what = match (&r.expectation, r.holds) {
                (Expectation::Sometimes, true) => "reached",
                (Expectation::Sometimes, false) => "never reached",
                (_, true) => "holds",
                (_, false) => "VIOLATED",
            };
            let _ = writeln!(
                out,
                "  [{mark}] {:9} {} -- {what}",
                expectation_name(&r.expectation),
                r.name
            );
            if let (Expectation::Always, false, Some(p)) = (&r.expectation, r.holds, &r.path) {
                let _ = writeln!(out, "         counterexample, {} steps:", p.len());
                for (k, line) in render_path(&m, p).iter().enumerate() {
                    let _ = writeln!(out, "         {:3}. {line}", k + 1);
                }
                let enc = explore::encode(p);
                let name = |v: Option<clap::builder::PossibleValue>| {
                    v.map(|p| p.get_name().to_string()).unwrap_or_default()
                };
                let dlm = match a.dlm_variant {
                    DlmVariantArg::Correct => String::new(),
                    v => format!(" --dlm-variant {}", name(v.to_possible_value())),
                };
                // The default address is left out of the command (it is `explore`'s default).
                let addr = match a.explorer_addr.as_str() {
                    DEFAULT_EXPLORER_ADDR => String::new(),
                    x => format!(" --addr {x}"),
                };
                let _ = writeln!(
                    out,
                    "         explore it: vmsc explore {cluster_arg} --max-faults {}{} --variant {}{dlm}{addr} --path {enc}",
                    a.max_faults,
                    if a.heal { " --heal" } else { "" },
                    name(a.variant.to_possible_value()),
                );
                let _ = writeln!(
                    out,
                    "         then open http://{}/#/steps/{enc}",
                    a.explorer_addr
                );
            }
        }
    }
    emit(&out);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A parallel search reports whichever counterexample a worker met first. For each violated
/// "always" property, this searches again sequentially (breadth-first, the same checker),
/// stopping once every such property has a discovery: since the sequential search visits states
/// in the same order whether it stops early or not, the counterexample is exactly the one
/// `--threads 1` reports — reproducible and shortest — and costs only the states up to its
/// depth. Examples of "sometimes" properties keep the parallel search's path (any example is
/// one; re-finding a deep one breadth-first would cost the frontier that `--threads` avoids).
/// The search again is bounded by the first one's states and time (at least 10 s): a deep
/// counterexample it cannot re-find within them keeps the parallel search's path.
fn shortest_counterexamples(
    m: &ClusterModel,
    checker: Checker,
    results: &mut [explore::PropertyResult],
    states_max: usize,
    budget: Duration,
) {
    if !matches!(checker, Checker::Reduced | Checker::Explorer) {
        return;
    }
    let violated: Vec<&'static str> = results
        .iter()
        .filter(|r| r.expectation == Expectation::Always && !r.holds && r.path.is_some())
        .map(|r| r.name)
        .collect();
    if violated.is_empty() {
        return;
    }
    let mut again = ClusterModel::new(m.spec.clone(), m.cfg.clone());
    again.retain_properties(|p| violated.contains(&p.name));
    let (report, _) = checker::run_threads(
        &again,
        checker,
        explore::Options {
            strategy: explore::Strategy::Bfs,
            stop_when_found: true,
            states_max: states_max.max(1),
            deadline: Some(Instant::now() + budget),
            ..Default::default()
        },
        1,
    );
    for r in results.iter_mut() {
        if let Some(p) = report.properties.iter().find(|p| p.name == r.name) {
            if p.path.is_some() {
                r.path = p.path.clone();
            }
        }
    }
}

/// `vmsc whatif`.
pub fn run_whatif(a: WhatifArgs) -> Result<ExitCode> {
    let spec = load_spec(&a.cluster)?;
    let faults = a
        .fail
        .iter()
        .map(|f| Fault::parse(&spec, f))
        .collect::<Result<Vec<_>, _>>()
        .context("bad fault")?;
    let mut progress = progress_printer(a.json);
    let w = whatif::whatif(
        spec.clone(),
        faults.clone(),
        heal_of(a.heal, a.reboot),
        a.variant.into(),
        Limits {
            timeout: a.timeout_s.map(Duration::from_secs),
            checker: a.checker.into(),
            threads: threads(a.threads),
            states_max: a.states_max.max(1),
        },
        Some(&mut progress),
    );
    if !a.json {
        eprint!("\r");
    }
    let mut out = String::new();
    if a.json {
        let _ = writeln!(out, "{}", serde_json::to_string(&w)?);
    } else {
        let fl: Vec<String> = faults.iter().map(|f| f.describe(&spec)).collect();
        let _ = writeln!(
            out,
            "vmsc whatif: cluster {}, faults: {}{}",
            spec.name,
            if fl.is_empty() {
                "none".into()
            } else {
                fl.join(", ")
            },
            match (a.heal, a.reboot) {
                (false, _) => "",
                (true, RebootArg::Settled) => ", then heal",
                (true, RebootArg::Anytime) => ", then heal (reboots at any moment)",
            }
        );
        let _ = writeln!(
            out,
            "  {} states, {}",
            w.states,
            if w.complete { "complete" } else { "INCOMPLETE" }
        );
        if !w.violations.is_empty() {
            let _ = writeln!(out, "  VIOLATIONS: {}", w.violations.join(", "));
        }
        for o in &w.outcomes {
            let _ = writeln!(
                out,
                "  outcome: members [{}]  hung [{}]  cluexit [{}]  down [{}]",
                o.members.join(" "),
                o.hung.join(" "),
                o.cluexit.join(" "),
                o.down.join(" ")
            );
        }
    }
    emit(&out);
    Ok(if w.complete && w.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Writes the report to stdout; a closed pipe (`vmsc check | head`) is not an error.
fn emit(out: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}
