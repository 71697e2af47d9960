//! The leads a run sends: realistic valid ones, a configurable share of invalid ones
//! (every kind of validation failure), and a share of resubmissions — the same body with
//! the same `Idempotency-Key`, as a double-clicked submit button or a retrying browser
//! sends it.
//!
//! Everything is derived from a seed and the run tag, so a run can be replayed and its
//! leads recognised afterwards:
//! - every campaign of the run starts with the run tag ([`RunLeads::campaigns`]);
//! - every email carries the lead's number as a plus tag (`mailbox+lt42@…`);
//! - a lead's `Idempotency-Key` is a UUIDv5 of the run tag and its number, so the id the
//!   gateway must answer with is known in advance ([`RunLeads::expected_id`]).

mod invalid;
mod marketing;
mod people;

use std::collections::VecDeque;

use fastrand::Rng;
use leadpipe_domain::field::Campaign;
use leadpipe_domain::{IdempotencyKey, LeadId, LeadRequest};
use serde::Serialize;
use strum::VariantArray;
use uuid::Uuid;

pub use invalid::InvalidKind;

/// Marks the lead number in an email's local part: `mailbox+lt42@example.com`.
pub const EMAIL_TAG: &str = "+lt";

/// Namespace of the idempotency keys the load test makes up.
const KEY_NAMESPACE: Uuid = Uuid::from_u128(0x6c65_6164_7069_7065_8000_6c6f_6164_7465);

/// How many recent keyed leads a resubmission may repeat.
const RESUBMIT_WINDOW: usize = 256;

/// The mix of requests, as shares of all requests (the rest are fresh valid leads).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, clap::Args)]
pub struct LeadMix {
    /// Share of requests carrying an invalid lead, spread over every kind of validation
    /// failure (0–1).
    #[arg(long, env = "LEADPIPE_LOADTEST_INVALID_SHARE", default_value_t = 0.05)]
    pub invalid_share: f64,
    /// Share of requests resubmitting a recent lead with the same Idempotency-Key (0–1).
    #[arg(long, env = "LEADPIPE_LOADTEST_RESUBMIT_SHARE", default_value_t = 0.05)]
    pub resubmit_share: f64,
    /// Share of fresh valid leads sent without an Idempotency-Key (0–1); the gateway
    /// then makes up a random UUIDv7 id.
    #[arg(long, env = "LEADPIPE_LOADTEST_KEYLESS_SHARE", default_value_t = 0.2)]
    pub keyless_share: f64,
}

impl Default for LeadMix {
    /// The command line's defaults.
    fn default() -> Self {
        crate::cli::defaults()
    }
}

impl LeadMix {
    pub fn check(&self) -> Result<(), String> {
        for (name, share) in [
            ("invalid share", self.invalid_share),
            ("resubmit share", self.resubmit_share),
            ("keyless share", self.keyless_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("{name} must be between 0 and 1, not {share}"));
            }
        }
        if self.invalid_share + self.resubmit_share > 1.0 {
            return Err("invalid share + resubmit share must not exceed 1".to_owned());
        }
        Ok(())
    }
}

/// What a request carries, as far as checking the answer is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum LeadKind {
    /// A valid lead sent for the first time, with or without an `Idempotency-Key`.
    Fresh { keyed: bool },
    /// A keyed valid lead sent again: same body, same key.
    Resubmission,
    /// A lead the gateway must refuse.
    Invalid(InvalidKind),
}

impl LeadKind {
    pub fn is_valid(self) -> bool {
        !matches!(self, Self::Invalid(_))
    }

    /// Whether the request carried the lead's own `Idempotency-Key`.
    pub fn keyed(self) -> bool {
        matches!(self, Self::Fresh { keyed: true } | Self::Resubmission)
    }
}

/// One request of the run, ready to send.
#[derive(Debug, Clone)]
pub struct PlannedRequest {
    /// Position in the run (0, 1, 2, …).
    pub seq: u64,
    /// The lead it carries; a resubmission carries an earlier lead's number.
    pub lead_no: u64,
    pub kind: LeadKind,
    /// Index into [`RunLeads::campaigns`].
    pub campaign: u8,
    pub content_type: &'static str,
    pub idempotency_key: Option<String>,
    pub body: Vec<u8>,
}

