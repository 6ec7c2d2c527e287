//! Helpers shared by the equivalence tests (`timers.rs`, `messages.rs`, `down.rs`): loading a scenario,
//! naming fault plans, and exploring a model with the image of every state.
use std::collections::HashSet;
use std::sync::Arc;
use vmsc_model::cluster_model::{fingerprint, ClusterModel, Fault, FaultPlan, HealMode, State};
use vmsc_model::config::ClusterSpec;
use vmsc_model::explore::{explore, Options};

/// A scenario file of the repository, by its path from the repository root.
pub fn load(f: &str) -> Arc<ClusterSpec> {
    let path = format!("{}/../{f}", env!("CARGO_MANIFEST_DIR"));
    Arc::new(ClusterSpec::load(std::path::Path::new(&path)).unwrap())
}

/// Up to `max` faults of the menu, at any moment (`vmsc check`).
pub fn budget(spec: &ClusterSpec, max: usize) -> FaultPlan {
    FaultPlan::Budget {
        max,
        menu: Fault::menu(spec),
    }
}

/// Exactly these faults, at once (`vmsc whatif`), named as `--fail` names them.
pub fn exact(spec: &ClusterSpec, faults: &[&str]) -> FaultPlan {
    FaultPlan::Exact(
        faults
            .iter()
            .map(|f| Fault::parse(spec, f).unwrap())
            .collect(),
    )
}

/// What one model gives: its states' fingerprints, the fingerprints of their images (through the
/// function given to [`reachable`]), and every property's verdict.
pub struct Explored {
    pub states: HashSet<u64>,
    pub image: HashSet<u64>,
    pub verdicts: Vec<(&'static str, bool)>,
}

/// Every reachable state of `m`, visited once by vmsc's explorer (no reduction), with its image
/// through `f`. Panics if the search stopped short, so that a test cannot pass on a partial
/// search.
pub fn reachable(m: &ClusterModel, f: impl Fn(&State) -> State) -> Explored {
    reachable_seeing(m, f, |_| {})
}

/// [`reachable`], also showing every reachable state to `see`.
pub fn reachable_seeing(
    m: &ClusterModel,
    f: impl Fn(&State) -> State,
    mut see: impl FnMut(&State),
) -> Explored {
    let (mut states, mut image) = (HashSet::new(), HashSet::new());
    let mut visit = |s: &State| {
        states.insert(fingerprint(s));
        image.insert(fingerprint(&f(s)));
        see(s);
    };
    let report = explore(
        m,
        Options {
            states_max: 2_000_000,
            visit: Some(&mut visit),
            visit_only: None,
            fingerprint: Some(fingerprint),
            ..Default::default()
        },
    );
    assert!(report.complete, "stopped after {} states", report.states);
    let verdicts = report
        .properties
        .iter()
        .map(|p| (p.name, p.holds))
        .collect();
    Explored {
        states,
        image,
        verdicts,
    }
}

/// A configuration of an equivalence test: its fault plan, when faults heal, and its label.
pub type Case = (FaultPlan, HealMode, String);

/// Up to `max` faults at any moment (`vmsc check`), healing as `heal` says.
pub fn any_faults(spec: &ClusterSpec, max: usize, heal: HealMode) -> Case {
    (budget(spec, max), heal, format!("{max} faults, {heal:?}"))
}

/// These faults at once, healed once the cluster settled (`vmsc whatif --heal`).
pub fn healed(spec: &ClusterSpec, faults: &[&str]) -> Case {
    (
        exact(spec, faults),
        HealMode::AfterSettle,
        format!("{faults:?} + heal"),
    )
}

/// A reduction of the model compared with its reference on one configuration.
pub struct Comparison {
    /// Unique states of the reference, and of the reduced model.
    pub counts: (usize, usize),
    /// The reduced model's states are exactly the images of the reference's.
    pub same_states: bool,
    /// Every property has the same verdict in both.
    pub same_verdicts: bool,
    /// Every state of the reduced model is its own image: none holds what the reduction removes.
    pub closed: bool,
}

/// Explores `reference` and `reduced` in full, each state with its image through `image` (what
/// the reduction makes of a state of the reference), and compares them.
pub fn compare(
    reference: &ClusterModel,
    reduced: &ClusterModel,
    image: fn(&ClusterModel, &State) -> State,
) -> Comparison {
    let r = reachable(reference, |s| image(reference, s));
    let d = reachable(reduced, |s| image(reduced, s));
    Comparison {
        counts: (r.states.len(), d.states.len()),
        same_states: r.image == d.states,
        same_verdicts: r.verdicts == d.verdicts,
        closed: d.image == d.states,
    }
}

impl Comparison {
    /// Asserts that the reduction is exact on this configuration, with the pinned counts
    /// (reference, reduced).
    pub fn assert_exact(&self, pinned: (usize, usize), label: &str) {
        assert!(
            self.closed,
            "{label}: a reachable state holds what the reduction removes"
        );
        assert!(self.same_states, "{label}: the state sets differ");
        assert!(self.same_verdicts, "{label}: the verdicts differ");
        assert_eq!(self.counts, pinned, "{label}");
    }
}
