//! The `infragen` command; see [`infragen::cli`].

/// jemalloc rather than glibc's allocator: a cascade allocates and frees many small
/// values (node views, JSON, SQL rows), and glibc's malloc/free took a fifth of its CPU
/// (the workspace's `Cargo.toml` has the figures).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    infragen::cli::main()
}
