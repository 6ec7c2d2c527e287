//! The node actor: the OpenVMS connection manager (CNXMAN) and the membership protocol.
//!
//! One [`NodeActor`] runs on every node. It is pure: it never reads a clock or touches a socket;
//! everything it does is returned as Stateright commands, so the model checker and the UDP
//! runtime drive exactly this code.
//!
//! # What the actor sees
//! * **Circuits.** The port layer below (PEDRIVER's hellos and virtual circuits — the checker's
//!   environment, or the runtime's heartbeat layer) reports [`Msg::CircuitUp`] and
//!   [`Msg::CircuitDown`] per peer. Messages on a circuit are delivered in order; a circuit that
//!   fails loses what was in flight.
//! * **Connection-manager messages** from peers ([`Msg::Hello`], [`Msg::Propose`], ...).
//! * **Two timers**: [`Timer::Recnx`] (a member needs a state transition: after RECNXINTERVAL for
//!   a lost member, sooner for a returned member or a retry) and [`Timer::Join`] (a non-member
//!   tries to join or form a cluster).
//!
//! # The algorithm
//! *Views.* A member holds a [`View`]: transition number `seq`, the member set, the cluster's
//! expected votes and quorum (see [`crate::quorum`] for the formula and the dynamic raise). The
//! set `ok` holds the members *confirmed* in this view: all of them at commit; a member whose
//! circuit fails leaves `ok` and re-enters only through a committed transition.
//!
//! *Activity.* A member is **active** (runs cluster work: locks, I/O) only if it is idle (in no
//! transition), every other member is connected and confirmed, and the members' votes reach the
//! quorum. A member with all members present but too few votes is in a **quorum hang**; it does
//! not crash. A member that lost a member is suspended until a transition.
//!
//! *State transitions* (Davis ch. 7) run in two phases under one coordinator:
//! 1. **Proposal.** The coordinator (the *coordinator-elect* — the member with the lowest system
//!    id among those a node can reach — when a member's RECNX timer fires; or the member that
//!    received a membership request) proposes `{itself} ∪` its connected members (plus the
//!    joiner). Each receiver refuses if it is busy with another coordinator (or coordinating
//!    itself), if its view is not the proposal's base view, or if it lacks a circuit to any
//!    proposed node; otherwise it accepts and *locks* to the coordinator (suspending itself).
//!    Every reply carries the sender's circuits. If anyone was busy the coordinator aborts and
//!    retries later; if everyone accepted it commits; otherwise it computes the best fully
//!    connected subset ([`crate::quorum::best_clique`]: figure of merit `256 × votes + nodes`,
//!    current members before joiners, lowest system ids on ties) and proposes again if that subset
//!    contains itself, or abandons.
//! 2. **Commit.** The coordinator installs the new view with `seq + 1` and sends it; receivers
//!    install it, stay suspended and confirm. A commit cannot be abandoned.
//! 3. **Release.** When every member confirmed, the coordinator releases them (Davis: "the
//!    transition ends when the coordinator lock is released") and the new cluster runs.
//!
//! Because no node runs in the new view before *every* member installed it, a participant that
//! accepted a proposal and then lost the coordinator before the commit reached it can safely fall
//! back to its old view: the new view never ran anywhere. A member that lost the coordinator after
//! installing keeps the new view.
//!
//! *Joining and forming.* A non-member learns from hellos which connected peers are members. When
//! its Join timer fires it sends a membership request to one member (of the cluster that ran most
//! recently, then the lowest system id) and asks no other until that member answers — a refusal or
//! a proposal — or the circuit to it changes (Davis pp. 7-37/38: the joiner asks ONE member; two
//! requests in flight would start two join transitions that refuse each other); a refusal for
//! want of a circuit lasts only if the joiner's circuits are still those its request reported. The
//! member refuses if it is busy, if the joiner lacks a circuit to any member, or if admitting it
//! would raise the quorum above the votes present ("disruptive joiner"); otherwise it coordinates
//! a transition that adds the joiner. With no member in sight, the joiner with the lowest system
//! id forms a cluster once the connected joiners' votes reach the quorum estimated from their
//! largest EXPECTED_VOTES.
//!
//! *CLUEXIT.* When a circuit opens between members of different views, both exchange hellos and
//! apply [`crate::cluexit::decide`]; the loser crashes and later reboots with a new incarnation.
//!
//! *Timer hygiene.* After every step that changed something, a node cancels each
//! connection-manager timer that is **dead** ([`NodeActor::timer_is_dead`]): RECNX unless the node
//! is an idle member that needs a transition, JOIN unless it is an idle non-member with no
//! membership request outstanding. A dead timer could only fire as a no-op until a later step of
//! this node arms it again: every way back to "idle member that needs a transition" goes through
//! a circuit failure, the return to idle after a transition or an installation, and every
//! way back to "idle non-member with nothing outstanding" through a refusal, a circuit change, an
//! unlock or a reboot — and each of those sets the timer, with a fresh duration, in the old code
//! as in this one. So cancelling changes no behaviour and no timing. It matters to the checker:
//! an armed timer is part of the state, and states that differ only in a stale one double
//! everything that follows them (`vmsc whatif --fail node:CHIC1 --fail node:CHIC2 --heal`:
//! 14.0 M states without the hygiene, 1.28 M with it). `model/tests/timers.rs` checks the claim:
//! on every configuration it explores, the states reachable with the hygiene are exactly the
//! states reachable without it, with their dead timers dropped.
//!
//! # Invariants the checker verifies (see `specs/invariants.md`)
//! no split-brain; members fully connected at commit; quorum never below `floor((E+2)/2)`;
//! transition numbers monotone per node; a removed node never acts as a member again without a
//! reboot and a join.

use crate::cluexit::{self, ExitRule, Side};
use crate::config::ClusterSpec;
use crate::dlm::{DlmMsg, DlmState, DlmVariant};
use crate::nodeset::NodeSet;
use crate::quorum::{self, QuorumRule};
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, Id, Out};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// A cluster view: what a member believes the cluster is.
/// `Debug` is written out in [`crate::describe`]: one line, node names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct View {
    /// Transition number; increases at every committed transition.
    pub seq: u32,
    /// The members.
    pub members: NodeSet,
    /// CL_EXPECTED_VOTES after the dynamic raise.
    pub cevotes: u32,
    /// The quorum derived from `cevotes`.
    pub quorum: u32,
    /// The quorum disk granted this view its votes (see [`Msg::DiskClaim`]).
    pub qdisk: bool,
    /// Lineage: the transition number of the latest view in this chain whose members had
    /// quorum when it was committed (the last time the cluster could run).
    pub ran_seq: u32,
    /// The members of that view.
    pub ran_members: NodeSet,
}

/// The connect message: who I am and what cluster I am in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hello {
    /// Boot count of the sender (its incarnation).
    pub incarnation: u32,
    /// The sender's view, `None` for a node that is not a member.
    pub view: Option<View>,
    /// The sender's cluster has quorum.
    pub quorate: bool,
    /// Votes available to the sender's cluster.
    pub votes: u32,
    /// Number of circuits the sender has.
    pub connections: u32,
}

