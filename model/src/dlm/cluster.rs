//! The distributed lock manager inside the node actor: clients, directory, masters, ASTs and
//! BASTs, and the rebuild after every membership change. Built on the per-resource lock table
//! ([`Resource`]); facts from `shared/reference/vms-protocol.md` C.5–C.10.
//!
//! Everything here is inert unless the cluster file has `[[client]]` tables: no state changes,
//! no timers, no messages ([`NodeActor::dlm_enabled`]).
//!
//! # Clients
//! A client is a process on a node (at most [`CLIENTS_PER_NODE_MAX`]); its script position lives
//! in the node state ([`DlmState::pc`]). Its next request is issued when its timer
//! [`Timer::Client`]`(k)` fires while the node's lock manager runs (firing while it does not,
//! the timer is set again); it then waits for the completion AST ($ENQW) before the timer is set
//! again. Its lock **copies** (the process copies
//! of the LKBs, [`LocalLock`]) stay on its node: granted mode, the pending request, the last value
//! block read or written, and whether a BAST arrived. Lock ids are `node × 2 + client`; a client
//! has at most one lock per resource.
//!
//! # Directory and master (C.6)
//! The **directory node** of root resource `r` in a view with members `m0 < m1 < …` (node
//! indexes) is `w[h(name) mod |w|]`, where the weight vector `w` lists each member LOCKDIRWT
//! times in node order (`[[node]] lockdirwt`, default 1; weight 0 holds no entries unless every
//! member has weight 0), and `h` is FNV-1a 32-bit over the upper-case name's bytes, folded to 16
//! bits (`(x >> 16) ^ (x & 0xffff)`) — identical on every node ([`dir_node_weighted`]; with every
//! weight 1, [`dir_node_of`]: `m[h mod k]`).
//! A request whose master this node does not know sends `Lookup` to the directory node (or looks
//! locally); the directory answers with the master it records, or — no entry — records the
//! requester as master (the **master is the first node to lock the tree**) and answers that; the
//! answer makes the requester master at once (it creates the tree, empty, with a zero valid value
//! block). The requester then sends the request to the master. A node has at most one lookup per
//! tree out at a time (the answer serves every lock of the tree waiting for it), and looks up only
//! trees it does not master. A node remembers the master while it holds a lock on the tree
//! ([`DlmState::known`]). A sub-resource's master is its root's: the whole **tree** is one unit
//! (see "Resource trees").
//!
//! **Removal.** A master drops a tree when no resource of it has a lock left — granted,
//! converting or waiting; an NL lock keeps the tree, its value block and its directory entry
//! alive — and the entry goes too: the master removes it (it is the directory node) or sends
//! [`DlmMsg::Unregister`]. Each entry carries a **generation**, unique per tree and view (0 for
//! the rebuild's registrations, then counted up by the directory node, [`DirEntry`]); the master
//! knows its tree's ([`DlmState::gens`]) and the directory removes an entry only for its own
//! master and generation, so a late `Unregister` never removes a newer entry.
//!
//! The race that makes this more than a one-liner: a lookup answered "M" just before M's entry
//! goes sends a request to M after M dropped the tree; had M re-created the tree, the directory,
//! which has no entry any more, would make another node master too — two masters (the negative
//! control [`DlmVariant::NoMasterCheck`], 9 steps on `dlm-dir-race.toml`). So **only a master
//! applies a request; a tree is created only by a directory answer** (or at a rebuild, below).
//! A request for a tree this node does not master:
//! * waits ([`DlmState::deferred`]) if this node's own lookup for the tree is out: the directory
//!   may have just made it master and sent the request's owner there first (the two answers
//!   travel on different circuits); the answer decides — master: apply it (before this node's
//!   own waiting requests: it came first), else `NotMaster`;
//! * else is answered [`DlmMsg::NotMaster`]: the owner forgets that master and starts a **new
//!   attempt** (lookup, then master). The entry that routed the request is dead — this node
//!   mastered the tree under it and dropped it (its `Unregister` may still be on its way), or a
//!   view change cleared it — so the new lookup names it ([`Via`]: view and generation), and the
//!   directory removes it if it still holds it.
//!
//! **Why one master per tree** (within a view, outside a rebuild). A node masters a tree only
//! from a directory answer to its own lookup, which names it only through an entry created for
//! it. The directory creates an entry only when it holds none for the tree, and removes one only
//! when (a) its master dropped the tree (`Unregister`), (b) its master answered `NotMaster` to a
//! request it routed — which the master does only when it neither masters the tree nor waits
//! for an answer, i.e. after it dropped the tree under that entry, and no later answer can name
//! that entry again — or (c) the view changes. So while a node masters a tree, or is about to
//! (its answer on its way), the directory holds its entry and makes no other master.
//!
//! **Message bound.** A request takes at most **two remote messages per attempt** (lookup,
//! request), one if the directory or master is local, none if both are; a `NotMaster` answer
//! starts a new attempt (its count restarts), as does a lookup lost in a view change. A request
//! that waits at a node about to become master is not re-sent. **Attempts are bounded**: every
//! `NotMaster` for a request a directory answer routed kills that entry for good (the next
//! lookup names it, and generations are not reused within a view), and one routed by the owner's
//! own knowledge costs at most one attempt more; so each further attempt needs a new entry that
//! was created and dropped while the request was under way — another client's lock and `$DEQ`
//! each time (finitely many in any script) — or a view change.
//!
//! # Master
//! The master applies the request to its [`Resource`] and sends the completion AST
//! ([`DlmMsg::Ast`]: grant, refusal, or end of a `$DEQ`) to the owner of every lock the operation
//! completed, and a BAST ([`DlmMsg::Bast`]) to the owner of every holder that newly blocks a
//! pending request.
//!
//! # Activity
//! The lock manager **runs** ([`NodeActor::dlm_running`]) only when the node is active
//! (`NodeActor::is_active`: member, idle, every member connected and confirmed, quorum) and has
//! finished the rebuild for its current view. Messages that arrive while it does not run are kept
//! in [`DlmState::inbox`] and handled when it runs again; client timers fire only while it runs.
//!
//! # Rebuild on every membership change (C.10)
//! When a node installs a view `W` (epoch = transition number):
//! 1. it drops buffered messages from non-members and stale directory traffic, clears its
//!    directory (generations start again at 0), and forgets copies and deferred requests from
//!    non-members;
//! 2. as an **owner**, for every tree whose master is not in `W`: the tree is **re-mastered** at
//!    its directory node in `W`, and the owner sends it a copy of every lock it has on the tree,
//!    granted or queued (granted mode, pending request, value block; [`DlmMsg::Copy`]) — all but
//!    a lock still looking up its master, which never reached one. A tree whose master stays in
//!    `W` needs nothing from its owners, whose knowledge may be stale (a request on its way to a
//!    master that dropped the tree will be answered `NotMaster`). As a **master** it registers
//!    every tree it masters (each has a lock) with the tree's directory node in `W`
//!    ([`DlmMsg::Register`], generation 0); the directory is rebuilt from the masters;
//! 3. it sends `Done(epoch)` to every other member; circuits are FIFO, so once a node has
//!    `Done` from every member it has every copy and registration (the barrier);
//! 4. at the barrier, as a **master**: surviving trees release the departed nodes' locks
//!    ([`Resource::remove_owner_node`], which marks the value block invalid if one of them was at
//!    PW or EX). As a **directory node**, for each tree it received copies of: if no member
//!    registered the tree, this node re-masters it (its own entry, generation 0) from the
//!    copies: granted locks restored, then the pending requests replayed; the value block comes
//!    from a surviving copy the owner may use at PR or above (so no writer can have come after
//!    it) with a valid value — the value it read, or the one its pending down-conversion writes —
//!    else it is marked invalid (Davis p. 6-15); replayed writes are not applied again (one may
//!    have been overtaken by a departed writer). If a member registered it, the copies are
//!    stale: they name a departed master that had dropped the tree (two masters never coexist),
//!    so none of their locks was still there — a new request is answered `NotMaster`, a `$DEQ`
//!    completes (its AST was lost with that master). Whatever became grantable is granted
//!    (ASTs); a tree left without a lock is dropped; lookups lost in the transition are sent
//!    again (one per tree), and deferred requests are handled again.
//!
//! A view change keeps one master per tree: survivors' trees keep theirs; a departed master's
//! tree goes to one node, its directory node in `W`, and only if no surviving master registered
//! it — whose registration, sent before its `Done`, is there by the barrier. No lookup is
//! answered before the directory node's barrier (its lock manager does not run yet).
//!
//! Requests and ASTs between surviving nodes are never dropped by a transition (circuits between
//! survivors lose nothing), so a surviving master sees every request exactly once; those sent to
//! or from a departed node are lost with its circuit, and the owner's copy replays them.
//!
//! # Invariants (see `specs/invariants.md`, DLM section)
//! lock compatibility of usable locks; nothing lost (when the lock manager is quiescent, every
//! surviving copy is on its master's queues with the same granted mode, and masters hold no
//! lock of a node that is not running); one master per tree (no two members of one view master
//! the same tree); message bound (≤ 2 remote messages per attempt to reach the master; a
//! `NotMaster` answer starts a new attempt); value block (a valid read at PR or above returns
//! the last value written, and never a valid value after a PW/EX holder's node failed; a
//! dropped tree's block is gone, and a new tree's is zero).
//!
//! Deadlock detection is in [`super::deadlock`]: masters arm DEADLOCK_WAIT when they queue a
//! request and record each queued request's instance (the owner's script line, carried by
//! [`Req::seq`] and [`LockCopy::seq`]) in [`DlmState::seqs`].
//!
//! # Resource trees (C.5)
//! A sub-resource `DB/REC1` is locked under the client's lock on its parent `DB` (the parent
//! must be granted: a sublock line whose parent is not granted is skipped, SS$_PARNOTGRANT). A
//! tree is one unit: only the root name is hashed for the directory node ([`dir_node_of`]), the
//! directory holds (and the rebuild registers) roots only, and a sub-resource's master is its
//! root's — the owner sends a sublock request straight to the master it knows from the parent
//! lock (no lookup; a lookup, if ever needed, is for the root, and its answer serves every lock
//! of the tree). A master holds a tree when it holds its root's resource (it creates the root
//! first, and a sub-resource only under it), and drops the tree as a unit, when no resource of
//! it has a lock. A rebuild moves a tree as a unit (every resource of a tree had the same master,
//! and a departed master's trees all go to the root's new directory node).
//!
//! Not yet: remastering by activity, EXPEDITE from scripts, client reaction to BASTs, dropping an
//! unused sub-resource while its tree lives (a sub-resource keeps its value block until the
//! whole tree goes).

