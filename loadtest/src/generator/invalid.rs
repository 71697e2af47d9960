//! Leads the gateway must refuse: one kind per validation failure a visitor (or a broken
//! client) can produce, each with the answer the API documents for it. None of them may
//! ever reach the `leads` table; reconciliation checks that.

use serde::Serialize;
use serde_json::{json, Value};

/// A way of getting a lead wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
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

/// What the gateway answers to an invalid lead: status and problem `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedAnswer {
    pub status: u16,
    pub code: &'static str,
}

impl InvalidKind {
    pub const ALL: [InvalidKind; 15] = [
        Self::MalformedJson,
        Self::BadIdempotencyKey,
        Self::WrongContentType,
        Self::TooLarge,
        Self::MissingField,
        Self::WrongType,
        Self::EmptyName,
        Self::CampaignTooLong,
        Self::ControlCharacters,
        Self::BadEmail,
        Self::UnknownCallingCode,
        Self::BadPhoneNumber,
        Self::NoConsent,
        Self::UnknownField,
        Self::BadPageUrl,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::BadIdempotencyKey => "bad_idempotency_key",
            Self::WrongContentType => "wrong_content_type",
            Self::TooLarge => "too_large",
            Self::MissingField => "missing_field",
            Self::WrongType => "wrong_type",
            Self::EmptyName => "empty_name",
            Self::CampaignTooLong => "campaign_too_long",
            Self::ControlCharacters => "control_characters",
            Self::BadEmail => "bad_email",
            Self::UnknownCallingCode => "unknown_calling_code",
            Self::BadPhoneNumber => "bad_phone_number",
            Self::NoConsent => "no_consent",
            Self::UnknownField => "unknown_field",
            Self::BadPageUrl => "bad_page_url",
        }
    }

    pub fn expected(self) -> ExpectedAnswer {
        let (status, code) = match self {
            Self::MalformedJson => (400, "malformed_json"),
            Self::BadIdempotencyKey => (400, "invalid_idempotency_key"),
            Self::WrongContentType => (415, "unsupported_media_type"),
            Self::TooLarge => (413, "payload_too_large"),
            Self::NoConsent => (422, "consent_required"),
            _ => (422, "validation_failed"),
        };
        ExpectedAnswer { status, code }
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

/// What goes on the wire for an invalid lead.
pub(crate) struct Corrupted {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub idempotency_key: Option<String>,
}

/// Spoils a valid lead (as JSON) in the way `kind` describes. `campaign_too_long` is the
/// run's over-long campaign, so even that lead stays findable by campaign.
pub(crate) fn corrupt(kind: InvalidKind, mut lead: Value, campaign_too_long: &str) -> Corrupted {
    let mut content_type = "application/json";
    let mut idempotency_key = None;
    let field = |lead: &mut Value, name: &str, value: Value| {
        if let Some(object) = lead.as_object_mut() {
            object.insert(name.to_owned(), value);
        }
    };
    match kind {
        InvalidKind::MalformedJson => {
            let mut body = lead.to_string().into_bytes();
            body.truncate(body.len() / 2);
            return Corrupted {
                body,
                content_type,
                idempotency_key,
            };
        }
        InvalidKind::BadIdempotencyKey => idempotency_key = Some("not a valid key".to_owned()),
        InvalidKind::WrongContentType => content_type = "application/x-www-form-urlencoded",
        InvalidKind::TooLarge => field(&mut lead, "utm_content", json!("x".repeat(17 * 1024))),
        InvalidKind::MissingField => {
            if let Some(object) = lead.as_object_mut() {
                object.remove("phone_number");
            }
        }
        InvalidKind::WrongType => field(&mut lead, "privacy_consent", json!("yes")),
        InvalidKind::EmptyName => field(&mut lead, "name", json!("   ")),
        InvalidKind::CampaignTooLong => field(&mut lead, "campaign", json!(campaign_too_long)),
        InvalidKind::ControlCharacters => field(&mut lead, "name", json!("Jane\n\u{202E}eoD")),
        InvalidKind::BadEmail => {
            let email = lead["email"].as_str().unwrap_or("someone@example.com");
            let bad = email.replacen('@', "@@", 1);
            field(&mut lead, "email", json!(bad));
        }
        InvalidKind::UnknownCallingCode => field(&mut lead, "country_code", json!("+999")),
        InvalidKind::BadPhoneNumber => field(&mut lead, "phone_number", json!("010-12")),
        InvalidKind::NoConsent => field(&mut lead, "privacy_consent", json!(false)),
        InvalidKind::UnknownField => field(&mut lead, "referrer", json!("https://ads.example")),
        InvalidKind::BadPageUrl => field(&mut lead, "page_url", json!("javascript:alert(1)")),
    }
    Corrupted {
        body: lead.to_string().into_bytes(),
        content_type,
        idempotency_key,
    }
}
