//! How to reach the brokers: the `clap` settings both binaries flatten into theirs
//! (bootstrap servers, TLS, SASL, pass-through properties), each parsed into its type
//! when the command line is, and [`KafkaSettings::validate`], which checks them together
//! once at start and returns the [`KafkaConfig`] every client is built from.

use std::path::PathBuf;

use clap::{ArgAction, Args, ValueEnum};
use rdkafka::config::ClientConfig;

use super::client::KafkaConfig;
use super::properties::{KafkaProperties, PropertiesParser};
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
    pub brokers: Brokers,

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
        default_value = "",
        value_parser = PropertiesParser
    )]
    pub properties: KafkaProperties,

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

/// Bootstrap servers: `host:port`, comma-separated (IPv6 hosts in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brokers(Vec<String>);

impl std::str::FromStr for Brokers {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let brokers: Vec<String> = text
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
            .collect();
        if brokers.is_empty() {
            return Err("expected host:port,host:port".to_owned());
        }
        for broker in &brokers {
            let port = broker
                .rsplit_once(':')
                .filter(|(host, _)| !host.is_empty())
                .and_then(|(_, port)| port.parse::<u16>().ok())
                .filter(|port| *port > 0);
            if port.is_none() {
                return Err(format!("{broker} is not host:port"));
            }
        }
        Ok(Self(brokers))
    }
}

impl std::fmt::Display for Brokers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(","))
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
}

impl KafkaSettings {
    /// The librdkafka properties each field owns (by field name).
    pub const OWNS: &'static [(&'static str, &'static str)] = &[
        ("bootstrap.servers", "brokers"),
        ("metadata.broker.list", "brokers"),
        ("security.protocol", "security_protocol"),
        ("sasl.mechanism", "sasl_mechanism"),
        ("sasl.mechanisms", "sasl_mechanism"),
        ("sasl.username", "sasl_username"),
        ("sasl.password", "sasl_password_file"),
        ("ssl.ca.location", "ssl_ca_location"),
        ("ssl.certificate.location", "ssl_certificate_location"),
        ("ssl.key.location", "ssl_key_location"),
        ("ssl.key.password", "ssl_key_password_file"),
    ];

    /// Plaintext, no authentication, the other settings at their defaults: the local
    /// broker of tests and benchmarks.
    ///
    /// # Panics
    /// When `brokers` is not `host:port,…`.
    pub fn plaintext(brokers: &str) -> Self {
        Self {
            brokers: brokers.parse().expect("brokers are host:port"),
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
            properties: KafkaProperties::default(),
            idempotence: true,
        }
    }

    /// Checks the settings together — what a protocol needs is there, files exist and
    /// are read (secrets once, here), nothing is set that the protocol would silently
    /// ignore — and returns the configuration every client is built from.
    pub fn validate(&self) -> Result<KafkaConfig, KafkaConfigError> {
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
            if let Some(path) = path.as_ref().filter(|p| std::fs::File::open(p).is_err()) {
                return Err(KafkaConfigError::MissingFile {
                    setting,
                    path: path.clone(),
                });
            }
        }
        let config = KafkaConfig::new(
            self.connection()?,
            self.properties.clone(),
            self.idempotence,
            self.describe(),
        );
        tracing::debug!(kafka = config.describe(), "Kafka settings validated");
        Ok(config)
    }

    /// The connection and security properties, secret files read.
    fn connection(&self) -> Result<ClientConfig, KafkaConfigError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.brokers.to_string())
            .set("security.protocol", self.security_protocol.as_str());
        if self.security_protocol.uses_tls() {
            match &self.ssl_ca_location {
                Some(path) => config.set("ssl.ca.location", path.display().to_string()),
                // librdkafka's compiled-in certificate directory may not exist here:
                // look in the usual places.
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
        Ok(config)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::ClientRole;
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
    fn a_refused_pass_through_stops_the_parse_naming_the_setting_not_the_value() {
        let error = parse(&["--kafka-properties", "acks=1"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
        assert_eq!(error.exit_code(), 2);
        let text = error.to_string();
        assert!(
            text.contains("LEADPIPE_KAFKA_PROPERTIES: acks is a safety setting"),
            "{text}"
        );
        let broken = parse(&["--kafka-properties", "Bad Key=hunter2"]).unwrap_err();
        assert!(!broken.to_string().contains("hunter2"), "{broken}");
        assert!(parse(&["--kafka-properties", "ssl.keystore.password=hunter2,x"]).is_ok());
    }

    #[test]
    fn brokers_are_host_port_pairs() {
        let settings = parse(&["--kafka-brokers", "a:9092, [::1]:9093,"]).unwrap();
        assert_eq!(settings.brokers.to_string(), "a:9092,[::1]:9093");
        for bad in ["", "a", "a:", ":9092", "a:port", "a:0", "a:70000"] {
            assert!(parse(&["--kafka-brokers", bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn safety_settings_come_last_and_tuning_can_be_overridden_by_the_operator() {
        let config = parse(&[
            "--kafka-properties",
            "queue.buffering.max.kbytes=1024,socket.keepalive.enable=true",
        ])
        .unwrap()
        .validate()
        .unwrap();
        let producer = config
            .client(ClientRole::Producer, "leadpipe-gateway")
            .tuning([
                ("queue.buffering.max.kbytes", "262144".to_owned()),
                ("acks", "1".to_owned()),
            ])
            .config();
        assert_eq!(value(&producer, "acks").as_deref(), Some("all"));
        assert_eq!(
            value(&producer, "enable.idempotence").as_deref(),
            Some("true")
        );
        assert_eq!(
            value(&producer, "queue.buffering.max.kbytes").as_deref(),
            Some("1024")
        );
        assert_eq!(
            value(&producer, "socket.keepalive.enable").as_deref(),
            Some("true")
        );
        assert_eq!(
            value(&producer, "security.protocol").as_deref(),
            Some("plaintext")
        );
        assert_eq!(
            value(&producer, "client.id").as_deref(),
            Some("leadpipe-gateway")
        );

        let member = config
            .client(
                ClientRole::GroupMember { group_id: "g" },
                "leadpipe-consumer",
            )
            .config();
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
    fn sasl_ssl_takes_the_password_from_the_file_once_and_the_ca_from_its_setting() {
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
        let kafka = settings.validate().unwrap();
        // The file was read at validation: clients made later do not read it again.
        std::fs::remove_file(&password).unwrap();
        let config = kafka.client(ClientRole::Admin, "leadpipe-admin").config();
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
        assert!(!format!("{kafka:?}").contains("s3cret"));
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
