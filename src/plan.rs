//! `vmsc plan`: a survivability matrix — for every combination of up to N faults (inter-region
//! links and nodes), the outcomes exhaustive exploration gives, as `whatif` would.

use crate::check::load_spec;
use anyhow::Result;
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::collections::hash_map::{Entry, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vmsc_model::cluster_model::Fault;
use vmsc_model::config::{ClusterSpec, NodeSpec, QuorumDiskSpec};
use vmsc_model::whatif::{self, Limits, Outcome, Variant};

/// Output format of the matrix.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Aligned text.
    Table,
    /// One JSON object.
    Json,
    /// A Markdown table.
    Markdown,
}

/// Arguments of `vmsc plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The cluster file (TOML). Default: the embedded seed topology.
    pub cluster: Option<PathBuf>,
    /// Largest number of simultaneous faults (inter-region links and nodes) in a fault set.
    #[arg(long, default_value_t = 2)]
    pub max_faults: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also try documented changes (a quorum disk in each region, one more vote on a node, a
    /// tie-breaker node in another region) and show how the summary changes.
    #[arg(long)]
    pub suggest: bool,
    /// Once a fault set has settled, restore every link and reboot every crashed node once (as
    /// `whatif --heal`): the matrix then shows who is a member after the repair.
    #[arg(long)]
    pub heal: bool,
    /// With `--heal`: when a node that took a CLUEXIT reboots, as in `vmsc whatif`.
    #[arg(long, value_enum, default_value = "settled", requires = "heal")]
    pub reboot: crate::check::RebootArg,
    /// Give up on a fault set after this many seconds (it is then reported incomplete).
    #[arg(long, default_value_t = 120)]
    pub timeout_s: u64,
    /// The search behind every fault set (see `vmsc check --help`).
    #[arg(long, value_enum, default_value = "reduced")]
    pub checker: crate::check::CheckerArg,
    /// Give up on a fault set once this many unique states are known (it is then reported
    /// incomplete); memory grows with it (about 40 bytes per state, plus the search frontier).
    #[arg(long, default_value_t = 50_000_000)]
    pub states_max: usize,
}

/// How a cluster fares under one fault set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every outcome has a quorate cluster.
    Survives,
    /// Some outcomes have a quorate cluster, some do not (timing decides).
    Depends,
    /// No outcome has a quorate cluster: every live node hangs.
    Hangs,
}

/// One row of the matrix.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The faults, as the CLI names them.
    pub faults: Vec<String>,
    /// Survives, depends or hangs.
    pub verdict: Verdict,
    /// The settled outcomes.
    pub outcomes: Vec<Outcome>,
    /// Always-properties violated (must be empty).
    pub violations: Vec<String>,
    /// Exploration finished.
    pub complete: bool,
    /// States explored. For a reused row (`reused_from`), the count of the explored set, which
    /// is exactly this set's own count (the two state spaces correspond one to one).
    pub states: usize,
    /// Wall time spent exploring this set (0 for a reused row).
    pub seconds: f64,
    /// Not explored: the answer is that of the set named here, whose state after the faults is
    /// the same up to crashed nodes (see [`whatif::ReuseKey`]). Absent for explored rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<Vec<String>>,
}

/// The matrix and its summary.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The cluster's name.
    pub cluster: String,
    /// Every fault set was healed once settled (`--heal`): the outcomes are after the repair.
    pub heal: bool,
    /// With `--heal`: when the nodes that took a CLUEXIT rebooted (`settled`, `anytime`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reboot: Option<&'static str>,
    /// One row per fault set.
    pub rows: Vec<Row>,
    /// The one-line summary.
    pub summary: String,
    /// Wall time.
    pub seconds: f64,
    /// Rows answered by reuse, without exploring (see [`Row::reused_from`]).
    pub reused: usize,
    /// Rows explored a second time, from the start on every core, because one thread's first
    /// pass ([`FIRST_PASS`] from the command line) did not finish them; their `seconds` count
    /// both passes.
    pub second_pass: usize,
}

fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    fn go(start: usize, n: usize, k: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if cur.len() == k {
            out.push(cur.clone());
            return;
        }
        for i in start..n {
            cur.push(i);
            go(i + 1, n, k, cur, out);
            cur.pop();
        }
    }
    go(0, n, k, &mut cur, &mut out);
    out
}

