//! A hostile generator: each run attacks the sandbox in the way its `attack`
//! parameter names, so the host's tests can show that the attack fails that
//! run cleanly (or is harmless) and never harms the host.
//!
//! | `attack`         | what the guest does                                          |
//! |------------------|--------------------------------------------------------------|
//! | `none`           | logs `harmless`, returns Ok                                  |
//! | `infinite-loop`  | spins forever                                                |
//! | `memory-bomb`    | allocates and touches 1 MiB chunks forever                   |
//! | `deep-recursion` | recurses without bound (not a tail call)                     |
//! | `panic`          | `panic!("hostile guest panicked on purpose")`               |
//! | `huge-argument`  | upserts a 50 MiB payload                                     |
//! | `log-flood`      | logs 10 MiB in 1 KiB `info` lines                            |
//! | `stdout-flood`   | prints 10 MiB to stdout                                      |
//! | `call-flood`     | calls `tracking.checksum` 10 million times                   |
//! | `open-file`      | reads `/etc/passwd`: Ok if it could (a leak), else an error  |
//! | `read-env`       | Ok if it sees any environment variable (a leak), else error  |
//! | `open-socket`    | connects to 127.0.0.1:80 and resolves `localhost`: Ok if either works |
//! | `random`         | logs `random=<u64>` derived from the WASI random seed         |
//! | `huge-error`     | returns an error whose message is 16 MiB                     |
//! | `scribble`       | fills a 2 MiB heap block and 16 MiB of memory it grows with `0x5a`, logs `scribbled <first page> <pages>` |
//! | `peek`           | grows 16 MiB of memory and reads it: an error naming the first byte that is not zero, else logs `clean <first page> <pages>` |
//! | anything else    | an attack of [`ownership`], on the widgets fixture repository, or `invalid-input` naming the attack |
//!
//! Every loop goes through `core::hint::black_box` so that the optimiser
//! cannot prove it useless and delete it.

use core::hint::black_box;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{TcpStream, ToSocketAddrs};

use infragen_sdk::bindings::infragen::generator::nodes as raw_nodes;
use infragen_sdk::{Context, Error, Generator, Result, info, tracking};
use serde_json::Value;

mod ownership;

const MIB: usize = 1 << 20;

struct Hostile;

impl Generator for Hostile {
    fn generate(ctx: &Context, _data: Value) -> Result<()> {
        let attack = ctx.param_str("attack")?;
        if let Some(done) = ownership::attack(ctx, attack) {
            return done;
        }
        match attack {
            "none" => {
                info!("harmless");
                Ok(())
            }
            "infinite-loop" => infinite_loop(),
            "memory-bomb" => memory_bomb(),
            "deep-recursion" => {
                black_box(recurse(black_box(0)));
                Ok(())
            }
            "panic" => panic!("hostile guest panicked on purpose"),
            "huge-error" => Err(Error::generator(format!(
                "hostile error {}",
                "e".repeat(16 * MIB)
            ))),
            "huge-argument" => huge_argument(),
            "scribble" => {
                let mut block = vec![0u8; 2 * MIB];
                block.fill(MARK);
                black_box(&block);
                drop(block);
                let first = grow_and(|region| region.fill(MARK))?;
                info!("scribbled {first} {LEFTOVER_PAGES}");
                Ok(())
            }
            "peek" => {
                let mut found = None;
                let first = grow_and(|region| {
                    found = region
                        .iter()
                        .position(|byte| *byte != 0)
                        .map(|at| (at, region[at]));
                })?;
                match found {
                    Some((at, byte)) => Err(Error::generator(format!(
                        "byte {byte:#04x} at {} (page {first} + {at}) was left by an earlier run",
                        first * PAGE + at
                    ))),
                    None => {
                        info!("clean {first} {LEFTOVER_PAGES}");
                        Ok(())
                    }
                }
            }
            "log-flood" => {
                let line = "x".repeat(1024);
                for _ in 0..10 * 1024 {
                    info!("{}", black_box(&line));
                }
                Ok(())
            }
            "stdout-flood" => {
                // 1023 characters plus the newline: 1 KiB a line, 10 MiB in all.
                let line = "o".repeat(1023);
                for _ in 0..10 * 1024 {
                    println!("{}", black_box(&line));
                }
                Ok(())
            }
            "call-flood" => {
                for _ in 0..10_000_000u32 {
                    black_box(tracking::checksum());
                }
                Ok(())
            }
            "open-file" => match std::fs::read("/etc/passwd") {
                Ok(_) => Ok(()),
                Err(error) => Err(Error::generator(format!("open /etc/passwd: {error}"))),
            },
            "read-env" => {
                let any_variable = std::env::vars().next().is_some();
                match std::env::var("HOME") {
                    Ok(_) => Ok(()),
                    Err(_) if any_variable => Ok(()),
                    Err(error) => Err(Error::generator(format!("environment is empty: {error}"))),
                }
            }
            "open-socket" => {
                let socket = TcpStream::connect("127.0.0.1:80");
                let lookup = ("localhost", 80).to_socket_addrs();
                match (socket, lookup) {
                    (Ok(_), _) | (_, Ok(_)) => Ok(()),
                    (Err(socket), Err(lookup)) => Err(Error::generator(format!(
                        "socket: {socket}; lookup: {lookup}"
                    ))),
                }
            }
            "random" => {
                let random = RandomState::new().hash_one(42u64);
                info!("random={random}");
                Ok(())
            }
            unknown => Err(Error::invalid_input(format!(
                "unknown attack '{unknown}' (expected none, infinite-loop, memory-bomb, \
                 deep-recursion, panic, huge-argument, log-flood, stdout-flood, call-flood, \
                 open-file, read-env, open-socket, random, scribble, peek, or one of the ownership \
                 attacks)"
            ))),
        }
    }
}

