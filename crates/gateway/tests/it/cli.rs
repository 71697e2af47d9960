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
            ("LEADPIPE_IP_HASH_KEY", "and-not-this-key-either"),
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
        "LEADPIPE_CONSENT_TEXT_VERSIONS",
        "LEADPIPE_IP_HASH_KEY",
        "LEADPIPE_IP_HASH_KEY_FILE",
    ] {
        assert!(
            help.contains(variable),
            "--help does not list {variable}:\n{help}"
        );
    }
    assert!(help.contains("[default: 0.0.0.0:8080]"), "{help}");
    assert!(!help.contains("help-must-not-show-this"), "{help}");
    assert!(!help.contains("nor-this"), "{help}");
    assert!(!help.contains("and-not-this-key-either"), "{help}");
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

/// A configuration error ends the process with exit code 2 and one line on stderr (and
/// nothing else, not even with `RUST_BACKTRACE` set).
fn refused_with_one_line(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    stderr
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
    let stderr = refused_with_one_line(&output);
    assert!(stderr.contains("acks is a safety setting"), "{stderr}");
    assert!(stderr.contains("LEADPIPE_KAFKA_PROPERTIES"), "{stderr}");
}

#[test]
fn configuration_errors_are_one_line_and_exit_code_2() {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("LEADPIPE_KAFKA_PROPERTIES", "linger.ms=10")],
            "use LEADPIPE_KAFKA_LINGER_MS",
        ),
        (
            &[("LEADPIPE_KAFKA_BROKERS", "kafka")],
            "kafka is not host:port",
        ),
        (&[("LEADPIPE_RATE_LIMIT_EMAIL", "5 a day")], "is not a rate"),
        (
            &[("LEADPIPE_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal")],
            "LEADPIPE_TRUSTED_PROXIES",
        ),
        (
            &[
                ("LEADPIPE_KAFKA_SECURITY_PROTOCOL", "ssl"),
                ("LEADPIPE_KAFKA_SSL_CA_LOCATION", "/nonexistent/ca.pem"),
            ],
            "LEADPIPE_KAFKA_SSL_CA_LOCATION",
        ),
    ];
    for (env, expected) in cases {
        let mut env = env.to_vec();
        env.push(("RUST_BACKTRACE", "1"));
        let stderr = refused_with_one_line(&gateway(&env, &[]));
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
    }
    let redis = gateway(
        &[
            ("LEADPIPE_REDIS_URL", "redis://127.0.0.1:6379/0"),
            ("RUST_BACKTRACE", "1"),
        ],
        &[],
    );
    let stderr = refused_with_one_line(&redis);
    assert!(stderr.contains("LEADPIPE_HASH_SECRET"), "{stderr}");
}

#[test]
fn the_kafka_settings_are_validated_once_at_start() {
    use std::io::{BufRead, BufReader};
    // No broker needs to answer: the producer connects lazily.
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadpipe-gateway"))
        .env("LEADPIPE_HTTP_ADDR", "127.0.0.1:0")
        .env("LEADPIPE_KAFKA_BROKERS", "127.0.0.1:1")
        .env("LEADPIPE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,leadpipe_platform=debug")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut before_listening = Vec::new();
    for line in lines {
        let line = line.unwrap();
        if line.contains("gateway listening") {
            break;
        }
        before_listening.push(line);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let validated = before_listening
        .iter()
        .filter(|line| line.contains("Kafka settings validated"))
        .count();
    assert_eq!(validated, 1, "{before_listening:#?}");
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
