//! The proof of consent the gateway stamps on every lead, besides the time
//! (`consented_at`) and the page (`page_url`): which consent text the visitor was shown
//! (`consent_text_version`, checked against `LEADPIPE_CONSENT_TEXT_VERSIONS` when set),
//! and a keyed hash of the address the lead came from (`client_ip_hash`).
//!
//! The hash is HMAC-SHA256 of the client address — after trusted-proxy resolution, in
//! its canonical text form (`203.0.113.7`, `2001:db8::1`) — with the key from
//! `LEADPIPE_IP_HASH_KEY_FILE` (or `LEADPIPE_IP_HASH_KEY`). Whoever holds the key can
//! check whether a lead came from a given address; nobody can read the address back.
//! The address itself goes nowhere: not to Kafka, not to the database, not to logs.
//! Without a key no hash is stored, and the gateway says so once at start.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use hmac::{Hmac, Mac};
use leadpipe_domain::field::ConsentTextVersion;
use leadpipe_domain::ClientIpHash;
use leadpipe_platform::{ConfigError, Secret};
use sha2::Sha256;

/// The consent settings of the gateway.
#[derive(Debug, Clone, Args)]
pub struct ConsentSettings {
    /// The consent text versions a lead may name, comma-separated (`2026-11,2026-12`).
    /// Set, every lead must send one of them as `consent_text_version` (422
    /// `consent_version_unknown` otherwise); empty, the version is optional and stored
    /// as sent.
    #[arg(long, env = "LEADPIPE_CONSENT_TEXT_VERSIONS", default_value = "")]
    pub consent_text_versions: TextVersions,

    /// Key of the client address hash stored with each lead (HMAC-SHA256, at least 16
    /// bytes). Secret. Unset: no address hash is stored. Prefer
    /// LEADPIPE_IP_HASH_KEY_FILE.
    #[arg(long, env = "LEADPIPE_IP_HASH_KEY", hide_env_values = true)]
    pub ip_hash_key: Option<Secret>,

    /// A file holding LEADPIPE_IP_HASH_KEY (wins over it).
    #[arg(long, env = "LEADPIPE_IP_HASH_KEY_FILE")]
    pub ip_hash_key_file: Option<PathBuf>,
}

/// Consent text versions, each a valid version; empty means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextVersions(Vec<String>);

impl std::str::FromStr for TextVersions {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut versions = Vec::new();
        for item in list.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            let version = ConsentTextVersion::parse(item)
                .map_err(|e| format!("{item:?} is not a consent text version: {}", e.message))?;
            versions.push(version.as_str().to_owned());
        }
        Ok(Self(versions))
    }
}

/// The shortest key accepted, in bytes.
const MIN_KEY_BYTES: usize = 16;

/// What the gateway stamps on a lead as proof of consent.
#[derive(Clone)]
pub struct ConsentProof {
    versions: Option<Vec<String>>,
    ip_key: Option<Hmac<Sha256>>,
}

impl std::fmt::Debug for ConsentProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentProof")
            .field("versions", &self.versions)
            .field("ip_key", &self.ip_key.as_ref().map(|_| "***"))
            .finish()
    }
}

impl ConsentProof {
    /// From the settings; reads the key file. A key shorter than 16 bytes is refused.
    pub fn from_settings(settings: &ConsentSettings) -> Result<Self, ConfigError> {
        let key = Secret::resolve(
            settings.ip_hash_key.as_ref(),
            settings.ip_hash_key_file.as_ref(),
        )
        .map_err(|e| ConfigError::new(format!("LEADPIPE_IP_HASH_KEY_FILE: {e}")))?
        .filter(|key| !key.expose().is_empty());
        let ip_key = match key {
            None => {
                tracing::warn!(
                    "LEADPIPE_IP_HASH_KEY is not set: leads are stored without a client address hash"
                );
                None
            }
            Some(key) if key.expose().len() < MIN_KEY_BYTES => {
                return Err(ConfigError::new(format!(
                    "LEADPIPE_IP_HASH_KEY must be at least {MIN_KEY_BYTES} bytes"
                )))
            }
            Some(key) => Some(
                Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
                    .expect("HMAC takes a key of any length"),
            ),
        };
        let versions = &settings.consent_text_versions.0;
        Ok(Self {
            versions: (!versions.is_empty()).then(|| versions.clone()),
            ip_key,
        })
    }

    /// The accepted consent text versions, when they are configured.
    pub fn versions(&self) -> Option<&[String]> {
        self.versions.as_deref()
    }

    /// The keyed hash of `client`, when there is a key.
    pub fn hash(&self, client: IpAddr) -> Option<ClientIpHash> {
        let mut mac = self.ip_key.clone()?;
        mac.update(client.to_string().as_bytes());
        Some(ClientIpHash::from_bytes(mac.finalize().into_bytes().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(key: Option<&str>) -> ConsentProof {
        ConsentProof::from_settings(&ConsentSettings {
            consent_text_versions: TextVersions::default(),
            ip_hash_key: key.map(Secret::new),
            ip_hash_key_file: None,
        })
        .unwrap()
    }

    #[test]
    fn the_hash_is_stable_for_one_key_and_differs_across_keys_and_addresses() {
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let a = proof(Some("first key, 32 bytes of it......"));
        let b = proof(Some("second key, also long enough..."));
        assert_eq!(a.hash(ip), a.hash(ip));
        assert_ne!(a.hash(ip), b.hash(ip));
        assert_ne!(a.hash(ip), a.hash("203.0.113.8".parse().unwrap()));
        assert_eq!(proof(None).hash(ip), None);
        // HMAC-SHA256("first key, 32 bytes of it......", "203.0.113.7"), as
        // `printf %s 203.0.113.7 | openssl dgst -sha256 -hmac KEY` computes it.
        assert_eq!(
            a.hash(ip).unwrap().to_hex(),
            "91973144d844350d2ce02661b43eb22ac5427766582a4bc639ed9c08af06c103"
        );
    }

    #[test]
    fn a_short_key_and_a_malformed_version_are_refused() {
        let short = ConsentProof::from_settings(&ConsentSettings {
            consent_text_versions: TextVersions::default(),
            ip_hash_key: Some(Secret::new("short")),
            ip_hash_key_file: None,
        });
        assert!(short.unwrap_err().to_string().contains("at least 16 bytes"));
        assert!("2026-12, v3".parse::<TextVersions>().is_ok());
        assert!("2026-12,\u{7}".parse::<TextVersions>().is_err());
        assert_eq!("".parse::<TextVersions>().unwrap(), TextVersions::default());
    }
}
