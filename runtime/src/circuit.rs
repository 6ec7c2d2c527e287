//! Circuits: the port layer's view of which peers are reachable (PEDRIVER's job, not the actor's).
//!
//! Every node sends a [`Hello`] to every peer each hello interval. A hello carries the sender's
//! boot nonce and the incarnations it currently hears. The circuit from `me` to `peer` is **up**
//! when both hold:
//!
//! 1. *I hear the peer*: a hello from it arrived within the listen timeout;
//! 2. *the peer hears me*: its latest hello lists `(me, my nonce)`.
//!
//! So hellos must flow both ways, and a one-way cut brings the circuit down at both ends: the
//! deaf end times out, and the other end sees itself dropped from the deaf end's hellos.
//!
//! A circuit goes **down** on a listen timeout, when the peer's nonce grows (it rebooted: down,
//! then up again once the new incarnation and this node hear each other), when the peer's
//! hellos stop listing this node, or when the driver detects a lost actor message on the flow
//! from the peer (see `flow`).
//!
//! **Both ends see every failure.** A node that timed out on a peer, detected a lost message, or
//! received an actor message from a peer whose circuit it does not consider up, may be the only
//! end that noticed anything. It then enters a *hold-down* of one listen timeout, during which
//! it does not list the peer in its hellos and does not reopen the circuit. Within that time the
//! peer either receives one of those hellos (and drops the circuit because it is no longer
//! listed) or receives none (and times out). Either way both ends report `circuit_down` before
//! the circuit reopens, so a message lost on the circuit is always followed by a `circuit_down`
//! at both ends, as the model's failure detector promises.
//!
//! **Triggered hellos.** Besides the periodic ones, a node replies at once with a hello when it
//! first hears a peer incarnation, when a circuit opens (so the peer learns it is heard before
//! any actor message arrives: flows are FIFO) and when a circuit closes. Each trigger is tied
//! to a state change, so hellos cannot ping-pong.
//!
//! This module is pure: time comes in as `now`, and outputs are returned.

use std::time::{Duration, Instant};

use crate::envelope::{Heard, Hello};
use crate::node::{BootNonce, NodeIndex};

/// Why a circuit went down; reported in traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DownReason {
    /// No hello from the peer within the listen timeout.
    ListenTimeout,
    /// Actor messages from the peer went missing (a gap in the flow's message numbers).
    MessageLost,
    /// An actor message arrived on a circuit this node considers down.
    MessageWhileDown,
    /// The peer's boot nonce changed: the incarnation we had a circuit with is gone.
    PeerRebooted,
    /// The peer's hellos no longer list this node: it stopped hearing us.
    PeerStoppedHearing,
}

/// A circuit state change, to be delivered to the actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The circuit to the peer closed.
    Down(NodeIndex, DownReason),
    /// The circuit to the peer opened (hellos flow both ways).
    Up(NodeIndex),
}

/// What a received hello or a tick asks the driver to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Circuit changes, in order (at most two per peer: a down then an up).
    pub(crate) transitions: Vec<Transition>,
    /// Peers that should get a triggered hello now.
    pub(crate) hello_to: Vec<NodeIndex>,
}

/// How an arriving datagram's nonce relates to the incarnation heard so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Incarnation {
    /// The incarnation we hear (or the first one heard).
    Current,
    /// Older than the one we hear: a straggler from a dead incarnation.
    Stale,
}

#[derive(Clone, Debug, Default)]
struct PeerCircuit {
    /// The incarnation heard and when its last hello arrived.
    heard: Option<(BootNonce, Instant)>,
    /// The highest nonce ever seen from this peer; lower ones are stale.
    nonce_max: Option<BootNonce>,
    /// The peer's latest hello listed `(me, my nonce)`.
    hears_me: bool,
    /// The circuit is open.
    up: bool,
    /// Until then the peer is not listed and the circuit does not open.
    hold_down_until: Option<Instant>,
}

/// Circuit state for one node towards every peer.
#[derive(Debug)]
pub(crate) struct Circuits {
    me: NodeIndex,
    nonce: BootNonce,
    listen_timeout: Duration,
    peers: Vec<PeerCircuit>,
}

