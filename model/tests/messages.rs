//! Dropping dead messages changes the state count, never the behaviour (see
//! [`vmsc_model::cluster_model::DeadMessages`]).
//!
//! A message is dead when delivering it would be a no-op now and in every later state of its
//! receiver's incarnation ([`NodeActor::msg_is_dead`]: a hello without a view, to a member). The
//! claim is that the states reachable when the network drops dead messages are exactly the states
//! reachable when it keeps them ([`DeadMessages::Keep`]), each with its dead messages dropped; and
//! that every property has the same verdict. The tests compare both, by fingerprint and verdict,
//! on every configuration small enough to explore twice. If a dead message could ever do
//! something when delivered, the model that keeps it would reach a state the other cannot, and
//! the sets would differ. The negative control shows the comparison catching a network that also
//! drops a live message (a hello without a view to a joiner, which records its sender).
mod common;

use common::{budget, exact, load, reachable};
use stateright::actor::Network;
use std::sync::Arc;
use vmsc_model::cluster_model::{
    CheckConfig, ClusterModel, DeadMessages, FaultPlan, HealMode, State,
};
use vmsc_model::config::ClusterSpec;
use vmsc_model::whatif::Variant;

fn model(
    spec: &Arc<ClusterSpec>,
    plan: FaultPlan,
    heal: HealMode,
    d: DeadMessages,
) -> ClusterModel {
    let mut cfg = CheckConfig::new(plan, heal);
    Variant::Correct.configure(&mut cfg);
    cfg.dead_messages = d;
    ClusterModel::new(Arc::clone(spec), cfg)
}

/// `s` with every dead message in flight dropped.
fn without_dead_messages(m: &ClusterModel, s: &State) -> State {
    let mut s = s.clone();
    let nodes = s.actor_states.clone();
    if let Network::Ordered(map) = &mut s.network {
        for ((_, dst), q) in map.iter_mut() {
            let i = usize::from(*dst);
            if i < m.spec.len() {
                q.retain(|msg| !m.actor(i).msg_is_dead(&nodes[i], msg));
            }
        }
        map.retain(|_, q| !q.is_empty());
    }
    s
}

/// (states keeping dead messages, states dropping them, whether the sets agree once dead
/// messages are dropped, whether every verdict agrees). When they are dropped, no reachable
/// state holds one: its own image is itself.
fn compare(
    spec: &Arc<ClusterSpec>,
    plan: FaultPlan,
    heal: HealMode,
    drop: DeadMessages,
) -> (usize, usize, bool, bool) {
    let keep = model(spec, plan.clone(), heal, DeadMessages::Keep);
    let with = model(spec, plan, heal, drop);
    let keep = reachable(&keep, |s| without_dead_messages(&keep, s));
    let with = reachable(&with, |s| without_dead_messages(&with, s));
    if drop == DeadMessages::Drop {
        assert_eq!(
            with.image, with.states,
            "a reachable state holds a dead message"
        );
    }
    (
        keep.states.len(),
        with.states.len(),
        keep.image == with.states,
        keep.verdicts == with.verdicts,
    )
}

/// Asserts that dropping dead messages keeps every state of `plan` but those messages and every
/// verdict, and pins the state counts (keeping them, dropping them).
fn assert_equivalent(
    spec: &Arc<ClusterSpec>,
    plan: FaultPlan,
    heal: HealMode,
    pinned: (usize, usize),
    label: &str,
) {
    let (keep, drop, same, verdicts) = compare(spec, plan, heal, DeadMessages::Drop);
    assert!(same, "{label}: the state sets differ");
    assert!(verdicts, "{label}: the verdicts differ");
    assert_eq!((keep, drop), pinned, "{label}");
}

/// [`assert_equivalent`] on each `whatif` fault set, healed once settled.
fn assert_equivalent_healed(spec: &Arc<ClusterSpec>, sets: &[(&[&str], (usize, usize))]) {
    for &(set, pinned) in sets {
        let label = format!("{set:?} + heal");
        assert_equivalent(
            spec,
            exact(spec, set),
            HealMode::AfterSettle,
            pinned,
            &label,
        );
    }
}

#[test]
fn dropping_dead_messages_keeps_every_state_and_verdict_on_three_regions() {
    let spec = load("specs/scenarios/three-regions.toml");
    // (faults, heal) -> (states keeping dead messages, dropping them): pinned.
    let cases = [
        (1, HealMode::Never, (320, 320)),
        (2, HealMode::Never, (1_866, 1_866)),
        (1, HealMode::Anytime, (38_360, 18_099)),
    ];
    for (max, heal, pinned) in cases {
        let label = format!("{max} faults, {heal:?}");
        assert_equivalent(&spec, budget(&spec, max), heal, pinned, &label);
    }
    // Two nodes rejoin at once, and hear each other's hellos while neither is a member.
    let sets: [(&[&str], (usize, usize)); 2] = [
        (&["node:CHIC1", "node:UK1"], (984, 512)),
        (&["link:FRA-LHR", "link:LHR-ORD"], (111, 67)),
    ];
    assert_equivalent_healed(&spec, &sets);
}

#[test]
fn dropping_dead_messages_keeps_every_state_and_verdict_on_the_seed() {
    let spec = load("specs/scenarios/seed.toml");
    assert_equivalent(
        &spec,
        budget(&spec, 1),
        HealMode::Never,
        (41_532, 41_532),
        "seed, 1 fault",
    );
    // The whatif sets that heal: crashed nodes rejoin, a cut side takes a CLUEXIT and rejoins.
    let sets: [(&[&str], (usize, usize)); 4] = [
        (&["node:FRANK2"], (2_350, 638)),
        (&["link:FRA-LHR"], (35_981, 32_557)),
        (&["link:FRA-LHR", "link:LHR-ORD"], (2_821, 1_109)),
        // Two crashed nodes of one region reboot and rejoin together.
        (&["node:CHIC1", "node:CHIC2"], (1_282_395, 116_198)),
    ];
    assert_equivalent_healed(&spec, &sets);
}

#[test]
fn the_comparison_catches_a_network_that_drops_a_live_message() {
    let spec = load("specs/scenarios/three-regions.toml");
    let (_, _, same, _) = compare(
        &spec,
        exact(&spec, &["node:CHIC1", "node:UK1"]),
        HealMode::AfterSettle,
        DeadMessages::DropLive,
    );
    assert!(!same, "dropping a hello to a joiner went unnoticed");
}
