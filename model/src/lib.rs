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
//! * [`parallel`]: the same exploration on several threads (`--threads`).
//! * [`persistent`]: persistent sets for the connection manager (the `persistent` checker).
//! * [`checker`]: the checkers behind `--checker` (reduced, explorer, Stateright BFS/DFS).
//! * [`explorer_view`]: what Stateright's Explorer shows (step reports, sequence diagrams).
//!
//! The protocol modules (`node`, `quorum`, `cluexit`, `dlm`, `config`) never read a clock, open a
//! socket or spawn a thread: time enters as timers and everything the actor does is returned as
//! commands. Only the search drivers (`explore`, `parallel`, `checker`) read the clock (for
//! deadlines) and start threads (`parallel`, and Stateright's own checkers).
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
pub mod parallel;
pub mod persistent;
pub mod properties;
pub mod quorum;
mod visited;
pub mod whatif;