use super::deadlock::{Search, Wait, REPORT_WAITS_MAX};
use super::external::ClientMsg;
use super::mode::{Flags, Matrix, Mode, Status};
use super::resource::{Event, LockId, Owner, Resource, ValueBlock};
use super::script::Op;
pub use crate::config::CLIENTS_PER_NODE_MAX;
use crate::node::{Msg, NodeActor, NodeState, Timer, View};
use crate::nodeset::NodeSet;
use serde::{Deserialize, Serialize};
use stateright::actor::{Id, Out};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

type O = Out<NodeActor>;

/// Lock-manager variants. Only `Correct` is right; the others are negative controls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DlmVariant {
    /// As specified.
    #[default]
    Correct,
    /// Masters grant by [`Matrix::broken_pr_pw`] (PR and PW compatible).
    BrokenMatrix,
    /// The lock manager runs whenever the node has a view: suspended or removed nodes keep
    /// granting and using locks.
    GrantWhileSuspended,
    /// The value block stays valid when a PW/EX holder's node fails.
    SkipValueInvalidation,
    /// Surviving masters keep the departed nodes' locks.
    KeepFailedLocks,
    /// No deadlock search: DEADLOCK_WAIT timers are never armed.
    NoDeadlockSearch,
    /// The deadlock coordinator trusts its first round of reports (no confirmation round).
    SinglePhaseSearch,
    /// A new request compatible with the granted locks is granted at once, even when others
    /// wait before it.
    QueueJump,
    /// A node that does not master a tree applies a request for it anyway (as before trees
    /// were dropped): a request routed by a stale directory answer re-creates a dropped tree
    /// instead of being answered `NotMaster`.
    NoMasterCheck,
}

impl DlmVariant {
    /// Every variant with its command-line name.
    pub const ALL: [(&'static str, DlmVariant); 9] = [
        ("correct", DlmVariant::Correct),
        ("dlm-broken-matrix", DlmVariant::BrokenMatrix),
        ("dlm-grant-while-suspended", DlmVariant::GrantWhileSuspended),
        (
            "dlm-skip-value-invalidation",
            DlmVariant::SkipValueInvalidation,
        ),
        ("dlm-keep-failed-locks", DlmVariant::KeepFailedLocks),
        ("dlm-no-deadlock-search", DlmVariant::NoDeadlockSearch),
        ("dlm-single-phase-search", DlmVariant::SinglePhaseSearch),
        ("dlm-queue-jump", DlmVariant::QueueJump),
        ("dlm-no-master-check", DlmVariant::NoMasterCheck),
    ];
}

/// A lock request on its way to the master.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Req {
    /// Resource index.
    pub res: u8,
    /// The lock.
    pub lock: LockId,
    /// What to do.
    pub op: Op,
    /// `$ENQ` flags.
    pub flags: Flags,
    /// Value block to write (down-conversion or `$DEQ` from PW/EX with VALBLK).
    pub write: Option<ValueBlock>,
    /// Remote messages taken so far (lookup + this one).
    pub hops: u8,
    /// The request instance: the owner's script line (unique per request of a lock).
    pub seq: u8,
    /// The directory entry that routed it, when a directory answer did (not when the owner
    /// knew the master from a lock it holds).
    pub via: Option<Via>,
}

/// A directory entry as a request names it: the view it belongs to and its generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Via {
    /// View number.
    pub epoch: u32,
    /// The entry's generation.
    pub gen: u32,
}

/// An owner's description of one lock, sent to a new master during a rebuild.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LockCopy {
    /// Resource index.
    pub res: u8,
    /// The lock.
    pub lock: LockId,
    /// Granted mode as the owner knows it.
    pub granted: Option<Mode>,
    /// The pending request (op, flags, value to write).
    pub pending: Option<(Op, Flags, Option<ValueBlock>)>,
    /// The last value block the owner read or wrote.
    pub value: Option<(ValueBlock, bool)>,
    /// The pending request's instance (the owner's script line).
    pub seq: u8,
}

