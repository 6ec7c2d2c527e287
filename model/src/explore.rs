//! Exhaustive breadth-first exploration of any Stateright [`Model`], with a per-state visitor.
//!
//! Stateright's own checkers report property discoveries; `vmsc whatif` also needs *every*
//! settled state (the outcomes), which a Stateright visitor can only get by replaying a path per
//! state. This explorer visits each reachable state once, evaluates every property on it, hands
//! it to a visitor, and keeps only a 64-bit fingerprint plus a back-pointer per state, so
//! counterexample paths are rebuilt by replay and are the shortest ones (BFS).
//!
//! Paths are returned as action indices into [`Model::actions`], the same encoding as
//! Stateright's `Path` and Explorer deep links (`#/steps/0/3/1`).
//!
//! Bounds: `states_max` (unique states) and `deadline`; a run cut by either is reported
//! `complete: false`.
//!
//! # Sleep sets (the `reduced` checker)
//! With an [`Independence`] relation ([`explore_with`]), the explorer prunes *transitions* with
//! sleep sets (Godefroid 1996, ch. 5, with state caching): after exploring `t` from `s`, a sibling
//! `u` explored later carries `t` in its sleep set if `t` and `u` commute at `s`; `t` is then not
//! executed from `s·u`, because `s·u·t = s·t·u` is reached from `s·t`. Every reachable state is
//! still visited exactly once (the reduction never drops a state, only redundant edges into
//! states already reached), so every state property, every `whatif` outcome and the state count
//! are the same as without it; see `specs/checker.md` for the independence relation and the proof
//! obligations. A state reached again with a sleep set that is not a superset of the one it was
//! expanded with is expanded again for the difference (the revisit rule), so nothing is lost to
//! the order in which states are reached.
//!
//! # Persistent sets (the `persistent` checker)
//! [`explore_persistent`] is a state reduction: at each state a [`Persistence`] oracle may name a
//! persistent subset of the enabled actions, which is all the depth-first search explores there,
//! unless a successor through it is on the stack (the cycle proviso). It visits fewer states;
//! the oracle's conditions make every verdict and outcome those of the full space.

use crate::visited::{Seen, Visited};
use stateright::{Expectation, Model};
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Duration, Instant};

/// Search order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Breadth-first: shortest counterexamples; the frontier can be large.
    #[default]
    Bfs,
    /// Depth-first (LIFO frontier): memory bounded by depth × branching; paths not shortest.
    Dfs,
}

/// Which states a visitor sees ([`Options::visit_only`]).
pub type VisitFilter<'v, S> = &'v (dyn Fn(&S) -> bool + Sync);

/// Limits and callbacks of one exploration.
pub struct Options<'p, 'v, S> {
    /// Search order.
    pub strategy: Strategy,
    /// Stop after this many unique states.
    pub states_max: usize,
    /// Stop at this instant.
    pub deadline: Option<Instant>,
    /// Called about once a second with (unique states, depth, elapsed).
    pub progress: Option<&'p mut dyn FnMut(usize, usize, Duration)>,
    /// Called once per unique state within the boundary (that [`Options::visit_only`] accepts).
    pub visit: Option<&'v mut dyn FnMut(&S)>,
    /// If set, the visitor sees only the states this accepts. The parallel search evaluates it
    /// on the worker that inserts a state, so a state it rejects is never copied to the visitor
    /// (`whatif` wants only the settled states: the copy and the hand-over of every other state
    /// cost about a fifth of the search).
    pub visit_only: Option<VisitFilter<'v, S>>,
    /// The state fingerprint; `None` hashes the state with its `Hash` impl. Models whose `Hash`
    /// is ambiguous supply their own (see [`crate::cluster_model::fingerprint`]).
    pub fingerprint: Option<fn(&S) -> u64>,
    /// Stop as soon as every property has a discovery (the report is then incomplete). The
    /// sequential search visits states in the same order either way, so each discovery — and
    /// the path to it — is the one the whole search reports: `vmsc check` uses it to re-find,
    /// reproducibly and shortest, a counterexample a parallel search found.
    pub stop_when_found: bool,
}

impl<S> Options<'_, '_, S> {
    /// Hands `s` to the visitor, if there is one and [`Options::visit_only`] accepts it.
    pub fn offer(&mut self, s: &S) {
        if let Some(v) = self.visit.as_mut() {
            if self.visit_only.is_none_or(|keep| keep(s)) {
                v(s);
            }
        }
    }
}

