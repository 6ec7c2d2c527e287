//! The checked model: the node actors inside Stateright's `ActorModel`, wrapped in a `Model`
//! that adds the environment — inter-region link cuts and heals, node crashes and reboots —
//! within a fault budget.
//!
//! Stateright's `ActorModel` has no partition primitive, so (as its maintainer suggests) this
//! wrapper delegates every actor step to the inner `ActorModel` and adds its own actions. The
//! protocol logic stays in the one actor ([`crate::node`]); the wrapper only plays the network
//! and the port layer:
//!
//! * **Cut** of a link (a region pair, or one node pair): the messages in flight between the two
//!   ends are lost (the virtual circuit failed), and both ends receive [`Msg::CircuitDown`] *in
//!   the same step*. That atomic delivery is the **timing assumption** on which safety rests: a
//!   node that loses a peer stops cluster activity before RECNXINTERVAL can let the others remove
//!   it (the runtime enforces it by requiring `recnx_interval_ms` > the listen timeout). With
//!   [`CheckConfig::timing_assumption`] off, only the lower-numbered end learns at once; the
//!   other learns in a later, separate step ([`Action::LateNotice`]) — and the checker finds the
//!   split-brain that follows.
//! * **Crash** of a node: its timers stop, its in-flight messages are lost, its peers receive
//!   [`Msg::CircuitDown`] at once (the last gasp). A CLUEXIT (the actor sets `exited`) is turned
//!   into the same crash right after the step that decided it.
//! * **Heal** and **reboot**: both ends of a restored link receive [`Msg::CircuitUp`] in one step;
//!   a rebooted node restarts through `on_start` with its saved boot count (a new incarnation)
//!   and gets circuits to every reachable live node.
//! * **Dead messages**: after every step the network drops each message its receiver would ignore
//!   now and for the rest of its incarnation — a hello without a view to a member
//!   ([`DeadMessages`]). That removes only states that differ in such a message; the runtime
//!   delivers them.
//!
//! The environment state lives in the `ActorModelState`'s history slot ([`Env`]), so the state
//! type is Stateright's own and the Explorer shows it.

use crate::config::{ClusterSpec, LinkEnds, LinkError};
use crate::dlm::cluster::{usable_mode, DlmMsg};
use crate::dlm::script::Op;
use crate::dlm::{Mode, ValueBlock};
use crate::node::{Msg, NodeActor, NodeState, Phase, ProtocolOptions, Timer, View};
use crate::nodeset::NodeSet;
use stateright::actor::{Actor, ActorModel, ActorModelAction, ActorModelState, Id, Network, Out};
use stateright::{Model, Property};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// The checker's state: Stateright's actor-model state with [`Env`] as its history.
pub type State = ActorModelState<NodeActor, Env>;

/// A fault the environment can inject.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Cut every circuit between the listed node pairs (a region link, or one node link).
    Cut {
        /// How the user named it (`FRA-ORD`, `FRANK1-UK1`).
        label: String,
        /// The node pairs, each with `a < b`.
        pairs: Vec<(u8, u8)>,
    },
    /// Crash a node.
    Crash(u8),
}

impl Fault {
    /// A region link: every node pair across the two regions (the quorum disk counts as a node
    /// of its region: cutting the link also cuts the disk off from the far side).
    pub fn region_link(spec: &ClusterSpec, a: &str, b: &str) -> Option<Fault> {
        let (a, b) = (a.to_ascii_uppercase(), b.to_ascii_uppercase());
        if a == b {
            return None;
        }
        let mut pairs = Vec::new();
        let n = spec.actors_len();
        for i in 0..n {
            for j in i + 1..n {
                let (ri, rj) = (spec.actor_region(i), spec.actor_region(j));
                if (ri == a && rj == b) || (ri == b && rj == a) {
                    pairs.push((i as u8, j as u8));
                }
            }
        }
        (!pairs.is_empty()).then(|| Fault::Cut {
            label: format!("{a}-{b}"),
            pairs,
        })
    }

    /// The link between two nodes.
    pub fn node_link(spec: &ClusterSpec, a: usize, b: usize) -> Fault {
        let (x, y) = (a.min(b), a.max(b));
        Fault::Cut {
            label: format!("{}-{}", spec.nodes[a].name, spec.nodes[b].name),
            pairs: vec![(x as u8, y as u8)],
        }
    }

    /// Every inter-region link and every node: the vocabulary of `check` and `plan`.
    pub fn menu(spec: &ClusterSpec) -> Vec<Fault> {
        let regions = spec.regions();
        let mut menu = Vec::new();
        for (i, a) in regions.iter().enumerate() {
            for b in regions.iter().skip(i + 1) {
                menu.extend(Fault::region_link(spec, a, b));
            }
        }
        menu.extend((0..spec.len()).map(|i| Fault::Crash(i as u8)));
        menu
    }

    /// Human-readable, as the CLI spells it.
    pub fn describe(&self, spec: &ClusterSpec) -> String {
        match self {
            Fault::Cut { label, .. } => format!("cut {label}"),
            Fault::Crash(i) => format!("crash {}", spec.nodes[*i as usize].name),
        }
    }
}

/// Which faults happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultPlan {
    /// Any combination of up to `max` faults from `menu`, at any time (`vmsc check`).
    Budget {
        /// Most faults in one run.
        max: usize,
        /// The vocabulary.
        menu: Vec<Fault>,
    },
    /// Exactly these faults, all at once in the first step (`vmsc whatif`): the question is
    /// "what if these links and nodes fail together?". Faults striking at different moments are
    /// what [`FaultPlan::Budget`] explores.
    Exact(Vec<Fault>),
}

impl FaultPlan {
    fn menu(&self) -> &[Fault] {
        match self {
            FaultPlan::Budget { menu, .. } | FaultPlan::Exact(menu) => menu,
        }
    }
}

/// When the faults are repaired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealMode {
    /// Never.
    Never,
    /// Each applied fault may be healed (link restored, node rebooted) at any moment, once; a
    /// CLUEXITed node may reboot once. The strongest check (`vmsc check --heal`).
    Anytime,
    /// Once every fault is applied and the cluster has settled, everything is healed in one
    /// step; nodes that then take a CLUEXIT reboot once (`vmsc whatif --heal`).
    AfterSettle,
}

/// Configuration of a check.
#[derive(Clone, Debug)]
pub struct CheckConfig {
    /// Which faults.
    pub faults: FaultPlan,
    /// Heal or not.
    pub heal: HealMode,
    /// Deliver circuit failures to both ends atomically (see the module doc).
    pub timing_assumption: bool,
    /// Protocol variant (negative controls).
    pub protocol: ProtocolOptions,
    /// Bound on transition numbers explored (`within_boundary`).
    pub seq_max: u32,
    /// What the network does with a dead message (see [`DeadMessages`]).
    pub dead_messages: DeadMessages,
    /// What the model keeps of a down node's state (see [`DownNodes`]).
    pub down_nodes: DownNodes,
    /// When a node that took a CLUEXIT after the `whatif` heal reboots (see [`Reboots`]).
    pub reboots: Reboots,
}

/// When a node that took a CLUEXIT after the `whatif` heal ([`HealMode::AfterSettle`]) may
/// reboot. ([`HealMode::Anytime`], `vmsc check --heal`, always lets it reboot at any moment.)
///
/// A CLUEXIT is a bugcheck: the node writes its crash dump and boots again, which takes minutes
/// on OpenVMS, while the nodes that made it exit finish their transition within
/// RECNXINTERVAL plus a few round trips — seconds. [`Reboots::Settled`] states that timing: the
/// nodes down after a CLUEXIT reboot once the cluster has settled (no message in flight, every
/// live node quiescent), in any order, and once the first of them has rebooted the others that
/// were waiting with it may reboot at any later moment, so the joins of nodes that exited
/// together still race each other. A node that exits later waits for the next settled state.
/// [`Reboots::Anytime`] drops the assumption: a node may reboot the moment after its CLUEXIT,
/// in the middle of the transition that follows it. That explores reboots no real node is fast
/// enough to make, and on the seed's `cut FRA-ORD` + `crash UK1` + heal it is the difference
/// between 37,168,821 states and more than 389 million (`specs/checker.md`, "Reboot timing").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reboots {
    /// Once the cluster has settled (the default; `vmsc whatif --reboot settled`).
    #[default]
    Settled,
    /// At any moment after the CLUEXIT (`vmsc whatif --reboot anytime`).
    Anytime,
}

