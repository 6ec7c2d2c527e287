//! `vmsc explore`: serve Stateright's Explorer on the checked model.

use crate::args::{heal_of, CheckerArgs, LimitArgs, ModelArgs, ProgressArgs, RebootArg};
use crate::check::Verdict;
use anyhow::{bail, Context, Result};
use clap::Args;
use stateright::Model;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use vmsc_model::cluster_model::{ClusterModel, Fault};
use vmsc_model::explore;
use vmsc_model::whatif;

/// Arguments of `vmsc explore`.
#[derive(Args, Debug)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Address for the Explorer's web server, on this machine; port 0 picks a free port (the URL
    /// printed names it).
    #[arg(long, default_value = crate::check::DEFAULT_EXPLORER_ADDR)]
    pub addr: String,
    /// Faults that hit the formed cluster together, as in `vmsc whatif` (`link:A-B`, `node:NAME`). Without any, the model of `vmsc check` with `--max-faults` is served.
    #[arg(long = "fail")]
    pub fail: Vec<String>,
    /// With no `--fail`: most faults (links and nodes) at any moments, as in `vmsc check`.
    #[arg(long, default_value_t = 1)]
    pub max_faults: usize,
    /// Heal: as `vmsc whatif --heal` with `--fail`, as `vmsc check --heal` without.
    #[arg(long)]
    pub heal: bool,
    /// With `--heal` and `--fail`: when a node that took a CLUEXIT reboots, as in `vmsc whatif`.
    #[arg(long, value_enum, default_value = "settled", requires = "heal")]
    pub reboot: RebootArg,
    /// An encoded path (`0/3/1`, as `vmsc check` prints) to print a deep link to.
    #[arg(long)]
    pub path: Option<String>,
    #[command(flatten)]
    pub search: CheckerArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

/// `vmsc explore --help`'s examples.
pub const EXPLORE_EXAMPLES: &str = "\
Examples:
  vmsc explore                                # the seed topology, up to 1 fault, on port 3000
  vmsc explore specs/scenarios/three-regions.toml --max-faults 1 --variant no-timing-assumption --path 0/0/0/0/0/0/0
  vmsc explore --fail link:FRA-LHR --addr 127.0.0.1:0
  vmsc explore specs/scenarios/three-regions.toml --max-faults 2 --variant half-quorum --checker reduced";

/// `vmsc explore`: binds the address, optionally runs `--checker`, prints the URL (and the deep
/// links), then serves until killed.
pub fn run(a: ExploreArgs) -> Result<ExitCode> {
    let spec = a.model.spec()?;
    vmsc_model::nodeset::set_display_names(
        spec.nodes
            .iter()
            .map(|n| n.name.clone())
            .chain(["QDISK".to_string()])
            .collect(),
    );
    let model = if a.fail.is_empty() {
        whatif::check_model(spec.clone(), a.max_faults, a.heal, a.model.variant.into())
    } else {
        let faults = a
            .fail
            .iter()
            .map(|f| Fault::parse(&spec, f))
            .collect::<Result<Vec<_>, _>>()
            .context("bad fault")?;
        let heal = heal_of(a.heal, a.reboot);
        whatif::whatif_model(spec.clone(), faults, heal, a.model.variant.into())
    };
    let model = a.model.with_dlm(model);
    if let Some(p) = &a.path {
        check_path(&model, p)?;
    }
    // Held while the search runs, so that the port stays ours until Stateright's server binds
    // it again.
    let listener = bind(&a.addr)?;
    let addr = listener.local_addr()?;
    let found = match a.search.checker {
        None => Vec::new(),
        Some(_) => discoveries(&a, &model, addr),
    };
    drop(listener);
    let server = std::thread::spawn(move || model.checker().threads(2).serve(addr));
    wait_until_serving(&a.addr, addr, &server)?;
    println!(
        "vmsc explore: Stateright Explorer for cluster {} at http://{addr}/",
        spec.name
    );
    if let Some(p) = &a.path {
        println!("counterexample: http://{addr}/#/steps/{p}");
    }
    for line in found {
        println!("{line}");
    }
    println!("(Ctrl-C to stop)");
    if server.join().is_err() {
        bail!("the Explorer's web server at {addr} stopped");
    }
    Ok(ExitCode::SUCCESS)
}

/// How long `explore` waits for Stateright's server to accept connections.
const SERVE_WAIT: Duration = Duration::from_secs(10);

/// Waits until the server thread accepts connections on `addr` (then the URL can be printed),
/// or fails if the thread ended first (Stateright's `serve` panics when it cannot bind: the port
/// was taken since [`bind`] checked it) or [`SERVE_WAIT`] passed.
fn wait_until_serving<T>(flag: &str, addr: SocketAddr, server: &JoinHandle<T>) -> Result<()> {
    let mut probe = addr;
    if probe.ip().is_unspecified() {
        probe.set_ip(match addr {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    let deadline = Instant::now() + SERVE_WAIT;
    loop {
        if server.is_finished() {
            bail!("--addr {flag:?}: cannot listen there: the port was taken meanwhile");
        }
        if TcpStream::connect_timeout(&probe, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("--addr {flag:?}: the Explorer's server does not answer on {addr}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Refuses a `--path` that is not `0/i/j/...` or does not replay on `model`.
fn check_path(model: &ClusterModel, p: &str) -> Result<()> {
    let mut parts = p.split('/');
    if parts.next() != Some("0") {
        bail!("--path {p:?}: expected 0/i/j/... (the initial state 0, then action indices, as `vmsc check` prints)");
    }
    let indices: Vec<usize> = parts
        .map(|x| x.parse())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--path {p:?}: expected 0/i/j/... (action indices)"))?;
    if explore::replay(model, &indices).is_none() {
        bail!("--path {p:?} does not name a path of this model (check the cluster file, faults and variant)");
    }
    Ok(())
}

/// The search `--checker` asks for, as `vmsc check` runs it, and a line for each property:
/// its verdict and, where the search found a counterexample or an example, its deep link.
fn discoveries(a: &ExploreArgs, model: &ClusterModel, addr: SocketAddr) -> Vec<String> {
    let progress = a.progress.reporter();
    let report = crate::check::search(model, &a.search, &a.limits, &progress, "vmsc explore");
    let mut lines = vec![format!(
        "search ({}): {}, {}",
        vmsc_model::checker::Checker::from(a.search.checker()).name(),
        crate::check::count(report.states, "unique state", "unique states"),
        if report.complete {
            "complete".to_string()
        } else {
            format!(
                "INCOMPLETE ({})",
                crate::check::stopped_by(&report, &a.limits)
            )
        }
    )];
    for r in &report.properties {
        let mut line = format!(
            "  {}",
            Verdict::of(r, report.complete).line(r, report.states)
        );
        if let Some(p) = &r.path {
            line += &format!(": http://{addr}/#/steps/{}", explore::encode(p));
        }
        lines.push(line);
    }
    lines
}

/// Binds the Explorer's address, or says why not (a port in use, an address not on this
/// machine). Stateright's `serve` binds again by itself (and panics if it cannot), so the caller
/// holds this listener until just before `serve`, then waits for the server to answer
/// ([`wait_until_serving`]); for port 0 it names the free port to serve on.
fn bind(addr: &str) -> Result<TcpListener> {
    let resolved = addr
        .to_socket_addrs()
        .with_context(|| format!("--addr {addr:?}: not a socket address"))?
        .next()
        .with_context(|| format!("--addr {addr:?}: resolves to no address"))?;
    TcpListener::bind(resolved).with_context(|| format!("--addr {addr:?}: cannot listen there"))
}
