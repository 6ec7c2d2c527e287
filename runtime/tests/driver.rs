//! Integration tests of `NodeDriver` on real loopback UDP sockets.
//!
//! Every test binds `127.0.0.1:0`, runs a small toy actor, and waits on the shared trace channel
//! for the events it expects, each wait bounded by [`WAIT_MAX`]. Nothing sleeps and hopes. Timing
//! assertions are lower bounds (injected delay) or generous upper bounds (failure detection), so
//! a loaded two-core machine slows the tests down without failing them.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stateright::actor::{Actor, Id, Out};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use vmsc_runtime::{
    bind_loopback, BootNonce, CircuitEvents, CutKind, DownReason, DriverConfig, DriverOptions,
    DriverReport, DropReason, Envelope, Faults, LatencyMatrix, LatencyModel, LinkDelay, NoLatency,
    NodeDriver, NodeHandle, NodeIndex, Peers, StopReason, StorageCell, TimerChoice, TraceEvent,
    TraceRecord, Tracer, DATAGRAM_BYTES_MAX,
};

/// A predicate over trace records, for the `wait_*` helpers.
type Pred = Box<dyn Fn(&TraceRecord) -> bool>;

/// Upper bound on any single wait for a trace event.
const WAIT_MAX: Duration = Duration::from_secs(10);
const HELLO: Duration = Duration::from_millis(20);
/// Longer than the brief's 3 × hello so a busy shared machine does not flap circuits.
const LISTEN: Duration = Duration::from_millis(150);

const N0: NodeIndex = NodeIndex::new(0);
const N1: NodeIndex = NodeIndex::new(1);
const N2: NodeIndex = NodeIndex::new(2);

// ---- the toy actor ------------------------------------------------------------------------------

