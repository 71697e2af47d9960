-- 1. Leads per day of one campaign over 30 days, the largest campaign (lead_daily_counts)
SELECT day, leads
FROM lead_daily_counts
WHERE campaign = 'spring-sale' AND day >= DATE '2025-12-01' AND day < DATE '2025-12-31'
ORDER BY day

-- 1b. The same with the distinct people of each day (lead_daily_counts)
SELECT day, leads, distinct_emails
FROM lead_daily_counts
WHERE campaign = 'spring-sale' AND day >= DATE '2025-12-01' AND day < DATE '2025-12-31'
ORDER BY day

-- 2. Distinct people of one campaign (lead_contacts)
SELECT count(*) FROM lead_contacts WHERE campaign = 'webinar-ai'

-- 2b. Distinct people of every campaign, every row read (lead_contacts)
SELECT campaign, count(*) AS people FROM lead_contacts GROUP BY campaign ORDER BY campaign

-- 2c. Distinct people of every campaign, as of the last hourly refresh (lead_campaign_people)
SELECT campaign, people FROM lead_campaign_people ORDER BY campaign

-- 3. Latest lead per contact of one campaign, first page of 1,000 (lead_contacts)
SELECT * FROM lead_contacts WHERE campaign = 'webinar-ai' ORDER BY email LIMIT 1000

-- 3b. Latest lead per contact of one campaign, every contact (lead_contacts)
SELECT * FROM lead_contacts WHERE campaign = 'webinar-ai'

-- 4. UTM source breakdown of one week, every campaign (lead_attribution)
SELECT utm_source, utm_medium, count(*) AS leads
FROM lead_attribution
WHERE received_at >= TIMESTAMPTZ '2026-04-06 00:00Z' AND received_at < TIMESTAMPTZ '2026-04-13 00:00Z'
GROUP BY utm_source, utm_medium
ORDER BY leads DESC

-- 5. Lookup by email, latest lead in every campaign (lead_contacts)
SELECT * FROM lead_contacts WHERE email = lower('Arjun.4242@mail.example.org')

-- 5b. Lookup by email, every lead (leads)
SELECT campaign, received_at, name, phone_e164, utm_source
FROM leads
WHERE lower(email) = lower('Arjun.4242@mail.example.org')
ORDER BY received_at DESC
