//! One vmsc node as one OS process: what `vmsc node` runs.
//!
//! [`run_node`] scales the cluster's timers, builds the latency model, binds the node's UDP
//! socket and its control endpoint, and runs a [`Supervisor`] with a [`Console`] observer until
//! it is told to stop (a `shutdown` control request, Ctrl-C or SIGTERM, or end of input on stdin
//! when [`NodeOptions::watch_stdin`] is set, which is how `vmsc run` makes sure no node outlives
//! it).
//!
//! # Time scaling
//!
//! `time_scale = F` runs the cluster F times faster than its file says: the hello interval, the
//! RECNXINTERVAL, the injected one-way delays and jitter and the boot delay are all divided by F
//! (each at least 1 ms; RECNXINTERVAL must still exceed 3 hello intervals after rounding). The
//! protocol only compares durations with each other, so its outcomes do not change; F = 10 turns
//! the seed's 20 s RECNXINTERVAL into 2 s.
//!
//! # Addresses
//!
//! Node `i` uses the cluster file's `address`, or `127.0.0.1:(base_port + i)` with
//! [`BASE_PORT_DEFAULT`] = 7001; `vmsc run` passes a complete table instead. The control
//! endpoint listens on TCP `127.0.0.1` at the node's UDP port number unless told otherwise.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::net::UdpSocket;
use tokio::sync::watch;
use vmsc_latency::{LatencyError, RttTable};
use vmsc_model::config::{ClusterSpec, BASE_PORT_DEFAULT};
use vmsc_model::node::{NodeActor, ProtocolOptions};

use crate::cluster::console::{count, trace_status, Console, CONSOLE_TARGET};
use crate::cluster::control::{self, ControlContext};
use crate::cluster::locks::LockService;
use crate::driver::{local_inbox, DriverConfig, DriverError, Observer, Observers};
use crate::faults::Faults;
use crate::latency::{LatencyMatrix, LatencyModel, LinkDelay, NoLatency};
use crate::node::{NodeIndex, Peers, PeersError};
use crate::options::DriverOptions;
use crate::stats::{Stats, StatsHandle};
use crate::supervisor::{Request, Supervisor};
use crate::trace::Tracer;

/// Trace records buffered between the drivers and the trace writer.
const TRACE_BUFFER_RECORDS: usize = 1 << 16;

/// Default boot delay after a CLUEXIT, in hello intervals.
pub const BOOT_DELAY_HELLOS: u32 = 2;

/// Shortest hello interval a time scale may produce, in ms: below that, the OS scheduler on a
/// loaded machine delays hellos by whole intervals and healthy circuits flap.
pub const HELLO_INTERVAL_MS_MIN_SCALED: u64 = 10;

/// Default LAN round-trip time for nodes in the same region, in ms.
pub const LAN_RTT_MS_DEFAULT: f64 = 0.2;

/// How links are delayed.
#[derive(Clone, Debug)]
pub enum Latency {
    /// No injected delay.
    Off,
    /// Half the RTT between the two nodes' regions (see [`LatencyMatrix::from_rtt_table`]).
    Table {
        /// The RTT table.
        table: RttTable,
        /// RTT between nodes of one region, in ms.
        lan_rtt_ms: f64,
        /// Extra uniform delay per datagram, at most this much.
        jitter: Duration,
    },
}

impl Latency {
    /// The shipped RTT table, [`LAN_RTT_MS_DEFAULT`], no jitter.
    pub fn embedded() -> Self {
        Self::Table {
            table: RttTable::embedded(),
            lan_rtt_ms: LAN_RTT_MS_DEFAULT,
            jitter: Duration::ZERO,
        }
    }

    /// The link delays of `spec`'s nodes, divided by `time_scale`.
    ///
    /// # Errors
    ///
    /// [`LatencyError::NoRtt`] naming the first region pair the table lacks.
    pub fn matrix(
        &self,
        spec: &ClusterSpec,
        time_scale: f64,
    ) -> Result<LatencyMatrix, LatencyError> {
        match self {
            Self::Off => Ok(LatencyMatrix::uniform(spec.len(), LinkDelay::default())),
            Self::Table {
                table,
                lan_rtt_ms,
                jitter,
            } => {
                let regions: Vec<String> = spec.nodes.iter().map(|n| n.region.clone()).collect();
                LatencyMatrix::from_rtt_table(&regions, table, *lan_rtt_ms, *jitter, time_scale)
            }
        }
    }
}

