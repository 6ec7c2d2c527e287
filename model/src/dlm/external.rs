//! The lock manager's interface for clients outside the model: the runtime's control endpoint
//! (`enq`, `convert`, `deq`) and `vmsc lock`.
//!
//! # Shape
//! An external client speaks *as the node itself*: the runtime delivers its request with
//! `on_msg(src = this node, Msg::Dlm(DlmMsg::Client(ClientMsg::Request(..))))`, and the node
//! answers with messages it sends *to itself*: [`ClientMsg::Completion`] (the completion AST) and
//! [`ClientMsg::Blocking`] (the BAST). No peer ever sends as this node, so nothing on the network
//! can be taken for a client; a `DlmMsg::Client` from a peer is ignored. The runtime's driver
//! never puts these self-addressed messages on the network: it hands them to the control
//! endpoint. The checker never issues external requests; were it to deliver a self-addressed
//! completion, the node would ignore it.
//!
//! # Same path as the scripted clients
//! A request becomes a process copy ([`LocalLock`]) with a pending request in
//! [`DlmState::locks`](super::DlmState::locks), exactly as a scripted client's, and is sent with
//! the same `route`: directory lookup, master, grant rules, ASTs, BASTs, rebuild copies and
//! replays are the checked code. Only the first step differs (a scripted client reads its next
//! script line on a timer; an external one arrives as a message), and the last (`on_ast`
//! advances a script, or emits a [`Completion`]). A request that arrives while the lock manager
//! does not run (a transition, a rebuild, a quorum hang, before joining) waits in
//! [`DlmState::inbox`](super::DlmState::inbox) like any lock-manager message, and is taken
//! when the lock manager runs again ($ENQ stalls during a transition).
//!
//! # Lock ids
//! The caller picks the id of a new lock (the runtime numbers them per node):
//! `0x4000_0000 | node << 20 | seq`, `seq` in `1..2^20` ([`external_lock_id`]). Bit 30 keeps
//! them apart from scripted clients' ids (`node × CLIENTS_PER_NODE_MAX + client`), and the
//! node field lets every master send the ASTs home ([`super::cluster::owner_of`]). An external
//! client may hold any number of locks, several on one resource. The node refuses (completion
//! with status `IvLockId`, nothing changed) an `enq` whose id is in use or is not this node's, and
//! a `convert`/`deq` of an id it does not hold.
//!
//! # Requests and their completions
//! * `enq RES MODE` with flags: a new lock on resource index `res`. Flags as for `$ENQ`
//!   (VALBLK, NOQUEUE, EXPEDITE; the lock table refuses misuse with `BadParam`).
//! * `convert LOCK MODE` (VALBLK, NOQUEUE, QUECVT): with VALBLK and a value, a conversion down
//!   from PW or EX writes it (C.4); otherwise the value is ignored.
//! * `deq LOCK`: with VALBLK and a value, a lock granted at PW or EX writes it.
//!
//! Each request gets exactly one [`Completion`] for its lock: the grant (or refusal) from the
//! master, or a local refusal. A lock has at most one request in flight (its process copy holds
//! one); a second one is refused with `CvtUngrant` (convert) or `BadParam` (deq) — `$DEQ` of a
//! waiting lock (cancel) is not modelled yet. Every BAST the master sends for a granted external
//! lock is passed on as [`ClientMsg::Blocking`]; the copy's `blocking` flag stays set until the
//! next grant changes the lock's mode.
//!
//! # Resource names
//! Every node must agree on a resource's index and on its directory node, so external clients
//! name only resources of the cluster file's table ([`ClusterSpec::resources`]: the
//! `[locks] resources` list and the scripts' names), see [`NodeActor::resource_index`].
//!
//! [`ClusterSpec::resources`]: crate::config::ClusterSpec::resources
//! [`LocalLock`]: super::cluster::LocalLock

use super::cluster::{is_writer, writes, DlmMsg, LocalLock, Pending, Stage};
use super::mode::{Flags, Mode, Status};
use super::resource::{LockId, Owner, ValueBlock};
use super::script::Op;
use crate::node::{Msg, NodeActor, NodeState};
use serde::{Deserialize, Serialize};
use stateright::actor::{Id, Out};
use std::borrow::Cow;

type O = Out<NodeActor>;

