//! The event trace: one record per actor event, timestamped against a shared `t0`.
//!
//! Drivers hand [`TraceRecord`]s to a [`Tracer`], which puts them on a bounded channel with
//! `try_send`: a driver never waits for trace IO, and a record that does not fit is dropped and
//! counted (`Stats::trace_dropped`). The receiving end is either the caller's (tests wait on it
//! for the event they expect) or a writer task that prints one JSON object per line
//! ([`Tracer::json_lines`]):
//!
//! ```text
//! {"t_us":20412,"node":0,"nonce":1763760000123456,"event":"circuit_up","peer":1,"peer_nonce":…}
//! {"t_us":20419,"node":0,"nonce":1763760000123456,"event":"msg_out","peer":1,"seq":3,"msg":{…},…}
//! ```
//!
//! All drivers of one cluster should share one `t0` so timestamps compare across nodes.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::circuit::DownReason;
use crate::envelope::DecodeError;
use crate::node::{BootNonce, NodeIndex};

/// One trace line: when, which node incarnation, what.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceRecord {
    /// Microseconds since the tracer's `t0`.
    pub t_us: u64,
    /// The node the event happened on.
    pub node: NodeIndex,
    /// That node's incarnation.
    pub nonce: BootNonce,
    /// The event.
    #[serde(flatten)]
    pub event: TraceEvent,
}

/// What happened. Serialized with an `"event"` tag in snake case.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TraceEvent {
    /// The circuit to `peer` closed; the actor was sent `circuit_down(peer)`.
    CircuitDown {
        /// The peer.
        peer: NodeIndex,
        /// Why.
        reason: DownReason,
    },
    /// The circuit to `peer` opened; the actor was sent `circuit_up(peer)`.
    CircuitUp {
        /// The peer.
        peer: NodeIndex,
        /// The peer incarnation the circuit is with.
        peer_nonce: BootNonce,
    },
    /// A datagram or an actor message was dropped.
    Drop {
        /// The other end, when known.
        peer: Option<NodeIndex>,
        /// Why.
        reason: DropReason,
    },
    /// The fault table changed; these are the directed cuts touching this node.
    Fault {
        /// `(src, dst)` pairs whose datagrams are dropped.
        cuts: Vec<(NodeIndex, NodeIndex)>,
    },
    /// The actor halted itself (a bugcheck): the incarnation ended; nothing more is sent.
    Halt,
    /// The node was crashed on request (control endpoint or scenario): the incarnation ended.
    Crash,
    /// An actor message from `peer` was delivered to `on_msg`.
    MsgIn {
        /// The sender.
        peer: NodeIndex,
        /// Its sequence number on the flow.
        seq: u64,
        /// The message, as JSON.
        msg: Value,
    },
    /// The actor sent a message to `peer`; it was queued.
    MsgOut {
        /// The destination.
        peer: NodeIndex,
        /// Its sequence number on the flow.
        seq: u64,
        /// Injected delay: the datagram leaves this many microseconds after this record.
        hold_us: u64,
        /// The message, as JSON.
        msg: Value,
    },
    /// The driver called `on_start`.
    Start {
        /// Whether saved storage was passed to `on_start`.
        restored: bool,
    },
    /// The actor's state changed; the caller's status callback rendered it.
    Status {
        /// The rendered state.
        state: Value,
    },
    /// The driver stopped (clean shutdown; a crash leaves no record).
    Stop,
    /// An actor timer fired and `on_timeout` was called.
    Timer {
        /// The timer, as `Debug`.
        timer: String,
    },
}

/// Why something was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// An actor message to a peer whose circuit is down.
    CircuitDown,
    /// A cut in the fault table.
    Cut,
    /// A bad datagram: garbage.
    Garbage,
    /// An injected loss (`Faults::lose`).
    InjectedLoss,
    /// A bad datagram: addressed to another node.
    Misaddressed,
    /// An actor message on a circuit that is down at the receiver.
    MsgWhileDown,
    /// A bad datagram: larger than the maximum.
    Oversized,
    /// The destination's delay queue was full.
    QueueFull,
    /// From a dead incarnation, or behind the flow.
    Stale,
    /// A bad datagram: cut short.
    Truncated,
    /// An actor message that cannot be encoded in one datagram.
    Unencodable,
    /// An actor message to an `Id` outside the cluster.
    UnknownDestination,
    /// A bad datagram: unknown sender.
    UnknownSender,
    /// A bad datagram: another wire version.
    WrongVersion,
}

