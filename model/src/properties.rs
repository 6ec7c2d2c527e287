//! The named properties of the connection manager, checked on every reachable state.
//!
//! Each name here is also a heading in `specs/invariants.md`, which explains it; the tests pin
//! that the two lists agree.

use crate::cluster_model::{violation, CheckConfig, ClusterModel, HealMode, State};
use crate::quorum;
use stateright::Property;

/// No split-brain.
pub const NO_SPLIT_BRAIN: &str = "no split-brain";
/// Members fully connected at commit.
pub const FULLY_CONNECTED: &str = "members fully connected at commit";
/// Quorum never below the floor.
pub const QUORUM_FLOOR: &str = "quorum never below floor((E+2)/2)";
/// Transition numbers monotone.
pub const SEQ_MONOTONE: &str = "transition numbers monotone";
/// A removed node never acts as a member.
pub const NO_ZOMBIE: &str = "removed node never acts as a member";
/// Sometimes: a transition completes.
pub const TRANSITION_COMPLETES: &str = "a transition completes";
/// Sometimes: a quorum hang.
pub const QUORUM_HANG: &str = "a quorum hang happens";
/// Sometimes: a CLUEXIT.
pub const CLUEXIT_HAPPENS: &str = "a CLUEXIT happens";
/// Sometimes: a rejoin.
pub const REJOIN_COMPLETES: &str = "a rejoin completes";

/// The properties that apply to a check with this configuration. The CLUEXIT and rejoin
/// examples need a heal, so they are listed only when the check heals.
pub fn standard(cfg: &CheckConfig) -> Vec<Property<ClusterModel>> {
    let mut v = vec![
        Property::always(NO_SPLIT_BRAIN, no_split_brain),
        Property::always(FULLY_CONNECTED, fully_connected),
        Property::always(QUORUM_FLOOR, quorum_floor),
        Property::always(SEQ_MONOTONE, |_, s: &State| s.history.violations & violation::SEQ_REGRESSED == 0),
        Property::always(NO_ZOMBIE, no_zombie),
        Property::sometimes(TRANSITION_COMPLETES, transition_completes),
        Property::sometimes(QUORUM_HANG, quorum_hang),
    ];
    if cfg.heal != HealMode::Never {
        v.push(Property::sometimes(CLUEXIT_HAPPENS, |_, s: &State| !s.history.cluexit.is_empty()));
        v.push(Property::sometimes(REJOIN_COMPLETES, rejoin_completes));
    }
    v
}

fn nodes(m: &ClusterModel) -> std::ops::Range<usize> {
    0..m.spec.len()
}

/// At most one membership is active with quorum, and no live, unsuspended node acts in any
/// other: every active node holds the same view, and is a member of it.
pub fn no_split_brain(m: &ClusterModel, s: &State) -> bool {
    let mut views = nodes(m).filter(|&i| m.active(s, i)).map(|i| (i, m.node(s, i).view));
    match views.next() {
        None => true,
        Some((_, first)) => {
            views.all(|(_, v)| v == first)
                && nodes(m).filter(|&i| m.active(s, i)).all(|i| first.is_some_and(|v| v.members.contains(i)))
        }
    }
}

/// Every committed membership was fully connected when committed (unless a fault struck during
/// its proposal round), and an active node is connected to every member of its view.
pub fn fully_connected(m: &ClusterModel, s: &State) -> bool {
    if s.history.violations & violation::COMMIT_DISCONNECTED != 0 {
        return false;
    }
    nodes(m).filter(|&i| m.active(s, i)).all(|i| {
        let members = m.node(s, i).view.map(|v| v.members).unwrap_or_default();
        members.iter().all(|j| j == i || (!s.history.cut[i].contains(j) && m.alive(s, j)))
    })
}

/// Every live member's quorum is at least `floor((E+2)/2)` for the cluster's EXPECTED_VOTES.
pub fn quorum_floor(m: &ClusterModel, s: &State) -> bool {
    let floor = quorum::quorum_of(m.spec.expected_votes);
    nodes(m).all(|i| !m.alive(s, i) || m.node(s, i).view.is_none_or(|v| v.quorum >= floor))
}

/// A node removed by a quorate view never acts as a member again in the same incarnation.
pub fn no_zombie(m: &ClusterModel, s: &State) -> bool {
    nodes(m).all(|i| {
        s.history.removed[i] != Some(m.node(s, i).incarnation) || !m.active(s, i)
    })
}

fn transition_completes(m: &ClusterModel, s: &State) -> bool {
    nodes(m).any(|i| m.active(s, i) && m.node(s, i).view.is_some_and(|v| v.seq >= 2))
}

fn quorum_hang(m: &ClusterModel, s: &State) -> bool {
    nodes(m).any(|i| m.alive(s, i) && m.actor(i).is_quorum_hung(m.node(s, i)))
}

fn rejoin_completes(m: &ClusterModel, s: &State) -> bool {
    nodes(m).any(|i| m.active(s, i) && m.node(s, i).incarnation >= 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn properties_are_documented() {
        let doc = include_str!("../../specs/invariants.md");
        for name in [
            super::NO_SPLIT_BRAIN,
            super::FULLY_CONNECTED,
            super::QUORUM_FLOOR,
            super::SEQ_MONOTONE,
            super::NO_ZOMBIE,
            super::TRANSITION_COMPLETES,
            super::QUORUM_HANG,
            super::CLUEXIT_HAPPENS,
            super::REJOIN_COMPLETES,
        ] {
            assert!(doc.contains(&format!("### {name}\n")), "specs/invariants.md lacks `### {name}`");
        }
    }
}
