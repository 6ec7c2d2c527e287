//! vmsc model: the OpenVMS cluster protocols as pure Stateright actors, and the checked model
//! that runs them under faults.
//!
//! * [`config`]: the cluster file.
//! * [`node`]: the node actor — connection manager and membership.
//! * [`quorum`], [`cluexit`]: the arithmetic and decision rules the actor uses.
//! * [`dlm`]: the lock manager (lock table, and the distributed part inside the node actor).
//! * [`cluster_model`]: the node actors inside Stateright with faults injected.
//! * [`properties`]: the named invariants.
//! * [`explore`]: exhaustive exploration that collects `whatif` outcomes, with sleep sets.
//! * [`checker`]: the checkers behind `--checker` (reduced, explorer, Stateright BFS/DFS).
//! * [`explorer_view`]: what Stateright's Explorer shows (step reports, sequence diagrams).
//!
//! Nothing in this crate reads a clock, opens a socket or spawns a thread (except the optional
//! checker threads Stateright itself starts).
pub mod checker;
pub mod cluexit;
pub mod cluster_model;
pub mod config;
pub mod describe;
pub mod dlm;
pub mod explore;
pub mod explorer_view;
pub mod node;
pub mod nodeset;
pub mod properties;
pub mod quorum;
pub mod whatif;
