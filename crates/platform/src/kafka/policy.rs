//! Which librdkafka properties leadpipe decides itself, and so refuses from the
//! operator's pass-through (`LEADPIPE_KAFKA_PROPERTIES`):
//! - the safety settings of every [`ClientRole`] ([`SAFETY`]), applied last so nothing
//!   can override them;
//! - properties a setting of ours owns (`bootstrap.servers` is `LEADPIPE_KAFKA_BROKERS`),
//!   declared next to the settings themselves (`KafkaSettings::OWNS`,
//!   `ProducerTuning::OWNS`, `GroupSettings::OWNS`) and named here by reading the setting's
//!   variable off its `clap` definition.
//!
//! This is the one source of the policy: the Helm chart refuses the same keys from
//! `helm/leadpipe/files/kafka-policy.json`, which a test below holds equal to it.

use std::sync::LazyLock;

use clap::{Args, Command};

use super::settings::KafkaSettings;
use super::tuning::{GroupSettings, ProducerTuning};

/// Safety settings leadpipe always sets itself, and why.
pub const SAFETY: &[(&str, &str)] = &[
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

/// What a client is for; decides the safety settings it always has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole<'a> {
    /// A producer of leads (the gateway's, and the consumer's dead-letter and replay
    /// producer): `acks=all`, idempotent when configured.
    Producer,
    /// A member of the consumer group: offsets are stored and committed only by the
    /// code, after the database commit; a new group starts at the earliest offset.
    GroupMember { group_id: &'a str },
    /// Reads a group's committed offsets without joining it (lag of every partition).
    GroupObserver { group_id: &'a str },
    /// Metadata and topic administration.
    Admin,
}

impl ClientRole<'_> {
    /// Settings applied last: no tuning and no pass-through can change them.
    pub(super) fn safety(&self, idempotence: bool) -> Vec<(&'static str, String)> {
        match self {
            Self::Producer => vec![
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

/// The properties our settings own, each with the variable that sets it.
pub fn dedicated() -> &'static [(&'static str, String)] {
    static DEDICATED: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
        let owners: [(&[(&'static str, &'static str)], Command); 3] = [
            (
                KafkaSettings::OWNS,
                KafkaSettings::augment_args(Command::new("kafka")),
            ),
            (
                ProducerTuning::OWNS,
                ProducerTuning::augment_args(Command::new("producer")),
            ),
            (
                GroupSettings::OWNS,
                GroupSettings::augment_args(Command::new("group")),
            ),
        ];
        let mut dedicated = Vec::new();
        for (owns, command) in owners {
            for (key, field) in owns {
                let variable = command
                    .get_arguments()
                    .find(|arg| arg.get_id() == *field)
                    .and_then(clap::Arg::get_env)
                    .unwrap_or_else(|| panic!("{key} is owned by {field}, which has no variable"));
                dedicated.push((*key, variable.to_string_lossy().into_owned()));
            }
        }
        dedicated
    });
    &DEDICATED
}

/// Why `key` may not be passed through, or `None` when it may.
pub fn refusal(key: &str) -> Option<String> {
    if let Some((_, why)) = SAFETY.iter().find(|(k, _)| *k == key) {
        return Some(format!(
            "{key} is a safety setting leadpipe always sets ({why}); it cannot be overridden"
        ));
    }
    dedicated()
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, setting)| format!("{key} has a setting of its own: use {setting}"))
}

/// The policy as the chart reads it (`helm/leadpipe/files/kafka-policy.json`).
pub fn chart_json() -> String {
    let quoted = |pairs: &mut dyn Iterator<Item = (&str, &str)>| {
        pairs
            .map(|(key, value)| format!("    {key:?}: {value:?}"))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    format!(
        "{{\n  \"safety\": {{\n{}\n  }},\n  \"dedicated\": {{\n{}\n  }}\n}}\n",
        quoted(&mut SAFETY.iter().copied()),
        quoted(&mut dedicated().iter().map(|(k, v)| (*k, v.as_str())))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chart's copy of the policy (`helm/leadpipe/files/kafka-policy.json`, read by
    /// its `kafka.properties` check) says exactly what the binaries refuse.
    #[test]
    fn the_charts_kafka_policy_is_the_binaries() {
        let expected = chart_json();
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../helm/leadpipe/files/kafka-policy.json"
        );
        let chart = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            chart == expected,
            "{path} differs from the policy in crates/platform/src/kafka/policy.rs; it should read:\n{expected}"
        );
    }

    #[test]
    fn every_owned_property_names_the_variable_that_sets_it() {
        let named = |key: &str| {
            dedicated()
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(named("bootstrap.servers"), Some("LEADPIPE_KAFKA_BROKERS"));
        assert_eq!(
            named("sasl.password"),
            Some("LEADPIPE_KAFKA_SASL_PASSWORD_FILE")
        );
        assert_eq!(named("linger.ms"), Some("LEADPIPE_KAFKA_LINGER_MS"));
        assert_eq!(named("group.id"), Some("LEADPIPE_GROUP_ID"));
        assert_eq!(
            named("session.timeout.ms"),
            Some("LEADPIPE_KAFKA_SESSION_TIMEOUT_MS")
        );
        assert_eq!(named("socket.keepalive.enable"), None);
    }
}
