//! A test harness for the lock manager across nodes: three formed nodes (A, B, C) with eight
//! lock resources and external clients, and a network of FIFO circuits whose deliveries a test
//! runs all at once or one circuit head at a time (to stage a race).

use super::cluster::dir_node_of;
use super::external::{client_msg, external_lock_id, ClientMsg, ClientRequest, Completion};
use super::mode::{Flags, Mode, Status};
use super::resource::LockId;
use super::script::Op;
use super::DlmMsg;
use crate::config::ClusterSpec;
use crate::node::{Msg, NodeActor, NodeState, ProtocolOptions};
use crate::nodeset::NodeSet;
use stateright::actor::{Actor, Command, Id, Out};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

const CLUSTER: &str = r#"
[cluster]
name = "T"
expected_votes = 3
[[node]]
name = "A"
region = "FRA"
votes = 1
system_id = 1
[[node]]
name = "B"
region = "FRA"
votes = 1
system_id = 2
[[node]]
name = "C"
region = "FRA"
votes = 1
system_id = 3
[locks]
resources = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"]
"#;

/// Three formed nodes and the messages in flight among them (`(to, from, message)` in send
/// order; each circuit `from → to` is FIFO), with what each node sent its clients.
pub(crate) struct Net {
    pub actors: Vec<NodeActor>,
    pub states: Vec<NodeState>,
    pub flight: VecDeque<(usize, usize, Msg)>,
    pub out: Vec<(usize, ClientMsg)>,
    /// Messages sent to another node since the last reset.
    pub remote: usize,
}

impl Net {
    pub fn new() -> Self {
        let spec = Arc::new(ClusterSpec::parse("t", CLUSTER).expect("valid"));
        let opts = ProtocolOptions {
            start_formed: true,
            ..ProtocolOptions::default()
        };
        let actors: Vec<NodeActor> = (0..3)
            .map(|i| NodeActor::new(Arc::clone(&spec), i, opts))
            .collect();
        let states = actors.iter().map(NodeActor::formed_state).collect();
        Net {
            actors,
            states,
            flight: VecDeque::new(),
            out: Vec::new(),
            remote: 0,
        }
    }

    /// Delivers `msg` from `src` to `dst` now.
    pub fn step(&mut self, dst: usize, src: usize, msg: Msg) {
        let mut o = Out::new();
        let mut state = Cow::Borrowed(&self.states[dst]);
        self.actors[dst].on_msg(Id::from(dst), &mut state, Id::from(src), msg, &mut o);
        if let Cow::Owned(s) = state {
            self.states[dst] = s;
        }
        for c in o {
            if let Command::Send(to, m) = c {
                let to = usize::from(to);
                match client_msg(&m) {
                    Some(c) if to == dst => self.out.push((dst, *c)),
                    _ => {
                        self.remote += 1;
                        self.flight.push_back((to, dst, m));
                    }
                }
            }
        }
    }

    /// Node `n`'s client sends `r`; nothing else is delivered.
    pub fn client(&mut self, n: usize, r: ClientRequest) {
        self.step(n, n, r.into_msg());
    }

    /// Delivers the head of circuit `src → dst` and returns its lock-manager message.
    pub fn deliver(&mut self, src: usize, dst: usize) -> DlmMsg {
        let i = self
            .flight
            .iter()
            .position(|(to, from, _)| (*from, *to) == (src, dst))
            .unwrap_or_else(|| panic!("nothing in flight from {src} to {dst}"));
        let (to, from, m) = self.flight.remove(i).expect("in flight");
        let Msg::Dlm(d) = m else {
            panic!("not a lock-manager message: {m:?}")
        };
        self.step(to, from, m);
        d
    }

    /// The lock-manager messages in flight on circuit `src → dst`, in order.
    pub fn on(&self, src: usize, dst: usize) -> Vec<DlmMsg> {
        self.flight
            .iter()
            .filter(|(to, from, _)| (*from, *to) == (src, dst))
            .filter_map(|(_, _, m)| match m {
                Msg::Dlm(d) => Some(*d),
                _ => None,
            })
            .collect()
    }

    /// Delivers everything in flight, in send order, until the network is quiet.
    pub fn run(&mut self) {
        while let Some((dst, src, m)) = self.flight.pop_front() {
            self.step(dst, src, m);
        }
    }

    /// Node `n`'s client sends `r`; the network runs until quiet. Returns the client messages
    /// of this exchange and the number of remote messages.
    pub fn request(&mut self, n: usize, r: ClientRequest) -> (Vec<(usize, ClientMsg)>, usize) {
        self.remote = 0;
        self.client(n, r);
        self.run();
        (std::mem::take(&mut self.out), self.remote)
    }

    /// The client messages since the last call.
    pub fn take_out(&mut self) -> Vec<(usize, ClientMsg)> {
        std::mem::take(&mut self.out)
    }

    /// A resource whose directory node is `dir` (all three nodes members).
    pub fn res_with(&self, dir: usize) -> u8 {
        let spec = &self.actors[0].spec;
        let all = NodeSet::first(3);
        (0..spec.resources.len())
            .find(|&r| dir_node_of(&spec.resources[r], all) == Some(dir))
            .expect("some resource hashes to every node") as u8
    }
}

/// External lock `seq` of node `node`.
pub(crate) fn id(node: usize, seq: u32) -> LockId {
    external_lock_id(node, seq).expect("valid")
}

/// A request without a value.
pub(crate) fn req(lock: LockId, res: u8, op: Op, flags: Flags) -> ClientRequest {
    ClientRequest {
        lock,
        res,
        op,
        flags,
        value: None,
    }
}

/// A completion without a value.
pub(crate) fn done(lock: LockId, res: u8, status: Status, mode: Option<Mode>) -> ClientMsg {
    ClientMsg::Completion(Completion {
        lock,
        res,
        status,
        mode,
        value: None,
    })
}
