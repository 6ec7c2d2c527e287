//! `vmsc check` and `vmsc whatif`.

use crate::args::{
    cli_name, heal_of, CheckerArgs, LimitArgs, ModelArgs, Progress, ProgressArgs, RebootArg,
};
use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use stateright::Expectation;
use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use vmsc_model::checker::{self, Checker};
use vmsc_model::cluster_model::{ClusterModel, Fault};
use vmsc_model::explore::{self, PropertyResult, Report};
use vmsc_model::explorer_view;
use vmsc_model::whatif::{self, Limits, Variant};

/// Arguments of `vmsc check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Most simultaneous faults (inter-region link cuts and node crashes) in one run.
    #[arg(long, default_value_t = 1)]
    pub max_faults: usize,
    /// Also heal: any applied fault may be repaired at any moment, and a node that took a CLUEXIT reboots.
    #[arg(long)]
    pub heal: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub search: CheckerArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub progress: ProgressArgs,
    /// The address the Explorer will serve on, as `vmsc explore --addr` takes it: used in the
    /// printed `vmsc explore` command and deep link of each counterexample.
    #[arg(long, default_value = DEFAULT_EXPLORER_ADDR)]
    pub explorer_addr: String,
}

/// `vmsc check --help`'s examples.
pub const CHECK_EXAMPLES: &str = "\
Examples:
  vmsc check                                  # the seed topology, up to 1 fault
  vmsc check specs/scenarios/three-regions.toml --max-faults 2 --heal
  vmsc check specs/scenarios/three-regions.toml --max-faults 2 --variant half-quorum
  vmsc check specs/scenarios/dlm-three-nodes.toml --dlm-variant broken-matrix --states-max 300000
  vmsc check --max-faults 2 --timeout-s 600 --progress always --json > check.json";

/// `vmsc explore`'s default `--addr`, and `vmsc check`'s default `--explorer-addr`.
pub const DEFAULT_EXPLORER_ADDR: &str = "127.0.0.1:3000";

/// Arguments of `vmsc whatif`.
#[derive(Args, Debug)]
pub struct WhatifArgs {
    #[command(flatten)]
    pub model: ModelArgs,
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
    #[command(flatten)]
    pub search: CheckerArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

/// `vmsc whatif --help`'s examples.
pub const WHATIF_EXAMPLES: &str = "\
Examples:
  vmsc whatif --fail link:FRA-LHR             # the seed topology, FRA-LHR cut
  vmsc whatif --fail link:FRA-LHR --fail link:FRA-ORD --json
  vmsc whatif --fail node:FRANK1 --fail node:CHIC2
  vmsc whatif specs/scenarios/three-regions.toml --fail link:FRA-LHR --heal --reboot anytime
  vmsc whatif specs/scenarios/dlm-three-nodes.toml --fail node:UK1 --dlm-variant keep-failed-locks";

/// `n` and the noun, singular for one: `1 node`, `3 nodes`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[derive(Serialize)]
struct PropertyJson {
    name: String,
    expectation: &'static str,
    holds: bool,
    /// Extension: what the run shows ([`Verdict::word`]): `holds`, `violated`, `reached`,
    /// `never reached`, or `undecided` (an incomplete run found neither a counterexample nor an
    /// example).
    verdict: &'static str,
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

/// What a run shows of one property. A counterexample or an example found is a fact however
/// the run ended; that none exists is one only once the run is complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No counterexample, every state explored.
    Holds,
    /// A counterexample.
    Violated,
    /// An example of a "sometimes" property.
    Reached,
    /// No example, every state explored.
    NeverReached,
    /// An incomplete run found no counterexample (or no example): nothing is shown.
    Undecided,
}

impl Verdict {
    /// The verdict on `r` of a run that was `complete` or not.
    pub fn of(r: &PropertyResult, complete: bool) -> Verdict {
        match (&r.expectation, r.holds, complete) {
            (Expectation::Sometimes, true, _) => Verdict::Reached,
            (Expectation::Sometimes, false, true) => Verdict::NeverReached,
            (Expectation::Sometimes, false, false) => Verdict::Undecided,
            (_, false, _) => Verdict::Violated,
            (_, true, true) => Verdict::Holds,
            (_, true, false) => Verdict::Undecided,
        }
    }