impl From<&DecodeError> for DropReason {
    fn from(error: &DecodeError) -> Self {
        match error {
            DecodeError::Garbage => Self::Garbage,
            DecodeError::Misaddressed { .. } => Self::Misaddressed,
            DecodeError::Oversized { .. } => Self::Oversized,
            DecodeError::Truncated => Self::Truncated,
            DecodeError::UnknownSender { .. } => Self::UnknownSender,
            DecodeError::WrongVersion { .. } => Self::WrongVersion,
        }
    }
}

/// The sending side of a trace; clone it into every driver of a cluster.
#[derive(Clone, Debug)]
pub struct Tracer {
    t0: Instant,
    tx: mpsc::Sender<TraceRecord>,
}

impl Tracer {
    /// A tracer whose records go to the returned receiver (at most `capacity` buffered).
    pub fn channel(t0: Instant, capacity: usize) -> (Self, mpsc::Receiver<TraceRecord>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { t0, tx }, rx)
    }

    /// A tracer whose records a blocking writer task prints to `writer` as JSON lines.
    ///
    /// The task ends, flushing `writer` and returning the number of lines written, once every
    /// clone of the tracer has been dropped.
    pub fn json_lines<W>(
        t0: Instant,
        capacity: usize,
        writer: W,
    ) -> (Self, JoinHandle<io::Result<u64>>)
    where
        W: Write + Send + 'static,
    {
        let (tracer, mut rx) = Self::channel(t0, capacity);
        let task = tokio::task::spawn_blocking(move || {
            let mut writer = io::BufWriter::new(writer);
            let mut lines = 0u64;
            while let Some(record) = rx.blocking_recv() {
                serde_json::to_writer(&mut writer, &record)?;
                writer.write_all(b"\n")?;
                lines += 1;
            }
            writer.flush()?;
            Ok(lines)
        });
        (tracer, task)
    }

    /// The instant timestamps count from.
    pub fn t0(&self) -> Instant {
        self.t0
    }

    /// Microseconds from `t0` to `at` (zero if `at` is earlier).
    pub fn micros(&self, at: Instant) -> u64 {
        duration_us(at.saturating_duration_since(self.t0))
    }

    /// Queues a record stamped `at` without waiting; returns false if it was dropped (channel
    /// full or closed). Drivers stamp every record of one event with the instant the event was
    /// taken up, so a `msg_out` is stamped no later than the datagram's hold started.
    pub(crate) fn emit(
        &self,
        at: Instant,
        node: NodeIndex,
        nonce: BootNonce,
        event: TraceEvent,
    ) -> bool {
        let t_us = self.micros(at);
        self.tx
            .try_send(TraceRecord {
                t_us,
                node,
                nonce,
                event,
            })
            .is_ok()
    }
}

pub(crate) fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_serialize_as_flat_json() {
        let record = TraceRecord {
            t_us: 5,
            node: NodeIndex::new(1),
            nonce: BootNonce::new(9),
            event: TraceEvent::CircuitDown {
                peer: NodeIndex::new(2),
                reason: DownReason::PeerRebooted,
            },
        };
        let line = serde_json::to_string(&record).expect("serializes");
        assert_eq!(
            line,
            r#"{"t_us":5,"node":1,"nonce":9,"event":"circuit_down","peer":2,"reason":"peer_rebooted"}"#
        );
    }

    #[tokio::test]
    async fn json_writer_writes_one_line_per_record() {
        let (tracer, task) = Tracer::json_lines(Instant::now(), 8, io::sink());
        assert!(tracer.emit(
            Instant::now(),
            NodeIndex::new(0),
            BootNonce::new(1),
            TraceEvent::Stop
        ));
        drop(tracer);
        let lines = task
            .await
            .expect("writer task ran")
            .expect("sink accepts writes");
        assert_eq!(lines, 1);
    }
}
