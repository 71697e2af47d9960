//! Building and running the HTTP server. `Application::build` binds the listener (port 0
//! in tests) so the port is known before serving; `run_until` serves until the given
//! shutdown future resolves, then drains:
//! 1. `/readyz` answers 503 at once and every response closes its connection, for the
//!    drain period (load balancers take the instance out meanwhile, and clients on
//!    keep-alive connections reconnect elsewhere instead of writing to a connection
//!    about to close);
//! 2. the listener closes and the requests in flight finish (up to the shutdown
//!    timeout);
//! 3. the producer flushes.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::{header, Uri};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use leadpipe_domain::schema::SchemaRules;
use leadpipe_domain::ConsentPolicy;
use leadpipe_platform::ConfigError;
use tokio::sync::Semaphore;

use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::sink::LeadSink;
use crate::state::{AppState, Lifecycle};
use crate::telemetry::{self, REQUEST_ID};

pub struct Application {
    port: u16,
    server: Server,
    sink: Arc<dyn LeadSink>,
    canary: Option<tokio::task::JoinHandle<()>>,
    lifecycle: Arc<Lifecycle>,
    drain_period: Duration,
    flush_timeout: Duration,
}

impl Application {
    pub fn build(
        settings: &Settings,
        sink: Arc<dyn LeadSink>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let origins = allowed_origins(&settings.cors_allowed_origins).map_err(ConfigError::from)?;
        let guard = crate::abuse::Guard::from_settings(settings, metrics.clone())
            .map_err(ConfigError::from)?;
        let consent = crate::consent::ConsentProof::from_settings(&settings.consent)?;
        leadpipe_domain::field::load_numbering_rules();
        let listener = TcpListener::bind(settings.http_addr)?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            sink: sink.clone(),
            metrics: metrics.clone(),
            consent_policy: ConsentPolicy {
                require_consent: settings.common.require_consent,
            },
            consent,
            ack_latency: crate::state::AckLatency::default(),
            max_body_bytes: settings.max_body_bytes,
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
            retry_after_secs: settings.retry_after_secs,
            guard,
        });
        let canary = (settings.canary_interval_secs > 0).then(|| {
            crate::canary::spawn(
                sink.clone(),
                metrics.clone(),
                Duration::from_secs(settings.canary_interval_secs),
            )
        });
        let openapi = crate::routes::docs::document(SchemaRules {
            consent_required: settings.common.require_consent,
            consent_text_versions: state.consent.versions(),
        });
        let lifecycle = Arc::new(Lifecycle::default());
        let lifecycle_data = web::Data::from(lifecycle.clone());
        let metrics = web::Data::from(metrics);
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(metrics.clone())
                .app_data(lifecycle_data.clone())
                .configure(|cfg| crate::routes::configure(cfg, openapi.clone()))
                .default_service(web::to(crate::routes::not_found))
                .wrap(cors(&origins))
                .wrap(from_fn(telemetry::observe))
        })
        .listen(listener)?
        .disable_signals()
        .keep_alive(Duration::from_secs(settings.http_keep_alive_secs))
        .backlog(4096)
        .shutdown_timeout(settings.common.shutdown_timeout_secs);
        if settings.http_workers > 0 {
            server = server.workers(settings.http_workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            sink,
            canary,
            lifecycle,
            drain_period: settings.drain_period(),
            flush_timeout: settings.common.shutdown_timeout(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves; then drains (see the module documentation),
    /// stops accepting connections, lets in-flight requests finish (up to the shutdown
    /// timeout) and flushes the sink.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let handle = self.server.handle();
        let (lifecycle, drain_period) = (self.lifecycle.clone(), self.drain_period);
        let canary = self.canary;
        tokio::spawn(async move {
            shutdown.await;
            if let Some(canary) = canary {
                canary.abort();
            }
            lifecycle.start_draining();
            tracing::info!(
                drain_ms = drain_period.as_millis() as u64,
                "shutdown requested: draining (not ready, closing connections after each response)"
            );
            tokio::time::sleep(drain_period).await;
            tracing::info!("listener closed: finishing in-flight requests");
            handle.stop(true).await;
        });
        self.server.await?;
        self.sink.flush(self.flush_timeout).await;
        Ok(())
    }
}

/// CORS origins from config, checked at startup: `*`, or `scheme://host[:port]`.
#[derive(Clone)]
enum Origins {
    Any,
    List(Vec<String>),
}

fn allowed_origins(configured: &[String]) -> anyhow::Result<Origins> {
    let mut list = Vec::new();
    for origin in configured
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
    {
        if origin == "*" {
            return Ok(Origins::Any);
        }
        let uri: Uri = origin
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid CORS origin {origin:?}"))?;
        let well_formed = matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.authority().is_some()
            && matches!(uri.path(), "" | "/")
            && uri.query().is_none();
        anyhow::ensure!(
            well_formed,
            "invalid CORS origin {origin:?}: expected scheme://host[:port]"
        );
        list.push(origin.trim_end_matches('/').to_owned());
    }
    Ok(Origins::List(list))
}

fn cors(origins: &Origins) -> Cors {
    let cors = Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            crate::routes::leads::IDEMPOTENCY_KEY,
            header::HeaderName::from_static(crate::abuse::CAPTCHA_TOKEN_HEADER),
            REQUEST_ID,
        ])
        .expose_headers([
            REQUEST_ID,
            header::RETRY_AFTER,
            crate::problem::RATE_LIMIT,
            crate::problem::RATE_LIMIT_POLICY,
        ])
        .max_age(3600);
    match origins {
        Origins::Any => cors.allow_any_origin(),
        Origins::List(list) => list
            .iter()
            .fold(cors, |cors, origin| cors.allowed_origin(origin)),
    }
}
