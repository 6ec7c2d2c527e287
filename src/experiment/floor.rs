//! The predicted floor: the least time the protocol can take, from its message rounds and the
//! RTT table plus the configured timers.
//!
//! All figures here are in **real** terms (the cluster file's timers and the table's RTTs);
//! divide by the time scale for what a scaled run should show.
//!
//! # Counting the rounds (`model/src/node.rs`)
//!
//! A state transition after a fault:
//!
//! | step | message | time at the far end |
//! |---|---|---|
//! | coordinator's RECNX timer fires (RECNXINTERVAL after it lost the member) | | 0 |
//! | phase 1: proposal | `Propose` → every survivor | ½ RTT |
//! | | `Reply` (accept, with circuits) → coordinator | 1 RTT |
//! | phase 2: commit — the coordinator installs, every survivor installs on receipt | `Commit` | **1½ RTT** |
//! | | `Committed` → coordinator (it is active again) | 2 RTT |
//! | phase 3: release — the survivors are active again | `Release` | **2½ RTT** |
//!
//! where RTT is the largest round trip between the coordinator and a survivor. The floor uses
//! the coordinator that makes it smallest (`min over c of max over s of RTT(c, s)`), so it
//! holds whichever survivor coordinates; on the seed topology every choice gives the same.
//!
//! Failure detection: hellos go out every hello interval `h`; a circuit fails after the listen
//! timeout `L·h` (L = 3) without one. The last hello before a fault can be up to `h` old, so the
//! first node reports the loss no earlier than `(L − 1)·h` after the fault.
//!
//! ```text
//! detection  ≥ (L − 1)·h
//! transition ≥ (L − 1)·h + RECNXINTERVAL + 1½·RTT      every survivor installed the new view
//! resumed    ≥ (L − 1)·h + RECNXINTERVAL + 2½·RTT      every survivor active (released)
//! overhead   = transition − detection ≥ RECNXINTERVAL + 1½·RTT
//! protocol   = first proposal → installed ≥ 1½·RTT
//! ```
//!
//! A **heal with rejoin**: no hellos are in flight on a cut link, so after the heal a circuit
//! needs one hello each way plus the triggered answer: first `circuit_up` ≥ 1 RTT of the healed
//! link. A node removed earlier (CLUEXIT, rebooted, waiting) then waits its join delay (≥ 2 h
//! after its last circuit opened), sends `JoinRequest` (½ RTT to the coordinator), and the
//! coordinator runs one transition per joiner (1½ RTT to install it; the next joiner can only
//! be proposed after the previous transition's `Committed`s are back, 2 RTT after its proposal).
//! A node that takes its CLUEXIT only when the link heals (a hung member meeting the quorate
//! cluster) first needs the hello exchange (½ RTT), its boot delay, and its circuits again (1 RTT).
//!
//! ```text
//! rejoined ≥ RTT_link [+ ½ RTT + boot delay + RTT_link] + 2·h + ½·RTT(joiner, c) + (k − 1)·2·RTT + 1½·RTT
//! ```
//!
//! The floor ignores processing, scheduling and retries after collisions: the measured/floor
//! ratio says how much of that there is.

use serde::Serialize;
use vmsc_latency::RttTable;
use vmsc_model::config::ClusterSpec;

use crate::experiment::error::ExperimentError;

/// Listen timeout in hello intervals (the runtime's `LISTEN_TIMEOUT_HELLOS`).
pub use vmsc_runtime::driver::LISTEN_TIMEOUT_HELLOS;

/// The cluster and the timers as the experiment configured them, in real terms.
#[derive(Clone, Debug)]
pub struct Timing {
    /// The cluster file (unscaled).
    pub spec: ClusterSpec,
    /// RTTs between regions.
    pub table: RttTable,
    /// RTT between nodes of one region, ms.
    pub lan_rtt_ms: f64,
    /// Delay before a node that took a CLUEXIT boots again, real ms.
    pub boot_delay_ms: f64,
    /// Runs go this many times faster than real time.
    pub time_scale: f64,
}

impl Timing {
    /// RTT between two nodes (by index), real ms.
    ///
    /// # Errors
    /// [`ExperimentError::Latency`] if the table lacks the pair.
    pub fn rtt_ms(&self, a: usize, b: usize) -> Result<f64, ExperimentError> {
        if a == b {
            return Ok(0.0);
        }
        Ok(self.table.rtt_ms_or_lan(
            &self.spec.nodes[a].region,
            &self.spec.nodes[b].region,
            self.lan_rtt_ms,
        )?)
    }

    /// Hello interval, real ms.
    pub fn hello_ms(&self) -> f64 {
        self.spec.hello_interval_ms as f64
    }

    /// RECNXINTERVAL, real ms.
    pub fn recnx_ms(&self) -> f64 {
        self.spec.recnx_interval_ms as f64
    }