fn ordinal(k: usize) -> String {
    match k {
        1 => "single".into(),
        2 => "double".into(),
        3 => "triple".into(),
        k => format!("{k}-fold"),
    }
}

/// How long `plan` explores a fault set on one thread before it leaves the set for its second
/// pass on every core (see [`plan_with`]).
pub const FIRST_PASS: Duration = Duration::from_secs(5);

/// Computes the matrix with `checker`: every fault set on one thread first (one set per core),
/// for at most `first_pass` each ([`FIRST_PASS`] from the command line); then the sets that
/// needed more time again from the start, one at a time on every core, for the rest of their time
/// limit.
pub fn plan_with(
    spec: Arc<ClusterSpec>,
    max_faults: usize,
    heal: impl Into<whatif::Heal>,
    limits: Limits,
    first_pass: Duration,
    progress: bool,
) -> Plan {
    let heal = heal.into();
    let start = Instant::now();
    let menu = Fault::menu(&spec);
    let sets: Vec<Vec<usize>> = (1..=max_faults.min(menu.len()))
        .flat_map(|k| combinations(menu.len(), k))
        .collect();
    let same_as = equivalent_sets(&spec, &menu, &sets, heal);
    let work: Vec<usize> = (0..sets.len()).filter(|&k| same_as[k].is_none()).collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Row>>> = Mutex::new(vec![None; sets.len()]);
    let explore = |k: usize, limits: Limits, workers: usize| {
        plan_row(&spec, &menu, &sets[k], heal, limits, &|states| {
            if progress {
                // On a TTY: sets finished, the set a worker explores and how many states it
                // has visited (refreshed about once a second), elapsed time.
                eprint!(
                    "\rplan: {}/{} fault sets done; set {} at {states} states{}; {:.0} s   ",
                    done.load(Ordering::Relaxed),
                    work.len(),
                    k + 1,
                    if workers > 1 { " (every core)" } else { "" },
                    start.elapsed().as_secs_f64()
                );
                let _ = std::io::stderr().flush();
            }
        })
    };
    // First pass: fault sets are independent, so one worker per core takes the next set until
    // none is left, each set on one thread for at most `first_pass` of its time limit.
    let first = Limits {
        timeout: limits.timeout.map(|t| t.min(first_pass)),
        threads: 1,
        ..limits
    };
    let next = AtomicUsize::new(0);
    let workers = cores.min(work.len()).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(&k) = work.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let row = explore(k, first, 1);
                    done.fetch_add(1, Ordering::Relaxed);
                    results.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(row);
                }
            });
        }
    });
    // Second pass: the sets the first pass cut short by time are explored again from the start,
    // one after another, each on every core, for the rest of its time limit. (With one set per
    // core, the largest set would finish last on one core while the others idle.)
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut second_pass = 0;
    if let Some(timeout) = limits.timeout.filter(|&t| t > first_pass) {
        for &k in &work {
            let Some(row) = &results[k] else { continue };
            if row.complete || row.states >= limits.states_max {
                continue;
            }
            let spent = Duration::from_secs_f64(row.seconds);
            let again = Limits {
                timeout: Some(timeout.saturating_sub(spent)),
                threads: cores,
                ..limits
            };
            let mut row2 = explore(k, again, cores);
            row2.seconds += row.seconds;
            results[k] = Some(row2);
            second_pass += 1;
        }
    }
    for k in 0..sets.len() {
        if let Some(j) = same_as[k] {
            let from = results[j]
                .clone()
                .expect("a reused set's equivalent is explored");
            let faults = sets[k].iter().map(|&i| menu[i].describe(&spec)).collect();
            results[k] = Some(Row {
                faults,
                seconds: 0.0,
                reused_from: Some(from.faults.clone()),
                ..from
            });
        }
    }
    let rows: Vec<Row> = results
        .into_iter()
        .map(|r| r.expect("every fault set is explored or reused"))
        .collect();
    if progress {
        eprint!("\r{:100}\r", "");
    }
    let summary = summarize(&rows, max_faults, limits.timeout.unwrap_or_default());
    Plan {
        cluster: spec.name.clone(),
        heal: heal.heals(),
        reboot: heal.reboots().map(whatif::Reboots::name),
        rows,
        summary,
        seconds: start.elapsed().as_secs_f64(),
        reused: sets.len() - work.len(),
        second_pass,
    }
}

