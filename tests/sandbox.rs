//! A hostile plugin must fail only its own run, with an error naming the
//! generator, the target and the cause, and leave the host fit for the next
//! run. Each test runs one attack and then a harmless run on the same
//! runtime and the same loaded plugin.

use std::sync::Arc;
use std::time::Duration;

use infragen::runtime::{Plugin, RunError, RunFailure, Runtime};
use infragen_tests::{RecordingBackend, guest, request, runtime};
use serde_json::json;

const TARGET: (&str, &str, &str) = ("pod-7", "NetworkPod", "Pod-7");

async fn hostile() -> (Runtime, Plugin) {
    let runtime = runtime(None);
    let plugin = runtime
        .load(&guest("hostile-generator"))
        .await
        .expect("hostile loads");
    (runtime, plugin)
}

/// Runs `attack` with `limits` adjusted by `tune`, expects a failure, and
/// checks that a harmless run of the same plugin succeeds right after.
async fn attack_with(
    attack: &str,
    tune: impl FnOnce(&mut infragen::policy::SandboxLimits),
) -> RunError {
    let (_runtime, plugin) = hostile().await;
    let mut attack_request = request("hostile", TARGET, json!({ "attack": attack }));
    tune(&mut attack_request.limits);
    let backend = Arc::new(RecordingBackend::default());
    let error = plugin
        .run(attack_request, backend.clone())
        .await
        .expect_err("the attack must fail its run");
    assert_eq!(error.generator, "hostile");
    assert_eq!(error.target, "Pod-7");
    assert_eq!(error.target_id, "pod-7");
    let message = error.to_string();
    assert!(
        message.starts_with("generator `hostile` failed on target `Pod-7` (pod-7): "),
        "{message}"
    );

    let harmless = plugin
        .run(
            request("hostile", TARGET, json!({ "attack": "none" })),
            backend,
        )
        .await
        .expect("the next run succeeds");
    assert_eq!(
        harmless.log.lines.last().map(|line| line.message.as_str()),
        Some("harmless")
    );
    error
}

