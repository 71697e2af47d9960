//! Every librdkafka client leadpipe creates is configured here: the gateway's lead
//! producer, the consumer's group member and dead-letter producer, and the clients that
//! only read metadata, offsets and lag. One place decides
//! - how to reach the brokers: bootstrap servers, TLS, SASL ([`KafkaSettings`]);
//! - which safety settings each [`ClientRole`] always has (`acks=all`, idempotence,
//!   manual offset commits) — applied last, so nothing can override them;
//! - which operator properties may be added (`LEADPIPE_KAFKA_PROPERTIES`): anything
//!   librdkafka knows, except the safety settings and properties that have a setting of
//!   their own ([`KafkaProperties`]).
//!
//! Misconfiguration is an error at start naming the setting: a missing CA file, SASL
//! without credentials, TLS files with a plaintext protocol, a refused property.

use std::path::PathBuf;

use clap::{ArgAction, Args, ValueEnum};
use rdkafka::config::{ClientConfig, FromClientConfig, FromClientConfigAndContext};
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;

use crate::secret::{Secret, SecretFileError};

/// How clients talk to the brokers (librdkafka `security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecurityProtocol {
    #[value(name = "plaintext")]
    Plaintext,
    #[value(name = "ssl")]
    Ssl,
    #[value(name = "sasl_plaintext")]
    SaslPlaintext,
    #[value(name = "sasl_ssl")]
    SaslSsl,
}

impl SecurityProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Ssl => "ssl",
            Self::SaslPlaintext => "sasl_plaintext",
            Self::SaslSsl => "sasl_ssl",
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// SASL mechanism (librdkafka `sasl.mechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SaslMechanism {
    #[value(name = "PLAIN")]
    Plain,
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// Connection and security settings shared by every Kafka client of both binaries.
#[derive(Debug, Clone, Args)]
pub struct KafkaSettings {
    /// Kafka bootstrap servers, comma-separated.
    #[arg(
        long = "kafka-brokers",
        global = true,
        env = "LEADPIPE_KAFKA_BROKERS",
        default_value = "127.0.0.1:9092"
    )]
    pub brokers: String,

    /// How to talk to the brokers: plaintext, ssl, sasl_plaintext or sasl_ssl.
    #[arg(
        long = "kafka-security-protocol",
        global = true,
        env = "LEADPIPE_KAFKA_SECURITY_PROTOCOL",
        value_enum,
        ignore_case = true,
        default_value = "plaintext"
    )]
    pub security_protocol: SecurityProtocol,

    /// SASL mechanism, with sasl_plaintext or sasl_ssl: PLAIN, SCRAM-SHA-256 or
    /// SCRAM-SHA-512.
    #[arg(
        long = "kafka-sasl-mechanism",
        global = true,
        env = "LEADPIPE_KAFKA_SASL_MECHANISM",
        value_enum,
        ignore_case = true,
        default_value = "SCRAM-SHA-512"
    )]
    pub sasl_mechanism: SaslMechanism,

    /// SASL user name.
    #[arg(
        long = "kafka-sasl-username",
        global = true,
        env = "LEADPIPE_KAFKA_SASL_USERNAME"
    )]
    pub sasl_username: Option<String>,

    /// SASL password (secret; its value is never shown or logged). Prefer
    /// LEADPIPE_KAFKA_SASL_PASSWORD_FILE.
    #[arg(
        long = "kafka-sasl-password",
        global = true,
        env = "LEADPIPE_KAFKA_SASL_PASSWORD",
        hide_env_values = true
    )]
    pub sasl_password: Option<Secret>,

    /// File holding the SASL password (a mounted secret); wins over
    /// LEADPIPE_KAFKA_SASL_PASSWORD.
    #[arg(
        long = "kafka-sasl-password-file",
        global = true,
        env = "LEADPIPE_KAFKA_SASL_PASSWORD_FILE"
    )]
    pub sasl_password_file: Option<PathBuf>,

    /// CA certificate(s), PEM, that the brokers' certificates must chain to (ssl,
    /// sasl_ssl). Unset: the system's trust store.
    #[arg(
        long = "kafka-ssl-ca-location",
        global = true,
        env = "LEADPIPE_KAFKA_SSL_CA_LOCATION"
    )]
    pub ssl_ca_location: Option<PathBuf>,

    /// Client certificate, PEM, for brokers that require mutual TLS.
    #[arg(
        long = "kafka-ssl-certificate-location",
        global = true,
        env = "LEADPIPE_KAFKA_SSL_CERTIFICATE_LOCATION"
    )]
    pub ssl_certificate_location: Option<PathBuf>,

    /// Private key, PEM, of the client certificate.
    #[arg(
        long = "kafka-ssl-key-location",
        global = true,
        env = "LEADPIPE_KAFKA_SSL_KEY_LOCATION"
    )]
    pub ssl_key_location: Option<PathBuf>,

    /// Password of the client key (secret; never shown or logged).
    #[arg(
        long = "kafka-ssl-key-password",
        global = true,
        env = "LEADPIPE_KAFKA_SSL_KEY_PASSWORD",
        hide_env_values = true
    )]
    pub ssl_key_password: Option<Secret>,

    /// File holding the password of the client key; wins over
    /// LEADPIPE_KAFKA_SSL_KEY_PASSWORD.
    #[arg(
        long = "kafka-ssl-key-password-file",
        global = true,
        env = "LEADPIPE_KAFKA_SSL_KEY_PASSWORD_FILE"
    )]
    pub ssl_key_password_file: Option<PathBuf>,

    /// Any other librdkafka property, `key=value,key=value` (e.g.
    /// `socket.keepalive.enable=true,client.rack=use1-az1`); a part without `=` continues
    /// the previous value (`debug=broker,topic`). Refused: the safety settings (acks,
    /// enable.idempotence, enable.auto.commit, enable.auto.offset.store,
    /// auto.offset.reset) and properties that have a setting of their own.
    #[arg(
        long = "kafka-properties",
        global = true,
        env = "LEADPIPE_KAFKA_PROPERTIES",
        hide_env_values = true,
        default_value = ""
    )]
    pub properties: String,

    /// Idempotent producers (`enable.idempotence`). Keep it on with Apache Kafka. The
    /// local Tansu 0.6 broker wedges idempotent producers whose messages timed out during
    /// an outage (it rejects librdkafka's epoch bump), so the local stack turns it off;
    /// lead ids are deterministic and the consumer stores each id once, so a retried
    /// duplicate on the topic is harmless either way.
    #[arg(
        long = "kafka-idempotence",
        global = true,
        env = "LEADPIPE_KAFKA_IDEMPOTENCE",
        default_value_t = true,
        action = ArgAction::Set
    )]
    pub idempotence: bool,
}

