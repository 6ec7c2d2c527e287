//! The node's local control endpoint: SHOW CLUSTER, counters and fault injection over TCP.
//!
//! # Protocol
//!
//! A node listens on TCP `127.0.0.1:PORT` (by default the port number of its UDP address; see
//! `vmsc node --control-port`). The protocol is line-oriented UTF-8, so `nc 127.0.0.1 7001` is a
//! client:
//!
//! * A **request** is one line of whitespace-separated words; the verb is case-insensitive,
//!   node names are not case-sensitive either. A line that is not UTF-8 is answered with an
//!   error and ignored; a line longer than [`REQUEST_BYTES_MAX`] (4096) bytes is answered with
//!   an error, and the connection closes.
//! * Every request gets exactly one **response** line: a JSON object with `"ok": true` and
//!   `"reply": VERB` plus the verb's fields, or `"ok": false` and `"error": TEXT`. Responses come
//!   in request order. Lines with `"event"` (and no `"reply"`) may come between them (see
//!   "Lock requests"); a client skips events it does not know.
//!
//! | request                     | response fields                                            |
//! |-----------------------------|------------------------------------------------------------|
//! | `show` or `show cluster`    | `text` (SHOW CLUSTER), `node` ([`NodeStatus`])             |
//! | `stats`                     | `node`, `life`, `stats` (the driver's counters, all incarnations), `control` (slots in use, [`Slots::counts`]) |
//! | `cut PEER [both\|out\|in]`    | `cuts`: this node's directed cuts, `[[FROM, TO], ...]`     |
//! | `heal PEER` or `heal all`   | `cuts`                                                     |
//! | `crash`                     | — (the node stops; hellos cease; storage survives)         |
//! | `reboot`                    | — (crash if running, then boot a new incarnation)          |
//! | `shutdown`                  | — (the node process exits after replying)                  |
//! | `enq RES MODE [FLAG…] [value=HEX]` | a lock reply (below), once the request completed    |
//! | `convert LOCKID MODE [FLAG…] [value=HEX]` | a lock reply                                 |
//! | `deq LOCKID [VALBLK] [value=HEX]` | a lock reply                                         |
//! | `bast LOCKID [TIMEOUT_MS]`  | `lock_id`, `blocking`: a BAST arrived (waits up to TIMEOUT_MS, default 0) |
//! | `locks`                     | `node`, `locks`: this node's external locks ([`LockInfo`]) |
//! | `help`                      | `text`                                                     |
//!
//! `cut PEER` drops everything this node sends to PEER and everything it receives from PEER
//! (`out`: only what it sends, `in`: only what it receives), inside the runtime's send and
//! receive paths. A cut affects only this node's end; `vmsc run` cuts a link at both ends.
//! `one_way` is accepted as a synonym of `out`.
//!
//! # Lock requests
//!
//! The lock manager's client interface ([`crate::cluster::locks`], [`vmsc_model::dlm::external`]):
//!
//! * `enq RES MODE`: a new lock on `RES`, a resource of the cluster file's table (`[locks]
//!   resources`, plus the scripts' names); `MODE` is NL CR CW PR PW EX. `convert LOCKID MODE`
//!   and `deq LOCKID` act on a lock this node holds; `LOCKID` is decimal or `0x` hex.
//! * Flags (case-insensitive): `VALBLK` (read the value block on a grant; write it on a
//!   conversion down from PW/EX or a `deq` from PW/EX), `NOQUEUE` (refuse instead of waiting),
//!   `QUECVT` (convert: queue behind other conversions), `EXPEDITE` (enq NL: grant at once).
//!   `value=HEX` (1–16 bytes, zero-filled) is the value to write and implies VALBLK.
//! * Once the node has read a lock request and handed it to its lock manager, it writes the
//!   event line `{"event":"queued","lock_id":N}` (for `enq`, the new lock's id): like `$ENQ`'s
//!   own return status, it says the request is queued, not that it completed. A request the
//!   node refuses to issue (`"ok": false`) gets no `queued` line.
//! * The response comes when the request **completes** (`$ENQW`): a request that must wait for
//!   an incompatible lock answers once it is granted. Its fields: `status` (`normal`,
//!   `not_queued`, `val_not_valid`, `iv_lock_id`, `cvt_ungrant`, `bad_param`,
//!   `illegal_conversion`, ...), `success` (`normal` or `val_not_valid`), `lock_id` (a number),
//!   `resource`, `granted_mode` (null once released or never granted), `value` (32 hex digits,
//!   the value block a VALBLK grant read, else null) and `valid`.
//! * `"ok": false` means the request was not issued (a bad line, an unknown resource, no lock
//!   manager, the node down, a request already in flight on that lock) or the node went down
//!   before it completed.
//! * Locks belong to the node, not to the connection: they survive it, and any connection may
//!   convert or release them. They are lost when the node crashes, reboots or exits.
//! * **Blocking ASTs.** When a granted lock blocks another request, the connection that last
//!   issued a request on that lock receives an unsolicited line
//!   `{"event":"bast","lock_id":N,"resource":R,"granted_mode":M}` (between responses, or while
//!   it waits for one). Event lines carry `"event"` and never `"reply"`, so a client tells them
//!   apart without state; clients must ignore keys they do not know. For scripts, `bast LOCKID
//!   [TIMEOUT_MS]` answers `"blocking": true` as soon as the lock has had a BAST since its last
//!   grant (at once if it already has), or `false` after the timeout.
//!
//! # Connections
//!
//! A connection's requests are answered one at a time, in order; it may send up to
//! [`PIPELINED_MAX`] requests ahead of their answers (beyond that it gets an error line and is
//! closed). The endpoint's limits are slots, never a queue:
//!
//! * **Connection slots** ([`CONNECTIONS_MAX`]): an open connection holds one, except while it
//!   waits for a lock. A connection beyond the limit is answered at once with one
//!   `"ok": false` line and closed; it never waits in the listen backlog.
//! * **Lock-wait slots** ([`LOCK_WAITS_MAX`]): a request that may wait for another client (a
//!   lock request, a `bast` with a timeout) trades its connection slot for a lock-wait slot
//!   until it is answered, then takes a connection slot again (waiting in line for one, ahead
//!   of new connections). So clients waiting for locks never keep out the `deq` that would
//!   grant them, nor `show`, `stats`, `crash` or `shutdown`. When every lock-wait slot is
//!   taken, `enq`, `convert` and `bast` are refused (not issued) and a `deq`, which never
//!   waits for another client, waits in its connection slot. `stats` reports the slots in use
//!   (`"control"`).
//! * **A client that goes away releases its slots.** When the client's input ends (it exited,
//!   closed the connection, or shut down its sending side) or fails, a request waiting for a
//!   lock or a BAST is no longer waited for and the connection closes: a client must keep its
//!   sending side open until its answers arrive. The lock request itself stays queued at the
//!   node (locks belong to the node, below) and completes there; `locks` shows it. Requests
//!   that do not wait are answered before the connection closes, so `printf 'show\n' | nc -N
//!   HOST PORT` gets its answer.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use vmsc_model::config::ClusterSpec;
use vmsc_model::dlm::LockId;

