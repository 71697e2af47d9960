use rlibphonenumber::{PhoneNumberFormat, PHONE_NUMBER_UTIL};

use crate::error::{FieldErrorCode, FieldRejection};

// Numbers are parsed and checked by rlibphonenumber, a port of Google's libphonenumber
// whose patterns are compiled once, up front. phonenumber 0.3, used before, compiled its
// patterns lazily into one LRU cache behind a global mutex and looked each one up by
// hashing its source text: a whole lead parsed in 15 µs when warm and 94 µs for the first
// thousands of leads, against 3.3 µs now from the first (`--example parse_cost`,
// docs/benchmarks.md §2b).

/// Loads the numbering rules of every country now instead of with the first number
/// parsed (≈ 50 ms): services call it while starting, before they report ready.
pub fn load_numbering_rules() {
    let _ = PHONE_NUMBER_UTIL.get_supported_calling_codes().next();
}

/// An international calling code such as `82` (accepted as `+82` or `82`) that is
/// assigned to at least one country.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallingCode(u16);

impl CallingCode {
    pub fn parse(raw: &str) -> Result<Self, FieldRejection> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(FieldRejection::new(
                FieldErrorCode::Empty,
                "must not be empty",
            ));
        }
        let digits = value.strip_prefix('+').unwrap_or(value);
        let well_formed = (1..=3).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !well_formed {
            return Err(FieldRejection::new(
                FieldErrorCode::InvalidFormat,
                "must be a calling code such as +82 or 82",
            ));
        }
        let code: u16 = digits.parse().map_err(|_| {
            FieldRejection::new(
                FieldErrorCode::InvalidFormat,
                "must be a calling code such as +82 or 82",
            )
        })?;
        if PHONE_NUMBER_UTIL
            .get_region_for_country_code(i32::from(code))
            .is_none()
        {
            return Err(FieldRejection::new(
                FieldErrorCode::UnknownCallingCode,
                "is not a calling code assigned to any country",
            ));
        }
        Ok(Self(code))
    }

    pub fn value(self) -> u16 {
        self.0
    }
}

/// Serialized as in messages: `"+82"`.
impl serde::Serialize for CallingCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::fmt::Display for CallingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "+{}", self.0)
    }
}

/// A phone number that is valid for its country, kept in E.164 form (`+821012345678`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    calling_code: CallingCode,
    e164: String,
}

const INVALID_NUMBER: FieldRejection = FieldRejection::new(
    FieldErrorCode::InvalidPhoneNumber,
    "is not a valid phone number for the country code",
);

impl PhoneNumber {
    /// Longest digit string we hand to the parser: E.164 allows 15 digits, and a national
    /// format may add a trunk prefix or two.
    const MAX_DIGITS: usize = 17;

