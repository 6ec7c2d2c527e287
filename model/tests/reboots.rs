//! When a node that took a CLUEXIT after the `whatif` heal reboots ([`Reboots`];
//! `specs/checker.md`, "Reboot timing").
//!
//! [`Reboots::Settled`] (the default) is an assumption about time, not a reduction: it removes
//! behaviours — the reboots that come back in the middle of the transition the CLUEXIT belongs
//! to. These tests pin what it removes and what it keeps: every state it reaches is reachable
//! with [`Reboots::Anytime`] (up to its own bookkeeping, the reboot window), every outcome and
//! every verdict it gives is one that `Anytime` gives too, the nodes that exited together still
//! reboot while the others' joins run, and on the seed it loses one outcome that only a reboot
//! within the transition reaches.
#[allow(dead_code)] // the equivalence tests' helpers are not needed here
mod common;

use common::{exact, load, reachable_seeing, Explored};
use stateright::Model;
use std::collections::BTreeSet;
use vmsc_model::cluster_model::{
    Action, CheckConfig, ClusterModel, Fault, HealMode, Reboots, State,
};
use vmsc_model::whatif::{outcome_of, whatif, Heal, Limits, Outcome, Variant};

fn model(scenario: &str, faults: &[&str], reboots: Reboots) -> ClusterModel {
    let spec = load(scenario);
    let mut cfg = CheckConfig::new(exact(&spec, faults), HealMode::AfterSettle);
    cfg.reboots = reboots;
    ClusterModel::new(spec, cfg)
}

/// A state without the reboot window: what `Anytime` would hold in its place (its window is
/// always empty).
fn unwindowed(s: &State) -> State {
    let mut s = s.clone();
    s.history.reboot_window = Default::default();
    s
}

/// What one exploration of a reboot timing gives.
struct Reached {
    /// Every state, with its image without the window, and every verdict.
    explored: Explored,
    /// The settled outcomes (the same `whatif` reports: checked).
    outcomes: BTreeSet<Outcome>,
    /// Some state is not settled, one exited node has rebooted and another may reboot: a reboot
    /// into a running join, which only the window allows under `Settled`.
    reboot_into_a_join: bool,
}

fn explore(scenario: &str, faults: &[&str], reboots: Reboots) -> Reached {
    let m = model(scenario, faults, reboots);
    let (mut outcomes, mut reboot_into_a_join) = (BTreeSet::new(), false);
    let explored = reachable_seeing(&m, unwindowed, |s| {
        if m.is_outcome(s) {
            outcomes.insert(outcome_of(&m, s));
        }
        if !reboot_into_a_join && !m.settled(s) && s.history.rebooted.len() == 1 {
            let mut acts = Vec::new();
            m.actions(s, &mut acts);
            reboot_into_a_join = acts.iter().any(|a| matches!(a, Action::Reboot(_)));
        }
    });
    // `whatif` with the same faults and reboot timing explores the same model.
    let spec = load(scenario);
    let faults = faults
        .iter()
        .map(|f| Fault::parse(&spec, f).unwrap())
        .collect();
    let limits = Limits {
        threads: 2,
        ..Default::default()
    };
    let w = whatif(
        spec,
        faults,
        Heal::Yes(reboots),
        Variant::Correct,
        limits,
        None,
    );
    assert!(w.complete && w.states == explored.states.len());
    assert_eq!(w.outcomes.into_iter().collect::<BTreeSet<_>>(), outcomes);
    Reached {
        explored,
        outcomes,
        reboot_into_a_join,
    }
}

/// `Settled` reaches a subset of what `Anytime` reaches (states, outcomes), with the same
/// verdicts; returns what each reached.
fn assert_subset(scenario: &str, faults: &[&str]) -> (Reached, Reached) {
    let settled = explore(scenario, faults, Reboots::Settled);
    let anytime = explore(scenario, faults, Reboots::Anytime);
    let (s, a) = (&settled.explored, &anytime.explored);
    assert!(
        s.image.is_subset(&a.states),
        "{scenario} {faults:?}: a state reachable only when reboots wait for the settled cluster"
    );
    let (so, ao) = (&settled.outcomes, &anytime.outcomes);
    assert!(so.is_subset(ao), "{scenario} {faults:?}: {so:?} ⊄ {ao:?}");
    assert_eq!(s.verdicts, a.verdicts, "{scenario} {faults:?}");
    (settled, anytime)
}

