//! The lock manager's client interface on a running node: what the control endpoint's `enq`,
//! `convert`, `deq`, `bast` and `locks` requests use.
//!
//! The protocol is the model's ([`vmsc_model::dlm::external`]): a [`LockService`] numbers new
//! locks, sends each request to the actor through the driver's local inbox (as a message from
//! the node itself, for the running incarnation), and, as an [`Observer`], picks the node's
//! completions and BASTs out of the actor's commands (the driver does not send them). Nothing here
//! grants, queues or routes anything.
//!
//! * **One request in flight per lock**, as for a process waiting in `$ENQW`: the caller waits
//!   for the completion (a queued request waits until it is granted), or issues the request
//!   ([`LockService::issue`]) and waits for its [`Issued`] later. A request nobody waits for any
//!   more still completes at the node. A second request on a lock whose request is in flight
//!   is refused here ([`LockError::Busy`]).
//! * **Locks belong to the node**, not to a control connection: a lock outlives the connection
//!   that took it, and any connection may convert or release it by id (`vmsc lock` invocations
//!   are one request each). Every lock of a node goes with its incarnation: when the node
//!   crashes, reboots or takes a CLUEXIT, requests in flight fail with [`LockError::NodeDown`].
//! * **BASTs** reach the connection that last issued a request on the lock, as an event line
//!   ([`bast_event`]), and anyone may wait for one with [`LockService::wait_blocking`] (answered
//!   at once if a BAST arrived since the lock's last grant: the model's `blocking` flag).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ptr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stateright::actor::Command;
use tokio::sync::{mpsc, oneshot};
use vmsc_model::dlm::cluster::{usable_mode, LocalLock};
use vmsc_model::dlm::external::{
    client_msg, external_lock_id, is_external, ClientMsg, ClientRequest, Completion,
    EXTERNAL_SEQ_MAX,
};
use vmsc_model::dlm::script::Op;
use vmsc_model::dlm::{Flags, LockId, Mode, Status, ValueBlock};
use vmsc_model::node::{Msg, NodeActor, NodeState};

use crate::driver::{ActorCommand, LocalSendError, LocalSender, Observer};
use crate::node::BootNonce;

/// Event lines queued for one control connection; further BASTs for it are dropped.
pub const EVENTS_MAX: usize = 64;

/// Where a connection's event lines go.
pub type Listener = mpsc::Sender<Value>;

/// What a lock request does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockOp {
    /// `$ENQ` of a new lock on a resource of the cluster's table.
    Enq {
        /// Resource name.
        resource: String,
        /// Requested mode.
        mode: Mode,
    },
    /// `$ENQ CONVERT` of a held lock.
    Convert {
        /// The lock.
        lock: LockId,
        /// Requested mode.
        mode: Mode,
    },
    /// `$DEQ` of a held lock.
    Deq {
        /// The lock.
        lock: LockId,
    },
}

/// A parsed `enq`/`convert`/`deq` request line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockRequest {
    /// What to do.
    pub op: LockOp,
    /// `$ENQ` flags (`value=` implies VALBLK).
    pub flags: Flags,
    /// Value block to write.
    pub value: Option<ValueBlock>,
}

/// The flag words a request may carry, with their `$LCKDEF` bits.
const FLAG_WORDS: [(&str, Flags); 4] = [
    ("VALBLK", Flags::VALBLK),
    ("NOQUEUE", Flags::NOQUEUE),
    ("QUECVT", Flags::QUECVT),
    ("EXPEDITE", Flags::EXPEDITE),
];

/// Usage of the lock requests (for `help` and errors).
pub const LOCK_USAGE: &str = "enq RESOURCE MODE [FLAG...] [value=HEX] | convert LOCKID MODE [FLAG...] [value=HEX] | deq LOCKID [value=HEX] | bast LOCKID [TIMEOUT_MS] | locks";

