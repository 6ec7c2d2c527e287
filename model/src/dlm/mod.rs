//! Distributed lock manager. [`resource`] is the per-resource lock table (the local, sequential
//! heart of the DLM, documented below); [`cluster`] is the distributed part the node actor runs
//! (clients, directory, masters, ASTs/BASTs, rebuild on membership changes — read its module doc
//! for the algorithm and its invariants); [`deadlock`] is the deadlock search across nodes (wait-for
//! graph, coordinator, two-phase certification, victim choice); [`script`] is the clients' script
//! grammar; [`external`] lets clients outside the model (the runtime's control endpoint) use it.
//! Facts from `shared/reference/vms-protocol.md` section C.
//!
//! # Modes
//! Six modes NL CR CW PR PW EX (codes 0..5, [`Mode`]); which may coexist is the VMS matrix
//! ([`Mode::compatible`], [`Matrix::VMS`], C.1):
//!
//! | held\req | NL | CR | CW | PR | PW | EX |
//! |---|---|---|---|---|---|---|
//! | NL | Y | Y | Y | Y | Y | Y |
//! | CR | Y | Y | Y | Y | Y | N |
//! | CW | Y | Y | Y | N | N | N |
//! | PR | Y | Y | N | Y | N | N |
//! | PW | Y | Y | N | N | N | N |
//! | EX | Y | N | N | N | N | N |
//!
//! # Queues
//! A [`Resource`] has three queues; every [`Lock`] is on exactly one:
//! * **granted** — `granted_mode` set; kept ordered by mode code, highest first, FIFO among
//!   equals (the Linux/Davis convention; it only affects the order of blocking events);
//! * **converting** — a granted lock asking for another mode; it *still holds* its old
//!   granted mode, which counts for compatibility and for blocking ASTs;
//! * **waiting** — a new request, holding nothing.
//!
//! The *holders* are the granted queue followed by the converting queue, each at its granted
//! mode. A request is *compatible* if its requested mode is compatible with the granted mode
//! of every other holder.
//!
//! # Grant rules (Davis ch. 6 as quoted in C.2)
//! 1. `enqueue`: granted at once only if converting and waiting are both empty and the
//!    request is compatible (6-4). EXPEDITE (only for a new NL request) is granted ignoring
//!    the queues (6-10). Otherwise NOQUEUE refuses it (`Refused NotQueued`, nothing queued),
//!    else it is appended to waiting (`Queued`).
//! 2. `convert`: granted at once, "in place", overtaking both queues, if compatible (6-3);
//!    with QUECVT only if the converting queue is also empty (6-7). Otherwise NOQUEUE refuses
//!    it (the lock keeps its granted mode), else it is appended to converting.
//! 3. After every operation the **grant loop** runs: grant the head of converting while it
//!    is compatible (conversions are FIFO once queued, 6-3); then, only if converting is now
//!    empty, grant the head of waiting while it is compatible (6-4). A blocked head blocks
//!    everything behind it.
//! 4. `dequeue` removes a lock in any state (a pending request completes `Cancelled`),
//!    `cancel` withdraws only a pending request (a converting lock goes back to granted at
//!    its old mode), `deadlock_victim` is `cancel` completing with `Deadlock` (C.9).
//!    `remove_owner_node` drops a failed node's locks (C.10 partial rebuild).
//! 5. Refusals for bad requests: unknown id or duplicate id → `IvLockId`; converting a lock
//!    that is not granted → `CvtUngrant`; EXPEDITE on a non-NL or converting request, or
//!    QUECVT on a new request → `BadParam`; QUECVT with a conversion outside the C.1 list →
//!    `IllegalConversion`; cancelling a lock with nothing pending → `CancelGrant`.
//!    A refused request leaves the resource unchanged and emits only `Refused`.
//!
//! # Value block (C.4)
//! A 16-byte [`ValueBlock`] plus a `valid` bit; a new resource has zeros, valid.
//! * A grant with VALBLK *reads*: `Granted.value = Some((copy, valid))`, except a
//!   conversion from PW or EX to the same or a lower mode (anything but PW→EX), which
//!   *writes* the value supplied with `convert` (if any) and returns `None`.
//! * `dequeue` with a value writes it if the lock was granted at PW or EX.
//! * Every write makes the block valid; `invalidate_value_block` (caller, on a PW/EX
//!   holder's node failure or a master failure) and `remove_owner_node` dropping a PW/EX
//!   lock make it invalid. A read of an invalid block completes with `ValNotValid`
//!   ([`Event::completion_status`]).
//!
//! # Blocking ASTs (C.8)
//! [`Resource::blocking_set`]`(r)` = the other holders whose *granted* mode is incompatible
//! with pending request `r` (a converting lock is judged by its granted mode only). Each
//! operation emits `Blocking { holder, blocked_by_request }` for the pairs that are new:
//! the request was queued by this operation, or the holder was granted (a new lock or a
//! conversion) during it.
//!
//! # Event order of one operation
//! the subject's own events (`Granted`/`Queued`/`Refused`/`Cancelled`/`Dequeued`, the
//! `Dequeued` of each dropped lock for `remove_owner_node`), then the grant loop's `Granted`
//! in grant order, then the `Blocking` events, requests in queue order (converting, then
//! waiting), holders in holder order.
//!
//! # Invariants (checked by the tests after every operation)
//! * **Compatibility**: the granted modes of all holders are pairwise compatible.
//! * **No stuck grant**: the head of converting is not compatible; if converting is empty,
//!   the head of waiting is not compatible.
//! * **Queue shape**: lock ids are unique; the fields of each lock match its queue (table on
//!   [`Lock`]); granted is ordered by mode code, descending.
//! * A refused request changes nothing.
//!
//! # Choices where the fact sheet is silent or UNCONFIRMED
//! * The QUECVT conversion list is Linux's (C.1, VMS equivalence UNCONFIRMED).
//! * The read/write direction of the value block follows the Linux matrix (C.4).
//! * Conversion deadlock ([`Resource::conversion_deadlock`]): the converting head is blocked
//!   by another converting lock, which can only be granted after the head (FIFO).
//! * Parent locks/sublocks are not modelled here (they are other resources); `SubLocks` is
//!   for the tree layer.

pub mod cluster;
pub mod deadlock;
pub mod external;
pub mod mode;
pub mod resource;
pub mod script;

#[cfg(test)]
mod directory_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod testnet;
#[cfg(test)]
mod tests;

pub use cluster::{DlmMsg, DlmState, DlmVariant};
pub use mode::{Flags, Matrix, Mode, ParseModeError, Status};
pub use resource::{Event, Lock, LockId, Owner, Resource, ValueBlock};
