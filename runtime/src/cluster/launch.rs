//! `vmsc run`: a whole cluster on loopback, one OS process per node, driven by a scenario.
//!
//! [`run_cluster`]:
//!
//! 1. picks a free UDP port (the node) and a free TCP port (its control endpoint) per node on
//!    127.0.0.1, and launches every node as `vmsc node --addresses ... --control-port ...
//!    --watch-stdin` (stdin stays a pipe to this process, so a node exits when `vmsc run` does,
//!    however it ends);
//! 2. prints every node's console lines, prefixed with its name, as they arrive;
//! 3. polls every node's control endpoint (`show cluster`) and runs the scenario's steps in
//!    order, each at its time or once the cluster has **settled**: every live node reports that
//!    it is quiescent (`NodeActor::is_quiescent`, no reboot pending), and no node's condition,
//!    view, circuits or incarnation changed for the settle time, counted from the last change and
//!    from the last step. A link cut is applied at both ends (each end's send and receive path);
//! 4. after each settle that follows a change, prints SHOW CLUSTER once per distinct view;
//! 5. once the last step ran and the cluster settled, reports a [`RunOutcome`] — in the shape of
//!    a `vmsc whatif` outcome, plus every node's final view — and, unless told to keep running,
//!    stops every node (`shutdown` on its control endpoint, then a kill if it lingers).
//!
//! The default settle time is 4 hello intervals plus the largest injected round trip (both
//! scaled): longer than the listen timeout (3 hellos), so a cut is noticed, and long enough for a
//! healed link's circuits to reopen, before the cluster can count as settled.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::time::Instant;
use vmsc_model::config::{ClusterSpec, BASE_PORT_DEFAULT};
use vmsc_model::whatif::Outcome;

use crate::cluster::console::{Condition, NodeStatus, ViewStatus};
use crate::cluster::control::{ControlClient, ControlError, Direction, Request};
use crate::cluster::process::{node_addresses, scaled_spec, Latency, NodeError};
use crate::cluster::scenario::{Action, Scenario, When};

/// How long a node may take to answer on its control endpoint after launch.
const CONTROL_READY_MAX: Duration = Duration::from_secs(15);

/// How long a node may take to exit after `shutdown` before it is killed.
const EXIT_WAIT_MAX: Duration = Duration::from_secs(3);

/// How `vmsc run` runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The cluster file, passed to every node.
    pub cluster_file: PathBuf,
    /// Its contents.
    pub spec: ClusterSpec,
    /// The scenario, if any.
    pub scenario: Option<Scenario>,
    /// The `vmsc` executable that runs the nodes.
    pub exe: PathBuf,
    /// Extra `vmsc node` arguments (latency, time scale, boot delay), passed to every node.
    pub node_args: Vec<String>,
    /// The latency every node will inject (to validate the table before launching and to derive
    /// the settle time).
    pub latency: Latency,
    /// The time scale every node uses.
    pub time_scale: f64,
    /// Wall time the cluster must stay unchanged to count as settled (default: see module doc).
    pub settle: Option<Duration>,
    /// Wall-time budget for the scenario and the final settle.
    pub timeout: Duration,
    /// Stop once the scenario ran and the cluster settled (otherwise run until Ctrl-C).
    pub exit_when_settled: bool,
    /// Write each node's trace to `DIR/NAME.trace.jsonl`.
    pub trace_dir: Option<PathBuf>,
    /// Work to run once the cluster has first settled, before the scenario's first step.
    pub before_steps: Option<Phase>,
    /// Launch every node where `vmsc node` would put it by default (the file's `address`,
    /// else `127.0.0.1:(base + i)`, the control endpoint on the same port number), so that
    /// `vmsc lock --config FILE --name NODE` reaches it; `None`: free ports picked at random.
    pub base_port: Option<u16>,
}

/// What a [`Phase`] is given.
#[derive(Clone, Debug)]
pub struct PhaseContext {
    /// Every node's control endpoint, in cluster-file order.
    pub control: Vec<SocketAddr>,
    /// The nodes' trace epoch: trace records' `t_us` count from it.
    pub epoch: SystemTime,
}

