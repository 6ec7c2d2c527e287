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

use vmsc_latency::{LatencyError, RttTable};

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

impl LatencyMatrix {
    /// The delays of a cluster whose node `i` sits in region `regions[i]`: each directed link
    /// `a -> b` gets half the RTT of `(region a, region b)` from `table` (the exact direction,
    /// else the reverse one), same-region links half of `lan_rtt_ms`, and every link `jitter`.
    /// Every delay is divided by `time_scale` (a cluster run `time_scale` times faster).
    ///
    /// # Errors
    ///
    /// [`LatencyError::NoRtt`] naming the first region pair the table lacks in both directions:
    /// a cluster must not start with a link whose latency is unknown.
    pub fn from_rtt_table(
        regions: &[String],
        table: &RttTable,
        lan_rtt_ms: f64,
        jitter: Duration,
        time_scale: f64,
    ) -> Result<Self, LatencyError> {
        let nodes = regions.len();
        let mut matrix = Self::uniform(nodes, LinkDelay::default());
        let scale = if time_scale.is_finite() && time_scale > 0.0 {
            time_scale
        } else {
            1.0
        };
        for (a, from) in regions.iter().enumerate() {
            for (b, to) in regions.iter().enumerate().filter(|(b, _)| *b != a) {
                let rtt_ms = table.rtt_ms_or_lan(from, to, lan_rtt_ms)?;
                let one_way = Duration::from_secs_f64((rtt_ms / 2.0 / 1000.0 / scale).max(0.0));
                let link = LinkDelay {
                    delay: one_way,
                    jitter: jitter.div_f64(scale),
                };
                // Cluster files hold at most NODES_MAX (< u16::MAX) nodes.
                matrix.set(NodeIndex::new(a as u16), NodeIndex::new(b as u16), link);
            }
        }
        Ok(matrix)
    }

    /// The largest one-way delay plus jitter of any link.
    pub fn max_delay(&self) -> Duration {
        self.links
            .iter()
            .map(|l| l.delay + l.jitter)
            .max()
            .unwrap_or_default()
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
    fn rtt_table_gives_half_the_rtt_each_way_and_lan_within_a_region() {
        let table = RttTable::parse(
            "t.csv",
            "from,to,rtt_ms,source\nFRA,ORD,100,x\nORD,FRA,80,y\n",
        )
        .expect("valid table");
        let regions: Vec<String> = ["FRA", "FRA", "ORD"]
            .iter()
            .map(|r| r.to_string())
            .collect();
        let m = LatencyMatrix::from_rtt_table(&regions, &table, 0.2, Duration::ZERO, 1.0)
            .expect("every pair is known");
        let (f1, f2, o1) = (NodeIndex::new(0), NodeIndex::new(1), NodeIndex::new(2));
        assert_eq!(m.link(f1, o1).delay, Duration::from_millis(50));
        assert_eq!(
            m.link(o1, f2).delay,
            Duration::from_millis(40),
            "direction-specific row"
        );
        assert_eq!(m.link(f1, f2).delay, Duration::from_micros(100));
        assert_eq!(m.max_delay(), Duration::from_millis(50));
        let fast =
            LatencyMatrix::from_rtt_table(&regions, &table, 0.2, Duration::from_millis(4), 10.0)
                .expect("every pair is known");
        assert_eq!(
            fast.link(f1, o1),
            LinkDelay {
                delay: Duration::from_millis(5),
                jitter: Duration::from_micros(400)
            }
        );
        let regions: Vec<String> = ["FRA", "LHR"].iter().map(|r| r.to_string()).collect();
        let err = LatencyMatrix::from_rtt_table(&regions, &table, 0.2, Duration::ZERO, 1.0)
            .expect_err("LHR is not in the table");
        assert_eq!(
            err.to_string(),
            "t.csv: no RTT for FRA->LHR in either direction"
        );
    }

    #[test]
    fn jitter_stays_in_range() {
        let mut rng = SplitMix64::new(1);
        let max = Duration::from_millis(2);
        assert!((0..10_000).all(|_| rng.duration_up_to(max) <= max));
        assert_eq!(rng.duration_up_to(Duration::ZERO), Duration::ZERO);
    }
}