impl Reboots {
    /// The name `--reboot` takes and the JSON shows.
    pub fn name(self) -> &'static str {
        match self {
            Reboots::Settled => "settled",
            Reboots::Anytime => "anytime",
        }
    }
}

/// What the checker's model keeps of the state of a node that is down
/// ([`NodeActor::down_state`]).
///
/// A node that crashes or takes a CLUEXIT keeps, in the model, the state it had when it went
/// down — its view, phase, circuits and join bookkeeping — until it reboots, although nothing
/// reads it: two paths that take a node down at different points of a transition lead to states
/// that differ in it alone, and each heads a copy of the same future. Forgetting it (after the
/// step that took the node down has been recorded in the history) changes what is reachable
/// only by that state: the states reachable with [`DownNodes::Forget`] are exactly those
/// reachable with [`DownNodes::Keep`] with every down node's state forgotten, which
/// `model/tests/down.rs` checks state for state, with every verdict the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DownNodes {
    /// Forget a down node's state once the step that took it down is recorded (the default).
    #[default]
    Forget,
    /// Keep it until the node reboots: the reference of the equivalence test.
    Keep,
    /// Negative control: forget it in the crash itself, before the step is recorded in the
    /// history — which then sees a node's view fall back within one incarnation. The
    /// equivalence test must catch it.
    ForgetEarly,
}

/// What the checker's network does with a message that is **dead**
/// ([`NodeActor::msg_is_dead`]): one whose delivery would be a no-op now and in every later state
/// of its receiver's incarnation.
///
/// Such a message still costs states: it sits in its flow, and the states before and after its
/// delivery differ in it alone, for every interleaving of that delivery with the rest. Dropping it
/// the moment it is dead changes what is reachable only by that message: a path that delivered it
/// maps to the same path without the delivery (which only popped it), and a message behind it that
/// the drop lets through earlier could have been delivered right after it. So the states reachable
/// with [`DeadMessages::Drop`] are exactly those reachable with [`DeadMessages::Keep`] with their
/// dead messages dropped, which `model/tests/messages.rs` checks state for state; no property
/// reads a hello in flight, and a state whose only messages in flight are dead is one delivery
/// sequence away from the settled state without them, so the verdicts and the `whatif` outcomes
/// are the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeadMessages {
    /// Drop every dead message after each step (the default).
    #[default]
    Drop,
    /// Keep them until delivered: the reference of the equivalence test.
    Keep,
    /// Negative control: also drop a hello without a view to a *non-member*, which is not dead
    /// (a joiner records its sender as a joiner). The equivalence test must catch it.
    DropLive,
}

impl CheckConfig {
    /// The default check: correct protocol, timing assumption on.
    pub fn new(faults: FaultPlan, heal: HealMode) -> Self {
        CheckConfig {
            faults,
            heal,
            timing_assumption: true,
            protocol: ProtocolOptions {
                start_formed: true,
                ..Default::default()
            },
            seq_max: 16,
            dead_messages: DeadMessages::Drop,
            down_nodes: DownNodes::Forget,
            reboots: Reboots::Settled,
        }
    }
}

/// Bits of [`Env::violations`].
pub mod violation {
    /// A node's transition number went down within one incarnation.
    pub const SEQ_REGRESSED: u8 = 1;
    /// A coordinator committed members that were not fully connected, with no fault since its
    /// proposal round began.
    pub const COMMIT_DISCONNECTED: u8 = 2;
    /// A lock request took more than two remote messages to reach its master.
    pub const DLM_HOPS: u8 = 4;
    /// A grant at PR or above read a valid value block that is not the last value written (or
    /// read a valid value after a PW/EX holder's node failed).
    pub const DLM_STALE_VALUE: u8 = 8;
    /// A master cancelled a deadlock victim that was on no wait-for cycle.
    pub const DLM_FALSE_VICTIM: u8 = 16;
    /// A master granted a request over an earlier, incompatible queued one (outside the
    /// in-place conversion rule).
    pub const DLM_OVERTAKEN: u8 = 32;
}

/// Bits of [`Env::dlm_seen`]: lock-manager events that happened at least once.
pub mod dlm_seen {
    /// A master granted a request that had been queued.
    pub const GRANT_AFTER_WAIT: u8 = 1;
    /// An owner's lock changed granted mode (a conversion completed).
    pub const CONVERSION: u8 = 2;
    /// A blocking AST reached a holder.
    pub const BAST: u8 = 4;
    /// A node finished a lock-manager rebuild in a view without a node a fault crashed.
    pub const REBUILD_AFTER_FAILURE: u8 = 8;
}

/// The environment: what the network and the operators did. Stored as the model's history.
/// `Debug` is written out in [`crate::describe`] (node names, empty fields left out).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Env {
    /// `cut[i]`: nodes whose circuit to `i` is cut (symmetric).
    pub cut: Vec<NodeSet>,
    /// Faults applied (bit `k` = menu entry `k`).
    pub applied: u32,
    /// Faults healed ([`HealMode::Anytime`]).
    pub healed: u32,
    /// The heal step happened ([`HealMode::AfterSettle`]).
    pub heal_done: bool,
    /// Nodes currently down (crashed, or after a CLUEXIT).
    pub down: NodeSet,
    /// Nodes crashed by a fault and not rebooted.
    pub fault_down: NodeSet,
    /// Nodes that took a CLUEXIT at some point.
    pub cluexit: NodeSet,
    /// Nodes rebooted after a CLUEXIT.
    pub rebooted: NodeSet,
    /// Nodes down after a CLUEXIT that may reboot at any moment: they waited for the settled
    /// state in which the first of them rebooted ([`Reboots::Settled`]).
    pub reboot_window: NodeSet,
    /// Circuit failures not yet noticed (`(node, lost peer)`), timing assumption off.
    pub late: BTreeSet<(u8, u8)>,
    /// Per node: the incarnation in which a quorate view removed it.
    pub removed: Vec<Option<u32>>,
    /// Coordinators whose current proposal round began with no fault since.
    pub clean: NodeSet,
    /// Violation bits recorded during steps (see [`violation`]).
    pub violations: u8,
    /// Lock manager (empty without clients): per resource, the last value block a client wrote
    /// (its write request issued), or `None` after a PW/EX holder's node left the cluster.
    pub lvb: Vec<Option<ValueBlock>>,
    /// Lock manager: the highest view number whose installation has been accounted for.
    pub dlm_view: u32,
    /// Lock manager: the members of that view (a view counts once a node is active in it).
    pub dlm_members: NodeSet,
    /// Lock manager: events seen (see [`dlm_seen`]).
    pub dlm_seen: u8,
    /// Per actor, how many timers are set. Redundant (a function of `timers_set`), kept so that
    /// the state's own `Hash` is unambiguous for Stateright's checkers (see [`fingerprint`]).
    pub timers: Vec<u8>,
}

/// What a step did that the lock-manager bookkeeping needs.
#[derive(Clone, Copy, Debug)]
enum DlmNote {
    /// A lock-manager message was delivered to a live node.
    Msg(DlmMsg),
    /// Lock client `k` of node `i` stepped.
    Client(usize, usize),
}

/// The wrapper's actions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A step of the actor model (delivery or timeout).
    Actor(ActorModelAction<Msg, Timer, ()>),
    /// Apply menu fault `k`.
    Fault(u8),
    /// Apply every planned fault at once ([`FaultPlan::Exact`]).
    FaultSet,
    /// Heal menu fault `k`.
    Heal(u8),
    /// Heal everything at once.
    HealAll,
    /// Reboot a node that took a CLUEXIT.
    Reboot(u8),
    /// `node` notices that its circuit to `peer` failed (timing assumption off).
    LateNotice(u8, u8),
}

impl Action {
    /// The actor that steps: the destination of a delivery, the owner of a timer (`None` for an
    /// environment action).
    pub fn actor(&self) -> Option<usize> {
        match self {
            Action::Actor(ActorModelAction::Deliver { dst, .. }) => Some(usize::from(*dst)),
            Action::Actor(ActorModelAction::Timeout(id, _)) => Some(usize::from(*id)),
            _ => None,
        }
    }
}

/// The checked model of one cluster.
pub struct ClusterModel {
    /// The cluster file.
    pub spec: Arc<ClusterSpec>,
    /// The check's configuration.
    pub cfg: CheckConfig,
    /// The inner actor model.
    pub inner: ActorModel<NodeActor, (), Env>,
    properties: Vec<Property<ClusterModel>>,
}

