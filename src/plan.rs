//! `vmsc plan`: a survivability matrix — for every combination of up to N faults (inter-region
//! links and nodes), the outcomes exhaustive exploration gives, as `whatif` would.

use crate::args::{CheckerArgs, LimitArgs, ModelArgs, Progress, ProgressArgs, RebootArg};
use crate::check::count;
use anyhow::Result;
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::collections::hash_map::{Entry, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vmsc_model::cluster_model::Fault;
use vmsc_model::config::{ClusterSpec, NodeSpec, QuorumDiskSpec};
use vmsc_model::dlm::DlmVariant;
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

/// `vmsc plan --timeout-s`'s default: each fault set's time limit.
pub const TIMEOUT_S_DEFAULT: u64 = 120;

/// Arguments of `vmsc plan`.
#[derive(Args, Debug)]
#[command(
    mut_arg("timeout_s", |a| a
        .default_value("120")
        .help("Give up on a fault set after this many seconds (it is then reported incomplete)")),
    mut_arg("states_max", |a| a.help(
        "Give up on a fault set once this many unique states are known (it is then reported \
         incomplete); memory grows with it (about 40 bytes per state, plus the search \
         frontier)")),
    mut_arg("threads", |a| a.help(
        "Workers: 0 (the default) = one per core. The first pass explores this many fault sets \
         at once, one per worker; the second pass explores each set it takes on this many \
         workers. The rows are the same either way")),
)]
pub struct PlanArgs {
    #[command(flatten)]
    pub model: ModelArgs,
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
    pub reboot: RebootArg,
    #[command(flatten)]
    pub search: CheckerArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

/// `vmsc plan --help`'s examples.
pub const PLAN_EXAMPLES: &str = "\
Examples:
  vmsc plan                                   # the seed topology, up to 2 faults
  vmsc plan --suggest --max-faults 1          # ... and what a quorum disk, a vote or a node changes
  vmsc plan specs/scenarios/three-regions.toml --heal --format json
  vmsc plan --heal --timeout-s 900 --progress always 2> plan.log
  vmsc plan specs/scenarios/three-regions.toml --variant half-quorum --max-faults 1";

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
    /// The exploration stopped (at `--timeout-s` or `--states-max`) before it could tell: the
    /// outcomes listed are those found so far, and none is both quorate and hung.
    Undecided,
}

impl Verdict {
    /// The verdict of a fault set whose exploration gave `outcomes` and was `complete` or not.
    /// Outcomes with and without a quorate cluster decide "depends" however the exploration
    /// ended (more outcomes cannot change it); anything else needs the exploration complete.
    pub fn of(outcomes: &[Outcome], complete: bool) -> Verdict {
        let quorate = outcomes.iter().filter(|o| !o.members.is_empty()).count();
        if quorate > 0 && quorate < outcomes.len() {
            Verdict::Depends
        } else if !complete {
            Verdict::Undecided
        } else if quorate > 0 {
            Verdict::Survives
        } else {
            Verdict::Hangs
        }
    }
}

/// One row of the matrix.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The faults, as the CLI names them.
    pub faults: Vec<String>,
    /// Survives, depends or hangs; undecided if the exploration stopped before it could tell.
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

/// How [`plan_with`] explores each fault set.
#[derive(Clone, Copy, Debug)]
pub struct Exploration<'a> {
    /// The protocol variant.
    pub variant: Variant,
    /// The lock-manager variant.
    pub dlm: DlmVariant,
    /// Each fault set's limits and checker (`threads` is ignored: see `workers`).
    pub limits: Limits,
    /// The first pass's time limit on a set ([`FIRST_PASS`] from the command line).
    pub first_pass: Duration,
    /// How many sets the first pass explores at once, and how many workers explore each set
    /// of the second pass.
    pub workers: usize,
    /// Where progress goes.
    pub progress: &'a Progress,
    /// What the progress lines begin with (`plan`, or the suggestion being planned).
    pub label: &'a str,
}

