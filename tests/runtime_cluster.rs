//! End-to-end tests of the runtime: `vmsc run` and `vmsc node` as real processes on loopback.
//!
//! The cluster is the seed topology with short timers (`tests/data/runtime-seed.toml`: hellos
//! every 50 ms, RECNXINTERVAL 400 ms) and the shipped inter-region latency. Every test binds
//! free ports (`vmsc run` picks its own), and every wait is bounded: `vmsc run` has its own
//! `--timeout-s`, and the tests kill any process that outlives [`PROCESS_MAX`]. Tests that
//! launch a cluster take a lock so that at most one cluster runs at a time on a small machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

const CLUSTER: &str = "tests/data/runtime-seed.toml";
const NODES: [&str; 5] = ["FRANK1", "FRANK2", "UK1", "CHIC1", "CHIC2"];

/// Longest any spawned process may live.
const PROCESS_MAX: Duration = Duration::from_secs(60);
/// Longest wait for one event of a running cluster.
const EVENT_MAX: Duration = Duration::from_secs(15);

/// One cluster at a time.
static CLUSTER_LOCK: Mutex<()> = Mutex::new(());

fn one_cluster() -> MutexGuard<'static, ()> {
    CLUSTER_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn vmsc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vmsc"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Runs `command` to completion, killing it after [`PROCESS_MAX`].
fn output(mut command: Command) -> (ExitStatus, String, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vmsc starts");
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let (done_tx, done_rx) = mpsc::channel();
    let pid = child.id();
    let waiter = thread::spawn(move || {
        let status = child.wait().expect("wait for vmsc");
        let _ = done_tx.send(());
        status
    });
    if done_rx.recv_timeout(PROCESS_MAX).is_err() {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        panic!(
            "vmsc (pid {pid}) ran longer than {PROCESS_MAX:?}: {}",
            err.join().unwrap_or_default()
        );
    }
    let status = waiter.join().expect("waiter thread");
    (
        status,
        out.join().expect("stdout reader"),
        err.join().expect("stderr reader"),
    )
}

/// The four outcome fields of a JSON object, for comparison with `vmsc whatif`.
fn outcome(v: &Value) -> Value {
    serde_json::json!({"members": v["members"], "hung": v["hung"], "cluexit": v["cluexit"], "down": v["down"]})
}

/// `vmsc run CLUSTER --scenario S --json`: its JSON and how long it took.
fn run_json(scenario: &str) -> (Value, Duration) {
    let _cluster = one_cluster();
    let started = Instant::now();
    let mut command = vmsc();
    command.args([
        "run",
        CLUSTER,
        "--scenario",
        scenario,
        "--json",
        "--timeout-s",
        "30",
    ]);
    let (status, out, err) = output(command);
    let took = started.elapsed();
    assert_eq!(
        status.code(),
        Some(0),
        "vmsc run {scenario} did not settle:\n{err}\n{out}"
    );
    let value: Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {out}\n{err}"));
    assert_eq!(value["settled"], true);
    (value, took)
}

/// The outcomes `vmsc whatif --json` gives for `faults` on the same cluster.
fn whatif(faults: &[&str]) -> Vec<Value> {
    let mut command = vmsc();
    command.args(["whatif", CLUSTER, "--json"]);
    for fault in faults {
        command.args(["--fail", fault]);
    }
    let (status, out, err) = output(command);
    assert_eq!(status.code(), Some(0), "whatif failed: {err}");
    let value: Value = serde_json::from_str(&out).expect("whatif prints JSON");
    assert_eq!(
        value["complete"], true,
        "whatif must explore everything to be a reference"
    );
    value["outcomes"].as_array().expect("outcomes").clone()
}