impl fmt::Debug for ClusterModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterModel")
            .field("cluster", &self.spec.name)
            .finish()
    }
}

impl ClusterModel {
    /// Builds the model with the standard properties.
    pub fn new(spec: Arc<ClusterSpec>, cfg: CheckConfig) -> Self {
        let n = spec.actors_len();
        let env = Env {
            cut: vec![NodeSet::EMPTY; n],
            applied: 0,
            healed: 0,
            heal_done: false,
            down: NodeSet::EMPTY,
            fault_down: NodeSet::EMPTY,
            cluexit: NodeSet::EMPTY,
            rebooted: NodeSet::EMPTY,
            reboot_window: NodeSet::EMPTY,
            late: BTreeSet::new(),
            removed: vec![None; n],
            clean: NodeSet::EMPTY,
            violations: 0,
            lvb: vec![Some(ValueBlock::default()); spec.resources.len()],
            dlm_view: 1,
            dlm_members: NodeSet::first(spec.len()),
            dlm_seen: 0,
            timers: vec![0; n],
        };
        let actors = (0..n).map(|i| NodeActor::new(spec.clone(), i, cfg.protocol));
        let inner = ActorModel::new((), env)
            .actors(actors)
            .init_network(Network::new_ordered([]));
        let mut properties = crate::properties::standard(&cfg, &spec);
        if !hang_possible(&spec, &cfg.faults) {
            // No fault set within the plan can leave a live node without a quorum of reachable
            // votes, so a quorum hang is unreachable by construction: listing it would only
            // report the topology's robustness as a failure.
            properties.retain(|p| p.name != crate::properties::QUORUM_HANG);
        }
        ClusterModel {
            spec,
            cfg,
            inner,
            properties,
        }
    }

    /// Adds a property (checkers use this for a never-true "sometimes" property that keeps a
    /// search from stopping early).
    pub fn push_property(&mut self, p: Property<ClusterModel>) {
        self.properties.push(p);
    }

    /// Keeps only the properties `keep` accepts.
    pub fn retain_properties(&mut self, keep: impl Fn(&Property<ClusterModel>) -> bool) {
        self.properties.retain(keep);
    }

    /// The actor of node `i`.
    pub fn actor(&self, i: usize) -> &NodeActor {
        &self.inner.actors[i]
    }

