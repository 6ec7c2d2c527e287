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

use stateright::{Expectation, Model};
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
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
    /// Called once per unique state within the boundary.
    pub visit: Option<&'v mut dyn FnMut(&S)>,
    /// The state fingerprint; `None` hashes the state with its `Hash` impl. Models whose `Hash`
    /// is ambiguous supply their own (see [`crate::cluster_model::fingerprint`]).
    pub fingerprint: Option<fn(&S) -> u64>,
}

impl<S> Default for Options<'_, '_, S> {
    fn default() -> Self {
        Options {
            strategy: Strategy::Bfs,
            states_max: 50_000_000,
            deadline: None,
            progress: None,
            visit: None,
            fingerprint: None,
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

/// The default fingerprint: the state's `Hash`, through SipHash with fixed keys.
pub fn fp<T: Hash>(t: &T) -> u64 {
    let mut h = DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

/// Explores `model` breadth-first.
pub fn explore<M>(model: &M, mut opts: Options<'_, '_, M::State>) -> Report
where
    M: Model,
    M::State: Hash + Clone,
{
    let start = Instant::now();
    let fp = opts.fingerprint.unwrap_or(fp::<M::State>);
    let props = model.properties();
    let mut found: Vec<Option<u64>> = vec![None; props.len()];
    // fingerprint -> (parent fingerprint, action index); the init state points at itself.
    let mut parents: HashMap<u64, (u64, u32)> = HashMap::new();
    let mut queue: VecDeque<(M::State, u64, usize)> = VecDeque::new();
    let mut transitions = 0usize;
    let mut max_depth = 0usize;
    let mut complete = true;
    let mut last_progress = Instant::now();

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
        parents.insert(f, (f, u32::MAX));
        check(&s, f, &mut found);
        if let Some(v) = opts.visit.as_mut() {
            v(&s);
        }
        queue.push_back((s, f, 0));
    }

    let mut actions = Vec::new();
    let dfs = opts.strategy == Strategy::Dfs;
    while let Some((s, f, depth)) = if dfs {
        queue.pop_back()
    } else {
        queue.pop_front()
    } {
        max_depth = max_depth.max(depth);
        if parents.len() >= opts.states_max || opts.deadline.is_some_and(|d| Instant::now() >= d) {
            complete = false;
            break;
        }
        if last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            if let Some(p) = opts.progress.as_mut() {
                p(parents.len(), depth, start.elapsed());
            }
        }
        actions.clear();
        model.actions(&s, &mut actions);
        for (i, a) in actions.drain(..).enumerate() {
            let Some(next) = model.next_state(&s, a) else {
                continue;
            };
            transitions += 1;
            if !model.within_boundary(&next) {
                continue;
            }
            let nf = fp(&next);
            if parents.contains_key(&nf) {
                continue;
            }
            parents.insert(nf, (f, i as u32));
            check(&next, nf, &mut found);
            if let Some(v) = opts.visit.as_mut() {
                v(&next);
            }
            queue.push_back((next, nf, depth + 1));
        }
    }
    if !queue.is_empty() {
        complete = false;
    }
    let path_to = |mut f: u64| {
        let mut rev = Vec::new();
        while let Some(&(parent, i)) = parents.get(&f) {
            if i == u32::MAX {
                break;
            }
            rev.push(i as usize);
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
    Report {
        complete,
        states: parents.len(),
        transitions,
        max_depth,
        elapsed: start.elapsed(),
        properties,
    }
}

/// Replays action indices from the first init state; returns the (action, resulting state)
/// steps. `None` if an index does not name an enabled action.
pub fn replay<M>(model: &M, path: &[usize]) -> Option<(M::State, Vec<(M::Action, M::State)>)>
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
