//! `POST /v1/leads`: the one route that matters. In order: content type, body size,
//! parsing into a valid lead (domain crate), the lead id, the in-flight limit, and the
//! publish — `202` only after the broker's acknowledgement.

use actix_web::http::header::{self, HeaderName};
use actix_web::mime;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use chrono::Utc;
use futures::StreamExt;
use leadpipe_domain::{
    parse_submission, AcceptedLead, IdempotencyKey, LeadId, LeadRequest, SubmissionError,
};
use serde::Serialize;
use utoipa::ToSchema;

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
        (status = 415, description = "Content-Type is not application/json",
         body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Validation failed: every failing field and why (`validation_failed`), or consent missing (`consent_required`)",
         body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The broker could not take the lead in time, or too many are in flight; retry after `Retry-After` seconds",
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
        Ok(id) => {
            state.metrics.leads_accepted.inc();
            tracing::info!(request_id = request_id.as_str(), lead_id = %id, "lead accepted");
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

async fn accept(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    request_id: &RequestId,
) -> Result<LeadId, ApiError> {
    require_json(req)?;
    let key = idempotency_key(req)?;
    let body = read_body(req, payload, state.max_body_bytes).await?;
    let lead = parse_submission(&body, state.consent_policy).map_err(|e| match e {
        SubmissionError::Malformed(m) => ApiError::MalformedJson(m),
        SubmissionError::Invalid(errors) => ApiError::Validation(errors),
    })?;
    let id = match &key {
        Some(key) => LeadId::from_idempotency_key(key, &lead.campaign),
        None => LeadId::generate(),
    };
    let record = Record::from(&AcceptedLead::stamp(lead, id, Utc::now()));

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
    state.sink.publish(&record).await.map_err(|source| {
        tracing::warn!(request_id = request_id.as_str(), lead_id = %id, kind = source.kind(), "publish failed");
        ApiError::BrokerUnavailable {
            source,
            retry_after_secs: state.retry_after_secs,
        }
    })?;
    Ok(id)
}

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

/// Reads the body up to `limit` bytes; a declared or actual larger body is a 413.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
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
    Ok(body.freeze())
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
