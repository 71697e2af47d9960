//! The gateway's one error type and its RFC 9457 `application/problem+json` rendering.
//! Every answer that is not a success goes through here, so every client sees the same
//! shape: a stable `type` and `code`, a title, and for validation every failing field.
//! Nothing a visitor submitted is echoed back, and no broker internals leak out.

use actix_web::http::header::HeaderName;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use leadpipe_domain::MalformedJson;
use leadpipe_domain::{FieldError, FieldErrors};
use serde::Serialize;
use utoipa::ToSchema;

use crate::abuse::Refusal;
use crate::sink::PublishError;

pub const PROBLEM_JSON: &str = "application/problem+json";
/// The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers): the policy
/// that refused (`"email";q=5;w=3600`) and where it stands (`"email";r=0;t=1800`).
pub const RATE_LIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub const RATE_LIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed JSON: {0}")]
    MalformedJson(MalformedJson),
    #[error("the request body could not be read")]
    UnreadableBody,
    #[error("invalid Idempotency-Key header")]
    InvalidIdempotencyKey(FieldError),
    #[error("body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("unsupported content encoding; send the body as is or gzip-compressed")]
    UnsupportedEncoding,
    #[error("the {} limit ({} per {} s) is exceeded; retry after {} s", .0.limit.as_str(), .0.rate.count, .0.rate.period.as_secs(), .0.retry_after_secs())]
    RateLimited(Refusal),
    #[error("the CAPTCHA token is missing or did not pass")]
    CaptchaFailed,
    #[error("the CAPTCHA verifier did not answer")]
    CaptchaUnavailable { retry_after_secs: u64 },
    #[error(transparent)]
    Validation(FieldErrors),
    #[error("too many publishes in flight")]
    Overloaded { retry_after_secs: u64 },
    #[error("the broker did not take the lead: {source}")]
    BrokerUnavailable {
        source: PublishError,
        retry_after_secs: u64,
    },
    #[error("{}", if *draining { "this instance is shutting down" } else { "this instance is starting" })]
    NotReady {
        retry_after_secs: u64,
        draining: bool,
    },
    #[error("not found")]
    NotFound,
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed { allow: &'static str },
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:leadpipe:problem:validation-failed", "title": "The lead is not valid",
    "status": 422, "code": "validation_failed", "detail": "1 field(s) failed validation",
    "errors": [{"field": "email", "code": "invalid_format", "message": "must be a valid email address"}]
}))]
pub struct Problem {
    /// A URI naming the problem type: `urn:leadpipe:problem:<code with dashes>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    /// Stable machine-readable code, e.g. `validation_failed`, `consent_required`.
    pub code: &'static str,
    pub detail: String,
    /// For validation problems: every failing field and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    /// The stable code: the `code` member, the last part of `type`, and the `reason`
    /// label of `leadpipe_leads_rejected_total`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::UnreadableBody => "unreadable_body",
            Self::InvalidIdempotencyKey(_) => "invalid_idempotency_key",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::UnsupportedEncoding => "unsupported_encoding",
            Self::RateLimited(_) => "rate_limited",
            Self::CaptchaFailed => "captcha_failed",
            Self::CaptchaUnavailable { .. } => "captcha_unavailable",
            Self::Validation(errors) if errors.only_consent_missing() => "consent_required",
            Self::Validation(errors) if errors.only_consent_version_unknown() => {
                "consent_version_unknown"
            }
            Self::Validation(_) => "validation_failed",
            Self::Overloaded { .. } => "overloaded",
            Self::BrokerUnavailable { .. } => "broker_unavailable",
            Self::NotReady { .. } => "not_ready",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "The body is not valid JSON",
            Self::UnreadableBody => "The body could not be read",
            Self::InvalidIdempotencyKey(_) => "The Idempotency-Key header is not valid",
            Self::PayloadTooLarge { .. } => "The body is too large",
            Self::UnsupportedMediaType => "The body must be application/json",
            Self::UnsupportedEncoding => "The body's content encoding is not supported",
            Self::RateLimited(_) => "Too many submissions; retry later",
            Self::CaptchaFailed => "The CAPTCHA check did not pass",
            Self::CaptchaUnavailable { .. } => "The CAPTCHA check is unavailable; retry shortly",
            Self::Validation(errors) if errors.only_consent_missing() => {
                "Consent to collect personal data is required"
            }
            Self::Validation(errors) if errors.only_consent_version_unknown() => {
                "The consent text version is not one this server accepts"
            }
            Self::Validation(_) => "The lead is not valid",
            Self::Overloaded { .. } => "Too many leads are being submitted; retry shortly",
            Self::BrokerUnavailable { .. } => {
                "The lead could not be stored right now; retry shortly"
            }
            Self::NotReady { .. } => "This instance is not ready to receive traffic",
            Self::NotFound => "No such resource",
            Self::MethodNotAllowed { .. } => "Method not allowed",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::InvalidIdempotencyKey(e) => format!("Idempotency-Key {}", e.message),
            Self::UnsupportedMediaType => "send Content-Type: application/json".to_owned(),
            // The publish error's kind is fine to show; its librdkafka text is not.
            Self::BrokerUnavailable { source, .. } => format!("publish failed ({})", source.kind()),
            other => other.to_string(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Overloaded { retry_after_secs }
            | Self::BrokerUnavailable {
                retry_after_secs, ..
            }
            | Self::NotReady {
                retry_after_secs, ..
            }
            | Self::CaptchaUnavailable { retry_after_secs } => Some(*retry_after_secs),
            Self::RateLimited(refusal) => Some(refusal.retry_after_secs()),
            _ => None,
        }
    }

    pub fn problem(&self) -> Problem {
        let code = self.code();
        Problem {
            type_uri: format!("urn:leadpipe:problem:{}", code.replace('_', "-")),
            title: self.title(),
            status: self.status_code().as_u16(),
            code,
            detail: self.detail(),
            errors: match self {
                Self::Validation(errors) => errors.0.clone(),
                Self::InvalidIdempotencyKey(e) => vec![e.clone()],
                _ => Vec::new(),
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::UnreadableBody | Self::InvalidIdempotencyKey(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType | Self::UnsupportedEncoding => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::Validation(_) | Self::CaptchaFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Overloaded { .. }
            | Self::BrokerUnavailable { .. }
            | Self::NotReady { .. }
            | Self::CaptchaUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if let Some(seconds) = self.retry_after() {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if let Self::MethodNotAllowed { allow } = self {
            response.insert_header((header::ALLOW, *allow));
        }
        if let Self::RateLimited(refusal) = self {
            let name = refusal.limit.as_str();
            response.insert_header((
                RATE_LIMIT_POLICY,
                format!(
                    "\"{name}\";q={};w={}",
                    refusal.rate.count,
                    refusal.rate.period.as_secs()
                ),
            ));
            response.insert_header((
                RATE_LIMIT,
                format!("\"{name}\";r=0;t={}", refusal.retry_after_secs()),
            ));
        }
        response.body(serde_json::to_vec(&self.problem()).unwrap_or_default())
    }
}