impl Circuits {
    /// Circuits of node `me` (incarnation `nonce`) in a cluster of `nodes`, all down.
    pub(crate) fn new(
        me: NodeIndex,
        nonce: BootNonce,
        nodes: usize,
        listen_timeout: Duration,
    ) -> Self {
        debug_assert!(me.as_usize() < nodes);
        Self {
            me,
            nonce,
            listen_timeout,
            peers: vec![PeerCircuit::default(); nodes],
        }
    }

    /// Whether the circuit to `peer` is open. The circuit to oneself always is.
    pub(crate) fn is_up(&self, peer: NodeIndex) -> bool {
        peer == self.me || self.peers.get(peer.as_usize()).is_some_and(|p| p.up)
    }

    /// The incarnation of `peer` the open circuit is with, if it is open.
    pub(crate) fn up_nonce(&self, peer: NodeIndex) -> Option<BootNonce> {
        let p = self.peers.get(peer.as_usize())?;
        if p.up {
            p.heard.map(|(nonce, _)| nonce)
        } else {
            None
        }
    }

    /// The hello this node sends now: every heard peer not in hold-down.
    pub(crate) fn hello(&self, now: Instant) -> Hello {
        let hears = self
            .peers
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.held(now))
            .filter_map(|(i, p)| {
                p.heard.map(|(nonce, _)| Heard {
                    node: NodeIndex::new(i as u16),
                    nonce,
                })
            })
            .collect();
        Hello { hears }
    }

    /// Classifies a datagram from `peer` with `nonce`; a newer nonce is a reboot, which takes
    /// the old circuit down before anything else is done with the datagram.
    pub(crate) fn on_nonce(
        &mut self,
        peer: NodeIndex,
        nonce: BootNonce,
        out: &mut Outcome,
    ) -> Incarnation {
        let Some(p) = self.peer_mut(peer) else {
            return Incarnation::Stale;
        };
        if p.nonce_max.is_some_and(|max| nonce < max) {
            return Incarnation::Stale;
        }
        if p.nonce_max.is_some_and(|max| nonce > max) {
            // The old incarnation is dead. A fresh one never had a circuit with us, so there is
            // no far end to inform and no hold-down.
            if p.up {
                out.transitions
                    .push(Transition::Down(peer, DownReason::PeerRebooted));
            }
            *p = PeerCircuit::default();
        }
        p.nonce_max = Some(nonce);
        Incarnation::Current
    }

    /// Processes a hello from `peer` (already classified current by [`Circuits::on_nonce`]).
    pub(crate) fn on_hello(
        &mut self,
        now: Instant,
        peer: NodeIndex,
        nonce: BootNonce,
        hello: &Hello,
        out: &mut Outcome,
    ) {
        let (me, my_nonce) = (self.me, self.nonce);
        let Some(p) = self.peer_mut(peer) else { return };
        debug_assert_eq!(p.nonce_max, Some(nonce), "on_nonce runs first");
        let first = p.heard.is_none();
        p.heard = Some((nonce, now));
        p.hears_me = hello
            .hears
            .iter()
            .any(|h| h.node == me && h.nonce == my_nonce);
        if first {
            out.hello_to.push(peer);
        }
        if p.up && !p.hears_me {
            p.up = false;
            out.transitions
                .push(Transition::Down(peer, DownReason::PeerStoppedHearing));
            push_once(&mut out.hello_to, peer);
        } else if !p.up && p.hears_me && !p.held(now) {
            p.up = true;
            out.transitions.push(Transition::Up(peer));
            push_once(&mut out.hello_to, peer);
        }
    }

    /// Fails the circuit to `peer` here (if open) and holds the peer down, so that the far end
    /// closes its end too.
    pub(crate) fn fail(
        &mut self,
        now: Instant,
        peer: NodeIndex,
        reason: DownReason,
        out: &mut Outcome,
    ) {
        let listen_timeout = self.listen_timeout;
        let Some(p) = self.peer_mut(peer) else { return };
        if p.up {
            p.up = false;
            out.transitions.push(Transition::Down(peer, reason));
        }
        if !p.held(now) {
            p.hold_down_until = Some(now + listen_timeout);
        }
        push_once(&mut out.hello_to, peer);
    }

    /// An actor message arrived from `peer` while its circuit is down here: the far end thinks
    /// the circuit is open. Hold the peer down so the far end closes it too.
    pub(crate) fn on_message_while_down(
        &mut self,
        now: Instant,
        peer: NodeIndex,
        out: &mut Outcome,
    ) {
        let listen_timeout = self.listen_timeout;
        let Some(p) = self.peer_mut(peer) else { return };
        debug_assert!(!p.up);
        if !p.held(now) {
            p.hold_down_until = Some(now + listen_timeout);
            push_once(&mut out.hello_to, peer);
        }
    }

    /// Expires listen timeouts and hold-downs that are due at `now`.
    pub(crate) fn on_tick(&mut self, now: Instant) -> Outcome {
        let mut out = Outcome::default();
        let listen_timeout = self.listen_timeout;
        for (i, p) in self.peers.iter_mut().enumerate() {
            let peer = NodeIndex::new(i as u16);
            if peer == self.me {
                continue;
            }
            if p.heard
                .is_some_and(|(_, last)| now >= last + listen_timeout)
            {
                p.heard = None;
                p.hears_me = false;
                p.hold_down_until = Some(now + listen_timeout);
                if p.up {
                    p.up = false;
                    out.transitions
                        .push(Transition::Down(peer, DownReason::ListenTimeout));
                }
            }
            if p.hold_down_until.is_some_and(|until| now >= until) {
                p.hold_down_until = None;
                // Back in our hellos: tell the peer now rather than at the next period.
                if p.heard.is_some() {
                    out.hello_to.push(peer);
                }
                if p.heard.is_some() && p.hears_me {
                    p.up = true;
                    out.transitions.push(Transition::Up(peer));
                }
            }
        }
        out
    }

    /// The earliest instant at which [`Circuits::on_tick`] has something to do.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.peers
            .iter()
            .flat_map(|p| {
                [
                    p.heard.map(|(_, last)| last + self.listen_timeout),
                    p.hold_down_until,
                ]
            })
            .flatten()
            .min()
    }

    fn peer_mut(&mut self, peer: NodeIndex) -> Option<&mut PeerCircuit> {
        if peer == self.me {
            return None;
        }
        self.peers.get_mut(peer.as_usize())
    }
}

