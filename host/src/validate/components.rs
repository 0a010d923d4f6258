//! Each definition's `file_path`: a WebAssembly component this host would
//! load, judged from the file's structure alone (no engine, no compiling),
//! exactly as [`crate::runtime::inspect`] judges it before a run.

use super::Problem;
use super::repository::{Config, Files, ReadError};
use crate::runtime::{self, inspect};

pub(crate) fn check(
    config: &Config,
    files: &Files,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<Problem>,
) {
    for definition in &config.definitions {
        let generator = &definition.name.text;
        let path = &definition.file_path.text;
        let at = |message: String| Problem::at(&config.file, definition.file_path.line, message);
        // An Infrahub repository's Python generator: `sync` and `serve` import its
        // definition (trigger rules may name it) and leave running it to infrahubctl.
        if path.ends_with(".py") {
            match files.text(path) {
                Ok(_) => notes.push(at(format!(
                    "generator `{generator}`: `{path}` is a Python generator, which infragen \
                     imports but does not run; run it with infrahubctl against `infragen serve`"
                ))),
                Err(error) => problems.push(at(format!(
                    "generator `{generator}`: file_path `{path}` {error}"
                ))),
            }
            continue;
        }
        if !path.ends_with(".wasm") {
            problems.push(at(format!(
                "generator `{generator}`: file_path `{path}` is not a .wasm file; a generator \
                 run by infragen is a WebAssembly component (build it for wasm32-wasip2 and \
                 point file_path at the .wasm)"
            )));
            continue;
        }
        match files.bytes(path, runtime::DEFAULT_MAX_PLUGIN_SIZE) {
            Ok(bytes) => {
                let inspection = inspect::inspect(&bytes, runtime::DEFAULT_MAX_PLUGIN_SIZE);
                if let Err(refusal) = inspection.verdict {
                    problems.push(at(format!(
                        "generator `{generator}`: `{path}` is not a component this host can \
                         run: {refusal}"
                    )));
                }
            }
            Err(ReadError::Missing) => problems.push(at(format!(
                "generator `{generator}`: file_path `{path}` does not exist; has the component \
                 been built?{}",
                build_hint(path)
            ))),
            Err(ReadError::TooLarge(size)) => problems.push(at(format!(
                "generator `{generator}`: `{path}` is not a component this host can run: {}",
                runtime::Refusal::TooLarge {
                    size,
                    limit: runtime::DEFAULT_MAX_PLUGIN_SIZE,
                }
            ))),
            Err(error) => problems.push(at(format!(
                "generator `{generator}`: file_path `{path}` {error}"
            ))),
        }
    }
}

/// For the layout `plugin new` creates (`plugins/NAME/target/wasm32-wasip2/
/// release/…`), the command that builds it.
fn build_hint(path: &str) -> String {
    match path.split_once("/target/wasm32-wasip2/release/") {
        Some((crate_dir, _)) => format!(
            " (`cargo build --release --target wasm32-wasip2 --manifest-path {crate_dir}/Cargo.toml`)"
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaffolded_layout_gets_its_build_command() {
        assert_eq!(
            build_hint("plugins/notes/target/wasm32-wasip2/release/notes.wasm"),
            " (`cargo build --release --target wasm32-wasip2 --manifest-path plugins/notes/Cargo.toml`)"
        );
        assert_eq!(build_hint("target/wasm32-wasip2/plugin/x.wasm"), "");
    }
}
