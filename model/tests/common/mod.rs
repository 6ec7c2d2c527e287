//! Helpers shared by the equivalence tests (`timers.rs`, `messages.rs`): loading a scenario and
//! naming fault plans.
use std::sync::Arc;
use vmsc_model::cluster_model::{Fault, FaultPlan};
use vmsc_model::config::ClusterSpec;

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
