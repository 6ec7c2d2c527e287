//! Joining, step by step: the lineage rule (a node that a quorate cluster removed must not run
//! again on its stale state, even when that cluster has lost quorum since — regression for the
//! 20-step counterexample of `vmsc check three-regions.toml --max-faults 2 --heal`), whom a
//! rebooted node asks, and that it asks one member at a time.
use stateright::actor::{Actor, Command, Id, Out};
use std::borrow::Cow;
use std::sync::Arc;
use vmsc_model::cluexit::ExitRule;
use vmsc_model::config::ClusterSpec;
use vmsc_model::node::{Hello, Msg, NodeActor, NodeState, ProtocolOptions, Timer, View};
use vmsc_model::nodeset::NodeSet;

fn spec() -> Arc<ClusterSpec> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../specs/scenarios/three-regions.toml"
    );
    Arc::new(ClusterSpec::load(std::path::Path::new(path)).unwrap())
}

// FRANK1 = 0, UK1 = 1, CHIC1 = 2.
type Cmd = Command<Msg, Timer, (), u32>;

fn view(seq: u32, members: &[usize], ran_seq: u32, ran: &[usize]) -> View {
    View {
        seq,
        members: members.iter().copied().collect(),
        cevotes: 3,
        quorum: 2,
        qdisk: false,
        ran_seq,
        ran_members: ran.iter().copied().collect(),
    }
}

fn hello(v: View) -> Msg {
    Msg::Hello(Hello {
        incarnation: 0,
        view: Some(v),
        quorate: false,
        votes: 1,
        connections: 1,
    })
}

fn step(a: &NodeActor, s: &NodeState, src: usize, m: Msg) -> (NodeState, Vec<Cmd>) {
    let mut st = Cow::Borrowed(s);
    let mut o = Out::new();
    a.on_msg(Id::from(a.me), &mut st, Id::from(src), m, &mut o);
    (st.into_owned(), o.into_iter().collect())
}

/// The Join timer fires: the node's state after it, and what it did.
fn join_timer(a: &NodeActor, s: &NodeState) -> (NodeState, Vec<Cmd>) {
    let mut st = Cow::Borrowed(s);
    let mut o = Out::new();
    a.on_timeout(Id::from(a.me), &mut st, &Timer::Join, &mut o);
    (st.into_owned(), o.into_iter().collect())
}

/// CHIC1 reboots (incarnation 1) and its circuits to FRANK1 and UK1 come up.
fn rebooted_chic1() -> (NodeActor, NodeState) {
    let a = NodeActor::new(spec(), 2, ProtocolOptions::default());
    let mut o = Out::new();
    let mut s = a.on_start(Id::from(2), &Some(0), &mut o);
    for p in [0, 1] {
        s = step(&a, &s, p, Msg::CircuitUp).0;
    }
    (a, s)
}

