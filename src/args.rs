//! The flag families the checker commands (`check`, `whatif`, `plan`, `explore`) share, one clap
//! struct each: the model ([`ModelArgs`]), the search's limits ([`LimitArgs`]), the search and
//! its workers ([`CheckerArgs`]) and its progress on stderr ([`ProgressArgs`], [`Progress`]).
//! A flag spelt the same on two commands means the same on both.

use clap::{Args, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vmsc_model::checker::Checker;
use vmsc_model::cluster_model::ClusterModel;
use vmsc_model::config::{ClusterSpec, ConfigError};
use vmsc_model::dlm::DlmVariant;
use vmsc_model::whatif::{self, Variant};

/// Which protocol variant to check.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum VariantArg {
    /// The protocol as specified.
    Correct,
    /// Negative control: quorum = floor(E/2).
    HalfQuorum,
    /// Negative control: corosync's two_node shortcut (one vote is quorum) without fencing.
    TwoNode,
    /// Negative control: a lost circuit reaches the far end late (no timing assumption).
    NoTimingAssumption,
}

impl From<VariantArg> for Variant {
    fn from(v: VariantArg) -> Self {
        match v {
            VariantArg::Correct => Variant::Correct,
            VariantArg::HalfQuorum => Variant::HalfQuorum,
            VariantArg::TwoNode => Variant::TwoNode,
            VariantArg::NoTimingAssumption => Variant::NoTimingAssumption,
        }
    }
}

/// Lock-manager variant (negative controls for the DLM; only meaningful with `[[client]]`s).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DlmVariantArg {
    /// The lock manager as specified.
    Correct,
    /// Masters treat PR and PW as compatible.
    BrokenMatrix,
    /// Suspended or removed nodes keep granting and using locks.
    GrantWhileSuspended,
    /// The value block stays valid when a PW/EX holder's node fails.
    SkipValueInvalidation,
    /// Surviving masters keep the failed nodes' locks after the rebuild.
    KeepFailedLocks,
    /// No deadlock search (DEADLOCK_WAIT never armed).
    NoDeadlockSearch,
    /// The deadlock coordinator trusts one round of reports (no confirmation round).
    SinglePhaseSearch,
    /// New requests compatible with the granted locks jump the waiting queue.
    QueueJump,
    /// A node that does not master a tree applies a stale request for it (re-creates a dropped
    /// tree) instead of answering NotMaster.
    NoMasterCheck,
}

impl From<DlmVariantArg> for vmsc_model::dlm::DlmVariant {
    fn from(v: DlmVariantArg) -> Self {
        use vmsc_model::dlm::DlmVariant as D;
        match v {
            DlmVariantArg::Correct => D::Correct,
            DlmVariantArg::BrokenMatrix => D::BrokenMatrix,
            DlmVariantArg::GrantWhileSuspended => D::GrantWhileSuspended,
            DlmVariantArg::SkipValueInvalidation => D::SkipValueInvalidation,
            DlmVariantArg::KeepFailedLocks => D::KeepFailedLocks,
            DlmVariantArg::NoDeadlockSearch => D::NoDeadlockSearch,
            DlmVariantArg::SinglePhaseSearch => D::SinglePhaseSearch,
            DlmVariantArg::QueueJump => D::QueueJump,
            DlmVariantArg::NoMasterCheck => D::NoMasterCheck,
        }
    }
}

/// A value as the user types it on the command line (`half-quorum`, not `HalfQuorum`).
pub fn cli_name(v: &impl ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// Which search runs the check. All but `persistent` visit the same states; `specs/checker.md`
/// explains.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum CheckerArg {
    /// vmsc's explorer with sleep sets: every state once, fewer transitions executed (default).
    Reduced,
    /// vmsc's explorer without reduction (shortest counterexamples under `check`).
    Explorer,
    /// Stateright's own breadth-first checker (2 threads).
    StaterightBfs,
    /// Stateright's own depth-first checker (2 threads).
    StaterightDfs,
    /// vmsc's explorer with persistent sets, depth-first on one thread: a state reduction that
    /// keeps every verdict and every settled outcome, not the state count (`--threads` ignored).
    Persistent,
}

