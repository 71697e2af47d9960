use validator::ValidateEmail;

use crate::error::{FieldErrorCode, FieldRejection};

/// An email address, syntactically valid by the `validator` crate's rules (the HTML5
/// definition plus IDN domains), at most 254 characters, surrounding whitespace removed.
/// Case is kept as submitted; analysts look it up by `lower(email)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const MAX_CHARS: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, FieldRejection> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(FieldRejection::new(
                FieldErrorCode::Empty,
                "must not be empty",
            ));
        }
        if value.chars().count() > Self::MAX_CHARS {
            return Err(FieldRejection::new(
                FieldErrorCode::TooLong,
                "must be at most 254 characters",
            ));
        }
        if !value.validate_email() {
            return Err(FieldRejection::new(
                FieldErrorCode::InvalidFormat,
                "must be a valid email address",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_addresses() {
        for raw in [
            "gildong@example.com",
            "  Jane.Doe+events@Example.CO.KR ",
            "a@b.co",
            "first_last-1@sub.domain.example.org",
            "user@[127.0.0.1]",
            "gildong@例え.jp",
            "x@xn--bcher-kva.example",
        ] {
            assert!(EmailAddress::parse(raw).is_ok(), "{raw:?} should be valid");
        }
    }

    #[test]
    fn rejects_invalid_addresses() {
        for (raw, code) in [
            ("", FieldErrorCode::Empty),
            ("   ", FieldErrorCode::Empty),
            ("plainaddress", FieldErrorCode::InvalidFormat),
            ("@example.com", FieldErrorCode::InvalidFormat),
            ("user@", FieldErrorCode::InvalidFormat),
            ("user@@example.com", FieldErrorCode::InvalidFormat),
            ("user name@example.com", FieldErrorCode::InvalidFormat),
            ("user@exa mple.com", FieldErrorCode::InvalidFormat),
            ("user@-example.com", FieldErrorCode::InvalidFormat),
            // The HTML5 rules allow only ASCII before the @ (internationalised domains are fine).
            ("홍길동@example.com", FieldErrorCode::InvalidFormat),
            ("user\n@example.com", FieldErrorCode::InvalidFormat),
        ] {
            assert_eq!(EmailAddress::parse(raw).unwrap_err().code, code, "{raw:?}");
        }
    }

    #[test]
    fn rejects_addresses_longer_than_254_characters() {
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(186));
        assert_eq!(long.len(), 255);
        assert_eq!(
            EmailAddress::parse(&long).unwrap_err().code,
            FieldErrorCode::TooLong
        );
    }
}
