use super::free_text;
use crate::error::FieldRejection;

/// A person's name in any script: trimmed, 1–100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, FieldRejection> {
        free_text(raw, Self::MAX_CHARS, "must be at most 100 characters").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldErrorCode;

    #[test]
    fn accepts_names_in_any_script() {
        for (raw, stored) in [
            ("홍길동", "홍길동"),
            ("  Jane Doe  ", "Jane Doe"),
            ("José Ñúñez-O'Brien", "José Ñúñez-O'Brien"),
            ("山田 太郎", "山田 太郎"),
            ("Алексей", "Алексей"),
            ("محمد", "محمد"),
            ("Zoë 🎉", "Zoë 🎉"),
            ("X", "X"),
        ] {
            assert_eq!(
                PersonName::parse(raw).map(|n| n.0),
                Ok(stored.to_owned()),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn accepts_exactly_100_characters_and_rejects_101() {
        assert!(PersonName::parse(&"가".repeat(100)).is_ok());
        assert_eq!(
            PersonName::parse(&"가".repeat(101)).unwrap_err().code,
            FieldErrorCode::TooLong
        );
    }

    #[test]
    fn rejects_empty_and_control_characters() {
        for (raw, code) in [
            ("", FieldErrorCode::Empty),
            ("   ", FieldErrorCode::Empty),
            ("\t\n", FieldErrorCode::Empty),
            ("Jane\nDoe", FieldErrorCode::InvalidCharacters),
            ("Jane\u{0}Doe", FieldErrorCode::InvalidCharacters),
            ("Jane\u{202E}eoD", FieldErrorCode::InvalidCharacters),
            ("Jane\u{7F}", FieldErrorCode::InvalidCharacters),
        ] {
            assert_eq!(PersonName::parse(raw).unwrap_err().code, code, "{raw:?}");
        }
    }
}
