//! The `infragen` command; see [`infragen::cli`].

fn main() -> std::process::ExitCode {
    infragen::cli::main()
}
