//! Diagnostics: where do the states of a check come from? (development aid)
use std::collections::BTreeMap;
use std::sync::Arc;
use vmsc_model::config::ClusterSpec;
use vmsc_model::explore::{explore, Options};
use vmsc_model::whatif::{check_model, Variant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let spec = Arc::new(ClusterSpec::load(std::path::Path::new(&args[1])).unwrap());
    let faults: usize = args[2].parse().unwrap();
    let heal = args[3] == "heal";
    let max: usize = args.get(4).map_or(1_000_000, |s| s.parse().unwrap());
    let m = if let Ok(f) = std::env::var("WHATIF") {
        let fs = f
            .split(',')
            .map(|x| vmsc_model::cluster_model::Fault::parse(&spec, x).unwrap())
            .collect();
        vmsc_model::whatif::whatif_model(spec, fs, heal, Variant::Correct)
    } else {
        check_model(spec, faults, heal, Variant::Correct)
    };
    let mut seq = BTreeMap::new();
    let mut inc = BTreeMap::new();
    let mut net = BTreeMap::new();
    let mut printed = false;
    let mut visit = |s: &vmsc_model::cluster_model::State| {
        let ms = s
            .actor_states
            .iter()
            .map(|n| n.view.map_or(0, |v| v.seq))
            .max()
            .unwrap();
        *seq.entry(ms).or_insert(0) += 1;
        let mi: u32 = s.actor_states.iter().map(|n| n.incarnation).sum();
        *inc.entry(mi).or_insert(0) += 1;
        *net.entry(s.network.len()).or_insert(0) += 1;
        if s.network.len() >= 12 && !printed {
            printed = true;
            if let stateright::actor::Network::Ordered(map) = &s.network {
                for (k, v) in map {
                    println!("{k:?}: {v:?}");
                }
            }
            for n in s.actor_states.iter() {
                println!("{n:?}");
            }
        }
    };
    let r = explore(
        &m,
        Options {
            states_max: max,
            visit: Some(&mut visit),
            visit_only: None,
            ..Default::default()
        },
    );
    println!(
        "states {} complete {} depth {}",
        r.states, r.complete, r.max_depth
    );
    println!("max seq: {seq:?}\nsum incarnations: {inc:?}\nnetwork: {net:?}");
}
