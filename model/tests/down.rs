//! Forgetting a down node's state changes the state count, never the behaviour (see
//! [`vmsc_model::cluster_model::DownNodes`]).
//!
//! While a node is down (crashed, or after a CLUEXIT), the model keeps of its state only what
//! [`vmsc_model::node::NodeActor::down_state`] keeps: its incarnation, its CLUEXIT rule and its
//! lock-manager state. The claim is that the states reachable when the model forgets the rest
//! are exactly the states reachable when it keeps it ([`DownNodes::Keep`]), each with every down
//! node's state forgotten; and that every property has the same verdict. The tests compare both,
//! by fingerprint and verdict, on configurations where nodes crash, take a CLUEXIT and reboot.
//! If anything read a down node's forgotten state, the model that keeps it would reach a state
//! the other cannot, or a different verdict. The negative control forgets the state too early
//! (in the crash itself, before the step is recorded), and the comparison must catch it.
mod common;

use common::{any_faults, compare, healed, load, Case, Comparison};
use std::sync::Arc;
use vmsc_model::cluster_model::{CheckConfig, ClusterModel, DownNodes, HealMode, State};
use vmsc_model::config::ClusterSpec;
use vmsc_model::whatif::Variant;

fn model(spec: &Arc<ClusterSpec>, case: &Case, d: DownNodes) -> ClusterModel {
    let mut cfg = CheckConfig::new(case.0.clone(), case.1);
    Variant::Correct.configure(&mut cfg);
    cfg.down_nodes = d;
    ClusterModel::new(Arc::clone(spec), cfg)
}

/// `s` with every down node's state forgotten.
fn forgotten(m: &ClusterModel, s: &State) -> State {
    let mut s = s.clone();
    for i in s.history.down.iter() {
        s.actor_states[i] = Arc::new(m.actor(i).down_state(&s.actor_states[i]));
    }
    s
}

/// Keeping down nodes' states against `d`, on `case`.
fn versus(spec: &Arc<ClusterSpec>, case: &Case, d: DownNodes) -> Comparison {
    let keep = model(spec, case, DownNodes::Keep);
    compare(&keep, &model(spec, case, d), forgotten)
}

/// Asserts that forgetting is exact on each case, with the pinned counts (keeping, forgetting).
fn assert_exact(spec: &Arc<ClusterSpec>, cases: Vec<(Case, (usize, usize))>) {
    for (case, pinned) in cases {
        versus(spec, &case, DownNodes::Forget).assert_exact(pinned, &case.2);
    }
}

#[test]
fn forgetting_down_nodes_keeps_every_state_and_verdict_on_three_regions() {
    let spec = load("specs/scenarios/three-regions.toml");
    assert_exact(
        &spec,
        vec![
            (any_faults(&spec, 1, HealMode::Never), (334, 320)),
            (any_faults(&spec, 2, HealMode::Never), (2_681, 1_866)),
            (any_faults(&spec, 1, HealMode::Anytime), (18_262, 18_099)),
            (healed(&spec, &["node:CHIC1", "node:UK1"]), (512, 512)),
            (healed(&spec, &["link:FRA-LHR", "link:LHR-ORD"]), (67, 67)),
        ],
    );
}

#[test]
fn forgetting_down_nodes_keeps_every_state_and_verdict_on_the_seed() {
    let spec = load("specs/scenarios/seed.toml");
    // Crashed nodes reboot; a cut side takes a CLUEXIT and reboots.
    assert_exact(
        &spec,
        vec![
            (any_faults(&spec, 1, HealMode::Never), (42_158, 41_532)),
            (healed(&spec, &["node:FRANK2"]), (638, 638)),
            (healed(&spec, &["link:FRA-LHR"]), (32_602, 32_557)),
            (
                healed(&spec, &["link:FRA-LHR", "link:LHR-ORD"]),
                (1_109, 1_109),
            ),
            (
                healed(&spec, &["node:CHIC1", "node:CHIC2"]),
                (116_198, 116_198),
            ),
        ],
    );
}

/// With a lock manager: a down node's lock-manager state is kept, and the rest of it is still
/// never read (the lock-manager ghosts read holders' queues, not views).
#[test]
fn forgetting_down_nodes_keeps_every_state_and_verdict_with_a_lock_manager() {
    let spec = load("specs/scenarios/dlm-sublocks.toml");
    assert_exact(
        &spec,
        vec![(any_faults(&spec, 1, HealMode::Never), (134_774, 127_418))],
    );
}

#[test]
fn the_comparison_catches_a_model_that_forgets_too_early() {
    let spec = load("specs/scenarios/three-regions.toml");
    let c = versus(
        &spec,
        &any_faults(&spec, 1, HealMode::Never),
        DownNodes::ForgetEarly,
    );
    assert!(
        !(c.same_states && c.same_verdicts),
        "forgetting in the crash itself went unnoticed"
    );
}
