//! End-to-end tests of the `vmsc` binary: the `check` and `whatif` contracts, pinned outcomes
//! for the seed talk's experiments, negative controls, and bad input.

use serde_json::Value;
use std::process::{Command, Output};

fn vmsc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmsc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run vmsc")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn whatif(args: &[&str]) -> (i32, Value) {
    let mut v = vec!["whatif"];
    v.extend_from_slice(args);
    v.push("--json");
    let out = vmsc(&v);
    (out.status.code().unwrap_or(-1), json(&out))
}

fn outcomes(v: &Value) -> String {
    serde_json::to_string(&v["outcomes"]).unwrap()
}

fn assert_outcomes(v: &Value, want: &str) {
    let want: Value = serde_json::from_str(want).unwrap();
    assert_eq!(v["outcomes"], want, "{v}");
}

const SEED: &str = "specs/scenarios/seed.toml";
const TWO_TWO: &str = "specs/scenarios/two-plus-two.toml";
const TRI: &str = "specs/scenarios/three-regions.toml";

// ----- the seed talk's inter-region link experiments (5 nodes: FRA 2, LHR 1, ORD 2) -----

#[test]
fn seed_fra_lhr_cut_uk1_exits_frankfurt_and_chicago_stay() {
    let (code, v) = whatif(&[SEED, "--fail", "link:FRA-LHR"]);
    assert_eq!(code, 0);
    assert_eq!(v["complete"], true);
    assert_eq!(v["violations"], serde_json::json!([]));
    assert_outcomes(
        &v,
        r#"[{"members":["CHIC1","CHIC2","FRANK1","FRANK2"],"hung":[],"cluexit":["UK1"],"down":[]}]"#,
    );
}

#[test]
fn seed_fra_ord_cut_chicago_exits_frankfurt_and_london_stay() {
    let (code, v) = whatif(&[SEED, "--fail", "link:FRA-ORD"]);
    assert_eq!(code, 0);
    assert_outcomes(
        &v,
        r#"[{"members":["FRANK1","FRANK2","UK1"],"hung":[],"cluexit":["CHIC1","CHIC2"],"down":[]}]"#,
    );
}

#[test]
fn seed_both_fra_links_cut_chicago_and_london_form_three_of_five() {
    let (code, v) = whatif(&[SEED, "--fail", "link:FRA-LHR", "--fail", "link:FRA-ORD"]);
    assert_eq!(code, 0);
    assert_outcomes(
        &v,
        r#"[{"members":["CHIC1","CHIC2","UK1"],"hung":["FRANK1","FRANK2"],"cluexit":[],"down":[]}]"#,
    );
}

// ----- "How many individual nodes can go down? It does not matter which region." -----

#[test]
fn seed_any_two_nodes_may_fail_three_may_not() {
    let (_, v) = whatif(&[SEED, "--fail", "node:FRANK1", "--fail", "node:CHIC2"]);
    assert_outcomes(
        &v,
        r#"[{"members":["CHIC1","FRANK2","UK1"],"hung":[],"cluexit":[],"down":["CHIC2","FRANK1"]}]"#,
    );
    let (_, v) = whatif(&[SEED, "--fail", "node:FRANK1", "--fail", "node:UK1"]);
    assert_outcomes(
        &v,
        r#"[{"members":["CHIC1","CHIC2","FRANK2"],"hung":[],"cluexit":[],"down":["FRANK1","UK1"]}]"#,
    );
    let (_, v) = whatif(&[
        SEED,
        "--fail",
        "node:FRANK1",
        "--fail",
        "node:FRANK2",
        "--fail",
        "node:UK1",
    ]);
    assert_outcomes(
        &v,
        r#"[{"members":[],"hung":["CHIC1","CHIC2"],"cluexit":[],"down":["FRANK1","FRANK2","UK1"]}]"#,
    );
}

#[test]
fn two_plus_two_even_split_hangs_both_halves() {
    let (code, v) = whatif(&[TWO_TWO, "--fail", "link:FRA-ORD"]);
    assert_eq!(code, 0);
    assert_outcomes(
        &v,
        r#"[{"members":[],"hung":["CHIC1","CHIC2","FRANK1","FRANK2"],"cluexit":[],"down":[]}]"#,
    );
}

