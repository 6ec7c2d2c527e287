//! Property tests: (a) matrix properties; (b) `Resource` against a separately written
//! sequential reference; (c) invariants after every operation; and a negative control
//! showing the compatibility property catches a broken matrix entry.

use super::*;
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use std::collections::BTreeSet;

/// Longest operation sequence tried.
const MAX_OPS: usize = 30;
/// Lock ids 0..12: three per owner, four owners on two nodes.
const LOCK_IDS: u32 = 12;

/// The VMS matrix transcribed again, as text, independently of `Matrix::VMS`.
const ROWS: [&str; 6] = ["YYYYYY", "YYYYYN", "YYYNNN", "YYNYNN", "YYNNNN", "YNNNNN"];

fn ok(held: Mode, requested: Mode) -> bool {
    ROWS[usize::from(held.code())].as_bytes()[usize::from(requested.code())] == b'Y'
}

fn owner_of(id: u32) -> Owner {
    let k = id / 3;
    Owner {
        node: (k / 2) as u8,
        process: (k % 2) as u8,
    }
}

// ---------------------------------------------------------------------------------------
// The reference: one flat list of locks; queues are recomputed from it on demand.
// ---------------------------------------------------------------------------------------

mod reference {
    use super::super::*;
    use super::ok;
    use std::cmp::Reverse;

    #[derive(Clone, Debug)]
    struct RLock {
        id: LockId,
        owner: Owner,
        granted: Option<Mode>,
        requested: Option<Mode>,
        flags: Flags,
        value: Option<ValueBlock>,
        /// When it arrived on its current queue (or was granted).
        seq: u64,
    }

    /// Who was queued / granted during the current operation.
    #[derive(Default)]
    struct Fresh {
        request: Option<LockId>,
        holders: Vec<LockId>,
    }

    /// Obviously-correct (slow) model of the grant rules.
    pub struct Reference {
        locks: Vec<RLock>,
        clock: u64,
        value: ValueBlock,
        valid: bool,
    }

    fn allowed_quecvt(from: Mode, to: Mode) -> bool {
        let list: &[Mode] = match from {
            Mode::NL => &[Mode::CR, Mode::CW, Mode::PR, Mode::PW, Mode::EX],
            Mode::CR => &[Mode::CW, Mode::PR, Mode::PW, Mode::EX],
            Mode::CW => &[Mode::PR, Mode::PW, Mode::EX],
            Mode::PR => &[Mode::CW, Mode::PW, Mode::EX],
            Mode::PW => &[Mode::EX],
            Mode::EX => &[],
        };
        list.contains(&to)
    }

    fn refused(id: LockId, status: Status) -> Vec<Event> {
        vec![Event::Refused { id, status }]
    }

    impl Reference {
        pub fn new() -> Reference {
            Reference {
                locks: vec![],
                clock: 0,
                value: ValueBlock::default(),
                valid: true,
            }
        }

        pub fn value_block(&self) -> (ValueBlock, bool) {
            (self.value, self.valid)
        }

        fn tick(&mut self) -> u64 {
            self.clock += 1;
            self.clock
        }

        fn sorted(&self, keep: impl Fn(&RLock) -> bool, granted: bool) -> Vec<RLock> {
            let mut v: Vec<RLock> = self.locks.iter().filter(|l| keep(l)).cloned().collect();
            if granted {
                v.sort_by_key(|l| (Reverse(l.granted), l.seq));
            } else {
                v.sort_by_key(|l| l.seq);
            }
            v
        }

        fn granted_q(&self) -> Vec<RLock> {
            self.sorted(|l| l.requested.is_none(), true)
        }

        fn converting_q(&self) -> Vec<RLock> {
            self.sorted(|l| l.granted.is_some() && l.requested.is_some(), false)
        }

        fn waiting_q(&self) -> Vec<RLock> {
            self.sorted(|l| l.granted.is_none(), false)
        }

        fn export(v: Vec<RLock>) -> Vec<Lock> {
            v.into_iter()
                .map(|l| Lock {
                    id: l.id,
                    owner: l.owner,
                    granted_mode: l.granted,
                    requested_mode: l.requested,
                    flags: l.flags,
                    value: l.value,
                })
                .collect()
        }