/// Lock-manager messages (inside [`Msg::Dlm`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DlmMsg {
    /// Requester → directory node: who masters `res`?
    Lookup {
        /// The requester's view number.
        epoch: u32,
        /// Resource.
        res: u8,
        /// An entry of this view that is dead: its master answered `NotMaster` to a request it
        /// routed (the directory removes it if it still holds it).
        dead: Option<DirEntry>,
    },
    /// Directory node → requester: `master` masters `res` (possibly the requester itself: then
    /// it is the tree's new master, and `gen` the generation of its directory entry).
    Master {
        /// View number.
        epoch: u32,
        /// Resource.
        res: u8,
        /// The master's node index.
        master: u8,
        /// The directory entry's generation.
        gen: u32,
    },
    /// Master → directory node: the tree `res` had no lock left and was dropped; remove its
    /// entry if it is still this master's generation `gen`.
    Unregister {
        /// View number.
        epoch: u32,
        /// The tree's root.
        res: u8,
        /// The generation of the entry that made the sender master.
        gen: u32,
    },
    /// A node that does not master the tree → owner: the request on `lock` was not applied;
    /// look the tree up again (a new attempt).
    NotMaster {
        /// Resource.
        res: u8,
        /// The lock.
        lock: LockId,
        /// The directory entry that routed the request, if one did.
        via: Option<Via>,
    },
    /// Owner → master: a request.
    Request(Req),
    /// Master → owner: completion AST. `mode` is the lock's granted mode afterwards (`None`:
    /// the lock is gone); `value` the value block read, if the grant reads it.
    Ast {
        /// Resource.
        res: u8,
        /// The lock.
        lock: LockId,
        /// Completion status.
        status: Status,
        /// Granted mode afterwards.
        mode: Option<Mode>,
        /// Value block read (and whether valid).
        value: Option<(ValueBlock, bool)>,
    },
    /// Master → owner: blocking AST for a granted lock.
    Bast {
        /// Resource.
        res: u8,
        /// The blocking lock.
        lock: LockId,
    },
    /// Rebuild: an owner's lock copy for a tree re-mastered at the receiver.
    Copy(LockCopy),
    /// Rebuild: the sender masters tree `res` in view `epoch`, for the directory node (an entry
    /// of generation 0).
    Register {
        /// View number.
        epoch: u32,
        /// Resource.
        res: u8,
        /// Its master.
        master: u8,
    },
    /// Rebuild: the sender sent all its copies and registrations for view `epoch`.
    Done {
        /// View number.
        epoch: u32,
    },
    /// Master → deadlock coordinator: a request queued here outlived DEADLOCK_WAIT.
    Suspect {
        /// View number.
        epoch: u32,
    },
    /// Deadlock coordinator → master: report your queued requests (search phase 1 or 2).
    Query {
        /// View number.
        epoch: u32,
        /// Search phase.
        phase: u8,
    },
    /// Master → deadlock coordinator: (part of) its queued requests; `last` ends the report.
    Report {
        /// View number.
        epoch: u32,
        /// Search phase.
        phase: u8,
        /// Queued requests.
        waits: [Option<Wait>; REPORT_WAITS_MAX],
        /// The last part.
        last: bool,
    },
    /// Deadlock coordinator → master: cancel this request instance with `Deadlock`.
    Victim {
        /// View number.
        epoch: u32,
        /// Resource.
        res: u8,
        /// The victim's lock.
        lock: LockId,
        /// Its request instance.
        seq: u8,
    },
    /// Between the node and its external clients only, never on the network: a request in,
    /// completions and BASTs out (see [`super::external`]).
    Client(ClientMsg),
}

/// Where a pending request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Waiting for the directory's answer.
    Lookup,
    /// Sent to the master (or queued there).
    Sent,
}

/// A request the owner issued and whose completion has not arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pending {
    /// What.
    pub op: Op,
    /// Flags.
    pub flags: Flags,
    /// Value block to write.
    pub write: Option<ValueBlock>,
    /// Where it is.
    pub stage: Stage,
    /// Remote messages so far.
    pub hops: u8,
}

/// A process copy of a lock, kept by the owner's node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalLock {
    /// Resource index.
    pub res: u8,
    /// Local client index.
    pub client: u8,
    /// Lock id.
    pub id: LockId,
    /// Granted mode, as the last AST said.
    pub granted: Option<Mode>,
    /// Pending request.
    pub pending: Option<Pending>,
    /// Last value block read (or written).
    pub value: Option<(ValueBlock, bool)>,
    /// A BAST arrived since the last grant.
    pub blocking: bool,
}

/// A directory entry: the master of a tree, and the entry's generation (unique per tree and
/// view: 0 for a registration at the rebuild, then counted up by the directory node).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DirEntry {
    /// The master's node index.
    pub master: u8,
    /// The generation.
    pub gen: u32,
}

/// A node's lock-manager state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DlmState {
    /// The view number of the last rebuild started (0: none).
    pub epoch: u32,
    /// The rebuild for `epoch` is complete.
    pub rebuilt: bool,
    /// Members whose `Done(epoch)` arrived.
    pub done_from: NodeSet,
    /// Script position of each local client.
    pub pc: Vec<u8>,
    /// Process copies of the local clients' locks.
    pub locks: Vec<LocalLock>,
    /// Masters of the trees this node holds locks on.
    pub known: BTreeMap<u8, u8>,
    /// Directory entries this node holds: root → master and generation.
    pub dir: BTreeMap<u8, DirEntry>,
    /// As a directory node: the last generation it gave an entry in this view (0: none yet;
    /// the rebuild's registrations have generation 0).
    pub dir_gen: u32,
    /// Resources mastered here.
    pub mastered: BTreeMap<u8, Resource>,
    /// As a master: the generation of the directory entry of each tree (root) mastered here.
    pub gens: BTreeMap<u8, u32>,
    /// Rebuild copies received for trees re-mastered here, applied at the barrier.
    pub pool: Vec<LockCopy>,
    /// Messages kept while the lock manager does not run: (sender, message).
    pub inbox: Vec<(u8, DlmMsg)>,
    /// Requests for a tree this node is looking up (sender, request): the directory may have
    /// just made it master; they wait for its answer.
    pub deferred: Vec<(u8, Req)>,
    /// As a master: the instance (owner's script line) of every request queued here.
    pub seqs: BTreeMap<(u8, LockId), u8>,
    /// The DEADLOCK_WAIT timer is set ([`Timer::Deadlock`]).
    pub deadlock_armed: bool,
    /// As the deadlock coordinator: the search in progress.
    pub search: Option<Search>,
    /// As the deadlock coordinator: a `Suspect` arrived during the search; search again.
    pub search_again: bool,
    /// As a master: the last request cancelled as a deadlock victim (resource, lock, instance).
    pub last_victim: Option<(u8, LockId, u8)>,
}

/// The lock id of local client `client` on node `node`.
pub fn lock_id(node: usize, client: usize) -> LockId {
    LockId((node * CLIENTS_PER_NODE_MAX + client) as u32)
}

/// The node owning lock `id` (an external client's lock: see [`super::external`]).
pub fn owner_of(id: LockId) -> Owner {
    if let Some(owner) = super::external::external_owner(id) {
        return owner;
    }
    let n = id.0 as usize;
    Owner {
        node: (n / CLIENTS_PER_NODE_MAX) as u8,
        process: (n % CLIENTS_PER_NODE_MAX) as u8,
    }
}

/// The 16-bit directory hash of a resource name (FNV-1a 32, folded).
pub fn name_hash(name: &str) -> u16 {
    let mut x: u32 = 0x811c_9dc5;
    for b in name.to_ascii_uppercase().bytes() {
        x ^= u32::from(b);
        x = x.wrapping_mul(0x0100_0193);
    }
    ((x >> 16) ^ (x & 0xffff)) as u16
}

/// The root of a resource tree: `DB` for `DB/REC1` (a root is its own root).
pub fn root_of(name: &str) -> &str {
    name.split('/').next().unwrap_or(name)
}

/// The parent resource of a sub-resource: `DB` for `DB/REC1`, `DB/REC1` for `DB/REC1/F`.
pub fn parent_of(name: &str) -> Option<&str> {
    name.rsplit_once('/').map(|(p, _)| p)
}

/// The directory node of resource `name` among `members` (LOCKDIRWT 1 each): only the tree's
/// root name is hashed, so every resource of a tree has the root's directory node (C.5).
pub fn dir_node_of(name: &str, members: NodeSet) -> Option<usize> {
    dir_node_weighted(name, members, |_| 1)
}

/// The directory node with LOCKDIRWT: the weight vector lists each member `weight(member)`
/// times, in node order, and the root name's hash picks an entry. Members of weight 0 hold no
/// entries; if every member has weight 0, every member counts once (someone must hold the
/// directory). With all weights 1 this is [`dir_node_of`].
pub fn dir_node_weighted(
    name: &str,
    members: NodeSet,
    weight: impl Fn(usize) -> u8,
) -> Option<usize> {
    let mut v: Vec<usize> = members
        .iter()
        .flat_map(|m| std::iter::repeat_n(m, weight(m) as usize))
        .collect();
    if v.is_empty() {
        v = members.iter().collect();
    }
    if v.is_empty() {
        return None;
    }
    Some(v[name_hash(root_of(name)) as usize % v.len()])
}

