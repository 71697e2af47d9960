use super::free_text;
use crate::error::FieldRejection;

/// A short printable value: a UTM parameter. Trimmed, 1–200 characters, no control
/// characters; any script is allowed because marketers write campaign names in Korean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label(String);

impl Label {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, FieldRejection> {
        free_text(raw, Self::MAX_CHARS, "must be at most 200 characters").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The campaign a lead belongs to: trimmed, 1–64 printable characters. It scopes the
/// `Idempotency-Key` and is what analysts group by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign(String);

impl Campaign {
    pub const MAX_CHARS: usize = 64;
    pub const DEFAULT: &'static str = "default";

    pub fn parse(raw: &str) -> Result<Self, FieldRejection> {
        free_text(raw, Self::MAX_CHARS, "must be at most 64 characters").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The version of the consent text a visitor agreed to (`2026-12`, `v3`): trimmed, 1–64
/// printable characters. Which versions are accepted is the server's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentTextVersion(String);

impl ConsentTextVersion {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, FieldRejection> {
        free_text(raw, Self::MAX_CHARS, "must be at most 64 characters").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Campaign {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldErrorCode;

    #[test]
    fn labels_are_trimmed_and_bounded() {
        assert_eq!(
            Label::parse("  newsletter ").unwrap().as_str(),
            "newsletter"
        );
        assert_eq!(
            Label::parse("봄 세일 2026").unwrap().as_str(),
            "봄 세일 2026"
        );
        assert!(Label::parse(&"x".repeat(200)).is_ok());
        assert_eq!(
            Label::parse(&"x".repeat(201)).unwrap_err().code,
            FieldErrorCode::TooLong
        );
        assert_eq!(Label::parse(" ").unwrap_err().code, FieldErrorCode::Empty);
        assert_eq!(
            Label::parse("a\u{1b}[31m").unwrap_err().code,
            FieldErrorCode::InvalidCharacters
        );
    }

    #[test]
    fn campaigns_default_and_are_bounded() {
        assert_eq!(Campaign::default().as_str(), "default");
        assert_eq!(
            Campaign::parse(" spring-2026 ").unwrap().as_str(),
            "spring-2026"
        );
        assert_eq!(
            Campaign::parse(&"c".repeat(65)).unwrap_err().code,
            FieldErrorCode::TooLong
        );
        assert_eq!(Campaign::parse("").unwrap_err().code, FieldErrorCode::Empty);
        assert_eq!(
            Campaign::parse("tab\there").unwrap_err().code,
            FieldErrorCode::InvalidCharacters
        );
    }
}