        /// (granted, converting, waiting) as `Lock`s.
        pub fn queues(&self) -> [Vec<Lock>; 3] {
            [
                Self::export(self.granted_q()),
                Self::export(self.converting_q()),
                Self::export(self.waiting_q()),
            ]
        }

        fn find(&self, id: LockId) -> Option<usize> {
            self.locks.iter().position(|l| l.id == id)
        }

        /// Every *other* lock that holds a mode holds one compatible with `mode`.
        fn others_ok(&self, id: LockId, mode: Mode) -> bool {
            self.locks
                .iter()
                .filter(|l| l.id != id)
                .all(|l| l.granted.into_iter().all(|g| ok(g, mode)))
        }

        fn grant(&mut self, i: usize, events: &mut Vec<Event>, fresh: &mut Fresh) {
            let seq = self.tick();
            let l = &mut self.locks[i];
            let new = l.requested.take().expect("pending");
            let writes =
                l.granted == Some(Mode::EX) || (l.granted == Some(Mode::PW) && new != Mode::EX);
            let mut value = None;
            if l.flags.contains(Flags::VALBLK) {
                if !writes {
                    value = Some((self.value, self.valid));
                } else if let Some(v) = l.value {
                    self.value = v;
                    self.valid = true;
                }
            }
            l.granted = Some(new);
            l.value = None;
            l.seq = seq;
            fresh.holders.push(l.id);
            events.push(Event::Granted {
                id: l.id,
                mode: new,
                value,
            });
        }

        /// Davis 6-3/6-4 for a queued request.
        fn can_grant_queued(&self, l: &RLock) -> bool {
            let mode = l.requested.expect("pending");
            let conv = self.converting_q();
            let first = |q: &[RLock]| q.first().map(|f| f.id) == Some(l.id);
            let in_turn = if l.granted.is_some() {
                first(&conv)
            } else {
                conv.is_empty() && first(&self.waiting_q())
            };
            in_turn && self.others_ok(l.id, mode)
        }

        fn finish(&mut self, mut events: Vec<Event>, mut fresh: Fresh) -> Vec<Event> {
            loop {
                let pending: Vec<RLock> = [self.converting_q(), self.waiting_q()].concat();
                let Some(next) = pending.iter().find(|l| self.can_grant_queued(l)) else {
                    break;
                };
                let i = self.find(next.id).expect("present");
                self.grant(i, &mut events, &mut fresh);
            }
            let holders = [self.granted_q(), self.converting_q()].concat();
            for r in [self.converting_q(), self.waiting_q()].concat() {
                for h in &holders {
                    let blocks = h.id != r.id
                        && !ok(h.granted.expect("holder"), r.requested.expect("pending"));
                    let new = fresh.request == Some(r.id) || fresh.holders.contains(&h.id);
                    if blocks && new {
                        events.push(Event::Blocking {
                            holder: h.id,
                            blocked_by_request: r.id,
                        });
                    }
                }
            }
            events
        }

        pub fn enqueue(
            &mut self,
            id: LockId,
            owner: Owner,
            mode: Mode,
            flags: Flags,
        ) -> Vec<Event> {
            if self.find(id).is_some() {
                return refused(id, Status::IvLockId);
            }
            let expedite = flags.contains(Flags::EXPEDITE);
            if flags.contains(Flags::QUECVT) || (expedite && mode != Mode::NL) {
                return refused(id, Status::BadParam);
            }
            let now = expedite
                || (self.converting_q().is_empty()
                    && self.waiting_q().is_empty()
                    && self.others_ok(id, mode));
            if !now && flags.contains(Flags::NOQUEUE) {
                return refused(id, Status::NotQueued);
            }
            let seq = self.tick();
            let lock = RLock {
                id,
                owner,
                granted: None,
                requested: Some(mode),
                flags,
                value: None,
                seq,
            };
            self.locks.push(lock);
            self.request_done(now, id)
        }

