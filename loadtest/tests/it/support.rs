//! What the load tests share: a pipeline on a broker of the fault test's own, a steady
//! load in the background, and reconciliation of a run against a pipeline (see
//! `leadpipe_testkit::TestStack`), failing with everything useful.

use std::time::Duration;

use leadpipe_loadtest::{LoadConfig, LoadRun, Reconciliation};
use leadpipe_testkit::{shared, Tansu, TestStack, Tuning};
use tokio::task::JoinHandle;
use url::Url;

/// A gateway and a consumer tuned by `tuning`, on a Tansu of the test's own (the test
/// breaks something) and a database of its own on the shared server.
pub async fn pipeline_on_own_broker(tuning: Tuning) -> (Tansu, TestStack) {
    let broker = Tansu::start().unwrap();
    let pipeline =
        TestStack::start(&broker.brokers(), &shared::database_server_url(), tuning).await;
    (broker, pipeline)
}

/// [`steady_load`] against the pipeline, running in the background.
pub fn load_in_background(pipeline: &TestStack, rate: f64, seconds: u64) -> JoinHandle<LoadRun> {
    let config = steady_load(pipeline.target(), rate, seconds);
    tokio::spawn(async move { leadpipe_loadtest::run(&config).await.unwrap() })
}

/// A steady, modest load for fault tests: `rate` per second for `seconds`, with the
/// default mix of invalid leads and resubmissions, every request recorded.
pub fn steady_load(target: String, rate: f64, seconds: u64) -> LoadConfig {
    let mut config = LoadConfig::new(Url::parse(&target).expect("the gateway's URL"));
    config.rate = rate;
    config.duration = Duration::from_secs(seconds);
    config.connections = 256;
    config.request_timeout = Duration::from_secs(15);
    config.keep_records = true;
    config
}

/// Reconciles `run` against the pipeline's database, waiting for the consumer's lag.
pub async fn reconcile(pipeline: &TestStack, run: &LoadRun) -> Reconciliation {
    let options = leadpipe_loadtest::DrainOptions {
        consumer_metrics: Some(Url::parse(&pipeline.consumer_metrics()).expect("a URL")),
        timeout: Duration::from_secs(90),
        settle: Duration::from_secs(15),
        ..Default::default()
    };
    leadpipe_loadtest::reconcile(&pipeline.db.url, run, &options)
        .await
        .unwrap()
}

/// Asserts a reconciliation found no gap, printing everything useful if it did.
pub fn assert_reconciled(reconciliation: &Reconciliation, run: &LoadRun, pipeline: &TestStack) {
    let summary = leadpipe_loadtest::report::text::reconciliation_summary(reconciliation);
    assert!(
        reconciliation.is_clean(),
        "reconciliation found gaps:\n{summary}\noutcomes: {:?}\n{}",
        run.measured.outcomes,
        pipeline.logs()
    );
    assert!(
        reconciliation.findings.accepted > 0,
        "nothing was accepted: {:?}\n{}",
        run.measured.outcomes,
        pipeline.logs()
    );
    println!("{summary}");
}
