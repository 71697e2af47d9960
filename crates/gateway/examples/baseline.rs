//! Benchmark baseline: the smallest actix-web endpoint that does what every lead request
//! must do anyway — read the JSON body of `POST /v1/leads` into the request type and
//! answer 202 with an id — without validation, Kafka, metrics or logging. Loading it
//! with the same tool and body as the gateway shows what validation and publishing cost.
//!
//!     cargo run --release -p leadpipe-gateway --example baseline -- 127.0.0.1:8090
//!     wrk -t2 -c64 -d20s -s post.lua http://127.0.0.1:8090/v1/leads

use actix_web::{web, App, HttpResponse, HttpServer};
use leadpipe_domain::LeadRequest;

async fn accept(_lead: web::Json<LeadRequest>) -> HttpResponse {
    HttpResponse::Accepted()
        .json(serde_json::json!({"id": uuid::Uuid::now_v7(), "status": "accepted"}))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    println!("baseline listening on {addr}");
    HttpServer::new(|| App::new().route("/v1/leads", web::post().to(accept)))
        .bind(addr)?
        .run()
        .await
}
