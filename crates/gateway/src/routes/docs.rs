//! The OpenAPI document and Swagger UI. The document is generated from the handlers'
//! annotations, then its request body schema and `Idempotency-Key` schema are replaced
//! by the ones the domain builds from its parsers' rules (`leadpipe_domain::schema`), under
//! this server's configuration: `privacy_consent` is `const: true` when consent is
//! required, `consent_text_version` an `enum` of the configured versions.

use actix_web::{web, HttpResponse};
use leadpipe_domain::schema::{idempotency_key_pattern, lead_request_schema, SchemaRules};
use leadpipe_domain::{FieldError, FieldErrorCode, LeadRequest};
use serde_json::{json, Value};
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

/// The document this server serves.
pub fn document(rules: SchemaRules<'_>) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes");
    let generated = doc["components"]["schemas"]["LeadRequest"].take();
    let mut body = lead_request_schema(rules);
    for kept in ["description", "example"] {
        if let Some(value) = generated.get(kept) {
            body[kept] = value.clone();
        }
    }
    doc["components"]["schemas"]["LeadRequest"] = body;
    if let Some(parameters) = doc["paths"]["/v1/leads"]["post"]["parameters"].as_array_mut() {
        for parameter in parameters {
            if parameter["name"] == "Idempotency-Key" {
                parameter["schema"] =
                    json!({"type": "string", "pattern": idempotency_key_pattern()});
            }
        }
    }
    doc
}

pub fn configure(cfg: &mut web::ServiceConfig, document: Value) {
    cfg.service(
        SwaggerUi::new("/swagger-ui/{_:.*}")
            .external_urls_from_iter_unchecked([(OPENAPI_PATH, document)]),
    )
    // The address the previous system published its documentation at.
    .route("/swagger-ui.html", web::get().to(redirect_to_swagger_ui))
    .route("/swagger-ui", web::get().to(redirect_to_swagger_ui));
}

async fn redirect_to_swagger_ui() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/swagger-ui/"))
        .finish()
}
