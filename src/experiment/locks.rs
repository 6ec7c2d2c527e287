//! Lock latency under load: each timed `enq` ([`super::load::Sample`]) classified from the requesting
//! node's trace, its floor from the RTT table, and the figures per class.
//!
//! # Classes (from the messages the request took, `model/src/dlm/cluster.rs` `route`)
//!
//! | class | remote messages | trace of the requesting node between request and grant | floor |
//! |---|---|---|---|
//! | `local` | 0 | no `Lookup`, no `Request` to a peer: master (and directory, or a known master) here | 0 (processing only) |
//! | `remote` | 1 | `Request` with `hops = 1` to the master; or only a `Lookup` (the directory is remote, the master is this node) | 1 RTT to that peer |
//! | `directory_remote` | 2 | `Lookup` to the directory, then `Request` with `hops = 2` to the master | RTT to the directory + RTT to the master |
//!
//! The class comes from the trace — the `hops` the model counts in its `Req` and the peers the
//! datagrams went to — not from a guess. Next to it stands the class **predicted** from the
//! layout (master, [`dir_node_weighted`] with every node a member, the `known` NL locks); the two differ
//! when another client of the same node held a lock on the tree at that moment (the node then
//! knew the master, one message instead of two), which the report counts.
//!
//! # Units
//!
//! Latencies are measured on the client's monotonic clock (TCP request line → completion line),
//! in scaled time; real = scaled × time scale. The floor is real (RTTs from the table) and is
//! divided by the time scale for the scaled column; ratios are the same in both.
//!
//! [`dir_node_weighted`]: vmsc_model::dlm::cluster::dir_node_weighted

use std::collections::BTreeMap;

use serde::Serialize;
use vmsc_latency::LatencyHistogram;

use crate::experiment::error::ExperimentError;
use crate::experiment::floor::Timing;
use crate::experiment::load::{LoadSpec, Sample};
use crate::experiment::report::Stat;
use crate::experiment::trace::Record;

/// How a request reached its master.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockClass {
    /// Master on the requesting node, no remote message.
    Local,
    /// One remote message (to the master, or to the directory when the master is local).
    Remote,
    /// Directory lookup and request: two remote messages.
    DirectoryRemote,
}

impl LockClass {
    /// Every class, in table order.
    pub const ALL: [LockClass; 3] = [Self::Local, Self::Remote, Self::DirectoryRemote];

    /// The name in the table and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Remote => "remote",
            Self::DirectoryRemote => "directory_remote",
        }
    }

    /// Remote messages on the way to the master.
    pub fn messages(self) -> u8 {
        match self {
            Self::Local => 0,
            Self::Remote => 1,
            Self::DirectoryRemote => 2,
        }
    }
}

/// One timed request, classified.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LockRun {
    /// 0-based run.
    pub run: usize,
    /// Requesting node.
    pub node: String,
    /// Client number on the node.
    pub client: usize,
    /// Resource name.
    pub resource: String,
    /// Lock id.
    pub lock_id: u32,
    /// The class, from the trace.
    pub class: LockClass,
    /// The class predicted from master/directory/known.
    pub predicted: LockClass,
    /// The peers the request's messages went to, in order (directory, master).
    pub via: Vec<String>,
    /// Route by region: requester, then each peer's region (`FRA>ORD`).
    pub route: String,
    /// When the request line was sent, µs since the run's trace epoch.
    pub issued_us: u64,
    /// When the completion arrived, µs since the trace epoch.
    pub granted_us: u64,
    /// Grant latency, scaled µs.
    pub latency_us: u64,
    /// The floor, real ms.
    pub floor_ms: f64,
}

/// Classifies one sample from the requester's trace records (all nodes' records, sorted).
fn classify(records: &[Record], s: &Sample, res: usize) -> (LockClass, Vec<usize>) {
    let window = records.iter().filter(|r| {
        r.node == s.node && r.t_us >= s.issued_us && r.t_us <= s.granted_us && r.event == "msg_out"
    });
    let mut lookup = None;
    let mut request = None;
    for r in window {
        let Some(d) = &r.dlm else { continue };
        match d.kind.as_str() {
            "Lookup" if d.res == Some(res as u8) && lookup.is_none() => lookup = r.peer,
            "Request" if d.lock == Some(s.lock_id) && request.is_none() => {
                request = r.peer.map(|p| (p, d.hops.unwrap_or(1)))
            }
            _ => {}
        }
    }
    match (lookup, request) {
        (None, None) => (LockClass::Local, vec![]),
        (Some(d), None) => (LockClass::Remote, vec![d]),
        (_, Some((m, hops))) if hops <= 1 => (LockClass::Remote, vec![m]),
        (Some(d), Some((m, _))) => (LockClass::DirectoryRemote, vec![d, m]),
        // Two hops but the lookup fell outside the window (it cannot): count both to the master.
        (None, Some((m, _))) => (LockClass::DirectoryRemote, vec![m, m]),
    }
}

