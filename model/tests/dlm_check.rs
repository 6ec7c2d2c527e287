//! The lock manager checked exhaustively on three nodes, two resources, three clients, under
//! any single fault (`specs/scenarios/dlm-three-nodes.toml`); and the negative controls, each
//! caught with a (shortest, breadth-first) counterexample whose length is pinned.
//! `DLM_TRACE=1` (or `2`, with the lock-manager states) prints the paths.
use std::sync::Arc;
use std::time::Instant;
use vmsc_model::cluster_model::fingerprint;
use vmsc_model::config::ClusterSpec;
use vmsc_model::dlm::DlmVariant;
use vmsc_model::explore::{explore, Options, Report};
use vmsc_model::whatif::{check_model, Variant};

fn spec() -> Arc<ClusterSpec> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../specs/scenarios/dlm-three-nodes.toml"
    );
    Arc::new(ClusterSpec::load(std::path::Path::new(path)).unwrap())
}

fn run(variant: DlmVariant) -> Report {
    run_with(variant, usize::MAX)
}

/// Explores at most `states_max` states (breadth-first: the shortest counterexamples come first).
fn run_with(variant: DlmVariant, states_max: usize) -> Report {
    let mut m = check_model(spec(), 1, false, Variant::Correct);
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
    assert_eq!(
        r.states, 1_422_389,
        "state count changed: review the model change"
    );
    for p in &r.properties {
        if !p.holds && std::env::var("DLM_TRACE").is_ok() {
            trace(DlmVariant::Correct, p.path.as_deref().unwrap_or(&[]));
        }
        assert!(p.holds, "{} fails: {:?}", p.name, p.path);
    }
}

/// Prints a path for debugging: `DLM_TRACE=1 cargo test ... -- --nocapture`.
#[allow(dead_code)]
fn trace(variant: DlmVariant, path: &[usize]) {
    let mut m = check_model(spec(), 1, false, Variant::Correct);
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
    let r = run_with(variant, CONTROL_STATES);
    let p = r.properties.iter().find(|p| p.name == property).unwrap();
    assert!(!p.holds, "{variant:?} not caught by {property}");
    let path = p.path.clone().unwrap();
    if std::env::var("DLM_TRACE").is_ok() {
        trace(variant, &path);
    }
    path.len()
}

#[test]
fn negative_control_broken_matrix() {
    assert_eq!(caught(DlmVariant::BrokenMatrix, "lock compatibility"), 7);
}

#[test]
fn negative_control_grant_while_suspended() {
    assert_eq!(
        caught(DlmVariant::GrantWhileSuspended, "lock compatibility"),
        7
    );
}

#[test]
fn negative_control_skip_value_invalidation() {
    assert_eq!(caught(DlmVariant::SkipValueInvalidation, "value block"), 13);
}

#[test]
fn negative_control_keep_failed_locks() {
    assert_eq!(caught(DlmVariant::KeepFailedLocks, "nothing lost"), 14);
}
