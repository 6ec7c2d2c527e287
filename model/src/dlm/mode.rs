//! Lock modes, the VMS compatibility matrix, `$ENQ` flags and completion statuses.
//!
//! Facts: vms-protocol.md C.1 (modes, codes, matrix, QUECVT conversions), C.3 (flag bits),
//! C.4 (value block status), C.9 (deadlock status).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::BitOr;
use std::str::FromStr;

/// A VMS lock mode, ordered by its `$LCKDEF` code (NL=0 … EX=5).
///
/// The derived `Ord` is the numeric code order; it is *not* the strength lattice
/// (CW and PR are incomparable in strength), so use [`Matrix`] for compatibility.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Mode {
    /// Null: no access; keeps the resource and its value block alive.
    NL = 0,
    /// Concurrent read: read, others may write.
    CR = 1,
    /// Concurrent write: write, others may write.
    CW = 2,
    /// Protected read: shared read, nobody writes.
    PR = 3,
    /// Protected write: update, others may only read concurrently (CR).
    PW = 4,
    /// Exclusive.
    EX = 5,
}

impl Mode {
    /// All modes in code order.
    pub const ALL: [Mode; 6] = [Mode::NL, Mode::CR, Mode::CW, Mode::PR, Mode::PW, Mode::EX];

    /// The `$LCKDEF` code (0..=5).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The mode with this `$LCKDEF` code, if any.
    pub fn from_code(code: u8) -> Option<Mode> {
        Mode::ALL.get(usize::from(code)).copied()
    }

    /// The VMS mnemonic ("NL".."EX").
    pub fn name(self) -> &'static str {
        match self {
            Mode::NL => "NL",
            Mode::CR => "CR",
            Mode::CW => "CW",
            Mode::PR => "PR",
            Mode::PW => "PW",
            Mode::EX => "EX",
        }
    }

    /// True if a lock granted at `held` may coexist with a request for `requested`
    /// (the VMS matrix, [`Matrix::VMS`]).
    pub fn compatible(held: Mode, requested: Mode) -> bool {
        Matrix::VMS.compatible(held, requested)
    }

    /// True if a conversion `from -> to` is allowed with `QUECVT` (C.1, Linux list; VMS
    /// equivalence UNCONFIRMED): NL→CR..EX, CR→CW..EX, CW→PR/PW/EX, PR→CW/PW/EX, PW→EX,
    /// nothing from EX.
    pub fn quecvt_allowed(from: Mode, to: Mode) -> bool {
        use Mode::*;
        matches!(
            (from, to),
            (NL, CR | CW | PR | PW | EX)
                | (CR, CW | PR | PW | EX)
                | (CW, PR | PW | EX)
                | (PR, CW | PW | EX)
                | (PW, EX)
        )
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error returned when a string is not a lock mode mnemonic.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown lock mode `{0}` (expected one of NL, CR, CW, PR, PW, EX)")]
pub struct ParseModeError(pub String);

impl FromStr for Mode {
    type Err = ParseModeError;

    /// Parses "NL".."EX", case-insensitively, surrounding whitespace ignored.
    fn from_str(s: &str) -> Result<Mode, ParseModeError> {
        let wanted = s.trim();
        Mode::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ParseModeError(s.to_string()))
    }
}

/// A compatibility matrix, `table[held][requested]` (Y = may coexist).
///
/// [`Matrix::VMS`] is the only one the cluster uses; [`Matrix::broken_pr_pw`] exists so
/// tests can show that the compatibility property catches a wrong entry (negative control).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Matrix {
    table: [[bool; 6]; 6],
}

const Y: bool = true;
const N: bool = false;

impl Matrix {
    /// The VMS matrix (vms-protocol.md C.1), rows = held, columns = requested.
    pub const VMS: Matrix = Matrix {
        table: [
            //   NL CR CW PR PW EX
            [Y, Y, Y, Y, Y, Y], // NL
            [Y, Y, Y, Y, Y, N], // CR
            [Y, Y, Y, N, N, N], // CW
            [Y, Y, N, Y, N, N], // PR
            [Y, Y, N, N, N, N], // PW
            [Y, N, N, N, N, N], // EX
        ],
    };

    /// TEST ONLY (negative control): the VMS matrix with PR/PW wrongly compatible
    /// (both entries flipped, so it stays symmetric).
    pub fn broken_pr_pw() -> Matrix {
        let mut m = Matrix::VMS;
        m.table[Mode::PR as usize][Mode::PW as usize] = true;
        m.table[Mode::PW as usize][Mode::PR as usize] = true;
        m
    }

    /// True if a lock held at `held` may coexist with a request for `requested`.
    pub fn compatible(&self, held: Mode, requested: Mode) -> bool {
        self.table[held as usize][requested as usize]
    }
}

impl Default for Matrix {
    fn default() -> Matrix {
        Matrix::VMS
    }
}

/// `$ENQ` flags as a `u16` bit set, with the V7.3 `$LCKDEF` bit values (C.3).
///
/// Only the bits below have meaning to [`crate::dlm::Resource`]; others are carried but
/// ignored.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Flags(pub u16);

impl Flags {
    /// No flags.
    pub const NONE: Flags = Flags(0);
    /// LCK$M_VALBLK: read (grant) or write (down-convert/dequeue from PW/EX) the value block.
    pub const VALBLK: Flags = Flags(0x1);
    /// LCK$M_CONVERT: implied by [`crate::dlm::Resource::convert`]; ignored by the resource.
    pub const CONVERT: Flags = Flags(0x2);
    /// LCK$M_NOQUEUE: refuse with `NotQueued` instead of queueing.
    pub const NOQUEUE: Flags = Flags(0x4);
    /// LCK$M_EXPEDITE: a new NL request is granted ignoring the queues.
    pub const EXPEDITE: Flags = Flags(0x800);
    /// LCK$M_QUECVT: a conversion queues behind existing conversions.
    pub const QUECVT: Flags = Flags(0x1000);

    /// True if every bit of `other` is set in `self`.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// Completion status of a request, named after the VMS condition values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    /// SS$_NORMAL: granted.
    Normal,
    /// SS$_NOTQUEUED: NOQUEUE request not grantable at once; nothing was queued and a
    /// conversion keeps its granted mode.
    NotQueued,
    /// SS$_DEADLOCK: the request was chosen as a deadlock victim (cancel semantics).
    Deadlock,
    /// SS$_VALNOTVALID: granted, but the returned value block is marked invalid.
    ValNotValid,
    /// SS$_CANCEL/SS$_ABORT: a pending request was cancelled (by `$DEQ`).
    Cancelled,
    /// SS$_SUBLOCK: `$DEQ` of a lock that has sublocks. Never produced by
    /// [`crate::dlm::Resource`] (sublocks live in other resources); the tree layer uses it.
    SubLocks,
    /// Illegal conversion: QUECVT with a conversion not in the allowed list (C.1).
    IllegalConversion,
    /// SS$_IVLOCKID: unknown lock id (or, for `enqueue`, an id already in use).
    IvLockId,
    /// SS$_CVTUNGRANT: conversion of a lock that is not granted (it is waiting or
    /// already converting).
    CvtUngrant,
    /// SS$_CANCELGRANT: cancel of a lock that has no pending request.
    CancelGrant,
    /// SS$_BADPARAM: flag misuse (EXPEDITE on a non-NL or converting request, QUECVT on a
    /// new request).
    BadParam,
}