    /// Node `i`'s state.
    pub fn node<'a>(&self, s: &'a State, i: usize) -> &'a NodeState {
        &s.actor_states[i]
    }

    /// Node `i` is up.
    pub fn alive(&self, s: &State, i: usize) -> bool {
        !s.history.down.contains(i)
    }

    /// Node `i` is up and active (running cluster work with quorum).
    pub fn active(&self, s: &State, i: usize) -> bool {
        self.alive(s, i) && self.actor(i).is_active(self.node(s, i))
    }

    /// The fault menu.
    pub fn menu(&self) -> &[Fault] {
        self.cfg.faults.menu()
    }

    fn all_applied(&self, env: &Env) -> bool {
        match &self.cfg.faults {
            FaultPlan::Exact(f) => env.applied.count_ones() as usize == f.len(),
            FaultPlan::Budget { .. } => true,
        }
    }

    /// Settled: no message in flight, no unnoticed failure, every live node quiescent (no
    /// transition running or due, no join attempt that could succeed) and every planned fault
    /// applied.
    pub fn settled(&self, s: &State) -> bool {
        s.network.len() == 0
            && s.history.late.is_empty()
            && self.all_applied(&s.history)
            && (0..self.spec.len())
                .all(|i| !self.alive(s, i) || self.actor(i).is_quiescent(self.node(s, i)))
    }

    /// A final `whatif` outcome: settled, and (with heal) the heal done and every CLUEXIT
    /// rebooted.
    pub fn is_outcome(&self, s: &State) -> bool {
        self.settled(s) && self.outcome_env(&s.history)
    }

    /// The environment's part of [`ClusterModel::is_outcome`]: no unnoticed failure, every
    /// planned fault applied, and with the `whatif` heal, the heal done and every CLUEXIT
    /// rebooted. Local steps never change it (the persistent-set oracle relies on that).
    pub fn outcome_env(&self, env: &Env) -> bool {
        let healed = match self.cfg.heal {
            HealMode::AfterSettle => {
                env.heal_done && env.down.inter(env.cluexit).minus(env.rebooted).is_empty()
            }
            _ => true,
        };
        env.late.is_empty() && self.all_applied(env) && healed
    }

    fn connected(env: &Env, a: usize, b: usize) -> bool {
        !env.cut[a].contains(b) && !env.down.contains(a) && !env.down.contains(b)
    }

    // ----- environment steps -----

    fn deliver_env(&self, s: &mut State, dst: usize, src: usize, msg: Msg) {
        if s.history.down.contains(dst) {
            return;
        }
        let actor = self.actor(dst);
        let mut st = Cow::Borrowed(&*s.actor_states[dst]);
        let mut out = Out::new();
        actor.on_msg(Id::from(dst), &mut st, Id::from(src), msg, &mut out);
        if let Cow::Owned(next) = st {
            s.actor_states[dst] = Arc::new(next);
        }
        Self::apply(s, dst, out);
    }

    /// Applies an actor's commands (for steps the wrapper drives itself).
    fn apply(s: &mut State, i: usize, out: Out<NodeActor>) {
        for c in out {
            match c {
                stateright::actor::Command::Send(dst, msg) => {
                    if let Network::Ordered(map) = &mut s.network {
                        map.entry((Id::from(i), dst)).or_default().push_back(msg);
                    }
                }
                stateright::actor::Command::SetTimer(t, _) => {
                    s.timers_set[i].set(t);
                }
                stateright::actor::Command::CancelTimer(t) => {
                    s.timers_set[i].cancel(&t);
                }
                stateright::actor::Command::Save(x) => s.actor_storages[i] = Some(x),
                stateright::actor::Command::ChooseRandom(..) => {}
            }
        }
    }

    fn purge_between(s: &mut State, a: usize, b: usize) {
        if let Network::Ordered(map) = &mut s.network {
            map.remove(&(Id::from(a), Id::from(b)));
            map.remove(&(Id::from(b), Id::from(a)));
        }
    }

    fn purge_node(s: &mut State, a: usize) {
        if let Network::Ordered(map) = &mut s.network {
            map.retain(|(src, dst), _| usize::from(*src) != a && usize::from(*dst) != a);
        }
    }

    /// Whether the network drops `msg` in flight to node `dst` while `dst` is in state `node`
    /// (a dead message, [`DeadMessages`]).
    pub fn drops(&self, dst: usize, node: &NodeState, msg: &Msg) -> bool {
        dst < self.spec.len()
            && match self.cfg.dead_messages {
                DeadMessages::Keep => false,
                DeadMessages::Drop => self.actor(dst).msg_is_dead(node, msg),
                DeadMessages::DropLive => matches!(msg, Msg::Hello(h) if h.view.is_none()),
            }
    }

    /// Drops the dead messages in flight ([`DeadMessages`]).
    fn drop_dead_messages(&self, s: &mut State) {
        if self.cfg.dead_messages == DeadMessages::Keep {
            return;
        }
        let Network::Ordered(map) = &mut s.network else {
            return;
        };
        let nodes = &s.actor_states;
        let dead = |dst: Id, msg: &Msg| {
            let i = usize::from(dst);
            i < nodes.len() && self.drops(i, &nodes[i], msg)
        };
        let flows: Vec<(Id, Id)> = map
            .iter()
            .filter(|((_, dst), q)| q.iter().any(|m| dead(*dst, m)))
            .map(|(k, _)| *k)
            .collect();
        for k in flows {
            if let Some(q) = map.get_mut(&k) {
                q.retain(|m| !dead(k.1, m));
                if q.is_empty() {
                    map.remove(&k);
                }
            }
        }
    }

    /// Messages sent into a cut link or to a down node are lost.
    fn purge_dead_flows(s: &mut State) {
        let env = &s.history;
        let dead: Vec<(Id, Id)> = match &s.network {
            Network::Ordered(map) => map
                .keys()
                .filter(|(a, b)| !Self::connected(env, usize::from(*a), usize::from(*b)))
                .copied()
                .collect(),
            _ => Vec::new(),
        };
        if let Network::Ordered(map) = &mut s.network {
            for k in dead {
                map.remove(&k);
            }
        }
    }

    fn circuit_down(&self, s: &mut State, a: usize, b: usize) {
        Self::purge_between(s, a, b);
        self.deliver_env(s, a, b, Msg::CircuitDown);
        if self.cfg.timing_assumption {
            self.deliver_env(s, b, a, Msg::CircuitDown);
        } else {
            s.history.late.insert((b as u8, a as u8));
        }
    }

    fn cut_pair(&self, s: &mut State, a: usize, b: usize) {
        if s.history.cut[a].contains(b) {
            return;
        }
        let was_up = Self::connected(&s.history, a, b);
        s.history.cut[a].insert(b);
        s.history.cut[b].insert(a);
        if was_up {
            self.circuit_down(s, a, b);
        }
    }

    fn heal_pair(&self, s: &mut State, a: usize, b: usize) {
        if !s.history.cut[a].contains(b) {
            return;
        }
        s.history.cut[a].remove(b);
        s.history.cut[b].remove(a);
        s.history.late.remove(&(a as u8, b as u8));
        s.history.late.remove(&(b as u8, a as u8));
        if Self::connected(&s.history, a, b) {
            self.deliver_env(s, a, b, Msg::CircuitUp);
            self.deliver_env(s, b, a, Msg::CircuitUp);
        }
    }

    fn crash(&self, s: &mut State, a: usize) {
        if s.history.down.contains(a) {
            return;
        }
        let peers: Vec<usize> = (0..self.spec.actors_len())
            .filter(|&b| b != a && Self::connected(&s.history, a, b))
            .collect();
        s.history.down.insert(a);
        if self.cfg.down_nodes == DownNodes::ForgetEarly {
            self.forget(s, a);
        }
        s.timers_set[a].cancel_all();
        Self::purge_node(s, a);
        s.history.late.retain(|&(x, _)| x as usize != a);
        for b in peers {
            self.deliver_env(s, b, a, Msg::CircuitDown);
        }
    }

    fn reboot(&self, s: &mut State, a: usize) {
        if !s.history.down.contains(a) {
            return;
        }
        s.history.down.remove(a);
        s.history.fault_down.remove(a);
        s.history.removed[a] = None;
        let mut out = Out::new();
        let st = self
            .actor(a)
            .on_start(Id::from(a), &s.actor_storages[a], &mut out);
        s.actor_states[a] = Arc::new(st);
        s.timers_set[a].cancel_all();
        Self::apply(s, a, out);
        for b in 0..self.spec.actors_len() {
            if b != a && Self::connected(&s.history, a, b) {
                self.deliver_env(s, a, b, Msg::CircuitUp);
                self.deliver_env(s, b, a, Msg::CircuitUp);
            }
        }
    }

    fn apply_fault(&self, s: &mut State, k: usize) {
        s.history.applied |= 1 << k;
        s.history.clean = NodeSet::EMPTY;
        match &self.menu()[k] {
            Fault::Cut { pairs, .. } => {
                for &(a, b) in pairs {
                    self.cut_pair(s, a as usize, b as usize);
                }
            }
            Fault::Crash(a) => {
                let a = *a as usize;
                self.crash(s, a);
                s.history.fault_down.insert(a);
            }
        }
    }

    fn heal_fault(&self, s: &mut State, k: usize) {
        s.history.healed |= 1 << k;
        match &self.menu()[k] {
            Fault::Cut { pairs, .. } => {
                for &(a, b) in pairs {
                    self.heal_pair(s, a as usize, b as usize);
                }
            }
            Fault::Crash(a) => self.reboot(s, *a as usize),
        }
    }

    /// Bookkeeping after every step: CLUEXITs become crashes, lost messages are purged, and the
    /// history-based properties are updated.
    fn after_step(&self, prev: &State, s: &mut State) {
        for i in 0..self.spec.len() {
            if !s.history.down.contains(i) && s.actor_states[i].exited.is_some() {
                s.history.cluexit.insert(i);
                s.history.clean = NodeSet::EMPTY;
                self.crash(s, i);
            }
        }
        Self::purge_dead_flows(s);
        self.drop_dead_messages(s);
        self.record_history(prev, s);
        if self.cfg.down_nodes == DownNodes::Forget {
            for i in s.history.down.minus(prev.history.down).iter() {
                self.forget(s, i);
            }
        }
    }

    /// Replaces down node `i`'s state by what the model keeps of it ([`DownNodes`]).
    fn forget(&self, s: &mut State, i: usize) {
        if i < self.spec.len() {
            s.actor_states[i] = Arc::new(self.actor(i).down_state(&s.actor_states[i]));
        }
    }

    fn record_history(&self, prev: &State, s: &mut State) {
        for i in 0..self.spec.len() {
            let (p, n) = (&*prev.actor_states[i], &*s.actor_states[i]);
            if std::ptr::eq(p, n) {
                continue;
            }
            if p.incarnation == n.incarnation {
                let (ps, ns) = (p.view.map_or(0, |v| v.seq), n.view.map_or(0, |v| v.seq));
                if ns < ps {
                    s.history.violations |= violation::SEQ_REGRESSED;
                }
            }
            // A new proposal round begins with a clean slate.
            if let Phase::Coordinating(c) = &n.phase {
                let new_round = !matches!(&p.phase, Phase::Coordinating(pc) if pc.view == c.view);
                if new_round {
                    s.history.clean.insert(i);
                }
            }
            let committed = p.incarnation == n.incarnation
                && n.view.is_some()
                && n.view != p.view
                && matches!(n.phase, Phase::Committing { .. } | Phase::Idle)
                && (matches!(p.phase, Phase::Coordinating(_))
                    || (p.phase == Phase::Idle && n.view.is_some_and(|v| v.members.len() == 1)));
            if committed {
                let members = n.view.map_or(NodeSet::EMPTY, |v| v.members);
                let clean = prev.history.clean.contains(i) || members.len() == 1;
                let connected = members.iter().all(|a| {
                    members
                        .iter()
                        .all(|b| a == b || Self::connected(&s.history, a, b))
                });
                if clean && !connected {
                    s.history.violations |= violation::COMMIT_DISCONNECTED;
                }
            }
            if !matches!(n.phase, Phase::Coordinating(_)) {
                s.history.clean.remove(i);
            }
            // A node starts running in view W: every live node still holding an older view that
            // lists itself but is not in W has been removed by a running cluster.
            if let Some(w) = self.began_active(i, p, n) {
                if !s.history.down.contains(i) {
                    for x in 0..self.spec.len() {
                        let xs = &s.actor_states[x];
                        if removed_by(xs, x, w) && !s.history.down.contains(x) {
                            s.history.removed[x] = Some(xs.incarnation);
                        }
                    }
                }
            }
        }
    }

    /// The view node `i` began active in with the step `p → n` (it became active, or changed
    /// view while active), if it did. Such a step marks stale nodes removed ([`removed_by`]).
    pub fn began_active(&self, i: usize, p: &NodeState, n: &NodeState) -> Option<View> {
        if i >= self.spec.len() {
            return None;
        }
        let actor = self.actor(i);
        let began = actor.is_active(n) && !(actor.is_active(p) && p.view == n.view);
        n.view.filter(|_| began)
    }

    /// Lock-manager bookkeeping after a step: the message bound, the value-block ghost and the
    /// events the sometimes-properties look for.
    fn record_dlm(&self, prev: &State, s: &mut State, note: Option<DlmNote>) {
        match note {
            Some(DlmNote::Msg(DlmMsg::Request(q))) if q.hops > 2 => {
                s.history.violations |= violation::DLM_HOPS
            }
            Some(DlmNote::Msg(DlmMsg::Bast { .. })) => s.history.dlm_seen |= dlm_seen::BAST,
            Some(DlmNote::Client(i, k)) => {
                if let Some((res, v)) = self.actor(i).client_write(&prev.actor_states[i], k) {
                    // Only if the client issued it (a timer firing while the lock manager does
                    // not run is set again and issues nothing; the checker sees no step, but the
                    // runtime's driver would). Issued means pending with the value, or already
                    // completed (local master: the script moved on).
                    let n = &s.actor_states[i].dlm;
                    let moved = n.pc.get(k) != prev.actor_states[i].dlm.pc.get(k);
                    let pending = n.locks.iter().any(|l| {
                        l.client as usize == k
                            && l.res == res
                            && l.pending.is_some_and(|p| p.write == Some(v))
                    });
                    if moved || pending {
                        if let Some(g) = s.history.lvb.get_mut(res as usize) {
                            *g = Some(v);
                        }
                    }
                }
            }
            _ => {}
        }
        for i in 0..self.spec.len() {
            let (p, n) = (&*prev.actor_states[i], &*s.actor_states[i]);
            if std::ptr::eq(p, n) || p.incarnation != n.incarnation {
                continue;
            }
            // The first node active in a new view (a view that runs; one committed by a
            // coordinator cut off before its members heard of it never does, and may share its
            // number with the one that runs): a PW/EX holder left the cluster; a tree whose
            // master left and that no member holds a lock on is gone. No lock is used in the new
            // view before this step (the lock manager runs only at active nodes), so the locks
            // are read as they were before it (this very step may rebuild and grant).
            if let Some(w) = n.view {
                if w.seq > s.history.dlm_view && self.actor(i).is_active(n) {
                    s.history.dlm_view = w.seq;
                    let departed = s.history.dlm_members.minus(w.members);
                    s.history.dlm_members = w.members;
                    for x in departed.iter() {
                        for l in &prev.actor_states[x].dlm.locks {
                            if matches!(usable_mode(l), Some(Mode::PW | Mode::EX)) {
                                if let Some(g) = s.history.lvb.get_mut(l.res as usize) {
                                    *g = None;
                                }
                            }
                        }
                    }
                    // A resource whose master left, and on whose queues no lock of a member
                    // survives (one whose owner is dequeuing it does not: the new master
                    // replays the `$DEQ` and drops the tree), is gone entirely: the next lock
                    // creates a new resource with a zero value block (as after the last `$DEQ`;
                    // only a lock, even NL, keeps a value block). A request that had not reached
                    // the master (in flight, lost with the circuit, or bound for a `NotMaster`)
                    // is a new request on a new resource.
                    for x in departed.iter() {
                        for (&res, r) in &prev.actor_states[x].dlm.mastered {
                            let held = r.locks().any(|l| {
                                let y = l.owner.node as usize;
                                w.members.contains(y)
                                    && prev.actor_states[y].dlm.locks.iter().any(|c| {
                                        c.id == l.id
                                            && c.res == res
                                            && c.pending.is_none_or(|p| p.op != Op::Deq)
                                    })
                            });
                            if !held {
                                if let Some(g) = s.history.lvb.get_mut(res as usize) {
                                    *g = Some(ValueBlock::default());
                                }
                            }
                        }
                    }
                }
            }
            for l in &n.dlm.locks {
                let before = p.dlm.locks.iter().find(|x| x.id == l.id && x.res == l.res);
                // A process read (or wrote) a valid value block at PR or above: it must be the
                // last value written.
                if let (Some((v, true)), Some(Mode::PR | Mode::PW | Mode::EX)) =
                    (l.value, l.granted)
                {
                    let fresh = before.is_none_or(|b| b.value != l.value || b.granted != l.granted);
                    if fresh && s.history.lvb.get(l.res as usize).copied().flatten() != Some(v) {
                        s.history.violations |= violation::DLM_STALE_VALUE;
                    }
                }
                if let Some(b) = before {
                    if b.granted.is_some() && l.granted.is_some() && b.granted != l.granted {
                        s.history.dlm_seen |= dlm_seen::CONVERSION;
                    }
                }
            }
            // A deadlock victim was cancelled: it must have been on a wait-for cycle just before.
            if let Some((_, lock, _)) = n
                .dlm
                .last_victim
                .filter(|_| n.dlm.last_victim != p.dlm.last_victim)
            {
                let epoch = p.dlm.epoch;
                let cyclic = crate::properties::cycle_processes(self, prev, |j| {
                    let d = &prev.actor_states[j].dlm;
                    d.epoch == epoch && d.rebuilt
                });
                let on_cycle = lock.0 < crate::dlm::deadlock::PROCESS_ID_LIMIT
                    && cyclic & (1u64 << lock.0) != 0;
                if !on_cycle {
                    s.history.violations |= violation::DLM_FALSE_VICTIM;
                }
            }
            // Grant order, except at the end of a rebuild (the new master's queues are rebuilt
            // from the owners' copies, in copy order).
            let rebuild_ends = n.dlm.rebuilt && (!p.dlm.rebuilt || p.dlm.epoch != n.dlm.epoch);
            if !rebuild_ends {
                for (res, r) in &n.dlm.mastered {
                    if let Some(pr) = p.dlm.mastered.get(res) {
                        if pr != r && crate::properties::overtaken(pr, r) {
                            s.history.violations |= violation::DLM_OVERTAKEN;
                        }
                    }
                }
            }
            // A master dropped an empty resource (at a rebuild): its value block is gone, and a
            // new resource starts with zeros (an NL lock is what keeps a value block alive).
            for res in p
                .dlm
                .mastered
                .keys()
                .filter(|r| !n.dlm.mastered.contains_key(r))
            {
                if let Some(g) = s.history.lvb.get_mut(*res as usize) {
                    *g = Some(ValueBlock::default());
                }
            }
            for (res, r) in &n.dlm.mastered {
                let Some(pr) = p.dlm.mastered.get(res) else {
                    continue;
                };
                let waited = r.granted().iter().any(|l| {
                    pr.converting()
                        .iter()
                        .chain(pr.waiting())
                        .any(|x| x.id == l.id)
                });
                if waited {
                    s.history.dlm_seen |= dlm_seen::GRANT_AFTER_WAIT;
                }
            }
            if n.dlm.rebuilt && (!p.dlm.rebuilt || p.dlm.epoch != n.dlm.epoch) {
                let excluded = n
                    .view
                    .is_some_and(|v| !s.history.fault_down.minus(v.members).is_empty());
                if excluded {
                    s.history.dlm_seen |= dlm_seen::REBUILD_AFTER_FAILURE;
                }
            }
        }
    }

    fn count_timers(s: &mut State) {
        for (i, t) in s.timers_set.iter().enumerate() {
            let k = t.iter().count() as u8;
            if s.history.timers[i] != k {
                s.history.timers[i] = k;
            }
        }
    }

    fn budget_left(&self, env: &Env) -> bool {
        match &self.cfg.faults {
            FaultPlan::Budget { max, .. } => (env.applied.count_ones() as usize) < *max,
            FaultPlan::Exact(_) => true,
        }
    }

    /// Names an action for people: node names, VMS terms.
    pub fn describe_action(&self, action: &Action) -> String {
        let name = |i: usize| self.spec.nodes[i].name.as_str();
        match action {
            Action::Actor(ActorModelAction::Deliver { src, dst, msg }) => {
                crate::describe::delivery(&self.spec, usize::from(*src), usize::from(*dst), msg)
            }
            Action::Actor(ActorModelAction::Timeout(id, t)) => match t {
                Timer::Recnx => format!("{}: RECNX timer fires", name(usize::from(*id))),
                Timer::Join => format!("{}: join timer fires", name(usize::from(*id))),
                Timer::Client(k) => format!(
                    "{}: lock client {k} issues its next request",
                    name(usize::from(*id))
                ),
                Timer::Deadlock => format!("{}: DEADLOCK_WAIT expires", name(usize::from(*id))),
            },
            Action::Actor(a) => format!("{a:?}"),
            Action::Fault(k) => self.menu()[*k as usize].describe(&self.spec),
            Action::FaultSet => {
                let v: Vec<String> = self.menu().iter().map(|f| f.describe(&self.spec)).collect();
                v.join(" + ")
            }
            Action::Heal(k) => match &self.menu()[*k as usize] {
                Fault::Cut { label, .. } => format!("heal {label}"),
                Fault::Crash(i) => format!("reboot {}", name(*i as usize)),
            },
            Action::HealAll => "heal every link, reboot every crashed node".into(),
            Action::Reboot(i) => format!("reboot {} after CLUEXIT", name(*i as usize)),
            Action::LateNotice(a, b) => {
                format!(
                    "{} notices its circuit to {} failed (late)",
                    name(*a as usize),
                    name(*b as usize)
                )
            }
        }
    }
}

