//! The resource limits of one call's store.

use crate::diagnostics::Diagnostics;
use std::sync::Arc;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// The store's resource limiter. The memory limit applies to the sum of every linear memory of
/// the instance (`StoreLimits::memory_size` bounds each memory alone, and a component may hold
/// one per core module); a refused growth is recorded so the resulting trap can be reported as
/// the memory limit. Counts of instances, tables and memories, and table sizes, are
/// `StoreLimits`'.
pub(crate) struct GuestLimiter {
    limits: StoreLimits,
    memory_limit: usize,
    /// Bytes granted so far across every memory of the store. A growth that fails after it was
    /// granted (the OS refusing pages) stays counted: conservative, and rare.
    memory_granted: usize,
    diagnostics: Arc<Diagnostics>,
}

impl GuestLimiter {
    /// A limiter allowing `memory_limit` bytes of linear memory in total.
    pub(crate) fn new(memory_limit: usize, diagnostics: Arc<Diagnostics>) -> Self {
        GuestLimiter {
            limits: StoreLimitsBuilder::new()
                .instances(64)
                .memories(8)
                .tables(64)
                .table_elements(100_000)
                .trap_on_grow_failure(false)
                .build(),
            memory_limit,
            memory_granted: 0,
            diagnostics,
        }
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_granted
            .saturating_add(desired.saturating_sub(current));
        let allowed = total <= self.memory_limit && maximum.is_none_or(|max| desired <= max);
        if allowed {
            self.memory_granted = total;
        } else {
            self.diagnostics.record_memory_limit_hit();
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_limit_bounds_all_memories_together() {
        const MIB: usize = 1 << 20;
        let diagnostics = Diagnostics::new(0, 0);
        let mut limiter = GuestLimiter::new(16 * MIB, diagnostics.clone());
        // Two memories created with 6 MiB each, then grown.
        assert!(limiter.memory_growing(0, 6 * MIB, None).unwrap());
        assert!(limiter.memory_growing(0, 6 * MIB, None).unwrap());
        assert!(limiter.memory_growing(6 * MIB, 9 * MIB, None).unwrap());
        assert!(!diagnostics.memory_limit_hit());
        // 9 + 6 = 15 MiB in use: the second memory may not reach 8 MiB.
        assert!(!limiter.memory_growing(6 * MIB, 8 * MIB, None).unwrap());
        assert!(diagnostics.memory_limit_hit());
        assert!(limiter.memory_growing(6 * MIB, 7 * MIB, None).unwrap());
        // A memory's own declared maximum holds as well.
        let mut limiter = GuestLimiter::new(16 * MIB, Diagnostics::new(0, 0));
        assert!(!limiter.memory_growing(0, 2 * MIB, Some(MIB)).unwrap());
    }
}
