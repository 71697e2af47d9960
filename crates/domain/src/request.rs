//! The body of `POST /v1/leads` and its parser. Parsing reports every failing field at
//! once (a form can highlight them all) and never echoes a submitted value back.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::body::{read_object, Scalar};
use crate::error::{FieldError, FieldErrorCode, FieldErrors, MalformedJson};
use crate::field::{ConsentTextVersion, Label};
use crate::lead::{ConsentPolicy, Lead};
use crate::parse::{RawLead, RawPhone};

/// The JSON a client sends. This type documents the API and is what clients build; the
/// server parses bodies with [`parse_submission`], which checks each field on its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "name": "홍길동", "email": "gildong@example.com", "country_code": "+82",
    "phone_number": "010-1234-5678", "privacy_consent": true, "consent_text_version": "2026-12",
    "campaign": "spring-2026",
    "utm_source": "newsletter", "page_url": "https://event.example.com/spring"
})))]
#[serde(deny_unknown_fields)]
pub struct LeadRequest {
    /// Trimmed, 1–100 characters in any script, no control characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    /// A syntactically valid address, at most 254 characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 254))]
    pub email: String,
    /// International calling code, `+82` or `82`.
    #[cfg_attr(feature = "openapi", schema(example = "+82"))]
    pub country_code: String,
    /// The number in national format: digits with optional spaces, dashes, dots and
    /// parentheses. Must be valid for `country_code`; stored in E.164 form.
    #[cfg_attr(feature = "openapi", schema(example = "010-1234-5678"))]
    pub phone_number: String,
    /// Consent to the collection of personal data. Required; `false` is rejected with
    /// `consent_required` unless the server is configured otherwise.
    pub privacy_consent: bool,
    /// The version of the consent text the visitor was shown, 1–64 printable characters.
    /// Required when the server lists the versions it accepts
    /// (`consent_version_unknown` for another one); stored with the lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64, example = "2026-12"))]
    pub consent_text_version: Option<String>,
    /// Campaign name, 1–64 printable characters. Defaults to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_term: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_content: Option<String>,
    /// Absolute http(s) URL of the page the form was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    /// The CAPTCHA widget's token, when the server verifies one (it may instead come in
    /// the `CAPTCHA-Token` header). Verified, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 4096))]
    pub captcha_token: Option<String>,
}

impl From<&Lead> for LeadRequest {
    /// The body that submits `lead` again, in normalised form: parsing it gives back an
    /// equal `Lead`.
    fn from(lead: &Lead) -> Self {
        let label = |l: &Option<Label>| l.as_ref().map(|l| l.as_str().to_owned());
        Self {
            name: lead.name.as_str().to_owned(),
            email: lead.email.as_str().to_owned(),
            country_code: lead.phone.calling_code().to_string(),
            phone_number: lead.phone.national_digits().to_owned(),
            privacy_consent: lead.privacy_consent,
            consent_text_version: lead
                .consent_text_version
                .as_ref()
                .map(|v| v.as_str().to_owned()),
            campaign: Some(lead.campaign.as_str().to_owned()),
            utm_source: label(&lead.utm.source),
            utm_medium: label(&lead.utm.medium),
            utm_campaign: label(&lead.utm.campaign),
            utm_term: label(&lead.utm.term),
            utm_content: label(&lead.utm.content),
            page_url: lead.page_url.as_ref().map(|u| u.as_str().to_owned()),
            captcha_token: None,
        }
    }
}

/// Why a body is not a lead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmissionError {
    /// Not JSON, or not a JSON object: answered with 400.
    #[error("malformed JSON body: {0}")]
    Malformed(MalformedJson),
    /// A JSON object whose fields do not form a valid lead: answered with 422.
    #[error(transparent)]
    Invalid(FieldErrors),
}

/// The fields of a lead in a request body, in the order their errors are reported,
/// then the fields that come with a lead but are not part of it.
const FIELDS: [&str; 14] = [
    "name",
    "email",
    "country_code",
    "phone_number",
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "page_url",
    "consent_text_version",
    "privacy_consent",
    CAPTCHA_TOKEN_FIELD,
];
const CONSENT_TEXT_VERSION: usize = 11;
const CONSENT: usize = 12;
const CAPTCHA: usize = 13;

/// The body field that carries a CAPTCHA widget's token (it may also come in a header).
pub const CAPTCHA_TOKEN_FIELD: &str = "captcha_token";
/// The longest CAPTCHA token accepted (Turnstile documents up to 2048 characters).
pub const MAX_CAPTCHA_TOKEN_CHARS: usize = 4096;

