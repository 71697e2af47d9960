//! A parsed lead, and the accepted lead the gateway stamps with its id and times.

use chrono::{DateTime, Utc};

use crate::field::{Campaign, EmailAddress, Label, PageUrl, PersonName, PhoneNumber};
use crate::id::LeadId;
use crate::request::LeadRequest;

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