/// For each fault set, the earlier set whose answer it reuses, if any: the first set with the
/// same [`whatif::ReuseKey`] (the state after the faults, up to crashed nodes). Computing a key
/// takes one step of the model per set.
fn equivalent_sets(
    spec: &Arc<ClusterSpec>,
    menu: &[Fault],
    sets: &[Vec<usize>],
    heal: whatif::Heal,
) -> Vec<Option<usize>> {
    let mut first: HashMap<whatif::ReuseKey, usize> = HashMap::new();
    sets.iter()
        .enumerate()
        .map(|(k, set)| {
            let faults = set.iter().map(|&i| menu[i].clone()).collect();
            let key = whatif::reuse_key(spec.clone(), faults, heal, Variant::Correct)?;
            match first.entry(key) {
                Entry::Occupied(e) => Some(*e.get()),
                Entry::Vacant(e) => {
                    e.insert(k);
                    None
                }
            }
        })
        .collect()
}

/// One row: `whatif` for the fault set `set` (indices into `menu`).
fn plan_row(
    spec: &Arc<ClusterSpec>,
    menu: &[Fault],
    set: &[usize],
    heal: whatif::Heal,
    limits: Limits,
    heartbeat: &(dyn Fn(usize) + Sync),
) -> Row {
    let start = Instant::now();
    let faults: Vec<Fault> = set.iter().map(|&i| menu[i].clone()).collect();
    let mut progress = |states: usize, _depth: usize, _elapsed: Duration| heartbeat(states);
    let w = whatif::whatif(
        spec.clone(),
        faults.clone(),
        heal,
        Variant::Correct,
        limits,
        Some(&mut progress),
    );
    let quorate = w.outcomes.iter().filter(|o| !o.members.is_empty()).count();
    let verdict = if quorate == w.outcomes.len() && quorate > 0 {
        Verdict::Survives
    } else if quorate == 0 {
        Verdict::Hangs
    } else {
        Verdict::Depends
    };
    Row {
        faults: faults.iter().map(|f| f.describe(spec)).collect(),
        verdict,
        outcomes: w.outcomes,
        violations: w.violations,
        complete: w.complete,
        states: w.states,
        seconds: start.elapsed().as_secs_f64(),
        reused_from: None,
    }
}

/// A row's verdict is final: its exploration finished, or it already found a quorate and a
/// hung outcome (more outcomes cannot change "depends").
fn decided(r: &Row) -> bool {
    r.complete || r.verdict == Verdict::Depends
}

/// The summary line. A fault set counts as survived only if it was explored to the end; the
/// undecided ones (cut by the timeout before either finishing or finding both kinds of outcome)
/// are counted separately, so an incomplete search never reads as survival.
fn summarize(rows: &[Row], max_faults: usize, timeout: Duration) -> String {
    let mut parts = Vec::new();
    for k in 1..=max_faults {
        let of_k: Vec<&Row> = rows.iter().filter(|r| r.faults.len() == k).collect();
        if of_k.is_empty() {
            continue;
        }
        let ok = of_k
            .iter()
            .filter(|r| r.complete && r.verdict == Verdict::Survives)
            .count();
        let undecided = of_k.iter().filter(|r| !decided(r)).count();
        let mut part = if ok == of_k.len() {
            format!("survives every {} fault", ordinal(k))
        } else {
            format!("survives {ok} of {} {} faults", of_k.len(), ordinal(k))
        };
        if undecided > 0 {
            let _ = write!(
                part,
                " ({undecided} undecided within {} s)",
                timeout.as_secs()
            );
        }
        parts.push(part);
    }
    let split: Vec<String> = rows
        .iter()
        .filter(|r| !r.violations.is_empty())
        .map(|r| r.faults.join(" + "))
        .collect();
    parts.push(if split.is_empty() {
        "never split-brain".into()
    } else {
        format!("SPLIT-BRAIN under {}", split.join("; "))
    });
    let incomplete = rows.iter().filter(|r| !r.complete).count();
    if incomplete > 0 {
        parts.push(format!("{incomplete} fault set(s) not explored to the end"));
    }
    parts.join("; ")
}