impl LockRequest {
    /// Parses the words after the verb (`enq`, `convert` or `deq`, lower case).
    ///
    /// # Errors
    ///
    /// A message naming the word that is wrong.
    pub fn parse(verb: &str, args: &[&str]) -> Result<Self, String> {
        let (op, rest) = match (verb, args) {
            ("enq", [resource, mode, rest @ ..]) => {
                let resource = vmsc_model::dlm::external::resource_name(resource)
                    .map_err(|e| format!("enq: {e}"))?;
                (
                    LockOp::Enq {
                        resource,
                        mode: parse_mode(verb, mode)?,
                    },
                    rest,
                )
            }
            ("convert", [lock, mode, rest @ ..]) => (
                LockOp::Convert {
                    lock: parse_lock_id(verb, lock)?,
                    mode: parse_mode(verb, mode)?,
                },
                rest,
            ),
            ("deq", [lock, rest @ ..]) => (
                LockOp::Deq {
                    lock: parse_lock_id(verb, lock)?,
                },
                rest,
            ),
            _ => return Err(format!("{verb}: wrong arguments; usage: {LOCK_USAGE}")),
        };
        let mut flags = Flags::NONE;
        let mut value = None;
        for word in rest {
            if let Some(hex) = word
                .strip_prefix("value=")
                .or_else(|| word.strip_prefix("VALUE="))
            {
                value = Some(parse_value(verb, hex)?);
                flags = flags | Flags::VALBLK;
                continue;
            }
            let upper = word.to_ascii_uppercase();
            let Some((_, flag)) = FLAG_WORDS.iter().find(|(name, _)| *name == upper) else {
                return Err(format!(
                    "{verb}: {word:?} is not a flag (VALBLK, NOQUEUE, QUECVT, EXPEDITE) or value=HEX"
                ));
            };
            if matches!(op, LockOp::Deq { .. }) && *flag != Flags::VALBLK {
                return Err(format!(
                    "deq: flag {upper} is not allowed (only VALBLK, value=HEX)"
                ));
            }
            flags = flags | *flag;
        }
        Ok(Self { op, flags, value })
    }

    /// The lock the request names (`None` for `enq`, which makes a new one).
    pub fn lock(&self) -> Option<LockId> {
        match self.op {
            LockOp::Enq { .. } => None,
            LockOp::Convert { lock, .. } | LockOp::Deq { lock } => Some(lock),
        }
    }

    /// The request's verb.
    pub fn verb(&self) -> &'static str {
        match self.op {
            LockOp::Enq { .. } => "enq",
            LockOp::Convert { .. } => "convert",
            LockOp::Deq { .. } => "deq",
        }
    }
}

impl fmt::Display for LockRequest {
    /// The request line [`LockRequest::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.op {
            LockOp::Enq { resource, mode } => write!(f, "enq {resource} {mode}")?,
            LockOp::Convert { lock, mode } => write!(f, "convert {:#x} {mode}", lock.0)?,
            LockOp::Deq { lock } => write!(f, "deq {:#x}", lock.0)?,
        }
        for (name, flag) in FLAG_WORDS {
            let implied = flag == Flags::VALBLK && self.value.is_some();
            if self.flags.contains(flag) && !implied {
                write!(f, " {name}")?;
            }
        }
        if let Some(v) = &self.value {
            write!(f, " value={}", hex(v))?;
        }
        Ok(())
    }
}

fn parse_mode(verb: &str, word: &str) -> Result<Mode, String> {
    word.parse().map_err(|e| format!("{verb}: {e}"))
}

/// Parses a lock id: decimal, or hexadecimal with `0x`.
///
/// # Errors
///
/// A message naming the word.
pub fn parse_lock_id(verb: &str, word: &str) -> Result<LockId, String> {
    let parsed = match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => word.parse(),
    };
    parsed
        .map(LockId)
        .map_err(|_| format!("{verb}: {word:?} is not a lock id (decimal, or hex with 0x)"))
}