use crate::cluster::console::{vms_time, Console, NodeStatus};
use crate::cluster::locks::{
    parse_lock_id, Listener, LockError, LockInfo, LockReply, LockRequest, LockService, LOCK_USAGE,
};
use crate::faults::{CutKind, Faults};
use crate::node::NodeIndex;
use crate::stats::StatsHandle;
use crate::supervisor::{Request as Lifecycle, SupervisorHandle};

mod server;

pub use server::{serve, Slots, ACCEPT_RETRY, REJECTS_MAX, REJECT_LINGER};

/// Longest request line accepted, in bytes.
pub const REQUEST_BYTES_MAX: usize = 4096;

/// Most connections served at once, not counting those waiting for a lock; a further one gets
/// an error line and is closed.
pub const CONNECTIONS_MAX: usize = 16;

/// Most connections waiting at once for a lock completion or a BAST (see "Connections").
pub const LOCK_WAITS_MAX: usize = 64;

/// Most requests a connection may send ahead of their answers; beyond, it gets an error line
/// and is closed.
pub const PIPELINED_MAX: usize = 16;

/// Which directions of a link `cut` drops, seen from this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent and received.
    Both,
    /// Received from the peer only.
    In,
    /// Sent to the peer only.
    Out,
}

/// A parsed control request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Wait up to `timeout_ms` for a BAST on `lock`.
    Bast {
        /// The lock.
        lock: LockId,
        /// How long to wait, in ms (0: answer at once).
        timeout_ms: u64,
    },
    /// Drop this node's datagrams to and/or from `peer`.
    Cut {
        /// A node name.
        peer: String,
        /// Which directions.
        direction: Direction,
    },
    /// Crash the node.
    Crash,
    /// Restore this node's links to `peer`, or every link (`None`).
    Heal {
        /// A node name, or `None` for all.
        peer: Option<String>,
    },
    /// List the requests.
    Help,
    /// `enq`, `convert` or `deq`.
    Lock(LockRequest),
    /// This node's external locks.
    Locks,
    /// Crash if running, then boot.
    Reboot,
    /// SHOW CLUSTER and the node's status.
    Show,
    /// Stop the node process.
    Shutdown,
    /// The driver's counters.
    Stats,
}

