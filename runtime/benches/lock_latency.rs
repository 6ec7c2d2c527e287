//! Lock latency on loopback, no injected latency: `cargo bench -p vmsc-runtime --bench
//! lock_latency` (a benchmark, not a test: it prints figures and asserts nothing).
//!
//! Classes (the issue's), each a histogram of request-to-completion times:
//!
//! * **local, actor step**: `enq EX` then `deq` on a resource this node masters and directs,
//!   measured around the node actor's `on_msg` alone (the in-process path the runtime calls: a
//!   `Cow` state, the request in, the completion among the commands out). No message.
//! * **local, driver**: the same through a running driver: [`LockService::request`] → local
//!   inbox → driver task → actor → observer → the waiting task. No message.
//! * **remote grant**: `convert` NL↔EX of a lock whose master (another node) is known: one
//!   request, one AST.
//! * **directory + remote**: `enq PR` (then an untimed `deq`) on a resource whose directory
//!   and master are two other nodes: lookup and answer, request and AST.
//! * **UDP ping-pong**: a 64-byte datagram to an echo task and back, on the same runtime.
//!
//! Everything runs on one current-thread tokio runtime (three drivers, the echo task and the
//! measuring task), so wake-ups cost the same for the lock classes and the ping-pong. The
//! control endpoint's TCP hop is not included (it is the same for every class), nor is the VMS
//! console observer, which keeps a copy of every state (`CONSOLE=1` adds it to every node).
//! Targets (issue 4): local p50 ≤ 1 µs on the in-process path; remote p50 ≤ 1.5 × ping-pong.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use stateright::actor::{Actor, Command, Id, Out};
use tokio::net::UdpSocket;
use vmsc_model::config::ClusterSpec;
use vmsc_model::dlm::cluster::dir_node_of;
use vmsc_model::dlm::external::{client_msg, external_lock_id, ClientMsg, ClientRequest};
use vmsc_model::dlm::script::Op;
use vmsc_model::dlm::{Flags, LockId, Mode};
use vmsc_model::node::{NodeActor, NodeState, ProtocolOptions};
use vmsc_model::nodeset::NodeSet;
use vmsc_runtime::cluster::console::Console;
use vmsc_runtime::cluster::locks::{LockOp, LockReply, LockRequest, LockService};
use vmsc_runtime::{
    bind_loopback, local_inbox, ActorCommand, BootNonce, DriverConfig, DriverOptions, NodeDriver,
    NodeHandle, NodeIndex, Observer, Observers,
};

const CLUSTER: &str = r#"
[cluster]
name = "BENCH"
expected_votes = 3
hello_interval_ms = 50
recnx_interval_ms = 400
[[node]]
name = "A"
region = "FRA"
votes = 1
system_id = 1
[[node]]
name = "B"
region = "FRA"
votes = 1
system_id = 2
[[node]]
name = "C"
region = "FRA"
votes = 1
system_id = 3
[locks]
resources = ["R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9"]
"#;

const STEP_ITERATIONS: u32 = 200_000;
const NET_ITERATIONS: u32 = 5_000;
const WARMUP: u32 = 500;

fn histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant digits")
}

struct Row {
    class: &'static str,
    messages: &'static str,
    h: Histogram<u64>,
}

fn print(rows: &[Row], ping_p50: u64) {
    println!(
        "{:<26} {:>9} {:>10} {:>10} {:>10} {:>8}  p50/ping-pong",
        "class", "messages", "p50", "p99", "mean", "n"
    );
    for r in rows {
        let us = |ns: u64| format!("{:.2} µs", ns as f64 / 1000.0);
        println!(
            "{:<26} {:>9} {:>10} {:>10} {:>10} {:>8}  {:.2}",
            r.class,
            r.messages,
            us(r.h.value_at_quantile(0.5)),
            us(r.h.value_at_quantile(0.99)),
            us(r.h.mean() as u64),
            r.h.len(),
            r.h.value_at_quantile(0.5) as f64 / ping_p50 as f64,
        );
    }
}

fn spec() -> Arc<ClusterSpec> {
    Arc::new(ClusterSpec::parse("<bench>", CLUSTER).expect("valid"))
}

/// A resource whose directory node is `dir` (and not in `skip`).
fn resource(spec: &ClusterSpec, dir: usize, skip: &[String]) -> String {
    let all = NodeSet::first(3);
    spec.resources
        .iter()
        .find(|r| !skip.contains(r) && dir_node_of(r, all) == Some(dir))
        .expect("a resource per directory node")
        .clone()
}

