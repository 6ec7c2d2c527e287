//! Rebuild `latency/data/` from the collected sources in `shared/data/`.
//!
//! ```text
//! cargo run -p vmsc-latency --example build_table [-- SHARED_DATA_DIR [OUT_DIR]]
//! ```
//!
//! Defaults: `SHARED_DATA_DIR` = `<workspace>/../shared/data`, `OUT_DIR` =
//! `latency/data`. Writes `OUT_DIR/rtt_ms.csv` (the most trusted figures per
//! region pair, chosen by `vmsc_latency::curate::curate_rtt_csv`) and copies
//! `regions.csv` unchanged. The result is checked by validating it against the
//! regions and the fibre bound before anything is written.

use std::error::Error;
use std::path::{Path, PathBuf};

use vmsc_latency::curate::curate_rtt_csv;
use vmsc_latency::{Regions, RttTable};

fn main() -> Result<(), Box<dyn Error>> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args_os().skip(1);
    let shared_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir.join("../../shared/data"));
    let out_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir.join("data"));

    let rtt_in = shared_dir.join("rtt_ms.csv");
    let regions_in = shared_dir.join("regions.csv");
    let rtt_text = std::fs::read_to_string(&rtt_in)
        .map_err(|e| format!("{}: cannot read: {e}", rtt_in.display()))?;
    let regions_text = std::fs::read_to_string(&regions_in)
        .map_err(|e| format!("{}: cannot read: {e}", regions_in.display()))?;

    let curated = curate_rtt_csv(&rtt_in.display().to_string(), &rtt_text)?;
    let regions = Regions::parse(&regions_in.display().to_string(), &regions_text)?;
    let table = RttTable::parse("curated rtt_ms.csv", &curated)?;
    table.validate(&regions)?;

    let rtt_out = out_dir.join("rtt_ms.csv");
    let regions_out = out_dir.join("regions.csv");
    std::fs::write(&rtt_out, &curated)?;
    std::fs::write(&regions_out, &regions_text)?;
    println!(
        "wrote {} ({} rows from {} input rows) and {} ({} regions)",
        rtt_out.display(),
        table.len(),
        rtt_text.lines().count().saturating_sub(1),
        regions_out.display(),
        regions.len()
    );
    Ok(())
}
