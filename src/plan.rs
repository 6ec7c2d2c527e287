//! `vmsc plan`: a survivability matrix — for every combination of up to N faults (inter-region
//! links and nodes), the outcomes exhaustive exploration gives, as `whatif` would.

use crate::check::load_spec;
use anyhow::Result;
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vmsc_model::checker::Checker;
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
    /// Give up on a fault set after this many seconds (it is then reported incomplete).
    #[arg(long, default_value_t = 120)]
    pub timeout_s: u64,
    /// The search behind every fault set (see `vmsc check --help`).
    #[arg(long, value_enum, default_value = "reduced")]
    pub checker: crate::check::CheckerArg,
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
    /// States explored.
    pub states: usize,
}

/// The matrix and its summary.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The cluster's name.
    pub cluster: String,
    /// One row per fault set.
    pub rows: Vec<Row>,
    /// The one-line summary.
    pub summary: String,
    /// Wall time.
    pub seconds: f64,
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

/// Computes the matrix with `checker`.
pub fn plan_with(
    spec: Arc<ClusterSpec>,
    max_faults: usize,
    timeout: Duration,
    progress: bool,
    checker: Checker,
) -> Plan {
    let start = Instant::now();
    let menu = Fault::menu(&spec);
    let sets: Vec<Vec<usize>> = (1..=max_faults.min(menu.len()))
        .flat_map(|k| combinations(menu.len(), k))
        .collect();
    // Fault sets are independent: one worker per core takes the next set until none is left.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(sets.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Row>>> = Mutex::new(vec![None; sets.len()]);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(set) = sets.get(k) else { break };
                let row = plan_row(&spec, &menu, set, timeout, checker, &|states| {
                    if progress {
                        // On a TTY: sets finished, the set this worker explores and how many
                        // states it has visited (refreshed about once a second), elapsed time.
                        eprint!(
                            "\rplan: {}/{} fault sets done; set {} at {states} states; {:.0} s   ",
                            done.load(Ordering::Relaxed),
                            sets.len(),
                            k + 1,
                            start.elapsed().as_secs_f64()
                        );
                        let _ = std::io::stderr().flush();
                    }
                });
                done.fetch_add(1, Ordering::Relaxed);
                results.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(row);
            });
        }
    });
    let rows: Vec<Row> = results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every fault set is explored"))
        .collect();
    if progress {
        eprint!("\r{:100}\r", "");
    }
    let summary = summarize(&rows, max_faults);
    Plan {
        cluster: spec.name.clone(),
        rows,
        summary,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// One row: `whatif` for the fault set `set` (indices into `menu`).
fn plan_row(
    spec: &Arc<ClusterSpec>,
    menu: &[Fault],
    set: &[usize],
    timeout: Duration,
    checker: Checker,
    heartbeat: &(dyn Fn(usize) + Sync),
) -> Row {
    let faults: Vec<Fault> = set.iter().map(|&i| menu[i].clone()).collect();
    let mut progress = |states: usize, _depth: usize, _elapsed: Duration| heartbeat(states);
    let w = whatif::whatif(
        spec.clone(),
        faults.clone(),
        false,
        Variant::Correct,
        Limits {
            timeout: Some(timeout),
            checker,
            ..Default::default()
        },
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
    }
}

fn summarize(rows: &[Row], max_faults: usize) -> String {
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
        parts.push(if ok == of_k.len() {
            format!("survives every {} fault", ordinal(k))
        } else {
            format!("survives {ok} of {} {} faults", of_k.len(), ordinal(k))
        });
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

fn outcome_cells(r: &Row) -> [String; 3] {
    let join =
        |f: &dyn Fn(&Outcome) -> String| r.outcomes.iter().map(f).collect::<Vec<_>>().join(" | ");
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
                let [m, h, c] = outcome_cells(r);
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
                let [m, h, c] = outcome_cells(r);
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
    let checker: Checker = a.checker.into();
    let p = plan_with(spec.clone(), a.max_faults, timeout, tty, checker);
    let mut out = render(&p, a.format);
    if a.format != Format::Json {
        let _ = writeln!(
            out,
            "{} fault sets over {} faults (inter-region links and nodes), {:.1} s",
            p.rows.len(),
            Fault::menu(&spec).len(),
            p.seconds
        );
    }
    if a.suggest {
        let _ = writeln!(out, "\nsuggestions (same fault vocabulary, plus the changed cluster's own new links and nodes):");
        for (what, s) in suggestions(&spec) {
            let q = plan_with(Arc::new(s), a.max_faults, timeout, tty, checker);
            let _ = writeln!(out, "  {what}: {} ({:.1} s)", q.summary, q.seconds);
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