impl From<CheckerArg> for Checker {
    fn from(c: CheckerArg) -> Self {
        match c {
            CheckerArg::Reduced => Checker::Reduced,
            CheckerArg::Explorer => Checker::Explorer,
            CheckerArg::StaterightBfs => Checker::StaterightBfs,
            CheckerArg::StaterightDfs => Checker::StaterightDfs,
            CheckerArg::Persistent => Checker::Persistent,
        }
    }
}

/// When a node that took a CLUEXIT after the heal reboots (`--reboot`).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum RebootArg {
    /// Once the cluster has settled (the default): a CLUEXIT writes a crash dump and boots
    /// again, minutes, while the transition that made it exit ends in seconds. Nodes that exited
    /// together still reboot in every order and join concurrently.
    Settled,
    /// At any moment, even in the middle of the transition that followed the CLUEXIT: reboots
    /// no real node is fast enough to make, explored as well (far more states).
    Anytime,
}

impl From<RebootArg> for whatif::Reboots {
    fn from(r: RebootArg) -> Self {
        match r {
            RebootArg::Settled => whatif::Reboots::Settled,
            RebootArg::Anytime => whatif::Reboots::Anytime,
        }
    }
}

/// The `whatif` heal that `--heal` and `--reboot` ask for.
pub fn heal_of(heal: bool, reboot: RebootArg) -> whatif::Heal {
    if heal {
        whatif::Heal::Yes(reboot.into())
    } else {
        whatif::Heal::No
    }
}

/// The model: the cluster file and the protocol and lock-manager variants.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// The cluster file (TOML). Default: the embedded seed topology (FRANK1, FRANK2, UK1, CHIC1,
    /// CHIC2).
    pub cluster: Option<PathBuf>,
    /// Protocol variant; the non-default ones are negative controls the checker must catch.
    #[arg(long, value_enum, default_value = "correct")]
    pub variant: VariantArg,
    /// Lock-manager variant; the non-default ones are the DLM negative controls (only meaningful
    /// with `[[client]]`s in the cluster file).
    #[arg(long, value_enum, default_value = "correct")]
    pub dlm_variant: DlmVariantArg,
}

impl ModelArgs {
    /// Loads the cluster file, or the embedded seed topology.
    pub fn spec(&self) -> Result<Arc<ClusterSpec>, ConfigError> {
        load_spec(&self.cluster)
    }

    /// `m` with the lock-manager variant of `--dlm-variant`.
    pub fn with_dlm(&self, m: ClusterModel) -> ClusterModel {
        with_dlm(m, self.dlm_variant.into())
    }

    /// The cluster file as the user typed it ("" for the embedded seed).
    pub fn cluster_arg(&self) -> String {
        self.cluster
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// `variant V` (and `, dlm-variant D` when not the default), spelt as the flags take them.
    pub fn describe(&self) -> String {
        match self.dlm_variant {
            DlmVariantArg::Correct => format!("variant {}", cli_name(&self.variant)),
            d => format!(
                "variant {}, dlm-variant {}",
                cli_name(&self.variant),
                cli_name(&d)
            ),
        }
    }
}

/// `m` with the lock-manager variant `dlm`.
pub fn with_dlm(m: ClusterModel, dlm: DlmVariant) -> ClusterModel {
    if dlm == DlmVariant::Correct {
        return m;
    }
    let mut cfg = m.cfg.clone();
    cfg.protocol.dlm = dlm;
    ClusterModel::new(m.spec.clone(), cfg)
}

/// Loads the cluster file, or the embedded seed topology.
pub fn load_spec(path: &Option<PathBuf>) -> Result<Arc<ClusterSpec>, ConfigError> {
    Ok(Arc::new(crate::load::cluster_or_seed(path.as_deref())?))
}

/// `--states-max`'s default.
pub const STATES_MAX_DEFAULT: usize = 50_000_000;

/// Where a search gives up (the run is then incomplete).
#[derive(Args, Debug, Clone, Copy)]
pub struct LimitArgs {
    /// Give up after this many seconds (the run is then incomplete).
    #[arg(long)]
    pub timeout_s: Option<u64>,
    /// Give up after this many unique states (the run is then incomplete); memory grows with it
    /// (about 40 bytes per state, plus a breadth-first search's frontier).
    #[arg(long, default_value_t = STATES_MAX_DEFAULT)]
    pub states_max: usize,
}

impl LimitArgs {
    /// `--timeout-s` as a duration.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_s.map(Duration::from_secs)
    }
}

