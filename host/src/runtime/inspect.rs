//! Reading what a `.wasm` file claims to be before compiling it.
//!
//! Compiling untrusted bytes is the expensive and least hardened step (a
//! compile-time denial of service is outside wasmtime's threat model), so
//! everything that can be refused from the file's structure alone is refused
//! here: a core module, a component of another world, a component built
//! against an incompatible contract, or one importing capabilities this host
//! does not grant.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmparser::{Parser, Payload};

use crate::host_api::{MAX_MEMORIES_PER_RUN, MAX_TABLES_PER_RUN};

use crate::contract::{self, Version};

/// What a `.wasm` file is, read from its structure.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// Size of the file in bytes.
    pub size: u64,
    /// Lowercase hex sha256 of the bytes: the plugin's identity.
    pub digest: String,
    /// The component's top-level import names.
    pub imports: Vec<String>,
    /// The component's top-level export names.
    pub exports: Vec<String>,
    /// The world the component implements, when it is this host's.
    pub world: Option<String>,
    /// The contract version the component was built against, when it
    /// imports or exports any `infragen:generator` interface.
    pub contract_version: Option<String>,
    /// `Ok` when this host would load it, else the reason it is refused.
    #[serde(serialize_with = "serialize_verdict")]
    pub verdict: Result<(), Refusal>,
}

fn serialize_verdict<S: serde::Serializer>(
    verdict: &Result<(), Refusal>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match verdict {
        Ok(()) => serializer.serialize_str("accepted"),
        Err(refusal) => serializer.serialize_str(&refusal.to_string()),
    }
}

/// Why a file cannot be loaded as a generator plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not WebAssembly at all.
    #[error("not a WebAssembly file (it starts with {prefix})")]
    NotWasm {
        /// The first bytes, in hex.
        prefix: String,
    },
    /// A core module instead of a component.
    #[error(
        "this is a core WebAssembly module, not a component. Build the plugin with \
         `cargo build --target wasm32-wasip2` (rustup target add wasm32-wasip2), whose output \
         is already a component, or wrap a core module with `wasm-tools component new`"
    )]
    CoreModule,
    /// Larger than the configured cap.
    #[error("the file is {size} bytes, over the plugin size limit of {limit} bytes")]
    TooLarge {
        /// Actual size.
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// The bytes do not parse.
    #[error("the component is malformed: {0}")]
    Malformed(String),
    /// Built against a contract version this host cannot run.
    #[error(
        "built against {package}@{plugin}, but this host implements {package}@{host} \
         (it accepts plugins built against {range})"
    )]
    IncompatibleVersion {
        /// The contract package.
        package: &'static str,
        /// The version the plugin was built against.
        plugin: String,
        /// The version this host implements.
        host: Version,
        /// What this host accepts.
        range: String,
    },
    /// Not a generator: it does not export the `plugin` interface.
    #[error(
        "this component does not implement the world {package}/generator: it exports {exports}, \
         but a generator exports `{package}/plugin@{host}`. Build it against the infragen SDK \
         (crate infragen-sdk) or the WIT in wit/"
    )]
    OtherWorld {
        /// The contract package.
        package: &'static str,
        /// What it exports instead.
        exports: String,
        /// The version this host implements.
        host: Version,
    },
    /// A function too large to compile in bounded time and memory.
    #[error(
        "one of its functions is {size} bytes; a generator's functions may be at most {limit} \
         bytes each, since compiling one function costs more than linear time and memory in \
         its size (split it)"
    )]
    FunctionTooLarge {
        /// The largest function body.
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// Defines more memories or tables than a run may have.
    #[error(
        "it defines {memories} memories and {tables} tables; a generator may have at most \
         {max_memories} memories and {max_tables} tables (a Rust wasip2 component has one memory)",
        max_memories = MAX_MEMORIES_PER_RUN,
        max_tables = MAX_TABLES_PER_RUN
    )]
    TooManyResources {
        /// Memories its core modules define.
        memories: u32,
        /// Tables its core modules define.
        tables: u32,
    },
    /// Imports something the sandbox does not provide.
    #[error(
        "it imports {names}, which this host does not provide (a generator may import only \
         {package} interfaces and WASI 0.2 io, cli, clocks, random, filesystem and sockets)"
    )]
    UnknownImports {
        /// The contract package.
        package: &'static str,
        /// The offending import names.
        names: String,
    },
}