/// The members, hung and CLUEXIT cells of a row; a row with several outcomes lists them in the
/// same order in every cell, separated by `sep`.
fn outcome_cells(r: &Row, sep: &str) -> [String; 3] {
    let join =
        |f: &dyn Fn(&Outcome) -> String| r.outcomes.iter().map(f).collect::<Vec<_>>().join(sep);
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(" ")
        }
    };
    [
        join(&|o| list(&o.members)),
        join(&|o| list(&o.hung)),
        join(&|o| list(&o.cluexit)),
    ]
}

fn render(p: &Plan, format: Format) -> String {
    let mut out = String::new();
    match format {
        Format::Json => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(p).unwrap_or_default()
            );
        }
        Format::Markdown => {
            let _ = writeln!(out, "| faults | verdict | members | hung | CLUEXIT |");
            let _ = writeln!(out, "|---|---|---|---|---|");
            for r in &p.rows {
                // A `|` would end the cell: several outcomes go on separate lines of one cell.
                let [m, h, c] = outcome_cells(r, "<br>");
                let _ = writeln!(
                    out,
                    "| {} | {:?} | {m} | {h} | {c} |",
                    r.faults.join(" + "),
                    r.verdict
                );
            }
            let _ = writeln!(out, "\n**{}**", p.summary);
        }
        Format::Table => {
            let w = p
                .rows
                .iter()
                .map(|r| r.faults.join(" + ").len())
                .max()
                .unwrap_or(6)
                .max(6);
            let _ = writeln!(
                out,
                "{:w$}  {:8}  {:28}  {:16}  CLUEXIT",
                "faults", "verdict", "members", "hung"
            );
            for r in &p.rows {
                let [m, h, c] = outcome_cells(r, " | ");
                let v = format!("{:?}", r.verdict).to_lowercase();
                let _ = writeln!(
                    out,
                    "{:w$}  {v:8}  {m:28}  {h:16}  {c}",
                    r.faults.join(" + ")
                );
            }
            let _ = writeln!(out, "\n{}", p.summary);
        }
    }
    out
}

/// The documented changes `--suggest` tries.
fn suggestions(spec: &ClusterSpec) -> Vec<(String, ClusterSpec)> {
    let mut v = Vec::new();
    let regions = spec.regions();
    if spec.quorum_disk.is_none() {
        for r in &regions {
            let mut s = spec.clone();
            s.quorum_disk = Some(QuorumDiskSpec {
                votes: 1,
                region: r.clone(),
            });
            s.expected_votes += 1;
            for n in &mut s.nodes {
                n.expected_votes += 1;
            }
            v.push((format!("quorum disk (1 vote) in {r}"), s));
        }
    }
    for i in 0..spec.len() {
        let mut s = spec.clone();
        s.nodes[i].votes += 1;
        s.expected_votes += 1;
        for n in &mut s.nodes {
            n.expected_votes += 1;
        }
        v.push((format!("one more vote on {}", spec.nodes[i].name), s));
    }
    let spare = ["LHR", "IAD", "AMS", "FRA", "ORD", "CDG"]
        .into_iter()
        .find(|r| !regions.iter().any(|x| x == r));
    if let (Some(r), true) = (spare, spec.len() < vmsc_model::config::NODES_MAX - 1) {
        let mut s = spec.clone();
        let id = spec.nodes.iter().map(|n| n.system_id).max().unwrap_or(1024) + 1;
        s.nodes.push(NodeSpec {
            name: "TIEBRK".into(),
            region: r.to_string(),
            votes: 1,
            system_id: id,
            expected_votes: spec.expected_votes + 1,
            address: None,
            lockdirwt: 1,
        });
        s.expected_votes += 1;
        for n in &mut s.nodes {
            n.expected_votes = s.expected_votes;
        }
        v.push((format!("tie-breaker node TIEBRK in {r}"), s));
    }
    v
}

