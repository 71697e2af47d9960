//! `POST /v1/leads`: the one route that matters. In order, cheap local checks first and
//! the one remote check last: content type, body size and encoding, parsing into a valid
//! lead (domain crate, consent text version included), the lead id, the honeypot, the
//! rate limits (`abuse`), the CAPTCHA verifier, the in-flight limit, and the publish —
//! `202` only after the broker's acknowledgement. A filled honeypot is answered exactly
//! like an accepted lead, after a delay drawn from recent real acknowledgements, and is
//! never published nor counted as accepted.

use actix_web::http::header::{self, HeaderName};
use actix_web::mime;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use chrono::Utc;
use futures::StreamExt;
use leadpipe_domain::{
    parse_submission_with, AcceptedLead, IdempotencyKey, LeadId, LeadRequest, SubmissionError,
    SubmissionRules,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::abuse::{CaptchaVerdict, Keys, CAPTCHA_TOKEN_HEADER};
use crate::problem::{ApiError, Problem};
use crate::sink::Record;
use crate::state::AppState;
use crate::telemetry::RequestId;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The answer to an accepted lead.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f0e-8f3a-7c1d-9e2b-3a4c5d6e7f80", "status": "accepted"}))]
pub struct Accepted {
    /// The lead's id: the Kafka key and the primary key of the stored row.
    pub id: uuid::Uuid,
    /// Always `accepted`.
    pub status: &'static str,
}

/// Submit a lead.
///
/// The lead is validated, given an id, and published to Kafka; the answer is `202` only
/// once the broker has acknowledged it (idempotent producer, `acks=all`), so an accepted
/// lead is never lost. Send an `Idempotency-Key` to make retries safe: the same key in
/// the same campaign always yields the same id and is stored once.
#[utoipa::path(
    post,
    path = "/v1/leads",
    tag = "leads",
    request_body(content = LeadRequest, content_type = "application/json"),
    params(
        ("Idempotency-Key" = Option<String>, Header,
         description = "1–255 visible ASCII characters; the same key and campaign give the same lead id"),
    ),
    responses(
        (status = 202, description = "Accepted: the broker acknowledged the lead", body = Accepted),
        (status = 400, description = "Malformed JSON, or an invalid Idempotency-Key",
         body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the limit (16 KiB by default)",
         body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is not application/json, or a Content-Encoding other than gzip",
         body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Validation failed: every failing field and why (`validation_failed`), consent missing (`consent_required`), a consent text version the server does not accept (`consent_version_unknown`), or the CAPTCHA did not pass (`captcha_failed`)",
         body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over a rate limit (per client address, email or phone): `rate_limited`; retry after `Retry-After` seconds",
         body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u64, description = "Seconds until a retry is allowed"),
                 ("RateLimit-Policy" = String, description = "The limit that refused: `\"email\";q=5;w=3600`"),
                 ("RateLimit" = String, description = "Where it stands: `\"email\";r=0;t=1800`"))),
        (status = 503, description = "The broker could not take the lead in time, too many are in flight, or the CAPTCHA verifier is unavailable; retry after `Retry-After` seconds",
         body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
    )
)]
pub async fn submit_lead(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let request_id = RequestId::of(&req);
    match accept(&req, payload, &state, &request_id).await {
        Ok(Outcome::Published(id)) => {
            state.metrics.leads_accepted.inc();
            tracing::info!(request_id = request_id.as_str(), lead_id = %id, "lead accepted");
            Ok(accepted(id))
        }
        Ok(Outcome::Honeypot(id)) => {
            state.metrics.honeypot_caught.inc();
            tracing::info!(request_id = request_id.as_str(), lead_id = %id, "honeypot filled: not published");
            Ok(accepted(id))
        }
        Err(error) => {
            state
                .metrics
                .leads_rejected
                .with_label_values(&[error.code()])
                .inc();
            tracing::info!(
                request_id = request_id.as_str(),
                code = error.code(),
                status = error.status_code().as_u16(),
                "lead rejected"
            );
            Err(error)
        }
    }
}

