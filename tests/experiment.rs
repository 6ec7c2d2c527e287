//! End-to-end test of `vmsc experiment`: one short run of the seed talk's cut-and-heal
//! experiment (seed topology in FRA, LHR and ORD, shipped RTTs, timers scaled 20×), checking the
//! table, the JSON (field names pinned) and the SVG, and that the measured figures respect the
//! protocol's floor. A short lock run (three nodes in FRA, LHR and ORD, real time): every lock
//! class appears and its median is at or above its floor's RTTs. Plus bad input, which must fail
//! before any node starts and write nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const CLUSTER: &str = "specs/scenarios/seed.toml";
const HEAL: &str = "specs/scenarios/seed-fra-lhr-heal.scenario.toml";
const LOCK_CLUSTER: &str = "tests/data/experiment-locks.toml";
const LOCK_SCENARIO: &str = "tests/data/experiment-locks.scenario.toml";

fn vmsc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmsc"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("vmsc runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "vmsc-test-experiment-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

fn metric<'a>(episode: &'a Value, name: &str) -> &'a Value {
    episode["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("metric {name} in {episode}"))
}

#[test]
fn seed_cut_and_heal_produces_table_json_and_svg_above_the_floor() {
    let dir = scratch("heal");
    let json_path = dir.join("report.json");
    let svg_path = dir.join("plot.svg");
    let out = vmsc(&[
        "experiment",
        CLUSTER,
        "--scenario",
        HEAL,
        "--runs",
        "1",
        "--time-scale",
        "20",
        "--timeout-s",
        "40",
        "--json",
        json_path.to_str().unwrap(),
        "--plot",
        svg_path.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    // The table: both episodes, the percentile columns, the floor and real terms.
    assert!(
        stdout.contains("episode 1: cut link FRA-LHR (fault), measured in 1 of 1 run\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("episode 2: heal link FRA-LHR (heal), measured in 1 of 1 run\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(" (1 of 1 run settled), RTTs from "),
        "{stdout}"
    );
    let header = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("metric"))
        .expect("a header line");
    let columns: Vec<&str> = header
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        columns,
        [
            "metric",
            "p50",
            "p90",
            "p99",
            "max",
            "count",
            "floor",
            "p50/floor",
            "real p50",
            "real floor"
        ]
    );
    for row in [
        "detection_ms",
        "transition_ms",
        "overhead_ms",
        "overhead_rtt",
    ] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(row)),
            "{row}: {stdout}"
        );
    }
    assert!(
        stdout.contains("lock latency not measured: the scenario has no [load] section"),
        "{stdout}"
    );

    // The JSON, field names pinned.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("JSON written"))
            .expect("valid JSON");
    assert_eq!(
        keys(&report),
        [
            "cluster",
            "episodes",
            "locks",
            "rtt_table",
            "runs",
            "runs_settled",
            "scenario",
            "time_scale",
            "timers"
        ]
    );
    assert_eq!(
        keys(&report["timers"]),
        [
            "boot_delay_ms",
            "hello_interval_ms",
            "lan_rtt_ms",
            "listen_timeout_ms",
            "recnx_interval_ms"
        ]
    );
    assert_eq!(report["locks"]["available"], false);
    assert_eq!(
        (report["runs"].as_u64(), report["runs_settled"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(report["time_scale"], 20.0);
    let episodes = report["episodes"].as_array().expect("episodes");
    assert_eq!(episodes.len(), 2, "{report}");
    let (cut, heal) = (&episodes[0], &episodes[1]);
    assert_eq!(
        keys(cut),
        [
            "cluexit",
            "first_step",
            "floor",
            "kind",
            "label",
            "measured",
            "metrics",
            "per_run",
            "runs",
            "slowest_rtt",
            "survivors"
        ]
    );
    assert_eq!(
        keys(&cut["per_run"][0]),
        [
            "aborts",
            "cluexit",
            "detection_us",
            "fault_us",
            "first_step",
            "floor",
            "joiners",
            "kind",
            "label",
            "proposals",
            "resumed_us",
            "slowest_rtt",
            "survivors",
            "transition_us",
            "wait_us"
        ]
    );
    assert_eq!(
        keys(&cut["floor"]),
        [
            "detection_ms",
            "overhead_ms",
            "protocol_ms",
            "resumed_ms",
            "round_rtt_ms",
            "terms",
            "transition_ms"
        ]
    );
    let names: Vec<&str> = cut["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "detection",
            "wait",
            "protocol",
            "transition",
            "resumed",
            "overhead",
            "overhead_rtt",
            "protocol_rtt"
        ]
    );
    let transition = metric(cut, "transition");
    assert_eq!(
        keys(transition),
        [
            "floor_real",
            "floor_scaled",
            "name",
            "ratio_min",
            "ratio_p50",
            "real",
            "scaled",
            "unit"
        ]
    );
    assert_eq!(
        keys(&transition["scaled"]),
        ["count", "max", "mean", "min", "p50", "p90", "p99"]
    );

    // What the seed talk saw: FRA-LHR cut, London is removed; the heal brings it back.
    assert_eq!(cut["kind"], "fault");
    assert_eq!(
        cut["survivors"],
        serde_json::json!(["FRANK1", "FRANK2", "CHIC1", "CHIC2"])
    );
    assert_eq!(cut["cluexit"], serde_json::json!(["UK1"]));
    assert_eq!(
        cut["slowest_rtt"],
        serde_json::json!(["FRANK1", "CHIC1", 97.58])
    );
    assert_eq!(heal["kind"], "heal");
    assert_eq!(heal["per_run"][0]["joiners"], serde_json::json!(["UK1"]));
    assert_eq!(heal["survivors"].as_array().map(Vec::len), Some(5));

    // Sanity of the figures: real = scaled × 20, and the orders of events hold.
    let scaled = transition["scaled"]["p50"].as_f64().unwrap();
    let real = transition["real"]["p50"].as_f64().unwrap();
    assert!(
        (real - 20.0 * scaled).abs() < 1e-6 * real.max(1.0),
        "{real} vs {scaled}"
    );
    let run = &cut["per_run"][0];
    let detection = run["detection_us"].as_u64().unwrap();
    let wait = run["wait_us"].as_u64().unwrap();
    let transition_us = run["transition_us"].as_u64().unwrap();
    let resumed = run["resumed_us"].as_u64().unwrap();
    assert!(
        detection < transition_us && transition_us <= resumed,
        "{run}"
    );
    assert!(run["proposals"].as_u64().unwrap() >= 1, "{run}");

    // Measured ≥ the floor's parts that no scheduling can beat, scaled to the run:
    // RECNXINTERVAL before the first proposal (1000 ms scaled), and the 1.5 round trips of
    // propose/reply/commit (1.5 × 97.58 ms / 20) after it.
    let recnx_us = 20_000.0 / 20.0 * 1000.0;
    let rounds_us = 1.5 * 97.58 / 20.0 * 1000.0;
    assert!(
        wait as f64 >= recnx_us,
        "wait {wait} µs < RECNXINTERVAL {recnx_us} µs"
    );
    assert!(
        (transition_us - detection - wait) as f64 >= rounds_us,
        "protocol {} µs < 1.5 RTT {rounds_us} µs",
        transition_us - detection - wait
    );
    let protocol_rtt = metric(cut, "protocol_rtt");
    assert!(
        protocol_rtt["scaled"]["min"].as_f64().unwrap() >= 1.5 - 0.01,
        "{protocol_rtt}"
    );
    assert_eq!(protocol_rtt["floor_scaled"], 1.5);
    // The heal: the join waits at least its join delay (2 hellos = 100 ms scaled).
    let heal_run = &heal["per_run"][0];
    assert!(
        heal_run["wait_us"].as_u64().unwrap() >= 100_000,
        "{heal_run}"
    );
    assert!(
        metric(heal, "transition")["ratio_min"].as_f64().unwrap() >= 1.0,
        "{heal}"
    );

    // The SVG: drawn by plotters, one curve per episode, labelled.
    let svg = std::fs::read_to_string(&svg_path).expect("SVG written");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("1: cut link FRA-LHR") && svg.contains("2: heal link FRA-LHR"));
    assert!(svg.matches("<polyline").count() >= 4);
    let _ = std::fs::remove_dir_all(&dir);
}