/// Phase 1 of a state transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Proposal {
    /// The view the transition starts from (`None` when forming a cluster).
    pub base: Option<View>,
    /// The view that will be committed.
    pub view: View,
}

/// A participant's answer to a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Verdict {
    /// Accepted; the participant is locked to the coordinator.
    Ack,
    /// Refused: locked to another coordinator, or coordinating itself.
    Busy,
    /// Refused: the participant's view is not the proposal's base.
    OtherView,
    /// Refused: the participant lacks a circuit to some proposed node.
    NotConnected,
}

/// Why a membership request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Refusal {
    /// The member is in, or waiting for, a state transition.
    Busy,
    /// The joiner lacks a circuit to some member.
    NotConnected,
    /// Admitting the joiner would raise the quorum above the votes present.
    Disruptive,
}

/// Everything a node receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Msg {
    /// Port layer: the circuit to the sender opened.
    CircuitUp,
    /// Port layer: the circuit to the sender failed.
    CircuitDown,
    /// Connect message, sent when a circuit opens and to non-members after each commit.
    Hello(Hello),
    /// A non-member asks to join; carries its circuits.
    JoinRequest {
        /// The joiner's circuits.
        conn: NodeSet,
    },
    /// The member refuses a membership request.
    JoinRefused(Refusal),
    /// Phase 1: proposal.
    Propose(Proposal),
    /// Answer to a proposal, with the participant's circuits.
    Reply {
        /// The proposed view's transition number.
        seq: u32,
        /// Accept or refuse.
        verdict: Verdict,
        /// The participant's circuits.
        conn: NodeSet,
    },
    /// Phase 2: commit the proposed view.
    Commit(View),
    /// A participant installed the committed view.
    Committed {
        /// The view's transition number.
        seq: u32,
    },
    /// Phase 3: every member installed the view; the transition is over.
    Release {
        /// The view's transition number.
        seq: u32,
        /// The members that installed the view (the coordinator included). A member lost
        /// before it confirmed is not among them: the receivers do not count it as confirmed,
        /// so a transition stays due until it is re-confirmed or removed.
        confirmed: NodeSet,
    },
    /// A member whose RECNX timer expired asks the coordinator-elect to run a transition.
    NeedTransition,
    /// Coordinator → quorum disk: claim the disk's votes for `view`, a successor of `base`.
    DiskClaim {
        /// The view the transition started from.
        base: Option<View>,
        /// The view about to be committed.
        view: View,
    },
    /// Quorum disk → coordinator: whether `view` may count the disk's votes, and the view the
    /// disk records as its owner (QUORUM.DAT's cluster incarnation).
    DiskGrant {
        /// The claimed view's transition number.
        seq: u32,
        /// Granted or refused.
        granted: bool,
        /// The owner view the disk records (after the grant, if granted).
        owner: Option<View>,
    },
    /// The coordinator abandons (or releases this participant from) its proposal.
    Abort {
        /// The abandoned proposal's transition number.
        seq: u32,
    },
    /// Lock manager traffic (only when the cluster file has clients; see [`crate::dlm::cluster`]).
    Dlm(DlmMsg),
}

/// The actor's timers (no ids inside, so symmetry reduction stays sound).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timer {
    /// A member needs a state transition (RECNXINTERVAL after a loss; sooner otherwise).
    Recnx,
    /// A non-member tries to join or form a cluster.
    Join,
    /// Lock client `k` of this node issues its next request (only with clients). Carries no
    /// node id, but distinguishes the clients, so symmetry reduction does not apply to it.
    Client(u8),
    /// DEADLOCK_WAIT: a request queued at this master may be deadlocked (only with clients;
    /// see [`crate::dlm::deadlock`]).
    Deadlock,
}

/// A coordinator's bookkeeping for the current proposal round.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Coord {
    /// The view the transition starts from.
    pub base: Option<View>,
    /// The view proposed in this round.
    pub view: View,
    /// Participants whose reply is outstanding.
    pub waiting: NodeSet,
    /// Participants that replied.
    pub replied: NodeSet,
    /// Participants that accepted.
    pub acked: NodeSet,
    /// Participants in another view.
    pub other_view: NodeSet,
    /// Some participant was busy.
    pub busy: bool,
    /// Reported circuits, indexed by node.
    pub rows: Vec<NodeSet>,
    /// Nodes whose rows were reported in an earlier round of this transition attempt and are
    /// kept: a round that leaves a node out does not forget what it said (without this, a
    /// coordinator could alternate forever between a membership with that node and one without
    /// it — found by `vmsc experiment` on the seed's FRA–ORD cut).
    pub heard: NodeSet,
}

/// Where a node is in a state transition.
/// `Debug` is written out in [`crate::describe`]: node names for coordinators.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// In no transition.
    Idle,
    /// Coordinating a transition.
    Coordinating(Box<Coord>),
    /// Accepted a proposal; suspended until commit or abort.
    Locked {
        /// The coordinator's node index.
        coordinator: u8,
        /// The accepted view.
        view: View,
    },
    /// Coordinator: every participant accepted; waiting for the quorum disk's answer.
    Claiming(Box<Coord>),
    /// Coordinator: committed, waiting for every member to confirm (`waiting`).
    Committing {
        /// Members whose confirmation is outstanding.
        waiting: NodeSet,
    },
    /// Participant: installed the committed view, suspended until the coordinator releases it.
    Installed {
        /// The coordinator's node index.
        coordinator: u8,
    },
}

/// A node's state.
/// `Debug` is written out in [`crate::describe`]: fields at their resting value are left out.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeState {
    /// Boot count: tells a rebooted node apart from its earlier self.
    pub incarnation: u32,
    /// Set once the node took a CLUEXIT bugcheck; the node is then down until it reboots.
    pub exited: Option<ExitRule>,
    /// Peers (nodes) with an open circuit.
    pub conn: NodeSet,
    /// The circuit to the quorum disk is open (the disk's votes can count for this node).
    /// For the quorum disk itself: unused.
    pub disk: bool,
    /// The current view; `None` while not a member.
    pub view: Option<View>,
    /// Members confirmed in the current view.
    pub ok: NodeSet,
    /// Transition phase.
    pub phase: Phase,
    /// Non-member: connected peers that are members of some cluster.
    pub members_seen: NodeSet,
    /// Non-member: connected peers that are not members either.
    pub joiners_seen: NodeSet,
    /// Non-member: the view each connected member announced, by node index.
    pub member_views: Vec<(u8, View)>,
    /// Non-member: the last membership request was refused, and nothing has changed since.
    pub refused: Option<Refusal>,
    /// A member asked this node (its coordinator-elect) for a transition while it was busy.
    pub requested: bool,
    /// This node asked its coordinator-elect for a transition and has seen no proposal from it,
    /// no new view and no circuit change since (at most one NeedTransition is outstanding).
    pub asked: bool,
    /// Non-member: the member this node sent its membership request to, while that request is
    /// unanswered — no refusal, no proposal from it, no circuit change and no new view since. A
    /// joiner asks one member at a time (Davis pp. 7-37/38); a second request to another member
    /// would start a second, colliding join transition. With it, the circuits the request
    /// reported: a refusal for want of a circuit that has come up since is stale.
    pub join_asked: Option<(u8, NodeSet)>,
    /// The lock manager (empty and constant without clients).
    pub dlm: DlmState,
    /// This state's own hash, computed once per allocation for the checkers' fingerprint
    /// ([`NodeState::fingerprint`]); not part of the state (equality, order and `Hash` ignore it).
    pub memo: HashMemo,
}

