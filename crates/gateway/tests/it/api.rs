//! The HTTP contract, through the real app over a socket, with an in-memory sink.

use std::time::Duration;

use crate::support::{lead, problem, settings, spawn_with_memory, TestApp};
use leadpipe_gateway::sink::MemorySinkMode;
use leadpipe_gateway::PublishError;
use serde_json::{json, Value};

#[tokio::test]
async fn post_lead_returns_202_with_an_id_after_the_sink_acknowledged() {
    let (app, sink) = spawn_with_memory(settings()).await;
    let response = app.post_lead(&lead()).await;
    assert_eq!(response.status(), 202);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "accepted");
    let id = body["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);

    let published = sink.published();
    assert_eq!(published.len(), 1);
    let message = &published[0];
    assert_eq!(message.id.to_string(), id);
    assert_eq!(message.name, "홍길동");
    assert_eq!(message.email, "gildong@example.com");
    assert_eq!(message.country_code, "+82");
    assert_eq!(message.phone_e164, "+821012345678");
    assert_eq!(message.campaign, "spring-2026");
    assert_eq!(message.utm_source.as_deref(), Some("newsletter"));
    assert_eq!(message.consented_at, Some(message.received_at));
}

#[tokio::test]
async fn post_lead_returns_400_for_malformed_json() {
    let (app, sink) = spawn_with_memory(settings()).await;
    for body in ["{\"name\": ", "not json", "[1, 2]", ""] {
        let response = app
            .client
            .post(app.url("/v1/leads"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let problem = problem(response, 400).await;
        assert_eq!(problem["code"], "malformed_json", "{body:?}");
        assert_eq!(problem["type"], "urn:leadpipe:problem:malformed-json");
    }
    assert!(sink.published().is_empty());
}

#[tokio::test]
async fn post_lead_returns_413_when_the_body_is_over_the_limit() {
    let (app, sink) = spawn_with_memory(settings()).await;
    let mut big = lead();
    big["utm_content"] = json!("x".repeat(17 * 1024));
    let problem = problem(app.post_lead(&big).await, 413).await;
    assert_eq!(problem["code"], "payload_too_large");

    // Without a Content-Length (chunked), the limit holds while reading.
    let chunks = futures::stream::iter(
        (0..20).map(|_| Ok::<_, std::io::Error>(bytes_of(&" ".repeat(1024)))),
    );
    let response = app
        .client
        .post(app.url("/v1/leads"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(problem_code(response, 413).await, "payload_too_large");
    assert!(sink.published().is_empty());
}

fn bytes_of(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

async fn problem_code(response: reqwest::Response, status: u16) -> String {
    problem(response, status).await["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn post_lead_returns_415_unless_the_body_is_declared_json() {
    let (app, sink) = spawn_with_memory(settings()).await;
    let body = lead().to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app.client.post(app.url("/v1/leads")).body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        assert_eq!(
            problem_code(request.send().await.unwrap(), 415).await,
            "unsupported_media_type"
        );
    }
    let with_charset = app
        .client
        .post(app.url("/v1/leads"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(with_charset.status(), 202);
    assert_eq!(sink.published().len(), 1);
}

#[tokio::test]
async fn post_lead_returns_422_naming_every_failing_field_without_echoing_values() {
    let (app, sink) = spawn_with_memory(settings()).await;
    let body = json!({"name": "", "email": "gildong-at-example.com", "country_code": "+82",
                      "phone_number": "010-12", "privacy_consent": true, "page_url": "ftp://x", "nmae": 1});
    let problem = problem(app.post_lead(&body).await, 422).await;
    assert_eq!(problem["code"], "validation_failed");
    let fields: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("nmae", "unknown_field"),
            ("name", "empty"),
            ("email", "invalid_format"),
            ("phone_number", "invalid_phone_number"),
            ("page_url", "invalid_format"),
        ]
    );
    assert!(!problem.to_string().contains("gildong"), "{problem}");
    assert!(sink.published().is_empty());
}

#[tokio::test]
async fn post_lead_returns_422_consent_required_when_consent_is_false() {
    let (app, sink) = spawn_with_memory(settings()).await;
    let mut body = lead();
    body["privacy_consent"] = json!(false);
    let problem = problem(app.post_lead(&body).await, 422).await;
    assert_eq!(problem["code"], "consent_required");
    assert_eq!(problem["type"], "urn:leadpipe:problem:consent-required");
    assert_eq!(problem["errors"][0]["field"], "privacy_consent");

    body.as_object_mut().unwrap().remove("privacy_consent");
    let problem = crate::support::problem(app.post_lead(&body).await, 422).await;
    assert_eq!(problem["code"], "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "required");
    assert!(sink.published().is_empty());
}

#[tokio::test]
async fn consent_false_is_accepted_when_the_policy_is_switched_off() {
    let mut settings = settings();
    settings.common.require_consent = false;
    let (app, sink) = spawn_with_memory(settings).await;
    let mut body = lead();
    body["privacy_consent"] = json!(false);
    assert_eq!(app.post_lead(&body).await.status(), 202);
    let message = &sink.published()[0];
    assert!(!message.privacy_consent);
    assert_eq!(message.consented_at, None);
}

#[tokio::test]
async fn the_same_idempotency_key_and_campaign_give_the_same_id() {
    let (app, sink) = spawn_with_memory(settings()).await;
    let id_of = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 202);
        response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = id_of(app.post_lead_with_key(&lead(), "submit-7f3a").await).await;
    let second = id_of(app.post_lead_with_key(&lead(), "submit-7f3a").await).await;
    assert_eq!(first, second);
    assert_eq!(uuid::Uuid::parse_str(&first).unwrap().get_version_num(), 5);

    let mut other_campaign = lead();
    other_campaign["campaign"] = json!("autumn-2026");
    assert_ne!(
        id_of(app.post_lead_with_key(&other_campaign, "submit-7f3a").await).await,
        first
    );
    assert_ne!(id_of(app.post_lead(&lead()).await).await, first);
    assert_eq!(sink.published().len(), 4);

    let problem = problem(app.post_lead_with_key(&lead(), "has spaces").await, 400).await;
    assert_eq!(problem["code"], "invalid_idempotency_key");
}

#[tokio::test]
async fn post_lead_returns_503_with_retry_after_when_the_broker_fails() {
    let (app, sink) = spawn_with_memory(settings()).await;
    for error in [
        PublishError::Timeout,
        PublishError::QueueFull,
        PublishError::Refused,
    ] {
        sink.set_mode(MemorySinkMode::Fail(error.clone()));
        let response = app.post_lead(&lead()).await;
        assert_eq!(response.headers().get("retry-after").unwrap(), "2");
        let problem = problem(response, 503).await;
        assert_eq!(problem["code"], "broker_unavailable");
        assert_eq!(
            problem["detail"],
            format!("publish failed ({})", error.kind())
        );
    }
    sink.set_mode(MemorySinkMode::Accept);
    assert_eq!(app.post_lead(&lead()).await.status(), 202);
}

#[tokio::test]
async fn publishes_above_the_in_flight_limit_are_shed_at_once() {
    let mut settings = settings();
    settings.max_in_flight = 2;
    let (app, sink) = spawn_with_memory(settings).await;
    sink.set_mode(MemorySinkMode::Delay(Duration::from_secs(3)));
    let held = tokio::spawn({
        let client = app.client.clone();
        let url = app.url("/v1/leads");
        async move {
            let requests = (0..2).map(|_| client.post(&url).json(&lead()).send());
            futures::future::join_all(requests).await
        }
    });
    // Wait until both slow publishes hold their permits.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.metrics.publishes_in_flight.get() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "publishes never went in flight"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Shedding does not wait for a permit: the answer comes while both slow publishes
    // still hold theirs (an ordering, not a wall-clock bound).
    let started = std::time::Instant::now();
    let response = app.post_lead(&lead()).await;
    assert!(
        !held.is_finished() && app.metrics.publishes_in_flight.get() == 2,
        "shed only after a held publish finished ({:?} after the request)",
        started.elapsed()
    );
    assert_eq!(response.headers().get("retry-after").unwrap(), "2");
    assert_eq!(problem(response, 503).await["code"], "overloaded");

    for response in held.await.unwrap() {
        assert_eq!(response.unwrap().status(), 202);
    }
    assert_eq!(sink.published().len(), 2);
    assert_eq!(app.metrics.publishes_in_flight.get(), 0);
}

#[tokio::test]
async fn health_is_200_and_readiness_waits_for_the_sink_to_start() {
    let (app, sink) = spawn_with_memory(settings()).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    sink.set_started(false);
    let response = app.get("/readyz").await;
    assert!(response.headers().contains_key("retry-after"));
    let body = problem(response, 503).await;
    assert_eq!(body["code"], "not_ready");
    assert_eq!(body["detail"], "this instance is starting");
    assert_eq!(app.get("/healthz").await.status(), 200);
    sink.set_started(true);
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn on_shutdown_readiness_fails_at_once_and_responses_close_their_connection_while_draining() {
    let mut settings = settings();
    settings.drain_secs = 3;
    let (mut app, _sink) = spawn_with_memory(settings).await;
    let before = app.post_lead(&lead()).await;
    assert_eq!(before.status(), 202);
    assert!(
        before.headers().get("connection").is_none(),
        "keep-alive before the signal"
    );

    let signalled = std::time::Instant::now();
    let server = app.signal_shutdown();
    let readyz = app.get("/readyz").await;
    // Readiness fails at once: within the drain, while the server still serves (an
    // ordering, not a wall-clock bound).
    assert!(
        !server.is_finished(),
        "readiness answered only after the drain ({:?} after the signal)",
        signalled.elapsed()
    );
    assert_eq!(readyz.headers().get("connection").unwrap(), "close");
    assert_eq!(
        problem(readyz, 503).await["detail"],
        "this instance is shutting down"
    );
    // Leads are still accepted during the drain; each answer closes its connection.
    for _ in 0..3 {
        let response = app.post_lead(&lead()).await;
        assert_eq!(response.status(), 202);
        assert_eq!(response.headers().get("connection").unwrap(), "close");
    }
    server.await.unwrap().unwrap();
    assert!(
        signalled.elapsed() >= Duration::from_secs(3),
        "served for the whole drain period, stopped after {:?}",
        signalled.elapsed()
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problem_json() {
    let (app, _sink) = spawn_with_memory(settings()).await;
    assert_eq!(
        problem(app.get("/v2/leads").await, 404).await["code"],
        "not_found"
    );
    let response = app.get("/v1/leads").await;
    assert_eq!(response.headers().get("allow").unwrap(), "POST");
    assert_eq!(problem(response, 405).await["code"], "method_not_allowed");
    // A known path with an unsupported method is a 405 naming the methods, never a 404.
    for path in ["/healthz", "/readyz", "/metrics"] {
        for method in ["TRACE", "POST", "DELETE", "PUT"] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let response = app
                .client
                .request(method.clone(), app.url(path))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.headers().get("allow").unwrap(),
                "GET, HEAD",
                "{method} {path}"
            );
            assert_eq!(problem(response, 405).await["code"], "method_not_allowed");
        }
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert!(
            head.status().is_success() || head.status() == 503,
            "HEAD {path}: {}",
            head.status()
        );
    }
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let mut settings = settings();
    settings.cors_allowed_origins = vec!["https://event.example.com".into()];
    let (app, _sink) = spawn_with_memory(settings).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/leads"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, idempotency-key",
            )
            .send()
    };
    let allowed = preflight("https://event.example.com").await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "https://event.example.com"
    );
    let methods = allowed
        .headers()
        .get("access-control-allow-methods")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");

    let denied = preflight("https://evil.example.net").await.unwrap();
    assert!(denied
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    let response = app
        .client
        .post(app.url("/v1/leads"))
        .header("origin", "https://event.example.com")
        .json(&lead())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "https://event.example.com"
    );
}

#[tokio::test]
async fn cors_allows_no_origin_by_default() {
    let (app, _sink) = spawn_with_memory(settings()).await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/leads"))
        .header("origin", "https://event.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn metrics_count_requests_and_outcomes_without_personal_data() {
    let (app, _sink) = spawn_with_memory(settings()).await;
    app.post_lead(&lead()).await;
    let mut invalid = lead();
    invalid["email"] = json!("nope");
    app.post_lead(&invalid).await;
    let text = app.get("/metrics").await.text().await.unwrap();
    for expected in [
        "leadpipe_leads_accepted_total 1",
        "leadpipe_leads_rejected_total{reason=\"validation_failed\"} 1",
        "leadpipe_http_requests_total{method=\"POST\",route=\"/v1/leads\",status=\"202\"} 1",
        "leadpipe_http_requests_total{method=\"POST\",route=\"/v1/leads\",status=\"422\"} 1",
        "leadpipe_http_request_duration_seconds_bucket{route=\"/v1/leads\"",
        "leadpipe_publishes_in_flight 0",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    for personal in ["gildong", "홍길동", "1012345678"] {
        assert!(!text.contains(personal));
    }
}

async fn openapi(app: &TestApp) -> Value {
    app.get("/api-docs/openapi.json")
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_openapi_document_lists_every_status_and_swagger_ui_is_served() {
    let (app, _sink) = spawn_with_memory(settings()).await;
    let doc = openapi(&app).await;
    let responses = doc["paths"]["/v1/leads"]["post"]["responses"]
        .as_object()
        .unwrap();
    let mut statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
    statuses.sort();
    assert_eq!(statuses, ["202", "400", "413", "415", "422", "429", "503"]);
    assert!(responses["429"]["headers"]["RateLimit-Policy"].is_object());
    assert!(responses["422"]["content"]["application/problem+json"].is_object());
    let body = &doc["components"]["schemas"]["LeadRequest"];
    assert_eq!(body["properties"]["privacy_consent"]["const"], true);
    assert_eq!(body["additionalProperties"], false);
    for field in [
        "name",
        "email",
        "country_code",
        "phone_number",
        "campaign",
        "utm_source",
    ] {
        assert!(
            body["properties"][field]["pattern"].is_string(),
            "{field}: {body}"
        );
    }
    let key = doc["paths"]["/v1/leads"]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .unwrap();
    assert!(key["schema"]["pattern"].is_string(), "{key}");
    assert!(doc["paths"]["/readyz"].is_object());

    let ui = app.get("/swagger-ui/").await;
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().to_lowercase().contains("swagger"));
    let old = app.get("/swagger-ui.html").await;
    assert_eq!(old.status(), 308);
    assert_eq!(old.headers().get("location").unwrap(), "/swagger-ui/");
}

/// The served document says what this server is configured to accept.
#[tokio::test]
async fn the_openapi_document_follows_the_consent_settings() {
    let mut settings = settings();
    settings.common.require_consent = false;
    settings.consent.consent_text_versions = "2026-11,2026-12".parse().unwrap();
    let (app, _sink) = spawn_with_memory(settings).await;
    let doc = openapi(&app).await;
    let body = &doc["components"]["schemas"]["LeadRequest"];
    assert!(
        body["properties"]["privacy_consent"].get("const").is_none(),
        "{body}"
    );
    assert_eq!(
        body["properties"]["consent_text_version"]["enum"],
        serde_json::json!(["2026-11", "2026-12"])
    );
    assert!(body["required"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("consent_text_version")));
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_flushes_the_sink() {
    let (app, sink) = spawn_with_memory(settings()).await;
    sink.set_mode(MemorySinkMode::Delay(Duration::from_millis(800)));
    let request = tokio::spawn(app.client.post(app.url("/v1/leads")).json(&lead()).send());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.metrics.publishes_in_flight.get() < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the publish never went in flight"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let base = app.base.clone();
    app.shutdown().await.expect("clean shutdown");
    assert_eq!(request.await.unwrap().unwrap().status(), 202);
    assert_eq!(sink.published().len(), 1);
    assert!(sink.was_flushed());
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "no longer accepting"
    );
}