/// The local grant measured around the actor's handler alone.
fn actor_step(spec: &Arc<ClusterSpec>) -> Histogram<u64> {
    let opts = ProtocolOptions {
        start_formed: true,
        ..ProtocolOptions::default()
    };
    let actor = NodeActor::new(Arc::clone(spec), 0, opts);
    let mut state: NodeState = actor.formed_state();
    let res = actor
        .resource_index(&resource(spec, 0, &[]))
        .expect("in the table");
    let me = Id::from(0usize);
    let mut h = histogram();
    let step = |state: &mut NodeState, op: Op, lock: LockId| -> u64 {
        let msg = ClientRequest {
            lock,
            res,
            op,
            flags: Flags::NONE,
            value: None,
        }
        .into_msg();
        let t0 = Instant::now();
        let mut out = Out::new();
        let mut cow = std::borrow::Cow::Borrowed(&*state);
        actor.on_msg(me, &mut cow, me, msg, &mut out);
        let done = out.iter().any(|c| {
            matches!(c, Command::Send(_, m) if matches!(client_msg(m), Some(ClientMsg::Completion(_))))
        });
        let next = cow.into_owned();
        let ns = t0.elapsed().as_nanos() as u64;
        assert!(done, "the local master completes at once");
        *state = next;
        ns
    };
    for i in 0..STEP_ITERATIONS + WARMUP {
        let lock = external_lock_id(0, i % 1000 + 1).expect("id");
        let ns = step(&mut state, Op::Enq(Mode::EX), lock);
        step(&mut state, Op::Deq, lock);
        if i >= WARMUP {
            h.record(ns.max(1)).expect("in range");
        }
    }
    h
}

struct Node {
    handle: NodeHandle<NodeActor>,
    locks: Arc<LockService>,
    ready: Arc<Ready>,
}

/// Sets its flag once the node's lock manager runs and the node is quiescent (then costs one
/// atomic load per step). The VMS console is left out: it keeps a copy of every state, which is
/// presentation, not the lock path (`CONSOLE=1` puts it back).
struct Ready {
    actor: NodeActor,
    ready: AtomicBool,
}

impl Observer<NodeActor> for Ready {
    fn started(&self, _: BootNonce, _: &NodeState, _: &[ActorCommand<NodeActor>]) {}

    fn stepped(&self, _: &NodeState, new: &NodeState, _: &[ActorCommand<NodeActor>]) {
        if !self.ready.load(Ordering::Relaxed)
            && self.actor.dlm_running(new)
            && self.actor.is_quiescent(new)
        {
            self.ready.store(true, Ordering::Relaxed);
        }
    }
}

