-- Canary leads (campaign `_canary`) are synthetic leads the gateways publish to measure
-- the pipeline end to end; the consumer stores them like any lead and deletes them after
-- a day. The analyst views leave them out.

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
    page_url
FROM leads
WHERE campaign <> '_canary'
ORDER BY lower(email), campaign, received_at DESC, id DESC;
