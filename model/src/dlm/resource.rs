//! One resource's lock queues, as held by its master: the grant rules of vms-protocol.md C.2,
//! value blocks (C.4), blocking ASTs (C.8), conversion deadlocks (C.9) and the partial
//! rebuild step "delete the departed node's locks, regrant" (C.10).
//!
//! See the module documentation of [`crate::dlm`] for the rules and invariants.

use super::mode::{Flags, Matrix, Mode, Status};
use serde::{Deserialize, Serialize};

/// A lock id (the LKID the lock manager hands back from `$ENQ`). Allocated by the caller;
/// unique within a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LockId(pub u32);

/// The owner of a lock: which node, and which process on it. Opaque to the resource except
/// for [`Resource::remove_owner_node`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Owner {
    /// Cluster node (the caller's node index, not a CSID).
    pub node: u8,
    /// Process on that node.
    pub process: u8,
}

/// A 16-byte lock value block (LVB).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct ValueBlock(pub [u8; 16]);

/// One lock (LKB) as the master sees it. It sits on exactly one queue of its resource:
///
/// | queue      | `granted_mode` | `requested_mode` |
/// |------------|----------------|------------------|
/// | granted    | `Some`         | `None`           |
/// | converting | `Some` (old)   | `Some` (new)     |
/// | waiting    | `None`         | `Some`           |
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Lock {
    /// Lock id.
    pub id: LockId,
    /// Owner.
    pub owner: Owner,
    /// Mode currently granted (held), if any.
    pub granted_mode: Option<Mode>,
    /// Mode of the pending request (new or conversion), if any.
    pub requested_mode: Option<Mode>,
    /// Flags of the latest request on this lock.
    pub flags: Flags,
    /// Value to write to the resource when the pending conversion is granted (VALBLK on a
    /// conversion from PW/EX); `None` otherwise.
    pub value: Option<ValueBlock>,
}

impl Lock {
    /// The mode a pending (converting or waiting) lock asks for.
    fn pending_mode(&self) -> Mode {
        // Invariant: every lock on the converting or waiting queue has `requested_mode`
        // set; `enqueue`/`convert` set it before queueing and `grant` clears it.
        self.requested_mode
            .expect("invariant: a pending lock has a requested mode")
    }
}

/// What an operation did, in order, so the caller can deliver completion ASTs and blocking
/// ASTs. See [`crate::dlm`] for the exact emission order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Event {
    /// The request of `id` was granted at `mode`. `value` is the resource's value block and
    /// its validity when VALBLK was set and the grant reads the block (`None` otherwise,
    /// including conversions that write it).
    Granted {
        /// The lock.
        id: LockId,
        /// Its new granted mode.
        mode: Mode,
        /// Copy of the value block and whether it is valid.
        value: Option<(ValueBlock, bool)>,
    },
    /// The request of `id` was queued (waiting or converting queue).
    Queued {
        /// The lock.
        id: LockId,
    },
    /// The request of `id` completed without a grant, with `status`; the resource is as
    /// before the request, except a deadlock victim's conversion is undone.
    Refused {
        /// The lock.
        id: LockId,
        /// Why.
        status: Status,
    },
    /// The pending request of `id` was cancelled (`$DEQ` of a waiting or converting lock,
    /// or [`Resource::cancel`]).
    Cancelled {
        /// The lock.
        id: LockId,
    },
    /// The lock `id` no longer exists in this resource.
    Dequeued {
        /// The lock.
        id: LockId,
    },
    /// Blocking AST: granted lock `holder` blocks the pending request of
    /// `blocked_by_request`.
    Blocking {
        /// The granted (or converting, at its granted mode) lock to notify.
        holder: LockId,
        /// The pending request it blocks.
        blocked_by_request: LockId,
    },
}

impl Event {
    /// The completion status this event delivers to the requester, if it completes a
    /// request: `Normal`/`ValNotValid` for grants, `Cancelled`, or the refusal status.
    pub fn completion_status(&self) -> Option<Status> {
        match self {
            Event::Granted {
                value: Some((_, false)),
                ..
            } => Some(Status::ValNotValid),
            Event::Granted { .. } => Some(Status::Normal),
            Event::Refused { status, .. } => Some(*status),
            Event::Cancelled { .. } => Some(Status::Cancelled),
            Event::Queued { .. } | Event::Dequeued { .. } | Event::Blocking { .. } => None,
        }
    }
}

