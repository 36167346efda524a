//! The wasmtime engine every gateway of a runtime runs on: the component model, the pooling
//! allocator (sized by the runtime's instance and memory limits) and how its slots are reset,
//! copy-on-write memory images, and epoch interruption with the thread that ticks it.

use std::time::Duration;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Bytes of a linear memory slot kept resident (reset in place) between instances.
const MEMORY_KEEP_RESIDENT: usize = 1 << 20;
/// Bytes of a table slot kept resident (reset in place) between instances.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// The engine for at most `max_instances` instances at once, each with at most
/// `max_memory_mib` MiB of linear memory.
pub(crate) fn new_engine(max_instances: u32, max_memory_mib: u32) -> Result<Engine, String> {
    let max_memory = (max_memory_mib.max(1) as usize) * 1024 * 1024;
    let instances = max_instances.max(1);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        // A Rust component has a handful of core instances (main module and shims).
        .total_core_instances(instances.saturating_mul(8))
        .max_core_instances_per_component(32)
        .total_memories(instances.saturating_mul(2))
        .max_memories_per_component(4)
        .total_tables(instances.saturating_mul(4))
        .max_tables_per_component(16)
        .total_stacks(instances)
        .max_memory_size(max_memory)
        .table_elements(100_000)
        .max_unused_warm_slots(64);
    configure_slot_reset(&mut pool, pagemap_scan_supported());
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        // Memory slots reserve only what the largest allowed memory needs (plus guard pages),
        // so many instances fit in the address space.
        .memory_reservation(max_memory as u64)
        .memory_reservation_for_growth(0)
        .max_wasm_stack(1024 * 1024)
        .async_stack_size(2 * 1024 * 1024);
    Engine::new(&config).map_err(|e| format!("{e:#}"))
}

/// How a freed pool slot is reset to its pristine state before the next instance uses it.
///
/// Every call runs in a fresh instance, so this reset is on the per-call path. By default
/// wasmtime `madvise`s a slot's dirty range away, and the next instance page-faults it back
/// in: most of the per-call time (plus TLB-shootdown IPIs). With the `PAGEMAP_SCAN` ioctl
/// (Linux >= 6.7) wasmtime finds exactly the pages the guest dirtied and restores those in
/// place (copied from the memory image, or zeroed), up to the keep-resident size; pages
/// beyond it are still `madvise`d. Either way the slot is back to its pristine image before
/// reuse, so nothing of one call is visible to the next (the sandbox tests check this).
///
/// Keep-resident is enabled only together with `PAGEMAP_SCAN`: without it wasmtime would
/// `memset` the whole first MiB on every reset, which is slower than `madvise` for our
/// guests. Cost: up to 1 MiB + 64 KiB stays resident per warm slot (`max_unused_warm_slots`).
fn configure_slot_reset(pool: &mut PoolingAllocationConfig, pagemap_scan: bool) {
    pool.pagemap_scan(if pagemap_scan {
        Enabled::Auto
    } else {
        Enabled::No
    });
    if pagemap_scan {
        pool.linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
            .table_keep_resident(TABLE_KEEP_RESIDENT);
    }
}

/// Whether the `PAGEMAP_SCAN` ioctl works in this process.
///
/// This asks wasmtime's own probe (it issues the ioctl on `/proc/self/pagemap`), which is
/// the check `Enabled::Auto` makes, rather than parsing the kernel version: a version number
/// says nothing about seccomp filters, gVisor-style kernels or backports, and a wrong "yes"
/// would turn on keep-resident without the scan (the slow `memset` path above). Called once
/// per engine.
fn pagemap_scan_supported() -> bool {
    PoolingAllocationConfig::is_pagemap_scan_available()
}

/// Starts a thread that advances the engine's epoch every `tick`, so guests in pure
/// computation yield (and are stopped at their deadline). It exits when the engine is dropped.
pub(crate) fn start_epoch_ticker(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("omnicrm-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(tick);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(
            "cannot start the epoch ticker thread: {e}; deadlines rely on the async timeout only"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_stay_resident_only_with_pagemap_scan() {
        let mut pool = PoolingAllocationConfig::new();
        configure_slot_reset(&mut pool, true);
        assert_eq!(pool.get_memory_keep_resident(), MEMORY_KEEP_RESIDENT);
        assert_eq!(pool.get_table_keep_resident(), TABLE_KEEP_RESIDENT);
        assert_eq!(pool.get_pagemap_scan(), Enabled::Auto);

        let mut pool = PoolingAllocationConfig::new();
        configure_slot_reset(&mut pool, false);
        assert_eq!(pool.get_memory_keep_resident(), 0);
        assert_eq!(pool.get_table_keep_resident(), 0);
        assert_eq!(pool.get_pagemap_scan(), Enabled::No);
    }

    #[test]
    fn engine_builds_with_the_detected_slot_reset() {
        new_engine(2, 8).expect("engine");
    }
}