/// What a client is for; decides its `client.id` and the safety settings it always has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole<'a> {
    /// The gateway's producer: `acks=all`, idempotent when configured.
    LeadProducer,
    /// The consumer's dead-letter (and replay) producer: the same guarantees.
    DeadLetterProducer,
    /// A member of the consumer group: offsets are stored and committed only by the
    /// code, after the database commit; a new group starts at the earliest offset.
    GroupMember { group_id: &'a str },
    /// Reads a group's committed offsets without joining it (lag of every partition).
    GroupObserver { group_id: &'a str },
    /// Metadata and topic administration.
    Admin,
}

impl ClientRole<'_> {
    fn client_id(&self) -> &'static str {
        match self {
            Self::LeadProducer => "leadpipe-gateway",
            Self::DeadLetterProducer => "leadpipe-consumer-dlq",
            Self::GroupMember { .. } => "leadpipe-consumer",
            Self::GroupObserver { .. } => "leadpipe-lag",
            Self::Admin => "leadpipe-admin",
        }
    }

    /// Settings applied last: no tuning and no pass-through can change them.
    fn safety(&self, idempotence: bool) -> Vec<(&'static str, String)> {
        match self {
            Self::LeadProducer | Self::DeadLetterProducer => vec![
                ("acks", "all".to_owned()),
                ("enable.idempotence", idempotence.to_string()),
            ],
            Self::GroupMember { group_id } => vec![
                ("group.id", (*group_id).to_owned()),
                ("enable.auto.commit", "false".to_owned()),
                ("enable.auto.offset.store", "false".to_owned()),
                ("auto.offset.reset", "earliest".to_owned()),
            ],
            Self::GroupObserver { group_id } => vec![
                ("group.id", (*group_id).to_owned()),
                ("enable.auto.commit", "false".to_owned()),
            ],
            Self::Admin => Vec::new(),
        }
    }
}