/// The set of modes compatible with `m` (VMS matrix) as a bit mask.
fn compat_set(m: Mode) -> u8 {
    Mode::ALL
        .iter()
        .filter(|&&x| Mode::compatible(m, x))
        .fold(0, |a, x| a | 1 << x.code())
}

/// The mode in which a process may use its lock now: its granted mode; during a conversion the
/// weaker of the old and new modes (NL when they are incomparable, CW↔PR); nothing during a
/// `$DEQ` or before the first grant. Always at most what the master counts for the lock.
pub fn usable_mode(l: &LocalLock) -> Option<Mode> {
    let g = l.granted?;
    match l.pending.map(|p| p.op) {
        None | Some(Op::Enq(_)) => Some(g),
        Some(Op::Deq) => None,
        Some(Op::Cvt(n)) => {
            let (cg, cn) = (compat_set(g), compat_set(n));
            Some(if cn & cg == cg {
                n
            } else if cn & cg == cn {
                g
            } else {
                Mode::NL
            })
        }
    }
}

/// The mode the owner of a rebuild copy may use (see [`usable_mode`]).
fn copy_usable(c: &LockCopy) -> Option<Mode> {
    let l = LocalLock {
        res: c.res,
        client: 0,
        id: c.lock,
        granted: c.granted,
        pending: c.pending.map(|(op, flags, write)| Pending {
            op,
            flags,
            write,
            stage: Stage::Sent,
            hops: 0,
        }),
        value: c.value,
        blocking: false,
    };
    usable_mode(&l)
}

/// The value a client writes for script line `line` (distinct per writer and line).
pub fn written_value(node: usize, client: usize, line: usize) -> ValueBlock {
    let mut v = [0u8; 16];
    v[0] = node as u8 + 1;
    v[1] = client as u8 + 1;
    v[2] = line as u8 + 1;
    ValueBlock(v)
}

/// True if a grant of `new` to a lock held at `old` writes the value block (C.4).
pub(crate) fn writes(old: Mode, new: Mode) -> bool {
    old == Mode::EX || (old == Mode::PW && new != Mode::EX)
}

pub(crate) fn is_writer(m: Option<Mode>) -> bool {
    matches!(m, Some(Mode::PW | Mode::EX))
}

fn stale(m: &DlmMsg, epoch: u32) -> bool {
    match m {
        DlmMsg::Lookup { epoch: e, .. }
        | DlmMsg::Master { epoch: e, .. }
        | DlmMsg::Register { epoch: e, .. }
        | DlmMsg::Unregister { epoch: e, .. }
        | DlmMsg::Done { epoch: e }
        | DlmMsg::Suspect { epoch: e }
        | DlmMsg::Query { epoch: e, .. }
        | DlmMsg::Report { epoch: e, .. }
        | DlmMsg::Victim { epoch: e, .. } => *e < epoch,
        _ => false,
    }
}

/// Drops the instances of requests no longer queued at this master.
fn sync_seqs(d: &mut DlmState) {
    let mastered = &d.mastered;
    d.seqs.retain(|&(res, lock), _| {
        mastered
            .get(&res)
            .and_then(|r| r.lock(lock))
            .is_some_and(|l| l.requested_mode.is_some())
    });
}

/// Negative control `QueueJump`: a new request compatible with every granted mode is granted at
/// once, whatever waits before it. `None`: apply normally.
fn jump_queue(r: &mut Resource, lock: LockId, op: Op, flags: Flags) -> Option<Vec<Event>> {
    let Op::Enq(mode) = op else { return None };
    if r.lock(lock).is_some() || flags.contains(Flags::VALBLK) {
        return None;
    }
    let fits = r
        .locks()
        .all(|l| l.granted_mode.is_none_or(|g| Mode::compatible(g, mode)));
    if !fits || (r.converting().is_empty() && r.waiting().is_empty()) {
        return None;
    }
    r.restore_granted(lock, owner_of(lock), mode);
    Some(vec![Event::Granted {
        id: lock,
        mode,
        value: None,
    }])
}

fn apply_op(
    r: &mut Resource,
    lock: LockId,
    op: Op,
    flags: Flags,
    write: Option<ValueBlock>,
) -> Vec<Event> {
    match op {
        Op::Enq(m) => r.enqueue(lock, owner_of(lock), m, flags),
        Op::Cvt(m) => r.convert(lock, m, flags, write),
        Op::Deq => r.dequeue(lock, write),
    }
}

/// The ASTs and BASTs for the events of one operation on resource `res` (`subject`: the lock whose
/// request was applied, if any).
fn notifications(
    res: u8,
    r: &Resource,
    events: &[Event],
    subject: Option<(LockId, Op)>,
) -> Vec<(u8, DlmMsg)> {
    let mut out = Vec::new();
    let mut basted: Vec<LockId> = Vec::new();
    for ev in events {
        let ast = |lock: LockId, status: Status, mode: Option<Mode>, value| {
            (
                owner_of(lock).node,
                DlmMsg::Ast {
                    res,
                    lock,
                    status,
                    mode,
                    value,
                },
            )
        };
        match *ev {
            Event::Granted { id, mode, value } => {
                let status = ev.completion_status().unwrap_or(Status::Normal);
                out.push(ast(id, status, Some(mode), value));
            }
            Event::Refused { id, status } => {
                out.push(ast(
                    id,
                    status,
                    r.lock(id).and_then(|l| l.granted_mode),
                    None,
                ));
            }
            Event::Dequeued { id } if subject == Some((id, Op::Deq)) => {
                out.push(ast(id, Status::Normal, None, None));
            }
            Event::Blocking { holder, .. } if !basted.contains(&holder) => {
                basted.push(holder);
                out.push((owner_of(holder).node, DlmMsg::Bast { res, lock: holder }));
            }
            _ => {}
        }
    }
    out
}

impl NodeActor {
    /// The lock manager exists: the cluster file has clients or declares resources (and this
    /// actor is a node). Scripts always name a resource, so `resources` is empty without both.
    pub fn dlm_enabled(&self) -> bool {
        !self.spec.resources.is_empty() && !self.is_disk()
    }

    /// The lock manager runs: the node is active and rebuilt for its view (negative control
    /// `GrantWhileSuspended`: whenever it has a view).
    pub fn dlm_running(&self, s: &NodeState) -> bool {
        if !self.dlm_enabled() {
            return false;
        }
        if self.opts.dlm == DlmVariant::GrantWhileSuspended {
            return s.exited.is_none() && s.view.is_some();
        }
        self.is_active(s) && s.dlm.rebuilt && s.view.is_some_and(|v| v.seq == s.dlm.epoch)
    }

    /// The directory node of resource `res` among `members`.
    pub fn dir_node(&self, res: u8, members: NodeSet) -> usize {
        let weight = |m: usize| self.spec.nodes.get(m).map_or(0, |n| n.lockdirwt);
        dir_node_weighted(self.res_name(res), members, weight).unwrap_or(self.me)
    }

    fn res_name(&self, res: u8) -> &str {
        self.spec
            .resources
            .get(res as usize)
            .map_or("", |s| s.as_str())
    }

    fn res_index(&self, name: &str) -> Option<u8> {
        self.spec
            .resources
            .iter()
            .position(|r| r == name)
            .map(|i| i as u8)
    }

    /// The parent resource of sub-resource `res` (`None` for a root).
    pub fn parent_res(&self, res: u8) -> Option<u8> {
        parent_of(self.res_name(res)).and_then(|p| self.res_index(p))
    }

    /// The root of `res`'s tree (`res` itself for a root).
    pub fn root_res(&self, res: u8) -> u8 {
        self.res_index(root_of(self.res_name(res))).unwrap_or(res)
    }

    pub(crate) fn dlm_matrix(&self) -> Matrix {
        if self.opts.dlm == DlmVariant::BrokenMatrix {
            Matrix::broken_pr_pw()
        } else {
            Matrix::VMS
        }
    }

