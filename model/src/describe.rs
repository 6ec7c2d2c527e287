//! Human-readable names for what happens in the model: node names instead of ids, VMS terms
//! instead of enum variants. Used by counterexample printing and the Explorer.

use crate::config::ClusterSpec;
use crate::node::{Msg, Verdict, View};
use crate::nodeset::NodeSet;

/// `{FRANK1,UK1}`.
pub fn names(spec: &ClusterSpec, set: NodeSet) -> String {
    let v: Vec<&str> = set.iter().filter(|&i| i < spec.len()).map(|i| spec.nodes[i].name.as_str()).collect();
    format!("{{{}}}", v.join(","))
}

/// `#3 {FRANK1,FRANK2,UK1} quorum 3`.
pub fn view(spec: &ClusterSpec, v: &View) -> String {
    format!("#{} {} quorum {}", v.seq, names(spec, v.members), v.quorum)
}

/// One delivery: `UK1 → FRANK1 proposal #7 {..}`.
pub fn delivery(spec: &ClusterSpec, src: usize, dst: usize, msg: &Msg) -> String {
    let (s, d) = (&spec.nodes[src].name, &spec.nodes[dst].name);
    let what = match msg {
        Msg::CircuitUp => "circuit up".to_string(),
        Msg::CircuitDown => "circuit down".to_string(),
        Msg::Hello(h) => match &h.view {
            Some(v) => format!(
                "hello: member of {}{}",
                view(spec, v),
                if h.quorate { ", quorate" } else { ", no quorum" }
            ),
            None => format!("hello: not a member (incarnation {})", h.incarnation),
        },
        Msg::JoinRequest { .. } => "membership request".to_string(),
        Msg::JoinRefused(r) => format!("membership request refused ({r:?})"),
        Msg::Propose(p) => format!("proposal {}", view(spec, &p.view)),
        Msg::Reply { seq, verdict, .. } => match verdict {
            Verdict::Ack => format!("accepts proposal #{seq}"),
            v => format!("refuses proposal #{seq} ({v:?})"),
        },
        Msg::Commit(v) => format!("commit {}", view(spec, v)),
        Msg::Committed { seq } => format!("installed view #{seq}"),
        Msg::Release { seq } => format!("transition #{seq} complete, resume"),
        Msg::Abort { seq } => format!("abandon proposal #{seq}"),
        Msg::NeedTransition => "RECNX expired: please run a state transition".to_string(),
    };
    format!("{s} → {d} {what}")
}

/// OpenVMS-style console lines for what changed in one node between two of its states, e.g.
/// `%CNXMAN, Now a VMScluster member -- system CHIC1`. Shared by counterexample printing and the
/// runtime's console so both speak the same language.
pub fn console_events(spec: &ClusterSpec, me: usize, old: &crate::node::NodeState, new: &crate::node::NodeState) -> Vec<String> {
    use crate::quorum::votes;
    let mut out = Vec::new();
    let name = |i: usize| spec.nodes[i].name.as_str();
    if let (None, Some(rule)) = (old.exited, new.exited) {
        out.push(format!(
            "%CNXMAN, {}: CLUEXIT bugcheck -- {}",
            name(me),
            rule.describe()
        ));
        return out;
    }
    for p in new.conn.minus(old.conn).iter() {
        out.push(format!("%CNXMAN, Established connection to system {}", name(p)));
    }
    for p in old.conn.minus(new.conn).iter() {
        out.push(format!("%CNXMAN, Lost connection to system {}", name(p)));
    }
    match (old.view, new.view) {
        (None, Some(v)) => out.push(format!(
            "%CNXMAN, Now a VMScluster member -- system {} (view {})",
            name(me),
            view(spec, &v)
        )),
        (Some(a), Some(b)) if a != b => {
            for p in a.members.minus(b.members).iter() {
                out.push(format!("%CNXMAN, Removed from VMScluster -- system {}", name(p)));
            }
            for p in b.members.minus(a.members).iter() {
                out.push(format!("%CNXMAN, Now a VMScluster member -- system {}", name(p)));
            }
            out.push(format!("%CNXMAN, {}: new cluster view {}", name(me), view(spec, &b)));
        }
        _ => {}
    }
    let hung = |s: &crate::node::NodeState| {
        s.view.is_some_and(|v| votes(spec, v.members) < v.quorum) && s.phase == crate::node::Phase::Idle
    };
    if !hung(old) && hung(new) {
        out.push(format!("%CNXMAN, {}: quorum lost, blocking activity", name(me)));
    }
    if hung(old) && !hung(new) && new.view.is_some() {
        out.push(format!("%CNXMAN, {}: quorum regained, resuming activity", name(me)));
    }
    out
}
