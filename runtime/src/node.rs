//! Node identities: the index an actor sees, the boot nonce a driver sends, and the address table.
//!
//! The model names nodes `Id::from(0..n)`. On the wire a node is a [`NodeIndex`], its position in
//! the cluster file, and the [`Peers`] table maps that index to the UDP address the node's driver
//! is bound to. The runtime never derives an `Id` from a socket address (as
//! `stateright::actor::spawn` does), so the same actor code runs in the checker and on the network.
//!
//! A [`BootNonce`] names one incarnation of a node, as the 64-bit software incarnation (the boot
//! time) does on OpenVMS: a node that reboots comes back with a larger nonce, and peers that see
//! the new nonce treat the old incarnation as dead.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use stateright::actor::Id;

/// The largest cluster the runtime accepts.
///
/// Bounded so that a hello listing every peer fits in one datagram (asserted in `envelope.rs`).
pub const NODES_MAX: usize = 256;

/// A node's position in the cluster file, `0..n`; the actor sees it as `Id::from(index)`.
#[derive(
    Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct NodeIndex(u16);

impl NodeIndex {
    /// Wraps a raw index.
    pub const fn new(index: u16) -> Self {
        Self(index)
    }

    /// The raw index.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The index as a `usize`, for indexing per-node tables.
    pub const fn as_usize(self) -> usize {
        self.0 as usize
    }

    /// The node an actor names with `id`, if `id` is an index below `nodes`.
    pub fn from_id(id: Id, nodes: usize) -> Option<Self> {
        let index = usize::from(id);
        if index < nodes {
            u16::try_from(index).ok().map(Self)
        } else {
            None
        }
    }

    /// The `Id` the actor uses for this node.
    pub fn id(self) -> Id {
        Id::from(self.as_usize())
    }
}

impl fmt::Display for NodeIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// Names one incarnation of a node: microseconds since the Unix epoch at driver start.
///
/// Nonces order incarnations: a datagram whose nonce is below the one a peer last heard from the
/// same node is a straggler from a dead incarnation and is dropped.
#[derive(
    Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct BootNonce(u64);

impl BootNonce {
    /// Wraps a raw nonce (tests and replays pick their own).
    pub const fn new(nonce: u64) -> Self {
        Self(nonce)
    }

    /// The raw nonce.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// A fresh nonce: the current time in microseconds, and strictly greater than any nonce this
    /// process generated before, so a reboot inside one process always moves forward.
    pub fn generate() -> Self {
        static LAST: AtomicU64 = AtomicU64::new(0);
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let mut last = LAST.load(Ordering::Relaxed);
        loop {
            let next = now_us.max(last.saturating_add(1));
            match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Self(next),
                Err(seen) => last = seen,
            }
        }
    }
}

impl fmt::Display for BootNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Why a [`Peers`] table was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeersError {
    /// Two nodes were given the same address, so datagrams could not be attributed.
    #[error("address {addr} is listed for two nodes")]
    DuplicateAddress {
        /// The repeated address.
        addr: SocketAddr,
    },
    /// The table is empty.
    #[error("the cluster has no nodes")]
    Empty,
    /// More nodes than [`NODES_MAX`].
    #[error("{count} nodes exceed the limit of {max}")]
    TooMany {
        /// Nodes given.
        count: usize,
        /// [`NODES_MAX`].
        max: usize,
    },
}

/// The cluster's address table: node index `i` is bound to `addrs[i]`.
///
/// Every node must send from the address listed for it: a datagram whose claimed source index
/// does not match the address it came from is rejected as an unknown sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peers {
    addrs: Vec<SocketAddr>,
    by_addr: HashMap<SocketAddr, NodeIndex>,
}

impl Peers {
    /// Builds the table from addresses in cluster-file order.
    ///
    /// # Errors
    ///
    /// [`PeersError`] if the table is empty, larger than [`NODES_MAX`], or repeats an address.
    pub fn new(addrs: Vec<SocketAddr>) -> Result<Self, PeersError> {
        if addrs.is_empty() {
            return Err(PeersError::Empty);
        }
        if addrs.len() > NODES_MAX {
            return Err(PeersError::TooMany {
                count: addrs.len(),
                max: NODES_MAX,
            });
        }
        let mut by_addr = HashMap::with_capacity(addrs.len());
        for (i, addr) in addrs.iter().enumerate() {
            // NODES_MAX < u16::MAX, checked above.
            let index = NodeIndex(i as u16);
            if by_addr.insert(*addr, index).is_some() {
                return Err(PeersError::DuplicateAddress { addr: *addr });
            }
        }
        Ok(Self { addrs, by_addr })
    }

    /// Number of nodes in the cluster.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// Always false: an empty table is rejected by [`Peers::new`].
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The address of `node`, if it is in the table.
    pub fn addr(&self, node: NodeIndex) -> Option<SocketAddr> {
        self.addrs.get(node.as_usize()).copied()
    }

    /// The node bound to `addr`, if any.
    pub fn index_of(&self, addr: SocketAddr) -> Option<NodeIndex> {
        self.by_addr.get(&addr).copied()
    }

    /// Every node index, in order.
    pub fn indices(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        (0..self.addrs.len()).map(|i| NodeIndex(i as u16))
    }

    /// Every node's actor `Id`, in order (what an actor is usually constructed with).
    pub fn ids(&self) -> Vec<Id> {
        self.indices().map(NodeIndex::id).collect()
    }
}

const _: () = assert!(
    NODES_MAX <= u16::MAX as usize,
    "node indices are u16 on the wire"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_index_round_trips_through_id() {
        let node = NodeIndex::new(3);
        assert_eq!(NodeIndex::from_id(node.id(), 4), Some(node));
        assert_eq!(NodeIndex::from_id(node.id(), 3), None);
    }

    #[test]
    fn generated_nonces_increase() {
        let a = BootNonce::generate();
        let b = BootNonce::generate();
        assert!(b > a);
    }

    #[test]
    fn peers_rejects_bad_tables() {
        let a: SocketAddr = ([127, 0, 0, 1], 1).into();
        assert_eq!(Peers::new(vec![]), Err(PeersError::Empty));
        assert_eq!(
            Peers::new(vec![a, a]),
            Err(PeersError::DuplicateAddress { addr: a })
        );
        let many = (0..=NODES_MAX as u16)
            .map(|p| ([127, 0, 0, 1], p).into())
            .collect();
        assert!(matches!(Peers::new(many), Err(PeersError::TooMany { .. })));
    }

    #[test]
    fn peers_maps_both_ways() {
        let a: SocketAddr = ([127, 0, 0, 1], 1).into();
        let b: SocketAddr = ([127, 0, 0, 1], 2).into();
        let peers = Peers::new(vec![a, b]).expect("valid table");
        assert_eq!(peers.index_of(b), Some(NodeIndex::new(1)));
        assert_eq!(peers.addr(NodeIndex::new(0)), Some(a));
        assert_eq!(peers.addr(NodeIndex::new(2)), None);
        assert_eq!(peers.ids(), Id::vec_from(0..2));
    }
}