/// The `help` text.
const HELP: &str = "show [cluster] | stats | cut PEER [both|out|in] | heal PEER|all | crash | reboot | shutdown | enq RESOURCE MODE [FLAG...] [value=HEX] | convert LOCKID MODE [FLAG...] [value=HEX] | deq LOCKID [value=HEX] | bast LOCKID [TIMEOUT_MS] | locks | help";

impl Request {
    /// True for a request that may wait for another client: a lock request (a queued `enq` or
    /// `convert` waits for the locks that block it) or a `bast` with a timeout.
    pub fn waits(&self) -> bool {
        match self {
            Self::Lock(_) => true,
            Self::Bast { timeout_ms, .. } => *timeout_ms > 0,
            _ => false,
        }
    }

    /// Parses one request line.
    ///
    /// # Errors
    ///
    /// A message naming what is wrong (unknown verb, missing or extra words).
    pub fn parse(line: &str) -> Result<Self, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((verb, args)) = words.split_first() else {
            return Err(format!("empty request; try: {HELP}"));
        };
        let verb = verb.to_ascii_lowercase();
        let request = match (verb.as_str(), args) {
            ("show", []) => Self::Show,
            ("show", [what]) if what.eq_ignore_ascii_case("cluster") => Self::Show,
            ("stats", []) => Self::Stats,
            ("cut", [peer]) => Self::Cut {
                peer: peer.to_string(),
                direction: Direction::Both,
            },
            ("cut", [peer, dir]) => {
                let direction = match dir.to_ascii_lowercase().as_str() {
                    "both" => Direction::Both,
                    "out" | "one_way" => Direction::Out,
                    "in" => Direction::In,
                    other => {
                        return Err(format!("cut: direction {other:?} is not both, out or in"))
                    }
                };
                Self::Cut {
                    peer: peer.to_string(),
                    direction,
                }
            }
            ("heal", [all]) if all.eq_ignore_ascii_case("all") => Self::Heal { peer: None },
            ("heal", [peer]) => Self::Heal {
                peer: Some(peer.to_string()),
            },
            ("crash", []) => Self::Crash,
            ("reboot", []) => Self::Reboot,
            ("shutdown", []) => Self::Shutdown,
            ("help", []) => Self::Help,
            ("enq" | "convert" | "deq", _) => Self::Lock(LockRequest::parse(&verb, args)?),
            ("locks", []) => Self::Locks,
            ("bast", [lock]) => Self::Bast {
                lock: parse_lock_id("bast", lock)?,
                timeout_ms: 0,
            },
            ("bast", [lock, ms]) => Self::Bast {
                lock: parse_lock_id("bast", lock)?,
                timeout_ms: ms
                    .parse()
                    .map_err(|_| format!("bast: {ms:?} is not a timeout in ms (a whole number)"))?,
            },
            ("bast" | "locks", _) => {
                return Err(format!("{verb}: wrong arguments; usage: {LOCK_USAGE}"))
            }
            ("show" | "stats" | "cut" | "heal" | "crash" | "reboot" | "shutdown" | "help", _) => {
                return Err(format!("{verb}: wrong arguments; usage: {HELP}"))
            }
            _ => return Err(format!("unknown request {verb:?}; try: {HELP}")),
        };
        Ok(request)
    }
}

impl fmt::Display for Request {
    /// The request line [`Request::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cut { peer, direction } => {
                let dir = match direction {
                    Direction::Both => "both",
                    Direction::In => "in",
                    Direction::Out => "out",
                };
                write!(f, "cut {peer} {dir}")
            }
            Self::Crash => f.write_str("crash"),
            Self::Heal { peer: Some(peer) } => write!(f, "heal {peer}"),
            Self::Heal { peer: None } => f.write_str("heal all"),
            Self::Help => f.write_str("help"),
            Self::Lock(request) => write!(f, "{request}"),
            Self::Locks => f.write_str("locks"),
            Self::Bast { lock, timeout_ms } => write!(f, "bast {:#x} {timeout_ms}", lock.0),
            Self::Reboot => f.write_str("reboot"),
            Self::Show => f.write_str("show cluster"),
            Self::Shutdown => f.write_str("shutdown"),
            Self::Stats => f.write_str("stats"),
        }
    }
}

