//! Deadlock detection across nodes (vms-protocol.md C.9): wait-for cycles across resources and
//! among conversions, found after a DEADLOCK_WAIT timer by the view's **deadlock coordinator**,
//! which breaks each with exactly one victim chosen deterministically.
//!
//! # Wait-for graph
//! A *process* is a lock client; its process id is its lock id (`node × 2 + client`, below 64,
//! so a set of processes is a `u64` mask). A process has **at most one outstanding request**
//! ($ENQW: a client waits for each completion). A request is *queued* when its master put it on
//! the converting or waiting queue. Queued request `X` on resource `r` **waits for** process `q`
//! ([`blockers`]) if on `r`:
//! * `q` holds a lock (granted, or converting at its granted mode) whose granted mode is
//!   incompatible with `X`'s requested mode; or
//! * `q`'s request is queued ahead of `X`: for a conversion, the conversions ahead of it (FIFO,
//!   6-3); for a new request, every conversion and the new requests ahead of it (6-4).
//!
//! The graph joins `X → Y` when `X` waits for the process whose queued request is `Y`. Since a
//! process has one request, a cycle is a deadlock: nothing on it can be granted until one of its
//! requests is cancelled. A conversion deadlock (two PR holders converting to EX) is a cycle of
//! two on one resource; a cross-resource deadlock spans masters.
//!
//! # Protocol
//! Each request queued at a master arms the master's [`Timer::Deadlock`] (DEADLOCK_WAIT); when
//! it fires while the lock manager runs and the master still has a queued request, the master
//! tells the **coordinator** — the lowest-numbered member of the view, fixed for the view, like
//! VMS's per-transition timestamp server — with `Suspect`. The coordinator runs **one search at
//! a time** (a `Suspect` during a search sets `again`):
//! 1. **Phase 1**: it polls every member *one at a time, in ascending node order*
//!    (`Query` → `Report`; its own queues are read in place). A report lists each request
//!    queued at that master as [`Wait`]: resource, lock, *instance* (the client's script line,
//!    unique per request) and blockers.
//! 2. If the phase-1 graph has no cycle, the search ends. Otherwise **phase 2** polls again, in
//!    the same order, only the masters whose requests are on phase-1 cycles.
//! 3. The **certified** graph keeps the waits reported in both phases with the same instance,
//!    with the blockers reported both times. Every certified cycle was a real cycle at one
//!    instant (below). The **victim** is, among the requests on certified cycles, the one of
//!    the lowest deadlock priority (the client's `deadlock_priority`), then the **highest lock
//!    id** ([`choose_victim`]). The coordinator sends `Victim` to its master, which cancels it
//!    ([`Resource::deadlock_victim`]) if that instance is still queued: the owner's request
//!    completes with `Deadlock` (a new lock is gone; a conversion keeps its old mode).
//! 4. If a cycle without the victim remains in the certified graph, or `again` was set, the
//!    coordinator searches again.
//!
//! Every search message carries the view number; a new view drops the search, and the
//! rebuild re-arms the timer of every master that still has queued requests.
//!
//! # Why a certified cycle is real
//! *Frozen locks*: while process `q`'s request `Y` stays queued, `q` issues nothing, so its
//! locks change only by `Y`'s own grant or by a victim or failure. Poll times are ordered
//! `a_0 < … < a_k < b_0 < … < b_k` (phase 1, then phase 2, same master order). A wait `X → q`
//! (X at master `i`, `q`'s request `Y` at master `j`) reported in both phases with unchanged
//! instances means `X` was queued throughout `[a_i, b_i]` and `Y` throughout `[a_j, b_j]`; `q`'s
//! lock is frozen on `[a_j, b_j]`, which contains `a_i` (if `j ≤ i`) or `b_i` (if `j > i`), when
//! it was seen blocking `X`. So every certified edge holds throughout `[a_k, b_0]`: the cycle
//! existed then. Single-phase collection is not enough: an edge seen at `a_i` may be gone before
//! the waiter it points at was queued (the negative control `SinglePhaseSearch` finds such a
//! phantom). A cycle persists until a request on it is cancelled; only the coordinator cancels,
//! one search at a time, and its `Victim` precedes on the FIFO circuit any later `Query` to the
//! same master, so the next search sees its effect: **a victim is always on a cycle**.
//!
//! # Bound: every cycle is broken
//! A cycle closes when its last request is queued, which arms that master's timer. After that
//! DEADLOCK_WAIT, one `Suspect` (none if the master is the coordinator) reaches the
//! coordinator; the first search starting afterwards sees the cycle in both phases and breaks
//! a cycle; searches repeat while a certified cycle remains. So every cycle is broken within
//! one DEADLOCK_WAIT plus at most `P` searches, `P` the number of processes on cycles, each
//! search at most `4 (n − 1)` messages for `n` members plus one `Victim`. Checked as the
//! property "every cycle is broken": in a quiescent state (no lock-manager message in flight, no
//! armed deadlock timer, no search running or due) there is no wait-for cycle.
//!
//! # Invariants
//! * at most one search per view, at the coordinator;
//! * a victim is a request on a wait-for cycle of the masters' queues at the moment it is
//!   cancelled (property "deadlock victim only in a cycle");
//! * a master's `seqs` lists exactly its queued requests with their instances.

