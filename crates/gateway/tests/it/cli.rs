//! The binary's command line: every setting is listed by `--help` with its variable,
//! secrets are never shown, and a setting that cannot work stops startup with a clear
//! message.

use std::process::{Command, Output};

fn gateway(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_leadpipe-gateway"));
    command.env("LEADPIPE_HTTP_ADDR", "127.0.0.1:0").args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[test]
fn help_lists_every_setting_with_its_environment_variable_and_hides_secrets() {
    let output = gateway(
        &[
            ("LEADPIPE_KAFKA_SASL_PASSWORD", "help-must-not-show-this"),
            ("LEADPIPE_KAFKA_SSL_KEY_PASSWORD", "nor-this"),
        ],
        &["--help"],
    );
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "LEADPIPE_HTTP_ADDR",
        "LEADPIPE_KAFKA_BROKERS",
        "LEADPIPE_KAFKA_SECURITY_PROTOCOL",
        "LEADPIPE_KAFKA_SASL_MECHANISM",
        "LEADPIPE_KAFKA_SASL_USERNAME",
        "LEADPIPE_KAFKA_SASL_PASSWORD",
        "LEADPIPE_KAFKA_SASL_PASSWORD_FILE",
        "LEADPIPE_KAFKA_SSL_CA_LOCATION",
        "LEADPIPE_KAFKA_SSL_CERTIFICATE_LOCATION",
        "LEADPIPE_KAFKA_SSL_KEY_LOCATION",
        "LEADPIPE_KAFKA_SSL_KEY_PASSWORD_FILE",
        "LEADPIPE_KAFKA_PROPERTIES",
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
        "LEADPIPE_DRAIN_SECS",
        "LEADPIPE_SHUTDOWN_TIMEOUT_SECS",
        "LEADPIPE_LOG_FORMAT",
    ] {
        assert!(
            help.contains(variable),
            "--help does not list {variable}:\n{help}"
        );
    }
    assert!(help.contains("[default: 0.0.0.0:8080]"), "{help}");
    assert!(!help.contains("help-must-not-show-this"), "{help}");
    assert!(!help.contains("nor-this"), "{help}");
}

#[test]
fn an_invalid_cors_origin_stops_startup_with_a_clear_message() {
    let output = gateway(
        &[("LEADPIPE_CORS_ALLOWED_ORIGINS", "event.example.com/path")],
        &[],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid CORS origin"), "{stderr}");
}

#[test]
fn a_pass_through_that_overrides_acks_stops_startup_and_says_why() {
    let output = gateway(
        &[(
            "LEADPIPE_KAFKA_PROPERTIES",
            "socket.keepalive.enable=true,acks=1",
        )],
        &[],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("acks is a safety setting"), "{stderr}");
    assert!(stderr.contains("LEADPIPE_KAFKA_PROPERTIES"), "{stderr}");
}

#[test]
fn misconfigured_kafka_security_stops_startup_naming_the_setting_not_the_secret() {
    let missing_ca = gateway(
        &[
            ("LEADPIPE_KAFKA_SECURITY_PROTOCOL", "ssl"),
            (
                "LEADPIPE_KAFKA_SSL_CA_LOCATION",
                "/nonexistent/leadpipe-ca.pem",
            ),
        ],
        &[],
    );
    assert!(!missing_ca.status.success());
    let stderr = String::from_utf8_lossy(&missing_ca.stderr);
    assert!(
        stderr.contains("LEADPIPE_KAFKA_SSL_CA_LOCATION"),
        "{stderr}"
    );
    assert!(stderr.contains("/nonexistent/leadpipe-ca.pem"), "{stderr}");

    let no_user = gateway(
        &[
            ("LEADPIPE_KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
            ("LEADPIPE_KAFKA_SASL_PASSWORD", "never-printed"),
        ],
        &[],
    );
    assert!(!no_user.status.success());
    let stderr = String::from_utf8_lossy(&no_user.stderr);
    assert!(stderr.contains("LEADPIPE_KAFKA_SASL_USERNAME"), "{stderr}");
    assert!(!stderr.contains("never-printed"), "{stderr}");

    let unknown_mechanism = gateway(&[("LEADPIPE_KAFKA_SASL_MECHANISM", "GSSAPI")], &[]);
    assert!(!unknown_mechanism.status.success());
    let stderr = String::from_utf8_lossy(&unknown_mechanism.stderr);
    assert!(
        stderr.contains("SCRAM-SHA-512"),
        "lists the possible values: {stderr}"
    );
}
