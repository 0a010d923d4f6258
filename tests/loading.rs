//! What the runtime accepts as a plugin, what it refuses and with which
//! message, and that a compiled plugin is never compiled twice.

use std::path::Path;

use infragen::runtime::{LoadError, Refusal, RuntimeStats};
use infragen_tests::{guest, runtime};

fn refusal(result: Result<infragen::runtime::Plugin, LoadError>) -> (String, Refusal) {
    match result {
        Err(LoadError::Refused { refusal, .. }) => {
            let message = refusal.to_string();
            (message, refusal)
        }
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, the plugin loaded"),
    }
}

#[tokio::test]
async fn a_core_module_is_refused_with_instructions_to_build_a_component() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("core.wasm");
    std::fs::write(&path, b"\0asm\x01\0\0\0").expect("write");
    let (message, refusal) = refusal(runtime(None).load(&path).await);
    assert_eq!(refusal, Refusal::CoreModule);
    assert_eq!(
        message,
        "this is a core WebAssembly module, not a component. Build the plugin with \
         `cargo build --target wasm32-wasip2` (rustup target add wasm32-wasip2), whose output \
         is already a component, or wrap a core module with `wasm-tools component new`"
    );
}

#[tokio::test]
async fn a_component_of_another_world_is_refused_naming_what_it_exports() {
    let (message, _) = refusal(runtime(None).load(&guest("other-world-guest")).await);
    assert_eq!(
        message,
        "this component does not implement the world infragen:generator/generator: it exports \
         `hello`, but a generator exports `infragen:generator/plugin@0.1.0`. Build it against \
         the infragen SDK (crate infragen-sdk) or the WIT in wit/"
    );
}

#[tokio::test]
async fn a_plugin_built_against_another_major_version_is_refused_naming_both_versions() {
    let (message, _) = refusal(runtime(None).load(&guest("future-major-guest")).await);
    assert_eq!(
        message,
        "built against infragen:generator@1.0.0, but this host implements \
         infragen:generator@0.1.0 (it accepts plugins built against 0.1.0 to 0.1.0)"
    );
}

#[tokio::test]
async fn a_file_over_the_size_cap_is_refused_without_reading_it_whole() {
    let runtime = infragen::runtime::Runtime::builder()
        .cache_dir(None)
        .max_plugin_size(1024)
        .build()
        .expect("runtime");
    let path = guest("example-generator");
    let size = std::fs::metadata(&path).expect("metadata").len();
    let (message, _) = refusal(runtime.load(&path).await);
    assert_eq!(
        message,
        format!("the file is {size} bytes, over the plugin size limit of 1024 bytes")
    );
}

#[tokio::test]
async fn a_missing_file_names_the_path() {
    let error = match runtime(None)
        .load(Path::new("/nonexistent/plugin.wasm"))
        .await
    {
        Err(error) => error.to_string(),
        Ok(_) => panic!("a missing file cannot load"),
    };
    assert_eq!(
        error,
        "cannot read plugin /nonexistent/plugin.wasm: No such file or directory (os error 2)"
    );
}

#[tokio::test]
async fn a_second_load_in_the_same_process_reuses_the_loaded_plugin() {
    let cache = tempfile::tempdir().expect("temp dir");
    let runtime = runtime(Some(cache.path()));
    let path = guest("example-generator");
    runtime.load(&path).await.expect("first load");
    runtime.load(&path).await.expect("second load");
    assert_eq!(
        runtime.stats(),
        RuntimeStats {
            compiled: 1,
            disk_hits: 0,
            memory_hits: 1
        }
    );
}

#[tokio::test]
async fn a_new_process_loads_a_known_plugin_from_the_cache_without_compiling() {
    let cache = tempfile::tempdir().expect("temp dir");
    let path = guest("example-generator");
    let first = runtime(Some(cache.path()));
    first.load(&path).await.expect("first load compiles");
    assert_eq!(first.stats().compiled, 1);

    let second = runtime(Some(cache.path()));
    let plugin = second.load(&path).await.expect("second load");
    assert_eq!(
        second.stats(),
        RuntimeStats {
            compiled: 0,
            disk_hits: 1,
            memory_hits: 0
        }
    );
    assert_eq!(
        plugin.inspection().contract_version.as_deref(),
        Some("0.1.0")
    );
}