/// What identifies a run's leads: its tag and the campaigns derived from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunLeads {
    pub run_tag: String,
    /// The valid campaigns, then the over-long one invalid leads use.
    pub campaigns: Vec<String>,
}

impl RunLeads {
    /// `run_tag`: 1–24 characters of `[A-Za-z0-9-]` (it goes into campaigns and keys).
    pub fn new(run_tag: &str) -> Result<Self, String> {
        let well_formed = (1..=24).contains(&run_tag.len())
            && run_tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !well_formed {
            return Err(format!(
                "run tag {run_tag:?} must be 1-24 characters of letters, digits and dashes"
            ));
        }
        let too_long = "x".repeat(Campaign::MAX_CHARS);
        let suffixes = marketing::CAMPAIGN_SUFFIXES.iter().copied();
        let campaigns = suffixes.chain([too_long.as_str()]);
        let campaigns = campaigns
            .map(|suffix| format!("{run_tag}-{suffix}"))
            .collect();
        let run_tag = run_tag.to_owned();
        Ok(Self { run_tag, campaigns })
    }

    /// A fresh run tag: `lt-` and eight random hex digits.
    pub fn random_tag() -> String {
        format!("lt-{:08x}", fastrand::u32(..))
    }

    fn valid_campaigns(&self) -> usize {
        self.campaigns.len() - 1
    }

    fn too_long_campaign(&self) -> &str {
        &self.campaigns[self.campaigns.len() - 1]
    }

    /// The `Idempotency-Key` of keyed lead `lead_no`: a UUID, as a browser would make up.
    pub fn idempotency_key(&self, lead_no: u64) -> String {
        let name = format!("{}/{lead_no}", self.run_tag);
        Uuid::new_v5(&KEY_NAMESPACE, name.as_bytes()).to_string()
    }

    /// The id the gateway must give keyed lead `lead_no` in campaign `campaign`: the
    /// domain's UUIDv5 of campaign and key.
    pub fn expected_id(&self, lead_no: u64, campaign: u8) -> Option<Uuid> {
        let campaign = Campaign::parse(self.campaigns.get(usize::from(campaign))?).ok()?;
        let key = IdempotencyKey::parse(&self.idempotency_key(lead_no)).ok()?;
        Some(LeadId::from_idempotency_key(&key, &campaign).as_uuid())
    }

    /// The lead number in an email's plus tag, if it has one.
    pub fn lead_no_of_email(email: &str) -> Option<u64> {
        let (_, rest) = email.split_once(EMAIL_TAG)?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }
}

/// Produces the run's requests in order. Deterministic for a given seed and run tag.
pub struct Generator {
    rng: Rng,
    leads: RunLeads,
    mix: LeadMix,
    next_seq: u64,
    next_lead: u64,
    /// Recent keyed valid leads a resubmission may repeat.
    recent: VecDeque<PlannedRequest>,
}

impl Generator {
    pub fn new(seed: u64, leads: RunLeads, mix: LeadMix) -> Self {
        Self {
            rng: Rng::with_seed(seed),
            leads,
            mix,
            next_seq: 0,
            next_lead: 0,
            recent: VecDeque::with_capacity(RESUBMIT_WINDOW),
        }
    }

    pub fn next_request(&mut self) -> PlannedRequest {
        let seq = self.next_seq;
        self.next_seq += 1;
        let roll = self.rng.f64();
        if roll < self.mix.resubmit_share && !self.recent.is_empty() {
            let index = self.rng.usize(..self.recent.len());
            let mut again = self.recent[index].clone();
            again.seq = seq;
            again.kind = LeadKind::Resubmission;
            return again;
        }
        let lead_no = self.next_lead;
        self.next_lead += 1;
        let campaign = self.rng.usize(..self.leads.valid_campaigns()) as u8;
        let lead = self.valid_lead(lead_no, campaign);
        let invalid = roll < self.mix.resubmit_share + self.mix.invalid_share;
        let keyed = !invalid && self.rng.f64() >= self.mix.keyless_share;
        let mut request = PlannedRequest {
            seq,
            lead_no,
            kind: LeadKind::Fresh { keyed },
            campaign,
            content_type: "application/json",
            idempotency_key: keyed.then(|| self.leads.idempotency_key(lead_no)),
            body: Vec::new(),
        };
        if invalid {
            let kind = InvalidKind::VARIANTS[self.rng.usize(..InvalidKind::VARIANTS.len())];
            let value = serde_json::to_value(&lead).unwrap_or_default();
            invalid::corrupt(kind, value, self.leads.too_long_campaign(), &mut request);
            return request;
        }
        request.body = serde_json::to_vec(&lead).unwrap_or_default();
        if keyed {
            if self.recent.len() == RESUBMIT_WINDOW {
                self.recent.pop_front();
            }
            self.recent.push_back(request.clone());
        }
        request
    }

