//! Votes, quorum and the choice of surviving members: pure arithmetic shared by the connection
//! manager's coordinator, its participants and the checker's properties.
//!
//! # Quorum
//! Every node has VOTES and EXPECTED_VOTES. The cluster keeps CL_EXPECTED_VOTES ("cevotes"),
//! which only grows: at each state transition it becomes
//! `max(old cevotes, max EXPECTED_VOTES of the new members, Σ VOTES of the new members)`
//! (the *dynamic raise*), and the quorum is `floor((cevotes + 2) / 2)`. A cluster whose present
//! votes are below its quorum is hung: its members suspend all cluster activity.
//! Because `2 × quorum > cevotes ≥ total votes`, two disjoint sets of nodes can never both be
//! quorate — the arithmetic heart of "no split-brain".
//!
//! # Figure of merit
//! When connectivity is partial the coordinator picks, among the fully connected subsets
//! (cliques) of the candidates, the one with the best key:
//! 1. the figure of merit `256 × votes + nodes` of the *current members* in it (current members
//!    take priority over joiners, whatever their votes: Davis pp. 7-12, 7-29);
//! 2. then the figure of merit of the whole subset;
//! 3. then the **tie-break**: the subset whose system ids, sorted ascending, are
//!    lexicographically smallest (so among equal halves the one with the lowest SCSSYSTEMID
//!    survives; OpenVMS leaves this to chance, vmsc makes it deterministic so the checker and the
//!    runtime agree).

use crate::config::ClusterSpec;
use crate::nodeset::NodeSet;
use std::cmp::Ordering;

/// Largest candidate set searched exhaustively for the best clique; beyond it a greedy
/// approximation is used (never reached by files within [`crate::config::NODES_MAX`] ≤ 32
/// in practice: the model checks far smaller clusters, and the runtime's candidate sets are the
/// nodes one coordinator can reach).
pub const CLIQUE_EXACT_NODES_MAX: usize = 20;

/// `floor((cevotes + 2) / 2)`.
pub fn quorum_of(cevotes: u32) -> u32 {
    (cevotes + 2) / 2
}

/// The variant of the quorum rule; only [`QuorumRule::Vms`] is correct, the others are the
/// negative controls the checker must catch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuorumRule {
    /// `floor((E + 2) / 2)`.
    #[default]
    Vms,
    /// Negative control: `floor(E / 2)`, "half is enough".
    Half,
    /// Negative control: corosync's `two_node` shortcut without fencing: quorum is 1.
    TwoNode,
}

impl QuorumRule {
    /// The quorum for a cluster expected-votes figure under this rule.
    pub fn quorum(self, cevotes: u32) -> u32 {
        match self {
            QuorumRule::Vms => quorum_of(cevotes),
            QuorumRule::Half => (cevotes / 2).max(1),
            QuorumRule::TwoNode => 1,
        }
    }
}

/// Σ VOTES of `set`.
pub fn votes(spec: &ClusterSpec, set: NodeSet) -> u32 {
    set.iter().map(|i| spec.nodes[i].votes).sum()
}

/// The dynamic raise: cevotes after a transition to `members`.
pub fn next_cevotes(spec: &ClusterSpec, old_cevotes: u32, members: NodeSet) -> u32 {
    let max_expected = members
        .iter()
        .map(|i| spec.nodes[i].expected_votes)
        .max()
        .unwrap_or(0);
    old_cevotes.max(max_expected).max(votes(spec, members))
}

/// `256 × votes + nodes`.
pub fn merit(spec: &ClusterSpec, set: NodeSet) -> u64 {
    256 * votes(spec, set) as u64 + set.len() as u64
}

/// What a coordinator knows of the connectivity: the circuits reported by the nodes in `known`
/// (`rows[i]`). A pair counts as connected unless a known end reports otherwise — unknown rows
/// are assumed optimistically, so a coordinator never commits a membership while a better one
/// *might* exist among nodes it cannot reach (those nodes' own coordinator will decide).
#[derive(Clone, Copy, Debug)]
pub struct Knowledge<'a> {
    /// Nodes whose circuits are known.
    pub known: NodeSet,
    /// `rows[i]`: node `i`'s circuits, meaningful for `i` in `known`.
    pub rows: &'a [NodeSet],
}

impl Knowledge<'_> {
    /// Full knowledge: every row is known.
    pub fn full(rows: &[NodeSet]) -> Knowledge<'_> {
        Knowledge {
            known: NodeSet::first(rows.len()),
            rows,
        }
    }

    /// `a` and `b` are (possibly) connected.
    pub fn edge(&self, a: usize, b: usize) -> bool {
        (!self.known.contains(a) || self.rows[a].contains(b))
            && (!self.known.contains(b) || self.rows[b].contains(a))
    }

    /// Every pair in `set` is (possibly) connected.
    pub fn clique(&self, set: NodeSet) -> bool {
        set.iter()
            .all(|a| set.iter().all(|b| b <= a || self.edge(a, b)))
    }
}

/// True if every pair in `set` is connected according to `rows` (`rows[i]` = the nodes `i`
/// reported an open circuit to; a pair counts only if both ends report it).
pub fn fully_connected(rows: &[NodeSet], set: NodeSet) -> bool {
    Knowledge::full(rows).clique(set)
}