/// A node state's memoized fingerprint ([`NodeState::fingerprint`]).
///
/// A state held by a checker sits in an `Arc` and is never mutated: a step that changes a node
/// clones its state first (`Cow::to_mut`), and the clone starts with an empty memo. So the
/// memo, once filled, always describes the state it sits in, and a successor that leaves a node
/// unchanged shares that node's `Arc` and memo with its parent: the checker hashes each node
/// state once, not once per state it appears in. Whoever mutates a `NodeState` in place after
/// hashing it must call [`HashMemo::clear`] (nothing in vmsc does).
#[derive(Default)]
pub struct HashMemo(std::sync::atomic::AtomicU64);

impl HashMemo {
    /// Forgets the memoized hash.
    pub fn clear(&mut self) {
        *self.0.get_mut() = 0;
    }
}

impl Clone for HashMemo {
    /// A clone is made to be changed: it starts empty.
    fn clone(&self) -> Self {
        HashMemo::default()
    }
}

impl PartialEq for HashMemo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for HashMemo {}

impl PartialOrd for HashMemo {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for HashMemo {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl std::hash::Hash for HashMemo {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

impl NodeState {
    /// The state's fingerprint: its `Hash` through [`crate::explore::fp`], memoized in
    /// [`NodeState::memo`] (never 0, the memo's "not yet").
    pub fn fingerprint(&self) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        match self.memo.0.load(Relaxed) {
            0 => {
                let h = crate::explore::fp(self).max(1);
                self.memo.0.store(h, Relaxed);
                h
            }
            h => h,
        }
    }

    /// `p` answered (or can no longer answer) this node's outstanding membership request:
    /// clears it and returns the circuits the request reported; `None` if none was
    /// outstanding to `p`.
    pub fn join_answered_by(&mut self, p: usize) -> Option<NodeSet> {
        match self.join_asked {
            Some((t, sent)) if t as usize == p => {
                self.join_asked = None;
                Some(sent)
            }
            _ => None,
        }
    }
}

/// Protocol variants. Only the default is correct; the others are negative controls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProtocolOptions {
    /// The quorum rule.
    pub quorum_rule: QuorumRule,
    /// On first boot, start as a member of the full cluster (view 1) instead of joining; the
    /// checker uses it so faults hit a formed cluster. Reboots always join.
    pub start_formed: bool,
    /// Lock-manager variant (negative controls).
    pub dlm: DlmVariant,
    /// What a node does with its dead timers (see the module doc).
    pub timers: TimerHygiene,
}

/// What a node does with a connection-manager timer that is dead
/// ([`NodeActor::timer_is_dead`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TimerHygiene {
    /// Cancel it after every step that changed something (the protocol as specified).
    #[default]
    Cancel,
    /// Leave it armed: the same behaviour, more states. The reference of the equivalence test
    /// (`model/tests/timers.rs`).
    Keep,
    /// Negative control: also cancel a JOIN timer that is live (an idle non-member with no
    /// request outstanding), so a refused joiner never asks again. The equivalence test must
    /// catch it.
    CancelLiveJoin,
}

/// The node actor. `me` is this node's index in the cluster file and its `Id`.
#[derive(Clone, Debug)]
pub struct NodeActor {
    /// The cluster file.
    pub spec: Arc<ClusterSpec>,
    /// This node's index.
    pub me: usize,
    /// Variants.
    pub opts: ProtocolOptions,
}

type O = Out<NodeActor>;

fn id(i: usize) -> Id {
    Id::from(i)
}

fn ix(id: Id) -> usize {
    usize::from(id)
}

impl NodeActor {
    /// A node actor.
    pub fn new(spec: Arc<ClusterSpec>, me: usize, opts: ProtocolOptions) -> Self {
        NodeActor { spec, me, opts }
    }

    fn n(&self) -> usize {
        self.spec.len()
    }

    fn recnx(&self) -> std::ops::Range<Duration> {
        let d = Duration::from_millis(self.spec.recnx_interval_ms);
        d..d + Duration::from_millis(self.spec.hello_interval_ms / 4)
    }

    /// Short delay for a re-confirming transition or a retry, staggered by system-id rank so two
    /// colliding coordinators do not retry in step.
    fn soon(&self) -> std::ops::Range<Duration> {
        let rank = self
            .spec
            .nodes
            .iter()
            .filter(|n| n.system_id < self.spec.nodes[self.me].system_id)
            .count();
        let d = Duration::from_millis(self.spec.hello_interval_ms * (1 + rank as u64));
        d..d + Duration::from_millis(self.spec.hello_interval_ms / 4)
    }

    fn join_delay(&self) -> std::ops::Range<Duration> {
        let d = Duration::from_millis(self.spec.hello_interval_ms * 2);
        d..d + Duration::from_millis(self.spec.hello_interval_ms)
    }

    /// True for the actor that plays the quorum disk (index = number of nodes).
    pub fn is_disk(&self) -> bool {
        self.me == self.n()
    }

    /// The quorum disk's initial state: `view` holds the view owning the disk's votes, `conn`
    /// the nodes with a circuit to it (its watchers).
    fn disk_state(&self) -> NodeState {
        let mut s = self.booting_state(0);
        if self.opts.start_formed {
            let f = NodeActor {
                me: 0,
                ..self.clone()
            }
            .formed_state();
            s.view = f.view;
            s.conn = NodeSet::first(self.n());
        }
        s
    }

    /// The quorum disk: a shared register (QUORUM.DAT) that records which view holds its votes
    /// and grants them to one cluster at a time. A claim succeeds only if the disk was never
    /// claimed or the claimant's view directly succeeds the recorded owner view, so the votes pass
    /// along one chain of views and two successors of the same view can never both count them.
    /// A cluster that lost the chain (its transition committed without reaching the disk) runs
    /// without the disk's votes until the disk is reconfigured: availability is traded for
    /// safety. (OpenVMS also lets a forming node take over a disk whose activity counter stopped;
    /// vmsc leaves that out because a running cluster that merely lost its path to the disk would
    /// then be split from the new one.)
    fn disk_on_msg(&self, s: &mut NodeState, p: usize, msg: Msg, o: &mut O) {
        match msg {
            Msg::CircuitUp => s.conn.insert(p),
            Msg::CircuitDown => s.conn.remove(p),
            Msg::DiskClaim { base, view } => {
                // The owner record and the claimant's base are the same view if they agree on
                // transition number and members (the lineage fields are completed at commit).
                let same = |a: &View, b: &View| a.seq == b.seq && a.members == b.members;
                let free = match (s.view, base) {
                    (None, _) => true,
                    (Some(owner), Some(b)) => same(&owner, &b),
                    (Some(_), None) => false,
                };
                if free {
                    s.view = Some(View {
                        qdisk: true,
                        ..view
                    });
                }
                o.send(
                    id(p),
                    Msg::DiskGrant {
                        seq: view.seq,
                        granted: free,
                        owner: s.view,
                    },
                );
            }
            _ => {}
        }
    }

