//! [`NodeDriver`]: runs one Stateright [`Actor`] as one cluster node on one UDP socket.
//!
//! The driver contains no protocol logic. It does exactly what the checker does with an actor,
//! with real time and a real network in place of the checker's nondeterminism:
//!
//! | checker (`ActorModel`)               | driver                                                 |
//! |--------------------------------------|--------------------------------------------------------|
//! | `Id::from(i)` for actor `i`          | `Id::from(i)`, `i` = position in the [`Peers`] table    |
//! | `on_start(id, &storage, out)`        | the same, once per incarnation, storage from a cell     |
//! | `Deliver { src, dst, msg }`          | datagram received and decoded, then `on_msg`            |
//! | `Timeout(id, timer)`                 | a tokio deadline from `SetTimer`'s range                |
//! | `Crash` / `Recover`                  | [`NodeHandle::crash`] / a new driver, new boot nonce    |
//! | ordered network, per-flow FIFO       | one FIFO delay queue per destination, seq-checked       |
//! | failure detector (in the model)      | circuits: hellos, listen timeout, [`CircuitEvents`]     |
//!
//! # Calling contract
//!
//! * Build with [`NodeDriver::new`] (an already-bound socket and the address table, so tests can
//!   bind `127.0.0.1:0`) or [`NodeDriver::bind`]; plug in faults, latency, a trace, observers,
//!   a local inbox, storage and counters with [`NodeDriver::with_options`] ([`DriverOptions`]).
//! * Run with [`NodeDriver::run`] (until a shutdown future completes) or [`NodeDriver::spawn`]
//!   (a task and a [`NodeHandle`]).
//! * The actor learns reachability only through `circuit_up`/`circuit_down` messages, delivered
//!   with `on_msg(src = peer)`. Messages it sends to a peer whose circuit is down (including
//!   everything sent from `on_start`) are dropped and counted, as on a real SCS port.
//! * `Command::Send` encodes and queues a datagram (released after the injected delay);
//!   `SetTimer` arms a deadline at the range start or at a seeded point in the range;
//!   `CancelTimer` disarms it; `Save` writes the [`StorageCell`]; `ChooseRandom` is not supported
//!   (logged once and ignored).
//! * Each loop turn handles one event (shutdown, due datagrams, circuit tick, one due timer, or
//!   one received datagram) and then sends whatever became due, so the driver never holds a
//!   datagram longer than its release time plus one event.
//! * Network input never panics the driver: bad datagrams are counted by kind and dropped.
//! * **Halting.** After `on_start` and after every handler the driver asks
//!   [`CircuitEvents::is_halted`]. Once the actor says it has halted (the vmsc node took a CLUEXIT
//!   bugcheck), the incarnation ends at once: nothing more is handled or sent, queued datagrams
//!   are discarded and hellos stop, so every peer sees the circuit go down (listen timeout, or the
//!   next incarnation's new nonce). `run` returns with [`StopReason::Halted`]; whether and when
//!   to boot again is the caller's decision (see `supervisor`).
//! * **Observing.** An optional [`Observer`] sees every state change and the commands that came
//!   with it, on the driver's task; the console and the control endpoint are built on it
//!   ([`Observers`] lets several watch one node).
//! * **Local clients.** Processes on the node itself (the lock manager's clients) talk to the
//!   actor without the network. A [`LocalSender`] delivers a message as `on_msg(src = this
//!   node)` to the incarnation it names (messages for an earlier incarnation are counted and
//!   dropped). A `Send` to the node itself of a message [`CircuitEvents::is_local_output`]
//!   accepts is never put on the network: observers see it among the handler's commands and
//!   pass it on. The checker would deliver such a message to the actor, which ignores it.

use std::borrow::Cow;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use stateright::actor::{Actor, Command, Id, Out};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::circuit::{Circuits, DownReason, Incarnation, Outcome, Transition};
use crate::envelope::{Body, DecodeError, Envelope};
use crate::faults::Faults;
use crate::flow::{Arrival, InFlow, Kind, OutFlow};
use crate::latency::{LatencyModel, SplitMix64};
use crate::node::{BootNonce, NodeIndex, Peers, PeersError};
use crate::options::DriverOptions;
use crate::stats::{Counters, Stats, StatsHandle};
use crate::storage::StorageCell;
use crate::trace::{duration_us, DropReason, TraceEvent, Tracer};

/// Implemented by actors run under the driver: how to tell the actor about its circuits.
///
/// The returned message is delivered with `on_msg(id, state, src = peer, msg)`, exactly like a
/// message from `peer`, so the model can deliver the same message from its own failure detector.
pub trait CircuitEvents: Actor {
    /// The circuit to `peer` opened (hellos now flow both ways).
    fn circuit_up(&self, peer: Id) -> Self::Msg;
    /// The circuit to `peer` failed (listen timeout, or the peer rebooted).
    fn circuit_down(&self, peer: Id) -> Self::Msg;
    /// Whether the actor has halted in `state` (a crash it decided on itself, such as a
    /// bugcheck). The driver then ends the incarnation; see the module doc. Default: never.
    fn is_halted(&self, state: &Self::State) -> bool {
        let _ = state;
        false
    }
    /// Whether `msg`, sent by the actor to its own node, is for the node's local clients (see
    /// the module doc): the driver then counts it and leaves it to the observers instead of
    /// sending it. Default: never.
    fn is_local_output(&self, msg: &Self::Msg) -> bool {
        let _ = msg;
        false
    }
}

