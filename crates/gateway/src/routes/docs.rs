//! The OpenAPI document (generated from the handlers' annotations) and Swagger UI.

use actix_web::{web, HttpResponse};
use leadpipe_domain::{FieldError, FieldErrorCode, LeadRequest};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use super::leads::Accepted;
use crate::problem::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "leadpipe gateway",
        description = "Collects marketing leads. A lead is answered `202` only after Kafka acknowledged it. \
                       Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code`."
    ),
    paths(super::leads::submit_lead, super::health::healthz, super::health::readyz, super::metrics::metrics),
    components(schemas(LeadRequest, Accepted, Problem, FieldError, FieldErrorCode)),
    tags((name = "leads", description = "Lead submission"), (name = "operations", description = "Health and metrics"))
)]
pub struct ApiDoc;

pub const OPENAPI_PATH: &str = "/api-docs/openapi.json";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(SwaggerUi::new("/swagger-ui/{_:.*}").url(OPENAPI_PATH, ApiDoc::openapi()))
        // The address the previous system published its documentation at.
        .route("/swagger-ui.html", web::get().to(redirect_to_swagger_ui))
        .route("/swagger-ui", web::get().to(redirect_to_swagger_ui));
}

async fn redirect_to_swagger_ui() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/swagger-ui/"))
        .finish()
}
