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

use common::{budget, exact, load, reachable};
use std::sync::Arc;
use vmsc_model::cluster_model::{CheckConfig, ClusterModel, DownNodes, FaultPlan, HealMode, State};
use vmsc_model::config::ClusterSpec;
use vmsc_model::whatif::Variant;

fn model(spec: &Arc<ClusterSpec>, plan: FaultPlan, heal: HealMode, d: DownNodes) -> ClusterModel {
    let mut cfg = CheckConfig::new(plan, heal);
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

/// (states keeping down nodes' states, states forgetting them, whether the sets agree once
/// forgotten, whether every verdict agrees).
fn compare(
    spec: &Arc<ClusterSpec>,
    plan: FaultPlan,
    heal: HealMode,
    d: DownNodes,
) -> (usize, usize, bool, bool) {
    let keep = model(spec, plan.clone(), heal, DownNodes::Keep);
    let with = model(spec, plan, heal, d);
    let keep = reachable(&keep, |s| forgotten(&keep, s));
    let with = reachable(&with, |s| forgotten(&with, s));
    if d == DownNodes::Forget {
        assert_eq!(
            with.image, with.states,
            "a reachable state remembers a down node"
        );
    }
    (
        keep.states.len(),
        with.states.len(),
        keep.image == with.states,
        keep.verdicts == with.verdicts,
    )
}

/// Asserts that forgetting keeps every state of `plan` but what down nodes held, and every
/// verdict, and pins the state counts (keeping, forgetting).
fn assert_equivalent(
    spec: &Arc<ClusterSpec>,
    plan: FaultPlan,
    heal: HealMode,
    pinned: (usize, usize),
    label: &str,
) {
    let (keep, forget, same, verdicts) = compare(spec, plan, heal, DownNodes::Forget);
    assert!(same, "{label}: the state sets differ");
    assert!(verdicts, "{label}: the verdicts differ");
    assert_eq!((keep, forget), pinned, "{label}");
}

#[test]
fn forgetting_down_nodes_keeps_every_state_and_verdict_on_three_regions() {
    let spec = load("specs/scenarios/three-regions.toml");
    let cases = [
        (1, HealMode::Never, (334, 320)),
        (2, HealMode::Never, (2_681, 1_866)),
        (1, HealMode::Anytime, (18_262, 18_099)),
    ];
    for (max, heal, pinned) in cases {
        let label = format!("{max} faults, {heal:?}");
        assert_equivalent(&spec, budget(&spec, max), heal, pinned, &label);
    }
    for (set, pinned) in [
        (&["node:CHIC1", "node:UK1"][..], (512, 512)),
        (&["link:FRA-LHR", "link:LHR-ORD"][..], (67, 67)),
    ] {
        let label = format!("{set:?} + heal");
        assert_equivalent(
            &spec,
            exact(&spec, set),
            HealMode::AfterSettle,
            pinned,
            &label,
        );
    }
}

#[test]
fn forgetting_down_nodes_keeps_every_state_and_verdict_on_the_seed() {
    let spec = load("specs/scenarios/seed.toml");
    assert_equivalent(
        &spec,
        budget(&spec, 1),
        HealMode::Never,
        (42_158, 41_532),
        "seed, 1 fault",
    );
    // Crashed nodes reboot; a cut side takes a CLUEXIT and reboots.
    for (set, pinned) in [
        (&["node:FRANK2"][..], (638, 638)),
        (&["link:FRA-LHR"][..], (32_602, 32_557)),
        (&["link:FRA-LHR", "link:LHR-ORD"][..], (1_109, 1_109)),
        (&["node:CHIC1", "node:CHIC2"][..], (116_198, 116_198)),
    ] {
        let label = format!("{set:?} + heal");
        assert_equivalent(
            &spec,
            exact(&spec, set),
            HealMode::AfterSettle,
            pinned,
            &label,
        );
    }
}

/// With a lock manager: a down node's lock-manager state is kept, and the rest of it is still
/// never read (the lock-manager ghosts read holders' queues, not views).
#[test]
fn forgetting_down_nodes_keeps_every_state_and_verdict_with_a_lock_manager() {
    let spec = load("specs/scenarios/dlm-sublocks.toml");
    assert_equivalent(
        &spec,
        budget(&spec, 1),
        HealMode::Never,
        (134_774, 127_418),
        "dlm-sublocks, 1 fault",
    );
}

#[test]
fn the_comparison_catches_a_model_that_forgets_too_early() {
    let spec = load("specs/scenarios/three-regions.toml");
    let (_, _, same, verdicts) = compare(
        &spec,
        budget(&spec, 1),
        HealMode::Never,
        DownNodes::ForgetEarly,
    );
    assert!(
        !(same && verdicts),
        "forgetting in the crash itself went unnoticed"
    );
}