fn assert_bad_input(args: &[&str], expect: &str, dir: &Path) {
    let out = vmsc(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(expect),
        "{args:?}: expected {expect:?} in {stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert!(left.is_empty(), "{args:?} wrote {left:?}");
}

#[test]
fn bad_input_fails_naming_the_file_and_field_and_writes_nothing() {
    let dir = scratch("bad");
    let json = dir.join("r.json");
    let json = json.to_str().unwrap();
    let bad_rtt = dir.join("bad-rtt.csv");
    std::fs::write(
        &bad_rtt,
        "from,to,rtt_ms,source\nFRA,ORD,97.58,x\nFRA,LHR,3.0,too fast\n",
    )
    .unwrap();
    let missing = dir.join("rtt-without-lhr-ord.csv");
    std::fs::write(
        &missing,
        "from,to,rtt_ms,source\nFRA,ORD,97.58,x\nFRA,LHR,16,x\n",
    )
    .unwrap();
    let (bad_rtt_s, missing_s) = (
        bad_rtt.to_str().unwrap().to_string(),
        missing.to_str().unwrap().to_string(),
    );
    let out_dir = scratch("bad-out");
    let base = ["experiment", CLUSTER, "--scenario", HEAL, "--json"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter()
            .map(|s| s.to_string())
            .chain([out_dir.join("r.json").display().to_string()])
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let run = |args: Vec<String>, expect: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_bad_input(&args, expect, &out_dir);
    };
    run(
        with(&["--rtt", &bad_rtt_s]),
        "bad-rtt.csv:3: FRA->LHR rtt_ms 3 is below the fibre bound",
    );
    run(
        with(&["--rtt", &missing_s]),
        "no RTT for LHR->ORD in either direction",
    );
    run(
        with(&["--plot", "plot.png"]),
        "--plot plot.png: the file name must end in .svg",
    );
    run(with(&["--runs", "0"]), "--runs: 0");
    run(
        vec![
            "experiment".into(),
            LOCK_CLUSTER.into(),
            "--scenario".into(),
            "tests/data/experiment-bad-load.scenario.toml".into(),
            "--json".into(),
            json.into(),
        ],
        "experiment-bad-load.scenario.toml: load.masters.LOADA: \"NOWHERE\" is not a node of cluster LOCKEXP",
    );
    run(
        vec![
            "experiment".into(),
            CLUSTER.into(),
            "--scenario".into(),
            LOCK_SCENARIO.into(),
            "--json".into(),
            json.into(),
        ],
        "load.resources: the cluster file declares no [locks] resources to load",
    );
    run(with(&["--time-scale", "500"]), "--time-scale");
    run(
        vec![
            "experiment".into(),
            CLUSTER.into(),
            "--scenario".into(),
            "tests/data/runtime-bad-step.scenario.toml".into(),
            "--json".into(),
            json.into(),
        ],
        "runtime-bad-step.scenario.toml: step[",
    );
    let out = vmsc(&[
        "experiment",
        CLUSTER,
        "--scenario",
        HEAL,
        "--json",
        "/nonexistent-dir/r.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("directory /nonexistent-dir does not exist")
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn lock_load_measures_every_class_at_or_above_its_floor() {
    let dir = scratch("locks");
    let json_path = dir.join("report.json");
    let svg_path = dir.join("plot.svg");
    let out = vmsc(&[
        "experiment",
        LOCK_CLUSTER,
        "--scenario",
        LOCK_SCENARIO,
        "--runs",
        "1",
        "--time-scale",
        "1",
        "--timeout-s",
        "20",
        "--json",
        json_path.to_str().unwrap(),
        "--plot",
        svg_path.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for row in [
        "local_ms",
        "remote_ms",
        "directory_remote_ms",
        "FRA>LHR>ORD",
    ] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(row)),
            "{row}: {stdout}"
        );
    }
    let svg = std::fs::read_to_string(&svg_path).expect("SVG written");
    assert!(svg.contains("Lock grant latency under load"), "{svg}");

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("JSON written"))
            .expect("valid JSON");
    let locks = &report["locks"];
    assert_eq!(
        keys(locks),
        [
            "available",
            "classes",
            "classified_by",
            "load",
            "note",
            "per_request",
            "prediction_mismatches",
            "requests",
            "throughput"
        ]
    );
    assert_eq!(locks["available"], true);
    assert_eq!(locks["classified_by"], "trace");
    assert_eq!(locks["requests"], 18);
    assert_eq!(
        keys(&locks["load"]),
        [
            "clients_per_node",
            "mode",
            "nodes",
            "requests_per_client",
            "resources",
            "think_ms"
        ]
    );
    assert_eq!(
        keys(&locks["load"]["resources"][0]),
        ["directory", "known", "master", "name"]
    );
    assert_eq!(
        keys(&locks["throughput"]),
        [
            "grants",
            "per_s_real",
            "per_s_scaled",
            "window_ms_real",
            "window_ms_scaled"
        ]
    );
    assert!(locks["throughput"]["per_s_real"].as_f64().unwrap() > 0.0);
    assert_eq!(
        keys(&locks["per_request"][0]),
        [
            "class",
            "client",
            "floor_ms",
            "granted_us",
            "issued_us",
            "latency_us",
            "lock_id",
            "node",
            "predicted",
            "resource",
            "route",
            "run",
            "via"
        ]
    );
    let classes = locks["classes"].as_array().expect("classes");
    let names: Vec<&str> = classes
        .iter()
        .map(|c| c["class"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["local", "remote", "directory_remote"], "{locks}");
    let figure_keys = [
        "count",
        "excess_p50_real",
        "floor_real",
        "floor_scaled",
        "ratio_min",
        "ratio_p50",
        "real",
        "scaled",
    ];
    let mut class_keys: Vec<&str> = figure_keys.to_vec();
    class_keys.extend(["class", "messages", "routes"]);
    class_keys.sort_unstable();
    let mut route_keys: Vec<&str> = figure_keys.to_vec();
    route_keys.push("route");
    route_keys.sort_unstable();
    for (c, messages) in classes.iter().zip([0, 1, 2]) {
        assert_eq!(keys(c), class_keys);
        assert_eq!(c["messages"], messages);
        assert!(c["count"].as_u64().unwrap() > 0, "{c}");
        for route in c["routes"].as_array().expect("routes") {
            assert_eq!(keys(route), route_keys);
            // The injected delays hold every datagram at least half its RTT each way: no grant
            // can beat its route's round trips, and the median must not either.
            let floor = route["floor_real"].as_f64().unwrap();
            let (p50, min) = (
                route["real"]["p50"].as_f64().unwrap(),
                route["real"]["min"].as_f64().unwrap(),
            );
            assert!(p50 >= floor, "p50 {p50} below the floor {floor}: {route}");
            assert!(
                min >= floor * 0.99,
                "min {min} below the floor {floor}: {route}"
            );
            if messages > 0 {
                assert!(
                    floor >= 16.0,
                    "a remote route's floor is a real RTT: {route}"
                );
            }
        }
    }
    // The layout: LOADA's directory is LHRA, so FRAA's requests on it take two messages.
    assert_eq!(classes[2]["routes"][0]["route"], "FRA>LHR>ORD");
    assert_eq!(classes[2]["count"], 3);
    let _ = std::fs::remove_dir_all(&dir);
}