use super::cluster::{owner_of, DlmMsg, DlmVariant};
use super::mode::{Flags, Matrix, Mode};
use super::resource::{LockId, Resource};
use crate::config::ClusterSpec;
use crate::node::{NodeActor, NodeState, Timer};
use crate::nodeset::NodeSet;
use serde::{Deserialize, Serialize};
use stateright::actor::Out;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

type O = Out<NodeActor>;

/// Most waits in one `Report` message; a master with more sends several (the last has
/// `last = true`).
pub const REPORT_WAITS_MAX: usize = 4;

/// Process ids at or above this are not tracked by the search (a `u64` mask); their edges are
/// left out, which can only hide a cycle, never invent one.
pub const PROCESS_ID_LIMIT: u32 = 64;

/// One queued request as a master reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Wait {
    /// Resource.
    pub res: u8,
    /// The waiting lock (= its process id).
    pub lock: LockId,
    /// The request instance: the owner's script line.
    pub seq: u8,
    /// The processes it waits for (bit `p` = process `p`).
    pub blockers: u64,
}

/// The coordinator's search in progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Search {
    /// 1 or 2.
    pub phase: u8,
    /// The member whose report is awaited (`None`: none yet).
    pub awaiting: Option<u8>,
    /// Members still to poll in this phase, polled in ascending order.
    pub todo: NodeSet,
    /// Phase-1 waits with the master that reported them.
    pub first: Vec<(u8, Wait)>,
    /// Phase-2 waits with the master that reported them.
    pub second: Vec<(u8, Wait)>,
}

fn bit(lock: LockId) -> u64 {
    if lock.0 < PROCESS_ID_LIMIT {
        1u64 << lock.0
    } else {
        0
    }
}

/// The processes queued request `id` on `r` waits for (see the module doc); judged by `matrix`.
/// `None` if `id` is not queued on `r`.
pub fn blockers(r: &Resource, id: LockId, matrix: Matrix) -> Option<u64> {
    let conv = r.converting();
    let wait = r.waiting();
    let (ahead, mode) = if let Some(i) = conv.iter().position(|l| l.id == id) {
        (&conv[..i], conv[i].requested_mode?)
    } else {
        let i = wait.iter().position(|l| l.id == id)?;
        (&wait[..i], wait[i].requested_mode?)
    };
    let mut mask = 0u64;
    for h in r.granted().iter().chain(conv) {
        if h.id != id && h.granted_mode.is_some_and(|g| !matrix.compatible(g, mode)) {
            mask |= bit(h.id);
        }
    }
    for l in ahead {
        mask |= bit(l.id);
    }
    if wait.iter().any(|l| l.id == id) {
        for l in conv {
            mask |= bit(l.id);
        }
    }
    Some(mask & !bit(id))
}

/// The queued requests of `r` with their blockers, queue order (converting, then waiting).
pub fn queued_waits(r: &Resource, matrix: Matrix) -> Vec<(LockId, u64)> {
    r.converting()
        .iter()
        .chain(r.waiting())
        .filter_map(|l| Some((l.id, blockers(r, l.id, matrix)?)))
        .collect()
}