fn assert_agrees_with_whatif(scenario: &str, faults: &[&str]) {
    let (run, took) = run_json(scenario);
    let expected = whatif(faults);
    assert!(
        expected.contains(&outcome(&run)),
        "vmsc run {scenario} gave {}, but vmsc whatif {faults:?} allows only {expected:?}",
        outcome(&run)
    );
    for node in NODES {
        assert!(
            run["views"][node]["status"].is_string(),
            "views lists {node}: {run}"
        );
    }
    eprintln!("{scenario}: {} in {took:?}", outcome(&run));
}

// ---- agreement with the model ------------------------------------------------------------------

#[test]
fn fra_lhr_cut_agrees_with_whatif() {
    assert_agrees_with_whatif(
        "specs/scenarios/seed-fra-lhr.scenario.toml",
        &["link:FRA-LHR"],
    );
}

#[test]
fn fra_ord_cut_agrees_with_whatif() {
    assert_agrees_with_whatif(
        "specs/scenarios/seed-fra-ord.scenario.toml",
        &["link:FRA-ORD"],
    );
}

#[test]
fn both_fra_links_cut_agrees_with_whatif() {
    assert_agrees_with_whatif(
        "specs/scenarios/seed-both-fra.scenario.toml",
        &["link:FRA-LHR", "link:FRA-ORD"],
    );
}

#[test]
fn node_crash_agrees_with_whatif() {
    assert_agrees_with_whatif("tests/data/runtime-crash-uk1.scenario.toml", &["node:UK1"]);
}

#[test]
fn after_a_heal_the_cluexit_node_reboots_and_rejoins() {
    let (run, _) = run_json("specs/scenarios/seed-fra-lhr-heal.scenario.toml");
    assert_eq!(
        outcome(&run),
        serde_json::json!({"members": ["CHIC1", "CHIC2", "FRANK1", "FRANK2", "UK1"], "hung": [], "cluexit": ["UK1"], "down": []})
    );
    let views = &run["views"];
    let seq = &views["UK1"]["view"]["seq"];
    for node in NODES {
        assert_eq!(views[node]["status"], "active", "{node}: {run}");
        assert_eq!(
            &views[node]["view"]["seq"], seq,
            "every node holds the same view: {run}"
        );
        assert_eq!(
            views[node]["view"]["members"],
            serde_json::json!(NODES),
            "{run}"
        );
    }
}

// ---- bad input --------------------------------------------------------------------------------

#[test]
fn a_bad_scenario_is_rejected_naming_file_step_and_field() {
    let mut command = vmsc();
    command.args([
        "run",
        CLUSTER,
        "--scenario",
        "tests/data/runtime-bad-step.scenario.toml",
        "--json",
    ]);
    let (status, out, err) = output(command);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(out.is_empty(), "no JSON on bad input: {out}");
    assert!(
        err.contains("tests/data/runtime-bad-step.scenario.toml: step[1].link: \"FRA-XYZ\": XYZ is not a region or node of cluster OCICLU"),
        "{err}"
    );
    assert!(!err.contains("launched"), "no node may start: {err}");
}

// ---- vmsc node and its control endpoint --------------------------------------------------------