impl<'a> Exploration<'a> {
    /// The correct protocol, one worker per core, no progress shown.
    pub fn new(limits: Limits, first_pass: Duration, progress: &'a Progress) -> Self {
        Exploration {
            variant: Variant::Correct,
            dlm: DlmVariant::Correct,
            limits,
            first_pass,
            workers: crate::args::threads(0),
            progress,
            label: "plan",
        }
    }
}

/// The fault sets of a plan, which of them are explored, and how far that has got.
struct Sets<'a> {
    spec: &'a Arc<ClusterSpec>,
    menu: Vec<Fault>,
    sets: Vec<Vec<usize>>,
    heal: whatif::Heal,
    start: Instant,
}

impl Sets<'_> {
    fn describe(&self, k: usize) -> Vec<String> {
        self.sets[k]
            .iter()
            .map(|&i| self.menu[i].describe(self.spec))
            .collect()
    }

    /// Explores set `k` within `limits`, reporting progress (when it starts, then about once a
    /// second) with the pass that `pass` describes.
    fn explore(
        &self,
        run: &Exploration,
        k: usize,
        limits: Limits,
        pass: &(dyn Fn() -> String + Sync),
    ) -> Row {
        let what = self.describe(k).join(" + ");
        let heartbeat = |states: usize| {
            run.progress.report(|| {
                format!(
                    "{}: {}; set {} ({what}) at {states} states; {:.0} s",
                    run.label,
                    pass(),
                    k + 1,
                    self.start.elapsed().as_secs_f64()
                )
            })
        };
        heartbeat(0);
        plan_row(
            self.spec,
            &self.menu,
            &self.sets[k],
            self.heal,
            run,
            limits,
            &heartbeat,
        )
    }
}

