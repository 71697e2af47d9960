//! Per-request observation (process-wide logging is set up by `leadpipe_platform`).
//!
//! Every request gets a request id — a well-formed `X-Request-Id` from the client, or a
//! new one — echoed in the answer and available to handlers ([`RequestId::of`]) for the
//! one log line each lead produces, next to the lead id. Logs never contain a name,
//! email or phone number. The middleware also counts requests and times them by route
//! pattern, and while the instance drains it closes every connection after its answer.
//!
//! Nothing here allocates per request beyond what actix does: no span, a request id
//! made from a counter, metric handles looked up by a few fixed labels.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, HttpMessage, HttpRequest};

use crate::metrics::Metrics;
use crate::state::Lifecycle;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served: the client's well-formed `X-Request-Id`, or a
/// process-unique one (a random per-process prefix and a counter, 32 hex digits).
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// A client's request id is reused only if it is short, visible ASCII: it ends up in
    /// logs.
    fn from_request(req: &ServiceRequest) -> Self {
        match req.headers().get(&REQUEST_ID) {
            Some(value)
                if !value.is_empty()
                    && value.len() <= 64
                    && value.as_bytes().iter().all(u8::is_ascii_graphic) =>
            {
                Self(value.clone())
            }
            _ => Self::generate(),
        }
    }

    fn generate() -> Self {
        static PREFIX: OnceLock<u64> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let prefix = *PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let text = format!("{prefix:016x}{n:016x}");
        Self(HeaderValue::from_str(&text).expect("hex digits are a valid header value"))
    }

    /// The request id set by the middleware (a fresh one if the middleware did not run).
    pub fn of(req: &HttpRequest) -> Self {
        req.extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(Self::generate)
    }

    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

/// Middleware: request id, `X-Request-Id` echo, request count and duration by route;
/// while draining, `Connection: close` on every response.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = RequestId::from_request(&req);
    req.extensions_mut().insert(id.clone());
    // The route pattern, not the path: bounded label cardinality whatever is requested.
    let route = req.match_pattern();
    let method = req.method().clone();
    let metrics = req.app_data::<Data<Metrics>>().cloned();
    let lifecycle = req.app_data::<Data<Lifecycle>>().cloned();
    let mut response = next.call(req).await?;
    response.headers_mut().insert(REQUEST_ID, id.0);
    if lifecycle.is_some_and(|l| l.is_draining()) {
        // The client reconnects (elsewhere, once the balancer has noticed) instead of
        // reusing a connection that is about to close.
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    if let Some(metrics) = metrics {
        metrics.observe_request(
            route.as_deref().unwrap_or("unmatched"),
            method.as_str(),
            response.status(),
            started.elapsed(),
        );
    }
    Ok(response)
}
