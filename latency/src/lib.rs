//! vmsc latency
