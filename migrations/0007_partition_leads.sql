-- `leads` partitioned by month of `received_at`, so that retention drops whole months
-- instead of deleting millions of rows, and an analyst's query over a period reads only
-- the months it covers.
--
-- A partitioned table's unique keys must contain the partition key, so `leads` can no
-- longer say on its own that an id is stored once: a client retry with the same
-- Idempotency-Key is a new message with the same id and a later `received_at`. The
-- unpartitioned `lead_ids` table holds that promise: the consumer's insert claims each
-- id there first (`ON CONFLICT (id) DO NOTHING`) and inserts into `leads` only the leads
-- it claimed, in the same statement. A redelivery and a resubmission both find their id
-- claimed and store nothing.
--
-- The conversion copies every row in this migration's transaction; on a large table it
-- holds the table for the time of the copy (docs/schema.md says how long at 10 million
-- rows). Run it while no consumer runs, as every migration.

-- Every stored lead id, with the `received_at` of its row (retention prunes both).
CREATE TABLE lead_ids (
    id          uuid        PRIMARY KEY,
    received_at timestamptz NOT NULL
);
-- Ids arrive in time order, so a block range index costs the insert nearly nothing and
-- lets retention find the old ids.
CREATE INDEX lead_ids_received_at_idx ON lead_ids USING brin (received_at);

COMMENT ON TABLE lead_ids IS 'Every stored lead id, claimed by the consumer before the row is inserted: an id is stored once across partitions.';

ALTER TABLE leads RENAME TO leads_unpartitioned;
ALTER INDEX leads_pkey RENAME TO leads_unpartitioned_pkey;
ALTER INDEX leads_campaign_received_at_idx RENAME TO leads_unpartitioned_campaign_idx;
ALTER INDEX leads_lower_email_idx RENAME TO leads_unpartitioned_email_idx;
ALTER TABLE leads_unpartitioned
    RENAME CONSTRAINT leads_client_ip_hash_check TO leads_unpartitioned_client_ip_hash_check;

