//! Helpers shared by the equivalence tests (`timers.rs`, `messages.rs`): loading a scenario,
//! naming fault plans, and exploring a model with the image of every state.
use std::collections::HashSet;
use std::sync::Arc;
use vmsc_model::cluster_model::{fingerprint, ClusterModel, Fault, FaultPlan, State};
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
    let (mut states, mut image) = (HashSet::new(), HashSet::new());
    let mut visit = |s: &State| {
        states.insert(fingerprint(s));
        image.insert(fingerprint(&f(s)));
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
