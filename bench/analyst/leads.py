"""Realistic leads for the analyst benchmark, as the rows the consumer writes, in the
order it writes them (by `received_at`), as COPY text.

Twelve campaigns of very different sizes, each running for one to four months of a
thirteen-month year with a launch peak and quieter weekends; a pool of people some of
whom come back (the same email in another campaign, or twice in one, with its case
changed); calling codes, UTM sources and consent in plausible shares. Seeded: the same
arguments give the same rows.
"""

import datetime as dt
import random
import uuid

# name, share of all leads, first day (days after the start), length in days
CAMPAIGNS = [
    ("spring-sale", 0.24, 20, 100),
    ("summer-festival", 0.18, 140, 90),
    ("black-friday", 0.13, 310, 40),
    ("newsletter", 0.10, 0, 395),
    ("webinar-ai", 0.08, 60, 60),
    ("launch-x1", 0.06, 200, 45),
    ("partner-fair", 0.05, 250, 30),
    ("holiday-raffle", 0.04, 340, 50),
    ("app-download", 0.04, 100, 120),
    ("b2b-demo", 0.03, 30, 300),
    ("survey-2026", 0.03, 170, 35),
    ("referral", 0.02, 0, 390),
]
DAYS = 395
COUNTRIES = [("+82", 0.42, "10", 8), ("+1", 0.17, "", 10), ("+81", 0.10, "90", 8), ("+44", 0.06, "7", 9),
             ("+49", 0.05, "151", 8), ("+33", 0.04, "6", 8), ("+86", 0.05, "13", 9), ("+91", 0.05, "9", 9),
             ("+61", 0.03, "4", 8), ("+65", 0.03, "8", 7)]
SOURCES = [(None, 0.28), ("google", 0.22), ("facebook", 0.14), ("instagram", 0.10), ("newsletter", 0.08),
           ("naver", 0.08), ("kakao", 0.06), ("partner", 0.04)]
MEDIUM = {None: None, "google": "cpc", "facebook": "paid_social", "instagram": "paid_social",
          "newsletter": "email", "naver": "cpc", "kakao": "paid_social", "partner": "referral"}
GIVEN = ["Min-jun", "Seo-yeon", "Ji-ho", "Ha-eun", "James", "Mary", "Yuki", "Hiroshi", "Oliver", "Emma",
         "Lukas", "Léa", "Wei", "Priya", "Arjun", "Chloé", "민준", "서연", "지호", "하은", "Noah", "Sofia"]
FAMILY = ["Kim", "Lee", "Park", "Choi", "Smith", "Johnson", "Sato", "Suzuki", "Brown", "Müller", "Martin",
          "Wang", "Sharma", "Tan", "김", "이", "박", "최", "Nguyen", "García"]
DOMAINS = ["example.com", "mail.example.org", "example.net", "corp.example.co.kr", "example.jp"]


def _uuid7(at: dt.datetime, rnd: random.Random) -> uuid.UUID:
    millis = int(at.timestamp() * 1000)
    value = (millis << 80) | (0x7 << 76) | (rnd.getrandbits(12) << 64) | (0b10 << 62) | rnd.getrandbits(62)
    return uuid.UUID(int=value)


def _daily_counts(total: int, rnd: random.Random):
    """{campaign: [leads on each day]}: a peak in the first week, weekends at 60 %."""
    counts = {}
    start = dt.date(2000, 1, 3)  # a Monday: weekday of day d is (d % 7)
    for name, share, first, length in CAMPAIGNS:
        weights = []
        for d in range(length):
            peak = 3.0 if d < 7 else 1.0 + 1.0 / (1 + (d - 7) / 10)
            weekend = 0.6 if (start + dt.timedelta(days=first + d)).weekday() >= 5 else 1.0
            weights.append(peak * weekend * rnd.uniform(0.85, 1.15))
        scale = total * share / sum(weights)
        counts[name] = [0] * first + [round(w * scale) for w in weights]
    return counts


def _person_table(weights_of):
    """A 1000-slot lookup table drawing an item by a person's hash in the given shares."""
    table = []
    for item, weight in weights_of:
        table += [item] * round(weight * 1000)
    return (table + table[-1:] * 1000)[:1000]


def rows(total: int, start: dt.datetime, seed: int = 20261207):
    """COPY text lines (tab-separated, `\\N` for NULL) of about `total` leads received
    from `start` on, in the column order of COLUMNS."""
    rnd = random.Random(seed)
    counts = _daily_counts(total, rnd)
    people = max(1000, int(total * 0.55))  # about 45 % of leads are a returning person
    countries = _person_table([((code, prefix, digits), w) for code, w, prefix, digits in COUNTRIES])
    sources = _person_table(SOURCES)
    for day in range(DAYS):
        midnight = start + dt.timedelta(days=day)
        todays = []
        for name, _, _, _ in CAMPAIGNS:
            n = counts[name][day] if day < len(counts[name]) else 0
            # Visitors come more in the day (UTC+9 office hours) than at night.
            todays += [((rnd.random() + rnd.random()) * 43200, name) for _ in range(n)]
        todays.sort()
        for seconds, campaign in todays:
            at = midnight + dt.timedelta(seconds=seconds)
            # Returning people: a skewed draw makes some emails frequent. What belongs to
            # the person comes from a hash of their number, so it stays theirs.
            person = int(people * rnd.random() ** 1.6)
            h = (person * 2654435761) & 0xFFFFFFFF
            given, family = GIVEN[h % len(GIVEN)], FAMILY[(h >> 8) % len(FAMILY)]
            email = f"{given.lower()}.{person}@{DOMAINS[(h >> 16) % len(DOMAINS)]}"
            if rnd.random() < 0.08:
                email = email.capitalize()
            code, prefix, digits = countries[h % 1000]
            phone = f"{code}{prefix}{10 ** (digits - 1) + (h * 7919) % (9 * 10 ** (digits - 1))}"
            source = sources[int(rnd.random() * 1000)]
            consent = rnd.random() < 0.97
            received = at.isoformat()
            stored = (at + dt.timedelta(milliseconds=20 + int(rnd.random() * 880))).isoformat()
            yield "\t".join((
                str(_uuid7(at, rnd)), campaign, f"{given} {family}", email, code, phone,
                "t" if consent else "f", received if consent else "\\N", received, stored,
                source or "\\N", MEDIUM[source] or "\\N", campaign if source else "\\N", "\\N", "\\N",
                f"https://event.example.com/{campaign}", "2", "2026-12" if consent else "\\N",
                "%064x" % rnd.getrandbits(256),
            )) + "\n"


COLUMNS = ("id, campaign, name, email, country_code, phone_e164, privacy_consent, consented_at, received_at, "
           "stored_at, utm_source, utm_medium, utm_campaign, utm_term, utm_content, page_url, schema_version, "
           "consent_text_version, client_ip_hash")
