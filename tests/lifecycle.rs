//! Resource lifetime of the runtime. Its own test binary, so no other test's
//! runtime shares the process whose threads it counts.

use std::time::{Duration, Instant};

use infragen_tests::{guest, runtime};

/// Threads of this process named like the runtime's epoch ticker.
fn epoch_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter(|task| {
                    std::fs::read_to_string(task.path().join("comm"))
                        .is_ok_and(|name| name.trim() == "infragen-epoch")
                })
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn dropping_a_runtime_and_its_plugins_frees_the_engine_and_its_epoch_thread() {
    assert_eq!(epoch_threads(), 0);
    let runtime = runtime(None);
    let plugin = runtime
        .load(&guest("example-generator"))
        .await
        .expect("example loads");
    assert_eq!(epoch_threads(), 1);

    drop(plugin);
    drop(runtime);

    // The ticker notices within one tick that the engine is gone.
    let deadline = Instant::now() + Duration::from_secs(2);
    while epoch_threads() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        epoch_threads(),
        0,
        "the engine outlived its runtime and plugins"
    );
}