/// Which queue a lock is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queue {
    Granted,
    Converting,
    Waiting,
}

/// Scratch record of one operation: its events and who became a holder / a pending request
/// during it (they decide which blocking ASTs are new).
#[derive(Default)]
struct Step {
    events: Vec<Event>,
    fresh_holders: Vec<LockId>,
    fresh_request: Option<LockId>,
}

impl Step {
    fn queued(&mut self, id: LockId) {
        self.events.push(Event::Queued { id });
        self.fresh_request = Some(id);
    }
}

/// One resource (RSB) as mastered: its three queues and its value block.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Resource {
    matrix: Matrix,
    granted: Vec<Lock>,
    converting: Vec<Lock>,
    waiting: Vec<Lock>,
    value: ValueBlock,
    valid: bool,
}

impl Default for Resource {
    fn default() -> Resource {
        Resource::new()
    }
}

/// True if granting `new` to a lock that held `old` writes the value block: a conversion
/// from PW or EX to the same or a lower mode (PW→EX reads). C.4.
fn writes_value(old: Option<Mode>, new: Mode) -> bool {
    match old {
        Some(Mode::EX) => true,
        Some(Mode::PW) => new != Mode::EX,
        _ => false,
    }
}

/// True if a lock granted at `mode` writes the value block when dequeued with a value.
fn is_writer(mode: Option<Mode>) -> bool {
    matches!(mode, Some(Mode::PW | Mode::EX))
}

impl Resource {
    /// An empty resource with the VMS matrix and a zeroed, valid value block.
    pub fn new() -> Resource {
        Resource::with_matrix(Matrix::VMS)
    }

    /// An empty resource using `matrix` (tests use [`Matrix::broken_pr_pw`]).
    pub fn with_matrix(matrix: Matrix) -> Resource {
        Resource {
            matrix,
            granted: Vec::new(),
            converting: Vec::new(),
            waiting: Vec::new(),
            value: ValueBlock::default(),
            valid: true,
        }
    }

    /// The granted queue, highest mode (by code) first, FIFO among equal modes.
    pub fn granted(&self) -> &[Lock] {
        &self.granted
    }

    /// The converting queue, in arrival order.
    pub fn converting(&self) -> &[Lock] {
        &self.converting
    }

    /// The waiting queue, in arrival order.
    pub fn waiting(&self) -> &[Lock] {
        &self.waiting
    }

    /// The value block and whether it is valid.
    pub fn value_block(&self) -> (ValueBlock, bool) {
        (self.value, self.valid)
    }

    /// The matrix this resource grants by.
    pub fn matrix(&self) -> Matrix {
        self.matrix
    }

    /// True if no lock exists (the master may drop the resource and its directory entry).
    pub fn is_empty(&self) -> bool {
        self.granted.is_empty() && self.converting.is_empty() && self.waiting.is_empty()
    }

    /// The lock `id`, on whichever queue it is.
    pub fn lock(&self, id: LockId) -> Option<&Lock> {
        self.locate(id).map(|(q, i)| &self.queue(q)[i])
    }

    /// Marks the value block invalid (the caller does this when a PW/EX holder's node
    /// fails, or a new master finds only NL/CR locks). A later write from PW/EX
    /// revalidates it.
    pub fn invalidate_value_block(&mut self) {
        self.valid = false;
    }

    /// Rebuild (C.10): puts lock `id` of `owner` straight on the granted queue at `mode`, as
    /// described by the owner's own copy to a new master. No grant loop, no events; the caller
    /// restores every surviving granted lock first, then replays pending requests. `false`
    /// (and nothing changes) if `id` already exists.
    pub fn restore_granted(&mut self, id: LockId, owner: Owner, mode: Mode) -> bool {
        if self.locate(id).is_some() {
            return false;
        }
        let lock = Lock {
            id,
            owner,
            granted_mode: Some(mode),
            requested_mode: None,
            flags: Flags::NONE,
            value: None,
        };
        self.insert_granted(lock);
        true
    }

    /// Rebuild: sets the value block and its validity (a new master takes it from a surviving
    /// holder's copy, or marks it invalid).
    pub fn set_value_block(&mut self, value: ValueBlock, valid: bool) {
        self.value = value;
        self.valid = valid;
    }

