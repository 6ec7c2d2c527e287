//! `vmsc plan` on the seed topology: the survivability matrix is pinned by a golden file.
//! To update it after an intended model change, run
//! `cargo run --release -- plan --format markdown > tests/golden/plan-seed.md` and review the diff.
use std::process::Command;

#[test]
fn seed_plan_matches_golden_matrix() {
    let out = Command::new(env!("CARGO_BIN_EXE_vmsc"))
        .args(["plan", "--format", "markdown"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run vmsc plan");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    // The last line carries a wall time; compare everything before it.
    let matrix: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains(" fault sets over "))
        .collect();
    let golden = include_str!("golden/plan-seed.md");
    let want: Vec<&str> = golden
        .lines()
        .filter(|l| !l.contains(" fault sets over "))
        .collect();
    assert_eq!(matrix, want);
    // What the seed talk reports: every single link and node failure is survived.
    assert!(text.contains(
        "**survives every single fault; survives 27 of 28 double faults; never split-brain**"
    ));
}

/// `plan --heal`: every fault set of the three-region topology is repaired once settled, and
/// then every node is a member again (the nodes that took a CLUEXIT rebooted and rejoined);
/// every set is explored to the end.
#[test]
fn three_region_plan_with_heal_brings_every_node_back() {
    let out = Command::new(env!("CARGO_BIN_EXE_vmsc"))
        .args([
            "plan",
            "specs/scenarios/three-regions.toml",
            "--heal",
            "--format",
            "json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run vmsc plan");
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["heal"], true);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 21);
    for r in rows {
        assert_eq!(r["complete"], true, "{r}");
        let outcomes = r["outcomes"].as_array().unwrap();
        assert!(!outcomes.is_empty(), "{r}");
        for o in outcomes {
            assert_eq!(
                o["members"],
                serde_json::json!(["CHIC1", "FRANK1", "UK1"]),
                "{r}"
            );
        }
    }
    assert_eq!(
        v["summary"],
        "survives every single fault; survives every double fault; never split-brain"
    );
}

/// `plan --states-max`: a fault set that reaches the bound is reported incomplete (exit 1),
/// having counted at least the bound; under a bound large enough for every set, the same
/// plan is complete (exit 0).
#[test]
fn plan_states_max_bounds_every_fault_set() {
    let run = |max: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_vmsc"))
            .args([
                "plan",
                "specs/scenarios/three-regions.toml",
                "--max-faults",
                "1",
                "--states-max",
                max,
                "--format",
                "json",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run vmsc plan");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v["rows"].as_array().unwrap().clone())
    };
    let (code, rows) = run("5");
    assert_eq!(code, Some(1));
    assert!(rows.iter().any(|r| r["complete"] == false), "{rows:?}");
    for r in rows.iter().filter(|r| r["complete"] == false) {
        assert!(r["states"].as_u64().unwrap() >= 5, "{r}");
    }
    let (code, rows) = run("1000000");
    assert_eq!(code, Some(0));
    assert!(rows.iter().all(|r| r["complete"] == true), "{rows:?}");
}