    /// The formed initial state (view 1 with every node).
    pub fn formed_state(&self) -> NodeState {
        let all = NodeSet::first(self.n());
        let cevotes = quorum::next_cevotes(&self.spec, 0, all);
        let qdisk = self.spec.quorum_disk.is_some();
        let view = View {
            seq: 1,
            members: all,
            cevotes,
            quorum: self.opts.quorum_rule.quorum(cevotes),
            qdisk,
            ran_seq: 1,
            ran_members: all,
        };
        NodeState {
            disk: self.spec.quorum_disk.is_some(),
            conn: all.without(self.me),
            view: Some(view),
            ok: all,
            dlm: self.dlm_initial(true),
            ..self.booting_state(0)
        }
    }

    fn booting_state(&self, incarnation: u32) -> NodeState {
        NodeState {
            incarnation,
            exited: None,
            disk: false,
            conn: NodeSet::EMPTY,
            view: None,
            ok: NodeSet::EMPTY,
            phase: Phase::Idle,
            members_seen: NodeSet::EMPTY,
            joiners_seen: NodeSet::EMPTY,
            member_views: Vec::new(),
            refused: None,
            requested: false,
            asked: false,
            join_asked: None,
            dlm: self.dlm_initial(false),
            memo: HashMemo::default(),
        }
    }

    // ----- queries (also used by the checker's properties and the runtime's console) -----

    /// The view's members, or the empty set for a non-member.
    pub fn members(&self, s: &NodeState) -> NodeSet {
        s.view.map_or(NodeSet::EMPTY, |v| v.members)
    }

    /// Votes of `present` members of this node's view, plus the quorum disk's votes if the view
    /// holds the disk and this node can reach it.
    pub fn view_votes(&self, s: &NodeState, present: NodeSet) -> u32 {
        let disk = s.view.is_some_and(|v| v.qdisk) && s.disk;
        quorum::votes(&self.spec, present) + if disk { self.spec.disk_votes() } else { 0 }
    }

    /// Votes of the members this node can reach (itself included).
    pub fn available_votes(&self, s: &NodeState) -> u32 {
        match s.view {
            Some(v) => self.view_votes(s, v.members.inter(s.conn.with(self.me))),
            None => self.spec.nodes[self.me].votes,
        }
    }

    /// The node's cluster has quorum among the members it can reach.
    pub fn quorate(&self, s: &NodeState) -> bool {
        s.exited.is_none() && s.view.is_some_and(|v| self.available_votes(s) >= v.quorum)
    }

    /// A member lost a member or has one not yet re-confirmed: a transition is due.
    pub fn needs_transition(&self, s: &NodeState) -> bool {
        match s.view {
            None => false,
            Some(v) => {
                let others = v.members.without(self.me);
                !others.is_subset(s.conn) || !others.is_subset(s.ok)
            }
        }
    }

    /// Active: a member running cluster work — idle, every member connected and confirmed, and
    /// the quorum met.
    pub fn is_active(&self, s: &NodeState) -> bool {
        s.exited.is_none()
            && s.phase == Phase::Idle
            && !self.needs_transition(s)
            && s.view
                .is_some_and(|v| self.view_votes(s, v.members) >= v.quorum)
    }

    /// Quorum hang: a settled member whose cluster lacks the votes for quorum.
    pub fn is_quorum_hung(&self, s: &NodeState) -> bool {
        s.exited.is_none()
            && s.phase == Phase::Idle
            && !self.needs_transition(s)
            && s.view
                .is_some_and(|v| self.view_votes(s, v.members) < v.quorum)
    }

    /// Nothing left to do but heartbeats, or retries that would be refused for a lasting reason.
    pub fn is_quiescent(&self, s: &NodeState) -> bool {
        if s.exited.is_some() {
            return true;
        }
        if s.phase != Phase::Idle {
            return false;
        }
        if s.view.is_some() {
            return !self.needs_transition(s);
        }
        if !s.members_seen.inter(s.conn).is_empty() {
            return matches!(s.refused, Some(Refusal::NotConnected | Refusal::Disruptive));
        }
        self.formation(s).is_none()
    }

    fn hello(&self, s: &NodeState) -> Msg {
        Msg::Hello(Hello {
            incarnation: s.incarnation,
            view: s.view,
            quorate: self.quorate(s),
            votes: self.available_votes(s),
            connections: s.conn.len() as u32,
        })
    }

    // ----- transitions -----

    fn view_for(&self, base: Option<View>, members: NodeSet) -> View {
        let seq = base.map_or(1, |b| b.seq + 1);
        let cevotes = quorum::next_cevotes(&self.spec, base.map_or(0, |b| b.cevotes), members);
        let (ran_seq, ran_members) =
            base.map_or((0, NodeSet::EMPTY), |b| (b.ran_seq, b.ran_members));
        View {
            seq,
            members,
            cevotes,
            quorum: self.opts.quorum_rule.quorum(cevotes),
            qdisk: false,
            ran_seq,
            ran_members,
        }
    }

    fn start_transition(&self, s: &mut NodeState, base: Option<View>, members: NodeSet, o: &mut O) {
        self.start_round(s, base, members, None, o);
    }

    /// A proposal round for `members`; `carried` is what earlier rounds of the same attempt
    /// learned (the rows, and whose rows they are).
    fn start_round(
        &self,
        s: &mut NodeState,
        base: Option<View>,
        members: NodeSet,
        carried: Option<(Vec<NodeSet>, NodeSet)>,
        o: &mut O,
    ) {
        let view = self.view_for(base, members);
        if members == NodeSet::single(self.me) {
            let c = Coord {
                base,
                view,
                waiting: NodeSet::EMPTY,
                replied: NodeSet::EMPTY,
                acked: NodeSet::EMPTY,
                other_view: NodeSet::EMPTY,
                busy: false,
                rows: Vec::new(),
                heard: NodeSet::EMPTY,
            };
            self.claim_then_commit(s, c, o);
            return;
        }
        let (mut rows, heard) = carried.unwrap_or((vec![NodeSet::EMPTY; self.n()], NodeSet::EMPTY));
        rows[self.me] = s.conn;
        let waiting = members.without(self.me);
        for p in waiting.iter() {
            o.send(id(p), Msg::Propose(Proposal { base, view }));
        }
        s.phase = Phase::Coordinating(Box::new(Coord {
            base,
            view,
            waiting,
            replied: NodeSet::EMPTY,
            acked: NodeSet::EMPTY,
            other_view: NodeSet::EMPTY,
            busy: false,
            rows,
            heard,
        }));
    }

