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

use common::{any_faults, compare, healed, load, Case, Comparison};
use stateright::actor::Network;
use std::sync::Arc;
use vmsc_model::cluster_model::{CheckConfig, ClusterModel, DeadMessages, HealMode, State};
use vmsc_model::config::ClusterSpec;
use vmsc_model::whatif::Variant;

fn model(spec: &Arc<ClusterSpec>, case: &Case, d: DeadMessages) -> ClusterModel {
    let mut cfg = CheckConfig::new(case.0.clone(), case.1);
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

/// Keeping dead messages against `d`, on `case`.
fn versus(spec: &Arc<ClusterSpec>, case: &Case, d: DeadMessages) -> Comparison {
    let keep = model(spec, case, DeadMessages::Keep);
    compare(&keep, &model(spec, case, d), without_dead_messages)
}

/// Asserts that dropping dead messages is exact on each case, with the pinned counts (keeping
/// them, dropping them).
fn assert_exact(spec: &Arc<ClusterSpec>, cases: Vec<(Case, (usize, usize))>) {
    for (case, pinned) in cases {
        versus(spec, &case, DeadMessages::Drop).assert_exact(pinned, &case.2);
    }
}

#[test]
fn dropping_dead_messages_keeps_every_state_and_verdict_on_three_regions() {
    let spec = load("specs/scenarios/three-regions.toml");
    assert_exact(
        &spec,
        vec![
            (any_faults(&spec, 1, HealMode::Never), (320, 320)),
            (any_faults(&spec, 2, HealMode::Never), (1_866, 1_866)),
            (any_faults(&spec, 1, HealMode::Anytime), (38_360, 18_099)),
            // Two nodes rejoin at once, and hear each other's hellos while neither is a member.
            (healed(&spec, &["node:CHIC1", "node:UK1"]), (984, 512)),
            (healed(&spec, &["link:FRA-LHR", "link:LHR-ORD"]), (111, 67)),
        ],
    );
}

#[test]
fn dropping_dead_messages_keeps_every_state_and_verdict_on_the_seed() {
    let spec = load("specs/scenarios/seed.toml");
    // The whatif sets that heal: crashed nodes rejoin, a cut side takes a CLUEXIT and rejoins.
    assert_exact(
        &spec,
        vec![
            (any_faults(&spec, 1, HealMode::Never), (41_532, 41_532)),
            (healed(&spec, &["node:FRANK2"]), (2_350, 638)),
            (healed(&spec, &["link:FRA-LHR"]), (35_981, 32_557)),
            (
                healed(&spec, &["link:FRA-LHR", "link:LHR-ORD"]),
                (2_821, 1_109),
            ),
            // Two crashed nodes of one region reboot and rejoin together.
            (
                healed(&spec, &["node:CHIC1", "node:CHIC2"]),
                (1_282_395, 116_198),
            ),
        ],
    );
}

#[test]
fn the_comparison_catches_a_network_that_drops_a_live_message() {
    let spec = load("specs/scenarios/three-regions.toml");
    let case = healed(&spec, &["node:CHIC1", "node:UK1"]);
    let c = versus(&spec, &case, DeadMessages::DropLive);
    assert!(
        !c.same_states,
        "dropping a hello to a joiner went unnoticed"
    );
}
