//! Compound faults: a consumer crashes, a new instance starts 3 s later while the dead
//! member still holds the group, and 10 s after the crash the broker crashes and comes
//! back. Tansu 0.6 then typically leaves the new member with an empty assignment for
//! good (it drops the dead leader without a new generation and keeps the follower's
//! empty assignment list; heartbeats keep succeeding). The consumer must notice from the
//! outside — committed offsets standing still while the topic grows — show it in
//! readiness and metrics, rejoin the group on its own, and store every lead exactly once.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use leadpipe_platform::KafkaSettings;
use leadpipe_testkit::leads::{lead_message, lead_records, produce_all};
use leadpipe_testkit::{kafka, unique_name, wait_for, Tansu, TestDatabase};

use crate::support::{consumer_env, start_consumer};

const SESSION_MS: u64 = 6000;
const PARTITIONS: i32 = 12;

/// What one look at the new instance showed.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    /// Readiness asked just before and just after the metrics were scraped: a check of
    /// the consumer's monitor may fall between two requests on a busy machine, and only
    /// a sample whose readiness did not change across its scrape shows one state.
    ready: Option<u16>,
    ready_after: Option<u16>,
    owned: Option<f64>,
    stalled: Option<f64>,
    heals: Option<f64>,
    lag_series: usize,
    lag: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_crash_then_a_broker_crash_heals_on_its_own_and_loses_nothing() {
    let mut broker = Tansu::start().unwrap();
    let brokers = broker.brokers();
    let topic = unique_name("leads");
    kafka::create_topic(&brokers, &topic, PARTITIONS)
        .await
        .unwrap();
    let db = TestDatabase::create().await;
    let mut env = consumer_env(&brokers, &topic, &unique_name("leadpipe-compound"), &db.url);
    env.extend([
        ("LEADPIPE_KAFKA_SESSION_TIMEOUT_MS", SESSION_MS.to_string()),
        ("LEADPIPE_STALL_TIMEOUT_MS", SESSION_MS.to_string()),
        ("LEADPIPE_LAG_INTERVAL_MS", "1000".to_owned()),
        ("LEADPIPE_KAFKA_IDEMPOTENCE", "false".to_owned()),
    ]);

    // A steady stream, 100 leads a second, across the faults. (Not idempotent: Tansu
    // wedges idempotent producers after it restarts.)
    let produced = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let stream = {
        let (produced, stop, topic) = (produced.clone(), stop.clone(), topic.clone());
        let mut kafka = KafkaSettings::plaintext(&brokers);
        kafka.idempotence = false;
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let next = produced.load(Ordering::SeqCst);
                produce_all(&kafka, &topic, &lead_records(next..next + 20)).await;
                produced.store(next + 20, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let mut first = start_consumer(&env);
    wait_for(
        "the first instance to store leads",
        Duration::from_secs(30),
        || async { (db.count().await >= 200).then_some(()) },
    )
    .await;
    let crashed = Instant::now();
    first.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let second = start_consumer(&env);
    tokio::time::sleep_until((crashed + Duration::from_secs(10)).into()).await;
    broker.kill();
    broker.restart().unwrap();
    let back = Instant::now();

    // Watch the new instance while the stream goes on for 40 s after the broker is back.
    let mut samples = Vec::new();
    while back.elapsed() < Duration::from_secs(40) {
        let ready = second.readiness().await;
        let page = second.metrics().await;
        let value = |name| page.as_ref().and_then(|p| p.value(name, &[]));
        let lags = page
            .as_ref()
            .map(|p| p.per_partition("leadpipe_consumer_group_lag", &[("topic", &topic)]))
            .unwrap_or_default();
        samples.push(Sample {
            at: back.elapsed(),
            ready,
            ready_after: second.readiness().await,
            owned: value("leadpipe_consumer_owned_partitions"),
            stalled: value("leadpipe_consumer_stalled_partitions"),
            heals: value("leadpipe_consumer_self_heals_total"),
            lag_series: lags.len(),
            lag: lags.values().sum(),
        });
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.store(true, Ordering::SeqCst);
    stream.await.unwrap();
    let total = produced.load(Ordering::SeqCst);
    wait_for(
        "every produced lead stored, with no human action",
        Duration::from_secs(60),
        || async { (db.count().await >= i64::from(total)).then_some(()) },
    )
    .await;
    let expected: BTreeSet<uuid::Uuid> = (0..total).map(|n| lead_message(n).id.as_uuid()).collect();
    assert_eq!(
        db.ids().await.into_iter().collect::<BTreeSet<_>>(),
        expected,
        "every lead stored exactly once\n{}",
        second.log_tail()
    );

    // The lag of every partition was visible throughout, owned or not.
    let measured: Vec<&Sample> = samples.iter().filter(|s| s.lag_series > 0).collect();
    assert!(!measured.is_empty(), "{}", second.log_tail());
    assert!(
        measured.iter().all(|s| s.lag_series == PARTITIONS as usize),
        "group lag for all {PARTITIONS} partitions in every scrape: {measured:?}"
    );
    // Whenever the watchdog saw partitions standing still, readiness said so.
    let stalled: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.stalled.unwrap_or(0.0) > 0.0)
        .collect();
    let heals = samples.last().and_then(|s| s.heals).unwrap_or(0.0);
    let idle = samples
        .iter()
        .filter(|s| s.owned == Some(0.0) && s.lag > 0)
        .count();
    // When did it own partitions again for good and the lag go down?
    let recovered = match samples
        .iter()
        .rposition(|s| s.owned != Some(PARTITIONS as f64))
    {
        None => Some(Duration::ZERO),
        Some(i) => samples.get(i + 1).map(|s| s.at),
    };
    println!(
        "after the broker came back: {} scrapes, {idle} with nothing owned and lag waiting, {} with stalled partitions, {heals} self-heal(s), owning all {PARTITIONS} partitions for good from {recovered:?}",
        samples.len(),
        stalled.len()
    );
    if idle > 8 {
        // An empty assignment that lasted: the watchdog had to act.
        assert!(
            heals >= 1.0,
            "an idle member with lag waiting rejoined: {samples:?}"
        );
        let consistent: Vec<&&Sample> = stalled
            .iter()
            .filter(|s| s.ready == s.ready_after)
            .collect();
        assert!(
            !consistent.is_empty() && consistent.iter().all(|s| s.ready == Some(503)),
            "not ready while stalled (samples whose readiness did not change across the scrape): {consistent:?}\nall stalled samples: {stalled:?}"
        );
    }
    let recovered = recovered.expect("the new instance owns every partition in the end");
    // Expected within about two session timeouts and one check (the watchdog's own
    // bound); the limit is 5 session timeouts, so a loaded two-core machine does not
    // break it, while a member left idle for good (the 40 s of samples) still would.
    assert!(
        recovered <= Duration::from_millis(5 * SESSION_MS),
        "recovered {recovered:?} after the broker came back (expected about 2 × the session timeout + one check; limit 5 × the session timeout)\n{samples:?}"
    );
    assert_eq!(samples.last().and_then(|s| s.ready), Some(200));
    db.drop_database().await;
}