/// Whether `name` is a field of the API (a honeypot field must not be one).
pub fn is_api_field(name: &str) -> bool {
    FIELDS.contains(&name)
}

/// The fields of the API, as the parser knows them.
#[cfg(test)]
pub(crate) fn api_fields() -> &'static [&'static str] {
    &FIELDS
}

/// What the server configures about a body beyond a lead's own rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubmissionRules<'a> {
    pub consent: ConsentPolicy,
    /// A field the page hides from people (who leave it empty) and bots fill in. Not a
    /// field of the API; only recognised when configured.
    pub honeypot_field: Option<&'a str>,
    /// The consent text versions accepted. When set, every lead must name one of them
    /// (`consent_version_unknown` otherwise); unset, the version is optional and kept as
    /// sent.
    pub consent_text_versions: Option<&'a [String]>,
}

/// A body that holds a valid lead, and what came with it.
#[derive(Debug)]
pub struct Submission<'a> {
    pub lead: Lead,
    /// The honeypot field was present with a value (a non-empty string, `true`, a number
    /// or a structure).
    pub honeypot_filled: bool,
    pub captcha_token: Option<Cow<'a, str>>,
}

/// Parses a request body into a valid [`Lead`], or says what is wrong with it.
pub fn parse_submission(body: &[u8], policy: ConsentPolicy) -> Result<Lead, SubmissionError> {
    let rules = SubmissionRules {
        consent: policy,
        ..SubmissionRules::default()
    };
    parse_submission_with(body, rules).map(|s| s.lead)
}

/// Parses a request body with the server's [`SubmissionRules`]: the lead, the honeypot
/// and the CAPTCHA token.
pub fn parse_submission_with<'a>(
    body: &'a [u8],
    rules: SubmissionRules<'_>,
) -> Result<Submission<'a>, SubmissionError> {
    let mut known = [""; FIELDS.len() + 1];
    known[..FIELDS.len()].copy_from_slice(&FIELDS);
    let fields = match rules.honeypot_field {
        Some(honeypot) => {
            known[FIELDS.len()] = honeypot;
            &known[..]
        }
        None => &known[..FIELDS.len()],
    };
    let mut object = read_object(body, fields).map_err(SubmissionError::Malformed)?;
    let mut errors = FieldErrors::default();
    let mut text: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(CONSENT);
    for (index, field) in FIELDS[..CONSENT].iter().enumerate() {
        text.push(string(object.take(index), field, &mut errors));
    }
    let privacy_consent = consent(object.take(CONSENT), &mut errors);
    let captcha_token = captcha_token(object.take(CAPTCHA), &mut errors);
    let honeypot_filled = object.take(FIELDS.len()).is_some_and(|value| match value {
        Scalar::Null | Scalar::Bool(false) => false,
        Scalar::Str(s) => !s.trim().is_empty(),
        Scalar::Bool(true) | Scalar::Other => true,
    });
    if let Some(accepted) = rules.consent_text_versions {
        consent_text_version_accepted(text[CONSENT_TEXT_VERSION].as_deref(), accepted, &mut errors);
    }
    let mut text = text.into_iter();
    let mut next = || text.next().flatten();
    let raw = RawLead {
        name: next(),
        email: next(),
        country_code: next(),
        phone: next().map(RawPhone::National),
        campaign: next(),
        utm_source: next(),
        utm_medium: next(),
        utm_campaign: next(),
        utm_term: next(),
        utm_content: next(),
        page_url: next(),
        consent_text_version: next(),
        privacy_consent,
    };
    for key in object.unknown {
        errors.push(FieldError::new(
            key,
            FieldErrorCode::UnknownField,
            "is not a field of a lead",
        ));
    }
    let lead = raw
        .build(rules.consent, errors)
        .map_err(SubmissionError::Invalid)?;
    Ok(Submission {
        lead,
        honeypot_filled,
        captcha_token,
    })
}

/// With versions configured, a lead names one of them. A malformed version is left to
/// the parse step, which reports it as such.
fn consent_text_version_accepted(raw: Option<&str>, accepted: &[String], errors: &mut FieldErrors) {
    const FIELD: &str = "consent_text_version";
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => errors.push(FieldError::new(
            FIELD,
            FieldErrorCode::Required,
            "is required",
        )),
        Some(version) if ConsentTextVersion::parse(version).is_err() => {}
        Some(version) if !accepted.iter().any(|a| a == version) => errors.push(FieldError::new(
            FIELD,
            FieldErrorCode::ConsentVersionUnknown,
            "is not a consent text version this server accepts",
        )),
        Some(_) => {}
    }
}