impl<S> Default for Options<'_, '_, S> {
    fn default() -> Self {
        Options {
            strategy: Strategy::Bfs,
            states_max: 50_000_000,
            deadline: None,
            progress: None,
            visit: None,
            visit_only: None,
            fingerprint: None,
            stop_when_found: false,
        }
    }
}

/// The verdict for one property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyResult {
    /// The property's name.
    pub name: &'static str,
    /// Always / sometimes / eventually.
    pub expectation: Expectation,
    /// For `always`: no counterexample found; for `sometimes`: an example found.
    pub holds: bool,
    /// The counterexample (always) or example (sometimes), as action indices after init index 0.
    pub path: Option<Vec<usize>>,
}

/// The result of an exploration.
#[derive(Clone, Debug)]
pub struct Report {
    /// Every reachable state within the boundary was visited.
    pub complete: bool,
    /// Unique states visited.
    pub states: usize,
    /// Transitions (successor computations that yielded a state).
    pub transitions: usize,
    /// Longest path, in actions.
    pub max_depth: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// One entry per model property, in model order.
    pub properties: Vec<PropertyResult>,
}

/// The default fingerprint: the state's `Hash`, through aHash with fixed seeds (deterministic
/// across runs and machines of the same architecture; several times faster than SipHash on
/// these states).
pub fn fp<T: Hash>(t: &T) -> u64 {
    let mut h = hasher();
    t.hash(&mut h);
    h.finish()
}

/// A fixed-seed hasher for fingerprints.
pub fn hasher() -> impl Hasher {
    ahash::RandomState::with_seeds(
        0x5643_4d53_2d66_7031,
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
    )
    .build_hasher()
}

/// Which actions commute, for sleep sets. Two actions `a`, `b` enabled at a state `s` are treated
/// as independent exactly when both have a [`slot`](Independence::slot), their actors differ,
/// and both steps were [`local`](Independence::local). The implementation must guarantee that
/// two such actions commute (`s·a·b = s·b·a`, both orders enabled) and that a local action stays
/// enabled, local and names the same step (same slot) after an independent action.
pub trait Independence<M: Model> {
    /// The action's sleep-set slot (`< 127`; a higher one is ignored) and the actor that steps;
    /// `None` if the action must never sleep (it is dependent with everything).
    fn slot(&self, model: &M, action: &M::Action) -> Option<(u8, u8)>;
    /// Whether the step `prev --> next` of `actor` (an action that has a slot) touched only
    /// that actor: its state, its timers, the head of one flow into it, the tail of flows out of
    /// it, and nothing any other step reads.
    fn local(&self, model: &M, prev: &M::State, actor: u8, next: &M::State) -> bool;
}

/// A persistent-set oracle (the `persistent` checker): for a state and its enabled actions,
/// either `None` (expand them all) or the indices of a **persistent set** — a non-empty subset
/// `T` such that no action outside `T`, on any path from the state that avoids `T`, is dependent
/// on an action of `T` (condition C1), every action of `T` leaves the truth of every property and
/// of every outcome predicate unchanged (C2, visibility). The explorer adds the cycle proviso
/// (C3): a subset one of whose successors is on the depth-first stack is expanded in full.
pub trait Persistence<M: Model> {
    /// The persistent subset of `actions` (enabled at `state`), or `None` for all of them.
    fn persistent(&self, model: &M, state: &M::State, actions: &[M::Action]) -> Option<Vec<usize>>;
}

/// Counts of the persistent-set reduction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PersistentStats {
    /// States expanded with a proper persistent subset.
    pub reduced: usize,
    /// States whose persistent subset was dropped by the cycle proviso.
    pub proviso: usize,
    /// States expanded in full because the oracle found no persistent subset.
    pub full: usize,
}

/// Counts of the sleep-set reduction (zero without one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SleepStats {
    /// Enabled actions not executed because they were asleep.
    pub slept: usize,
    /// States expanded again because they were reached with a smaller sleep set.
    pub reexpanded: usize,
}

/// Explores `model` breadth-first (or depth-first), without reduction.
pub fn explore<M>(model: &M, opts: Options<'_, '_, M::State>) -> Report
where
    M: Model,
    M::State: Hash + Clone,
    M::Action: Clone,
{
    explore_with(model, opts, None).0
}

/// Explores `model`, with sleep sets when `indep` is given.
pub fn explore_with<M>(
    model: &M,
    opts: Options<'_, '_, M::State>,
    indep: Option<&dyn Independence<M>>,
) -> (Report, SleepStats)
where
    M: Model,
    M::State: Hash + Clone,
    M::Action: Clone,
{
    let (report, sleep, _) = search(model, opts, indep, None);
    (report, sleep)
}

