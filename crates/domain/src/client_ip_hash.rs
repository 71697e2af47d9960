//! The keyed hash of a client's address that a stored lead keeps as part of its proof of
//! consent (which client gave it), never the address itself. The gateway computes it
//! (HMAC-SHA256 with a key of its own); the domain only carries it, as 64 lowercase hex
//! characters on the wire.

use crate::error::{FieldErrorCode, FieldRejection};

/// HMAC-SHA256 of a client address: 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIpHash([u8; 32]);

impl ClientIpHash {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(64);
        for byte in self.0 {
            text.push(char::from(DIGITS[usize::from(byte >> 4)]));
            text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
        text
    }

    /// The hex form [`ClientIpHash::to_hex`] writes, and nothing else.
    pub fn parse_hex(text: &str) -> Result<Self, FieldRejection> {
        let invalid = || {
            FieldRejection::new(
                FieldErrorCode::InvalidFormat,
                "must be 64 lowercase hexadecimal characters",
            )
        };
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return Err(invalid());
        }
        let nibble = |d: u8| match d {
            b'0'..=b'9' => Some(d - b'0'),
            b'a'..=b'f' => Some(d - b'a' + 10),
            _ => None,
        };
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (nibble(pair[0]).ok_or_else(invalid)? << 4)
                | nibble(pair[1]).ok_or_else(invalid)?;
        }
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_nothing_else_parses() {
        let hash = ClientIpHash::from_bytes(std::array::from_fn(|i| (i * 37) as u8));
        let hex = hash.to_hex();
        assert_eq!(hex.len(), 64);
        assert_eq!(ClientIpHash::parse_hex(&hex), Ok(hash));
        for bad in [
            "",
            "00",
            &hex.to_uppercase(),
            &format!("{}g", &hex[..63]),
            &format!("{hex}0"),
        ] {
            assert!(ClientIpHash::parse_hex(bad).is_err(), "{bad}");
        }
    }
}