    /// Installs a committed view; `phase` is what the node does next (release wait or idle).
    fn install(&self, s: &mut NodeState, view: View, phase: Phase, o: &mut O) {
        let was_member = s.view.is_some();
        s.view = Some(view);
        self.dlm_install(s, view, o);
        // Confirmed: the members this node can reach now. A member whose circuit failed while
        // the transition ran (before this node installed) stays unconfirmed, so a transition is
        // still due; had it been counted, a later circuit up — possibly a reboot — would have
        // made this node active with a member that never confirmed the view.
        s.ok = view.members.inter(s.conn.with(self.me));
        s.phase = phase;
        s.refused = None;
        // A transition just completed with every member this node could reach: requests made
        // before it are answered by it, and so is this node's own request to its elect.
        s.requested = false;
        s.asked = false;
        s.join_asked = None;
        s.members_seen = NodeSet::EMPTY;
        s.member_views.clear();
        s.joiners_seen = NodeSet::EMPTY;
        if !was_member {
            o.cancel_timer(Timer::Join);
        }
        // Tell connected non-members (joiners, or members of another cluster) about the new view.
        let hello = self.hello(s);
        for p in s.conn.minus(view.members).iter() {
            o.send(id(p), hello);
        }
        if s.phase == Phase::Idle {
            self.idle_again(s, o);
        }
    }

    /// With a quorum disk in reach, ask it for its votes first; commit either way.
    fn claim_then_commit(&self, s: &mut NodeState, c: Coord, o: &mut O) {
        // Claim only for a view the disk's votes make quorate: a claim for a view that hangs
        // anyway would move the disk's chain to it and deny the votes to a cluster that could
        // run with them.
        let worth =
            quorum::votes(&self.spec, c.view.members) + self.spec.disk_votes() >= c.view.quorum;
        match self.spec.disk_index() {
            Some(d) if s.disk && worth => {
                o.send(
                    id(d),
                    Msg::DiskClaim {
                        base: c.base,
                        view: c.view,
                    },
                );
                s.phase = Phase::Claiming(Box::new(c));
            }
            _ => self.commit(s, c.view, o),
        }
    }

    fn on_disk_grant(
        &self,
        s: &mut NodeState,
        seq: u32,
        granted: bool,
        owner: Option<View>,
        o: &mut O,
    ) {
        let Phase::Claiming(c) = &s.phase else { return };
        if c.view.seq != seq {
            return;
        }
        let base_seq = c.base.map_or(0, |b| b.seq);
        let removed = owner.is_some_and(|w| !w.members.contains(self.me) && w.seq > base_seq);
        if !granted && removed && s.view.is_some() {
            // The disk witnesses a newer cluster that removed this node while it was away: it
            // must not run on its stale view (CANASTA rule 1, with the disk as the other node).
            let acked = c.acked;
            for p in acked.iter() {
                o.send(id(p), Msg::Abort { seq });
            }
            s.exited = Some(ExitRule::RemovedByQuorate);
            s.phase = Phase::Idle;
            o.cancel_timer(Timer::Recnx);
            o.cancel_timer(Timer::Join);
            return;
        }
        let view = View {
            qdisk: granted,
            ..c.view
        };
        self.commit(s, view, o);
    }

    fn commit(&self, s: &mut NodeState, view: View, o: &mut O) {
        let disk = if view.qdisk {
            self.spec.disk_votes()
        } else {
            0
        };
        let view = if quorum::votes(&self.spec, view.members) + disk >= view.quorum {
            View {
                ran_seq: view.seq,
                ran_members: view.members,
                ..view
            }
        } else {
            view
        };
        let waiting = view.members.without(self.me).inter(s.conn);
        for p in waiting.iter() {
            o.send(id(p), Msg::Commit(view));
        }
        let phase = if waiting.is_empty() {
            Phase::Idle
        } else {
            Phase::Committing { waiting }
        };
        self.install(s, view, phase, o);
    }

    /// Every member confirmed (or was lost): release them; the transition is over.
    fn release(&self, s: &mut NodeState, o: &mut O) {
        let Some(v) = s.view else { return };
        for p in v.members.without(self.me).inter(s.conn).iter() {
            o.send(
                id(p),
                Msg::Release {
                    seq: v.seq,
                    confirmed: s.ok,
                },
            );
        }
        s.phase = Phase::Idle;
        self.idle_again(s, o);
    }

    fn abandon(&self, s: &mut NodeState, release: NodeSet, seq: u32, o: &mut O) {
        for p in release.iter() {
            o.send(id(p), Msg::Abort { seq });
        }
        s.phase = Phase::Idle;
        self.after_unlock(s, o);
    }

    fn after_unlock(&self, s: &mut NodeState, o: &mut O) {
        if s.view.is_some() {
            self.idle_again(s, o);
        } else {
            o.set_timer(Timer::Join, self.join_delay());
        }
    }

    /// Ends a proposal round once every participant answered (or lost its circuit): abort if
    /// anyone was busy; otherwise compute the membership from what the replies revealed — the
    /// best clique containing this node among the nodes not claimed by a better clique without
    /// it — and commit it if it is what everyone accepted, or propose it in a new round.
    fn finish_round(&self, s: &mut NodeState, c: Coord, o: &mut O) {
        if c.busy {
            self.abandon(s, c.acked, c.view.seq, o);
            return;
        }
        let mut rows = c.rows.clone();
        rows[self.me] = s.conn;
        let current = c.base.map_or(NodeSet::EMPTY, |b| b.members);
        // Rows heard in earlier rounds count while their node is still connected.
        let heard = c.heard.inter(s.conn).minus(c.other_view);
        let known = c.replied.minus(c.other_view).union(heard).with(self.me);
        // Only nodes that some node we heard from can reach: a node nobody reports is down or
        // cut off from this whole component, and cannot join anything we could form.
        let reported = known.iter().fold(known, |acc, k| acc.union(rows[k]));
        let universe = current
            .union(c.view.members)
            .minus(c.other_view)
            .with(self.me)
            .inter(reported);
        let k = quorum::Knowledge { known, rows: &rows };
        // Peel off better memberships that exclude this node: their nodes will not join it.
        let mut pool = universe;
        let best = loop {
            let b = quorum::best_clique(&self.spec, k, pool, current);
            if b.contains(self.me) || b.is_empty() {
                break b.with(self.me);
            }
            pool = pool.minus(b);
        };
        let others = c.view.members.without(self.me);
        if best == c.view.members && c.acked == others && others.is_subset(s.conn) {
            self.claim_then_commit(s, c, o);
            return;
        }
        for p in c.acked.minus(best).iter() {
            o.send(id(p), Msg::Abort { seq: c.view.seq });
        }
        s.phase = Phase::Idle;
        self.start_round(s, c.base, best, Some((rows, known.without(self.me))), o);
    }

