//! Benchmark: the checkers side by side on the same models (vmsc's reduced search on 1 and 2
//! threads, the persistent-set search) — unique states, transitions executed, states per second,
//! wall time and peak memory — plus the sleep-set counts; then the seed's simultaneous fault sets
//! healed once settled (`whatif --heal`), where the persistent sets act, with the reduction
//! factor against the full state count (which Stateright's DFS also visits). Not a test: it
//! prints two tables.
//!
//! `cargo run --release -p vmsc-model --example bench_checkers [TIMEOUT_S] [CONFIG_FILTER]`
//!
//! Peak memory is the process's high-water mark so far (`VmHWM`), so it is only meaningful for
//! the largest run; run one configuration per process (CONFIG_FILTER) for exact per-run figures.
mod common;

use common::peak_rss_mb;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vmsc_model::checker::{self, Checker};
use vmsc_model::cluster_model::{ClusterModel, Fault};
use vmsc_model::config::ClusterSpec;
use vmsc_model::explore::{Options, Report, SleepStats, Strategy};
use vmsc_model::whatif::{check_model, whatif_model, Variant};

/// One depth-first run of `c` on `threads` workers, cut after `timeout_s`, with its wall time.
fn timed(
    m: &ClusterModel,
    c: Checker,
    threads: usize,
    timeout_s: u64,
) -> (Report, SleepStats, f64) {
    let start = Instant::now();
    let opts = Options {
        strategy: Strategy::Dfs,
        deadline: Some(start + Duration::from_secs(timeout_s)),
        ..Default::default()
    };
    let (r, sleep) = checker::run_threads(m, c, opts, threads);
    (r, sleep, start.elapsed().as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let timeout: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(300);
    let filter = args.get(2).cloned().unwrap_or_default();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/scenarios/");
    let load = |f: &str| {
        Arc::new(ClusterSpec::load(std::path::Path::new(&format!("{dir}{f}"))).expect("scenario"))
    };
    let configs: Vec<(&str, &str, usize, bool)> = vec![
        ("three-regions, 1 fault", "three-regions.toml", 1, false),
        ("three-regions, 2 faults", "three-regions.toml", 2, false),
        (
            "three-regions, 1 fault + heal",
            "three-regions.toml",
            1,
            true,
        ),
        ("seed, 1 fault", "seed.toml", 1, false),
        ("dlm-three-nodes, 1 fault", "dlm-three-nodes.toml", 1, false),
        (
            "three-regions, 2 faults + heal",
            "three-regions.toml",
            2,
            true,
        ),
        ("seed, 1 fault + heal", "seed.toml", 1, true),
        ("seed, 2 faults", "seed.toml", 2, false),
        ("seed, 2 faults + heal", "seed.toml", 2, true),
    ];
    println!("| configuration | checker | unique states | transitions | s | states/s | slept | re-expanded | complete | peak MB |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (label, file, faults, heal) in configs {
        if !label.contains(filter.as_str()) {
            continue;
        }
        let m = check_model(load(file), faults, heal, Variant::Correct);
        for (c, threads) in [
            (Checker::Reduced, 1),
            (Checker::Reduced, 2),
            (Checker::Persistent, 1),
            (Checker::Explorer, 1),
            (Checker::StaterightDfs, 2),
        ] {
            let (r, sleep, s) = timed(&m, c, threads, timeout);
            println!(
                "| {label} | {} ×{threads} | {} | {} | {:.1} | {:.0} | {} | {} | {} | {:.0} |",
                c.name(),
                r.states,
                r.transitions,
                s,
                r.states as f64 / s.max(1e-9),
                sleep.slept,
                sleep.reexpanded,
                if r.complete { "yes" } else { "no" },
                peak_rss_mb()
            );
        }
    }
    println!();
    println!("| seed `whatif --heal` | checker | unique states | s | states/s | complete | × fewer than full | peak MB |");
    println!("|---|---|---|---|---|---|---|---|");
    let sets: [&[&str]; 5] = [
        &["node:FRANK2"],
        &["link:FRA-LHR"],
        &["link:FRA-LHR", "link:LHR-ORD"],
        &["link:FRA-LHR", "link:FRA-ORD"],
        &["node:CHIC1", "node:CHIC2"],
    ];
    let seed = load("seed.toml");
    for set in sets {
        let label = set.join(" + ");
        if !label.contains(filter.as_str()) && !"whatif".contains(filter.as_str()) {
            continue;
        }
        let faults = set
            .iter()
            .map(|f| Fault::parse(&seed, f).expect("fault"))
            .collect();
        let m = whatif_model(seed.clone(), faults, true, Variant::Correct);
        let mut full = None;
        for c in [Checker::Reduced, Checker::Persistent] {
            let (r, _, s) = timed(&m, c, 1, timeout);
            if c == Checker::Reduced && r.complete {
                full = Some(r.states);
            }
            let factor = match full {
                Some(f) if r.complete => format!("{:.2}", f as f64 / r.states as f64),
                _ => "—".to_string(),
            };
            println!(
                "| {label} | {} | {} | {:.1} | {:.0} | {} | {factor} | {:.0} |",
                c.name(),
                r.states,
                s,
                r.states as f64 / s.max(1e-9),
                if r.complete { "yes" } else { "no" },
                peak_rss_mb()
            );
        }
    }
}
