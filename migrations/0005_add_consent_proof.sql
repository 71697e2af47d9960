-- The proof of consent a stored lead keeps (message version 2): which consent text the
-- visitor was shown, and a keyed hash of the address the lead came from — never the
-- address. The hash is for answering "did this lead come from that client?" with the
-- gateway's key; analysts do not need it, so they no longer read the table's every
-- column: they read every column but the hash (and the views, which leave it out).

ALTER TABLE leads
    ADD COLUMN consent_text_version text,
    ADD COLUMN client_ip_hash       text CHECK (client_ip_hash ~ '^[0-9a-f]{64}$');

COMMENT ON COLUMN leads.consent_text_version IS 'Version of the consent text the visitor was shown, as the page sent it; NULL for leads of message version 1 or pages that sent none.';
COMMENT ON COLUMN leads.client_ip_hash IS 'HMAC-SHA256 (hex) of the client address with the gateway key LEADPIPE_IP_HASH_KEY; never the address. NULL when no key was configured.';

-- The latest lead of each contact, now with the consent text version (a new column goes
-- last: CREATE OR REPLACE VIEW keeps the existing ones in place).
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

REVOKE SELECT ON leads FROM leadpipe_analyst;
GRANT SELECT (
    id, campaign, name, email, country_code, phone_e164, privacy_consent, consented_at,
    received_at, stored_at, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
    page_url, schema_version, consent_text_version
) ON leads TO leadpipe_analyst;
