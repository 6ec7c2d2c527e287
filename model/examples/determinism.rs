//! Development aid: is the successor function deterministic? Explores depth-first, then recomputes
//! every visited state's successors and reports any that the exploration did not visit.
use stateright::Model;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use vmsc_model::config::ClusterSpec;
use vmsc_model::explore::{explore, Options, Strategy};
use vmsc_model::whatif::{check_model, Variant};

fn fp(t: &vmsc_model::cluster_model::State) -> u64 {
    let _ = std::collections::hash_map::DefaultHasher::new;
    vmsc_model::cluster_model::fingerprint(t)
}
#[allow(dead_code)]
fn fp_hash<T: Hash>(t: &T) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let spec = Arc::new(ClusterSpec::load(std::path::Path::new(&a[1])).unwrap());
    let m = check_model(
        spec,
        a[2].parse().unwrap(),
        a[3] == "heal",
        Variant::Correct,
    );
    let mut seen: HashMap<u64, vmsc_model::cluster_model::State> = HashMap::new();
    let mut visit = |s: &vmsc_model::cluster_model::State| {
        seen.insert(fp(s), s.clone());
    };
    let strategy = if a[4] == "dfs" {
        Strategy::Dfs
    } else {
        Strategy::Bfs
    };
    let r = explore(
        &m,
        Options {
            strategy,
            visit: Some(&mut visit),
            visit_only: None,
            fingerprint: Some(vmsc_model::cluster_model::fingerprint),
            ..Default::default()
        },
    );
    println!("states {} (visited {})", r.states, seen.len());
    let keys: HashSet<u64> = seen.keys().copied().collect();
    let mut bad = 0;
    for s in seen.values() {
        let mut acts = Vec::new();
        m.actions(s, &mut acts);
        for act in acts {
            if let Some(n) = m.next_state(s, act.clone()) {
                if m.within_boundary(&n) && !keys.contains(&fp(&n)) {
                    bad += 1;
                    if bad == 1 {
                        println!("missing successor via {}", m.describe_action(&act));
                        println!("FROM {:?}\nTO {:?}", s, n);
                    }
                }
            }
        }
    }
    println!("missing successors: {bad}");
}
