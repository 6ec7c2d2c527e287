//! The crate's error type.

use std::path::PathBuf;

use thiserror::Error;
use vmsc_runtime::cluster::launch::LaunchError;

/// Everything `vmsc experiment` can fail with, apart from bad command-line input.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// A file could not be read or written.
    #[error("{}: {what}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A trace line is not what the runtime writes.
    #[error("{}:{line}: {message}", path.display())]
    Trace {
        /// The trace file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The RTT table lacks a pair the cluster needs, or fails validation.
    #[error(transparent)]
    Latency(#[from] vmsc_latency::LatencyError),
    /// A run of the cluster failed.
    #[error("run {run}: {source}")]
    Run {
        /// 0-based run number.
        run: usize,
        /// What failed.
        #[source]
        source: LaunchError,
    },
    /// No run settled, so there is nothing to report.
    #[error(
        "no run settled within the timeout ({runs} tried); see the console logs with --keep-traces"
    )]
    NothingMeasured {
        /// Runs tried.
        runs: usize,
    },
    /// The plot could not be drawn.
    #[error("cannot draw the plot: {0}")]
    Plot(String),
    /// JSON encoding failed.
    #[error("cannot encode the JSON report")]
    Json(#[from] serde_json::Error),
}
