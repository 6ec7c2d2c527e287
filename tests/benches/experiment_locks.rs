//! Benchmark (prints figures; not a timed test): lock grant latency under load on the seed
//! topology placed in FRA, LHR and ORD with the shipped RTTs, against the floor, and where the
//! time goes.
//!
//! ```sh
//! cargo bench --bench experiment_locks            # 3 runs at time scale 1, 1 run at 20
//! VMSC_BENCH_RUNS=10 cargo bench --bench experiment_locks
//! ```
//!
//! It runs `vmsc experiment specs/scenarios/seed-locks.toml --scenario
//! specs/scenarios/seed-locks.scenario.toml` (two clients on FRANK1, UK1 and CHIC1, PR locks on
//! four resources, every class) and prints, per class and route, the median grant latency in
//! real ms, the floor, the ratio, and for remote requests the issue's target
//! `1.1 × RTT to the master + 0.5 ms`.
//!
//! Then, from the kept traces, where the time of each remote request goes:
//!
//! * **injected**: the delay the runtime was told to hold each datagram (half the RTT);
//! * **late**: how much later than that each datagram arrived — the tokio timer that holds a
//!   delayed datagram fires on a 1 ms tick, plus the receiver's scheduling;
//! * **client**: control line in → first datagram out, plus last datagram in → completion line
//!   out (TCP on loopback, parsing, the actor step on the requester);
//! * **master**: datagram in → AST out on the master.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Per request class, samples in ms: measured latency, client, injected, late per datagram,
/// master.
type Parts = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One trace record, as much as the breakdown needs.
struct Rec {
    t_us: u64,
    node: usize,
    event: String,
    peer: usize,
    seq: u64,
    hold_us: u64,
    kind: String,
    res: Option<u64>,
    lock: Option<u64>,
}

fn load_traces(dir: &Path) -> Vec<Rec> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("trace dir") {
        let path = entry.expect("entry").path();
        if !path.to_string_lossy().ends_with(".trace.jsonl") {
            continue;
        }
        for line in std::fs::read_to_string(&path).expect("trace").lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let Some((kind, body)) = v["msg"]
                .get("Dlm")
                .and_then(Value::as_object)
                .and_then(|m| m.iter().next())
            else {
                continue;
            };
            out.push(Rec {
                t_us: v["t_us"].as_u64().unwrap_or(0),
                node: v["node"].as_u64().unwrap_or(0) as usize,
                event: v["event"].as_str().unwrap_or("").to_string(),
                peer: v["peer"].as_u64().unwrap_or(0) as usize,
                seq: v["seq"].as_u64().unwrap_or(0),
                hold_us: v["hold_us"].as_u64().unwrap_or(0),
                kind: kind.clone(),
                res: body.get("res").and_then(Value::as_u64),
                lock: body.get("lock").and_then(Value::as_u64),
            });
        }
    }
    out
}

/// Per remote request: (client ms, injected ms, late ms per datagram, master ms, datagrams).
fn breakdown(
    records: &[Rec],
    node: usize,
    res: u64,
    lock: u64,
    issued: u64,
    granted: u64,
) -> Option<(f64, f64, Vec<f64>, f64)> {
    let mine = |r: &&Rec| r.node == node && r.t_us >= issued && r.t_us <= granted;
    let ours = |r: &Rec| match r.kind.as_str() {
        "Lookup" | "Master" => r.res == Some(res),
        "Request" | "Ast" => r.lock == Some(lock),
        _ => false,
    };
    // This request's own datagrams: the first lookup of the resource and the request carrying
    // its lock id out; the first directory answer and the AST for its lock in.
    let first = |event: &str, kind: &str| {
        records
            .iter()
            .filter(mine)
            .find(|r| r.event == event && r.kind == kind && ours(r))
    };
    let outs: Vec<&Rec> = [first("msg_out", "Lookup"), first("msg_out", "Request")]
        .into_iter()
        .flatten()
        .collect();
    let ins: Vec<&Rec> = [first("msg_in", "Master"), first("msg_in", "Ast")]
        .into_iter()
        .flatten()
        .collect();
    let first_out = outs.first()?.t_us;
    let last_in = ins.last()?.t_us;
    let client = (first_out - issued + (granted - last_in)) as f64 / 1000.0;
    let mut injected = 0.0;
    let mut late = Vec::new();
    let mut master = 0.0;
    // Our datagrams out, matched with their arrival; their answers in, matched with their send.
    for o in &outs {
        let arrival = records.iter().find(|r| {
            r.event == "msg_in" && r.node == o.peer && r.peer == node && r.seq == o.seq
        })?;
        injected += o.hold_us as f64 / 1000.0;
        late.push((arrival.t_us - o.t_us) as f64 / 1000.0 - o.hold_us as f64 / 1000.0);
        // The peer's answer to it.
        let answer = records.iter().find(|r| {
            r.event == "msg_out"
                && r.node == o.peer
                && r.peer == node
                && r.t_us >= arrival.t_us
                && ours(r)
        })?;
        master += (answer.t_us - arrival.t_us) as f64 / 1000.0;
    }
    for i in &ins {
        let sent = records.iter().find(|r| {
            r.event == "msg_out" && r.node == i.peer && r.peer == node && r.seq == i.seq
        })?;
        injected += sent.hold_us as f64 / 1000.0;
        late.push((i.t_us - sent.t_us) as f64 / 1000.0 - sent.hold_us as f64 / 1000.0);
    }
    Some((client, injected, late, master))
}

