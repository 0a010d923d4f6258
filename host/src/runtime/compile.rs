//! Compiling a plugin under a time and memory bound.
//!
//! Cranelift's work grows with the shape of a function, not only its size: a few
//! megabytes of a pathological function kept it busy for seconds at hundreds of
//! megabytes. Compilation cannot be interrupted inside a process, so the bounded way
//! ([`Compiler::Isolated`]) compiles in a child process — the `infragen` binary itself,
//! run as a compile worker ([`serve_compile_worker`]) — that limits its own address space
//! (`RLIMIT_AS`) before it starts, and that the host kills when its time is up. The child
//! writes the precompiled artifact to its stdout; the host deserialises it with the same
//! engine configuration, or reports what bound was hit.
//!
//! [`Compiler::InProcess`] compiles on the calling thread, unbounded: for embedding the
//! library where no worker binary exists (its own tests). The `infragen` commands that
//! run generators always use the worker.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::policy::ByteSize;

/// How long compiling one plugin may take, by default.
pub const DEFAULT_COMPILE_TIME: Duration = Duration::from_secs(60);
/// How much memory compiling one plugin may use, by default.
pub const DEFAULT_COMPILE_MEMORY: u64 = 2 << 30;

/// The largest artifact a worker may hand back (this project's plugins compile to a few
/// megabytes).
const MAX_ARTIFACT: u64 = 512 << 20;
/// How much of a worker's stderr an error quotes.
const STDERR_CAP: usize = 4 << 10;

/// The exit code of a worker that read a component it could not compile (its stderr says
/// why).
const EXIT_REJECTED: i32 = 2;
/// The exit code of a worker that could not set up its bound.
const EXIT_SETUP: i32 = 3;

/// Where plugins are compiled.
#[derive(Debug, Clone, Default)]
pub enum Compiler {
    /// On the calling thread, without a bound.
    #[default]
    InProcess,
    /// In a child process, bounded.
    Isolated(IsolatedCompiler),
}

/// A compile worker: `program` with `args` runs [`serve_compile_worker`].
#[derive(Debug, Clone)]
pub struct IsolatedCompiler {
    /// The worker's executable (the `infragen` binary).
    pub program: PathBuf,
    /// The arguments that make it a compile worker; the memory bound is appended.
    pub args: Vec<OsString>,
    /// Its bounds.
    pub limits: CompileLimits,
}

/// What compiling one plugin may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileLimits {
    /// Wall time, from the worker's start to its artifact.
    pub time: Duration,
    /// Address space the worker may add to what it had when it started.
    pub memory: u64,
}

impl Default for CompileLimits {
    fn default() -> Self {
        CompileLimits {
            time: DEFAULT_COMPILE_TIME,
            memory: DEFAULT_COMPILE_MEMORY,
        }
    }
}

/// Why a bounded compilation produced no artifact.
#[derive(Debug, thiserror::Error)]
pub enum CompileFailure {
    /// The time bound ran out; the worker was killed.
    #[error(
        "compiling took longer than its bound of {limit:?} and was stopped (a pathological function?)"
    )]
    TimeLimit {
        /// The bound.
        limit: Duration,
    },
    /// The worker ran out of its address space and was stopped by the system.
    #[error(
        "compiling needed more than its memory bound of {} and was stopped (a pathological function?){}",
        ByteSize(*limit),
        quoted(.stderr)
    )]
    MemoryLimit {
        /// The bound.
        limit: u64,
        /// The end of what the worker printed.
        stderr: String,
    },
    /// The compiler refused the component.
    #[error("{message}")]
    Rejected {
        /// The compiler's reason.
        message: String,
    },
    /// The worker could not be run, or failed another way.
    #[error("the compile worker failed ({status}){}", quoted(.stderr))]
    Worker {
        /// What happened to it.
        status: String,
        /// The end of what it printed.
        stderr: String,
    },
}

fn quoted(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

impl IsolatedCompiler {
    /// Compiles `component` in a worker, bounded; returns the precompiled artifact.
    /// Blocks the calling thread until the worker ends.
    pub fn compile(&self, component: &[u8]) -> Result<Vec<u8>, CompileFailure> {
        let limits = self.limits;
        let worker_failed =
            |status: String, stderr: String| CompileFailure::Worker { status, stderr };
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .arg(limits.memory.to_string())
            // Its error is quoted: a backtrace would only bury it.
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| {
                worker_failed(
                    format!("cannot start `{}`: {error}", self.program.display()),
                    String::new(),
                )
            })?;
        let started = Instant::now();
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(worker_failed(
                "its pipes were not set up".into(),
                String::new(),
            ));
        };
        std::thread::scope(|scope| {
            // Feeding and draining happen beside the clock: a worker that stops reading
            // or writes without end still meets its deadline.
            scope.spawn(move || {
                // A worker that dies early closes the pipe; its exit status says why.
                let _ = stdin.write_all(component);
            });
            let artifact = scope.spawn(move || {
                let mut artifact = Vec::new();
                stdout
                    .take(MAX_ARTIFACT + 1)
                    .read_to_end(&mut artifact)
                    .map(|_| artifact)
            });
            let stderr = scope.spawn(move || {
                let mut text = Vec::new();
                let _ = stderr.take(1 << 20).read_to_end(&mut text);
                let text = String::from_utf8_lossy(&text).into_owned();
                tail(&text, STDERR_CAP).to_owned()
            });
            let status = loop {
                match child.try_wait() {
                    Ok(Some(status)) => break Ok(status),
                    Ok(None) if started.elapsed() >= limits.time => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break Err(CompileFailure::TimeLimit { limit: limits.time });
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                    Err(error) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break Err(worker_failed(
                            format!("cannot wait for it: {error}"),
                            String::new(),
                        ));
                    }
                }
            };
            let artifact = artifact.join();
            let stderr = stderr.join().unwrap_or_default();
            let status = status?;
            if !status.success() {
                return Err(classify(status, stderr, limits));
            }
            match artifact {
                Ok(Ok(artifact)) if artifact.len() as u64 <= MAX_ARTIFACT => Ok(artifact),
                Ok(Ok(_)) => Err(worker_failed(
                    format!("its artifact is larger than {}", ByteSize(MAX_ARTIFACT)),
                    stderr,
                )),
                Ok(Err(error)) => Err(worker_failed(
                    format!("reading its artifact: {error}"),
                    stderr,
                )),
                Err(_) => Err(worker_failed("its reader panicked".into(), stderr)),
            }
        })
    }
}

