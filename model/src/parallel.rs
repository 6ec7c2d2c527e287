//! The explorer of [`crate::explore`] on several threads: the same visited set, the same sleep
//! sets and revisit rule, the same report, with the work shared between `threads` workers.
//!
//! # How the work is shared
//! * The **visited set** is split into [`SHARDS`] hash maps by fingerprint, each behind its own
//!   mutex. Every decision about one state — "new, insert it", "seen, intersect its sleep set and
//!   maybe re-expand it", "expand it now, with the sleep set stored so far" — is taken under its
//!   shard's lock, so it is atomic exactly as in the sequential explorer, and the argument of
//!   `specs/checker.md` (every reachable state is visited exactly once; a state reached with a
//!   sleep set that is not a superset of the one it was expanded with is expanded again for the
//!   difference) holds unchanged whatever the interleaving of the workers.
//! * Each worker runs a depth-first search with its own stack of frames. A worker that runs out
//!   of work waits on a shared **pool**; a busy worker that sees a waiting one hands it its next
//!   new state instead of pushing it on its own stack. The search ends when every worker waits
//!   and the pool is empty, or at the deadline or state bound (then `complete: false`).
//! * **No parent links.** A worker knows the path to every state it expands: the path to the
//!   state it took from the pool (a task carries it) followed by the action index each frame on
//!   its stack is exploring. So a discovery's path is written down when it is made, a task handed
//!   to another worker carries its path, and the visited set keeps only a fingerprint and a
//!   `Mark` (sleep set and expanded flag) per state: 24 bytes per table slot,
//!   against 40 for the sequential explorer's entry with its parent link.
//! * Properties are evaluated by the worker that inserts a state. The per-state visitor and the
//!   progress callback are not thread-safe (`FnMut`), so they run on the calling thread: workers
//!   send it a clone of every new state when there is a visitor.
//!
//! # What stays the same and what does not
//! The unique-state count, every property's verdict and the set of visited states (so every
//! `whatif` outcome) are those of the sequential search; the cross-check test runs both and
//! compares. Which counterexample is reported for a violated property depends on which worker
//! got there first, so the path may differ from run to run; `vmsc check` therefore re-finds each
//! violation with the sequential search, whose paths are the deterministic, pinned ones.

use crate::explore::{
    actor_mask, slot_of, Independence, Options, PropertyResult, Report, SleepStats,
};
use crate::visited::{Mark, Marks};
use stateright::{Expectation, Model, Property};
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Number of visited-set shards (a power of two).
pub const SHARDS: usize = 256;

/// Most workers.
pub const THREADS_MAX: usize = 64;

/// A state to expand: state, fingerprint, depth, and the slots of a re-expansion (`None`: all).
type Task<S> = (S, u64, usize, Option<u128>);

/// A task in the pool, with the action indices that reach its state from the initial state.
type Handoff<S> = (Task<S>, Vec<usize>);

struct Pool<S> {
    tasks: Vec<Handoff<S>>,
    waiting: usize,
    done: bool,
}

