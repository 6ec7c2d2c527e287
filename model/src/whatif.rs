//! `whatif` and `check`: the questions users ask the model, answered by exhaustive exploration.
//!
//! An **outcome** is a settled state reached after the faults (and, with heal, after the heal):
//! no transition running or due, nothing in flight, nothing left to happen but heartbeats. The
//! outcomes come from the explorer visiting every reachable state — never from a formula.

use crate::checker::Checker;
use crate::cluster_model::{CheckConfig, ClusterModel, Fault, FaultPlan, HealMode, State};
use crate::config::ClusterSpec;
use crate::explore::{self, Options, Report};
use crate::node::ProtocolOptions;
use crate::quorum::QuorumRule;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One settled outcome, in the JSON shape of the `whatif` contract.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Outcome {
    /// The quorate cluster's nodes (empty if no cluster has quorum).
    pub members: Vec<String>,
    /// Nodes alive but not in a quorate cluster.
    pub hung: Vec<String>,
    /// Nodes that took a CLUEXIT at any point.
    pub cluexit: Vec<String>,
    /// Nodes crashed by a fault and not rebooted.
    pub down: Vec<String>,
}

/// The outcome a settled state represents.
pub fn outcome_of(m: &ClusterModel, s: &State) -> Outcome {
    let n = m.spec.len();
    let name = |i: usize| m.spec.nodes[i].name.clone();
    let sorted = |it: &mut dyn Iterator<Item = usize>| {
        let mut v: Vec<String> = it.map(name).collect();
        v.sort();
        v
    };
    Outcome {
        members: sorted(&mut (0..n).filter(|&i| m.active(s, i))),
        hung: sorted(&mut (0..n).filter(|&i| m.alive(s, i) && !m.active(s, i))),
        cluexit: sorted(&mut s.history.cluexit.iter()),
        down: sorted(&mut s.history.fault_down.iter()),
    }
}

/// Which protocol to check: the correct one, or a negative control.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// The protocol as specified.
    #[default]
    Correct,
    /// Negative control: quorum = floor(E/2).
    HalfQuorum,
    /// Negative control: corosync's two_node shortcut (quorum 1) with no fencing.
    TwoNode,
    /// Negative control: circuit failures reach the far end late (no timing assumption).
    NoTimingAssumption,
}

impl Variant {
    /// Every variant, for `--variant` parsing and docs.
    pub const ALL: [(&'static str, Variant); 4] = [
        ("correct", Variant::Correct),
        ("half-quorum", Variant::HalfQuorum),
        ("two-node", Variant::TwoNode),
        ("no-timing-assumption", Variant::NoTimingAssumption),
    ];

    /// Applies the variant to a check configuration.
    pub fn configure(self, cfg: &mut CheckConfig) {
        cfg.protocol = ProtocolOptions {
            start_formed: true,
            dlm: cfg.protocol.dlm,
            quorum_rule: match self {
                Variant::HalfQuorum => QuorumRule::Half,
                Variant::TwoNode => QuorumRule::TwoNode,
                _ => QuorumRule::Vms,
            },
        };
        cfg.timing_assumption = self != Variant::NoTimingAssumption;
    }
}

/// Limits for one run, and the checker that runs it.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most unique states.
    pub states_max: usize,
    /// Wall-time budget.
    pub timeout: Option<Duration>,
    /// The search.
    pub checker: Checker,
    /// Workers of vmsc's explorer (1: sequential and deterministic; see [`crate::parallel`]).
    pub threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            states_max: 50_000_000,
            timeout: None,
            checker: Checker::Reduced,
            threads: 1,
        }
    }
}

/// The answer to `whatif`.
#[derive(Clone, Debug, Serialize)]
pub struct WhatIf {
    /// The checker that answered (`reduced`, `explorer`, `stateright-bfs`, `stateright-dfs`).
    pub checker: &'static str,
    /// Every reachable state was explored.
    pub complete: bool,
    /// Unique states explored.
    pub states: usize,
    /// Names of the always-properties violated.
    pub violations: Vec<String>,
    /// The distinct outcomes, sorted.
    pub outcomes: Vec<Outcome>,
    #[serde(skip)]
    /// The exploration report (property paths, timing).
    pub report: Option<Report>,
}

/// Builds the model for `whatif`.
pub fn whatif_model(
    spec: Arc<ClusterSpec>,
    faults: Vec<Fault>,
    heal: bool,
    variant: Variant,
) -> ClusterModel {
    let mode = if heal {
        HealMode::AfterSettle
    } else {
        HealMode::Never
    };
    let mut cfg = CheckConfig::new(FaultPlan::Exact(faults), mode);
    variant.configure(&mut cfg);
    ClusterModel::new(spec, cfg)
}

/// Explores the consequences of `faults` hitting the formed cluster.
pub fn whatif(
    spec: Arc<ClusterSpec>,
    faults: Vec<Fault>,
    heal: bool,
    variant: Variant,
    limits: Limits,
    progress: Option<&mut dyn FnMut(usize, usize, Duration)>,
) -> WhatIf {
    let m = whatif_model(spec, faults, heal, variant);
    let mut outcomes = BTreeSet::new();
    let mut visit = |s: &State| {
        if m.is_outcome(s) {
            outcomes.insert(outcome_of(&m, s));
        }
    };
    let (report, _) = crate::checker::run_threads(
        &m,
        limits.checker,
        Options {
            strategy: explore::Strategy::Dfs,
            states_max: limits.states_max,
            deadline: limits.timeout.map(|t| Instant::now() + t),
            progress,
            visit: Some(&mut visit),
            fingerprint: Some(crate::cluster_model::fingerprint),
        },
        limits.threads,
    );
    let violations = report
        .properties
        .iter()
        .filter(|p| p.expectation == stateright::Expectation::Always && !p.holds)
        .map(|p| p.name.to_string())
        .collect();
    WhatIf {
        checker: limits.checker.name(),
        complete: report.complete,
        states: report.states,
        violations,
        outcomes: outcomes.into_iter().collect(),
        report: Some(report),
    }
}

/// Builds the model for `check`.
pub fn check_model(
    spec: Arc<ClusterSpec>,
    max_faults: usize,
    heal: bool,
    variant: Variant,
) -> ClusterModel {
    let menu = Fault::menu(&spec);
    let mode = if heal {
        HealMode::Anytime
    } else {
        HealMode::Never
    };
    let mut cfg = CheckConfig::new(
        FaultPlan::Budget {
            max: max_faults,
            menu,
        },
        mode,
    );
    variant.configure(&mut cfg);
    ClusterModel::new(spec, cfg)
}