/// The bit that marks an external client's lock id.
pub const EXTERNAL_LOCK_BIT: u32 = 1 << 30;
/// Where the owning node's index sits in an external lock id.
pub const EXTERNAL_NODE_SHIFT: u32 = 20;
/// The largest per-node sequence number of an external lock id.
pub const EXTERNAL_SEQ_MAX: u32 = (1 << EXTERNAL_NODE_SHIFT) - 1;
/// [`LocalLock::client`](super::cluster::LocalLock::client) and [`Owner::process`] of an
/// external client's lock (scripted clients are `0..CLIENTS_PER_NODE_MAX`).
pub const EXTERNAL_CLIENT: u8 = u8::MAX;
/// Longest resource name (as in the script grammar).
pub const RESOURCE_NAME_BYTES_MAX: usize = 31;

const _: () = assert!(
    (crate::config::NODES_MAX as u32) < (1 << (30 - EXTERNAL_NODE_SHIFT)),
    "the node index fits between the sequence number and the external bit"
);

/// The external lock id `seq` of node `node`; `None` if `seq` is 0 or above
/// [`EXTERNAL_SEQ_MAX`], or the node index does not fit.
pub fn external_lock_id(node: usize, seq: u32) -> Option<LockId> {
    let node = u32::try_from(node).ok()?;
    if seq == 0 || seq > EXTERNAL_SEQ_MAX || node >= 1 << (30 - EXTERNAL_NODE_SHIFT) {
        return None;
    }
    Some(LockId(
        EXTERNAL_LOCK_BIT | node << EXTERNAL_NODE_SHIFT | seq,
    ))
}

/// True if `id` is an external client's lock id.
pub fn is_external(id: LockId) -> bool {
    id.0 & EXTERNAL_LOCK_BIT != 0
}

/// The owner of an external lock id (`None` for a scripted client's id).
pub fn external_owner(id: LockId) -> Option<Owner> {
    is_external(id).then_some(Owner {
        node: ((id.0 & !EXTERNAL_LOCK_BIT) >> EXTERNAL_NODE_SHIFT) as u8,
        process: EXTERNAL_CLIENT,
    })
}

/// Checks a root resource name (1–31 letters, digits, `_ $ . -`) and upper-cases it.
///
/// # Errors
/// What is wrong with the name.
pub fn resource_name(name: &str) -> Result<String, String> {
    let ok = (1..=RESOURCE_NAME_BYTES_MAX).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_$.-".contains(c));
    if ok {
        Ok(name.to_ascii_uppercase())
    } else {
        Err(format!(
            "{name:?} is not a resource name (1-{RESOURCE_NAME_BYTES_MAX} letters, digits, _ $ . -)"
        ))
    }
}

/// Messages between a node and its external clients (inside [`DlmMsg::Client`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ClientMsg {
    /// Client → node: a request.
    Request(ClientRequest),
    /// Node → client: the request on a lock completed (the completion AST).
    Completion(Completion),
    /// Node → client: a granted lock blocks another request (the blocking AST).
    Blocking {
        /// Resource index.
        res: u8,
        /// The blocking lock.
        lock: LockId,
    },
}

/// An external `$ENQ`, `$ENQ CONVERT` or `$DEQ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClientRequest {
    /// The lock: a fresh id for `Enq` (see [`external_lock_id`]), a held one otherwise.
    pub lock: LockId,
    /// Resource index (only read by `Enq`; a held lock knows its resource).
    pub res: u8,
    /// What to do.
    pub op: Op,
    /// `$ENQ` flags.
    pub flags: Flags,
    /// Value block to write (with VALBLK, on a down-conversion or `$DEQ` from PW/EX).
    pub value: Option<ValueBlock>,
}

impl ClientRequest {
    /// The message that delivers this request to the node (sent as the node itself).
    pub fn into_msg(self) -> Msg {
        Msg::Dlm(DlmMsg::Client(ClientMsg::Request(self)))
    }
}

/// The end of a request on an external lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Completion {
    /// The lock.
    pub lock: LockId,
    /// Resource index.
    pub res: u8,
    /// Completion status (`Normal` or `ValNotValid` for a grant or a `$DEQ`).
    pub status: Status,
    /// The lock's granted mode afterwards (`None`: the lock is gone, or was never granted).
    pub mode: Option<Mode>,
    /// The value block read by the grant (with VALBLK), and whether it is valid.
    pub value: Option<(ValueBlock, bool)>,
}

/// The client message in `msg`, if `msg` is one (what the runtime routes to its clients).
pub fn client_msg(msg: &Msg) -> Option<&ClientMsg> {
    match msg {
        Msg::Dlm(DlmMsg::Client(c)) => Some(c),
        _ => None,
    }
}

impl NodeActor {
    /// The index of resource `name` in the cluster's table (case-insensitive).
    pub fn resource_index(&self, name: &str) -> Option<u8> {
        let i = self
            .spec
            .resources
            .iter()
            .position(|r| r.eq_ignore_ascii_case(name))?;
        u8::try_from(i).ok()
    }

