//! Development aid: print the shortest path to a `whatif` outcome without a quorate cluster.
//! `cargo run --release -p vmsc-model --example outcome_path -- CLUSTER.toml FAULT...`
use stateright::Model;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use vmsc_model::cluster_model::{fingerprint, Fault};
use vmsc_model::config::ClusterSpec;
use vmsc_model::whatif::{outcome_of, whatif_model, Variant};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let spec = Arc::new(ClusterSpec::load(std::path::Path::new(&a[1])).unwrap());
    let faults = a[2..]
        .iter()
        .map(|f| Fault::parse(&spec, f).unwrap())
        .collect();
    let m = whatif_model(spec, faults, false, Variant::Correct);
    let init = m.init_states().remove(0);
    let mut parent: HashMap<u64, (u64, String)> = HashMap::new();
    let mut q = VecDeque::from([init.clone()]);
    parent.insert(fingerprint(&init), (0, String::new()));
    while let Some(s) = q.pop_front() {
        if m.is_outcome(&s) && outcome_of(&m, &s).members.is_empty() {
            let mut f = fingerprint(&s);
            let mut steps = Vec::new();
            while let Some((p, act)) = parent.get(&f) {
                if act.is_empty() {
                    break;
                }
                steps.push(act.clone());
                f = *p;
            }
            steps.reverse();
            for st in steps {
                println!("{st}");
            }
            for (i, n) in s.actor_states.iter().enumerate() {
                println!("  {i}: {:?} disk={} phase={:?}", n.view, n.disk, n.phase);
            }
            return;
        }
        let mut acts = Vec::new();
        m.actions(&s, &mut acts);
        for act in acts {
            let desc = m.describe_action(&act);
            if let Some(n) = m.next_state(&s, act) {
                let f = fingerprint(&n);
                if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(f) {
                    e.insert((fingerprint(&s), desc));
                    q.push_back(n);
                }
            }
        }
    }
    println!("no hung outcome");
}
