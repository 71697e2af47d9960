//! Fault: the consumer is killed with SIGKILL three times under load and restarted each
//! time. Whatever it had fetched but not committed is read again by the next instance;
//! nothing accepted may be lost and nothing stored twice.
//!
//! Each kill hits an instance that owns every partition and is storing leads. (Killing
//! an instance while it is still joining the group leaves, with Tansu 0.6, a member
//! that is never expired and keeps its share of the partitions — the restarted
//! instance then reports lag 0 for the half it owns while the rest is not consumed.
//! That is the broker's group coordinator, not something this test is about.)

use std::time::{Duration, Instant};

use crate::support::{assert_reconciled, load_in_background, pipeline_on_own_broker, reconcile};
use leadpipe_testkit::{TestStack, Tuning};

/// Small batches: a kill always finds some fetched but uncommitted. A short session: the
/// next instance takes over sooner.
const CONSUMER: &[(&str, &str)] = &[
    ("LEADPIPE_MAX_BATCH_ROWS", "50"),
    ("LEADPIPE_KAFKA_SESSION_TIMEOUT_MS", "3000"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_accepted_while_the_consumer_is_killed_and_restarted_are_all_stored_once() {
    // The broker lives as long as `_broker`: to the end of the test.
    let (_broker, mut pipeline) =
        pipeline_on_own_broker(Tuning::default().consumer(CONSUMER)).await;
    // Long enough for three take-overs on a busy 2-core machine (other tests run
    // alongside); every kill must still land while the load runs.
    let load = load_in_background(&pipeline, 200.0, 40);

    // Rows stored before each kill: each instance is killed only once it has stored rows
    // of its own (the count grew since the previous kill).
    let mut stored_at_kill = Vec::new();
    let mut kills = Vec::new();
    for _ in 0..3 {
        owns_every_partition(&pipeline).await;
        let before = stored_at_kill.last().copied().unwrap_or(0);
        stored_at_kill.push(stores_more_than(&pipeline, before).await);
        pipeline.consumer.kill();
        kills.push(Instant::now());
        tokio::time::sleep(Duration::from_millis(500)).await;
        pipeline.consumer.restart();
    }
    let run = load.await.unwrap();
    let reconciliation = reconcile(&pipeline, &run).await;

    assert_reconciled(&reconciliation, &run, &pipeline);
    let kills: Vec<Duration> = kills.iter().map(|&k| run.offset_of(k)).collect();
    assert!(
        kills.iter().all(|&k| k < run.config.duration),
        "every kill hit the consumer under load: kills at {kills:?}"
    );
    println!("consumer killed at {kills:?}; stored before each kill: {stored_at_kill:?}");
    // The broker and gateway were healthy throughout: every valid lead was accepted.
    assert_eq!(
        run.measured.totals.unavailable + run.measured.totals.errors(),
        0,
        "{:?}",
        run.measured.outcomes
    );
    assert_eq!(run.measured.totals.dropped, 0);
    pipeline.db.drop_database().await;
}

/// Waits until the running instance has stored rows beyond `before` (it is consuming, not
/// just assigned), and returns the count.
async fn stores_more_than(pipeline: &TestStack, before: i64) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stored = pipeline.db.count().await;
        if stored > before {
            return stored;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the consumer owns every partition but stored nothing in 30 s (rows {stored})\n{}",
            pipeline.consumer.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the running consumer reports lag for all 12 partitions, i.e. it owns them
/// all (each partition's lag is reported by its owner only).
async fn owns_every_partition(pipeline: &TestStack) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let owned = match client.get(pipeline.consumer.url("/metrics")).send().await {
            Ok(response) => response
                .text()
                .await
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with("leadpipe_consumer_lag{"))
                .count(),
            Err(_) => 0,
        };
        if owned == 12 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the consumer owns {owned} of 12 partitions after 30 s\n{}",
            pipeline.consumer.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
