//! Unit tests: one per grant rule, with the exact expected event vectors.

use super::*;
use Event::{Blocking, Cancelled, Dequeued, Granted, Queued, Refused};
use Mode::{CR, CW, EX, NL, PR, PW};

const F0: Flags = Flags::NONE;

fn l(n: u32) -> LockId {
    LockId(n)
}

fn o(node: u8) -> Owner {
    Owner { node, process: 0 }
}

fn g(n: u32, mode: Mode) -> Event {
    Granted {
        id: l(n),
        mode,
        value: None,
    }
}

fn q(n: u32) -> Event {
    Queued { id: l(n) }
}

fn b(holder: u32, request: u32) -> Event {
    Blocking {
        holder: l(holder),
        blocked_by_request: l(request),
    }
}

fn ids(queue: &[Lock]) -> Vec<u32> {
    queue.iter().map(|lock| lock.id.0).collect()
}

fn vb(byte: u8) -> ValueBlock {
    ValueBlock([byte; 16])
}

/// A resource where each `(id, mode)` was enqueued and granted on an empty queue set.
fn with_granted(locks: &[(u32, Mode)]) -> Resource {
    let mut r = Resource::new();
    for &(id, mode) in locks {
        assert_eq!(r.enqueue(l(id), o(id as u8), mode, F0), vec![g(id, mode)]);
    }
    r
}

#[test]
fn matrix_rows_match_fact_sheet() {
    let rows: Vec<String> = Mode::ALL
        .iter()
        .map(|&h| {
            Mode::ALL
                .iter()
                .map(|&r| if Mode::compatible(h, r) { 'Y' } else { 'N' })
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        ["YYYYYY", "YYYYYN", "YYYNNN", "YYNYNN", "YYNNNN", "YNNNNN"]
    );
    assert!(Matrix::broken_pr_pw().compatible(PR, PW));
    assert!(Matrix::broken_pr_pw().compatible(PW, PR));
}

#[test]
fn mode_codes_display_parse() {
    for (code, m) in Mode::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(m.code()), code);
        assert_eq!(Mode::from_code(m.code()), Some(m));
        assert_eq!(m.to_string().parse::<Mode>(), Ok(m));
        assert_eq!(m.to_string().to_lowercase().parse::<Mode>(), Ok(m));
    }
    assert_eq!(Mode::from_code(6), None);
    assert_eq!(" pW ".parse::<Mode>(), Ok(PW));
    let err = "XX".parse::<Mode>().unwrap_err();
    assert_eq!(err, ParseModeError("XX".into()));
    assert_eq!(
        err.to_string(),
        "unknown lock mode `XX` (expected one of NL, CR, CW, PR, PW, EX)"
    );
}

#[test]
fn new_request_waits_behind_waiting_queue_even_if_compatible() {
    let mut r = with_granted(&[(1, EX)]);
    assert_eq!(r.enqueue(l(2), o(2), PR, F0), vec![q(2), b(1, 2)]);
    // NL is compatible with EX, but the waiting queue is not empty.
    assert_eq!(r.enqueue(l(3), o(3), NL, F0), vec![q(3)]);
    assert_eq!(ids(r.waiting()), [2, 3]);
    // Releasing EX grants both, in order.
    assert_eq!(
        r.dequeue(l(1), None),
        vec![Dequeued { id: l(1) }, g(2, PR), g(3, NL)]
    );
}

#[test]
fn new_request_waits_behind_converting_queue_even_if_compatible() {
    let mut r = with_granted(&[(1, PR), (2, PR)]);
    assert_eq!(r.convert(l(1), EX, F0, None), vec![q(1), b(2, 1)]);
    // CR is compatible with both PR holders but a conversion is queued.
    assert_eq!(r.enqueue(l(3), o(3), CR, F0), vec![q(3)]);
    assert_eq!(ids(r.converting()), [1]);
    assert_eq!(ids(r.waiting()), [3]);
    assert_eq!(r.lock(l(1)).and_then(|k| k.granted_mode), Some(PR));
    // Dequeue 2: conversion first, then the waiter (CR is incompatible with EX).
    assert_eq!(
        r.dequeue(l(2), None),
        vec![Dequeued { id: l(2) }, g(1, EX), b(1, 3)]
    );
}