impl Model for ClusterModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let mut v = self.inner.init_states();
        for s in &mut v {
            Self::count_timers(s);
        }
        v
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        let mut inner = Vec::new();
        self.inner.actions(s, &mut inner);
        for a in inner {
            let a = Action::Actor(a);
            if a.actor().is_some_and(|i| self.alive(s, i)) {
                actions.push(a);
            }
        }
        for &(a, b) in &s.history.late {
            actions.push(Action::LateNotice(a, b));
        }
        let env = &s.history;
        if let FaultPlan::Exact(f) = &self.cfg.faults {
            if env.applied == 0 && !f.is_empty() {
                actions.push(Action::FaultSet);
            }
        }
        for k in 0..self.menu().len() {
            let budget =
                matches!(self.cfg.faults, FaultPlan::Budget { .. }) && self.budget_left(env);
            if env.applied & (1 << k) == 0 && budget {
                let useful = match &self.menu()[k] {
                    Fault::Crash(a) => !env.down.contains(*a as usize),
                    Fault::Cut { pairs, .. } => pairs
                        .iter()
                        .any(|&(a, b)| !env.cut[a as usize].contains(b as usize)),
                };
                if useful {
                    actions.push(Action::Fault(k as u8));
                }
            }
        }
        match self.cfg.heal {
            HealMode::Never => {}
            HealMode::Anytime => {
                for k in 0..self.menu().len() {
                    if env.applied & !env.healed & (1 << k) != 0 {
                        actions.push(Action::Heal(k as u8));
                    }
                }
                for i in env.down.inter(env.cluexit).minus(env.rebooted).iter() {
                    actions.push(Action::Reboot(i as u8));
                }
            }
            HealMode::AfterSettle => {
                if !env.heal_done {
                    if self.settled(s) {
                        actions.push(Action::HealAll);
                    }
                } else {
                    let waiting = env.down.inter(env.cluexit).minus(env.rebooted);
                    let may = match self.cfg.reboots {
                        Reboots::Anytime => waiting,
                        Reboots::Settled if self.settled(s) => waiting,
                        Reboots::Settled => waiting.inter(env.reboot_window),
                    };
                    for i in may.iter() {
                        actions.push(Action::Reboot(i as u8));
                    }
                }
            }
        }
    }

    fn next_state(&self, prev: &State, action: Action) -> Option<State> {
        let note = if self.spec.clients.is_empty() {
            None
        } else {
            match &action {
                Action::Actor(ActorModelAction::Deliver {
                    dst,
                    msg: Msg::Dlm(m),
                    ..
                }) => Some(DlmNote::Msg(*m)).filter(|_| self.alive(prev, usize::from(*dst))),
                Action::Actor(ActorModelAction::Timeout(id, Timer::Client(k))) => {
                    Some(DlmNote::Client(usize::from(*id), *k as usize))
                }
                _ => None,
            }
        };
        let mut s = match action {
            Action::Actor(a) => self.inner.next_state(prev, a)?,
            Action::Fault(k) => {
                let mut s = prev.clone();
                self.apply_fault(&mut s, k as usize);
                s
            }
            Action::FaultSet => {
                let mut s = prev.clone();
                for k in 0..self.menu().len() {
                    self.apply_fault(&mut s, k);
                }
                s
            }
            Action::Heal(k) => {
                let mut s = prev.clone();
                self.heal_fault(&mut s, k as usize);
                s
            }
            Action::HealAll => {
                let mut s = prev.clone();
                s.history.heal_done = true;
                for k in 0..self.menu().len() {
                    if s.history.applied & (1 << k) != 0 {
                        self.heal_fault(&mut s, k);
                    }
                }
                s
            }
            Action::Reboot(i) => {
                let mut s = prev.clone();
                if self.cfg.heal == HealMode::AfterSettle && self.cfg.reboots == Reboots::Settled {
                    let env = &mut s.history;
                    if !env.reboot_window.contains(i as usize) {
                        // The first of the nodes that waited for this settled state.
                        env.reboot_window = env.down.inter(env.cluexit).minus(env.rebooted);
                    }
                    env.reboot_window.remove(i as usize);
                }
                s.history.rebooted.insert(i as usize);
                self.reboot(&mut s, i as usize);
                s
            }
            Action::LateNotice(a, b) => {
                let mut s = prev.clone();
                s.history.late.remove(&(a, b));
                self.deliver_env(&mut s, a as usize, b as usize, Msg::CircuitDown);
                s
            }
        };
        self.after_step(prev, &mut s);
        if !self.spec.clients.is_empty() {
            self.record_dlm(prev, &mut s, note);
        }
        Self::count_timers(&mut s);
        Some(s)
    }

    fn format_action(&self, action: &Action) -> String {
        self.describe_action(action)
    }

    fn format_step(&self, last_state: &State, action: Action) -> Option<String> {
        crate::explorer_view::format_step(self, last_state, action)
    }

    fn as_svg(&self, path: stateright::Path<State, Action>) -> Option<String> {
        Some(crate::explorer_view::sequence_svg(self, &path.into_vec()))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        self.properties.clone()
    }

    fn within_boundary(&self, s: &State) -> bool {
        s.actor_states
            .iter()
            .all(|n| n.view.map_or(0, |v| v.seq) <= self.cfg.seq_max)
    }
}

