//! `whatif` and `check`: the questions users ask the model, answered by exhaustive exploration.
//!
//! An **outcome** is a settled state reached after the faults (and, with heal, after the heal):
//! no transition running or due, nothing in flight, nothing left to happen but heartbeats. The
//! outcomes come from the explorer visiting every reachable state — never from a formula.

use crate::checker::Checker;
pub use crate::cluster_model::Reboots;
use crate::cluster_model::{Action, CheckConfig, ClusterModel, Fault, FaultPlan, HealMode, State};
use crate::config::ClusterSpec;
use crate::explore::{self, Options, Report};
use crate::node::ProtocolOptions;
use crate::nodeset::NodeSet;
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

/// Whether `whatif` repairs the faults once the cluster has settled, and when the nodes that
/// then take a CLUEXIT reboot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Heal {
    /// No repair: the outcomes are those of the faults alone.
    #[default]
    No,
    /// Once the faults have struck and the cluster has settled, every link is restored and
    /// every crashed node rebooted, in one step; a node that then takes a CLUEXIT reboots once,
    /// when [`Reboots`] says (`vmsc whatif --heal [--reboot settled|anytime]`).
    Yes(Reboots),
}

impl Heal {
    /// Whether anything is repaired.
    pub fn heals(self) -> bool {
        self != Heal::No
    }

    /// The reboot timing, if anything is repaired.
    pub fn reboots(self) -> Option<Reboots> {
        match self {
            Heal::No => None,
            Heal::Yes(r) => Some(r),
        }
    }
}