async fn attack(attack: &str) -> RunError {
    attack_with(attack, |_| {}).await
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_by_the_deadline() {
    let error = attack_with("infinite-loop", |limits| {
        limits.deadline = Duration::from_millis(300)
    })
    .await;
    assert_eq!(
        error.failure,
        RunFailure::Deadline {
            deadline: Duration::from_millis(300)
        }
    );
    assert!(
        error
            .to_string()
            .ends_with("the run exceeded its deadline of 300ms and was stopped")
    );
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_at_the_memory_cap() {
    let error = attack_with("memory-bomb", |limits| limits.memory = 32 << 20).await;
    let RunFailure::Memory { limit, desired } = &error.failure else {
        panic!("expected a memory failure, got {:?}", error.failure);
    };
    assert_eq!(limit.0, 32 << 20);
    assert!(*desired > 32 << 20);
    assert!(
        error.to_string().contains("memory limit of 32 MiB"),
        "{error}"
    );
}

#[tokio::test]
async fn deep_recursion_overflows_the_guest_stack_not_the_host() {
    let error = attack("deep-recursion").await;
    assert_eq!(error.failure, RunFailure::StackOverflow);
}

#[tokio::test]
async fn a_panic_message_reaches_the_error() {
    let error = attack("panic").await;
    let RunFailure::Panic { message } = &error.failure else {
        panic!("expected a panic, got {:?}", error.failure);
    };
    assert!(
        message.starts_with("hostile guest panicked on purpose (at "),
        "{message}"
    );
}

#[tokio::test]
async fn a_16_mb_error_message_is_repeated_only_in_part() {
    let error = attack("huge-error").await;
    let RunFailure::Generator { kind, message } = &error.failure else {
        panic!("expected the generator's error, got {:?}", error.failure);
    };
    assert_eq!(kind, "generator");
    let shown = 4096 - "hostile error ".len();
    assert_eq!(
        *message,
        format!(
            "hostile error {}… ({} more bytes not shown)",
            "e".repeat(shown),
            16 * 1024 * 1024 - shown
        )
    );
    assert!(error.to_string().len() < 5000, "the whole error is short");
}

#[tokio::test]
async fn a_50_mb_host_call_argument_is_refused_before_use() {
    let error = attack("huge-argument").await;
    let message = error.failure.to_string();
    assert!(
        message.starts_with("the guest passed ")
            && message.ends_with(" bytes to `nodes.upsert`, over the limit of 4 MiB per host call"),
        "{message}"
    );
}

#[tokio::test]
async fn ten_megabytes_of_log_are_capped_at_one_mebibyte() {
    let error = attack("log-flood").await;
    assert_eq!(
        error.failure.to_string(),
        "the run's log exceeded its cap of 1 MiB"
    );
    assert!(error.log.truncated);
    assert!(error.log.bytes <= 1 << 20);
    assert!(
        error.log.bytes > (1 << 20) - 2048,
        "the log is kept up to the cap"
    );
}

#[tokio::test]
async fn ten_megabytes_of_stdout_are_capped() {
    let error = attack("stdout-flood").await;
    assert_eq!(
        error.failure.to_string(),
        "the guest wrote more than 1 MiB to stdout"
    );
}

#[tokio::test]
async fn a_flood_of_host_calls_hits_the_call_limit() {
    let error = attack_with("call-flood", |limits| limits.max_host_calls = 1000).await;
    assert_eq!(
        error.failure.to_string(),
        "the run exceeded its limit of 1000 host calls"
    );
}

#[tokio::test]
async fn opening_a_file_is_denied_inside_the_guest() {
    let error = attack("open-file").await;
    let RunFailure::Generator { kind, message } = &error.failure else {
        panic!("expected the guest's own error, got {:?}", error.failure);
    };
    assert_eq!(kind, "generator");
    assert!(message.starts_with("open /etc/passwd: "), "{message}");
}

#[tokio::test]
async fn the_environment_is_empty_inside_the_guest() {
    let error = attack("read-env").await;
    let RunFailure::Generator { message, .. } = &error.failure else {
        panic!("expected the guest's own error, got {:?}", error.failure);
    };
    assert!(message.starts_with("environment is empty: "), "{message}");
}

#[tokio::test]
async fn sockets_and_name_lookups_are_denied_inside_the_guest() {
    let error = attack("open-socket").await;
    let RunFailure::Generator { message, .. } = &error.failure else {
        panic!("expected the guest's own error, got {:?}", error.failure);
    };
    assert!(
        message.starts_with("socket: ") && message.contains("; lookup: "),
        "{message}"
    );
}

#[tokio::test]
async fn a_fuel_budget_stops_a_busy_guest() {
    let error = attack_with("infinite-loop", |limits| limits.fuel = Some(10_000_000)).await;
    assert_eq!(error.failure, RunFailure::Fuel { fuel: 10_000_000 });
}

#[tokio::test]
async fn randomness_repeats_per_generator_and_target_and_differs_across_targets() {
    let (_runtime, plugin) = hostile().await;
    let backend = Arc::new(RecordingBackend::default());
    let random_line = |outcome: infragen::runtime::RunOutcome| {
        outcome
            .log
            .lines
            .iter()
            .find(|line| line.message.starts_with("random="))
            .map(|line| line.message.clone())
            .expect("the plugin logs its random number")
    };
    let run = |target| request("hostile", target, json!({ "attack": "random" }));
    let first = random_line(plugin.run(run(TARGET), backend.clone()).await.expect("run"));
    let again = random_line(plugin.run(run(TARGET), backend.clone()).await.expect("run"));
    let other = random_line(
        plugin
            .run(run(("pod-8", "NetworkPod", "Pod-8")), backend.clone())
            .await
            .expect("run"),
    );
    assert_eq!(first, again, "same generator and target: same randomness");
    assert_ne!(first, other, "another target: other randomness");
}

/// A run's memory is its own: the pages a run wrote — a heap block it freed, memory it grew —
/// hold nothing of it when the next run of the plugin gets its instance slot, whether the
/// slot's pages were zeroed in place or given back to the kernel. The rounds alternate the
/// two runs so that the writer's slot is the one reused (the pool prefers a slot the same
/// component used last), and each round checks the reader looked where the writer wrote.
#[tokio::test]
async fn a_run_finds_nothing_an_earlier_run_left_in_its_memory() {
    let (_runtime, plugin) = hostile().await;
    let backend = Arc::new(RecordingBackend::default());
    let pages = |outcome: &infragen::runtime::RunOutcome, word: &str| -> (usize, usize) {
        let line = outcome
            .log
            .lines
            .iter()
            .find_map(|line| line.message.strip_prefix(word))
            .unwrap_or_else(|| panic!("the plugin logs `{word}`: {:?}", outcome.log.lines));
        let (first, count) = line.trim().split_once(' ').expect("two numbers");
        (
            first.parse().expect("a page number"),
            count.parse().expect("a page count"),
        )
    };
    for round in 0..4 {
        let written = plugin
            .run(
                request("hostile", TARGET, json!({ "attack": "scribble" })),
                backend.clone(),
            )
            .await
            .expect("the scribbling run succeeds");
        let read = plugin
            .run(
                request("hostile", TARGET, json!({ "attack": "peek" })),
                backend.clone(),
            )
            .await
            .unwrap_or_else(|error| panic!("round {round}: {error}"));
        let (written_from, written_pages) = pages(&written, "scribbled ");
        let (read_from, read_pages) = pages(&read, "clean ");
        let overlap = (written_from + written_pages).min(read_from + read_pages)
            - written_from.max(read_from);
        assert!(
            overlap >= written_pages * 3 / 4,
            "round {round}: the reader looked at pages {read_from}+{read_pages}, the writer \
             wrote {written_from}+{written_pages}"
        );
    }
}

#[tokio::test]
async fn concurrent_runs_fail_and_succeed_independently() {
    let (_runtime, plugin) = hostile().await;
    let backend = Arc::new(RecordingBackend::default());
    let mut looping = request("hostile", TARGET, json!({ "attack": "infinite-loop" }));
    looping.limits.deadline = Duration::from_millis(500);
    let harmless = request(
        "hostile",
        ("pod-8", "NetworkPod", "Pod-8"),
        json!({ "attack": "none" }),
    );
    let (looped, fine) = tokio::join!(
        plugin.run(looping, backend.clone()),
        plugin.run(harmless, backend)
    );
    assert!(matches!(
        looped.expect_err("loop fails").failure,
        RunFailure::Deadline { .. }
    ));
    assert_eq!(
        fine.expect("harmless run")
            .log
            .lines
            .last()
            .map(|l| l.message.clone()),
        Some("harmless".into())
    );
}

#[tokio::test]
async fn a_host_call_that_never_returns_is_stopped_by_the_deadline() {
    let runtime = runtime(None);
    let plugin = runtime
        .load(&guest("example-generator"))
        .await
        .expect("example loads");
    let backend = Arc::new(RecordingBackend::default());
    backend.stall_queries();
    let mut stalled = request("example", TARGET, json!({ "name": "alpha" }));
    stalled.limits.deadline = Duration::from_millis(300);

    let error = plugin
        .run(stalled, backend)
        .await
        .expect_err("the run is stopped");

    assert_eq!(
        error.failure,
        RunFailure::Deadline {
            deadline: Duration::from_millis(300)
        }
    );
    assert_eq!(
        error.log.lines.len(),
        1,
        "the run logged, then blocked in graphql.query"
    );
}
