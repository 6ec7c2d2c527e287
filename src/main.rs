//! `vmsc`: check, question and run an OpenVMS-style cluster specified as Stateright actors.

/// The checkers allocate and free a state per step; mimalloc does that faster than glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod args;
mod check;
mod experiment;
mod experiment_cmd;
mod explore_cmd;
mod load;
mod lock_cmd;
mod node_cmd;
mod plan;
mod run_cmd;
mod runtime_args;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// vmsc — an OpenVMS-style cluster as model-checked Stateright actors.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check every property under every combination of up to N faults (links and nodes).
    #[command(after_help = check::CHECK_EXAMPLES)]
    Check(check::CheckArgs),
    /// Explore what the given faults do to the formed cluster and list the settled outcomes.
    #[command(after_help = check::WHATIF_EXAMPLES)]
    Whatif(check::WhatifArgs),
    /// Serve Stateright's Explorer on the model (counterexamples, sequence diagrams).
    #[command(after_help = explore_cmd::EXPLORE_EXAMPLES)]
    Explore(explore_cmd::ExploreArgs),
    /// Survivability matrix: the outcome of every combination of up to N faults.
    #[command(after_help = plan::PLAN_EXAMPLES)]
    Plan(plan::PlanArgs),
    /// Run one cluster node as this process, over UDP, with a local control endpoint.
    Node(node_cmd::NodeArgs),
    /// Run every node of a cluster as its own process on loopback and drive a scenario.
    Run(run_cmd::RunArgs),
    /// Send one lock request (enq, convert, deq, bast, locks) to a running node.
    Lock(lock_cmd::LockArgs),
    /// Run a cluster through a scenario N times and measure its transitions against the
    /// predicted floor (table, JSON, SVG plot).
    Experiment(experiment_cmd::ExperimentArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(a) => check::run_check(a),
        Command::Whatif(a) => check::run_whatif(a),
        Command::Plan(a) => plan::run(a),
        Command::Explore(a) => explore_cmd::run(a),
        Command::Node(a) => node_cmd::run(a),
        Command::Run(a) => run_cmd::run(a),
        Command::Lock(a) => lock_cmd::run(a),
        Command::Experiment(a) => experiment_cmd::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vmsc: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command of every Examples section parses as written (the words up to a `#`
    /// comment or a redirection).
    #[test]
    fn every_example_parses() {
        let sections = [
            check::CHECK_EXAMPLES,
            check::WHATIF_EXAMPLES,
            plan::PLAN_EXAMPLES,
            explore_cmd::EXPLORE_EXAMPLES,
        ];
        let mut n = 0;
        for line in sections.iter().flat_map(|s| s.lines()) {
            let Some(cmd) = line.trim().strip_prefix("vmsc ") else {
                continue;
            };
            let words: Vec<&str> = std::iter::once("vmsc")
                .chain(
                    cmd.split_whitespace()
                        .take_while(|w| !w.starts_with('#') && !w.contains('>')),
                )
                .collect();
            if let Err(e) = Cli::try_parse_from(&words) {
                panic!("{line}: {e}");
            }
            n += 1;
        }
        assert_eq!(n, 19);
    }
}