/// Parses a value block: 1 to 16 bytes as hex digits (pairs), zero-filled on the right.
fn parse_value(verb: &str, hex: &str) -> Result<ValueBlock, String> {
    let bad =
        || format!("{verb}: value={hex:?} is not 1 to 16 bytes of hex (an even number of digits)");
    if hex.is_empty() || hex.len() > 32 || !hex.len().is_multiple_of(2) {
        return Err(bad());
    }
    let mut v = [0u8; 16];
    for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        v[i] = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(ValueBlock(v))
}

/// A value block as 32 lower-case hex digits.
pub fn hex(v: &ValueBlock) -> String {
    v.0.iter().map(|b| format!("{b:02x}")).collect()
}

/// The snake-case name of a completion status (`normal`, `not_queued`, ...).
pub fn status_name(status: Status) -> &'static str {
    match status {
        Status::Normal => "normal",
        Status::NotQueued => "not_queued",
        Status::Deadlock => "deadlock",
        Status::ValNotValid => "val_not_valid",
        Status::Cancelled => "cancelled",
        Status::SubLocks => "sub_locks",
        Status::IllegalConversion => "illegal_conversion",
        Status::IvLockId => "iv_lock_id",
        Status::CvtUngrant => "cvt_ungrant",
        Status::CancelGrant => "cancel_grant",
        Status::BadParam => "bad_param",
    }
}

/// The answer to a lock request: its completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockReply {
    /// The completion status ([`status_name`]).
    pub status: String,
    /// The request did what it asked: `normal`, or `val_not_valid` (granted; value invalid).
    pub success: bool,
    /// The lock id (for `enq`, the new lock's).
    pub lock_id: u32,
    /// The resource (absent when the lock id is unknown).
    pub resource: Option<String>,
    /// The lock's granted mode afterwards (absent: released, or never granted).
    pub granted_mode: Option<Mode>,
    /// The value block the grant read (VALBLK), as hex.
    pub value: Option<String>,
    /// Whether that value block is valid.
    pub valid: Option<bool>,
}

/// One of the node's external locks, as `locks` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The lock id.
    pub lock_id: u32,
    /// The resource.
    pub resource: String,
    /// Granted mode.
    pub granted_mode: Option<Mode>,
    /// The mode the client may use now (the weaker one during a conversion).
    pub usable_mode: Option<Mode>,
    /// The request in flight (`enq EX`, `convert NL`, `deq`).
    pub pending: Option<String>,
    /// A BAST arrived since the last grant.
    pub blocking: bool,
    /// The last value block read or written, as hex.
    pub value: Option<String>,
    /// Whether it is valid.
    pub valid: Option<bool>,
}

/// Why a lock request got no completion.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// The cluster file enables no lock manager.
    #[error("no lock manager: cluster {cluster} declares no lock resources ([locks] resources = [...]) and has no [[client]] scripts")]
    Disabled {
        /// Cluster name.
        cluster: String,
    },
    /// The resource is not in the cluster's table.
    #[error("no resource {name} in cluster {cluster} (lock resources: {known})")]
    UnknownResource {
        /// The name asked for.
        name: String,
        /// Cluster name.
        cluster: String,
        /// The table, comma-separated.
        known: String,
    },
    /// A lock id this node never handed out or already released.
    #[error("no lock {lock:#x} on this node")]
    UnknownLock {
        /// The lock id.
        lock: u32,
    },
    /// A request on this lock is in flight.
    #[error("lock {lock:#x} has a request in progress")]
    Busy {
        /// The lock id.
        lock: u32,
    },
    /// The node is not running (crashed, halted, not booted).
    #[error("the node is down")]
    NotRunning,
    /// The incarnation ended before the request completed; its locks are gone.
    #[error("the node went down (crash, reboot or CLUEXIT) before the request completed; its locks are gone")]
    NodeDown,
    /// Every external lock id of this node is in use.
    #[error("no free lock id")]
    NoFreeId,
    /// The driver's inbox refused the message.
    #[error(transparent)]
    Inbox(#[from] LocalSendError),
}

