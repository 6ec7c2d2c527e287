//! The load-time rules of a cluster file through the `vmsc` binary (`specs/config.md`): every
//! command that reads a cluster file rejects the same files with the same error, and prints the
//! same warnings once; errors name the table, the field and the end of a link at fault.

use std::path::PathBuf;
use std::process::{Command, Output};

const SEED: &str = include_str!("../specs/scenarios/seed.toml");
const RUNTIME_SEED: &str = include_str!("data/runtime-seed.toml");

fn vmsc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmsc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run vmsc")
}

/// Writes `text` to a file of this test's own (tests run in parallel).
fn file(name: &str, text: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("config_errors-{name}"));
    std::fs::write(&path, text).expect("write a test file");
    path.display().to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every command that loads a cluster file, given `cluster`: the checkers on small runs, the
/// others stopped by bad input right after the load, before they would start a node or connect
/// (`bad` is a scenario with a bad step).
fn every_command(cluster: &str, bad: &str) -> Vec<Vec<String>> {
    let c = cluster.to_string();
    let b = bad.to_string();
    let v = |a: &[&str]| -> Vec<String> { a.iter().map(|s| s.to_string()).collect() };
    vec![
        v(&["check", &c, "--max-faults", "0", "--json"]),
        v(&["whatif", &c, "--fail", "node:NOPE"]),
        v(&["explore", &c, "--fail", "node:NOPE"]),
        v(&["plan", &c, "--max-faults", "0", "--timeout-s", "0"]),
        v(&["node", "--config", &c, "--name", "NOPE"]),
        v(&["run", &c, "--scenario", &b]),
        v(&["experiment", &c, "--scenario", &b]),
        v(&["lock", "--config", &c, "--name", "NOPE", "locks"]),
    ]
}

const BAD_STEP: &str = "tests/data/runtime-bad-step.scenario.toml";