    /// A message the node sent to itself: only an external client's request means anything.
    pub(crate) fn on_self_msg(&self, state: &mut Cow<NodeState>, msg: Msg, o: &mut O) {
        if !self.dlm_enabled() {
            return;
        }
        if let Msg::Dlm(m @ DlmMsg::Client(ClientMsg::Request(_))) = msg {
            let s = state.to_mut();
            self.dlm_handle(s, self.me, m, o);
            self.dlm_poll(s, o);
        }
    }

    /// A client message taken by the running lock manager (see `dlm_handle`).
    pub(crate) fn on_client_msg(&self, s: &mut NodeState, p: usize, c: ClientMsg, o: &mut O) {
        match c {
            ClientMsg::Request(r) if p == self.me => self.client_request(s, r, o),
            _ => {}
        }
    }

    fn client_request(&self, s: &mut NodeState, r: ClientRequest, o: &mut O) {
        // A refusal answers whatever id the client named, external or not: every request gets
        // its completion (a `deq 12345` is refused with `IvLockId`, never left unanswered).
        let refuse = |status: Status, mode: Option<Mode>, o: &mut O| {
            self.send_completion(r.res, r.lock, status, mode, None, o);
        };
        if external_owner(r.lock).is_none_or(|w| w.node as usize != self.me) {
            return refuse(Status::IvLockId, None, o);
        }
        let i = s.dlm.locks.iter().position(|l| l.id == r.lock);
        let pending = |write| Pending {
            op: r.op,
            flags: r.flags,
            write,
            stage: Stage::Sent,
            hops: 0,
        };
        match (r.op, i) {
            (Op::Enq(_), Some(_)) => return refuse(Status::IvLockId, None, o),
            (Op::Enq(_), None) if usize::from(r.res) >= self.spec.resources.len() => {
                return refuse(Status::BadParam, None, o)
            }
            (Op::Enq(_), None) => {
                s.dlm.locks.push(LocalLock {
                    res: r.res,
                    client: EXTERNAL_CLIENT,
                    id: r.lock,
                    granted: None,
                    pending: Some(pending(None)),
                    value: None,
                    blocking: false,
                });
                s.dlm.locks.sort();
            }
            (Op::Cvt(_) | Op::Deq, None) => return refuse(Status::IvLockId, None, o),
            (op, Some(i)) => {
                let l = &mut s.dlm.locks[i];
                let (res, granted) = (l.res, l.granted);
                let Some(g) = granted.filter(|_| l.pending.is_none()) else {
                    let status = match op {
                        Op::Cvt(_) => Status::CvtUngrant,
                        _ => Status::BadParam,
                    };
                    return self.client_completion(res, r.lock, status, granted, None, o);
                };
                let writer = match op {
                    Op::Cvt(n) => writes(g, n),
                    _ => is_writer(Some(g)),
                };
                let write = r
                    .value
                    .filter(|_| writer && r.flags.contains(Flags::VALBLK));
                l.pending = Some(pending(write));
            }
        }
        // A held lock knows its resource; the request names it only for `Enq`.
        let res = s
            .dlm
            .locks
            .iter()
            .find(|l| l.id == r.lock)
            .map_or(r.res, |l| l.res);
        self.route(s, res, r.lock, o);
    }

    /// Emits the completion of a request on `lock`, if it is an external client's lock.
    pub(crate) fn client_completion(
        &self,
        res: u8,
        lock: LockId,
        status: Status,
        mode: Option<Mode>,
        value: Option<(ValueBlock, bool)>,
        o: &mut O,
    ) {
        if is_external(lock) {
            self.send_completion(res, lock, status, mode, value, o);
        }
    }

    /// Emits the completion of a request on `lock` to this node's external client.
    fn send_completion(
        &self,
        res: u8,
        lock: LockId,
        status: Status,
        mode: Option<Mode>,
        value: Option<(ValueBlock, bool)>,
        o: &mut O,
    ) {
        let c = Completion {
            lock,
            res,
            status,
            mode,
            value,
        };
        o.send(
            Id::from(self.me),
            Msg::Dlm(DlmMsg::Client(ClientMsg::Completion(c))),
        );
    }

