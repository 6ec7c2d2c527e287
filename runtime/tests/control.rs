//! The control endpoint's connections on real sockets: the connection limit answers at once,
//! clients waiting for locks hold no connection slot, a client that goes away releases its
//! slots while its lock request stays queued at the node, and bad input gets an error line.
//!
//! The clients here are raw TCP connections, so each test sees every line the node writes.
//! Every wait is bounded by [`WAIT_MAX`] and waits for a line, the end of a connection, or a
//! counter of `stats` reaching a value.

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use common::{ask, Cluster, A, B, C, WAIT_MAX};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use vmsc_runtime::cluster::control::{CONNECTIONS_MAX, LOCK_WAITS_MAX, PIPELINED_MAX};

/// A raw control connection.
struct Raw {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("control endpoint");
        let (read, write) = stream.into_split();
        Self {
            read: BufReader::new(read),
            write,
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.write.write_all(bytes).await.expect("send");
    }

    /// The next line, parsed; `None` at the end of the connection.
    async fn line(&mut self) -> Option<Value> {
        let mut line = String::new();
        let n = tokio::time::timeout(WAIT_MAX, self.read.read_line(&mut line))
            .await
            .expect("a line or the end of the connection in time")
            .expect("read");
        (n > 0).then(|| serde_json::from_str(&line).expect("a JSON line"))
    }

    /// Sends `request` and returns its response (the next line that is not an event).
    async fn ask(&mut self, request: &str) -> Value {
        self.send(format!("{request}\n").as_bytes()).await;
        loop {
            let line = self.line().await.expect("a response");
            if line.get("event").is_none() {
                return line;
            }
        }
    }

    /// Sends a lock request and returns the lock id of its `queued` acknowledgement.
    async fn queued(&mut self, request: &str) -> u64 {
        self.send(format!("{request}\n").as_bytes()).await;
        let ack = self.line().await.expect("an acknowledgement");
        assert_eq!(ack["event"], "queued", "{request}: {ack}");
        ack["lock_id"].as_u64().expect("lock id")
    }
}