        /// Grants the just-made request of `id` now, or records it as queued.
        fn request_done(&mut self, now: bool, id: LockId) -> Vec<Event> {
            let (mut events, mut fresh) = (vec![], Fresh::default());
            let i = self.find(id).expect("present");
            if now {
                self.grant(i, &mut events, &mut fresh);
            } else {
                events.push(Event::Queued { id });
                fresh.request = Some(id);
            }
            self.finish(events, fresh)
        }

        pub fn convert(
            &mut self,
            id: LockId,
            mode: Mode,
            flags: Flags,
            value: Option<ValueBlock>,
        ) -> Vec<Event> {
            let Some(i) = self.find(id) else {
                return refused(id, Status::IvLockId);
            };
            let (Some(old), None) = (self.locks[i].granted, self.locks[i].requested) else {
                return refused(id, Status::CvtUngrant);
            };
            if flags.contains(Flags::EXPEDITE) {
                return refused(id, Status::BadParam);
            }
            if flags.contains(Flags::QUECVT) && !allowed_quecvt(old, mode) {
                return refused(id, Status::IllegalConversion);
            }
            let behind = flags.contains(Flags::QUECVT) && !self.converting_q().is_empty();
            let now = self.others_ok(id, mode) && !behind;
            if !now && flags.contains(Flags::NOQUEUE) {
                return refused(id, Status::NotQueued);
            }
            let seq = self.tick();
            let l = &mut self.locks[i];
            (l.requested, l.flags, l.value, l.seq) = (Some(mode), flags, value, seq);
            self.request_done(now, id)
        }

        pub fn dequeue(&mut self, id: LockId, value: Option<ValueBlock>) -> Vec<Event> {
            let Some(i) = self.find(id) else {
                return refused(id, Status::IvLockId);
            };
            let l = self.locks.remove(i);
            let mut events = vec![];
            if l.requested.is_some() {
                events.push(Event::Cancelled { id });
            }
            if let (Some(v), Some(Mode::PW | Mode::EX)) = (value, l.granted) {
                self.value = v;
                self.valid = true;
            }
            events.push(Event::Dequeued { id });
            self.finish(events, Fresh::default())
        }

        pub fn abort(&mut self, id: LockId, event: Event) -> Vec<Event> {
            let Some(i) = self.find(id) else {
                return refused(id, Status::IvLockId);
            };
            if self.locks[i].requested.is_none() {
                return refused(id, Status::CancelGrant);
            }
            if self.locks[i].granted.is_none() {
                self.locks.remove(i);
            } else {
                let seq = self.tick();
                let l = &mut self.locks[i];
                (l.requested, l.value, l.seq) = (None, None, seq);
            }
            self.finish(vec![event], Fresh::default())
        }

        pub fn remove_owner_node(&mut self, node: u8) -> Vec<Event> {
            let all = [self.granted_q(), self.converting_q(), self.waiting_q()].concat();
            let gone: Vec<RLock> = all.into_iter().filter(|l| l.owner.node == node).collect();
            let events = gone.iter().map(|l| Event::Dequeued { id: l.id }).collect();
            if gone
                .iter()
                .any(|l| matches!(l.granted, Some(Mode::PW | Mode::EX)))
            {
                self.valid = false;
            }
            self.locks.retain(|l| l.owner.node != node);
            self.finish(events, Fresh::default())
        }

        pub fn invalidate(&mut self) {
            self.valid = false;
        }
    }
}

use reference::Reference;

// ---------------------------------------------------------------------------------------
// Generated operations
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Enqueue(u32, Mode, Flags),
    Convert(u32, Mode, Flags, Option<ValueBlock>),
    Dequeue(u32, Option<ValueBlock>),
    Cancel(u32),
    Victim(u32),
    RemoveNode(u8),
    Invalidate,
}

impl Arbitrary for Mode {
    fn arbitrary(g: &mut Gen) -> Mode {
        *g.choose(&Mode::ALL).expect("non-empty")
    }
}

fn pct(g: &mut Gen, p: u8) -> bool {
    u8::arbitrary(g) % 100 < p
}

