//! Human-readable names for what happens in the model: node names instead of ids, VMS terms
//! instead of enum variants. Used by counterexample printing and the Explorer.

use crate::config::ClusterSpec;
use crate::node::{Msg, NodeState, Phase, Verdict, View};
use crate::nodeset::{display_name, NodeSet};
use std::fmt;

/// `{FRANK1,UK1}`.
pub fn names(spec: &ClusterSpec, set: NodeSet) -> String {
    let v: Vec<&str> = set
        .iter()
        .filter(|&i| i < spec.len())
        .map(|i| spec.nodes[i].name.as_str())
        .collect();
    format!("{{{}}}", v.join(","))
}

/// `#3 {FRANK1,FRANK2,UK1} quorum 3`.
pub fn view(spec: &ClusterSpec, v: &View) -> String {
    format!(
        "#{} {} quorum {}{}",
        v.seq,
        names(spec, v.members),
        v.quorum,
        if v.qdisk { " +QDISK" } else { "" }
    )
}

/// One delivery: `UK1 → FRANK1 proposal #7 {..}`.
pub fn delivery(spec: &ClusterSpec, src: usize, dst: usize, msg: &Msg) -> String {
    let (s, d) = (spec.actor_name(src), spec.actor_name(dst));
    let what = match msg {
        Msg::CircuitUp => "circuit up".to_string(),
        Msg::CircuitDown => "circuit down".to_string(),
        Msg::Hello(h) => match &h.view {
            Some(v) => format!(
                "hello: member of {}{}",
                view(spec, v),
                if h.quorate {
                    ", quorate"
                } else {
                    ", no quorum"
                }
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
        Msg::Release { seq, confirmed } => format!(
            "transition #{seq} complete, resume (confirmed {})",
            names(spec, *confirmed)
        ),
        Msg::Abort { seq } => format!("abandon proposal #{seq}"),
        Msg::DiskClaim { view: v, .. } => {
            format!("claim the quorum disk's votes for {}", view(spec, v))
        }
        Msg::DiskGrant { seq, granted, .. } => {
            format!(
                "quorum disk votes for view #{seq} {}",
                if *granted { "granted" } else { "refused" }
            )
        }
        Msg::NeedTransition => "RECNX expired: please run a state transition".to_string(),
        Msg::Dlm(m) => dlm_message(spec, m),
    };
    format!("{s} → {d} {what}")
}

fn dlm_message(spec: &ClusterSpec, m: &crate::dlm::DlmMsg) -> String {
    use crate::dlm::DlmMsg;
    let res = |r: &u8| {
        spec.resources
            .get(*r as usize)
            .cloned()
            .unwrap_or_else(|| format!("#{r}"))
    };
    match m {
        DlmMsg::Lookup { res: r, .. } => format!("DLM: directory lookup for {}", res(r)),
        DlmMsg::Master { res: r, master, .. } => {
            format!(
                "DLM: {} is mastered by {}",
                res(r),
                spec.actor_name(*master as usize)
            )
        }
        DlmMsg::Request(q) => format!(
            "DLM: request {:?} on {} (lock {}, {} remote hops)",
            q.op,
            res(&q.res),
            q.lock.0,
            q.hops
        ),
        DlmMsg::Ast {
            res: r,
            lock,
            status,
            mode,
            ..
        } => match mode {
            Some(md) => format!(
                "DLM: AST lock {} on {} now {md} ({status:?})",
                lock.0,
                res(r)
            ),
            None => format!(
                "DLM: AST lock {} on {} released ({status:?})",
                lock.0,
                res(r)
            ),
        },
        DlmMsg::Bast { res: r, lock } => {
            format!("DLM: blocking AST for lock {} on {}", lock.0, res(r))
        }
        DlmMsg::Copy(c) => format!("DLM rebuild: copy of lock {} on {}", c.lock.0, res(&c.res)),
        DlmMsg::Register { res: r, master, .. } => {
            format!(
                "DLM rebuild: {} mastered by {}",
                res(r),
                spec.actor_name(*master as usize)
            )
        }
        DlmMsg::Unregister { res: r, gen, .. } => {
            format!(
                "DLM: {} has no lock left, directory entry (generation {gen}) removed",
                res(r)
            )
        }
        DlmMsg::NotMaster { res: r, lock, .. } => {
            format!(
                "DLM: not the master of {} (lock {}): look up again",
                res(r),
                lock.0
            )
        }
        DlmMsg::Done { epoch } => format!("DLM rebuild for view #{epoch} sent"),
        DlmMsg::Suspect { .. } => "DLM: a request outlived DEADLOCK_WAIT".to_string(),
        DlmMsg::Query { phase, .. } => format!("DLM deadlock search: report (phase {phase})"),
        DlmMsg::Report { phase, waits, .. } => format!(
            "DLM deadlock search: {} queued request(s) (phase {phase})",
            waits.iter().flatten().count()
        ),
        DlmMsg::Victim { res: r, lock, .. } => {
            format!("DLM: deadlock victim lock {} on {}", lock.0, res(r))
        }
        DlmMsg::Client(c) => {
            use crate::dlm::external::ClientMsg;
            match c {
                ClientMsg::Request(q) => format!(
                    "DLM client: request {:?} on lock {:#x} ({})",
                    q.op,
                    q.lock.0,
                    res(&q.res)
                ),
                ClientMsg::Completion(d) => format!(
                    "DLM client: completion of lock {:#x} on {} ({:?}, {:?})",
                    d.lock.0,
                    res(&d.res),
                    d.status,
                    d.mode
                ),
                ClientMsg::Blocking { res: r, lock } => {
                    format!(
                        "DLM client: blocking AST for lock {:#x} on {}",
                        lock.0,
                        res(r)
                    )
                }
            }
        }
    }
}

/// OpenVMS-style console lines for what changed in one node between two of its states, e.g.
/// `%CNXMAN, Now a VMScluster member -- system CHIC1`. Shared by counterexample printing and the
/// runtime's console so both speak the same language.
pub fn console_events(
    spec: &ClusterSpec,
    me: usize,
    old: &crate::node::NodeState,
    new: &crate::node::NodeState,
) -> Vec<String> {
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
        out.push(format!(
            "%CNXMAN, Established connection to system {}",
            name(p)
        ));
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
                out.push(format!(
                    "%CNXMAN, Removed from VMScluster -- system {}",
                    name(p)
                ));
            }
            for p in b.members.minus(a.members).iter() {
                out.push(format!(
                    "%CNXMAN, Now a VMScluster member -- system {}",
                    name(p)
                ));
            }
            out.push(format!(
                "%CNXMAN, {}: new cluster view {}",
                name(me),
                view(spec, &b)
            ));
        }
        _ => {}
    }
    let hung = |s: &crate::node::NodeState| {
        let disk = |v: &crate::node::View| {
            if v.qdisk && s.disk {
                spec.disk_votes()
            } else {
                0
            }
        };
        s.view
            .is_some_and(|v| votes(spec, v.members) + disk(&v) < v.quorum)
            && s.phase == crate::node::Phase::Idle
    };
    if !hung(old) && hung(new) {
        out.push(format!(
            "%CNXMAN, {}: quorum lost, blocking activity",
            name(me)
        ));
    }
    if hung(old) && !hung(new) && new.view.is_some() {
        out.push(format!(
            "%CNXMAN, {}: quorum regained, resuming activity",
            name(me)
        ));
    }
    out
}

