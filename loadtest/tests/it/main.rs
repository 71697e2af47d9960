//! Whole-pipeline tests with real processes: the load generator end to end
//! ([`smoke`]), and faults under load — the broker, a consumer, the database or a gateway
//! going away ([`fault_broker_outage`], [`fault_consumer_killed`],
//! [`fault_database_outage`], [`fault_gateway_sigterm`]), each checking with the
//! reconciliation that every lead answered 202 is stored exactly once; and the pipeline
//! over secured Kafka, SASL/SCRAM and TLS ([`secured_kafka`]); and [`chaos`]: a seeded
//! schedule of crashes of every piece under load.

mod chaos;
mod fault_broker_outage;
mod fault_consumer_killed;
mod fault_database_outage;
mod fault_gateway_sigterm;
mod secured_kafka;
mod smoke;
mod support;
