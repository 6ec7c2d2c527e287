//! Benchmark: exhaustive checks of the seed topology and the smaller scenarios, with unique
//! states, states per second, peak memory and wall time. Not a test: it prints figures.
//!
//! `cargo run --release -p vmsc-model --example bench_check [TIMEOUT_S]`
mod common;

use common::peak_rss_mb;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vmsc_model::config::ClusterSpec;
use vmsc_model::explore::{explore, Options, Strategy};
use vmsc_model::whatif::{check_model, Variant};

fn main() {
    let timeout = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300u64);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/scenarios/");
    let load = |f: &str| {
        Arc::new(ClusterSpec::load(std::path::Path::new(&format!("{dir}{f}"))).expect("scenario"))
    };
    let runs: Vec<(&str, Arc<ClusterSpec>, usize, bool, Strategy)> = vec![
        (
            "three-regions, 2 faults",
            load("three-regions.toml"),
            2,
            false,
            Strategy::Bfs,
        ),
        (
            "three-regions, 1 fault + heal",
            load("three-regions.toml"),
            1,
            true,
            Strategy::Dfs,
        ),
        (
            "seed (5 nodes), 1 fault",
            load("seed.toml"),
            1,
            false,
            Strategy::Bfs,
        ),
        (
            "seed (5 nodes), 2 faults",
            load("seed.toml"),
            2,
            false,
            Strategy::Dfs,
        ),
        (
            "three-regions, 2 faults + heal",
            load("three-regions.toml"),
            2,
            true,
            Strategy::Dfs,
        ),
        (
            "seed (5 nodes), 1 fault + heal",
            load("seed.toml"),
            1,
            true,
            Strategy::Dfs,
        ),
        (
            "seed (5 nodes), 2 faults + heal",
            load("seed.toml"),
            2,
            true,
            Strategy::Dfs,
        ),
    ];
    println!(
        "{:<34} {:>12} {:>9} {:>10} {:>9} {:>8}  verdict",
        "check", "states", "seconds", "states/s", "peak MB", "depth"
    );
    for (name, spec, faults, heal, strategy) in runs {
        let m = check_model(spec, faults, heal, Variant::Correct);
        let start = Instant::now();
        let r = explore(
            &m,
            Options {
                strategy,
                deadline: Some(start + Duration::from_secs(timeout)),
                states_max: 200_000_000,
                fingerprint: Some(vmsc_model::cluster_model::fingerprint),
                ..Default::default()
            },
        );
        let secs = start.elapsed().as_secs_f64();
        let failed: Vec<&str> = r
            .properties
            .iter()
            .filter(|p| !p.holds)
            .map(|p| p.name)
            .collect();
        println!(
            "{:<34} {:>12} {:>9.2} {:>10.0} {:>9.0} {:>8}  {}{}",
            name,
            r.states,
            secs,
            r.states as f64 / secs,
            peak_rss_mb(),
            r.max_depth,
            if r.complete {
                "complete"
            } else {
                "INCOMPLETE (timeout)"
            },
            if failed.is_empty() {
                String::new()
            } else {
                format!("; not holding/reached: {}", failed.join(", "))
            }
        );
    }
}
