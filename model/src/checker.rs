//! The checkers `vmsc check`, `whatif` and `plan` can run on a [`ClusterModel`], behind one
//! interface, so that their verdicts, state counts and outcomes can be compared (the
//! cross-check in `tests/checkers.rs`, run in CI).
//!
//! * [`Checker::Reduced`] (the default): vmsc's explorer with sleep sets over
//!   [`ActorIndependence`] — deliveries and timeouts at different actors commute when both are
//!   local steps. It visits every reachable state once (so counts, verdicts and outcomes equal
//!   the full search's) and executes fewer transitions. `specs/checker.md` states the relation
//!   and the proof obligations.
//! * [`Checker::Explorer`]: the same explorer without reduction.
//! * [`Checker::Persistent`]: the explorer, depth-first on one thread, with persistent sets
//!   ([`crate::persistent`]): it visits a subset of the states on which every verdict and every
//!   settled outcome are those of the full state space, so its state count is its own.
//! * [`Checker::StaterightBfs`], [`Checker::StaterightDfs`]: Stateright's own checkers on the same
//!   model (2 threads), with a never-true "sometimes" property added so they do not stop early
//!   once every property has a discovery: `complete` then means every state was visited. A
//!   `visit` callback makes them keep every visited state in memory (small models only).

use crate::cluster_model::{fingerprint, ActorIndependence, ClusterModel, State};
use crate::explore::{self, Options, PropertyResult, Report, SleepStats};
use stateright::{Checker as _, Expectation, Model, Property};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Which search runs a check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Checker {
    /// vmsc's explorer with sleep sets (the default).
    #[default]
    Reduced,
    /// vmsc's explorer without reduction.
    Explorer,
    /// Stateright's breadth-first checker.
    StaterightBfs,
    /// Stateright's depth-first checker.
    StaterightDfs,
    /// vmsc's explorer with persistent sets (a state reduction; sequential depth-first).
    Persistent,
}

impl Checker {
    /// Every checker, by its command-line and JSON name.
    pub const ALL: [(&'static str, Checker); 5] = [
        ("reduced", Checker::Reduced),
        ("persistent", Checker::Persistent),
        ("explorer", Checker::Explorer),
        ("stateright-bfs", Checker::StaterightBfs),
        ("stateright-dfs", Checker::StaterightDfs),
    ];

    /// The command-line and JSON name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map(|(n, _)| *n)
            .expect("every checker is listed")
    }
}

/// The name of the never-true property added for Stateright's checkers.
pub const EXHAUSTIVE: &str = "(visit every state)";

/// Runs `checker` on `m`. `opts.strategy` applies to vmsc's explorer; `opts.states_max`,
/// `opts.deadline` and `opts.visit` to every checker; `opts.progress` to vmsc's explorer only.
pub fn run(
    m: &ClusterModel,
    checker: Checker,
    opts: Options<'_, '_, State>,
) -> (Report, SleepStats) {
    run_threads(m, checker, opts, 1)
}

/// [`run`] with vmsc's explorer on `threads` workers ([`crate::parallel`]; 1 = the sequential,
/// deterministic search). Stateright's checkers always use their own 2 threads.
pub fn run_threads(
    m: &ClusterModel,
    checker: Checker,
    mut opts: Options<'_, '_, State>,
    threads: usize,
) -> (Report, SleepStats) {
    opts.fingerprint = Some(fingerprint);
    match checker {
        Checker::Reduced if threads > 1 => {
            crate::parallel::explore_parallel(m, opts, Some(&ActorIndependence), threads)
        }
        Checker::Explorer if threads > 1 => {
            crate::parallel::explore_parallel(m, opts, None, threads)
        }
        Checker::Reduced => explore::explore_with(m, opts, Some(&ActorIndependence)),
        Checker::Explorer => explore::explore_with(m, opts, None),
        Checker::Persistent => {
            let por = crate::persistent::ActorPersistence::default();
            (
                explore::explore_persistent(m, opts, &por).0,
                SleepStats::default(),
            )
        }
        Checker::StaterightBfs | Checker::StaterightDfs => {
            (stateright_run(m, checker, opts), SleepStats::default())
        }
    }
}

fn stateright_run(m: &ClusterModel, checker: Checker, opts: Options<'_, '_, State>) -> Report {
    let start = Instant::now();
    let props = m.properties();
    let mut model = ClusterModel::new(m.spec.clone(), m.cfg.clone());
    model.retain_properties(|p| props.iter().any(|q| q.name == p.name));
    model.push_property(Property::sometimes(EXHAUSTIVE, |_, _| false));
    let visited: Arc<Mutex<Vec<State>>> = Arc::new(Mutex::new(Vec::new()));
    let mut b = model
        .checker()
        .threads(2)
        .target_state_count(opts.states_max);
    let deadline = opts.deadline;
    if let Some(d) = deadline {
        b = b.timeout(d.saturating_duration_since(Instant::now()));
    }
    if opts.visit.is_some() {
        let v = visited.clone();
        b = b.visitor(move |p: stateright::Path<State, _>| {
            v.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(p.last_state().clone())
        });
    }
    if checker == Checker::StaterightDfs {
        finish(b.spawn_dfs().join(), &props, &visited, opts, start)
    } else {
        finish(b.spawn_bfs().join(), &props, &visited, opts, start)
    }
}

fn finish(
    c: impl stateright::Checker<ClusterModel>,
    props: &[Property<ClusterModel>],
    visited: &Mutex<Vec<State>>,
    mut opts: Options<'_, '_, State>,
    start: Instant,
) -> Report {
    let discoveries = c.discoveries();
    let properties = props
        .iter()
        .map(|p| {
            let d = discoveries.get(p.name);
            PropertyResult {
                name: p.name,
                expectation: p.expectation.clone(),
                holds: match p.expectation {
                    Expectation::Sometimes => d.is_some(),
                    _ => d.is_none(),
                },
                path: d.map(|path| action_indices(c.model(), path.clone())),
            }
        })
        .collect();
    let deadline = opts.deadline;
    if opts.visit.is_some() {
        for s in visited.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            opts.offer(s);
        }
    }
    // A timed-out Stateright checker also reports done: only a run that ended before its
    // deadline and below its state target visited everything.
    let cut =
        deadline.is_some_and(|d| Instant::now() >= d) || c.unique_state_count() >= opts.states_max;
    Report {
        complete: c.is_done() && !cut && !discoveries.contains_key(EXHAUSTIVE),
        states: c.unique_state_count(),
        transitions: c.state_count(),
        max_depth: c.max_depth(),
        elapsed: start.elapsed(),
        properties,
    }
}

/// A Stateright path as action indices (the Explorer's `#/steps/0/i/j` encoding).
fn action_indices(
    m: &ClusterModel,
    path: stateright::Path<State, crate::cluster_model::Action>,
) -> Vec<usize> {
    let mut out = Vec::new();
    let mut acts = Vec::new();
    for (s, a) in path.into_vec() {
        let Some(a) = a else { continue };
        acts.clear();
        m.actions(&s, &mut acts);
        if let Some(i) = acts.iter().position(|x| *x == a) {
            out.push(i);
        }
    }
    out
}
