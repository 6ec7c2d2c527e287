//! The lock load: the scenario file's `[load]` section, and the clients that run it through the
//! nodes' control endpoints (`enq`/`deq`, `vmsc_runtime::cluster::control`).
//!
//! ```toml
//! [load]
//! nodes = ["FRANK1", "UK1", "CHIC1"]   # nodes with lock clients (default: every node)
//! clients = 2                          # clients per node, 1..=8 (default 1)
//! requests = 20                        # enq/deq cycles per client, 1..=10000 (default 20)
//! mode = "PR"                          # mode of every enq: NL CR CW PR PW EX (default PR)
//! resources = ["LOADA", "LOADB"]       # from the cluster file's [locks] (default: all of them)
//! masters = { LOADA = "CHIC1" }        # who locks a resource first (default: round robin over `nodes`)
//! known = ["LOADA"]                    # every load node keeps an NL lock here (default: none)
//! think_ms = 0                         # pause between a client's cycles, real ms (default 0)
//! ```
//!
//! # What a run does (once the cluster has first settled, before the scenario's first step)
//!
//! 1. **Masters.** For each resource in order, its master node takes an NL lock and keeps it: the
//!    master of a tree is the first node to lock it (`model/src/dlm/cluster.rs`), so this fixes
//!    the masters, and the master, holding a lock, keeps knowing it is the master.
//! 2. **Known masters.** On each resource listed in `known`, every other load node takes an NL
//!    lock and keeps it: a node remembers a tree's master while it holds a lock on it, so its
//!    requests there go straight to the master (one message).
//! 3. **Load.** Every client (its own control connection) runs `requests` cycles: `enq RES MODE`,
//!    timed from sending the line to the completion (`$ENQW`: the reply comes once the lock is
//!    granted), then `deq`, then `think_ms / time scale`. Client `k` of the load starts at
//!    resource `k` and takes the next one each cycle, so every client visits every resource.
//!
//! With the default `PR` (and the NL locks) no request waits for another: the latency is the
//! lock manager's, not a queue's. `PW`/`EX` add queueing behind the other clients on purpose.
//!
//! Errors name the file and field (`load.masters.LOADA: ...`), like the scenario's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;
use vmsc_model::config::ClusterSpec;
use vmsc_model::dlm::cluster::dir_node_weighted;
use vmsc_model::dlm::{Flags, LockId, Mode};
use vmsc_model::nodeset::NodeSet;
use vmsc_runtime::cluster::control::{ControlClient, Request};
use vmsc_runtime::cluster::launch::{Phase, PhaseContext};
use vmsc_runtime::cluster::locks::{LockOp, LockRequest};
use vmsc_runtime::cluster::scenario::ScenarioError;

/// Most clients per node (a node serves 16 control connections; `vmsc run` holds one).
pub const CLIENTS_PER_NODE_MAX: usize = 8;
/// Most cycles per client.
pub const REQUESTS_MAX: usize = 10_000;

const KEYS: [&str; 8] = [
    "nodes",
    "clients",
    "requests",
    "mode",
    "resources",
    "masters",
    "known",
    "think_ms",
];

/// One resource of the load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoadResource {
    /// Its name.
    pub name: String,
    /// Index in the cluster file's resource table (`ClusterSpec::resources`).
    #[serde(skip)]
    pub index: usize,
    /// The node that locks it first (index).
    #[serde(skip)]
    pub master: usize,
    /// The master's name.
    #[serde(rename = "master")]
    pub master_name: String,
    /// Its directory node with every node a member (`dir_node_weighted`, LOCKDIRWT).
    pub directory: String,
    /// The directory node's index.
    #[serde(skip)]
    pub directory_index: usize,
    /// Every load node holds an NL lock on it (the master is known).
    pub known: bool,
}