/// The future a [`Phase`] returns: `Err` with a message stops the run.
pub type PhaseFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Work [`run_cluster`] runs once the cluster has first settled and before the scenario's
/// first step, with the nodes' control endpoints (`vmsc experiment`'s lock load). It is bounded
/// by the run's timeout; the scenario's steps follow once it returns.
#[derive(Clone)]
pub struct Phase(pub Arc<dyn Fn(PhaseContext) -> PhaseFuture + Send + Sync>);

impl std::fmt::Debug for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Phase(..)")
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A node's control endpoint failed.
    #[error("{node}: {source}")]
    Control {
        /// The node.
        node: String,
        /// What failed.
        #[source]
        source: ControlError,
    },
    /// Ctrl-C.
    #[error("interrupted")]
    Interrupted,
    /// The work before the scenario ([`RunOptions::before_steps`]) failed.
    #[error("before the scenario: {0}")]
    Phase(String),
    /// The cluster cannot run with these settings (latency table, time scale).
    #[error(transparent)]
    Node(#[from] NodeError),
    /// A node process ended on its own.
    #[error("node {node} exited ({status})")]
    NodeExited {
        /// The node.
        node: String,
        /// How it ended.
        status: String,
    },
    /// No free local port could be found.
    #[error("cannot pick free local ports")]
    Ports(#[source] std::io::Error),
    /// A fixed port ([`RunOptions::base_port`]) is taken.
    #[error("cannot serve node {node}: its {what} address {addr} is in use (another cluster on the same ports? give another base port)")]
    PortInUse {
        /// The node.
        node: String,
        /// `UDP` or `control`.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// A node process could not be started.
    #[error("cannot start node {node} ({exe})")]
    Spawn {
        /// The node.
        node: String,
        /// The executable.
        exe: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// One node's final view, as `vmsc run --json` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FinalView {
    /// The view (`null` for a non-member or a node that is down).
    pub view: Option<ViewStatus>,
    /// The node's condition.
    pub status: Condition,
}

/// The result of a run: a `vmsc whatif` [`Outcome`] (the same type, flattened into the same JSON
/// keys), plus every node's final view.
///
/// The outcome's lists are filled as follows: `members` are the active nodes; `hung` the nodes
/// alive but not active (quorum hang, or unable to join), except those listed only under
/// `cluexit`; `cluexit` the nodes that took a CLUEXIT during the run; `down` the nodes crashed by
/// the scenario and not rebooted. A node that took a CLUEXIT and has not become a member again is
/// listed under `cluexit` only: the model (without heal) leaves such a node down, while the
/// runtime has rebooted it and it waits to join.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunOutcome {
    /// Members, hung, CLUEXIT and down nodes, each sorted by name.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Every node's final view and condition.
    pub views: BTreeMap<String, FinalView>,
    /// The cluster settled before the timeout.
    pub settled: bool,
    /// When each scenario step that ran was started, in µs since the run's trace epoch (the
    /// instant every node's trace timestamps `t_us` count from), in step order. Not part of the
    /// JSON outcome; `vmsc experiment` lines the traces up with it.
    #[serde(skip)]
    pub step_times_us: Vec<StepTime>,
}

/// When `vmsc run` started one scenario step (just before sending its control requests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepTime {
    /// The step's index in the scenario file.
    pub index: usize,
    /// µs since the run's trace epoch (see [`RunOutcome::step_times_us`]).
    pub t_us: u64,
}

impl RunOutcome {
    /// Classifies the nodes' final statuses (see the type's doc).
    pub fn of(statuses: &[NodeStatus], settled: bool) -> Self {
        let sorted = |pred: &dyn Fn(&NodeStatus) -> bool| {
            let mut names: Vec<String> = statuses
                .iter()
                .filter(|s| pred(s))
                .map(|s| s.node.clone())
                .collect();
            names.sort();
            names
        };
        let rejoining =
            |s: &NodeStatus| s.cluexits > 0 && (s.view.is_none() || s.status == Condition::Cluexit);
        Self {
            outcome: Outcome {
                members: sorted(&|s| s.status == Condition::Active),
                hung: sorted(&|s| {
                    !matches!(s.status, Condition::Active | Condition::Down) && !rejoining(s)
                }),
                cluexit: sorted(&|s| s.cluexits > 0),
                down: sorted(&|s| s.status == Condition::Down),
            },
            views: statuses
                .iter()
                .map(|s| {
                    (
                        s.node.clone(),
                        FinalView {
                            view: s.view.clone(),
                            status: s.status,
                        },
                    )
                })
                .collect(),
            settled,
            step_times_us: Vec::new(),
        }
    }

    /// `members [..]  hung [..]  cluexit [..]  down [..]`, as `vmsc whatif` prints an outcome.
    pub fn summary(&self) -> String {
        let o = &self.outcome;
        format!(
            "members [{}]  hung [{}]  cluexit [{}]  down [{}]",
            o.members.join(" "),
            o.hung.join(" "),
            o.cluexit.join(" "),
            o.down.join(" ")
        )
    }
}

/// Where human-readable output goes (stdout, or stderr when stdout carries JSON); shared by the
/// tasks that copy the nodes' console lines.
#[derive(Clone)]
pub struct Printer(Arc<Mutex<Box<dyn Write + Send>>>);

impl Printer {
    /// A printer writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self(Arc::new(Mutex::new(out)))
    }

    /// Writes `text` and a newline, then flushes (output errors are ignored: a closed pipe must
    /// not stop the cluster).
    pub fn line(&self, text: &str) {
        let mut out = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

/// One launched node.
struct Node {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    control: SocketAddr,
    client: Option<ControlClient>,
}

/// Runs the cluster as described in the module doc.
///
/// # Errors
///
/// [`LaunchError`] if the settings are invalid, a node cannot start or dies, a control request
/// fails, or Ctrl-C was pressed. Every node is stopped before this returns.
pub async fn run_cluster(options: RunOptions, printer: Printer) -> Result<RunOutcome, LaunchError> {
    let scaled = scaled_spec(&options.spec, options.time_scale)?;
    let matrix = options
        .latency
        .matrix(&options.spec, options.time_scale)
        .map_err(NodeError::from)?;
    let hello = Duration::from_millis(scaled.hello_interval_ms);
    let settle = options.settle.unwrap_or(hello * 4 + matrix.max_delay() * 2);
    let (mut nodes, epoch) = launch(&options, &printer)?;
    let result = tokio::select! {
        result = drive(&options, &scaled, settle, &mut nodes, &printer, epoch) => result,
        _ = tokio::signal::ctrl_c() => Err(LaunchError::Interrupted),
    };
    stop(&mut nodes).await;
    result
}

/// [`run_cluster`] on a current-thread tokio runtime.
///
/// # Errors
///
/// As [`run_cluster`]; [`LaunchError::Runtime`] if the runtime cannot start.
pub fn run_cluster_blocking(
    options: RunOptions,
    printer: Printer,
) -> Result<RunOutcome, LaunchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LaunchError::Runtime)?;
    let result = runtime.block_on(run_cluster(options, printer));
    runtime.shutdown_background();
    result
}