/// `true` heals with the default reboot timing ([`Reboots::Settled`]).
impl From<bool> for Heal {
    fn from(heal: bool) -> Heal {
        if heal {
            Heal::Yes(Reboots::default())
        } else {
            Heal::No
        }
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
            timers: cfg.protocol.timers,
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
    /// With `--heal`: when the nodes that took a CLUEXIT rebooted (`settled`, `anytime`; see
    /// [`Reboots`]). Absent without heal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reboot: Option<&'static str>,
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
    heal: impl Into<Heal>,
    variant: Variant,
) -> ClusterModel {
    let heal = heal.into();
    let mode = if heal.heals() {
        HealMode::AfterSettle
    } else {
        HealMode::Never
    };
    let mut cfg = CheckConfig::new(FaultPlan::Exact(faults), mode);
    cfg.reboots = heal.reboots().unwrap_or_default();
    variant.configure(&mut cfg);
    ClusterModel::new(spec, cfg)
}

/// Explores the consequences of `faults` hitting the formed cluster.
pub fn whatif(
    spec: Arc<ClusterSpec>,
    faults: Vec<Fault>,
    heal: impl Into<Heal>,
    variant: Variant,
    limits: Limits,
    progress: Option<&mut dyn FnMut(usize, usize, Duration)>,
) -> WhatIf {
    whatif_on(&whatif_model(spec, faults, heal, variant), limits, progress)
}

/// [`whatif`] on a model [`whatif_model`] built, which the caller may have changed since (its
/// lock-manager variant, say).
pub fn whatif_on(
    m: &ClusterModel,
    limits: Limits,
    progress: Option<&mut dyn FnMut(usize, usize, Duration)>,
) -> WhatIf {
    let mut outcomes = BTreeSet::new();
    let settled = |s: &State| m.is_outcome(s);
    let mut visit = |s: &State| {
        outcomes.insert(outcome_of(m, s));
    };
    let (report, _) = crate::checker::run_threads(
        m,
        limits.checker,
        Options {
            strategy: explore::Strategy::Dfs,
            states_max: limits.states_max,
            deadline: limits.timeout.map(|t| Instant::now() + t),
            progress,
            visit: Some(&mut visit),
            visit_only: Some(&settled),
            fingerprint: Some(crate::cluster_model::fingerprint),
            stop_when_found: false,
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
        reboot: (m.cfg.heal == HealMode::AfterSettle).then(|| m.cfg.reboots.name()),
        complete: report.complete,
        states: report.states,
        violations,
        outcomes: outcomes.into_iter().collect(),
        report: Some(report),
    }
}

/// What a `whatif` without heal depends on, up to bookkeeping that cannot influence it: two
/// fault sets with equal keys have the same outcomes, violations, completeness and state count,
/// so `vmsc plan` explores one of them and reuses its answer for the other.
///
/// **The key.** The model applies the whole fault set in one step ([`FaultPlan::Exact`]) from the
/// formed cluster. The key is the state right after that step, *normalised*: for every node that
/// is down in it (crashed by the faults, or crashed by a CLUEXIT the faults caused in that same
/// step), its actor state, storage and timers are replaced by fixed values, its row and column of
/// `Env::cut` are cleared, and so are its `removed` and `clean` entries; `Env::applied` (which
/// fault of the menu is which) is cleared. The key also holds the names of the properties, which
/// depend on the fault set (a quorum hang is listed only if one is possible).
///
/// **Why equal keys give equal answers.** Without heal no step ever brings a node back up: the
/// only ways out of `Env::down` are `Heal`, `HealAll` and `Reboot`, which [`HealMode::Never`] never
/// enables, so a node down after the fault step stays down in every reachable state. A down node
/// then influences nothing: its deliveries and timeouts are not enabled (`actions` keeps only live
/// actors), flows to and from it are purged after every step and `deliver_env` drops messages to
/// it, `crash` returns at once for it, `record_history` only reads nodes whose state changed (a
/// down node's never does) and writes `removed` only for live ones, a cut touching it is read only
/// through `connected`, which is false for it anyway, and every property and [`outcome_of`] read a
/// node's state or cut only through `alive`/`active`. The applied-fault bits are read, in an exact
/// plan, only as "none applied" (before the fault step) and "all applied" (after it). The
/// remaining place, `within_boundary`, reads every node's transition number; the dead nodes'
/// part is constant, so the key requires it to hold in the post-fault state. Hence the map that
/// normalises a state is a bijection between the states reachable in the two models after the
/// fault step that preserves actions (in the same order), successors, properties and outcomes,
/// and the initial state is the same. The lock manager's ghosts *do* read departed nodes' lock
/// tables, so clusters with lock clients get no key, nor do heals, a protocol variant without the
/// timing assumption (late notices of a down node's failure stay in the state) or a model whose
/// initial state allows any step besides the fault step. `None` means "explore it".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReuseKey {
    state: State,
    properties: Vec<&'static str>,
}

/// The [`ReuseKey`] of `whatif(spec, faults, heal, variant, ..)`, or `None` if the reuse argument
/// does not apply to it.
pub fn reuse_key(
    spec: Arc<ClusterSpec>,
    faults: Vec<Fault>,
    heal: impl Into<Heal>,
    variant: Variant,
) -> Option<ReuseKey> {
    use stateright::Model;
    let heal = heal.into();
    if heal.heals() || faults.is_empty() || !spec.clients.is_empty() {
        return None;
    }
    let m = whatif_model(spec, faults, heal, variant);
    if !m.cfg.timing_assumption {
        return None;
    }
    let init = match m.init_states().as_slice() {
        [one] => one.clone(),
        _ => return None,
    };
    let mut enabled = Vec::new();
    m.actions(&init, &mut enabled);
    if enabled != [Action::FaultSet] {
        return None;
    }
    let mut s = m.next_state(&init, Action::FaultSet)?;
    if !m.within_boundary(&s) || !s.history.late.is_empty() {
        return None;
    }
    let down = s.history.down;
    for d in down.iter() {
        s.actor_states[d] = init.actor_states[d].clone();
        s.actor_storages[d] = None;
        s.timers_set[d].cancel_all();
        s.history.timers[d] = 0;
        s.history.cut[d] = NodeSet::EMPTY;
        s.history.removed[d] = None;
        s.history.clean.remove(d);
    }
    for row in &mut s.history.cut {
        *row = row.minus(down);
    }
    s.history.applied = 0;
    Some(ReuseKey {
        state: s,
        properties: m.properties().iter().map(|p| p.name).collect(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(faults: &[&str], heal: bool, variant: Variant) -> Option<ReuseKey> {
        let spec = Arc::new(ClusterSpec::seed());
        let faults = faults
            .iter()
            .map(|f| Fault::parse(&spec, f).unwrap())
            .collect();
        reuse_key(spec, faults, heal, variant)
    }

    #[test]
    fn a_cut_that_only_isolates_a_crashed_node_does_not_change_the_key() {
        let uk1 = key(&["node:UK1"], false, Variant::Correct).unwrap();
        let cut = key(&["link:FRA-LHR", "node:UK1"], false, Variant::Correct).unwrap();
        assert_eq!(uk1, cut);
        // FRANK2 still sits behind the cut: a different cluster.
        let frank1 = key(&["node:FRANK1"], false, Variant::Correct).unwrap();
        let cut = key(&["link:FRA-LHR", "node:FRANK1"], false, Variant::Correct).unwrap();
        assert_ne!(frank1, cut);
        assert_ne!(uk1, frank1);
    }

    #[test]
    fn no_key_where_the_argument_does_not_hold() {
        assert!(key(&["node:UK1"], true, Variant::Correct).is_none());
        assert!(key(&["node:UK1"], false, Variant::NoTimingAssumption).is_none());
        assert!(key(&[], false, Variant::Correct).is_none());
        let spec = Arc::new(
            ClusterSpec::load(std::path::Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../specs/scenarios/dlm-three-nodes.toml"
            )))
            .unwrap(),
        );
        let f = vec![Fault::Crash(0)];
        assert!(reuse_key(spec, f, false, Variant::Correct).is_none());
    }
}
