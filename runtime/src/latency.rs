//! Latency injection: a one-way delay per directed link, applied by holding datagrams.
//!
//! The caller describes links with a [`LatencyModel`] (half the inter-region RTT, plus LAN
//! latency for same-region pairs, plus optional jitter). The driver keeps one FIFO delay queue
//! per destination (`flow::OutFlow`) and sends each datagram at its release time
//!
//! ```text
//! release = max(now + delay + uniform(0..=jitter), release of the previous datagram on the flow)
//! ```
//!
//! The clamp is what keeps a flow FIFO under jitter: the model assumes ordered flows, so jitter
//! may bunch datagrams up but never reorder them. Jitter only adds, so every datagram is held at
//! least `delay`.

use std::time::Duration;

use crate::node::NodeIndex;

/// The injected one-way delay of one directed link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkDelay {
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Upper bound of an extra uniform delay, drawn per datagram.
    pub jitter: Duration,
}

impl LinkDelay {
    /// A fixed delay without jitter.
    pub const fn fixed(delay: Duration) -> Self {
        Self {
            delay,
            jitter: Duration::ZERO,
        }
    }
}

/// Gives the injected delay of each directed link.
///
/// Closures `Fn(NodeIndex, NodeIndex) -> LinkDelay` implement it, as do [`NoLatency`] and
/// [`LatencyMatrix`]. It is called once per datagram, so it should be cheap.
pub trait LatencyModel: Send + Sync {
    /// The delay of datagrams from `src` to `dst`.
    fn link(&self, src: NodeIndex, dst: NodeIndex) -> LinkDelay;
}

impl<F> LatencyModel for F
where
    F: Fn(NodeIndex, NodeIndex) -> LinkDelay + Send + Sync,
{
    fn link(&self, src: NodeIndex, dst: NodeIndex) -> LinkDelay {
        self(src, dst)
    }
}

/// No injected delay: datagrams leave as soon as the actor emits them.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLatency;

impl LatencyModel for NoLatency {
    fn link(&self, _src: NodeIndex, _dst: NodeIndex) -> LinkDelay {
        LinkDelay::default()
    }
}

/// A dense `nodes × nodes` table of link delays; unset links have none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyMatrix {
    nodes: usize,
    links: Vec<LinkDelay>,
}

impl LatencyMatrix {
    /// A table for `nodes` nodes with every link set to `link`.
    pub fn uniform(nodes: usize, link: LinkDelay) -> Self {
        Self {
            nodes,
            links: vec![link; nodes * nodes],
        }
    }

    /// Sets the delay from `src` to `dst`; ignores indices outside the table.
    pub fn set(&mut self, src: NodeIndex, dst: NodeIndex, link: LinkDelay) {
        if src.as_usize() < self.nodes && dst.as_usize() < self.nodes {
            self.links[src.as_usize() * self.nodes + dst.as_usize()] = link;
        }
    }
}

impl LatencyModel for LatencyMatrix {
    fn link(&self, src: NodeIndex, dst: NodeIndex) -> LinkDelay {
        if src.as_usize() < self.nodes && dst.as_usize() < self.nodes {
            self.links[src.as_usize() * self.nodes + dst.as_usize()]
        } else {
            LinkDelay::default()
        }
    }
}

/// SplitMix64: a tiny, seedable generator for jitter and timer points. Not cryptographic.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A duration drawn uniformly from `0..=max` (nanosecond resolution, slight modulo bias).
    pub(crate) fn duration_up_to(&mut self, max: Duration) -> Duration {
        let max_ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if max_ns == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.next_u64() % max_ns.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_and_closures_are_models() {
        let (a, b) = (NodeIndex::new(0), NodeIndex::new(1));
        let mut m = LatencyMatrix::uniform(2, LinkDelay::fixed(Duration::from_millis(1)));
        m.set(a, b, LinkDelay::fixed(Duration::from_millis(40)));
        assert_eq!(m.link(a, b).delay, Duration::from_millis(40));
        assert_eq!(m.link(b, a).delay, Duration::from_millis(1));
        assert_eq!(m.link(a, NodeIndex::new(9)), LinkDelay::default());
        let f = |_: NodeIndex, _: NodeIndex| LinkDelay::fixed(Duration::from_millis(3));
        assert_eq!(f.link(a, b).delay, Duration::from_millis(3));
    }

    #[test]
    fn jitter_stays_in_range() {
        let mut rng = SplitMix64::new(1);
        let max = Duration::from_millis(2);
        assert!((0..10_000).all(|_| rng.duration_up_to(max) <= max));
        assert_eq!(rng.duration_up_to(Duration::ZERO), Duration::ZERO);
    }
}