struct Shared<'m, M: Model> {
    model: &'m M,
    indep: Option<&'m (dyn Independence<M> + Sync)>,
    fp: fn(&M::State) -> u64,
    props: Vec<Property<M>>,
    threads: usize,
    seen: Vec<Mutex<Marks>>,
    pool: Mutex<Pool<M::State>>,
    wake: Condvar,
    /// Workers waiting for work (mirrors `Pool::waiting`, read without the lock).
    hungry: AtomicUsize,
    stop: AtomicBool,
    cut: AtomicBool,
    states: AtomicUsize,
    max_depth: AtomicUsize,
    /// Per property, the path to its first discovery.
    found: Vec<Mutex<Option<Vec<usize>>>>,
    found_any: Vec<AtomicBool>,
    states_max: usize,
    deadline: Option<Instant>,
    /// [`Options::visit_only`]: which new states go to the visitor.
    visit_only: Option<crate::explore::VisitFilter<'m, M::State>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<M: Model> Shared<'_, M> {
    fn shard(&self, f: u64) -> MutexGuard<'_, Marks> {
        // The high bits: the map inside the shard hashes the key again.
        lock(&self.seen[(f >> 56) as usize % SHARDS])
    }

    /// Evaluates the properties on a new state; `path` (called only for a discovery) gives the
    /// action indices that reach it.
    fn check(&self, s: &M::State, path: impl Fn() -> Vec<usize>) {
        for (k, p) in self.props.iter().enumerate() {
            if self.found_any[k].load(Ordering::Relaxed) {
                continue;
            }
            let cond = (p.condition)(self.model, s);
            let discovered = match p.expectation {
                Expectation::Always | Expectation::Eventually => !cond,
                Expectation::Sometimes => cond,
            };
            if discovered {
                let mut slot = lock(&self.found[k]);
                if slot.is_none() {
                    *slot = Some(path());
                    self.found_any[k].store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// Next task for a worker with an empty stack; `None` when the search is over.
    fn take(&self) -> Option<Handoff<M::State>> {
        let mut pool = lock(&self.pool);
        loop {
            if pool.done || self.stop.load(Ordering::Relaxed) {
                return None;
            }
            if let Some(t) = pool.tasks.pop() {
                return Some(t);
            }
            pool.waiting += 1;
            self.hungry.store(pool.waiting, Ordering::Relaxed);
            if pool.waiting == self.threads {
                pool.done = true;
                self.wake.notify_all();
                return None;
            }
            pool = self
                .wake
                .wait_timeout(pool, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
            pool.waiting -= 1;
            self.hungry.store(pool.waiting, Ordering::Relaxed);
        }
    }

    fn give(&self, t: Handoff<M::State>) {
        lock(&self.pool).tasks.push(t);
        self.wake.notify_one();
    }

    fn halt(&self, cut: bool) {
        if cut {
            self.cut.store(true, Ordering::Relaxed);
        }
        self.stop.store(true, Ordering::Relaxed);
        self.wake.notify_all();
    }
}

/// A state being expanded (as in the sequential explorer).
struct Frame<M: Model> {
    state: M::State,
    depth: usize,
    only: Option<u128>,
    actions: Vec<M::Action>,
    next: usize,
    sleep: u128,
}

fn open<M: Model>(sh: &Shared<'_, M>, (state, fp, depth, only): Task<M::State>) -> Frame<M> {
    let sleep = {
        let mut shard = sh.shard(fp);
        let e = shard
            .get_mut(&fp)
            .expect("states are in the visited set before they are expanded");
        e.mark_expanded();
        e.sleep()
    };
    let mut actions = Vec::new();
    sh.model.actions(&state, &mut actions);
    sh.max_depth.fetch_max(depth, Ordering::Relaxed);
    Frame {
        state,
        depth,
        only,
        actions,
        next: 0,
        sleep,
    }
}

/// Per-worker counters.
#[derive(Default)]
struct Counts {
    transitions: usize,
    stats: SleepStats,
}

fn worker<M>(sh: &Shared<'_, M>, visits: Option<mpsc::SyncSender<M::State>>) -> Counts
where
    M: Model,
    M::State: Hash + Clone,
    M::Action: Clone,
{
    let mut c = Counts::default();
    let mut frames: Vec<Frame<M>> = Vec::new();
    // The path to the state at the bottom of the stack; above it, each frame's `next - 1` is
    // the action index that leads to the frame above it.
    let mut root: Vec<usize> = Vec::new();
    let path_to_next = |root: &[usize], frames: &[Frame<M>]| -> Vec<usize> {
        root.iter()
            .copied()
            .chain(frames.iter().map(|fr| fr.next - 1))
            .collect()
    };
    let mut polled = 0u32;
    loop {
        if frames.is_empty() {
            match sh.take() {
                Some((t, path)) => {
                    root = path;
                    frames.push(open(sh, t));
                }
                None => return c,
            }
        }
        polled = polled.wrapping_add(1);
        if polled.is_multiple_of(256) {
            if sh.stop.load(Ordering::Relaxed) {
                return c;
            }
            if sh.states.load(Ordering::Relaxed) >= sh.states_max
                || sh.deadline.is_some_and(|d| Instant::now() >= d)
            {
                sh.halt(true);
                return c;
            }
        }
        let top = frames.len() - 1;
        let fr = &mut frames[top];
        let Some(i) = (fr.next < fr.actions.len()).then_some(fr.next) else {
            frames.pop();
            continue;
        };
        fr.next += 1;
        let a = fr.actions[i].clone();
        let (only, depth) = (fr.only, fr.depth);
        let slot = slot_of(sh.indep.map(|d| d as &dyn Independence<M>), sh.model, &a);
        let bit = slot.map_or(0u128, |(k, _)| 1u128 << k);
        if only.is_some_and(|mask| bit & mask == 0) {
            continue;
        }
        if bit & fr.sleep != 0 {
            c.stats.slept += 1;
            continue;
        }
        let Some(next) = sh.model.next_state(&fr.state, a) else {
            continue;
        };
        let local = match (sh.indep, slot) {
            (Some(d), Some((_, actor))) => {
                d.local(sh.model, &fr.state, actor, &next).then_some(actor)
            }
            _ => None,
        };
        let next_sleep = match local {
            Some(actor) => fr.sleep & !actor_mask(actor),
            None => 0,
        };
        if local.is_some() {
            fr.sleep |= bit;
        }
        c.transitions += 1;
        if !sh.model.within_boundary(&next) {
            continue;
        }
        let nf = (sh.fp)(&next);
        // `frames[top].next - 1 == i`: the stack now spells the path to `next`.
        let task = {
            let mut shard = sh.shard(nf);
            if let Some(e) = shard.get_mut(&nf) {
                let missing = e.sleep() & !next_sleep;
                e.set_sleep(e.sleep() & next_sleep);
                if e.expanded() && missing != 0 {
                    c.stats.reexpanded += 1;
                    Some((next, nf, depth + 1, Some(missing)))
                } else {
                    None
                }
            } else {
                shard.insert(nf, Mark::new(next_sleep));
                drop(shard);
                sh.states.fetch_add(1, Ordering::Relaxed);
                sh.check(&next, || path_to_next(&root, &frames));
                if let Some(v) = visits
                    .as_ref()
                    .filter(|_| sh.visit_only.is_none_or(|k| k(&next)))
                {
                    if v.send(next.clone()).is_err() {
                        sh.halt(true);
                    }
                }
                Some((next, nf, depth + 1, None))
            }
        };
        if let Some(t) = task {
            if sh.hungry.load(Ordering::Relaxed) > 0 {
                sh.give((t, path_to_next(&root, &frames)));
            } else {
                frames.push(open(sh, t));
            }
        }
    }
}

/// Explores `model` on `threads` workers (at least 1, at most [`THREADS_MAX`]), with sleep sets
/// when `indep` is given. `opts.strategy` is ignored (each worker searches depth-first).
pub fn explore_parallel<M>(
    model: &M,
    mut opts: Options<'_, '_, M::State>,
    indep: Option<&(dyn Independence<M> + Sync)>,
    threads: usize,
) -> (Report, SleepStats)
where
    M: Model + Sync,
    M::State: Hash + Clone + Send,
    M::Action: Clone,
{
    let start = Instant::now();
    let threads = threads.clamp(1, THREADS_MAX);
    let props = model.properties();
    let sh = Shared {
        model,
        indep,
        fp: opts.fingerprint.unwrap_or(crate::explore::fp::<M::State>),
        props: props.clone(),
        threads,
        seen: (0..SHARDS).map(|_| Mutex::new(Marks::default())).collect(),
        pool: Mutex::new(Pool {
            tasks: Vec::new(),
            waiting: 0,
            done: false,
        }),
        wake: Condvar::new(),
        hungry: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        cut: AtomicBool::new(false),
        states: AtomicUsize::new(0),
        max_depth: AtomicUsize::new(0),
        found: props.iter().map(|_| Mutex::new(None)).collect(),
        found_any: props.iter().map(|_| AtomicBool::new(false)).collect(),
        states_max: opts.states_max,
        deadline: opts.deadline,
        visit_only: opts.visit_only,
    };
    if let Some(s) = model.init_states().into_iter().next() {
        if model.within_boundary(&s) {
            let f = (sh.fp)(&s);
            sh.shard(f).insert(f, Mark::new(0));
            sh.states.fetch_add(1, Ordering::Relaxed);
            sh.check(&s, Vec::new);
            opts.offer(&s);
            lock(&sh.pool).tasks.push(((s, f, 0, None), Vec::new()));
        }
    }
    let mut counts = Counts::default();
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<M::State>(4096);
        let want_visits = opts.visit.is_some();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let tx = want_visits.then(|| tx.clone());
                let sh = &sh;
                scope.spawn(move || worker(sh, tx))
            })
            .collect();
        drop(tx);
        // The calling thread runs the visitor and the progress callback.
        let mut last_progress = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(s) => {
                    if let Some(v) = opts.visit.as_mut() {
                        v(&s);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if handles.iter().all(|h| h.is_finished()) {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    if handles.iter().all(|h| h.is_finished()) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                if let Some(p) = opts.progress.as_mut() {
                    p(
                        sh.states.load(Ordering::Relaxed),
                        sh.max_depth.load(Ordering::Relaxed),
                        start.elapsed(),
                    );
                }
            }
        }
        for h in handles {
            let c = h.join().expect("explorer worker");
            counts.transitions += c.transitions;
            counts.stats.slept += c.stats.slept;
            counts.stats.reexpanded += c.stats.reexpanded;
        }
    });
    let complete = !sh.cut.load(Ordering::Relaxed) && lock(&sh.pool).done;
    let states = sh.seen.iter().map(|m| lock(m).len()).sum();
    let properties = props
        .iter()
        .zip(&sh.found)
        .map(|(p, f)| {
            let f = lock(f).clone();
            PropertyResult {
                name: p.name,
                expectation: p.expectation.clone(),
                holds: match p.expectation {
                    Expectation::Sometimes => f.is_some(),
                    _ => f.is_none(),
                },
                path: f,
            }
        })
        .collect();
    (
        Report {
            complete,
            states,
            transitions: counts.transitions,
            max_depth: sh.max_depth.load(Ordering::Relaxed),
            elapsed: start.elapsed(),
            properties,
        },
        counts.stats,
    )
}