#[test]
fn compatible_conversion_granted_in_place_overtaking_queues() {
    let mut r = with_granted(&[(1, PR)]);
    assert_eq!(r.enqueue(l(2), o(2), EX, F0), vec![q(2), b(1, 2)]);
    assert_eq!(r.enqueue(l(3), o(3), CR, F0), vec![q(3)]);
    // PR -> CW: no other holder, so granted in place despite the waiting queue; the lock
    // (now CW) still blocks the EX request, which gets a fresh blocking event.
    assert_eq!(r.convert(l(1), CW, F0, None), vec![g(1, CW), b(1, 2)]);
    assert_eq!(ids(r.waiting()), [2, 3]);
    assert!(r.converting().is_empty());
}

#[test]
fn quecvt_queues_behind_existing_conversions() {
    let mut r = with_granted(&[(1, NL), (2, PR), (3, PR)]);
    assert_eq!(r.convert(l(2), EX, F0, None), vec![q(2), b(3, 2)]);
    let mut plain = r.clone();
    // NL -> CR is compatible with everything held: in place without QUECVT ...
    // (CR then blocks the EX conversion of 2: a fresh blocking event.)
    assert_eq!(plain.convert(l(1), CR, F0, None), vec![g(1, CR), b(1, 2)]);
    // ... but queued behind conversion 2 with QUECVT.
    assert_eq!(r.convert(l(1), CR, Flags::QUECVT, None), vec![q(1)]);
    assert_eq!(ids(r.converting()), [2, 1]);
    // QUECVT with an empty converting queue and a compatible mode: granted.
    let mut r2 = with_granted(&[(1, NL)]);
    assert_eq!(r2.convert(l(1), PR, Flags::QUECVT, None), vec![g(1, PR)]);
    // QUECVT outside the allowed list (down-conversion, from EX): refused, no change.
    let mut r3 = with_granted(&[(1, EX)]);
    let before = r3.clone();
    let illegal = Refused {
        id: l(1),
        status: Status::IllegalConversion,
    };
    assert_eq!(r3.convert(l(1), NL, Flags::QUECVT, None), vec![illegal]);
    assert_eq!(r3, before);
}

#[test]
fn noqueue_refused_with_notqueued() {
    let mut r = with_granted(&[(1, EX)]);
    let before = r.clone();
    let refused = Refused {
        id: l(2),
        status: Status::NotQueued,
    };
    assert_eq!(r.enqueue(l(2), o(2), PR, Flags::NOQUEUE), vec![refused]);
    assert_eq!(r, before);
    // Conversion with NOQUEUE: refused, keeps PR.
    let mut r = with_granted(&[(1, PR), (2, PR)]);
    let before = r.clone();
    let refused = Refused {
        id: l(1),
        status: Status::NotQueued,
    };
    assert_eq!(r.convert(l(1), EX, Flags::NOQUEUE, None), vec![refused]);
    assert_eq!(r, before);
    assert_eq!(r.lock(l(1)).and_then(|k| k.granted_mode), Some(PR));
    // NOQUEUE but grantable: granted.
    assert_eq!(r.enqueue(l(3), o(3), CR, Flags::NOQUEUE), vec![g(3, CR)]);
}

#[test]
fn expedite_nl_granted_ignoring_queues() {
    let mut r = with_granted(&[(1, EX)]);
    assert_eq!(r.enqueue(l(2), o(2), PR, F0), vec![q(2), b(1, 2)]);
    assert_eq!(r.enqueue(l(3), o(3), NL, Flags::EXPEDITE), vec![g(3, NL)]);
    assert_eq!(r.enqueue(l(4), o(4), NL, F0), vec![q(4)]);
    assert_eq!(ids(r.granted()), [1, 3]);
    assert_eq!(ids(r.waiting()), [2, 4]);
    let bad = |id| {
        vec![Refused {
            id: l(id),
            status: Status::BadParam,
        }]
    };
    assert_eq!(r.enqueue(l(5), o(5), CR, Flags::EXPEDITE), bad(5));
    assert_eq!(r.convert(l(3), CR, Flags::EXPEDITE, None), bad(3));
    assert_eq!(r.enqueue(l(6), o(6), CR, Flags::QUECVT), bad(6));
}

