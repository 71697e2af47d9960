//! The operator's extra librdkafka properties (`LEADPIPE_KAFKA_PROPERTIES`), parsed when
//! the command line is: a malformed or refused property stops the process before it
//! starts, with the reason and never the value (which might be a secret).

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;

use super::policy;

/// `key=value,key=value`; a part without `=` continues the previous value
/// (`debug=broker,topic`). Every key is checked against the [`policy`].
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
                    if let Some(refusal) = policy::refusal(key) {
                        return Err(refusal);
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

/// Parses `--kafka-properties` for clap. clap's own error for a bad value quotes the
/// value; this one names the setting and the reason only.
#[derive(Debug, Clone, Copy)]
pub struct PropertiesParser;

impl TypedValueParser for PropertiesParser {
    type Value = KafkaProperties;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let refuse = |reason: &str| {
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!("LEADPIPE_KAFKA_PROPERTIES: {reason}\n"),
            )
        };
        value
            .to_str()
            .ok_or_else(|| refuse("not valid UTF-8"))?
            .parse()
            .map_err(|reason: String| refuse(&reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let error = "linger.ms=10".parse::<KafkaProperties>().unwrap_err();
        assert_eq!(
            error,
            "linger.ms has a setting of its own: use LEADPIPE_KAFKA_LINGER_MS"
        );
        assert!("ssl.keystore.password=hunter2,x"
            .parse::<KafkaProperties>()
            .is_ok());
    }
}