/// One command an actor handler returned, as the driver (and an [`Observer`]) sees it.
pub type ActorCommand<A> =
    Command<<A as Actor>::Msg, <A as Actor>::Timer, <A as Actor>::Random, <A as Actor>::Storage>;

/// Watches a driver's actor from outside: called on the driver's task, synchronously, so it must
/// be cheap (update a snapshot, log a line). It cannot change what the actor does.
pub trait Observer<A: Actor>: Send + Sync {
    /// `on_start` ran for the incarnation `nonce` and returned `state` and `out`.
    fn started(&self, nonce: BootNonce, state: &A::State, out: &[ActorCommand<A>]);
    /// A handler ran: `old` is the state before it, `new` the state after (the same value when
    /// the handler changed nothing), `out` the commands it returned.
    fn stepped(&self, old: &A::State, new: &A::State, out: &[ActorCommand<A>]);
}

/// Several observers of one node, called in order.
pub struct Observers<A: Actor>(pub Vec<Arc<dyn Observer<A>>>);

impl<A: Actor> Observer<A> for Observers<A> {
    fn started(&self, nonce: BootNonce, state: &A::State, out: &[ActorCommand<A>]) {
        for observer in &self.0 {
            observer.started(nonce, state, out);
        }
    }

    fn stepped(&self, old: &A::State, new: &A::State, out: &[ActorCommand<A>]) {
        for observer in &self.0 {
            observer.stepped(old, new, out);
        }
    }
}

/// Most messages from local clients waiting for the driver; [`LocalSender::send`] refuses more.
pub const LOCAL_INBOX_MAX: usize = 1024;

/// Why a local client's message was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LocalSendError {
    /// [`LOCAL_INBOX_MAX`] messages are waiting already.
    #[error("the node's local inbox is full ({LOCAL_INBOX_MAX} messages)")]
    Full,
    /// Every driver that could read it is gone.
    #[error("the node's local inbox is closed")]
    Closed,
}

/// Sends local clients' messages to a node's actor (see the module doc); clones share the inbox.
#[derive(Debug)]
pub struct LocalSender<M> {
    tx: mpsc::Sender<(BootNonce, M)>,
}

impl<M> Clone for LocalSender<M> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<M> LocalSender<M> {
    /// Queues `msg` for the incarnation `nonce`; it is dropped if another incarnation reads it.
    ///
    /// # Errors
    ///
    /// [`LocalSendError`] if the inbox is full or closed; nothing was queued.
    pub fn send(&self, nonce: BootNonce, msg: M) -> Result<(), LocalSendError> {
        self.tx.try_send((nonce, msg)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => LocalSendError::Full,
            mpsc::error::TrySendError::Closed(_) => LocalSendError::Closed,
        })
    }
}

/// The receiving side of a node's local inbox, read by one driver at a time: each incarnation
/// takes it for its run (a supervisor hands the same inbox to every incarnation).
pub struct LocalInbox<M> {
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<(BootNonce, M)>>>,
}

impl<M> Clone for LocalInbox<M> {
    fn clone(&self) -> Self {
        Self {
            rx: Arc::clone(&self.rx),
        }
    }
}

/// A local inbox and its sender.
pub fn local_inbox<M>() -> (LocalSender<M>, LocalInbox<M>) {
    let (tx, rx) = mpsc::channel(LOCAL_INBOX_MAX);
    (
        LocalSender { tx },
        LocalInbox {
            rx: Arc::new(tokio::sync::Mutex::new(rx)),
        },
    )
}

/// Renders the actor state for a trace `status` record.
pub type StatusFn<A> = Arc<dyn Fn(&<A as Actor>::State) -> Value + Send + Sync>;

/// Why [`NodeDriver::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The actor halted itself ([`CircuitEvents::is_halted`]).
    Halted,
    /// The shutdown future completed.
    Shutdown,
}

/// Default listen timeout, in hello intervals.
pub const LISTEN_TIMEOUT_HELLOS: u32 = 3;

/// Receive buffer: larger than any UDP payload (65,507 bytes), so the kernel never truncates a
/// datagram silently and oversized ones are seen whole and counted.
const RECV_BUFFER_BYTES: usize = 65_536;

/// How `SetTimer(timer, range)` picks a duration from `range`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimerChoice {
    /// Always `range.start`.
    RangeStart,
    /// A point drawn uniformly from `range` by a generator seeded from
    /// [`DriverConfig::seed`], the node index and the boot nonce (deterministic for fixed ones).
    #[default]
    Seeded,
}

/// Port-layer and timer settings of one driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverConfig {
    /// Period of the hellos sent to every peer.
    pub hello_interval: Duration,
    /// A circuit fails when no hello arrived for this long; must exceed `hello_interval`.
    pub listen_timeout: Duration,
    /// How timer durations are picked.
    pub timer_choice: TimerChoice,
    /// Seed for timer points and jitter draws.
    pub seed: u64,
}

