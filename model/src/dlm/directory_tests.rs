//! Unit tests of the directory and the masters (`cluster.rs`, "Directory and master"): a tree
//! and its directory entry go with its last lock, an NL lock keeps them, a request routed by a
//! dead entry is answered `NotMaster` and starts a new attempt, a stale `Unregister` leaves a
//! newer entry, and a request ahead of its master's own directory answer waits for it. Exact
//! messages and completions, on three formed nodes (A = 0, B = 1, C = 2).

use super::cluster::{DirEntry, Via};
use super::external::{ClientMsg, Completion};
use super::script::Op;
use super::testnet::{done, id, req, Net};
use super::*;
use crate::node::Msg;
use std::collections::BTreeMap;
use Mode::{EX, NL, PR};

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

fn entry(master: usize, gen: u32) -> Option<DirEntry> {
    Some(DirEntry {
        master: master as u8,
        gen,
    })
}

fn granted(lock: LockId, res: u8, mode: Mode, value: Option<(ValueBlock, bool)>) -> ClientMsg {
    ClientMsg::Completion(Completion {
        lock,
        res,
        status: Status::Normal,
        mode: Some(mode),
        value,
    })
}

#[test]
fn the_last_deq_drops_the_tree_and_its_directory_entry() {
    let mut net = Net::new();
    let r = net.res_with(C);
    let a = id(A, 1);
    // A is the first to lock the tree: C records it as master (generation 1).
    let (out, remote) = net.request(A, req(a, r, Op::Enq(EX), Flags::NONE));
    assert_eq!(out, [(A, done(a, r, Status::Normal, Some(EX)))]);
    assert_eq!(remote, 2, "lookup and answer");
    assert_eq!(net.states[C].dlm.dir.get(&r).copied(), entry(A, 1));
    assert_eq!(net.states[A].dlm.gens, BTreeMap::from([(r, 1)]));
    // A's `$DEQ` writes a value and removes the tree's last lock: the resource, its value block
    // and (by an `Unregister` of generation 1) the directory entry go.
    let mut deq = req(a, r, Op::Deq, Flags::VALBLK);
    deq.value = Some(ValueBlock([7; 16]));
    net.client(A, deq);
    assert_eq!(net.take_out(), [(A, done(a, r, Status::Normal, None))]);
    let d = &net.states[A].dlm;
    assert!(d.mastered.is_empty() && d.gens.is_empty() && d.known.is_empty());
    assert_eq!(
        net.on(A, C),
        [DlmMsg::Unregister {
            epoch: 1,
            res: r,
            gen: 1
        }]
    );
    net.run();
    assert!(net.states[C].dlm.dir.is_empty());
    // The next lock, from B, makes B master of a new resource: a zero value block, valid.
    let b = id(B, 1);
    let (out, remote) = net.request(B, req(b, r, Op::Enq(PR), Flags::VALBLK));
    let zero = Some((ValueBlock::default(), true));
    assert_eq!(out, [(B, granted(b, r, PR, zero))]);
    assert_eq!(remote, 2);
    assert_eq!(net.states[C].dlm.dir.get(&r).copied(), entry(B, 2));
    assert!(net.states[A].dlm.mastered.is_empty());
    assert!(net.states[B].dlm.mastered.contains_key(&r));
}

#[test]
fn an_nl_lock_keeps_the_tree_and_its_value_block() {
    let mut net = Net::new();
    let r = net.res_with(C);
    let (nl, ex) = (id(A, 1), id(A, 2));
    net.request(A, req(nl, r, Op::Enq(NL), Flags::NONE));
    net.request(A, req(ex, r, Op::Enq(EX), Flags::NONE));
    let v = ValueBlock([9; 16]);
    let mut deq = req(ex, r, Op::Deq, Flags::VALBLK);
    deq.value = Some(v);
    let (out, remote) = net.request(A, deq);
    assert_eq!(out, [(A, done(ex, r, Status::Normal, None))]);
    assert_eq!(remote, 0, "no Unregister: the NL lock is left");
    assert_eq!(net.states[C].dlm.dir.get(&r).copied(), entry(A, 1));
    // B is sent to A (directory, then master) and reads the value A wrote.
    let b = id(B, 1);
    let (out, remote) = net.request(B, req(b, r, Op::Enq(PR), Flags::VALBLK));
    assert_eq!(out, [(B, granted(b, r, PR, Some((v, true))))]);
    assert_eq!(remote, 4);
    // Both locks go: the tree goes with the last one.
    net.request(A, req(nl, r, Op::Deq, Flags::NONE));
    assert!(net.states[A].dlm.mastered.contains_key(&r));
    let (out, remote) = net.request(B, req(b, r, Op::Deq, Flags::NONE));
    assert_eq!(out, [(B, done(b, r, Status::Normal, None))]);
    assert_eq!(remote, 3, "request, AST, Unregister");
    assert!(net.states[A].dlm.mastered.is_empty());
    assert!(net.states[C].dlm.dir.is_empty());
}