/// Explores `model` depth-first with persistent sets and the stack proviso (no sleep sets): a
/// state reduction. The search visits a subset of the reachable states on which every property
/// verdict and every outcome predicate are those of the full state space (see
/// `specs/checker.md`); the state count is that of the reduced graph.
pub fn explore_persistent<M>(
    model: &M,
    mut opts: Options<'_, '_, M::State>,
    por: &dyn Persistence<M>,
) -> (Report, PersistentStats)
where
    M: Model,
    M::State: Hash + Clone,
    M::Action: Clone,
{
    opts.strategy = Strategy::Dfs;
    let (report, _, stats) = search(model, opts, None, Some(por));
    (report, stats)
}

fn search<M>(
    model: &M,
    mut opts: Options<'_, '_, M::State>,
    indep: Option<&dyn Independence<M>>,
    por: Option<&dyn Persistence<M>>,
) -> (Report, SleepStats, PersistentStats)
where
    M: Model,
    M::State: Hash + Clone,
    M::Action: Clone,
{
    let start = Instant::now();
    let fp = opts.fingerprint.unwrap_or(fp::<M::State>);
    let props = model.properties();
    let mut found: Vec<Option<u64>> = vec![None; props.len()];
    // fingerprint -> parent, action index, sleep set; the init state points at itself.
    let mut seen = Visited::default();
    // (state, fingerprint, depth, only these slots (a re-expansion) or all).
    let mut queue: VecDeque<(M::State, u64, usize, Option<u128>)> = VecDeque::new();
    let mut transitions = 0usize;
    let mut max_depth = 0usize;
    let mut complete = true;
    let mut last_progress = Instant::now();
    let mut stats = SleepStats::default();
    let mut por_stats = PersistentStats::default();
    // The depth-first stack's fingerprints (the cycle proviso), with multiplicity.
    let mut on_stack: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();

    let check = |s: &M::State, f: u64, found: &mut Vec<Option<u64>>| {
        for (k, p) in props.iter().enumerate() {
            if found[k].is_none() {
                let cond = (p.condition)(model, s);
                let discovered = match p.expectation {
                    Expectation::Always | Expectation::Eventually => !cond,
                    Expectation::Sometimes => cond,
                };
                if discovered {
                    found[k] = Some(f);
                }
            }
        }
    };

    for s in model.init_states().into_iter().take(1) {
        if !model.within_boundary(&s) {
            continue;
        }
        let f = fp(&s);
        seen.insert(f, Seen::init(f));
        check(&s, f, &mut found);
        opts.offer(&s);
        queue.push_back((s, f, 0, None));
    }

    let dfs = opts.strategy == Strategy::Dfs;
    // Breadth-first: a queue of states, each expanded whole. Depth-first: a stack of frames,
    // each the state being expanded and the actions still to try, so memory is the path, not
    // every pending sibling.
    let mut frames: Vec<Frame<M>> = Vec::new();
    let mut cut = false;
    let mut polled = 0u32;
    loop {
        if seen.len() >= opts.states_max {
            cut = true;
            break;
        }
        // The clock is read once every 256 steps (reading it every step cost ~2 % of the run).
        polled = polled.wrapping_add(1);
        if polled.is_multiple_of(256) {
            if opts.deadline.is_some_and(|d| Instant::now() >= d) {
                cut = true;
                break;
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                let depth = if dfs { frames.len() } else { max_depth };
                if let Some(p) = opts.progress.as_mut() {
                    p(seen.len(), depth, start.elapsed());
                }
            }
        }
        if frames.is_empty()
            || (!dfs && frames.last().is_some_and(|fr| fr.next >= fr.actions.len()))
        {
            frames.pop();
            let Some((s, f, depth, only)) = queue.pop_front() else {
                break;
            };
            let fr = Frame::open(model, &mut seen, s, f, depth, only);
            frames.push(fr.stacked(model, por, fp, &mut on_stack, &mut por_stats));
        }
        let top = frames.len() - 1;
        let fr = &mut frames[top];
        max_depth = max_depth.max(fr.depth);
        let Some(k) = (fr.next < fr.actions.len()).then_some(fr.next) else {
            if let Some(fr) = frames.pop() {
                if por.is_some() {
                    unstack(&mut on_stack, fr.fp);
                }
            }
            continue;
        };
        fr.next += 1;
        let a = fr.actions[k].clone();
        // The action's index among all enabled actions (the path encoding).
        let i = fr.index_of(k);
        let (only, depth) = (fr.only, fr.depth);
        let mut sleep = fr.sleep;
        let outcome = step(model, indep, &fr.state, a, only, &mut sleep, &mut stats);
        frames[top].sleep = sleep;
        let f = frames[top].fp;
        let Some((next, local_actor_sleep)) = outcome else {
            continue;
        };
        transitions += 1;
        if !model.within_boundary(&next) {
            continue;
        }
        let nf = fp(&next);
        if let Some(e) = seen.get_mut(&nf) {
            // The revisit rule: what slept when the state was expanded but is awake now must
            // be explored from it; its stored sleep set shrinks to the intersection.
            let missing = e.mark.sleep() & !local_actor_sleep;
            e.mark.set_sleep(e.mark.sleep() & local_actor_sleep);
            if e.mark.expanded() && missing != 0 {
                stats.reexpanded += 1;
                if dfs {
                    frames.push(Frame::open(
                        model,
                        &mut seen,
                        next,
                        nf,
                        depth + 1,
                        Some(missing),
                    ));
                } else {
                    queue.push_back((next, nf, depth + 1, Some(missing)));
                }
            }
            continue;
        }
        seen.insert(nf, Seen::reached(f, i, local_actor_sleep));
        check(&next, nf, &mut found);
        opts.offer(&next);
        if opts.stop_when_found && found.iter().all(Option::is_some) {
            cut = true;
            break;
        }
        if dfs {
            let fr = Frame::open(model, &mut seen, next, nf, depth + 1, None);
            frames.push(fr.stacked(model, por, fp, &mut on_stack, &mut por_stats));
        } else {
            queue.push_back((next, nf, depth + 1, None));
        }
    }
    if cut || !queue.is_empty() || frames.iter().any(|fr| fr.next < fr.actions.len()) {
        complete = false;
    }
    let path_to = |mut f: u64| {
        let mut rev = Vec::new();
        while let Some((parent, action)) = seen.get(&f).and_then(Seen::step) {
            rev.push(action);
            f = parent;
        }
        rev.reverse();
        rev
    };
    let properties = props
        .iter()
        .zip(&found)
        .map(|(p, f)| PropertyResult {
            name: p.name,
            expectation: p.expectation.clone(),
            holds: match p.expectation {
                Expectation::Sometimes => f.is_some(),
                _ => f.is_none(),
            },
            path: f.map(path_to),
        })
        .collect();
    (
        Report {
            complete,
            states: seen.len(),
            transitions,
            max_depth,
            elapsed: start.elapsed(),
            properties,
        },
        stats,
        por_stats,
    )
}

