//! The quorum disk: a two-node cluster with a disk in a third region survives the loss of
//! either node, and the disk's votes never go to two clusters.
use std::sync::Arc;
use vmsc_model::cluster_model::Fault;
use vmsc_model::config::ClusterSpec;
use vmsc_model::explore::{explore, Options};
use vmsc_model::whatif::{check_model, whatif, Limits, Outcome, Variant};

fn spec() -> Arc<ClusterSpec> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../specs/scenarios/two-node-qdisk.toml"
    );
    Arc::new(ClusterSpec::load(std::path::Path::new(path)).unwrap())
}

fn outcomes(faults: &[&str], heal: bool) -> Vec<Outcome> {
    let s = spec();
    let f = faults
        .iter()
        .map(|x| Fault::parse(&s, x).unwrap())
        .collect();
    let w = whatif(s, f, heal, Variant::Correct, Limits::default(), None);
    assert!(w.complete && w.violations.is_empty(), "{:?}", w.violations);
    w.outcomes
}

fn o(members: &[&str], hung: &[&str], down: &[&str]) -> Outcome {
    ox(members, hung, &[], down)
}

fn ox(members: &[&str], hung: &[&str], cluexit: &[&str], down: &[&str]) -> Outcome {
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
    Outcome {
        members: v(members),
        hung: v(hung),
        cluexit: v(cluexit),
        down: v(down),
    }
}

#[test]
fn either_node_survives_alone_with_the_disk() {
    assert_eq!(
        outcomes(&["node:FRANK1"], false),
        [o(&["CHIC1"], &[], &["FRANK1"])]
    );
    assert_eq!(
        outcomes(&["node:CHIC1"], false),
        [o(&["FRANK1"], &[], &["CHIC1"])]
    );
}

#[test]
fn a_split_gives_the_disk_to_exactly_one_side() {
    // Whichever side claims the disk first runs; the other learns from the disk that a newer
    // cluster removed it, and takes a CLUEXIT.
    assert_eq!(
        outcomes(&["link:FRA-ORD"], false),
        [
            ox(&["CHIC1"], &[], &["FRANK1"], &[]),
            ox(&["FRANK1"], &[], &["CHIC1"], &[])
        ]
    );
    assert_eq!(
        outcomes(&["link:FRA-ORD", "link:FRA-LHR"], false),
        [o(&["CHIC1"], &["FRANK1"], &[])]
    );
}

#[test]
fn losing_the_disk_alone_changes_nothing() {
    assert_eq!(
        outcomes(&["link:FRA-LHR"], false),
        [o(&["CHIC1", "FRANK1"], &[], &[])]
    );
}

#[test]
fn every_property_holds_under_two_faults_with_heal() {
    let m = check_model(spec(), 2, true, Variant::Correct);
    let r = explore(
        &m,
        Options {
            fingerprint: Some(vmsc_model::cluster_model::fingerprint),
            ..Default::default()
        },
    );
    assert!(r.complete);
    for p in &r.properties {
        assert!(p.holds, "{} fails: {:?}", p.name, p.path);
    }
}

#[test]
fn the_disk_does_not_save_a_broken_quorum_rule() {
    let m = check_model(spec(), 2, false, Variant::HalfQuorum);
    let r = explore(
        &m,
        Options {
            fingerprint: Some(vmsc_model::cluster_model::fingerprint),
            ..Default::default()
        },
    );
    let p = r
        .properties
        .iter()
        .find(|p| p.name == "no split-brain")
        .unwrap();
    assert!(!p.holds);
}