    fn valid_lead(&mut self, lead_no: u64, campaign: u8) -> LeadRequest {
        let rng = &mut self.rng;
        let locale = people::pick_locale(rng);
        let mut lead = LeadRequest {
            privacy_consent: true,
            campaign: Some(self.leads.campaigns[usize::from(campaign)].clone()),
            ..LeadRequest::default()
        };
        marketing::tag(rng, &mut lead);
        lead.name = people::name(rng, locale);
        lead.email = people::email(rng, locale, lead_no);
        let code = locale.calling_code;
        lead.country_code = (if rng.bool() { code } else { &code[1..] }).to_owned();
        lead.phone_number = (locale.phone)(rng);
        lead
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use leadpipe_domain::{parse_submission, ConsentPolicy, SubmissionError};

    use super::*;

    fn generator(seed: u64, mix: LeadMix) -> Generator {
        Generator::new(seed, RunLeads::new("lt-test").unwrap(), mix)
    }

    fn mix(invalid_share: f64, resubmit_share: f64, keyless_share: f64) -> LeadMix {
        LeadMix {
            invalid_share,
            resubmit_share,
            keyless_share,
        }
    }

    #[test]
    fn every_valid_lead_passes_the_gateways_own_parser() {
        let mut generator = generator(7, mix(0.0, 0.0, 0.3));
        let mut codes = BTreeMap::new();
        // Phone validation is slow without optimisations: 3000 leads still show every
        // locale many times.
        for _ in 0..3000 {
            let request = generator.next_request();
            let lead = parse_submission(&request.body, ConsentPolicy::default())
                .unwrap_or_else(|e| panic!("{e:?}: {}", String::from_utf8_lossy(&request.body)));
            *codes.entry(lead.phone.calling_code().value()).or_insert(0) += 1;
            assert_eq!(
                RunLeads::lead_no_of_email(lead.email.as_str()),
                Some(request.lead_no)
            );
            assert!(lead.campaign.as_str().starts_with("lt-test-"));
        }
        // Every locale shows up, Korea most.
        assert_eq!(codes.len(), people::LOCALES.len(), "{codes:?}");
        assert!(codes.values().all(|&n| n <= codes[&82]));
    }

    #[test]
    fn every_invalid_kind_fails_with_the_documented_answer() {
        let leads = RunLeads::new("lt-test").unwrap();
        let mut generator = generator(1, LeadMix::default());
        for &kind in InvalidKind::VARIANTS {
            let valid = generator.next_request();
            let value: serde_json::Value = serde_json::from_slice(&valid.body).unwrap();
            let mut spoiled = valid.clone();
            invalid::corrupt(kind, value, leads.too_long_campaign(), &mut spoiled);
            let (status, code) = kind.expected();
            match status {
                415 => assert_ne!(spoiled.content_type, "application/json"),
                413 => assert!(spoiled.body.len() > 16 * 1024),
                400 if kind == InvalidKind::BadIdempotencyKey => {
                    let key = spoiled.idempotency_key.as_deref().unwrap();
                    assert!(IdempotencyKey::parse(key).is_err());
                }
                _ => {
                    let result = parse_submission(&spoiled.body, ConsentPolicy::default());
                    match (status, result) {
                        (400, Err(SubmissionError::Malformed(_))) => {}
                        (422, Err(SubmissionError::Invalid(errors))) => {
                            let (field, field_code) = kind.field_error().unwrap();
                            let seen: Vec<_> = errors
                                .iter()
                                .map(|e| (e.field.as_str(), e.code.as_str()))
                                .collect();
                            assert_eq!(seen, vec![(field, field_code)], "{kind:?}");
                            assert_eq!(errors.only_consent_missing(), code == "consent_required");
                        }
                        (status, other) => panic!("{kind:?} expected {status}, got {other:?}"),
                    }
                }
            }
            // Spoiled leads stay traceable to the run, except where the body is cut off.
            if kind != InvalidKind::MalformedJson {
                let text = String::from_utf8_lossy(&spoiled.body);
                assert!(
                    text.contains(&format!("{EMAIL_TAG}{}", valid.lead_no)),
                    "{kind:?}"
                );
            }
        }
    }

    #[test]
    fn the_mix_follows_the_configured_shares() {
        let mut generator = generator(3, LeadMix::default());
        let mut counts: HashMap<&str, u32> = HashMap::new();
        let mut invalid_kinds = std::collections::HashSet::new();
        for _ in 0..40_000 {
            let label = match generator.next_request().kind {
                LeadKind::Fresh { keyed: true } => "keyed",
                LeadKind::Fresh { keyed: false } => "keyless",
                LeadKind::Resubmission => "resubmission",
                LeadKind::Invalid(kind) => {
                    invalid_kinds.insert(kind);
                    "invalid"
                }
            };
            *counts.entry(label).or_default() += 1;
        }
        let share = |label| f64::from(counts[label]) / 40_000.0;
        assert!((share("invalid") - 0.05).abs() < 0.01, "{counts:?}");
        assert!((share("resubmission") - 0.05).abs() < 0.01, "{counts:?}");
        assert!((share("keyless") - 0.9 * 0.2).abs() < 0.015, "{counts:?}");
        assert_eq!(invalid_kinds.len(), InvalidKind::VARIANTS.len());
    }

    #[test]
    fn a_resubmission_repeats_an_earlier_keyed_lead_byte_for_byte() {
        let mut generator = generator(5, mix(0.0, 0.3, 0.0));
        let mut first: HashMap<u64, PlannedRequest> = HashMap::new();
        let mut resubmissions = 0;
        for _ in 0..5000 {
            let request = generator.next_request();
            match request.kind {
                LeadKind::Resubmission => {
                    resubmissions += 1;
                    let original = &first[&request.lead_no];
                    assert_eq!(request.body, original.body);
                    assert_eq!(request.idempotency_key, original.idempotency_key);
                    assert_eq!(request.campaign, original.campaign);
                    assert!(request.seq > original.seq);
                }
                _ => {
                    first.insert(request.lead_no, request);
                }
            }
        }
        assert!(resubmissions > 1000);
    }

    #[test]
    fn the_same_seed_gives_the_same_run() {
        let mut a = generator(11, LeadMix::default());
        let mut b = generator(11, LeadMix::default());
        for _ in 0..1000 {
            let (x, y) = (a.next_request(), b.next_request());
            assert_eq!((x.body, x.idempotency_key), (y.body, y.idempotency_key));
        }
    }

    #[test]
    fn the_expected_id_is_the_domains_id_for_the_key_and_campaign() {
        let leads = RunLeads::new("lt-test").unwrap();
        let key = IdempotencyKey::parse(&leads.idempotency_key(42)).unwrap();
        let campaign = Campaign::parse(&leads.campaigns[1]).unwrap();
        assert_eq!(
            leads.expected_id(42, 1),
            Some(LeadId::from_idempotency_key(&key, &campaign).as_uuid())
        );
        assert_ne!(leads.expected_id(42, 1), leads.expected_id(42, 0));
        assert_ne!(leads.expected_id(42, 1), leads.expected_id(43, 1));
        assert_ne!(
            RunLeads::new("lt-other").unwrap().expected_id(42, 1),
            leads.expected_id(42, 1)
        );
    }

    #[test]
    fn run_tags_are_checked_and_emails_traced() {
        assert!(RunLeads::new("lt-0a1b2c3d").is_ok());
        assert!(RunLeads::new("").is_err());
        assert!(RunLeads::new("has space").is_err());
        assert!(RunLeads::new(&"x".repeat(25)).is_err());
        assert_eq!(
            RunLeads::lead_no_of_email("minjun.kim+lt907@example.co.kr"),
            Some(907)
        );
        assert_eq!(RunLeads::lead_no_of_email("a+lt12@@example.com"), Some(12));
        assert_eq!(RunLeads::lead_no_of_email("someone@example.com"), None);
    }
}