/// A validated `[load]` section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoadSpec {
    /// Nodes with clients (names, cluster-file order).
    pub nodes: Vec<String>,
    /// Their indexes.
    #[serde(skip)]
    pub node_indexes: Vec<usize>,
    /// Clients per node.
    pub clients_per_node: usize,
    /// Cycles per client.
    pub requests_per_client: usize,
    /// Mode of every `enq`.
    pub mode: String,
    /// The mode.
    #[serde(skip)]
    pub lock_mode: Mode,
    /// The resources.
    pub resources: Vec<LoadResource>,
    /// Pause between cycles, real ms.
    pub think_ms: f64,
}

fn int(
    table: &toml::Table,
    key: &str,
    default: usize,
    max: usize,
) -> Result<usize, (String, String)> {
    match table.get(key) {
        None => Ok(default),
        Some(v) => match v.as_integer() {
            Some(i) if i >= 1 && i as u64 <= max as u64 => Ok(i as usize),
            Some(i) => Err((key.into(), format!("{i} is out of range 1..={max}"))),
            None => Err((key.into(), "must be a whole number".into())),
        },
    }
}

fn names(table: &toml::Table, key: &str) -> Result<Option<Vec<String>>, (String, String)> {
    let Some(v) = table.get(key) else {
        return Ok(None);
    };
    let Some(array) = v.as_array() else {
        return Err((key.into(), "must be an array of names".into()));
    };
    array
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| (format!("{key}[{i}]"), "must be a string".into()))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

impl LoadSpec {
    /// Validates a `[load]` table against the cluster; `file` labels errors.
    ///
    /// # Errors
    /// [`ScenarioError`] with the field as `load.KEY` (`load.nodes[1]`, `load.masters.R1`).
    pub fn parse(
        file: &str,
        table: &toml::Table,
        spec: &ClusterSpec,
    ) -> Result<Self, ScenarioError> {
        Self::parse_fields(table, spec).map_err(|(field, message)| ScenarioError {
            file: file.into(),
            field: format!("load.{field}"),
            message,
        })
    }

