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

use actix_web::web;

use crate::problem::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/leads")
            .route(web::post().to(leads::submit_lead))
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError::MethodNotAllowed { allow: "POST" })
            })),
    )
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/metrics", web::get().to(metrics::metrics))
    .configure(docs::configure);
}

/// Anything no route matches: a problem+json 404 rather than an empty body.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
