//! The Kafka message on the `leads` topic: one accepted lead as JSON, keyed by its id.
//!
//! Wire format, version 2 (see `tests/golden/lead_message_v2.json`):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `schema_version` | integer | `2` (`1` is still read). A consumer dead-letters versions it does not know. |
//! | `id` | UUID string | the lead id; also the Kafka key and the table's primary key |
//! | `received_at` | RFC 3339 UTC | when the gateway accepted the lead |
//! | `consented_at` | RFC 3339 UTC or absent | when consent was given (= `received_at`) |
//! | `campaign` | string | campaign, `default` when none was given |
//! | `name`, `email` | string | as parsed (trimmed) |
//! | `country_code` | string | calling code with plus, `+82` |
//! | `phone_e164` | string | `+821012345678` |
//! | `privacy_consent` | boolean | the visitor's answer |
//! | `consent_text_version` | string or absent | the consent text the visitor was shown (v2) |
//! | `client_ip_hash` | 64 hex characters or absent | HMAC-SHA256 of the client's address with the gateway's key; never the address (v2) |
//! | `utm_source` … `utm_content`, `page_url` | string or absent | optional |
//!
//! Version 1 (`tests/golden/lead_message_v1.json`) is version 2 without the two (v2)
//! fields; a version 1 message is stored as one, with its version. Additive, optional
//! fields may be added within a version; consumers ignore fields they do not know.
//! Anything else is a new `schema_version`.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::client_ip_hash::ClientIpHash;
use crate::error::{FieldError, FieldErrorCode, FieldErrors, MalformedJson};
use crate::field::Label;
use crate::id::LeadId;
pub use crate::lead::SCHEMA_VERSION;
use crate::lead::{AcceptedLead, ConsentPolicy};
use crate::parse::{RawLead, RawPhone};

/// The versions a consumer reads.
pub const READABLE_VERSIONS: [u16; 2] = [1, 2];

/// One lead on the topic. Its text borrows: from an [`AcceptedLead`] when the gateway
/// encodes (nothing is copied), and from the record's bytes when the consumer decodes
/// (a string without escapes is not copied). [`LeadMessage::into_owned`] detaches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadMessage<'a> {
    pub schema_version: u16,
    pub id: LeadId,
    pub received_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consented_at: Option<DateTime<Utc>>,
    #[serde(borrow)]
    pub campaign: Cow<'a, str>,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub email: Cow<'a, str>,
    #[serde(borrow)]
    pub country_code: Cow<'a, str>,
    #[serde(borrow)]
    pub phone_e164: Cow<'a, str>,
    pub privacy_consent: bool,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub consent_text_version: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip_hash: Option<String>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub utm_medium: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub utm_term: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub utm_content: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<Cow<'a, str>>,
}

/// Why a message on the topic cannot be stored. Each reason is a dead-letter reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message is not a lead message: {0}")]
    Malformed(MalformedJson),
    #[error("unsupported schema_version {0}")]
    UnsupportedVersion(u64),
    #[error("lead no longer validates: {}", describe(.0))]
    Invalid(FieldErrors),
}

impl DecodeError {
    /// A stable, low-cardinality reason, for metrics and dead-letter headers.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::Invalid(_) => "invalid",
        }
    }
}

fn describe(errors: &FieldErrors) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|e| format!("{} {}", e.field, e.code.as_str()))
        .collect();
    parts.join(", ")
}

impl<'a> From<&'a AcceptedLead> for LeadMessage<'a> {
    fn from(accepted: &'a AcceptedLead) -> Self {
        let lead = &accepted.lead;
        let label = |l: &'a Option<Label>| l.as_ref().map(|l| Cow::Borrowed(l.as_str()));
        Self {
            schema_version: accepted.schema_version,
            id: accepted.id,
            received_at: accepted.received_at,
            consented_at: accepted.consented_at,
            campaign: Cow::Borrowed(lead.campaign.as_str()),
            name: Cow::Borrowed(lead.name.as_str()),
            email: Cow::Borrowed(lead.email.as_str()),
            country_code: Cow::Owned(lead.phone.calling_code().to_string()),
            phone_e164: Cow::Borrowed(lead.phone.e164()),
            privacy_consent: lead.privacy_consent,
            consent_text_version: lead
                .consent_text_version
                .as_ref()
                .map(|v| Cow::Borrowed(v.as_str())),
            client_ip_hash: accepted.client_ip_hash.map(|h| h.to_hex()),
            utm_source: label(&lead.utm.source),
            utm_medium: label(&lead.utm.medium),
            utm_campaign: label(&lead.utm.campaign),
            utm_term: label(&lead.utm.term),
            utm_content: label(&lead.utm.content),
            page_url: lead.page_url.as_ref().map(|u| Cow::Borrowed(u.as_str())),
        }
    }
}