    fn parse_fields(table: &toml::Table, spec: &ClusterSpec) -> Result<Self, (String, String)> {
        for key in table.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err((
                    key.clone(),
                    format!("unknown field (expected one of {})", KEYS.join(", ")),
                ));
            }
        }
        let node = |field: String, name: &str| {
            spec.node_index(name).ok_or_else(|| {
                (
                    field,
                    format!("{name:?} is not a node of cluster {}", spec.name),
                )
            })
        };
        let node_indexes: Vec<usize> = match names(table, "nodes")? {
            None => (0..spec.len()).collect(),
            Some(list) => {
                if list.is_empty() {
                    return Err(("nodes".into(), "name at least one node".into()));
                }
                let mut out = Vec::new();
                for (i, name) in list.iter().enumerate() {
                    let n = node(format!("nodes[{i}]"), name)?;
                    if out.contains(&n) {
                        return Err((format!("nodes[{i}]"), format!("{name:?} is named twice")));
                    }
                    out.push(n);
                }
                out.sort_unstable();
                out
            }
        };
        let clients_per_node = int(table, "clients", 1, CLIENTS_PER_NODE_MAX)?;
        let requests_per_client = int(table, "requests", 20, REQUESTS_MAX)?;
        let lock_mode = match table.get("mode") {
            None => Mode::PR,
            Some(v) => {
                let s = v
                    .as_str()
                    .ok_or_else(|| ("mode".to_string(), "must be a string".to_string()))?;
                s.parse::<Mode>().map_err(|_| {
                    (
                        "mode".into(),
                        format!("{s:?} is not one of NL CR CW PR PW EX"),
                    )
                })?
            }
        };
        let think_ms = match table.get("think_ms") {
            None => 0.0,
            Some(v) => match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
                Some(ms) if (0.0..=60_000.0).contains(&ms) => ms,
                Some(ms) => {
                    return Err(("think_ms".into(), format!("{ms} is out of range 0..=60000")))
                }
                None => return Err(("think_ms".into(), "must be a number of ms".into())),
            },
        };
        let declared = |field: String, name: &str| {
            let upper = name.to_ascii_uppercase();
            spec.resources
                .iter()
                .position(|r| *r == upper)
                .map(|i| (i, upper))
                .ok_or_else(|| {
                    (
                        field,
                        format!(
                            "{name:?} is not a resource of the cluster file's [locks] resources ({})",
                            if spec.resources.is_empty() {
                                "none declared".to_string()
                            } else {
                                spec.resources.join(", ")
                            }
                        ),
                    )
                })
        };
        let resources: Vec<(usize, String)> = match names(table, "resources")? {
            None if spec.resources.is_empty() => {
                return Err((
                    "resources".into(),
                    "the cluster file declares no [locks] resources to load".into(),
                ))
            }
            None => spec.resources.iter().cloned().enumerate().collect(),
            Some(list) if list.is_empty() => {
                return Err(("resources".into(), "name at least one resource".into()))
            }
            Some(list) => {
                let mut out: Vec<(usize, String)> = Vec::new();
                for (i, name) in list.iter().enumerate() {
                    let r = declared(format!("resources[{i}]"), name)?;
                    if out.iter().any(|(j, _)| *j == r.0) {
                        return Err((
                            format!("resources[{i}]"),
                            format!("{name:?} is named twice"),
                        ));
                    }
                    out.push(r);
                }
                out
            }
        };
        let mut masters: BTreeMap<String, usize> = BTreeMap::new();
        if let Some(v) = table.get("masters") {
            let Some(t) = v.as_table() else {
                return Err((
                    "masters".into(),
                    "must be a table of RESOURCE = \"NODE\"".into(),
                ));
            };
            for (res, who) in t {
                let field = format!("masters.{res}");
                let upper = res.to_ascii_uppercase();
                if !resources.iter().any(|(_, r)| *r == upper) {
                    return Err((field, format!("{res:?} is not one of the load's resources")));
                }
                let who = who
                    .as_str()
                    .ok_or_else(|| (field.clone(), "must be a node name".to_string()))?;
                masters.insert(upper, node(field, who)?);
            }
        }
        let mut known: Vec<String> = Vec::new();
        for (i, name) in names(table, "known")?
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let upper = name.to_ascii_uppercase();
            if !resources.iter().any(|(_, r)| *r == upper) {
                return Err((
                    format!("known[{i}]"),
                    format!("{name:?} is not one of the load's resources"),
                ));
            }
            known.push(upper);
        }
        let all: NodeSet = (0..spec.len()).collect();
        let resources = resources
            .into_iter()
            .enumerate()
            .map(|(k, (index, name))| {
                let master = masters
                    .get(&name)
                    .copied()
                    .unwrap_or(node_indexes[k % node_indexes.len()]);
                let weight = |m: usize| spec.nodes[m].lockdirwt;
                let directory = dir_node_weighted(&name, all, weight).unwrap_or(0);
                LoadResource {
                    directory_index: directory,
                    known: known.contains(&name),
                    directory: spec.nodes[directory].name.clone(),
                    master_name: spec.nodes[master].name.clone(),
                    master,
                    index,
                    name,
                }
            })
            .collect();
        Ok(Self {
            nodes: node_indexes
                .iter()
                .map(|&i| spec.nodes[i].name.clone())
                .collect(),
            node_indexes,
            clients_per_node,
            requests_per_client,
            mode: lock_mode.name().to_string(),
            lock_mode,
            resources,
            think_ms,
        })
    }

    /// Every client's (node, client number on the node).
    pub fn clients(&self) -> Vec<(usize, usize)> {
        self.node_indexes
            .iter()
            .flat_map(|&n| (0..self.clients_per_node).map(move |c| (n, c)))
            .collect()
    }
}

