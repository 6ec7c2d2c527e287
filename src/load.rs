//! Loading a cluster file: one way for every command that reads one (`check`, `whatif`, `plan`,
//! `explore`, `node`, `run`, `experiment`, `lock`).
//!
//! The model validates the file itself ([`ClusterSpec::load`]); the load-time rules that need the
//! latency crate's data (which region keys exist, which pairs have an RTT) are applied here, the
//! one layer both the checker commands and the runtime commands go through, with the facts passed
//! in ([`ClusterSpec::check_load_rules`]): the model stays pure and independent of that data.
//! So a file that one command accepts, every command accepts, and each prints the same warnings.
//! The rules and their sources: `specs/config.md`.

use std::path::Path;

use vmsc_latency::{Regions, RttTable, EMBEDDED_REGIONS_NAME, EMBEDDED_RTT_NAME};
use vmsc_model::config::{ClusterSpec, ConfigError, KnownRegions, Warning};

/// Applies the load-time rules to `spec`, read from `file`: the shipped region list and RTT
/// table are the known facts (a `--rtt` table may add RTTs for `run`, but no region keys: the
/// keys are the regions with coordinates, as `experiment` already requires of an RTT table).
///
/// # Errors
///
/// [`ConfigError`] naming the field, the node and the known regions, for an unknown region.
pub fn check(file: &str, spec: &ClusterSpec) -> Result<Vec<Warning>, ConfigError> {
    let keys: Vec<String> = Regions::embedded().iter().map(|r| r.key.clone()).collect();
    let table = RttTable::embedded();
    let has_rtt = |a: &str, b: &str| table.rtt_ms(a, b).is_ok();
    let known = KnownRegions {
        source: EMBEDDED_REGIONS_NAME,
        keys: &keys,
        rtt_source: EMBEDDED_RTT_NAME,
        has_rtt: &has_rtt,
    };
    spec.check_load_rules(file, &known)
}

/// Reads and validates a cluster file and applies the load-time rules; the warnings are
/// returned, not printed.
///
/// # Errors
///
/// [`ConfigError`] naming the file and the field.
pub fn cluster_and_warnings(path: &Path) -> Result<(ClusterSpec, Vec<Warning>), ConfigError> {
    let spec = ClusterSpec::load(path)?;
    let warnings = check(&path.display().to_string(), &spec)?;
    Ok((spec, warnings))
}

/// [`cluster_and_warnings`], printing the warnings on stderr (the one place a command prints
/// them, once per run).
///
/// # Errors
///
/// [`ConfigError`] naming the file and the field.
pub fn cluster(path: &Path) -> Result<ClusterSpec, ConfigError> {
    let (spec, warnings) = cluster_and_warnings(path)?;
    print_warnings(&warnings);
    Ok(spec)
}

/// [`cluster`], or the embedded seed topology under the same rules.
///
/// # Errors
///
/// [`ConfigError`] naming the file and the field.
pub fn cluster_or_seed(path: Option<&Path>) -> Result<ClusterSpec, ConfigError> {
    let Some(path) = path else {
        let seed = ClusterSpec::seed();
        print_warnings(&check("<embedded seed.toml>", &seed)?);
        return Ok(seed);
    };
    cluster(path)
}

/// Prints each warning on stderr as `vmsc: warning: FILE: FIELD: ...`.
pub fn print_warnings(warnings: &[Warning]) {
    for w in warnings {
        eprintln!("vmsc: warning: {w}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_and_every_shipped_cluster_file_pass_without_warnings() {
        let seed = ClusterSpec::seed();
        assert_eq!(check("<embedded seed.toml>", &seed), Ok(vec![]));
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/scenarios");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("specs/scenarios") {
            let path = entry.expect("entry").path();
            let name = path.display().to_string();
            if !name.ends_with(".toml") || name.ends_with(".scenario.toml") {
                continue;
            }
            let (_, warnings) = cluster_and_warnings(&path).expect("a shipped file loads");
            assert_eq!(warnings, vec![], "{name}");
            checked += 1;
        }
        assert!(checked >= 10, "{checked} cluster files");
    }
}
