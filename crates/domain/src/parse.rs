//! The one step from raw text to a [`Lead`]: every field parsed by its newtype, every
//! failure collected. The request body (`request`) and the Kafka message (`message`) are
//! two encodings of a lead; both decode into a [`RawLead`] and come through here, so the
//! gateway and the consumer apply exactly the same rules.

use crate::error::{FieldError, FieldErrorCode, FieldErrors};
use crate::field::{
    CallingCode, Campaign, ConsentTextVersion, EmailAddress, Label, PageUrl, PersonName,
    PhoneNumber,
};
use crate::lead::{ConsentPolicy, Lead, Utm};

/// How a phone number arrives: typed by a person, or already canonical in a message.
pub(crate) enum RawPhone<S> {
    National(S),
    E164(S),
}

/// The text of a lead before parsing, as either encoding carries it; `S` is borrowed
/// from the input where it can be. `None` means absent.
pub(crate) struct RawLead<S> {
    pub name: Option<S>,
    pub email: Option<S>,
    pub country_code: Option<S>,
    pub phone: Option<RawPhone<S>>,
    pub campaign: Option<S>,
    pub consent_text_version: Option<S>,
    pub utm_source: Option<S>,
    pub utm_medium: Option<S>,
    pub utm_campaign: Option<S>,
    pub utm_term: Option<S>,
    pub utm_content: Option<S>,
    pub page_url: Option<S>,
    pub privacy_consent: Option<bool>,
}

impl<S: AsRef<str>> RawLead<S> {
    /// Parses every field, adding each failure to `errors` (which may already hold type
    /// errors), and returns the lead only when nothing failed.
    pub(crate) fn build(
        self,
        policy: ConsentPolicy,
        mut errors: FieldErrors,
    ) -> Result<Lead, FieldErrors> {
        let e = &mut errors;
        let name = required(e, "name", self.name)
            .and_then(|v| e.collect("name", PersonName::parse(v.as_ref())));
        let email = required(e, "email", self.email)
            .and_then(|v| e.collect("email", EmailAddress::parse(v.as_ref())));
        let code = required(e, "country_code", self.country_code)
            .and_then(|v| e.collect("country_code", CallingCode::parse(v.as_ref())));
        let phone = required(e, "phone_number", self.phone).and_then(|raw| {
            let code = code?;
            let parsed = match raw {
                RawPhone::National(v) => PhoneNumber::parse(code, v.as_ref()),
                RawPhone::E164(v) => PhoneNumber::parse_e164(code, v.as_ref()),
            };
            e.collect("phone_number", parsed)
        });
        let campaign = match self.campaign {
            None => Some(Campaign::default()),
            Some(v) => e.collect("campaign", Campaign::parse(v.as_ref())),
        };
        let consent_text_version = match self.consent_text_version {
            // Blank is absent, as for every optional field.
            Some(v) if !v.as_ref().trim().is_empty() => e
                .collect(
                    "consent_text_version",
                    ConsentTextVersion::parse(v.as_ref()),
                )
                .map(Some),
            _ => Some(None),
        };
        let mut label = |field: &'static str, value: Option<S>| match value {
            // An empty optional value is what a blank form field sends: treat as absent.
            Some(v) if !v.as_ref().trim().is_empty() => {
                e.collect(field, Label::parse(v.as_ref())).map(Some)
            }
            _ => Some(None),
        };
        let utm = (
            label("utm_source", self.utm_source),
            label("utm_medium", self.utm_medium),
            label("utm_campaign", self.utm_campaign),
            label("utm_term", self.utm_term),
            label("utm_content", self.utm_content),
        );
        let page_url = match self.page_url {
            Some(v) if !v.as_ref().trim().is_empty() => {
                e.collect("page_url", PageUrl::parse(v.as_ref())).map(Some)
            }
            _ => Some(None),
        };
        let privacy_consent = match self.privacy_consent {
            None => {
                e.push(FieldError::new(
                    "privacy_consent",
                    FieldErrorCode::Required,
                    "is required",
                ));
                None
            }
            Some(false) if policy.require_consent => {
                e.push(FieldError::new(
                    "privacy_consent",
                    FieldErrorCode::ConsentRequired,
                    "personal data may not be collected without consent",
                ));
                None
            }
            Some(consent) => Some(consent),
        };
        match (
            name,
            email,
            phone,
            campaign,
            consent_text_version,
            utm,
            page_url,
            privacy_consent,
        ) {
            (
                Some(name),
                Some(email),
                Some(phone),
                Some(campaign),
                Some(consent_text_version),
                (Some(source), Some(medium), Some(campaign_tag), Some(term), Some(content)),
                Some(page_url),
                Some(privacy_consent),
            ) if errors.is_empty() => Ok(Lead {
                name,
                email,
                phone,
                privacy_consent,
                consent_text_version,
                campaign,
                utm: Utm {
                    source,
                    medium,
                    campaign: campaign_tag,
                    term,
                    content,
                },
                page_url,
            }),
            _ => Err(errors),
        }
    }
}

fn required<T>(errors: &mut FieldErrors, field: &'static str, value: Option<T>) -> Option<T> {
    if value.is_none() && !errors.iter().any(|e| e.field == field) {
        errors.push(FieldError::new(
            field,
            FieldErrorCode::Required,
            "is required",
        ));
    }
    value
}
