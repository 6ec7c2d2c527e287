//! The vmsc node actor under the driver: circuit events, halting, the VMS console and the
//! node's status.
//!
//! * [`CircuitEvents`] for [`NodeActor`]: circuits become [`Msg::CircuitUp`] /
//!   [`Msg::CircuitDown`], and a node whose state records a CLUEXIT (`exited`) has halted.
//! * [`Console`], an [`Observer`]: after every handler that changed the state it logs the
//!   OpenVMS-style lines of [`describe::console_events`] through `tracing` (target
//!   [`CONSOLE_TARGET`]), adds `%CNXMAN, Sending VMScluster membership request to system X` for
//!   each [`Msg::JoinRequest`] the actor sends, and keeps the latest state for the control
//!   endpoint. A rejoining node retries its request every few hellos; a request (or refusal)
//!   identical to the previous one, with the same circuits, is not logged again.
//! * [`NodeStatus`]: what the control endpoint reports about a node, built from the actor's own
//!   queries (`is_active`, `is_quorum_hung`, `is_quiescent`, ...) and the supervisor's [`Life`].
//!
//! Everything here is presentation: none of it feeds back into the actor.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stateright::actor::{Command, Id};
use vmsc_model::config::ClusterSpec;
use vmsc_model::describe;
use vmsc_model::node::{Msg, NodeActor, NodeState, Refusal};
use vmsc_model::nodeset::NodeSet;
use vmsc_model::quorum;

use crate::driver::{ActorCommand, CircuitEvents, Observer};
use crate::node::BootNonce;
use crate::supervisor::{Life, Phase};

/// The `tracing` target of console lines (filter on it to see only the console).
pub const CONSOLE_TARGET: &str = "vmsc::console";

/// Console lines kept for [`Console::recent_lines`].
const RECENT_LINES_MAX: usize = 256;

impl CircuitEvents for NodeActor {
    fn circuit_up(&self, _peer: Id) -> Msg {
        Msg::CircuitUp
    }

    fn circuit_down(&self, _peer: Id) -> Msg {
        Msg::CircuitDown
    }

    /// A node that took a CLUEXIT bugcheck is down until it reboots.
    fn is_halted(&self, state: &NodeState) -> bool {
        state.exited.is_some()
    }

    /// Completions and BASTs for the node's external lock clients (see `cluster::locks`).
    fn is_local_output(&self, msg: &Msg) -> bool {
        vmsc_model::dlm::external::client_msg(msg).is_some()
    }
}

/// The console of one node: logs its lines and remembers its latest state.
#[derive(Debug)]
pub struct Console {
    actor: NodeActor,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    state: Option<NodeState>,
    nonce: BootNonce,
    /// The last membership request logged: its target and the circuits at the time.
    request_logged: Option<(usize, NodeSet)>,
    /// The last refusal logged, with the circuits at the time.
    refusal_logged: Option<(Refusal, NodeSet)>,
    recent: VecDeque<String>,
}