/// Would node `x`, in state `n`, be marked removed by a node beginning active in view `w`: `w`
/// does not list it, and it holds an older view that lists itself? (The removed-node ghost of
/// [`Env::removed`]; the `persistent` checker's commutation checks read the same function.)
pub fn removed_by(n: &NodeState, x: usize, w: View) -> bool {
    !w.members.contains(x)
        && n.view
            .is_some_and(|v| v.members.contains(x) && v.seq < w.seq)
}

/// The independence relation of the `reduced` checker (see `specs/checker.md`).
///
/// Slots: a delivery is named by its flow, `dst * 8 + src` (only a flow's head is deliverable, and
/// a step at another actor never pops it); a timeout by `64 + id * 8 + k`, `k` = 0 RECNX, 1 join,
/// 2.. lock client. Environment actions (faults, heals, reboots, late notices) have no slot: they
/// never sleep and nothing sleeps across them. Models with more than 8 actors get no slots.
///
/// A step is **local** when it is a delivery or timeout of one live actor and, besides that
/// actor's state, timers, the head of the flow it consumed and the tails of flows out of it, it
/// changed no environment or history field except the stepping node's `clean` bit and the
/// sticky `violations` / `dlm_seen` bits (OR is commutative), and the node did not *begin
/// active* (that step reads every node's view to mark removed nodes; [`Footprint::Began`] names
/// it for the `persistent` checker, which decides case by case whether it commutes). In
/// particular a step that
/// makes its node take a CLUEXIT (which crashes it and tells its peers) is not local, nor is a
/// lock client's write (it writes the value-block ghost) or the first installation of a quorate
/// view (it reads departed nodes' locks).
pub struct ActorIndependence;

impl crate::explore::Independence<ClusterModel> for ActorIndependence {
    fn slot(&self, m: &ClusterModel, action: &Action) -> Option<(u8, u8)> {
        if m.spec.actors_len() > 8 {
            return None;
        }
        match action {
            Action::Actor(ActorModelAction::Deliver { src, dst, .. }) => {
                let (s, d) = (usize::from(*src) as u8, usize::from(*dst) as u8);
                Some((d * 8 + s, d))
            }
            Action::Actor(ActorModelAction::Timeout(id, t)) => {
                let i = usize::from(*id) as u8;
                let k = match t {
                    Timer::Recnx => 0,
                    Timer::Join => 1,
                    // Lock-client steps write the value-block ghost: never independent.
                    Timer::Client(_) => return None,
                    // A deadlock search may cancel a victim, which the victim ghost checks
                    // against every master: never independent.
                    Timer::Deadlock => return None,
                };
                Some((64 + i * 8 + k, i))
            }
            _ => None,
        }
    }

    fn local(&self, m: &ClusterModel, prev: &State, actor: u8, next: &State) -> bool {
        ActorIndependence::footprint(m, prev, actor, next) == Footprint::Local
    }
}

/// What a delivery or timeout of one actor touched besides its own part of the state (see
/// [`ActorIndependence`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Footprint {
    /// A local step.
    Local,
    /// The node began active in this view, and the step is otherwise local: it read every live
    /// node's view outside this one (and wrote `Env::removed` for the stale ones). Only in a
    /// model without lock clients.
    Began(View),
    /// Anything else.
    Other,
}

