//! `vmsc`: check, question and run an OpenVMS-style cluster specified as Stateright actors.

mod check;
mod explore_cmd;
mod plan;

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
    Check(check::CheckArgs),
    /// Explore what the given faults do to the formed cluster and list the settled outcomes.
    Whatif(check::WhatifArgs),
    /// Serve Stateright's Explorer on the model (counterexamples, sequence diagrams).
    Explore(explore_cmd::ExploreArgs),
    /// Survivability matrix: the outcome of every combination of up to N faults.
    Plan(plan::PlanArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(a) => check::run_check(a),
        Command::Whatif(a) => check::run_whatif(a),
        Command::Explore(a) => explore_cmd::run(a),
        Command::Plan(a) => plan::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vmsc: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
