//! The inter-region RTT table.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::csv::{self, FieldCtx, Record};
use crate::error::{FieldProblem, LatencyError};
use crate::regions::{fibre_bound_ms, Regions};

/// The header an RTT file must have.
pub const RTT_HEADER: &str = "from,to,rtt_ms,source";
const RTT_COLUMNS: [&str; 4] = ["from", "to", "rtt_ms", "source"];

/// The shipped `latency/data/rtt_ms.csv`, embedded at build time.
pub const EMBEDDED_RTT_CSV: &str = include_str!("../data/rtt_ms.csv");

/// Name used in error messages for [`EMBEDDED_RTT_CSV`].
pub const EMBEDDED_RTT_NAME: &str = "latency/data/rtt_ms.csv";

/// One RTT figure.
///
/// As stored in an [`RttTable`] it is one row of the file (`reversed` is
/// false). As returned by [`RttTable::rtt_ms`] it answers the question asked:
/// `from` and `to` are the requested direction, and `reversed` says whether the
/// figure was taken from the row for the opposite direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RttEntry {
    /// Region key the round trip starts from.
    pub from: String,
    /// Region key at the far end.
    pub to: String,
    /// Round-trip time in ms.
    pub rtt_ms: f64,
    /// Provenance of the figure, verbatim from the file (e.g. `seed:000`).
    pub source: String,
    /// 1-based line of the row in the file the figure comes from.
    pub line: usize,
    /// True when the figure is the row for `to -> from`, used because the file
    /// has no row for `from -> to`.
    pub reversed: bool,
}

/// Round-trip times between regions, read from a `from,to,rtt_ms,source` CSV.
///
/// Rows are kept in file order. When several rows give the same direction the
/// **first one wins**, so the file's order expresses trust. A lookup uses the
/// exact direction if present and otherwise the reverse direction (RTT is a
/// round trip, so either end's reading describes the same path). Same-region
/// pairs are never in the table: the runtime models them with a configurable
/// LAN latency (see [`RttTable::rtt_ms_or_lan`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RttTable {
    name: String,
    entries: Vec<RttEntry>,
    /// from -> to -> index of the first row for that direction.
    index: HashMap<String, HashMap<String, usize>>,
}

/// Parse one RTT data line.
fn parse_entry(file: &str, record: &Record<'_>) -> Result<RttEntry, LatencyError> {
    let ctx = FieldCtx {
        file,
        line: record.line,
    };
    let f = &record.fields;
    let from = ctx.key("from", &f[0])?;
    let to = ctx.key("to", &f[1])?;
    if from == to {
        return Err(ctx.error("to", FieldProblem::SameRegion(to)));
    }
    let rtt_ms = ctx.number("rtt_ms", &f[2])?;
    if rtt_ms < 0.0 {
        return Err(ctx.error("rtt_ms", FieldProblem::Negative(rtt_ms)));
    }
    let source = ctx.text("source", &f[3])?;
    Ok(RttEntry {
        from,
        to,
        rtt_ms,
        source,
        line: record.line,
        reversed: false,
    })
}

/// Parse RTT rows and keep each one's raw line (used by the curation step,
/// which copies lines verbatim).
pub(crate) fn parse_rows<'a>(
    file: &str,
    text: &'a str,
) -> Result<Vec<(RttEntry, &'a str)>, LatencyError> {
    csv::records(file, text, RTT_HEADER, &RTT_COLUMNS)?
        .iter()
        .map(|record| Ok((parse_entry(file, record)?, record.raw)))
        .collect()
}

impl RttTable {
    /// Parse an RTT CSV. `name_for_errors` is the file name shown in errors.
    ///
    /// The header must be exactly `from,to,rtt_ms,source`. `from` and `to` must
    /// be non-empty keys without whitespace and must differ; `rtt_ms` must be a
    /// finite number `>= 0`; `source` must be non-empty. Keys are not checked
    /// against any region list here: that is [`RttTable::validate`]'s job.
    pub fn parse(name_for_errors: &str, text: &str) -> Result<RttTable, LatencyError> {
        let entries: Vec<RttEntry> = parse_rows(name_for_errors, text)?
            .into_iter()
            .map(|(entry, _)| entry)
            .collect();
        let mut index: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for (i, entry) in entries.iter().enumerate() {
            index
                .entry(entry.from.clone())
                .or_default()
                .entry(entry.to.clone())
                .or_insert(i); // first row for a direction wins
        }
        Ok(RttTable {
            name: name_for_errors.to_string(),
            entries,
            index,
        })
    }

    /// Read and parse an RTT CSV file; errors name the path.
    pub fn load(path: impl AsRef<Path>) -> Result<RttTable, LatencyError> {
        let path = path.as_ref();
        let text = csv::read(path)?;
        RttTable::parse(&path.display().to_string(), &text)
    }

