//! `vmsc experiment`: how long transitions take in a cluster placed in real regions.
//!
//! `vmsc experiment CLUSTER.toml --scenario SCENARIO.toml` runs the real node code as one
//! process per node on loopback (through `vmsc_runtime::cluster::launch`, exactly as `vmsc run`),
//! with every datagram delayed by half the RTT between the nodes' regions, applies the scenario
//! N times, and reads the nodes' traces back ([`trace`]) to measure each **episode** of the
//! scenario ([`measure`]): detection, the wait before the first proposal, the state transition
//! itself, until every survivor committed (`transition`) and until every survivor is active
//! again (`resumed`), and the protocol overhead `transition − detection`, also in units of the
//! slowest RTT among the survivors. Figures go into hdrhistograms and out as a table, JSON
//! ([`report`]) and an SVG plot ([`plot`]).
//!
//! Next to every figure stands the **predicted floor** ([`floor`]): the protocol's message
//! rounds (counted in `model/src/node.rs`) × the table's RTTs, plus the detection time and
//! RECNXINTERVAL; and the ratio measured / floor.
//!
//! ## Time scaling
//!
//! A real RECNXINTERVAL is 20 s on the seed cluster, so runs are usually scaled: with
//! `--time-scale F` every node divides the hello interval, the listen timeout, RECNXINTERVAL,
//! the boot delay, the injected one-way delays and the scenario times by F
//! (`vmsc_runtime::cluster::process`). Every duration the protocol compares is divided alike, so
//! the runs take the same course as in real time, F times faster. The report gives each figure
//! **scaled** (as measured) and **real** (scaled × F); figures in RTT multiples are the same in
//! both. What does not scale is the machine's own cost per message: about 0.1 ms per datagram on
//! loopback, and about 1 ms per *delayed* datagram, because the runtime holds it on a tokio
//! timer (1 ms resolution). In real terms it is multiplied by F, so real figures overstate it:
//! at F = 20 the seed's FRA–ORD RTT is 4.88 ms scaled and each one-way hop gains ≈ 0.2 RTT.
//! A smaller F gives round trips closer to the wire at the price of longer runs.
//!
//! ## Lock latency under load ([`load`], [`locks`])
//!
//! A `[load]` section in the scenario file puts lock clients on several nodes. In every run,
//! once the cluster has first settled and before the scenario's first step, the experiment fixes
//! each resource's master (its first locker), optionally makes the master known on some
//! resources (NL locks held by every load node), and runs the clients concurrently through the
//! nodes' control endpoints (`enq`, timed to its completion, then `deq`). Each grant is
//! classified from the requesting node's trace — `local` (no remote message), `remote` (one),
//! `directory_remote` (directory lookup, then the request: two) — and compared with its floor:
//! 0, one RTT to the peer, or RTT to the directory + RTT to the master, from the RTT table.
//! Figures go per class and per route (by region) into [`report::LockReport`] (the JSON's
//! `locks`), rows under the transition table, and a histogram panel in the plot; throughput is
//! grants per second over the load window.
//!
//! Lock latencies are RTT-sized, not RECNXINTERVAL-sized, so `--time-scale 1` suits them: at
//! F = 20 the runtime's ~1 ms per delayed datagram is a large part of a scaled RTT.

pub mod error;
pub mod floor;
pub mod load;
pub mod locks;
pub mod measure;
pub mod plot;
pub mod report;
pub mod run;
pub mod trace;

pub use error::ExperimentError;
