//! Per-request observation (process-wide logging is set up by `leadpipe_service`).
//!
//! Every request runs inside a span carrying its request id (taken from a well-formed
//! `X-Request-Id` header or generated) and, once known, the lead id. Logs never contain
//! a name, email or phone number: handlers log the lead id and outcome codes only.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::Error;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::state::Lifecycle;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's request id is reused only if it is short, visible ASCII: it ends up in logs.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// Middleware: request span, `X-Request-Id` echo, request count and duration by route;
/// while draining, `Connection: close` on every response.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = request_id(&req);
    // The route pattern, not the path: bounded label cardinality whatever is requested.
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().clone();
    let metrics = req.app_data::<Data<Metrics>>().cloned();
    let lifecycle = req.app_data::<Data<Lifecycle>>().cloned();
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route, lead_id = tracing::field::Empty);
    let mut response = next.call(req).instrument(span.clone()).await?;
    let status = response.status();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if lifecycle.is_some_and(|l| l.is_draining()) {
        // The client reconnects (elsewhere, once the balancer has noticed) instead of
        // reusing a connection that is about to close.
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    if let Some(metrics) = metrics {
        metrics
            .http_requests
            .with_label_values(&[route.as_str(), method.as_str(), status.as_str()])
            .inc();
        metrics
            .http_request_duration
            .with_label_values(&[route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    span.in_scope(|| {
        tracing::debug!(
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request completed"
        )
    });
    Ok(response)
}
