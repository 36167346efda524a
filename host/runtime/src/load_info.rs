//! How a gateway was loaded: where its compiled code came from and how long loading took.

use std::time::Duration;

/// Where a loaded gateway's compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactSource {
    /// Compiled now (and written to the cache, if any).
    Compiled,
    /// Loaded from the on-disk artifact cache.
    DiskCache,
    /// Already loaded by this runtime.
    Memory,
}

/// How a gateway was loaded.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    /// Where the compiled code came from.
    pub artifact: ArtifactSource,
    /// Why an existing cache entry was discarded, if one was.
    pub discarded_cache_entry: Option<String>,
    /// Time to get the compiled component (read, hash, compile or deserialize).
    pub compile_time: Duration,
    /// Total load time (including validation, linking and the `describe` call).
    pub total_time: Duration,
    /// SHA-256 of the component's bytes (hex).
    pub component_sha256: String,
}
