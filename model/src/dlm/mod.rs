//! Distributed lock manager (placeholder; see issue 3).
