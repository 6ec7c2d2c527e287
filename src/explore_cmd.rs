//! `vmsc explore`: serve Stateright's Explorer on the checked model.

use crate::check::{load_spec, DlmVariantArg, VariantArg};
use anyhow::{Context, Result};
use clap::Args;
use stateright::Model;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use vmsc_model::cluster_model::Fault;
use vmsc_model::whatif;

/// Arguments of `vmsc explore`.
#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// The cluster file (TOML). Default: the embedded seed topology.
    pub cluster: Option<PathBuf>,
    /// Address for the Explorer's web server; port 0 picks a free port (the URL printed names
    /// it).
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
    pub reboot: crate::check::RebootArg,
    /// Protocol variant (negative controls).
    #[arg(long, value_enum, default_value = "correct")]
    pub variant: VariantArg,
    /// Lock-manager variant (DLM negative controls).
    #[arg(long, value_enum, default_value = "correct")]
    pub dlm_variant: DlmVariantArg,
    /// An encoded path (`0/3/1`, as `vmsc check` prints) to print a deep link to.
    #[arg(long)]
    pub path: Option<String>,
}

/// `vmsc explore`: prints the URL (and the deep link), then serves until killed.
pub fn run(a: ExploreArgs) -> Result<ExitCode> {
    let spec = load_spec(&a.cluster)?;
    vmsc_model::nodeset::set_display_names(
        spec.nodes
            .iter()
            .map(|n| n.name.clone())
            .chain(["QDISK".to_string()])
            .collect(),
    );
    let model = if a.fail.is_empty() {
        whatif::check_model(spec.clone(), a.max_faults, a.heal, a.variant.into())
    } else {
        let faults = a
            .fail
            .iter()
            .map(|f| Fault::parse(&spec, f))
            .collect::<Result<Vec<_>, _>>()
            .context("bad fault")?;
        let heal = crate::check::heal_of(a.heal, a.reboot);
        whatif::whatif_model(spec.clone(), faults, heal, a.variant.into())
    };
    let model = if a.dlm_variant == DlmVariantArg::Correct {
        model
    } else {
        let mut cfg = model.cfg.clone();
        cfg.protocol.dlm = a.dlm_variant.into();
        vmsc_model::cluster_model::ClusterModel::new(spec.clone(), cfg)
    };
    if let Some(p) = &a.path {
        let indices: Vec<usize> = p
            .split('/')
            .skip(1)
            .map(|x| x.parse())
            .collect::<Result<_, _>>()
            .with_context(|| format!("--path {p:?}: expected 0/i/j/..."))?;
        if vmsc_model::explore::replay(&model, &indices).is_none() {
            anyhow::bail!("--path {p:?} does not name a path of this model (check the cluster file, faults and variant)");
        }
    }
    let addr = resolve_addr(&a.addr)?;
    println!(
        "vmsc explore: Stateright Explorer for cluster {} at http://{addr}/",
        spec.name
    );
    if let Some(p) = &a.path {
        println!("counterexample: http://{addr}/#/steps/{p}");
    }
    println!("(Ctrl-C to stop)");
    model.checker().threads(2).serve(addr);
    Ok(ExitCode::SUCCESS)
}

/// The address to serve on. Stateright's `serve` binds by itself and does not say which port
/// it got, so for port 0 this binds a listener to learn a free port, closes it, and returns
/// that port (another process could take it in between; `serve` then fails loudly).
fn resolve_addr(addr: &str) -> Result<SocketAddr> {
    let resolved = addr
        .to_socket_addrs()
        .with_context(|| format!("--addr {addr:?}: not a socket address"))?
        .next()
        .with_context(|| format!("--addr {addr:?}: resolves to no address"))?;
    if resolved.port() != 0 {
        return Ok(resolved);
    }
    let listener =
        TcpListener::bind(resolved).with_context(|| format!("--addr {addr:?}: cannot bind"))?;
    Ok(listener.local_addr()?)
}
