//! `vmsc lock`: one lock request to a running node's control endpoint (see
//! `vmsc_runtime::cluster::control`, "Lock requests").
//!
//! Prints the node's JSON response on one line. Exit status: 0 when the request did what it asked
//! (`normal` or `val_not_valid`; `bast`: a BAST arrived; `locks`: listed), 1 when the lock
//! manager answered otherwise (`not_queued`, `iv_lock_id`, ...; `bast`: none within the
//! timeout), 2 on bad arguments, an unreachable endpoint, a request the node refused to issue,
//! or no response within `--timeout-ms`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use vmsc_runtime::cluster::control::{ControlClient, Request};
use vmsc_runtime::cluster::process::NodeOptions;

use crate::runtime_args::BasePortArgs;

/// `vmsc lock --help`'s examples.
const EXAMPLES: &str =
    "Examples (a cluster to talk to: `vmsc run tests/data/runtime-locks.toml --serve`):
  vmsc lock --config tests/data/runtime-locks.toml --name ALPHA enq r1 EX VALBLK
  vmsc lock --config tests/data/runtime-locks.toml --name BRAVO enq r1 PR NOQUEUE
  vmsc lock --config tests/data/runtime-locks.toml --name ALPHA bast 0x40000001 5000
  vmsc lock --config tests/data/runtime-locks.toml --name ALPHA deq 0x40000001 value=cafe
  vmsc lock --control 127.0.0.1:7002 --timeout-ms 2000 locks
  # The README's walkthrough (\"Locks on a running cluster\") runs these in order.";

/// Arguments of `vmsc lock`.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct LockArgs {
    /// The node's control endpoint (`127.0.0.1:PORT`); instead of --config and --name.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["config", "name"])]
    pub control: Option<SocketAddr>,
    /// The cluster file, to find the node's control endpoint by --name.
    #[arg(long, value_name = "CLUSTER.toml", requires = "name")]
    pub config: Option<PathBuf>,
    /// The node's SCSNODE name in the cluster file.
    #[arg(long, requires = "config")]
    pub name: Option<String>,
    #[command(flatten)]
    pub ports: BasePortArgs,
    /// The node's control port, if `vmsc node` was given --control-port.
    #[arg(long, value_name = "N")]
    pub control_port: Option<u16>,
    /// Give up after this many ms without a response (exit 2); default: wait as long as the
    /// request waits (a queued `enq` waits until it is granted). A request the node
    /// acknowledged before the timeout stays queued at the node (the message says which, with
    /// its lock id); `vmsc lock ... locks` shows it.
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    #[command(subcommand)]
    pub request: LockCommand,
}

/// One lock request.
#[derive(Subcommand, Debug)]
pub enum LockCommand {
    /// $ENQ: a new lock; waits until it is granted (or refused).
    Enq {
        /// A resource of the cluster's lock table (`[locks] resources`).
        resource: String,
        /// NL, CR, CW, PR, PW or EX.
        mode: String,
        /// VALBLK, NOQUEUE, EXPEDITE, and value=HEX (1-16 bytes; implies VALBLK).
        #[arg(value_name = "FLAG")]
        flags: Vec<String>,
    },
    /// $ENQ CONVERT: convert a lock this node holds.
    Convert {
        /// The lock id (decimal, or hex with 0x).
        lock_id: String,
        /// NL, CR, CW, PR, PW or EX.
        mode: String,
        /// VALBLK, NOQUEUE, QUECVT, and value=HEX (written on a conversion down from PW/EX).
        #[arg(value_name = "FLAG")]
        flags: Vec<String>,
    },
    /// $DEQ: release a lock this node holds.
    Deq {
        /// The lock id (decimal, or hex with 0x).
        lock_id: String,
        /// VALBLK and value=HEX (written if the lock was held at PW or EX).
        #[arg(value_name = "FLAG")]
        flags: Vec<String>,
    },
    /// Wait for a blocking AST on a lock (true at once if one arrived since its last grant).
    Bast {
        /// The lock id (decimal, or hex with 0x).
        lock_id: String,
        /// How long to wait for it, in ms (0: answer at once).
        #[arg(default_value_t = 0)]
        timeout_ms: u64,
    },
    /// List the node's locks (id, resource, granted mode, request in flight, BAST flag, value).
    Locks,
}

impl LockCommand {
    /// The request line, as the endpoint reads it.
    fn line(&self) -> String {
        let join = |head: Vec<&str>, flags: &[String]| {
            head.into_iter()
                .chain(flags.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            Self::Enq {
                resource,
                mode,
                flags,
            } => join(vec!["enq", resource, mode], flags),
            Self::Convert {
                lock_id,
                mode,
                flags,
            } => join(vec!["convert", lock_id, mode], flags),
            Self::Deq { lock_id, flags } => join(vec!["deq", lock_id], flags),
            Self::Bast {
                lock_id,
                timeout_ms,
            } => format!("bast {lock_id} {timeout_ms}"),
            Self::Locks => "locks".to_string(),
        }
    }
}

fn control_address(a: &LockArgs) -> Result<SocketAddr> {
    if let Some(addr) = a.control {
        return Ok(addr);
    }
    let (Some(config), Some(name)) = (&a.config, &a.name) else {
        bail!("give --control ADDR, or --config CLUSTER.toml and --name NODE");
    };
    let spec = crate::load::cluster(config)?;
    let Some(me) = spec.node_index(name) else {
        bail!("--name: {name} is not a node of {}", config.display());
    };
    let mut control = NodeOptions::new(spec, me, Some(a.ports.base_port))
        .context("--base-port")?
        .control;
    if let Some(port) = a.control_port {
        control.set_port(port);
    }
    Ok(control)
}

/// What a request that got no response within `ms` left behind: only a request the node
/// acknowledged (`queued`) is known to stay queued there.
fn timed_out(addr: SocketAddr, ms: u64, client: &ControlClient, request: &LockCommand) -> String {
    let head = format!("no response from {addr} within {ms} ms");
    match (client.queued(), request) {
        (Some(lock), _) => format!(
            "{head}; the node queued the request (lock {:#x}) and it stays queued there \
             (`vmsc lock ... locks` lists it)",
            lock.0
        ),
        (None, LockCommand::Enq { .. } | LockCommand::Convert { .. } | LockCommand::Deq { .. }) => {
            format!(
                "{head}; the node did not acknowledge the request, so it may not have been issued"
            )
        }
        (None, _) => head,
    }
}

/// Runs `vmsc lock` (exit status: see the module doc).
pub fn run(a: LockArgs) -> Result<ExitCode> {
    let line = a.request.line();
    // Parse here too, so a bad request fails before connecting, with the endpoint's message.
    let request = Request::parse(&line).map_err(|e| anyhow!(e))?;
    let addr = control_address(&a)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let reply = runtime.block_on(async {
        let mut client = ControlClient::connect(addr).await?;
        let Some(ms) = a.timeout_ms else {
            return client.request(&request).await.map_err(anyhow::Error::from);
        };
        match tokio::time::timeout(Duration::from_millis(ms), client.request(&request)).await {
            Ok(reply) => reply.map_err(anyhow::Error::from),
            Err(_) => Err(anyhow!("{}", timed_out(addr, ms, &client, &a.request))),
        }
    })?;
    println!("{reply}");
    let done = match &a.request {
        LockCommand::Bast { .. } => reply["blocking"] == true,
        LockCommand::Locks => true,
        _ => reply["success"] == true,
    };
    Ok(if done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
