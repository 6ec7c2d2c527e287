//! The lock manager checked exhaustively on three nodes, two resources, three clients, under
//! any single fault (`specs/scenarios/dlm-three-nodes.toml`); deadlock detection on
//! `dlm-deadlock.toml` (under any single fault), `dlm-phantom.toml` and `dlm-grant-order.toml`
//! (no fault); sublocks (`dlm-sublocks.toml`); trees dropped with their last lock while others
//! look them up (`dlm-dir-race.toml`, no fault and any single fault); and the negative controls,
//! each caught with a (shortest, breadth-first) counterexample whose length is pinned. `DLM_TRACE=1` (or `2`, with the lock-manager states)
//! prints the paths.
use stateright::Expectation;
use std::sync::Arc;
use std::time::Instant;
use vmsc_model::cluster_model::fingerprint;
use vmsc_model::config::ClusterSpec;
use vmsc_model::dlm::DlmVariant;
use vmsc_model::explore::{explore, Options, Report};
use vmsc_model::properties;
use vmsc_model::whatif::{check_model, Variant};

const THREE_NODES: &str = "dlm-three-nodes.toml";
const DEADLOCK: &str = "dlm-deadlock.toml";
const PHANTOM: &str = "dlm-phantom.toml";
const GRANT_ORDER: &str = "dlm-grant-order.toml";
const SUBLOCKS: &str = "dlm-sublocks.toml";
const DIR_RACE: &str = "dlm-dir-race.toml";