    /// Every lock, on whichever queue (granted, converting, waiting order).
    pub fn locks(&self) -> impl Iterator<Item = &Lock> {
        self.granted
            .iter()
            .chain(&self.converting)
            .chain(&self.waiting)
    }

    /// `$ENQ` of a new lock `id` at `mode`. Granted at once if both queues are empty and
    /// `mode` is compatible with every granted mode (EXPEDITE NL: always); else refused with
    /// `NotQueued` under NOQUEUE; else appended to the waiting queue.
    pub fn enqueue(&mut self, id: LockId, owner: Owner, mode: Mode, flags: Flags) -> Vec<Event> {
        if let Some(status) = self.check_enqueue(id, mode, flags) {
            return vec![Event::Refused { id, status }];
        }
        let lock = Lock {
            id,
            owner,
            granted_mode: None,
            requested_mode: Some(mode),
            flags,
            value: None,
        };
        let mut step = Step::default();
        let now = self.converting.is_empty() && self.waiting.is_empty() && self.grantable(&lock);
        if flags.contains(Flags::EXPEDITE) || now {
            self.grant(lock, &mut step);
        } else if flags.contains(Flags::NOQUEUE) {
            return vec![Event::Refused {
                id,
                status: Status::NotQueued,
            }];
        } else {
            self.waiting.push(lock);
            step.queued(id);
        }
        self.settle(step)
    }

    /// `$ENQ` with CONVERT of granted lock `id` to `mode`. `value` is written to the
    /// resource on a conversion from PW/EX with VALBLK (see [`crate::dlm`]). Granted in
    /// place if compatible with every other granted mode (with QUECVT: only if no
    /// conversion is queued); else refused under NOQUEUE (the lock keeps its mode); else
    /// appended to the converting queue, still holding its old mode.
    pub fn convert(
        &mut self,
        id: LockId,
        mode: Mode,
        flags: Flags,
        value: Option<ValueBlock>,
    ) -> Vec<Event> {
        let idx = match self.check_convert(id, mode, flags) {
            Ok(idx) => idx,
            Err(status) => return vec![Event::Refused { id, status }],
        };
        let lock = Lock {
            requested_mode: Some(mode),
            flags,
            value,
            ..self.granted[idx].clone()
        };
        let queue_behind = flags.contains(Flags::QUECVT) && !self.converting.is_empty();
        let now = self.grantable(&lock) && !queue_behind;
        if !now && flags.contains(Flags::NOQUEUE) {
            return vec![Event::Refused {
                id,
                status: Status::NotQueued,
            }];
        }
        self.granted.remove(idx);
        let mut step = Step::default();
        if now {
            self.grant(lock, &mut step);
        } else {
            self.converting.push(lock);
            step.queued(id);
        }
        self.settle(step)
    }

    /// `$DEQ` of lock `id` in any state. A pending request completes with `Cancelled`; the
    /// lock then disappears (`Dequeued`). If `value` is given and the lock was granted at PW
    /// or EX, it is written to the value block (which becomes valid).
    pub fn dequeue(&mut self, id: LockId, value: Option<ValueBlock>) -> Vec<Event> {
        let Some((queue, idx)) = self.locate(id) else {
            return vec![Event::Refused {
                id,
                status: Status::IvLockId,
            }];
        };
        let lock = self.queue_mut(queue).remove(idx);
        let mut step = Step::default();
        if queue != Queue::Granted {
            step.events.push(Event::Cancelled { id });
        }
        if let (Some(v), true) = (value, is_writer(lock.granted_mode)) {
            self.write_value(v);
        }
        step.events.push(Event::Dequeued { id });
        self.settle(step)
    }

    /// `$DEQ` with CANCEL: cancels the pending request of `id` (`Cancelled`). A waiting
    /// lock disappears; a converting lock returns to the granted queue at its old mode.
    pub fn cancel(&mut self, id: LockId) -> Vec<Event> {
        self.abort_request(id, Event::Cancelled { id })
    }

    /// Completes the pending request of `id` with `Deadlock` (deadlock victim), with the
    /// same effect on the queues as [`Resource::cancel`].
    pub fn deadlock_victim(&mut self, id: LockId) -> Vec<Event> {
        let status = Status::Deadlock;
        self.abort_request(id, Event::Refused { id, status })
    }