#[test]
fn fail_link_names_the_end_at_fault_and_what_a_link_joins() {
    let grammar = "a link joins two regions (FRA, LHR, ORD) or two nodes (FRANK1, FRANK2, UK1, \
                   CHIC1, CHIC2)";
    let cases = [
        (
            "link:FRANK1-LHR",
            format!(
                "--fail \"link:FRANK1-LHR\": FRANK1 is a node and LHR a region; {grammar}: \
                 FRANK1's links to LHR are FRANK1-UK1; to crash FRANK1 use node:FRANK1"
            ),
        ),
        (
            "link:FRANK1-XXX",
            format!(
                "--fail \"link:FRANK1-XXX\": XXX is neither a node nor a region of this cluster \
                 (regions: FRA, LHR, ORD); {grammar}"
            ),
        ),
        (
            "node:FRA",
            "--fail \"node:FRA\": no node named FRA (nodes: FRANK1, FRANK2, UK1, CHIC1, CHIC2)"
                .to_string(),
        ),
    ];
    for (arg, want) in cases {
        for command in ["whatif", "explore"] {
            let out = vmsc(&[command, "--fail", arg]);
            assert_eq!(out.status.code(), Some(2), "{command} {arg}");
            assert_eq!(
                stderr(&out),
                format!("vmsc: error: bad fault: {want}\n"),
                "{command}"
            );
        }
    }
    // The grammar's two forms still parse.
    for arg in ["link:FRA-LHR", "link:FRANK1-UK1"] {
        let out = vmsc(&["whatif", "--fail", arg, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{arg}: {}", stderr(&out));
    }
}

#[test]
fn a_missing_field_names_its_table_and_field() {
    let no_id = file("no-id.toml", &SEED.replace("system_id = 1028\n", ""));
    let want = format!(
        "vmsc: error: {no_id}: node[4].system_id: missing field `system_id` (the [[node]] table \
         for CHIC2, at line 34)\n"
    );
    let no_ev = file(
        "no-ev.toml",
        &format!(
            "[cluster]\nname = \"T\"\n{}",
            &SEED[SEED.find("[[node]]").unwrap()..]
        ),
    );
    let want_ev = format!(
        "vmsc: error: {no_ev}: cluster.expected_votes: missing field `expected_votes` (the \
         [cluster] table, at line 1)\n"
    );
    for (cluster, want) in [(&no_id, &want), (&no_ev, &want_ev)] {
        for args in every_command(cluster, BAD_STEP) {
            let out = vmsc(&args.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert_eq!(&stderr(&out), want, "{args:?}");
        }
    }
}

#[test]
fn an_unknown_region_is_the_same_error_for_every_command() {
    let known = "AMS, ARN, AUH, BOG, BOM, CDG, CWL, DXB, FRA, GRU, IAD, LHR, MAD, MEL, MRS, MTY, \
                 MTZ, NRT, ORD, PHX, QRO (latency/data/regions.csv)";
    let mars = file("mars.toml", &SEED.replace("\"LHR\"", "\"MARS\""));
    let disk = file(
        "disk-mars.toml",
        &format!("{SEED}\n[quorum_disk]\nvotes = 1\nregion = \"mars\"\n"),
    );
    let cases = [
        (
            &mars,
            format!(
                "vmsc: error: {mars}: node[2].region: UK1 is in MARS, which is not a known \
                 region; the known ones are {known}\n"
            ),
        ),
        (
            &disk,
            format!(
                "vmsc: error: {disk}: quorum_disk.region: the quorum disk is in MARS, which is \
                 not a known region; the known ones are {known}\n"
            ),
        ),
    ];
    for (cluster, want) in cases {
        for args in every_command(cluster, BAD_STEP) {
            let out = vmsc(&args.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert_eq!(stderr(&out), want, "{args:?}");
        }
    }
}

/// FRANK1 with EXPECTED_VOTES 50 (the others 5): the two warnings, each printed once.
fn ev50_warnings(cluster: &str) -> String {
    format!(
        "vmsc: warning: {cluster}: expected_votes: the nodes' EXPECTED_VOTES differ (5 on FRANK2, \
         UK1, CHIC1, CHIC2; 50 on FRANK1); the quorum then depends on which nodes are members \
         (it follows the largest EXPECTED_VOTES among them). Membership parameters should be \
         identical on all members (seed 002)\n\
         vmsc: warning: {cluster}: expected_votes: EXPECTED_VOTES 50 on FRANK1 is above the 5 \
         votes of the whole cluster (nodes and quorum disk): its quorum, 26, is more than all 5 \
         votes: a cluster with FRANK1 as a member can never have quorum. EXPECTED_VOTES should \
         be the sum of all votes, 5\n"
    )
}

#[test]
fn expected_votes_warnings_are_printed_once_by_every_command() {
    let ev50 = file(
        "ev50.toml",
        &SEED.replacen(
            "system_id = 1025\n",
            "system_id = 1025\nexpected_votes = 50\n",
            1,
        ),
    );
    let warnings = ev50_warnings(&ev50);
    for args in every_command(&ev50, BAD_STEP) {
        let out = vmsc(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let err = stderr(&out);
        assert!(err.starts_with(&warnings), "{args:?}: {err}");
        assert_eq!(err.matches("vmsc: warning:").count(), 2, "{args:?}: {err}");
    }
    // `check` still checks such a file (OpenVMS allows it): the same verdict as the seed's.
    let out = vmsc(&["check", &ev50, "--max-faults", "0", "--json"]);
    assert_eq!(stderr(&out), warnings);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["complete"], true, "{v}");
    let seed = vmsc(&[
        "check",
        "specs/scenarios/seed.toml",
        "--max-faults",
        "0",
        "--json",
    ]);
    assert_eq!(seed.stderr, b"", "the seed has no warnings");
    assert_eq!(out.status.code(), seed.status.code());
}

/// `vmsc run` prints the warnings once, not once more per node it launches (the nodes get
/// `--quiet-config`).
#[test]
fn run_prints_the_warnings_once_not_once_per_node() {
    let differ = file(
        "runtime-differ.toml",
        &RUNTIME_SEED.replacen(
            "system_id = 1027\n",
            "system_id = 1027\nexpected_votes = 3\n",
            1,
        ),
    );
    let out = vmsc(&[
        "run",
        &differ,
        "--json",
        "--no-latency",
        "--timeout-s",
        "60",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let warning = format!(
        "vmsc: warning: {differ}: expected_votes: the nodes' EXPECTED_VOTES differ (3 on CHIC1; \
         5 on FRANK1, FRANK2, UK1, CHIC2); the quorum then depends on which nodes are members \
         (it follows the largest EXPECTED_VOTES among them). Membership parameters should be \
         identical on all members (seed 002)\n"
    );
    assert!(err.starts_with(&warning), "{err}");
    assert_eq!(err.matches("vmsc: warning:").count(), 1, "{err}");
}