fn unstack(on_stack: &mut std::collections::HashMap<u64, u32>, f: u64) {
    if let Some(k) = on_stack.get_mut(&f) {
        *k -= 1;
        if *k == 0 {
            on_stack.remove(&f);
        }
    }
}

/// A state being expanded: its actions, the next one to try, and the sleep set (growing as
/// siblings are explored).
struct Frame<M: Model> {
    state: M::State,
    fp: u64,
    depth: usize,
    only: Option<u128>,
    actions: Vec<M::Action>,
    /// With a persistent subset: the kept actions' indices among all enabled actions.
    index: Option<Vec<usize>>,
    next: usize,
    sleep: u128,
}

impl<M: Model> Frame<M> {
    /// Opens the expansion of `state`: its enabled actions, and the sleep set it starts from —
    /// the stored one (already intersected with every sleep set the state was reached with
    /// since its discovery), which is then marked expanded.
    fn open(
        model: &M,
        seen: &mut Visited,
        state: M::State,
        fp: u64,
        depth: usize,
        only: Option<u128>,
    ) -> Self {
        let e = seen
            .get_mut(&fp)
            .expect("states are in the visited set before they are expanded");
        e.mark.mark_expanded();
        let sleep = e.mark.sleep();
        let mut actions = Vec::new();
        model.actions(&state, &mut actions);
        Frame {
            state,
            fp,
            depth,
            only,
            actions,
            index: None,
            next: 0,
            sleep,
        }
    }

    /// With a persistent-set oracle: restricts the frame to its subset ([`Frame::restrict`]) and
    /// puts the state on the depth-first stack. Without one: the frame as it is.
    fn stacked(
        mut self,
        model: &M,
        por: Option<&dyn Persistence<M>>,
        fp: fn(&M::State) -> u64,
        on_stack: &mut std::collections::HashMap<u64, u32>,
        stats: &mut PersistentStats,
    ) -> Self
    where
        M::Action: Clone,
    {
        if let Some(p) = por {
            self.restrict(model, p, fp, on_stack, stats);
            *on_stack.entry(self.fp).or_default() += 1;
        }
        self
    }