impl Default for DriverConfig {
    /// One-second hellos, a three-second listen timeout, seeded timer points.
    fn default() -> Self {
        Self::with_hello_interval(Duration::from_secs(1))
    }
}

impl DriverConfig {
    /// A config with the given hello interval and a listen timeout of
    /// [`LISTEN_TIMEOUT_HELLOS`] intervals.
    pub fn with_hello_interval(hello_interval: Duration) -> Self {
        Self {
            hello_interval,
            listen_timeout: hello_interval * LISTEN_TIMEOUT_HELLOS,
            timer_choice: TimerChoice::default(),
            seed: 0,
        }
    }

    /// Sets the listen timeout.
    pub fn listen_timeout(mut self, listen_timeout: Duration) -> Self {
        self.listen_timeout = listen_timeout;
        self
    }

    /// Sets how timer durations are picked.
    pub fn timer_choice(mut self, timer_choice: TimerChoice) -> Self {
        self.timer_choice = timer_choice;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// Why a driver could not be built or its task did not finish.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The socket is bound to an address other than the node's entry in the table.
    #[error("socket bound to {bound}, but the table lists {listed} for this node")]
    AddressMismatch {
        /// The socket's local address.
        bound: SocketAddr,
        /// The table's address for the node.
        listed: SocketAddr,
    },
    /// Binding a socket failed.
    #[error("cannot bind {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The hello interval is zero.
    #[error("hello interval must be positive")]
    HelloIntervalZero,
    /// The listen timeout does not exceed the hello interval, so healthy circuits would flap.
    #[error("listen timeout {listen_timeout:?} must exceed the hello interval {hello_interval:?}")]
    ListenTimeoutTooShort {
        /// Configured listen timeout.
        listen_timeout: Duration,
        /// Configured hello interval.
        hello_interval: Duration,
    },
    /// The socket's local address cannot be read.
    #[error("cannot read the socket's local address")]
    LocalAddr(#[source] io::Error),
    /// The node index is outside the table.
    #[error("node {node} is not in the {nodes}-node table")]
    NotInTable {
        /// The index given.
        node: NodeIndex,
        /// Table size.
        nodes: usize,
    },
    /// The address table is invalid.
    #[error("invalid address table")]
    Peers(#[from] PeersError),
    /// The driver task panicked (an actor handler panicked) or was aborted.
    #[error("driver task failed")]
    Task(#[source] tokio::task::JoinError),
}

/// What a driver returns when it stops cleanly.
#[derive(Debug)]
pub struct DriverReport<A: Actor> {
    /// The actor's final state.
    pub state: A::State,
    /// The final counters.
    pub stats: Stats,
    /// The incarnation that ran.
    pub nonce: BootNonce,
    /// Why the driver stopped.
    pub reason: StopReason,
}

/// One incarnation of a node: an actor, its socket, the address table, the config and the
/// plugged-in [`DriverOptions`].
pub struct NodeDriver<A: Actor> {
    actor: A,
    me: NodeIndex,
    socket: Arc<UdpSocket>,
    peers: Peers,
    config: DriverConfig,
    nonce: BootNonce,
    options: DriverOptions<A>,
}

impl<A> NodeDriver<A>
where
    A: CircuitEvents,
    A::Msg: Serialize + DeserializeOwned,
{
    /// A driver for node `me` on an already-bound socket, with a fresh boot nonce and
    /// [`DriverOptions::new`] (no faults, no latency, no trace, empty storage, fresh counters).
    ///
    /// # Errors
    ///
    /// [`DriverError`] if `me` is not in `peers`, the socket is not bound to `me`'s listed
    /// address (port, and IP unless bound to the unspecified address), or `config` is invalid.
    pub fn new(
        actor: A,
        me: NodeIndex,
        socket: impl Into<Arc<UdpSocket>>,
        peers: Peers,
        config: DriverConfig,
    ) -> Result<Self, DriverError> {
        let socket = socket.into();
        let listed = peers.addr(me).ok_or(DriverError::NotInTable {
            node: me,
            nodes: peers.len(),
        })?;
        let bound = socket.local_addr().map_err(DriverError::LocalAddr)?;
        if bound.port() != listed.port()
            || (!bound.ip().is_unspecified() && bound.ip() != listed.ip())
        {
            return Err(DriverError::AddressMismatch { bound, listed });
        }
        if config.hello_interval.is_zero() {
            return Err(DriverError::HelloIntervalZero);
        }
        if config.listen_timeout <= config.hello_interval {
            return Err(DriverError::ListenTimeoutTooShort {
                listen_timeout: config.listen_timeout,
                hello_interval: config.hello_interval,
            });
        }
        Ok(Self {
            actor,
            me,
            socket,
            peers,
            config,
            nonce: BootNonce::generate(),
            options: DriverOptions::new(),
        })
    }

    /// Binds node `me`'s listed address and builds a driver on it (see [`NodeDriver::new`]).
    ///
    /// # Errors
    ///
    /// As [`NodeDriver::new`], plus [`DriverError::Bind`].
    pub async fn bind(
        actor: A,
        me: NodeIndex,
        peers: Peers,
        config: DriverConfig,
    ) -> Result<Self, DriverError> {
        let addr = peers.addr(me).ok_or(DriverError::NotInTable {
            node: me,
            nodes: peers.len(),
        })?;
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|source| DriverError::Bind { addr, source })?;
        Self::new(actor, me, socket, peers, config)
    }

    /// Plugs in `options` (faults, latency, trace, observer, local inbox, storage, counters),
    /// replacing the defaults of [`NodeDriver::new`].
    pub fn with_options(mut self, options: DriverOptions<A>) -> Self {
        self.options = options;
        self
    }

    /// Overrides the generated boot nonce (it must exceed the previous incarnation's).
    pub fn with_nonce(mut self, nonce: BootNonce) -> Self {
        self.nonce = nonce;
        self
    }

    /// The node this driver runs.
    pub fn node(&self) -> NodeIndex {
        self.me
    }

    /// This incarnation's boot nonce.
    pub fn nonce(&self) -> BootNonce {
        self.nonce
    }

    /// The driver's counters, readable while it runs and after it stops.
    pub fn stats_handle(&self) -> StatsHandle {
        self.options.stats.clone()
    }

    /// Runs the node until `shutdown` completes or the actor halts, then returns the final state
    /// and counters.
    ///
    /// Datagrams still held by the latency queues at shutdown or halt are discarded.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> DriverReport<A> {
        let socket = Arc::clone(&self.socket);
        // Held for the whole run; a crashed incarnation's future drops it for the next one.
        let mut inbox = match self.options.inbox.take() {
            Some(inbox) => Some(inbox.rx.lock_owned().await),
            None => None,
        };
        let mut core = Core::start(self, Instant::now());
        core.flush().await;
        tokio::pin!(shutdown);
        let mut buf = vec![0u8; RECV_BUFFER_BYTES];
        while !core.halted {
            core.notice_faults(Instant::now());
            let release_at = core.next_release();
            let circuit_at = core.next_circuit_deadline();
            let timer_at = core.next_timer();
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = sleep_until(release_at) => {}
                () = sleep_until(Some(circuit_at)) => core.on_circuit_tick(Instant::now()),
                () = sleep_until(timer_at) => core.fire_timer(Instant::now()),
                local = recv_local(inbox.as_deref_mut()) => match local {
                    Some((nonce, msg)) => core.on_local(Instant::now(), nonce, msg),
                    None => inbox = None,
                },
                received = socket.recv_from(&mut buf) => match received {
                    Ok((len, from)) => core.on_datagram(Instant::now(), &buf[..len], from),
                    Err(error) => core.on_recv_error(&error),
                },
            }
            if core.halted {
                break;
            }
            core.flush().await;
        }
        core.finish()
    }
}

impl<A> NodeDriver<A>
where
    A: CircuitEvents + Send + 'static,
    A::Msg: Serialize + DeserializeOwned + Send,
    A::State: Send,
    A::Timer: Send,
    A::Storage: Send,
{
    /// Runs the node on a new tokio task; the handle stops or crashes it.
    pub fn spawn(self) -> NodeHandle<A> {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (me, nonce, stats) = (self.me, self.nonce, self.stats_handle());
        let task = tokio::spawn(self.run(async move {
            // A dropped sender also stops the driver.
            let _ = stop_rx.await;
        }));
        NodeHandle {
            me,
            nonce,
            stats,
            stop: stop_tx,
            task,
        }
    }
}

/// A running node (see [`NodeDriver::spawn`]).
#[derive(Debug)]
pub struct NodeHandle<A: Actor> {
    me: NodeIndex,
    nonce: BootNonce,
    stats: StatsHandle,
    stop: oneshot::Sender<()>,
    task: JoinHandle<DriverReport<A>>,
}

impl<A: Actor> NodeHandle<A> {
    /// The node.
    pub fn node(&self) -> NodeIndex {
        self.me
    }

