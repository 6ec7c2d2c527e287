//! Development aid: render a check's counterexample path for one property.
//! `cargo run -p vmsc-model --example path -- CLUSTER.toml FAULTS heal|noheal "property name"`
use std::sync::Arc;
use vmsc_model::config::ClusterSpec;
use vmsc_model::explore::{explore, replay, Options};
use vmsc_model::whatif::{check_model, Variant};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let spec = Arc::new(ClusterSpec::load(std::path::Path::new(&a[1])).unwrap());
    let m = check_model(
        spec,
        a[2].parse().unwrap(),
        a[3] == "heal",
        Variant::Correct,
    );
    let r = explore(&m, Options::default());
    let p = r.properties.iter().find(|p| p.name == a[4]).unwrap();
    let Some(path) = &p.path else {
        return println!("no path");
    };
    let (_, steps) = replay(&m, path).unwrap();
    for (act, s) in steps {
        println!("{}", m.describe_action(&act));
        for (i, n) in s.actor_states.iter().enumerate() {
            println!(
                "    {i}: view={:?} phase={:?} conn={:?} disk={} exited={:?} inc={}",
                n.view.map(|v| (v.seq, v.members, v.qdisk)),
                n.phase,
                n.conn,
                n.disk,
                n.exited,
                n.incarnation
            );
        }
    }
    println!("removed: {:?}", steps_last_removed(&m, path));
}

fn steps_last_removed(
    m: &vmsc_model::cluster_model::ClusterModel,
    path: &[usize],
) -> Vec<Option<u32>> {
    replay(m, path)
        .unwrap()
        .1
        .last()
        .unwrap()
        .1
        .history
        .removed
        .clone()
}