#[test]
fn whatif_with_heal_reboots_the_exited_node_and_it_rejoins() {
    let (code, v) = whatif(&[TRI, "--fail", "link:FRA-LHR", "--heal"]);
    assert_eq!(code, 0);
    assert_outcomes(
        &v,
        r#"[{"members":["CHIC1","FRANK1","UK1"],"hung":[],"cluexit":["UK1"],"down":[]}]"#,
    );
}

/// `whatif --heal --reboot`: the JSON names the reboot timing; rebooting at any moment explores
/// more (the exited node may come back inside the transition that followed its CLUEXIT); without
/// `--heal` there is no reboot field, and `--reboot` alone is a usage error.
#[test]
fn whatif_reboot_timing_is_named_and_needs_heal() {
    let args = [
        TRI,
        "--fail",
        "link:FRA-LHR",
        "--fail",
        "node:CHIC1",
        "--heal",
    ];
    let (code, settled) = whatif(&args);
    assert_eq!(
        (code, &settled["reboot"], &settled["states"]),
        (0, &"settled".into(), &95.into())
    );
    let (code, anytime) = whatif(&[&args[..], &["--reboot", "anytime"]].concat());
    assert_eq!(
        (code, &anytime["reboot"], &anytime["states"]),
        (0, &"anytime".into(), &193.into())
    );
    assert_eq!(outcomes(&settled), outcomes(&anytime));
    let (_, plain) = whatif(&args[..5]);
    assert!(plain.get("reboot").is_none(), "{plain}");
    let out = vmsc(&["whatif", TRI, "--fail", "node:CHIC1", "--reboot", "anytime"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--heal"));
}

/// `whatif --states-max`: a run that reaches the bound is incomplete (exit 1) and says so in its
/// JSON; with room to spare the same run is complete (exit 0).
#[test]
fn whatif_states_max_bounds_the_run() {
    let (code, v) = whatif(&[
        TRI,
        "--fail",
        "link:FRA-LHR",
        "--heal",
        "--states-max",
        "10",
    ]);
    assert_eq!((code, &v["complete"]), (1, &false.into()), "{v}");
    assert!(v["states"].as_u64().unwrap() >= 10, "{v}");
    let (code, v) = whatif(&[
        TRI,
        "--fail",
        "link:FRA-LHR",
        "--heal",
        "--states-max",
        "100000",
    ]);
    assert_eq!((code, &v["complete"]), (0, &true.into()), "{v}");
}

#[test]
fn embedded_default_is_the_seed_topology() {
    let (_, a) = whatif(&["--fail", "link:FRA-LHR"]);
    let (_, b) = whatif(&[SEED, "--fail", "link:FRA-LHR"]);
    assert_eq!(outcomes(&a), outcomes(&b));
    assert_eq!(a["states"], b["states"]);
}

// ----- check -----

fn check(args: &[&str]) -> (i32, Value) {
    let mut v = vec!["check"];
    v.extend_from_slice(args);
    v.push("--json");
    let out = vmsc(&v);
    (out.status.code().unwrap_or(-1), json(&out))
}

fn property<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no property {name}"))
}

#[test]
fn check_three_regions_two_faults_every_property_holds() {
    let (code, v) = check(&[TRI, "--max-faults", "2"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["complete"], true);
    assert_eq!(
        v["states"], 1866,
        "state count changed: review the model change"
    );
    let names: Vec<&str> = v["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "no split-brain",
            "members fully connected at commit",
            "quorum never below floor((E+2)/2)",
            "transition numbers monotone",
            "removed node never acts as a member",
            "a transition completes",
            "a quorum hang happens",
        ]
    );
    for p in v["properties"].as_array().unwrap() {
        assert_eq!(p["holds"], true, "{p}");
        let sometimes = p["expectation"] == "sometimes";
        assert_eq!(
            p["path"].is_array(),
            sometimes,
            "examples for sometimes, nothing for always: {p}"
        );
    }
}

#[test]
fn check_seed_topology_one_fault_is_exhaustive() {
    let (code, v) = check(&["--max-faults", "1"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["complete"], true);
    assert_eq!(v["states"], 41_532);
}

#[test]
fn check_on_two_threads_visits_the_same_states_and_finds_the_same_split_brain() {
    let (code, v) = check(&["--max-faults", "1", "--threads", "2"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        (&v["complete"], &v["states"]),
        (&true.into(), &41_532.into())
    );
    // A negative control: the violation is found on 2 threads as on 1, and re-found by the
    // sequential search, so the counterexample is the very one `--threads 1` reports.
    let half_quorum = |threads: &str| {
        check(&[
            TRI,
            "--max-faults",
            "2",
            "--variant",
            "half-quorum",
            "--threads",
            threads,
        ])
    };
    let (code, v) = half_quorum("2");
    assert_eq!(code, 1, "{v}");
    let (_, one) = half_quorum("1");
    assert_eq!(v["states"], one["states"]);
    for name in ["no split-brain", "removed node never acts as a member"] {
        let (p, q) = (property(&v, name), property(&one, name));
        assert_eq!(p["holds"], false, "{p}");
        assert_eq!(p["path"], q["path"], "{name}");
        assert_eq!(p["explorer_path"], q["explorer_path"], "{name}");
    }
    assert_eq!(property(&v, "no split-brain")["explorer_path"], "0/0/0/6/0");
}

/// The default is one worker per core; with `--threads 1` the same run is sequential: both give
/// the same state count and verdicts.
#[test]
fn check_default_threads_and_one_thread_agree() {
    let (code, v) = check(&[TRI, "--max-faults", "1", "--heal"]);
    let (code1, one) = check(&[TRI, "--max-faults", "1", "--heal", "--threads", "1"]);
    assert_eq!((code, code1), (0, 0), "{v}");
    assert_eq!(
        (&v["states"], &one["states"]),
        (&18_099.into(), &18_099.into())
    );
    let verdicts = |x: &Value| -> Vec<(String, bool)> {
        x["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap().to_string(), p["holds"] == true))
            .collect()
    };
    assert_eq!(verdicts(&v), verdicts(&one));
}

#[test]
fn check_with_heal_reaches_cluexit_and_rejoin() {
    let (code, v) = check(&[TRI, "--max-faults", "1", "--heal"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(property(&v, "a CLUEXIT happens")["holds"], true);
    assert_eq!(property(&v, "a rejoin completes")["holds"], true);
}

// ----- negative controls: each must produce a split-brain counterexample -----

#[test]
fn negative_control_half_quorum_splits() {
    let (code, v) = check(&[TRI, "--max-faults", "2", "--variant", "half-quorum"]);
    assert_eq!(code, 1);
    let p = property(&v, "no split-brain");
    assert_eq!(p["holds"], false);
    assert_eq!(
        serde_json::to_string(&p["path"]).unwrap(),
        r#"["cut FRA-LHR","FRANK1: RECNX timer fires","crash CHIC1  [%CNXMAN, Removed from VMScluster -- system UK1; %CNXMAN, Removed from VMScluster -- system CHIC1; %CNXMAN, FRANK1: new cluster view #2 {FRANK1} quorum 1]","UK1: RECNX timer fires  [%CNXMAN, Removed from VMScluster -- system FRANK1; %CNXMAN, Removed from VMScluster -- system CHIC1; %CNXMAN, UK1: new cluster view #2 {UK1} quorum 1]"]"#
    );
    assert_eq!(p["explorer_path"], "0/0/0/6/0");
}

/// The text report names the `vmsc explore` command and deep link of each counterexample; the
/// default address is `explore`'s own (not repeated in the command), `--explorer-addr` changes
/// both.
#[test]
fn check_prints_the_explorer_command_and_deep_link_at_the_explorer_address() {
    let lines = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "check",
            TRI,
            "--max-faults",
            "2",
            "--variant",
            "half-quorum",
        ];
        args.extend_from_slice(extra);
        let out = vmsc(&args);
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| l.contains("explore it:") || l.contains("then open"))
            .map(|l| l.trim().to_string())
            .take(2) // the first counterexample: no split-brain
            .collect()
    };
    assert_eq!(
        lines(&[]),
        [
            "explore it: vmsc explore specs/scenarios/three-regions.toml --max-faults 2 --variant half-quorum --path 0/0/0/6/0",
            "then open http://127.0.0.1:3000/#/steps/0/0/0/6/0",
        ]
    );
    assert_eq!(
        lines(&["--explorer-addr", "192.0.2.7:8080"]),
        [
            "explore it: vmsc explore specs/scenarios/three-regions.toml --max-faults 2 --variant half-quorum --addr 192.0.2.7:8080 --path 0/0/0/6/0",
            "then open http://192.0.2.7:8080/#/steps/0/0/0/6/0",
        ]
    );
}

/// On the embedded seed (no cluster file) the printed command has no empty argument.
#[test]
fn check_prints_the_explorer_command_without_a_cluster_file() {
    let out = vmsc(&[
        "check",
        "--variant",
        "half-quorum",
        "--states-max",
        "20",
        "--threads",
        "1",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "\n         explore it: vmsc explore --max-faults 1 --variant half-quorum --path 0\n"
        ),
        "{text}"
    );
}

#[test]
fn negative_control_two_node_shortcut_splits() {
    let two = "tests/data/two-node.toml";
    let (code, v) = check(&[two, "--max-faults", "1", "--variant", "two-node"]);
    assert_eq!(code, 1);
    let p = property(&v, "no split-brain");
    assert_eq!(p["holds"], false);
    let path: Vec<&str> = p["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(path[0], "cut FRA-ORD");
    // The same cluster with the VMS quorum rule hangs instead: safe, and (the price) no
    // transition can ever complete into a running cluster, which `check` reports with exit 1.
    let (code, v) = check(&[two, "--max-faults", "1"]);
    assert_eq!(property(&v, "no split-brain")["holds"], true);
    assert_eq!(property(&v, "a quorum hang happens")["holds"], true);
    assert_eq!(property(&v, "a transition completes")["holds"], false);
    assert_eq!(code, 1, "{v}");
}

#[test]
fn negative_control_without_timing_assumption_splits() {
    let (code, v) = check(&[
        TRI,
        "--max-faults",
        "1",
        "--variant",
        "no-timing-assumption",
    ]);
    assert_eq!(code, 1);
    let p = property(&v, "no split-brain");
    assert_eq!(p["holds"], false);
    assert_eq!(
        serde_json::to_string(&p["path"]).unwrap(),
        r#"["cut FRA-LHR","FRANK1: RECNX timer fires","FRANK1 → CHIC1 proposal #2 {FRANK1,CHIC1} quorum 2","CHIC1 → FRANK1 accepts proposal #2  [%CNXMAN, Removed from VMScluster -- system UK1; %CNXMAN, FRANK1: new cluster view #2 {FRANK1,CHIC1} quorum 2]","FRANK1 → CHIC1 commit #2 {FRANK1,CHIC1} quorum 2  [%CNXMAN, Removed from VMScluster -- system UK1; %CNXMAN, CHIC1: new cluster view #2 {FRANK1,CHIC1} quorum 2]","CHIC1 → FRANK1 installed view #2"]"#
    );
}

// ----- bad input -----

#[test]
fn bad_cluster_file_exits_2_naming_file_and_field() {
    let out = vmsc(&["check", "tests/data/bad-duplicate-id.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "tests/data/bad-duplicate-id.toml: node[1].system_id: 1025 is used by another node"
        ),
        "{err}"
    );
    let out = vmsc(&["whatif", "tests/data/no-such-file.toml", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("tests/data/no-such-file.toml: file: cannot read"));
}

#[test]
fn bad_fault_exits_2() {
    let out = vmsc(&["whatif", "--fail", "link:FRA-XXX", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--fail \"link:FRA-XXX\": XXX is neither a node nor a region of this cluster (regions: FRA, LHR, ORD)"), "{err}");
    let out = vmsc(&["whatif", "--fail", "node:NOPE"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn dlm_negative_control_through_the_cli() {
    let (code, v) = check(&[
        "specs/scenarios/dlm-three-nodes.toml",
        "--dlm-variant",
        "broken-matrix",
        "--states-max",
        "300000",
    ]);
    assert_eq!(code, 1);
    let p = property(&v, "lock compatibility");
    assert_eq!(p["holds"], false);
    assert_eq!(p["path"].as_array().unwrap().len(), 7);
}

/// `vmsc check` on a cluster file with clients lists the lock-manager properties, deadlock
/// detection included; the deadlock scenario reaches a victim, and a control is caught.
#[test]
fn check_covers_deadlock_detection() {
    let (code, v) = check(&["specs/scenarios/dlm-deadlock.toml", "--max-faults", "1"]);
    assert_eq!(code, 0, "{v}");
    for name in [
        "lock compatibility",
        "grant order",
        "deadlock victim only in a cycle",
        "every cycle is broken",
    ] {
        assert_eq!(property(&v, name)["holds"], true, "{name}");
    }
    assert_eq!(property(&v, "a deadlock victim")["holds"], true);
    let (code, v) = check(&[
        "specs/scenarios/dlm-deadlock.toml",
        "--max-faults",
        "0",
        "--dlm-variant",
        "no-deadlock-search",
    ]);
    assert_eq!(code, 1);
    let p = property(&v, "every cycle is broken");
    assert_eq!(p["holds"], false);
    assert_eq!(p["path"].as_array().unwrap().len(), 12);
}

// ----- incomplete runs: a verdict never claims more than was explored -----

/// `check` stopped by `--states-max` shows nothing to hold: an always-property without a
/// counterexample is "no violation in N states (incomplete)", a sometimes-property without an
/// example is "not reached"; a counterexample or an example found before the stop is a fact and
/// is reported as one (VIOLATED with its path, reached). The JSON says the same per property.
#[test]
fn check_on_an_incomplete_run_claims_nothing_it_did_not_explore() {
    let args = [
        "check",
        TRI,
        "--max-faults",
        "2",
        "--variant",
        "half-quorum",
        "--states-max",
        "200",
        "--threads",
        "1",
    ];
    let out = vmsc(&args);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].starts_with("  200 unique states, INCOMPLETE (stopped at --states-max 200), "),
        "{text}"
    );
    let verdicts: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("  ["))
        .collect();
    assert_eq!(
        verdicts,
        [
            "  [FAIL] always    no split-brain -- VIOLATED",
            "  [ ?? ] always    members fully connected at commit -- no violation in 200 states (incomplete)",
            "  [FAIL] always    quorum never below floor((E+2)/2) -- VIOLATED",
            "  [ ?? ] always    transition numbers monotone -- no violation in 200 states (incomplete)",
            "  [FAIL] always    removed node never acts as a member -- VIOLATED",
            "  [ok  ] sometimes a transition completes -- reached",
            "  [ ?? ] sometimes a quorum hang happens -- not reached in 200 states (incomplete)",
        ],
        "{text}"
    );
    assert!(!text.contains("holds"), "{text}");
    assert!(text.contains("counterexample, 4 steps:"), "{text}");
    let (code, v) = check(&args[1..]);
    assert_eq!((code, &v["complete"]), (1, &false.into()));
    let verdict = |name| property(&v, name)["verdict"].clone();
    assert_eq!(verdict("no split-brain"), "violated");
    assert_eq!(verdict("members fully connected at commit"), "undecided");
    assert_eq!(verdict("a transition completes"), "reached");
    assert_eq!(verdict("a quorum hang happens"), "undecided");
    // `holds` keeps its meaning (no counterexample found, an example found): extended, not
    // changed.
    assert_eq!(
        property(&v, "members fully connected at commit")["holds"],
        true
    );
    // The complete run says "holds" and "never reached".
    let (_, v) = check(&[TRI, "--max-faults", "2", "--variant", "half-quorum"]);
    assert_eq!(
        property(&v, "members fully connected at commit")["verdict"],
        "holds"
    );
    assert_eq!(
        property(&v, "a quorum hang happens")["verdict"],
        "never reached"
    );
}

/// `whatif` stopped by a limit says its outcomes are those found so far.
#[test]
fn whatif_on_an_incomplete_run_says_the_outcomes_are_partial() {
    let out = vmsc(&[
        "whatif",
        TRI,
        "--fail",
        "link:FRA-LHR",
        "--heal",
        "--states-max",
        "10",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().nth(1).unwrap();
    assert!(
        line.ends_with(
            " states, INCOMPLETE (stopped at --states-max 10): the outcomes found so far, there may be others"
        ),
        "{text}"
    );
}

// ----- the header and counts: what the user typed, in English -----

/// The header names the variants as `--variant` and `--dlm-variant` take them and counts in
/// the singular where there is one.
#[test]
fn check_header_names_the_variants_as_the_flags_take_them() {
    let header = |args: &[&str]| {
        let mut v = vec!["check"];
        v.extend_from_slice(args);
        let out = vmsc(&v);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        header(&[TRI, "--max-faults", "1", "--variant", "no-timing-assumption"]),
        "vmsc check: cluster TRICLU (3 nodes), up to 1 fault, variant no-timing-assumption, checker reduced"
    );
    assert_eq!(
        header(&[
            "specs/scenarios/dlm-three-nodes.toml",
            "--max-faults",
            "0",
            "--dlm-variant",
            "broken-matrix",
            "--states-max",
            "10"
        ]),
        "vmsc check: cluster TRICLU (3 nodes), up to 0 faults, variant correct, dlm-variant broken-matrix, checker reduced"
    );
}

// ----- the checker flag family: the same flags on check, whatif, plan and explore -----

/// `whatif --dlm-variant`: a lock-manager negative control is caught by `whatif` as by `check`.
#[test]
fn whatif_takes_the_lock_manager_variant() {
    let dlm = "specs/scenarios/dlm-three-nodes.toml";
    let (code, v) = whatif(&[dlm, "--fail", "node:UK1"]);
    assert_eq!((code, &v["violations"]), (0, &serde_json::json!([])), "{v}");
    assert_eq!(v["states"], 24_732);
    let (code, v) = whatif(&[
        dlm,
        "--fail",
        "node:UK1",
        "--dlm-variant",
        "keep-failed-locks",
    ]);
    assert_eq!(
        (code, &v["violations"]),
        (1, &serde_json::json!(["nothing lost"])),
        "{v}"
    );
    assert_eq!(v["states"], 24_896);
}

/// Every checker command has an Examples section in its help.
#[test]
fn checker_commands_have_examples() {
    for cmd in ["check", "whatif", "plan", "explore"] {
        let out = vmsc(&[cmd, "--help"]);
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains(&format!("Examples:\n  vmsc {cmd}")),
            "{cmd}: {help}"
        );
    }
}

// ----- progress on stderr -----

/// Off a terminal (here: a pipe), a long `check` prints a progress line per interval on stderr;
/// `--progress never` prints none; stdout is the same either way.
#[test]
fn check_off_a_terminal_prints_progress_lines_on_stderr() {
    let run = |progress: &str| {
        vmsc(&[
            "check",
            "--max-faults",
            "2",
            "--threads",
            "1",
            "--states-max",
            "400000",
            "--progress",
            progress,
            "--progress-interval-s",
            "1",
        ])
    };
    let auto = run("auto");
    let never = run("never");
    let err = String::from_utf8(auto.stderr).unwrap();
    let lines: Vec<&str> = err.lines().collect();
    assert!(!lines.is_empty(), "no progress line");
    for l in &lines {
        let words: Vec<&str> = l.split(' ').collect();
        assert_eq!(
            (words[0], words[1], words[3], words[5], words[6], words[9]),
            ("vmsc", "check:", "states,", "states/s,", "depth", "s"),
            "{l}"
        );
    }
    assert_eq!(String::from_utf8(never.stderr).unwrap(), "");
    let untimed = |out: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(out)
            .lines()
            .filter(|l| !l.contains(" s ("))
            .map(String::from)
            .collect()
    };
    assert_eq!(untimed(&auto.stdout), untimed(&never.stdout));
}

/// `plan --suggest` says which suggestion it is planning, the pass and the fault set.
#[test]
fn plan_progress_names_the_suggestion_and_the_set() {
    let out = vmsc(&[
        "plan",
        TRI,
        "--max-faults",
        "1",
        "--suggest",
        "--threads",
        "1",
        "--progress",
        "always",
        "--progress-interval-s",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    for want in [
        "plan: first pass, 0 of 6 fault sets done; set 1 (cut FRA-LHR) at 0 states; ",
        "plan: suggestion 1 of 7 (quorum disk (1 vote) in FRA): first pass, 0 of 6 fault sets done; set 1 (cut FRA-LHR) at 0 states; ",
        "plan: suggestion 7 of 7 (tie-breaker node TIEBRK in IAD): first pass, 9 of 10 fault sets done; set 10 (crash TIEBRK) at 0 states; ",
    ] {
        assert!(err.lines().any(|l| l.starts_with(want)), "{want}\n{err}");
    }
}

// ----- explore -----

/// `GET /.status` from the Explorer at `url` (`http://HOST:PORT/`), at once: the status line.
fn explorer_status(url: &str) -> String {
    use std::io::{Read, Write};
    let addr = url
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix('/'))
        .unwrap_or_else(|| panic!("not a URL: {url}"));
    let mut s = std::net::TcpStream::connect(addr).expect("the printed URL is served");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(s, "GET /.status HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("an answer");
    raw.lines().next().unwrap_or_default().to_string()
}

/// Runs `vmsc explore ARGS` and returns its stdout lines up to "(Ctrl-C to stop)" (having
/// checked that the URL of the first line is served then, then kills it), or, if it exits
/// first, its exit code, stdout and stderr.
fn explore(args: &[&str]) -> Result<Vec<String>, (Option<i32>, String, String)> {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Child, Stdio};
    /// Kills the server however the test ends.
    struct Guard(Child);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Guard(
        Command::new(env!("CARGO_BIN_EXE_vmsc"))
            .arg("explore")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run vmsc explore"),
    );
    let mut lines = Vec::new();
    for line in BufReader::new(child.0.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line == "(Ctrl-C to stop)";
        lines.push(line);
        if done {
            let url = lines[0].rsplit(" at ").next().unwrap();
            let status = explorer_status(url);
            assert!(status.ends_with(" 200 OK"), "{url}: {status}");
            return Ok(lines);
        }
    }
    let status = child.0.wait().unwrap();
    let mut err = String::new();
    let mut stderr = child.0.stderr.take().unwrap();
    stderr.read_to_string(&mut err).unwrap();
    Err((status.code(), lines.join("\n"), err))
}

/// A port in use, an address not on this machine and a malformed `--path` are errors naming
/// the flag (exit 2, no panic), and nothing claims to serve.
#[test]
fn explore_refuses_an_address_it_cannot_serve_on_and_a_malformed_path() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, out, err) = explore(&["--addr", &addr]).unwrap_err();
    assert_eq!((code, out.as_str()), (Some(2), ""), "{err}");
    assert!(
        err.starts_with(&format!(
            "vmsc: error: --addr \"{addr}\": cannot listen there: "
        )),
        "{err}"
    );
    // 192.0.2.0/24 is TEST-NET-1: never an address of this machine.
    let (code, out, err) = explore(&["--addr", "192.0.2.7:3000"]).unwrap_err();
    assert_eq!((code, out.as_str()), (Some(2), ""), "{err}");
    assert!(
        err.contains("--addr \"192.0.2.7:3000\": cannot listen there"),
        "{err}"
    );
    for bad in ["abc", "1/0", "0/x", ""] {
        let (code, out, err) = explore(&["--addr", "127.0.0.1:0", "--path", bad]).unwrap_err();
        assert_eq!((code, out.as_str()), (Some(2), ""), "{bad}: {err}");
        assert!(
            err.contains(&format!("--path {bad:?}: expected 0/i/j/...")),
            "{err}"
        );
    }
}

/// `explore --checker` runs the search before serving and prints a deep link to each
/// discovery, at the address it serves on; without `--checker` no search runs. A valid
/// `--path` is printed as a deep link.
#[test]
fn explore_with_a_checker_prints_a_deep_link_to_each_discovery() {
    let lines = explore(&[
        TRI,
        "--max-faults",
        "2",
        "--variant",
        "half-quorum",
        "--checker",
        "reduced",
        "--addr",
        "127.0.0.1:0",
    ])
    .unwrap();
    let url = lines[0]
        .strip_prefix("vmsc explore: Stateright Explorer for cluster TRICLU at ")
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with('/'));
    assert_eq!(lines[1], "search (reduced): 1883 unique states, complete");
    assert_eq!(
        lines[2],
        format!("  [FAIL] always    no split-brain -- VIOLATED: {url}#/steps/0/0/0/6/0")
    );
    assert_eq!(lines.len(), 2 + 7 + 1, "{lines:?}");
    let lines = explore(&[TRI, "--addr", "127.0.0.1:0", "--path", "0/0"]).unwrap();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[1].starts_with("counterexample: http://127.0.0.1:"),
        "{lines:?}"
    );
    assert!(lines[1].ends_with("/#/steps/0/0"), "{lines:?}");
}