impl ActorIndependence {
    /// The step's [`Footprint`].
    pub fn footprint(m: &ClusterModel, prev: &State, actor: u8, next: &State) -> Footprint {
        let i = actor as usize;
        // Every environment and history field must be unchanged, except the stepping node's own
        // `clean` bit and timer count and the sticky `dlm_seen` bits (and `removed` when it
        // began active). Comparing the whole `Env` (not a list of fields) keeps a field added
        // later from being missed.
        let (p, n) = (&prev.history, &next.history);
        let mut expected = p.clone();
        expected.clean = p.clean.with_bit_of(n.clean, i);
        if let (Some(e), Some(&k)) = (expected.timers.get_mut(i), n.timers.get(i)) {
            *e = k;
        }
        expected.dlm_seen = n.dlm_seen;
        let began = m.began_active(i, &prev.actor_states[i], &next.actor_states[i]);
        if began.is_some() {
            expected.removed.clone_from(&n.removed);
        }
        if expected != *n {
            return Footprint::Other;
        }
        if i >= m.spec.len() {
            return Footprint::Local;
        }
        // Cancelling a deadlock victim reads every master's queues (victim ghost); with lock
        // clients, beginning active reads departed nodes' locks (value-block ghost).
        let (ps, ns) = (&*prev.actor_states[i], &*next.actor_states[i]);
        if ps.dlm.last_victim != ns.dlm.last_victim {
            return Footprint::Other;
        }
        match began {
            None => Footprint::Local,
            Some(w) if m.spec.clients.is_empty() => Footprint::Began(w),
            Some(_) => Footprint::Other,
        }
    }
}

/// Could some fault set of the plan leave a live node whose reachable nodes (through uncut
/// links, plus the quorum disk if it reaches it) hold fewer votes than `floor((E+2)/2)`? Decides
/// only whether "a quorum hang happens" is a meaningful reachability property for a check.
pub fn hang_possible(spec: &ClusterSpec, plan: &FaultPlan) -> bool {
    let menu = plan.menu();
    let sets: Vec<u32> = match plan {
        FaultPlan::Exact(f) => vec![(1u32 << f.len()) - 1],
        FaultPlan::Budget { max, menu } => (0u32..(1 << menu.len()))
            .filter(|m| m.count_ones() as usize <= *max)
            .collect(),
    };
    let n = spec.actors_len();
    let quorum = crate::quorum::quorum_of(spec.expected_votes);
    sets.into_iter().any(|set| {
        let mut cut = vec![NodeSet::EMPTY; n];
        let mut down = NodeSet::EMPTY;
        for (_, f) in menu.iter().enumerate().filter(|(k, _)| set & (1 << k) != 0) {
            match f {
                Fault::Cut { pairs, .. } => {
                    for &(a, b) in pairs {
                        cut[a as usize].insert(b as usize);
                        cut[b as usize].insert(a as usize);
                    }
                }
                Fault::Crash(a) => down.insert(*a as usize),
            }
        }
        (0..spec.len()).filter(|&i| !down.contains(i)).any(|i| {
            let mut reach = NodeSet::single(i);
            loop {
                let next = reach.iter().fold(reach, |acc, a| {
                    (0..n)
                        .filter(|&b| !down.contains(b) && !cut[a].contains(b))
                        .fold(acc, |x, b| x.with(b))
                });
                if next == reach {
                    break;
                }
                reach = next;
            }
            let disk = spec.disk_index().is_some_and(|d| reach.contains(d));
            let votes = crate::quorum::votes(spec, reach.inter(NodeSet::first(spec.len())))
                + if disk { spec.disk_votes() } else { 0 };
            votes < quorum
        })
    })
}

/// The checker's fingerprint of a state.
///
/// Stateright 0.31's `Hash` for `ActorModelState` is ambiguous: a `Timers` set hashes its
/// elements' hashes without its length, so the timer vector `[{Recnx}, {}]` hashes exactly like
/// `[{}, {Recnx}]` and two states differing only in *which* node has a timer set collide (measured
/// here: Stateright's own DFS and BFS then visit different numbers of states on the same model).
/// The history carries every node's timer count ([`Env::timers`], kept up to date by
/// `init_states` and `next_state`), which removes the ambiguity from the state's own `Hash`; so
/// this fingerprint is that hash (fixed-seed aHash), and Stateright's checkers see the same
/// distinctions.
///
/// It hashes what that `Hash` hashes, field for field, except that each node state enters by its
/// memoized fingerprint ([`NodeState::fingerprint`]): a successor shares the `Arc` of every node
/// its step left unchanged, so each node state is hashed once, not once per state it appears
/// in. Equal states still get equal fingerprints.
pub fn fingerprint(s: &State) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = crate::explore::hasher();
    h.write_usize(s.actor_states.len());
    for n in &s.actor_states {
        h.write_u64(n.fingerprint());
    }
    s.history.hash(&mut h);
    s.timers_set.hash(&mut h);
    s.random_choices.hash(&mut h);
    s.network.hash(&mut h);
    s.crashed.hash(&mut h);
    s.actor_storages.hash(&mut h);
    h.finish()
}

/// Runs an actor handler outside the model (used by tests).
pub fn start_node(actor: &NodeActor) -> NodeState {
    let mut out = Out::new();
    actor.on_start(Id::from(actor.me), &None, &mut out)
}

/// An error in a `--fail` argument.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--fail {arg:?}: {message}")]
pub struct FaultSpecError {
    /// The argument as given.
    pub arg: String,
    /// What is wrong.
    pub message: String,
}

impl Fault {
    /// Parses `link:A-B` (two region keys, or two node names) or `node:NAME`.
    pub fn parse(spec: &ClusterSpec, arg: &str) -> Result<Fault, FaultSpecError> {
        let e = |m: String| FaultSpecError {
            arg: arg.to_string(),
            message: m,
        };
        if let Some(name) = arg.strip_prefix("node:") {
            let i = spec.node_index(name).ok_or_else(|| {
                let nodes: Vec<&str> = spec.nodes.iter().map(|n| n.name.as_str()).collect();
                e(format!(
                    "no node named {name} (nodes: {})",
                    nodes.join(", ")
                ))
            })?;
            return Ok(Fault::Crash(i as u8));
        }
        let Some(link) = arg.strip_prefix("link:") else {
            return Err(e("expected link:A-B or node:NAME".into()));
        };
        match spec.link_ends(link) {
            Ok(LinkEnds::Nodes(x, y)) => Ok(Fault::node_link(spec, x, y)),
            Ok(LinkEnds::Regions(a, b)) => Fault::region_link(spec, &a, &b)
                .ok_or_else(|| e("a link needs two different regions".into())),
            Err(error @ LinkError::Mixed { node, .. }) => {
                let name = &spec.nodes[node].name;
                Err(e(format!(
                    "{}; to crash {name} use node:{name}",
                    error.describe(spec)
                )))
            }
            Err(error) => Err(e(error.describe(spec))),
        }
    }
}