    /// The JSON word.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "violated",
            Verdict::Reached => "reached",
            Verdict::NeverReached => "never reached",
            Verdict::Undecided => "undecided",
        }
    }

    /// The report's line for property `r` after a run of `states` states: `[mark] expectation
    /// name -- what`.
    pub fn line(self, r: &PropertyResult, states: usize) -> String {
        let (mark, what) = match self {
            Verdict::Holds => ("ok  ", "holds".to_string()),
            Verdict::Reached => ("ok  ", "reached".to_string()),
            Verdict::Violated => ("FAIL", "VIOLATED".to_string()),
            Verdict::NeverReached => ("FAIL", "never reached".to_string()),
            Verdict::Undecided if r.expectation == Expectation::Sometimes => (
                " ?? ",
                format!(
                    "not reached in {} (incomplete)",
                    count(states, "state", "states")
                ),
            ),
            Verdict::Undecided => (
                " ?? ",
                format!(
                    "no violation in {} (incomplete)",
                    count(states, "state", "states")
                ),
            ),
        };
        format!(
            "[{mark}] {:9} {} -- {what}",
            expectation_name(&r.expectation),
            r.name
        )
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

/// Why an incomplete run stopped, as the flags that stopped it: `--states-max 500`.
pub fn stopped_by(report: &Report, limits: &LimitArgs) -> String {
    if report.states >= limits.states_max {
        format!("stopped at --states-max {}", limits.states_max)
    } else if let Some(t) = limits.timeout_s {
        format!("stopped at --timeout-s {t}")
    } else {
        "stopped early".to_string()
    }
}

/// The search `check` runs on `m`: every property, breadth-first, as `search` and `limits` say;
/// with several workers each counterexample is then re-found sequentially (see
/// [`shortest_counterexamples`]). `what` names the search in the progress lines.
pub fn search(
    m: &ClusterModel,
    search: &CheckerArgs,
    limits: &LimitArgs,
    progress: &Progress,
    what: &str,
) -> Report {
    let start = Instant::now();
    let mut report_progress = |states: usize, depth: usize, elapsed: Duration| {
        progress.report(|| crate::args::search_line(what, states, depth, elapsed))
    };
    let checker: Checker = search.checker().into();
    let workers = search.workers();
    let (mut report, _) = checker::run_threads(
        m,
        checker,
        explore::Options {
            strategy: explore::Strategy::Bfs,
            states_max: limits.states_max,
            deadline: limits.timeout().map(|t| start + t),
            progress: Some(&mut report_progress),
            visit: None,
            visit_only: None,
            fingerprint: None,
            stop_when_found: false,
        },
        workers,
    );
    if workers > 1 {
        let budget = start.elapsed().max(Duration::from_secs(10));
        let states = report.states;
        shortest_counterexamples(m, checker, &mut report.properties, states, budget);
    }
    progress.clear();
    report
}

/// `vmsc check`.
pub fn run_check(a: CheckArgs) -> Result<ExitCode> {
    let spec = a.model.spec()?;
    let variant: Variant = a.model.variant.into();
    let m = a.model.with_dlm(whatif::check_model(
        spec.clone(),
        a.max_faults,
        a.heal,
        variant,
    ));
    let start = Instant::now();
    let progress = a.progress.reporter();
    let report = search(&m, &a.search, &a.limits, &progress, "vmsc check");
    let seconds = start.elapsed().as_secs_f64();
    let ok = report.complete && report.properties.iter().all(|r| r.holds);
    let out = if a.json {
        check_json(&a, &m, &report, seconds)?
    } else {
        check_text(&a, &m, &report, seconds)
    };
    emit(&out);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check_json(a: &CheckArgs, m: &ClusterModel, report: &Report, seconds: f64) -> Result<String> {
    let json = CheckJson {
        complete: report.complete,
        states: report.states,
        seconds,
        checker: Checker::from(a.search.checker()).name(),
        properties: report
            .properties
            .iter()
            .map(|r| PropertyJson {
                name: r.name.to_string(),
                expectation: expectation_name(&r.expectation),
                holds: r.holds,
                verdict: Verdict::of(r, report.complete).word(),
                path: r.path.as_ref().map(|p| render_path(m, p)),
                explorer_path: r.path.as_ref().map(|p| explore::encode(p)),
            })
            .collect(),
    };
    Ok(format!("{}\n", serde_json::to_string_pretty(&json)?))
}

fn check_text(a: &CheckArgs, m: &ClusterModel, report: &Report, seconds: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "vmsc check: cluster {} ({}), up to {}{}, {}, checker {}",
        m.spec.name,
        count(m.spec.len(), "node", "nodes"),
        count(a.max_faults, "fault", "faults"),
        if a.heal { " with heal" } else { "" },
        a.model.describe(),
        Checker::from(a.search.checker()).name()
    );
    let _ = writeln!(
        out,
        "  {}, {}, {:.2} s ({:.0} states/s)",
        count(report.states, "unique state", "unique states"),
        if report.complete {
            "complete".to_string()
        } else {
            format!("INCOMPLETE ({})", stopped_by(report, &a.limits))
        },
        seconds,
        report.states as f64 / seconds.max(1e-9)
    );
    for r in &report.properties {
        let verdict = Verdict::of(r, report.complete);
        let _ = writeln!(out, "  {}", verdict.line(r, report.states));
        if let (Verdict::Violated, Some(p)) = (verdict, &r.path) {
            counterexample_text(&mut out, a, m, p);
        }
    }
    out
}

/// A counterexample's steps, and the `vmsc explore` command and deep link that show it.
fn counterexample_text(out: &mut String, a: &CheckArgs, m: &ClusterModel, p: &[usize]) {
    let _ = writeln!(
        out,
        "         counterexample, {}:",
        count(p.len(), "step", "steps")
    );
    for (k, line) in render_path(m, p).iter().enumerate() {
        let _ = writeln!(out, "         {:3}. {line}", k + 1);
    }
    let enc = explore::encode(p);
    let dlm = match a.model.dlm_variant {
        crate::args::DlmVariantArg::Correct => String::new(),
        v => format!(" --dlm-variant {}", cli_name(&v)),
    };
    // The default address is left out of the command (it is `explore`'s default).
    let addr = match a.explorer_addr.as_str() {
        DEFAULT_EXPLORER_ADDR => String::new(),
        x => format!(" --addr {x}"),
    };
    let _ = writeln!(
        out,
        "         explore it: vmsc explore{} --max-faults {}{} --variant {}{dlm}{addr} --path {enc}",
        match a.model.cluster_arg().as_str() {
            "" => String::new(),
            c => format!(" {c}"),
        },
        a.max_faults,
        if a.heal { " --heal" } else { "" },
        cli_name(&a.model.variant),
    );
    let _ = writeln!(
        out,
        "         then open http://{}/#/steps/{enc}",
        a.explorer_addr
    );
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
    let spec = a.model.spec()?;
    let faults = a
        .fail
        .iter()
        .map(|f| Fault::parse(&spec, f))
        .collect::<Result<Vec<_>, _>>()
        .context("bad fault")?;
    let heal = heal_of(a.heal, a.reboot);
    let m = a.model.with_dlm(whatif::whatif_model(
        spec.clone(),
        faults.clone(),
        heal,
        a.model.variant.into(),
    ));
    let progress = a.progress.reporter();
    let mut report_progress = |states: usize, depth: usize, elapsed: Duration| {
        progress.report(|| crate::args::search_line("vmsc whatif", states, depth, elapsed))
    };
    let limits = Limits {
        timeout: a.limits.timeout(),
        checker: a.search.checker().into(),
        threads: a.search.workers(),
        states_max: a.limits.states_max.max(1),
    };
    let w = whatif::whatif_on(&m, limits, Some(&mut report_progress));
    progress.clear();
    let mut out = String::new();
    if a.json {
        let _ = writeln!(out, "{}", serde_json::to_string(&w)?);
    } else {
        whatif_text(&mut out, &a, &m, &faults, &w);
    }
    emit(&out);
    Ok(if w.complete && w.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn whatif_text(
    out: &mut String,
    a: &WhatifArgs,
    m: &ClusterModel,
    faults: &[Fault],
    w: &whatif::WhatIf,
) {
    let fl: Vec<String> = faults.iter().map(|f| f.describe(&m.spec)).collect();
    let _ = writeln!(
        out,
        "vmsc whatif: cluster {}, faults: {}{}",
        m.spec.name,
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
        "  {}, {}",
        count(w.states, "state", "states"),
        if w.complete {
            "complete".to_string()
        } else {
            let stopped = w
                .report
                .as_ref()
                .map_or_else(|| "stopped early".into(), |r| stopped_by(r, &a.limits));
            format!("INCOMPLETE ({stopped}): the outcomes found so far, there may be others")
        }
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

/// Writes the report to stdout; a closed pipe (`vmsc check | head`) is not an error.
fn emit(out: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(count(1, "node", "nodes"), "1 node");
        assert_eq!(count(0, "step", "steps"), "0 steps");
        assert_eq!(count(3, "fault set", "fault sets"), "3 fault sets");
    }

    fn result(expectation: Expectation, holds: bool, path: bool) -> PropertyResult {
        PropertyResult {
            name: "p",
            expectation,
            holds,
            path: path.then(Vec::new),
        }
    }

    /// A counterexample or an example is a fact however the run ended; their absence is one
    /// only in a complete run.
    #[test]
    fn only_a_complete_run_shows_that_nothing_is_found() {
        use Expectation::{Always, Sometimes};
        let cases = [
            (
                result(Always, true, false),
                true,
                Verdict::Holds,
                "[ok  ] always    p -- holds",
            ),
            (
                result(Always, true, false),
                false,
                Verdict::Undecided,
                "[ ?? ] always    p -- no violation in 1 state (incomplete)",
            ),
            (
                result(Always, false, true),
                false,
                Verdict::Violated,
                "[FAIL] always    p -- VIOLATED",
            ),
            (
                result(Sometimes, true, true),
                false,
                Verdict::Reached,
                "[ok  ] sometimes p -- reached",
            ),
            (
                result(Sometimes, false, false),
                true,
                Verdict::NeverReached,
                "[FAIL] sometimes p -- never reached",
            ),
            (
                result(Sometimes, false, false),
                false,
                Verdict::Undecided,
                "[ ?? ] sometimes p -- not reached in 1 state (incomplete)",
            ),
        ];
        for (r, complete, verdict, line) in cases {
            assert_eq!(Verdict::of(&r, complete), verdict, "{r:?} {complete}");
            assert_eq!(verdict.line(&r, 1), line);
        }
    }
}