impl PeerCircuit {
    fn held(&self, now: Instant) -> bool {
        self.hold_down_until.is_some_and(|until| now < until)
    }
}

fn push_once(list: &mut Vec<NodeIndex>, peer: NodeIndex) {
    if !list.contains(&peer) {
        list.push(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTEN: Duration = Duration::from_millis(60);

    struct Pair {
        a: Circuits,
        b: Circuits,
        t0: Instant,
    }

    const A: NodeIndex = NodeIndex::new(0);
    const B: NodeIndex = NodeIndex::new(1);

    impl Pair {
        fn new() -> Self {
            Self {
                a: Circuits::new(A, BootNonce::new(10), 2, LISTEN),
                b: Circuits::new(B, BootNonce::new(20), 2, LISTEN),
                t0: Instant::now(),
            }
        }

        fn at(&self, ms: u64) -> Instant {
            self.t0 + Duration::from_millis(ms)
        }

        /// Delivers the hello `from` would send at `ms`, returning the receiver's outcome.
        fn hello(&mut self, from: NodeIndex, ms: u64) -> Outcome {
            let now = self.at(ms);
            let (src, dst) = if from == A {
                (&self.a, &mut self.b)
            } else {
                (&self.b, &mut self.a)
            };
            let hello = src.hello(now);
            let mut out = Outcome::default();
            assert_eq!(
                dst.on_nonce(from, src.nonce, &mut out),
                Incarnation::Current
            );
            dst.on_hello(now, from, src.nonce, &hello, &mut out);
            out
        }
    }

    #[test]
    fn opens_after_a_three_way_exchange() {
        let mut p = Pair::new();
        let out = p.hello(A, 0);
        assert_eq!(out.transitions, vec![]);
        assert_eq!(out.hello_to, vec![A], "first hearing triggers a reply");
        let out = p.hello(B, 1);
        assert_eq!(out.transitions, vec![Transition::Up(B)]);
        assert_eq!(out.hello_to, vec![B]);
        let out = p.hello(A, 2);
        assert_eq!(out.transitions, vec![Transition::Up(A)]);
        assert!(p.a.is_up(B) && p.b.is_up(A));
        let out = p.hello(B, 3);
        assert_eq!(out, Outcome::default(), "steady state: nothing triggered");
    }

    #[test]
    fn one_way_cut_closes_both_ends() {
        let mut p = Pair::new();
        p.hello(A, 0);
        p.hello(B, 1);
        p.hello(A, 2);
        // A -> B is cut: B hears nothing more from A and times out ...
        let out = p.b.on_tick(p.at(2 + LISTEN.as_millis() as u64));
        assert_eq!(
            out.transitions,
            vec![Transition::Down(A, DownReason::ListenTimeout)]
        );
        // ... and its next hello no longer lists A, so A closes too.
        let out = p.hello(B, 70);
        assert_eq!(
            out.transitions,
            vec![Transition::Down(B, DownReason::PeerStoppedHearing)]
        );
    }

    #[test]
    fn lone_timeout_holds_down_so_the_far_end_notices() {
        let mut p = Pair::new();
        p.hello(A, 0);
        p.hello(B, 1);
        p.hello(A, 2);
        // Only B -> A lost hellos: A times out while B still hears A.
        let out = p.a.on_tick(p.at(1 + LISTEN.as_millis() as u64));
        assert_eq!(
            out.transitions,
            vec![Transition::Down(B, DownReason::ListenTimeout)]
        );
        // B's hellos resume and list A, but A is in hold-down: it does not reopen ...
        assert_eq!(p.hello(B, 62).transitions, vec![]);
        // ... and A's hellos omit B, so B closes its end.
        let out = p.hello(A, 63);
        assert_eq!(
            out.transitions,
            vec![Transition::Down(A, DownReason::PeerStoppedHearing)]
        );
        // After the hold-down A reopens (B still lists it) and tells B at once, before any
        // actor message can follow; B reopens on that hello.
        let out = p.a.on_tick(p.at(61 + LISTEN.as_millis() as u64));
        assert_eq!(out.transitions, vec![Transition::Up(B)]);
        assert_eq!(out.hello_to, vec![B]);
        assert_eq!(p.hello(A, 121).transitions, vec![Transition::Up(A)]);
        assert_eq!(p.hello(B, 122), Outcome::default());
    }

    #[test]
    fn reboot_is_down_then_up() {
        let mut p = Pair::new();
        p.hello(A, 0);
        p.hello(B, 1);
        p.hello(A, 2);
        p.b = Circuits::new(B, BootNonce::new(21), 2, LISTEN);
        let out = p.hello(B, 3);
        assert_eq!(
            out.transitions,
            vec![Transition::Down(B, DownReason::PeerRebooted)]
        );
        // A already hears the new B, so B opens on A's next hello, and A on B's reply.
        assert_eq!(p.hello(A, 4).transitions, vec![Transition::Up(A)]);
        assert_eq!(p.hello(B, 5).transitions, vec![Transition::Up(B)]);
        let mut out = Outcome::default();
        assert_eq!(
            p.a.on_nonce(B, BootNonce::new(20), &mut out),
            Incarnation::Stale
        );
    }

    #[test]
    fn detected_loss_closes_both_ends() {
        let mut p = Pair::new();
        p.hello(A, 0);
        p.hello(B, 1);
        p.hello(A, 2);
        let mut out = Outcome::default();
        p.b.fail(p.at(3), A, DownReason::MessageLost, &mut out);
        assert_eq!(
            out.transitions,
            vec![Transition::Down(A, DownReason::MessageLost)]
        );
        assert_eq!(out.hello_to, vec![A]);
        let out = p.hello(B, 4);
        assert_eq!(
            out.transitions,
            vec![Transition::Down(B, DownReason::PeerStoppedHearing)]
        );
    }

    #[test]
    fn message_while_down_holds_down() {
        let mut p = Pair::new();
        p.hello(A, 0);
        let mut out = Outcome::default();
        p.b.on_message_while_down(p.at(1), A, &mut out);
        assert_eq!(out.hello_to, vec![A]);
        assert!(
            p.b.hello(p.at(1)).hears.is_empty(),
            "held-down peers are not listed"
        );
        assert_eq!(p.b.next_deadline(), Some(p.at(0) + LISTEN));
    }
}