/// Everything `vmsc node` needs to run one node.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// The cluster file, as written (unscaled).
    pub spec: ClusterSpec,
    /// This node's index in the file.
    pub me: usize,
    /// Every node's UDP address, in file order.
    pub addresses: Vec<SocketAddr>,
    /// The control endpoint's TCP address.
    pub control: SocketAddr,
    /// Injected link delays.
    pub latency: Latency,
    /// Cluster time runs this many times faster than wall time (see the module doc).
    pub time_scale: f64,
    /// Delay before a node that took a CLUEXIT boots again, in cluster time (default:
    /// [`BOOT_DELAY_HELLOS`] hello intervals).
    pub boot_delay: Option<Duration>,
    /// Write the trace, as JSON lines, to this file.
    pub trace: Option<PathBuf>,
    /// The instant trace timestamps count from (default: the node's start).
    pub epoch: Option<SystemTime>,
    /// Stop when stdin reaches end of input.
    pub watch_stdin: bool,
    /// Stop on Ctrl-C or SIGTERM (off for nodes run inside a test process).
    pub signals: bool,
}

impl NodeOptions {
    /// Options for node `me` of `spec` (an index in file order) with the default addresses
    /// ([`node_addresses`]: the file's, else `127.0.0.1:(base_port + i)`, by default from
    /// [`BASE_PORT_DEFAULT`]), the control endpoint on the node's UDP port number, the shipped
    /// RTT table, no scaling, no trace.
    ///
    /// # Errors
    ///
    /// [`NodeError::BasePort`] if a node's port would pass 65535.
    pub fn new(spec: ClusterSpec, me: usize, base_port: Option<u16>) -> Result<Self, NodeError> {
        let base = base_port.unwrap_or(BASE_PORT_DEFAULT);
        let addresses = node_addresses(&spec, base)?;
        // An index outside the cluster is reported by `run_node`; use the base port meanwhile.
        let port = addresses.get(me).map_or(base, SocketAddr::port);
        let control = SocketAddr::from(([127, 0, 0, 1], port));
        Ok(Self {
            spec,
            me,
            addresses,
            control,
            latency: Latency::embedded(),
            time_scale: 1.0,
            boot_delay: None,
            trace: None,
            epoch: None,
            watch_stdin: false,
            signals: true,
        })
    }
}

