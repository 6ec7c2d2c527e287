//! Building the shipped RTT table from the collected sources.
//!
//! `shared/data/rtt_ms.csv` holds every figure found, several per pair. The
//! project ships one choice per region pair, made by [`curate_rtt_csv`]:
//!
//! 1. Each row gets a [`TrustTier`] from its `source` (and, for Azure, from
//!    whether its regions are same-metro stand-ins for the OCI regions).
//! 2. For each **unordered** pair `{A, B}` the most trusted tier present among
//!    the rows `A->B` and `B->A` is chosen, and only that tier's rows are kept:
//!    both directions if it gives both, otherwise the one it gives (a lookup of
//!    the other direction then falls back to it, see
//!    [`RttTable::rtt_ms`](crate::RttTable::rtt_ms)). So a real OCI reading for
//!    `FRA->ORD` also answers `ORD->FRA` rather than an Azure proxy doing so.
//! 3. Within the chosen tier, only the first row per direction is kept.
//! 4. `seed:000` rows come first, then the rest, each in input order; lines are
//!    copied verbatim (so `96.10` keeps its trailing zero).
//!
//! `examples/build_table.rs` runs this on the shared file and rewrites
//! `latency/data/rtt_ms.csv`; a test checks the shipped file still matches.

use std::collections::{HashMap, HashSet};

use crate::error::LatencyError;
use crate::rtt::{parse_rows, RTT_HEADER};

/// Region keys whose Azure stand-in is only a rough proxy ("≈"): the Azure
/// region is in another city or at an undisclosed site.
///
/// ARN → Sweden Central (Gävle, ~150 km), BOM → Central India (Pune, ~120 km),
/// MTZ → Israel Central (site undisclosed), IAD → East US (Virginia, not
/// Ashburn). An Azure 2026 row touching one of these counts as
/// [`TrustTier::AzureProxy`].
pub const AZURE_PROXY_KEYS: [&str; 4] = ["ARN", "BOM", "MTZ", "IAD"];

/// How much a figure is trusted, most trusted first (the derived `Ord` follows
/// declaration order, so a smaller tier is more trusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrustTier {
    /// `seed:000`: real OCI console readings from the 2025 VSI talk.
    Seed,
    /// `oci-console-demo:…`: single OCI console readings in course notes.
    OciConsoleDemo,
    /// `azure-p50-2026-07-30:…` between two same-metro Azure stand-ins.
    AzureSameMetro,
    /// `ibm-cloud-vpc-avg-…`: IBM Cloud VPC 30-day averages.
    IbmCloud,
    /// `azure-p50-2025-06-29:…`: the older Azure snapshot (only `X -> BOM`
    /// via West India, Mumbai).
    Azure2025,
    /// `azure-p50-2026-07-30:…` touching an [`AZURE_PROXY_KEYS`] region.
    AzureProxy,
}

impl TrustTier {
    /// The tier of a row, or `None` if `source` matches no known source.
    pub fn classify(from: &str, to: &str, source: &str) -> Option<TrustTier> {
        let is_proxy = |key: &str| AZURE_PROXY_KEYS.contains(&key);
        if source == "seed:000" {
            Some(TrustTier::Seed)
        } else if source.starts_with("oci-console-demo:") {
            Some(TrustTier::OciConsoleDemo)
        } else if source.starts_with("azure-p50-2026-07-30:") {
            if is_proxy(from) || is_proxy(to) {
                Some(TrustTier::AzureProxy)
            } else {
                Some(TrustTier::AzureSameMetro)
            }
        } else if source.starts_with("ibm-cloud-vpc-avg-") {
            Some(TrustTier::IbmCloud)
        } else if source.starts_with("azure-p50-2025-06-29:") {
            Some(TrustTier::Azure2025)
        } else {
            None
        }
    }
}

/// The unordered pair of a row, as (smaller key, larger key).
fn pair_of<'k>(from: &'k str, to: &'k str) -> (&'k str, &'k str) {
    if from <= to {
        (from, to)
    } else {
        (to, from)
    }
}