/// A toy actor: counts circuit events, answers pings, records sequence messages, and runs a
/// small timer script. Flags pick its behaviour per test.
#[derive(Clone, Debug, Default)]
struct Toy {
    peers: Vec<Id>,
    /// Send `Ping(1)` to a peer when its circuit opens.
    ping_on_up: bool,
    /// Send `Ping(0)` to every peer from `on_start` (circuits are down then: dropped).
    ping_at_start: bool,
    /// Send `Seq(0..burst)` to a peer when its circuit opens.
    burst: u64,
    /// Run the timer script: `First` at 10 ms, `Cancelled` at 60 ms; `First` cancels
    /// `Cancelled` and arms `Last` at 100 ms.
    timers: bool,
    /// Every 10 ms, send `Seq(tick)` to every peer whose circuit is up.
    ticker: bool,
    /// This node halts (see `CircuitEvents::is_halted`) when it receives a ping, in the same
    /// handler that queues the pong.
    halt_on_ping: Option<Id>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum ToyMsg {
    Down,
    Ping(u64),
    Pong(u64),
    Seq(u64),
    Up,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ToyTimer {
    Cancelled,
    First,
    Last,
    Tick,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct ToyState {
    boots: u64,
    up: BTreeSet<Id>,
    ups: u64,
    downs: u64,
    pongs: u64,
    seqs: Vec<u64>,
    fired: Vec<String>,
    ticks: u64,
    halted: bool,
}

impl Actor for Toy {
    type Msg = ToyMsg;
    type Timer = ToyTimer;
    type State = ToyState;
    type Storage = u64;
    type Random = ();

    fn on_start(&self, id: Id, storage: &Option<u64>, o: &mut Out<Self>) -> ToyState {
        let boots = storage.unwrap_or(0) + 1;
        o.save(boots);
        if self.ping_at_start {
            o.broadcast(self.peers.iter().filter(|p| **p != id), &ToyMsg::Ping(0));
        }
        if self.timers {
            o.set_timer(ToyTimer::First, ms(10)..ms(10));
            o.set_timer(ToyTimer::Cancelled, ms(60)..ms(60));
        }
        if self.ticker {
            o.set_timer(ToyTimer::Tick, ms(10)..ms(10));
        }
        ToyState {
            boots,
            ..ToyState::default()
        }
    }

    fn on_msg(&self, id: Id, state: &mut Cow<ToyState>, src: Id, msg: ToyMsg, o: &mut Out<Self>) {
        match msg {
            ToyMsg::Up => {
                let s = state.to_mut();
                s.up.insert(src);
                s.ups += 1;
                if self.ping_on_up {
                    o.send(src, ToyMsg::Ping(1));
                }
                for k in 0..self.burst {
                    o.send(src, ToyMsg::Seq(k));
                }
            }
            ToyMsg::Down => {
                let s = state.to_mut();
                s.up.remove(&src);
                s.downs += 1;
            }
            ToyMsg::Ping(k) => {
                if self.halt_on_ping == Some(id) {
                    state.to_mut().halted = true;
                }
                o.send(src, ToyMsg::Pong(k));
            }
            ToyMsg::Pong(_) => state.to_mut().pongs += 1,
            ToyMsg::Seq(k) => state.to_mut().seqs.push(k),
        }
    }

    fn on_timeout(&self, _id: Id, state: &mut Cow<ToyState>, timer: &ToyTimer, o: &mut Out<Self>) {
        if *timer == ToyTimer::Tick {
            let s = state.to_mut();
            s.ticks += 1;
            o.broadcast(&s.up, &ToyMsg::Seq(s.ticks));
            o.set_timer(ToyTimer::Tick, ms(10)..ms(10));
            return;
        }
        state.to_mut().fired.push(format!("{timer:?}"));
        if *timer == ToyTimer::First {
            o.cancel_timer(ToyTimer::Cancelled);
            o.set_timer(ToyTimer::Last, ms(100)..ms(100));
        }
    }
}

impl CircuitEvents for Toy {
    fn circuit_up(&self, _peer: Id) -> ToyMsg {
        ToyMsg::Up
    }

    fn circuit_down(&self, _peer: Id) -> ToyMsg {
        ToyMsg::Down
    }

    fn is_halted(&self, state: &ToyState) -> bool {
        state.halted
    }
}

fn status(state: &ToyState) -> Value {
    json!({ "boots": state.boots, "up": state.up.len(), "seqs": state.seqs.len(), "pongs": state.pongs })
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---- the harness --------------------------------------------------------------------------------

/// A loopback cluster of toy nodes sharing a fault table, a latency model and a trace channel.
struct Cluster {
    peers: Peers,
    sockets: Vec<Arc<UdpSocket>>,
    faults: Faults,
    latency: Arc<dyn LatencyModel>,
    config: DriverConfig,
    storages: Vec<StorageCell<u64>>,
    actor: Toy,
    tracer: Tracer,
    rx: mpsc::Receiver<TraceRecord>,
    nodes: Vec<Option<NodeHandle<Toy>>>,
    /// Every record read so far, in arrival order.
    history: Vec<TraceRecord>,
}

impl Cluster {
    async fn new(
        n: usize,
        actor: Toy,
        latency: Arc<dyn LatencyModel>,
        config: DriverConfig,
    ) -> Self {
        let (sockets, peers) = bind_loopback(n).await.expect("loopback sockets bind");
        let (tracer, rx) = Tracer::channel(Instant::now(), 1 << 16);
        let actor = Toy {
            peers: peers.ids(),
            ..actor
        };
        let mut cluster = Self {
            peers,
            sockets,
            faults: Faults::new(),
            latency,
            config,
            storages: (0..n).map(|_| StorageCell::default()).collect(),
            actor,
            tracer,
            rx,
            nodes: (0..n).map(|_| None).collect(),
            history: Vec::new(),
        };
        for i in 0..n {
            cluster.boot(i);
        }
        cluster
    }

    async fn healthy(n: usize, actor: Toy) -> Self {
        Self::new(
            n,
            actor,
            Arc::new(NoLatency),
            DriverConfig::with_hello_interval(HELLO).listen_timeout(LISTEN),
        )
        .await
    }

    /// Starts a fresh incarnation of node `i` on its socket, with its saved storage.
    fn boot(&mut self, i: usize) -> BootNonce {
        assert!(self.nodes[i].is_none(), "node {i} is running");
        let driver = NodeDriver::new(
            self.actor.clone(),
            NodeIndex::new(i as u16),
            Arc::clone(&self.sockets[i]),
            self.peers.clone(),
            self.config.clone(),
        )
        .expect("valid driver")
        .with_options(
            DriverOptions::new()
                .with_faults(self.faults.clone())
                .with_latency(Arc::clone(&self.latency))
                .with_tracer(self.tracer.clone())
                .with_status(status)
                .with_storage(self.storages[i].clone()),
        );
        let nonce = driver.nonce();
        self.nodes[i] = Some(driver.spawn());
        nonce
    }

    async fn crash(&mut self, i: usize) {
        self.nodes[i].take().expect("node is running").crash().await;
    }

    fn nonce(&self, i: usize) -> BootNonce {
        self.nodes[i].as_ref().expect("node is running").nonce()
    }

    fn now_us(&self) -> u64 {
        self.tracer.micros(Instant::now())
    }

    /// Reads trace records until each predicate has matched a distinct record, in any order.
    async fn wait_all(&mut self, what: &str, preds: Vec<Pred>) -> Vec<TraceRecord> {
        let deadline = tokio::time::Instant::now() + WAIT_MAX;
        let mut found: Vec<Option<TraceRecord>> = vec![None; preds.len()];
        while found.iter().any(Option::is_none) {
            let record = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(record)) => record,
                Ok(None) => panic!("trace channel closed while waiting for {what}"),
                Err(_) => panic!(
                    "timed out waiting for {what}; matched {:?}; last records {:#?}",
                    found.iter().map(Option::is_some).collect::<Vec<_>>(),
                    self.history.iter().rev().take(10).collect::<Vec<_>>()
                ),
            };
            if let Some(i) = (0..preds.len()).find(|&i| found[i].is_none() && preds[i](&record)) {
                found[i] = Some(record.clone());
            }
            self.history.push(record);
        }
        found.into_iter().flatten().collect()
    }

    async fn wait_for(
        &mut self,
        what: &str,
        pred: impl Fn(&TraceRecord) -> bool + 'static,
    ) -> TraceRecord {
        self.wait_all(what, vec![Box::new(pred)]).await.remove(0)
    }

    /// Waits until every ordered pair of running nodes has reported its circuit up.
    async fn wait_all_up(&mut self, nodes: &[NodeIndex]) {
        let mut preds: Vec<Pred> = vec![];
        for &a in nodes {
            for &b in nodes.iter().filter(|&&b| b != a) {
                preds.push(Box::new(move |r| up(r, a, b)));
            }
        }
        self.wait_all("all circuits up", preds).await;
    }

    /// Stops every node cleanly and drains the trace.
    async fn shutdown(mut self) -> (Vec<DriverReport<Toy>>, Vec<TraceRecord>) {
        let mut reports = vec![];
        for node in self.nodes.iter_mut().filter_map(Option::take) {
            reports.push(node.shutdown().await.expect("driver stops cleanly"));
        }
        drop(self.tracer);
        while let Ok(record) = self.rx.try_recv() {
            self.history.push(record);
        }
        (reports, self.history)
    }
}

fn up(r: &TraceRecord, node: NodeIndex, peer: NodeIndex) -> bool {
    r.node == node && matches!(r.event, TraceEvent::CircuitUp { peer: p, .. } if p == peer)
}

fn down(r: &TraceRecord, node: NodeIndex, peer: NodeIndex, reason: DownReason) -> bool {
    r.node == node
        && matches!(r.event, TraceEvent::CircuitDown { peer: p, reason: why } if p == peer && why == reason)
}

fn msg_in(r: &TraceRecord, node: NodeIndex, msg: &Value) -> bool {
    r.node == node && matches!(&r.event, TraceEvent::MsgIn { msg: m, .. } if m == msg)
}

fn msg_out(r: &TraceRecord, node: NodeIndex, msg: &Value) -> bool {
    r.node == node && matches!(&r.event, TraceEvent::MsgOut { msg: m, .. } if m == msg)
}

fn dropped(r: &TraceRecord, node: NodeIndex, reason: DropReason) -> bool {
    r.node == node && matches!(r.event, TraceEvent::Drop { reason: why, .. } if why == reason)
}

// ---- tests --------------------------------------------------------------------------------------

#[tokio::test]
async fn two_drivers_exchange_messages() {
    let mut cluster = Cluster::healthy(
        2,
        Toy {
            ping_on_up: true,
            ..Toy::default()
        },
    )
    .await;
    let ping = json!({ "Ping": 1 });
    let pong = json!({ "Pong": 1 });
    let (p1, q1) = (ping.clone(), pong.clone());
    cluster
        .wait_all(
            "ping and pong both ways",
            vec![
                Box::new(move |r| msg_in(r, N1, &ping)),
                Box::new(move |r| msg_in(r, N0, &pong)),
                Box::new(move |r| msg_in(r, N0, &p1)),
                Box::new(move |r| msg_in(r, N1, &q1)),
            ],
        )
        .await;
    let (reports, _) = cluster.shutdown().await;
    for report in &reports {
        assert_eq!(report.state.pongs, 1);
        assert_eq!(
            report.stats.msgs_in, 2,
            "one ping and one pong: {:?}",
            report.stats
        );
        assert_eq!(report.stats.msgs_out, 2);
        assert_eq!(report.stats.bad_total(), 0);
        assert!(report.stats.hellos_in > 0 && report.stats.hellos_out > 0);
    }
}

#[tokio::test]
async fn circuits_come_up_between_every_pair() {
    let mut cluster = Cluster::healthy(3, Toy::default()).await;
    cluster.wait_all_up(&[N0, N1, N2]).await;
    let nonces: Vec<_> = (0..3).map(|i| cluster.nonce(i)).collect();
    let (reports, history) = cluster.shutdown().await;
    for report in &reports {
        assert_eq!(report.state.up.len(), 2);
        assert_eq!(report.stats.circuit_ups, 2);
    }
    // Each circuit-up names the incarnation it is with.
    for r in &history {
        if let TraceEvent::CircuitUp { peer, peer_nonce } = r.event {
            assert_eq!(peer_nonce, nonces[peer.as_usize()]);
        }
    }
}

#[tokio::test]
async fn cut_downs_both_ends_within_listen_timeout_and_heal_reopens() {
    let mut cluster = Cluster::healthy(3, Toy::default()).await;
    cluster.wait_all_up(&[N0, N1, N2]).await;

    let cut_us = cluster.now_us();
    cluster.faults.cut(N0, N1, CutKind::BothWays);
    let downs = cluster
        .wait_all(
            "both ends of the cut link down",
            vec![
                Box::new(|r| down(r, N0, N1, DownReason::ListenTimeout)),
                Box::new(|r| down(r, N1, N0, DownReason::ListenTimeout)),
            ],
        )
        .await;
    for d in &downs {
        let detect = Duration::from_micros(d.t_us - cut_us);
        // The deadline is exact (last hello + listen timeout); the slack absorbs scheduling.
        assert!(detect <= LISTEN + ms(500), "detected after {detect:?}");
    }

    cluster.faults.heal(N0, N1);
    cluster.wait_all_up(&[N0, N1]).await;
    let (reports, history) = cluster.shutdown().await;
    assert!(reports[0].stats.dropped_cut > 0);
    // Node 2 never lost a circuit.
    assert!(!history
        .iter()
        .any(|r| matches!(r.event, TraceEvent::CircuitDown { peer, .. } if peer == N2)));
    assert!(history
        .iter()
        .any(|r| r.node == N0 && matches!(r.event, TraceEvent::Fault { .. })));
}

#[tokio::test]
async fn one_way_cut_downs_both_ends() {
    let mut cluster = Cluster::healthy(2, Toy::default()).await;
    cluster.wait_all_up(&[N0, N1]).await;

    // Node 1 stops hearing node 0; node 0 still hears node 1.
    cluster.faults.cut(N0, N1, CutKind::OneWay);
    cluster
        .wait_all(
            "both ends down after a one-way cut",
            vec![
                Box::new(|r| down(r, N1, N0, DownReason::ListenTimeout)),
                Box::new(|r| down(r, N0, N1, DownReason::PeerStoppedHearing)),
            ],
        )
        .await;

    cluster.faults.heal_all();
    cluster.wait_all_up(&[N0, N1]).await;
    let (reports, _) = cluster.shutdown().await;
    assert!(
        reports[0].stats.dropped_cut > 0,
        "the sender drops on the cut link"
    );
}

#[tokio::test]
async fn reboot_is_down_then_up_with_a_new_nonce() {
    // A long listen timeout: the reboot must be noticed by its nonce, not by silence.
    let config = DriverConfig::with_hello_interval(HELLO).listen_timeout(ms(2_000));
    let mut cluster = Cluster::new(2, Toy::default(), Arc::new(NoLatency), config).await;
    cluster.wait_all_up(&[N0, N1]).await;
    let old = cluster.nonce(1);

    cluster.crash(1).await;
    let new = cluster.boot(1);
    assert!(new > old, "a reboot moves the nonce forward");
    let events = cluster
        .wait_all(
            "down then up at the survivor, restored start at the rebooted node",
            vec![
                Box::new(|r| down(r, N0, N1, DownReason::PeerRebooted)),
                Box::new(move |r| {
                    r.node == N0
                        && matches!(r.event, TraceEvent::CircuitUp { peer, peer_nonce } if peer == N1 && peer_nonce == new)
                }),
                Box::new(move |r| r.node == N1 && r.nonce == new && r.event == TraceEvent::Start { restored: true }),
                Box::new(move |r| r.nonce == new && up(r, N1, N0)),
            ],
        )
        .await;
    assert!(events[0].t_us <= events[1].t_us, "down before up");

    let (reports, _) = cluster.shutdown().await;
    assert_eq!(reports[1].nonce, new);
    assert_eq!(reports[1].state.boots, 2, "storage survived the crash");
    assert_eq!(reports[0].state.downs, 1);
    assert_eq!(reports[0].state.ups, 2);
}

#[tokio::test]
async fn a_halted_actor_goes_silent_and_its_peer_sees_the_circuit_drop() {
    let toy = Toy {
        ping_on_up: true,
        halt_on_ping: Some(N1.id()),
        ..Toy::default()
    };
    let mut cluster = Cluster::healthy(2, toy).await;
    cluster
        .wait_for("node 1 halts", |r| {
            r.node == N1 && r.event == TraceEvent::Halt
        })
        .await;
    cluster
        .wait_for("node 0 times out on the silent node", |r| {
            down(r, N0, N1, DownReason::ListenTimeout)
        })
        .await;
    let (reports, history) = cluster.shutdown().await;
    assert_eq!(reports[0].reason, StopReason::Shutdown);
    assert_eq!(reports[1].reason, StopReason::Halted);
    assert_eq!(
        reports[0].state.pongs, 0,
        "the pong queued by the halting handler never left"
    );
    let halt_at = history
        .iter()
        .position(|r| r.node == N1 && r.event == TraceEvent::Halt)
        .expect("halt traced");
    assert!(
        history[halt_at + 1..].iter().all(|r| r.node != N1),
        "nothing happens on a halted node: {:#?}",
        &history[halt_at..]
    );
}

#[tokio::test]
async fn crash_is_detected_by_listen_timeout() {
    let mut cluster = Cluster::healthy(2, Toy::default()).await;
    cluster.wait_all_up(&[N0, N1]).await;
    cluster.crash(1).await;
    cluster
        .wait_for("survivor times out", |r| {
            down(r, N0, N1, DownReason::ListenTimeout)
        })
        .await;
    let (reports, _) = cluster.shutdown().await;
    assert_eq!(reports[0].state.up.len(), 0);
}

#[tokio::test]
async fn flows_stay_fifo_under_jitter() {
    // Small enough for the default socket receive buffer: both nodes share one thread here, so
    // a burst is queued in the kernel before the receiver reads it.
    const BURST: u64 = 100;
    let link = LinkDelay {
        delay: ms(2),
        jitter: ms(15),
    };
    let latency = Arc::new(LatencyMatrix::uniform(2, link));
    let config = DriverConfig::with_hello_interval(HELLO).listen_timeout(LISTEN);
    let mut cluster = Cluster::new(
        2,
        Toy {
            burst: BURST,
            ..Toy::default()
        },
        latency,
        config,
    )
    .await;
    let last = json!({ "Seq": BURST - 1 });
    cluster
        .wait_all(
            "the last datagram of both bursts",
            vec![
                Box::new({
                    let last = last.clone();
                    move |r| msg_in(r, N0, &last)
                }),
                Box::new(move |r| msg_in(r, N1, &last)),
            ],
        )
        .await;
    let (reports, history) = cluster.shutdown().await;
    for (node, report) in reports.iter().enumerate() {
        assert_eq!(
            report.state.seqs,
            (0..BURST).collect::<Vec<_>>(),
            "node {node} saw its flow in order"
        );
        assert_eq!(
            report.stats.dropped_stale, 0,
            "nothing arrived behind its flow"
        );
    }
    // Jitter really was drawn (holds vary; most of a burst is clamped behind the largest draw
    // so far, which is what keeps it in order), and no datagram beat the fixed delay.
    let holds: BTreeSet<u64> = history
        .iter()
        .filter_map(|r| match r.event {
            TraceEvent::MsgOut { hold_us, .. } => Some(hold_us),
            _ => None,
        })
        .collect();
    assert!(holds.len() > 1, "jittered holds: {holds:?}");
    assert!(
        holds.iter().all(|&h| h >= 2_000),
        "no datagram left before the fixed delay"
    );
    assert!(
        holds.iter().any(|&h| h >= 7_000),
        "some draw exceeded a third of the jitter"
    );
}

#[tokio::test]
async fn injected_latency_is_a_lower_bound() {
    const ONE_WAY: Duration = Duration::from_millis(40);
    let latency = Arc::new(LatencyMatrix::uniform(2, LinkDelay::fixed(ONE_WAY)));
    let config = DriverConfig::with_hello_interval(HELLO).listen_timeout(ms(400));
    let mut cluster = Cluster::new(
        2,
        Toy {
            ping_on_up: true,
            ..Toy::default()
        },
        latency,
        config,
    )
    .await;
    let ping = json!({ "Ping": 1 });
    let pong = json!({ "Pong": 1 });
    let (p1, p2, q1) = (ping.clone(), ping.clone(), pong.clone());
    let events = cluster
        .wait_all(
            "ping out, ping in, pong in",
            vec![
                Box::new(move |r| msg_out(r, N0, &p1)),
                Box::new(move |r| msg_in(r, N1, &p2)),
                Box::new(move |r| msg_in(r, N0, &q1)),
            ],
        )
        .await;
    let (sent, arrived, answered) = (events[0].t_us, events[1].t_us, events[2].t_us);
    let one_way = Duration::from_micros(arrived - sent);
    let rtt = Duration::from_micros(answered - sent);
    assert!(one_way >= ONE_WAY, "one way took {one_way:?}");
    assert!(rtt >= 2 * ONE_WAY, "round trip took {rtt:?}");
    cluster.shutdown().await;
}

#[tokio::test]
async fn lost_message_downs_both_ends_then_reopens() {
    let mut cluster = Cluster::healthy(
        2,
        Toy {
            ticker: true,
            ..Toy::default()
        },
    )
    .await;
    cluster.wait_all_up(&[N0, N1]).await;
    cluster.faults.lose(N0, N1, 1);
    cluster
        .wait_all(
            "the gap detected at the receiver, and the sender told",
            vec![
                Box::new(|r| dropped(r, N0, DropReason::InjectedLoss)),
                Box::new(|r| down(r, N1, N0, DownReason::MessageLost)),
                Box::new(|r| down(r, N0, N1, DownReason::PeerStoppedHearing)),
            ],
        )
        .await;
    cluster.wait_all_up(&[N0, N1]).await;
    let (reports, _) = cluster.shutdown().await;
    assert_eq!(reports[0].stats.dropped_injected_loss, 1);
    assert_eq!(reports[1].stats.msgs_lost, 1);
    let seqs = &reports[1].state.seqs;
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "still in order around the loss: {seqs:?}"
    );
}

#[tokio::test]
async fn bad_datagrams_are_counted_and_dropped() {
    let mut cluster = Cluster::healthy(2, Toy::default()).await;
    cluster.wait_all_up(&[N0, N1]).await;
    let target = cluster.peers.addr(N0).expect("node 0 is in the table");
    let raw = UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("raw socket binds");

    let valid = |src: u16, dst: u16| {
        Envelope::message(
            NodeIndex::new(src),
            NodeIndex::new(dst),
            BootNonce::new(1),
            (1, 1),
            ToyMsg::Ping(9),
        )
        .encode()
        .expect("encodes")
    };
    let good = valid(1, 0);
    let mut wrong_version = good.clone();
    wrong_version[3] = 0x7F;
    let datagrams: Vec<(Vec<u8>, DropReason)> = vec![
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), DropReason::Garbage),
        (good[..good.len() - 1].to_vec(), DropReason::Truncated),
        (wrong_version, DropReason::WrongVersion),
        (vec![0x56; DATAGRAM_BYTES_MAX + 1], DropReason::Oversized),
        (good.clone(), DropReason::UnknownSender), // valid, but from an unlisted address
        (valid(7, 0), DropReason::UnknownSender),  // sender index outside the cluster
        (valid(1, 1), DropReason::Misaddressed),   // meant for node 1
    ];
    let mut preds: Vec<Pred> = vec![];
    for (bytes, reason) in &datagrams {
        raw.send_to(bytes, target).await.expect("loopback send");
        let reason = *reason;
        preds.push(Box::new(move |r| dropped(r, N0, reason)));
    }
    cluster
        .wait_all("a drop record per bad datagram", preds)
        .await;

    let (reports, history) = cluster.shutdown().await;
    let stats = &reports[0].stats;
    assert_eq!(stats.bad_garbage, 1);
    assert_eq!(stats.bad_truncated, 1);
    assert_eq!(stats.bad_wrong_version, 1);
    assert_eq!(stats.bad_oversized, 1);
    assert_eq!(stats.bad_unknown_sender, 2);
    assert_eq!(stats.bad_misaddressed, 1);
    assert_eq!(stats.msgs_in, 0, "nothing reached the actor");
    assert!(!history
        .iter()
        .any(|r| r.node == N0 && matches!(r.event, TraceEvent::CircuitDown { .. })));
}