/// What the endpoint serves: one node's console, supervisor, faults and counters.
#[derive(Clone)]
pub struct ControlContext {
    /// The cluster file (for node names).
    pub spec: Arc<ClusterSpec>,
    /// This node's index.
    pub me: usize,
    /// The node's console (state and SHOW CLUSTER).
    pub console: Arc<Console>,
    /// The node's supervisor.
    pub supervisor: SupervisorHandle,
    /// The node's fault table.
    pub faults: Faults,
    /// The node's counters.
    pub stats: StatsHandle,
    /// Set to true when a `shutdown` request arrives.
    pub shutdown: watch::Sender<bool>,
    /// The node's lock clients.
    pub locks: Arc<LockService>,
    /// The endpoint's connection and lock-wait slots.
    pub slots: Slots,
}

impl ControlContext {
    /// Answers one request line with one JSON response; `listener` (the connection's event
    /// lines) receives the BASTs of the locks this request acts on.
    pub async fn answer(&self, line: &str, listener: Option<&Listener>) -> Value {
        match Request::parse(line) {
            Ok(request) => self.answer_request(&request, listener).await,
            Err(error) => json!({"ok": false, "error": error}),
        }
    }

    /// Answers one parsed request with one JSON response (see [`ControlContext::answer`]).
    pub async fn answer_request(&self, request: &Request, listener: Option<&Listener>) -> Value {
        respond(request, self.execute(request, listener).await)
    }

    async fn execute(
        &self,
        request: &Request,
        listener: Option<&Listener>,
    ) -> Result<Value, String> {
        let name = &self.spec.nodes[self.me].name;
        match request {
            Request::Show => {
                let life = self.supervisor.life();
                Ok(json!({
                    "text": self.console.show_cluster(&life, &vms_time(SystemTime::now())),
                    "node": self.console.status(&life),
                }))
            }
            Request::Stats => Ok(json!({
                "node": name,
                "life": self.supervisor.life(),
                "stats": self.stats.stats(),
                "control": self.slots.counts(),
            })),
            Request::Cut { peer, direction } => {
                let (me, peer) = (self.index(self.me), self.index(self.peer(peer)?));
                match direction {
                    Direction::Both => self.faults.cut(me, peer, CutKind::BothWays),
                    Direction::Out => self.faults.cut(me, peer, CutKind::OneWay),
                    Direction::In => self.faults.cut(peer, me, CutKind::OneWay),
                }
                Ok(json!({"cuts": self.cuts()}))
            }
            Request::Heal { peer } => {
                match peer {
                    None => self.faults.heal_all(),
                    Some(peer) => self
                        .faults
                        .heal(self.index(self.me), self.index(self.peer(peer)?)),
                }
                Ok(json!({"cuts": self.cuts()}))
            }
            Request::Crash | Request::Reboot => {
                let lifecycle = if *request == Request::Crash {
                    Lifecycle::Crash
                } else {
                    Lifecycle::Reboot
                };
                let done = self.supervisor.request(lifecycle).await;
                self.locks.node_down();
                if done {
                    Ok(json!({}))
                } else {
                    Err("the node is shutting down".into())
                }
            }
            Request::Shutdown => {
                self.shutdown.send_replace(true);
                Ok(json!({}))
            }
            Request::Help => Ok(json!({"text": HELP})),
            Request::Lock(lock) => lock_result(lock, self.locks.request(lock, listener).await),
            Request::Locks => {
                let locks: Vec<LockInfo> = self.locks.locks();
                Ok(json!({"node": name, "locks": locks}))
            }
            Request::Bast { lock, timeout_ms } => {
                let timeout = std::time::Duration::from_millis(*timeout_ms);
                let blocking = self
                    .locks
                    .wait_blocking(*lock, timeout)
                    .await
                    .map_err(|e| format!("bast: {e}"))?;
                Ok(json!({"lock_id": lock.0, "blocking": blocking}))
            }
        }
    }

    fn peer(&self, name: &str) -> Result<usize, String> {
        match self.spec.node_index(name) {
            Some(i) if i == self.me => Err(format!("{name} is this node")),
            Some(i) => Ok(i),
            None => Err(format!("no node {name:?} in cluster {}", self.spec.name)),
        }
    }

