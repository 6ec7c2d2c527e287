//! From one run's traces to the figures of each episode.
//!
//! # Episodes
//!
//! The scenario's steps are grouped into **episodes**: a step that starts less than one
//! (scaled) hello interval after the previous one belongs to the same episode, since the failure
//! detector cannot tell them apart (`at_ms = 0` right after an `after = "settled"` step, as in
//! `seed-both-fra.scenario.toml`). An episode with a cut or a crash is a **fault**; one with only
//! heals or reboots is a **heal**. Each episode ends where the next one starts (or at the end of
//! the run, which `vmsc run` ends only once the cluster has settled).
//!
//! # What is measured (all from the nodes' traces, which share one clock)
//!
//! * `fault`: the first `fault` or `crash` record at or after the step started.
//! * `detection`: first `circuit_down` (fault) or `circuit_up` (heal) between nodes the episode's
//!   steps touch, minus `fault`.
//! * The **survivors** are the nodes active at the end of the episode, in the view most active
//!   nodes hold then (`V`). **Joiners** are survivors that were not active when the episode started.
//! * `transition`: the last survivor's first `status` record holding `V`, minus `fault`: every
//!   survivor has committed the new membership; after a heal, every joiner is a member again.
//! * `resumed`: the same until every survivor is active in `V` (released).
//! * `overhead = transition − detection`, also in units of the slowest RTT among the survivors.
//! * `wait`: first `Propose` sent after detection, minus detection (RECNXINTERVAL, or after a
//!   heal the join delay and any reboot); `protocol`: `transition` from that proposal — the
//!   state transition itself, collisions and retries included.

use std::collections::BTreeMap;

use serde::Serialize;
use vmsc_runtime::cluster::launch::StepTime;
use vmsc_runtime::cluster::scenario::{Action, Scenario};

use crate::experiment::error::ExperimentError;
use crate::experiment::floor::{self, Floor, HealShape, Timing};
use crate::experiment::trace::{Record, TraceView};

/// What kind of episode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A cut or a crash: survivors reconfigure without the lost nodes.
    Fault,
    /// Only heals and reboots: removed nodes rejoin.
    Heal,
}

/// One episode of one run.
#[derive(Clone, Debug, Serialize)]
pub struct EpisodeRun {
    /// Index (in the scenario file) of the episode's first step.
    pub first_step: usize,
    /// The steps in words, e.g. `cut link FRA-LHR + cut link FRA-ORD`.
    pub label: String,
    /// Fault or heal.
    pub kind: Kind,
    /// Nodes active in the final view at the end of the episode.
    pub survivors: Vec<String>,
    /// Survivors that were not active at the start of the episode.
    pub joiners: Vec<String>,
    /// Nodes that took a CLUEXIT during the episode.
    pub cluexit: Vec<String>,
    /// The slowest pair among the survivors and its RTT (real ms).
    pub slowest_rtt: Option<(String, String, f64)>,
    /// When the fault hit, µs on the run's clock (scaled).
    pub fault_us: u64,
    /// Detection, µs after the fault (scaled).
    pub detection_us: Option<u64>,
    /// First proposal, µs after detection (scaled).
    pub wait_us: Option<u64>,
    /// Every survivor installed `V`, µs after the fault (scaled).
    pub transition_us: Option<u64>,
    /// Every survivor active in `V`, µs after the fault (scaled).
    pub resumed_us: Option<u64>,
    /// Proposal rounds sent between the fault and the end of the transition (a round = one
    /// coordinator's `Propose` messages at one instant).
    pub proposals: u32,
    /// `Abort` messages sent in that time (collisions, refused rounds).
    pub aborts: u32,
    /// The predicted floor (real ms), when the episode had survivors.
    pub floor: Option<Floor>,
}

impl EpisodeRun {
    /// `transition − detection`, scaled µs.
    pub fn overhead_us(&self) -> Option<u64> {
        Some(self.transition_us?.saturating_sub(self.detection_us?))
    }

    /// `transition` from the first proposal, scaled µs.
    pub fn protocol_us(&self) -> Option<u64> {
        Some(
            self.transition_us?
                .saturating_sub(self.detection_us? + self.wait_us?),
        )
    }
}

