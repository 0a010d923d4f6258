//! The WASI side of a run's sandbox: what a plugin sees of the system.
//!
//! Default deny. Every WASI 0.2 interface a Rust guest may import is linked,
//! but the context behind it grants nothing: no preopened directories, no
//! environment, no arguments, no stdin, no sockets (every address refused)
//! and no name lookup. A plugin that tries `std::fs::read` or
//! `TcpStream::connect` therefore gets an ordinary error inside the guest.
//!
//! Randomness and clocks are deterministic, so a run repeats exactly: the
//! random generators are seeded from sha256(generator, target id), the wall
//! clock reads a fixed instant and the monotonic clock advances by one
//! microsecond per read. Generators derive infrastructure from a design; they
//! have no business with real time or real entropy.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

/// The fixed instant the wall clock reads: 2024-01-01T00:00:00Z.
const FIXED_WALL_CLOCK: Duration = Duration::from_secs(1_704_067_200);

/// Largest `get-random-bytes` request a guest may make (WASI's default is
/// 64 MiB of host memory per call).
const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// The captured standard output and error of a run.
#[derive(Clone)]
pub struct CapturedOutput {
    /// What the guest wrote to stdout.
    pub stdout: MemoryOutputPipe,
    /// What the guest wrote to stderr (a Rust panic message lands here).
    pub stderr: MemoryOutputPipe,
}

impl CapturedOutput {
    fn new(capacity: usize) -> Self {
        Self {
            stdout: MemoryOutputPipe::new(capacity),
            stderr: MemoryOutputPipe::new(capacity),
        }
    }

    /// Stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.contents()).into_owned()
    }

    /// Stderr as text (lossy).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }
}

/// The 32-byte seed of a run's randomness.
pub fn seed_for(generator: &str, target_id: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"infragen-random-v1\0");
    hasher.update(generator.as_bytes());
    hasher.update(b"\0");
    hasher.update(target_id.as_bytes());
    hasher.finalize().into()
}

/// Builds the WASI context of one run; `output_capacity` bounds stdout and
/// stderr each (a write beyond it traps the guest).
pub fn wasi_context(
    generator: &str,
    target_id: &str,
    output_capacity: usize,
) -> (WasiCtx, CapturedOutput) {
    let output = CapturedOutput::new(output_capacity);
    let seed = seed_for(generator, target_id);
    let mut insecure_seed = [0u8; 16];
    insecure_seed.copy_from_slice(&seed[..16]);
    let mut secure_seed = seed;
    secure_seed[0] ^= 0x5a; // distinct stream from the insecure generator

    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(output.stdout.clone())
        .stderr(output.stderr.clone())
        .secure_random(StdRng::from_seed(secure_seed))
        .insecure_random(StdRng::from_seed(seed))
        .insecure_random_seed(u128::from_le_bytes(insecure_seed))
        .max_random_size(MAX_RANDOM_BYTES)
        .wall_clock(FixedWallClock)
        .monotonic_clock(SteppingMonotonicClock::default())
        .socket_addr_check(|_, _| Box::pin(async { false }))
        .allow_ip_name_lookup(false)
        .allow_tcp(false)
        .allow_udp(false);
    (builder.build(), output)
}

struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        FIXED_WALL_CLOCK
    }
}

#[derive(Default)]
struct SteppingMonotonicClock {
    reads: AtomicU64,
}

impl HostMonotonicClock for SteppingMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000
    }

    fn now(&self) -> u64 {
        // Nanoseconds: one microsecond per read, so loops that measure time
        // still see it pass, deterministically.
        self.reads
            .fetch_add(1, Ordering::Relaxed)
            .saturating_mul(1_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_per_generator_and_target_and_repeat_exactly() {
        let fabric_a = seed_for("generate-fabric", "a");
        assert_eq!(fabric_a, seed_for("generate-fabric", "a"));
        assert_ne!(fabric_a, seed_for("generate-fabric", "b"));
        assert_ne!(fabric_a, seed_for("generate-pod", "a"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(seed_for("ab", "c"), seed_for("a", "bc"));
    }

    #[test]
    fn the_monotonic_clock_advances_one_microsecond_per_read() {
        let clock = SteppingMonotonicClock::default();
        assert_eq!([clock.now(), clock.now(), clock.now()], [0, 1_000, 2_000]);
    }
}
