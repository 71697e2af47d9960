-- The people of each campaign, counted once an hour: the one analyst question that no
-- index answers quickly (counting distinct emails reads every lead of the campaign;
-- docs/schema.md, "At 10 million rows"). A materialized view, refreshed by the
-- consumers' hourly upkeep through refresh_lead_rollups; `lead_contacts` stays the
-- live answer.
CREATE MATERIALIZED VIEW lead_campaign_people AS
SELECT
    campaign,
    count(*)                     AS leads,
    count(DISTINCT lower(email)) AS people,
    min(received_at)             AS first_lead_at,
    max(received_at)             AS last_lead_at,
    now()                        AS refreshed_at
FROM leads
WHERE campaign <> '_canary'
GROUP BY campaign;

-- REFRESH … CONCURRENTLY (analysts keep reading during a refresh) needs a unique index.
CREATE UNIQUE INDEX lead_campaign_people_campaign_idx ON lead_campaign_people (campaign);

COMMENT ON MATERIALIZED VIEW lead_campaign_people IS 'Leads and distinct people (case-insensitive email) per campaign, as of refreshed_at (refreshed hourly by leadpipe-consumer).';

GRANT SELECT ON lead_campaign_people TO leadpipe_analyst;

-- Refreshes the rollups unless another session is refreshing them or they are younger
-- than max_age (an empty rollup has no age: always refreshed, at no cost); returns
-- whether it refreshed. Every consumer calls it once an hour: one
-- of them does the work.
CREATE FUNCTION refresh_lead_rollups(max_age interval)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('leadpipe.refresh_lead_rollups')) THEN
        RETURN false;
    END IF;
    IF (SELECT max(refreshed_at) FROM lead_campaign_people) > now() - max_age THEN
        RETURN false;
    END IF;
    REFRESH MATERIALIZED VIEW CONCURRENTLY lead_campaign_people;
    RETURN true;
END
$$;

COMMENT ON FUNCTION refresh_lead_rollups(interval) IS 'Refreshes lead_campaign_people unless it is younger than max_age or being refreshed; true when it refreshed.';
