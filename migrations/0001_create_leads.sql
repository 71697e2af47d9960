-- Every accepted lead, once. `id` is the id the gateway gave the lead: it is the Kafka
-- key too, so a message delivered twice (a retry, a replay after a crash) inserts nothing
-- the second time (`ON CONFLICT (id) DO NOTHING`).
CREATE TABLE leads (
    id              uuid        PRIMARY KEY,
    campaign        text        NOT NULL,
    name            text        NOT NULL,
    email           text        NOT NULL,
    country_code    text        NOT NULL,
    phone_e164      text        NOT NULL,
    privacy_consent boolean     NOT NULL,
    consented_at    timestamptz,
    received_at     timestamptz NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT now(),
    utm_source      text,
    utm_medium      text,
    utm_campaign    text,
    utm_term        text,
    utm_content     text,
    page_url        text,
    schema_version  smallint    NOT NULL
);

COMMENT ON TABLE leads IS 'One row per accepted lead; written only by leadpipe-consumer.';
COMMENT ON COLUMN leads.id IS 'Lead id assigned by the gateway (UUIDv7, or UUIDv5 from an Idempotency-Key).';
COMMENT ON COLUMN leads.email IS 'As submitted (trimmed, case kept); compare with lower(email).';
COMMENT ON COLUMN leads.country_code IS 'International calling code with plus, e.g. +82.';
COMMENT ON COLUMN leads.phone_e164 IS 'Phone number in E.164 form, e.g. +821012345678.';
COMMENT ON COLUMN leads.consented_at IS 'When privacy consent was given; NULL when it was not.';
COMMENT ON COLUMN leads.received_at IS 'When the gateway accepted the lead (gateway clock, UTC).';
COMMENT ON COLUMN leads.stored_at IS 'When the consumer inserted the row (database clock).';
COMMENT ON COLUMN leads.schema_version IS 'Version of the Kafka message the row was decoded from.';

-- Leads per campaign over time: `WHERE campaign = $1 AND received_at >= $2`, and the
-- per-day counts of the `lead_daily_counts` view.
CREATE INDEX leads_campaign_received_at_idx ON leads (campaign, received_at);

-- Lookup by email whatever its case (`WHERE lower(email) = lower($1)`); the trailing
-- columns also serve the latest-lead-per-contact view.
CREATE INDEX leads_lower_email_idx ON leads (lower(email), campaign, received_at DESC);
