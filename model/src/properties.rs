//! The named properties of the connection manager, checked on every reachable state.
//!
//! Each name here is also a heading in `specs/invariants.md`, which explains it; the tests pin
//! that the two lists agree.

use crate::cluster_model::{dlm_seen, violation, CheckConfig, ClusterModel, HealMode, State};
use crate::config::ClusterSpec;
use crate::dlm::cluster::{usable_mode, Stage};
use crate::dlm::Mode;
use crate::node::Msg;
use crate::quorum;
use stateright::actor::Network;
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
/// DLM: usable locks are pairwise compatible.
pub const LOCK_COMPATIBILITY: &str = "lock compatibility";
/// DLM: survivors' locks are on their masters; departed nodes' locks are gone.
pub const NOTHING_LOST: &str = "nothing lost";
/// DLM: at most two remote messages to reach the master.
pub const MESSAGE_BOUND: &str = "message bound";
/// DLM: value block reads.
pub const VALUE_BLOCK: &str = "value block";
/// DLM sometimes: a queued request granted.
pub const GRANT_AFTER_WAIT: &str = "a grant after waiting";
/// DLM sometimes: a conversion.
pub const CONVERSION: &str = "a conversion";
/// DLM sometimes: a BAST delivered.
pub const BAST_DELIVERED: &str = "a BAST delivered";
/// DLM sometimes: a rebuild after a node failure.
pub const REBUILD_AFTER_FAILURE: &str = "a rebuild after a node failure";

/// The properties that apply to a check with this configuration. The CLUEXIT and rejoin
/// examples need a heal, so they are listed only when the check heals.
///
/// With lock clients in the cluster file, the lock-manager properties are added.
pub fn standard(cfg: &CheckConfig, spec: &ClusterSpec) -> Vec<Property<ClusterModel>> {
    let mut v = vec![
        Property::always(NO_SPLIT_BRAIN, no_split_brain),
        Property::always(FULLY_CONNECTED, fully_connected),
        Property::always(QUORUM_FLOOR, quorum_floor),
        Property::always(SEQ_MONOTONE, |_, s: &State| {
            s.history.violations & violation::SEQ_REGRESSED == 0
        }),
        Property::always(NO_ZOMBIE, no_zombie),
        Property::sometimes(TRANSITION_COMPLETES, transition_completes),
        Property::sometimes(QUORUM_HANG, quorum_hang),
    ];
    if cfg.heal != HealMode::Never {
        v.push(Property::sometimes(CLUEXIT_HAPPENS, |_, s: &State| {
            !s.history.cluexit.is_empty()
        }));
        v.push(Property::sometimes(REJOIN_COMPLETES, rejoin_completes));
    }
    if !spec.clients.is_empty() {
        v.extend(dlm());
    }
    v
}

/// The lock-manager properties.
pub fn dlm() -> Vec<Property<ClusterModel>> {
    vec![
        Property::always(LOCK_COMPATIBILITY, lock_compatibility),
        Property::always(NOTHING_LOST, nothing_lost),
        Property::always(MESSAGE_BOUND, |_, s: &State| {
            s.history.violations & violation::DLM_HOPS == 0
        }),
        Property::always(VALUE_BLOCK, |_, s: &State| {
            s.history.violations & violation::DLM_STALE_VALUE == 0
        }),
        Property::sometimes(GRANT_AFTER_WAIT, |_, s: &State| {
            s.history.dlm_seen & dlm_seen::GRANT_AFTER_WAIT != 0
        }),
        Property::sometimes(CONVERSION, |_, s: &State| {
            s.history.dlm_seen & dlm_seen::CONVERSION != 0
        }),
        Property::sometimes(BAST_DELIVERED, |_, s: &State| {
            s.history.dlm_seen & dlm_seen::BAST != 0
        }),
        Property::sometimes(REBUILD_AFTER_FAILURE, |_, s: &State| {
            s.history.dlm_seen & dlm_seen::REBUILD_AFTER_FAILURE != 0
        }),
    ]
}

/// A node whose locks are usable: alive, and active or running its lock manager (in the correct
/// protocol running implies active).
fn usable_node(m: &ClusterModel, s: &State, i: usize) -> bool {
    m.alive(s, i) && (m.active(s, i) || m.actor(i).dlm_running(m.node(s, i)))
}

/// On every resource, the locks usable by their processes are pairwise compatible (VMS matrix).
pub fn lock_compatibility(m: &ClusterModel, s: &State) -> bool {
    let mut held: Vec<(u8, Mode)> = Vec::new();
    for i in nodes(m).filter(|&i| usable_node(m, s, i)) {
        for l in &m.node(s, i).dlm.locks {
            if let Some(mode) = usable_mode(l) {
                if held
                    .iter()
                    .any(|&(r, h)| r == l.res && !Mode::compatible(h, mode))
                {
                    return false;
                }
                held.push((l.res, mode));
            }
        }
    }
    true
}

