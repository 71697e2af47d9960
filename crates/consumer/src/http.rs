//! The small HTTP server for orchestration and monitoring:
//! - `GET /healthz`: 200 while the process runs (liveness);
//! - `GET /readyz`: 200 when ready (see [`crate::health`]), 503 with the reasons
//!   otherwise;
//! - `GET /metrics`: Prometheus text format.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::header::ContentType;
use actix_web::{web, App, HttpResponse, HttpServer};

use crate::health::Health;
use crate::metrics::Metrics;

struct State {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body("ok\n")
}

async fn readyz(state: web::Data<State>) -> HttpResponse {
    let problems = state.health.problems();
    if problems.is_empty() {
        HttpResponse::Ok()
            .content_type(ContentType::plaintext())
            .body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type(ContentType::plaintext())
            .body(format!("not ready: {}\n", problems.join(", ")))
    }
}

async fn render_metrics(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

/// Serves on `listener` with one worker until the returned server is stopped.
pub fn serve(
    listener: TcpListener,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
) -> std::io::Result<Server> {
    let state = web::Data::new(State { health, metrics });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(render_metrics))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