const TRI: &str = "specs/scenarios/three-regions.toml";
const SEED: &str = "specs/scenarios/seed.toml";

#[test]
fn settled_reboots_reach_a_subset_of_the_states_of_reboots_at_any_moment() {
    // Every double fault of three regions: where a CLUEXIT's reboot can race the transition
    // that follows it, waiting for the settled cluster explores fewer states; elsewhere the same.
    let spec = load(TRI);
    let menu = vmsc_model::cluster_model::Fault::menu(&spec);
    let mut counts = Vec::new();
    for i in 0..menu.len() {
        for j in i + 1..menu.len() {
            let (a, b) = (menu[i].describe(&spec), menu[j].describe(&spec));
            let arg = |d: &str| {
                let (kind, what) = d.split_once(' ').unwrap();
                if kind == "cut" {
                    format!("link:{what}")
                } else {
                    format!("node:{what}")
                }
            };
            let (a, b) = (arg(&a), arg(&b));
            let (settled, anytime) = assert_subset(TRI, &[a.as_str(), b.as_str()]);
            let (s, t) = (settled.explored.states.len(), anytime.explored.states.len());
            if s != t {
                counts.push((format!("{a} {b}"), s, t));
            }
        }
    }
    assert_eq!(
        counts,
        [
            ("link:FRA-LHR node:CHIC1".to_string(), 95, 193),
            ("link:FRA-ORD node:UK1".to_string(), 95, 193),
            ("link:LHR-ORD node:FRANK1".to_string(), 95, 218),
        ]
    );
}

/// Negative control of the subset check: the other way round it fails, since `Anytime` reaches
/// states `Settled` does not.
#[test]
fn the_subset_check_catches_states_of_reboots_at_any_moment() {
    let faults = ["link:FRA-LHR", "node:CHIC1"];
    let settled = explore(TRI, &faults, Reboots::Settled).explored;
    let anytime = explore(TRI, &faults, Reboots::Anytime).explored;
    assert!(!anytime.image.is_subset(&settled.image));
}

/// On the seed with both of Frankfurt's links cut and healed, FRANK1 and FRANK2 take a CLUEXIT
/// together. They reboot once the rest has settled, and then at any moment of each other's join:
/// the window lets the second reboot into a running transition. What only a reboot inside the
/// CLUEXIT's own transition reaches — FRANK2 exiting a second time and staying down, as a
/// CLUEXIT node reboots only once in the model — is gone.
#[test]
fn nodes_that_exited_together_reboot_into_each_others_join() {
    let (settled, anytime) = assert_subset(SEED, &["link:FRA-LHR", "link:FRA-ORD"]);
    assert!(
        settled.reboot_into_a_join,
        "the second exited node reboots during the first one's join"
    );
    assert_eq!(
        (settled.explored.states.len(), anytime.explored.states.len()),
        (158_153, 1_605_293)
    );
    let members_cluexit = |o: &BTreeSet<Outcome>| -> Vec<(String, String)> {
        o.iter()
            .map(|o| (o.members.join(" "), o.cluexit.join(" ")))
            .collect()
    };
    let all = "CHIC1 CHIC2 FRANK1 FRANK2 UK1".to_string();
    let fra = "FRANK1 FRANK2".to_string();
    assert_eq!(
        members_cluexit(&settled.outcomes),
        [(all.clone(), fra.clone())]
    );
    // Reboots at any moment also reach FRANK2 down after a second CLUEXIT.
    assert_eq!(
        members_cluexit(&anytime.outcomes),
        [
            (all, fra.clone()),
            ("CHIC1 CHIC2 FRANK1 UK1".to_string(), fra)
        ]
    );
}