impl AcceptedLead {
    /// The Kafka record value of this lead.
    pub fn to_message_json(&self) -> Vec<u8> {
        LeadMessage::from(self).to_json()
    }
}

#[derive(Deserialize)]
struct VersionProbe {
    schema_version: Option<serde_json::Value>,
}

impl LeadMessage<'_> {
    /// The Kafka record value.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        serde_json::to_writer(&mut out, self).expect("a LeadMessage always serializes");
        out
    }

    /// The same message, owning its text.
    pub fn into_owned(self) -> LeadMessage<'static> {
        let own = |text: Cow<'_, str>| Cow::Owned(text.into_owned());
        LeadMessage {
            schema_version: self.schema_version,
            id: self.id,
            received_at: self.received_at,
            consented_at: self.consented_at,
            campaign: own(self.campaign),
            name: own(self.name),
            email: own(self.email),
            country_code: own(self.country_code),
            phone_e164: own(self.phone_e164),
            privacy_consent: self.privacy_consent,
            consent_text_version: self.consent_text_version.map(own),
            client_ip_hash: self.client_ip_hash,
            utm_source: self.utm_source.map(own),
            utm_medium: self.utm_medium.map(own),
            utm_campaign: self.utm_campaign.map(own),
            utm_term: self.utm_term.map(own),
            utm_content: self.utm_content.map(own),
            page_url: self.page_url.map(own),
        }
    }

    /// Decodes a record value and re-validates the lead with the same rules the gateway
    /// applies, so nothing invalid reaches the database whoever wrote to the topic.
    pub fn decode(payload: &[u8], policy: ConsentPolicy) -> Result<AcceptedLead, DecodeError> {
        let probe: VersionProbe = serde_json::from_slice(payload)
            .map_err(|e| DecodeError::Malformed(MalformedJson::from_serde(&e)))?;
        match probe.schema_version {
            Some(serde_json::Value::Number(n))
                if n.as_u64()
                    .is_some_and(|v| READABLE_VERSIONS.iter().any(|r| u64::from(*r) == v)) => {}
            Some(serde_json::Value::Number(n)) => {
                return Err(DecodeError::UnsupportedVersion(n.as_u64().unwrap_or(0)))
            }
            _ => {
                return Err(DecodeError::Malformed(MalformedJson {
                    problem: "schema_version is missing or not a number",
                    line: 1,
                    column: 1,
                }))
            }
        }
        let message: LeadMessage<'_> = serde_json::from_slice(payload)
            .map_err(|e| DecodeError::Malformed(MalformedJson::from_serde(&e)))?;
        message.validate(policy).map_err(DecodeError::Invalid)
    }

    fn validate(self, policy: ConsentPolicy) -> Result<AcceptedLead, FieldErrors> {
        let mut errors = FieldErrors::default();
        if self.privacy_consent && self.consented_at.is_none() {
            errors.push(FieldError::new(
                "consented_at",
                FieldErrorCode::Required,
                "is required when consent was given",
            ));
        }
        let client_ip_hash = self
            .client_ip_hash
            .as_deref()
            .and_then(|hex| errors.collect("client_ip_hash", ClientIpHash::parse_hex(hex)));
        let raw = RawLead {
            name: Some(self.name),
            email: Some(self.email),
            country_code: Some(self.country_code),
            phone: Some(RawPhone::E164(self.phone_e164)),
            campaign: Some(self.campaign),
            consent_text_version: self.consent_text_version,
            utm_source: self.utm_source,
            utm_medium: self.utm_medium,
            utm_campaign: self.utm_campaign,
            utm_term: self.utm_term,
            utm_content: self.utm_content,
            page_url: self.page_url,
            privacy_consent: Some(self.privacy_consent),
        };
        let lead = raw.build(policy, errors)?;
        Ok(AcceptedLead {
            id: self.id,
            received_at: self.received_at,
            consented_at: self.consented_at,
            client_ip_hash,
            schema_version: self.schema_version,
            lead,
        })
    }
}