/// The class the layout predicts for a request from `node` on `r` when no other lock of the
/// node is on the tree.
fn predict(load: &LoadSpec, node: usize, r: usize) -> LockClass {
    let res = &load.resources[r];
    let dir = res.directory_index;
    if node == res.master {
        LockClass::Local
    } else if (res.known && load.node_indexes.contains(&node)) || dir == node {
        LockClass::Remote
    } else {
        LockClass::DirectoryRemote
    }
}

/// Classifies one run's samples and computes their floors.
///
/// # Errors
/// [`ExperimentError::Latency`] if the RTT table lacks a pair.
pub fn measure_run(
    timing: &Timing,
    load: &LoadSpec,
    run: usize,
    samples: &[Sample],
    records: &[Record],
) -> Result<Vec<LockRun>, ExperimentError> {
    let spec = &timing.spec;
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        let res = &load.resources[s.resource];
        let (class, via) = classify(records, s, res.index);
        let mut floor_ms = 0.0;
        for &p in &via {
            floor_ms += timing.rtt_ms(s.node, p)?;
        }
        let mut route = spec.nodes[s.node].region.clone();
        for &p in &via {
            route.push('>');
            route.push_str(&spec.nodes[p].region);
        }
        out.push(LockRun {
            run,
            node: spec.nodes[s.node].name.clone(),
            client: s.client,
            resource: res.name.clone(),
            lock_id: s.lock_id,
            class,
            predicted: predict(load, s.node, s.resource),
            via: via.iter().map(|&p| spec.nodes[p].name.clone()).collect(),
            route,
            issued_us: s.issued_us,
            granted_us: s.granted_us,
            latency_us: s.latency_us,
            floor_ms,
        });
    }
    Ok(out)
}

/// Figures for a set of requests (a class, or one route of a class).
#[derive(Clone, Debug, Serialize)]
pub struct LockFigures {
    /// Requests.
    pub count: u64,
    /// Grant latency as measured, scaled ms.
    pub scaled: Stat,
    /// Real ms (scaled × time scale).
    pub real: Stat,
    /// Median floor over the requests, scaled ms.
    pub floor_scaled: f64,
    /// Median floor, real ms.
    pub floor_real: f64,
    /// Median over the requests of measured / floor (`None` when the floor is 0: local).
    pub ratio_p50: Option<f64>,
    /// Smallest measured / floor (below 1 means the floor was beaten).
    pub ratio_min: Option<f64>,
    /// Median of measured − floor, real ms: what the floor does not count (processing, timer
    /// resolution, the client's TCP round trip).
    pub excess_p50_real: f64,
}

/// One route of a class (by region).
#[derive(Clone, Debug, Serialize)]
pub struct LockRoute {
    /// Requester's region, then each peer's (`FRA>LHR>ORD`).
    pub route: String,
    /// The figures.
    #[serde(flatten)]
    pub figures: LockFigures,
}

/// One class over all runs.
#[derive(Clone, Debug, Serialize)]
pub struct LockClassReport {
    /// `local`, `remote`, `directory_remote`.
    pub class: LockClass,
    /// Remote messages on the way to the master (0, 1, 2).
    pub messages: u8,
    /// The figures.
    #[serde(flatten)]
    pub figures: LockFigures,
    /// Per route.
    pub routes: Vec<LockRoute>,
}

/// Grants per second over the load window.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    /// Grants counted (every timed enq, all runs).
    pub grants: u64,
    /// Sum over runs of first request → last grant, scaled ms.
    pub window_ms_scaled: f64,
    /// The same, real ms.
    pub window_ms_real: f64,
    /// Grants per second of scaled time.
    pub per_s_scaled: f64,
    /// Grants per second of real time (scaled / time scale).
    pub per_s_real: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn figures(runs: &[&LockRun], time_scale: f64) -> LockFigures {
    let mut h = LatencyHistogram::new();
    let mut ratios = LatencyHistogram::new();
    let mut excess = Vec::with_capacity(runs.len());
    for r in runs {
        h.record_us(r.latency_us);
        let measured_real_ms = r.latency_us as f64 / 1000.0 * time_scale;
        if r.floor_ms > 0.0 {
            ratios.record_us((measured_real_ms / r.floor_ms * 1000.0).round() as u64);
        }
        excess.push(measured_real_ms - r.floor_ms);
    }
    let floor_real = median(runs.iter().map(|r| r.floor_ms).collect());
    let ratio = (!ratios.is_empty()).then(|| ratios.summary());
    LockFigures {
        count: h.len(),
        scaled: Stat::of(&h, 1000.0, 1.0),
        real: Stat::of(&h, 1000.0, time_scale),
        floor_scaled: floor_real / time_scale,
        floor_real,
        ratio_p50: ratio.map(|r| r.p50_us as f64 / 1000.0),
        ratio_min: ratio.map(|r| r.min_us as f64 / 1000.0),
        excess_p50_real: median(excess),
    }
}