/// A Kafka setting that cannot work. Names the setting and the file, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum KafkaConfigError {
    #[error("LEADPIPE_KAFKA_SECURITY_PROTOCOL={protocol} needs LEADPIPE_KAFKA_SASL_USERNAME")]
    MissingUsername { protocol: &'static str },
    #[error(
        "LEADPIPE_KAFKA_SECURITY_PROTOCOL={protocol} needs LEADPIPE_KAFKA_SASL_PASSWORD_FILE or LEADPIPE_KAFKA_SASL_PASSWORD"
    )]
    MissingPassword { protocol: &'static str },
    #[error(
        "{setting} is set, but LEADPIPE_KAFKA_SECURITY_PROTOCOL={protocol} does not use {what}"
    )]
    Unused {
        setting: &'static str,
        protocol: &'static str,
        what: &'static str,
    },
    #[error("{setting}: {} does not exist or cannot be read", path.display())]
    MissingFile {
        setting: &'static str,
        path: PathBuf,
    },
    #[error("the client certificate and key must be given together (LEADPIPE_KAFKA_SSL_CERTIFICATE_LOCATION, LEADPIPE_KAFKA_SSL_KEY_LOCATION)")]
    HalfClientCertificate,
    #[error(transparent)]
    SecretFile(#[from] SecretFileError),
    /// Names the property, never its value (which might be a secret).
    #[error("LEADPIPE_KAFKA_PROPERTIES: {0}")]
    Property(String),
}