/// The processes on a cycle of the graph "process `p` waits for the processes in `edges[p]`"
/// (`edges`: `(process, blockers)`; a process's edges are the union of its entries).
pub fn on_cycles(edges: &[(LockId, u64)]) -> u64 {
    let mut next = [0u64; PROCESS_ID_LIMIT as usize];
    let mut waiting = 0u64;
    for &(p, m) in edges {
        if p.0 < PROCESS_ID_LIMIT {
            next[p.0 as usize] |= m;
            waiting |= bit(p);
        }
    }
    // Only waiting processes can be on a cycle: drop edges to processes that wait for nothing.
    for n in next.iter_mut() {
        *n &= waiting;
    }
    let mut cyclic = 0u64;
    for p in 0..PROCESS_ID_LIMIT as usize {
        if waiting & (1 << p) == 0 {
            continue;
        }
        let mut reach = next[p];
        let mut frontier = reach;
        while frontier != 0 {
            let mut add = 0u64;
            let mut f = frontier;
            while f != 0 {
                let q = f.trailing_zeros() as usize;
                f &= f - 1;
                add |= next[q];
            }
            frontier = add & !reach;
            reach |= add;
        }
        if reach & (1 << p) != 0 {
            cyclic |= 1 << p;
        }
    }
    cyclic
}

/// The victim among the processes in `cyclic` (a non-empty mask): the lowest `priority`, then
/// the highest lock id.
pub fn choose_victim(cyclic: u64, priority: impl Fn(LockId) -> u32) -> Option<LockId> {
    (0..PROCESS_ID_LIMIT)
        .filter(|p| cyclic & (1u64 << p) != 0)
        .map(LockId)
        .min_by_key(|&l| (priority(l), std::cmp::Reverse(l)))
}

/// The graph with process `victim` removed still has a cycle.
fn cycle_without(edges: &[(LockId, u64)], victim: LockId) -> bool {
    let rest: Vec<(LockId, u64)> = edges
        .iter()
        .filter(|(p, _)| *p != victim)
        .map(|&(p, m)| (p, m & !bit(victim)))
        .collect();
    on_cycles(&rest) != 0
}

/// The certified waits: those reported in both phases by the same master with the same
/// instance, with the blockers reported both times.
pub fn certified(first: &[(u8, Wait)], second: &[(u8, Wait)]) -> Vec<(u8, Wait)> {
    second
        .iter()
        .filter_map(|&(m, w)| {
            let old = first.iter().find(|(m1, w1)| {
                *m1 == m && w1.res == w.res && w1.lock == w.lock && w1.seq == w.seq
            })?;
            Some((
                m,
                Wait {
                    blockers: w.blockers & old.1.blockers,
                    ..w
                },
            ))
        })
        .collect()
}

/// Can the clients' scripts deadlock at all? True when at least two clients have a
/// *hold-and-wait* line: an `enq` while holding a lock stronger than NL, or a `convert` that can
/// queue (anything but a down-conversion without QUECVT, which is always granted in place).
/// When it is false no cycle can form: masters then arm no DEADLOCK_WAIT timer (nothing to
/// search for) and "a deadlock victim" is not listed as reachable.
///
/// Why two: every process on a cycle has a queued request; one that is not a conversion is a
/// waiting `enq`, and if its process holds only NL locks it is no holder edge's target (NL
/// blocks nobody), so edges into it are "queued ahead" edges from waiting requests on the same
/// resource. A cycle with a single process `q` of the first kind would then be a chain of
/// waiting requests on one resource, each ahead of the next, closed by `q` being ahead of the
/// last one's successor or holding that resource — both impossible (queue order; one lock per
/// resource per client).
pub fn deadlock_possible(spec: &ClusterSpec) -> bool {
    use super::script::Op;
    let weaker_or_equal = |new: Mode, old: Mode| {
        Mode::ALL
            .iter()
            .all(|&x| !Mode::compatible(old, x) || Mode::compatible(new, x))
    };
    let waiters = spec
        .clients
        .iter()
        .filter(|c| {
            let mut held: BTreeMap<u8, Mode> = BTreeMap::new();
            let mut hold_and_wait = false;
            for line in &c.script {
                match line.op {
                    Op::Enq(m) => {
                        hold_and_wait |= held.values().any(|&h| h != Mode::NL);
                        held.insert(line.res, m);
                    }
                    Op::Cvt(m) => {
                        let old = held.get(&line.res).copied().unwrap_or(Mode::NL);
                        hold_and_wait |=
                            line.flags.contains(Flags::QUECVT) || !weaker_or_equal(m, old);
                        held.insert(line.res, m);
                    }
                    Op::Deq => {
                        held.remove(&line.res);
                    }
                }
            }
            hold_and_wait
        })
        .count();
    waiters >= 2
}

fn edges_of(waits: &[(u8, Wait)]) -> Vec<(LockId, u64)> {
    waits.iter().map(|(_, w)| (w.lock, w.blockers)).collect()
}

