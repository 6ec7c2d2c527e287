//! The harness of the runtime's end-to-end tests: three nodes in the test process, each with
//! its UDP socket and control endpoint bound to port 0.
//!
//! Every wait is bounded by [`WAIT_MAX`] and waits on an event: a response, an event line, or a
//! node's status reaching a condition (polled through `show`).

#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vmsc_model::config::ClusterSpec;
use vmsc_model::dlm::cluster::dir_node_of;
use vmsc_model::nodeset::NodeSet;
use vmsc_runtime::bind_loopback;
use vmsc_runtime::cluster::control::{ControlClient, Request};
use vmsc_runtime::cluster::process::{
    run_node_bound, Latency, NodeError, NodeOptions, NodeSummary,
};

/// Longest wait for any one event.
pub const WAIT_MAX: Duration = Duration::from_secs(15);

/// Three nodes (one vote each, quorum 2), fast hellos, sixteen lock resources.
pub const CLUSTER: &str = r#"
[cluster]
name = "LOCKCLU"
expected_votes = 3
hello_interval_ms = 50
recnx_interval_ms = 400
[[node]]
name = "ALPHA"
region = "FRA"
votes = 1
system_id = 1
[[node]]
name = "BRAVO"
region = "FRA"
votes = 1
system_id = 2
[[node]]
name = "CHARLY"
region = "FRA"
votes = 1
system_id = 3
[locks]
resources = ["R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "RA", "RB", "RC", "RD", "RE", "RF"]
"#;

pub const A: usize = 0;
pub const B: usize = 1;
pub const C: usize = 2;

pub struct Cluster {
    pub spec: ClusterSpec,
    pub controls: Vec<std::net::SocketAddr>,
    stops: Vec<Option<oneshot::Sender<()>>>,
    tasks: Vec<JoinHandle<Result<NodeSummary, NodeError>>>,
}

impl Cluster {
    pub async fn start() -> Self {
        let spec = ClusterSpec::parse("<locks test>", CLUSTER).expect("valid cluster");
        let (sockets, peers) = bind_loopback(spec.len()).await.expect("udp ports");
        let addresses: Vec<_> = peers.indices().filter_map(|i| peers.addr(i)).collect();
        let mut cluster = Cluster {
            spec: spec.clone(),
            controls: Vec::new(),
            stops: Vec::new(),
            tasks: Vec::new(),
        };
        for (i, socket) in sockets.into_iter().enumerate() {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("control port");
            let mut options = NodeOptions::new(spec.clone(), i, None).expect("node options");
            options.addresses = addresses.clone();
            options.control = listener.local_addr().expect("bound");
            options.latency = Latency::Off;
            options.signals = false;
            cluster.controls.push(options.control);
            let (stop, stopped) = oneshot::channel::<()>();
            cluster.stops.push(Some(stop));
            cluster.tasks.push(tokio::spawn(run_node_bound(
                options,
                socket,
                listener,
                async {
                    let _ = stopped.await;
                },
            )));
        }
        cluster
    }

    pub async fn client(&self, node: usize) -> ControlClient {
        ControlClient::connect(self.controls[node])
            .await
            .expect("control endpoint")
    }

    /// Waits until every node in `nodes` is active and quiescent in a view of exactly `nodes`.
    pub async fn settled(&self, nodes: &[usize]) {
        let names: Vec<&str> = nodes
            .iter()
            .map(|&i| self.spec.nodes[i].name.as_str())
            .collect();
        let deadline = Instant::now() + WAIT_MAX;
        for &i in nodes {
            let mut client = self.client(i).await;
            loop {
                let show = client.request(&Request::Show).await.expect("show");
                let node = &show["node"];
                if node["active"] == true
                    && node["quiescent"] == true
                    && node["view"]["members"] == json!(names)
                {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} never settled in {names:?}: {node}",
                    self.spec.nodes[i].name
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    /// A resource whose directory node is `dir` among `members`.
    pub fn resource_with_directory(&self, dir: usize, members: &[usize], skip: &[&str]) -> String {
        let set = members.iter().fold(NodeSet::EMPTY, |s, &i| s.with(i));
        self.spec
            .resources
            .iter()
            .find(|r| !skip.contains(&r.as_str()) && dir_node_of(r, set) == Some(dir))
            .expect("a resource for every directory node")
            .clone()
    }

    pub async fn stop(mut self) {
        for stop in &mut self.stops {
            if let Some(stop) = stop.take() {
                let _ = stop.send(());
            }
        }
        for task in self.tasks.drain(..) {
            let result = tokio::time::timeout(WAIT_MAX, task)
                .await
                .expect("node stops in time");
            result.expect("node task").expect("node ran cleanly");
        }
    }
}

/// Sends one request line and returns its `"ok": true` response.
pub async fn ask(client: &mut ControlClient, line: &str) -> Value {
    let request = Request::parse(line).expect(line);
    tokio::time::timeout(WAIT_MAX, client.request(&request))
        .await
        .unwrap_or_else(|_| panic!("{line}: no response in {WAIT_MAX:?}"))
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}