/// Test helper: visits the model's states breadth-first until more than `states_max` are known,
/// each with its enabled actions and their successors (`None`: the action changes nothing).
#[cfg(test)]
pub(crate) fn breadth_first(
    m: &ClusterModel,
    states_max: usize,
    mut visit: impl FnMut(&State, &[Action], &[Option<State>]),
) {
    let mut seen: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut queue: std::collections::VecDeque<State> = m.init_states().into();
    while let Some(s) = queue.pop_front() {
        if seen.len() > states_max {
            break;
        }
        let mut actions = Vec::new();
        m.actions(&s, &mut actions);
        let nexts: Vec<Option<State>> = actions
            .iter()
            .map(|a| m.next_state(&s, a.clone()))
            .collect();
        visit(&s, &actions, &nexts);
        for next in nexts.into_iter().flatten() {
            if seen.insert(fingerprint(&next)) {
                queue.push_back(next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::Independence;
    use crate::node::View;
    use crate::properties::{NO_ZOMBIE, SEQ_MONOTONE};

    fn model() -> ClusterModel {
        let spec = Arc::new(ClusterSpec::parse("t", crate::config::SEED_TOPOLOGY_TOML).unwrap());
        let menu = Fault::menu(&spec);
        ClusterModel::new(
            spec,
            CheckConfig::new(FaultPlan::Budget { max: 1, menu }, HealMode::Never),
        )
    }

    fn holds(m: &ClusterModel, s: &State, name: &str) -> bool {
        let p = m.properties().into_iter().find(|p| p.name == name).unwrap();
        (p.condition)(m, s)
    }

    /// Beginning active is named on its own by [`ActorIndependence::footprint`]: in a model
    /// without lock clients every step in which a node begins active is `Began` with the node's
    /// new view (it writes nothing but the removed-node ghost) or `Other` (it did more), never
    /// `Local`; no other step is `Began`; and `local` is exactly "the footprint is `Local`".
    /// Breadth-first over the seed's first 20,000 states with one fault (pinned counts).
    #[test]
    fn beginning_active_has_its_own_footprint() {
        let m = model();
        let (mut began, mut other) = (0, 0);
        breadth_first(&m, 20_000, |s, actions, nexts| {
            for (action, next) in actions.iter().zip(nexts) {
                let (Some(i), Some(next)) = (action.actor(), next) else {
                    continue;
                };
                let f = ActorIndependence::footprint(&m, s, i as u8, next);
                let begins = m.began_active(i, &s.actor_states[i], &next.actor_states[i]);
                match f {
                    Footprint::Began(w) => {
                        assert_eq!(Some(w), begins);
                        began += 1;
                    }
                    Footprint::Local => assert!(begins.is_none()),
                    Footprint::Other => other += usize::from(begins.is_some()),
                }
                assert_eq!(
                    ActorIndependence.local(&m, s, i as u8, next),
                    f == Footprint::Local
                );
            }
        });
        assert_eq!((began, other), (614, 0));
    }

    /// The fingerprint's memoized node hashes are never stale: over the seed's first 20,000
    /// states with one fault (breadth-first), every successor's fingerprint equals that of a copy
    /// whose node states are rebuilt with empty memos. Control: a node state cloned from a hashed
    /// one and then changed gets a different fingerprint, so a `Clone` that kept the memo (the
    /// way a stale memo could arise) would be caught.
    #[test]
    fn memoized_node_fingerprints_are_never_stale() {
        let m = model();
        let rebuilt = |s: &State| {
            let mut t = s.clone();
            for n in t.actor_states.iter_mut() {
                let mut fresh = (**n).clone();
                fresh.memo.clear();
                *n = Arc::new(fresh);
            }
            t
        };
        let mut compared = 0;
        breadth_first(&m, 20_000, |_, _, nexts| {
            for next in nexts.iter().flatten() {
                assert_eq!(fingerprint(next), fingerprint(&rebuilt(next)));
                compared += 1;
            }
        });
        assert_eq!(compared, 77_660);

        let s = m.init_states().remove(0);
        let before = fingerprint(&s);
        let mut changed = s.clone();
        let mut n = (*changed.actor_states[0]).clone();
        n.incarnation += 1;
        changed.actor_states[0] = Arc::new(n);
        assert_ne!(fingerprint(&changed), before);
        assert_eq!(fingerprint(&rebuilt(&s)), before);
    }

    /// Negative control for "transition numbers monotone": a node whose view number goes down
    /// within one incarnation is caught.
    #[test]
    fn a_transition_number_going_down_is_caught() {
        let m = model();
        let init = m.init_states().remove(0);
        assert!(holds(&m, &init, SEQ_MONOTONE));
        let mut bumped = init.clone();
        let mut n = (*bumped.actor_states[0]).clone();
        n.view = n.view.map(|v| View { seq: 5, ..v });
        bumped.actor_states[0] = Arc::new(n);
        let mut back = bumped.clone();
        back.actor_states[0] = init.actor_states[0].clone();
        m.record_history(&bumped, &mut back);
        assert!(!holds(&m, &back, SEQ_MONOTONE));
    }

    /// Regression (found by `bench_dlm dlm-deadlock.toml 2`): a lock client's timer that fires
    /// while its lock manager does not run issues nothing, so the value-block ghost must not
    /// record its write (it did, and a later valid read of the real block was flagged stale).
    #[test]
    fn a_client_step_that_issues_nothing_writes_no_value() {
        use crate::dlm::cluster::{lock_id, LocalLock};
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../specs/scenarios/dlm-deadlock.toml"
        );
        let spec = Arc::new(ClusterSpec::load(std::path::Path::new(path)).unwrap());
        let menu = Fault::menu(&spec);
        let m = ClusterModel::new(
            spec,
            CheckConfig::new(FaultPlan::Budget { max: 0, menu }, HealMode::Never),
        );
        let mut prev = m.init_states().remove(0);
        // FRANK1's client holds R1 at EX and its next line is `deq r1 VALBLK` (a write).
        let mut n = (*prev.actor_states[0]).clone();
        n.dlm.pc = vec![3];
        n.dlm.locks = vec![LocalLock {
            res: 0,
            client: 0,
            id: lock_id(0, 0),
            granted: Some(Mode::EX),
            pending: None,
            value: None,
            blocking: false,
        }];
        prev.actor_states[0] = Arc::new(n);
        let (res, v) = m.actor(0).client_write(&prev.actor_states[0], 0).unwrap();
        assert_eq!(res, 0);
        let before = prev.history.lvb[0];
        // Nothing issued (the state is unchanged): the ghost keeps the last value.
        let mut same = prev.clone();
        m.record_dlm(&prev, &mut same, Some(DlmNote::Client(0, 0)));
        assert_eq!(same.history.lvb[0], before);
        // Issued (completed at once by a local master: the script moved on): recorded.
        let mut issued = prev.clone();
        let mut n = (*issued.actor_states[0]).clone();
        n.dlm.pc = vec![4];
        n.dlm.locks.clear();
        issued.actor_states[0] = Arc::new(n);
        m.record_dlm(&prev, &mut issued, Some(DlmNote::Client(0, 0)));
        assert_eq!(issued.history.lvb[0], Some(v));
    }

    /// Regression: a lock client's timer that fires while its node's lock manager does not run
    /// (a transition in progress, or the rebuild for the view not finished) was consumed and
    /// never set again, so the client stalled for good. It is set again instead; the checker
    /// then sees no step at all (unchanged state, the same timer set).
    #[test]
    fn a_client_timer_firing_while_the_lock_manager_does_not_run_is_kept() {
        use stateright::actor::Command;
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../specs/scenarios/dlm-deadlock.toml"
        );
        let spec = Arc::new(ClusterSpec::load(std::path::Path::new(path)).unwrap());
        let menu = Fault::menu(&spec);
        let m = ClusterModel::new(
            spec,
            CheckConfig::new(FaultPlan::Budget { max: 0, menu }, HealMode::Never),
        );
        let init = m.init_states().remove(0);
        let fire = Action::Actor(ActorModelAction::Timeout(Id::from(0), Timer::Client(0)));
        assert!(init.timers_set[0].iter().any(|t| *t == Timer::Client(0)));
        // Running, the client issues its first line (`enq r1 EX VALBLK`).
        let issued = m.next_state(&init, fire.clone()).unwrap();
        assert!(issued.actor_states[0].dlm.locks[0].pending.is_some());
        let view = init.actor_states[0].view.unwrap();
        let stops: [fn(&mut NodeState, View); 2] = [
            |n, view| {
                n.phase = Phase::Locked {
                    coordinator: 1,
                    view,
                }
            },
            |n, _| n.dlm.rebuilt = false,
        ];
        for (i, stop) in stops.iter().enumerate() {
            let mut s = init.clone();
            let mut n = (*s.actor_states[0]).clone();
            stop(&mut n, view);
            s.actor_states[0] = Arc::new(n);
            assert!(!m.actor(0).dlm_running(&s.actor_states[0]), "case {i}");
            let mut st = Cow::Borrowed(&*s.actor_states[0]);
            let mut o = Out::new();
            m.actor(0)
                .on_timeout(Id::from(0), &mut st, &Timer::Client(0), &mut o);
            assert!(matches!(st, Cow::Borrowed(_)), "case {i}: state changed");
            assert!(
                matches!(&o[..], [Command::SetTimer(Timer::Client(0), _)]),
                "case {i}: {o:?}"
            );
            assert!(m.next_state(&s, fire.clone()).is_none(), "case {i}");
        }
    }

    /// Negative control for "removed node never acts as a member": a node recorded as removed
    /// in its current incarnation that is active is caught.
    #[test]
    fn a_removed_node_acting_is_caught() {
        let m = model();
        let mut s = m.init_states().remove(0);
        assert!(holds(&m, &s, NO_ZOMBIE));
        s.history.removed[2] = Some(0);
        assert!(!holds(&m, &s, NO_ZOMBIE));
    }
}