#[test]
fn not_master_starts_a_new_attempt_that_is_granted() {
    let mut net = Net::new();
    let r = net.res_with(C);
    let (a, b) = (id(A, 1), id(B, 1));
    net.request(A, req(a, r, Op::Enq(EX), Flags::NONE));
    // B looks up the tree while A masters it: C answers A (generation 1).
    net.client(B, req(b, r, Op::Enq(EX), Flags::NONE));
    net.deliver(B, C);
    net.deliver(C, B);
    let [DlmMsg::Request(q)] = net.on(B, A)[..] else {
        panic!("B's request to A: {:?}", net.on(B, A))
    };
    assert_eq!(q.hops, 2);
    assert_eq!(q.via, Some(Via { epoch: 1, gen: 1 }));
    // Before it arrives A releases its lock and drops the tree; its Unregister is held back.
    net.client(A, req(a, r, Op::Deq, Flags::NONE));
    assert_eq!(net.take_out(), [(A, done(a, r, Status::Normal, None))]);
    assert!(net.states[A].dlm.mastered.is_empty());
    // A does not re-create the tree from B's request: it answers NotMaster.
    net.deliver(B, A);
    assert!(net.states[A].dlm.mastered.is_empty());
    assert_eq!(
        net.on(A, B),
        [DlmMsg::NotMaster {
            res: r,
            lock: b,
            via: Some(Via { epoch: 1, gen: 1 })
        }]
    );
    // A new attempt: B looks up again, telling C that entry (A, 1) is dead; C drops it (A's
    // Unregister is still on its way) and makes B master.
    net.deliver(A, B);
    assert_eq!(
        net.on(B, C),
        [DlmMsg::Lookup {
            epoch: 1,
            res: r,
            dead: entry(A, 1)
        }]
    );
    net.deliver(B, C);
    assert_eq!(net.states[C].dlm.dir.get(&r).copied(), entry(B, 2));
    net.deliver(C, B);
    assert_eq!(net.take_out(), [(B, done(b, r, Status::Normal, Some(EX)))]);
    assert!(net.states[B].dlm.mastered.contains_key(&r));
    // A's Unregister of generation 1 arrives last, and leaves B's entry alone.
    assert_eq!(
        net.deliver(A, C),
        DlmMsg::Unregister {
            epoch: 1,
            res: r,
            gen: 1
        }
    );
    assert_eq!(net.states[C].dlm.dir.get(&r).copied(), entry(B, 2));
    assert!(net.flight.is_empty());
}

#[test]
fn a_stale_unregister_does_not_remove_a_newer_entry() {
    let mut net = Net::new();
    let r = net.res_with(C);
    net.request(A, req(id(A, 1), r, Op::Enq(EX), Flags::NONE));
    assert_eq!(net.states[C].dlm.dir.get(&r).copied(), entry(A, 1));
    let unregister = |gen| {
        Msg::Dlm(DlmMsg::Unregister {
            epoch: 1,
            res: r,
            gen,
        })
    };
    // Another generation of A's, or the right generation from another node: kept.
    net.step(C, A, unregister(0));
    net.step(C, B, unregister(1));
    assert_eq!(net.states[C].dlm.dir.get(&r).copied(), entry(A, 1));
    // A stale view's: kept.
    net.step(
        C,
        A,
        Msg::Dlm(DlmMsg::Unregister {
            epoch: 0,
            res: r,
            gen: 1,
        }),
    );
    assert_eq!(net.states[C].dlm.dir.get(&r).copied(), entry(A, 1));
    // A's own generation: removed.
    net.step(C, A, unregister(1));
    assert!(net.states[C].dlm.dir.is_empty());
    assert!(net.flight.is_empty());
}

#[test]
fn a_request_ahead_of_its_masters_directory_answer_waits_for_it() {
    let mut net = Net::new();
    let r = net.res_with(C);
    let (a, b) = (id(A, 1), id(B, 1));
    // C makes A master; its answer to A is held back.
    net.client(A, req(a, r, Op::Enq(EX), Flags::NONE));
    net.deliver(A, C);
    // B is sent to A by the same entry, and its request gets there first: A keeps it.
    net.client(B, req(b, r, Op::Enq(PR), Flags::NONE));
    net.deliver(B, C);
    net.deliver(C, B);
    net.deliver(B, A);
    assert_eq!(net.states[A].dlm.deferred.len(), 1);
    assert!(net.on(A, B).is_empty(), "no NotMaster");
    // A's answer: A masters the tree; B's request (first come) is granted, A's own EX waits
    // and B's lock gets a blocking AST.
    net.deliver(C, A);
    assert!(net.states[A].dlm.deferred.is_empty());
    assert!(net.take_out().is_empty());
    net.run();
    assert_eq!(
        net.take_out(),
        [
            (B, done(b, r, Status::Normal, Some(PR))),
            (B, ClientMsg::Blocking { res: r, lock: b })
        ]
    );
    // B releases: A is granted (at once, locally; B's AST is a message).
    let (out, _) = net.request(B, req(b, r, Op::Deq, Flags::NONE));
    assert_eq!(
        out,
        [
            (A, done(a, r, Status::Normal, Some(EX))),
            (B, done(b, r, Status::Normal, None))
        ]
    );
}