fn captcha_token<'a>(value: Option<Scalar<'a>>, errors: &mut FieldErrors) -> Option<Cow<'a, str>> {
    let token = string(value, CAPTCHA_TOKEN_FIELD, errors)?;
    if token.chars().count() > MAX_CAPTCHA_TOKEN_CHARS {
        errors.push(FieldError::new(
            CAPTCHA_TOKEN_FIELD,
            FieldErrorCode::TooLong,
            "must be at most 4096 characters",
        ));
        return None;
    }
    (!token.trim().is_empty()).then_some(token)
}

/// A string field: `Some` for a string, `None` for absent or null, and an
/// `invalid_type` error for any other JSON type.
fn string<'a>(
    value: Option<Scalar<'a>>,
    field: &'static str,
    errors: &mut FieldErrors,
) -> Option<Cow<'a, str>> {
    match value {
        None | Some(Scalar::Null) => None,
        Some(Scalar::Str(s)) => Some(s),
        Some(_) => {
            errors.push(FieldError::new(
                field,
                FieldErrorCode::InvalidType,
                "must be a string",
            ));
            None
        }
    }
}

fn consent(value: Option<Scalar<'_>>, errors: &mut FieldErrors) -> Option<bool> {
    match value {
        Some(Scalar::Bool(b)) => Some(b),
        None | Some(Scalar::Null) => None,
        Some(_) => {
            errors.push(FieldError::new(
                "privacy_consent",
                FieldErrorCode::InvalidType,
                "must be a boolean",
            ));
            // Reported; `build` must not add a second "required" error for it.
            Some(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::PageUrl;
    use serde_json::{json, Value};

    fn parse(body: Value) -> Result<Lead, SubmissionError> {
        parse_submission(body.to_string().as_bytes(), ConsentPolicy::default())
    }

    fn with_honeypot(body: Value) -> Result<Submission<'static>, SubmissionError> {
        let bytes: &'static [u8] = Box::leak(body.to_string().into_bytes().into_boxed_slice());
        let rules = SubmissionRules {
            honeypot_field: Some("website"),
            ..SubmissionRules::default()
        };
        parse_submission_with(bytes, rules)
    }

    #[test]
    fn a_configured_honeypot_is_filled_only_by_a_value() {
        for (value, filled) in [
            (json!(""), false),
            (json!("  "), false),
            (Value::Null, false),
            (json!(false), false),
            (json!("http://spam.example"), true),
            (json!(true), true),
            (json!(1), true),
            (json!({"a": 1}), true),
        ] {
            let mut body = valid();
            body["website"] = value.clone();
            let submission = with_honeypot(body).unwrap();
            assert_eq!(submission.honeypot_filled, filled, "{value}");
        }
        assert!(!with_honeypot(valid()).unwrap().honeypot_filled);
    }

    #[test]
    fn without_configuration_a_honeypot_name_is_an_unknown_field() {
        let mut body = valid();
        body["website"] = json!("x");
        assert_eq!(
            field_errors(body),
            vec![("website".to_owned(), FieldErrorCode::UnknownField)]
        );
    }

    #[test]
    fn a_captcha_token_comes_with_the_lead_and_is_bounded() {
        let mut body = valid();
        body["captcha_token"] = json!("XXXX.token");
        let submission = with_honeypot(body.clone()).unwrap();
        assert_eq!(submission.captcha_token.as_deref(), Some("XXXX.token"));
        body["captcha_token"] = json!("x".repeat(MAX_CAPTCHA_TOKEN_CHARS + 1));
        assert_eq!(
            field_errors(body.clone()),
            vec![("captcha_token".to_owned(), FieldErrorCode::TooLong)]
        );
        body["captcha_token"] = json!(7);
        assert_eq!(
            field_errors(body),
            vec![("captcha_token".to_owned(), FieldErrorCode::InvalidType)]
        );
        assert!(is_api_field("captcha_token") && !is_api_field("website"));
    }

    fn field_errors(body: Value) -> Vec<(String, FieldErrorCode)> {
        match parse(body) {
            Err(SubmissionError::Invalid(errors)) => {
                errors.iter().map(|e| (e.field.clone(), e.code)).collect()
            }
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    fn valid() -> Value {
        json!({"name": "홍길동", "email": "gildong@example.com", "country_code": "+82",
               "phone_number": "010-1234-5678", "privacy_consent": true})
    }

    fn with_versions(body: &Value, accepted: &[&str]) -> Result<Lead, SubmissionError> {
        let accepted: Vec<String> = accepted.iter().map(|v| (*v).to_owned()).collect();
        let bytes = body.to_string().into_bytes();
        let rules = SubmissionRules {
            consent_text_versions: Some(&accepted),
            ..SubmissionRules::default()
        };
        parse_submission_with(&bytes, rules).map(|s| s.lead)
    }

    fn codes(result: Result<Lead, SubmissionError>) -> Vec<(String, FieldErrorCode)> {
        match result {
            Err(SubmissionError::Invalid(errors)) => {
                errors.iter().map(|e| (e.field.clone(), e.code)).collect()
            }
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn with_versions_configured_a_lead_must_name_an_accepted_one() {
        let accepted = ["2026-11", "2026-12"];
        let mut body = valid();
        assert_eq!(
            codes(with_versions(&body, &accepted)),
            vec![("consent_text_version".to_owned(), FieldErrorCode::Required)]
        );
        body["consent_text_version"] = json!("2025-01");
        let unknown = with_versions(&body, &accepted);
        assert_eq!(
            codes(unknown.clone()),
            vec![(
                "consent_text_version".to_owned(),
                FieldErrorCode::ConsentVersionUnknown
            )]
        );
        let Err(SubmissionError::Invalid(errors)) = unknown else {
            unreachable!()
        };
        assert!(errors.only_consent_version_unknown());
        body["consent_text_version"] = json!(" 2026-12 ");
        let lead = with_versions(&body, &accepted).unwrap();
        assert_eq!(
            lead.consent_text_version
                .as_ref()
                .map(ConsentTextVersion::as_str),
            Some("2026-12")
        );
        body["consent_text_version"] = json!("x".repeat(65));
        assert_eq!(
            codes(with_versions(&body, &accepted)),
            vec![("consent_text_version".to_owned(), FieldErrorCode::TooLong)]
        );
    }

    #[test]
    fn without_versions_configured_the_version_is_optional_and_kept_as_sent() {
        let mut body = valid();
        assert_eq!(parse(body.clone()).unwrap().consent_text_version, None);
        body["consent_text_version"] = json!("v3 (ko)");
        let lead = parse(body.clone()).unwrap();
        assert_eq!(
            lead.consent_text_version
                .as_ref()
                .map(ConsentTextVersion::as_str),
            Some("v3 (ko)")
        );
        body["consent_text_version"] = json!("\u{202e}v3");
        assert_eq!(
            field_errors(body),
            vec![(
                "consent_text_version".to_owned(),
                FieldErrorCode::InvalidCharacters
            )]
        );
    }

    /// The documented body (`LeadRequest`, what OpenAPI shows) and the parser's field list
    /// name the same fields.
    #[test]
    fn the_documented_body_and_the_parser_know_the_same_fields() {
        let some = || Some("x".to_owned());
        let full = LeadRequest {
            campaign: some(),
            consent_text_version: some(),
            utm_source: some(),
            utm_medium: some(),
            utm_campaign: some(),
            utm_term: some(),
            utm_content: some(),
            page_url: some(),
            captcha_token: some(),
            ..LeadRequest::default()
        };
        let documented = serde_json::to_value(full).unwrap();
        let mut documented: Vec<&str> = documented
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut parsed = FIELDS.to_vec();
        documented.sort_unstable();
        parsed.sort_unstable();
        assert_eq!(documented, parsed);
    }

    #[test]
    fn the_documented_example_parses_and_normalises() {
        let mut body = valid();
        body["campaign"] = json!("spring-2026");
        body["utm_source"] = json!(" newsletter ");
        body["utm_term"] = json!("");
        body["page_url"] = json!("https://event.example.com/spring");
        let lead = parse(body).unwrap();
        assert_eq!(lead.name.as_str(), "홍길동");
        assert_eq!(lead.phone.e164(), "+821012345678");
        assert_eq!(lead.campaign.as_str(), "spring-2026");
        assert_eq!(
            lead.utm.source.as_ref().map(Label::as_str),
            Some("newsletter")
        );
        assert_eq!(lead.utm.term, None);
        assert_eq!(
            lead.page_url.as_ref().map(PageUrl::as_str),
            Some("https://event.example.com/spring")
        );
    }

    #[test]
    fn campaign_defaults_to_default() {
        assert_eq!(parse(valid()).unwrap().campaign.as_str(), "default");
    }

    #[test]
    fn consent_false_is_rejected_with_its_own_code_unless_policy_allows_it() {
        let mut body = valid();
        body["privacy_consent"] = json!(false);
        assert_eq!(
            field_errors(body.clone()),
            vec![("privacy_consent".into(), FieldErrorCode::ConsentRequired)]
        );
        let lenient = ConsentPolicy {
            require_consent: false,
        };
        let lead = parse_submission(body.to_string().as_bytes(), lenient).unwrap();
        assert!(!lead.privacy_consent);
    }

    #[test]
    fn consent_missing_or_not_boolean_is_rejected() {
        for (consent, code) in [
            (None, FieldErrorCode::Required),
            (Some(Value::Null), FieldErrorCode::Required),
            (Some(json!("true")), FieldErrorCode::InvalidType),
            (Some(json!(1)), FieldErrorCode::InvalidType),
        ] {
            let mut body = valid();
            match consent {
                None => drop(body.as_object_mut().unwrap().remove("privacy_consent")),
                Some(v) => body["privacy_consent"] = v,
            }
            assert_eq!(field_errors(body), vec![("privacy_consent".into(), code)]);
        }
    }

    #[test]
    fn every_failing_field_is_reported_once() {
        let body = json!({"name": "", "email": "nope", "country_code": 82, "phone_number": "x",
                          "campaign": "", "page_url": "ftp://x", "privacy_consent": false});
        assert_eq!(
            field_errors(body),
            vec![
                ("country_code".into(), FieldErrorCode::InvalidType),
                ("name".into(), FieldErrorCode::Empty),
                ("email".into(), FieldErrorCode::InvalidFormat),
                ("campaign".into(), FieldErrorCode::Empty),
                ("page_url".into(), FieldErrorCode::InvalidFormat),
                ("privacy_consent".into(), FieldErrorCode::ConsentRequired),
            ]
        );
    }

    #[test]
    fn missing_fields_are_required() {
        let fields: Vec<_> = field_errors(json!({}))
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            [
                "name",
                "email",
                "country_code",
                "phone_number",
                "privacy_consent"
            ]
        );
    }

    #[test]
    fn unknown_fields_are_named() {
        let mut body = valid();
        body["nmae"] = json!("typo");
        body["admin"] = json!(true);
        assert_eq!(
            field_errors(body),
            vec![
                ("admin".into(), FieldErrorCode::UnknownField),
                ("nmae".into(), FieldErrorCode::UnknownField)
            ]
        );
    }

    #[test]
    fn malformed_json_reports_position_without_content() {
        for (body, problem) in [
            (&b"{\"name\": "[..], "unexpected end of input"),
            (&b"{name: 1}"[..], "invalid JSON syntax"),
            (&b"[1,2]"[..], "the body must be a JSON object"),
            (
                &b"\"gildong@example.com\""[..],
                "the body must be a JSON object",
            ),
            (&b""[..], "unexpected end of input"),
            (&b"\xff\xfe"[..], "invalid JSON syntax"),
            (
                &br#"{"name":"a","email":"gildong@example.com","name":"b"}"#[..],
                "a key appears twice in the object",
            ),
        ] {
            match parse_submission(body, ConsentPolicy::default()) {
                Err(SubmissionError::Malformed(m)) => {
                    assert_eq!(m.problem, problem);
                    assert!(!m.to_string().contains("gildong"));
                }
                other => panic!("{body:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_request_field_is_understood() {
        let request = LeadRequest {
            name: "Jane Doe".into(),
            email: "jane@example.com".into(),
            country_code: "1".into(),
            phone_number: "201-555-0123".into(),
            privacy_consent: true,
            consent_text_version: Some("v1".into()),
            campaign: Some("c".into()),
            utm_source: Some("s".into()),
            utm_medium: Some("m".into()),
            utm_campaign: Some("c".into()),
            utm_term: Some("t".into()),
            utm_content: Some("x".into()),
            page_url: Some("https://e.example/".into()),
            captcha_token: None,
        };
        let lead = parse_submission(
            &serde_json::to_vec(&request).unwrap(),
            ConsentPolicy::default(),
        )
        .unwrap();
        assert_eq!(
            LeadRequest::from(&lead),
            LeadRequest {
                country_code: "+1".into(),
                phone_number: "2015550123".into(),
                ..request
            }
        );
    }

    #[test]
    fn the_canary_lead_is_valid_and_recognisable() {
        let canary = Lead::canary();
        assert!(canary.is_canary());
        assert_eq!(canary.phone.e164(), "+821000000000");
        let body = serde_json::to_vec(&LeadRequest::from(&canary)).unwrap();
        let parsed = parse_submission(&body, ConsentPolicy::default()).unwrap();
        assert_eq!(parsed, canary, "it passes the gateway's own rules");
        assert!(!parse_submission(
            br#"{"name":"a","email":"a@b.co","country_code":"+82","phone_number":"010-1234-5678","privacy_consent":true}"#,
            ConsentPolicy::default()
        )
        .unwrap()
        .is_canary());
    }
}