// ----- `Debug` for the states the Explorer's "Complete State?" view prints -----
//
// The Explorer prints Stateright's `ActorModelState` with `{:#?}`; these impls keep the node
// parts of it short and in names (through `nodeset::set_display_names`, which `vmsc explore`
// calls): a view on one line, a coordinator by name, and a node state without the fields that
// are at their resting value.

impl fmt::Debug for View {
    /// `#2 {FRANK1,CHIC1} quorum 2 (CL_EXPECTED_VOTES 3) +QDISK, ran #2 {FRANK1,CHIC1}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#{} {:?} quorum {} (CL_EXPECTED_VOTES {}){}, ran #{} {:?}",
            self.seq,
            self.members,
            self.quorum,
            self.cevotes,
            if self.qdisk { " +QDISK" } else { "" },
            self.ran_seq,
            self.ran_members
        )
    }
}

impl fmt::Debug for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |i: &u8| Named(display_name(*i as usize));
        match self {
            Phase::Idle => f.write_str("Idle"),
            Phase::Coordinating(c) => f.debug_tuple("Coordinating").field(c).finish(),
            Phase::Claiming(c) => f.debug_tuple("Claiming").field(c).finish(),
            Phase::Committing { waiting } => f
                .debug_struct("Committing")
                .field("waiting", waiting)
                .finish(),
            Phase::Locked { coordinator, view } => f
                .debug_struct("Locked")
                .field("coordinator", &name(coordinator))
                .field("view", view)
                .finish(),
            Phase::Installed { coordinator } => f
                .debug_struct("Installed")
                .field("coordinator", &name(coordinator))
                .finish(),
        }
    }
}

