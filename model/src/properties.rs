//! The named properties of the connection manager, checked on every reachable state.
//!
//! Each name here is also a heading in `specs/invariants.md`, which explains it; the tests pin
//! that the two lists agree.

use crate::cluster_model::{dlm_seen, violation, CheckConfig, ClusterModel, HealMode, State};
use crate::config::ClusterSpec;
use crate::dlm::cluster::{usable_mode, Stage};
use crate::dlm::deadlock::{deadlock_possible, on_cycles, queued_waits};
use crate::dlm::{Matrix, Mode, Resource};
use crate::node::{Msg, Timer};
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
/// DLM: at most two remote messages to reach the master, per attempt.
pub const MESSAGE_BOUND: &str = "message bound";
/// DLM: no two nodes of one view master the same tree.
pub const ONE_MASTER: &str = "one master per tree";
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
/// DLM: a deadlock victim was on a wait-for cycle when cancelled.
pub const VICTIM_IN_CYCLE: &str = "deadlock victim only in a cycle";
/// DLM: no wait-for cycle survives once the lock manager and its deadlock search are quiet.
pub const CYCLES_BROKEN: &str = "every cycle is broken";
/// DLM: no queued request is overtaken by a later incompatible one (except in-place conversions).
pub const GRANT_ORDER: &str = "grant order";
/// DLM sometimes: a deadlock victim.
pub const DEADLOCK_VICTIM: &str = "a deadlock victim";
/// DLM sometimes: a value block read after an invalidation.
pub const INVALID_VALUE_READ: &str = "a value block read after an invalidation";

/// The properties that apply to a check with this configuration. The CLUEXIT and rejoin
/// examples need a heal, so they are listed only when the check heals.
///
/// With lock clients in the cluster file, the lock-manager properties are added ("a deadlock
/// victim" only if the scripts can deadlock at all, [`deadlock_possible`]).
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
        if deadlock_possible(spec) {
            v.push(Property::sometimes(DEADLOCK_VICTIM, |m, s: &State| {
                nodes(m).any(|i| m.node(s, i).dlm.last_victim.is_some())
            }));
        }
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
        Property::always(ONE_MASTER, one_master_per_tree),
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
        Property::always(VICTIM_IN_CYCLE, |_, s: &State| {
            s.history.violations & violation::DLM_FALSE_VICTIM == 0
        }),
        Property::always(CYCLES_BROKEN, cycles_broken),
        Property::always(GRANT_ORDER, |_, s: &State| {
            s.history.violations & violation::DLM_OVERTAKEN == 0
        }),
        // State predicates, not history bits: a bit in `Env` would split otherwise equal states.
        Property::sometimes(INVALID_VALUE_READ, |m, s: &State| {
            nodes(m).any(|i| {
                m.alive(s, i)
                    && m.node(s, i)
                        .dlm
                        .locks
                        .iter()
                        .any(|l| matches!(l.value, Some((_, false))))
            })
        }),
    ]
}

/// The processes on a wait-for cycle (bit `p` = process/lock id `p`) of the queues mastered by
/// the live nodes `masters` accepts, judged by the VMS matrix (see [`crate::dlm::deadlock`]).
pub fn cycle_processes(m: &ClusterModel, s: &State, masters: impl Fn(usize) -> bool) -> u64 {
    let mut edges = Vec::new();
    for j in nodes(m).filter(|&j| m.alive(s, j) && masters(j)) {
        for r in m.node(s, j).dlm.mastered.values() {
            edges.extend(queued_waits(r, Matrix::VMS));
        }
    }
    on_cycles(&edges)
}

/// When the lock manager is quiescent (see [`nothing_lost`]) and no deadlock timer is armed and
/// no search is running or due, the masters' queues have no wait-for cycle. And on every live
/// node, `deadlock_armed` says whether its DEADLOCK_WAIT timer is set (an armed flag without a
/// timer would stop that node's searches for good, and make the first half vacuous).
pub fn cycles_broken(m: &ClusterModel, s: &State) -> bool {
    let consistent = nodes(m).filter(|&i| m.alive(s, i)).all(|i| {
        let timer = s.timers_set[i].iter().any(|t| *t == Timer::Deadlock);
        m.node(s, i).dlm.deadlock_armed == timer
    });
    if !consistent {
        return false;
    }
    let Some(running) = dlm_quiescent(m, s) else {
        return true;
    };
    let idle = running.iter().all(|&i| {
        let d = &m.node(s, i).dlm;
        !d.deadlock_armed && d.search.is_none() && !d.search_again
    });
    !idle || cycle_processes(m, s, |j| running.contains(&j)) == 0
}