/// A Kafka client that could not be created.
#[derive(Debug, thiserror::Error)]
pub enum KafkaClientError {
    #[error(transparent)]
    Config(#[from] KafkaConfigError),
    #[error("creating the Kafka client: {0}")]
    Create(#[from] KafkaError),
}

impl KafkaSettings {
    /// Plaintext, no authentication, the other settings at their defaults: the local
    /// broker of tests and benchmarks.
    pub fn plaintext(brokers: &str) -> Self {
        Self {
            brokers: brokers.to_owned(),
            security_protocol: SecurityProtocol::Plaintext,
            sasl_mechanism: SaslMechanism::ScramSha512,
            sasl_username: None,
            sasl_password: None,
            sasl_password_file: None,
            ssl_ca_location: None,
            ssl_certificate_location: None,
            ssl_key_location: None,
            ssl_key_password: None,
            ssl_key_password_file: None,
            properties: String::new(),
            idempotence: true,
        }
    }

    /// A client for `role` (see [`KafkaSettings::client_config`]).
    pub fn create<T: FromClientConfig>(
        &self,
        role: ClientRole<'_>,
        tuning: &[(&str, String)],
    ) -> Result<T, KafkaClientError> {
        Ok(self.client_config(role, tuning)?.create()?)
    }

    /// A client for `role` with callbacks of its own.
    pub fn create_with_context<C: ClientContext, T: FromClientConfigAndContext<C>>(
        &self,
        role: ClientRole<'_>,
        tuning: &[(&str, String)],
        context: C,
    ) -> Result<T, KafkaClientError> {
        Ok(self
            .client_config(role, tuning)?
            .create_with_context(context)?)
    }

    /// Checks the settings together: what a protocol needs is there, files exist,
    /// nothing is set that the protocol would silently ignore.
    pub fn validate(&self) -> Result<(), KafkaConfigError> {
        self.pass_through()?;
        let protocol = self.security_protocol.as_str();
        if self.security_protocol.uses_sasl() {
            if self.sasl_username.as_deref().is_none_or(str::is_empty) {
                return Err(KafkaConfigError::MissingUsername { protocol });
            }
            if self.sasl_password.is_none() && self.sasl_password_file.is_none() {
                return Err(KafkaConfigError::MissingPassword { protocol });
            }
        } else {
            let sasl = [
                ("LEADPIPE_KAFKA_SASL_USERNAME", self.sasl_username.is_some()),
                ("LEADPIPE_KAFKA_SASL_PASSWORD", self.sasl_password.is_some()),
                (
                    "LEADPIPE_KAFKA_SASL_PASSWORD_FILE",
                    self.sasl_password_file.is_some(),
                ),
            ];
            if let Some((setting, _)) = sasl.iter().find(|(_, set)| *set) {
                return Err(KafkaConfigError::Unused {
                    setting,
                    protocol,
                    what: "SASL",
                });
            }
        }
        let files = [
            ("LEADPIPE_KAFKA_SSL_CA_LOCATION", &self.ssl_ca_location),
            (
                "LEADPIPE_KAFKA_SSL_CERTIFICATE_LOCATION",
                &self.ssl_certificate_location,
            ),
            ("LEADPIPE_KAFKA_SSL_KEY_LOCATION", &self.ssl_key_location),
        ];
        for (setting, path) in files {
            let Some(path) = path else { continue };
            if !self.security_protocol.uses_tls() {
                return Err(KafkaConfigError::Unused {
                    setting,
                    protocol,
                    what: "TLS",
                });
            }
            if std::fs::File::open(path).is_err() {
                return Err(KafkaConfigError::MissingFile {
                    setting,
                    path: path.clone(),
                });
            }
        }
        if self.ssl_certificate_location.is_some() != self.ssl_key_location.is_some() {
            return Err(KafkaConfigError::HalfClientCertificate);
        }
        for (setting, path) in [
            (
                "LEADPIPE_KAFKA_SASL_PASSWORD_FILE",
                &self.sasl_password_file,
            ),
            (
                "LEADPIPE_KAFKA_SSL_KEY_PASSWORD_FILE",
                &self.ssl_key_password_file,
            ),
        ] {
            if let Some(path) = path {
                if std::fs::File::open(path).is_err() {
                    return Err(KafkaConfigError::MissingFile {
                        setting,
                        path: path.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The configuration of a client for `role`, in this order: connection and
    /// security, the caller's `tuning`, the operator's pass-through properties, and
    /// last the role's safety settings. Reads secret files (so a rotated password is
    /// picked up by the next client created).
    pub fn client_config(
        &self,
        role: ClientRole<'_>,
        tuning: &[(&str, String)],
    ) -> Result<ClientConfig, KafkaConfigError> {
        self.validate()?;
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", role.client_id())
            .set("security.protocol", self.security_protocol.as_str());
        if self.security_protocol.uses_tls() {
            match &self.ssl_ca_location {
                Some(path) => config.set("ssl.ca.location", path.display().to_string()),
                // librdkafka's OpenSSL is built into the binary, so its compiled-in
                // certificate directory may not exist here: look in the usual places.
                None => config.set("ssl.ca.location", "probe"),
            };
            if let (Some(cert), Some(key)) =
                (&self.ssl_certificate_location, &self.ssl_key_location)
            {
                config
                    .set("ssl.certificate.location", cert.display().to_string())
                    .set("ssl.key.location", key.display().to_string());
            }
            if let Some(password) = Secret::resolve(
                self.ssl_key_password.as_ref(),
                self.ssl_key_password_file.as_ref(),
            )? {
                config.set("ssl.key.password", password.expose());
            }
        }
        if self.security_protocol.uses_sasl() {
            let password = Secret::resolve(
                self.sasl_password.as_ref(),
                self.sasl_password_file.as_ref(),
            )?
            .ok_or(KafkaConfigError::MissingPassword {
                protocol: self.security_protocol.as_str(),
            })?;
            config
                .set("sasl.mechanism", self.sasl_mechanism.as_str())
                .set(
                    "sasl.username",
                    self.sasl_username.clone().unwrap_or_default(),
                )
                .set("sasl.password", password.expose());
        }
        for (key, value) in tuning {
            config.set(*key, value);
        }
        for (key, value) in self.pass_through()?.0 {
            config.set(key, value);
        }
        for (key, value) in role.safety(self.idempotence) {
            config.set(key, value);
        }
        Ok(config)
    }

    /// The operator's pass-through properties, checked.
    pub fn pass_through(&self) -> Result<KafkaProperties, KafkaConfigError> {
        self.properties.parse().map_err(KafkaConfigError::Property)
    }

    /// A one-line description for the start-up log: no secret in it.
    pub fn describe(&self) -> String {
        let mut text = format!("{} via {}", self.brokers, self.security_protocol.as_str());
        if self.security_protocol.uses_sasl() {
            text.push_str(&format!(
                " ({} as {})",
                self.sasl_mechanism.as_str(),
                self.sasl_username.as_deref().unwrap_or("")
            ));
        }
        text
    }
}

/// Safety settings leadpipe always sets itself, and why. This list and [`DEDICATED`] are
/// the one source of the pass-through policy: the Helm chart refuses the same keys from
/// `helm/leadpipe/files/kafka-policy.json`, which a test below holds equal to them.
const SAFETY: &[(&str, &str)] = &[
    (
        "acks",
        "acks=all: a lead is acknowledged only once every in-sync replica has it",
    ),
    (
        "request.required.acks",
        "librdkafka's other name for acks, which is always all",
    ),
    (
        "enable.idempotence",
        "set it with LEADPIPE_KAFKA_IDEMPOTENCE",
    ),
    (
        "enable.auto.commit",
        "offsets are committed only after the database commit",
    ),
    (
        "enable.auto.offset.store",
        "offsets are stored only after the database commit",
    ),
    (
        "auto.offset.reset",
        "a new group must start at the earliest offset, or leads are skipped",
    ),
];

/// Properties with a setting of their own.
const DEDICATED: &[(&str, &str)] = &[
    ("bootstrap.servers", "LEADPIPE_KAFKA_BROKERS"),
    ("metadata.broker.list", "LEADPIPE_KAFKA_BROKERS"),
    ("security.protocol", "LEADPIPE_KAFKA_SECURITY_PROTOCOL"),
    ("sasl.mechanism", "LEADPIPE_KAFKA_SASL_MECHANISM"),
    ("sasl.mechanisms", "LEADPIPE_KAFKA_SASL_MECHANISM"),
    ("sasl.username", "LEADPIPE_KAFKA_SASL_USERNAME"),
    ("sasl.password", "LEADPIPE_KAFKA_SASL_PASSWORD_FILE"),
    ("ssl.ca.location", "LEADPIPE_KAFKA_SSL_CA_LOCATION"),
    (
        "ssl.certificate.location",
        "LEADPIPE_KAFKA_SSL_CERTIFICATE_LOCATION",
    ),
    ("ssl.key.location", "LEADPIPE_KAFKA_SSL_KEY_LOCATION"),
    ("ssl.key.password", "LEADPIPE_KAFKA_SSL_KEY_PASSWORD_FILE"),
    ("group.id", "LEADPIPE_GROUP_ID"),
    ("linger.ms", "LEADPIPE_KAFKA_LINGER_MS"),
    ("queue.buffering.max.ms", "LEADPIPE_KAFKA_LINGER_MS"),
    ("compression.type", "LEADPIPE_KAFKA_COMPRESSION"),
    ("compression.codec", "LEADPIPE_KAFKA_COMPRESSION"),
    ("message.timeout.ms", "LEADPIPE_KAFKA_DELIVERY_TIMEOUT_MS"),
    ("delivery.timeout.ms", "LEADPIPE_KAFKA_DELIVERY_TIMEOUT_MS"),
    ("session.timeout.ms", "LEADPIPE_KAFKA_SESSION_TIMEOUT_MS"),
];

/// The operator's extra librdkafka properties (`LEADPIPE_KAFKA_PROPERTIES`), checked
/// when parsed: a refused property stops the process at start with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaProperties(pub Vec<(String, String)>);

impl std::str::FromStr for KafkaProperties {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut properties: Vec<(String, String)> = Vec::new();
        for part in text.split(',') {
            match part.split_once('=') {
                Some((key, value)) => {
                    let key = key.trim();
                    let well_formed = !key.is_empty()
                        && key.bytes().all(|b| {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_'
                        });
                    if !well_formed {
                        return Err(
                            "a property name may hold only a-z, 0-9, `.` and `_`".to_owned()
                        );
                    }
                    if let Some((_, why)) = SAFETY.iter().find(|(k, _)| *k == key) {
                        return Err(format!(
                            "{key} is a safety setting leadpipe always sets ({why}); it cannot be overridden"
                        ));
                    }
                    if let Some((_, setting)) = DEDICATED.iter().find(|(k, _)| *k == key) {
                        return Err(format!("{key} has a setting of its own: use {setting}"));
                    }
                    properties.push((key.to_owned(), value.trim().to_owned()));
                }
                None if part.trim().is_empty() => {}
                // A list value such as `debug=broker,topic`: continue the previous one.
                None => match properties.last_mut() {
                    Some((_, value)) => {
                        value.push(',');
                        value.push_str(part.trim());
                    }
                    None => return Err("expected key=value,key=value".to_owned()),
                },
            }
        }
        Ok(Self(properties))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        kafka: KafkaSettings,
    }

    fn parse(args: &[&str]) -> Result<KafkaSettings, clap::Error> {
        let mut argv = vec!["test"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map(|c| c.kafka)
    }

    fn value(config: &ClientConfig, key: &str) -> Option<String> {
        config.get(key).map(str::to_owned)
    }

    #[test]
    fn properties_are_key_value_pairs_and_list_values_continue() {
        let properties: KafkaProperties =
            "socket.keepalive.enable=true, client.rack=use1-az1,debug=broker,topic"
                .parse()
                .unwrap();
        assert_eq!(
            properties.0,
            vec![
                ("socket.keepalive.enable".to_owned(), "true".to_owned()),
                ("client.rack".to_owned(), "use1-az1".to_owned()),
                ("debug".to_owned(), "broker,topic".to_owned()),
            ]
        );
        assert_eq!(
            "".parse::<KafkaProperties>().unwrap(),
            KafkaProperties::default()
        );
        assert!("novalue".parse::<KafkaProperties>().is_err());
    }

    /// The chart's copy of the policy (`helm/leadpipe/files/kafka-policy.json`, read by
    /// its `kafka.properties` check) says exactly what the binaries refuse.
    #[test]
    fn the_charts_kafka_policy_is_the_binaries() {
        let quoted = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(key, value)| format!("    {key:?}: {value:?}"))
                .collect::<Vec<_>>()
                .join(",\n")
        };
        let expected = format!(
            "{{\n  \"safety\": {{\n{}\n  }},\n  \"dedicated\": {{\n{}\n  }}\n}}\n",
            quoted(SAFETY),
            quoted(DEDICATED)
        );
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../helm/leadpipe/files/kafka-policy.json"
        );
        let chart = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            chart == expected,
            "{path} differs from SAFETY and DEDICATED in crates/service/src/kafka.rs; it should read:\n{expected}"
        );
    }

    #[test]
    fn a_pass_through_of_a_safety_setting_is_refused_with_the_reason() {
        for key in [
            "acks",
            "request.required.acks",
            "enable.idempotence",
            "enable.auto.commit",
            "auto.offset.reset",
        ] {
            let error = format!("{key}=1").parse::<KafkaProperties>().unwrap_err();
            assert!(error.contains("safety setting"), "{error}");
        }
        let error = "sasl.password=x".parse::<KafkaProperties>().unwrap_err();
        assert!(
            error.contains("LEADPIPE_KAFKA_SASL_PASSWORD_FILE"),
            "{error}"
        );
        assert!(!error.contains("=x"), "the value is not echoed: {error}");
        let settings = parse(&["--kafka-properties", "acks=1"]).unwrap();
        let error = settings.validate().unwrap_err().to_string();
        assert!(
            error.starts_with("LEADPIPE_KAFKA_PROPERTIES: acks is a safety setting"),
            "{error}"
        );
        let secret = parse(&["--kafka-properties", "ssl.keystore.password=hunter2,x"]).unwrap();
        assert!(secret.validate().is_ok());
        let broken = parse(&["--kafka-properties", "Bad Key=hunter2"]).unwrap();
        assert!(!broken
            .validate()
            .unwrap_err()
            .to_string()
            .contains("hunter2"));
    }

    #[test]
    fn safety_settings_come_last_and_tuning_can_be_overridden_by_the_operator() {
        let settings = parse(&[
            "--kafka-properties",
            "queue.buffering.max.kbytes=1024,socket.keepalive.enable=true",
        ])
        .unwrap();
        let tuning = [
            ("queue.buffering.max.kbytes", "262144".to_owned()),
            ("acks", "1".to_owned()),
        ];
        let config = settings
            .client_config(ClientRole::LeadProducer, &tuning)
            .unwrap();
        assert_eq!(value(&config, "acks").as_deref(), Some("all"));
        assert_eq!(
            value(&config, "enable.idempotence").as_deref(),
            Some("true")
        );
        assert_eq!(
            value(&config, "queue.buffering.max.kbytes").as_deref(),
            Some("1024")
        );
        assert_eq!(
            value(&config, "socket.keepalive.enable").as_deref(),
            Some("true")
        );
        assert_eq!(
            value(&config, "security.protocol").as_deref(),
            Some("plaintext")
        );
        assert_eq!(
            value(&config, "client.id").as_deref(),
            Some("leadpipe-gateway")
        );

        let member = settings
            .client_config(ClientRole::GroupMember { group_id: "g" }, &[])
            .unwrap();
        assert_eq!(
            value(&member, "enable.auto.commit").as_deref(),
            Some("false")
        );
        assert_eq!(
            value(&member, "enable.auto.offset.store").as_deref(),
            Some("false")
        );
        assert_eq!(
            value(&member, "auto.offset.reset").as_deref(),
            Some("earliest")
        );
        assert_eq!(value(&member, "group.id").as_deref(), Some("g"));
    }

    #[test]
    fn sasl_ssl_takes_the_password_from_the_file_and_the_ca_from_its_setting() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let password = dir.path().join("password");
        std::fs::write(&password, "s3cret\n").unwrap();
        let settings = parse(&[
            "--kafka-security-protocol",
            "SASL_SSL",
            "--kafka-sasl-mechanism",
            "scram-sha-256",
            "--kafka-sasl-username",
            "leadpipe",
            "--kafka-sasl-password",
            "ignored",
            "--kafka-sasl-password-file",
            password.to_str().unwrap(),
            "--kafka-ssl-ca-location",
            ca.to_str().unwrap(),
        ])
        .unwrap();
        assert!(!format!("{settings:?}").contains("ignored"));
        let config = settings.client_config(ClientRole::Admin, &[]).unwrap();
        assert_eq!(
            value(&config, "security.protocol").as_deref(),
            Some("sasl_ssl")
        );
        assert_eq!(
            value(&config, "sasl.mechanism").as_deref(),
            Some("SCRAM-SHA-256")
        );
        assert_eq!(value(&config, "sasl.username").as_deref(), Some("leadpipe"));
        assert_eq!(value(&config, "sasl.password").as_deref(), Some("s3cret"));
        assert_eq!(
            value(&config, "ssl.ca.location"),
            Some(ca.display().to_string())
        );
        assert!(!settings.describe().contains("s3cret"));
    }

    #[test]
    fn misconfiguration_is_named_at_start() {
        let error = parse(&["--kafka-security-protocol", "sasl_ssl"])
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(
            error.to_string().contains("LEADPIPE_KAFKA_SASL_USERNAME"),
            "{error}"
        );
        let error = parse(&[
            "--kafka-security-protocol",
            "sasl_plaintext",
            "--kafka-sasl-username",
            "u",
        ])
        .unwrap()
        .validate()
        .unwrap_err();
        assert!(
            error.to_string().contains("LEADPIPE_KAFKA_SASL_PASSWORD"),
            "{error}"
        );
        let error = parse(&[
            "--kafka-security-protocol",
            "ssl",
            "--kafka-ssl-ca-location",
            "/nonexistent/ca.pem",
        ])
        .unwrap()
        .validate()
        .unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
        let error = parse(&["--kafka-sasl-username", "u"])
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(error.to_string().contains("does not use SASL"), "{error}");
        assert!(parse(&["--kafka-sasl-mechanism", "GSSAPI"]).is_err());
        assert!(parse(&["--kafka-security-protocol", "tls"]).is_err());
    }
}