async fn cluster(spec: &Arc<ClusterSpec>) -> Vec<Node> {
    let (sockets, peers) = bind_loopback(spec.len()).await.expect("ports");
    let config = DriverConfig::with_hello_interval(Duration::from_millis(50));
    let mut nodes = Vec::new();
    for (i, socket) in sockets.into_iter().enumerate() {
        let actor = NodeActor::new(Arc::clone(spec), i, ProtocolOptions::default());
        let (sender, inbox) = local_inbox();
        let locks = Arc::new(LockService::new(actor.clone(), sender));
        let ready = Arc::new(Ready {
            actor: actor.clone(),
            ready: AtomicBool::new(false),
        });
        let mut observers: Vec<Arc<dyn Observer<NodeActor>>> = vec![locks.clone(), ready.clone()];
        if std::env::var_os("CONSOLE").is_some() {
            observers.push(Arc::new(Console::new(actor.clone())));
        }
        let driver = NodeDriver::new(
            actor,
            NodeIndex::new(i as u16),
            socket,
            peers.clone(),
            config.clone(),
        )
        .expect("driver")
        .with_options(
            DriverOptions::new()
                .with_local_inbox(inbox)
                .with_observer(Arc::new(Observers(observers))),
        );
        nodes.push(Node {
            handle: driver.spawn(),
            locks,
            ready,
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for n in &nodes {
        loop {
            if n.ready.ready.load(Ordering::Relaxed) {
                break;
            }
            assert!(Instant::now() < deadline, "the cluster did not form");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    nodes
}

async fn ask(node: &Node, op: LockOp, flags: Flags) -> LockReply {
    let request = LockRequest {
        op,
        flags,
        value: None,
    };
    let reply = node.locks.request(&request, None).await.expect("issued");
    assert!(reply.success, "{request}: {reply:?}");
    reply
}

async fn timed(h: &mut Histogram<u64>, i: u32, node: &Node, op: LockOp) -> LockReply {
    let t0 = Instant::now();
    let reply = ask(node, op, Flags::NONE).await;
    if i >= WARMUP {
        h.record((t0.elapsed().as_nanos() as u64).max(1))
            .expect("in range");
    }
    reply
}

async fn ping_pong() -> Histogram<u64> {
    let a = UdpSocket::bind("127.0.0.1:0").await.expect("port");
    let b = UdpSocket::bind("127.0.0.1:0").await.expect("port");
    let b_addr = b.local_addr().expect("bound");
    let echo = tokio::spawn(async move {
        let mut buf = [0u8; 256];
        while let Ok((n, from)) = b.recv_from(&mut buf).await {
            if n == 1 {
                return;
            }
            let _ = b.send_to(&buf[..n], from).await;
        }
    });
    let mut h = histogram();
    let payload = [7u8; 64];
    let mut buf = [0u8; 256];
    for i in 0..NET_ITERATIONS + WARMUP {
        let t0 = Instant::now();
        a.send_to(&payload, b_addr).await.expect("send");
        a.recv_from(&mut buf).await.expect("recv");
        if i >= WARMUP {
            h.record((t0.elapsed().as_nanos() as u64).max(1))
                .expect("in range");
        }
    }
    a.send_to(&[0], b_addr).await.expect("stop");
    let _ = echo.await;
    h
}

fn main() {
    let spec = spec();
    let step = actor_step(&spec);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows = runtime.block_on(async {
        let ping = ping_pong().await;
        let nodes = cluster(&spec).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let local = resource(&spec, 0, &[]);
        let known = resource(&spec, 1, &[]);
        let looked_up = resource(&spec, 2, &[]);

        let mut h_local = histogram();
        for i in 0..NET_ITERATIONS + WARMUP {
            let op = LockOp::Enq {
                resource: local.clone(),
                mode: Mode::EX,
            };
            let lock = LockId(timed(&mut h_local, i, a, op).await.lock_id);
            ask(a, LockOp::Deq { lock }, Flags::NONE).await;
        }

        // B masters `known` (its directory); A holds NL on it, so A knows the master.
        let nl = |resource: &String| LockOp::Enq {
            resource: resource.clone(),
            mode: Mode::NL,
        };
        ask(b, nl(&known), Flags::NONE).await;
        let lock = LockId(ask(a, nl(&known), Flags::NONE).await.lock_id);
        let mut h_remote = histogram();
        for i in 0..NET_ITERATIONS + WARMUP {
            let up = LockOp::Convert {
                lock,
                mode: Mode::EX,
            };
            timed(&mut h_remote, i, a, up).await;
            let down = LockOp::Convert {
                lock,
                mode: Mode::NL,
            };
            timed(&mut h_remote, i, a, down).await;
        }

        // B masters `looked_up`, C is its directory; A forgets the master after each deq.
        ask(b, nl(&looked_up), Flags::NONE).await;
        let mut h_dir = histogram();
        for i in 0..NET_ITERATIONS + WARMUP {
            let op = LockOp::Enq {
                resource: looked_up.clone(),
                mode: Mode::PR,
            };
            let lock = LockId(timed(&mut h_dir, i, a, op).await.lock_id);
            ask(a, LockOp::Deq { lock }, Flags::NONE).await;
        }
        let stats: Vec<_> = nodes.iter().map(|n| n.handle.stats()).collect();
        for n in nodes {
            let _ = n.handle.shutdown().await;
        }
        println!(
            "node A: {} msgs out, {} msgs in, {} local in, {} local out; bad datagrams {}",
            stats[0].msgs_out,
            stats[0].msgs_in,
            stats[0].local_in,
            stats[0].local_out,
            stats.iter().map(|s| s.bad_total()).sum::<u64>()
        );
        vec![
            Row {
                class: "local, driver",
                messages: "0",
                h: h_local,
            },
            Row {
                class: "remote grant",
                messages: "1",
                h: h_remote,
            },
            Row {
                class: "directory + remote",
                messages: "2",
                h: h_dir,
            },
            Row {
                class: "UDP ping-pong",
                messages: "1 rt",
                h: ping,
            },
        ]
    });
    rows.insert(
        0,
        Row {
            class: "local, actor step",
            messages: "0",
            h: step,
        },
    );
    let ping_p50 = rows.last().map_or(1, |r| r.h.value_at_quantile(0.5)).max(1);
    print(&rows, ping_p50);
    if let Some(dir) = rows.iter().find(|r| r.class == "directory + remote") {
        println!(
            "directory + remote p50 / (2 x ping-pong p50) = {:.2}",
            dir.h.value_at_quantile(0.5) as f64 / (2 * ping_p50) as f64
        );
    }
}
