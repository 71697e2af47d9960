//! Field-level validation errors. They name the field and say why, and never echo the
//! submitted value back: an error message must not carry personal data.

use serde::Serialize;

/// A stable, machine-readable reason a field was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorCode {
    /// The field is mandatory and was absent or null.
    Required,
    /// The JSON type is wrong (for example a number where a string is expected).
    InvalidType,
    /// The value is empty after trimming.
    Empty,
    /// The value is longer than allowed.
    TooLong,
    /// The value contains control or otherwise forbidden characters.
    InvalidCharacters,
    /// The value does not have the expected syntax.
    InvalidFormat,
    /// The calling code is not assigned to any country.
    UnknownCallingCode,
    /// The phone number is not a valid number for the country.
    InvalidPhoneNumber,
    /// Personal data may not be collected without consent.
    ConsentRequired,
    /// The consent text version is not one the server accepts.
    ConsentVersionUnknown,
    /// The field is not part of the API.
    UnknownField,
}

impl FieldErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::InvalidType => "invalid_type",
            Self::Empty => "empty",
            Self::TooLong => "too_long",
            Self::InvalidCharacters => "invalid_characters",
            Self::InvalidFormat => "invalid_format",
            Self::UnknownCallingCode => "unknown_calling_code",
            Self::InvalidPhoneNumber => "invalid_phone_number",
            Self::ConsentRequired => "consent_required",
            Self::ConsentVersionUnknown => "consent_version_unknown",
            Self::UnknownField => "unknown_field",
        }
    }
}

/// Why a field was rejected. `message` is a fixed English sentence, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The JSON field name, e.g. `email`.
    pub field: String,
    pub code: FieldErrorCode,
    /// A human-readable explanation.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: FieldErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// Every field that failed, in the order the fields were checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{} field(s) failed validation", .0.len())]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// True when the only thing wrong is a missing consent: the lead is otherwise fine.
    pub fn only_consent_missing(&self) -> bool {
        self.only(FieldErrorCode::ConsentRequired)
    }

    /// True when the only thing wrong is an unknown consent text version.
    pub fn only_consent_version_unknown(&self) -> bool {
        self.only(FieldErrorCode::ConsentVersionUnknown)
    }

    fn only(&self, code: FieldErrorCode) -> bool {
        !self.0.is_empty() && self.0.iter().all(|e| e.code == code)
    }

    /// Keeps the value when `result` is `Ok`, records the error under `field` otherwise.
    pub fn collect<T>(&mut self, field: &str, result: Result<T, FieldRejection>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(rejection) => {
                self.push(rejection.for_field(field));
                None
            }
        }
    }
}

/// A field parser's answer before it knows which JSON field it parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRejection {
    pub code: FieldErrorCode,
    pub message: &'static str,
}

impl FieldRejection {
    pub const fn new(code: FieldErrorCode, message: &'static str) -> Self {
        Self { code, message }
    }

    pub fn for_field(self, field: &str) -> FieldError {
        FieldError::new(field, self.code, self.message)
    }
}

/// Where and how a body failed to be JSON. Carries positions, never content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedJson {
    pub problem: &'static str,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for MalformedJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.problem, self.line, self.column
        )
    }
}

impl MalformedJson {
    pub(crate) fn from_serde(error: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let problem = match error.classify() {
            Category::Eof => "unexpected end of input",
            Category::Syntax | Category::Io => "invalid JSON syntax",
            Category::Data => "unexpected JSON structure",
        };
        Self {
            problem,
            line: error.line(),
            column: error.column(),
        }
    }
}