/// Five `vmsc node` processes, killed on drop; their console lines arrive on `lines`.
struct Nodes {
    children: Vec<Child>,
    controls: Vec<SocketAddr>,
    lines: mpsc::Receiver<(usize, String)>,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Nodes {
    fn start() -> Self {
        Self::start_cluster(CLUSTER, &NODES)
    }

    fn start_cluster(cluster: &str, names: &[&str]) -> Self {
        // Hold every socket until all ports are picked, so no port is handed out twice.
        let udp: Vec<UdpSocket> = names
            .iter()
            .map(|_| UdpSocket::bind("127.0.0.1:0").expect("udp port"))
            .collect();
        let tcp: Vec<TcpListener> = names
            .iter()
            .map(|_| TcpListener::bind("127.0.0.1:0").expect("tcp port"))
            .collect();
        let addresses: Vec<String> = udp
            .iter()
            .map(|s| s.local_addr().expect("bound").to_string())
            .collect();
        let controls: Vec<SocketAddr> =
            tcp.iter().map(|l| l.local_addr().expect("bound")).collect();
        drop((udp, tcp));
        let (tx, lines) = mpsc::channel();
        let mut children = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let mut command = vmsc();
            command
                .args([
                    "node",
                    "--config",
                    cluster,
                    "--name",
                    name,
                    "--addresses",
                    &addresses.join(","),
                ])
                .args([
                    "--control-port",
                    &controls[i].port().to_string(),
                    "--no-latency",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            let mut child = command.spawn().expect("vmsc node starts");
            let stdout = child.stdout.take().expect("piped");
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = tx.send((i, line));
                }
            });
            children.push(child);
        }
        Self {
            children,
            controls,
            lines,
        }
    }

    /// Waits until every node logged a line containing its own `needle(name)`.
    fn wait_lines(&self, what: &str, needle: impl Fn(&str) -> String) {
        let deadline = Instant::now() + EVENT_MAX;
        let mut seen = [false; NODES.len()];
        while !seen.iter().all(|s| *s) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((i, line)) => seen[i] |= line.contains(&needle(NODES[i])),
                Err(_) => panic!("timed out waiting for {what}; seen {seen:?}"),
            }
        }
    }

    /// Waits until node `i` logs a line containing `needle`.
    fn wait_lines_from(&self, i: usize, needle: &str) {
        let deadline = Instant::now() + EVENT_MAX;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((j, line)) if j == i && line.contains(needle) => return,
                Ok(_) => {}
                Err(_) => panic!("timed out waiting for {} to log {needle:?}", NODES[i]),
            }
        }
    }
}

/// A control connection.
struct Control {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Control {
    /// Connects to a node's control endpoint. A freshly spawned `vmsc node` binds it a moment
    /// after the process starts, so a refused connection is retried until [`EVENT_MAX`].
    fn connect(addr: SocketAddr) -> Self {
        let deadline = Instant::now() + EVENT_MAX;
        let stream = loop {
            match TcpStream::connect_timeout(&addr, EVENT_MAX) {
                Ok(stream) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    assert!(
                        Instant::now() < deadline,
                        "control endpoint {addr} refused connections for {EVENT_MAX:?}"
                    );
                    thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("control endpoint {addr}: {e}"),
            }
        };
        stream.set_read_timeout(Some(EVENT_MAX)).expect("timeout");
        Self {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        }
    }