/// Reads `bytes` and decides whether this host accepts them, without
/// compiling anything.
pub fn inspect(bytes: &[u8], size_limit: u64) -> Inspection {
    let size = bytes.len() as u64;
    let digest = hex::encode(Sha256::digest(bytes));
    let mut inspection = Inspection {
        size,
        digest,
        imports: Vec::new(),
        exports: Vec::new(),
        world: None,
        contract_version: None,
        verdict: Ok(()),
    };
    inspection.verdict = examine(bytes, size_limit, &mut inspection);
    inspection
}

fn examine(bytes: &[u8], size_limit: u64, inspection: &mut Inspection) -> Result<(), Refusal> {
    if inspection.size > size_limit {
        return Err(Refusal::TooLarge {
            size: inspection.size,
            limit: size_limit,
        });
    }
    if Parser::is_core_wasm(bytes) {
        return Err(Refusal::CoreModule);
    }
    if !Parser::is_component(bytes) {
        let prefix = bytes
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>();
        return Err(Refusal::NotWasm {
            prefix: prefix.join(" "),
        });
    }
    let read = read_component(bytes)?;
    inspection.imports = read.imports;
    inspection.exports = read.exports;
    if read.largest_function > MAX_FUNCTION_BYTES {
        return Err(Refusal::FunctionTooLarge {
            size: read.largest_function,
            limit: MAX_FUNCTION_BYTES,
        });
    }
    if read.memories as usize > MAX_MEMORIES_PER_RUN || read.tables as usize > MAX_TABLES_PER_RUN {
        return Err(Refusal::TooManyResources {
            memories: read.memories,
            tables: read.tables,
        });
    }

    let ours = |name: &&String| {
        contract::split_interface_name(name)
            .is_some_and(|(package, _, _)| package == contract::PACKAGE)
    };
    let our_names: Vec<&String> = inspection
        .imports
        .iter()
        .chain(&inspection.exports)
        .filter(ours)
        .collect();
    for name in &our_names {
        let version = contract::split_interface_name(name).and_then(|(_, _, version)| version);
        let parsed = version.and_then(Version::parse);
        match parsed {
            Some(plugin) if contract::HOST_VERSION.accepts(plugin) => {
                inspection
                    .contract_version
                    .get_or_insert_with(|| plugin.to_string());
            }
            _ => {
                let plugin = version.unwrap_or("an unversioned package").to_owned();
                inspection.contract_version = Some(plugin.clone());
                return Err(Refusal::IncompatibleVersion {
                    package: contract::PACKAGE,
                    plugin,
                    host: contract::HOST_VERSION,
                    range: contract::HOST_VERSION.accepted_range(),
                });
            }
        }
    }

    let exports_plugin = inspection.exports.iter().any(|name| {
        contract::split_interface_name(name).is_some_and(|(package, interface, _)| {
            package == contract::PACKAGE && interface == contract::EXPORTED_INTERFACE
        })
    });
    if !exports_plugin {
        let exports = if inspection.exports.is_empty() {
            "nothing".to_owned()
        } else {
            inspection
                .exports
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(Refusal::OtherWorld {
            package: contract::PACKAGE,
            exports,
            host: contract::HOST_VERSION,
        });
    }
    inspection.world = Some(format!("{}/generator", contract::PACKAGE));

    let unknown: Vec<String> = inspection
        .imports
        .iter()
        .filter(|name| !import_is_provided(name))
        .map(|name| format!("`{name}`"))
        .collect();
    if !unknown.is_empty() {
        return Err(Refusal::UnknownImports {
            package: contract::PACKAGE,
            names: unknown.join(", "),
        });
    }
    Ok(())
}

/// The WASI 0.2 packages the sandbox links. Each is linked with every
/// capability denied (no preopens, no environment, no network); they exist so
/// that a plugin using `std::fs` or `std::net` gets an error inside the guest
/// instead of failing to instantiate. `wasi:http` is deliberately absent.
const LINKED_WASI_PACKAGES: &[&str] = &[
    "wasi:io",
    "wasi:cli",
    "wasi:clocks",
    "wasi:random",
    "wasi:filesystem",
    "wasi:sockets",
];

/// Whether the sandbox links something under this import name: the contract's
/// own interfaces and WASI 0.2 (whose every capability is denied or emptied).
fn import_is_provided(name: &str) -> bool {
    match contract::split_interface_name(name) {
        Some((package, interface, _)) if package == contract::PACKAGE => {
            contract::IMPORTED_INTERFACES.contains(&interface)
        }
        Some((package, _, version)) => {
            LINKED_WASI_PACKAGES.contains(&package)
                && version.is_some_and(|v| v.starts_with("0.2."))
        }
        None => false,
    }
}

/// What one pass over a component finds: its top-level import and export names, and the
/// memories and tables its core modules define.
struct Read {
    imports: Vec<String>,
    exports: Vec<String>,
    memories: u32,
    tables: u32,
    /// The largest function body of any core module, in bytes.
    largest_function: u64,
}

/// The largest function body a plugin may have. Cranelift's time and memory grow faster
/// than linearly with one function's size (a 3.4 MB function compiled for 6–13 s at
/// 640 MB); this project's plugins are 50–260 KB whole.
pub const MAX_FUNCTION_BYTES: u64 = 1 << 20;

fn read_component(bytes: &[u8]) -> Result<Read, Refusal> {
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let (mut memories, mut tables) = (0u32, 0u32);
    let mut largest_function = 0u64;
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|error| Refusal::Malformed(error.to_string()))?;
        match payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    let import = import.map_err(|error| Refusal::Malformed(error.to_string()))?;
                    imports.push(import.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    let export = export.map_err(|error| Refusal::Malformed(error.to_string()))?;
                    exports.push(export.name.name.to_owned());
                }
            }
            Payload::MemorySection(section) => memories = memories.saturating_add(section.count()),
            Payload::TableSection(section) => tables = tables.saturating_add(section.count()),
            Payload::CodeSectionEntry(body) => {
                largest_function = largest_function.max(body.range().len() as u64);
            }
            _ => {}
        }
    }
    Ok(Read {
        imports,
        exports,
        memories,
        tables,
        largest_function,
    })
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "size:             {} bytes", self.size)?;
        writeln!(f, "digest:           sha256:{}", self.digest)?;
        writeln!(
            f,
            "world:            {}",
            self.world.as_deref().unwrap_or("(not a generator)")
        )?;
        writeln!(
            f,
            "contract version: {}",
            self.contract_version.as_deref().unwrap_or("(none)")
        )?;
        writeln!(f, "imports:")?;
        for name in &self.imports {
            writeln!(f, "  {name}")?;
        }
        writeln!(f, "exports:")?;
        for name in &self.exports {
            writeln!(f, "  {name}")?;
        }
        match &self.verdict {
            Ok(()) => write!(
                f,
                "accepted:         yes (this host implements {}@{})",
                contract::PACKAGE,
                contract::HOST_VERSION
            ),
            Err(refusal) => write!(f, "accepted:         no: {refusal}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid core module: magic and version 1.
    const EMPTY_CORE_MODULE: &[u8] = b"\0asm\x01\0\0\0";
    /// The smallest valid component: magic, version 0x0d, layer 1.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    /// A component whose one core module defines `memories` memories.
    fn component_with_memories(memories: u32) -> Vec<u8> {
        let mut section = wasm_encoder::MemorySection::new();
        for _ in 0..memories {
            section.memory(wasm_encoder::MemoryType {
                minimum: 1,
                maximum: None,
                memory64: false,
                shared: false,
                page_size_log2: None,
            });
        }
        let mut module = wasm_encoder::Module::new();
        module.section(&section);
        let mut component = wasm_encoder::Component::new();
        component.section(&wasm_encoder::ModuleSection(&module));
        component.finish()
    }

    #[test]
    fn a_component_with_a_function_over_the_cap_is_refused_before_compiling() {
        let mut types = wasm_encoder::TypeSection::new();
        types.ty().function([], []);
        let mut functions = wasm_encoder::FunctionSection::new();
        functions.function(0);
        let mut body = wasm_encoder::Function::new([]);
        // (1 MiB + 1) nops: a body just over the cap.
        for _ in 0..=MAX_FUNCTION_BYTES {
            body.instruction(&wasm_encoder::Instruction::Nop);
        }
        body.instruction(&wasm_encoder::Instruction::End);
        let mut code = wasm_encoder::CodeSection::new();
        code.function(&body);
        let mut module = wasm_encoder::Module::new();
        module.section(&types).section(&functions).section(&code);
        let mut component = wasm_encoder::Component::new();
        component.section(&wasm_encoder::ModuleSection(&module));
        let inspection = inspect(&component.finish(), u64::MAX);
        assert_eq!(
            inspection.verdict.map_err(|refusal| refusal.to_string()),
            Err(
                "one of its functions is 1048579 bytes; a generator's functions may be at most \
                 1048576 bytes each, since compiling one function costs more than linear time \
                 and memory in its size (split it)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn a_component_with_more_memories_than_a_run_may_have_is_refused() {
        let inspection = inspect(&component_with_memories(8), u64::MAX);
        assert_eq!(
            inspection.verdict.map_err(|refusal| refusal.to_string()),
            Err(
                "it defines 8 memories and 0 tables; a generator may have at most 2 memories \
                 and 4 tables (a Rust wasip2 component has one memory)"
                    .to_owned()
            )
        );
        // Two are within the budget: refused for something else (it exports nothing).
        let two = inspect(&component_with_memories(2), u64::MAX);
        assert!(
            matches!(two.verdict, Err(Refusal::OtherWorld { .. })),
            "{:?}",
            two.verdict
        );
    }

    #[test]
    fn a_core_module_is_refused_with_how_to_build_a_component() {
        let inspection = inspect(EMPTY_CORE_MODULE, 1 << 20);
        let refusal = inspection.verdict.expect_err("refused");
        assert_eq!(refusal, Refusal::CoreModule);
        assert!(
            refusal
                .to_string()
                .contains("cargo build --target wasm32-wasip2")
        );
    }

    #[test]
    fn text_that_is_not_wasm_names_its_first_bytes() {
        let inspection = inspect(b"#!/bin/sh\n", 1 << 20);
        assert_eq!(
            inspection.verdict.expect_err("refused").to_string(),
            "not a WebAssembly file (it starts with 23 21 2f 62 69 6e 2f 73)"
        );
    }

    #[test]
    fn a_file_over_the_size_cap_is_refused_before_parsing() {
        let inspection = inspect(EMPTY_COMPONENT, 4);
        assert_eq!(
            inspection.verdict.expect_err("refused"),
            Refusal::TooLarge { size: 8, limit: 4 }
        );
    }

    #[test]
    fn an_empty_component_is_of_another_world() {
        let inspection = inspect(EMPTY_COMPONENT, 1 << 20);
        let message = inspection.verdict.expect_err("refused").to_string();
        assert!(message.starts_with("this component does not implement the world infragen:generator/generator: it exports nothing"), "{message}");
    }

    #[test]
    fn only_contract_and_wasi_0_2_imports_are_provided() {
        assert!(import_is_provided("infragen:generator/nodes@0.1.0"));
        assert!(import_is_provided("wasi:io/streams@0.2.6"));
        assert!(!import_is_provided("wasi:http/outgoing-handler@0.2.6"));
        assert!(!import_is_provided("wasi:io/streams@0.3.0"));
        assert!(!import_is_provided("infragen:generator/secrets@0.1.0"));
        assert!(!import_is_provided("acme:widget/api@1.0.0"));
        assert!(!import_is_provided("bare-function"));
    }
}
