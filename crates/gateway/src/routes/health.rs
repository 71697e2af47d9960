//! Liveness and readiness, for load balancers and orchestrators.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::problem::ApiError;
use crate::state::{AppState, Lifecycle};

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is alive", body = serde_json::Value, example = json!({"status": "ok"}))))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: whether this instance should receive traffic — not while it starts (its
/// producer has not yet contacted the broker) and not while it drains after SIGTERM. A
/// broker outage does not make it unready: leads are then answered `503` with
/// `Retry-After`, and `leadpipe_broker_up` shows the outage.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to receive traffic", body = serde_json::Value, example = json!({"status": "ready"})),
        (status = 503, description = "Starting, or draining after SIGTERM", body = crate::problem::Problem,
         content_type = "application/problem+json"),
    ))]
pub async fn readyz(
    state: web::Data<AppState>,
    lifecycle: web::Data<Lifecycle>,
) -> Result<HttpResponse, ApiError> {
    if lifecycle.is_ready(state.sink.as_ref()) {
        Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
    } else {
        Err(ApiError::NotReady {
            retry_after_secs: state.retry_after_secs,
            draining: lifecycle.is_draining(),
        })
    }
}
