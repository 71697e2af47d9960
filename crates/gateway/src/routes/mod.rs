//! The HTTP surface: which path is served by which handler.
//!
//! | route | handler |
//! |---|---|
//! | `POST /v1/leads` | [`leads::submit_lead`] |
//! | `GET /healthz`, `GET /readyz` | [`health`] |
//! | `GET /metrics` | [`metrics::metrics`] |
//! | `GET /api-docs/openapi.json`, `/swagger-ui/`, `/swagger-ui.html` | [`docs`] |

pub mod docs;
pub mod health;
pub mod leads;
pub mod metrics;

use actix_web::{web, Handler, Responder};

use crate::problem::ApiError;

/// Every route; `openapi` is the document [`docs::document`] built for this server.
pub fn configure(cfg: &mut web::ServiceConfig, openapi: serde_json::Value) {
    cfg.service(
        web::resource("/v1/leads")
            .route(web::post().to(leads::submit_lead))
            .default_service(web::to(|| not_allowed("POST"))),
    )
    .service(readable("/healthz", health::healthz))
    .service(readable("/readyz", health::readyz))
    .service(readable("/metrics", metrics::metrics))
    .configure(|cfg| docs::configure(cfg, openapi));
}

/// A resource answering GET and HEAD; any other method is a 405 naming them (RFC 9110),
/// not a 404: the path exists.
fn readable<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(|| not_allowed("GET, HEAD")))
}

async fn not_allowed(allow: &'static str) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed { allow })
}

/// Anything no route matches: a problem+json 404 rather than an empty body.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