/// One timed `enq`: issued, granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// The requesting node (index).
    pub node: usize,
    /// The client's number on its node.
    pub client: usize,
    /// Index into [`LoadSpec::resources`].
    pub resource: usize,
    /// The lock id the node gave it.
    pub lock_id: u32,
    /// When the request line was sent, µs since the trace epoch (scaled time).
    pub issued_us: u64,
    /// When the completion arrived, µs since the trace epoch.
    pub granted_us: u64,
    /// Completion − request, measured with a monotonic clock, scaled µs.
    pub latency_us: u64,
}

fn since(epoch: SystemTime) -> u64 {
    SystemTime::now()
        .duration_since(epoch)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn enq(resource: &str, mode: Mode) -> Request {
    Request::Lock(LockRequest {
        op: LockOp::Enq {
            resource: resource.to_string(),
            mode,
        },
        flags: Flags::NONE,
        value: None,
    })
}

fn deq(lock: u32) -> Request {
    Request::Lock(LockRequest {
        op: LockOp::Deq { lock: LockId(lock) },
        flags: Flags::NONE,
        value: None,
    })
}

/// Sends a lock request and returns its lock id, if the lock manager answered `normal`.
async fn lock(client: &mut ControlClient, node: &str, request: &Request) -> Result<u32, String> {
    let reply = client
        .request(request)
        .await
        .map_err(|e| format!("{node}: {e}"))?;
    let status = reply["status"].as_str().unwrap_or("?");
    if status != "normal" {
        return Err(format!("{node}: {request}: status {status}: {reply}"));
    }
    reply["lock_id"]
        .as_u64()
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| format!("{node}: {request}: no lock_id in {reply}"))
}

async fn connect(addr: SocketAddr, node: &str) -> Result<ControlClient, String> {
    ControlClient::connect(addr)
        .await
        .map_err(|e| format!("{node}: {e}"))
}

/// Runs the load on a settled cluster (see the module doc) and returns every timed request.
///
/// # Errors
/// A message naming the node, if a connection or a request fails or is refused.
pub async fn run(
    load: &LoadSpec,
    names: &[String],
    context: &PhaseContext,
    time_scale: f64,
) -> Result<Vec<Sample>, String> {
    let mut setup: BTreeMap<usize, ControlClient> = BTreeMap::new();
    for (n, addr) in context.control.iter().enumerate() {
        setup.insert(n, connect(*addr, &names[n]).await?);
    }
    // 1. Masters: the first lock on each tree, kept.
    for r in &load.resources {
        let client = setup.get_mut(&r.master).ok_or("no master connection")?;
        lock(client, &names[r.master], &enq(&r.name, Mode::NL)).await?;
    }
    // 2. Known masters: every other load node keeps an NL lock.
    for r in load.resources.iter().filter(|r| r.known) {
        for &n in load.node_indexes.iter().filter(|&&n| n != r.master) {
            let client = setup.get_mut(&n).ok_or("no connection")?;
            lock(client, &names[n], &enq(&r.name, Mode::NL)).await?;
        }
    }
    // 3. The clients, concurrently.
    let think = Duration::from_secs_f64(load.think_ms / 1000.0 / time_scale);
    let mut tasks = tokio::task::JoinSet::new();
    for (k, (node, client_no)) in load.clients().into_iter().enumerate() {
        let addr = context.control[node];
        let name = names[node].clone();
        let resources: Vec<String> = load.resources.iter().map(|r| r.name.clone()).collect();
        let (mode, requests, epoch) = (load.lock_mode, load.requests_per_client, context.epoch);
        tasks.spawn(async move {
            let mut client = connect(addr, &name).await?;
            let mut out = Vec::with_capacity(requests);
            for i in 0..requests {
                let resource = (k + i) % resources.len();
                let issued_us = since(epoch);
                let start = Instant::now();
                let lock_id = lock(&mut client, &name, &enq(&resources[resource], mode)).await?;
                let latency = start.elapsed();
                let granted_us = since(epoch);
                out.push(Sample {
                    node,
                    client: client_no,
                    resource,
                    lock_id,
                    issued_us,
                    granted_us,
                    latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
                });
                lock(&mut client, &name, &deq(lock_id)).await?;
                if !think.is_zero() {
                    tokio::time::sleep(think).await;
                }
            }
            Ok::<_, String>(out)
        });
    }
    let mut samples = Vec::new();
    while let Some(done) = tasks.join_next().await {
        samples.extend(done.map_err(|e| format!("lock client: {e}"))??);
    }
    samples.sort_by_key(|s| (s.issued_us, s.node, s.client));
    Ok(samples)
}