#[test]
fn conversions_are_fifo_once_queued() {
    let mut r = with_granted(&[(1, PR), (4, CR), (2, NL), (3, NL)]);
    assert_eq!(ids(r.granted()), [1, 4, 2, 3]);
    assert_eq!(r.convert(l(2), EX, F0, None), vec![q(2), b(1, 2), b(4, 2)]);
    assert_eq!(r.convert(l(3), PW, F0, None), vec![q(3), b(1, 3)]);
    // 3 (PW) is now compatible with every holder, but 2 is ahead and still blocked by 4.
    assert_eq!(r.dequeue(l(1), None), vec![Dequeued { id: l(1) }]);
    assert_eq!(ids(r.converting()), [2, 3]);
    assert_eq!(
        r.dequeue(l(4), None),
        vec![Dequeued { id: l(4) }, g(2, EX), b(2, 3)]
    );
    assert_eq!(r.dequeue(l(2), None), vec![Dequeued { id: l(2) }, g(3, PW)]);
}

#[test]
fn value_block_written_from_pw_ex_not_from_pr() {
    let zero = Some((vb(0), true));
    let mut r = Resource::new();
    let v = Flags::VALBLK;
    let granted = |n, mode, value| {
        vec![Granted {
            id: l(n),
            mode,
            value,
        }]
    };
    assert_eq!(r.enqueue(l(1), o(1), EX, v), granted(1, EX, zero));
    // EX -> NL with a value: written, nothing returned.
    assert_eq!(r.convert(l(1), NL, v, Some(vb(7))), granted(1, NL, None));
    assert_eq!(r.value_block(), (vb(7), true));
    // PR reads it; PR -> NL with a value does not write (it reads).
    assert_eq!(
        r.enqueue(l(2), o(2), PR, v),
        granted(2, PR, Some((vb(7), true)))
    );
    assert_eq!(
        r.convert(l(2), NL, v, Some(vb(9))),
        granted(2, NL, Some((vb(7), true)))
    );
    assert_eq!(r.value_block(), (vb(7), true));
    // Dequeue from PR with a value: not written.
    assert_eq!(r.convert(l(2), PR, F0, None), vec![g(2, PR)]);
    assert_eq!(r.dequeue(l(2), Some(vb(9))), vec![Dequeued { id: l(2) }]);
    assert_eq!(r.value_block(), (vb(7), true));
    // NL -> PW reads; PW -> EX reads; dequeue from EX with a value writes.
    assert_eq!(
        r.convert(l(1), PW, v, None),
        granted(1, PW, Some((vb(7), true)))
    );
    assert_eq!(
        r.convert(l(1), EX, v, Some(vb(8))),
        granted(1, EX, Some((vb(7), true)))
    );
    assert_eq!(r.dequeue(l(1), Some(vb(5))), vec![Dequeued { id: l(1) }]);
    assert_eq!(r.value_block(), (vb(5), true));
    // PW -> PW (same mode) with a value writes; without VALBLK nothing happens.
    let mut r = with_granted(&[(1, PW)]);
    assert_eq!(r.convert(l(1), CR, F0, Some(vb(3))), vec![g(1, CR)]);
    assert_eq!(r.value_block(), (vb(0), true));
    assert_eq!(r.convert(l(1), PW, F0, None), vec![g(1, PW)]);
    assert_eq!(r.convert(l(1), PW, v, Some(vb(4))), granted(1, PW, None));
    assert_eq!(r.value_block(), (vb(4), true));
}

#[test]
fn node_removal_of_ex_holder_invalidates_value_block() {
    let mut r = with_granted(&[(1, EX)]);
    assert_eq!(
        r.enqueue(l(2), o(2), PR, Flags::VALBLK),
        vec![q(2), b(1, 2)]
    );
    let invalid = Some((vb(0), false));
    let events = r.remove_owner_node(1);
    let expected = vec![
        Dequeued { id: l(1) },
        Granted {
            id: l(2),
            mode: PR,
            value: invalid,
        },
    ];
    assert_eq!(events, expected);
    assert_eq!(events[1].completion_status(), Some(Status::ValNotValid));
    // Removing a PR holder's node does not change validity; a write from EX revalidates.
    assert_eq!(r.enqueue(l(3), o(3), NL, F0), vec![g(3, NL)]);
    assert_eq!(r.convert(l(3), EX, F0, None), vec![q(3), b(2, 3)]);
    assert_eq!(
        r.remove_owner_node(2),
        vec![Dequeued { id: l(2) }, g(3, EX)]
    );
    assert_eq!(r.value_block(), (vb(0), false));
    let v = Flags::VALBLK;
    assert_eq!(r.convert(l(3), NL, v, Some(vb(1))), vec![g(3, NL)]);
    assert_eq!(r.value_block(), (vb(1), true));
    // A converting PW holder (granted PW) also counts as a writer.
    let mut r = with_granted(&[(1, PW), (2, CR)]);
    assert_eq!(r.convert(l(1), EX, F0, None), vec![q(1), b(2, 1)]);
    assert_eq!(r.remove_owner_node(1), vec![Dequeued { id: l(1) }]);
    assert_eq!(r.value_block(), (vb(0), false));
}

