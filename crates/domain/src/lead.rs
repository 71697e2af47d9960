//! A parsed lead, and the accepted lead the gateway stamps with its id and times.

use chrono::{DateTime, Utc};

use crate::client_ip_hash::ClientIpHash;
use crate::field::{
    Campaign, ConsentTextVersion, EmailAddress, Label, PageUrl, PersonName, PhoneNumber,
};
use crate::id::LeadId;

/// The version of the Kafka message (see `message`) a lead is written in today.
pub const SCHEMA_VERSION: u16 = 2;

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
    /// The version of the consent text shown to the visitor, when the page sent one.
    pub consent_text_version: Option<ConsentTextVersion>,
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
            consent_text_version: None,
            campaign: Campaign::parse(CANARY_CAMPAIGN).expect(valid),
            utm: Utm::default(),
            page_url: None,
        }
    }

    pub fn is_canary(&self) -> bool {
        self.campaign.as_str() == CANARY_CAMPAIGN
    }
}

/// A lead the gateway accepted: its id, when it arrived, when consent was given (the
/// same instant, when it was given; `None` when the policy allowed no consent), and the
/// keyed hash of the client's address when the gateway has a key for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedLead {
    pub id: LeadId,
    pub received_at: DateTime<Utc>,
    pub consented_at: Option<DateTime<Utc>>,
    pub client_ip_hash: Option<ClientIpHash>,
    /// The message version it travels in: the current one for a lead the gateway
    /// stamps, the one it was written in for a decoded message.
    pub schema_version: u16,
    pub lead: Lead,
}

impl AcceptedLead {
    pub fn stamp(lead: Lead, id: LeadId, received_at: DateTime<Utc>) -> Self {
        let consented_at = lead.privacy_consent.then_some(received_at);
        Self {
            id,
            received_at,
            consented_at,
            client_ip_hash: None,
            schema_version: SCHEMA_VERSION,
            lead,
        }
    }

    /// The same lead with the keyed hash of its client's address.
    #[must_use]
    pub fn with_client_ip_hash(mut self, hash: Option<ClientIpHash>) -> Self {
        self.client_ip_hash = hash;
        self
    }
}