/// True if a step from `prev` to `next` (one master's resource, outside a rebuild) granted a
/// request over an earlier queued one whose requested mode it is incompatible with. Allowed:
/// grants of requests queued before it, and conversions granted in place over new requests, or
/// (without QUECVT) over queued conversions (vms-protocol.md C.2, 6-3).
pub fn overtaken(prev: &Resource, next: &Resource) -> bool {
    // Queue position: (0 converting | 1 waiting, index).
    let pos = |r: &Resource, id| {
        let c = r
            .converting()
            .iter()
            .position(|l| l.id == id)
            .map(|i| (0, i));
        c.or_else(|| r.waiting().iter().position(|l| l.id == id).map(|i| (1, i)))
    };
    for x in next.converting().iter().chain(next.waiting()) {
        let (Some(want), Some(px)) = (x.requested_mode, pos(prev, x.id)) else {
            continue;
        };
        if prev.lock(x.id).and_then(|l| l.requested_mode) != Some(want) {
            continue;
        }
        for y in next.granted() {
            let Some(g) = y.granted_mode else { continue };
            let before = prev.lock(y.id);
            // A lock back at its old mode had its conversion cancelled (a victim): no grant.
            let fresh = before.is_none_or(|b| b.granted_mode != Some(g));
            if !fresh || Mode::compatible(g, want) {
                continue;
            }
            let ok = match before {
                None => false,
                Some(b) if b.requested_mode.is_none() => {
                    px.0 == 1 || !y.flags.contains(crate::dlm::Flags::QUECVT)
                }
                Some(_) => pos(prev, y.id).is_some_and(|py| py < px),
            };
            if !ok {
                return true;
            }
        }
    }
    false
}

/// The running nodes if the lock manager is quiescent: every member of the running view runs
/// it (all in that view), no inbox holds anything, no request is deferred and no lock-manager
/// message is in flight.
fn dlm_quiescent(m: &ClusterModel, s: &State) -> Option<Vec<usize>> {
    let running: Vec<usize> = nodes(m)
        .filter(|&i| m.alive(s, i) && m.actor(i).dlm_running(m.node(s, i)))
        .collect();
    let &first = running.first()?;
    let view = m.node(s, first).view?;
    let all_run = view.members.iter().all(|i| running.contains(&i));
    let quiet = running.iter().all(|&i| {
        let d = &m.node(s, i).dlm;
        d.inbox.is_empty() && d.deferred.is_empty()
    });
    let in_flight = match &s.network {
        Network::Ordered(map) => map
            .values()
            .any(|q| q.iter().any(|x| matches!(x, Msg::Dlm(_)))),
        _ => false,
    };
    let same = running.iter().all(|&i| m.node(s, i).view == Some(view));
    (all_run && quiet && !in_flight && same).then_some(running)
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
    let Some(running) = dlm_quiescent(m, s) else {
        return true;
    };
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

/// No two live nodes that hold the same view and are both its members master the same tree:
/// a node masters a tree when it holds any resource of it (`DlmState::mastered`).
pub fn one_master_per_tree(m: &ClusterModel, s: &State) -> bool {
    let trees = |i: usize| -> Vec<u8> {
        let a = m.actor(i);
        let mut v: Vec<u8> = m
            .node(s, i)
            .dlm
            .mastered
            .keys()
            .map(|&r| a.root_res(r))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let members: Vec<usize> = nodes(m)
        .filter(|&i| {
            m.alive(s, i)
                && m.node(s, i).view.is_some_and(|v| v.members.contains(i))
                && !m.node(s, i).dlm.mastered.is_empty()
        })
        .collect();
    for (k, &i) in members.iter().enumerate() {
        let mine = trees(i);
        for &j in &members[k + 1..] {
            if m.node(s, i).view == m.node(s, j).view && trees(j).iter().any(|t| mine.contains(t)) {
                return false;
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
            super::ONE_MASTER,
            super::VALUE_BLOCK,
            super::GRANT_AFTER_WAIT,
            super::CONVERSION,
            super::BAST_DELIVERED,
            super::REBUILD_AFTER_FAILURE,
            super::VICTIM_IN_CYCLE,
            super::CYCLES_BROKEN,
            super::GRANT_ORDER,
            super::DEADLOCK_VICTIM,
            super::INVALID_VALUE_READ,
        ] {
            assert!(
                doc.contains(&format!("### {name}\n")),
                "specs/invariants.md lacks `### {name}`"
            );
        }
    }
}
