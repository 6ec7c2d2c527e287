//! Injected link faults, applied inside the driver's send and receive paths.
//!
//! A [`Faults`] table is shared (cheaply cloned) by every driver of a test cluster and by the code
//! that injects faults. A cut from `a` to `b` drops every datagram node `a` sends to node `b`:
//! the sender checks when a datagram leaves its delay queue, and the receiver checks again when
//! one arrives (catching datagrams that were in flight when the cut was made). Drops are counted
//! in each driver's stats. [`Faults::lose`] drops a given number of the next actor messages on
//! one link (not hellos), to exercise loss detection deterministically. No kernel facility
//! (netem, iptables) is involved, so this works unprivileged and on loopback.
//!
//! Node crashes are not faults in this table: a crash stops the node's driver task (see
//! `NodeHandle::crash`), and a reboot starts a fresh driver with a new boot nonce.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::node::NodeIndex;

/// Which directions a [`Faults::cut`] affects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutKind {
    /// Both `a -> b` and `b -> a` are dropped: a partition.
    BothWays,
    /// Only `a -> b` is dropped: `b` stops hearing `a`, while `a` still hears `b`.
    OneWay,
}

/// The shared fault table. Clones share one table.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    table: Mutex<Table>,
    /// Number of entries in `table`, readable without the lock so the common no-fault path
    /// stays lock-free.
    count: AtomicUsize,
    /// Bumped on every change, so drivers can trace the change once.
    generation: AtomicU64,
}

impl Faults {
    /// An empty table: every link is healthy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops datagrams from `a` to `b`, and also from `b` to `a` for [`CutKind::BothWays`].
    pub fn cut(&self, a: NodeIndex, b: NodeIndex, kind: CutKind) {
        self.update(|t| {
            t.cuts.insert((a, b));
            if kind == CutKind::BothWays {
                t.cuts.insert((b, a));
            }
        });
    }

    /// Restores both directions between `a` and `b` (and cancels pending losses there).
    pub fn heal(&self, a: NodeIndex, b: NodeIndex) {
        self.update(|t| {
            for link in [(a, b), (b, a)] {
                t.cuts.remove(&link);
                t.losses.remove(&link);
            }
        });
    }

    /// Restores every link.
    pub fn heal_all(&self) {
        self.update(|t| *t = Table::default());
    }

    /// Cuts `node` off from every other node of a cluster of `nodes`, both ways.
    pub fn isolate(&self, node: NodeIndex, nodes: usize) {
        self.update(|t| {
            for other in (0..nodes)
                .map(|i| NodeIndex::new(i as u16))
                .filter(|o| *o != node)
            {
                t.cuts.insert((node, other));
                t.cuts.insert((other, node));
            }
        });
    }

    /// Drops the next `messages` actor messages `src` sends to `dst` (hellos pass).
    pub fn lose(&self, src: NodeIndex, dst: NodeIndex, messages: u32) {
        self.update(|t| {
            if messages > 0 {
                *t.losses.entry((src, dst)).or_default() += messages;
            }
        });
    }

    /// Whether datagrams from `src` to `dst` are dropped.
    pub fn is_cut(&self, src: NodeIndex, dst: NodeIndex) -> bool {
        if self.inner.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.lock().cuts.contains(&(src, dst))
    }

    /// Consumes one pending loss on `src -> dst`; true if the caller must drop its message.
    pub(crate) fn take_loss(&self, src: NodeIndex, dst: NodeIndex) -> bool {
        if self.inner.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        let mut table = self.lock();
        let Some(left) = table.losses.get_mut(&(src, dst)) else {
            return false;
        };
        *left -= 1;
        if *left == 0 {
            table.losses.remove(&(src, dst));
            self.inner.count.store(table.len(), Ordering::Release);
        }
        true
    }

    /// The directed cuts in force, sorted.
    pub fn cuts(&self) -> Vec<(NodeIndex, NodeIndex)> {
        self.lock().cuts.iter().copied().collect()
    }

    /// Changes every time the methods above add or remove cuts or losses.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    fn update(&self, f: impl FnOnce(&mut Table)) {
        let mut table = self.lock();
        f(&mut table);
        self.inner.count.store(table.len(), Ordering::Release);
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // Nothing panics while the lock is held, and the table is valid at every step anyway.
        self.inner
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct Table {
    /// Directed cuts `(src, dst)`.
    cuts: BTreeSet<(NodeIndex, NodeIndex)>,
    /// Directed links with actor messages still to lose, and how many.
    losses: BTreeMap<(NodeIndex, NodeIndex), u32>,
}

impl Table {
    fn len(&self) -> usize {
        self.cuts.len() + self.losses.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeIndex = NodeIndex::new(0);
    const B: NodeIndex = NodeIndex::new(1);
    const C: NodeIndex = NodeIndex::new(2);

    #[test]
    fn cuts_and_heals() {
        let faults = Faults::new();
        let shared = faults.clone();
        assert!(!faults.is_cut(A, B));
        shared.cut(A, B, CutKind::OneWay);
        assert!(faults.is_cut(A, B));
        assert!(!faults.is_cut(B, A));
        let g = faults.generation();
        shared.cut(A, C, CutKind::BothWays);
        assert!(faults.generation() > g);
        assert!(faults.is_cut(C, A));
        shared.heal(B, A);
        assert!(!faults.is_cut(A, B));
        assert_eq!(faults.cuts(), vec![(A, C), (C, A)]);
        shared.heal_all();
        assert!(faults.cuts().is_empty());
        shared.isolate(B, 3);
        assert_eq!(faults.cuts().len(), 4);
        shared.heal_all();
        shared.lose(A, B, 2);
        assert!(faults.take_loss(A, B));
        assert!(!faults.take_loss(B, A));
        assert!(faults.take_loss(A, B));
        assert!(!faults.take_loss(A, B), "only two were to be lost");
        assert!(!faults.is_cut(A, B), "losses are not cuts");
    }
}