    /// Drops every lock owned by `node` (granted, converting or waiting; `Dequeued` each),
    /// invalidates the value block if one of them was granted at PW or EX, then regrants.
    pub fn remove_owner_node(&mut self, node: u8) -> Vec<Event> {
        let mut step = Step::default();
        let mut lost_writer = false;
        for queue in [Queue::Granted, Queue::Converting, Queue::Waiting] {
            let (gone, kept) = std::mem::take(self.queue_mut(queue))
                .into_iter()
                .partition::<Vec<Lock>, _>(|l| l.owner.node == node);
            *self.queue_mut(queue) = kept;
            for lock in gone {
                lost_writer |= is_writer(lock.granted_mode);
                step.events.push(Event::Dequeued { id: lock.id });
            }
        }
        if lost_writer {
            self.invalidate_value_block();
        }
        self.settle(step)
    }

    /// The locks that block the pending request `id` and so get a blocking AST: every other
    /// lock whose *granted* mode is incompatible with the requested mode (a converting lock
    /// counts at its granted mode only). Empty if `id` is not pending.
    pub fn blocking_set(&self, id: LockId) -> Vec<LockId> {
        let pending = self.converting.iter().chain(&self.waiting);
        match pending.into_iter().find(|l| l.id == id) {
            Some(request) => self.blockers(request).map(|h| h.id).collect(),
            None => Vec::new(),
        }
    }

    /// A conversion deadlock (C.2/C.9): the head of the converting queue followed by the
    /// converting locks whose granted modes block it. Those wait behind the head (FIFO) and
    /// the head waits for them, so only cancelling one of them (e.g.
    /// [`Resource::deadlock_victim`]) resolves it. Empty if there is none.
    pub fn conversion_deadlock(&self) -> Vec<LockId> {
        let Some(head) = self.converting.first() else {
            return Vec::new();
        };
        let cycle: Vec<LockId> = self
            .converting
            .iter()
            .filter(|l| l.id != head.id && !self.compatible_with(l, head))
            .map(|l| l.id)
            .collect();
        if cycle.is_empty() {
            return cycle;
        }
        std::iter::once(head.id).chain(cycle).collect()
    }

    // ---- internals ----

    fn check_enqueue(&self, id: LockId, mode: Mode, flags: Flags) -> Option<Status> {
        if self.locate(id).is_some() {
            return Some(Status::IvLockId);
        }
        let bad_expedite = flags.contains(Flags::EXPEDITE) && mode != Mode::NL;
        if bad_expedite || flags.contains(Flags::QUECVT) {
            return Some(Status::BadParam);
        }
        None
    }

    /// Index of `id` on the granted queue if the conversion request is valid.
    fn check_convert(&self, id: LockId, mode: Mode, flags: Flags) -> Result<usize, Status> {
        let idx = match self.locate(id) {
            Some((Queue::Granted, idx)) => idx,
            Some(_) => return Err(Status::CvtUngrant),
            None => return Err(Status::IvLockId),
        };
        if flags.contains(Flags::EXPEDITE) {
            return Err(Status::BadParam);
        }
        let held = self.granted[idx].granted_mode;
        let legal = held.is_some_and(|from| Mode::quecvt_allowed(from, mode));
        if flags.contains(Flags::QUECVT) && !legal {
            return Err(Status::IllegalConversion);
        }
        Ok(idx)
    }

    fn queue(&self, queue: Queue) -> &Vec<Lock> {
        match queue {
            Queue::Granted => &self.granted,
            Queue::Converting => &self.converting,
            Queue::Waiting => &self.waiting,
        }
    }

    fn queue_mut(&mut self, queue: Queue) -> &mut Vec<Lock> {
        match queue {
            Queue::Granted => &mut self.granted,
            Queue::Converting => &mut self.converting,
            Queue::Waiting => &mut self.waiting,
        }
    }

    fn locate(&self, id: LockId) -> Option<(Queue, usize)> {
        [Queue::Granted, Queue::Converting, Queue::Waiting]
            .into_iter()
            .find_map(|q| Some((q, self.queue(q).iter().position(|l| l.id == id)?)))
    }

    /// Locks holding a granted mode: the granted queue, then the converting queue.
    fn holders(&self) -> impl Iterator<Item = &Lock> {
        self.granted.iter().chain(&self.converting)
    }