/// The [`Phase`] that runs `load` and appends the samples of each run to `sink`.
pub fn phase(
    load: Arc<LoadSpec>,
    names: Arc<Vec<String>>,
    time_scale: f64,
    sink: Arc<Mutex<Vec<Sample>>>,
) -> Phase {
    Phase(Arc::new(move |context: PhaseContext| {
        let (load, names, sink) = (Arc::clone(&load), Arc::clone(&names), Arc::clone(&sink));
        Box::pin(async move {
            let samples = run(&load, &names, &context, time_scale).await?;
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(samples);
            Ok(())
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ClusterSpec {
        let mut spec = ClusterSpec::seed();
        spec.resources = vec!["LOADA".into(), "LOADB".into(), "LOADC".into()];
        spec
    }

    fn parse(text: &str) -> Result<LoadSpec, String> {
        let table: toml::Table = toml::from_str(text).expect("toml");
        LoadSpec::parse("s.toml", &table, &spec()).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_round_robin_masters() {
        let load = parse("").expect("defaults");
        assert_eq!(load.nodes.len(), 5);
        assert_eq!((load.clients_per_node, load.requests_per_client), (1, 20));
        assert_eq!(load.lock_mode, Mode::PR);
        let masters: Vec<&str> = load
            .resources
            .iter()
            .map(|r| r.master_name.as_str())
            .collect();
        assert_eq!(masters, ["FRANK1", "FRANK2", "UK1"]);
        let load = parse(
            "nodes = [\"CHIC1\", \"UK1\"]\nmasters = { loadb = \"FRANK2\" }\nknown = [\"LOADA\"]",
        )
        .expect("ok");
        let masters: Vec<&str> = load
            .resources
            .iter()
            .map(|r| r.master_name.as_str())
            .collect();
        assert_eq!(masters, ["UK1", "FRANK2", "UK1"]);
        assert!(load.resources[0].known && !load.resources[1].known);
        assert_eq!(load.clients().len(), 2);
    }

    #[test]
    fn errors_name_the_field() {
        for (text, error) in [
            ("clients = 0", "s.toml: load.clients: 0 is out of range 1..=8"),
            ("nodes = [\"UK9\"]", "s.toml: load.nodes[0]: \"UK9\" is not a node of cluster OCICLU"),
            ("mode = \"XX\"", "s.toml: load.mode: \"XX\" is not one of NL CR CW PR PW EX"),
            ("resources = [\"NOPE\"]", "s.toml: load.resources[0]: \"NOPE\" is not a resource of the cluster file's [locks] resources (LOADA, LOADB, LOADC)"),
            ("masters = { LOADA = \"UK9\" }", "s.toml: load.masters.LOADA: \"UK9\" is not a node of cluster OCICLU"),
            ("resources = [\"LOADA\"]\nknown = [\"LOADB\"]", "s.toml: load.known[0]: \"LOADB\" is not one of the load's resources"),
            ("rate = 5", "s.toml: load.rate: unknown field (expected one of nodes, clients, requests, mode, resources, masters, known, think_ms)"),
        ] {
            assert_eq!(parse(text).unwrap_err(), error, "{text}");
        }
        let table = toml::Table::new();
        assert_eq!(
            LoadSpec::parse("s.toml", &table, &ClusterSpec::seed())
                .unwrap_err()
                .to_string(),
            "s.toml: load.resources: the cluster file declares no [locks] resources to load"
        );
    }
}
