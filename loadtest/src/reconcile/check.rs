//! The reconciliation itself, without I/O: given what every request was answered and
//! what the `leads` table holds for the run, find the gaps.
//!
//! - **missing**: an id answered `202` that is not stored. The promise is broken.
//! - **duplicated**: a lead stored more than once (more than one row carries its plus
//!   tag) — a resubmission with the same `Idempotency-Key` that did not collapse.
//! - **unexpected**: a row nothing explains: not an accepted id, and not a lead whose
//!   request may have reached the broker without the client hearing back. Rows of
//!   invalid leads are counted here (and in `invalid_stored`).
//! - **stored although not acknowledged**: a row of a valid lead whose requests got
//!   `503 broker_unavailable`, timed out or broke off. Not a gap: the broker may take a
//!   lead after the gateway stopped waiting. The client was told to retry; a retry with
//!   the same key would land on the same row.
//! - **id mismatches**: a keyed lead answered with an id other than the UUIDv5 of its
//!   campaign and key, or with different ids for the same key.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;
use uuid::Uuid;

use crate::generator::RunLeads;
use crate::outcome::RequestRecord;

/// A row of the run in the `leads` table.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredRow {
    pub id: Uuid,
    pub email: String,
}

/// What the database says about the run.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Accepted ids found in `leads` (looked up by id, whatever their campaign).
    pub stored_accepted: HashSet<Uuid>,
    /// Every row in the run's campaigns.
    pub rows: Vec<StoredRow>,
}

/// How many ids of each gap the report lists, to start an investigation from.
const SAMPLE: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Findings {
    /// Distinct ids of valid leads answered `202`.
    pub accepted: u64,
    /// Of those, how many are stored.
    pub stored: u64,
    pub missing: u64,
    pub duplicated: u64,
    pub unexpected: u64,
    pub stored_unacknowledged: u64,
    pub id_mismatches: u64,
    /// Keyed leads sent more than once.
    pub resubmitted_leads: u64,
    /// Of those, how many got one id for every `202` and at most one row.
    pub resubmissions_collapsed: u64,
    /// Invalid leads the gateway answered `202`.
    pub invalid_accepted: u64,
    /// Rows of invalid leads (also counted as unexpected).
    pub invalid_stored: u64,
    /// All rows in the run's campaigns.
    pub rows_in_run: u64,
    pub missing_sample: Vec<Uuid>,
    pub unexpected_sample: Vec<Uuid>,
}

impl Findings {
    /// No lead lost, none stored twice, nothing stored that should not be, every id
    /// as the key says, and no invalid lead accepted.
    pub fn is_clean(&self) -> bool {
        self.missing == 0
            && self.duplicated == 0
            && self.unexpected == 0
            && self.id_mismatches == 0
            && self.invalid_accepted == 0
    }

    /// `accepted N, stored N, missing 0, duplicated 0, unexpected 0`.
    pub fn headline(&self) -> String {
        format!(
            "accepted {}, stored {}, missing {}, duplicated {}, unexpected {}",
            self.accepted, self.stored, self.missing, self.duplicated, self.unexpected
        )
    }
}

#[derive(Default)]
struct Fate {
    valid: bool,
    keyed: bool,
    campaign: u8,
    requests: u32,
    ids: BTreeSet<Uuid>,
    /// Some request may have reached the broker without a 202 coming back.
    open: bool,
}

/// The distinct ids answered `202` for valid leads.
pub fn accepted_ids(records: &[RequestRecord]) -> BTreeSet<Uuid> {
    records
        .iter()
        .filter(|r| r.kind.is_valid())
        .filter_map(|r| r.outcome.accepted_id())
        .collect()
}