impl NodeActor {
    /// The view's deadlock coordinator: its lowest-numbered member.
    pub fn deadlock_coordinator(s: &NodeState) -> Option<usize> {
        s.view.and_then(|v| v.members.iter().next())
    }

    fn deadlock_wait(&self) -> std::ops::Range<Duration> {
        let d = Duration::from_millis(self.spec.hello_interval_ms);
        d..d + d
    }

    /// Arms the DEADLOCK_WAIT timer (a request was queued here), unless it is armed.
    pub(crate) fn arm_deadlock(&self, s: &mut NodeState, o: &mut O) {
        if self.opts.dlm == DlmVariant::NoDeadlockSearch
            || s.dlm.deadlock_armed
            || !deadlock_possible(&self.spec)
        {
            return;
        }
        s.dlm.deadlock_armed = true;
        o.set_timer(Timer::Deadlock, self.deadlock_wait());
    }

    /// This master's queued requests, as a report.
    pub(crate) fn local_waits(&self, s: &NodeState) -> Vec<Wait> {
        let matrix = self.dlm_matrix();
        let mut v = Vec::new();
        for (&res, r) in &s.dlm.mastered {
            for (lock, blockers) in queued_waits(r, matrix) {
                let seq = s.dlm.seqs.get(&(res, lock)).copied().unwrap_or(u8::MAX);
                v.push(Wait {
                    res,
                    lock,
                    seq,
                    blockers,
                });
            }
        }
        v
    }

    /// [`Timer::Deadlock`]: if this master still has a queued request, start a search (as the
    /// coordinator) or ask the coordinator for one. While the lock manager does not run the
    /// timer is set again (in the checker, an unchanged state with only that timer re-set is no
    /// step at all; a timeout doing nothing would consume the timer and leave `deadlock_armed`
    /// set with no timer behind it).
    pub(crate) fn dlm_deadlock_timer(&self, state: &mut Cow<NodeState>, o: &mut O) {
        if !self.dlm_running(state) {
            o.set_timer(Timer::Deadlock, self.deadlock_wait());
            return;
        }
        let s = state.to_mut();
        s.dlm.deadlock_armed = false;
        let queued = s
            .dlm
            .mastered
            .values()
            .any(|r| !r.converting().is_empty() || !r.waiting().is_empty());
        if !queued {
            return;
        }
        let Some(c) = Self::deadlock_coordinator(s) else {
            return;
        };
        let epoch = s.dlm.epoch;
        self.dlm_send(s, c, DlmMsg::Suspect { epoch }, o);
    }

    /// `Suspect` at the coordinator.
    pub(crate) fn on_suspect(&self, s: &mut NodeState, o: &mut O) {
        if Self::deadlock_coordinator(s) != Some(self.me) {
            return;
        }
        if s.dlm.search.is_some() {
            s.dlm.search_again = true;
        } else {
            self.start_search(s, o);
        }
    }

    fn start_search(&self, s: &mut NodeState, o: &mut O) {
        let members = s.view.map_or(NodeSet::EMPTY, |v| v.members);
        s.dlm.search = Some(Search {
            phase: 1,
            awaiting: None,
            todo: members,
            first: Vec::new(),
            second: Vec::new(),
        });
        self.poll_next(s, o);
    }

    /// Polls the next member of the current phase (its own queues in place).
    fn poll_next(&self, s: &mut NodeState, o: &mut O) {
        loop {
            let local = self.local_waits(s);
            let epoch = s.dlm.epoch;
            let Some(search) = s.dlm.search.as_mut() else {
                return;
            };
            let Some(n) = search.todo.iter().next() else {
                search.awaiting = None;
                break;
            };
            search.todo.remove(n);
            if n == self.me {
                let me = self.me as u8;
                let list = if search.phase == 1 {
                    &mut search.first
                } else {
                    &mut search.second
                };
                list.extend(local.into_iter().map(|w| (me, w)));
                continue;
            }
            search.awaiting = Some(n as u8);
            let phase = search.phase;
            self.dlm_send(s, n, DlmMsg::Query { epoch, phase }, o);
            return;
        }
        self.finish_phase(s, o);
    }

    /// `Query` at a master: report its queued requests.
    pub(crate) fn on_query(&self, s: &mut NodeState, p: usize, phase: u8, o: &mut O) {
        let epoch = s.dlm.epoch;
        let waits = self.local_waits(s);
        let mut chunks: Vec<&[Wait]> = waits.chunks(REPORT_WAITS_MAX).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        let n = chunks.len();
        for (k, chunk) in chunks.into_iter().enumerate() {
            let mut arr = [None; REPORT_WAITS_MAX];
            for (slot, w) in arr.iter_mut().zip(chunk) {
                *slot = Some(*w);
            }
            let msg = DlmMsg::Report {
                epoch,
                phase,
                waits: arr,
                last: k + 1 == n,
            };
            self.dlm_send(s, p, msg, o);
        }
    }