#[test]
fn blocking_set_uses_granted_modes_only() {
    let mut r = with_granted(&[(1, CR), (2, CR)]);
    assert_eq!(r.convert(l(1), EX, F0, None), vec![q(1), b(2, 1)]);
    // 3 asks PW: 2 (CR) is compatible, and 1 is judged at its granted CR, not at EX.
    assert_eq!(r.enqueue(l(3), o(3), PW, F0), vec![q(3)]);
    assert_eq!(r.blocking_set(l(3)), Vec::<LockId>::new());
    assert_eq!(r.blocking_set(l(1)), vec![l(2)]);
    assert_eq!(r.blocking_set(l(2)), Vec::<LockId>::new()); // not pending
    let mut r = with_granted(&[(1, PR), (2, CR), (3, NL)]);
    assert_eq!(r.enqueue(l(4), o(4), EX, F0), vec![q(4), b(1, 4), b(2, 4)]);
    assert_eq!(r.blocking_set(l(4)), vec![l(1), l(2)]);
}

#[test]
fn cancel_dequeue_and_deadlock_victim() {
    let mut r = with_granted(&[(1, PR), (2, PR)]);
    assert_eq!(r.convert(l(1), EX, F0, None), vec![q(1), b(2, 1)]);
    assert_eq!(r.convert(l(2), EX, F0, None), vec![q(2), b(1, 2)]);
    // Classic conversion deadlock: each PR blocks the other's EX.
    assert_eq!(r.conversion_deadlock(), vec![l(1), l(2)]);
    let victim = Refused {
        id: l(2),
        status: Status::Deadlock,
    };
    // 2 returns to PR; it already had its blocking AST for 1, so none is repeated.
    assert_eq!(r.deadlock_victim(l(2)), vec![victim]);
    assert_eq!(r.conversion_deadlock(), Vec::<LockId>::new());
    assert_eq!(r.lock(l(2)).and_then(|k| k.granted_mode), Some(PR));
    assert_eq!(
        r.cancel(l(2)),
        vec![Refused {
            id: l(2),
            status: Status::CancelGrant
        }]
    );
    // Dequeue of the converting lock 1: its conversion is cancelled, then it is gone.
    assert_eq!(
        r.dequeue(l(1), None),
        vec![Cancelled { id: l(1) }, Dequeued { id: l(1) }]
    );
    assert_eq!(ids(r.granted()), [2]);
    // Cancel a waiting request: it disappears, the next waiter is granted.
    let mut r = with_granted(&[(1, CW)]);
    assert_eq!(r.enqueue(l(2), o(2), EX, F0), vec![q(2), b(1, 2)]);
    assert_eq!(r.enqueue(l(3), o(3), CW, F0), vec![q(3)]);
    assert_eq!(r.cancel(l(2)), vec![Cancelled { id: l(2) }, g(3, CW)]);
    let unknown = Refused {
        id: l(9),
        status: Status::IvLockId,
    };
    assert_eq!(r.cancel(l(9)), vec![unknown.clone()]);
    assert_eq!(r.dequeue(l(9), None), vec![unknown]);
    let dup = Refused {
        id: l(3),
        status: Status::IvLockId,
    };
    assert_eq!(r.enqueue(l(3), o(3), NL, F0), vec![dup]);
    assert_eq!(r.enqueue(l(4), o(4), EX, F0), vec![q(4), b(1, 4), b(3, 4)]);
    let ungranted = Refused {
        id: l(4),
        status: Status::CvtUngrant,
    };
    assert_eq!(r.convert(l(4), NL, F0, None), vec![ungranted]);
}

#[test]
fn granted_queue_ordered_by_mode() {
    let r = with_granted(&[(1, NL), (2, CR), (3, CR), (4, PR), (5, NL)]);
    assert_eq!(ids(r.granted()), [4, 2, 3, 1, 5]);
    assert!(r.converting().is_empty() && r.waiting().is_empty());
}

#[test]
fn serde_round_trip() {
    let mut r = with_granted(&[(1, PR)]);
    r.enqueue(l(2), o(2), EX, Flags::VALBLK);
    let text = serde_json::to_string(&r).expect("serialize");
    let back: Resource = serde_json::from_str(&text).expect("deserialize");
    assert_eq!(back, r);
}
