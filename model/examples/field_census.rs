//! Diagnostic: which state component multiplies the states? Explores a `whatif --heal` model
//! depth-first for a time budget and, for every state after the heal, erases one component at a
//! time (a node field on every node, a kind of message in flight, the armed timers, a ghost of
//! the history) and counts the distinct states left. Few states left means the component holds
//! much of the variety: the place to look for states that differ in something that does not
//! matter (how the dead messages of `specs/checker.md` were found). Prints a table; not a test.
//!
//! `cargo run --release -p vmsc-model --example field_census -- SCENARIO SECONDS SET`
//! (SET as `whatif` names the faults: `"cut FRA-ORD,crash UK1"`).
use stateright::actor::Network;
use stateright::Model;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vmsc_model::cluster_model::{fingerprint, ClusterModel, Fault, State};
use vmsc_model::config::ClusterSpec;
use vmsc_model::node::{Msg, NodeState};
use vmsc_model::whatif::{whatif_model, Variant};

type Proj = (&'static str, Box<dyn Fn(&mut State)>);

fn nodes(f: impl Fn(&mut NodeState) + 'static) -> Box<dyn Fn(&mut State)> {
    Box::new(move |s: &mut State| {
        for n in s.actor_states.iter_mut() {
            let n = Arc::make_mut(n);
            f(n);
            n.memo.clear();
        }
    })
}

/// Erases the messages in flight that `what` names from every flow whose receiver `to` accepts
/// (given the receiver's state).
fn erase(
    to: impl Fn(&NodeState) -> bool + 'static,
    what: impl Fn(&Msg) -> bool + 'static,
) -> Box<dyn Fn(&mut State)> {
    Box::new(move |s: &mut State| {
        let nodes = s.actor_states.clone();
        if let Network::Ordered(map) = &mut s.network {
            for ((_, dst), q) in map.iter_mut() {
                if nodes.get(usize::from(*dst)).is_some_and(|n| to(n)) {
                    q.retain(|m| !what(m));
                }
            }
            map.retain(|_, q| !q.is_empty());
        }
    })
}

/// Erases the messages whose `Debug` starts with `kind` (`"Hello"`, `"Commit("`), to anyone.
fn msgs(kind: &'static str) -> Box<dyn Fn(&mut State)> {
    erase(|_| true, move |m| format!("{m:?}").starts_with(kind))
}

fn hello(m: &Msg) -> bool {
    matches!(m, Msg::Hello(_))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args[1].clone();
    let secs: u64 = args[2].parse().unwrap();
    let set = &args[3];
    let spec = Arc::new(ClusterSpec::load(std::path::Path::new(&path)).expect("scenario"));
    let menu = Fault::menu(&spec);
    let set = set
        .split(',')
        .map(|d| {
            menu.iter()
                .find(|f| f.describe(&spec) == d.trim())
                .expect("fault")
                .clone()
        })
        .collect();
    let m: ClusterModel = whatif_model(spec, set, true, Variant::Correct);
    let projs: Vec<Proj> = vec![
        ("node.conn", nodes(|n| n.conn = Default::default())),
        ("node.ok", nodes(|n| n.ok = Default::default())),
        (
            "node.members_seen",
            nodes(|n| n.members_seen = Default::default()),
        ),
        (
            "node.joiners_seen",
            nodes(|n| n.joiners_seen = Default::default()),
        ),
        ("node.member_views", nodes(|n| n.member_views.clear())),
        ("node.refused", nodes(|n| n.refused = None)),
        ("node.requested", nodes(|n| n.requested = false)),
        ("node.asked", nodes(|n| n.asked = false)),
        ("node.join_asked", nodes(|n| n.join_asked = None)),
        ("node.incarnation", nodes(|n| n.incarnation = 0)),
        (
            "node.phase-detail",
            nodes(|n| {
                if !matches!(n.phase, vmsc_model::node::Phase::Idle) {
                    n.phase = vmsc_model::node::Phase::Idle;
                    n.incarnation += 1000;
                }
            }),
        ),
        ("net.all", erase(|_| true, |_| true)),
        ("net.Hello", msgs("Hello")),
        ("net.JoinRequest", msgs("JoinRequest")),
        ("net.JoinRefused", msgs("JoinRefused")),
        ("net.Propose", msgs("Propose")),
        ("net.Reply", msgs("Reply")),
        ("net.Commit", msgs("Commit(")),
        ("net.Committed", msgs("Committed")),
        ("net.Abort", msgs("Abort")),
        ("net.Release", msgs("Release")),
        ("net.Hello->member", erase(|n| n.view.is_some(), hello)),
        ("net.Hello->nonmember", erase(|n| n.view.is_none(), hello)),
        (
            "net.Hello without a view->member",
            erase(
                |n| n.view.is_some(),
                |m| matches!(m, Msg::Hello(h) if h.view.is_none()),
            ),
        ),
        (
            "net.Hello with a view->member",
            erase(
                |n| n.view.is_some(),
                |m| matches!(m, Msg::Hello(h) if h.view.is_some()),
            ),
        ),
        (
            "timers",
            Box::new(|s: &mut State| {
                for t in s.timers_set.iter_mut() {
                    t.cancel_all();
                }
                for t in s.history.timers.iter_mut() {
                    *t = 0;
                }
            }),
        ),
        (
            "env.removed",
            Box::new(|s: &mut State| s.history.removed.iter_mut().for_each(|r| *r = None)),
        ),
        (
            "env.clean",
            Box::new(|s: &mut State| s.history.clean = Default::default()),
        ),
        ("env.late", Box::new(|s: &mut State| s.history.late.clear())),
        (
            "env.down/cluexit/rebooted",
            Box::new(|s: &mut State| {
                s.history.rebooted = Default::default();
                s.history.cluexit = Default::default();
            }),
        ),
    ];
    let mut proj_seen: Vec<HashSet<u64>> = projs.iter().map(|_| HashSet::new()).collect();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen = HashSet::new();
    let mut stack = Vec::new();
    for s in m.init_states() {
        seen.insert(fingerprint(&s));
        stack.push(s);
    }
    let mut acts = Vec::new();
    let mut healed_n = 0usize;
    while let Some(s) = stack.pop() {
        if Instant::now() > deadline {
            break;
        }
        if s.history.heal_done {
            healed_n += 1;
            for (k, (_, f)) in projs.iter().enumerate() {
                let mut t = s.clone();
                f(&mut t);
                proj_seen[k].insert(fingerprint(&t));
            }
        }
        acts.clear();
        m.actions(&s, &mut acts);
        for a in acts.drain(..) {
            let Some(next) = m.next_state(&s, a) else {
                continue;
            };
            if !m.within_boundary(&next) {
                continue;
            }
            if seen.insert(fingerprint(&next)) {
                stack.push(next);
            }
        }
    }
    println!(
        "{} states in {secs} s (complete: {}), {healed_n} after the heal",
        seen.len(),
        stack.is_empty()
    );
    println!("| erased | distinct states left | factor |\n|---|---|---|");
    for (k, (name, _)) in projs.iter().enumerate() {
        let left = proj_seen[k].len();
        println!(
            "| {name} | {left} | {:.2}x |",
            healed_n as f64 / left.max(1) as f64
        );
    }
}