/// Per class (only classes that occurred), with routes.
pub fn aggregate(runs: &[LockRun], time_scale: f64) -> Vec<LockClassReport> {
    let mut out = Vec::new();
    for class in LockClass::ALL {
        let of: Vec<&LockRun> = runs.iter().filter(|r| r.class == class).collect();
        if of.is_empty() {
            continue;
        }
        let mut by_route: BTreeMap<&str, Vec<&LockRun>> = BTreeMap::new();
        for r in &of {
            by_route.entry(r.route.as_str()).or_default().push(r);
        }
        out.push(LockClassReport {
            class,
            messages: class.messages(),
            figures: figures(&of, time_scale),
            routes: by_route
                .into_iter()
                .map(|(route, rs)| LockRoute {
                    route: route.to_string(),
                    figures: figures(&rs, time_scale),
                })
                .collect(),
        });
    }
    out
}

/// Throughput from every run's samples (`windows`: per run, first issue → last grant, scaled µs).
pub fn throughput(grants: u64, windows_us: &[u64], time_scale: f64) -> Throughput {
    let window_ms_scaled = windows_us.iter().sum::<u64>() as f64 / 1000.0;
    let per_s_scaled = if window_ms_scaled > 0.0 {
        grants as f64 / (window_ms_scaled / 1000.0)
    } else {
        0.0
    };
    Throughput {
        grants,
        window_ms_scaled,
        window_ms_real: window_ms_scaled * time_scale,
        per_s_scaled,
        per_s_real: per_s_scaled / time_scale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::trace::DlmTrace;

    fn out(
        t_us: u64,
        node: usize,
        peer: usize,
        kind: &str,
        res: u8,
        lock: Option<u32>,
        hops: Option<u8>,
    ) -> Record {
        Record {
            t_us,
            node,
            nonce: 1,
            event: "msg_out".into(),
            peer: Some(peer),
            msg: Some("Dlm".into()),
            status: None,
            dlm: Some(DlmTrace {
                kind: kind.into(),
                res: Some(res),
                lock,
                hops,
            }),
        }
    }

    fn sample(node: usize, lock_id: u32) -> Sample {
        Sample {
            node,
            client: 0,
            resource: 0,
            lock_id,
            issued_us: 100,
            granted_us: 200,
            latency_us: 100,
        }
    }

    #[test]
    fn classes_come_from_the_trace() {
        let records = vec![
            out(110, 3, 2, "Lookup", 1, None, None),
            out(150, 3, 0, "Request", 1, Some(7), Some(2)),
            out(120, 4, 0, "Request", 1, Some(8), Some(1)),
            out(130, 1, 2, "Lookup", 1, None, None),
            // Another node's and another lock's traffic, and one outside the window.
            out(140, 0, 3, "Request", 1, Some(9), Some(1)),
            out(250, 2, 0, "Request", 1, Some(10), Some(1)),
        ];
        assert_eq!(
            classify(&records, &sample(3, 7), 1),
            (LockClass::DirectoryRemote, vec![2, 0])
        );
        assert_eq!(
            classify(&records, &sample(4, 8), 1),
            (LockClass::Remote, vec![0])
        );
        assert_eq!(
            classify(&records, &sample(1, 11), 1),
            (LockClass::Remote, vec![2])
        );
        assert_eq!(
            classify(&records, &sample(0, 12), 1),
            (LockClass::Local, vec![])
        );
        assert_eq!(
            classify(&records, &sample(2, 10), 1),
            (LockClass::Local, vec![])
        );
    }

    #[test]
    fn throughput_in_scaled_and_real_terms() {
        let t = throughput(200, &[1_000_000, 1_000_000], 4.0);
        assert_eq!(t.per_s_scaled, 100.0);
        assert_eq!(t.per_s_real, 25.0);
        assert_eq!(t.window_ms_real, 8000.0);
    }
}