/// The event line for a BAST on `lock` (what a connection receives unsolicited).
pub fn bast_event(info: Option<&LockInfo>, lock: LockId) -> Value {
    json!({
        "event": "bast",
        "lock_id": lock.0,
        "resource": info.map(|i| i.resource.clone()),
        "granted_mode": info.and_then(|i| i.granted_mode),
    })
}

/// A request handed to the lock manager ([`LockService::issue`]), and its completion to come.
#[derive(Debug)]
pub struct Issued {
    /// The lock the request acts on (for `enq`, the new lock's id).
    pub lock: LockId,
    reply: oneshot::Receiver<Result<LockReply, LockError>>,
}

impl Issued {
    /// Waits for the completion.
    ///
    /// # Errors
    ///
    /// [`LockError::NodeDown`] if the node went down before the request completed.
    pub async fn completion(self) -> Result<LockReply, LockError> {
        self.reply.await.unwrap_or(Err(LockError::NodeDown))
    }
}

/// One node's lock clients (see the module doc).
pub struct LockService {
    actor: NodeActor,
    sender: LocalSender<Msg>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The running incarnation; `None` while the node is down.
    nonce: Option<BootNonce>,
    /// The last lock sequence number handed out.
    seq: u32,
    /// A waiter per lock with a request in flight.
    waiting: HashMap<LockId, oneshot::Sender<Result<LockReply, LockError>>>,
    /// Waiters for the next BAST, per lock.
    bast_waiting: HashMap<LockId, Vec<oneshot::Sender<()>>>,
    /// The node's external locks after the last step that changed them.
    locks: BTreeMap<LockId, LockInfo>,
    /// The connection that last issued a request on each lock.
    listeners: HashMap<LockId, Listener>,
}

impl Inner {
    /// The incarnation ended: fail every request in flight, forget every lock.
    fn down(&mut self, nonce: Option<BootNonce>) {
        self.nonce = nonce;
        for (_, waiter) in self.waiting.drain() {
            let _ = waiter.send(Err(LockError::NodeDown));
        }
        self.bast_waiting.clear();
        self.locks.clear();
        self.listeners.clear();
    }

    fn next_id(&mut self, me: usize) -> Result<LockId, LockError> {
        for _ in 0..EXTERNAL_SEQ_MAX {
            self.seq = self.seq % EXTERNAL_SEQ_MAX + 1;
            let id = external_lock_id(me, self.seq).ok_or(LockError::NoFreeId)?;
            if !self.locks.contains_key(&id) && !self.waiting.contains_key(&id) {
                return Ok(id);
            }
        }
        Err(LockError::NoFreeId)
    }
}