/// The search and its workers.
#[derive(Args, Debug, Clone, Copy)]
pub struct CheckerArgs {
    /// The search (all but `persistent` visit the same states; see specs/checker.md). `check`,
    /// `whatif` and `plan` run `reduced` unless told otherwise; `explore` runs a search only
    /// when given one, before it serves, and prints a deep link to each counterexample and
    /// example the search finds.
    #[arg(long, value_enum)]
    pub checker: Option<CheckerArg>,
    /// Workers of vmsc's explorer (`reduced`, `explorer`); 0 (the default) = one per core,
    /// 1 = the sequential breadth-first search. The verdicts, outcomes and state counts are the
    /// same either way, and so is each counterexample `check` prints: a violation found by
    /// several workers is found again by the sequential search, which stops there
    /// (reproducible and shortest). Several workers search depth-first, so memory stays at the
    /// visited set (a long breadth-first run also holds its frontier: gigabytes on a large
    /// cluster).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

impl CheckerArgs {
    /// `--checker`, `reduced` if not given.
    pub fn checker(&self) -> CheckerArg {
        self.checker.unwrap_or(CheckerArg::Reduced)
    }

    /// `--threads`, with 0 as one per core.
    pub fn workers(&self) -> usize {
        threads(self.threads)
    }
}

/// `--threads`: 0 means one worker per core.
pub fn threads(n: usize) -> usize {
    if n == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        n
    }
}

/// When the progress of a search is shown (`--progress`).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ProgressArg {
    /// On a terminal, one line rewritten in place; otherwise a line every
    /// `--progress-interval-s`.
    Auto,
    /// A line every `--progress-interval-s`, even on a terminal.
    Always,
    /// Nothing.
    Never,
}

/// `--progress-interval-s`'s default.
pub const PROGRESS_INTERVAL_S_DEFAULT: u64 = 5;

/// Progress of the search, on stderr only (stdout is the same whatever these say).
#[derive(Args, Debug, Clone, Copy)]
pub struct ProgressArgs {
    /// Progress on stderr: states, states/s, depth, elapsed time (`plan`: the pass, fault set
    /// and suggestion). `auto` rewrites one line in place on a terminal and prints a line every
    /// `--progress-interval-s` otherwise (in a CI log, say); Stateright's checkers report none.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressArg,
    /// Seconds between progress lines (off a terminal, or with `--progress always`); the search
    /// reports about once a second, so 0 prints every report.
    #[arg(long, default_value_t = PROGRESS_INTERVAL_S_DEFAULT)]
    pub progress_interval_s: u64,
}

impl ProgressArgs {
    /// The reporter these flags ask for, timed from now.
    pub fn reporter(&self) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let style = match (self.progress, terminal) {
            (ProgressArg::Never, _) => Style::Off,
            (ProgressArg::Auto, true) => Style::Live,
            (ProgressArg::Auto, false) | (ProgressArg::Always, _) => Style::Lines,
        };
        Progress::new(style, Duration::from_secs(self.progress_interval_s))
    }
}

/// How [`Progress`] shows a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Nothing.
    Off,
    /// One line, rewritten in place at every report (a terminal).
    Live,
    /// A line per interval.
    Lines,
}

/// Prints a search's reports on stderr as [`ProgressArgs`] asked; shared by the threads that
/// report (`plan` explores several fault sets at once).
#[derive(Debug)]
pub struct Progress {
    style: Style,
    interval: Duration,
    state: Mutex<ProgressState>,
    /// Where the reports go instead of stderr, if anywhere (tests).
    captured: Option<Mutex<Vec<u8>>>,
}

#[derive(Debug)]
struct ProgressState {
    /// When the last line was printed (or the reporter made).
    last: Instant,
    /// A live line is on the terminal.
    shown: bool,
}

impl Progress {
    /// A reporter that prints in `style`, a line at most every `interval` in [`Style::Lines`].
    pub fn new(style: Style, interval: Duration) -> Progress {
        Progress {
            style,
            interval,
            state: Mutex::new(ProgressState {
                last: Instant::now(),
                shown: false,
            }),
            captured: None,
        }
    }

    /// Nothing shown.
    #[cfg(test)]
    pub fn off() -> Progress {
        Progress::new(Style::Off, Duration::ZERO)
    }

