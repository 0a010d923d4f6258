//! The `infragen` command; see [`infragen::cli`].

/// mimalloc rather than glibc's allocator: a cascade allocates and frees many small
/// values (node views, JSON, SQL rows), and glibc's malloc/free took a fifth of its CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    infragen::cli::main()
}
