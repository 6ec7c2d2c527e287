//! CLUEXIT: which of two reconnecting nodes in different clusters crashes itself.
//!
//! When a circuit opens between two nodes that are members of *different* cluster views, each
//! node receives the other's connect message (a hello carrying its view, whether its cluster has
//! quorum, its available votes and its connection count) and decides, independently and by the
//! same rules, whether it must crash. The rules are the CANASTA decision tree quoted in seed 002
//! (V. Halle): this node crashes if
//!
//! 1. the other node has removed this node from its cluster and has quorum; else, if neither
//!    node has quorum,
//! 2. the other node has more available votes,
//! 3. or the other has connections to more nodes,
//! 4. or votes and nodes are equal and the other has the higher system id.
//!
//! vmsc adds the rule the same thread states in prose: a node whose cluster view is *older* than
//! that of a quorate cluster that still lists it (it missed transitions it took part in) also
//! exits — unless it acknowledged exactly that view, in which case it adopts it (the commit was
//! lost with the circuit; see [`crate::node`]).
//!
//! After a CLUEXIT the node reboots with a new incarnation and joins in the ordinary way.
//!
//! Invariant: the decision is antisymmetric for rules 2–4 (of two non-quorate nodes with
//! different system ids exactly one crashes), and a quorate node never crashes by rules 2–4.

use crate::nodeset::NodeSet;
use serde::{Deserialize, Serialize};

/// What one side knows of itself, or learned of the other from its connect message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Side {
    /// Transition number of the latest view of this side's lineage that had quorum.
    pub ran_seq: u32,
    /// Members of that view.
    pub ran_members: NodeSet,
    /// This side's cluster has quorum (it is running, not hung).
    pub quorate: bool,
    /// This side's view still lists the other node as a member.
    pub lists_other: bool,
    /// This side's view's transition number.
    pub seq: u32,
    /// Votes available to this side (its cluster's connected members).
    pub votes: u32,
    /// Number of nodes this side has circuits to.
    pub connections: u32,
    /// SCSSYSTEMID.
    pub system_id: u32,
    /// Node index (to look this node up in the other side's lineage).
    pub index: usize,
}

/// Why a node took a CLUEXIT bugcheck.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ExitRule {
    /// Rule 1: the other node removed this node and has quorum.
    RemovedByQuorate,
    /// Rule 2: neither has quorum; the other has more available votes.
    FewerVotes,
    /// Rule 3: neither has quorum, equal votes; the other has more connections.
    FewerConnections,
    /// Rule 4: neither has quorum, equal votes and connections; the other has a higher system id.
    LowerSystemId,
    /// A quorate cluster still lists this node, but with a newer view it never acknowledged.
    OlderView,
}

impl ExitRule {
    /// The console explanation.
    pub fn describe(self) -> &'static str {
        match self {
            ExitRule::RemovedByQuorate => "removed from the cluster by a quorate cluster",
            ExitRule::FewerVotes => "neither has quorum and the other has more votes",
            ExitRule::FewerConnections => {
                "neither has quorum, equal votes, and the other has more connections"
            }
            ExitRule::LowerSystemId => {
                "neither has quorum, equal votes and connections, and the other has a higher system id"
            }
            ExitRule::OlderView => "a quorate cluster holds a newer view of this node's cluster",
        }
    }
}

/// Decides whether `me` must crash on receiving `other`'s connect message.
pub fn decide(me: &Side, other: &Side) -> Option<ExitRule> {
    if !other.lists_other && other.quorate {
        return Some(ExitRule::RemovedByQuorate);
    }
    // Lineage: the other side's cluster ran with quorum *after* this side's last did, without
    // this node — this node was removed, even if that cluster has lost quorum since.
    if other.ran_seq > me.ran_seq && !other.ran_members.contains(me.index) && !me.quorate {
        return Some(ExitRule::RemovedByQuorate);
    }
    if me.ran_seq > other.ran_seq && !me.ran_members.contains(other.index) && !other.quorate {
        return None;
    }
    if other.quorate && other.lists_other && other.seq > me.seq && !me.quorate {
        return Some(ExitRule::OlderView);
    }
    if me.quorate || other.quorate {
        return None;
    }
    if other.votes != me.votes {
        return (other.votes > me.votes).then_some(ExitRule::FewerVotes);
    }
    if other.connections != me.connections {
        return (other.connections > me.connections).then_some(ExitRule::FewerConnections);
    }
    (other.system_id > me.system_id).then_some(ExitRule::LowerSystemId)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(quorate: bool, lists_other: bool, votes: u32, connections: u32, id: u32) -> Side {
        Side {
            ran_seq: 1,
            ran_members: NodeSet::first(16),
            quorate,
            lists_other,
            seq: 3,
            votes,
            connections,
            system_id: id,
            index: id as usize,
        }
    }

    #[test]
    fn golden_decision_table() {
        // (me, other) -> decision for me
        let cases = [
            (
                side(false, true, 1, 1, 1),
                side(true, false, 3, 3, 2),
                Some(ExitRule::RemovedByQuorate),
            ),
            (side(true, false, 3, 3, 2), side(false, true, 1, 1, 1), None),
            (
                side(false, false, 2, 1, 9),
                side(false, false, 3, 1, 1),
                Some(ExitRule::FewerVotes),
            ),
            (
                side(false, false, 3, 1, 1),
                side(false, false, 2, 1, 9),
                None,
            ),
            (
                side(false, false, 2, 1, 9),
                side(false, false, 2, 2, 1),
                Some(ExitRule::FewerConnections),
            ),
            (
                side(false, false, 2, 2, 1),
                side(false, false, 2, 1, 9),
                None,
            ),
            (
                side(false, false, 2, 2, 1),
                side(false, false, 2, 2, 9),
                Some(ExitRule::LowerSystemId),
            ),
            (
                side(false, false, 2, 2, 9),
                side(false, false, 2, 2, 1),
                None,
            ),
            // quorate but lists me: no crash by rules 2-4
            (side(false, true, 1, 1, 1), side(true, true, 3, 3, 2), None),
        ];
        for (me, other, want) in cases {
            assert_eq!(decide(&me, &other), want, "me={me:?} other={other:?}");
        }
        // Lineage: the other ran with quorum after this side, without it.
        let mut removed = side(false, true, 1, 1, 9);
        removed.ran_members = NodeSet::from_iter([1, 2, 9]);
        let mut remover = side(false, false, 1, 1, 1);
        remover.ran_seq = 2;
        remover.ran_members = NodeSet::from_iter([1, 2]);
        assert_eq!(decide(&removed, &remover), Some(ExitRule::RemovedByQuorate));
        assert_eq!(decide(&remover, &removed), None);
        // If this side ran again later, the other's lineage is the stale one.
        removed.ran_seq = 3;
        assert_eq!(decide(&remover, &removed), Some(ExitRule::LowerSystemId));
        let mut older = side(false, true, 1, 1, 1);
        older.seq = 2;
        assert_eq!(
            decide(&older, &side(true, true, 3, 3, 2)),
            Some(ExitRule::OlderView)
        );
    }

    #[test]
    fn rules_two_to_four_are_antisymmetric() {
        for va in 0..3 {
            for vb in 0..3 {
                for ca in 0..3 {
                    for cb in 0..3 {
                        let a = side(false, false, va, ca, 1);
                        let b = side(false, false, vb, cb, 2);
                        let (da, db) = (decide(&a, &b).is_some(), decide(&b, &a).is_some());
                        assert!(da != db, "exactly one of two hung nodes exits: {a:?} {b:?}");
                    }
                }
            }
        }
    }
}
