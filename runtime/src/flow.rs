//! Flows: the directed datagram stream from one node incarnation to one peer.
//!
//! The model assumes each flow is FIFO and, while a circuit is up, lossless. UDP promises
//! neither, so each flow carries two counters in every envelope:
//!
//! * `seq`, the datagram's position on the flow (hellos and messages). A receiver drops any
//!   datagram not ahead of the last one it accepted, so a reordered straggler is never delivered
//!   out of order.
//! * `msg_seq`, the number of actor messages sent on the flow up to and including this datagram.
//!   A message must carry exactly one more than the last seen, and a hello no more than the last
//!   seen; anything else means actor messages were lost (a cut, a full delay queue, or a
//!   receive buffer overflow). The driver then fails the circuit, so a lost message is always
//!   followed by `circuit_down` at both ends, as on an SCS virtual circuit. There is no
//!   retransmission.
//!
//! On the sending side, `OutFlow` also holds the delay queue: datagrams leave in FIFO order at
//! their release times, which never decrease (see `latency`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::node::BootNonce;

/// Most datagrams one destination's delay queue holds; more are dropped and counted, which keeps
/// memory bounded when a long delay meets a fast sender.
pub const QUEUE_DATAGRAMS_MAX: usize = 16_384;

/// What a queued datagram carries (for counting and tracing drops).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Hello,
    Msg,
}

/// A datagram waiting for its release time.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) release: Instant,
    pub(crate) kind: Kind,
    pub(crate) bytes: Vec<u8>,
}

/// The queue is at [`QUEUE_DATAGRAMS_MAX`].
#[derive(Debug)]
pub(crate) struct QueueFull;

/// The outgoing flow to one destination: its counters and its FIFO delay queue.
#[derive(Debug, Default)]
pub(crate) struct OutFlow {
    seq_last: u64,
    msg_seq_last: u64,
    release_last: Option<Instant>,
    queue: VecDeque<Pending>,
}

impl OutFlow {
    /// The next datagram number (the first is 1).
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq_last += 1;
        self.seq_last
    }

    /// The number the next actor message will carry; commit it with
    /// [`OutFlow::commit_msg_seq`] once the message encoded.
    pub(crate) fn peek_msg_seq(&self) -> u64 {
        self.msg_seq_last + 1
    }

    /// Records that message `msg_seq` was queued.
    pub(crate) fn commit_msg_seq(&mut self, msg_seq: u64) {
        debug_assert_eq!(msg_seq, self.msg_seq_last + 1);
        self.msg_seq_last = msg_seq;
    }

    /// Messages sent so far (what a hello carries as `msg_seq`).
    pub(crate) fn msg_seq_last(&self) -> u64 {
        self.msg_seq_last
    }

    /// Queues a datagram to leave `delay` after `now`, but not before the previous one.
    pub(crate) fn push(
        &mut self,
        now: Instant,
        delay: Duration,
        kind: Kind,
        bytes: Vec<u8>,
    ) -> Result<Instant, QueueFull> {
        if self.queue.len() >= QUEUE_DATAGRAMS_MAX {
            return Err(QueueFull);
        }
        let release = (now + delay).max(self.release_last.unwrap_or(now));
        debug_assert!(self.queue.back().into_iter().all(|p| p.release <= release));
        self.release_last = Some(release);
        self.queue.push_back(Pending {
            release,
            kind,
            bytes,
        });
        Ok(release)
    }

    /// When the head of the queue is due, if anything is queued.
    pub(crate) fn next_release(&self) -> Option<Instant> {
        self.queue.front().map(|p| p.release)
    }

    /// Drops every queued datagram (the node halted; nothing more leaves).
    pub(crate) fn discard(&mut self) {
        self.queue.clear();
    }

    /// Removes and returns the head if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Pending> {
        if self.queue.front().is_some_and(|p| p.release <= now) {
            self.queue.pop_front()
        } else {
            None
        }
    }
}

/// How a datagram relates to its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Ahead of the flow. `lost` actor messages went missing before it.
    Fresh {
        /// Message numbers skipped.
        lost: u64,
    },
    /// Not ahead of the last accepted datagram: a duplicate or a reordered straggler.
    Stale,
}

/// The incoming flow from one peer: the incarnation and counters last accepted.
#[derive(Clone, Debug, Default)]
pub(crate) struct InFlow {
    nonce: Option<BootNonce>,
    seq_last: u64,
    msg_seq_last: u64,
}