fn flags(g: &mut Gen) -> Flags {
    let bits = [
        (Flags::VALBLK, 50),
        (Flags::NOQUEUE, 20),
        (Flags::QUECVT, 20),
        (Flags::EXPEDITE, 8),
    ];
    bits.into_iter()
        .filter(|&(_, p)| pct(g, p))
        .fold(Flags::NONE, |acc, (f, _)| acc | f)
}

fn value(g: &mut Gen) -> Option<ValueBlock> {
    pct(g, 60).then(|| ValueBlock([u8::arbitrary(g) % 4; 16]))
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Op {
        let id = u32::arbitrary(g) % LOCK_IDS;
        match u8::arbitrary(g) % 100 {
            0..=34 => {
                let f = flags(g);
                let expedite_nl = f.contains(Flags::EXPEDITE) && pct(g, 60);
                let mode = if expedite_nl {
                    Mode::NL
                } else {
                    Mode::arbitrary(g)
                };
                Op::Enqueue(id, mode, f)
            }
            35..=64 => Op::Convert(id, Mode::arbitrary(g), flags(g), value(g)),
            65..=79 => Op::Dequeue(id, value(g)),
            80..=85 => Op::Cancel(id),
            86..=90 => Op::Victim(id),
            91..=96 => Op::RemoveNode(u8::arbitrary(g) % 3),
            _ => Op::Invalidate,
        }
    }
}

fn apply(r: &mut Resource, op: &Op) -> Vec<Event> {
    match *op {
        Op::Enqueue(id, mode, f) => r.enqueue(LockId(id), owner_of(id), mode, f),
        Op::Convert(id, mode, f, v) => r.convert(LockId(id), mode, f, v),
        Op::Dequeue(id, v) => r.dequeue(LockId(id), v),
        Op::Cancel(id) => r.cancel(LockId(id)),
        Op::Victim(id) => r.deadlock_victim(LockId(id)),
        Op::RemoveNode(node) => r.remove_owner_node(node),
        Op::Invalidate => {
            r.invalidate_value_block();
            vec![]
        }
    }
}

fn apply_ref(r: &mut Reference, op: &Op) -> Vec<Event> {
    match *op {
        Op::Enqueue(id, mode, f) => r.enqueue(LockId(id), owner_of(id), mode, f),
        Op::Convert(id, mode, f, v) => r.convert(LockId(id), mode, f, v),
        Op::Dequeue(id, v) => r.dequeue(LockId(id), v),
        Op::Cancel(id) => r.abort(LockId(id), Event::Cancelled { id: LockId(id) }),
        Op::Victim(id) => {
            let event = Event::Refused {
                id: LockId(id),
                status: Status::Deadlock,
            };
            r.abort(LockId(id), event)
        }
        Op::RemoveNode(node) => r.remove_owner_node(node),
        Op::Invalidate => {
            r.invalidate();
            vec![]
        }
    }
}

// ---------------------------------------------------------------------------------------
// Invariants
// ---------------------------------------------------------------------------------------

fn holders(r: &Resource) -> impl Iterator<Item = &Lock> {
    r.granted().iter().chain(r.converting())
}

/// Compatibility: all granted modes are pairwise compatible (VMS matrix, as text).
fn check_compatibility(r: &Resource) -> Result<(), String> {
    let modes: Vec<(LockId, Mode)> = holders(r)
        .filter_map(|l| Some((l.id, l.granted_mode?)))
        .collect();
    for (i, &(a, ma)) in modes.iter().enumerate() {
        for &(b, mb) in &modes[i + 1..] {
            if !ok(ma, mb) {
                return Err(format!("{a:?} at {ma} and {b:?} at {mb} both granted"));
            }
        }
    }
    Ok(())
}

fn grantable(r: &Resource, l: &Lock) -> bool {
    let mode = l.requested_mode.expect("pending");
    holders(r).all(|h| h.id == l.id || h.granted_mode.into_iter().all(|g| ok(g, mode)))
}