fn run(runs: usize, scale: f64, dir: &Path) -> Value {
    let json = dir.join(format!("locks-{scale}.json"));
    let traces = dir.join(format!("traces-{scale}"));
    let out = Command::new(env!("CARGO_BIN_EXE_vmsc"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "experiment",
            "specs/scenarios/seed-locks.toml",
            "--scenario",
            "specs/scenarios/seed-locks.scenario.toml",
            "--runs",
            &runs.to_string(),
            "--time-scale",
            &scale.to_string(),
            "--json",
            json.to_str().unwrap(),
            "--keep-traces",
            traces.to_str().unwrap(),
        ])
        .output()
        .expect("vmsc experiment runs");
    assert!(
        out.status.success(),
        "vmsc experiment failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("valid");
    report["traces"] = Value::String(traces.display().to_string());
    report
}

fn main() {
    let runs: usize = std::env::var("VMSC_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let dir = std::env::temp_dir().join(format!("vmsc-bench-locks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    println!(
        "seed topology, lock load of specs/scenarios/seed-locks.scenario.toml (FRANK1 UK1 CHIC1 x 2 \
         clients x 20 PR enq/deq), shipped RTTs; real ms, medians"
    );
    for (scale, n) in [(1.0, runs), (20.0, 1)] {
        let report = run(n, scale, &dir);
        let locks = &report["locks"];
        let tp = &locks["throughput"];
        println!(
            "\ntime scale {scale}, {n} run(s): {} grants, {:.1} grants/s real; {} of {} requests \
             not in their predicted class",
            tp["grants"],
            tp["per_s_real"].as_f64().unwrap_or(0.0),
            locks["prediction_mismatches"],
            locks["requests"]
        );
        println!(
            "{:<18} {:<13} {:>6} {:>9} {:>9} {:>7} {:>14} {:>8}",
            "class", "route", "count", "p50 ms", "floor ms", "ratio", "1.1xRTT+0.5", "verdict"
        );
        for c in locks["classes"].as_array().expect("classes") {
            for r in c["routes"].as_array().expect("routes") {
                let p50 = r["real"]["p50"].as_f64().unwrap_or(f64::NAN);
                let floor = r["floor_real"].as_f64().unwrap_or(f64::NAN);
                let (target, verdict) = if c["class"] == "remote" {
                    let t = 1.1 * floor + 0.5;
                    (format!("{t:.2}"), if p50 <= t { "ok" } else { "OVER" })
                } else {
                    ("-".into(), "")
                };
                println!(
                    "{:<18} {:<13} {:>6} {:>9.2} {:>9.2} {:>7} {:>14} {:>8}",
                    c["class"].as_str().unwrap_or("?"),
                    r["route"].as_str().unwrap_or("?"),
                    r["count"],
                    p50,
                    floor,
                    r["ratio_p50"]
                        .as_f64()
                        .map_or("-".into(), |x| format!("{x:.3}")),
                    target,
                    verdict
                );
            }
        }
        // Where the time goes, per class, from the traces of every run.
        let mut names: Vec<String> = locks["load"]["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|r| r["name"].as_str().unwrap_or("").to_string())
            .collect();
        // The cluster file declares exactly these resources; its table is sorted by name.
        names.sort();
        let node_index: HashMap<&str, usize> = ["FRANK1", "FRANK2", "UK1", "CHIC1", "CHIC2"]
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, i))
            .collect();
        let traces = Path::new(report["traces"].as_str().unwrap());
        let mut by_run: HashMap<u64, Vec<Rec>> = HashMap::new();
        let mut parts: HashMap<String, Parts> = HashMap::new();
        for req in locks["per_request"].as_array().expect("per_request") {
            let class = req["class"].as_str().unwrap_or("?").to_string();
            if class == "local" {
                // No datagram: all of it is the client's line and the actor step.
                let ms = req["latency_us"].as_f64().unwrap_or(0.0) / 1000.0 * scale;
                let p = parts.entry(class).or_default();
                p.0.push(ms);
                p.1.push(ms);
                continue;
            }
            let run_no = req["run"].as_u64().unwrap_or(0);
            let records = by_run
                .entry(run_no)
                .or_insert_with(|| load_traces(&traces.join(format!("run-{run_no}"))));
            let res = names
                .iter()
                .position(|n| req["resource"] == n.as_str())
                .unwrap_or(0) as u64;
            let node = node_index[req["node"].as_str().unwrap_or("FRANK1")];
            let Some((client, injected, late, master)) = breakdown(
                records,
                node,
                res,
                req["lock_id"].as_u64().unwrap_or(0),
                req["issued_us"].as_u64().unwrap_or(0),
                req["granted_us"].as_u64().unwrap_or(0),
            ) else {
                continue;
            };
            let measured = req["latency_us"].as_f64().unwrap_or(0.0) / 1000.0;
            let p = parts.entry(class).or_default();
            p.0.push(measured * scale);
            p.1.push(client * scale);
            p.2.push(injected * scale);
            p.3.extend(late.iter().map(|l| l * scale));
            p.4.push(master * scale);
        }
        println!("where the time goes (real ms, medians; late = per datagram):");
        println!(
            "{:<18} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "class", "measured", "client", "injected", "late", "master"
        );
        for class in ["local", "remote", "directory_remote"] {
            if let Some(p) = parts.get(class) {
                let or_zero = |v: &Vec<f64>| if v.is_empty() { 0.0 } else { median(v.clone()) };
                println!(
                    "{:<18} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.3}",
                    class,
                    or_zero(&p.0),
                    or_zero(&p.1),
                    or_zero(&p.2),
                    or_zero(&p.3),
                    or_zero(&p.4)
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