    /// Emits a BAST for granted lock `lock`, if it is an external client's lock.
    pub(crate) fn client_bast(&self, res: u8, lock: LockId, o: &mut O) {
        if is_external(lock) {
            o.send(
                Id::from(self.me),
                Msg::Dlm(DlmMsg::Client(ClientMsg::Blocking { res, lock })),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlm::testnet::{done, id, req, Net};
    use stateright::actor::Actor;
    use Mode::{EX, NL, PR, PW};

    #[test]
    fn lock_ids_name_their_node() {
        let l = id(2, 7);
        assert_eq!(l.0, 0x4020_0007);
        assert!(is_external(l));
        assert_eq!(
            crate::dlm::cluster::owner_of(l),
            Owner {
                node: 2,
                process: EXTERNAL_CLIENT
            }
        );
        assert!(!is_external(crate::dlm::cluster::lock_id(31, 1)));
        assert_eq!(external_lock_id(0, 0), None);
        assert_eq!(external_lock_id(0, EXTERNAL_SEQ_MAX + 1), None);
        assert_eq!(resource_name("db.Root"), Ok("DB.ROOT".into()));
        assert!(resource_name("a b").is_err());
        assert!(resource_name(&"x".repeat(32)).is_err());
    }

    #[test]
    fn convert_and_deq_use_the_lock_s_own_resource() {
        // The control endpoint names only the lock for `convert` and `deq`; the resource index
        // it sends is a placeholder (found by `vmsc experiment`'s lock load: a deq of a lock on
        // resource 1 sent with index 0 never completed).
        let mut net = Net::new();
        let r = net.res_with(0);
        let other = (r + 1) % 8;
        net.request(0, req(id(0, 1), r, Op::Enq(EX), Flags::NONE));
        let (out, _) = net.request(0, req(id(0, 1), other, Op::Cvt(NL), Flags::NONE));
        assert_eq!(out, [(0, done(id(0, 1), r, Status::Normal, Some(NL)))]);
        let (out, _) = net.request(0, req(id(0, 1), other, Op::Deq, Flags::NONE));
        assert_eq!(out, [(0, done(id(0, 1), r, Status::Normal, None))]);
    }

    #[test]
    fn local_master_grants_without_a_message() {
        let mut net = Net::new();
        let r = net.res_with(0);
        let (out, remote) = net.request(0, req(id(0, 1), r, Op::Enq(EX), Flags::NONE));
        assert_eq!(out, [(0, done(id(0, 1), r, Status::Normal, Some(EX)))]);
        assert_eq!(remote, 0);
    }

    #[test]
    fn remote_master_takes_one_message_once_known_and_two_with_a_lookup() {
        let mut net = Net::new();
        // B masters a resource whose directory is C: B's first lock (lookup at C) makes it so.
        let r = net.res_with(2);
        let (out, remote) = net.request(1, req(id(1, 1), r, Op::Enq(NL), Flags::NONE));
        assert_eq!(out, [(1, done(id(1, 1), r, Status::Normal, Some(NL)))]);
        assert_eq!(remote, 2, "lookup and answer");
        // A: lookup at C, then the request to B — two requests, four messages with replies.
        let (out, remote) = net.request(0, req(id(0, 1), r, Op::Enq(PR), Flags::VALBLK));
        let value = Some((ValueBlock::default(), true));
        assert_eq!(
            out,
            [(
                0,
                ClientMsg::Completion(Completion {
                    value,
                    ..match done(id(0, 1), r, Status::Normal, Some(PR)) {
                        ClientMsg::Completion(c) => c,
                        _ => unreachable!(),
                    }
                })
            )]
        );
        assert_eq!(remote, 4);
        // A knows the master now: a conversion is one request and its AST.
        let (out, remote) = net.request(0, req(id(0, 1), r, Op::Cvt(NL), Flags::NONE));
        assert_eq!(out, [(0, done(id(0, 1), r, Status::Normal, Some(NL)))]);
        assert_eq!(remote, 2);
    }

    #[test]
    fn a_blocked_request_waits_the_holder_gets_a_bast_and_the_value_moves() {
        let mut net = Net::new();
        let r = net.res_with(1);
        let (a, c) = (id(0, 1), id(2, 1));
        let (out, _) = net.request(0, req(a, r, Op::Enq(EX), Flags::NONE));
        assert_eq!(out, [(0, done(a, r, Status::Normal, Some(EX)))]);
        // C asks PR: queued; A (EX) gets a BAST, C no completion yet.
        let (out, _) = net.request(2, req(c, r, Op::Enq(PR), Flags::VALBLK));
        assert_eq!(out, [(0, ClientMsg::Blocking { res: r, lock: a })]);
        // NOQUEUE from a third lock is refused at once.
        let (out, _) = net.request(1, req(id(1, 1), r, Op::Enq(PW), Flags::NOQUEUE));
        assert_eq!(out, [(1, done(id(1, 1), r, Status::NotQueued, None))]);
        // A releases, writing a value: C is granted and reads it.
        let v = ValueBlock([7; 16]);
        let mut deq = req(a, r, Op::Deq, Flags::VALBLK);
        deq.value = Some(v);
        let (out, _) = net.request(0, deq);
        let granted = ClientMsg::Completion(Completion {
            lock: c,
            res: r,
            status: Status::Normal,
            mode: Some(PR),
            value: Some((v, true)),
        });
        assert_eq!(out, [(0, done(a, r, Status::Normal, None)), (2, granted)]);
    }

    #[test]
    fn bad_requests_are_refused_and_change_nothing() {
        let mut net = Net::new();
        let before = net.states.clone();
        let r = net.res_with(0);
        // Not this node's id; an unknown id; a resource outside the table.
        let (out, _) = net.request(0, req(id(1, 1), r, Op::Enq(EX), Flags::NONE));
        assert_eq!(out, [(0, done(id(1, 1), r, Status::IvLockId, None))]);
        let (out, _) = net.request(0, req(id(0, 9), r, Op::Cvt(EX), Flags::NONE));
        assert_eq!(out, [(0, done(id(0, 9), r, Status::IvLockId, None))]);
        let (out, _) = net.request(0, req(id(0, 1), 200, Op::Enq(EX), Flags::NONE));
        assert_eq!(out, [(0, done(id(0, 1), 200, Status::BadParam, None))]);
        // An id without the external bit (a typo, a scripted client's id) is refused too: every
        // request gets its completion.
        let scripted = crate::dlm::cluster::lock_id(0, 1);
        for (lock, op) in [
            (LockId(12345), Op::Deq),
            (LockId(4242), Op::Cvt(EX)),
            (LockId(7), Op::Enq(NL)),
            (scripted, Op::Deq),
        ] {
            let (out, _) = net.request(0, req(lock, r, op, Flags::NONE));
            assert_eq!(out, [(0, done(lock, r, Status::IvLockId, None))], "{op:?}");
        }
        assert_eq!(net.states, before);
        // A held id cannot be enqueued again.
        net.request(0, req(id(0, 1), r, Op::Enq(NL), Flags::NONE));
        let (out, _) = net.request(0, req(id(0, 1), r, Op::Enq(EX), Flags::NONE));
        assert_eq!(out, [(0, done(id(0, 1), r, Status::IvLockId, None))]);
    }

    #[test]
    fn requests_wait_while_the_lock_manager_does_not_run_and_peers_cannot_speak_for_clients() {
        let mut net = Net::new();
        let r = net.res_with(0);
        // A peer's client message is ignored.
        let (out, _) = {
            net.step(0, 1, req(id(0, 1), r, Op::Enq(EX), Flags::NONE).into_msg());
            (std::mem::take(&mut net.out), 0)
        };
        assert!(out.is_empty());
        assert!(net.states[0].dlm.locks.is_empty());
        // A suspended node (lost a member) keeps the request and takes it when it runs again.
        net.step(0, 2, Msg::CircuitDown);
        let (out, _) = net.request(0, req(id(0, 1), r, Op::Enq(EX), Flags::NONE));
        assert!(out.is_empty());
        assert_eq!(net.states[0].dlm.inbox.len(), 1);
        assert!(!net.actors[0].dlm_running(&net.states[0]));
        // A self-addressed completion delivered back (as the checker would) is ignored.
        let echo = Msg::Dlm(DlmMsg::Client(done(id(0, 1), r, Status::Normal, None)));
        let mut o = Out::new();
        let mut state = Cow::Borrowed(&net.states[0]);
        net.actors[0].on_msg(Id::from(0), &mut state, Id::from(0), echo, &mut o);
        assert!(matches!(state, Cow::Borrowed(_)));
        assert!(o.is_empty());
    }

    #[test]
    fn a_down_conversion_writes_only_from_pw_or_ex() {
        let mut net = Net::new();
        let r = net.res_with(2);
        let a = id(0, 1);
        net.request(0, req(a, r, Op::Enq(PW), Flags::NONE));
        let mut cvt = req(a, r, Op::Cvt(NL), Flags::VALBLK);
        cvt.value = Some(ValueBlock([3; 16]));
        let (out, _) = net.request(0, cvt);
        assert_eq!(out, [(0, done(a, r, Status::Normal, Some(NL)))]);
        let (out, _) = net.request(0, req(a, r, Op::Cvt(PR), Flags::VALBLK));
        let read = ClientMsg::Completion(Completion {
            lock: a,
            res: r,
            status: Status::Normal,
            mode: Some(PR),
            value: Some((ValueBlock([3; 16]), true)),
        });
        assert_eq!(out, [(0, read)]);
    }
}
