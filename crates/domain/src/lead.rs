//! A parsed lead, and the accepted lead the gateway stamps with its id and times.

use chrono::{DateTime, Utc};

use crate::field::{Campaign, EmailAddress, Label, PageUrl, PersonName, PhoneNumber};
use crate::id::LeadId;
use crate::request::LeadRequest;

/// The campaign of canary leads: synthetic leads the gateways publish to measure the
/// pipeline end to end (see `leadpipe-gateway`'s `LEADPIPE_CANARY_INTERVAL_SECS`). The
/// analyst views leave them out, and the consumer deletes them after a day.
pub const CANARY_CAMPAIGN: &str = "_canary";

/// Whether a lead without privacy consent may be collected. The default is the lawful
/// one: personal data is collected only with consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentPolicy {
    pub require_consent: bool,
}

impl Default for ConsentPolicy {
    fn default() -> Self {
        Self {
            require_consent: true,
        }
    }
}

/// The optional UTM parameters of the page the lead came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utm {
    pub source: Option<Label>,
    pub medium: Option<Label>,
    pub campaign: Option<Label>,
    pub term: Option<Label>,
    pub content: Option<Label>,
}

/// A valid lead, as submitted by a visitor. Every field has been parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lead {
    pub name: PersonName,
    pub email: EmailAddress,
    pub phone: PhoneNumber,
    pub privacy_consent: bool,
    pub campaign: Campaign,
    pub utm: Utm,
    pub page_url: Option<PageUrl>,
}

impl Lead {
    /// A canary lead: valid by every rule, recognisable by its campaign, carrying no
    /// person's data (a reserved `.invalid` domain, a fixed number).
    pub fn canary() -> Self {
        let valid = "canary fields are valid";
        let kr = crate::field::CallingCode::parse("+82").expect(valid);
        Self {
            name: PersonName::parse("leadpipe canary").expect(valid),
            email: EmailAddress::parse("canary@leadpipe.invalid").expect(valid),
            phone: PhoneNumber::parse(kr, "010-0000-0000").expect(valid),
            privacy_consent: true,
            campaign: Campaign::parse(CANARY_CAMPAIGN).expect(valid),
            utm: Utm::default(),
            page_url: None,
        }
    }

    pub fn is_canary(&self) -> bool {
        self.campaign.as_str() == CANARY_CAMPAIGN
    }

    /// The request body that submits this lead again, in normalised form. Parsing it
    /// gives back an equal `Lead`.
    pub fn to_request(&self) -> LeadRequest {
        let label = |l: &Option<Label>| l.as_ref().map(|l| l.as_str().to_owned());
        LeadRequest {
            name: self.name.as_str().to_owned(),
            email: self.email.as_str().to_owned(),
            country_code: self.phone.calling_code().to_string(),
            phone_number: self.phone.national_digits().to_owned(),
            privacy_consent: self.privacy_consent,
            campaign: Some(self.campaign.as_str().to_owned()),
            utm_source: label(&self.utm.source),
            utm_medium: label(&self.utm.medium),
            utm_campaign: label(&self.utm.campaign),
            utm_term: label(&self.utm.term),
            utm_content: label(&self.utm.content),
            page_url: self.page_url.as_ref().map(|u| u.as_str().to_owned()),
            captcha_token: None,
        }
    }
}

/// A lead the gateway accepted: its id, when it arrived, and when consent was given
/// (the same instant, when it was given; `None` when the policy allowed no consent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedLead {
    pub id: LeadId,
    pub received_at: DateTime<Utc>,
    pub consented_at: Option<DateTime<Utc>>,
    pub lead: Lead,
}

impl AcceptedLead {
    pub fn stamp(lead: Lead, id: LeadId, received_at: DateTime<Utc>) -> Self {
        let consented_at = lead.privacy_consent.then_some(received_at);
        Self {
            id,
            received_at,
            consented_at,
            lead,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canary_lead_is_valid_and_recognisable() {
        let canary = Lead::canary();
        assert!(canary.is_canary());
        assert_eq!(canary.phone.e164(), "+821000000000");
        let body = serde_json::to_vec(&canary.to_request()).unwrap();
        let parsed = crate::parse_submission(&body, ConsentPolicy::default()).unwrap();
        assert_eq!(parsed, canary, "it passes the gateway's own rules");
        assert!(!crate::parse_submission(
            br#"{"name":"a","email":"a@b.co","country_code":"+82","phone_number":"010-1234-5678","privacy_consent":true}"#,
            ConsentPolicy::default()
        )
        .unwrap()
        .is_canary());
    }
}