    /// True if holder `held`'s granted mode may coexist with `request`'s requested mode.
    fn compatible_with(&self, held: &Lock, request: &Lock) -> bool {
        match held.granted_mode {
            Some(mode) => self.matrix.compatible(mode, request.pending_mode()),
            None => true,
        }
    }

    /// The other holders whose granted mode is incompatible with `request`.
    fn blockers<'a>(&'a self, request: &'a Lock) -> impl Iterator<Item = &'a Lock> + 'a {
        self.holders()
            .filter(move |h| h.id != request.id && !self.compatible_with(h, request))
    }

    /// True if `request` is compatible with every other granted mode.
    fn grantable(&self, request: &Lock) -> bool {
        self.blockers(request).next().is_none()
    }

    /// Grants the pending `lock` (already off its queue): value block, granted queue, event.
    fn grant(&mut self, mut lock: Lock, step: &mut Step) {
        let mode = lock.pending_mode();
        let value = self.value_on_grant(&lock, mode);
        lock.granted_mode = Some(mode);
        lock.requested_mode = None;
        lock.value = None;
        step.fresh_holders.push(lock.id);
        step.events.push(Event::Granted {
            id: lock.id,
            mode,
            value,
        });
        self.insert_granted(lock);
    }

    /// Applies VALBLK for a grant of `mode` to `lock`: writes the lock's value on a
    /// conversion from PW/EX (returning `None`), otherwise returns a copy.
    fn value_on_grant(&mut self, lock: &Lock, mode: Mode) -> Option<(ValueBlock, bool)> {
        if !lock.flags.contains(Flags::VALBLK) {
            return None;
        }
        if !writes_value(lock.granted_mode, mode) {
            return Some((self.value, self.valid));
        }
        if let Some(v) = lock.value {
            self.write_value(v);
        }
        None
    }

    fn write_value(&mut self, value: ValueBlock) {
        self.value = value;
        self.valid = true;
    }

    /// Inserts into the granted queue after every lock of the same or a higher mode code.
    fn insert_granted(&mut self, lock: Lock) {
        let at = self
            .granted
            .iter()
            .position(|g| g.granted_mode < lock.granted_mode)
            .unwrap_or(self.granted.len());
        self.granted.insert(at, lock);
    }

    fn abort_request(&mut self, id: LockId, event: Event) -> Vec<Event> {
        let status = match self.locate(id) {
            None => Status::IvLockId,
            Some((Queue::Granted, _)) => Status::CancelGrant,
            Some((queue, idx)) => {
                let mut lock = self.queue_mut(queue).remove(idx);
                if queue == Queue::Converting {
                    lock.requested_mode = None;
                    lock.value = None;
                    self.insert_granted(lock);
                }
                let step = Step {
                    events: vec![event],
                    ..Step::default()
                };
                return self.settle(step);
            }
        };
        vec![Event::Refused { id, status }]
    }

    /// Finishes an operation: the grant loop, then the blocking ASTs that are new.
    fn settle(&mut self, mut step: Step) -> Vec<Event> {
        self.grant_loop(&mut step);
        self.push_blocking(&mut step);
        step.events
    }

    /// Grants the converting queue in order while its head is grantable; then, only if it
    /// is empty, the waiting queue likewise.
    fn grant_loop(&mut self, step: &mut Step) {
        while self.converting.first().is_some_and(|l| self.grantable(l)) {
            let lock = self.converting.remove(0);
            self.grant(lock, step);
        }
        if !self.converting.is_empty() {
            return;
        }
        while self.waiting.first().is_some_and(|l| self.grantable(l)) {
            let lock = self.waiting.remove(0);
            self.grant(lock, step);
        }
    }

    /// Blocking events for (request, holder) pairs where the request was queued or the
    /// holder granted during this operation, requests in queue order (converting, then
    /// waiting), holders in holder order.
    fn push_blocking(&self, step: &mut Step) {
        for request in self.converting.iter().chain(&self.waiting) {
            let fresh_request = step.fresh_request == Some(request.id);
            for holder in self.blockers(request) {
                if fresh_request || step.fresh_holders.contains(&holder.id) {
                    step.events.push(Event::Blocking {
                        holder: holder.id,
                        blocked_by_request: request.id,
                    });
                }
            }
        }
    }
}
