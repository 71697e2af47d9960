//! One newtype per lead field. Each has a private inner value and a `parse` that is the
//! only way to construct it, so holding one is proof that the value is valid.

mod email;
mod label;
mod name;
mod page_url;
mod phone;

pub use email::EmailAddress;
pub use label::{Campaign, ConsentTextVersion, Label};
pub use name::PersonName;
pub use page_url::PageUrl;
pub use phone::{load_numbering_rules, CallingCode, PhoneNumber};

use crate::error::{FieldErrorCode, FieldRejection};

/// Shared check for free-text fields: no control characters (tabs, newlines, NUL, …)
/// and no Unicode format controls such as bidi overrides, which can disguise text.
fn reject_control_chars(value: &str) -> Result<(), FieldRejection> {
    let forbidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    };
    if value.chars().any(forbidden) {
        return Err(FieldRejection::new(
            FieldErrorCode::InvalidCharacters,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Shared length check, counted in Unicode scalar values (what a person sees as letters
/// for Korean and Latin text; an emoji sequence may count as several).
fn check_length(
    value: &str,
    max_chars: usize,
    too_long: &'static str,
) -> Result<(), FieldRejection> {
    if value.is_empty() {
        return Err(FieldRejection::new(
            FieldErrorCode::Empty,
            "must not be empty",
        ));
    }
    // Cheap byte bound first: a string of at most `max_chars` chars has at most 4× bytes.
    if value.len() > max_chars * 4 || value.chars().count() > max_chars {
        return Err(FieldRejection::new(FieldErrorCode::TooLong, too_long));
    }
    Ok(())
}

/// The rule every free-text field applies: trimmed, 1..=`max_chars` characters, no
/// control characters. Returns the trimmed value.
fn free_text(
    raw: &str,
    max_chars: usize,
    too_long: &'static str,
) -> Result<String, FieldRejection> {
    let value = raw.trim();
    check_length(value, max_chars, too_long)?;
    reject_control_chars(value)?;
    Ok(value.to_owned())
}

/// [`free_text`] as a yes or no, for the schema's tests, which hold its patterns to it.
#[cfg(test)]
pub(crate) fn check_text(raw: &str, max_chars: usize) -> bool {
    free_text(raw, max_chars, "too long").is_ok()
}