/// Reduce a full `from,to,rtt_ms,source` CSV (all collected figures) to the
/// table the project ships, following the rules in the [module docs](self).
/// Returns the new CSV text, header included, `\n` line ends.
///
/// # Errors
/// Any parse error of [`RttTable::parse`](crate::RttTable::parse), and
/// [`LatencyError::UnknownSource`] for a row whose source has no tier.
pub fn curate_rtt_csv(name_for_errors: &str, text: &str) -> Result<String, LatencyError> {
    let rows = parse_rows(name_for_errors, text)?;
    let mut tiers = Vec::with_capacity(rows.len());
    let mut best: HashMap<(&str, &str), TrustTier> = HashMap::new();
    for (entry, _) in &rows {
        let tier = TrustTier::classify(&entry.from, &entry.to, &entry.source).ok_or_else(|| {
            LatencyError::UnknownSource {
                file: name_for_errors.to_string(),
                line: entry.line,
                source_text: entry.source.clone(),
            }
        })?;
        tiers.push(tier);
        let slot = best.entry(pair_of(&entry.from, &entry.to)).or_insert(tier);
        *slot = (*slot).min(tier);
    }

    let mut seen_directions: HashSet<(&str, &str)> = HashSet::new();
    let mut seed_lines = Vec::new();
    let mut other_lines = Vec::new();
    for ((entry, raw), tier) in rows.iter().zip(&tiers) {
        if best.get(&pair_of(&entry.from, &entry.to)) != Some(tier) {
            continue;
        }
        if !seen_directions.insert((entry.from.as_str(), entry.to.as_str())) {
            continue;
        }
        if *tier == TrustTier::Seed {
            seed_lines.push(*raw);
        } else {
            other_lines.push(*raw);
        }
    }

    let mut out = String::with_capacity(text.len());
    out.push_str(RTT_HEADER);
    out.push('\n');
    for line in seed_lines.into_iter().chain(other_lines) {
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_ordered_by_trust() {
        assert!(TrustTier::Seed < TrustTier::OciConsoleDemo);
        assert!(TrustTier::OciConsoleDemo < TrustTier::AzureSameMetro);
        assert!(TrustTier::AzureSameMetro < TrustTier::IbmCloud);
        assert!(TrustTier::IbmCloud < TrustTier::Azure2025);
        assert!(TrustTier::Azure2025 < TrustTier::AzureProxy);
    }

    #[test]
    fn classify_sources() {
        use TrustTier::*;
        let c = TrustTier::classify;
        assert_eq!(c("FRA", "ORD", "seed:000"), Some(Seed));
        assert_eq!(c("FRA", "IAD", "oci-console-demo:x"), Some(OciConsoleDemo));
        assert_eq!(
            c("FRA", "LHR", "azure-p50-2026-07-30:a->b"),
            Some(AzureSameMetro)
        );
        assert_eq!(
            c("FRA", "BOM", "azure-p50-2026-07-30:a->b"),
            Some(AzureProxy)
        );
        assert_eq!(
            c("ARN", "FRA", "azure-p50-2026-07-30:a->b"),
            Some(AzureProxy)
        );
        assert_eq!(
            c("FRA", "LHR", "ibm-cloud-vpc-avg-2026-02-08:a->b"),
            Some(IbmCloud)
        );
        assert_eq!(
            c("FRA", "BOM", "azure-p50-2025-06-29:a->b"),
            Some(Azure2025)
        );
        assert_eq!(c("FRA", "LHR", "wondernetwork"), None);
    }

    #[test]
    fn keeps_best_tier_per_unordered_pair() {
        let input = "from,to,rtt_ms,source\n\
            FRA,LHR,16,azure-p50-2026-07-30:g->u\n\
            LHR,FRA,17,azure-p50-2026-07-30:u->g\n\
            FRA,LHR,13,ibm-cloud-vpc-avg-2026-02-08:f->l\n\
            ORD,FRA,110,azure-p50-2026-07-30:n->g\n\
            FRA,ORD,97.58,seed:000\n\
            FRA,ORD,99,seed:000\n";
        let out = curate_rtt_csv("in.csv", input).unwrap();
        assert_eq!(
            out,
            "from,to,rtt_ms,source\n\
             FRA,ORD,97.58,seed:000\n\
             FRA,LHR,16,azure-p50-2026-07-30:g->u\n\
             LHR,FRA,17,azure-p50-2026-07-30:u->g\n"
        );
    }

    #[test]
    fn unknown_source_is_an_error() {
        let err = curate_rtt_csv("in.csv", "from,to,rtt_ms,source\nFRA,LHR,9,guess\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"in.csv:2: field source: "guess" matches no source in the trust order"#
        );
    }
}
