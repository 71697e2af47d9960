//! The binary's command line: every setting is listed by `--help` with its variable.

use std::process::Command;

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_leadpipe-gateway"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "LEADPIPE_HTTP_ADDR",
        "LEADPIPE_KAFKA_BROKERS",
        "LEADPIPE_TOPIC",
        "LEADPIPE_REQUIRE_CONSENT",
        "LEADPIPE_CORS_ALLOWED_ORIGINS",
        "LEADPIPE_MAX_BODY_BYTES",
        "LEADPIPE_MAX_IN_FLIGHT",
        "LEADPIPE_KAFKA_DELIVERY_TIMEOUT_MS",
        "LEADPIPE_KAFKA_LINGER_MS",
        "LEADPIPE_KAFKA_COMPRESSION",
        "LEADPIPE_KAFKA_IDEMPOTENCE",
        "LEADPIPE_RETRY_AFTER_SECS",
        "LEADPIPE_HTTP_WORKERS",
        "LEADPIPE_SHUTDOWN_TIMEOUT_SECS",
        "LEADPIPE_LOG_FORMAT",
    ] {
        assert!(
            help.contains(variable),
            "--help does not list {variable}:\n{help}"
        );
    }
    assert!(help.contains("[default: 0.0.0.0:8080]"), "{help}");
}

#[test]
fn an_invalid_cors_origin_stops_startup_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_leadpipe-gateway"))
        .env("LEADPIPE_HTTP_ADDR", "127.0.0.1:0")
        .env("LEADPIPE_CORS_ALLOWED_ORIGINS", "event.example.com/path")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid CORS origin"), "{stderr}");
}