    /// The slowest pair among `nodes`: `(a, b, rtt_ms)`; `None` for fewer than two nodes.
    ///
    /// # Errors
    /// As [`Timing::rtt_ms`].
    pub fn slowest_pair(
        &self,
        nodes: &[usize],
    ) -> Result<Option<(usize, usize, f64)>, ExperimentError> {
        let mut best: Option<(usize, usize, f64)> = None;
        for (i, &a) in nodes.iter().enumerate() {
            for &b in &nodes[i + 1..] {
                let rtt = self.rtt_ms(a, b)?;
                if !matches!(best, Some((_, _, r)) if r >= rtt) {
                    best = Some((a, b, rtt));
                }
            }
        }
        Ok(best)
    }

    /// The coordinator among `members` whose slowest round trip to the others is smallest, and
    /// that RTT (real ms).
    ///
    /// # Errors
    /// As [`Timing::rtt_ms`].
    pub fn best_coordinator(&self, members: &[usize]) -> Result<(usize, f64), ExperimentError> {
        let mut best = (members.first().copied().unwrap_or(0), f64::INFINITY);
        for &c in members {
            let mut worst: f64 = 0.0;
            for &s in members {
                worst = worst.max(self.rtt_ms(c, s)?);
            }
            if worst < best.1 {
                best = (c, worst);
            }
        }
        if best.1.is_infinite() {
            best.1 = 0.0;
        }
        Ok(best)
    }
}

/// One term of a floor, real ms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Term {
    /// What it is, e.g. `RECNXINTERVAL` or `1.5 x RTT FRANK1-CHIC1`.
    pub what: String,
    /// Real ms.
    pub ms: f64,
}

/// The floors of one episode, real ms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Floor {
    /// The terms that add up to `transition_ms`, in order.
    pub terms: Vec<Term>,
    /// First report (loss for a fault, circuit up for a heal).
    pub detection_ms: f64,
    /// Every survivor installed the new view (for a heal: the last rejoiner is a member).
    pub transition_ms: f64,
    /// Every survivor active (released).
    pub resumed_ms: f64,
    /// `transition_ms − detection_ms`.
    pub overhead_ms: f64,
    /// First proposal → every survivor installed.
    pub protocol_ms: f64,
    /// The RTT the rounds are counted in (coordinator to its slowest survivor), real ms.
    pub round_rtt_ms: f64,
}

/// The floor after a fault (cut or crash), for the survivors `survivors`.
///
/// # Errors
/// As [`Timing::rtt_ms`].
pub fn after_fault(t: &Timing, survivors: &[usize]) -> Result<Floor, ExperimentError> {
    let (c, rtt) = t.best_coordinator(survivors)?;
    let detection = f64::from(LISTEN_TIMEOUT_HELLOS - 1) * t.hello_ms();
    let name = |i: usize| t.spec.nodes[i].name.clone();
    let far = survivors
        .iter()
        .copied()
        .max_by(|&a, &b| {
            t.rtt_ms(c, a)
                .unwrap_or(0.0)
                .total_cmp(&t.rtt_ms(c, b).unwrap_or(0.0))
        })
        .unwrap_or(c);
    let terms = vec![
        Term {
            what: format!(
                "detection: ({} - 1) x hello interval",
                LISTEN_TIMEOUT_HELLOS
            ),
            ms: detection,
        },
        Term {
            what: "RECNXINTERVAL".into(),
            ms: t.recnx_ms(),
        },
        Term {
            what: format!(
                "1.5 x RTT {}-{} (propose, reply, commit)",
                name(c),
                name(far)
            ),
            ms: 1.5 * rtt,
        },
    ];
    let transition = terms.iter().map(|t| t.ms).sum::<f64>();
    Ok(Floor {
        terms,
        detection_ms: detection,
        transition_ms: transition,
        resumed_ms: transition + rtt,
        overhead_ms: transition - detection,
        protocol_ms: 1.5 * rtt,
        round_rtt_ms: rtt,
    })
}

/// What a heal episode looked like, for its floor.
#[derive(Clone, Debug)]
pub struct HealShape<'a> {
    /// The members at the end.
    pub members: &'a [usize],
    /// The nodes that became members again.
    pub joiners: &'a [usize],
    /// Some joiner took its CLUEXIT only after the heal (a hung member meeting the quorate
    /// cluster), so it had to reboot first.
    pub exit_on_heal: bool,
    /// The healed node pairs.
    pub healed: &'a [(usize, usize)],
}