    /// The running incarnation's nonce.
    pub fn nonce(&self) -> BootNonce {
        self.nonce
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.stats.stats()
    }

    /// The live counters (valid after the node stops).
    pub fn stats_handle(&self) -> StatsHandle {
        self.stats.clone()
    }

    /// Stops the driver cleanly and returns its final state and counters.
    ///
    /// # Errors
    ///
    /// [`DriverError::Task`] if the driver task panicked (an actor handler panicked).
    pub async fn shutdown(self) -> Result<DriverReport<A>, DriverError> {
        let _ = self.stop.send(());
        self.task.await.map_err(DriverError::Task)
    }

    /// Crashes the node: the task is aborted mid-flight, its volatile state and queued datagrams
    /// are lost and its hellos stop. Returns once the task is gone, so the socket can be reused
    /// by the next incarnation. Saved storage survives in the [`StorageCell`].
    pub async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Binds `nodes` UDP sockets on `127.0.0.1:0` and returns them with their address table.
///
/// # Errors
///
/// [`DriverError::Bind`] or [`DriverError::LocalAddr`] if the OS refuses.
pub async fn bind_loopback(nodes: usize) -> Result<(Vec<Arc<UdpSocket>>, Peers), DriverError> {
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut sockets = Vec::with_capacity(nodes);
    let mut addrs = Vec::with_capacity(nodes);
    for _ in 0..nodes {
        let socket = UdpSocket::bind(any)
            .await
            .map_err(|source| DriverError::Bind { addr: any, source })?;
        addrs.push(socket.local_addr().map_err(DriverError::LocalAddr)?);
        sockets.push(Arc::new(socket));
    }
    Ok((sockets, Peers::new(addrs)?))
}

/// The next local client message; `None` once every sender is gone; pending without an inbox.
async fn recv_local<M>(
    inbox: Option<&mut mpsc::Receiver<(BootNonce, M)>>,
) -> Option<(BootNonce, M)> {
    match inbox {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// The running state of a driver: everything the event loop reads and writes.
struct Core<A: Actor> {
    actor: A,
    me: NodeIndex,
    nonce: BootNonce,
    peers: Peers,
    socket: Arc<UdpSocket>,
    config: DriverConfig,
    faults: Faults,
    fault_generation: Option<u64>,
    fault_cuts: Vec<(NodeIndex, NodeIndex)>,
    latency: Arc<dyn LatencyModel>,
    tracer: Option<Tracer>,
    status: Option<StatusFn<A>>,
    status_last: Option<Value>,
    observer: Option<Arc<dyn Observer<A>>>,
    /// The actor halted: nothing more is handled or sent.
    halted: bool,
    storage: StorageCell<A::Storage>,
    stats: StatsHandle,
    state: A::State,
    /// Armed timers in arming order (ties fire in that order).
    timers: Vec<(A::Timer, Instant)>,
    circuits: Circuits,
    hello_next: Instant,
    /// Per destination: sequence numbers and the delay queue.
    flows: Vec<OutFlow>,
    /// Per source: order and loss tracking.
    inbound: Vec<InFlow>,
    jitter_rng: SplitMix64,
    timer_rng: SplitMix64,
    random_warned: bool,
}

impl<A> Core<A>
where
    A: CircuitEvents,
    A::Msg: Serialize + DeserializeOwned,
{
    /// Calls `on_start` and executes its commands.
    fn start(driver: NodeDriver<A>, now: Instant) -> Self {
        let nodes = driver.peers.len();
        let seed = driver.config.seed
            ^ driver.nonce.get()
            ^ u64::from(driver.me.get()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let DriverOptions {
            faults,
            latency,
            tracer,
            status,
            observer,
            inbox: _,
            storage: cell,
            stats,
        } = driver.options;
        let storage = cell.load();
        let mut out = Out::new();
        let state = driver.actor.on_start(driver.me.id(), &storage, &mut out);
        let mut core = Self {
            circuits: Circuits::new(driver.me, driver.nonce, nodes, driver.config.listen_timeout),
            actor: driver.actor,
            me: driver.me,
            nonce: driver.nonce,
            peers: driver.peers,
            socket: driver.socket,
            config: driver.config,
            faults,
            fault_generation: None,
            fault_cuts: Vec::new(),
            latency,
            tracer,
            status,
            status_last: None,
            observer,
            halted: false,
            storage: cell,
            stats,
            state,
            timers: Vec::new(),
            hello_next: now,
            flows: (0..nodes).map(|_| OutFlow::default()).collect(),
            inbound: vec![InFlow::default(); nodes],
            jitter_rng: SplitMix64::new(seed),
            timer_rng: SplitMix64::new(seed.rotate_left(32) ^ 0x5EED),
            random_warned: false,
        };
        core.trace(now, || TraceEvent::Start {
            restored: storage.is_some(),
        });
        if let Some(observer) = &core.observer {
            observer.started(core.nonce, &core.state, &out);
        }
        core.execute(now, out);
        core.emit_status(now);
        if core.actor.is_halted(&core.state) {
            core.halt(now);
        }
        core
    }

    fn finish(self) -> DriverReport<A> {
        let reason = if self.halted {
            StopReason::Halted
        } else {
            self.trace(Instant::now(), || TraceEvent::Stop);
            StopReason::Shutdown
        };
        DriverReport {
            state: self.state,
            stats: self.stats.stats(),
            nonce: self.nonce,
            reason,
        }
    }

    /// Ends the incarnation: the actor halted. Queued datagrams are discarded (a halted node
    /// sends nothing more) and the run loop stops at the end of this event.
    fn halt(&mut self, now: Instant) {
        self.halted = true;
        for flow in &mut self.flows {
            flow.discard();
        }
        self.timers.clear();
        self.trace(now, || TraceEvent::Halt);
    }

    fn counters(&self) -> &Counters {
        self.stats.counters()
    }

    // ---- event sources -------------------------------------------------------------------

    fn next_release(&self) -> Option<Instant> {
        self.flows.iter().filter_map(OutFlow::next_release).min()
    }

    fn next_circuit_deadline(&self) -> Instant {
        self.circuits
            .next_deadline()
            .map_or(self.hello_next, |d| d.min(self.hello_next))
    }

    fn next_timer(&self) -> Option<Instant> {
        self.timers.iter().map(|(_, at)| *at).min()
    }

    // ---- inputs ---------------------------------------------------------------------------

    /// Sends periodic hellos when due and expires listen timeouts and hold-downs.
    fn on_circuit_tick(&mut self, now: Instant) {
        if now >= self.hello_next {
            for peer in self
                .peers
                .indices()
                .filter(|p| *p != self.me)
                .collect::<Vec<_>>()
            {
                self.send_hello(now, peer);
            }
            // From now, not from the missed deadline: a stalled loop must not burst hellos.
            self.hello_next = now + self.config.hello_interval;
        }
        let outcome = self.circuits.on_tick(now);
        self.apply(now, outcome);
    }

    /// Fires the earliest due timer.
    fn fire_timer(&mut self, now: Instant) {
        let due = self
            .timers
            .iter()
            .enumerate()
            .filter(|(_, (_, at))| *at <= now)
            .min_by_key(|(_, (_, at))| *at)
            .map(|(i, _)| i);
        let Some(i) = due else { return };
        let (timer, _) = self.timers.remove(i);
        Counters::bump(&self.counters().timers_fired);
        self.trace(now, || TraceEvent::Timer {
            timer: format!("{timer:?}"),
        });
        self.handle(now, |actor, id, state, out| {
            actor.on_timeout(id, state, &timer, out)
        });
    }

    /// Delivers a local client's message, if it is for this incarnation.
    fn on_local(&mut self, now: Instant, nonce: BootNonce, msg: A::Msg) {
        if nonce != self.nonce || self.halted {
            Counters::bump(&self.counters().dropped_local_stale);
            return;
        }
        Counters::bump(&self.counters().local_in);
        let me = self.me;
        self.trace(now, || TraceEvent::MsgIn {
            peer: me,
            seq: 0,
            msg: to_value(&msg),
        });
        self.handle(now, |actor, id, state, out| {
            actor.on_msg(id, state, me.id(), msg, out)
        });
    }

    fn on_recv_error(&mut self, error: &io::Error) {
        Counters::bump(&self.counters().recv_errors);
        tracing::debug!(node = %self.me, %error, "recv_from failed");
    }

    /// Decodes, authenticates and dispatches one datagram.
    fn on_datagram(&mut self, now: Instant, bytes: &[u8], from: SocketAddr) {
        Counters::bump(&self.counters().datagrams_in);
        Counters::add(&self.counters().bytes_in, bytes.len() as u64);
        let envelope = match Envelope::<A::Msg>::decode(bytes, self.peers.len()) {
            Ok(envelope) => envelope,
            Err(error) => return self.reject(now, &error, self.peers.index_of(from)),
        };
        let (src, nonce, seq) = (envelope.src, envelope.nonce, envelope.seq);
        if envelope.dst != self.me {
            return self.reject(
                now,
                &DecodeError::Misaddressed {
                    dst: envelope.dst.get(),
                },
                Some(src),
            );
        }
        if self.peers.addr(src) != Some(from) {
            return self.reject(now, &DecodeError::UnknownSender { src: src.get() }, None);
        }
        let is_msg = matches!(envelope.body, Body::Msg(_));
        if self.faults.is_cut(src, self.me) {
            Counters::bump(&self.counters().dropped_cut);
            if is_msg {
                self.trace(now, || TraceEvent::Drop {
                    peer: Some(src),
                    reason: DropReason::Cut,
                });
            }
            return;
        }
        let mut outcome = Outcome::default();
        let current = if src == self.me {
            nonce == self.nonce
        } else {
            self.circuits.on_nonce(src, nonce, &mut outcome) == Incarnation::Current
        };
        let kind = if is_msg { Kind::Msg } else { Kind::Hello };
        let arrival = match self.inbound.get_mut(src.as_usize()) {
            Some(flow) if current => flow.accept(nonce, seq, envelope.msg_seq, kind),
            _ => Arrival::Stale,
        };
        match arrival {
            Arrival::Stale => {
                Counters::bump(&self.counters().dropped_stale);
                if is_msg {
                    self.trace(now, || TraceEvent::Drop {
                        peer: Some(src),
                        reason: DropReason::Stale,
                    });
                }
                return self.apply(now, outcome);
            }
            Arrival::Fresh { lost: 0 } => {}
            Arrival::Fresh { lost } => {
                Counters::add(&self.counters().msgs_lost, lost);
                if src != self.me && self.circuits.is_up(src) {
                    self.circuits
                        .fail(now, src, DownReason::MessageLost, &mut outcome);
                }
            }
        }
        let deliver = match envelope.body {
            Body::Hello(hello) => {
                Counters::bump(&self.counters().hellos_in);
                if src != self.me {
                    self.circuits
                        .on_hello(now, src, nonce, &hello, &mut outcome);
                }
                None
            }
            Body::Msg(msg) if src == self.me || self.circuits.up_nonce(src) == Some(nonce) => {
                Some(msg)
            }
            Body::Msg(_) => {
                Counters::bump(&self.counters().dropped_msg_while_down);
                self.trace(now, || TraceEvent::Drop {
                    peer: Some(src),
                    reason: DropReason::MsgWhileDown,
                });
                self.circuits.on_message_while_down(now, src, &mut outcome);
                None
            }
        };
        self.apply(now, outcome);
        if let Some(msg) = deliver.filter(|_| !self.halted) {
            Counters::bump(&self.counters().msgs_in);
            self.trace(now, || TraceEvent::MsgIn {
                peer: src,
                seq,
                msg: to_value(&msg),
            });
            self.handle(now, |actor, id, state, out| {
                actor.on_msg(id, state, src.id(), msg, out)
            });
        }
    }

    fn reject(&mut self, now: Instant, error: &DecodeError, peer: Option<NodeIndex>) {
        Counters::bump(self.counters().bad(error));
        tracing::debug!(node = %self.me, %error, "dropped bad datagram");
        self.trace(now, || TraceEvent::Drop {
            peer,
            reason: DropReason::from(error),
        });
    }

    /// Sends triggered hellos, then tells the actor about circuit changes.
    ///
    /// Hellos go first: a circuit-up hello must reach the peer before any message the actor
    /// sends in reaction to `circuit_up` (flows are FIFO), so the peer's circuit is open by then.
    fn apply(&mut self, now: Instant, outcome: Outcome) {
        for peer in outcome.hello_to {
            self.send_hello(now, peer);
        }
        for transition in outcome.transitions {
            if self.halted {
                return;
            }
            let (peer, msg) = match transition {
                Transition::Up(peer) => {
                    Counters::bump(&self.counters().circuit_ups);
                    let peer_nonce = self.circuits.up_nonce(peer).unwrap_or_default();
                    self.trace(now, || TraceEvent::CircuitUp { peer, peer_nonce });
                    (peer, self.actor.circuit_up(peer.id()))
                }
                Transition::Down(peer, reason) => {
                    Counters::bump(&self.counters().circuit_downs);
                    self.trace(now, || TraceEvent::CircuitDown { peer, reason });
                    (peer, self.actor.circuit_down(peer.id()))
                }
            };
            self.handle(now, |actor, id, state, out| {
                actor.on_msg(id, state, peer.id(), msg, out)
            });
        }
    }

    // ---- the actor ------------------------------------------------------------------------

    /// Calls one actor handler, adopts the new state if it changed, and executes its commands;
    /// then halts if the actor says so (the handler's commands are executed first, as the
    /// checker would, but the datagrams they queue never leave).
    fn handle(
        &mut self,
        now: Instant,
        handler: impl FnOnce(&A, Id, &mut Cow<'_, A::State>, &mut Out<A>),
    ) {
        if self.halted {
            return;
        }
        let mut out = Out::new();
        let mut state = Cow::Borrowed(&self.state);
        handler(&self.actor, self.me.id(), &mut state, &mut out);
        let next = match state {
            Cow::Owned(next) => Some(next),
            Cow::Borrowed(_) => None,
        };
        if let Some(observer) = &self.observer {
            observer.stepped(&self.state, next.as_ref().unwrap_or(&self.state), &out);
        }
        let changed = next.is_some();
        if let Some(next) = next {
            self.state = next;
        }
        self.execute(now, out);
        if changed {
            self.emit_status(now);
            if self.actor.is_halted(&self.state) {
                self.halt(now);
            }
        }
    }

    fn execute(&mut self, now: Instant, out: Out<A>) {
        for command in out {
            match command {
                Command::CancelTimer(timer) => self.timers.retain(|(t, _)| *t != timer),
                Command::ChooseRandom(key, choices) => {
                    if !choices.is_empty() && !self.random_warned {
                        self.random_warned = true;
                        tracing::warn!(node = %self.me, key, "ChooseRandom is not supported; ignored");
                    }
                }
                Command::Save(storage) => self.storage.store(storage),
                Command::Send(dst, msg)
                    if dst == self.me.id() && self.actor.is_local_output(&msg) =>
                {
                    // The observers saw it with the handler's commands.
                    Counters::bump(&self.counters().local_out);
                }
                Command::Send(dst, msg) => self.send_msg(now, dst, msg),
                Command::SetTimer(timer, range) => {
                    let at = now + self.timer_duration(&range);
                    match self.timers.iter_mut().find(|(t, _)| *t == timer) {
                        Some(slot) => slot.1 = at,
                        None => self.timers.push((timer, at)),
                    }
                }
            }
        }
    }

    fn timer_duration(&mut self, range: &Range<Duration>) -> Duration {
        match self.config.timer_choice {
            TimerChoice::Seeded if range.end > range.start => {
                let span = range.end - range.start - Duration::from_nanos(1);
                range.start + self.timer_rng.duration_up_to(span)
            }
            _ => range.start,
        }
    }

    // ---- outputs --------------------------------------------------------------------------

    fn send_msg(&mut self, now: Instant, dst: Id, msg: A::Msg) {
        let Some(dst) = NodeIndex::from_id(dst, self.peers.len()) else {
            Counters::bump(&self.counters().dropped_unknown_destination);
            self.trace(now, || TraceEvent::Drop {
                peer: None,
                reason: DropReason::UnknownDestination,
            });
            return;
        };
        if !self.circuits.is_up(dst) {
            Counters::bump(&self.counters().dropped_circuit_down);
            self.trace(now, || TraceEvent::Drop {
                peer: Some(dst),
                reason: DropReason::CircuitDown,
            });
            return;
        }
        let traced = self.tracer.as_ref().map(|_| to_value(&msg));
        let flow = &mut self.flows[dst.as_usize()];
        let (seq, msg_seq) = (flow.next_seq(), flow.peek_msg_seq());
        let bytes = match Envelope::message(self.me, dst, self.nonce, (seq, msg_seq), msg).encode()
        {
            Ok(bytes) => bytes,
            Err(error) => {
                Counters::bump(&self.counters().dropped_unencodable);
                tracing::warn!(node = %self.me, peer = %dst, %error, "actor message dropped");
                self.trace(now, || TraceEvent::Drop {
                    peer: Some(dst),
                    reason: DropReason::Unencodable,
                });
                return;
            }
        };
        // From here the message counts as sent: if it is lost below or later, the receiver sees
        // the gap in message numbers and fails the circuit.
        self.flows[dst.as_usize()].commit_msg_seq(msg_seq);
        if self.faults.take_loss(self.me, dst) {
            Counters::bump(&self.counters().dropped_injected_loss);
            self.trace(now, || TraceEvent::Drop {
                peer: Some(dst),
                reason: DropReason::InjectedLoss,
            });
            return;
        }
        if let Some(hold) = self.enqueue(now, dst, Kind::Msg, bytes) {
            Counters::bump(&self.counters().msgs_out);
            let msg = traced.unwrap_or(Value::Null);
            self.trace(now, || TraceEvent::MsgOut {
                peer: dst,
                seq,
                hold_us: duration_us(hold),
                msg,
            });
        }
    }

    fn send_hello(&mut self, now: Instant, peer: NodeIndex) {
        let hello = self.circuits.hello(now);
        let flow = &mut self.flows[peer.as_usize()];
        let position = (flow.next_seq(), flow.msg_seq_last());
        match Envelope::<A::Msg>::hello(self.me, peer, self.nonce, position, hello).encode() {
            Ok(bytes) => {
                if self.enqueue(now, peer, Kind::Hello, bytes).is_some() {
                    Counters::bump(&self.counters().hellos_out);
                }
            }
            // Unreachable: a full hello fits in a datagram (const-asserted in envelope.rs).
            Err(error) => tracing::error!(node = %self.me, %error, "hello does not encode"),
        }
    }

    /// Queues a datagram behind the link's delay; returns how long it is held.
    fn enqueue(
        &mut self,
        now: Instant,
        dst: NodeIndex,
        kind: Kind,
        bytes: Vec<u8>,
    ) -> Option<Duration> {
        let link = self.latency.link(self.me, dst);
        let delay = link.delay + self.jitter_rng.duration_up_to(link.jitter);
        match self.flows[dst.as_usize()].push(now, delay, kind, bytes) {
            Ok(release) => Some(release.saturating_duration_since(now)),
            Err(_) => {
                Counters::bump(&self.counters().dropped_queue_full);
                if kind == Kind::Msg {
                    self.trace(now, || TraceEvent::Drop {
                        peer: Some(dst),
                        reason: DropReason::QueueFull,
                    });
                }
                None
            }
        }
    }

    /// Sends every datagram whose release time has come, flow by flow in FIFO order.
    async fn flush(&mut self) {
        if self.halted {
            return;
        }
        let now = Instant::now();
        for i in 0..self.flows.len() {
            let dst = NodeIndex::new(i as u16);
            while let Some(pending) = self.flows[i].pop_due(now) {
                if self.faults.is_cut(self.me, dst) {
                    Counters::bump(&self.counters().dropped_cut);
                    if pending.kind == Kind::Msg {
                        self.trace(now, || TraceEvent::Drop {
                            peer: Some(dst),
                            reason: DropReason::Cut,
                        });
                    }
                    continue;
                }
                let Some(addr) = self.peers.addr(dst) else {
                    continue;
                };
                match self.socket.send_to(&pending.bytes, addr).await {
                    Ok(sent) => {
                        Counters::bump(&self.counters().datagrams_out);
                        Counters::add(&self.counters().bytes_out, sent as u64);
                    }
                    Err(error) => {
                        Counters::bump(&self.counters().send_errors);
                        tracing::debug!(node = %self.me, peer = %dst, %error, "send_to failed");
                    }
                }
            }
        }
    }

    // ---- trace ----------------------------------------------------------------------------

    /// Traces a change of the cuts touching this node.
    fn notice_faults(&mut self, now: Instant) {
        let generation = self.faults.generation();
        if self.fault_generation == Some(generation) {
            return;
        }
        self.fault_generation = Some(generation);
        let me = self.me;
        let cuts: Vec<_> = self
            .faults
            .cuts()
            .into_iter()
            .filter(|(a, b)| *a == me || *b == me)
            .collect();
        if cuts != self.fault_cuts {
            self.fault_cuts = cuts.clone();
            self.trace(now, || TraceEvent::Fault { cuts });
        }
    }

    fn emit_status(&mut self, now: Instant) {
        let (Some(_), Some(render)) = (&self.tracer, &self.status) else {
            return;
        };
        let state = render(&self.state);
        if self.status_last.as_ref() != Some(&state) {
            self.status_last = Some(state.clone());
            self.trace(now, || TraceEvent::Status { state });
        }
    }

    fn trace(&self, at: Instant, event: impl FnOnce() -> TraceEvent) {
        if let Some(tracer) = &self.tracer {
            if !tracer.emit(at, self.me, self.nonce, event()) {
                Counters::bump(&self.counters().trace_dropped);
            }
        }
    }
}

fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
