-- Views for analysts. Days are UTC days of `received_at`; see docs/schema.md for other
-- time zones.

-- Leads and distinct (case-insensitive) email addresses per campaign and day.
CREATE VIEW lead_daily_counts AS
SELECT
    campaign,
    (received_at AT TIME ZONE 'UTC')::date AS day,
    count(*)                               AS leads,
    count(DISTINCT lower(email))           AS distinct_emails
FROM leads
GROUP BY campaign, (received_at AT TIME ZONE 'UTC')::date;

COMMENT ON VIEW lead_daily_counts IS 'Leads and distinct emails per campaign and UTC day.';

-- The most recent lead of each contact (campaign + lower-cased email): who to call back,
-- with the details they gave last.
CREATE VIEW lead_contacts AS
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
ORDER BY lower(email), campaign, received_at DESC, id DESC;

COMMENT ON VIEW lead_contacts IS 'Latest lead per campaign and lower-cased email.';
