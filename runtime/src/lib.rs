//! Runs the pure Stateright actors of `vmsc-model` as a real cluster over UDP.
//!
//! The runtime contains **no protocol logic**. A [`NodeDriver`] calls an actor's `on_start`,
//! `on_msg` and `on_timeout` exactly as the checker does and executes the `Command`s they return.
//! Everything a real network adds lives here, below the actor, where the model's assumptions are
//! made true or are injected on purpose:
//!
//! * **Identity.** Node `i` (its position in the cluster file) is `Id::from(i)` to the actor and
//!   a socket address in the [`Peers`] table to the runtime.
//! * **Circuits.** Hellos, listen timeouts and boot nonces give each node a failure detector,
//!   reported to the actor as [`CircuitEvents`] messages (OpenVMS's PEDRIVER does this job).
//! * **FIFO flows.** Per destination, datagrams leave in send order and receivers drop anything
//!   behind the flow, so an actor sees each peer's messages in order, as the model assumes. A
//!   lost message is detected from the flow's message numbers and fails the circuit at both
//!   ends: messages are delivered in order, or the circuit goes down.
//! * **Faults and latency.** A shared [`Faults`] table cuts links (both ways or one way) inside
//!   the send and receive paths, and a [`LatencyModel`] delays each link; crashes stop a driver
//!   and reboots start a new one with a new [`BootNonce`].
//! * **Observation.** Atomic counters ([`Stats`]) and an optional JSON-lines trace ([`Tracer`]).
//! * **Local clients.** Programs on the node's machine (the lock manager's clients) reach the
//!   actor through a [`LocalSender`] as messages from the node itself, and the actor's answers,
//!   self-addressed messages [`CircuitEvents::is_local_output`] accepts, go to [`Observer`]s
//!   instead of the network (`cluster::locks`).
//!
//! # Layout
//!
//! * [`envelope`]: the wire format and its decode errors (one datagram = one [`Envelope`]).
//! * [`node`]: [`NodeIndex`], [`BootNonce`], the [`Peers`] address table.
//! * [`circuit`]: the pure circuit state machine behind [`CircuitEvents`].
//! * [`flow`]: per-flow sequence numbers, the FIFO delay queue, order and loss checks.
//! * [`latency`]: [`LatencyModel`], the injected one-way delay of each link.
//! * [`faults`]: the shared cut table.
//! * [`driver`]: [`NodeDriver`], the tokio event loop that ties it together, and [`NodeHandle`].
//! * [`options`]: [`DriverOptions`], a node's plugged-in parts (faults, latency, trace,
//!   observers, local inbox, storage, counters), shared by its incarnations.
//! * [`stats`], [`trace`], [`storage`]: counters, the event trace, crash-surviving storage.
//! * [`supervisor`]: one node across incarnations: reboot after the actor halts (CLUEXIT),
//!   crash and reboot on request.
//! * [`cluster`]: the vmsc node actor on all of the above — console, control endpoint,
//!   scenario files, `vmsc node` and `vmsc run`.
//!
//! # Example
//!
//! ```no_run
//! # use vmsc_runtime::*;
//! # async fn demo<A>(actors: Vec<A>) -> Result<(), DriverError>
//! # where A: CircuitEvents + Send + 'static,
//! #       A::Msg: serde::Serialize + serde::de::DeserializeOwned + Send,
//! #       A::State: Send, A::Timer: Send, A::Storage: Send {
//! let (sockets, peers) = bind_loopback(actors.len()).await?;
//! let faults = Faults::new();
//! let config = DriverConfig::with_hello_interval(std::time::Duration::from_millis(100));
//! let mut nodes = Vec::new();
//! for (i, (actor, socket)) in actors.into_iter().zip(sockets).enumerate() {
//!     // One options value per node: its clones share storage and counters.
//!     let options = DriverOptions::new().with_faults(faults.clone());
//!     let driver = NodeDriver::new(actor, NodeIndex::new(i as u16), socket, peers.clone(), config.clone())?
//!         .with_options(options);
//!     nodes.push(driver.spawn());
//! }
//! faults.cut(NodeIndex::new(0), NodeIndex::new(1), CutKind::OneWay);
//! for node in nodes {
//!     let report = node.shutdown().await?;
//!     println!("{:?}", report.stats);
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod circuit;
pub mod cluster;
pub mod driver;
pub mod envelope;
pub mod faults;
pub mod flow;
pub mod latency;
pub mod node;
pub mod options;
pub mod stats;
pub mod storage;
pub mod supervisor;
pub mod trace;

pub use circuit::{DownReason, Transition};
pub use driver::{
    bind_loopback, local_inbox, ActorCommand, CircuitEvents, DriverConfig, DriverError,
    DriverReport, LocalInbox, LocalSendError, LocalSender, NodeDriver, NodeHandle, Observer,
    Observers, StatusFn, StopReason, TimerChoice, LISTEN_TIMEOUT_HELLOS, LOCAL_INBOX_MAX,
};
pub use envelope::{
    Body, DecodeError, EncodeError, Envelope, Heard, Hello, DATAGRAM_BYTES_MAX, WIRE_MAGIC,
    WIRE_VERSION,
};
pub use faults::{CutKind, Faults};
pub use flow::QUEUE_DATAGRAMS_MAX;
pub use latency::{LatencyMatrix, LatencyModel, LinkDelay, NoLatency};
pub use node::{BootNonce, NodeIndex, Peers, PeersError, NODES_MAX};
pub use options::DriverOptions;
pub use stats::{Stats, StatsHandle};
pub use storage::StorageCell;
pub use supervisor::{Life, Phase, Request as SupervisorRequest, Supervisor, SupervisorHandle};
pub use trace::{DropReason, TraceEvent, TraceRecord, Tracer};