/// `202` with `{"id": "<uuid>", "status": "accepted"}`, written without a serializer.
fn accepted(id: LeadId) -> HttpResponse {
    let mut buffer = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = id.as_uuid().hyphenated().encode_lower(&mut buffer);
    let mut body = String::with_capacity(64);
    body.push_str(r#"{"id":""#);
    body.push_str(id);
    body.push_str(r#"","status":"accepted"}"#);
    HttpResponse::Accepted()
        .content_type(mime::APPLICATION_JSON)
        .body(body)
}

/// What became of a submission that is answered `202`.
enum Outcome {
    Published(LeadId),
    /// A bot filled the honeypot: answered like a lead, never published.
    Honeypot(LeadId),
}

async fn accept(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    request_id: &RequestId,
) -> Result<Outcome, ApiError> {
    require_json(req)?;
    let key = idempotency_key(req)?;
    let body = read_body(req, payload, state.max_body_bytes).await?;
    let guard = &state.guard;
    let rules = SubmissionRules {
        consent: state.consent_policy,
        honeypot_field: guard.honeypot_field.as_deref(),
        consent_text_versions: state.consent.versions(),
    };
    let submission = parse_submission_with(&body, rules).map_err(|e| match e {
        SubmissionError::Malformed(m) => ApiError::MalformedJson(m),
        SubmissionError::Invalid(errors) => ApiError::Validation(errors),
    })?;
    let lead = submission.lead;
    let id = match &key {
        Some(key) => LeadId::from_idempotency_key(key, &lead.campaign),
        None => LeadId::generate(),
    };
    if submission.honeypot_filled {
        // As long as a real lead takes, so that the answer tells a bot nothing.
        tokio::time::sleep(state.ack_latency.draw()).await;
        return Ok(Outcome::Honeypot(id));
    }
    let client_ip = client_ip(req, guard);
    let accepted = AcceptedLead::stamp(lead, id, Utc::now())
        .with_client_ip_hash(state.consent.hash(client_ip));
    let keys = Keys {
        ip: client_ip,
        email: accepted.lead.email.as_str(),
        phone_e164: accepted.lead.phone.e164(),
    };
    let admission = if guard.limits.is_off() {
        None
    } else {
        Some(
            guard
                .limits
                .check(&keys)
                .await
                .map_err(ApiError::RateLimited)?,
        )
    };
    // The verifier is a remote call: last before the publish, so that a submission the
    // limits refuse costs none.
    let header_token = req
        .headers()
        .get(CAPTCHA_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok());
    let verified = guard
        .verify_captcha(
            submission.captcha_token.as_deref().or(header_token),
            client_ip,
            &state.metrics,
        )
        .await
        .map_err(|refusal| match refusal {
            CaptchaVerdict::Unavailable => ApiError::CaptchaUnavailable {
                retry_after_secs: state.retry_after_secs,
            },
            _ => ApiError::CaptchaFailed,
        });
    let record = match verified {
        Ok(()) => Record::from(&accepted),
        Err(error) => {
            if let (ApiError::CaptchaUnavailable { .. }, Some(admission)) = (&error, &admission) {
                // The client is told to retry: the retry is not a new submission.
                guard.limits.refund(admission, &keys).await;
            }
            return Err(error);
        }
    };
    let published = publish(state, request_id, id, &record).await;
    if let (Err(_), Some(admission)) = (&published, &admission) {
        // Not accepted: the retry the client is told to make is not a new submission.
        guard.limits.refund(admission, &keys).await;
    }
    published.map(|()| Outcome::Published(id))
}

async fn publish(
    state: &AppState,
    request_id: &RequestId,
    id: LeadId,
    record: &Record,
) -> Result<(), ApiError> {
    // Shed load instead of queueing without bound: a full house is an immediate 503.
    let _permit =
        state
            .in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Overloaded {
                retry_after_secs: state.retry_after_secs,
            })?;
    let _gauge = InFlightGauge::enter(&state.metrics.publishes_in_flight);
    let started = std::time::Instant::now();
    let published = state.sink.publish(record).await;
    if published.is_ok() {
        state.ack_latency.record(started.elapsed());
    }
    published.map_err(|source| {
        tracing::warn!(request_id = request_id.as_str(), lead_id = %id, kind = source.kind(), "publish failed");
        ApiError::BrokerUnavailable {
            source,
            retry_after_secs: state.retry_after_secs,
        }
    })
}

/// The client's address: the socket's peer, or behind trusted proxies the right-most
/// untrusted `X-Forwarded-For` hop.
fn client_ip(req: &HttpRequest, guard: &crate::abuse::Guard) -> std::net::IpAddr {
    let peer = req
        .peer_addr()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    let forwarded = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .filter_map(|v| v.to_str().ok());
    guard.proxies.client_ip(peer, forwarded)
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    match req.mime_type() {
        Ok(Some(mime)) if mime.essence_str() == "application/json" => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let invalid = |r: leadpipe_domain::error::FieldRejection| {
        ApiError::InvalidIdempotencyKey(r.for_field("Idempotency-Key"))
    };
    let text = value.to_str().map_err(|_| {
        invalid(leadpipe_domain::error::FieldRejection::new(
            leadpipe_domain::FieldErrorCode::InvalidCharacters,
            "must be visible ASCII characters without quotes or backslashes",
        ))
    })?;
    IdempotencyKey::parse(text).map(Some).map_err(invalid)
}

/// Reads the body up to `limit` bytes; a declared or actual larger body is a 413. A
/// gzip-encoded body is decompressed, and its decompressed size is held to the same
/// limit (a small bomb is still a 413); any other content coding is a 415, never ignored.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let gzip = match req.headers().get(header::CONTENT_ENCODING) {
        None => false,
        Some(value) => match value.to_str().map(|v| v.trim().to_ascii_lowercase()) {
            Ok(coding) if coding.is_empty() || coding == "identity" => false,
            Ok(coding) if coding == "gzip" || coding == "x-gzip" => true,
            _ => return Err(ApiError::UnsupportedEncoding),
        },
    };
    let too_large = ApiError::PayloadTooLarge { limit };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large);
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::UnreadableBody)?;
        if body.len() + chunk.len() > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    if gzip {
        return gunzip(&body, limit);
    }
    Ok(body.freeze())
}

fn gunzip(compressed: &[u8], limit: usize) -> Result<web::Bytes, ApiError> {
    use std::io::Read;
    let mut decoded = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    flate2::read::GzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut decoded)
        .map_err(|_| ApiError::UnreadableBody)?;
    if decoded.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(decoded.into())
}

/// Keeps `leadpipe_publishes_in_flight` right even if the request is dropped mid-publish.
struct InFlightGauge<'a>(&'a prometheus::IntGauge);

impl<'a> InFlightGauge<'a> {
    fn enter(gauge: &'a prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlightGauge<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