pub fn check(records: &[RequestRecord], leads: &RunLeads, evidence: &Evidence) -> Findings {
    let mut fates: BTreeMap<u64, Fate> = BTreeMap::new();
    for record in records {
        let fate = fates.entry(record.lead_no).or_default();
        fate.valid = record.kind.is_valid();
        fate.keyed |= record.kind.keyed();
        fate.campaign = record.campaign;
        fate.requests += 1;
        if let Some(id) = record.outcome.accepted_id() {
            fate.ids.insert(id);
        }
        fate.open |= record.outcome.may_have_been_stored();
    }
    let mut findings = Findings::default();

    let accepted = accepted_ids(records);
    findings.accepted = accepted.len() as u64;
    let missing: Vec<Uuid> = accepted
        .iter()
        .filter(|id| !evidence.stored_accepted.contains(id))
        .copied()
        .collect();
    findings.missing = missing.len() as u64;
    findings.stored = findings.accepted - findings.missing;
    findings.missing_sample = missing.into_iter().take(SAMPLE).collect();

    let mut rows_per_lead: BTreeMap<u64, u64> = BTreeMap::new();
    let mut unexpected = Vec::new();
    findings.rows_in_run = evidence.rows.len() as u64;
    for row in &evidence.rows {
        let lead_no = RunLeads::lead_no_of_email(&row.email);
        if let Some(lead_no) = lead_no {
            *rows_per_lead.entry(lead_no).or_default() += 1;
        }
        if accepted.contains(&row.id) {
            continue;
        }
        match lead_no.and_then(|n| fates.get(&n)) {
            Some(fate) if !fate.valid => {
                findings.invalid_stored += 1;
                unexpected.push(row.id);
            }
            Some(fate) if fate.open && fate.ids.is_empty() => {
                findings.stored_unacknowledged += 1;
            }
            _ => unexpected.push(row.id),
        }
    }
    findings.unexpected = unexpected.len() as u64;
    findings.unexpected_sample = unexpected.into_iter().take(SAMPLE).collect();
    findings.duplicated = rows_per_lead.values().map(|&n| n.saturating_sub(1)).sum();

    for (&lead_no, fate) in &fates {
        if !fate.valid {
            findings.invalid_accepted += u64::from(!fate.ids.is_empty());
            continue;
        }
        if fate.keyed && !fate.ids.is_empty() {
            let expected = leads.expected_id(lead_no, fate.campaign);
            let as_keyed = fate.ids.len() == 1 && fate.ids.first().copied() == expected;
            findings.id_mismatches += u64::from(!as_keyed);
        }
        if fate.keyed && fate.requests > 1 {
            findings.resubmitted_leads += 1;
            let rows = rows_per_lead.get(&lead_no).copied().unwrap_or(0);
            findings.resubmissions_collapsed += u64::from(fate.ids.len() <= 1 && rows <= 1);
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::generator::{InvalidKind, LeadKind};
    use crate::outcome::Outcome;

    fn leads() -> RunLeads {
        RunLeads::new("lt-check").unwrap()
    }

    fn record(lead_no: u64, kind: LeadKind, outcome: Outcome) -> RequestRecord {
        RequestRecord {
            seq: 0,
            lead_no,
            kind,
            campaign: 0,
            intended: Duration::ZERO,
            sent: Some(Duration::ZERO),
            finished: Duration::ZERO,
            outcome,
        }
    }

    fn keyed(lead_no: u64) -> RequestRecord {
        let id = leads().expected_id(lead_no, 0).unwrap();
        record(
            lead_no,
            LeadKind::Fresh { keyed: true },
            Outcome::Accepted { id },
        )
    }

    fn row(id: Uuid, lead_no: u64) -> StoredRow {
        StoredRow {
            id,
            email: format!("someone+lt{lead_no}@example.com"),
        }
    }

    fn stored(records: &[RequestRecord], rows: Vec<StoredRow>) -> Evidence {
        let present: HashSet<Uuid> = rows.iter().map(|r| r.id).collect();
        Evidence {
            stored_accepted: accepted_ids(records)
                .into_iter()
                .filter(|id| present.contains(id))
                .collect(),
            rows,
        }
    }

    #[test]
    fn a_run_whose_every_accepted_lead_is_stored_once_is_clean() {
        let keyless_id = Uuid::now_v7();
        let mut records = vec![
            keyed(0),
            keyed(1),
            record(
                2,
                LeadKind::Fresh { keyed: false },
                Outcome::Accepted { id: keyless_id },
            ),
        ];
        let mut again = keyed(1);
        again.kind = LeadKind::Resubmission;
        records.push(again);
        let rows = vec![
            row(leads().expected_id(0, 0).unwrap(), 0),
            row(leads().expected_id(1, 0).unwrap(), 1),
            row(keyless_id, 2),
        ];
        let findings = check(&records, &leads(), &stored(&records, rows));
        assert!(findings.is_clean(), "{findings:?}");
        assert_eq!(
            findings.headline(),
            "accepted 3, stored 3, missing 0, duplicated 0, unexpected 0"
        );
        assert_eq!(
            (findings.resubmitted_leads, findings.resubmissions_collapsed),
            (1, 1)
        );
    }

    #[test]
    fn an_accepted_lead_that_is_not_stored_is_missing() {
        let records = vec![keyed(0), keyed(1)];
        let rows = vec![row(leads().expected_id(0, 0).unwrap(), 0)];
        let findings = check(&records, &leads(), &stored(&records, rows));
        assert_eq!(findings.missing, 1);
        assert_eq!(
            findings.missing_sample,
            vec![leads().expected_id(1, 0).unwrap()]
        );
        assert!(!findings.is_clean());
    }

    #[test]
    fn a_resubmission_stored_under_a_second_id_is_duplicated_and_unexpected() {
        let mut again = keyed(0);
        again.kind = LeadKind::Resubmission;
        let other = Uuid::now_v7();
        again.outcome = Outcome::Accepted { id: other };
        let records = vec![keyed(0), again];
        let rows = vec![row(leads().expected_id(0, 0).unwrap(), 0), row(other, 0)];
        let findings = check(&records, &leads(), &stored(&records, rows));
        assert_eq!(findings.duplicated, 1);
        assert_eq!(findings.id_mismatches, 1, "one key, two ids");
        assert_eq!(findings.resubmissions_collapsed, 0);
        assert!(!findings.is_clean());
    }

    #[test]
    fn an_id_other_than_the_keys_is_a_mismatch() {
        let mut wrong = keyed(0);
        let id = Uuid::now_v7();
        wrong.outcome = Outcome::Accepted { id };
        let records = vec![wrong];
        let findings = check(&records, &leads(), &stored(&records, vec![row(id, 0)]));
        assert_eq!(findings.id_mismatches, 1);
        assert_eq!(findings.missing, 0);
    }

    #[test]
    fn a_stored_invalid_lead_is_unexpected_and_an_accepted_one_is_flagged() {
        let invalid = LeadKind::Invalid(InvalidKind::BadPhoneNumber);
        let id = Uuid::now_v7();
        let records = vec![
            record(
                0,
                invalid,
                Outcome::Rejected {
                    status: 422,
                    code: "validation_failed",
                },
            ),
            record(1, invalid, Outcome::Accepted { id }),
        ];
        let rows = vec![row(Uuid::now_v7(), 0), row(id, 1)];
        let findings = check(&records, &leads(), &stored(&records, rows));
        assert_eq!(findings.invalid_stored, 2);
        assert_eq!(findings.unexpected, 2);
        assert_eq!(findings.invalid_accepted, 1);
        assert_eq!(
            findings.accepted, 0,
            "an invalid lead's 202 is no promise to keep"
        );
    }

    #[test]
    fn a_lead_stored_after_a_503_or_timeout_is_reported_but_not_a_gap() {
        let records = vec![
            record(
                0,
                LeadKind::Fresh { keyed: true },
                Outcome::Unavailable {
                    code: "broker_unavailable",
                },
            ),
            record(1, LeadKind::Fresh { keyed: false }, Outcome::TimedOut),
            // Never reached the gateway: a row for it cannot be explained.
            record(2, LeadKind::Fresh { keyed: false }, Outcome::ConnectFailed),
            // A definite refusal before publishing.
            record(
                3,
                LeadKind::Fresh { keyed: true },
                Outcome::Unavailable { code: "overloaded" },
            ),
        ];
        let rows = vec![
            row(leads().expected_id(0, 0).unwrap(), 0),
            row(Uuid::now_v7(), 1),
            row(Uuid::now_v7(), 2),
            row(leads().expected_id(3, 0).unwrap(), 3),
        ];
        let findings = check(&records, &leads(), &stored(&records, rows));
        assert_eq!(findings.stored_unacknowledged, 2);
        assert_eq!(findings.unexpected, 2);
        assert_eq!(findings.accepted, 0);
    }

    #[test]
    fn a_row_without_the_runs_tag_is_unexpected() {
        let records = vec![keyed(0)];
        let mut rows = vec![row(leads().expected_id(0, 0).unwrap(), 0)];
        rows.push(StoredRow {
            id: Uuid::now_v7(),
            email: "stranger@example.com".to_owned(),
        });
        let findings = check(&records, &leads(), &stored(&records, rows));
        assert_eq!(findings.unexpected, 1);
        assert_eq!(findings.rows_in_run, 2);
    }
}