/// A group of steps applied together.
struct Group {
    first: usize,
    steps: Vec<usize>,
    t_us: u64,
}

/// Groups the steps that ran into episodes (see the module doc).
fn groups(step_times: &[StepTime], hello_us: u64) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    let mut last = None;
    for st in step_times {
        match (out.last_mut(), last) {
            (Some(g), Some(prev)) if st.t_us.saturating_sub(prev) < hello_us => {
                g.steps.push(st.index)
            }
            _ => out.push(Group {
                first: st.index,
                steps: vec![st.index],
                t_us: st.t_us,
            }),
        }
        last = Some(st.t_us);
    }
    out
}

/// Per node: the view it holds and whether it is up and active, from its records before `t`.
#[derive(Clone, Debug, Default)]
struct NodeAt {
    view: Option<TraceView>,
    active: bool,
    down: bool,
}

fn state_at(records: &[Record], nodes: usize, t: u64) -> Vec<NodeAt> {
    let mut out = vec![NodeAt::default(); nodes];
    for r in records.iter().take_while(|r| r.t_us < t) {
        let Some(n) = out.get_mut(r.node) else {
            continue;
        };
        match r.event.as_str() {
            "status" => {
                if let Some(s) = &r.status {
                    n.view = s.view.clone();
                    n.active = s.active && s.cluexit.is_none();
                    n.down = s.cluexit.is_some();
                }
            }
            "crash" | "halt" => {
                n.active = false;
                n.down = true;
            }
            "start" => n.down = false,
            _ => {}
        }
    }
    out
}

