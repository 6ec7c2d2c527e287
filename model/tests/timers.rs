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

use common::{budget, exact, load, reachable};
use std::sync::Arc;
use vmsc_model::cluster_model::{CheckConfig, ClusterModel, FaultPlan, HealMode, State};
use vmsc_model::config::ClusterSpec;
use vmsc_model::node::{Timer, TimerHygiene};
use vmsc_model::whatif::Variant;

/// A model of `plan` with the given hygiene.
fn model(
    spec: &Arc<ClusterSpec>,
    plan: FaultPlan,
    heal: HealMode,
    h: TimerHygiene,
) -> ClusterModel {
    let mut cfg = CheckConfig::new(plan, heal);
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

/// (states without the hygiene, states with it, whether the two sets agree once dead timers are
/// dropped). With the hygiene, no reachable state holds a dead timer (its own image is itself)
/// and every property has the verdict it has without it.
fn compare(
    spec: &Arc<ClusterSpec>,
    plan: FaultPlan,
    heal: HealMode,
    tidy: TimerHygiene,
) -> (usize, usize, bool) {
    let keep = model(spec, plan.clone(), heal, TimerHygiene::Keep);
    let with = model(spec, plan, heal, tidy);
    let keep = reachable(&keep, |s| without_dead_timers(&keep, s));
    let with = reachable(&with, |s| without_dead_timers(&with, s));
    if tidy == TimerHygiene::Cancel {
        assert_eq!(
            with.image, with.states,
            "a reachable state holds a dead timer"
        );
        assert_eq!(
            keep.verdicts, with.verdicts,
            "the hygiene changed a verdict"
        );
    }
    (
        keep.states.len(),
        with.states.len(),
        keep.image == with.states,
    )
}

/// Asserts that the hygiene keeps every state of `plan` but the dead timers, and pins the state
/// counts (without the hygiene, with it).
fn assert_equivalent(
    spec: &Arc<ClusterSpec>,
    plan: FaultPlan,
    heal: HealMode,
    pinned: (usize, usize),
    label: &str,
) {
    let (keep, tidy, same) = compare(spec, plan, heal, TimerHygiene::Cancel);
    assert!(same, "{label}: the state sets differ");
    assert_eq!((keep, tidy), pinned, "{label}");
}

#[test]
fn the_hygiene_keeps_every_state_but_the_dead_timers_on_three_regions() {
    let spec = load("specs/scenarios/three-regions.toml");
    // (faults, heal) -> (states without the hygiene, with it): pinned.
    let cases = [
        (1, HealMode::Never, (375, 320)),
        (2, HealMode::Never, (2_831, 1_866)),
        (1, HealMode::Anytime, (34_360, 18_099)),
    ];
    for (max, heal, pinned) in cases {
        let label = format!("{max} faults, {heal:?}");
        assert_equivalent(&spec, budget(&spec, max), heal, pinned, &label);
    }
}

#[test]
fn the_hygiene_keeps_every_state_but_the_dead_timers_on_the_seed() {
    let spec = load("specs/scenarios/seed.toml");
    let plan = budget(&spec, 1);
    assert_equivalent(
        &spec,
        plan,
        HealMode::Never,
        (85_860, 41_532),
        "seed, 1 fault",
    );
    // The whatif sets that heal: the two crashes rejoin, a cut side takes a CLUEXIT and rejoins.
    let sets: [(&[&str], (usize, usize)); 3] = [
        (&["node:FRANK2"], (5_017, 638)),
        (&["link:FRA-LHR"], (59_329, 32_557)),
        (&["link:FRA-LHR", "link:LHR-ORD"], (7_543, 1_109)),
    ];
    for (set, pinned) in sets {
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
fn the_comparison_catches_a_hygiene_that_cancels_a_live_timer() {
    let spec = load("specs/scenarios/seed.toml");
    let (_, _, same) = compare(
        &spec,
        exact(&spec, &["node:FRANK2"]),
        HealMode::AfterSettle,
        TimerHygiene::CancelLiveJoin,
    );
    assert!(!same, "cancelling a live JOIN timer went unnoticed");
}
