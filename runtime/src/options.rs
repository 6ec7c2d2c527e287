//! [`DriverOptions`]: the optional parts of a node, set once and handed to each incarnation.
//!
//! A [`NodeDriver`] runs one incarnation; a [`Supervisor`] runs one node across many. Both take
//! the same parts — the fault table, link delays, the trace, status rendering, an observer, the
//! local inbox, the storage cell and the counters — so they are gathered here and set with the
//! `with_*` methods of one type. The supervisor keeps one value and gives every driver it starts
//! a clone.
//!
//! Every part is a shared handle, so **clones share everything**: a clone is the same node's
//! options, not a fresh set. Build one value per node; one value cloned across nodes would make
//! them share a storage cell and counters.
//!
//! [`NodeDriver`]: crate::driver::NodeDriver
//! [`Supervisor`]: crate::supervisor::Supervisor

use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use stateright::actor::Actor;

use crate::driver::{LocalInbox, Observer, StatusFn};
use crate::faults::Faults;
use crate::latency::{LatencyModel, NoLatency};
use crate::stats::StatsHandle;
use crate::storage::StorageCell;
use crate::trace::Tracer;

/// The optional parts of one node (see the module doc); [`DriverOptions::new`] has none of them.
///
/// These are what a node plugs in, and what outlives an incarnation. The port-layer and timer
/// settings are a [`DriverConfig`](crate::driver::DriverConfig).
pub struct DriverOptions<A: Actor> {
    pub(crate) faults: Faults,
    pub(crate) latency: Arc<dyn LatencyModel>,
    pub(crate) tracer: Option<Tracer>,
    pub(crate) status: Option<StatusFn<A>>,
    pub(crate) observer: Option<Arc<dyn Observer<A>>>,
    pub(crate) inbox: Option<LocalInbox<A::Msg>>,
    pub(crate) storage: StorageCell<A::Storage>,
    pub(crate) stats: StatsHandle,
}

impl<A: Actor> DriverOptions<A> {
    /// A fault table of its own with no cuts, no latency, no trace, no status records, no
    /// observer, no local inbox, an empty storage cell and fresh counters.
    pub fn new() -> Self {
        Self {
            faults: Faults::new(),
            latency: Arc::new(NoLatency),
            tracer: None,
            status: None,
            observer: None,
            inbox: None,
            storage: StorageCell::default(),
            stats: StatsHandle::default(),
        }
    }

    /// Uses `faults`, shared with the rest of the cluster or with the control endpoint.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Injects link delays.
    pub fn with_latency(mut self, latency: Arc<dyn LatencyModel>) -> Self {
        self.latency = latency;
        self
    }

    /// Sends trace records to `tracer` (a supervisor also traces crashes there).
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        self.tracer = Some(tracer);
        self
    }

    /// Traces a `status` record, rendered by `status`, after each handler that changed the state
    /// (and once after `on_start`), whenever the rendering differs from the previous one.
    pub fn with_status(
        mut self,
        status: impl Fn(&A::State) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.status = Some(Arc::new(status));
        self
    }

    /// Lets `observer` watch every state change (see [`Observer`]; [`Observers`] for several).
    ///
    /// [`Observers`]: crate::driver::Observers
    pub fn with_observer(mut self, observer: Arc<dyn Observer<A>>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Delivers local clients' messages from `inbox` (see the `driver` module doc); each
    /// incarnation reads it in turn.
    pub fn with_local_inbox(mut self, inbox: LocalInbox<A::Msg>) -> Self {
        self.inbox = Some(inbox);
        self
    }

    /// Uses `storage` for `on_start` and `Save`, so what one incarnation saved reaches the next.
    pub fn with_storage(mut self, storage: StorageCell<A::Storage>) -> Self {
        self.storage = storage;
        self
    }

    /// Counts into `stats`, so the node's totals run on across incarnations and can be read
    /// from outside.
    pub fn with_stats(mut self, stats: StatsHandle) -> Self {
        self.stats = stats;
        self
    }
}

impl<A: Actor> Default for DriverOptions<A> {
    /// As [`DriverOptions::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Actor> Clone for DriverOptions<A> {
    /// The same node's options: every part is shared (see the module doc).
    fn clone(&self) -> Self {
        Self {
            faults: self.faults.clone(),
            latency: Arc::clone(&self.latency),
            tracer: self.tracer.clone(),
            status: self.status.clone(),
            observer: self.observer.clone(),
            inbox: self.inbox.clone(),
            storage: self.storage.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<A: Actor> fmt::Debug for DriverOptions<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverOptions")
            .field("faults", &self.faults)
            .field("tracer", &self.tracer)
            .field("status", &self.status.is_some())
            .field("observer", &self.observer.is_some())
            .field("inbox", &self.inbox.is_some())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}