/// Why a node could not run.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Binding the UDP socket or the control endpoint failed.
    #[error("cannot bind the {what} address {addr}")]
    Bind {
        /// `UDP` or `control`.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The driver refused its configuration.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// The options do not describe a node of the cluster.
    #[error("{0}")]
    Options(String),
    /// A node without an `address` would get a port past 65535.
    #[error(
        "base port {base_port} gives node {node} (index {index} in the cluster file) port \
         {base_port} + {index}, past 65535; the largest base port for this cluster is {largest}"
    )]
    BasePort {
        /// The base port given.
        base_port: u16,
        /// The node's name.
        node: String,
        /// Its index in the cluster file.
        index: usize,
        /// The largest base port that fits every node.
        largest: u16,
    },
    /// The latency table lacks a pair the cluster needs.
    #[error("latency")]
    Latency(#[from] LatencyError),
    /// The address table is invalid.
    #[error("addresses")]
    Peers(#[from] PeersError),
    /// The tokio runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The time scale makes the cluster's timers invalid.
    #[error("time scale: {0}")]
    TimeScale(String),
    /// The trace file cannot be written.
    #[error("cannot write the trace file {path}")]
    Trace {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// What a node did, reported when it stops.
#[derive(Clone, Debug)]
pub struct NodeSummary {
    /// Counters over every incarnation.
    pub stats: Stats,
    /// Trace lines written, if tracing.
    pub trace_lines: Option<u64>,
}

/// The node index and the address table must fit the cluster.
fn check_options(options: &NodeOptions) -> Result<(), NodeError> {
    let nodes = options.spec.len();
    if options.me < nodes && options.addresses.len() == nodes {
        return Ok(());
    }
    Err(NodeError::Options(format!(
        "node {} and {} for a cluster of {}",
        options.me,
        count(options.addresses.len() as u64, "address", "addresses"),
        count(nodes as u64, "node", "nodes")
    )))
}

/// Every node's UDP address, in file order: the cluster file's `address`, else
/// `127.0.0.1:(base_port + i)` for node `i`.
///
/// # Errors
///
/// [`NodeError::BasePort`] naming the first node whose port would pass 65535.
pub fn node_addresses(spec: &ClusterSpec, base_port: u16) -> Result<Vec<SocketAddr>, NodeError> {
    let last_index = (0..spec.len())
        .filter(|&i| spec.nodes[i].address.is_none())
        .max()
        .unwrap_or(0);
    let largest = u16::MAX.saturating_sub(u16::try_from(last_index).unwrap_or(u16::MAX));
    (0..spec.len())
        .map(|i| match spec.nodes[i].address {
            Some(addr) => Ok(addr),
            None => u16::try_from(i)
                .ok()
                .and_then(|i| base_port.checked_add(i))
                .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
                .ok_or_else(|| NodeError::BasePort {
                    base_port,
                    node: spec.nodes[i].name.clone(),
                    index: i,
                    largest,
                }),
        })
        .collect()
}

/// The cluster file with its hello and RECNX intervals divided by `time_scale`.
///
/// # Errors
///
/// [`NodeError::TimeScale`] if the scale is not a positive finite number, if it makes the hello
/// interval shorter than [`HELLO_INTERVAL_MS_MIN_SCALED`] (unless the file's own interval is
/// shorter), or if RECNXINTERVAL no longer exceeds 3 hello intervals after rounding to whole
/// milliseconds.
pub fn scaled_spec(spec: &ClusterSpec, time_scale: f64) -> Result<ClusterSpec, NodeError> {
    if !(time_scale.is_finite() && time_scale > 0.0) {
        return Err(NodeError::TimeScale(format!(
            "{time_scale} is not a positive number"
        )));
    }
    let scale = |ms: u64| ((ms as f64 / time_scale).round() as u64).max(1);
    let mut scaled = spec.clone();
    scaled.hello_interval_ms = scale(spec.hello_interval_ms);
    scaled.recnx_interval_ms = scale(spec.recnx_interval_ms);
    let floor_ms = HELLO_INTERVAL_MS_MIN_SCALED.min(spec.hello_interval_ms);
    if scaled.hello_interval_ms < floor_ms {
        return Err(NodeError::TimeScale(format!(
            "{time_scale} turns hello_interval_ms {} into {} ms; below {floor_ms} ms the OS \
             scheduler makes healthy circuits flap",
            spec.hello_interval_ms, scaled.hello_interval_ms
        )));
    }
    if scaled.recnx_interval_ms <= 3 * scaled.hello_interval_ms {
        return Err(NodeError::TimeScale(format!(
            "{time_scale} turns hello_interval_ms {} into {} ms and recnx_interval_ms {} into {} ms, \
             which no longer exceeds 3 hello intervals",
            spec.hello_interval_ms, scaled.hello_interval_ms, spec.recnx_interval_ms, scaled.recnx_interval_ms
        )));
    }
    Ok(scaled)
}

/// Runs one node on a current-thread tokio runtime until it is told to stop.
///
/// # Errors
///
/// [`NodeError`] if the node cannot start (see [`run_node`]).
pub fn run_node_blocking(options: NodeOptions) -> Result<NodeSummary, NodeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(NodeError::Runtime)?;
    let result = runtime.block_on(run_node(options, std::future::pending()));
    // A blocking stdin read may still be parked; do not wait for it.
    runtime.shutdown_background();
    result
}

/// Runs one node until `stop` completes or another stop signal arrives (see the module doc).
///
/// # Errors
///
/// [`NodeError`] if the timers, the latency table, the addresses or the trace file are invalid,
/// or a socket cannot be bound.
pub async fn run_node(
    options: NodeOptions,
    stop: impl Future<Output = ()>,
) -> Result<NodeSummary, NodeError> {
    check_options(&options)?;
    // Bad timers or a missing latency pair fail before anything is bound.
    let spec = scaled_spec(&options.spec, options.time_scale)?;
    options.latency.matrix(&spec, options.time_scale)?;
    let udp = options.addresses[options.me];
    let socket = UdpSocket::bind(udp)
        .await
        .map_err(|source| NodeError::Bind {
            what: "UDP",
            addr: udp,
            source,
        })?;
    let listener = control::bind(options.control)
        .await
        .map_err(|source| NodeError::Bind {
            what: "control",
            addr: options.control,
            source,
        })?;
    run_node_bound(options, Arc::new(socket), listener, stop).await
}

/// [`run_node`] on an already-bound UDP socket (at the node's entry in `options.addresses`) and
/// control listener, so tests can bind port 0 and run several nodes in one process.
///
/// # Errors
///
/// As [`run_node`].
pub async fn run_node_bound(
    options: NodeOptions,
    socket: Arc<UdpSocket>,
    listener: tokio::net::TcpListener,
    stop: impl Future<Output = ()>,
) -> Result<NodeSummary, NodeError> {
    check_options(&options)?;
    let spec = Arc::new(scaled_spec(&options.spec, options.time_scale)?);
    let matrix = options.latency.matrix(&spec, options.time_scale)?;
    let latency: Arc<dyn LatencyModel> = match options.latency {
        Latency::Off => Arc::new(NoLatency),
        Latency::Table { .. } => Arc::new(matrix),
    };
    let peers = Peers::new(options.addresses.clone())?;
    let me = NodeIndex::new(options.me as u16);
    let udp = options.addresses[options.me];
    let control_addr = listener.local_addr().unwrap_or(options.control);
    let hello = Duration::from_millis(spec.hello_interval_ms);
    let boot_delay = options
        .boot_delay
        .map_or(hello * BOOT_DELAY_HELLOS, |d| d.div_f64(options.time_scale));
    let actor = NodeActor::new(Arc::clone(&spec), options.me, ProtocolOptions::default());
    let console = Arc::new(Console::new(actor.clone()));
    let (lock_sender, lock_inbox) = local_inbox();
    let locks = Arc::new(LockService::new(actor.clone(), lock_sender));
    let observers: Vec<Arc<dyn Observer<NodeActor>>> = vec![console.clone(), locks.clone()];
    let faults = Faults::new();
    let stats = StatsHandle::default();
    let (supervisor, handle) = Supervisor::new(
        actor.clone(),
        me,
        socket,
        peers,
        DriverConfig::with_hello_interval(hello).seed(u64::from(spec.nodes[options.me].system_id)),
        boot_delay,
    );
    let status_actor = actor.clone();
    let mut driver_options = DriverOptions::new()
        .with_faults(faults.clone())
        .with_latency(latency)
        .with_observer(Arc::new(Observers(observers)))
        .with_local_inbox(lock_inbox)
        .with_stats(stats.clone())
        .with_status(move |state| trace_status(&status_actor, state));
    let mut trace_writer = None;
    if let Some(path) = &options.trace {
        let file = std::fs::File::create(path).map_err(|source| NodeError::Trace {
            path: path.clone(),
            source,
        })?;
        let (tracer, writer) = Tracer::json_lines(t0(options.epoch), TRACE_BUFFER_RECORDS, file);
        driver_options = driver_options.with_tracer(tracer);
        trace_writer = Some(writer);
    }
    let supervisor = supervisor.with_options(driver_options);
    tracing::info!(
        target: CONSOLE_TARGET,
        "%VMSC-I-NODE, system {} on UDP {udp}, control endpoint TCP {control_addr}, hello {} ms, RECNXINTERVAL {} ms",
        spec.nodes[options.me].name, spec.hello_interval_ms, spec.recnx_interval_ms
    );
    let (shutdown_tx, mut shutdown_rx) = watch::channel(false);
    let context = ControlContext {
        spec: Arc::clone(&spec),
        me: options.me,
        console,
        supervisor: handle.clone(),
        faults,
        stats: stats.clone(),
        shutdown: shutdown_tx,
        locks,
        slots: control::Slots::default(),
    };
    let server = tokio::spawn(control::serve(listener, context));
    let mut running = tokio::spawn(supervisor.run());
    let supervisor_result = tokio::select! {
        result = &mut running => Some(result),
        () = stop => None,
        () = signalled(options.signals) => None,
        _ = shutdown_rx.wait_for(|stop| *stop) => None,
        () = stdin_closed(options.watch_stdin) => None,
    };
    let result = match supervisor_result {
        Some(result) => result,
        None => {
            handle.request(Request::Shutdown).await;
            running.await
        }
    };
    server.abort();
    let trace_lines = match trace_writer {
        // The supervisor and its drivers dropped their tracers; the writer drains and ends.
        Some(writer) => writer.await.ok().and_then(Result::ok),
        None => None,
    };
    match result {
        Ok(Ok(())) => Ok(NodeSummary {
            stats: stats.stats(),
            trace_lines,
        }),
        Ok(Err(error)) => Err(error.into()),
        Err(join) => Err(NodeError::Driver(DriverError::Task(join))),
    }
}

/// The `Instant` matching `epoch` (the node's start if absent or in the future).
fn t0(epoch: Option<SystemTime>) -> Instant {
    let now = Instant::now();
    let age = epoch
        .and_then(|e| SystemTime::now().duration_since(e).ok())
        .unwrap_or_default();
    now.checked_sub(age).unwrap_or(now)
}

/// Completes on Ctrl-C or (on Unix) SIGTERM; never if `enabled` is false.
async fn signalled(enabled: bool) {
    if !enabled {
        return std::future::pending().await;
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Completes when stdin reaches end of input (never, unless `watch`).
async fn stdin_closed(watch: bool) {
    use tokio::io::AsyncReadExt;
    if !watch {
        return std::future::pending().await;
    }
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 256];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_divides_the_timers_and_keeps_their_relation() {
        let spec = ClusterSpec::seed();
        let fast = scaled_spec(&spec, 10.0).expect("valid scale");
        assert_eq!(
            (fast.hello_interval_ms, fast.recnx_interval_ms),
            (100, 2000)
        );
        assert!(scaled_spec(&spec, 0.0).is_err());
        let err = scaled_spec(&spec, 200.0).expect_err("5 ms hello");
        assert!(err.to_string().contains("below 10 ms"), "{err}");
        let mut tight = spec.clone();
        tight.hello_interval_ms = 35;
        tight.recnx_interval_ms = 106;
        let err = scaled_spec(&tight, 3.5).expect_err("10 ms hello, 30 ms recnx");
        assert!(
            err.to_string()
                .contains("no longer exceeds 3 hello intervals"),
            "{err}"
        );
    }

    #[test]
    fn default_addresses_count_from_the_base_port() {
        let options = NodeOptions::new(ClusterSpec::seed(), 2, None).expect("fits");
        assert_eq!(options.addresses[2].to_string(), "127.0.0.1:7003");
        assert_eq!(options.control.to_string(), "127.0.0.1:7003");
        let options = NodeOptions::new(ClusterSpec::seed(), 0, Some(9000)).expect("fits");
        assert_eq!(options.addresses[4].to_string(), "127.0.0.1:9004");
        let last = NodeOptions::new(ClusterSpec::seed(), 4, Some(65531)).expect("fits");
        assert_eq!(last.addresses[4].to_string(), "127.0.0.1:65535");
        // Past the last port: an error naming the node, not two nodes on one port.
        let err = NodeOptions::new(ClusterSpec::seed(), 0, Some(65534)).expect_err("overflow");
        assert_eq!(
            err.to_string(),
            "base port 65534 gives node UK1 (index 2 in the cluster file) port 65534 + 2, past \
             65535; the largest base port for this cluster is 65531"
        );
    }

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(count(1, "node", "nodes"), "1 node");
        assert_eq!(count(0, "node", "nodes"), "0 nodes");
        assert_eq!(count(3, "address", "addresses"), "3 addresses");
        let mut options = NodeOptions::new(ClusterSpec::seed(), 0, None).expect("fits");
        options.spec.nodes.truncate(1);
        assert_eq!(
            check_options(&options)
                .expect_err("5 addresses")
                .to_string(),
            "node 0 and 5 addresses for a cluster of 1 node"
        );
        options.addresses.truncate(1);
        options.me = 1;
        assert_eq!(
            check_options(&options).expect_err("no node 1").to_string(),
            "node 1 and 1 address for a cluster of 1 node"
        );
    }

    #[test]
    fn a_missing_pair_fails_naming_it() {
        let mut spec = ClusterSpec::seed();
        spec.nodes[2].region = "ZZZ".into();
        let err = Latency::embedded()
            .matrix(&spec, 1.0)
            .expect_err("ZZZ is not in the table");
        assert_eq!(
            err.to_string(),
            "latency/data/rtt_ms.csv: no RTT for FRA->ZZZ in either direction"
        );
    }
}
