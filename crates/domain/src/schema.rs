//! The request body's rules as JSON Schema (the `LeadRequest` of the OpenAPI document),
//! built from the constants the field parsers enforce, so that generated clients and
//! form validation know every rule JSON Schema can express. What it cannot express —
//! a phone number valid for its country, a calling code assigned to a country, an
//! internationalised email domain — is said in the field's description and checked by
//! the server only.
//!
//! Every free-text rule is on the value as sent: the parsers trim surrounding whitespace
//! (Unicode `White_Space`, what `str::trim` removes) before they count characters, so the
//! patterns allow it around the value and count only what is inside. The tests below
//! hold each pattern to its parser: a pattern matches exactly the values the parser
//! accepts.

use serde_json::{json, Map, Value};

use crate::field::{Campaign, ConsentTextVersion, EmailAddress, Label, PageUrl, PersonName};
use crate::id::IdempotencyKey;
use crate::request::{CAPTCHA_TOKEN_FIELD, MAX_CAPTCHA_TOKEN_CHARS};

/// What `str::trim` removes: Unicode `White_Space`.
const TRIMMED: &str =
    r"\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// What no free-text field may hold (see `field::reject_control_chars`).
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff";

/// A trimmed value of 1..=`max` characters without control characters.
fn text_core(max: usize) -> String {
    let edge = format!("[^{TRIMMED}{CONTROL}]");
    match max {
        0 | 1 => edge,
        _ => format!("{edge}(?:[^{CONTROL}]{{0,{}}}{edge})?", max - 2),
    }
}

/// A free-text field: 1..=`max` characters once trimmed, no control characters.
pub fn text_pattern(max: usize) -> String {
    format!("^[{TRIMMED}]*{}[{TRIMMED}]*$", text_core(max))
}

/// An optional free-text field: blank (absent) or as [`text_pattern`].
pub fn optional_text_pattern(max: usize) -> String {
    format!("^[{TRIMMED}]*(?:{})?[{TRIMMED}]*$", text_core(max))
}

/// The email rules of the `validator` crate (the HTML5 definition) for ASCII domains.
pub fn email_pattern() -> String {
    let label = "[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?";
    format!(
        "^[{TRIMMED}]*[a-zA-Z0-9.!#$%&'*+/=?^_`{{|}}~-]{{1,64}}@{label}(?:\\.{label})*[{TRIMMED}]*$"
    )
}

/// An http(s) URL with a host name (the last label not a number, which URL parsers read
/// as an IPv4 address), an optional port, and any path; blank is absent.
pub fn optional_url_pattern() -> String {
    let host = r"(?:[a-zA-Z0-9-]+\.)*[a-zA-Z][a-zA-Z0-9-]*";
    let port =
        "(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?";
    let rest = r"(?:[/?#][^\u0000-\u001f\u007f]*)?";
    format!("^[{TRIMMED}]*(?:[hH][tT][tT][pP][sS]?://{host}{port}{rest})?[{TRIMMED}]*$")
}

/// A calling code: `+82` or `82` (1–3 digits, no leading zero).
pub fn calling_code_pattern() -> String {
    format!("^[{TRIMMED}]*\\+?[1-9][0-9]{{0,2}}[{TRIMMED}]*$")
}

/// A national number as people type it: digits with spaces, dashes, dots, parentheses.
pub fn phone_pattern() -> String {
    format!("^[{TRIMMED}]*[0-9 ().-]*[0-9][0-9 ().-]*[{TRIMMED}]*$")
}

/// An `Idempotency-Key`: 1–255 visible ASCII characters but `"` and `\`, optionally
/// quoted as a structured-field string.
pub fn idempotency_key_pattern() -> String {
    let key = format!("[!#-\\[\\]-~]{{1,{}}}", IdempotencyKey::MAX_LEN);
    format!("^[{TRIMMED}]*(?:\"{key}\"|{key})[{TRIMMED}]*$")
}

/// What the server is configured with that the body's schema reflects.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchemaRules<'a> {
    /// `privacy_consent` must be `true` (the default policy).
    pub consent_required: bool,
    /// The accepted consent text versions, when configured.
    pub consent_text_versions: Option<&'a [String]>,
}

fn string(pattern: String, description: &str) -> Value {
    json!({"type": "string", "pattern": pattern, "description": description})
}

fn nullable(mut schema: Value) -> Value {
    schema["type"] = json!(["string", "null"]);
    schema
}

