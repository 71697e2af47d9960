//! Every librdkafka client leadpipe creates is built here, from the [`KafkaConfig`] that
//! [`KafkaSettings::validate`](super::KafkaSettings::validate) returned once at start.
//! A client's properties are set in this order: connection and security, the caller's
//! tuning, the operator's pass-through properties, and last the role's safety settings,
//! so nothing can override those.

use rdkafka::config::{ClientConfig, FromClientConfig, FromClientConfigAndContext};
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;

use super::policy::ClientRole;
use super::properties::KafkaProperties;
use super::settings::KafkaConfigError;

/// Validated Kafka settings: the connection (secrets read), the pass-through properties
/// (checked), the idempotence choice. Only `KafkaSettings::validate` makes one.
#[derive(Clone)]
pub struct KafkaConfig {
    connection: ClientConfig,
    properties: KafkaProperties,
    idempotence: bool,
    description: String,
}

impl std::fmt::Debug for KafkaConfig {
    /// The description only: the connection holds secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("KafkaConfig")
            .field(&self.description)
            .finish()
    }
}

/// A Kafka client that could not be created.
#[derive(Debug, thiserror::Error)]
pub enum KafkaClientError {
    #[error(transparent)]
    Config(#[from] KafkaConfigError),
    #[error("creating the Kafka client: {0}")]
    Create(#[from] KafkaError),
}

impl KafkaConfig {
    pub(super) fn new(
        connection: ClientConfig,
        properties: KafkaProperties,
        idempotence: bool,
        description: String,
    ) -> Self {
        Self {
            connection,
            properties,
            idempotence,
            description,
        }
    }

    /// Brokers, protocol and SASL user, for the start-up log: no secret in it.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// A client for `role`, called `client_id` by the brokers.
    pub fn client<'a>(&'a self, role: ClientRole<'a>, client_id: &'a str) -> ClientBuilder<'a> {
        ClientBuilder {
            config: self,
            role,
            client_id,
            tuning: Vec::new(),
        }
    }
}

/// One client being built; see [`KafkaConfig::client`].
pub struct ClientBuilder<'a> {
    config: &'a KafkaConfig,
    role: ClientRole<'a>,
    client_id: &'a str,
    tuning: Vec<(&'static str, String)>,
}

impl ClientBuilder<'_> {
    /// Properties of this client's own (a typed tuning's `properties()`): they come
    /// after the connection and before the operator's pass-through.
    #[must_use]
    pub fn tuning(mut self, tuning: impl IntoIterator<Item = (&'static str, String)>) -> Self {
        self.tuning.extend(tuning);
        self
    }

    /// The librdkafka configuration.
    pub fn config(&self) -> ClientConfig {
        let mut config = self.config.connection.clone();
        config.set("client.id", self.client_id);
        for (key, value) in &self.tuning {
            config.set(*key, value);
        }
        for (key, value) in &self.config.properties.0 {
            config.set(key, value);
        }
        for (key, value) in self.role.safety(self.config.idempotence) {
            config.set(key, value);
        }
        config
    }

    pub fn create<T: FromClientConfig>(&self) -> Result<T, KafkaError> {
        self.config().create()
    }

    /// A client with callbacks of its own.
    pub fn create_with_context<C: ClientContext, T: FromClientConfigAndContext<C>>(
        &self,
        context: C,
    ) -> Result<T, KafkaError> {
        self.config().create_with_context(context)
    }
}