    /// The initial lock-manager state; `formed`: the node starts as a member of view 1 (nothing
    /// to rebuild).
    pub fn dlm_initial(&self, formed: bool) -> DlmState {
        if !self.dlm_enabled() {
            return DlmState::default();
        }
        let k = self.spec.clients_of(self.me).len();
        DlmState {
            epoch: u32::from(formed),
            rebuilt: formed,
            pc: vec![0; k],
            ..DlmState::default()
        }
    }

    fn client_delay(&self) -> std::ops::Range<Duration> {
        let d = Duration::from_millis(self.spec.hello_interval_ms / 10 + 1);
        d..d + d
    }

    /// Arms every local client's timer (at boot).
    pub fn dlm_start(&self, o: &mut O) {
        if !self.dlm_enabled() {
            return;
        }
        for k in 0..self.spec.clients_of(self.me).len() {
            o.set_timer(Timer::Client(k as u8), self.client_delay());
        }
    }

    /// The value block client `k` writes with its next request, if it writes one: a
    /// down-conversion or `$DEQ` from PW/EX with VALBLK. `(resource, value)`.
    pub fn client_write(&self, s: &NodeState, k: usize) -> Option<(u8, ValueBlock)> {
        let clients = self.spec.clients_of(self.me);
        let c = clients.get(k)?;
        let pc = *s.dlm.pc.get(k)? as usize;
        let line = c.script.get(pc)?;
        if !line.flags.contains(Flags::VALBLK) {
            return None;
        }
        let l = s
            .dlm
            .locks
            .iter()
            .find(|l| l.client as usize == k && l.res == line.res)?;
        let g = l.granted?;
        let w = match line.op {
            Op::Cvt(n) => writes(g, n),
            Op::Deq => is_writer(Some(g)),
            Op::Enq(_) => false,
        };
        w.then(|| (line.res, written_value(self.me, k, pc)))
    }

    fn members_of(s: &NodeState) -> NodeSet {
        s.view.map_or(NodeSet::EMPTY, |v| v.members)
    }

    pub(crate) fn dlm_send(&self, s: &mut NodeState, to: usize, m: DlmMsg, o: &mut O) {
        if to == self.me {
            self.dlm_handle(s, to, m, o);
        } else {
            o.send(Id::from(to), Msg::Dlm(m));
        }
    }

    /// After an operation on resource `res` mastered here: record the subject's instance if it
    /// was queued (`subject`: lock, op, instance), arm DEADLOCK_WAIT if anything was queued, send
    /// the ASTs and BASTs, and drop the tree if it has no lock left.
    pub(crate) fn after_master_op(
        &self,
        s: &mut NodeState,
        res: u8,
        events: &[Event],
        subject: Option<(LockId, Op, u8)>,
        o: &mut O,
    ) {
        if let Some((lock, _, seq)) = subject {
            if events.contains(&Event::Queued { id: lock }) {
                s.dlm.seqs.insert((res, lock), seq);
            }
        }
        sync_seqs(&mut s.dlm);
        let out = match s.dlm.mastered.get(&res) {
            Some(r) => notifications(res, r, events, subject.map(|(l, op, _)| (l, op))),
            None => Vec::new(),
        };
        if events.iter().any(|e| matches!(e, Event::Queued { .. })) {
            self.arm_deadlock(s, o);
        }
        for (to, msg) in out {
            self.dlm_send(s, to as usize, msg, o);
        }
        self.drop_if_unused(s, self.root_res(res), o);
    }

    fn client_done(&self, s: &mut NodeState, k: usize, o: &mut O) {
        let len = self
            .spec
            .clients_of(self.me)
            .get(k)
            .map_or(0, |c| c.script.len());
        if let Some(pc) = s.dlm.pc.get_mut(k) {
            *pc = pc.saturating_add(1);
            if (*pc as usize) < len {
                o.set_timer(Timer::Client(k as u8), self.client_delay());
            }
        }
    }

    /// Client `k`'s timer: issue its next request if the lock manager runs and it waits for
    /// nothing. While the lock manager does not run (a transition, an unfinished rebuild) the
    /// timer is set again: nothing else would set it (only a completion does), and the client
    /// would stall for good. In the checker such a step is no step at all (unchanged state, the
    /// same timer set).
    pub(crate) fn dlm_client_step(&self, state: &mut Cow<NodeState>, k: usize, o: &mut O) {
        if !self.dlm_running(state) {
            o.set_timer(Timer::Client(k as u8), self.client_delay());
            return;
        }
        let clients = self.spec.clients_of(self.me);
        let Some(c) = clients.get(k) else { return };
        let Some(&pc) = state.dlm.pc.get(k) else {
            return;
        };
        let Some(&line) = c.script.get(pc as usize) else {
            return;
        };
        if state
            .dlm
            .locks
            .iter()
            .any(|l| l.client as usize == k && l.pending.is_some())
        {
            return;
        }
        let write = self.client_write(state, k).map(|(_, v)| v);
        let s = state.to_mut();
        let idx = s
            .dlm
            .locks
            .iter()
            .position(|l| l.client as usize == k && l.res == line.res);
        let pending = Pending {
            op: line.op,
            flags: line.flags,
            write,
            stage: Stage::Sent,
            hops: 0,
        };
        // A sublock needs its parent lock granted (SS$_PARNOTGRANT otherwise: the line is
        // skipped, as after a refused `enq`).
        let parent_ok = self.parent_res(line.res).is_none_or(|p| {
            s.dlm
                .locks
                .iter()
                .any(|l| l.client as usize == k && l.res == p && l.granted.is_some())
        });
        let idx = match (line.op, idx) {
            (Op::Enq(_), None) if parent_ok => {
                s.dlm.locks.push(LocalLock {
                    res: line.res,
                    client: k as u8,
                    id: lock_id(self.me, k),
                    granted: None,
                    pending: Some(pending),
                    value: None,
                    blocking: false,
                });
                s.dlm.locks.sort();
                s.dlm
                    .locks
                    .iter()
                    .position(|l| l.client as usize == k && l.res == line.res)
            }
            (Op::Cvt(_) | Op::Deq, Some(i)) if s.dlm.locks[i].granted.is_some() => {
                s.dlm.locks[i].pending = Some(pending);
                Some(i)
            }
            _ => None,
        };
        match idx {
            Some(i) => {
                let id = s.dlm.locks[i].id;
                self.route(s, line.res, id, o);
            }
            None => self.client_done(s, k, o),
        }
    }

    /// Sends the pending request of lock `id` on `res` towards its master (directory lookup
    /// first if needed). A client's locks share its id (one lock per resource): a lock copy is
    /// named by resource and id.
    pub(crate) fn route(&self, s: &mut NodeState, res: u8, id: LockId, o: &mut O) {
        self.route_with(s, res, id, None, o);
    }

    /// [`Self::route`], telling the directory that entry `dead` failed this request.
    fn route_with(
        &self,
        s: &mut NodeState,
        res: u8,
        id: LockId,
        dead: Option<DirEntry>,
        o: &mut O,
    ) {
        let Some(i) = s.dlm.locks.iter().position(|l| l.id == id && l.res == res) else {
            return;
        };
        // A tree has one master: a sub-resource's is its root's (known while the parent lock
        // is held), and only the root is looked up in the directory.
        let root = self.root_res(res);
        let known = if s.dlm.mastered.contains_key(&root) {
            Some(self.me as u8)
        } else {
            s.dlm.known.get(&res).or(s.dlm.known.get(&root)).copied()
        };
        if let Some(m) = known {
            s.dlm.known.insert(res, m);
            self.send_request(s, res, id, m as usize, None, o);
            return;
        }
        let d = self.dir_node(root, Self::members_of(s));
        if d == self.me {
            if dead.is_some() && s.dlm.dir.get(&root) == dead.as_ref() {
                s.dlm.dir.remove(&root);
            }
            let e = match s.dlm.dir.get(&root) {
                Some(&e) => e,
                None => {
                    let gen = self.new_entry(s, root, self.me as u8);
                    self.become_master(s, root, gen);
                    DirEntry {
                        master: self.me as u8,
                        gen,
                    }
                }
            };
            s.dlm.known.insert(res, e.master);
            let via = Some(Via {
                epoch: s.dlm.epoch,
                gen: e.gen,
            });
            self.send_request(s, res, id, e.master as usize, via, o);
            return;
        }
        // One lookup per tree at a time: its answer serves every lock of the tree waiting for
        // it (so an answer naming this node is always the answer to its latest lookup).
        let asked = self.looking_up(s, root);
        if let Some(p) = s.dlm.locks[i].pending.as_mut() {
            p.stage = Stage::Lookup;
            p.hops = 1;
        }
        if !asked {
            let epoch = s.dlm.epoch;
            self.dlm_send(
                s,
                d,
                DlmMsg::Lookup {
                    epoch,
                    res: root,
                    dead,
                },
                o,
            );
        }
    }

