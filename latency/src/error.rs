//! The crate's error type.

use std::path::PathBuf;

use thiserror::Error;

/// What is wrong with one CSV field. Carried by [`LatencyError::BadField`],
/// which adds the file, line and field name.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum FieldProblem {
    /// The field is empty (or only whitespace).
    #[error("value is empty")]
    Empty,
    /// The field should hold a number but does not parse as one.
    #[error("{0:?} is not a number")]
    NotANumber(String),
    /// The field parses as a number but is NaN or infinite.
    #[error("{0:?} is not a finite number")]
    NotFinite(String),
    /// The field holds a negative number where only `>= 0` makes sense.
    #[error("{0} is negative")]
    Negative(f64),
    /// The number lies outside the allowed closed range.
    #[error("{value} is outside {min}..={max}")]
    OutOfRange {
        /// The value found.
        value: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// A region key contains whitespace.
    #[error("region key {0:?} contains whitespace")]
    BadKey(String),
    /// An RTT row names the same region in `from` and `to`. Same-region
    /// latency is the runtime's configurable LAN latency, not a table row.
    #[error("{0:?} is also the `from` region; same-region pairs do not belong in the RTT table")]
    SameRegion(String),
}

/// Every error this crate returns.
///
/// Errors about file contents name the file (the `name_for_errors` given to
/// `parse`, or the path given to `load`) and the 1-based line, formatted like
/// a compiler diagnostic: `rtt_ms.csv:17: field rtt_ms: "abc" is not a number`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LatencyError {
    /// A file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The path that was opened.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The text has no lines at all, so not even a header.
    #[error("{file}: file is empty; expected the header {expected:?}")]
    MissingHeader {
        /// File name used in messages.
        file: String,
        /// The header that was expected.
        expected: &'static str,
    },
    /// The first non-blank line is not the expected header.
    #[error("{file}:{line}: header is {found:?}, expected {expected:?}")]
    BadHeader {
        /// File name used in messages.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The header line as found.
        found: String,
        /// The header that was expected.
        expected: &'static str,
    },
    /// A data line has the wrong number of comma-separated fields.
    #[error("{file}:{line}: expected {expected} fields ({header}), found {found}")]
    FieldCount {
        /// File name used in messages.
        file: String,
        /// 1-based line number.
        line: usize,
        /// Number of fields the header defines.
        expected: usize,
        /// Number of fields on the line.
        found: usize,
        /// The header, to show which fields are meant.
        header: &'static str,
    },
    /// A double-quoted field is not closed before the end of the line.
    #[error("{file}:{line}: unterminated double-quoted field")]
    UnterminatedQuote {
        /// File name used in messages.
        file: String,
        /// 1-based line number.
        line: usize,
    },
    /// One field of a data line is malformed.
    #[error("{file}:{line}: field {field}: {problem}")]
    BadField {
        /// File name used in messages.
        file: String,
        /// 1-based line number.
        line: usize,
        /// Column name from the header, e.g. `rtt_ms`.
        field: &'static str,
        /// What is wrong.
        problem: FieldProblem,
    },
    /// A region key is defined twice in a regions file.
    #[error("{file}:{line}: field key: region {key:?} is already defined on line {first_line}")]
    DuplicateRegion {
        /// File name used in messages.
        file: String,
        /// 1-based line of the second definition.
        line: usize,
        /// The duplicated key.
        key: String,
        /// 1-based line of the first definition.
        first_line: usize,
    },
    /// An RTT row names a region key that the regions file does not define
    /// (reported by [`RttTable::validate`](crate::RttTable::validate)).
    #[error("{file}:{line}: field {field}: unknown region key {key:?}")]
    UnknownRegion {
        /// File name of the RTT table.
        file: String,
        /// 1-based line of the row.
        line: usize,
        /// `from` or `to`.
        field: &'static str,
        /// The unknown key.
        key: String,
    },
    /// An RTT row is faster than light in fibre allows
    /// (reported by [`RttTable::validate`](crate::RttTable::validate)).
    #[error(
        "{file}:{line}: {from}->{to} rtt_ms {rtt_ms} is below the fibre bound {bound_ms:.2} ms"
    )]
    BelowFibreBound {
        /// File name of the RTT table.
        file: String,
        /// 1-based line of the row.
        line: usize,
        /// Row's `from` key.
        from: String,
        /// Row's `to` key.
        to: String,
        /// The row's RTT in ms.
        rtt_ms: f64,
        /// The fibre lower bound in ms (see [`fibre_bound_ms`](crate::fibre_bound_ms)).
        bound_ms: f64,
    },
    /// A row's `source` matches no tier of the trust order
    /// (reported by [`curate_rtt_csv`](crate::curate::curate_rtt_csv)).
    #[error("{file}:{line}: field source: {source_text:?} matches no source in the trust order")]
    UnknownSource {
        /// File name used in messages.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The source string found.
        source_text: String,
    },
    /// A lookup named a region key that is not defined.
    #[error("{file}: no region with key {key:?}")]
    NoSuchRegion {
        /// File name of the regions table.
        file: String,
        /// The key looked up.
        key: String,
    },
    /// An RTT lookup asked for a same-region pair. Those are not in the table
    /// by design: the runtime uses its configurable LAN latency instead
    /// (see [`RttTable::rtt_ms_or_lan`](crate::RttTable::rtt_ms_or_lan)).
    #[error("{key}->{key} is a same-region pair: it has no table RTT, use the LAN latency")]
    SameRegion {
        /// The region key given as both `from` and `to`.
        key: String,
    },
    /// Neither direction of a pair of distinct regions is in the table.
    #[error("{file}: no RTT for {from}->{to} in either direction")]
    NoRtt {
        /// File name of the RTT table.
        file: String,
        /// Requested `from` key.
        from: String,
        /// Requested `to` key.
        to: String,
    },
    /// Two latency histograms could not be merged.
    #[error("cannot merge latency histograms: {0}")]
    HistogramMerge(String),
}