/// Every node's UDP address and control endpoint: free ports on 127.0.0.1, or with
/// [`RunOptions::base_port`] the addresses `vmsc node` would use (checked free).
fn pick_ports(options: &RunOptions) -> Result<(Vec<SocketAddr>, Vec<SocketAddr>), LaunchError> {
    if let Some(base) = options.base_port {
        let udp = node_addresses(&options.spec, base)?;
        let tcp: Vec<SocketAddr> = udp
            .iter()
            .map(|a| SocketAddr::from(([127, 0, 0, 1], a.port())))
            .collect();
        for (i, node) in options.spec.nodes.iter().enumerate() {
            let in_use = |what, addr: SocketAddr| {
                move |source| LaunchError::PortInUse {
                    node: node.name.clone(),
                    what,
                    addr,
                    source,
                }
            };
            drop(UdpSocket::bind(udp[i]).map_err(in_use("UDP", udp[i]))?);
            drop(TcpListener::bind(tcp[i]).map_err(in_use("control", tcp[i]))?);
        }
        return Ok((udp, tcp));
    }
    let n = options.spec.len();
    // Hold every socket until all are picked, so no port is handed out twice.
    let udp: Vec<UdpSocket> = (0..n)
        .map(|_| UdpSocket::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(LaunchError::Ports)?;
    let tcp: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(LaunchError::Ports)?;
    let udp_addrs: Vec<SocketAddr> = udp
        .iter()
        .map(UdpSocket::local_addr)
        .collect::<Result<_, _>>()
        .map_err(LaunchError::Ports)?;
    let tcp_addrs: Vec<SocketAddr> = tcp
        .iter()
        .map(TcpListener::local_addr)
        .collect::<Result<_, _>>()
        .map_err(LaunchError::Ports)?;
    Ok((udp_addrs, tcp_addrs))
}

/// Picks the ports and starts every node process; returns them and the trace epoch they were
/// given.
fn launch(options: &RunOptions, printer: &Printer) -> Result<(Vec<Node>, SystemTime), LaunchError> {
    let n = options.spec.len();
    let (udp_addrs, tcp_addrs) = pick_ports(options)?;
    let addresses = udp_addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let epoch_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    // The epoch exactly as the nodes will parse it back from `--epoch-us`.
    let epoch = UNIX_EPOCH + Duration::from_micros(u64::try_from(epoch_us).unwrap_or(u64::MAX));
    let mut nodes = Vec::with_capacity(n);
    for (i, spec) in options.spec.nodes.iter().enumerate() {
        let mut command = Command::new(&options.exe);
        command
            .arg("node")
            .arg("--config")
            .arg(&options.cluster_file)
            .args(["--name", &spec.name, "--addresses", &addresses])
            .args(["--control-port", &tcp_addrs[i].port().to_string()])
            .args(["--epoch-us", &epoch_us.to_string(), "--watch-stdin"])
            .args(&options.node_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = &options.trace_dir {
            command
                .arg("--trace")
                .arg(dir.join(format!("{}.trace.jsonl", spec.name)));
        }
        let mut child = command.spawn().map_err(|source| LaunchError::Spawn {
            node: spec.name.clone(),
            exe: options.exe.display().to_string(),
            source,
        })?;
        let prefix = format!("{:<6} |", spec.name);
        if let Some(out) = child.stdout.take() {
            tokio::spawn(copy_lines(out, prefix.clone(), printer.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(copy_lines(err, prefix, printer.clone()));
        }
        printer.line(&format!(
            "%VMSC-I-RUN, launched {} (pid {}): UDP {}, control endpoint TCP {}",
            spec.name,
            child.id().unwrap_or_default(),
            udp_addrs[i],
            tcp_addrs[i]
        ));
        nodes.push(Node {
            name: spec.name.clone(),
            stdin: child.stdin.take(),
            child,
            control: tcp_addrs[i],
            client: None,
        });
    }
    Ok((nodes, epoch))
}

async fn copy_lines(from: impl AsyncRead + Unpin, prefix: String, printer: Printer) {
    let mut lines = BufReader::new(from).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        printer.line(&format!("{prefix} {line}"));
    }
}

/// The part of a status whose change restarts the settle time.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
    status: Condition,
    view: Option<(u32, Vec<String>)>,
    connections: Vec<String>,
    boots: u32,
}

impl Fingerprint {
    fn of(s: &NodeStatus) -> Self {
        Self {
            status: s.status,
            view: s.view.as_ref().map(|v| (v.seq, v.members.clone())),
            connections: s.connections.clone(),
            boots: s.boots,
        }
    }
}

/// What the poller knows about the cluster.
struct Watch {
    settle: Duration,
    poll: Duration,
    statuses: Vec<NodeStatus>,
    texts: Vec<String>,
    fingerprints: Vec<Option<Fingerprint>>,
    /// Last change of any fingerprint, or last step.
    quiet_since: Instant,
    /// Something changed since SHOW CLUSTER was last printed.
    unprinted: bool,
}

impl Watch {
    fn settled(&self, now: Instant) -> bool {
        self.statuses.iter().all(|s| s.quiescent)
            && now.duration_since(self.quiet_since) >= self.settle
    }
}

async fn drive(
    options: &RunOptions,
    scaled: &ClusterSpec,
    settle: Duration,
    nodes: &mut [Node],
    printer: &Printer,
    epoch: SystemTime,
) -> Result<RunOutcome, LaunchError> {
    let start = Instant::now();
    let mut step_times_us = Vec::new();
    connect(nodes).await?;
    let deadline = Instant::now() + options.timeout;
    let hello = Duration::from_millis(scaled.hello_interval_ms);
    let mut watch = Watch {
        settle,
        poll: (hello / 4).clamp(Duration::from_millis(5), Duration::from_millis(50)),
        statuses: Vec::new(),
        texts: Vec::new(),
        fingerprints: vec![None; nodes.len()],
        quiet_since: Instant::now(),
        unprinted: true,
    };
    printer.line(&format!(
        "%VMSC-I-RUN, settle time {} ms; waiting for the cluster to form",
        settle.as_millis()
    ));
    let mut steps = options.scenario.as_ref().map_or(&[][..], |s| &s.steps[..]);
    let mut settled = true;
    if let Some(phase) = &options.before_steps {
        settled = wait_settled(&mut watch, nodes, printer, deadline).await?;
        if settled {
            printer.line("%VMSC-I-RUN, cluster settled; running the work before the scenario");
            let context = PhaseContext {
                control: nodes.iter().map(|n| n.control).collect(),
                epoch,
            };
            match tokio::time::timeout_at(deadline, (phase.0)(context)).await {
                Ok(Ok(())) => {}
                Ok(Err(message)) => return Err(LaunchError::Phase(message)),
                Err(_) => {
                    settled = false;
                    printer.line("%VMSC-W-RUN, timed out in the work before the scenario");
                }
            }
            watch.quiet_since = Instant::now();
            watch.unprinted = true;
        }
        if !settled {
            steps = &[];
        }
    }
    for step in steps {
        let ready = match step.when {
            When::AfterSettled => wait_settled(&mut watch, nodes, printer, deadline).await?,
            When::At(at) => {
                let at = start + at.div_f64(options.time_scale);
                while Instant::now() < at.min(deadline) {
                    poll(&mut watch, nodes).await?;
                    tokio::time::sleep(
                        watch.poll.min(at.saturating_duration_since(Instant::now())),
                    )
                    .await;
                }
                Instant::now() >= at
            }
        };
        if !ready {
            settled = false;
            printer.line(&format!(
                "%VMSC-W-RUN, timed out before step {}; stopping the scenario",
                step.index
            ));
            break;
        }
        printer.line(&format!(
            "%VMSC-I-STEP, step {}: {}",
            step.index,
            step.action.describe(&options.spec)
        ));
        step_times_us.push(StepTime {
            index: step.index,
            t_us: SystemTime::now()
                .duration_since(epoch)
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        });
        act(&step.action, &options.spec, nodes).await?;
        watch.quiet_since = Instant::now();
        watch.unprinted = true;
    }
    if settled {
        settled = wait_settled(&mut watch, nodes, printer, deadline).await?;
    }
    let mut outcome = RunOutcome::of(&watch.statuses, settled);
    outcome.step_times_us = step_times_us;
    if settled {
        printer.line(&format!("%VMSC-I-SETTLED, outcome: {}", outcome.summary()));
    } else {
        printer.line(&format!(
            "%VMSC-W-TIMEOUT, the cluster did not settle in {} s; now: {}",
            options.timeout.as_secs(),
            outcome.summary()
        ));
    }
    if !options.exit_when_settled {
        if options.base_port.is_some() {
            print_endpoints(options, nodes, printer);
        }
        printer.line("%VMSC-I-RUN, the cluster keeps running; press Ctrl-C to stop every node");
        loop {
            poll(&mut watch, nodes).await?;
            if watch.settled(Instant::now()) && watch.unprinted {
                print_views(&watch, printer);
                watch.unprinted = false;
            }
            tokio::time::sleep(watch.poll).await;
        }
    }
    Ok(outcome)
}

/// Where `vmsc lock` reaches each node of a cluster served at fixed ports.
fn print_endpoints(options: &RunOptions, nodes: &[Node], printer: &Printer) {
    let file = options.cluster_file.display();
    let base = match options.base_port {
        Some(base) if base != BASE_PORT_DEFAULT => format!(" --base-port {base}"),
        _ => String::new(),
    };
    for node in nodes {
        printer.line(&format!(
            "%VMSC-I-SERVE, {} control endpoint {}: vmsc lock --config {file}{base} --name {} ...",
            node.name, node.control, node.name
        ));
    }
}

/// Connects to every node's control endpoint, retrying until it answers.
async fn connect(nodes: &mut [Node]) -> Result<(), LaunchError> {
    let give_up = Instant::now() + CONTROL_READY_MAX;
    for node in nodes.iter_mut() {
        loop {
            if let Ok(Some(status)) = node.child.try_wait() {
                return Err(LaunchError::NodeExited {
                    node: node.name.clone(),
                    status: status.to_string(),
                });
            }
            match ControlClient::connect(node.control).await {
                Ok(client) => {
                    node.client = Some(client);
                    break;
                }
                Err(source) if Instant::now() >= give_up => {
                    return Err(LaunchError::Control {
                        node: node.name.clone(),
                        source,
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
    Ok(())
}

/// Sends `request` to `node`.
async fn request(node: &mut Node, request: &Request) -> Result<serde_json::Value, LaunchError> {
    let exited = |node: &mut Node| -> Option<LaunchError> {
        match node.child.try_wait() {
            Ok(Some(status)) => Some(LaunchError::NodeExited {
                node: node.name.clone(),
                status: status.to_string(),
            }),
            _ => None,
        }
    };
    let Some(client) = node.client.as_mut() else {
        return Err(exited(node).unwrap_or(LaunchError::NodeExited {
            node: node.name.clone(),
            status: "not connected".into(),
        }));
    };
    match client.request(request).await {
        Ok(value) => Ok(value),
        Err(source) => Err(exited(node).unwrap_or(LaunchError::Control {
            node: node.name.clone(),
            source,
        })),
    }
}

/// Polls every node once and updates the watch.
async fn poll(watch: &mut Watch, nodes: &mut [Node]) -> Result<(), LaunchError> {
    let mut statuses = Vec::with_capacity(nodes.len());
    let mut texts = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.iter_mut().enumerate() {
        let value = request(node, &Request::Show).await?;
        let status: NodeStatus =
            serde_json::from_value(value["node"].clone()).map_err(|_| LaunchError::Control {
                node: node.name.clone(),
                source: ControlError::BadResponse {
                    addr: node.control,
                    line: value.to_string(),
                },
            })?;
        let fingerprint = Fingerprint::of(&status);
        if watch.fingerprints[i].as_ref() != Some(&fingerprint) {
            watch.fingerprints[i] = Some(fingerprint);
            watch.quiet_since = Instant::now();
            watch.unprinted = true;
        }
        texts.push(value["text"].as_str().unwrap_or_default().to_string());
        statuses.push(status);
    }
    watch.statuses = statuses;
    watch.texts = texts;
    Ok(())
}

/// Polls until the cluster settles (true) or the deadline passes (false); prints SHOW CLUSTER
/// once settled if anything changed.
async fn wait_settled(
    watch: &mut Watch,
    nodes: &mut [Node],
    printer: &Printer,
    deadline: Instant,
) -> Result<bool, LaunchError> {
    loop {
        poll(watch, nodes).await?;
        let now = Instant::now();
        if watch.settled(now) {
            if watch.unprinted {
                print_views(watch, printer);
                watch.unprinted = false;
            }
            return Ok(true);
        }
        if now >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(watch.poll).await;
    }
}

/// Prints SHOW CLUSTER once per distinct view (from the node with the lowest system id holding
/// it), then one line per node that is down or rebooting.
fn print_views(watch: &Watch, printer: &Printer) {
    let mut order: Vec<usize> = (0..watch.statuses.len()).collect();
    order.sort_by_key(|&i| watch.statuses[i].system_id);
    let mut shown: Vec<Option<(u32, Vec<String>)>> = Vec::new();
    for i in order {
        let status = &watch.statuses[i];
        if matches!(status.status, Condition::Down | Condition::Cluexit) {
            printer.line(&format!(
                "%VMSC-I-VIEW, {} is {:?}",
                status.node, status.status
            ));
            continue;
        }
        let key = status.view.as_ref().map(|v| (v.seq, v.members.clone()));
        if shown.contains(&key) {
            continue;
        }
        shown.push(key);
        printer.line(&format!("\n{}", watch.texts[i].trim_end()));
    }
    printer.line("");
}

/// Applies one step through the control endpoints.
async fn act(action: &Action, spec: &ClusterSpec, nodes: &mut [Node]) -> Result<(), LaunchError> {
    let name = |i: usize| spec.nodes[i].name.clone();
    match action {
        Action::Cut { link, one_way } => {
            for &(a, b) in &link.pairs {
                let (da, db) = if *one_way {
                    (Direction::Out, Direction::In)
                } else {
                    (Direction::Both, Direction::Both)
                };
                request(
                    &mut nodes[a],
                    &Request::Cut {
                        peer: name(b),
                        direction: da,
                    },
                )
                .await?;
                request(
                    &mut nodes[b],
                    &Request::Cut {
                        peer: name(a),
                        direction: db,
                    },
                )
                .await?;
            }
        }
        Action::Heal { link } => {
            for &(a, b) in &link.pairs {
                request(
                    &mut nodes[a],
                    &Request::Heal {
                        peer: Some(name(b)),
                    },
                )
                .await?;
                request(
                    &mut nodes[b],
                    &Request::Heal {
                        peer: Some(name(a)),
                    },
                )
                .await?;
            }
        }
        Action::Crash { node } => {
            request(&mut nodes[*node], &Request::Crash).await?;
        }
        Action::Reboot { node } => {
            request(&mut nodes[*node], &Request::Reboot).await?;
        }
    }
    Ok(())
}

/// Stops every node: `shutdown`, end of stdin, then a kill for any that lingers.
async fn stop(nodes: &mut [Node]) {
    for node in nodes.iter_mut() {
        if let Some(client) = node.client.as_mut() {
            let _ =
                tokio::time::timeout(Duration::from_secs(1), client.request(&Request::Shutdown))
                    .await;
        }
        node.stdin = None;
    }
    for node in nodes.iter_mut() {
        if tokio::time::timeout(EXIT_WAIT_MAX, node.child.wait())
            .await
            .is_err()
        {
            let _ = node.child.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(
        node: &str,
        status: Condition,
        member_of: Option<&[&str]>,
        cluexits: u32,
    ) -> NodeStatus {
        NodeStatus {
            node: node.into(),
            system_id: 1,
            status,
            incarnation: cluexits,
            view: member_of.map(|m| ViewStatus {
                seq: 2,
                members: m.iter().map(|s| s.to_string()).collect(),
                expected_votes: 5,
                quorum: 3,
                votes: m.len() as u32,
            }),
            active: status == Condition::Active,
            quorate: status == Condition::Active,
            quiescent: true,
            connections: vec![],
            boots: 1 + cluexits,
            cluexits,
            crashes: 0,
        }
    }

    #[test]
    fn outcome_classifies_like_whatif() {
        let four: &[&str] = &["FRANK1", "FRANK2", "CHIC1", "CHIC2"];
        let statuses = [
            status("FRANK1", Condition::Active, Some(four), 0),
            status("FRANK2", Condition::Active, Some(four), 0),
            status("UK1", Condition::Joining, None, 1),
            status("CHIC1", Condition::Active, Some(four), 0),
            status("CHIC2", Condition::QuorumHung, Some(&["CHIC2"]), 0),
        ];
        let outcome = RunOutcome::of(&statuses, true);
        assert_eq!(
            outcome.summary(),
            "members [CHIC1 FRANK1 FRANK2]  hung [CHIC2]  cluexit [UK1]  down []"
        );
        let json = serde_json::to_value(&outcome).expect("serializes");
        assert_eq!(
            json["views"]["UK1"],
            serde_json::json!({"view": null, "status": "joining"})
        );
        assert_eq!(
            json["views"]["FRANK1"]["view"]["members"],
            serde_json::json!(four)
        );
        let statuses = [
            status("UK1", Condition::Active, Some(&["UK1"]), 1),
            status("CHIC1", Condition::Down, None, 0),
        ];
        let outcome = RunOutcome::of(&statuses, false);
        assert_eq!(
            outcome.summary(),
            "members [UK1]  hung []  cluexit [UK1]  down [CHIC1]"
        );
        assert!(!outcome.settled);
    }
}