#[tokio::test]
async fn messages_to_a_down_circuit_are_dropped_and_counted() {
    let mut cluster = Cluster::healthy(
        2,
        Toy {
            ping_at_start: true,
            ..Toy::default()
        },
    )
    .await;
    cluster
        .wait_all(
            "start-up pings dropped",
            vec![
                Box::new(|r| dropped(r, N0, DropReason::CircuitDown)),
                Box::new(|r| dropped(r, N1, DropReason::CircuitDown)),
            ],
        )
        .await;
    cluster.wait_all_up(&[N0, N1]).await;
    let (reports, _) = cluster.shutdown().await;
    for report in &reports {
        assert_eq!(report.stats.dropped_circuit_down, 1, "{:?}", report.stats);
        assert_eq!(report.stats.msgs_out, 0);
        assert_eq!(report.state.pongs, 0);
    }
}

#[tokio::test]
async fn timers_fire_and_cancel() {
    let config = DriverConfig::with_hello_interval(HELLO)
        .listen_timeout(LISTEN)
        .timer_choice(TimerChoice::RangeStart);
    let mut cluster = Cluster::new(
        1,
        Toy {
            timers: true,
            ..Toy::default()
        },
        Arc::new(NoLatency),
        config,
    )
    .await;
    let first = cluster
        .wait_for("First fires", |r| {
            r.event
                == TraceEvent::Timer {
                    timer: "First".into(),
                }
        })
        .await;
    let last = cluster
        .wait_for("Last fires", |r| {
            r.event
                == TraceEvent::Timer {
                    timer: "Last".into(),
                }
        })
        .await;
    // `Cancelled` was due 60 ms after start, before `Last` (10 + 100 ms); it never fired.
    assert!(
        last.t_us - first.t_us >= 100_000,
        "Last fired {} us after First",
        last.t_us - first.t_us
    );
    let (reports, history) = cluster.shutdown().await;
    assert_eq!(reports[0].state.fired, vec!["First", "Last"]);
    assert_eq!(reports[0].stats.timers_fired, 2);
    assert!(!history.iter().any(|r| r.event
        == TraceEvent::Timer {
            timer: "Cancelled".into()
        }));
}