    /// `Report` at the coordinator.
    pub(crate) fn on_report(
        &self,
        s: &mut NodeState,
        p: usize,
        phase: u8,
        waits: [Option<Wait>; REPORT_WAITS_MAX],
        last: bool,
        o: &mut O,
    ) {
        let Some(search) = s.dlm.search.as_mut() else {
            return;
        };
        if search.phase != phase || search.awaiting != Some(p as u8) {
            return;
        }
        let list = if phase == 1 {
            &mut search.first
        } else {
            &mut search.second
        };
        list.extend(waits.iter().flatten().map(|w| (p as u8, *w)));
        if last {
            search.awaiting = None;
            self.poll_next(s, o);
        }
    }

    /// Every member of the phase has reported.
    fn finish_phase(&self, s: &mut NodeState, o: &mut O) {
        let Some(search) = s.dlm.search.as_mut() else {
            return;
        };
        if search.phase == 1 {
            let cyclic = on_cycles(&edges_of(&search.first));
            if cyclic == 0 {
                self.end_search(s, false, o);
                return;
            }
            if self.opts.dlm == DlmVariant::SinglePhaseSearch {
                search.second = search.first.clone();
                search.phase = 2;
                return self.finish_phase(s, o);
            }
            let mut todo = NodeSet::EMPTY;
            for (m, w) in &search.first {
                if cyclic & bit(w.lock) != 0 {
                    todo.insert(*m as usize);
                }
            }
            search.phase = 2;
            search.todo = todo;
            self.poll_next(s, o);
            return;
        }
        let sure = certified(&search.first, &search.second);
        let edges = edges_of(&sure);
        let cyclic = on_cycles(&edges);
        let priority = |l: LockId| {
            let owner = owner_of(l);
            self.spec
                .clients_of(owner.node as usize)
                .get(owner.process as usize)
                .map_or(0, |c| c.deadlock_priority)
        };
        let Some(victim) = choose_victim(cyclic, priority) else {
            self.end_search(s, false, o);
            return;
        };
        let Some(&(master, w)) = sure.iter().find(|(_, w)| w.lock == victim) else {
            self.end_search(s, false, o);
            return;
        };
        let more = cycle_without(&edges, victim);
        let epoch = s.dlm.epoch;
        let msg = DlmMsg::Victim {
            epoch,
            res: w.res,
            lock: w.lock,
            seq: w.seq,
        };
        self.dlm_send(s, master as usize, msg, o);
        self.end_search(s, more, o);
    }

    fn end_search(&self, s: &mut NodeState, more: bool, o: &mut O) {
        s.dlm.search = None;
        if more || s.dlm.search_again {
            s.dlm.search_again = false;
            self.start_search(s, o);
        }
    }

