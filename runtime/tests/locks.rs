//! The lock manager's client interface end to end: three nodes in this process (`common`), lock
//! requests through their control endpoints. The message counts asserted are
//! the requester's actor messages (`stats.msgs_out`): 0 for a local master, 1 for a known remote
//! master, 2 for a directory lookup plus a remote master.

mod common;

use common::{ask, Cluster, A, B, C, WAIT_MAX};
use serde_json::{json, Value};
use vmsc_runtime::cluster::control::{ControlClient, Request};

async fn msgs_out(client: &mut ControlClient) -> u64 {
    ask(client, "stats").await["stats"]["msgs_out"]
        .as_u64()
        .expect("counter")
}

/// Runs `line` at `client` and returns the reply and the number of actor messages the node sent.
async fn ask_counting(client: &mut ControlClient, line: &str) -> (Value, u64) {
    let before = msgs_out(client).await;
    let reply = ask(client, line).await;
    (reply, msgs_out(client).await - before)
}

fn lock_id(reply: &Value) -> u64 {
    reply["lock_id"].as_u64().expect("lock id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_with_local_remote_and_looked_up_masters_and_after_a_master_fails() {
    let cluster = Cluster::start().await;
    cluster.settled(&[A, B, C]).await;
    let (mut a, mut b, mut c) = (
        cluster.client(A).await,
        cluster.client(B).await,
        cluster.client(C).await,
    );

    // Local master: ALPHA is the directory node, so it masters the resource; no message.
    let local = cluster.resource_with_directory(A, &[A, B, C], &[]);
    let (reply, sent) = ask_counting(&mut a, &format!("enq {local} EX VALBLK")).await;
    assert_eq!(
        (
            &reply["status"],
            &reply["success"],
            &reply["granted_mode"],
            &reply["resource"]
        ),
        (&json!("normal"), &json!(true), &json!("EX"), &json!(local)),
        "{reply}"
    );
    assert_eq!(reply["value"], json!("0".repeat(32)));
    assert_eq!(reply["valid"], true);
    assert_eq!(sent, 0, "a local master takes no message");

    // Directory lookup + remote master: CHARLIE is the directory, BRAVO locks first (master).
    let remote = cluster.resource_with_directory(C, &[A, B, C], &[]);
    let reply = ask(&mut b, &format!("enq {remote} NL")).await;
    assert_eq!(reply["granted_mode"], "NL", "{reply}");
    let (reply, sent) = ask_counting(&mut a, &format!("enq {remote} PR")).await;
    assert_eq!(reply["granted_mode"], "PR", "{reply}");
    assert_eq!(sent, 2, "lookup at CHARLIE, request to BRAVO");
    let on_remote = lock_id(&reply);
    // Remote master, known: one message.
    let (reply, sent) = ask_counting(&mut a, &format!("convert {on_remote} CR")).await;
    assert_eq!(reply["granted_mode"], "CR", "{reply}");
    assert_eq!(sent, 1, "the request to BRAVO");

    // A tree mastered by CHARLIE, locked by ALPHA; then CHARLIE fails.
    let doomed = cluster.resource_with_directory(C, &[A, B, C], &[&remote]);
    let reply = ask(&mut c, &format!("enq {doomed} CR")).await;
    assert_eq!(reply["granted_mode"], "CR", "{reply}");
    let reply = ask(&mut a, &format!("enq {doomed} PW")).await;
    assert_eq!(reply["granted_mode"], "PW", "{reply}");
    let on_doomed = lock_id(&reply);
    ask(&mut c, "crash").await;
    cluster.settled(&[A, B]).await;

    // After the rebuild: the surviving master (BRAVO) still serves ALPHA's lock...
    let (reply, sent) = ask_counting(&mut a, &format!("convert {on_remote} EX")).await;
    assert_eq!(reply["granted_mode"], "EX", "{reply}");
    assert_eq!(sent, 1);
    // ...the re-mastered tree kept ALPHA's PW lock (a PW request from BRAVO cannot be granted)
    // and dropped CHARLIE's CR lock (ALPHA converts to EX at once).
    let reply = ask(&mut b, &format!("enq {doomed} PW NOQUEUE")).await;
    assert_eq!(
        (&reply["status"], &reply["success"], &reply["granted_mode"]),
        (&json!("not_queued"), &json!(false), &Value::Null),
        "{reply}"
    );
    let reply = ask(&mut a, &format!("convert {on_doomed} EX NOQUEUE")).await;
    assert_eq!(reply["granted_mode"], "EX", "{reply}");
    let reply = ask(&mut a, &format!("convert {on_doomed} NL value=0badcafe")).await;
    assert_eq!(reply["granted_mode"], "NL", "{reply}");
    let reply = ask(&mut b, &format!("enq {doomed} PR VALBLK")).await;
    assert_eq!(
        (&reply["granted_mode"], &reply["value"], &reply["valid"]),
        (
            &json!("PR"),
            &json!(format!("0badcafe{}", "0".repeat(24))),
            &json!(true)
        ),
        "{reply}"
    );
    // A fresh lookup in the two-node view still works, and ALPHA lists its locks.
    let fresh = cluster.resource_with_directory(B, &[A, B], &[&local, &remote, &doomed]);
    let reply = ask(&mut a, &format!("enq {fresh} CW")).await;
    assert_eq!(reply["granted_mode"], "CW", "{reply}");
    let listed = ask(&mut a, "locks").await;
    let modes: Vec<(String, String)> = listed["locks"]
        .as_array()
        .expect("locks")
        .iter()
        .map(|l| {
            (
                l["resource"].as_str().unwrap_or_default().to_string(),
                l["granted_mode"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut expected = vec![
        (local.clone(), "EX".to_string()),
        (remote.clone(), "EX".to_string()),
        (doomed.clone(), "NL".to_string()),
        (fresh.clone(), "CW".to_string()),
    ];
    expected.sort();
    let mut got = modes;
    got.sort();
    assert_eq!(got, expected, "{listed}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_request_waits_its_holder_gets_a_bast_and_it_is_granted_after_deq() {
    let cluster = Cluster::start().await;
    cluster.settled(&[A, B, C]).await;
    let res = cluster.resource_with_directory(C, &[A, B, C], &[]);
    let mut a = cluster.client(A).await;
    let holder = ask(&mut a, &format!("enq {res} EX")).await;
    let holder_id = lock_id(&holder);
    let reply = ask(&mut a, &format!("bast {holder_id}")).await;
    assert_eq!(reply["blocking"], false, "{reply}");

    // BRAVO asks PR: it waits, on its own connection, while ALPHA's lock blocks it.
    let mut b = cluster.client(B).await;
    let waiter = tokio::spawn(async move {
        let reply = ask(&mut b, &format!("enq {res} PR VALBLK")).await;
        (reply, b)
    });
    // ALPHA's connection receives the BAST as an event line...
    let event = tokio::time::timeout(WAIT_MAX, a.next_event())
        .await
        .expect("a BAST in time")
        .expect("an event line");
    assert_eq!(event["event"], "bast", "{event}");
    assert_eq!(event["lock_id"].as_u64(), Some(holder_id), "{event}");
    assert_eq!(event["granted_mode"], "EX", "{event}");
    // ...and any connection can see it (a script's way to wait for one).
    let mut other = cluster.client(A).await;
    let reply = ask(&mut other, &format!("bast {holder_id} 5000")).await;
    assert_eq!(reply["blocking"], true, "{reply}");
    let mut b2 = cluster.client(B).await;
    let pending = ask(&mut b2, "locks").await;
    assert_eq!(pending["locks"][0]["pending"], "enq PR", "{pending}");
    assert_eq!(
        pending["locks"][0]["granted_mode"],
        Value::Null,
        "{pending}"
    );
    assert!(!waiter.is_finished(), "BRAVO's request must still wait");
    // A second request on a lock whose request is in flight is refused.
    let busy = pending["locks"][0]["lock_id"].as_u64().expect("id");
    let refused = b2
        .request(&Request::parse(&format!("deq {busy}")).expect("deq"))
        .await
        .expect_err("busy");
    assert!(
        refused.to_string().contains("has a request in progress"),
        "{refused}"
    );

    // ALPHA releases, writing the value block: BRAVO is granted PR and reads it.
    let reply = ask(&mut a, &format!("deq {holder_id} value=2a")).await;
    assert_eq!(
        (&reply["status"], &reply["granted_mode"]),
        (&json!("normal"), &Value::Null),
        "{reply}"
    );
    let (granted, _) = tokio::time::timeout(WAIT_MAX, waiter)
        .await
        .expect("granted in time")
        .expect("waiter task");
    assert_eq!(
        (
            &granted["status"],
            &granted["granted_mode"],
            &granted["value"]
        ),
        (
            &json!("normal"),
            &json!("PR"),
            &json!(format!("2a{}", "0".repeat(30)))
        ),
        "{granted}"
    );
    // A released lock id is gone.
    let reply = ask(&mut a, &format!("convert {holder_id} EX")).await;
    assert_eq!(
        (&reply["status"], &reply["success"]),
        (&json!("iv_lock_id"), &json!(false)),
        "{reply}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lock_requests_get_clear_errors() {
    let cluster = Cluster::start().await;
    let mut a = cluster.client(A).await;
    for (line, error) in [
        (
            "enq NOPE EX",
            "enq: no resource NOPE in cluster LOCKCLU (lock resources: R0, R1,",
        ),
        ("enq R1 XX", "enq: unknown lock mode `XX`"),
        ("enq R1 EX SYNCSTS", "enq: \"SYNCSTS\" is not a flag"),
        ("convert x EX", "convert: \"x\" is not a lock id"),
        ("bast 0x40000001", "bast: no lock 0x40000001 on this node"),
    ] {
        let err = match Request::parse(line) {
            Err(e) => e,
            Ok(request) => a.request(&request).await.expect_err(line).to_string(),
        };
        assert!(err.contains(error), "{line}: {err}");
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_id_without_the_external_bit_is_answered_and_not_left_in_progress() {
    let cluster = Cluster::start().await;
    cluster.settled(&[A, B, C]).await;
    let mut a = cluster.client(A).await;
    // Ids a client may type by mistake: no external bit (12345, 4242), or a scripted client's.
    for line in [
        "deq 12345",
        "convert 4242 EX",
        "deq 12345",
        "convert 0x1 NL VALBLK",
    ] {
        let reply = ask(&mut a, line).await;
        assert_eq!(
            (&reply["status"], &reply["success"], &reply["resource"]),
            (&json!("iv_lock_id"), &json!(false), &Value::Null),
            "{line}: {reply}"
        );
    }
    // Nothing stays in progress: the node lists no lock, and a bast on the id is refused.
    assert_eq!(ask(&mut a, "locks").await["locks"], json!([]));
    let refused = a
        .request(&Request::parse("bast 12345").expect("bast"))
        .await
        .expect_err("no such lock");
    assert!(refused.to_string().contains("no lock 0x3039"), "{refused}");
    cluster.stop().await;
}