/// Polls `stats` on a fresh connection until `control` has `counts` (every key given).
async fn wait_counts(addr: SocketAddr, counts: Value) {
    let deadline = Instant::now() + WAIT_MAX;
    let mut client = Raw::connect(addr).await;
    loop {
        let stats = client.ask("stats").await;
        let control = &stats["control"];
        let matches = counts
            .as_object()
            .expect("an object")
            .iter()
            .all(|(k, v)| &control[k] == v);
        if matches {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "stats never reached {counts}: {control}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The cluster, settled, with ALPHA holding `res` at EX; returns the holder's lock id.
async fn held(cluster: &Cluster, res: &str) -> u64 {
    cluster.settled(&[A, B, C]).await;
    let mut a = cluster.client(A).await;
    let holder = ask(&mut a, &format!("enq {res} EX")).await;
    assert_eq!(holder["granted_mode"], "EX", "{holder}");
    holder["lock_id"].as_u64().expect("lock id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_whose_clients_exit_release_their_slots_and_their_requests_stay_queued() {
    let cluster = Cluster::start().await;
    let alpha = cluster.controls[A];
    let holder = held(&cluster, "R1").await;

    // Clients waiting for a BAST, then more clients than there are connection slots waiting
    // for the lock: each is acknowledged (the node read it), then the client exits.
    let mut basts = Vec::new();
    for _ in 0..4 {
        let mut raw = Raw::connect(alpha).await;
        raw.send(format!("bast {holder} 600000\n").as_bytes()).await;
        basts.push(raw);
    }
    wait_counts(alpha, json!({"lock_waits": 4})).await;
    drop(basts);
    wait_counts(alpha, json!({"lock_waits": 0})).await;
    let waiters = CONNECTIONS_MAX + 4;
    let mut ids = Vec::new();
    let mut raws = Vec::new();
    for _ in 0..waiters {
        let mut raw = Raw::connect(alpha).await;
        ids.push(raw.queued("enq R1 PR").await);
        raws.push(raw);
    }
    wait_counts(alpha, json!({"lock_waits": waiters})).await;
    drop(raws);
    // Every slot comes back: only the stats connection is left.
    wait_counts(alpha, json!({"lock_waits": 0, "connections": 1})).await;

    // The requests stay queued at the node; the holder's deq goes through and grants them.
    let mut a = cluster.client(A).await;
    let locks = ask(&mut a, "locks").await;
    let pending: Vec<u64> = locks["locks"]
        .as_array()
        .expect("locks")
        .iter()
        .filter(|l| l["pending"] == "enq PR")
        .map(|l| l["lock_id"].as_u64().expect("id"))
        .collect();
    assert_eq!(pending, ids, "{locks}");
    let released = ask(&mut a, &format!("deq {holder}")).await;
    assert_eq!(released["status"], "normal", "{released}");
    let deadline = Instant::now() + WAIT_MAX;
    loop {
        let locks = ask(&mut a, "locks").await;
        let granted = locks["locks"]
            .as_array()
            .expect("locks")
            .iter()
            .filter(|l| l["granted_mode"] == "PR" && l["pending"].is_null())
            .count();
        if granted == waiters {
            break;
        }
        assert!(Instant::now() < deadline, "not all granted: {locks}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_waiters_hold_no_connection_slot_and_a_full_wait_table_still_lets_a_deq_through() {
    let cluster = Cluster::start().await;
    let alpha = cluster.controls[A];
    let holder = held(&cluster, "R2").await;
    let mut waiters = Vec::new();
    for _ in 0..LOCK_WAITS_MAX {
        let mut raw = Raw::connect(alpha).await;
        raw.queued("enq R2 CR").await;
        waiters.push(raw);
    }
    wait_counts(
        alpha,
        json!({"lock_waits": LOCK_WAITS_MAX, "connections": 1}),
    )
    .await;
    // Every connection slot is free for others: show, and one more enq, refused (not issued)
    // because every lock-wait slot is taken.
    let mut other = Raw::connect(alpha).await;
    assert_eq!(other.ask("show").await["ok"], true);
    let refused = other.ask("enq R2 CR").await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(
        refused["error"],
        format!(
            "enq: {LOCK_WAITS_MAX} requests already wait at this node; not issued, try again once \
             one completes"
        )
    );
    // The deq waits in its connection slot, and every waiter is granted.
    let released = other.ask(&format!("deq {holder}")).await;
    assert_eq!(released["ok"], true, "{released}");
    assert_eq!(released["reply"], "deq", "{released}");
    for raw in &mut waiters {
        let granted = raw.line().await.expect("the grant");
        assert_eq!(
            (&granted["reply"], &granted["granted_mode"]),
            (&json!("enq"), &json!("CR")),
            "{granted}"
        );
    }
    // A waiter goes on once it has a connection slot again: the others leave, freeing theirs
    // (or their place in line for one).
    let mut first = waiters.swap_remove(0);
    drop(waiters);
    let locks = first.ask("locks").await;
    assert_eq!(locks["reply"], "locks", "{locks}");
    wait_counts(alpha, json!({"lock_waits": 0})).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_beyond_the_limit_gets_an_error_line_at_once_and_is_closed() {
    let cluster = Cluster::start().await;
    let bravo = cluster.controls[B];
    let mut open = Vec::new();
    for _ in 0..CONNECTIONS_MAX {
        let mut raw = Raw::connect(bravo).await;
        assert_eq!(raw.ask("help").await["ok"], true);
        open.push(raw);
    }
    let mut turned_away = Raw::connect(bravo).await;
    let line = turned_away.line().await.expect("an error line");
    assert_eq!(
        line,
        json!({"ok": false, "error": format!(
            "too many control connections: {CONNECTIONS_MAX} are open (lock waits aside); try \
             again once one closes"
        )})
    );
    assert_eq!(turned_away.line().await, None, "then closed");
    // Once a connection closes, a new one is served.
    drop(open.pop());
    let deadline = Instant::now() + WAIT_MAX;
    loop {
        let mut raw = Raw::connect(bravo).await;
        if raw.ask("help").await["ok"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "no slot came back");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_that_is_not_utf8_gets_an_error_line_and_the_connection_goes_on() {
    let cluster = Cluster::start().await;
    let mut raw = Raw::connect(cluster.controls[C]).await;
    raw.send(b"sh\xffow\n").await;
    let error = raw.line().await.expect("an error line");
    assert_eq!(
        error,
        json!({"ok": false, "error": "request is not UTF-8 (byte 0xff at offset 2); the line was ignored"})
    );
    assert_eq!(raw.ask("show cluster").await["reply"], "show");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_with_requests_piled_behind_a_wait_releases_its_slot() {
    let cluster = Cluster::start().await;
    let alpha = cluster.controls[A];
    let holder = held(&cluster, "R3").await;
    let mut raw = Raw::connect(alpha).await;
    let mut lines = format!("bast {holder} 600000\n");
    for _ in 0..PIPELINED_MAX + 4 {
        lines.push_str("help\n");
    }
    raw.send(lines.as_bytes()).await;
    wait_counts(alpha, json!({"lock_waits": 1})).await;
    // The client shuts down its sending side: it is gone, the wait is dropped, nothing answered.
    raw.write.shutdown().await.expect("shutdown");
    assert_eq!(raw.line().await, None);
    wait_counts(alpha, json!({"lock_waits": 0, "connections": 1})).await;
    cluster.stop().await;
}