    /// Some lock of tree `root` waits for a directory answer: this node's lookup is out.
    fn looking_up(&self, s: &NodeState, root: u8) -> bool {
        s.dlm.locks.iter().any(|l| {
            self.root_res(l.res) == root && l.pending.is_some_and(|p| p.stage == Stage::Lookup)
        })
    }

    /// As the directory node of `root`: records `master` with a new generation and returns it.
    fn new_entry(&self, s: &mut NodeState, root: u8, master: u8) -> u32 {
        let gen = s.dlm.dir_gen.wrapping_add(1).max(1);
        s.dlm.dir_gen = gen;
        s.dlm.dir.insert(root, DirEntry { master, gen });
        gen
    }

    /// The directory made this node master of tree `root` (entry generation `gen`): the tree
    /// starts empty, with a zero valid value block, and takes the requests that follow.
    fn become_master(&self, s: &mut NodeState, root: u8, gen: u32) {
        let matrix = self.dlm_matrix();
        s.dlm
            .mastered
            .entry(root)
            .or_insert_with(|| Resource::with_matrix(matrix));
        s.dlm.gens.insert(root, gen);
    }

    /// Drops tree `root` if this node masters it and no resource of it has a lock left (granted,
    /// converting or waiting): the resources and their value blocks go, and so does the
    /// directory entry — removed here if this node is the directory node, else by an
    /// `Unregister` that removes it only if it is still this master's generation.
    fn drop_if_unused(&self, s: &mut NodeState, root: u8, o: &mut O) {
        let tree: Vec<u8> = s
            .dlm
            .mastered
            .keys()
            .copied()
            .filter(|&r| self.root_res(r) == root)
            .collect();
        let used = tree.iter().any(|r| {
            s.dlm
                .mastered
                .get(r)
                .is_some_and(|x| x.locks().next().is_some())
        });
        if tree.is_empty() || used {
            return;
        }
        for r in &tree {
            s.dlm.mastered.remove(r);
        }
        s.dlm.seqs.retain(|&(r, _), _| !tree.contains(&r));
        let gen = s.dlm.gens.remove(&root).unwrap_or(0);
        let d = self.dir_node(root, Self::members_of(s));
        let me = self.me as u8;
        if d == self.me {
            if s.dlm.dir.get(&root) == Some(&DirEntry { master: me, gen }) {
                s.dlm.dir.remove(&root);
            }
        } else {
            let epoch = s.dlm.epoch;
            self.dlm_send(
                s,
                d,
                DlmMsg::Unregister {
                    epoch,
                    res: root,
                    gen,
                },
                o,
            );
        }
    }

    /// A request for tree `root`, which this node does not master, from `p`: wait for this
    /// node's own lookup if one is out (the directory may have just made it master: the request
    /// is ahead of the answer), else answer `NotMaster` — then the entry that routed it is dead:
    /// this node mastered the tree under it and dropped it (its `Unregister` is on its way), or
    /// a view change cleared it.
    fn not_mastered(&self, s: &mut NodeState, p: usize, req: Req, o: &mut O) {
        if self.looking_up(s, self.root_res(req.res)) {
            s.dlm.deferred.push((p as u8, req));
            return;
        }
        let answer = DlmMsg::NotMaster {
            res: req.res,
            lock: req.lock,
            via: req.via,
        };
        self.dlm_send(s, p, answer, o);
    }

    /// Handles again the deferred requests for tree `root` (all trees: `None`).
    fn replay_deferred(&self, s: &mut NodeState, root: Option<u8>, o: &mut O) {
        let all = std::mem::take(&mut s.dlm.deferred);
        for (p, req) in all {
            if root.is_none_or(|r| self.root_res(req.res) == r) {
                self.dlm_handle(s, p as usize, DlmMsg::Request(req), o);
            } else {
                s.dlm.deferred.push((p, req));
            }
        }
    }

    /// `NotMaster` from `p` for the request on `lock`: `p` is not (or no longer) the tree's
    /// master. Forget it and start a new attempt (directory lookup, then the master), telling
    /// the directory which of this view's entries, if any, sent the request to `p`.
    fn on_not_master(
        &self,
        s: &mut NodeState,
        p: usize,
        res: u8,
        lock: LockId,
        via: Option<Via>,
        o: &mut O,
    ) {
        let root = self.root_res(res);
        let epoch = s.dlm.epoch;
        let Some(l) = s
            .dlm
            .locks
            .iter_mut()
            .find(|l| l.id == lock && l.res == res)
        else {
            return;
        };
        let Some(q) = l.pending.as_mut().filter(|q| q.stage == Stage::Sent) else {
            return;
        };
        q.hops = 0;
        s.dlm
            .known
            .retain(|&r, m| !(self.root_res(r) == root && *m as usize == p));
        let dead = via.filter(|v| v.epoch == epoch).map(|v| DirEntry {
            master: p as u8,
            gen: v.gen,
        });
        self.route_with(s, res, lock, dead, o);
    }

    fn send_request(
        &self,
        s: &mut NodeState,
        res: u8,
        id: LockId,
        m: usize,
        via: Option<Via>,
        o: &mut O,
    ) {
        let Some(l) = s.dlm.locks.iter_mut().find(|l| l.id == id && l.res == res) else {
            return;
        };
        let seq = s.dlm.pc.get(l.client as usize).copied().unwrap_or(0);
        let Some(p) = l.pending.as_mut() else { return };
        p.stage = Stage::Sent;
        if m != self.me {
            p.hops = p.hops.saturating_add(1);
        }
        let req = Req {
            res: l.res,
            lock: id,
            op: p.op,
            flags: p.flags,
            write: p.write,
            hops: p.hops,
            seq,
            via,
        };
        self.dlm_send(s, m, DlmMsg::Request(req), o);
    }

