//! Timer hygiene changes the state count, never the behaviour (see the module doc of
//! `vmsc_model::node`, *Timer hygiene*).
//!
//! A node cancels each connection-manager timer that is dead. The claim is that a dead timer
//! could only have fired as a no-op until the node armed it again itself. If that holds, the
//! states reachable with the hygiene are exactly the states reachable without it
//! ([`TimerHygiene::Keep`]), each with its dead timers dropped. Then every property, which
//! reads no timer, has the same verdict, and every `whatif` outcome is the same.
//!
//! The tests compare the two sets of states, by fingerprint, on every configuration small enough
//! to explore twice. If a dead timer could ever fire and do something, the model without the
//! hygiene would reach a state that the model with it cannot, and the sets would differ. The
//! same happens if a step revived a dead timer without arming it. The negative control shows
//! the comparison catching a hygiene that cancels a live JOIN timer.
mod common;

use common::{any_faults, compare, healed, load, Case, Comparison};
use std::sync::Arc;
use vmsc_model::cluster_model::{CheckConfig, ClusterModel, HealMode, State};
use vmsc_model::config::ClusterSpec;
use vmsc_model::node::{Timer, TimerHygiene};
use vmsc_model::whatif::Variant;

/// A model of `case` with the given hygiene.
fn model(spec: &Arc<ClusterSpec>, case: &Case, h: TimerHygiene) -> ClusterModel {
    let mut cfg = CheckConfig::new(case.0.clone(), case.1);
    Variant::Correct.configure(&mut cfg);
    cfg.protocol.timers = h;
    ClusterModel::new(Arc::clone(spec), cfg)
}

/// `s` with every dead connection-manager timer dropped (and the timer counts that the state
/// carries for its hash recomputed).
fn without_dead_timers(m: &ClusterModel, s: &State) -> State {
    let mut s = s.clone();
    for (i, actor) in m.inner.actors.iter().enumerate() {
        for t in [Timer::Recnx, Timer::Join] {
            if actor.timer_is_dead(&s.actor_states[i], t) {
                s.timers_set[i].cancel(&t);
            }
        }
        s.history.timers[i] = s.timers_set[i].iter().count() as u8;
    }
    s
}

/// No hygiene against `h`, on `case`.
fn versus(spec: &Arc<ClusterSpec>, case: &Case, h: TimerHygiene) -> Comparison {
    let keep = model(spec, case, TimerHygiene::Keep);
    compare(&keep, &model(spec, case, h), without_dead_timers)
}

/// Asserts that the hygiene keeps every state of each case but the dead timers, and every
/// verdict, with the pinned counts (without the hygiene, with it).
fn assert_exact(spec: &Arc<ClusterSpec>, cases: Vec<(Case, (usize, usize))>) {
    for (case, pinned) in cases {
        versus(spec, &case, TimerHygiene::Cancel).assert_exact(pinned, &case.2);
    }
}

#[test]
fn the_hygiene_keeps_every_state_but_the_dead_timers_on_three_regions() {
    let spec = load("specs/scenarios/three-regions.toml");
    assert_exact(
        &spec,
        vec![
            (any_faults(&spec, 1, HealMode::Never), (375, 320)),
            (any_faults(&spec, 2, HealMode::Never), (2_831, 1_866)),
            (any_faults(&spec, 1, HealMode::Anytime), (34_360, 18_099)),
        ],
    );
}

#[test]
fn the_hygiene_keeps_every_state_but_the_dead_timers_on_the_seed() {
    let spec = load("specs/scenarios/seed.toml");
    // The whatif sets that heal: the two crashes rejoin, a cut side takes a CLUEXIT and rejoins.
    assert_exact(
        &spec,
        vec![
            (any_faults(&spec, 1, HealMode::Never), (85_860, 41_532)),
            (healed(&spec, &["node:FRANK2"]), (5_017, 638)),
            (healed(&spec, &["link:FRA-LHR"]), (59_329, 32_557)),
            (
                healed(&spec, &["link:FRA-LHR", "link:LHR-ORD"]),
                (7_543, 1_109),
            ),
        ],
    );
}

#[test]
fn the_comparison_catches_a_hygiene_that_cancels_a_live_timer() {
    let spec = load("specs/scenarios/seed.toml");
    let case = healed(&spec, &["node:FRANK2"]);
    let c = versus(&spec, &case, TimerHygiene::CancelLiveJoin);
    assert!(
        !c.same_states,
        "cancelling a live JOIN timer went unnoticed"
    );
}