/// Compares two candidate memberships; `Greater` means `a` is better.
pub fn compare(spec: &ClusterSpec, current: NodeSet, a: NodeSet, b: NodeSet) -> Ordering {
    merit(spec, a.inter(current))
        .cmp(&merit(spec, b.inter(current)))
        .then_with(|| merit(spec, a).cmp(&merit(spec, b)))
        .then_with(|| sorted_ids(spec, b).cmp(&sorted_ids(spec, a)))
}

fn sorted_ids(spec: &ClusterSpec, set: NodeSet) -> Vec<u32> {
    let mut ids: Vec<u32> = set.iter().map(|i| spec.nodes[i].system_id).collect();
    ids.sort_unstable();
    ids
}

/// The best fully connected subset of `candidates` (see the module doc for the key), under the
/// given knowledge of the circuits.
pub fn best_clique(
    spec: &ClusterSpec,
    k: Knowledge<'_>,
    candidates: NodeSet,
    current: NodeSet,
) -> NodeSet {
    let mut best = NodeSet::EMPTY;
    let mut consider = |s: NodeSet| {
        if k.clique(s) && (best.is_empty() || compare(spec, current, s, best).is_gt()) {
            best = s;
        }
    };
    if candidates.len() <= CLIQUE_EXACT_NODES_MAX {
        // Enumerate every non-empty submask of `candidates`.
        let c = candidates.0;
        let mut sub = c;
        while sub != 0 {
            consider(NodeSet(sub));
            sub = (sub - 1) & c;
        }
    } else {
        // Greedy: grow from each candidate.
        for start in candidates.iter() {
            let mut s = NodeSet::single(start);
            for j in candidates.iter() {
                if k.clique(s.with(j)) {
                    s.insert(j);
                }
            }
            consider(s);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(votes: &[u32]) -> ClusterSpec {
        let mut text = String::from("[cluster]\nname = \"T\"\nexpected_votes = 1\n");
        for (i, v) in votes.iter().enumerate() {
            text += &format!(
                "[[node]]\nname = \"N{i}\"\nregion = \"R{i}\"\nvotes = {v}\nsystem_id = {}\n",
                100 + i
            );
        }
        ClusterSpec::parse("t", &text).unwrap()
    }

    #[test]
    fn quorum_formula_golden() {
        let table: Vec<(u32, u32)> = (1..=8).map(|e| (e, quorum_of(e))).collect();
        assert_eq!(
            table,
            [
                (1, 1),
                (2, 2),
                (3, 2),
                (4, 3),
                (5, 3),
                (6, 4),
                (7, 4),
                (8, 5)
            ]
        );
        assert_eq!(QuorumRule::Half.quorum(4), 2);
        assert_eq!(QuorumRule::TwoNode.quorum(2), 1);
    }

    #[test]
    fn two_disjoint_sets_are_never_both_quorate() {
        for e in 1..=20 {
            let q = quorum_of(e);
            assert!(2 * q > e, "E={e}");
        }
    }

    #[test]
    fn dynamic_raise_never_lowers() {
        let s = spec(&[1, 1, 1]);
        assert_eq!(next_cevotes(&s, 5, NodeSet::single(0)), 5);
        assert_eq!(next_cevotes(&s, 0, NodeSet::first(3)), 3);
    }

    #[test]
    fn best_clique_prefers_members_then_merit_then_lowest_ids() {
        let s = spec(&[1, 1, 1, 1]);
        // 0-1 cut; everyone else connected.
        let all = NodeSet::first(4);
        let rows = vec![all.without(1), all.without(0), all, all];
        // {0,2,3} and {1,2,3} tie on merit; {0,2,3} has the lowest system ids.
        assert_eq!(
            best_clique(&s, Knowledge::full(&rows), all, all),
            NodeSet::from_iter([0, 2, 3])
        );
        // If node 0 is a joiner, current members {1,2,3} win.
        assert_eq!(
            best_clique(&s, Knowledge::full(&rows), all, all.without(0)),
            NodeSet::from_iter([1, 2, 3])
        );
        // Votes beat node count.
        let heavy = spec(&[4, 1, 1, 1]);
        let rows2 = vec![
            NodeSet::from_iter([0]),
            all.without(0),
            all.without(0),
            all.without(0),
        ];
        assert_eq!(
            best_clique(&heavy, Knowledge::full(&rows2), all, all),
            NodeSet::single(0)
        );
    }

    #[test]
    fn unknown_rows_are_optimistic() {
        let s = spec(&[1, 1, 1, 1, 1]);
        let all = NodeSet::first(5);
        // Node 2 (coordinator) knows its own row {3,4} and rows of 3 and 4 (each sees 0,1,2 and the other).
        let mut rows = vec![NodeSet::EMPTY; 5];
        rows[2] = NodeSet::from_iter([3, 4]);
        rows[3] = NodeSet::from_iter([0, 1, 2, 4]);
        rows[4] = NodeSet::from_iter([0, 1, 2, 3]);
        let k = Knowledge {
            known: NodeSet::from_iter([2, 3, 4]),
            rows: &rows,
        };
        // {0,1,3,4} might be a clique (0-1 unknown): 4 votes beat {2,3,4}.
        assert_eq!(
            best_clique(&s, k, all, all),
            NodeSet::from_iter([0, 1, 3, 4])
        );
    }
}