/// The JSON Schema of the request body under `rules`.
pub fn lead_request_schema(rules: SchemaRules<'_>) -> Value {
    let trimmed = "Surrounding whitespace is trimmed before the rules apply.";
    let mut properties = Map::new();
    properties.insert(
        "name".into(),
        string(
            text_pattern(PersonName::MAX_CHARS),
            &format!(
                "1–{} characters in any script, no control characters. {trimmed}",
                PersonName::MAX_CHARS
            ),
        ),
    );
    let mut email = string(
        email_pattern(),
        &format!(
            "A valid address (the HTML5 definition), at most {} characters; also accepted: an \
             internationalised domain (IDN) or an address literal, which the pattern does not \
             cover. {trimmed}",
            EmailAddress::MAX_CHARS
        ),
    );
    // No `format: email`: format checkers do not trim, the server does.
    email["maxLength"] = json!(EmailAddress::MAX_CHARS);
    properties.insert("email".into(), email);
    properties.insert(
        "country_code".into(),
        string(
            calling_code_pattern(),
            "International calling code, `+82` or `82`; it must be assigned to a country.",
        ),
    );
    properties.insert(
        "phone_number".into(),
        string(
            phone_pattern(),
            "The number in national format: digits with optional spaces, dashes, dots and \
             parentheses. It must be a valid number for `country_code` (checked by the server, \
             which stores it in E.164 form).",
        ),
    );
    let mut consent = json!({
        "type": "boolean",
        "description": "Consent to the collection of personal data.",
    });
    if rules.consent_required {
        consent["const"] = json!(true);
        consent["description"] = json!(
            "Consent to the collection of personal data: required, and `false` is answered \
             with 422 `consent_required`."
        );
    }
    properties.insert("privacy_consent".into(), consent);
    let mut version = string(
        optional_text_pattern(ConsentTextVersion::MAX_CHARS),
        &format!(
            "The version of the consent text the visitor was shown, 1–{} characters. {trimmed}",
            ConsentTextVersion::MAX_CHARS
        ),
    );
    if let Some(versions) = rules.consent_text_versions {
        version = json!({
            "type": "string",
            "enum": versions,
            "description": "The version of the consent text the visitor was shown: one of \
                            these (another one is answered with 422 `consent_version_unknown`).",
        });
    } else {
        version = nullable(version);
    }
    properties.insert("consent_text_version".into(), version);
    properties.insert(
        "campaign".into(),
        nullable(string(
            text_pattern(Campaign::MAX_CHARS),
            &format!(
                "Campaign name, 1–{} characters; `{}` when absent. {trimmed}",
                Campaign::MAX_CHARS,
                Campaign::DEFAULT
            ),
        )),
    );
    for field in [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    ] {
        properties.insert(
            field.into(),
            nullable(string(
                optional_text_pattern(Label::MAX_CHARS),
                &format!(
                    "At most {} characters; blank is absent. {trimmed}",
                    Label::MAX_CHARS
                ),
            )),
        );
    }
    let mut page_url = nullable(string(
        optional_url_pattern(),
        &format!(
            "Absolute http(s) URL of the page the form was on, at most {} characters; blank is \
             absent. The pattern covers host names; the server also accepts internationalised \
             host names and IP addresses.",
            PageUrl::MAX_CHARS
        ),
    ));
    page_url["maxLength"] = json!(PageUrl::MAX_CHARS);
    properties.insert("page_url".into(), page_url);
    let mut captcha = nullable(json!({
        "type": "string",
        "description": "The CAPTCHA widget's token, when the server verifies one (it may instead \
                        come in the `CAPTCHA-Token` header). Verified, never stored.",
    }));
    captcha["maxLength"] = json!(MAX_CAPTCHA_TOKEN_CHARS);
    properties.insert(CAPTCHA_TOKEN_FIELD.into(), captcha);

    let mut required = vec![
        "name",
        "email",
        "country_code",
        "phone_number",
        "privacy_consent",
    ];
    if rules.consent_text_versions.is_some() {
        required.push("consent_text_version");
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldErrorCode;
    use crate::field::CallingCode;
    use proptest::prelude::*;
    use regex::Regex;

    fn re(pattern: &str) -> Regex {
        Regex::new(pattern).unwrap()
    }

    /// Characters that exercise every rule: letters of several scripts, digits, the
    /// punctuation of emails and phone numbers, whitespace the parsers trim and some
    /// they do not, control and format characters.
    fn tricky() -> impl Strategy<Value = String> {
        let chars = prop_oneof![
            prop::char::range('a', 'e'),
            prop::char::range('0', '3'),
            prop::sample::select(vec![
                ' ', '\t', '\n', '\u{0b}', '\u{85}', '\u{a0}', '\u{3000}', '\u{2028}', '\u{0}',
                '\u{1f}', '\u{7f}', '\u{200b}', '\u{202e}', '\u{feff}', '\u{1c}', '홍', 'é', '@',
                '.', '-', '+', '(', ')', '"', '\\', '!', '#', '~', '_', '/', ':', 'Z',
            ]),
        ];
        prop::collection::vec(chars, 0..12).prop_map(|c| c.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn each_text_pattern_matches_exactly_what_its_parser_accepts(value in tricky()) {
            // Short maxima, so that generated values cross them.
            for max in [1usize, 2, 5] {
                let parsed = crate::field::check_text(&value, max);
                prop_assert_eq!(re(&text_pattern(max)).is_match(&value), parsed, "{:?} max {}", value, max);
                let blank = value.trim().is_empty();
                prop_assert_eq!(
                    re(&optional_text_pattern(max)).is_match(&value),
                    blank || parsed,
                    "{:?} max {}", value, max
                );
            }
            prop_assert_eq!(
                re(&text_pattern(PersonName::MAX_CHARS)).is_match(&value),
                PersonName::parse(&value).is_ok()
            );
            prop_assert_eq!(
                re(&text_pattern(Campaign::MAX_CHARS)).is_match(&value),
                Campaign::parse(&value).is_ok()
            );
        }

        #[test]
        fn the_calling_code_and_phone_patterns_match_what_their_parsers_take(value in tricky()) {
            let code = CallingCode::parse(&value);
            let well_formed = match &code {
                Ok(_) => true,
                Err(e) => e.code == FieldErrorCode::UnknownCallingCode,
            };
            prop_assert_eq!(re(&calling_code_pattern()).is_match(&value), well_formed, "{:?}", value);
            // A number valid for +82 is always within the pattern (the pattern cannot say
            // which digit strings are numbers).
            if crate::field::PhoneNumber::parse(CallingCode::parse("+82").unwrap(), &value).is_ok() {
                prop_assert!(re(&phone_pattern()).is_match(&value), "{:?}", value);
            }
        }

        #[test]
        fn the_email_pattern_accepts_only_what_the_server_accepts(value in tricky()) {
            if re(&email_pattern()).is_match(&value) {
                prop_assert!(EmailAddress::parse(&value).is_ok(), "{:?}", value);
            }
            if value.is_ascii() && EmailAddress::parse(&value).is_ok() {
                prop_assert!(re(&email_pattern()).is_match(&value), "{:?}", value);
            }
        }

        #[test]
        fn the_idempotency_key_pattern_matches_what_its_parser_accepts(value in tricky()) {
            prop_assert_eq!(
                re(&idempotency_key_pattern()).is_match(&value),
                IdempotencyKey::parse(&value).is_ok(),
                "{:?}", value
            );
        }
    }

    #[test]
    fn every_url_the_pattern_takes_the_server_takes() {
        let url = re(&optional_url_pattern());
        for accepted in [
            "https://event.example.com/spring",
            " HttP://a-b.c:8080/x y?q=1#f ",
            "http://localhost",
            "https://a.b.c/\u{d55c}",
            "",
            "   ",
        ] {
            assert!(url.is_match(accepted), "{accepted:?}");
            assert!(
                accepted.trim().is_empty() || PageUrl::parse(accepted).is_ok(),
                "{accepted:?}"
            );
        }
        for refused in [
            "ftp://a.com",
            "http://1.2.3.999",
            "http://a.com:65536",
            "http://",
            "a.com",
        ] {
            assert!(!url.is_match(refused), "{refused:?}");
        }
    }

    #[test]
    fn lengths_are_counted_in_characters_inside_the_trimmed_value() {
        let name = re(&text_pattern(PersonName::MAX_CHARS));
        let hundred = "홍".repeat(100);
        assert!(name.is_match(&format!("  {hundred}\t")));
        assert!(!name.is_match(&format!("{hundred}x")));
        assert!(PersonName::parse(&format!("  {hundred}\t")).is_ok());
        let emails = ["gildong@example.com", "o'brien+events@mail.example.co.kr"];
        for email in emails {
            assert!(re(&email_pattern()).is_match(email), "{email}");
        }
        // Accepted by the server, outside the pattern: said in the description.
        assert!(EmailAddress::parse("o'brien@예시.한국").is_ok());
        assert!(!re(&email_pattern()).is_match("o'brien@예시.한국"));
    }

    #[test]
    fn the_schema_reflects_the_configuration() {
        let strict = lead_request_schema(SchemaRules {
            consent_required: true,
            consent_text_versions: None,
        });
        assert_eq!(strict["properties"]["privacy_consent"]["const"], true);
        assert_eq!(strict["additionalProperties"], false);
        assert_eq!(
            strict["properties"]["email"]["maxLength"],
            EmailAddress::MAX_CHARS
        );
        let versions = vec!["2026-12".to_owned()];
        let lenient = lead_request_schema(SchemaRules {
            consent_required: false,
            consent_text_versions: Some(&versions),
        });
        assert!(lenient["properties"]["privacy_consent"]
            .get("const")
            .is_none());
        assert_eq!(
            lenient["properties"]["consent_text_version"]["enum"][0],
            "2026-12"
        );
        assert!(lenient["required"]
            .as_array()
            .unwrap()
            .contains(&json!("consent_text_version")));
        // Every field the parser knows is in the schema, and nothing else.
        let mut names: Vec<&String> = strict["properties"].as_object().unwrap().keys().collect();
        names.sort();
        let mut known: Vec<&str> = crate::request::api_fields().to_vec();
        known.sort_unstable();
        assert_eq!(names, known);
    }
}