    fn formation(&self, s: &NodeState) -> Option<NodeSet> {
        if s.view.is_some() || !s.members_seen.inter(s.conn).is_empty() {
            return None;
        }
        let group = s.joiners_seen.inter(s.conn).with(self.me);
        let my_id = self.spec.nodes[self.me].system_id;
        let lowest = group.iter().all(|i| self.spec.nodes[i].system_id >= my_id);
        let max_expected = group
            .iter()
            .map(|i| self.spec.nodes[i].expected_votes)
            .max()
            .unwrap_or(1);
        let disk = if s.disk { self.spec.disk_votes() } else { 0 };
        let enough =
            quorum::votes(&self.spec, group) + disk >= self.opts.quorum_rule.quorum(max_expected);
        (lowest && enough && self.spec.nodes[self.me].votes > 0).then_some(group)
    }

    // ----- message handlers -----

    /// The coordinator-elect: the member with the lowest system id among this node and the
    /// members it can reach. Only it starts transitions for members that need
    /// one, which keeps concurrent coordinators (and their collisions) to the partial-connectivity
    /// cases where members disagree on who is reachable.
    pub fn coordinator_elect(&self, s: &NodeState) -> usize {
        let reach = self.members(s).inter(s.conn).with(self.me);
        reach
            .iter()
            .min_by_key(|&i| self.spec.nodes[i].system_id)
            .unwrap_or(self.me)
    }

    fn on_need_transition(&self, s: &mut NodeState, o: &mut O) {
        if s.view.is_none() {
            return;
        }
        if s.phase == Phase::Idle {
            let members = self.members(s).inter(s.conn).with(self.me);
            self.start_transition(s, s.view, members, o);
        } else {
            s.requested = true;
        }
    }

    /// Back to idle: run a transition someone asked for meanwhile, or arm the RECNX timer.
    fn idle_again(&self, s: &mut NodeState, o: &mut O) {
        if s.requested && s.view.is_some() {
            s.requested = false;
            let members = self.members(s).inter(s.conn).with(self.me);
            self.start_transition(s, s.view, members, o);
        } else if s.view.is_some() && self.needs_transition(s) {
            o.set_timer(Timer::Recnx, self.soon());
        }
    }

    fn on_circuit_up(&self, s: &mut NodeState, p: usize, o: &mut O) {
        s.asked = false;
        s.join_answered_by(p);
        if Some(p) == self.spec.disk_index() {
            s.disk = true;
            return;
        }
        s.conn.insert(p);
        o.send(id(p), self.hello(s));
        if s.view.is_some() {
            if s.phase == Phase::Idle && self.needs_transition(s) {
                let others = self.members(s).without(self.me);
                if others.is_subset(s.conn) {
                    o.set_timer(Timer::Recnx, self.soon());
                }
            }
        } else {
            s.refused = None;
            o.set_timer(Timer::Join, self.join_delay());
        }
    }

    fn on_circuit_down(&self, s: &mut NodeState, p: usize, o: &mut O) {
        s.asked = false;
        if s.join_answered_by(p).is_some() && s.view.is_none() && s.phase == Phase::Idle {
            // The request died with the circuit: ask again (another member, or form).
            o.set_timer(Timer::Join, self.join_delay());
        }
        if Some(p) == self.spec.disk_index() {
            s.disk = false;
            if let Phase::Claiming(c) = &s.phase {
                let view = c.view;
                self.commit(s, view, o);
            }
            return;
        }
        s.conn.remove(p);
        s.ok.remove(p);
        s.members_seen.remove(p);
        s.joiners_seen.remove(p);
        s.member_views.retain(|&(q, _)| q as usize != p);
        if s.view.is_none() {
            s.refused = None;
        }
        match &mut s.phase {
            Phase::Coordinating(c) if c.waiting.contains(p) || c.acked.contains(p) => {
                c.waiting.remove(p);
                c.acked.remove(p);
                if c.waiting.is_empty() {
                    let c = (**c).clone();
                    s.phase = Phase::Idle;
                    self.finish_round(s, c, o);
                }
            }
            Phase::Committing { waiting } if waiting.contains(p) => {
                waiting.remove(p);
                if waiting.is_empty() {
                    self.release(s, o);
                }
            }
            Phase::Locked { coordinator, .. } | Phase::Installed { coordinator }
                if *coordinator as usize == p =>
            {
                s.phase = Phase::Idle;
                self.after_unlock(s, o);
            }
            _ => {}
        }
        if self.members(s).contains(p) {
            o.set_timer(Timer::Recnx, self.recnx());
        }
    }

    fn on_hello(&self, s: &mut NodeState, p: usize, h: Hello, o: &mut O) {
        if s.view.is_none() {
            s.member_views.retain(|&(q, _)| q as usize != p);
            if let Some(v) = h.view {
                s.members_seen.insert(p);
                s.joiners_seen.remove(p);
                s.member_views.push((p as u8, v));
                s.member_views.sort_unstable();
            } else {
                s.joiners_seen.insert(p);
                s.members_seen.remove(p);
            }
            s.refused = None;
            if s.phase == Phase::Idle {
                o.set_timer(Timer::Join, self.join_delay());
            }
            return;
        }
        let Some(theirs) = h.view else { return };
        let mine = s.view.unwrap_or(theirs);
        if theirs == mine {
            return;
        }
        if theirs.seq < mine.seq && mine.members.contains(p) {
            // A stale hello from a node that has since joined this node's newer view.
            return;
        }
        let me_side = Side {
            ran_seq: mine.ran_seq,
            ran_members: mine.ran_members,
            quorate: self.quorate(s),
            lists_other: mine.members.contains(p),
            seq: mine.seq,
            votes: self.available_votes(s),
            connections: s.conn.len() as u32,
            system_id: self.spec.nodes[self.me].system_id,
            index: self.me,
        };
        let other = Side {
            ran_seq: theirs.ran_seq,
            ran_members: theirs.ran_members,
            quorate: h.quorate,
            lists_other: theirs.members.contains(self.me),
            seq: theirs.seq,
            votes: h.votes,
            connections: h.connections,
            system_id: self.spec.nodes[p].system_id,
            index: p,
        };
        if let Some(rule) = cluexit::decide(&me_side, &other) {
            s.exited = Some(rule);
            s.phase = Phase::Idle;
            o.cancel_timer(Timer::Recnx);
            o.cancel_timer(Timer::Join);
        }
    }

    fn on_join_request(&self, s: &mut NodeState, p: usize, joiner_conn: NodeSet, o: &mut O) {
        let refusal = match s.view {
            None => Some(Refusal::Busy),
            Some(v) => {
                let others = v.members.without(self.me);
                let candidate = self.view_for(Some(v), v.members.with(p));
                if s.phase != Phase::Idle || !others.is_subset(s.conn) {
                    Some(Refusal::Busy)
                } else if !others.is_subset(joiner_conn) {
                    Some(Refusal::NotConnected)
                } else if candidate.quorum > v.quorum
                    && self.view_votes(s, candidate.members) < candidate.quorum
                {
                    Some(Refusal::Disruptive)
                } else {
                    None
                }
            }
        };
        match refusal {
            Some(r) => o.send(id(p), Msg::JoinRefused(r)),
            None => {
                let members = self.members(s).inter(s.conn).with(self.me).with(p);
                self.start_transition(s, s.view, members, o);
            }
        }
    }