/// When the lock manager is quiescent (every member of the active view runs it, nothing in its
/// inbox, no lock-manager message in flight), every lock copy of a running node is on the queues
/// of its tree's master — a running node, the only one mastering the tree — with the same
/// granted mode, and pending there iff pending at the owner; and every lock a master holds
/// belongs to a running node that has its copy (a departed node's locks are gone).
pub fn nothing_lost(m: &ClusterModel, s: &State) -> bool {
    let running: Vec<usize> = nodes(m)
        .filter(|&i| m.alive(s, i) && m.actor(i).dlm_running(m.node(s, i)))
        .collect();
    let Some(&first) = running.first() else {
        return true;
    };
    let Some(view) = m.node(s, first).view else {
        return true;
    };
    let all_run = view.members.iter().all(|i| running.contains(&i));
    let quiet = running.iter().all(|&i| m.node(s, i).dlm.inbox.is_empty());
    let in_flight = match &s.network {
        Network::Ordered(map) => map
            .values()
            .any(|q| q.iter().any(|x| matches!(x, Msg::Dlm(_)))),
        _ => false,
    };
    if !all_run || !quiet || in_flight || running.iter().any(|&i| m.node(s, i).view != Some(view)) {
        return true;
    }
    for &i in &running {
        for l in &m.node(s, i).dlm.locks {
            if l.pending.is_some_and(|p| p.stage == Stage::Lookup) {
                return false;
            }
            let Some(&master) = m.node(s, i).dlm.known.get(&l.res) else {
                return false;
            };
            let masters = running
                .iter()
                .filter(|&&j| m.node(s, j).dlm.mastered.contains_key(&l.res))
                .count();
            if masters != 1 || !running.contains(&(master as usize)) {
                return false;
            }
            let Some(r) = m.node(s, master as usize).dlm.mastered.get(&l.res) else {
                return false;
            };
            let Some(at) = r.lock(l.id) else { return false };
            if at.granted_mode != l.granted || at.requested_mode.is_some() != l.pending.is_some() {
                return false;
            }
        }
    }
    for &j in &running {
        for (&res, r) in &m.node(s, j).dlm.mastered {
            for lock in r.locks() {
                let owner = lock.owner.node as usize;
                let has = running.contains(&owner)
                    && m.node(s, owner)
                        .dlm
                        .locks
                        .iter()
                        .any(|c| c.id == lock.id && c.res == res);
                if !has {
                    return false;
                }
            }
        }
    }
    true
}

fn nodes(m: &ClusterModel) -> std::ops::Range<usize> {
    0..m.spec.len()
}

/// At most one membership is active with quorum, and no live, unsuspended node acts in any
/// other: every active node holds the same view, and is a member of it.
pub fn no_split_brain(m: &ClusterModel, s: &State) -> bool {
    let mut views = nodes(m)
        .filter(|&i| m.active(s, i))
        .map(|i| (i, m.node(s, i).view));
    match views.next() {
        None => true,
        Some((_, first)) => {
            views.all(|(_, v)| v == first)
                && nodes(m)
                    .filter(|&i| m.active(s, i))
                    .all(|i| first.is_some_and(|v| v.members.contains(i)))
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
        members
            .iter()
            .all(|j| j == i || (!s.history.cut[i].contains(j) && m.alive(s, j)))
    })
}

/// Every live member's quorum is at least `floor((E+2)/2)` for the cluster's EXPECTED_VOTES.
pub fn quorum_floor(m: &ClusterModel, s: &State) -> bool {
    let floor = quorum::quorum_of(m.spec.expected_votes);
    nodes(m).all(|i| !m.alive(s, i) || m.node(s, i).view.is_none_or(|v| v.quorum >= floor))
}

/// A node removed by a quorate view never acts as a member again in the same incarnation.
pub fn no_zombie(m: &ClusterModel, s: &State) -> bool {
    nodes(m).all(|i| s.history.removed[i] != Some(m.node(s, i).incarnation) || !m.active(s, i))
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
            super::LOCK_COMPATIBILITY,
            super::NOTHING_LOST,
            super::MESSAGE_BOUND,
            super::VALUE_BLOCK,
            super::GRANT_AFTER_WAIT,
            super::CONVERSION,
            super::BAST_DELIVERED,
            super::REBUILD_AFTER_FAILURE,
        ] {
            assert!(
                doc.contains(&format!("### {name}\n")),
                "specs/invariants.md lacks `### {name}`"
            );
        }
    }
}