    /// Parses a number as a person types it: national format with optional spaces,
    /// dashes, dots and parentheses (`010-1234-5678`, `(212) 555-0100`, `030 1234567`).
    pub fn parse(calling_code: CallingCode, raw: &str) -> Result<Self, FieldRejection> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(FieldRejection::new(
                FieldErrorCode::Empty,
                "must not be empty",
            ));
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
        {
            return Err(FieldRejection::new(
                FieldErrorCode::InvalidCharacters,
                "may contain only digits, spaces, dashes, dots and parentheses",
            ));
        }
        // The separators are stripped before parsing: the parser is then given one
        // canonical spelling, `+` calling code and digits, whatever the person typed.
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(FieldRejection::new(
                FieldErrorCode::InvalidFormat,
                "must contain digits",
            ));
        }
        if digits.len() > Self::MAX_DIGITS {
            return Err(FieldRejection::new(
                FieldErrorCode::TooLong,
                "has too many digits",
            ));
        }
        Self::from_international(calling_code, &format!("+{}{digits}", calling_code.value()))
    }

    /// Re-parses a stored E.164 number (as carried in a Kafka message), checking that it
    /// belongs to `calling_code`, is valid, and is already in canonical form.
    pub fn parse_e164(calling_code: CallingCode, e164: &str) -> Result<Self, FieldRejection> {
        let well_formed = e164.len() <= 16
            && e164
                .strip_prefix('+')
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        if !well_formed {
            return Err(FieldRejection::new(
                FieldErrorCode::InvalidFormat,
                "must be an E.164 number",
            ));
        }
        let number = Self::from_international(calling_code, e164)?;
        if number.e164 != e164 {
            return Err(FieldRejection::new(
                FieldErrorCode::InvalidFormat,
                "must be an E.164 number",
            ));
        }
        Ok(number)
    }

    fn from_international(
        calling_code: CallingCode,
        international: &str,
    ) -> Result<Self, FieldRejection> {
        let number = PHONE_NUMBER_UTIL
            .parse(international, None)
            .map_err(|_| INVALID_NUMBER)?;
        if number.country_code != i32::from(calling_code.value())
            || !PHONE_NUMBER_UTIL.is_valid_number(&number)
        {
            return Err(INVALID_NUMBER);
        }
        let e164 = PHONE_NUMBER_UTIL
            .format(&number, PhoneNumberFormat::E164)
            .into_owned();
        Ok(Self { calling_code, e164 })
    }

    pub fn calling_code(&self) -> CallingCode {
        self.calling_code
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The national significant number: the E.164 form without `+` and calling code.
    pub fn national_digits(&self) -> &str {
        let prefix_len = 1 + self.calling_code.value().to_string().len();
        &self.e164[prefix_len..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(code: &str, number: &str) -> Result<String, FieldErrorCode> {
        let code = CallingCode::parse(code).map_err(|e| e.code)?;
        PhoneNumber::parse(code, number)
            .map(|n| n.e164)
            .map_err(|e| e.code)
    }

    #[test]
    fn national_formats_from_several_countries_parse_to_e164() {
        for (code, number, e164) in [
            // South Korea: mobile with trunk prefix, with and without separators.
            ("+82", "010-1234-5678", "+821012345678"),
            ("82", "01012345678", "+821012345678"),
            ("+82", "010 1234 5678", "+821012345678"),
            ("+82", "10-1234-5678", "+821012345678"),
            ("+82", "02-312-3456", "+8223123456"),
            // United States / Canada (shared +1).
            ("+1", "(201) 555-0123", "+12015550123"),
            ("+1", "201.555.0123", "+12015550123"),
            ("1", "416-555-0199", "+14165550199"),
            // United Kingdom.
            ("+44", "07400 123456", "+447400123456"),
            ("+44", "020 7946 0018", "+442079460018"),
            // Germany.
            ("+49", "030 123456", "+4930123456"),
            ("+49", "01512 3456789", "+4915123456789"),
            // Japan.
            ("+81", "090-1234-5678", "+819012345678"),
            ("+81", "03-1234-5678", "+81312345678"),
            // France.
            ("+33", "06 12 34 56 78", "+33612345678"),
            // India.
            ("+91", "98765 43210", "+919876543210"),
            // Brazil.
            ("+55", "(11) 91234-5678", "+5511912345678"),
            // Australia.
            ("+61", "0412 345 678", "+61412345678"),
            // Italy keeps its leading zero for landlines.
            ("+39", "06 6982 1234", "+390669821234"),
        ] {
            assert_eq!(parse(code, number), Ok(e164.to_owned()), "{code} {number}");
        }
    }

    #[test]
    fn invalid_numbers_are_rejected_with_a_reason() {
        for (code, number, reason) in [
            ("+82", "", FieldErrorCode::Empty),
            ("+82", "010-1234", FieldErrorCode::InvalidPhoneNumber),
            ("+82", "abc", FieldErrorCode::InvalidCharacters),
            ("+82", "+82 10 1234 5678", FieldErrorCode::InvalidCharacters),
            (
                "+82",
                "010-1234-5678 ext. 9",
                FieldErrorCode::InvalidCharacters,
            ),
            ("+82", "()-.", FieldErrorCode::InvalidFormat),
            ("+1", "555-0100", FieldErrorCode::InvalidPhoneNumber),
            ("+1", "123456789012345678", FieldErrorCode::TooLong),
            ("+44", "1", FieldErrorCode::InvalidPhoneNumber),
            ("+49", "0000000000", FieldErrorCode::InvalidPhoneNumber),
        ] {
            assert_eq!(parse(code, number), Err(reason), "{code} {number:?}");
        }
    }

    #[test]
    fn calling_codes_must_be_assigned() {
        assert_eq!(CallingCode::parse("+82").map(|c| c.value()), Ok(82));
        assert_eq!(CallingCode::parse(" 1 ").map(|c| c.value()), Ok(1));
        for (raw, reason) in [
            ("", FieldErrorCode::Empty),
            ("+", FieldErrorCode::InvalidFormat),
            ("+0", FieldErrorCode::InvalidFormat),
            ("082", FieldErrorCode::InvalidFormat),
            ("+1234", FieldErrorCode::InvalidFormat),
            ("KR", FieldErrorCode::InvalidFormat),
            ("++82", FieldErrorCode::InvalidFormat),
            ("+999", FieldErrorCode::UnknownCallingCode),
        ] {
            assert_eq!(
                CallingCode::parse(raw).map_err(|e| e.code),
                Err(reason),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn e164_round_trips_and_rejects_non_canonical_forms() {
        let kr = CallingCode::parse("+82").unwrap();
        let number = PhoneNumber::parse(kr, "010-1234-5678").unwrap();
        assert_eq!(number.national_digits(), "1012345678");
        assert_eq!(PhoneNumber::parse_e164(kr, "+821012345678"), Ok(number));
        assert!(PhoneNumber::parse_e164(kr, "+8201012345678").is_err());
        assert!(PhoneNumber::parse_e164(kr, "821012345678").is_err());
        let us = CallingCode::parse("+1").unwrap();
        assert!(PhoneNumber::parse_e164(us, "+821012345678").is_err());
    }
}
