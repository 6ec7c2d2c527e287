//! The visited set shared by the sequential ([`crate::explore`]) and parallel
//! ([`crate::parallel`]) explorers: per state only its 64-bit fingerprint and a small entry —
//! never the state itself. Both entries hold a [`Mark`] (the sleep set and the expanded flag in
//! two `u64`s); the sequential one's [`Seen`] adds the parent link and action index its paths are
//! rebuilt from.
//!
//! Entries are packed so that a table slot is 40 bytes ([`Seen`]) or 24 ([`Mark`]), key included,
//! 8-byte aligned: a `u128` field would align the slot to 16 bytes and pad it. The keys are
//! fingerprints, already uniform 64-bit hashes, so the table hashes them with one multiplication
//! ([`FpHasher`]) instead of SipHash; the multiplication spreads the key's low bits into the high
//! bits the table's control bytes use (the parallel explorer picks a shard by the key's top byte,
//! so within a shard those bits are constant and must not be used as they are).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The sequential explorer's visited set: fingerprint → [`Seen`] (with the parent links its
/// breadth-first paths are rebuilt from).
pub(crate) type Visited = HashMap<u64, Seen, BuildHasherDefault<FpHasher>>;

/// The parallel explorer's visited set: fingerprint → [`Mark`]. Its workers carry the path to
/// the state they expand (see [`crate::parallel`]), so it keeps no parent links: 24 bytes per
/// table slot.
pub(crate) type Marks = HashMap<u64, Mark, BuildHasherDefault<FpHasher>>;

/// Sleep-set slots are below this; bit 127 of a [`Mark`] is its expanded flag.
pub const SLOTS: u8 = 127;

/// A state's sleep set (bits `0..127`) and expanded flag (bit 127): the parallel explorer's
/// whole entry, and part of the sequential one's ([`Seen`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mark([u64; 2]);

impl Mark {
    const EXPANDED: u64 = 1 << 63;

    /// A new, unexpanded state with `sleep` (slots below [`SLOTS`]).
    pub fn new(sleep: u128) -> Mark {
        debug_assert!(sleep >> SLOTS == 0);
        Mark([sleep as u64, (sleep >> 64) as u64 & !Self::EXPANDED])
    }

    /// The sleep set stored so far.
    pub fn sleep(&self) -> u128 {
        ((self.0[1] & !Self::EXPANDED) as u128) << 64 | self.0[0] as u128
    }

    /// Replaces the sleep set, keeping the expanded flag.
    pub fn set_sleep(&mut self, sleep: u128) {
        let flag = self.0[1] & Self::EXPANDED;
        *self = Mark::new(sleep);
        self.0[1] |= flag;
    }

    /// The state has been expanded.
    pub fn expanded(&self) -> bool {
        self.0[1] & Self::EXPANDED != 0
    }

    /// Marks the state expanded.
    pub fn mark_expanded(&mut self) {
        self.0[1] |= Self::EXPANDED;
    }
}

/// The action index of the initial state (it has no parent step).
const INIT: u32 = u32::MAX;

/// One entry of the sequential explorer: how the state was first reached (parent fingerprint and
/// action index), and its [`Mark`] (sleep set and expanded flag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    parent: u64,
    /// The sleep set and the expanded flag.
    pub mark: Mark,
    action: u32,
}

impl Seen {
    /// The initial state's entry.
    pub fn init(fp: u64) -> Seen {
        Seen {
            parent: fp,
            mark: Mark::new(0),
            action: INIT,
        }
    }

    /// A state first reached from `parent` by its `action`-th enabled action, with `sleep`.
    pub fn reached(parent: u64, action: usize, sleep: u128) -> Seen {
        let action = u32::try_from(action)
            .ok()
            .filter(|&a| a != INIT)
            .expect("fewer than 2^32 - 1 enabled actions");
        Seen {
            parent,
            mark: Mark::new(sleep),
            action,
        }
    }

    /// The parent's fingerprint and the action index, or `None` for the initial state.
    pub fn step(&self) -> Option<(u64, usize)> {
        (self.action != INIT).then_some((self.parent, self.action as usize))
    }
}

/// Hashes a fingerprint key with one multiplication (see the module doc).
#[derive(Default, Clone, Copy)]
pub(crate) struct FpHasher(u64);

impl Hasher for FpHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used for `u64` keys; a plain fold keeps the hasher total.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_packs_into_32_bytes_and_a_slot_into_40() {
        assert_eq!(std::mem::size_of::<Seen>(), 32);
        assert_eq!(std::mem::size_of::<(u64, Seen)>(), 40);
    }

    #[test]
    fn a_mark_packs_into_16_bytes_and_a_slot_into_24() {
        assert_eq!(std::mem::size_of::<Mark>(), 16);
        assert_eq!(std::mem::size_of::<(u64, Mark)>(), 24);
        let sleep = (1u128 << 126) | (1 << 64) | 3;
        let mut m = Mark::new(sleep);
        assert_eq!((m.sleep(), m.expanded()), (sleep, false));
        m.mark_expanded();
        assert_eq!((m.sleep(), m.expanded()), (sleep, true));
        m.set_sleep(3);
        assert_eq!((m.sleep(), m.expanded()), (3, true));
    }

    #[test]
    fn fields_round_trip() {
        let sleep = (7u128 << 100) | (1 << 63) | 5;
        let mut e = Seen::reached(42, 9, sleep);
        assert_eq!(
            (e.mark.sleep(), e.mark.expanded(), e.step()),
            (sleep, false, Some((42, 9)))
        );
        e.mark.mark_expanded();
        e.mark.set_sleep(sleep & 5);
        assert_eq!(
            (e.mark.sleep(), e.mark.expanded(), e.step()),
            (5, true, Some((42, 9)))
        );
        let mut i = Seen::init(3);
        i.mark.mark_expanded();
        assert_eq!(
            (i.step(), i.mark.expanded(), i.mark.sleep()),
            (None, true, 0)
        );
    }

    #[test]
    fn keys_sharing_their_top_byte_spread_over_control_bits() {
        // The parallel explorer's shard holds keys with one top byte; the table's control
        // byte (the hash's top 7 bits) must still vary.
        let top: std::collections::BTreeSet<u64> = (0..64u64)
            .map(|k| {
                let mut h = FpHasher::default();
                h.write_u64((0xAB << 56) | k);
                h.finish() >> 57
            })
            .collect();
        assert!(top.len() > 32, "{top:?}");
    }
}