impl LockService {
    /// The lock clients of `actor`'s node, sending through `sender` (the driver's local inbox).
    pub fn new(actor: NodeActor, sender: LocalSender<Msg>) -> Self {
        Self {
            actor,
            sender,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing panics while the lock is held.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn resource(&self, res: u8) -> Option<String> {
        self.actor.spec.resources.get(usize::from(res)).cloned()
    }

    /// Issues `request` and waits for its completion; `listener` receives the lock's BASTs.
    ///
    /// # Errors
    ///
    /// [`LockError`] if the request cannot be issued, or the node went down before it
    /// completed. A refusal by the lock manager is a reply with `success: false`.
    pub async fn request(
        &self,
        request: &LockRequest,
        listener: Option<&Listener>,
    ) -> Result<LockReply, LockError> {
        self.issue(request, listener)?.completion().await
    }

    /// Issues `request` (hands it to the node's lock manager) without waiting for its
    /// completion; `listener` receives the lock's BASTs. The request stays queued at the node
    /// whether or not anyone waits for the [`Issued`] it returns.
    ///
    /// # Errors
    ///
    /// [`LockError`] if the request cannot be issued.
    pub fn issue(
        &self,
        request: &LockRequest,
        listener: Option<&Listener>,
    ) -> Result<Issued, LockError> {
        let spec = &self.actor.spec;
        if !self.actor.dlm_enabled() {
            return Err(LockError::Disabled {
                cluster: spec.name.clone(),
            });
        }
        let (lock, res, op) = match &request.op {
            LockOp::Enq { resource, mode } => {
                let res = self.actor.resource_index(resource).ok_or_else(|| {
                    LockError::UnknownResource {
                        name: resource.clone(),
                        cluster: spec.name.clone(),
                        known: spec.resources.join(", "),
                    }
                })?;
                (None, res, Op::Enq(*mode))
            }
            LockOp::Convert { lock, mode } => (Some(*lock), 0, Op::Cvt(*mode)),
            LockOp::Deq { lock } => (Some(*lock), 0, Op::Deq),
        };
        let issued = {
            let mut inner = self.lock();
            let nonce = inner.nonce.ok_or(LockError::NotRunning)?;
            let lock = match lock {
                Some(lock) if inner.waiting.contains_key(&lock) => {
                    return Err(LockError::Busy { lock: lock.0 })
                }
                Some(lock) => lock,
                None => inner.next_id(self.actor.me)?,
            };
            let msg = ClientRequest {
                lock,
                res,
                op,
                flags: request.flags,
                value: request.value,
            }
            .into_msg();
            self.sender.send(nonce, msg)?;
            let (tx, rx) = oneshot::channel();
            inner.waiting.insert(lock, tx);
            if let Some(listener) = listener {
                inner.listeners.insert(lock, listener.clone());
            }
            Issued { lock, reply: rx }
        };
        Ok(issued)
    }

    /// Waits up to `timeout` for a BAST on `lock`; true at once if one arrived since the lock's
    /// last grant.
    ///
    /// # Errors
    ///
    /// [`LockError::UnknownLock`] if the node holds no such lock.
    pub async fn wait_blocking(&self, lock: LockId, timeout: Duration) -> Result<bool, LockError> {
        let receiver = {
            let mut inner = self.lock();
            match inner.locks.get(&lock) {
                None => return Err(LockError::UnknownLock { lock: lock.0 }),
                Some(info) if info.blocking => return Ok(true),
                Some(_) => {}
            }
            let (tx, rx) = oneshot::channel();
            let waiters = inner.bast_waiting.entry(lock).or_default();
            // Waiters that gave up (their connection closed) go now, not at the next BAST.
            waiters.retain(|w| !w.is_closed());
            waiters.push(tx);
            rx
        };
        Ok(matches!(
            tokio::time::timeout(timeout, receiver).await,
            Ok(Ok(()))
        ))
    }

    /// The node's external locks, by id.
    pub fn locks(&self) -> Vec<LockInfo> {
        self.lock().locks.values().cloned().collect()
    }

    /// The node was crashed or rebooted on request: fail what is in flight.
    pub fn node_down(&self) {
        self.lock().down(None);
    }

    fn info(&self, l: &LocalLock) -> LockInfo {
        let pending = l.pending.map(|p| match p.op {
            Op::Enq(m) => format!("enq {m}"),
            Op::Cvt(m) => format!("convert {m}"),
            Op::Deq => "deq".to_string(),
        });
        LockInfo {
            lock_id: l.id.0,
            resource: self.resource(l.res).unwrap_or_default(),
            granted_mode: l.granted,
            usable_mode: usable_mode(l),
            pending,
            blocking: l.blocking,
            value: l.value.map(|(v, _)| hex(&v)),
            valid: l.value.map(|(_, valid)| valid),
        }
    }

    fn reply(&self, c: &Completion) -> LockReply {
        LockReply {
            status: status_name(c.status).to_string(),
            success: matches!(c.status, Status::Normal | Status::ValNotValid),
            lock_id: c.lock.0,
            resource: (c.status != Status::IvLockId)
                .then(|| self.resource(c.res))
                .flatten(),
            granted_mode: c.mode,
            value: c.value.map(|(v, _)| hex(&v)),
            valid: c.value.map(|(_, valid)| valid),
        }
    }
}

impl Observer<NodeActor> for LockService {
    fn started(&self, nonce: BootNonce, _state: &NodeState, _out: &[ActorCommand<NodeActor>]) {
        self.lock().down(Some(nonce));
    }

    fn stepped(&self, old: &NodeState, new: &NodeState, out: &[ActorCommand<NodeActor>]) {
        let me = stateright::actor::Id::from(self.actor.me);
        let mut inner = self.lock();
        if new.exited.is_some() {
            // A CLUEXIT: the incarnation is over.
            inner.down(None);
            return;
        }
        if !ptr::eq(old, new) && old.dlm.locks != new.dlm.locks {
            inner.locks = new
                .dlm
                .locks
                .iter()
                .filter(|l| is_external(l.id))
                .map(|l| (l.id, self.info(l)))
                .collect();
        }
        for command in out {
            let Command::Send(dst, msg) = command else {
                continue;
            };
            let Some(c) = client_msg(msg).filter(|_| *dst == me) else {
                continue;
            };
            match c {
                ClientMsg::Completion(c) => {
                    if let Some(waiter) = inner.waiting.remove(&c.lock) {
                        let _ = waiter.send(Ok(self.reply(c)));
                    }
                    if c.mode.is_none() {
                        inner.listeners.remove(&c.lock);
                        inner.bast_waiting.remove(&c.lock);
                    }
                }
                ClientMsg::Blocking { lock, .. } => {
                    for waiter in inner.bast_waiting.remove(lock).unwrap_or_default() {
                        let _ = waiter.send(());
                    }
                    let event = bast_event(inner.locks.get(lock), *lock);
                    if let Some(listener) = inner.listeners.get(lock) {
                        if listener.try_send(event).is_err() {
                            tracing::debug!(lock = lock.0, "BAST event not delivered");
                        }
                    }
                }
                ClientMsg::Request(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_requests_parse_and_print_back() {
        for line in [
            "enq R1 EX",
            "enq DB.ROOT PR VALBLK NOQUEUE",
            "enq R1 NL EXPEDITE",
            "convert 0x40000001 NL value=01020000000000000000000000000000",
            "convert 0x40000001 EX NOQUEUE QUECVT",
            "deq 0x40000002",
            "deq 0x40000002 value=ff000000000000000000000000000000",
        ] {
            let (verb, args) = line.split_once(' ').expect("verb");
            let words: Vec<&str> = args.split_whitespace().collect();
            let request = LockRequest::parse(verb, &words).expect(line);
            assert_eq!(request.to_string(), line);
        }
        let r = LockRequest::parse("convert", &["1073741825", "pr", "value=0102"]).expect("ok");
        assert_eq!(
            r,
            LockRequest {
                op: LockOp::Convert {
                    lock: LockId(0x4000_0001),
                    mode: Mode::PR
                },
                flags: Flags::VALBLK,
                value: Some(ValueBlock([1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
            }
        );
        let err = |verb: &str, words: &[&str]| LockRequest::parse(verb, words).unwrap_err();
        assert_eq!(
            err("enq", &["R1", "XX"]),
            "enq: unknown lock mode `XX` (expected one of NL, CR, CW, PR, PW, EX)"
        );
        assert_eq!(
            err("enq", &["R1", "EX", "SYNCSTS"]),
            "enq: \"SYNCSTS\" is not a flag (VALBLK, NOQUEUE, QUECVT, EXPEDITE) or value=HEX"
        );
        assert_eq!(
            err("convert", &["lock7", "EX"]),
            "convert: \"lock7\" is not a lock id (decimal, or hex with 0x)"
        );
        assert_eq!(
            err("deq", &["1", "value=123"]),
            "deq: value=\"123\" is not 1 to 16 bytes of hex (an even number of digits)"
        );
        assert_eq!(
            err("deq", &["1", "NOQUEUE"]),
            "deq: flag NOQUEUE is not allowed (only VALBLK, value=HEX)"
        );
        assert!(err("enq", &["R1"]).starts_with("enq: wrong arguments; usage: enq RESOURCE"));
        assert!(err("enq", &["a b", "EX"]).starts_with("enq: \"a b\" is not a resource name"));
    }
}
