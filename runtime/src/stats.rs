//! Per-node counters: atomic while the driver runs, read as a [`Stats`] snapshot.
//!
//! The driver bumps `Counters` with relaxed atomics (each counter is independent; a snapshot is
//! not a consistent cut across counters). Read them through a [`StatsHandle`], which stays valid
//! after the driver stops or crashes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;

use crate::envelope::DecodeError;

/// Declares the atomic [`Counters`] and the plain [`Stats`] snapshot from one field list.
macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// The live counters of one driver (see [`Stats`] for each field's meaning).
        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $(pub(crate) $name: AtomicU64,)*
        }

        /// A snapshot of one driver's counters.
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
        pub struct Stats {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Counters {
            /// Reads every counter.
            pub(crate) fn snapshot(&self) -> Stats {
                Stats { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Datagrams received from the socket, good or bad.
    datagrams_in,
    /// Datagrams handed to the socket.
    datagrams_out,
    /// Bytes received.
    bytes_in,
    /// Bytes sent.
    bytes_out,
    /// Hellos accepted.
    hellos_in,
    /// Hellos sent.
    hellos_out,
    /// Actor messages delivered to `on_msg` from the network (circuit events not included).
    msgs_in,
    /// Actor messages queued for sending.
    msgs_out,
    /// Local clients' messages delivered to `on_msg`.
    local_in,
    /// Messages for local clients the actor produced (handed to observers, not sent).
    local_out,
    /// Local clients' messages addressed to another incarnation, dropped.
    dropped_local_stale,
    /// Datagrams dropped by a cut in the fault table (on send or on receive).
    dropped_cut,
    /// Actor messages to a peer whose circuit is down, dropped before sending.
    dropped_circuit_down,
    /// Actor messages received on a circuit that is down here (triggers a hold-down).
    dropped_msg_while_down,
    /// Actor messages to an `Id` that is not a node of the cluster.
    dropped_unknown_destination,
    /// Actor messages that do not encode or exceed the datagram size.
    dropped_unencodable,
    /// Datagrams dropped because the destination's delay queue was full.
    dropped_queue_full,
    /// Datagrams from a dead incarnation, or not newer than the last one on their flow.
    dropped_stale,
    /// Actor messages dropped by an injected loss (`Faults::lose`).
    dropped_injected_loss,
    /// Actor messages found missing on incoming flows (each detection fails the circuit).
    msgs_lost,
    /// Bad datagrams: not ours or unparsable.
    bad_garbage,
    /// Bad datagrams: cut short.
    bad_truncated,
    /// Bad datagrams: another wire version.
    bad_wrong_version,
    /// Bad datagrams: larger than the maximum.
    bad_oversized,
    /// Bad datagrams: sender not in the table or not at its listed address.
    bad_unknown_sender,
    /// Bad datagrams: addressed to another node.
    bad_misaddressed,
    /// `send_to` failures.
    send_errors,
    /// `recv_from` failures.
    recv_errors,
    /// Circuit-up events delivered to the actor.
    circuit_ups,
    /// Circuit-down events delivered to the actor.
    circuit_downs,
    /// Actor timers fired.
    timers_fired,
    /// Trace records dropped because the trace channel was full.
    trace_dropped,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counter for a bad datagram of this kind.
    pub(crate) fn bad(&self, error: &DecodeError) -> &AtomicU64 {
        match error {
            DecodeError::Garbage => &self.bad_garbage,
            DecodeError::Misaddressed { .. } => &self.bad_misaddressed,
            DecodeError::Oversized { .. } => &self.bad_oversized,
            DecodeError::Truncated => &self.bad_truncated,
            DecodeError::UnknownSender { .. } => &self.bad_unknown_sender,
            DecodeError::WrongVersion { .. } => &self.bad_wrong_version,
        }
    }
}

impl Stats {
    /// All bad datagrams, whatever the kind.
    pub fn bad_total(&self) -> u64 {
        self.bad_garbage
            + self.bad_truncated
            + self.bad_wrong_version
            + self.bad_oversized
            + self.bad_unknown_sender
            + self.bad_misaddressed
    }
}

/// A shared view of one driver's counters; it outlives the driver.
#[derive(Clone, Debug, Default)]
pub struct StatsHandle(Arc<Counters>);

impl StatsHandle {
    /// A snapshot of the counters now.
    pub fn stats(&self) -> Stats {
        self.0.snapshot()
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.0
    }
}