/// No stuck grant: no queue head that the grant loop may grant is left ungranted.
fn check_no_stuck(r: &Resource) -> Result<(), String> {
    if let Some(head) = r.converting().first().filter(|l| grantable(r, l)) {
        return Err(format!("converting head {:?} grantable", head.id));
    }
    let waiting_head = r.waiting().first().filter(|l| grantable(r, l));
    match waiting_head {
        Some(head) if r.converting().is_empty() => {
            Err(format!("waiting head {:?} grantable", head.id))
        }
        _ => Ok(()),
    }
}

/// Queue shape: unique ids, fields match the queue, granted ordered by mode.
fn check_shape(r: &Resource) -> Result<(), String> {
    let all: Vec<&Lock> = r
        .granted()
        .iter()
        .chain(r.converting())
        .chain(r.waiting())
        .collect();
    let unique: BTreeSet<LockId> = all.iter().map(|l| l.id).collect();
    let shape = |q: &[Lock], g: bool, req: bool| {
        q.iter()
            .all(|l| l.granted_mode.is_some() == g && l.requested_mode.is_some() == req)
    };
    let ordered = r
        .granted()
        .windows(2)
        .all(|w| w[0].granted_mode >= w[1].granted_mode);
    let good = unique.len() == all.len()
        && shape(r.granted(), true, false)
        && shape(r.converting(), true, true)
        && shape(r.waiting(), false, true)
        && ordered;
    if good {
        Ok(())
    } else {
        Err(format!("bad queue shape: {r:?}"))
    }
}

fn all_invariants(r: &Resource) -> Result<(), String> {
    check_compatibility(r)?;
    check_no_stuck(r)?;
    check_shape(r)
}

/// Runs `ops` on a resource with `matrix`, checking `check` and "a refusal changes
/// nothing" (a deadlock victim is not a refusal of a new request) after every operation.
fn run_checked(
    matrix: Matrix,
    ops: &[Op],
    check: fn(&Resource) -> Result<(), String>,
) -> TestResult {
    let mut r = Resource::with_matrix(matrix);
    for (i, op) in ops.iter().take(MAX_OPS).enumerate() {
        let before = r.clone();
        let events = apply(&mut r, op);
        let refusal = matches!(events.as_slice(), [Event::Refused { status, .. }]
            if *status != Status::Deadlock);
        if refusal && r != before {
            return TestResult::error(format!("op {i} {op:?} refused but changed state"));
        }
        if let Err(msg) = check(&r) {
            return TestResult::error(format!("after op {i} {op:?}: {msg}"));
        }
    }
    TestResult::passed()
}

fn prop_invariants(ops: Vec<Op>) -> TestResult {
    run_checked(Matrix::VMS, &ops, all_invariants)
}

fn prop_compatibility_broken_matrix(ops: Vec<Op>) -> TestResult {
    run_checked(Matrix::broken_pr_pw(), &ops, check_compatibility)
}

fn prop_matches_reference(ops: Vec<Op>) -> TestResult {
    let (mut r, mut reference) = (Resource::new(), Reference::new());
    for (i, op) in ops.iter().take(MAX_OPS).enumerate() {
        let (got, want) = (apply(&mut r, op), apply_ref(&mut reference, op));
        if got != want {
            return TestResult::error(format!("op {i} {op:?}: events {got:?}, reference {want:?}"));
        }
        let queues = [
            r.granted().to_vec(),
            r.converting().to_vec(),
            r.waiting().to_vec(),
        ];
        if queues != reference.queues() || r.value_block() != reference.value_block() {
            return TestResult::error(format!("op {i} {op:?}: state {r:?}"));
        }
    }
    TestResult::passed()
}

fn checker(seed: u64, tests: u64) -> QuickCheck {
    QuickCheck::new()
        .rng(Gen::from_size_and_seed(100, seed))
        .tests(tests)
}

// ---------------------------------------------------------------------------------------
// (a) matrix
// ---------------------------------------------------------------------------------------

