//! Benchmark of issue 7's target: the seed topology (5 nodes, 1 vote each) under every set of up
//! to 2 simultaneous faults (inter-region links and nodes), healed once settled — what
//! `vmsc plan --heal` explores. Per set and in all: unique states, wall time, states per second,
//! completeness, and the process's peak memory; optionally Stateright's own depth-first checker
//! on the same model, with its time, where it finishes. Each set runs on every core, one after
//! another (`plan` also runs the small ones side by side first). Not a test: it prints a table.
//!
//! `cargo run --release -p vmsc-model --example bench_seed_heal [settled|anytime] [TIMEOUT_S] [SR_TIMEOUT_S]`
//!
//! `settled` (default) and `anytime` are the reboot timings of `--reboot`; TIMEOUT_S (default
//! 900) bounds each set; SR_TIMEOUT_S (default 0: skipped) bounds each Stateright run.
mod common;

use common::peak_rss_mb;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vmsc_model::checker::Checker;
use vmsc_model::cluster_model::Fault;
use vmsc_model::config::ClusterSpec;
use vmsc_model::whatif::{whatif, Heal, Limits, Reboots, Variant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reboots = match args.get(1).map(String::as_str) {
        None | Some("settled") => Reboots::Settled,
        Some("anytime") => Reboots::Anytime,
        Some(other) => panic!("expected settled or anytime, not {other}"),
    };
    let timeout_s: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(900);
    let sr_timeout_s: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let spec = Arc::new(ClusterSpec::seed());
    let menu = Fault::menu(&spec);
    let mut sets: Vec<Vec<usize>> = (0..menu.len()).map(|i| vec![i]).collect();
    for i in 0..menu.len() {
        sets.extend((i + 1..menu.len()).map(|j| vec![i, j]));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let limits = |checker, timeout_s| Limits {
        states_max: 500_000_000,
        timeout: Some(Duration::from_secs(timeout_s)),
        checker,
        threads: cores,
    };
    println!(
        "seed, {} fault sets, healed once settled, reboots {}, {cores} workers",
        sets.len(),
        reboots.name()
    );
    println!("| fault set | unique states | s | states/s | complete | outcomes | violations | stateright-dfs states | its s | time factor |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let start = Instant::now();
    let (mut states, mut complete) = (0usize, 0usize);
    for set in &sets {
        let faults: Vec<Fault> = set.iter().map(|&i| menu[i].clone()).collect();
        let label: Vec<String> = faults.iter().map(|f| f.describe(&spec)).collect();
        let heal = Heal::Yes(reboots);
        let t = Instant::now();
        let w = whatif(
            spec.clone(),
            faults.clone(),
            heal,
            Variant::Correct,
            limits(Checker::Reduced, timeout_s),
            None,
        );
        let s = t.elapsed().as_secs_f64();
        states += w.states;
        complete += usize::from(w.complete);
        let sr = if sr_timeout_s > 0 {
            let t = Instant::now();
            let r = whatif(
                spec.clone(),
                faults,
                heal,
                Variant::Correct,
                limits(Checker::StaterightDfs, sr_timeout_s),
                None,
            );
            let rs = t.elapsed().as_secs_f64();
            if r.complete {
                format!("{} | {rs:.1} | {:.1}×", r.states, rs / s.max(1e-3))
            } else {
                format!("> {} | > {rs:.0} | —", r.states)
            }
        } else {
            "— | — | —".to_string()
        };
        println!(
            "| {} | {} | {s:.1} | {:.0} | {} | {} | {} | {sr} |",
            label.join(" + "),
            w.states,
            w.states as f64 / s.max(1e-3),
            if w.complete { "yes" } else { "no" },
            w.outcomes.len(),
            w.violations.len(),
        );
    }
    let wall = start.elapsed().as_secs_f64();
    println!(
        "\nin all: {states} unique states, {complete} of {} sets complete, {wall:.1} s, {:.0} states/s, peak {:.0} MB",
        sets.len(),
        states as f64 / wall,
        peak_rss_mb()
    );
}