/// Measures every episode of one run. `records` are every node's trace records, sorted by time.
///
/// # Errors
/// [`ExperimentError::Latency`] if the RTT table lacks a pair the floor needs.
pub fn measure_run(
    timing: &Timing,
    scenario: &Scenario,
    step_times: &[StepTime],
    records: &[Record],
) -> Result<Vec<EpisodeRun>, ExperimentError> {
    let spec = &timing.spec;
    let n = spec.len();
    let name = |i: usize| spec.nodes[i].name.clone();
    let hello_us = (spec.hello_interval_ms as f64 * 1000.0 / timing.time_scale) as u64;
    let groups = groups(step_times, hello_us);
    let mut out = Vec::with_capacity(groups.len());
    for (gi, g) in groups.iter().enumerate() {
        let end = groups.get(gi + 1).map_or(u64::MAX, |next| next.t_us);
        let actions: Vec<&Action> = g
            .steps
            .iter()
            .filter_map(|&i| scenario.steps.iter().find(|s| s.index == i))
            .map(|s| &s.action)
            .collect();
        let kind = if actions
            .iter()
            .any(|a| matches!(a, Action::Cut { .. } | Action::Crash { .. }))
        {
            Kind::Fault
        } else {
            Kind::Heal
        };
        let label = actions
            .iter()
            .map(|a| a.describe(spec))
            .collect::<Vec<_>>()
            .join(" + ");
        // Node pairs the steps touch (unordered), for detection.
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for a in &actions {
            match a {
                Action::Cut { link, .. } | Action::Heal { link } => pairs.extend(&link.pairs),
                Action::Crash { node } | Action::Reboot { node } => {
                    pairs.extend((0..n).filter(|&p| p != *node).map(|p| (*node, p)))
                }
            }
        }
        let touches = |a: usize, b: usize| {
            pairs
                .iter()
                .any(|&(x, y)| (x, y) == (a, b) || (y, x) == (a, b))
        };
        let window = || records.iter().filter(|r| r.t_us >= g.t_us && r.t_us < end);
        let fault_us = window()
            .find(|r| r.event == "fault" || r.event == "crash")
            .map_or(g.t_us, |r| r.t_us);
        let detect_event = if kind == Kind::Fault {
            "circuit_down"
        } else {
            "circuit_up"
        };
        let detect_at = window()
            .filter(|r| r.t_us >= fault_us && r.event == detect_event)
            .find(|r| r.peer.is_some_and(|p| touches(r.node, p)))
            .map(|r| r.t_us);

        // The view most active nodes hold at the end, and the nodes active in it.
        let before = state_at(records, n, fault_us);
        let after = state_at(records, n, end);
        let mut views: BTreeMap<(u32, Vec<String>), Vec<usize>> = BTreeMap::new();
        for (i, s) in after.iter().enumerate() {
            if let (true, false, Some(v)) = (s.active, s.down, &s.view) {
                views.entry((v.seq, v.members.clone())).or_default().push(i);
            }
        }
        let final_view = views
            .iter()
            .max_by_key(|(k, v)| (v.len(), k.0))
            .map(|(k, v)| (k.clone(), v.clone()));
        let (survivors, vkey) = match final_view {
            Some((k, v)) => (v, Some(k)),
            None => (Vec::new(), None),
        };
        let joiners: Vec<usize> = survivors
            .iter()
            .copied()
            .filter(|&i| !before[i].active)
            .collect();
        let mut cluexit: Vec<usize> = window()
            .filter(|r| r.status.as_ref().is_some_and(|s| s.cluexit.is_some()))
            .map(|r| r.node)
            .collect();
        cluexit.sort_unstable();
        cluexit.dedup();

        // When each survivor first held V (and was active in it) after the fault.
        let holds = |r: &Record, need_active: bool| {
            r.status.as_ref().is_some_and(|s| {
                s.view.as_ref().is_some_and(|v| {
                    vkey.as_ref()
                        .is_some_and(|k| v.seq == k.0 && v.members == k.1)
                }) && (!need_active || s.active)
            })
        };
        let mut installed: Option<u64> = Some(0);
        let mut active: Option<u64> = Some(0);
        for &s in &survivors {
            let first = |need_active: bool| {
                window()
                    .filter(|r| r.t_us >= fault_us && r.node == s && r.event == "status")
                    .find(|r| holds(r, need_active))
                    .map(|r| r.t_us)
            };
            installed = installed.zip(first(false)).map(|(a, b)| a.max(b));
            active = active.zip(first(true)).map(|(a, b)| a.max(b));
        }
        if survivors.is_empty() {
            installed = None;
            active = None;
        }
        let start_at = detect_at.and_then(|d| {
            window()
                .filter(|r| {
                    r.t_us >= d && r.event == "msg_out" && r.msg.as_deref() == Some("Propose")
                })
                .map(|r| r.t_us)
                .next()
        });
        let until = installed.unwrap_or(end);
        let mut rounds: Vec<(usize, u64)> = window()
            .filter(|r| r.t_us >= fault_us && r.t_us <= until && r.event == "msg_out")
            .filter(|r| r.msg.as_deref() == Some("Propose"))
            .map(|r| (r.node, r.t_us))
            .collect();
        rounds.dedup();
        let aborts = window()
            .filter(|r| r.t_us >= fault_us && r.t_us <= until && r.event == "msg_out")
            .filter(|r| r.msg.as_deref() == Some("Abort"))
            .count();

        let floor = if survivors.is_empty() || installed.is_none() {
            None
        } else if kind == Kind::Fault {
            Some(floor::after_fault(timing, &survivors)?)
        } else {
            let exit_on_heal = joiners.iter().any(|j| cluexit.contains(j));
            Some(floor::after_heal(
                timing,
                &HealShape {
                    members: &survivors,
                    joiners: &joiners,
                    exit_on_heal,
                    healed: &pairs,
                },
            )?)
        };
        let slowest = timing
            .slowest_pair(&survivors)?
            .map(|(a, b, rtt)| (name(a), name(b), rtt));
        out.push(EpisodeRun {
            first_step: g.first,
            label,
            kind,
            survivors: survivors.iter().map(|&i| name(i)).collect(),
            joiners: joiners.iter().map(|&i| name(i)).collect(),
            cluexit: cluexit.iter().map(|&i| name(i)).collect(),
            slowest_rtt: slowest,
            fault_us,
            detection_us: detect_at.map(|d| d - fault_us),
            wait_us: detect_at.zip(start_at).map(|(d, s)| s - d),
            transition_us: installed.map(|t| t - fault_us),
            resumed_us: active.map(|t| t - fault_us),
            proposals: rounds.len() as u32,
            aborts: aborts as u32,
            floor,
        });
    }
    Ok(out)
}
