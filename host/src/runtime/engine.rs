//! The one wasmtime `Engine` of a process, configured for untrusted plugins.

use std::time::Duration;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
    ProfilingStrategy,
};

use crate::host_api::{MAX_CORE_INSTANCES_PER_RUN, MAX_MEMORIES_PER_RUN, MAX_TABLES_PER_RUN};
use crate::policy::MAX_MEMORY;

/// How often the epoch advances. A run's deadline is checked at each tick, so
/// this bounds how late a runaway guest is stopped (measured: ~1 tick).
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Set (to anything) in the environment, the engine names the plugins' compiled functions
/// in `/tmp/perf-<pid>.map`, where `perf report` finds them: without it, a time profile
/// shows the plugins' code as unknown addresses.
pub const PERFMAP_VARIABLE: &str = "INFRAGEN_PERFMAP";

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    /// Pre-reserved slots: instantiation in microseconds.
    Pooling,
    /// Fallback when the address space for the pool cannot be reserved
    /// (e.g. under a low `ulimit -v`): slower, otherwise identical.
    OnDemand,
}

fn base_config() -> Config {
    let mut config = Config::new();
    // Wall-clock deadlines: checked at every epoch tick; ~0–10% overhead.
    config.epoch_interruption(true);
    // Fuel is always metered (overhead within noise on 48.x) so that a policy
    // can set an instruction budget per generator and every run reports the
    // instructions it used; an unlimited run gets u64::MAX.
    config.consume_fuel(true);
    // The component-model async machinery is not used by this contract; with
    // it off, host and export calls are 2–4x cheaper on wasmtime 48.
    config.concurrency_support(false);
    config.wasm_component_model(true);
    config.cranelift_opt_level(OptLevel::Speed);
    // Same inputs, same outputs: NaN bit patterns and relaxed SIMD would
    // otherwise depend on the CPU.
    config.cranelift_nan_canonicalization(true);
    config.relaxed_simd_deterministic(true);
    if std::env::var_os(PERFMAP_VARIABLE).is_some() {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    config
}

/// How much of a memory slot stays resident for the next run where Linux tells which pages
/// a run wrote (`PAGEMAP_SCAN`, 6.7 and later): those pages, up to this much, are zeroed in
/// place and the rest given back. A generator's heap (its queries' answers, its payloads)
/// then stays mapped from run to run instead of being faulted in again by every run: on
/// the cascade bench, alternated on one binary, a seed build took 57.0 µs of CPU per node
/// write against 59.7 with the old reset (1 MiB zeroed, the rest given back), and 8 MiB
/// measured as 32 did.
const KEEP_RESIDENT_SCANNED: usize = 8 << 20;

/// Where pages cannot be scanned, how much of a memory slot is zeroed with `memset` (every
/// byte of it, written or not) and kept resident; the rest is given back to the kernel.
const KEEP_RESIDENT_ZEROED: usize = 1 << 20;

fn pooling(max_concurrent_runs: u32) -> PoolingAllocationConfig {
    let runs = max_concurrent_runs.max(1);
    let mut pooling = PoolingAllocationConfig::default();
    // A Rust wasip2 component is one main module plus a few small shim
    // modules: budget 8 core instances, 2 memories and 4 tables per run, and
    // no component may take more than one run's budget, so a run holding its
    // slots never makes another fail to instantiate (the runtime admits at
    // most `runs` at once).
    let (memories, tables, instances) = (
        MAX_MEMORIES_PER_RUN as u32,
        MAX_TABLES_PER_RUN as u32,
        MAX_CORE_INSTANCES_PER_RUN as u32,
    );
    pooling
        .total_component_instances(runs)
        .total_core_instances(instances * runs)
        .total_memories(memories * runs)
        .total_tables(tables * runs)
        .max_memories_per_component(memories)
        .max_tables_per_component(tables)
        .max_core_instances_per_component(instances)
        .total_stacks(runs)
        .max_memory_size(MAX_MEMORY as usize)
        .table_keep_resident(64 << 10);
    // Keep some of each slot resident so a reused slot does not fault its pages back in;
    // either way a run starts from memory zeroed or given back, never from another run's
    // (tests/sandbox.rs `a_run_finds_nothing_an_earlier_run_left_in_its_memory`).
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pooling
            .pagemap_scan(Enabled::Yes)
            .linear_memory_keep_resident(KEEP_RESIDENT_SCANNED);
    } else {
        pooling.linear_memory_keep_resident(KEEP_RESIDENT_ZEROED);
    }
    pooling
}

/// Builds the engine: pooling allocator sized for `max_concurrent_runs`,
/// falling back to on-demand allocation when the pool cannot be reserved.
pub fn build(max_concurrent_runs: u32) -> wasmtime::Result<(Engine, Allocator)> {
    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(
        max_concurrent_runs,
    )));
    match Engine::new(&config) {
        Ok(engine) => Ok((engine, Allocator::Pooling)),
        Err(error) => {
            tracing::warn!(%error, "pooling allocator unavailable; falling back to on-demand allocation");
            let engine = Engine::new(&base_config())?;
            Ok((engine, Allocator::OnDemand))
        }
    }
}

/// An engine that only compiles (a compile worker's, see [`super::compile`]): the same
/// code generation as [`build`]'s, so its artifacts load there, without reserving an
/// instance pool, and on one thread, so that its memory is the compilation's.
pub fn compile_only() -> wasmtime::Result<Engine> {
    let mut config = base_config();
    config.parallel_compilation(false);
    Engine::new(&config)
}

/// Starts the thread that advances the engine's epoch every [`EPOCH_TICK`].
/// It holds only a weak reference and ends when the engine is dropped.
///
/// Without it no deadline could stop a guest spinning in a loop (it would
/// never yield to the timeout around the run), so failing to start it is an
/// error, not a warning.
pub fn start_epoch_ticker(engine: &Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("infragen-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .map(drop)
}