/// Computes the matrix: every fault set on one thread first (`run.workers` sets at once), for
/// at most `run.first_pass` each; then the sets that needed more time again from the start,
/// one at a time on `run.workers` workers, for the rest of their time limit.
pub fn plan_with(
    spec: Arc<ClusterSpec>,
    max_faults: usize,
    heal: impl Into<whatif::Heal>,
    run: &Exploration,
) -> Plan {
    let heal = heal.into();
    let menu = Fault::menu(&spec);
    let sets: Vec<Vec<usize>> = (1..=max_faults.min(menu.len()))
        .flat_map(|k| combinations(menu.len(), k))
        .collect();
    let same_as = equivalent_sets(&spec, &menu, &sets, heal, run.variant);
    let work: Vec<usize> = (0..sets.len()).filter(|&k| same_as[k].is_none()).collect();
    let p = Sets {
        spec: &spec,
        menu,
        sets,
        heal,
        start: Instant::now(),
    };
    let mut results = first_pass(&p, run, &work);
    let second_pass = second_pass(&p, run, &work, &mut results);
    for k in 0..p.sets.len() {
        if let Some(j) = same_as[k] {
            let from = results[j]
                .clone()
                .expect("a reused set's equivalent is explored");
            results[k] = Some(Row {
                faults: p.describe(k),
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
    run.progress.clear();
    let summary = summarize(&rows, max_faults, &run.limits);
    Plan {
        cluster: spec.name.clone(),
        heal: heal.heals(),
        reboot: heal.reboots().map(whatif::Reboots::name),
        rows,
        summary,
        seconds: p.start.elapsed().as_secs_f64(),
        reused: p.sets.len() - work.len(),
        second_pass,
    }
}

/// First pass: fault sets are independent, so each worker takes the next set until none is
/// left, each set on one thread for at most `run.first_pass` of its time limit.
fn first_pass(p: &Sets, run: &Exploration, work: &[usize]) -> Vec<Option<Row>> {
    let limits = Limits {
        timeout: run.limits.timeout.map(|t| t.min(run.first_pass)),
        threads: 1,
        ..run.limits
    };
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Row>>> = Mutex::new(vec![None; p.sets.len()]);
    let next = AtomicUsize::new(0);
    let pass = || {
        format!(
            "first pass, {} of {} done",
            done.load(Ordering::Relaxed),
            count(work.len(), "fault set", "fault sets")
        )
    };
    std::thread::scope(|scope| {
        for _ in 0..run.workers.min(work.len()).max(1) {
            scope.spawn(|| {
                while let Some(&k) = work.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let row = p.explore(run, k, limits, &pass);
                    done.fetch_add(1, Ordering::Relaxed);
                    results.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(row);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Second pass: the sets the first pass cut short by time are explored again from the start,
/// one after another, each on every worker, for the rest of its time limit. (With one set per
/// core, the largest set would finish last on one core while the others idle.) Returns how
/// many sets it explored.
fn second_pass(p: &Sets, run: &Exploration, work: &[usize], results: &mut [Option<Row>]) -> usize {
    let Some(timeout) = run.limits.timeout.filter(|&t| t > run.first_pass) else {
        return 0;
    };
    let again: Vec<usize> = work
        .iter()
        .copied()
        .filter(|&k| {
            results[k]
                .as_ref()
                .is_some_and(|r| !r.complete && r.states < run.limits.states_max)
        })
        .collect();
    for (i, &k) in again.iter().enumerate() {
        let Some(first) = &results[k] else { continue };
        let spent = Duration::from_secs_f64(first.seconds);
        let limits = Limits {
            timeout: Some(timeout.saturating_sub(spent)),
            threads: run.workers,
            ..run.limits
        };
        let pass = || {
            format!(
                "second pass, {} of {} on {}",
                i + 1,
                again.len(),
                count(run.workers, "worker", "workers")
            )
        };
        let mut row = p.explore(run, k, limits, &pass);
        row.seconds += first.seconds;
        results[k] = Some(row);
    }
    again.len()
}

/// For each fault set, the earlier set whose answer it reuses, if any: the first set with the
/// same [`whatif::ReuseKey`] (the state after the faults, up to crashed nodes). Computing a key
/// takes one step of the model per set.
fn equivalent_sets(
    spec: &Arc<ClusterSpec>,
    menu: &[Fault],
    sets: &[Vec<usize>],
    heal: whatif::Heal,
    variant: Variant,
) -> Vec<Option<usize>> {
    let mut first: HashMap<whatif::ReuseKey, usize> = HashMap::new();
    sets.iter()
        .enumerate()
        .map(|(k, set)| {
            let faults = set.iter().map(|&i| menu[i].clone()).collect();
            let key = whatif::reuse_key(spec.clone(), faults, heal, variant)?;
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

/// One row: `whatif` for the fault set `set` (indices into `menu`), as `run` says, within
/// `limits`.
fn plan_row(
    spec: &Arc<ClusterSpec>,
    menu: &[Fault],
    set: &[usize],
    heal: whatif::Heal,
    run: &Exploration,
    limits: Limits,
    heartbeat: &(dyn Fn(usize) + Sync),
) -> Row {
    let start = Instant::now();
    let faults: Vec<Fault> = set.iter().map(|&i| menu[i].clone()).collect();
    let mut progress = |states: usize, _depth: usize, _elapsed: Duration| heartbeat(states);
    let m = whatif::whatif_model(spec.clone(), faults.clone(), heal, run.variant);
    let m = crate::args::with_dlm(m, run.dlm);
    let w = whatif::whatif_on(&m, limits, Some(&mut progress));
    Row {
        faults: faults.iter().map(|f| f.describe(spec)).collect(),
        verdict: Verdict::of(&w.outcomes, w.complete),
        outcomes: w.outcomes,
        violations: w.violations,
        complete: w.complete,
        states: w.states,
        seconds: start.elapsed().as_secs_f64(),
        reused_from: None,
    }
}

/// The limits an undecided row stopped at: `10 s`, `5000 states`, or both.
fn limits_hit(undecided: &[&&Row], limits: &Limits) -> String {
    let by_states = undecided.iter().any(|r| r.states >= limits.states_max);
    let by_time = undecided.iter().any(|r| r.states < limits.states_max);
    let time = limits.timeout.map(|t| format!("{} s", t.as_secs()));
    let states = format!("{} states", limits.states_max);
    match (by_time, by_states, time) {
        (true, true, Some(t)) => format!("{t} or {states}"),
        (true, _, Some(t)) => t,
        _ => states,
    }
}

/// The summary line. A fault set counts as survived only if it was explored to the end; the
/// undecided ones (cut by a limit before either finishing or finding both kinds of outcome)
/// are counted separately, so an incomplete search never reads as survival.
fn summarize(rows: &[Row], max_faults: usize, limits: &Limits) -> String {
    let mut parts = Vec::new();
    for k in 1..=max_faults {
        let of_k: Vec<&Row> = rows.iter().filter(|r| r.faults.len() == k).collect();
        if of_k.is_empty() {
            continue;
        }
        let ok = of_k
            .iter()
            .filter(|r| r.verdict == Verdict::Survives)
            .count();
        let undecided: Vec<&&Row> = of_k
            .iter()
            .filter(|r| r.verdict == Verdict::Undecided)
            .collect();
        let kind = format!("{} fault", ordinal(k));
        let mut part = if ok == of_k.len() {
            format!("survives every {kind}")
        } else {
            format!(
                "survives {ok} of {}",
                count(of_k.len(), &kind, &format!("{kind}s"))
            )
        };
        if !undecided.is_empty() {
            let _ = write!(
                part,
                " ({} undecided within {})",
                undecided.len(),
                limits_hit(&undecided, limits)
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
        parts.push(format!(
            "{} not explored to the end",
            count(incomplete, "fault set", "fault sets")
        ));
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
            let verdict = |r: &Row| format!("{:?}", r.verdict).to_lowercase();
            let vw = p
                .rows
                .iter()
                .map(|r| verdict(r).len())
                .max()
                .unwrap_or(0)
                .max(8);
            let w = p
                .rows
                .iter()
                .map(|r| r.faults.join(" + ").len())
                .max()
                .unwrap_or(6)
                .max(6);
            let _ = writeln!(
                out,
                "{:w$}  {:vw$}  {:28}  {:16}  CLUEXIT",
                "faults", "verdict", "members", "hung"
            );
            for r in &p.rows {
                let [m, h, c] = outcome_cells(r, " | ");
                let v = verdict(r);
                let _ = writeln!(
                    out,
                    "{:w$}  {v:vw$}  {m:28}  {h:16}  {c}",
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
    let spec = a.model.spec()?;
    let progress = a.progress.reporter();
    let limits = Limits {
        timeout: Some(Duration::from_secs(
            a.limits.timeout_s.unwrap_or(TIMEOUT_S_DEFAULT),
        )),
        checker: a.search.checker().into(),
        states_max: a.limits.states_max.max(1),
        ..Default::default()
    };
    let run = Exploration {
        variant: a.model.variant.into(),
        dlm: a.model.dlm_variant.into(),
        workers: a.search.workers(),
        ..Exploration::new(limits, FIRST_PASS, &progress)
    };
    let heal = crate::args::heal_of(a.heal, a.reboot);
    let p = plan_with(spec.clone(), a.max_faults, heal, &run);
    let mut out = render(&p, a.format);
    if a.format != Format::Json {
        let _ = writeln!(
            out,
            "{} over {} (inter-region links and nodes){}, {:.1} s; {} answered by an equivalent set (same state after the faults up to crashed nodes)",
            count(p.rows.len(), "fault set", "fault sets"),
            count(Fault::menu(&spec).len(), "fault", "faults"),
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
        suggest(&mut out, &spec, a.max_faults, heal, &run);
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

/// `--suggest`: the plan of each documented change, one summary line each; progress names the
/// suggestion being planned.
fn suggest(
    out: &mut String,
    spec: &ClusterSpec,
    max_faults: usize,
    heal: whatif::Heal,
    run: &Exploration,
) {
    let _ = writeln!(out, "\nsuggestions (same fault vocabulary, plus the changed cluster's own new links and nodes):");
    let all = suggestions(spec);
    for (i, (what, s)) in all.iter().enumerate() {
        let label = format!("plan: suggestion {} of {} ({what})", i + 1, all.len());
        let q = plan_with(
            Arc::new(s.clone()),
            max_faults,
            heal,
            &Exploration {
                label: &label,
                ..*run
            },
        );
        let _ = writeln!(
            out,
            "  {what}: {} ({:.1} s; {} of {} reused)",
            q.summary,
            q.seconds,
            q.reused,
            count(q.rows.len(), "fault set", "fault sets")
        );
    }
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
        let off = Progress::off();
        let one = plan_with(
            spec.clone(),
            2,
            true,
            &Exploration::new(limits, Duration::from_secs(600), &off),
        );
        let two = plan_with(
            spec,
            2,
            true,
            &Exploration::new(limits, Duration::ZERO, &off),
        );
        assert_eq!(
            one.rows.iter().map(row).collect::<Vec<_>>(),
            two.rows.iter().map(row).collect::<Vec<_>>()
        );
        assert!(two.rows.iter().all(|r| r.complete));
        assert_eq!(one.rows.len(), 21);
        assert_eq!(one.second_pass, 0);
        assert!(two.second_pass > 0, "{}", two.second_pass);
    }

    /// Progress names the suggestion being planned, the pass, and the set each pass is on: the
    /// second pass does not repeat the first pass's "all done".
    #[test]
    fn progress_names_the_suggestion_the_pass_and_the_set() {
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
        let progress = Progress::capture(Duration::ZERO);
        let run = Exploration {
            workers: 1,
            label: "plan: suggestion 2 of 9 (x)",
            ..Exploration::new(limits, Duration::ZERO, &progress)
        };
        let p = plan_with(spec, 1, true, &run);
        assert!(p.second_pass > 0);
        let lines: Vec<String> = progress
            .captured()
            .lines()
            .filter(|l| l.contains(" at 0 states; "))
            .map(|l| l.rsplit_once("; ").unwrap().0.to_string())
            .collect();
        let set = |k: usize, name: &str| format!("set {k} ({name}) at 0 states");
        let mut want = Vec::new();
        for (k, name) in ["cut FRA-LHR", "cut FRA-ORD", "cut LHR-ORD"]
            .iter()
            .enumerate()
        {
            want.push(format!(
                "plan: suggestion 2 of 9 (x): first pass, {k} of 6 fault sets done; {}",
                set(k + 1, name)
            ));
        }
        let second: Vec<&String> = lines.iter().filter(|l| l.contains("second")).collect();
        assert_eq!(lines[..3], want[..]);
        assert_eq!(second.len(), p.second_pass);
        for (i, line) in second.iter().enumerate() {
            let want = format!(
                "plan: suggestion 2 of 9 (x): second pass, {} of {} on 1 worker; set ",
                i + 1,
                p.second_pass
            );
            assert!(line.starts_with(&want), "{line}");
        }
    }

    #[test]
    fn seed_plan_reuses_exactly_the_crashed_tie_breakers_link_cuts() {
        let spec = Arc::new(ClusterSpec::seed());
        let limits = Limits {
            timeout: Some(Duration::from_secs(600)),
            ..Default::default()
        };
        let off = Progress::off();
        let p = plan_with(
            spec.clone(),
            2,
            false,
            &Exploration::new(limits, FIRST_PASS, &off),
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
        let same_as = equivalent_sets(&spec, &menu, &sets, whatif::Heal::No, Variant::Correct);
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

    fn outcome(members: &[&str], hung: &[&str]) -> Outcome {
        Outcome {
            members: members.iter().map(|s| s.to_string()).collect(),
            hung: hung.iter().map(|s| s.to_string()).collect(),
            cluexit: Vec::new(),
            down: Vec::new(),
        }
    }

    /// An exploration that stopped is undecided unless it already found a quorate and a hung
    /// outcome (more outcomes cannot undo "depends"); a complete one is decided by its outcomes.
    #[test]
    fn an_incomplete_exploration_is_undecided_unless_it_already_depends() {
        let quorate = outcome(&["N1", "N2"], &["N3"]);
        let hung = outcome(&[], &["N1", "N2", "N3"]);
        let verdict = |outcomes: &[&Outcome], complete| {
            let outcomes: Vec<Outcome> = outcomes.iter().map(|o| (*o).clone()).collect();
            Verdict::of(&outcomes, complete)
        };
        assert_eq!(verdict(&[&quorate], true), Verdict::Survives);
        assert_eq!(verdict(&[&quorate], false), Verdict::Undecided);
        assert_eq!(verdict(&[&hung], true), Verdict::Hangs);
        assert_eq!(verdict(&[&hung], false), Verdict::Undecided);
        assert_eq!(verdict(&[], false), Verdict::Undecided);
        assert_eq!(verdict(&[&quorate, &hung], true), Verdict::Depends);
        assert_eq!(verdict(&[&quorate, &hung], false), Verdict::Depends);
    }

    /// Undecided rows are counted apart, with the limit that stopped them, and never as
    /// survived; a "depends" row that stopped is decided.
    #[test]
    fn an_incomplete_row_is_undecided_unless_it_already_depends() {
        let row = |faults: usize, verdict, complete, states| Row {
            faults: vec!["x".into(); faults],
            verdict,
            outcomes: Vec::new(),
            violations: Vec::new(),
            complete,
            states,
            seconds: 0.0,
            reused_from: None,
        };
        let rows = [
            row(1, Verdict::Survives, true, 10),
            row(1, Verdict::Undecided, false, 10),
            row(2, Verdict::Survives, true, 10),
            row(2, Verdict::Depends, false, 10),
            row(2, Verdict::Undecided, false, 10),
        ];
        let limits = |states_max| Limits {
            timeout: Some(Duration::from_secs(120)),
            states_max,
            ..Default::default()
        };
        assert_eq!(
            summarize(&rows, 2, &limits(1000)),
            "survives 1 of 2 single faults (1 undecided within 120 s); \
             survives 1 of 3 double faults (1 undecided within 120 s); never split-brain; \
             3 fault sets not explored to the end"
        );
        assert_eq!(
            summarize(&rows[..2], 1, &limits(10)),
            "survives 1 of 2 single faults (1 undecided within 10 states); never split-brain; \
             1 fault set not explored to the end"
        );
        let mixed = [row(1, Verdict::Undecided, false, 10), rows[1].clone()];
        let mixed = [
            mixed[0].clone(),
            Row {
                states: 3,
                ..mixed[1].clone()
            },
        ];
        assert_eq!(
            summarize(&mixed, 1, &limits(10)),
            "survives 0 of 2 single faults (2 undecided within 120 s or 10 states); \
             never split-brain; 2 fault sets not explored to the end"
        );
    }

    /// An undecided row says so in every format, whatever outcomes it has found so far; the
    /// table's verdict column widens for it, and the JSON row keeps `complete`.
    #[test]
    fn an_undecided_row_is_rendered_undecided() {
        let outcomes = vec![outcome(&["N1", "N2"], &[])];
        let row = Row {
            faults: vec!["cut A-B".into()],
            verdict: Verdict::of(&outcomes, false),
            outcomes,
            violations: Vec::new(),
            complete: false,
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
        let table = render(&p, Format::Table);
        assert_eq!(
            table.lines().take(2).collect::<Vec<_>>(),
            [
                "faults   verdict    members                       hung              CLUEXIT",
                "cut A-B  undecided  N1 N2                         -                 -",
            ]
        );
        let md = render(&p, Format::Markdown);
        assert_eq!(
            md.lines().nth(2),
            Some("| cut A-B | Undecided | N1 N2 | - | - |")
        );
        let json: serde_json::Value = serde_json::from_str(&render(&p, Format::Json)).unwrap();
        assert_eq!(json["rows"][0]["verdict"], "undecided");
        assert_eq!(json["rows"][0]["complete"], false);
    }
}