    fn index(&self, i: usize) -> NodeIndex {
        // Cluster files hold at most 32 nodes.
        NodeIndex::new(i as u16)
    }

    fn cuts(&self) -> Vec<[String; 2]> {
        let name = |n: NodeIndex| {
            self.spec
                .nodes
                .get(n.as_usize())
                .map_or_else(|| n.to_string(), |s| s.name.clone())
        };
        self.faults
            .cuts()
            .into_iter()
            .map(|(a, b)| [name(a), name(b)])
            .collect()
    }
}

/// The response line for `request`'s result: `"ok": true` and `"reply"` with the fields, or
/// `"ok": false` and `"error"`.
fn respond(request: &Request, result: Result<Value, String>) -> Value {
    match result {
        Ok(mut value) => {
            value["ok"] = json!(true);
            value["reply"] = json!(verb(request));
            value
        }
        Err(error) => json!({"ok": false, "error": error}),
    }
}

/// The fields of a lock request's response, or its error text.
fn lock_result(lock: &LockRequest, reply: Result<LockReply, LockError>) -> Result<Value, String> {
    let reply = reply.map_err(|e| lock_error(lock, &e))?;
    serde_json::to_value(reply).map_err(|e| e.to_string())
}

fn lock_error(lock: &LockRequest, error: &LockError) -> String {
    format!("{}: {error}", lock.verb())
}

fn verb(request: &Request) -> &'static str {
    match request {
        Request::Bast { .. } => "bast",
        Request::Lock(lock) => lock.verb(),
        Request::Locks => "locks",
        Request::Cut { .. } => "cut",
        Request::Crash => "crash",
        Request::Heal { .. } => "heal",
        Request::Help => "help",
        Request::Reboot => "reboot",
        Request::Show => "show",
        Request::Shutdown => "shutdown",
        Request::Stats => "stats",
    }
}

/// Binds the control endpoint at `addr`.
///
/// # Errors
///
/// The OS error if the address cannot be bound.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// A client of one node's control endpoint (what `vmsc run` and `vmsc lock` use). Event lines
/// that arrive before a response are kept for [`ControlClient::next_event`].
#[derive(Debug)]
pub struct ControlClient {
    addr: SocketAddr,
    lines: BufReader<tokio::net::tcp::OwnedReadHalf>,
    write: tokio::net::tcp::OwnedWriteHalf,
    events: std::collections::VecDeque<Value>,
    queued: Option<LockId>,
}

/// Why a control request failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Connecting, writing or reading failed.
    #[error("control endpoint {addr}: {source}")]
    Io {
        /// The endpoint.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The node closed the connection.
    #[error("control endpoint {addr} closed the connection")]
    Closed {
        /// The endpoint.
        addr: SocketAddr,
    },
    /// The response is not a JSON object.
    #[error("control endpoint {addr} sent a bad response: {line:?}")]
    BadResponse {
        /// The endpoint.
        addr: SocketAddr,
        /// The line received.
        line: String,
    },
    /// The node refused the request.
    #[error("control endpoint {addr} refused {request:?}: {error}")]
    Refused {
        /// The endpoint.
        addr: SocketAddr,
        /// The request line.
        request: String,
        /// The node's error text.
        error: String,
    },
}

