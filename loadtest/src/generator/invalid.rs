//! Leads the gateway must refuse: one kind per validation failure a visitor (or a broken
//! client) can produce, each with the answer the API documents for it. None of them may
//! ever reach the `leads` table; reconciliation checks that.

use serde::Serialize;
use serde_json::{json, Value};

use super::{LeadKind, PlannedRequest};

/// A way of getting a lead wrong. `InvalidKind::VARIANTS` lists them all; a kind's name
/// (`<&str>::from(kind)`) is its serde name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    strum::VariantArray,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum InvalidKind {
    /// The body is cut off mid-JSON.
    MalformedJson,
    /// An `Idempotency-Key` with a space in it.
    BadIdempotencyKey,
    /// A form post instead of JSON.
    WrongContentType,
    /// A body over the gateway's 16 KiB limit.
    TooLarge,
    /// `phone_number` left out.
    MissingField,
    /// `privacy_consent` sent as the string `"yes"`.
    WrongType,
    /// A name of only spaces.
    EmptyName,
    /// A campaign longer than 64 characters.
    CampaignTooLong,
    /// A name with a newline and a bidi override in it.
    ControlCharacters,
    /// An email address with two `@`.
    BadEmail,
    /// A calling code no country has.
    UnknownCallingCode,
    /// Too few digits for the country.
    BadPhoneNumber,
    /// The consent box left unticked.
    NoConsent,
    /// A field the API does not have.
    UnknownField,
    /// A `javascript:` page URL.
    BadPageUrl,
}

impl InvalidKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// What the gateway answers: status and problem `code`.
    pub fn expected(self) -> (u16, &'static str) {
        match self {
            Self::MalformedJson => (400, "malformed_json"),
            Self::BadIdempotencyKey => (400, "invalid_idempotency_key"),
            Self::WrongContentType => (415, "unsupported_media_type"),
            Self::TooLarge => (413, "payload_too_large"),
            Self::NoConsent => (422, "consent_required"),
            _ => (422, "validation_failed"),
        }
    }

    /// For the 422s: the field the gateway names, and its field error code.
    pub fn field_error(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Self::MissingField => ("phone_number", "required"),
            Self::WrongType => ("privacy_consent", "invalid_type"),
            Self::EmptyName => ("name", "empty"),
            Self::CampaignTooLong => ("campaign", "too_long"),
            Self::ControlCharacters => ("name", "invalid_characters"),
            Self::BadEmail => ("email", "invalid_format"),
            Self::UnknownCallingCode => ("country_code", "unknown_calling_code"),
            Self::BadPhoneNumber => ("phone_number", "invalid_phone_number"),
            Self::NoConsent => ("privacy_consent", "consent_required"),
            Self::UnknownField => ("referrer", "unknown_field"),
            Self::BadPageUrl => ("page_url", "invalid_format"),
            _ => return None,
        })
    }
}

/// Makes `request` carry the valid `lead` (as JSON) spoilt in the way `kind` describes: a
/// 422 kind sets the field its [`field_error`](InvalidKind::field_error) names (or,
/// missing, removes it). `campaign_too_long` is the run's over-long campaign, so even
/// that lead stays findable by campaign.
pub(crate) fn corrupt(
    kind: InvalidKind,
    mut lead: Value,
    campaign_too_long: &str,
    request: &mut PlannedRequest,
) {
    let email = lead["email"].as_str().unwrap_or("someone@example.com");
    let value = match kind {
        InvalidKind::WrongType => json!("yes"),
        InvalidKind::EmptyName => json!("   "),
        InvalidKind::CampaignTooLong => json!(campaign_too_long),
        InvalidKind::ControlCharacters => json!("Jane\n\u{202E}eoD"),
        InvalidKind::BadEmail => json!(email.replacen('@', "@@", 1)),
        InvalidKind::UnknownCallingCode => json!("+999"),
        InvalidKind::BadPhoneNumber => json!("010-12"),
        InvalidKind::NoConsent => json!(false),
        InvalidKind::UnknownField => json!("https://ads.example"),
        InvalidKind::BadPageUrl => json!("javascript:alert(1)"),
        InvalidKind::TooLarge => json!("x".repeat(17 * 1024)),
        _ => Value::Null,
    };
    match (kind, kind.field_error()) {
        (InvalidKind::MissingField, Some((field, _))) => {
            if let Some(object) = lead.as_object_mut() {
                object.remove(field);
            }
        }
        (InvalidKind::TooLarge, _) => lead["utm_content"] = value,
        (_, Some((field, _))) => lead[field] = value,
        _ => {}
    }
    request.kind = LeadKind::Invalid(kind);
    request.body = lead.to_string().into_bytes();
    match kind {
        InvalidKind::MalformedJson => request.body.truncate(request.body.len() / 2),
        InvalidKind::BadIdempotencyKey => request.idempotency_key = Some("not a valid key".into()),
        InvalidKind::WrongContentType => request.content_type = "application/x-www-form-urlencoded",
        _ => {}
    }
}
