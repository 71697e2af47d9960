//! The `leadpipe-loadtest` binary end to end, as an operator runs it: a few seconds of
//! load against a real gateway and consumer (on the shared broker and database server
//! that `make test` starts, with a topic and database of the test's own), reconciled,
//! with both reports written; and the same tool failing when leads go missing.

use std::path::Path;
use std::process::Output;

use leadpipe_testkit::{shared, TestStack, Tuning};
use serde_json::Value;

async fn loadtest(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_leadpipe-loadtest"))
        .args(args)
        .output()
        .await
        .unwrap()
}

/// Runs the binary with `args` against `pipeline`'s gateway, reconciled against its
/// database, with the reports in `reports` and no progress line.
async fn reconciled_run(pipeline: &TestStack, reports: &Path, args: &[&str]) -> Output {
    let target = pipeline.target();
    let mut all = vec!["--target", &target, "--verify-db", &pipeline.db.url];
    all.extend([
        "--report-dir",
        reports.to_str().unwrap(),
        "--progress",
        "false",
    ]);
    all.extend(args);
    loadtest(&all).await
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn embedded_data(html: &str) -> Value {
    let open = r#"<script type="application/json" id="report-data">"#;
    let start = html.find(open).expect("the page embeds its data") + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_reconciles_with_no_gaps_and_writes_both_reports() {
    let pipeline = TestStack::start(
        &shared::brokers(),
        &shared::database_server_url(),
        Tuning::default(),
    )
    .await;
    let reports = tempfile::tempdir().unwrap();
    let reports_dir = reports.path().join("nested/reports");
    let metrics = pipeline.consumer_metrics();
    let args = [
        "--rate",
        "200",
        "--duration",
        "4s",
        "--drain-timeout",
        "60s",
    ];
    let args = [&args[..], &["--consumer-metrics", metrics.as_str()]].concat();
    let output = reconciled_run(&pipeline, &reports_dir, &args).await;
    let (stdout, stderr) = text(&output);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{stderr}\n{}",
        output.status,
        pipeline.logs()
    );
    for expected in [
        "202 accepted",
        "422 validation_failed",
        "p99.9",
        "achieved rate",
        "missing 0, duplicated 0, unexpected 0",
        "RECONCILED: no gaps",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in\n{stdout}");
    }

    let json: Value =
        serde_json::from_slice(&std::fs::read(reports_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["totals"]["scheduled"], 800);
    assert_eq!(json["totals"]["sent"], 800);
    let accepted_requests = json["totals"]["accepted"].as_u64().unwrap();
    let reconciliation = &json["reconciliation"];
    assert_eq!(reconciliation["clean"], true);
    assert_eq!(reconciliation["missing"], 0);
    let accepted_leads = reconciliation["accepted"].as_u64().unwrap();
    assert_eq!(reconciliation["stored"].as_u64(), Some(accepted_leads));
    // Resubmissions answer 202 with an id already counted: fewer leads than 202s.
    assert!(
        accepted_leads > 600 && accepted_leads < accepted_requests,
        "{accepted_leads} leads from {accepted_requests} accepted requests"
    );
    assert!(reconciliation["resubmitted_leads"].as_u64().unwrap() > 0);
    assert_eq!(
        reconciliation["resubmitted_leads"],
        reconciliation["resubmissions_collapsed"]
    );
    assert!(json["latency"]["p99_ms"].as_f64().unwrap() > 0.0);
    assert!(json["timeline"].as_array().unwrap().len() >= 4);
    let invalid = json["invalid"].as_array().unwrap();
    let sum = |key: &str| -> u64 { invalid.iter().map(|i| i[key].as_u64().unwrap()).sum() };
    let (invalid_sent, invalid_as_documented) = (sum("sent"), sum("as_expected"));
    assert!(invalid_sent > 0);
    assert_eq!(invalid_as_documented, invalid_sent, "{}", json["invalid"]);

    let html = std::fs::read_to_string(reports_dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 3, "three charts");
    assert!(html.contains("Rate over time") && html.contains("<polyline"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );
    assert_eq!(embedded_data(&html), json);
    assert!(stdout.contains(&reports_dir.join("report.html").display().to_string()));
    pipeline.db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_exits_non_zero_when_accepted_leads_are_never_stored() {
    let mut pipeline = TestStack::start(
        &shared::brokers(),
        &shared::database_server_url(),
        Tuning::default(),
    )
    .await;
    // The gateway keeps accepting, but nothing moves leads into the database.
    pipeline.consumer.kill();
    let reports = tempfile::tempdir().unwrap();
    // No --consumer-metrics: its consumer is gone, so the wait ends when the count settles.
    let args = [
        "--rate",
        "100",
        "--duration",
        "2s",
        "--drain-timeout",
        "20s",
        "--settle",
        "2s",
    ];
    let output = reconciled_run(&pipeline, reports.path(), &args).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "gaps exit with 1\n{stdout}\n{stderr}"
    );
    let json: Value =
        serde_json::from_slice(&std::fs::read(reports.path().join("report.json")).unwrap())
            .unwrap();
    let accepted = json["reconciliation"]["accepted"].as_u64().unwrap();
    assert!(accepted > 100, "{accepted}");
    assert_eq!(json["reconciliation"]["missing"].as_u64(), Some(accepted));
    assert_eq!(json["reconciliation"]["stored"], 0);
    assert_eq!(json["reconciliation"]["drain"]["end"], "settled");
    assert!(stdout.contains(&format!(
        "accepted {accepted}, stored 0, missing {accepted}, duplicated 0, unexpected 0"
    )));
    assert!(stdout.contains("GAPS FOUND"), "{stdout}");
    pipeline.db.drop_database().await;
}

#[tokio::test]
async fn the_loadtest_refuses_an_impossible_configuration_before_sending() {
    let output = loadtest(&[
        "--target",
        "http://127.0.0.1:9",
        "--invalid-share",
        "0.7",
        "--resubmit-share",
        "0.5",
        "--report-dir",
        "/nonexistent",
    ])
    .await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("must not exceed 1"), "{stderr}");
    assert!(!Path::new("/nonexistent/report.json").exists());
}

#[tokio::test]
async fn help_lists_every_option_with_its_environment_variable() {
    let output = loadtest(&["--help"]).await;
    let (stdout, _) = text(&output);
    assert!(output.status.success());
    for (flag, variable) in [
        ("--target", "LEADPIPE_LOADTEST_TARGET"),
        ("--rate", "LEADPIPE_LOADTEST_RATE"),
        ("--duration", "LEADPIPE_LOADTEST_DURATION"),
        ("--ramp-up", "LEADPIPE_LOADTEST_RAMP_UP"),
        ("--connections", "LEADPIPE_LOADTEST_CONNECTIONS"),
        ("--max-backlog", "LEADPIPE_LOADTEST_MAX_BACKLOG"),
        ("--request-timeout", "LEADPIPE_LOADTEST_REQUEST_TIMEOUT"),
        ("--invalid-share", "LEADPIPE_LOADTEST_INVALID_SHARE"),
        ("--resubmit-share", "LEADPIPE_LOADTEST_RESUBMIT_SHARE"),
        ("--keyless-share", "LEADPIPE_LOADTEST_KEYLESS_SHARE"),
        ("--seed", "LEADPIPE_LOADTEST_SEED"),
        ("--run-tag", "LEADPIPE_LOADTEST_RUN_TAG"),
        ("--report-dir", "LEADPIPE_LOADTEST_REPORT_DIR"),
        ("--verify-db", "LEADPIPE_LOADTEST_VERIFY_DB"),
        ("--consumer-metrics", "LEADPIPE_LOADTEST_CONSUMER_METRICS"),
        ("--drain-timeout", "LEADPIPE_LOADTEST_DRAIN_TIMEOUT"),
        ("--settle", "LEADPIPE_LOADTEST_SETTLE"),
        ("--progress", "LEADPIPE_LOADTEST_PROGRESS"),
    ] {
        assert!(stdout.contains(flag), "{flag} missing from --help");
        assert!(stdout.contains(variable), "{variable} missing from --help");
    }
}
