//! Benchmark: exhaustive checks of the lock-manager scenarios — unique states, states per
//! second, peak memory (VmHWM) and wall time, with every property's verdict. Not a test: it
//! prints figures.
//!
//! ```text
//! cargo run --release -p vmsc-model --example bench_dlm              # the standard runs
//! cargo run --release -p vmsc-model --example bench_dlm -- FILE FAULTS [VARIANT] [STATES_MAX]
//! ```
//! `FILE` is relative to `specs/scenarios/`; `VARIANT` a `DlmVariant` command-line name.
mod common;

use common::peak_rss_mb;
use std::sync::Arc;
use std::time::Instant;
use vmsc_model::cluster_model::{fingerprint, ClusterModel};
use vmsc_model::config::ClusterSpec;
use vmsc_model::dlm::DlmVariant;
use vmsc_model::explore::{explore, Options};
use vmsc_model::whatif::{check_model, Variant};

/// A run is cut (reported `complete false`) after this many seconds: the benchmark looks for the
/// largest configuration exhaustive within 5 minutes.
const DEADLINE_S: u64 = 300;

fn run(file: &str, faults: usize, variant: DlmVariant, states_max: usize) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/scenarios/");
    let spec = Arc::new(
        ClusterSpec::load(std::path::Path::new(&format!("{dir}{file}"))).expect("scenario"),
    );
    let mut m = check_model(spec, faults, false, Variant::Correct);
    m.cfg.protocol.dlm = variant;
    let m = ClusterModel::new(m.spec.clone(), m.cfg.clone());
    let t = Instant::now();
    let mut last = Instant::now();
    let mut progress = |n: usize, d: usize, _e: std::time::Duration| {
        if last.elapsed().as_secs() >= 30 {
            last = Instant::now();
            eprintln!("  ... {n} states, depth {d}, {:.0} MB", peak_rss_mb());
        }
    };
    let r = explore(
        &m,
        Options {
            states_max,
            deadline: Some(t + std::time::Duration::from_secs(DEADLINE_S)),
            fingerprint: Some(fingerprint),
            progress: Some(&mut progress),
            ..Options::default()
        },
    );
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{file}, {faults} fault(s), {variant:?}: {} states, complete {}, depth {}, {:.1} s, \
         {:.0} states/s, peak RSS {:.0} MB",
        r.states,
        r.complete,
        r.max_depth,
        secs,
        r.states as f64 / secs,
        peak_rss_mb()
    );
    if std::env::var("DLM_TRACE").is_ok() {
        if let Some(path) = r
            .properties
            .iter()
            .find(|p| !p.holds && p.path.is_some())
            .and_then(|p| p.path.clone())
        {
            let (_, steps) = vmsc_model::explore::replay(&m, &path).expect("replay");
            for (a, s) in &steps {
                println!("- {}", m.describe_action(a));
                for i in 0..m.spec.len() {
                    println!("    {}: {:?}", m.spec.nodes[i].name, m.node(s, i).dlm);
                }
            }
        }
    }
    for p in &r.properties {
        println!(
            "  {:<42} {}",
            p.name,
            match (&p.path, p.holds) {
                (_, true) => "holds".to_string(),
                (Some(path), false) => format!("FAILS ({} steps)", path.len()),
                (None, false) => "never reached".to_string(),
            }
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [file, faults, rest @ ..] = args.as_slice() {
        let variant = rest.first().map_or(DlmVariant::Correct, |v| {
            DlmVariant::ALL
                .iter()
                .find(|(n, _)| n == v)
                .map(|(_, x)| *x)
                .expect("a DlmVariant name")
        });
        let max = rest
            .get(1)
            .map_or(usize::MAX, |s| s.parse().expect("a count"));
        run(file, faults.parse().expect("a fault count"), variant, max);
        return;
    }
    // Each in a fresh process would give each its own peak RSS; here the peak is cumulative, so
    // the runs go from small to large.
    run("dlm-sublocks.toml", 1, DlmVariant::Correct, usize::MAX);
    run("dlm-dir-race.toml", 1, DlmVariant::Correct, usize::MAX);
    run("dlm-deadlock.toml", 1, DlmVariant::Correct, usize::MAX);
    run("dlm-three-nodes.toml", 1, DlmVariant::Correct, usize::MAX);
    run("dlm-deadlock.toml", 2, DlmVariant::Correct, usize::MAX);
}
