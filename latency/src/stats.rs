//! Latency percentiles for experiments.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::error::LatencyError;

/// Significant decimal digits kept by [`LatencyHistogram`]: values up to
/// 2,047 µs are stored exactly, larger ones within 0.1 %.
pub const HISTOGRAM_SIGNIFICANT_DIGITS: u8 = 3;

/// A histogram of latencies in microseconds (a thin wrapper over
/// `hdrhistogram::Histogram<u64>` that grows as needed and never fails to
/// record).
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    histogram: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram with [`HISTOGRAM_SIGNIFICANT_DIGITS`] precision and
    /// automatic resizing.
    pub fn new() -> LatencyHistogram {
        // `Histogram::new` only fails for more than 5 significant digits; we
        // pass the constant 3, so this cannot fail.
        let histogram = Histogram::new(HISTOGRAM_SIGNIFICANT_DIGITS)
            .expect("3 significant digits is a valid hdrhistogram precision");
        LatencyHistogram { histogram }
    }

    /// Record one latency in µs. The histogram grows to fit the value; only if
    /// it cannot (values near `u64::MAX`) is the value clamped to the largest
    /// trackable one.
    pub fn record_us(&mut self, latency_us: u64) {
        // `record` resizes as needed; `saturating_record` alone would clamp to
        // the current (small) range instead of growing.
        if self.histogram.record(latency_us).is_err() {
            self.histogram.saturating_record(latency_us);
        }
    }

    /// Record one latency given as a [`Duration`], truncated to whole µs.
    pub fn record_duration(&mut self, latency: Duration) {
        self.record_us(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Number of recorded values.
    pub fn len(&self) -> u64 {
        self.histogram.len()
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// Add all values recorded in `other` to `self`.
    ///
    /// # Errors
    /// [`LatencyError::HistogramMerge`] if hdrhistogram refuses (not expected
    /// with auto-resizing histograms).
    pub fn merge(&mut self, other: &LatencyHistogram) -> Result<(), LatencyError> {
        self.histogram
            .add(&other.histogram)
            .map_err(|e| LatencyError::HistogramMerge(format!("{e:?}")))
    }

    /// The underlying hdrhistogram, for anything the summary does not cover.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }

    /// Count, min, p50, p90, p99, max and mean. All zero when empty.
    ///
    /// Percentiles follow hdrhistogram: `pN` is the smallest recorded value
    /// such that at least N % of values are `<=` it (so p50 of 1..=100 is 50).
    pub fn summary(&self) -> Summary {
        let h = &self.histogram;
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            min_us: h.min(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
            mean_us: h.mean(),
        }
    }
}

/// Summary statistics of a [`LatencyHistogram`], in µs.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Number of recorded values.
    pub count: u64,
    /// Smallest recorded value in µs.
    pub min_us: u64,
    /// Median in µs.
    pub p50_us: u64,
    /// 90th percentile in µs.
    pub p90_us: u64,
    /// 99th percentile in µs.
    pub p99_us: u64,
    /// Largest recorded value in µs.
    pub max_us: u64,
    /// Arithmetic mean in µs.
    pub mean_us: f64,
}

/// µs as ms with 2 decimals.
fn ms_2dp(value_us: u64) -> String {
    format!("{:.2}", value_us as f64 / 1000.0)
}

/// Render named summaries as an aligned plain-text table, one line per row
/// after a header: `name`, `p50_ms`, `p90_ms`, `p99_ms`, `max_ms` (ms with 2
/// decimals) and `count`. Names are left-aligned, numbers right-aligned,
/// columns separated by two spaces; every line ends with `\n`.
///
/// ```
/// use vmsc_latency::{render_summary_table, LatencyHistogram};
/// let mut h = LatencyHistogram::new();
/// h.record_us(97_580);
/// let table = render_summary_table(&[("FRA-ORD", h.summary())]);
/// assert_eq!(
///     table,
///     "name     p50_ms  p90_ms  p99_ms  max_ms  count\n\
///      FRA-ORD   97.60   97.60   97.60   97.60      1\n"
/// );
/// ```
/// (97,580 µs is stored as 97,599 µs by the 3-digit histogram, so 97.60 ms.)
pub fn render_summary_table<N: AsRef<str>>(rows: &[(N, Summary)]) -> String {
    const HEADERS: [&str; 6] = ["name", "p50_ms", "p90_ms", "p99_ms", "max_ms", "count"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|(name, s)| {
            [
                name.as_ref().to_string(),
                ms_2dp(s.p50_us),
                ms_2dp(s.p90_us),
                ms_2dp(s.p99_us),
                ms_2dp(s.max_us),
                s.count.to_string(),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut out = String::new();
    let header_row = HEADERS.map(str::to_string);
    for row in std::iter::once(&header_row).chain(&cells) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i == 0 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!("  {cell:>width$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_1_to_100() {
        let mut h = LatencyHistogram::new();
        for v in 1..=100 {
            h.record_us(v);
        }
        assert_eq!(
            h.summary(),
            Summary {
                count: 100,
                min_us: 1,
                p50_us: 50,
                p90_us: 90,
                p99_us: 99,
                max_us: 100,
                mean_us: 50.5,
            }
        );
    }

    #[test]
    fn percentiles_with_repeated_values() {
        let mut h = LatencyHistogram::new();
        for _ in 0..95 {
            h.record_us(1_000);
        }
        for _ in 0..5 {
            h.record_us(2_000);
        }
        let s = h.summary();
        assert_eq!((s.count, s.p50_us, s.p90_us), (100, 1_000, 1_000));
        assert_eq!((s.p99_us, s.max_us, s.min_us), (2_000, 2_000, 1_000));
        assert_eq!(s.mean_us, 1_050.0);
    }

    #[test]
    fn empty_summary_is_zero() {
        let h = LatencyHistogram::new();
        assert!(h.is_empty());
        assert_eq!(h.summary(), Summary::default());
    }

    #[test]
    fn zero_huge_and_duration_values_record() {
        let mut h = LatencyHistogram::default();
        h.record_us(0);
        h.record_duration(Duration::from_millis(3));
        h.record_duration(Duration::MAX);
        let s = h.summary();
        assert_eq!(s.count, 3);
        assert_eq!(s.min_us, 0);
        assert_eq!(s.p50_us, 3_001); // highest value equivalent to 3,000 at 3 digits
        assert!(s.max_us > 1u64 << 60, "{s:?}");
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        a.record_us(10);
        b.record_us(30);
        b.record_us(1_000_000);
        a.merge(&b).unwrap();
        let s = a.summary();
        assert_eq!((s.count, s.min_us, s.p50_us), (3, 10, 30));
        assert_eq!(s.max_us, 1_000_447); // highest equivalent value at 3 digits
    }

    #[test]
    fn summary_serializes_with_unit_suffixed_names() {
        let mut h = LatencyHistogram::new();
        h.record_us(1_500);
        let json = serde_json::to_string(&h.summary()).unwrap();
        assert_eq!(
            json,
            r#"{"count":1,"min_us":1500,"p50_us":1500,"p90_us":1500,"p99_us":1500,"max_us":1500,"mean_us":1500.0}"#
        );
    }

    #[test]
    fn table_is_aligned() {
        let mut fast = LatencyHistogram::new();
        for v in [100, 200, 300, 400] {
            fast.record_us(v);
        }
        let slow = Summary {
            count: 12_345,
            min_us: 90_000,
            p50_us: 97_580,
            p90_us: 110_000,
            p99_us: 150_250,
            max_us: 1_234_560,
            mean_us: 0.0,
        };
        let table = render_summary_table(&[("lan", fast.summary()), ("FRA-ORD wan", slow)]);
        let expected = "\
name         p50_ms  p90_ms  p99_ms   max_ms  count
lan            0.20    0.40    0.40     0.40      4
FRA-ORD wan   97.58  110.00  150.25  1234.56  12345
";
        assert_eq!(table, expected);
    }

    #[test]
    fn table_without_rows_is_just_the_header() {
        let rows: [(&str, Summary); 0] = [];
        assert_eq!(
            render_summary_table(&rows),
            "name  p50_ms  p90_ms  p99_ms  max_ms  count\n"
        );
    }
}