/// `vmsc plan`.
pub fn run(a: PlanArgs) -> Result<ExitCode> {
    let spec = load_spec(&a.cluster)?;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let timeout = Duration::from_secs(a.timeout_s);
    let limits = Limits {
        timeout: Some(timeout),
        checker: a.checker.into(),
        states_max: a.states_max.max(1),
        ..Default::default()
    };
    let heal = crate::check::heal_of(a.heal, a.reboot);
    let p = plan_with(spec.clone(), a.max_faults, heal, limits, FIRST_PASS, tty);
    let mut out = render(&p, a.format);
    if a.format != Format::Json {
        let _ = writeln!(
            out,
            "{} fault sets over {} faults (inter-region links and nodes){}, {:.1} s; {} answered by an equivalent set (same state after the faults up to crashed nodes)",
            p.rows.len(),
            Fault::menu(&spec).len(),
            match p.reboot {
                None => "",
                Some("anytime") => ", each healed once settled (reboots at any moment)",
                Some(_) => ", each healed once settled",
            },
            p.seconds,
            p.reused
        );
    }
    if a.suggest {
        let _ = writeln!(out, "\nsuggestions (same fault vocabulary, plus the changed cluster's own new links and nodes):");
        for (what, s) in suggestions(&spec) {
            let q = plan_with(Arc::new(s), a.max_faults, heal, limits, FIRST_PASS, tty);
            let _ = writeln!(
                out,
                "  {what}: {} ({:.1} s; {} of {} fault sets reused)",
                q.summary,
                q.seconds,
                q.reused,
                q.rows.len()
            );
        }
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let ok = p.rows.iter().all(|r| r.complete && r.violations.is_empty());
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row with two outcomes stays one Markdown row of five cells: the outcomes are separated
    /// by `<br>` inside each cell (a `|` would end the cell and shift the columns).
    #[test]
    fn markdown_keeps_several_outcomes_in_their_cells() {
        let o = |m: &[&str], h: &[&str], c: &[&str]| Outcome {
            members: m.iter().map(|s| s.to_string()).collect(),
            hung: h.iter().map(|s| s.to_string()).collect(),
            cluexit: c.iter().map(|s| s.to_string()).collect(),
            down: Vec::new(),
        };
        let row = Row {
            faults: vec!["cut A-B".into()],
            verdict: Verdict::Depends,
            outcomes: vec![
                o(&["N1", "N2"], &[], &["N3"]),
                o(&["N3"], &["N4"], &["N1", "N2"]),
            ],
            violations: Vec::new(),
            complete: true,
            states: 7,
            seconds: 0.0,
            reused_from: None,
        };
        let p = Plan {
            cluster: "c".into(),
            heal: false,
            reboot: None,
            rows: vec![row],
            summary: "s".into(),
            seconds: 0.0,
            reused: 0,
            second_pass: 0,
        };
        let md = render(&p, Format::Markdown);
        let line = md.lines().nth(2).unwrap();
        assert_eq!(
            line,
            "| cut A-B | Depends | N1 N2<br>N3 | -<br>N4 | N3<br>N1 N2 |"
        );
        let table = render(&p, Format::Table);
        assert!(table.contains("N1 N2 | N3"), "{table}");
    }

    /// Explores `faults` afresh, as a row that was not reused would be.
    fn fresh(spec: &Arc<ClusterSpec>, faults: Vec<Fault>) -> whatif::WhatIf {
        whatif::whatif(
            spec.clone(),
            faults,
            false,
            Variant::Correct,
            Limits::default(),
            None,
        )
    }

    /// A fault set the first pass cuts short is explored again, from the start and on every
    /// core: with no first pass at all every set takes the second, and every row (states,
    /// outcomes, verdict, completeness) is the one a single pass gives.
    #[test]
    fn the_second_pass_gives_every_set_the_answer_of_one_pass() {
        let spec = Arc::new(
            ClusterSpec::load(std::path::Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/specs/scenarios/three-regions.toml"
            )))
            .unwrap(),
        );
        let limits = Limits {
            timeout: Some(Duration::from_secs(600)),
            ..Default::default()
        };
        let row = |r: &Row| {
            (
                r.faults.clone(),
                r.states,
                r.outcomes.clone(),
                r.verdict,
                r.complete,
            )
        };
        let one = plan_with(
            spec.clone(),
            2,
            true,
            limits,
            Duration::from_secs(600),
            false,
        );
        let two = plan_with(spec, 2, true, limits, Duration::ZERO, false);
        assert_eq!(
            one.rows.iter().map(row).collect::<Vec<_>>(),
            two.rows.iter().map(row).collect::<Vec<_>>()
        );
        assert!(two.rows.iter().all(|r| r.complete));
        assert_eq!(one.rows.len(), 21);
        assert_eq!(one.second_pass, 0);
        assert!(two.second_pass > 0, "{}", two.second_pass);
    }

    #[test]
    fn seed_plan_reuses_exactly_the_crashed_tie_breakers_link_cuts() {
        let spec = Arc::new(ClusterSpec::seed());
        let p = plan_with(
            spec.clone(),
            2,
            false,
            Limits {
                timeout: Some(Duration::from_secs(600)),
                ..Default::default()
            },
            FIRST_PASS,
            false,
        );
        let reused: Vec<(String, String)> = p
            .rows
            .iter()
            .filter_map(|r| Some((r.faults.join(" + "), r.reused_from.as_ref()?.join(" + "))))
            .collect();
        let want = [
            ("cut FRA-LHR + crash UK1", "crash UK1"),
            ("cut LHR-ORD + crash UK1", "crash UK1"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(reused, want);
        assert_eq!(p.reused, 2);
        let menu = Fault::menu(&spec);
        for r in p.rows.iter().filter(|r| r.reused_from.is_some()) {
            let faults = r
                .faults
                .iter()
                .map(|d| {
                    menu.iter()
                        .find(|f| f.describe(&spec) == *d)
                        .unwrap()
                        .clone()
                })
                .collect();
            let w = fresh(&spec, faults);
            assert_eq!(
                (&r.outcomes, &r.violations, r.complete, r.states),
                (&w.outcomes, &w.violations, w.complete, w.states),
                "{:?}",
                r.faults
            );
        }
    }

    /// On the tie-breaker suggestion (six nodes, two single-node regions), every pair of fault
    /// sets `equivalent_sets` matches gives the same answer when both are explored.
    #[test]
    fn reused_sets_of_the_tie_breaker_topology_explore_identically() {
        let seed = ClusterSpec::seed();
        let (what, spec) = suggestions(&seed).pop().unwrap();
        assert_eq!(what, "tie-breaker node TIEBRK in IAD");
        let spec = Arc::new(spec);
        let menu = Fault::menu(&spec);
        let sets: Vec<Vec<usize>> = (1..=2).flat_map(|k| combinations(menu.len(), k)).collect();
        let same_as = equivalent_sets(&spec, &menu, &sets, whatif::Heal::No);
        let pairs: Vec<(usize, usize)> = same_as
            .iter()
            .enumerate()
            .filter_map(|(k, j)| Some((k, (*j)?)))
            .collect();
        let name = |k: usize| {
            let v: Vec<String> = sets[k].iter().map(|&i| menu[i].describe(&spec)).collect();
            v.join(" + ")
        };
        let named: Vec<String> = pairs
            .iter()
            .map(|&(k, j)| format!("{} = {}", name(k), name(j)))
            .collect();
        assert_eq!(
            named,
            [
                "cut FRA-LHR + crash UK1 = crash UK1",
                "cut FRA-IAD + crash TIEBRK = crash TIEBRK",
                "cut LHR-ORD + crash UK1 = crash UK1",
                "cut LHR-IAD + crash UK1 = crash UK1",
                "cut LHR-IAD + crash TIEBRK = crash TIEBRK",
                "cut ORD-IAD + crash TIEBRK = crash TIEBRK",
            ]
        );
        let faults = |k: usize| sets[k].iter().map(|&i| menu[i].clone()).collect();
        for &(k, j) in &pairs {
            let (a, b) = (fresh(&spec, faults(k)), fresh(&spec, faults(j)));
            assert!(a.complete && b.complete);
            assert_eq!(
                (&a.outcomes, &a.violations, a.states),
                (&b.outcomes, &b.violations, b.states),
                "{}",
                name(k)
            );
        }
    }

    #[test]
    fn an_incomplete_row_is_undecided_unless_it_already_depends() {
        let row = |faults: usize, verdict, complete| Row {
            faults: vec!["x".into(); faults],
            verdict,
            outcomes: Vec::new(),
            violations: Vec::new(),
            complete,
            states: 0,
            seconds: 0.0,
            reused_from: None,
        };
        let rows = [
            row(1, Verdict::Survives, true),
            row(1, Verdict::Survives, false),
            row(2, Verdict::Survives, true),
            row(2, Verdict::Depends, false),
            row(2, Verdict::Hangs, false),
        ];
        assert_eq!(
            summarize(&rows, 2, Duration::from_secs(120)),
            "survives 1 of 2 single faults (1 undecided within 120 s); \
             survives 1 of 3 double faults (1 undecided within 120 s); never split-brain; \
             3 fault set(s) not explored to the end"
        );
    }
}