impl ControlClient {
    /// Connects to the endpoint at `addr`.
    ///
    /// # Errors
    ///
    /// [`ControlError::Io`] if the connection is refused.
    pub async fn connect(addr: SocketAddr) -> Result<Self, ControlError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| ControlError::Io { addr, source })?;
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        Ok(Self {
            addr,
            lines: BufReader::new(read),
            write,
            events: std::collections::VecDeque::new(),
            queued: None,
        })
    }

    /// The endpoint's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends `request` and returns the node's `"ok": true` response.
    ///
    /// # Errors
    ///
    /// [`ControlError`] on IO failure, a closed connection, a malformed response, or a refusal.
    pub async fn request(&mut self, request: &Request) -> Result<Value, ControlError> {
        let addr = self.addr;
        let io = |source| ControlError::Io { addr, source };
        self.queued = None;
        self.write
            .write_all(format!("{request}\n").as_bytes())
            .await
            .map_err(io)?;
        let value = loop {
            let value = self.read_value().await?;
            if let Some(lock) = queued(&value) {
                self.queued = Some(lock);
            } else if is_event(&value) {
                self.events.push_back(value);
            } else {
                break value;
            }
        };
        if value["ok"] == json!(true) {
            Ok(value)
        } else {
            Err(ControlError::Refused {
                addr,
                request: request.to_string(),
                error: value["error"]
                    .as_str()
                    .unwrap_or("no error text")
                    .to_string(),
            })
        }
    }

    /// The lock the node reported `queued` for the last lock request sent with
    /// [`ControlClient::request`]: set once the node has read and issued the request, even if
    /// the request was given up (its future dropped) before the response came.
    pub fn queued(&self) -> Option<LockId> {
        self.queued
    }

    /// The next event line (a BAST): one kept while waiting for a response, or the next one
    /// to arrive (`queued` acknowledgements are not passed on).
    ///
    /// # Errors
    ///
    /// [`ControlError`] on IO failure, a closed connection or a malformed line.
    pub async fn next_event(&mut self) -> Result<Value, ControlError> {
        if let Some(event) = self.events.pop_front() {
            return Ok(event);
        }
        loop {
            let value = self.read_value().await?;
            if is_event(&value) && queued(&value).is_none() {
                return Ok(value);
            }
        }
    }

    async fn read_value(&mut self) -> Result<Value, ControlError> {
        let addr = self.addr;
        let mut line = String::new();
        let n = (&mut self.lines)
            .take(1 << 20)
            .read_line(&mut line)
            .await
            .map_err(|source| ControlError::Io { addr, source })?;
        if n == 0 {
            return Err(ControlError::Closed { addr });
        }
        serde_json::from_str(&line).map_err(|_| ControlError::BadResponse { addr, line })
    }

    /// `show cluster`: the SHOW CLUSTER text and the node's status.
    ///
    /// # Errors
    ///
    /// As [`ControlClient::request`], plus [`ControlError::BadResponse`] if the status does not
    /// parse.
    pub async fn show(&mut self) -> Result<(String, NodeStatus), ControlError> {
        let value = self.request(&Request::Show).await?;
        let text = value["text"].as_str().unwrap_or_default().to_string();
        let status = serde_json::from_value(value["node"].clone()).map_err(|_| {
            ControlError::BadResponse {
                addr: self.addr,
                line: value.to_string(),
            }
        })?;
        Ok((text, status))
    }
}

/// True for an unsolicited event line (it has `"event"` and no `"reply"`).
fn is_event(value: &Value) -> bool {
    value.get("event").is_some() && value.get("reply").is_none()
}

/// The lock of a `queued` event line.
fn queued(value: &Value) -> Option<LockId> {
    if !is_event(value) || value["event"] != "queued" {
        return None;
    }
    let lock = value["lock_id"].as_u64()?;
    u32::try_from(lock).ok().map(LockId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_print_back() {
        for line in [
            "show cluster",
            "stats",
            "cut UK1 both",
            "cut UK1 out",
            "cut UK1 in",
            "heal UK1",
            "heal all",
            "crash",
            "reboot",
            "shutdown",
            "help",
        ] {
            let request = Request::parse(line).expect(line);
            assert_eq!(request.to_string(), line);
            assert_eq!(Request::parse(&request.to_string()), Ok(request));
        }
        assert_eq!(Request::parse("SHOW"), Ok(Request::Show));
        assert_eq!(
            Request::parse("cut chic1"),
            Ok(Request::Cut {
                peer: "chic1".into(),
                direction: Direction::Both
            })
        );
        assert_eq!(
            Request::parse("cut UK1 one_way"),
            Ok(Request::Cut {
                peer: "UK1".into(),
                direction: Direction::Out
            })
        );
        assert!(Request::parse("").unwrap_err().starts_with("empty request"));
        assert!(Request::parse("enq")
            .unwrap_err()
            .starts_with("enq: wrong arguments"));
        for line in [
            "enq R1 EX VALBLK",
            "convert 0x40000001 NL",
            "deq 0x40000001",
            "locks",
            "bast 0x40000001 100",
        ] {
            let request = Request::parse(line).expect(line);
            assert_eq!(request.to_string(), line);
        }
        assert_eq!(
            Request::parse("bast 7 soon"),
            Err("bast: \"soon\" is not a timeout in ms (a whole number)".into())
        );
        assert!(Request::parse("cut")
            .unwrap_err()
            .starts_with("cut: wrong arguments"));
        assert_eq!(
            Request::parse("cut UK1 sideways"),
            Err("cut: direction \"sideways\" is not both, out or in".into())
        );
    }
}