    /// A lock-manager message from `p` (from the network, or from this node itself).
    pub(crate) fn dlm_handle(&self, s: &mut NodeState, p: usize, m: DlmMsg, o: &mut O) {
        if !self.dlm_enabled() {
            return;
        }
        let epoch = s.dlm.epoch;
        let running = self.dlm_running(s);
        let member = p == self.me || Self::members_of(s).contains(p);
        match m {
            DlmMsg::Copy(c) => s.dlm.pool.push(c),
            DlmMsg::Done { epoch: e } if e == epoch => {
                s.dlm.done_from.insert(p);
                self.check_barrier(s, o);
            }
            DlmMsg::Register {
                epoch: e,
                res,
                master,
            } if e == epoch => {
                s.dlm.dir.insert(res, DirEntry { master, gen: 0 });
            }
            DlmMsg::Unregister { epoch: e, res, gen } if e == epoch => {
                // Only the entry that made `p` master: a stale unregister never removes a newer
                // registration.
                let entry = DirEntry {
                    master: p as u8,
                    gen,
                };
                if s.dlm.dir.get(&res) == Some(&entry) {
                    s.dlm.dir.remove(&res);
                }
            }
            DlmMsg::Done { epoch: e }
            | DlmMsg::Register { epoch: e, .. }
            | DlmMsg::Unregister { epoch: e, .. } => {
                if e > epoch {
                    s.dlm.inbox.push((p as u8, m));
                }
            }
            DlmMsg::Lookup { epoch: e, .. } | DlmMsg::Master { epoch: e, .. } if e < epoch => {}
            DlmMsg::Suspect { epoch: e }
            | DlmMsg::Query { epoch: e, .. }
            | DlmMsg::Report { epoch: e, .. }
            | DlmMsg::Victim { epoch: e, .. }
                if e != epoch =>
            {
                if e > epoch {
                    s.dlm.inbox.push((p as u8, m));
                }
            }
            _ if !running => s.dlm.inbox.push((p as u8, m)),
            _ if !member => {}
            DlmMsg::Lookup { res, dead, .. } => {
                // An entry whose master answered `NotMaster` to a request it routed is dead (the
                // master dropped the tree; its `Unregister` may still be on its way).
                if dead.is_some() && s.dlm.dir.get(&res) == dead.as_ref() {
                    s.dlm.dir.remove(&res);
                }
                // No entry: the requester is the first to lock the tree, and becomes its master.
                let e = match s.dlm.dir.get(&res) {
                    Some(&e) => e,
                    None => DirEntry {
                        master: p as u8,
                        gen: self.new_entry(s, res, p as u8),
                    },
                };
                let answer = DlmMsg::Master {
                    epoch,
                    res,
                    master: e.master,
                    gen: e.gen,
                };
                self.dlm_send(s, p, answer, o);
            }
            DlmMsg::Master {
                res, master, gen, ..
            } => {
                // `res` is a tree's root: its master masters the whole tree. This node has one
                // lookup per tree at a time, sent while it did not master the tree: an answer
                // naming it makes it the master. The requests that arrived ahead of the answer
                // go first (they were routed by the same entry), then this node's own.
                let me = master as usize == self.me;
                if me && !s.dlm.mastered.contains_key(&res) {
                    self.become_master(s, res, gen);
                    self.replay_deferred(s, Some(res), o);
                }
                let waiting: Vec<(u8, LockId)> = s
                    .dlm
                    .locks
                    .iter()
                    .filter(|l| {
                        self.root_res(l.res) == res
                            && l.pending.is_some_and(|q| q.stage == Stage::Lookup)
                    })
                    .map(|l| (l.res, l.id))
                    .collect();
                let via = Some(Via { epoch, gen });
                for (r, id) in waiting {
                    s.dlm.known.insert(r, master);
                    self.send_request(s, r, id, master as usize, via, o);
                }
                // Not the master: the deferred requests were routed by an older entry naming
                // this node, which is dead.
                self.replay_deferred(s, Some(res), o);
                self.drop_if_unused(s, res, o);
            }
            DlmMsg::Request(req) => {
                // Only the tree's master applies a request. One reaching a node that does not
                // master the tree was routed by a directory answer that is stale (the tree was
                // dropped) or ahead of this node's own answer: never re-create the tree from it
                // (two masters).
                let root = self.root_res(req.res);
                if !s.dlm.mastered.contains_key(&root) {
                    if self.opts.dlm != DlmVariant::NoMasterCheck {
                        return self.not_mastered(s, p, req, o);
                    }
                    s.dlm.gens.entry(root).or_insert(0);
                }
                let matrix = self.dlm_matrix();
                let r = s
                    .dlm
                    .mastered
                    .entry(req.res)
                    .or_insert_with(|| Resource::with_matrix(matrix));
                let events = if self.opts.dlm == DlmVariant::QueueJump {
                    jump_queue(r, req.lock, req.op, req.flags)
                } else {
                    None
                }
                .unwrap_or_else(|| apply_op(r, req.lock, req.op, req.flags, req.write));
                let subject = Some((req.lock, req.op, req.seq));
                self.after_master_op(s, req.res, &events, subject, o);
            }
            DlmMsg::NotMaster { res, lock, via } => self.on_not_master(s, p, res, lock, via, o),
            DlmMsg::Suspect { .. } => self.on_suspect(s, o),
            DlmMsg::Query { phase, .. } => self.on_query(s, p, phase, o),
            DlmMsg::Report {
                phase, waits, last, ..
            } => self.on_report(s, p, phase, waits, last, o),
            DlmMsg::Victim { res, lock, seq, .. } => self.on_victim(s, res, lock, seq, o),
            DlmMsg::Ast {
                res,
                lock,
                status,
                mode,
                value,
            } => self.on_ast(s, res, lock, status, mode, value, o),
            DlmMsg::Bast { res, lock } => {
                if let Some(l) = s
                    .dlm
                    .locks
                    .iter_mut()
                    .find(|l| l.id == lock && l.res == res && l.granted.is_some())
                {
                    l.blocking = true;
                    self.client_bast(res, lock, o);
                }
            }
            DlmMsg::Client(c) => self.on_client_msg(s, p, c, o),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_ast(
        &self,
        s: &mut NodeState,
        res: u8,
        lock: LockId,
        status: Status,
        mode: Option<Mode>,
        value: Option<(ValueBlock, bool)>,
        o: &mut O,
    ) {
        let Some(i) = s
            .dlm
            .locks
            .iter()
            .position(|l| l.id == lock && l.res == res)
        else {
            return;
        };
        let l = &mut s.dlm.locks[i];
        let Some(p) = l.pending.take() else { return };
        if mode != l.granted {
            l.blocking = false;
        }
        l.granted = mode;
        if value.is_some() {
            l.value = value;
        } else if let (Some(w), Op::Cvt(_), Status::Normal) = (p.write, p.op, status) {
            l.value = Some((w, true));
        }
        let k = l.client as usize;
        if mode.is_none() {
            s.dlm.locks.remove(i);
            if !s.dlm.locks.iter().any(|l| l.res == res) {
                s.dlm.known.remove(&res);
            }
        }
        self.client_completion(res, lock, status, mode, value, o);
        self.client_done(s, k, o);
    }

    /// Handles the messages kept while the lock manager did not run.
    pub(crate) fn dlm_poll(&self, s: &mut NodeState, o: &mut O) {
        if !self.dlm_enabled() {
            return;
        }
        self.check_barrier(s, o);
        if !self.dlm_running(s) || s.dlm.inbox.is_empty() {
            return;
        }
        let items = std::mem::take(&mut s.dlm.inbox);
        for (p, m) in items {
            self.dlm_handle(s, p as usize, m, o);
        }
    }

    /// Starts the rebuild for a newly installed view (see the module doc).
    pub(crate) fn dlm_install(&self, s: &mut NodeState, view: View, o: &mut O) {
        if !self.dlm_enabled() {
            return;
        }
        let w = view.members;
        let e = view.seq;
        let d = &mut s.dlm;
        d.epoch = e;
        d.rebuilt = false;
        d.search = None;
        d.search_again = false;
        d.done_from = NodeSet::EMPTY;
        d.dir.clear();
        d.dir_gen = 0;
        d.inbox
            .retain(|(p, m)| w.contains(*p as usize) && !stale(m, e));
        d.pool
            .retain(|c| w.contains(owner_of(c.lock).node as usize));
        d.deferred.retain(|(p, _)| w.contains(*p as usize));
        let known = std::mem::take(&mut d.known);
        let mut sends: Vec<(usize, DlmMsg)> = Vec::new();
        // As an owner: a tree whose master left goes to its directory node in `W`, which gets
        // a copy of every lock this node has on it, granted or queued (a lock still looking up
        // its master never reached a master). The new master is the directory node itself: no
        // registration needed. A tree whose master stays is registered by that master alone (an
        // owner's knowledge may be stale: its only request may be on its way to a master that
        // dropped the tree, and will be answered `NotMaster`).
        for (&res, &m) in &known {
            let nm = if w.contains(m as usize) {
                m as usize
            } else {
                self.dir_node(res, w)
            };
            s.dlm.known.insert(res, nm as u8);
            if nm != m as usize {
                for l in s.dlm.locks.iter().filter(|l| l.res == res) {
                    if l.pending.is_some_and(|p| p.stage == Stage::Lookup) {
                        continue;
                    }
                    let copy = LockCopy {
                        res,
                        lock: l.id,
                        granted: l.granted,
                        pending: l.pending.map(|p| (p.op, p.flags, p.write)),
                        value: l.value,
                        seq: s.dlm.pc.get(l.client as usize).copied().unwrap_or(0),
                    };
                    sends.push((nm, DlmMsg::Copy(copy)));
                }
            }
        }
        // As a master: register every tree mastered here (every one has a lock: a tree is
        // dropped with its last lock), with generation 0.
        let roots: Vec<u8> = s
            .dlm
            .mastered
            .keys()
            .copied()
            .filter(|&r| self.parent_res(r).is_none())
            .collect();
        s.dlm.gens = roots.iter().map(|&r| (r, 0)).collect();
        for res in roots {
            sends.push((
                self.dir_node(res, w),
                DlmMsg::Register {
                    epoch: e,
                    res,
                    master: self.me as u8,
                },
            ));
        }
        for p in w.without(self.me).iter() {
            sends.push((p, DlmMsg::Done { epoch: e }));
        }
        // Rebuild messages for this view that arrived before the view was installed.
        let early: Vec<(u8, DlmMsg)> = s
            .dlm
            .inbox
            .iter()
            .filter(|(_, m)| matches!(m, DlmMsg::Register { epoch, .. } | DlmMsg::Unregister { epoch, .. } | DlmMsg::Done { epoch } if *epoch == e))
            .copied()
            .collect();
        s.dlm.inbox.retain(|x| !early.contains(x));
        for (p, m) in early {
            self.dlm_handle(s, p as usize, m, o);
        }
        for (to, m) in sends {
            self.dlm_send(s, to, m, o);
        }
        self.check_barrier(s, o);
    }

    fn check_barrier(&self, s: &mut NodeState, o: &mut O) {
        let Some(v) = s.view else { return };
        if s.dlm.rebuilt
            || v.seq != s.dlm.epoch
            || !v.members.without(self.me).is_subset(s.dlm.done_from)
        {
            return;
        }
        // The rebuild ends (and its grants happen) only once the node runs cluster work: a
        // view that never becomes active (a quorum hang) never grants anything.
        if !self.is_active(s) && self.opts.dlm != DlmVariant::GrantWhileSuspended {
            return;
        }
        self.finish_rebuild(s, v.members, o);
    }

    /// The barrier: every member's copies and registrations are in. Release the departed
    /// nodes' locks, rebuild re-mastered trees, grant, re-send lost lookups.
    fn finish_rebuild(&self, s: &mut NodeState, w: NodeSet, o: &mut O) {
        s.dlm.rebuilt = true;
        let matrix = self.dlm_matrix();
        let variant = self.opts.dlm;
        let mut sends: Vec<(u8, DlmMsg)> = Vec::new();
        for (&res, r) in s.dlm.mastered.iter_mut() {
            if variant == DlmVariant::KeepFailedLocks {
                continue;
            }
            let mut departed: Vec<u8> = r
                .locks()
                .map(|l| l.owner.node)
                .filter(|&n| !w.contains(n as usize))
                .collect();
            departed.sort();
            departed.dedup();
            for x in departed {
                let valid = r.value_block().1;
                let events = r.remove_owner_node(x);
                if variant == DlmVariant::SkipValueInvalidation && valid {
                    let (v, _) = r.value_block();
                    r.set_value_block(v, true);
                }
                sends.extend(notifications(res, r, &events, None));
            }
        }
        let pool = std::mem::take(&mut s.dlm.pool);
        let mut trees: BTreeMap<u8, BTreeMap<u8, Vec<LockCopy>>> = BTreeMap::new();
        for c in pool {
            if w.contains(owner_of(c.lock).node as usize) {
                let root = self.root_res(c.res);
                trees
                    .entry(root)
                    .or_default()
                    .entry(c.res)
                    .or_default()
                    .push(c);
            }
        }
        for (root, tree) in trees {
            // A surviving master registered the tree: the copies, which name a departed master,
            // are stale. That master had dropped the tree (two masters never coexist), so every
            // lock it had is gone: a new request never reached it, or a `$DEQ` was applied and its
            // AST lost. Answer them as that master would have.
            if s.dlm.dir.contains_key(&root) || s.dlm.mastered.contains_key(&root) {
                for c in tree.values().flatten() {
                    let answer = match c.pending {
                        Some((Op::Deq, _, _)) => DlmMsg::Ast {
                            res: c.res,
                            lock: c.lock,
                            status: Status::Normal,
                            mode: None,
                            value: None,
                        },
                        Some((Op::Enq(_), _, _)) if c.granted.is_none() => DlmMsg::NotMaster {
                            res: c.res,
                            lock: c.lock,
                            via: None,
                        },
                        // A lock the departed master still had: it cannot be here.
                        _ => continue,
                    };
                    sends.push((owner_of(c.lock).node, answer));
                }
                continue;
            }
            self.become_master(s, root, 0);
            s.dlm.dir.insert(
                root,
                DirEntry {
                    master: self.me as u8,
                    gen: 0,
                },
            );
            for (res, copies) in tree {
                let created = !s.dlm.mastered.contains_key(&res) || res == root;
                let r = s
                    .dlm
                    .mastered
                    .entry(res)
                    .or_insert_with(|| Resource::with_matrix(matrix));
                if created {
                    let read = copies.iter().find_map(|c| {
                        let known = match c.pending {
                            Some((_, _, Some(w))) => Some((w, true)),
                            _ => c.value,
                        };
                        match (copy_usable(c), known) {
                            (Some(Mode::PR | Mode::PW | Mode::EX), Some((v, true))) => Some(v),
                            _ => None,
                        }
                    });
                    match read {
                        Some(v) => r.set_value_block(v, true),
                        None => r.set_value_block(
                            ValueBlock::default(),
                            variant == DlmVariant::SkipValueInvalidation,
                        ),
                    }
                }
                for c in &copies {
                    if let Some(g) = c.granted {
                        r.restore_granted(c.lock, owner_of(c.lock), g);
                    }
                }
                for c in &copies {
                    if let Some((op, flags, _)) = c.pending {
                        // The value block was settled above: a pending write either is what a
                        // PR+ holder knows already, or may have been overtaken by a departed
                        // writer.
                        let events = apply_op(r, c.lock, op, flags, None);
                        if events.contains(&Event::Queued { id: c.lock }) {
                            s.dlm.seqs.insert((res, c.lock), c.seq);
                        }
                        sends.extend(notifications(res, r, &events, Some((c.lock, op))));
                    }
                }
            }
        }
        sync_seqs(&mut s.dlm);
        let queued = s
            .dlm
            .mastered
            .values()
            .any(|r| !r.converting().is_empty() || !r.waiting().is_empty());
        if queued {
            self.arm_deadlock(s, o);
        }
        for (to, m) in sends {
            self.dlm_send(s, to as usize, m, o);
        }
        // A tree left without a lock (its locks were the departed nodes', or replayed `$DEQ`s)
        // is dropped.
        let roots: Vec<u8> = s.dlm.gens.keys().copied().collect();
        for root in roots {
            self.drop_if_unused(s, root, o);
        }
        // Lookups lost in the transition are sent again, one per tree (`route` sends one for
        // the first lock of a tree and lets the others wait for its answer), each a new attempt.
        let lost: Vec<(u8, LockId)> = s
            .dlm
            .locks
            .iter()
            .filter(|l| l.pending.is_some_and(|p| p.stage == Stage::Lookup))
            .map(|l| (l.res, l.id))
            .collect();
        for l in s.dlm.locks.iter_mut() {
            if let Some(p) = l.pending.as_mut().filter(|p| p.stage == Stage::Lookup) {
                p.stage = Stage::Sent;
                p.hops = 0;
            }
        }
        for (res, id) in lost {
            self.route(s, res, id, o);
        }
        // Requests that waited for a lookup lost in the transition: this node may master their
        // tree now, or is looking it up again.
        self.replay_deferred(s, None, o);
    }
}