impl InFlow {
    /// Classifies a datagram from incarnation `nonce` (already known not to be older than the
    /// current one). The first datagram of an incarnation sets the baseline.
    pub(crate) fn accept(
        &mut self,
        nonce: BootNonce,
        seq: u64,
        msg_seq: u64,
        kind: Kind,
    ) -> Arrival {
        if self.nonce != Some(nonce) {
            *self = Self {
                nonce: Some(nonce),
                seq_last: seq,
                msg_seq_last: msg_seq,
            };
            return Arrival::Fresh { lost: 0 };
        }
        if seq <= self.seq_last {
            return Arrival::Stale;
        }
        if kind == Kind::Msg && msg_seq <= self.msg_seq_last {
            // A fresh datagram repeating a message number: a sender bug; never deliver twice.
            return Arrival::Stale;
        }
        self.seq_last = seq;
        let expected = self.msg_seq_last + u64::from(kind == Kind::Msg);
        let lost = msg_seq.saturating_sub(expected);
        self.msg_seq_last = self.msg_seq_last.max(msg_seq);
        Arrival::Fresh { lost }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::SplitMix64;

    #[test]
    fn jittered_releases_never_reorder() {
        let mut flow = OutFlow::default();
        let mut rng = SplitMix64::new(7);
        let t0 = Instant::now();
        let mut last = t0;
        for i in 0..1000u64 {
            let now = t0 + Duration::from_micros(i * 10);
            let delay = Duration::from_millis(5) + rng.duration_up_to(Duration::from_millis(20));
            let seq = flow.next_seq();
            let release = flow
                .push(now, delay, Kind::Msg, seq.to_be_bytes().to_vec())
                .expect("room");
            assert!(release >= last, "release times are monotonic");
            assert!(
                release >= now + Duration::from_millis(5),
                "never earlier than the delay"
            );
            last = release;
        }
        let mut seqs = vec![];
        while let Some(p) = flow.pop_due(last) {
            seqs.push(u64::from_be_bytes(p.bytes.try_into().expect("eight bytes")));
        }
        assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
    }

    #[test]
    fn queue_is_bounded() {
        let mut flow = OutFlow::default();
        let now = Instant::now();
        for _ in 0..QUEUE_DATAGRAMS_MAX {
            flow.push(now, Duration::ZERO, Kind::Hello, vec![])
                .expect("room");
        }
        assert!(flow.push(now, Duration::ZERO, Kind::Hello, vec![]).is_err());
    }

    #[test]
    fn inbound_detects_stragglers_and_losses() {
        let (a, b) = (BootNonce::new(1), BootNonce::new(2));
        let mut flow = InFlow::default();
        // Baseline from whatever arrives first (a hello saying 4 messages were sent before).
        assert_eq!(
            flow.accept(a, 10, 4, Kind::Hello),
            Arrival::Fresh { lost: 0 }
        );
        assert_eq!(flow.accept(a, 11, 5, Kind::Msg), Arrival::Fresh { lost: 0 });
        assert_eq!(
            flow.accept(a, 11, 5, Kind::Msg),
            Arrival::Stale,
            "duplicate"
        );
        assert_eq!(
            flow.accept(a, 9, 3, Kind::Hello),
            Arrival::Stale,
            "straggler"
        );
        assert_eq!(
            flow.accept(a, 12, 5, Kind::Hello),
            Arrival::Fresh { lost: 0 }
        );
        // Message 6 was lost: message 7 shows it ...
        assert_eq!(flow.accept(a, 14, 7, Kind::Msg), Arrival::Fresh { lost: 1 });
        // ... and a hello shows lost trailing messages.
        assert_eq!(
            flow.accept(a, 16, 9, Kind::Hello),
            Arrival::Fresh { lost: 2 }
        );
        // A lost hello is not a lost message.
        assert_eq!(
            flow.accept(a, 18, 10, Kind::Msg),
            Arrival::Fresh { lost: 0 }
        );
        // A new incarnation starts a new baseline.
        assert_eq!(
            flow.accept(b, 1, 0, Kind::Hello),
            Arrival::Fresh { lost: 0 }
        );
    }

    #[test]
    fn message_numbers_commit_only_when_queued() {
        let mut flow = OutFlow::default();
        assert_eq!(flow.peek_msg_seq(), 1);
        assert_eq!(flow.peek_msg_seq(), 1, "peeking does not consume");
        flow.commit_msg_seq(1);
        assert_eq!(flow.msg_seq_last(), 1);
        assert_eq!(flow.peek_msg_seq(), 2);
    }
}