/// The floor after a heal (see the module doc).
///
/// # Errors
/// As [`Timing::rtt_ms`].
pub fn after_heal(t: &Timing, shape: &HealShape<'_>) -> Result<Floor, ExperimentError> {
    // A join is coordinated by a member that stayed (the one the joiner asks); its rounds reach
    // every member, the joiner included.
    let stayed: Vec<usize> = shape
        .members
        .iter()
        .copied()
        .filter(|m| !shape.joiners.contains(m))
        .collect();
    let candidates = if stayed.is_empty() {
        shape.members
    } else {
        &stayed[..]
    };
    let mut best = (candidates.first().copied().unwrap_or(0), f64::INFINITY);
    for &c in candidates {
        let mut worst: f64 = 0.0;
        for &s in shape.members {
            worst = worst.max(t.rtt_ms(c, s)?);
        }
        if worst < best.1 {
            best = (c, worst);
        }
    }
    let (c, rtt) = (best.0, if best.1.is_finite() { best.1 } else { 0.0 });
    let name = |i: usize| t.spec.nodes[i].name.clone();
    let mut link = f64::INFINITY;
    for &(a, b) in shape.healed {
        link = link.min(t.rtt_ms(a, b)?);
    }
    if link.is_infinite() {
        link = 0.0;
    }
    let mut join_rtt = f64::INFINITY;
    for &j in shape.joiners {
        join_rtt = join_rtt.min(t.rtt_ms(j, c)?);
    }
    if join_rtt.is_infinite() {
        join_rtt = 0.0;
    }
    let k = shape.joiners.len().max(1);
    let mut terms = vec![Term {
        what: "circuit up: 1 x RTT of the healed link".into(),
        ms: link,
    }];
    if shape.exit_on_heal {
        terms.push(Term {
            what: "hello exchange, CLUEXIT: 0.5 x RTT".into(),
            ms: 0.5 * link,
        });
        terms.push(Term {
            what: "boot delay".into(),
            ms: t.boot_delay_ms,
        });
        terms.push(Term {
            what: "circuits of the new incarnation: 1 x RTT".into(),
            ms: link,
        });
    }
    terms.push(Term {
        what: "join delay: 2 x hello interval".into(),
        ms: 2.0 * t.hello_ms(),
    });
    terms.push(Term {
        what: format!("JoinRequest: 0.5 x RTT to {}", name(c)),
        ms: 0.5 * join_rtt,
    });
    if k > 1 {
        terms.push(Term {
            what: format!("{} earlier joins: {} x 2 x RTT", k - 1, k - 1),
            ms: (k - 1) as f64 * 2.0 * rtt,
        });
    }
    terms.push(Term {
        what: format!("1.5 x RTT from {} (propose, reply, commit)", name(c)),
        ms: 1.5 * rtt,
    });
    let transition = terms.iter().map(|t| t.ms).sum::<f64>();
    Ok(Floor {
        terms,
        detection_ms: link,
        transition_ms: transition,
        resumed_ms: transition + rtt,
        overhead_ms: transition - link,
        protocol_ms: (k - 1) as f64 * 2.0 * rtt + 1.5 * rtt,
        round_rtt_ms: rtt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Timing {
        Timing {
            spec: ClusterSpec::seed(),
            table: RttTable::embedded(),
            lan_rtt_ms: 0.2,
            boot_delay_ms: 2000.0,
            time_scale: 1.0,
        }
    }

    #[test]
    fn fra_lhr_cut_floor_counts_one_and_a_half_fra_ord_rtts() {
        let t = seed();
        // FRANK1 FRANK2 CHIC1 CHIC2 survive.
        let f = after_fault(&t, &[0, 1, 3, 4]).unwrap();
        assert_eq!(f.round_rtt_ms, 97.58);
        assert_eq!(f.detection_ms, 2000.0);
        assert!((f.transition_ms - (2000.0 + 20000.0 + 1.5 * 97.58)).abs() < 1e-9);
        assert!((f.resumed_ms - f.transition_ms - 97.58).abs() < 1e-9);
        assert!((f.overhead_ms - (20000.0 + 146.37)).abs() < 1e-6);
        assert_eq!(
            t.slowest_pair(&[0, 1, 3, 4]).unwrap().map(|p| p.2),
            Some(97.58)
        );
    }

    #[test]
    fn the_best_coordinator_minimises_its_slowest_rtt() {
        let t = seed();
        // FRANK1, UK1, CHIC1: UK1 in the middle is 16/17 ms from FRA and 97 from ORD; FRANK1
        // is 97.58 from CHIC1; CHIC1 is 97.58 from FRANK1. UK1's worst (97) is the smallest.
        let (c, rtt) = t.best_coordinator(&[0, 2, 3]).unwrap();
        assert_eq!((c, rtt), (2, 97.0));
    }

    #[test]
    fn heal_floor_adds_join_delay_and_one_transition_per_joiner() {
        let t = seed();
        let healed = [(0, 3), (0, 4), (1, 3), (1, 4)];
        let one = after_heal(
            &t,
            &HealShape {
                members: &[0, 1, 2, 3, 4],
                joiners: &[3],
                exit_on_heal: false,
                healed: &healed,
            },
        )
        .unwrap();
        let two = after_heal(
            &t,
            &HealShape {
                members: &[0, 1, 2, 3, 4],
                joiners: &[3, 4],
                exit_on_heal: false,
                healed: &healed,
            },
        )
        .unwrap();
        assert!((two.transition_ms - one.transition_ms - 2.0 * one.round_rtt_ms).abs() < 1e-9);
        assert_eq!(one.detection_ms, 97.58);
        let exit = after_heal(
            &t,
            &HealShape {
                members: &[0, 1, 2, 3, 4],
                joiners: &[3],
                exit_on_heal: true,
                healed: &healed,
            },
        )
        .unwrap();
        assert!((exit.transition_ms - one.transition_ms - (2000.0 + 1.5 * 97.58)).abs() < 1e-9);
    }
}