impl fmt::Debug for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("NodeState");
        d.field("incarnation", &self.incarnation);
        if let Some(rule) = self.exited {
            d.field("exited", &Named(format!("CLUEXIT: {}", rule.describe())));
        }
        d.field("view", &self.view)
            .field("phase", &self.phase)
            .field("conn", &self.conn)
            .field("ok", &self.ok);
        if self.disk {
            d.field("disk", &self.disk);
        }
        if !self.members_seen.is_empty() {
            d.field("members_seen", &self.members_seen);
        }
        if !self.joiners_seen.is_empty() {
            d.field("joiners_seen", &self.joiners_seen);
        }
        if !self.member_views.is_empty() {
            let v: Vec<(Named, View)> = self
                .member_views
                .iter()
                .map(|(i, v)| (Named(display_name(*i as usize)), *v))
                .collect();
            d.field("member_views", &v);
        }
        if let Some(r) = self.refused {
            d.field("refused", &r);
        }
        if self.requested {
            d.field("requested", &self.requested);
        }
        if self.asked {
            d.field("asked", &self.asked);
        }
        if let Some((j, _)) = self.join_asked {
            d.field("join_asked", &Named(display_name(j as usize)));
        }
        if self.dlm != crate::dlm::DlmState::default() {
            d.field("dlm", &self.dlm);
        }
        d.finish()
    }
}

impl fmt::Debug for crate::cluster_model::Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = |m: u32| Named(format!("{:?}", NodeSet(m).iter().collect::<Vec<_>>()));
        let mut d = f.debug_struct("Env");
        let mut cut = Vec::new();
        for (a, set) in self.cut.iter().enumerate() {
            for b in set.iter().filter(|&b| b > a) {
                cut.push(Named(format!("{}-{}", display_name(a), display_name(b))));
            }
        }
        d.field("circuits_cut", &cut)
            .field("faults_applied", &bits(self.applied));
        if self.healed != 0 {
            d.field("faults_healed", &bits(self.healed));
        }
        if self.heal_done {
            d.field("heal_done", &self.heal_done);
        }
        d.field("down", &self.down);
        for (name, set) in [
            ("fault_down", self.fault_down),
            ("cluexit", self.cluexit),
            ("rebooted", self.rebooted),
            ("reboot_window", self.reboot_window),
            ("clean", self.clean),
        ] {
            if !set.is_empty() {
                d.field(name, &set);
            }
        }
        if !self.late.is_empty() {
            let v: Vec<Named> = self
                .late
                .iter()
                .map(|&(a, b)| {
                    Named(format!(
                        "{} has not noticed losing {}",
                        display_name(a as usize),
                        display_name(b as usize)
                    ))
                })
                .collect();
            d.field("late", &v);
        }
        let removed: Vec<Named> = self
            .removed
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.map(|inc| Named(format!("{} in incarnation {inc}", display_name(i))))
            })
            .collect();
        if !removed.is_empty() {
            d.field("removed", &removed);
        }
        if self.violations != 0 {
            d.field("violations", &self.violations);
        }
        if !self.lvb.is_empty() {
            d.field("lvb", &self.lvb)
                .field("dlm_view", &self.dlm_view)
                .field("dlm_seen", &self.dlm_seen);
        }
        d.finish()
    }
}

/// A string that `Debug` prints without quotes.
struct Named(String);

impl fmt::Debug for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A peer's STATUS in SHOW CLUSTER, as the local node sees it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum PeerStatus {
    /// A member of this node's cluster, with an open circuit.
    Member,
    /// Still a member, but its circuit is broken (RECNXINTERVAL running).
    BrkMem,
    /// Connected, but not a member (a joiner, or a node of another cluster).
    New,
    /// Not a member and no circuit (removed, crashed, or never seen).
    BrkNon,
}

impl PeerStatus {
    /// As SHOW CLUSTER prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerStatus::Member => "MEMBER",
            PeerStatus::BrkMem => "BRK_MEM",
            PeerStatus::New => "NEW",
            PeerStatus::BrkNon => "BRK_NON",
        }
    }
}