    /// The table shipped in `latency/data/rtt_ms.csv`: the most trusted public
    /// figure for each region pair (see `latency/data/SOURCES.md`).
    pub fn embedded() -> RttTable {
        // The embedded file is fixed at build time and the test
        // `embedded_tables_parse_and_validate` proves it parses, so this
        // cannot fail at run time.
        RttTable::parse(EMBEDDED_RTT_NAME, EMBEDDED_RTT_CSV)
            .expect("embedded rtt_ms.csv parses (checked by tests)")
    }

    /// The file name used in error messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// All rows in file order, including rows shadowed by an earlier row for
    /// the same direction.
    pub fn entries(&self) -> &[RttEntry] {
        &self.entries
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The row used for exactly `from -> to`, if any (no reverse fallback).
    fn direct(&self, from: &str, to: &str) -> Option<&RttEntry> {
        self.index
            .get(from)
            .and_then(|row| row.get(to))
            .map(|&i| &self.entries[i])
    }

    /// The row that answers `from -> to`: the exact direction, else the
    /// reverse. The bool is true for the reverse.
    fn find(&self, from: &str, to: &str) -> Option<(&RttEntry, bool)> {
        self.direct(from, to)
            .map(|e| (e, false))
            .or_else(|| self.direct(to, from).map(|e| (e, true)))
    }

    /// The RTT from `from` to `to`.
    ///
    /// Uses the first row for exactly `from -> to`; if there is none, the first
    /// row for `to -> from` (then the answer has `reversed == true`). The
    /// returned entry's `from`/`to` are the requested ones.
    ///
    /// # Errors
    /// * [`LatencyError::SameRegion`] if `from == to`: same-region pairs are not
    ///   in the table by design; the runtime uses its LAN latency for them.
    /// * [`LatencyError::NoRtt`] if neither direction is in the table
    ///   (including when a key is unknown).
    pub fn rtt_ms(&self, from: &str, to: &str) -> Result<RttEntry, LatencyError> {
        if from == to {
            return Err(LatencyError::SameRegion {
                key: from.to_string(),
            });
        }
        let (entry, reversed) = self.find(from, to).ok_or_else(|| LatencyError::NoRtt {
            file: self.name.clone(),
            from: from.to_string(),
            to: to.to_string(),
        })?;
        Ok(RttEntry {
            from: from.to_string(),
            to: to.to_string(),
            rtt_ms: entry.rtt_ms,
            source: entry.source.clone(),
            line: entry.line,
            reversed,
        })
    }

    /// The RTT in ms for `from -> to`, or `lan_rtt_ms` when both are the same
    /// region. Does not allocate on success.
    ///
    /// # Errors
    /// [`LatencyError::NoRtt`] if the regions differ and neither direction is
    /// in the table.
    pub fn rtt_ms_or_lan(
        &self,
        from: &str,
        to: &str,
        lan_rtt_ms: f64,
    ) -> Result<f64, LatencyError> {
        if from == to {
            return Ok(lan_rtt_ms);
        }
        match self.find(from, to) {
            Some((entry, _)) => Ok(entry.rtt_ms),
            None => Err(LatencyError::NoRtt {
                file: self.name.clone(),
                from: from.to_string(),
                to: to.to_string(),
            }),
        }
    }

    /// Check every row against `regions`, in file order, stopping at the first
    /// problem.
    ///
    /// # Errors
    /// * [`LatencyError::UnknownRegion`] if `from` or `to` is not a key of
    ///   `regions` (names the file, line, field and key).
    /// * [`LatencyError::BelowFibreBound`] if a row's RTT is below
    ///   [`fibre_bound_ms`] for its pair (names the line, pair, value and bound).
    pub fn validate(&self, regions: &Regions) -> Result<(), LatencyError> {
        for entry in &self.entries {
            let unknown = |field: &'static str, key: &str| LatencyError::UnknownRegion {
                file: self.name.clone(),
                line: entry.line,
                field,
                key: key.to_string(),
            };
            let a = regions
                .get(&entry.from)
                .ok_or_else(|| unknown("from", &entry.from))?;
            let b = regions
                .get(&entry.to)
                .ok_or_else(|| unknown("to", &entry.to))?;
            let bound_ms = fibre_bound_ms(a, b);
            if entry.rtt_ms < bound_ms {
                return Err(LatencyError::BelowFibreBound {
                    file: self.name.clone(),
                    line: entry.line,
                    from: entry.from.clone(),
                    to: entry.to.clone(),
                    rtt_ms: entry.rtt_ms,
                    bound_ms,
                });
            }
        }
        Ok(())
    }
}