    fn on_propose(&self, s: &mut NodeState, p: usize, prop: Proposal, o: &mut O) {
        // Only the node this one asked answers its NeedTransition. (Reset on any proposal, a
        // node that kept refusing another coordinator's rounds asked its busy elect again after
        // each: an unbounded stream of NeedTransition, found by `plan --suggest`.)
        if p == self.coordinator_elect(s) {
            s.asked = false;
        }
        // The member asked to admit this node answers with a proposal.
        let answers_join = s.join_answered_by(p).is_some();
        let locked_to_p =
            matches!(s.phase, Phase::Locked { coordinator, .. } if coordinator as usize == p);
        let verdict = if !locked_to_p && s.phase != Phase::Idle {
            Verdict::Busy
        } else {
            let base_ok =
                prop.base == s.view || (s.view.is_none() && prop.view.members.contains(self.me));
            if !base_ok {
                Verdict::OtherView
            } else if !prop.view.members.without(self.me).is_subset(s.conn) {
                Verdict::NotConnected
            } else {
                Verdict::Ack
            }
        };
        if verdict == Verdict::Ack {
            s.phase = Phase::Locked {
                coordinator: p as u8,
                view: prop.view,
            };
        } else if locked_to_p {
            s.phase = Phase::Idle;
            self.after_unlock(s, o);
        } else if answers_join && s.view.is_none() && s.phase == Phase::Idle {
            // Refused the proposal that answered this node's request: ask again later.
            o.set_timer(Timer::Join, self.join_delay());
        }
        o.send(
            id(p),
            Msg::Reply {
                seq: prop.view.seq,
                verdict,
                conn: s.conn,
            },
        );
    }

    fn on_reply(
        &self,
        s: &mut NodeState,
        p: usize,
        seq: u32,
        verdict: Verdict,
        conn: NodeSet,
        o: &mut O,
    ) {
        let Phase::Coordinating(c) = &mut s.phase else {
            return;
        };
        if c.view.seq != seq || !c.waiting.contains(p) {
            return;
        }
        c.waiting.remove(p);
        c.replied.insert(p);
        c.rows[p] = conn;
        match verdict {
            Verdict::Ack => c.acked.insert(p),
            Verdict::Busy => c.busy = true,
            Verdict::OtherView => c.other_view.insert(p),
            Verdict::NotConnected => {}
        }
        if c.waiting.is_empty() {
            let c = (**c).clone();
            s.phase = Phase::Idle;
            self.finish_round(s, c, o);
        }
    }

    fn on_commit(&self, s: &mut NodeState, p: usize, view: View, o: &mut O) {
        // The committed view is the accepted one, completed by the coordinator with the quorum
        // disk's answer and the lineage: compare what the participant accepted.
        let accepted =
            |v: View| v.seq == view.seq && v.members == view.members && v.quorum == view.quorum;
        if matches!(s.phase, Phase::Locked { coordinator, view: v } if coordinator as usize == p && accepted(v))
        {
            self.install(
                s,
                view,
                Phase::Installed {
                    coordinator: p as u8,
                },
                o,
            );
            o.send(id(p), Msg::Committed { seq: view.seq });
        }
    }

    fn on_committed(&self, s: &mut NodeState, p: usize, seq: u32, o: &mut O) {
        if s.view.is_some_and(|v| v.seq == seq) {
            if let Phase::Committing { waiting } = &mut s.phase {
                waiting.remove(p);
                if waiting.is_empty() {
                    self.release(s, o);
                }
            }
        }
    }

    fn on_release(&self, s: &mut NodeState, p: usize, seq: u32, confirmed: NodeSet, o: &mut O) {
        let mine = matches!(s.phase, Phase::Installed { coordinator } if coordinator as usize == p);
        if mine && s.view.is_some_and(|v| v.seq == seq) {
            // A member that never installed the view (lost before it confirmed) is not
            // confirmed here either, even if this node still has a circuit to it.
            s.ok = s.ok.inter(confirmed.with(self.me));
            s.phase = Phase::Idle;
            self.idle_again(s, o);
        }
    }

    fn on_abort(&self, s: &mut NodeState, p: usize, seq: u32, o: &mut O) {
        if matches!(s.phase, Phase::Locked { coordinator, view } if coordinator as usize == p && view.seq == seq)
        {
            s.phase = Phase::Idle;
            self.after_unlock(s, o);
        }
    }
}

impl Actor for NodeActor {
    type Msg = Msg;
    type Timer = Timer;
    type State = NodeState;
    type Storage = u32;
    type Random = ();

    fn on_start(&self, _id: Id, storage: &Option<u32>, o: &mut O) -> NodeState {
        let incarnation = storage.map_or(0, |boots| boots + 1);
        if self.is_disk() {
            return self.disk_state();
        }
        o.save(incarnation);
        self.dlm_start(o);
        if incarnation == 0 && self.opts.start_formed {
            self.formed_state()
        } else {
            o.set_timer(Timer::Join, self.join_delay());
            self.booting_state(incarnation)
        }
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<NodeState>, src: Id, msg: Msg, o: &mut O) {
        if state.exited.is_some() {
            return;
        }
        let p = ix(src);
        if p == self.me {
            // Only the node's external lock clients speak as the node itself.
            self.on_self_msg(state, msg, o);
            return;
        }
        if p >= self.spec.actors_len() {
            return;
        }
        if self.is_disk() {
            self.disk_on_msg(state.to_mut(), p, msg, o);
            return;
        }
        let s = state.to_mut();
        match msg {
            Msg::CircuitUp => self.on_circuit_up(s, p, o),
            Msg::CircuitDown => self.on_circuit_down(s, p, o),
            Msg::Hello(h) => self.on_hello(s, p, h, o),
            Msg::JoinRequest { conn } => self.on_join_request(s, p, conn, o),
            Msg::JoinRefused(r) => {
                // A refusal judged on circuits that have changed since the request is stale:
                // it does not last (a NotConnected one would otherwise leave the node
                // quiescent for good); ask again.
                let stale = s.join_answered_by(p).is_some_and(|sent| sent != s.conn);
                if s.view.is_none() && s.phase == Phase::Idle {
                    s.refused = (!stale).then_some(r);
                    o.set_timer(Timer::Join, self.join_delay());
                }
            }
            Msg::Propose(prop) => self.on_propose(s, p, prop, o),
            Msg::Reply { seq, verdict, conn } => self.on_reply(s, p, seq, verdict, conn, o),
            Msg::Commit(v) => self.on_commit(s, p, v, o),
            Msg::Committed { seq } => self.on_committed(s, p, seq, o),
            Msg::Release { seq, confirmed } => self.on_release(s, p, seq, confirmed, o),
            Msg::Abort { seq } => self.on_abort(s, p, seq, o),
            Msg::NeedTransition => self.on_need_transition(s, o),
            Msg::DiskGrant {
                seq,
                granted,
                owner,
            } => self.on_disk_grant(s, seq, granted, owner, o),
            Msg::DiskClaim { .. } => {}
            Msg::Dlm(m) => self.dlm_handle(s, p, m, o),
        }
        self.dlm_poll(s, o);
        self.tidy_timers(s, o);
    }