/// The artifact files (`*.cwasm` and `*.cwasm.mac`) in `dir`.
fn artifacts(dir: &std::path::Path) -> std::collections::BTreeSet<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .expect("cache dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            let name = path.to_string_lossy();
            name.ends_with(".cwasm") || name.ends_with(".cwasm.mac")
        })
        .collect()
}

#[tokio::test]
async fn an_artifact_swapped_for_another_plugins_is_compiled_again_not_run() {
    let cache = tempfile::tempdir().expect("temp dir");
    let victim = guest("example-generator");
    let intruder = guest("hostile-generator");
    runtime(Some(cache.path()))
        .load(&victim)
        .await
        .expect("victim compiles");
    let victim_files = artifacts(cache.path());
    runtime(Some(cache.path()))
        .load(&intruder)
        .await
        .expect("intruder compiles");
    let intruder_files: Vec<_> = artifacts(cache.path())
        .difference(&victim_files)
        .cloned()
        .collect();
    assert_eq!(victim_files.len(), 2, "an artifact and its MAC");
    // The intruder's artifact (and its MAC) under the victim's names.
    for (from, to) in intruder_files.iter().zip(&victim_files) {
        std::fs::copy(from, to).expect("swap");
    }

    let first = runtime(Some(cache.path()));
    let plugin = first.load(&victim).await.expect("the victim loads");
    assert_eq!(
        first.stats(),
        RuntimeStats {
            compiled: 1,
            disk_hits: 0,
            memory_hits: 0
        },
        "compiled again, the swapped artifact not loaded"
    );
    assert_eq!(
        plugin.inspection().contract_version.as_deref(),
        Some("0.1.0")
    );
    let again = runtime(Some(cache.path()));
    again.load(&victim).await.expect("cached again");
    assert_eq!(
        again.stats().disk_hits,
        1,
        "the recompiled artifact is trusted"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_cache_directory_others_may_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().expect("temp dir");
    let cache = parent.path().join("shared");
    std::fs::create_dir(&cache).expect("cache dir");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let path = guest("example-generator");
    for _ in 0..2 {
        let runtime = runtime(Some(&cache));
        runtime.load(&path).await.expect("loads by compiling");
        assert_eq!(runtime.stats().compiled, 1);
    }
    assert!(artifacts(&cache).is_empty(), "nothing written there");
}

#[tokio::test]
async fn a_corrupt_cache_entry_is_recompiled_not_trusted() {
    let cache = tempfile::tempdir().expect("temp dir");
    let path = guest("example-generator");
    runtime(Some(cache.path()))
        .load(&path)
        .await
        .expect("first load");
    for entry in std::fs::read_dir(cache.path()).expect("cache dir") {
        let entry = entry.expect("entry");
        std::fs::write(entry.path(), b"not an artifact").expect("corrupt");
    }
    let runtime = runtime(Some(cache.path()));
    runtime.load(&path).await.expect("recompiles");
    assert_eq!(runtime.stats().compiled, 1);
}

#[tokio::test]
async fn a_file_rewritten_under_the_same_path_is_loaded_from_its_new_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("generator.wasm");
    let example = std::fs::read(guest("example-generator")).expect("example");
    let widgets = std::fs::read(guest("widgets-generator")).expect("widgets");
    let digest = |bytes: &[u8]| infragen::runtime::inspect::inspect(bytes, u64::MAX).digest;
    let runtime = runtime(None);

    std::fs::write(&path, &example).expect("write");
    let first = runtime.load(&path).await.expect("first load");
    let again = runtime.load(&path).await.expect("same bytes");
    std::fs::write(&path, &widgets).expect("rewrite");
    let rewritten = runtime.load(&path).await.expect("new bytes");
    let other = runtime
        .load_bytes(&path, example.clone())
        .await
        .expect("the first bytes again");

    assert_eq!(first.inspection().digest, digest(&example));
    assert_eq!(again.inspection().digest, digest(&example));
    assert_eq!(rewritten.inspection().digest, digest(&widgets));
    assert_eq!(other.inspection().digest, digest(&example));
    assert_eq!(
        runtime.stats(),
        RuntimeStats {
            compiled: 2,
            disk_hits: 0,
            memory_hits: 2
        },
        "the same bytes again are not inspected again; other bytes are"
    );
}
