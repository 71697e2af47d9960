//! Lead ids. A lead's id is its identity all the way to the `leads` table's primary key,
//! so a duplicate submission that carries the same id is stored once.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{FieldErrorCode, FieldRejection};
use crate::field::Campaign;

/// Namespace for ids derived from an `Idempotency-Key` (UUIDv5). Never change it: that
/// would give every retried submission a new id.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x8d0b_6c3e_41a2_4f57_9c1e_6c65_6164_7069);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeadId(Uuid);

impl LeadId {
    /// A fresh time-ordered id (UUIDv7): good index locality in PostgreSQL.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// The same key within the same campaign always gives the same id (UUIDv5), so a
    /// double-clicked submit or a client retry is stored once downstream.
    pub fn from_idempotency_key(key: &IdempotencyKey, campaign: &Campaign) -> Self {
        let mut name = Vec::with_capacity(campaign.as_str().len() + 1 + key.0.len());
        name.extend_from_slice(campaign.as_str().as_bytes());
        name.push(0);
        name.extend_from_slice(key.0.as_bytes());
        Self(Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, &name))
    }

    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl std::fmt::Display for LeadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The value of an `Idempotency-Key` header (draft-ietf-httpapi-idempotency-key-header):
/// 1–255 visible ASCII characters, optionally written as a quoted structured-field string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, FieldRejection> {
        let value = raw.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if value.is_empty() {
            return Err(FieldRejection::new(
                FieldErrorCode::Empty,
                "must not be empty",
            ));
        }
        if value.len() > Self::MAX_LEN {
            return Err(FieldRejection::new(
                FieldErrorCode::TooLong,
                "must be at most 255 characters",
            ));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            return Err(FieldRejection::new(
                FieldErrorCode::InvalidCharacters,
                "must be visible ASCII characters without quotes or backslashes",
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> IdempotencyKey {
        IdempotencyKey::parse(raw).unwrap()
    }

    #[test]
    fn the_same_key_and_campaign_give_the_same_id() {
        let spring = Campaign::parse("spring-2026").unwrap();
        let autumn = Campaign::parse("autumn-2026").unwrap();
        let a = LeadId::from_idempotency_key(&key("8e03978e-40d5-43e8-bc93-6894a57f9324"), &spring);
        assert_eq!(
            a,
            LeadId::from_idempotency_key(&key("\"8e03978e-40d5-43e8-bc93-6894a57f9324\""), &spring)
        );
        assert_ne!(
            a,
            LeadId::from_idempotency_key(&key("8e03978e-40d5-43e8-bc93-6894a57f9324"), &autumn)
        );
        assert_ne!(a, LeadId::from_idempotency_key(&key("another"), &spring));
        assert_eq!(a.as_uuid().get_version_num(), 5);
    }

    #[test]
    fn generated_ids_are_time_ordered_v7() {
        let id = LeadId::generate();
        assert_eq!(id.as_uuid().get_version_num(), 7);
        assert_ne!(id, LeadId::generate());
    }

    #[test]
    fn keys_are_bounded_visible_ascii() {
        assert!(IdempotencyKey::parse("abc-123_XYZ.~").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(256)).unwrap_err().code,
            FieldErrorCode::TooLong
        );
        assert_eq!(
            IdempotencyKey::parse("\"\"").unwrap_err().code,
            FieldErrorCode::Empty
        );
        assert_eq!(
            IdempotencyKey::parse("has space").unwrap_err().code,
            FieldErrorCode::InvalidCharacters
        );
        assert_eq!(
            IdempotencyKey::parse("키").unwrap_err().code,
            FieldErrorCode::InvalidCharacters
        );
    }
}
