//! Where the visitor came from: the campaign the form belongs to, UTM parameters as ad
//! platforms and newsletters set them (some in Korean, some absent or blank), and the
//! page URL.

use fastrand::Rng;
use leadpipe_domain::LeadRequest;

use super::people::pick;

/// Campaign names of a run: each is prefixed with the run tag, so a run's rows can be
/// found in `leads` by `campaign` (which is indexed) without touching anyone else's.
pub(crate) const CAMPAIGN_SUFFIXES: &[&str] = &[
    "spring-2026",
    "봄맞이-이벤트",
    "webinar-ai-06",
    "black-friday",
];

#[rustfmt::skip]
const SOURCES: &[&str] = &["google", "naver", "kakao", "instagram", "facebook", "newsletter", "youtube"];
const MEDIUMS: &[&str] = &["cpc", "social", "email", "display", "referral"];
const UTM_CAMPAIGNS: &[&str] = &["spring_launch", "봄_세일", "retarget_q2", "brand-2026"];
const TERMS: &[&str] = &["이벤트 응모", "lead form", "free trial", "무료 체험"];
const CONTENTS: &[&str] = &["banner-a", "배너-b", "hero_video", "cta-bottom"];
#[rustfmt::skip]
const PAGES: &[&str] = &[
    "https://event.example.com/spring", "https://event.example.com/ko/봄-이벤트",
    "https://이벤트.example/신청", "http://www.example.com/webinar?ref=mail",
];

/// `Some(value)` with probability `percent`, `Some("")` (a blank form field, which the
/// gateway treats as absent) now and then, `None` otherwise.
fn maybe(rng: &mut Rng, percent: u8, items: &[&str]) -> Option<String> {
    let roll = rng.u8(..100);
    if roll < percent {
        Some(pick(rng, items).to_owned())
    } else if roll < percent + 3 {
        Some(String::new())
    } else {
        None
    }
}

/// Sets where `lead` came from: UTM parameters (medium and campaign only with a source)
/// and the page URL.
pub(crate) fn tag(rng: &mut Rng, lead: &mut LeadRequest) {
    lead.utm_source = maybe(rng, 75, SOURCES);
    let tagged = lead.utm_source.as_deref().is_some_and(|s| !s.is_empty());
    lead.utm_medium = tagged.then(|| maybe(rng, 90, MEDIUMS)).flatten();
    lead.utm_campaign = tagged.then(|| maybe(rng, 70, UTM_CAMPAIGNS)).flatten();
    lead.utm_term = maybe(rng, 20, TERMS);
    lead.utm_content = maybe(rng, 30, CONTENTS);
    lead.page_url = maybe(rng, 85, PAGES);
}