/// What `scribble` writes.
const MARK: u8 = 0x5a;
/// A WebAssembly page.
const PAGE: usize = 64 << 10;
/// How much memory `scribble` and `peek` grow (16 MiB).
const LEFTOVER_PAGES: usize = 256;

/// Grows the linear memory by [`LEFTOVER_PAGES`] and gives the new pages to `with`, as
/// bytes: the first new page's number.
fn grow_and(with: impl FnOnce(&mut [u8])) -> Result<usize> {
    let first = core::arch::wasm32::memory_grow(0, LEFTOVER_PAGES);
    if first == usize::MAX {
        return Err(Error::generator(format!(
            "could not grow the memory by {LEFTOVER_PAGES} pages"
        )));
    }
    // SAFETY: the pages were just added to the memory and nothing else knows of them: the
    // allocator grows the memory past them when it needs more.
    let region = unsafe {
        core::slice::from_raw_parts_mut((first * PAGE) as *mut u8, LEFTOVER_PAGES * PAGE)
    };
    with(black_box(region));
    Ok(first)
}

fn infinite_loop() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

fn memory_bomb() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; MIB];
        // Write every page so the memory is really committed, not just reserved.
        for page in chunk.iter_mut().step_by(4096) {
            *page = 1;
        }
        hoard.push(black_box(chunk));
    }
}

/// Unbounded, and not a tail call: the addition happens after the inner call
/// returns, and the frame keeps a buffer alive across it.
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 8]);
    if black_box(depth == u64::MAX) {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[(depth % 8) as usize])
}

/// Sends a 50 MiB upsert payload through the raw binding (a JSON object with
/// one 50 MiB string), built in place so the guest itself needs only ~50 MiB.
fn huge_argument() -> Result<()> {
    const PREFIX: &str = r#"{"blob":{"value":""#;
    const SUFFIX: &str = r#""}}"#;
    let mut payload = String::with_capacity(50 * MIB);
    payload.push_str(PREFIX);
    let fill = 50 * MIB - PREFIX.len() - SUFFIX.len();
    payload.extend(core::iter::repeat_n('a', fill));
    payload.push_str(SUFFIX);
    raw_nodes::upsert("HostileBlob", black_box(&payload))?;
    Ok(())
}

infragen_sdk::export_generator!(Hostile);
