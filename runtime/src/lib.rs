//! vmsc runtime