    fn on_timeout(&self, me: Id, state: &mut Cow<NodeState>, timer: &Timer, o: &mut O) {
        self.on_timer(me, state, timer, o);
        // Whether a timer is dead depends on the node's state alone, so only a step that
        // changed it can kill one; a timeout that changed nothing stays what it was (a lock
        // client's re-armed timer, say, stays a no-op for the checker).
        if matches!(state, Cow::Owned(_)) {
            self.tidy_timers(state, o);
        }
    }

    fn name(&self) -> String {
        match self.spec.nodes.get(self.me) {
            Some(n) => n.name.clone(),
            None => "QDISK".to_string(),
        }
    }
}

impl NodeActor {
    /// Whether connection-manager timer `t` is **dead** at `s`: firing it now would do nothing,
    /// and it stays dead until a step of this node arms it again (see the module doc). RECNX
    /// lives only while the node is an idle member that needs a transition; JOIN only while it
    /// is an idle non-member with no membership request outstanding. The lock manager's timers
    /// and the quorum disk's are never dead; an exited node has no timers left.
    pub fn timer_is_dead(&self, s: &NodeState, t: Timer) -> bool {
        if self.is_disk() || s.exited.is_some() {
            return false;
        }
        let idle = s.phase == Phase::Idle;
        match t {
            Timer::Recnx => !(idle && s.view.is_some() && self.needs_transition(s)),
            Timer::Join => !(idle && s.view.is_none() && s.join_asked.is_none()),
            Timer::Client(_) | Timer::Deadlock => false,
        }
    }

    /// Whether `msg`, waiting in a flow to this node, is **dead** at `s`: delivering it now
    /// would do nothing, and so would delivering it in any later state of this incarnation. One
    /// kind is: a hello without a view (its sender was not a member when it sent it) to a
    /// member. [`NodeActor::on_msg`] answers it by returning at once (a member learns nothing from
    /// a non-member's hello: only a joiner records who is a member and who is not, and only a
    /// hello with a view can trigger a CLUEXIT), and a member stays a member until it goes down
    /// — no step drops its view — which loses every message in flight to it. The checker's model
    /// drops such messages ([`crate::cluster_model::DeadMessages`]); the runtime delivers them.
    /// Only in a cluster without a lock manager: with one, every delivery also polls the lock
    /// manager (its inbox and its rebuild barrier), so no delivery is claimed to be a no-op.
    pub fn msg_is_dead(&self, s: &NodeState, msg: &Msg) -> bool {
        !self.is_disk()
            && !self.dlm_enabled()
            && s.exited.is_none()
            && s.view.is_some()
            && matches!(msg, Msg::Hello(h) if h.view.is_none())
    }

    /// What the checker keeps of this node's state while it is **down** (crashed, or after a
    /// CLUEXIT): the state it boots with, but with its incarnation, its CLUEXIT rule (which the
    /// Explorer and the traces show) and its lock-manager state (which the lock-manager
    /// bookkeeping reads; not claimed here). Nothing reads the rest while the node is down: it
    /// receives nothing (its flows are purged and messages to it are lost), its timers are
    /// cancelled, the properties and the `whatif` outcomes read live nodes only, and a reboot
    /// starts it afresh from its storage ([`Actor::on_start`]). So two states that differ only
    /// in what a down node held behave alike, and the checker's model keeps one of them
    /// ([`crate::cluster_model::DownNodes`]).
    pub fn down_state(&self, s: &NodeState) -> NodeState {
        NodeState {
            exited: s.exited,
            dlm: s.dlm.clone(),
            ..self.booting_state(s.incarnation)
        }
    }

    /// Cancels the dead connection-manager timers (the timer hygiene of the module doc).
    fn tidy_timers(&self, s: &NodeState, o: &mut O) {
        let hygiene = self.opts.timers;
        for t in [Timer::Recnx, Timer::Join] {
            let cancel = match hygiene {
                TimerHygiene::Keep => false,
                TimerHygiene::Cancel => self.timer_is_dead(s, t),
                TimerHygiene::CancelLiveJoin => {
                    self.timer_is_dead(s, t) || (t == Timer::Join && s.exited.is_none())
                }
            };
            if cancel {
                o.cancel_timer(t);
            }
        }
    }

    fn on_timer(&self, _id: Id, state: &mut Cow<NodeState>, timer: &Timer, o: &mut O) {
        if self.is_disk() || state.exited.is_some() {
            return;
        }
        // The lock manager's timers are kept (set again) while it does not run, e.g. during a
        // transition: consumed there, nothing would set them again (a stalled client, a
        // deadlock search never run).
        match timer {
            Timer::Deadlock => return self.dlm_deadlock_timer(state, o),
            Timer::Client(k) => return self.dlm_client_step(state, *k as usize, o),
            _ => {}
        }
        if state.phase != Phase::Idle {
            return;
        }
        match timer {
            Timer::Recnx => {
                if !self.needs_transition(state) {
                    return;
                }
                let elect = self.coordinator_elect(state);
                if elect == self.me {
                    let s = state.to_mut();
                    let members = self.members(s).inter(s.conn).with(self.me);
                    self.start_transition(s, s.view, members, o);
                } else if !state.asked {
                    state.to_mut().asked = true;
                    o.send(id(elect), Msg::NeedTransition);
                }
            }
            Timer::Client(_) | Timer::Deadlock => {}
            Timer::Join => {
                if state.view.is_some() || state.join_asked.is_some() {
                    // A member, or a request is still unanswered (its answer sets the timer).
                    return;
                }
                let seen = state.members_seen.inter(state.conn);
                if !state
                    .conn
                    .is_subset(state.members_seen.union(state.joiners_seen))
                {
                    // Hear every peer first: a hello still in flight may announce a cluster
                    // that ran more recently than the one already heard.
                    return;
                }
                // Ask a member of the cluster that ran most recently (its lineage), then the lowest
                // system id: joining a node whose cluster was superseded would revive it.
                let ran = |i: usize| {
                    state
                        .member_views
                        .iter()
                        .find(|(q, _)| *q as usize == i)
                        .map_or(0, |(_, v)| v.ran_seq)
                };
                let target = seen
                    .iter()
                    .min_by_key(|&i| (std::cmp::Reverse(ran(i)), self.spec.nodes[i].system_id));
                if let Some(target) = target {
                    let s = state.to_mut();
                    s.refused = None;
                    s.join_asked = Some((target as u8, s.conn));
                    o.send(id(target), Msg::JoinRequest { conn: s.conn });
                } else if let Some(group) = self.formation(state) {
                    let s = state.to_mut();
                    self.start_transition(s, None, group, o);
                }
            }
        }
    }
}