impl Console {
    /// The console of `actor`'s node.
    pub fn new(actor: NodeActor) -> Self {
        Self {
            actor,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The latest state and its incarnation's boot nonce (`None` before the first boot).
    pub fn state(&self) -> Option<(NodeState, BootNonce)> {
        let inner = self.lock();
        inner.state.clone().map(|s| (s, inner.nonce))
    }

    /// The most recent console lines, oldest first (at most 256).
    pub fn recent_lines(&self) -> Vec<String> {
        self.lock().recent.iter().cloned().collect()
    }

    /// The node's status now, given the supervisor's view of its life.
    pub fn status(&self, life: &Life) -> NodeStatus {
        let state = self.lock().state.clone();
        NodeStatus::of(&self.actor, state.as_ref(), life)
    }

    /// SHOW CLUSTER as this node sees it now, stamped `when` (see [`vms_time`]).
    pub fn show_cluster(&self, life: &Life, when: &str) -> String {
        let spec = &self.actor.spec;
        let name = &spec.nodes[self.actor.me].name;
        let inner = self.lock();
        match (life.phase, &inner.state) {
            (Phase::Running, Some(state)) if state.exited.is_none() => {
                describe::show_cluster(spec, self.actor.me, state, when)
            }
            (Phase::Running | Phase::Halted, Some(_)) => {
                format!("System {name} took a CLUEXIT bugcheck and is rebooting; no cluster view\n")
            }
            _ => format!("System {name} is down; no cluster view\n"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing panics while the lock is held.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn log(inner: &mut Inner, line: String) {
        tracing::info!(target: CONSOLE_TARGET, "{line}");
        if inner.recent.len() == RECENT_LINES_MAX {
            inner.recent.pop_front();
        }
        inner.recent.push_back(line);
    }

    /// The lines for the membership requests in `out` and a new refusal in `new`.
    fn membership_lines(
        &self,
        inner: &mut Inner,
        old: &NodeState,
        new: &NodeState,
        out: &[ActorCommand<NodeActor>],
    ) {
        let spec = &self.actor.spec;
        if new.view.is_some() {
            inner.request_logged = None;
            inner.refusal_logged = None;
            return;
        }
        for command in out {
            if let Command::Send(dst, Msg::JoinRequest { .. }) = command {
                let target = usize::from(*dst);
                let key = (target, new.conn);
                if target < spec.len() && inner.request_logged != Some(key) {
                    inner.request_logged = Some(key);
                    let line = format!(
                        "%CNXMAN, Sending VMScluster membership request to system {}",
                        spec.nodes[target].name
                    );
                    Self::log(inner, line);
                }
            }
        }
        if let (None, Some(refusal)) = (old.refused, new.refused) {
            let key = (refusal, new.conn);
            if inner.refusal_logged != Some(key) {
                inner.refusal_logged = Some(key);
                let why = match refusal {
                    Refusal::Busy => "the cluster is busy with a state transition",
                    Refusal::NotConnected => "no connection to every member",
                    Refusal::Disruptive => "joining would raise the quorum above the votes present",
                };
                Self::log(
                    inner,
                    format!("%CNXMAN, VMScluster membership request refused -- {why}"),
                );
            }
        }
    }
}

impl Observer<NodeActor> for Console {
    fn started(&self, nonce: BootNonce, state: &NodeState, _out: &[ActorCommand<NodeActor>]) {
        let spec = &self.actor.spec;
        let mut inner = self.lock();
        inner.state = Some(state.clone());
        inner.nonce = nonce;
        inner.request_logged = None;
        inner.refusal_logged = None;
        let line = format!(
            "%SYSBOOT, System {} (SCSSYSTEMID {}) booted, boot count {}; waiting to form or join a VMScluster",
            spec.nodes[self.actor.me].name, spec.nodes[self.actor.me].system_id, state.incarnation
        );
        Self::log(&mut inner, line);
    }

    fn stepped(&self, old: &NodeState, new: &NodeState, out: &[ActorCommand<NodeActor>]) {
        let mut inner = self.lock();
        if old != new {
            for line in describe::console_events(&self.actor.spec, self.actor.me, old, new) {
                Self::log(&mut inner, line);
            }
            inner.state = Some(new.clone());
        }
        self.membership_lines(&mut inner, old, new, out);
    }
}

/// A node's condition, as the control endpoint and `vmsc run` report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// A member running cluster work (`NodeActor::is_active`).
    Active,
    /// Took a CLUEXIT bugcheck; halted until it reboots.
    Cluexit,
    /// Crashed (by request) and not rebooted.
    Down,
    /// Booted, not a member: waiting to form or join a cluster.
    Joining,
    /// A settled member whose cluster lacks the votes for quorum (`is_quorum_hung`).
    QuorumHung,
    /// A member in, or waiting for, a state transition.
    Transition,
}

/// A view as the control endpoint reports it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ViewStatus {
    /// Transition number.
    pub seq: u32,
    /// The members, in cluster-file order.
    pub members: Vec<String>,
    /// CL_EXPECTED_VOTES.
    pub expected_votes: u32,
    /// CL_QUORUM.
    pub quorum: u32,
    /// Votes of the members this node reaches (itself included).
    pub votes: u32,
}

/// What the control endpoint's `show` reports about a node (also its JSON form).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// SCSNODE name.
    pub node: String,
    /// SCSSYSTEMID.
    pub system_id: u32,
    /// The condition now.
    pub status: Condition,
    /// The actor's boot count (0 at the first boot).
    pub incarnation: u32,
    /// The view, `None` for a non-member.
    pub view: Option<ViewStatus>,
    /// Running cluster work.
    pub active: bool,
    /// Its cluster has quorum among the members it reaches.
    pub quorate: bool,
    /// Nothing left to do but heartbeats (`NodeActor::is_quiescent`), and no reboot pending.
    pub quiescent: bool,
    /// Peers with an open circuit, in cluster-file order.
    pub connections: Vec<String>,
    /// Incarnations this process booted.
    pub boots: u32,
    /// CLUEXIT bugchecks this process took.
    pub cluexits: u32,
    /// Crashes on request.
    pub crashes: u32,
}

impl NodeStatus {
    /// The status of `actor`'s node in `state` (its latest), given its `life`.
    pub fn of(actor: &NodeActor, state: Option<&NodeState>, life: &Life) -> Self {
        let spec = &actor.spec;
        let me = actor.me;
        let names = |set: NodeSet| {
            set.iter()
                .filter(|&i| i < spec.len())
                .map(|i| spec.nodes[i].name.clone())
                .collect()
        };
        let running = life.phase == Phase::Running;
        let live = state.filter(|_| running);
        let status = match (life.phase, live) {
            (Phase::Halted, _) => Condition::Cluexit,
            (_, None) => Condition::Down,
            (_, Some(s)) if s.exited.is_some() => Condition::Cluexit,
            (_, Some(s)) if actor.is_active(s) => Condition::Active,
            (_, Some(s)) if actor.is_quorum_hung(s) => Condition::QuorumHung,
            (_, Some(s)) if s.view.is_some() => Condition::Transition,
            (_, Some(_)) => Condition::Joining,
        };
        let quiescent = match status {
            Condition::Down => true,
            Condition::Cluexit => false,
            _ => live.is_some_and(|s| actor.is_quiescent(s)),
        };
        Self {
            node: spec.nodes[me].name.clone(),
            system_id: spec.nodes[me].system_id,
            status,
            incarnation: state.map_or(0, |s| s.incarnation),
            view: live.and_then(|s| {
                s.view.map(|v| ViewStatus {
                    seq: v.seq,
                    members: names(v.members),
                    expected_votes: v.cevotes,
                    quorum: v.quorum,
                    votes: quorum::votes(spec, v.members.inter(s.conn.with(me))),
                })
            }),
            active: live.is_some_and(|s| actor.is_active(s)),
            quorate: live.is_some_and(|s| actor.quorate(s)),
            quiescent,
            connections: live.map_or_else(Vec::new, |s| names(s.conn)),
            boots: life.boots,
            cluexits: life.halts,
            crashes: life.crashes,
        }
    }
}

/// The trace's `status` record for a state: view, activity, quorum and CLUEXIT.
pub fn trace_status(actor: &NodeActor, state: &NodeState) -> Value {
    let spec: &ClusterSpec = &actor.spec;
    let names = |set: NodeSet| -> Vec<&str> {
        set.iter()
            .filter(|&i| i < spec.len())
            .map(|i| spec.nodes[i].name.as_str())
            .collect()
    };
    json!({
        "view": state.view.map(|v| json!({"seq": v.seq, "members": names(v.members), "quorum": v.quorum})),
        "active": actor.is_active(state),
        "quorate": actor.quorate(state),
        "connections": names(state.conn),
        "cluexit": state.exited.map(|rule| rule.describe()),
    })
}

/// `n` and the noun that agrees with it: `count(1, "node", "nodes")` is `1 node`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `17-FEB-2025 15:40:37`: an instant in UTC, as SHOW CLUSTER prints it.
pub fn vms_time(at: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{day:02}-{}-{year} {:02}:{:02}:{:02}",
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Year, month (1..=12) and day of the `days`-th day after 1970-01-01 (Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;
    use std::time::Duration;

    use stateright::actor::{Actor, Out};
    use vmsc_model::node::ProtocolOptions;

    use super::*;

    fn seed_actor(me: usize) -> NodeActor {
        NodeActor::new(
            Arc::new(ClusterSpec::seed()),
            me,
            ProtocolOptions::default(),
        )
    }

    #[test]
    fn vms_time_formats_like_show_cluster() {
        let at = UNIX_EPOCH + Duration::from_secs(1_739_806_837);
        assert_eq!(vms_time(at), "17-FEB-2025 15:40:37");
        assert_eq!(vms_time(UNIX_EPOCH), "01-JAN-1970 00:00:00");
        assert_eq!(
            vms_time(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "29-FEB-2000 00:00:00"
        );
    }

    #[test]
    fn console_logs_connections_and_membership_requests_once() {
        let actor = seed_actor(2);
        let console = Console::new(actor.clone());
        let mut out = Out::new();
        let booted = actor.on_start(Id::from(2), &None, &mut out);
        console.started(BootNonce::new(1), &booted, &out);
        // FRANK1's circuit opens, then its hello says it is a member.
        let mut state = Cow::Borrowed(&booted);
        let mut out = Out::new();
        actor.on_msg(
            Id::from(2),
            &mut state,
            Id::from(0),
            Msg::CircuitUp,
            &mut out,
        );
        let up = state.into_owned();
        console.stepped(&booted, &up, &out);
        let formed = actor.formed_state();
        let hello = vmsc_model::node::Hello {
            incarnation: 0,
            view: formed.view.map(|v| vmsc_model::node::View {
                members: v.members.without(2),
                ..v
            }),
            quorate: true,
            votes: 4,
            connections: 4,
        };
        let mut state = Cow::Borrowed(&up);
        actor.on_msg(
            Id::from(2),
            &mut state,
            Id::from(0),
            Msg::Hello(hello),
            &mut Out::new(),
        );
        let seen = state.into_owned();
        console.stepped(&up, &seen, &[]);
        // The Join timer sends a membership request to FRANK1, twice: logged once.
        for _ in 0..2 {
            let mut state = Cow::Borrowed(&seen);
            let mut out = Out::new();
            actor.on_timeout(
                Id::from(2),
                &mut state,
                &vmsc_model::node::Timer::Join,
                &mut out,
            );
            assert!(out
                .iter()
                .any(|c| matches!(c, Command::Send(_, Msg::JoinRequest { .. }))));
            console.stepped(&seen, &state, &out);
        }
        let lines = console.recent_lines();
        assert_eq!(
            lines[1..],
            [
                "%CNXMAN, Established connection to system FRANK1",
                "%CNXMAN, Sending VMScluster membership request to system FRANK1",
            ]
        );
        assert!(
            lines[0].starts_with("%SYSBOOT, System UK1 (SCSSYSTEMID 1029) booted"),
            "{lines:?}"
        );
        let life = Life {
            phase: Phase::Running,
            boots: 1,
            ..Life::default()
        };
        let status = console.status(&life);
        assert_eq!(status.status, Condition::Joining);
        assert_eq!(status.connections, ["FRANK1"]);
        assert!(!status.quiescent, "a request is outstanding");
    }

    #[test]
    fn status_of_a_formed_member_and_of_a_halted_node() {
        let actor = seed_actor(0);
        let formed = actor.formed_state();
        let life = Life {
            phase: Phase::Running,
            boots: 1,
            ..Life::default()
        };
        let status = NodeStatus::of(&actor, Some(&formed), &life);
        assert_eq!(status.status, Condition::Active);
        assert!(status.active && status.quorate && status.quiescent);
        let view = status.view.expect("a member has a view");
        assert_eq!(
            (view.seq, view.quorum, view.votes, view.expected_votes),
            (1, 3, 5, 5)
        );
        assert_eq!(view.members, ["FRANK1", "FRANK2", "UK1", "CHIC1", "CHIC2"]);
        let halted = Life {
            phase: Phase::Halted,
            halts: 1,
            ..life
        };
        let status = NodeStatus::of(&actor, Some(&formed), &halted);
        assert_eq!(
            (status.status, status.quiescent, status.cluexits),
            (Condition::Cluexit, false, 1)
        );
        let down = Life {
            phase: Phase::Down,
            crashes: 1,
            ..life
        };
        let status = NodeStatus::of(&actor, Some(&formed), &down);
        assert_eq!(
            (status.status, status.quiescent, status.view),
            (Condition::Down, true, None)
        );
    }
}