-- The same columns in the same order as before.
CREATE TABLE leads (
    id                   uuid        NOT NULL,
    campaign             text        NOT NULL,
    name                 text        NOT NULL,
    email                text        NOT NULL,
    country_code         text        NOT NULL,
    phone_e164           text        NOT NULL,
    privacy_consent      boolean     NOT NULL,
    consented_at         timestamptz,
    received_at          timestamptz NOT NULL,
    stored_at            timestamptz NOT NULL DEFAULT now(),
    utm_source           text,
    utm_medium           text,
    utm_campaign         text,
    utm_term             text,
    utm_content          text,
    page_url             text,
    schema_version       smallint    NOT NULL,
    consent_text_version text,
    client_ip_hash       text        CHECK (client_ip_hash ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);

-- Anything outside the monthly partitions lands here rather than failing the batch; the
-- consumer exports its row count (alert LeadpipeLeadsInDefaultPartition), and
-- create_lead_partitions moves such rows into their month.
CREATE TABLE leads_default PARTITION OF leads DEFAULT;

-- The indexes each answer a question analysts ask (docs/schema.md, timed at 10 million
-- rows by `make analyst-bench`). The INCLUDE columns let PostgreSQL answer from the
-- index alone (an index-only scan): its planner reads a column used inside an indexed
-- expression from the table unless the index also holds the column itself.
--
-- Leads (and people) per campaign and UTC day, `lead_daily_counts` filtered on
-- `campaign` and `day`; the canary clean-up (`campaign = '_canary'`).
CREATE INDEX leads_campaign_day_idx ON leads (campaign, ((received_at AT TIME ZONE 'UTC')::date), lower(email))
    INCLUDE (email, received_at);
-- The people of one campaign, latest lead first (`lead_contacts` filtered on `campaign`).
CREATE INDEX leads_campaign_contact_idx ON leads (campaign, lower(email), received_at DESC, id DESC)
    INCLUDE (email);
-- A period of every campaign (`lead_attribution` over a week): rows arrive in time
-- order, so a block range index finds the period's pages at almost no cost to the insert.
CREATE INDEX leads_received_at_brin ON leads USING brin (received_at);
-- Lookup by email whatever its case (`WHERE lower(email) = lower($1)`), in every
-- campaign (`lead_contacts` filtered on `email`).
CREATE INDEX leads_lower_email_idx ON leads (lower(email), campaign, received_at DESC);

COMMENT ON TABLE leads IS 'One row per accepted lead, partitioned by month of received_at; written only by leadpipe-consumer.';
COMMENT ON COLUMN leads.id IS 'Lead id assigned by the gateway (UUIDv7, or UUIDv5 from an Idempotency-Key); unique through lead_ids.';
COMMENT ON COLUMN leads.email IS 'As submitted (trimmed, case kept); compare with lower(email).';
COMMENT ON COLUMN leads.country_code IS 'International calling code with plus, e.g. +82.';
COMMENT ON COLUMN leads.phone_e164 IS 'Phone number in E.164 form, e.g. +821012345678.';
COMMENT ON COLUMN leads.consented_at IS 'When privacy consent was given; NULL when it was not.';
COMMENT ON COLUMN leads.received_at IS 'When the gateway accepted the lead (gateway clock, UTC); the partition key.';
COMMENT ON COLUMN leads.stored_at IS 'When the consumer inserted the row (database clock).';
COMMENT ON COLUMN leads.schema_version IS 'Version of the Kafka message the row was decoded from.';
COMMENT ON COLUMN leads.consent_text_version IS 'Version of the consent text the visitor was shown, as the page sent it; NULL for leads of message version 1 or pages that sent none.';
COMMENT ON COLUMN leads.client_ip_hash IS 'HMAC-SHA256 (hex) of the client address with the gateway key LEADPIPE_IP_HASH_KEY; never the address. NULL when no key was configured.';

-- The monthly partitions (`leads_YYYY_MM`, UTC months) of every month from the one
-- holding `since` to the one holding `until`, those that do not exist yet; returns the
-- names it created. Rows of such a month already in the default partition are moved
-- into the new partition. The consumer calls it at start and every hour for the months
-- ahead; `leadpipe-consumer migrate` too.
CREATE FUNCTION create_lead_partitions(since timestamptz, until timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamp := date_trunc('month', since AT TIME ZONE 'UTC');
    lower_bound timestamptz;
    upper_bound timestamptz;
    partition   text;
BEGIN
    WHILE month_start <= until AT TIME ZONE 'UTC' LOOP
        lower_bound := month_start AT TIME ZONE 'UTC';
        upper_bound := (month_start + interval '1 month') AT TIME ZONE 'UTC';
        partition := 'leads_' || to_char(month_start, 'YYYY_MM');
        month_start := month_start + interval '1 month';
        CONTINUE WHEN to_regclass(partition) IS NOT NULL;
        IF EXISTS (
            SELECT 1 FROM leads_default WHERE received_at >= lower_bound AND received_at < upper_bound
        ) THEN
            -- A new partition may not overlap rows of the default one: take them out,
            -- create the partition, and insert them again.
            ALTER TABLE leads DETACH PARTITION leads_default;
            EXECUTE format('CREATE TABLE %I PARTITION OF leads FOR VALUES FROM (%L) TO (%L)',
                partition, lower_bound, upper_bound);
            WITH moved AS (
                DELETE FROM leads_default
                WHERE received_at >= lower_bound AND received_at < upper_bound
                RETURNING *
            )
            INSERT INTO leads SELECT * FROM moved;
            ALTER TABLE leads ATTACH PARTITION leads_default DEFAULT;
        ELSE
            EXECUTE format('CREATE TABLE %I PARTITION OF leads FOR VALUES FROM (%L) TO (%L)',
                partition, lower_bound, upper_bound);
        END IF;
        RETURN NEXT partition;
    END LOOP;
END
$$;

COMMENT ON FUNCTION create_lead_partitions(timestamptz, timestamptz) IS 'Creates the missing monthly partitions of leads from the month of since to the month of until, moving rows of those months out of leads_default.';

-- A partition for every month that holds rows, and for this month and the next three.
SELECT create_lead_partitions(least(min(received_at), now()), now() + interval '3 months')
FROM leads_unpartitioned;

INSERT INTO leads SELECT * FROM leads_unpartitioned;
INSERT INTO lead_ids (id, received_at) SELECT id, received_at FROM leads_unpartitioned;

-- The views, on the new table (same definitions as 0005 and 0004).
CREATE OR REPLACE VIEW lead_daily_counts AS
SELECT
    campaign,
    (received_at AT TIME ZONE 'UTC')::date AS day,
    count(*)                               AS leads,
    count(DISTINCT lower(email))           AS distinct_emails
FROM leads
WHERE campaign <> '_canary'
GROUP BY campaign, (received_at AT TIME ZONE 'UTC')::date;

CREATE OR REPLACE VIEW lead_contacts AS
SELECT DISTINCT ON (lower(email), campaign)
    campaign,
    lower(email) AS email,
    id           AS lead_id,
    name,
    country_code,
    phone_e164,
    privacy_consent,
    consented_at,
    received_at,
    utm_source,
    utm_medium,
    utm_campaign,
    utm_term,
    utm_content,
    page_url,
    consent_text_version
FROM leads
WHERE campaign <> '_canary'
ORDER BY lower(email), campaign, received_at DESC, id DESC;

-- Where leads came from, without who they are: a plain projection, so a filter on
-- `received_at` reaches the partitions (only the months asked for are read).
CREATE VIEW lead_attribution AS
SELECT
    id AS lead_id,
    campaign,
    received_at,
    country_code,
    privacy_consent,
    utm_source,
    utm_medium,
    utm_campaign,
    utm_term,
    utm_content,
    page_url
FROM leads
WHERE campaign <> '_canary';

COMMENT ON VIEW lead_attribution IS 'One row per lead without personal data: campaign, time, country code, consent, UTM parameters, page.';

GRANT SELECT ON lead_attribution TO leadpipe_analyst;

DROP TABLE leads_unpartitioned;

GRANT SELECT (
    id, campaign, name, email, country_code, phone_e164, privacy_consent, consented_at,
    received_at, stored_at, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
    page_url, schema_version, consent_text_version
) ON leads TO leadpipe_analyst;