fn spec(file: &str) -> Arc<ClusterSpec> {
    let path = format!("{}/../specs/scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    Arc::new(ClusterSpec::load(std::path::Path::new(&path)).unwrap())
}

fn run(variant: DlmVariant) -> Report {
    run_with(THREE_NODES, 1, variant, usize::MAX)
}

/// Explores `file` under any `faults` faults, at most `states_max` states (breadth-first: the
/// shortest counterexamples come first).
fn run_with(file: &str, faults: usize, variant: DlmVariant, states_max: usize) -> Report {
    let mut m = check_model(spec(file), faults, false, Variant::Correct);
    m.cfg.protocol.dlm = variant;
    let m = vmsc_model::cluster_model::ClusterModel::new(m.spec.clone(), m.cfg.clone());
    let t = Instant::now();
    let opts = Options {
        states_max,
        fingerprint: Some(fingerprint),
        ..Options::default()
    };
    let r = explore(&m, opts);
    eprintln!(
        "{variant:?}: {} states, complete {}, {:.2} s",
        r.states,
        r.complete,
        t.elapsed().as_secs_f64()
    );
    for p in &r.properties {
        eprintln!(
            "  {:<40} holds {} path len {:?}",
            p.name,
            p.holds,
            p.path.as_ref().map(|p| p.len())
        );
    }
    r
}

#[test]
fn every_dlm_property_holds_under_one_fault() {
    let r = run(DlmVariant::Correct);
    assert!(r.complete);
    for p in &r.properties {
        if !p.holds && std::env::var("DLM_TRACE").is_ok() {
            trace(
                THREE_NODES,
                1,
                DlmVariant::Correct,
                p.path.as_deref().unwrap_or(&[]),
            );
        }
        assert!(p.holds, "{} fails: {:?}", p.name, p.path);
    }
    assert_eq!(
        r.states, 704_944,
        "state count changed: review the model change"
    );
}

/// Prints a path for debugging: `DLM_TRACE=1 cargo test ... -- --nocapture`.
#[allow(dead_code)]
fn trace(file: &str, faults: usize, variant: DlmVariant, path: &[usize]) {
    let mut m = check_model(spec(file), faults, false, Variant::Correct);
    m.cfg.protocol.dlm = variant;
    let m = vmsc_model::cluster_model::ClusterModel::new(m.spec.clone(), m.cfg.clone());
    let (_, steps) = vmsc_model::explore::replay(&m, path).unwrap();
    for (a, s) in &steps {
        eprintln!("- {}", m.describe_action(a));
        if std::env::var("DLM_TRACE").as_deref() == Ok("2") {
            for i in 0..m.spec.len() {
                eprintln!(
                    "    {}: view {:?} phase {:?} {:?}",
                    m.spec.nodes[i].name,
                    m.node(s, i).view.map(|v| (v.seq, v.members)),
                    m.node(s, i).phase,
                    m.node(s, i).dlm
                );
            }
            eprintln!("    env lvb {:?}", s.history.lvb);
        }
    }
}

/// The negative controls stop after this many states: their counterexamples are short.
const CONTROL_STATES: usize = 300_000;

fn caught(variant: DlmVariant, property: &str) -> usize {
    caught_in(THREE_NODES, 1, variant, property)
}

fn caught_in(file: &str, faults: usize, variant: DlmVariant, property: &str) -> usize {
    let r = run_with(file, faults, variant, CONTROL_STATES);
    let p = r.properties.iter().find(|p| p.name == property).unwrap();
    assert!(!p.holds, "{variant:?} not caught by {property}");
    let path = p.path.clone().unwrap();
    if std::env::var("DLM_TRACE").is_ok() {
        trace(file, faults, variant, &path);
    }
    path.len()
}

/// The checks of `file` in which every safety property must hold: the verdicts, by name.
fn verdicts(file: &str, faults: usize) -> (usize, Vec<(&'static str, bool)>) {
    let r = run_with(file, faults, DlmVariant::Correct, usize::MAX);
    assert!(r.complete);
    for p in &r.properties {
        if p.expectation == Expectation::Always && !p.holds {
            if std::env::var("DLM_TRACE").is_ok() {
                trace(
                    file,
                    faults,
                    DlmVariant::Correct,
                    p.path.as_deref().unwrap_or(&[]),
                );
            }
            panic!("{file}: {} fails: {:?}", p.name, p.path);
        }
    }
    let v = r.properties.iter().map(|p| (p.name, p.holds)).collect();
    (r.states, v)
}

fn reached(v: &[(&'static str, bool)], name: &str) -> bool {
    v.iter().any(|&(n, holds)| n == name && holds)
}

/// The two crossed clients deadlock; the search breaks every cycle with one victim, under any
/// single fault (a rebuild in the middle of a search included); every property holds and every
/// sometimes-property is reached.
#[test]
fn deadlocks_are_broken_under_one_fault() {
    let (states, v) = verdicts(DEADLOCK, 1);
    assert_eq!(
        states, 501_405,
        "state count changed: review the model change"
    );
    // Every sometimes-property is reached, the deadlock victim included.
    for (name, holds) in v {
        assert!(holds, "{name} never reached");
    }
}

/// No real deadlock can form in the phantom scenario: no victim is ever chosen.
#[test]
fn a_phantom_cycle_is_not_a_deadlock() {
    let (states, v) = verdicts(PHANTOM, 0);
    assert_eq!(states, 2_205);
    assert!(!reached(&v, properties::DEADLOCK_VICTIM));
}

#[test]
fn grant_order_scenario_holds() {
    let (states, v) = verdicts(GRANT_ORDER, 0);
    assert_eq!(states, 814);
    assert!(reached(&v, properties::GRANT_AFTER_WAIT));
}

#[test]
fn negative_control_no_deadlock_search() {
    assert_eq!(
        caught_in(
            DEADLOCK,
            0,
            DlmVariant::NoDeadlockSearch,
            properties::CYCLES_BROKEN
        ),
        12
    );
}

#[test]
fn negative_control_single_phase_search() {
    assert_eq!(
        caught_in(
            PHANTOM,
            0,
            DlmVariant::SinglePhaseSearch,
            properties::VICTIM_IN_CYCLE
        ),
        20
    );
}

#[test]
fn negative_control_queue_jump() {
    assert_eq!(
        caught_in(
            GRANT_ORDER,
            0,
            DlmVariant::QueueJump,
            properties::GRANT_ORDER
        ),
        9
    );
}

#[test]
fn negative_control_broken_matrix() {
    assert_eq!(caught(DlmVariant::BrokenMatrix, "lock compatibility"), 7);
}

#[test]
fn negative_control_grant_while_suspended() {
    assert_eq!(
        caught(DlmVariant::GrantWhileSuspended, "lock compatibility"),
        6
    );
}

#[test]
fn negative_control_skip_value_invalidation() {
    assert_eq!(caught(DlmVariant::SkipValueInvalidation, "value block"), 14);
}

#[test]
fn negative_control_keep_failed_locks() {
    assert_eq!(caught(DlmVariant::KeepFailedLocks, "nothing lost"), 14);
}

/// Sublocks under a parent NL lock, under any single fault: every property holds, and in every
/// reachable state the tree is one unit — only the root is looked up in the directory, a node
/// that masters `DB/REC1` masters `DB`, and a node's known master of `DB/REC1` is its master of
/// `DB`.
#[test]
fn sublocks_follow_their_root_under_one_fault() {
    use vmsc_model::dlm::DlmMsg;
    use vmsc_model::node::Msg;
    let mut m = check_model(spec(SUBLOCKS), 1, false, Variant::Correct);
    m.cfg.protocol.dlm = DlmVariant::Correct;
    let m = vmsc_model::cluster_model::ClusterModel::new(m.spec.clone(), m.cfg.clone());
    let db = m.spec.resources.iter().position(|r| r == "DB").unwrap() as u8;
    let rec = m
        .spec
        .resources
        .iter()
        .position(|r| r == "DB/REC1")
        .unwrap() as u8;
    let mut bad: Option<String> = None;
    let mut subs_mastered = 0usize;
    let mut visit = |s: &vmsc_model::cluster_model::State| {
        if let stateright::actor::Network::Ordered(map) = &s.network {
            for q in map.values() {
                for msg in q {
                    if let Msg::Dlm(DlmMsg::Lookup { res, .. }) = msg {
                        if *res != db {
                            bad.get_or_insert(format!("lookup for resource {res}"));
                        }
                    }
                }
            }
        }
        for (i, n) in s.actor_states.iter().enumerate() {
            if n.dlm.mastered.contains_key(&rec) {
                subs_mastered += 1;
                if !n.dlm.mastered.contains_key(&db) {
                    bad.get_or_insert(format!("node {i} masters DB/REC1 but not DB"));
                }
            }
            if let (Some(a), Some(b)) = (n.dlm.known.get(&rec), n.dlm.known.get(&db)) {
                if a != b {
                    bad.get_or_insert(format!("node {i} knows two masters for the tree"));
                }
            }
        }
    };
    let r = explore(
        &m,
        Options {
            fingerprint: Some(fingerprint),
            visit: Some(&mut visit),
            visit_only: None,
            ..Options::default()
        },
    );
    assert!(r.complete);
    assert_eq!(r.states, SUBLOCK_STATES);
    for p in &r.properties {
        if p.expectation == Expectation::Always {
            assert!(p.holds, "{} fails: {:?}", p.name, p.path);
        }
    }
    assert_eq!(bad, None);
    assert!(subs_mastered > 0);
}

/// Unique states of `dlm-sublocks.toml` under any single fault.
const SUBLOCK_STATES: usize = 127_418;

/// What the directory race scenario exercised.
#[derive(Debug, Default, PartialEq)]
struct RaceSeen {
    /// States with a `NotMaster` answer in flight.
    not_master: usize,
    /// States where a node keeps a request that arrived ahead of its own directory answer.
    deferred: usize,
    /// States with an `Unregister` in flight.
    unregister: usize,
    /// States with a lookup in flight that names a dead entry.
    dead_entry: usize,
}

/// Explores `dlm-dir-race.toml` under any `faults` faults: the state count, the properties'
/// verdicts, and what the race exercised.
fn dir_race(faults: usize) -> (Report, RaceSeen) {
    use vmsc_model::dlm::DlmMsg;
    use vmsc_model::node::Msg;
    let m = check_model(spec(DIR_RACE), faults, false, Variant::Correct);
    let m = vmsc_model::cluster_model::ClusterModel::new(m.spec.clone(), m.cfg.clone());
    let mut seen = RaceSeen::default();
    let mut visit = |s: &vmsc_model::cluster_model::State| {
        let mut flags = [false; 3];
        if let stateright::actor::Network::Ordered(map) = &s.network {
            for msg in map.values().flatten() {
                match msg {
                    Msg::Dlm(DlmMsg::NotMaster { .. }) => flags[0] = true,
                    Msg::Dlm(DlmMsg::Unregister { .. }) => flags[1] = true,
                    Msg::Dlm(DlmMsg::Lookup { dead: Some(_), .. }) => flags[2] = true,
                    _ => {}
                }
            }
        }
        seen.not_master += usize::from(flags[0]);
        seen.unregister += usize::from(flags[1]);
        seen.dead_entry += usize::from(flags[2]);
        seen.deferred += usize::from(s.actor_states.iter().any(|n| !n.dlm.deferred.is_empty()));
    };
    let r = explore(
        &m,
        Options {
            fingerprint: Some(fingerprint),
            visit: Some(&mut visit),
            visit_only: None,
            ..Options::default()
        },
    );
    assert!(r.complete);
    for p in &r.properties {
        if p.expectation == Expectation::Always {
            assert!(p.holds, "{} fails: {:?}", p.name, p.path);
        }
    }
    (r, seen)
}

/// Trees dropped with their last lock and looked up again from another node, with no fault and
/// under any single fault: every property holds ("one master per tree" included), and each part
/// of the removal handshake happens in some state — a request answered `NotMaster`, one kept for
/// its master's own directory answer, an `Unregister` on its way, a lookup naming a dead entry.
#[test]
fn the_directory_race_leaves_one_master_per_tree() {
    for (faults, states) in [(0, DIR_RACE_STATES), (1, DIR_RACE_STATES_ONE_FAULT)] {
        let (r, seen) = dir_race(faults);
        eprintln!("{faults} fault(s): {seen:?}");
        assert!(seen.not_master > 0 && seen.deferred > 0, "{seen:?}");
        assert!(seen.unregister > 0 && seen.dead_entry > 0, "{seen:?}");
        let v: Vec<(&str, bool)> = r.properties.iter().map(|p| (p.name, p.holds)).collect();
        assert!(reached(&v, properties::BAST_DELIVERED));
        assert!(reached(&v, properties::GRANT_AFTER_WAIT));
        assert_eq!(r.states, states, "{faults} fault(s)");
    }
}

/// Unique states of `dlm-dir-race.toml`, no fault and any single fault.
const DIR_RACE_STATES: usize = 870;
const DIR_RACE_STATES_ONE_FAULT: usize = 382_362;

/// A master that re-creates a dropped tree from a request a stale directory answer sent it (no
/// `NotMaster`): the directory makes another node master too.
#[test]
fn negative_control_no_master_check() {
    assert_eq!(
        caught_in(
            DIR_RACE,
            0,
            DlmVariant::NoMasterCheck,
            properties::ONE_MASTER
        ),
        9
    );
}