    /// A line per `interval`, kept in memory ([`Progress::captured`]) instead of printed.
    #[cfg(test)]
    pub fn capture(interval: Duration) -> Progress {
        Progress {
            captured: Some(Mutex::new(Vec::new())),
            ..Progress::new(Style::Lines, interval)
        }
    }

    /// What [`Progress::capture`] kept.
    #[cfg(test)]
    pub fn captured(&self) -> String {
        let c = self.captured.as_ref().map(|c| c.lock().unwrap().clone());
        String::from_utf8(c.unwrap_or_default()).unwrap()
    }

    /// A report: `line` is asked for (and shown) only when one is due.
    pub fn report(&self, line: impl FnOnce() -> String) {
        match &self.captured {
            Some(c) => {
                let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
                self.report_to(&mut *c, Instant::now(), line);
            }
            None => self.report_to(&mut std::io::stderr().lock(), Instant::now(), line),
        }
    }

    fn report_to(&self, out: &mut dyn Write, now: Instant, line: impl FnOnce() -> String) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match self.style {
            Style::Off => {}
            Style::Live => {
                let _ = write!(out, "\r{}   ", line());
                st.shown = true;
            }
            Style::Lines => {
                if now.saturating_duration_since(st.last) >= self.interval {
                    st.last = now;
                    let _ = writeln!(out, "{}", line());
                }
            }
        }
        let _ = out.flush();
    }

    /// Erases a live line, so that what follows starts on a clean line.
    pub fn clear(&self) {
        if self.captured.is_none() {
            self.clear_to(&mut std::io::stderr().lock());
        }
    }

    fn clear_to(&self, out: &mut dyn Write) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if std::mem::take(&mut st.shown) {
            let _ = write!(out, "\r{:100}\r", "");
            let _ = out.flush();
        }
    }
}

/// A search's report as one line: `{what}: N states, R states/s, depth D, E s`.
pub fn search_line(what: &str, states: usize, depth: usize, elapsed: Duration) -> String {
    let s = elapsed.as_secs_f64();
    format!(
        "{what}: {states} states, {:.0} states/s, depth {depth}, {s:.0} s",
        states as f64 / s.max(1e-9)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(style: Style, interval_s: u64, at_s: &[u64]) -> String {
        let p = Progress::new(style, Duration::from_secs(interval_s));
        let t0 = p.state.lock().unwrap().last;
        let mut out = Vec::new();
        for &t in at_s {
            p.report_to(&mut out, t0 + Duration::from_secs(t), || format!("at {t}"));
        }
        p.clear_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    /// Off a terminal a line is printed once per interval, never before the first interval has
    /// passed (a short run prints none); on a terminal every report rewrites the line, which
    /// is erased at the end; `never` prints nothing.
    #[test]
    fn progress_is_a_line_per_interval_or_a_live_line() {
        assert_eq!(lines(Style::Lines, 5, &[1, 2, 3, 4]), "");
        assert_eq!(
            lines(Style::Lines, 5, &[1, 2, 5, 6, 9, 10, 16]),
            "at 5\nat 10\nat 16\n"
        );
        assert_eq!(lines(Style::Lines, 0, &[1, 2]), "at 1\nat 2\n");
        let live = lines(Style::Live, 5, &[1, 2]);
        assert!(live.starts_with("\rat 1   \rat 2   \r"), "{live:?}");
        assert!(live.ends_with('\r'), "{live:?}");
        assert_eq!(lines(Style::Off, 0, &[1, 2]), "");
        assert_eq!(lines(Style::Live, 5, &[]), "");
    }

    #[test]
    fn search_line_names_states_rate_depth_and_time() {
        assert_eq!(
            search_line("check", 1000, 7, Duration::from_secs(4)),
            "check: 1000 states, 250 states/s, depth 7, 4 s"
        );
    }

    #[test]
    fn variants_are_named_as_the_flags_take_them() {
        let m = ModelArgs {
            cluster: None,
            variant: VariantArg::NoTimingAssumption,
            dlm_variant: DlmVariantArg::Correct,
        };
        assert_eq!(m.describe(), "variant no-timing-assumption");
        let m = ModelArgs {
            variant: VariantArg::Correct,
            dlm_variant: DlmVariantArg::BrokenMatrix,
            ..m
        };
        assert_eq!(m.describe(), "variant correct, dlm-variant broken-matrix");
    }
}
