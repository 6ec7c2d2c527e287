//! A set of node indices as a 32-bit mask: compact, `Copy`, ordered and cheap to hash, which
//! matters because node sets appear in every actor state and message the checker stores.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A set of node indices `0..32`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeSet(pub u32);

impl NodeSet {
    /// The empty set.
    pub const EMPTY: NodeSet = NodeSet(0);

    /// `{0, 1, .., n-1}`.
    pub fn first(n: usize) -> Self {
        debug_assert!(n <= 32);
        if n >= 32 {
            NodeSet(u32::MAX)
        } else {
            NodeSet((1u32 << n) - 1)
        }
    }

    /// `{i}`.
    pub fn single(i: usize) -> Self {
        NodeSet(1 << i)
    }

    /// Membership test.
    pub fn contains(self, i: usize) -> bool {
        i < 32 && self.0 & (1 << i) != 0
    }

    /// Adds `i`.
    pub fn insert(&mut self, i: usize) {
        self.0 |= 1 << i;
    }

    /// Removes `i`.
    pub fn remove(&mut self, i: usize) {
        self.0 &= !(1 << i);
    }

    /// `self ∪ {i}`.
    pub fn with(self, i: usize) -> Self {
        NodeSet(self.0 | (1 << i))
    }

    /// `self \ {i}`.
    pub fn without(self, i: usize) -> Self {
        NodeSet(self.0 & !(1 << i))
    }

    /// `self` with `i` in it exactly when `i` is in `o`.
    pub fn with_bit_of(self, o: NodeSet, i: usize) -> Self {
        if o.contains(i) {
            self.with(i)
        } else {
            self.without(i)
        }
    }

    /// Union.
    pub fn union(self, o: NodeSet) -> Self {
        NodeSet(self.0 | o.0)
    }

    /// Intersection.
    pub fn inter(self, o: NodeSet) -> Self {
        NodeSet(self.0 & o.0)
    }

    /// Difference.
    pub fn minus(self, o: NodeSet) -> Self {
        NodeSet(self.0 & !o.0)
    }

    /// Subset test.
    pub fn is_subset(self, o: NodeSet) -> bool {
        self.0 & !o.0 == 0
    }

    /// Number of elements.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Emptiness test.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members in increasing order.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..32).filter(move |&i| self.contains(i))
    }
}

impl FromIterator<usize> for NodeSet {
    fn from_iter<T: IntoIterator<Item = usize>>(iter: T) -> Self {
        let mut s = NodeSet::EMPTY;
        for i in iter {
            s.insert(i);
        }
        s
    }
}

impl fmt::Debug for NodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match DISPLAY_NAMES.get() {
            Some(names) => {
                let v: Vec<&str> = self
                    .iter()
                    .map(|i| names.get(i).map_or("?", |s| s.as_str()))
                    .collect();
                write!(f, "{{{}}}", v.join(","))
            }
            None => f.debug_set().entries(self.iter()).finish(),
        }
    }
}

static DISPLAY_NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Node `i`'s registered display name (see [`set_display_names`]), or its index.
pub fn display_name(i: usize) -> String {
    DISPLAY_NAMES
        .get()
        .and_then(|names| names.get(i).cloned())
        .unwrap_or_else(|| i.to_string())
}

/// Registers node names for `Debug` output (the Explorer's state view), so node sets print as
/// `{FRANK1,UK1}` instead of `{0, 2}`. Display only: nothing in the model reads it. Only the
/// first call takes effect.
pub fn set_display_names(names: Vec<String>) {
    let _ = DISPLAY_NAMES.set(names);
}