fn requests(cmds: &[Cmd]) -> Vec<usize> {
    cmds.iter()
        .filter_map(|c| match *c {
            Command::Send(dst, Msg::JoinRequest { .. }) => Some(usize::from(dst)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_rebooted_node_joins_the_cluster_that_ran_last_and_only_after_hearing_everyone() {
    let (a, mut s) = rebooted_chic1();
    // UK1 was removed by {FRANK1,CHIC1} (#2, which ran) and sits alone in its own #2.
    s = step(&a, &s, 1, hello(view(2, &[1], 1, &[0, 1, 2]))).0;
    assert_eq!(
        requests(&join_timer(&a, &s).1),
        Vec::<usize>::new(),
        "must wait for FRANK1's hello"
    );
    s = step(&a, &s, 0, hello(view(3, &[0], 2, &[0, 2]))).0;
    assert_eq!(
        requests(&join_timer(&a, &s).1),
        [0],
        "FRANK1's lineage ran last"
    );
}

#[test]
fn the_removed_side_takes_the_cluexit_even_when_the_remover_lost_quorum() {
    let spec = spec();
    let uk1 = NodeActor::new(
        spec.clone(),
        1,
        ProtocolOptions {
            start_formed: true,
            ..Default::default()
        },
    );
    let mut s = uk1.formed_state();
    s.view = Some(view(2, &[1], 1, &[0, 1, 2]));
    s.ok = NodeSet::single(1);
    s.conn = NodeSet::single(0);
    let (after, _) = step(&uk1, &s, 0, hello(view(3, &[0], 2, &[0, 2])));
    assert_eq!(after.exited, Some(ExitRule::RemovedByQuorate));
    // And FRANK1, which ran last, stays.
    let f1 = NodeActor::new(
        spec,
        0,
        ProtocolOptions {
            start_formed: true,
            ..Default::default()
        },
    );
    let mut s = f1.formed_state();
    s.view = Some(view(3, &[0], 2, &[0, 2]));
    s.ok = NodeSet::single(0);
    s.conn = NodeSet::single(1);
    let (after, _) = step(&f1, &s, 1, hello(view(2, &[1], 1, &[0, 1, 2])));
    assert_eq!(after.exited, None);
}

fn timers(cmds: &[Cmd]) -> Vec<Timer> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::SetTimer(t, _) => Some(*t),
            _ => None,
        })
        .collect()
}

/// Davis pp. 7-37/38: a joiner asks ONE member. Until that member answers (a refusal, or a
/// proposal), or the circuit to it changes, the Join timer sends no second request — a second
/// request to another member started a second join transition that collided with the first
/// (two coordinators refusing each other's proposals; most of the states of the seed's
/// `cut FRA-LHR + cut FRA-ORD + heal`).
#[test]
fn a_joiner_asks_one_member_at_a_time() {
    let (a, mut s) = rebooted_chic1();
    let v = view(2, &[0, 1], 2, &[0, 1]);
    s = step(&a, &s, 1, hello(v)).0;
    s = step(&a, &s, 0, hello(v)).0;
    let ask = |s: &NodeState| join_timer(&a, s);
    let (asked, cmds) = ask(&s);
    assert_eq!(requests(&cmds), [0], "FRANK1: lowest system id");
    assert_eq!(asked.join_asked, Some((0, [0, 1].into_iter().collect())));
    s = asked;
    // Unanswered: a hello re-arms the timer, but no second request goes out.
    let (s2, cmds) = step(&a, &s, 1, hello(v));
    assert_eq!(timers(&cmds), [Timer::Join]);
    assert_eq!(requests(&ask(&s2).1), Vec::<usize>::new());
    // Nor after another peer's circuit changes.
    let (s3, _) = step(&a, &s2, 1, Msg::CircuitDown);
    let (s3, _) = step(&a, &s3, 1, Msg::CircuitUp);
    assert_eq!(s3.join_asked.map(|(t, _)| t), Some(0));
    assert_eq!(requests(&ask(&s3).1), Vec::<usize>::new());
    // A refusal answers it: the timer is set and the next firing asks again.
    let (r, cmds) = step(
        &a,
        &s2,
        0,
        Msg::JoinRefused(vmsc_model::node::Refusal::Busy),
    );
    assert_eq!((r.join_asked, timers(&cmds)), (None, vec![Timer::Join]));
    assert_eq!(requests(&ask(&r).1), [0]);
    // A refusal for want of a circuit lasts (the node is then quiescent) only if the node's
    // circuits are still those the request reported; otherwise it is stale.
    let nc = Msg::JoinRefused(vmsc_model::node::Refusal::NotConnected);
    let (r, _) = step(&a, &s2, 0, nc);
    assert_eq!(r.refused, Some(vmsc_model::node::Refusal::NotConnected));
    let (changed, _) = step(&a, &s2, 1, Msg::CircuitDown);
    let (r, cmds) = step(&a, &changed, 0, nc);
    assert_eq!((r.refused, timers(&cmds)), (None, vec![Timer::Join]));
    // So does a proposal from the asked member; refused, the node asks again later.
    let prop = vmsc_model::node::Proposal {
        base: Some(view(1, &[0, 1], 1, &[0, 1])),
        view: view(2, &[0, 1, 2], 2, &[0, 1]),
    };
    let (r, cmds) = step(&a, &s2, 0, Msg::Propose(prop));
    assert_eq!(
        (r.join_asked, timers(&cmds)),
        (None, vec![]),
        "accepted: locked"
    );
    let (r, cmds) = step(&a, &r, 0, Msg::Abort { seq: 2 });
    assert_eq!((r.join_asked, timers(&cmds)), (None, vec![Timer::Join]));
    let (no_uk1, _) = step(&a, &s2, 1, Msg::CircuitDown);
    let (r, cmds) = step(&a, &no_uk1, 0, Msg::Propose(prop));
    assert_eq!(
        (r.join_asked, timers(&cmds)),
        (None, vec![Timer::Join]),
        "refused (no circuit to UK1): ask again later"
    );
    // A lost circuit to the asked member ends the wait: ask another member.
    let (r, cmds) = step(&a, &s2, 0, Msg::CircuitDown);
    assert_eq!((r.join_asked, timers(&cmds)), (None, vec![Timer::Join]));
    assert_eq!(requests(&ask(&r).1), [1]);
}

/// Found by `vmsc check three-regions.toml --max-faults 2 --heal` (24 steps): UK1 accepted
/// CHIC1's proposal #2 {FRANK1,UK1,CHIC1}, FRANK1 crashed, and the commit reached UK1 after the
/// circuit to FRANK1 had failed. UK1 counted FRANK1 as confirmed in #2 anyway; when the rebooted
/// FRANK1's circuit came up, UK1 saw every member connected and confirmed and ran as an active
/// member of #2 — while CHIC1 and the new FRANK1 ran #3 without it: split-brain. A member whose
/// circuit is down at install is not confirmed: a transition stays due.
#[test]
fn a_member_lost_before_the_commit_arrives_is_not_confirmed_by_it() {
    let (frank1, uk1, chic1) = (0, 1, 2);
    let a = NodeActor::new(spec(), uk1, ProtocolOptions::default());
    let s = a.formed_state();
    let v1 = s.view.unwrap();
    let v2 = View {
        seq: 2,
        ran_seq: 2,
        ..v1
    };
    let prop = vmsc_model::node::Proposal {
        base: Some(v1),
        view: View { ran_seq: 1, ..v2 },
    };
    let (s, _) = step(&a, &s, chic1, Msg::Propose(prop));
    let (s, _) = step(&a, &s, frank1, Msg::CircuitDown);
    let (s, _) = step(&a, &s, chic1, Msg::Commit(v2));
    assert_eq!(s.view.map(|v| v.seq), Some(2));
    assert_eq!(s.ok, [uk1, chic1].into_iter().collect::<NodeSet>());
    // FRANK1 reboots; its circuit comes up again.
    let (s, _) = step(&a, &s, frank1, Msg::CircuitUp);
    assert!(a.needs_transition(&s));
    assert!(
        !a.is_active(&s),
        "UK1 must not run with an unconfirmed FRANK1"
    );
}

/// Found by the same check (28 steps): the rebooted FRANK1 accepted CHIC1's proposal #2
/// {FRANK1,UK1,CHIC1}, FRA-ORD was cut before the commit reached it, and CHIC1 released the
/// transition without FRANK1's confirmation. FRANK1 fell back to being a non-member, but UK1,
/// still connected to it, counted it as confirmed in #2 and ran — while CHIC1 admitted FRANK1 into
/// #4: split-brain. The release names the members that confirmed; UK1 counts no other.
#[test]
fn a_member_that_never_confirmed_is_not_counted_after_the_release() {
    let (uk1, chic1) = (1, 2);
    let a = NodeActor::new(spec(), uk1, ProtocolOptions::default());
    let s = a.formed_state();
    let v1 = s.view.unwrap();
    let v2 = View {
        seq: 2,
        ran_seq: 2,
        ..v1
    };
    let prop = vmsc_model::node::Proposal {
        base: Some(v1),
        view: View { ran_seq: 1, ..v2 },
    };
    let (s, _) = step(&a, &s, chic1, Msg::Propose(prop));
    let (s, _) = step(&a, &s, chic1, Msg::Commit(v2));
    let release = Msg::Release {
        seq: 2,
        confirmed: [uk1, chic1].into_iter().collect(),
    };
    let (s, cmds) = step(&a, &s, chic1, release);
    assert_eq!(s.ok, [uk1, chic1].into_iter().collect::<NodeSet>());
    assert!(!a.is_active(&s), "FRANK1 never confirmed #2");
    assert_eq!(timers(&cmds), [Timer::Recnx], "a transition is due");
}