    /// `Victim` at the master: cancel that request instance with `Deadlock` if still queued.
    pub(crate) fn on_victim(&self, s: &mut NodeState, res: u8, lock: LockId, seq: u8, o: &mut O) {
        if s.dlm.seqs.get(&(res, lock)) != Some(&seq) {
            return;
        }
        let Some(r) = s.dlm.mastered.get_mut(&res) else {
            return;
        };
        let events = r.deadlock_victim(lock);
        s.dlm.last_victim = Some((res, lock, seq));
        self.after_master_op(s, res, &events, None, o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlm::resource::Owner;

    fn owner(p: u32) -> Owner {
        Owner {
            node: (p / 2) as u8,
            process: (p % 2) as u8,
        }
    }

    fn mask(ps: &[u32]) -> u64 {
        ps.iter().fold(0, |m, p| m | 1 << p)
    }

    #[test]
    fn blockers_count_incompatible_holders_and_requests_ahead() {
        let mut r = Resource::new();
        r.enqueue(LockId(0), owner(0), Mode::PR, Flags::NONE);
        r.enqueue(LockId(1), owner(1), Mode::PR, Flags::NONE);
        r.enqueue(LockId(2), owner(2), Mode::CR, Flags::NONE);
        // 0 converts to EX: blocked by 1's PR (CR is compatible with EX? no: CR-EX conflict).
        r.convert(LockId(0), Mode::EX, Flags::NONE, None);
        assert_eq!(blockers(&r, LockId(0), Matrix::VMS), Some(mask(&[1, 2])));
        // 1 converts to EX behind 0: blocked by 0 (ahead, and its PR) and 2's CR.
        r.convert(LockId(1), Mode::EX, Flags::NONE, None);
        assert_eq!(blockers(&r, LockId(1), Matrix::VMS), Some(mask(&[0, 2])));
        // A new NL request is granted at once only with empty queues: it waits for both
        // conversions, though compatible with everything.
        r.enqueue(LockId(3), owner(3), Mode::NL, Flags::NONE);
        assert_eq!(blockers(&r, LockId(3), Matrix::VMS), Some(mask(&[0, 1])));
        assert_eq!(blockers(&r, LockId(2), Matrix::VMS), None);
        // The conversion deadlock {0, 1} is a cycle; 3 waits on it but is not on it.
        assert_eq!(on_cycles(&queued_waits(&r, Matrix::VMS)), mask(&[0, 1]));
    }

    #[test]
    fn cycles_across_resources() {
        // 0 waits for 1 (r1), 1 waits for 2 (r2), 2 waits for 0 (r3); 3 waits for 0 only.
        let edges = [
            (LockId(0), mask(&[1])),
            (LockId(1), mask(&[2])),
            (LockId(2), mask(&[0])),
            (LockId(3), mask(&[0])),
        ];
        assert_eq!(on_cycles(&edges), mask(&[0, 1, 2]));
        // An edge to a process that waits for nothing ends the path.
        assert_eq!(
            on_cycles(&[(LockId(0), mask(&[1])), (LockId(1), mask(&[5]))]),
            0
        );
        assert!(!cycle_without(&edges, LockId(1)));
    }

    #[test]
    fn victim_is_lowest_priority_then_highest_lock_id() {
        let cyclic = mask(&[0, 3, 4]);
        assert_eq!(choose_victim(cyclic, |_| 0), Some(LockId(4)));
        assert_eq!(
            choose_victim(cyclic, |l| if l == LockId(4) { 1 } else { 0 }),
            Some(LockId(3))
        );
        assert_eq!(choose_victim(0, |_| 0), None);
    }

    #[test]
    fn only_waits_seen_twice_with_the_same_instance_are_certified() {
        let w = |lock: u32, seq: u8, blockers: u64| Wait {
            res: 0,
            lock: LockId(lock),
            seq,
            blockers,
        };
        let first = [(0, w(0, 1, mask(&[1, 2]))), (1, w(1, 1, mask(&[0])))];
        let second = [(0, w(0, 1, mask(&[1]))), (1, w(1, 2, mask(&[0])))];
        // Lock 1's request is another instance (line 2): not certified.
        assert_eq!(certified(&first, &second), vec![(0, w(0, 1, mask(&[1])))]);
    }

    #[test]
    fn scripts_that_cannot_deadlock_arm_no_timer() {
        let spec = |scripts: &str| {
            let toml = format!(
                "[cluster]\nname = \"T\"\nexpected_votes = 1\n[[node]]\nname = \"A\"\n\
                 region = \"FRA\"\nvotes = 1\nsystem_id = 1\n{scripts}"
            );
            ClusterSpec::parse("t", &toml).unwrap()
        };
        let client = |s: &str| format!("[[client]]\nnode = \"A\"\nscript = [{s}]\n");
        let crossed = client("\"enq a EX\", \"enq b EX\"") + &client("\"enq b EX\", \"enq a EX\"");
        assert!(deadlock_possible(&spec(&crossed)));
        let one = client("\"enq a EX\", \"enq b EX\"") + &client("\"enq b EX\", \"deq b\"");
        assert!(!deadlock_possible(&spec(&one)));
        let nl = client("\"enq a NL\", \"enq b EX\"") + &client("\"enq a NL\", \"enq b EX\"");
        assert!(!deadlock_possible(&spec(&nl)));
        let from_nl =
            client("\"enq a NL\", \"convert a EX\"") + &client("\"enq a PR\", \"convert a EX\"");
        assert!(deadlock_possible(&spec(&from_nl)));
        let down =
            client("\"enq a EX\", \"convert a NL\"") + &client("\"enq a PR\", \"convert a CR\"");
        assert!(!deadlock_possible(&spec(&down)));
        let up =
            client("\"enq a PR\", \"convert a EX\"") + &client("\"enq a PR\", \"convert a EX\"");
        assert!(deadlock_possible(&spec(&up)));
    }
}
