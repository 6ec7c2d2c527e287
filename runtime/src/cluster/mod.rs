//! The vmsc cluster on the runtime: the model's [`NodeActor`](vmsc_model::node::NodeActor)
//! driven by [`NodeDriver`](crate::NodeDriver)s, one OS process per node.
//!
//! * [`console`]: `CircuitEvents` for the node actor, the VMS console lines, the node's status.
//! * [`control`]: the local TCP control endpoint (SHOW CLUSTER, stats, fault injection, lock
//!   requests) and its client.
//! * [`locks`]: the lock manager's client interface (`enq`, `convert`, `deq`, BASTs) on a node.
//! * [`process`]: one node as one process (`vmsc node`): timers scaled, latency from the RTT
//!   table, a supervisor that reboots the node after a CLUEXIT.
//! * [`scenario`]: the scenario file `vmsc run` follows.
//! * [`launch`]: `vmsc run`: every node as a process on loopback, the scenario, the outcome.
//!
//! Nothing here decides anything the protocol decides: the actor forms, joins, transitions and
//! exits on its own; this module boots it, shows what it did, and injects faults and latency.

pub mod console;
pub mod control;
pub mod launch;
pub mod locks;
pub mod process;
pub mod scenario;