/// The status of every node (itself included) in node `me`'s SHOW CLUSTER view.
pub fn peer_statuses(
    spec: &ClusterSpec,
    me: usize,
    s: &crate::node::NodeState,
) -> Vec<(String, PeerStatus)> {
    let members = s.view.map_or(NodeSet::EMPTY, |v| v.members);
    (0..spec.len())
        .map(|p| {
            let status = if p == me {
                if members.contains(me) {
                    PeerStatus::Member
                } else {
                    PeerStatus::New
                }
            } else {
                match (members.contains(p), s.conn.contains(p)) {
                    (true, true) => PeerStatus::Member,
                    (true, false) => PeerStatus::BrkMem,
                    (false, true) => PeerStatus::New,
                    (false, false) => PeerStatus::BrkNon,
                }
            };
            (spec.nodes[p].name.clone(), status)
        })
        .collect()
}

/// The SHOW CLUSTER screen the seed talk shows, plus votes, EXPECTED_VOTES and quorum.
/// `when` is a caller-supplied timestamp string (the model has no clock).
pub fn show_cluster(
    spec: &ClusterSpec,
    me: usize,
    s: &crate::node::NodeState,
    when: &str,
) -> String {
    let mut out = format!(
        "View of Cluster from system ID {} node: {} {}\n\n",
        spec.nodes[me].system_id, spec.nodes[me].name, when
    );
    out += "SYSTEMS                        MEMBERS\n";
    out += "NODE      SOFTWARE             STATUS\n";
    let mut rows = peer_statuses(spec, me, s);
    // The local node first, then the others in file order, as SHOW CLUSTER lists them.
    rows.rotate_left(me);
    let (first, rest) = rows.split_at(1);
    let mut ordered = first.to_vec();
    let mut others = rest.to_vec();
    others.sort_by_key(|(n, _)| spec.node_index(n));
    ordered.extend(others);
    for (name, st) in ordered {
        out += &format!(
            "{name:<9} vmsc {:<15} {}\n",
            env!("CARGO_PKG_VERSION"),
            st.as_str()
        );
    }
    match s.view {
        Some(v) => {
            out += &format!(
                "\nCL_VOTES {}  CL_EXPECTED_VOTES {}  CL_QUORUM {}  transition #{}{}\n",
                crate::quorum::votes(spec, v.members.inter(s.conn.with(me))),
                v.cevotes,
                v.quorum,
                v.seq,
                if crate::quorum::votes(spec, v.members.inter(s.conn.with(me))) < v.quorum {
                    "  (quorum lost: activity blocked)"
                } else {
                    ""
                }
            );
        }
        None => out += "\nnot a VMScluster member (waiting to form or join)\n",
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClusterSpec;
    use crate::node::{NodeActor, ProtocolOptions};
    use std::sync::Arc;

    #[test]
    fn show_cluster_golden_after_uk1_lost() {
        let spec = Arc::new(ClusterSpec::seed());
        let a = NodeActor::new(
            spec.clone(),
            0,
            ProtocolOptions {
                start_formed: true,
                ..Default::default()
            },
        );
        let mut s = a.formed_state();
        s.conn.remove(2);
        s.ok.remove(2);
        let want = "View of Cluster from system ID 1025 node: FRANK1 17-FEB-2025 15:40:37\n\n\
SYSTEMS                        MEMBERS\n\
NODE      SOFTWARE             STATUS\n\
FRANK1    vmsc 0.1.0           MEMBER\n\
FRANK2    vmsc 0.1.0           MEMBER\n\
UK1       vmsc 0.1.0           BRK_MEM\n\
CHIC1     vmsc 0.1.0           MEMBER\n\
CHIC2     vmsc 0.1.0           MEMBER\n\
\nCL_VOTES 4  CL_EXPECTED_VOTES 5  CL_QUORUM 3  transition #1\n";
        assert_eq!(show_cluster(&spec, 0, &s, "17-FEB-2025 15:40:37"), want);
        // After the transition that removes UK1, it shows as BRK_NON, as in the seed talk.
        s.view = Some(crate::node::View {
            members: s.view.unwrap().members.without(2),
            ..s.view.unwrap()
        });
        assert_eq!(
            peer_statuses(&spec, 0, &s)[2],
            ("UK1".to_string(), PeerStatus::BrkNon)
        );
    }
}