#[test]
fn qc_matrix_symmetric_nl_ex() {
    fn prop(h: Mode, r: Mode) -> bool {
        let symmetric = Mode::compatible(h, r) == Mode::compatible(r, h);
        let nl = Mode::compatible(Mode::NL, r) && Mode::compatible(r, Mode::NL);
        let ex = Mode::compatible(Mode::EX, r) == (r == Mode::NL);
        symmetric && nl && ex && Mode::compatible(h, r) == ok(h, r)
    }
    QuickCheck::new()
        .tests(500)
        .quickcheck(prop as fn(Mode, Mode) -> bool);
}

// ---------------------------------------------------------------------------------------
// (b) differential, (c) invariants
// ---------------------------------------------------------------------------------------

#[test]
fn qc_resource_matches_reference() {
    QuickCheck::new()
        .tests(3000)
        .quickcheck(prop_matches_reference as fn(Vec<Op>) -> TestResult);
}

#[test]
fn qc_invariants_hold() {
    QuickCheck::new()
        .tests(3000)
        .quickcheck(prop_invariants as fn(Vec<Op>) -> TestResult);
}

/// The generator reaches every interesting outcome (so (b) and (c) are not vacuous).
#[test]
fn generator_covers_outcomes() {
    let mut g = Gen::from_size_and_seed(100, 7);
    let mut seen = BTreeSet::new();
    for _ in 0..500 {
        let ops = Vec::<Op>::arbitrary(&mut g);
        let mut r = Resource::new();
        for op in ops.iter().take(MAX_OPS) {
            let converting_before = r.converting().len();
            for e in apply(&mut r, op) {
                let tag = match (&e, op) {
                    (Event::Granted { .. }, Op::Convert(..)) => "convert granted".into(),
                    (Event::Granted { .. }, Op::Enqueue(_, _, f))
                        if f.contains(Flags::EXPEDITE) =>
                    {
                        "expedite granted".into()
                    }
                    (
                        Event::Granted {
                            value: Some((_, false)),
                            ..
                        },
                        _,
                    ) => "valnotvalid".into(),
                    (Event::Refused { status, .. }, _) => format!("refused {status:?}"),
                    (Event::Granted { .. }, _) => "granted".into(),
                    (Event::Queued { .. }, _) => "queued".into(),
                    (Event::Cancelled { .. }, _) => "cancelled".into(),
                    (Event::Dequeued { .. }, _) => "dequeued".into(),
                    (Event::Blocking { .. }, _) => "blocking".into(),
                };
                seen.insert(tag);
            }
            if r.converting().len() > converting_before.max(1) {
                seen.insert("two conversions queued".to_string());
            }
        }
    }
    let expected = [
        "convert granted",
        "expedite granted",
        "valnotvalid",
        "granted",
        "queued",
        "cancelled",
        "dequeued",
        "blocking",
        "two conversions queued",
        "refused NotQueued",
        "refused Deadlock",
        "refused IvLockId",
        "refused CvtUngrant",
        "refused CancelGrant",
        "refused BadParam",
        "refused IllegalConversion",
    ];
    let missing: Vec<&str> = expected
        .into_iter()
        .filter(|t| !seen.contains(*t))
        .collect();
    assert!(missing.is_empty(), "generator never produced {missing:?}");
}

// ---------------------------------------------------------------------------------------
// Negative control
// ---------------------------------------------------------------------------------------

/// With PR/PW wrongly compatible, the compatibility property fails (fixed seed).
#[test]
fn negative_control_broken_matrix_caught_by_quickcheck() {
    let prop = prop_compatibility_broken_matrix as fn(Vec<Op>) -> TestResult;
    let outcome = checker(1, 1000).quicktest(prop);
    assert!(outcome.is_err(), "broken matrix not caught: {outcome:?}");
    // The same property passes with the real matrix.
    let good = |ops: Vec<Op>| run_checked(Matrix::VMS, &ops, check_compatibility);
    assert!(checker(1, 1000)
        .quicktest(good as fn(Vec<Op>) -> TestResult)
        .is_ok());
}