/// Why a worker exited unsuccessfully: its exit code or the signal that stopped it.
fn classify(status: ExitStatus, stderr: String, limits: CompileLimits) -> CompileFailure {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(EXIT_REJECTED), _) => CompileFailure::Rejected {
            message: stderr.trim().to_owned(),
        },
        // An allocation the address-space bound refused: Rust aborts (SIGABRT); a fault
        // on a mapping that could not grow is SIGSEGV or SIGBUS.
        (None, Some(libc::SIGABRT | libc::SIGSEGV | libc::SIGBUS)) => CompileFailure::MemoryLimit {
            limit: limits.memory,
            stderr,
        },
        _ => CompileFailure::Worker {
            status: status.to_string(),
            stderr,
        },
    }
}

/// The last `max` bytes of `text`, on a character boundary.
fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The compile worker's side: reads a component from stdin and configures the engine of
/// [`crate::runtime::engine`], then bounds its own address space to `memory` bytes more
/// than it uses now, compiles the component and writes the artifact to stdout. Returns the
/// process's exit code.
///
/// The bound is set once the component is read and the engine made, so that it bounds the
/// compiling alone: the allocator maps memory a segment of tens of megabytes at a time, and
/// a small bound set earlier would stop reading the component instead.
pub fn serve_compile_worker(memory: u64) -> i32 {
    let mut component = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut component) {
        eprintln!("cannot read the component: {error}");
        return EXIT_SETUP;
    }
    let engine = match super::engine::compile_only() {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("cannot configure the compiler: {error:#}");
            return EXIT_SETUP;
        }
    };
    if let Err(error) = limit_address_space(memory) {
        eprintln!("cannot bound the compiler's memory: {error}");
        return EXIT_SETUP;
    }
    let artifact = match engine.precompile_component(&component) {
        Ok(artifact) => artifact,
        Err(error) => {
            eprintln!("{error:#}");
            return EXIT_REJECTED;
        }
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&artifact).and_then(|()| stdout.flush()) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("cannot write the artifact: {error}");
            EXIT_SETUP
        }
    }
}

/// Sets `RLIMIT_AS` to the address space in use plus `extra` bytes.
fn limit_address_space(extra: u64) -> std::io::Result<()> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| std::io::Error::other("unreadable /proc/self/statm"))?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = u64::try_from(page).unwrap_or(4096);
    let limit = pages.saturating_mul(page).saturating_add(extra);
    let rlimit = libc::rlimit {
        rlim_cur: limit as libc::rlim_t,
        rlim_max: limit as libc::rlim_t,
    };
    // SAFETY: `rlimit` is a valid, initialised struct for the duration of the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_of_a_long_message_is_kept_on_a_character_boundary() {
        assert_eq!(tail("abc", 5), "abc");
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("aé", 1), "");
        assert_eq!(tail("aéb", 2), "b");
    }

    #[test]
    fn a_worker_that_cannot_start_is_named() {
        let compiler = IsolatedCompiler {
            program: PathBuf::from("/nonexistent/infragen"),
            args: Vec::new(),
            limits: CompileLimits::default(),
        };
        let failure = compiler.compile(b"\0asm").unwrap_err();
        assert!(
            failure
                .to_string()
                .starts_with("the compile worker failed (cannot start `/nonexistent/infragen`: "),
            "{failure}"
        );
    }

    #[test]
    fn a_worker_past_its_time_is_killed() {
        let compiler = IsolatedCompiler {
            program: PathBuf::from("sleep"),
            args: vec!["10".into()],
            limits: CompileLimits {
                time: Duration::from_millis(50),
                memory: 1 << 30,
            },
        };
        let started = Instant::now();
        let failure = compiler.compile(b"").unwrap_err();
        assert!(
            matches!(failure, CompileFailure::TimeLimit { .. }),
            "{failure}"
        );
        assert!(started.elapsed() < Duration::from_secs(10), "not killed");
    }
}
