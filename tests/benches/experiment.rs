//! Benchmark (prints figures; not a timed test): how far a state transition is from the
//! two-phase-commit floor on the seed topology placed in FRA, LHR and ORD with the shipped RTTs.
//!
//! ```sh
//! cargo bench --bench experiment            # 10 runs per scenario, timers scaled 20x
//! VMSC_BENCH_RUNS=30 cargo bench --bench experiment
//! ```
//!
//! For each of the seed talk's fault scenarios it runs `vmsc experiment` and prints, per run
//! median, in units of the slowest RTT among the survivors:
//!
//! * `transition − detection` (the issue's protocol overhead: it contains RECNXINTERVAL, which
//!   VMS waits on purpose before removing a node);
//! * the same minus the configured RECNXINTERVAL;
//! * the state transition itself: first proposal → every survivor active again (propose, reply,
//!   commit, committed, release: 2.5 RTT at best), against the target 2.5 × slowest RTT;
//!
//! and where the rest of the time goes: detection beyond its floor, the wait beyond
//! RECNXINTERVAL (timer spread, a `NeedTransition` hop), and proposal rounds lost to collisions.

use std::process::Command;

use serde_json::Value;

const SCENARIOS: [&str; 4] = [
    "seed-fra-lhr",
    "seed-fra-ord",
    "seed-both-fra",
    "seed-crash-frank1",
];

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::var("VMSC_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let scale = 20.0;
    let dir = std::env::temp_dir().join(format!("vmsc-bench-experiment-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    println!(
        "seed topology (FRANK1 FRANK2 in FRA, UK1 in LHR, CHIC1 CHIC2 in ORD), shipped RTTs, \
         {runs} runs per scenario, timers scaled {scale}x; medians over runs"
    );
    println!(
        "{:<20} {:>9} {:>14} {:>12} {:>12} {:>12} {:>7} {:>10} {:>10} {:>10}",
        "scenario",
        "RTT ms",
        "trans-det ms",
        "trans-det",
        "-RECNX",
        "prop->act",
        "ratio",
        "det-floor",
        "wait-RECNX",
        "collided"
    );
    println!(
        "{:<20} {:>9} {:>14} {:>12} {:>12} {:>12} {:>7} {:>10} {:>10} {:>10}",
        "", "(real)", "(real)", "(RTT)", "(RTT)", "(RTT)", "/2.5", "(RTT)", "(RTT)", "(runs)"
    );
    for name in SCENARIOS {
        let json = dir.join(format!("{name}.json"));
        let out = Command::new(env!("CARGO_BIN_EXE_vmsc"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "experiment",
                "specs/scenarios/seed.toml",
                "--scenario",
                &format!("specs/scenarios/{name}.scenario.toml"),
                "--runs",
                &runs.to_string(),
                "--time-scale",
                &scale.to_string(),
                "--json",
                json.to_str().expect("utf-8 path"),
            ])
            .output()
            .expect("vmsc runs");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("report")).expect("JSON");
        let recnx_us = report["timers"]["recnx_interval_ms"].as_f64().unwrap() / scale * 1000.0;
        for e in report["episodes"].as_array().expect("episodes") {
            let Some(rtt_real) = e["slowest_rtt"][2].as_f64() else {
                println!("{name:<20} no survivors");
                continue;
            };
            let rtt_us = rtt_real / scale * 1000.0;
            let det_floor_us = e["floor"]["detection_ms"].as_f64().unwrap_or(0.0) / scale * 1000.0;
            let (mut overhead, mut beyond, mut to_active, mut det, mut wait) =
                (vec![], vec![], vec![], vec![], vec![]);
            let mut collided = 0;
            for r in e["per_run"].as_array().expect("per_run") {
                let f = |k: &str| r[k].as_f64();
                let (Some(d), Some(w), Some(t), Some(a)) = (
                    f("detection_us"),
                    f("wait_us"),
                    f("transition_us"),
                    f("resumed_us"),
                ) else {
                    continue;
                };
                overhead.push(t - d);
                beyond.push((t - d - recnx_us) / rtt_us);
                to_active.push((a - d - w) / rtt_us);
                det.push((d - det_floor_us) / rtt_us);
                wait.push((w - recnx_us) / rtt_us);
                if r["aborts"].as_u64().unwrap_or(0) > 0 || r["proposals"].as_u64().unwrap_or(0) > 1
                {
                    collided += 1;
                }
            }
            let act = median(to_active);
            println!(
                "{:<20} {:>9.2} {:>14.1} {:>12.2} {:>12.2} {:>12.2} {:>7.2} {:>10.2} {:>10.2} {:>7}/{:<2}",
                name,
                rtt_real,
                median(overhead.clone()) / 1000.0 * scale,
                median(overhead) / rtt_us,
                median(beyond),
                act,
                act / 2.5,
                median(det),
                median(wait),
                collided,
                e["per_run"].as_array().map_or(0, Vec::len)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