    fn ask(&mut self, request: &str) -> Value {
        writeln!(self.writer, "{request}").expect("send request");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("one response line");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{request}: not JSON ({e}): {line:?}"))
    }
}

#[test]
fn control_endpoint_shows_the_formed_cluster_and_injects_faults() {
    let _cluster = one_cluster();
    let nodes = Nodes::start();
    nodes.wait_lines("every node to become a member", |name| {
        format!("Now a VMScluster member -- system {name}")
    });
    let mut frank1 = Control::connect(nodes.controls[0]);
    // The coordinator finishes the transition once every member confirmed: wait for that.
    let deadline = Instant::now() + EVENT_MAX;
    let show = loop {
        let show = frank1.ask("show cluster");
        if show["node"]["status"] == "active" {
            break show;
        }
        assert!(
            Instant::now() < deadline,
            "FRANK1 never became active: {show}"
        );
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(show["ok"], true);
    assert_eq!(show["reply"], "show");
    let text = show["text"].as_str().expect("text");
    let (header, rest) = text.split_once('\n').expect("lines");
    assert!(
        header.starts_with("View of Cluster from system ID 1025 node: FRANK1 "),
        "{header}"
    );
    assert_eq!(
        rest,
        "\nSYSTEMS                        MEMBERS\n\
         NODE      SOFTWARE             STATUS\n\
         FRANK1    vmsc 0.1.0           MEMBER\n\
         FRANK2    vmsc 0.1.0           MEMBER\n\
         UK1       vmsc 0.1.0           MEMBER\n\
         CHIC1     vmsc 0.1.0           MEMBER\n\
         CHIC2     vmsc 0.1.0           MEMBER\n\
         \nCL_VOTES 5  CL_EXPECTED_VOTES 5  CL_QUORUM 3  transition #1\n"
    );
    let node = &show["node"];
    assert_eq!(node["node"], "FRANK1");
    assert_eq!(
        (
            node["active"].clone(),
            node["quorate"].clone(),
            node["quiescent"].clone()
        ),
        (true.into(), true.into(), true.into())
    );
    assert_eq!(node["view"]["members"], serde_json::json!(NODES));
    assert_eq!(
        node["connections"],
        serde_json::json!(["FRANK2", "UK1", "CHIC1", "CHIC2"])
    );

    // Fault injection through the endpoint: cut UK1 at FRANK1's end only (both directions).
    let cut = frank1.ask("cut uk1");
    assert_eq!(
        cut["cuts"],
        serde_json::json!([["FRANK1", "UK1"], ["UK1", "FRANK1"]]),
        "{cut}"
    );
    nodes.wait_lines_from(0, "%CNXMAN, Lost connection to system UK1");
    let healed = frank1.ask("heal all");
    assert_eq!(healed["cuts"], serde_json::json!([]));
    let stats = frank1.ask("stats");
    assert!(
        stats["stats"]["dropped_cut"].as_u64().expect("counter") > 0,
        "{stats}"
    );
    assert!(
        stats["stats"]["circuit_downs"].as_u64().expect("counter") >= 1,
        "{stats}"
    );
    let bad = frank1.ask("enq RES EX");
    assert_eq!(bad["ok"], false);
    assert!(
        bad["error"]
            .as_str()
            .expect("error text")
            .starts_with("enq: no lock manager: cluster OCICLU declares no lock resources"),
        "{bad}"
    );
    let bad = frank1.ask("cut NOBODY");
    assert_eq!(bad["error"], "no node \"NOBODY\" in cluster OCICLU");

    // A clean shutdown over the endpoint ends the process.
    let mut chic2 = Control::connect(nodes.controls[4]);
    assert_eq!(chic2.ask("shutdown")["ok"], true);
    let mut nodes = nodes;
    let deadline = Instant::now() + EVENT_MAX;
    loop {
        if let Some(status) = nodes.children[4].try_wait().expect("try_wait") {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "CHIC2 did not exit after shutdown"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

// ---- vmsc lock against vmsc node ----------------------------------------------------------------

const LOCK_CLUSTER: &str = "tests/data/runtime-locks.toml";
const LOCK_NODES: [&str; 3] = ["ALPHA", "BRAVO", "CHARLY"];

/// `vmsc lock --control ADDR WORDS...`: exit code and the JSON it printed.
fn lock(control: SocketAddr, words: &[&str]) -> (Option<i32>, Value, String) {
    let mut command = vmsc();
    command
        .args([
            "lock",
            "--control",
            &control.to_string(),
            "--timeout-ms",
            "15000",
        ])
        .args(words);
    let (status, out, err) = output(command);
    let value = serde_json::from_str(out.trim()).unwrap_or(Value::Null);
    (status.code(), value, err)
}

#[test]
fn vmsc_lock_takes_waits_for_and_releases_locks_on_vmsc_nodes() {
    let _cluster = one_cluster();
    let nodes = Nodes::start_cluster(LOCK_CLUSTER, &LOCK_NODES);
    // Every node active: the lock manager runs (a request before that would wait for it).
    for (i, addr) in nodes.controls.iter().enumerate() {
        let mut control = Control::connect(*addr);
        let deadline = Instant::now() + EVENT_MAX;
        while control.ask("show")["node"]["status"] != "active" {
            assert!(
                Instant::now() < deadline,
                "{} never became active",
                LOCK_NODES[i]
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
    let [alpha, bravo, charly] = [nodes.controls[0], nodes.controls[1], nodes.controls[2]];

    let (code, held, err) = lock(alpha, &["enq", "r1", "EX"]);
    assert_eq!(code, Some(0), "{held} {err}");
    assert_eq!(
        (&held["status"], &held["granted_mode"]),
        (&"normal".into(), &"EX".into())
    );
    let id = held["lock_id"].as_u64().expect("lock id").to_string();

    // Refused by the lock manager: exit 1, with the status.
    let (code, refused, _) = lock(bravo, &["enq", "R1", "PR", "NOQUEUE"]);
    assert_eq!(code, Some(1), "{refused}");
    assert_eq!(refused["status"], "not_queued");
    // Not issued at all: exit 2, the error names the field.
    let (code, _, err) = lock(bravo, &["enq", "NOPE", "PR"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no resource NOPE in cluster LOCKCLU"), "{err}");
    let (code, _, err) = lock(bravo, &["enq", "R1", "XX"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("enq: unknown lock mode `XX`"), "{err}");
    // A lock id without the external bit (a typo) is answered, not left waiting: exit 1.
    for words in [&["deq", "12345"][..], &["convert", "4242", "EX"]] {
        let (code, refused, err) = lock(bravo, words);
        assert_eq!(code, Some(1), "{words:?}: {refused} {err}");
        assert_eq!(refused["status"], "iv_lock_id", "{words:?}: {refused}");
    }

    // CHARLY waits for PR in the background; ALPHA's lock gets a BAST; ALPHA releases.
    let mut waiter = vmsc();
    waiter
        .args([
            "lock",
            "--control",
            &charly.to_string(),
            "--timeout-ms",
            "15000",
        ])
        .args(["enq", "R1", "PR", "VALBLK"]);
    let waiter = thread::spawn(move || output(waiter));
    let (code, bast, err) = lock(alpha, &["bast", &id, "15000"]);
    assert_eq!(code, Some(0), "{bast} {err}");
    assert_eq!(bast["blocking"], true);
    assert!(!waiter.is_finished(), "CHARLY must still wait");
    let (code, released, err) = lock(alpha, &["deq", &id, "value=cafe"]);
    assert_eq!(code, Some(0), "{released} {err}");
    let (status, out, err) = waiter.join().expect("waiter");
    assert_eq!(status.code(), Some(0), "{out} {err}");
    let granted: Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(
        (&granted["granted_mode"], &granted["value"]),
        (&"PR".into(), &format!("cafe{}", "0".repeat(28)).into())
    );
    let (code, listed, _) = lock(charly, &["locks"]);
    assert_eq!(code, Some(0));
    assert_eq!(listed["locks"][0]["resource"], "R1", "{listed}");

    // CHARLY releases R1's last lock: the tree, its value block and its directory entry go. A
    // lock from BRAVO then starts a new tree (a new lookup makes BRAVO master): granted, with a
    // new, zero value block.
    let waiter = granted["lock_id"].as_u64().expect("lock id").to_string();
    let (code, released, err) = lock(charly, &["deq", &waiter]);
    assert_eq!(code, Some(0), "{released} {err}");
    let (code, again, err) = lock(bravo, &["enq", "R1", "EX", "VALBLK"]);
    assert_eq!(code, Some(0), "{again} {err}");
    assert_eq!(
        (&again["granted_mode"], &again["value"], &again["valid"]),
        (&"EX".into(), &"0".repeat(32).into(), &true.into())
    );
    // ALPHA reaches the new master: refused while BRAVO holds EX.
    let (code, refused, _) = lock(alpha, &["enq", "R1", "PR", "NOQUEUE"]);
    assert_eq!(code, Some(1), "{refused}");
    assert_eq!(refused["status"], "not_queued");

    // A request that times out after the node acknowledged it stays queued there, and the
    // message says so, with its lock id.
    let mut command = vmsc();
    command.args([
        "lock",
        "--control",
        &alpha.to_string(),
        "--timeout-ms",
        "2000",
    ]);
    command.args(["enq", "R1", "PR"]);
    let (status, out, err) = output(command);
    assert_eq!(status.code(), Some(2), "{out} {err}");
    let (code, listed, _) = lock(alpha, &["locks"]);
    assert_eq!(code, Some(0));
    let pending = &listed["locks"][0];
    assert_eq!(pending["pending"], "enq PR", "{listed}");
    let id = pending["lock_id"].as_u64().expect("lock id");
    assert_eq!(
        err.trim(),
        format!(
            "vmsc: error: no response from {alpha} within 2000 ms; the node queued the request \
             (lock {id:#x}) and it stays queued there (`vmsc lock ... locks` lists it)"
        )
    );
}

#[test]
fn vmsc_lock_does_not_claim_a_request_the_node_never_read_stays_queued() {
    // A listener that never accepts: the connection waits in its backlog, the request is
    // written but never read.
    let listener = TcpListener::bind("127.0.0.1:0").expect("tcp port");
    let addr = listener.local_addr().expect("bound");
    let mut command = vmsc();
    command.args([
        "lock",
        "--control",
        &addr.to_string(),
        "--timeout-ms",
        "300",
    ]);
    command.args(["enq", "R1", "EX"]);
    let (status, out, err) = output(command);
    assert_eq!(status.code(), Some(2), "{out} {err}");
    assert_eq!(
        err.trim(),
        format!(
            "vmsc: error: no response from {addr} within 300 ms; the node did not acknowledge \
             the request, so it may not have been issued"
        )
    );
    drop(listener);
}

#[test]
fn a_base_port_past_the_last_port_and_a_short_address_list_are_named() {
    // CHARLY (index 2) would need port 65536: the error names the flag and the node, where it
    // used to report two nodes sharing an address.
    let overflow = "vmsc: error: --base-port: base port 65534 gives node CHARLY (index 2 in the \
                    cluster file) port 65534 + 2, past 65535; the largest base port for this \
                    cluster is 65533";
    let mut node = vmsc();
    node.args(["node", "--config", LOCK_CLUSTER, "--name", "ALPHA"]);
    node.args(["--base-port", "65534"]);
    let mut lock = vmsc();
    lock.args(["lock", "--config", LOCK_CLUSTER, "--name", "ALPHA"]);
    lock.args(["--base-port", "65534", "locks"]);
    for command in [node, lock] {
        let (status, out, err) = output(command);
        assert_eq!(status.code(), Some(2), "{out} {err}");
        assert_eq!(err.trim(), overflow);
    }
    let mut node = vmsc();
    node.args(["node", "--config", LOCK_CLUSTER, "--name", "ALPHA"]);
    node.args(["--addresses", "127.0.0.1:9"]);
    let (status, out, err) = output(node);
    assert_eq!(status.code(), Some(2), "{out} {err}");
    assert_eq!(
        err.trim(),
        "vmsc: error: --addresses: 1 address for 3 nodes"
    );
}

// ---- the runtime commands' flags ----------------------------------------------------------------

/// `vmsc WORDS --help`.
fn help(words: &[&str]) -> String {
    let mut command = vmsc();
    command.args(words).arg("--help");
    let (status, out, err) = output(command);
    assert!(status.success(), "{words:?} --help: {err}");
    out
}

/// The help text of `flag` in `help` (its line, without the default) and its default.
fn flag_help(help: &str, flag: &str) -> Option<(String, Option<String>)> {
    let line = help
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{flag} ")))?;
    let text = line.trim_start()[flag.len()..].trim_start();
    // Drop the value name (`<MS>`).
    let text = text.split_once("  ").map_or(text, |(_, t)| t).trim();
    let (text, default) = match text.split_once(" [default: ") {
        Some((t, d)) => (t, Some(d.trim_end_matches(']').to_string())),
        None => (text, None),
    };
    let text = text.split(" [env: ").next().unwrap_or(text);
    Some((text.to_string(), default))
}

#[test]
fn the_runtime_commands_share_their_flags_spelling_unit_and_meaning() {
    let helps: Vec<(&str, String)> = ["node", "run", "lock", "experiment"]
        .into_iter()
        .map(|c| (c, help(&[c])))
        .collect();
    for (command, text) in &helps {
        assert!(text.contains("\nExamples"), "vmsc {command} --help: {text}");
    }
    let family = [
        ("--rtt", &["node", "run", "experiment"][..]),
        ("--lan-rtt-ms", &["node", "run", "experiment"]),
        ("--jitter-ms", &["node", "run", "experiment"]),
        ("--time-scale", &["node", "run", "experiment"]),
        ("--boot-delay-ms", &["node", "run", "experiment"]),
        ("--base-port", &["node", "lock"]),
        ("--no-latency", &["node", "run"]),
    ];
    for (flag, commands) in family {
        let texts: Vec<(&str, String, Option<String>)> = helps
            .iter()
            .filter(|(c, _)| commands.contains(c))
            .map(|(c, h)| {
                let (text, default) =
                    flag_help(h, flag).unwrap_or_else(|| panic!("vmsc {c} has no {flag}"));
                (*c, text, default)
            })
            .collect();
        for (command, text, _) in &texts {
            assert_eq!(
                text, &texts[0].1,
                "{flag}: vmsc {command} and vmsc {}",
                texts[0].0
            );
        }
        assert!(!texts[0].1.contains("real ms"), "{flag}: {}", texts[0].1);
    }
    let defaults: Vec<Option<String>> = ["node", "run", "experiment"]
        .iter()
        .map(|c| {
            let h = &helps.iter().find(|(n, _)| n == c).expect("help").1;
            flag_help(h, "--time-scale").expect("--time-scale").1
        })
        .collect();
    assert_eq!(
        defaults,
        [
            Some("1".to_string()),
            Some("1".to_string()),
            Some("20".to_string())
        ]
    );
    let experiment = &helps[3].1;
    assert!(
        experiment.contains("--time-scale defaults to 20 here (1 for `vmsc node` and `vmsc run`)"),
        "{experiment}"
    );
    // `lock bast` names its argument as the control endpoint's help does.
    let bast = help(&["lock", "bast"]);
    assert!(
        bast.contains("Usage: vmsc lock bast <LOCK_ID> [TIMEOUT_MS]"),
        "{bast}"
    );
}

#[test]
fn vmsc_run_serve_names_a_port_in_use_and_a_base_port_past_the_last_port() {
    let taken = UdpSocket::bind("127.0.0.1:0").expect("udp port");
    let port = taken.local_addr().expect("bound").port();
    let mut run = vmsc();
    run.args(["run", LOCK_CLUSTER, "--serve", "--once", "--base-port"]);
    run.arg(port.to_string());
    let (status, out, err) = output(run);
    assert_eq!(status.code(), Some(2), "{out} {err}");
    assert!(
        err.starts_with(&format!(
            "vmsc: error: --serve: cannot serve node ALPHA: its UDP address 127.0.0.1:{port} is \
             in use (another cluster on the same ports? give another base port): "
        )),
        "{err}"
    );
    drop(taken);
    let mut run = vmsc();
    run.args(["run", LOCK_CLUSTER, "--serve", "--once"]);
    run.env("VMSC_BASE_PORT", "65534");
    let (status, out, err) = output(run);
    assert_eq!(status.code(), Some(2), "{out} {err}");
    assert!(
        err.starts_with("vmsc: error: --base-port: base port 65534 gives node CHARLY"),
        "{err}"
    );
}