    /// Keeps only the oracle's persistent subset, unless one of its successors is on the
    /// depth-first stack (the cycle proviso: every cycle of the reduced graph then has a fully
    /// expanded state, so no action is postponed forever around it).
    fn restrict(
        &mut self,
        model: &M,
        por: &dyn Persistence<M>,
        fp: fn(&M::State) -> u64,
        on_stack: &std::collections::HashMap<u64, u32>,
        stats: &mut PersistentStats,
    ) where
        M::Action: Clone,
    {
        let Some(keep) = por.persistent(model, &self.state, &self.actions) else {
            stats.full += 1;
            return;
        };
        let closes_cycle = keep.iter().any(|&k| {
            model
                .next_state(&self.state, self.actions[k].clone())
                .is_some_and(|n| on_stack.contains_key(&fp(&n)))
        });
        if closes_cycle {
            stats.proviso += 1;
            return;
        }
        stats.reduced += 1;
        self.actions = keep.iter().map(|&k| self.actions[k].clone()).collect();
        self.index = Some(keep);
    }

    /// The index among all enabled actions of the `k`-th action this frame tries.
    fn index_of(&self, k: usize) -> usize {
        self.index.as_ref().map_or(k, |v| v[k])
    }
}

/// Executes action `a` from `s` unless it is asleep or outside a re-expansion's `only`
/// slots; returns the successor and the sleep set it inherits, and adds the action to `sleep`
/// if it was local (later siblings need not execute it again after theirs).
fn step<M: Model>(
    model: &M,
    indep: Option<&dyn Independence<M>>,
    s: &M::State,
    a: M::Action,
    only: Option<u128>,
    sleep: &mut u128,
    stats: &mut SleepStats,
) -> Option<(M::State, u128)> {
    let slot = slot_of(indep, model, &a);
    let bit = slot.map_or(0u128, |(k, _)| 1u128 << k);
    if only.is_some_and(|mask| bit & mask == 0) {
        return None;
    }
    if bit & *sleep != 0 {
        stats.slept += 1;
        return None;
    }
    let next = model.next_state(s, a)?;
    let local = match (indep, slot) {
        (Some(d), Some((_, actor))) => d.local(model, s, actor, &next).then_some(actor),
        _ => None,
    };
    // The successor's sleep set: what sleeps here and commutes with this step.
    let next_sleep = match local {
        Some(actor) => *sleep & !actor_mask(actor),
        None => 0,
    };
    if local.is_some() {
        *sleep |= bit;
    }
    Some((next, next_sleep))
}

/// The action's sleep-set slot, if it has one below the visited set's `SLOTS` (127; an action with
/// a higher slot is treated as one without: it never sleeps, which is always sound).
pub fn slot_of<M: Model>(
    indep: Option<&(dyn Independence<M> + '_)>,
    model: &M,
    a: &M::Action,
) -> Option<(u8, u8)> {
    indep
        .and_then(|d| d.slot(model, a))
        .filter(|&(k, _)| k < crate::visited::SLOTS)
}

/// The sleep-set slots of one actor: slots are `actor * 8 + k` (deliveries, `k` = sender) and
/// `64 + actor * 8 + k` (timers, `k` = timer kind), for at most 8 actors.
pub fn actor_mask(actor: u8) -> u128 {
    let one = 0xffu128 << (actor as u32 * 8);
    one | (one << 64)
}

/// A replayed path: the init state and the (action, resulting state) steps.
pub type Replayed<M> = (
    <M as Model>::State,
    Vec<(<M as Model>::Action, <M as Model>::State)>,
);

/// Replays action indices from the first init state; returns the (action, resulting state)
/// steps. `None` if an index does not name an enabled action.
pub fn replay<M>(model: &M, path: &[usize]) -> Option<Replayed<M>>
where
    M: Model,
    M::State: Clone,
    M::Action: Clone,
{
    let init = model.init_states().into_iter().next()?;
    let mut s = init.clone();
    let mut steps = Vec::new();
    let mut actions = Vec::new();
    for &i in path {
        actions.clear();
        model.actions(&s, &mut actions);
        let a = actions.get(i)?.clone();
        let next = model.next_state(&s, a.clone())?;
        steps.push((a, next.clone()));
        s = next;
    }
    Some((init, steps))
}

/// The Explorer encoding of a path: `0/i1/i2/...`.
pub fn encode(path: &[usize]) -> String {
    std::iter::once("0".to_string())
        .chain(path.iter().map(|i| i.to_string()))
        .collect::<Vec<_>>()
        .join("/")
}