/// Explicit search: every pair of enqueues; only PR+PW (either order) violates.
#[test]
fn negative_control_broken_matrix_explicit_search() {
    let mut violations = vec![];
    for a in Mode::ALL {
        for b in Mode::ALL {
            let mut r = Resource::with_matrix(Matrix::broken_pr_pw());
            r.enqueue(LockId(1), owner_of(0), a, Flags::NONE);
            r.enqueue(LockId(2), owner_of(3), b, Flags::NONE);
            if check_compatibility(&r).is_err() {
                violations.push((a, b));
            }
            let mut good = Resource::new();
            good.enqueue(LockId(1), owner_of(0), a, Flags::NONE);
            good.enqueue(LockId(2), owner_of(3), b, Flags::NONE);
            assert_eq!(check_compatibility(&good), Ok(()));
        }
    }
    assert_eq!(violations, [(Mode::PR, Mode::PW), (Mode::PW, Mode::PR)]);
}

// ---------------------------------------------------------------------------------------
// Grant order and the wait-for graph (the checker's "grant order" and deadlock helpers)
// ---------------------------------------------------------------------------------------

/// After every operation of the lock table, no queued request was overtaken by a later
/// incompatible one outside the in-place conversion rule (`properties::overtaken`), and a
/// conversion deadlock ([`Resource::conversion_deadlock`]) is a cycle of the wait-for graph
/// (`deadlock::on_cycles`) containing every lock it names.
fn prop_grant_order_and_cycles(ops: Vec<Op>) -> TestResult {
    use crate::dlm::deadlock::{on_cycles, queued_waits};
    let mut r = Resource::new();
    for (i, op) in ops.iter().take(MAX_OPS).enumerate() {
        let before = r.clone();
        apply(&mut r, op);
        if crate::properties::overtaken(&before, &r) {
            return TestResult::error(format!("op {i} {op:?} overtook: {before:?} -> {r:?}"));
        }
        let cyclic = on_cycles(&queued_waits(&r, Matrix::VMS));
        for id in r.conversion_deadlock() {
            if cyclic & (1 << id.0) == 0 {
                return TestResult::error(format!("op {i}: {id:?} not on a cycle in {r:?}"));
            }
        }
    }
    TestResult::passed()
}

#[test]
fn qc_grant_order_and_conversion_cycles() {
    QuickCheck::new()
        .tests(3000)
        .quickcheck(prop_grant_order_and_cycles as fn(Vec<Op>) -> TestResult);
}

/// `overtaken` is not vacuous: a new PR granted past a waiting EX (what the negative control
/// `QueueJump` does) is caught; conversions granted in place (the documented exception) are
/// not, and with QUECVT the table queues them instead.
#[test]
fn overtaking_is_caught() {
    let mut r = Resource::new();
    r.enqueue(LockId(1), owner_of(1), Mode::PR, Flags::NONE);
    r.enqueue(LockId(2), owner_of(2), Mode::EX, Flags::NONE);
    let before = r.clone();
    r.restore_granted(LockId(3), owner_of(3), Mode::PR);
    assert!(crate::properties::overtaken(&before, &r));
    // In place: lock 1 converts PR -> CR over the waiting EX (compatible with the holders).
    let mut ok = before.clone();
    ok.convert(LockId(1), Mode::CR, Flags::NONE, None);
    assert!(!crate::properties::overtaken(&before, &ok));
    // Two CR holders, 1 converting to EX (queued, blocked by 2): 2 converting to CW is
    // granted in place over it; with QUECVT it queues behind it.
    let mut c = Resource::new();
    c.enqueue(LockId(1), owner_of(1), Mode::CR, Flags::NONE);
    c.enqueue(LockId(2), owner_of(2), Mode::CR, Flags::NONE);
    c.convert(LockId(1), Mode::EX, Flags::NONE, None);
    let before = c.clone();
    let mut in_place = before.clone();
    in_place.convert(LockId(2), Mode::CW, Flags::NONE, None);
    assert_eq!(in_place.granted()[0].granted_mode, Some(Mode::CW));
    assert!(!crate::properties::overtaken(&before, &in_place));
    let mut queued = before.clone();
    queued.convert(LockId(2), Mode::CW, Flags::QUECVT, None);
    assert_eq!(queued.converting().len(), 2);
}
