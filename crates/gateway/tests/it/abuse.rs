//! Abuse protection over a real socket: rate limits (local and shared through Redis,
//! with Redis stopped), the client address behind trusted proxies and spoofed
//! `X-Forwarded-For`, the honeypot, CAPTCHA verification against a verifier the test
//! runs, and content encodings.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use leadpipe_gateway::abuse::rate::RateSetting;
use leadpipe_gateway::Settings;
use leadpipe_testkit::{wait_for, RedisServer, Scrape};
use serde_json::{json, Value};

use crate::support::{lead, problem, settings, spawn_with_memory, TestApp};

fn person(n: u32) -> Value {
    let mut body = lead();
    body["email"] = json!(format!("visitor{n}@example.com"));
    body["phone_number"] = json!(format!("010-{:04}-{:04}", 2000 + n / 10_000, n % 10_000));
    body
}

async fn post_from(app: &TestApp, body: &Value, forwarded_for: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/leads"))
        .header("X-Forwarded-For", forwarded_for)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn metric(app: &TestApp, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    Scrape::parse(&text)
        .unwrap()
        .value(name, labels)
        .unwrap_or(0.0)
}

#[tokio::test]
async fn defaults_limit_each_email_and_each_phone_to_5_an_hour() {
    let defaults = Settings::defaults();
    let rate = |text: &str| text.parse::<RateSetting>().unwrap();
    assert_eq!(defaults.abuse.rate_limit_email, rate("5/1h"));
    assert_eq!(defaults.abuse.rate_limit_phone, rate("5/1h"));
    assert_eq!(
        defaults.abuse.rate_limit_ip,
        RateSetting(None),
        "off unless the proxies are known"
    );
    let mut settings = settings();
    settings.abuse = defaults.abuse;
    let (app, sink) = spawn_with_memory(settings).await;
    for _ in 0..5 {
        assert_eq!(app.post_lead(&lead()).await.status(), 202);
    }
    let mut same_email = person(1);
    same_email["email"] = json!("  GilDong@Example.com ");
    let response = app.post_lead(&same_email).await;
    let headers = response.headers().clone();
    let body = problem(response, 429).await;
    assert_eq!(body["code"], "rate_limited");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("email limit (5 per 3600 s)"),
        "{body}"
    );
    assert!(
        !body.to_string().contains("gildong"),
        "the address is never echoed: {body}"
    );
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (700..=720).contains(&retry_after),
        "one interval (720 s) minus the test's time: {retry_after}"
    );
    assert_eq!(headers["ratelimit-policy"], "\"email\";q=5;w=3600");
    assert_eq!(
        headers["ratelimit"],
        format!("\"email\";r=0;t={retry_after}").as_str()
    );
    let mut same_phone = person(2);
    same_phone["phone_number"] = json!("010 1234 5678");
    assert_eq!(
        problem(app.post_lead(&same_phone).await, 429).await["code"],
        "rate_limited"
    );
    assert_eq!(
        sink.published().len(),
        5,
        "a limited lead is never published"
    );
    assert_eq!(
        metric(&app, "leadpipe_rate_limited_total", &[("limit", "email")]).await,
        1.0
    );
    assert_eq!(
        metric(&app, "leadpipe_rate_limited_total", &[("limit", "phone")]).await,
        1.0
    );
    assert_eq!(
        metric(
            &app,
            "leadpipe_leads_rejected_total",
            &[("reason", "rate_limited")]
        )
        .await,
        2.0
    );
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_for_header_changes_nothing() {
    let mut settings = settings();
    settings.abuse.rate_limit_ip = "2/1m".parse().unwrap();
    let (app, _sink) = spawn_with_memory(settings).await;
    assert_eq!(post_from(&app, &person(1), "1.1.1.1").await.status(), 202);
    assert_eq!(post_from(&app, &person(2), "2.2.2.2").await.status(), 202);
    let body = problem(post_from(&app, &person(3), "3.3.3.3").await, 429).await;
    assert!(
        body["detail"].as_str().unwrap().contains("ip limit"),
        "{body}"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_right_most_untrusted_hop_is_limited_and_spoofing_fails() {
    let mut settings = settings();
    settings.abuse.rate_limit_ip = "2/1m".parse().unwrap();
    settings.abuse.trusted_proxies = "127.0.0.0/8,10.0.0.0/8".parse().unwrap();
    let (app, _sink) = spawn_with_memory(settings).await;
    // The attacker (198.51.100.7, as the trusted balancer saw it) writes a new address
    // at the left of the header each time: still one client.
    assert_eq!(
        post_from(&app, &person(1), "198.51.100.7").await.status(),
        202
    );
    assert_eq!(
        post_from(&app, &person(2), "6.6.6.6, 198.51.100.7")
            .await
            .status(),
        202
    );
    let spoofed = post_from(
        &app,
        &person(3),
        "7.7.7.7, 10.1.1.1, 198.51.100.7, 10.2.2.2",
    )
    .await;
    assert_eq!(
        spoofed.status(),
        429,
        "a prepended address or a fake inner proxy changes nothing"
    );
    // Another visitor behind the same balancer has a budget of its own.
    assert_eq!(
        post_from(&app, &person(4), "203.0.113.5, 10.2.2.2")
            .await
            .status(),
        202
    );
    // An IPv6 visitor is limited by its /64.
    assert_eq!(
        post_from(&app, &person(5), "2001:db8:1:2::1")
            .await
            .status(),
        202
    );
    assert_eq!(
        post_from(&app, &person(6), "2001:db8:1:2::99")
            .await
            .status(),
        202
    );
    assert_eq!(
        post_from(&app, &person(7), "[2001:db8:1:2::5]:443")
            .await
            .status(),
        429
    );
}

#[tokio::test]
async fn a_failed_publish_gives_the_submission_back_so_the_retry_is_not_limited() {
    let mut settings = settings();
    settings.abuse.rate_limit_email = "1/1h".parse().unwrap();
    let (app, sink) = spawn_with_memory(settings).await;
    sink.set_mode(leadpipe_gateway::sink::MemorySinkMode::Fail(
        leadpipe_gateway::PublishError::Timeout,
    ));
    assert_eq!(app.post_lead(&lead()).await.status(), 503);
    sink.set_mode(leadpipe_gateway::sink::MemorySinkMode::Accept);
    assert_eq!(app.post_lead(&lead()).await.status(), 202, "the retry");
    assert_eq!(
        app.post_lead(&lead()).await.status(),
        429,
        "a second submission"
    );
}

#[tokio::test]
async fn a_filled_honeypot_is_answered_like_an_accepted_lead_and_never_published() {
    let mut settings = settings();
    settings.abuse.honeypot_field = Some("website".into());
    let (app, sink) = spawn_with_memory(settings).await;
    let mut human = person(1);
    human["website"] = json!("");
    let human = app.post_lead(&human).await;
    let mut bot = person(2);
    bot["website"] = json!("http://spam.example");
    let bot = app.post_lead(&bot).await;
    assert_eq!(human.status(), 202);
    assert_eq!(bot.status(), 202);
    let header_names = |r: &reqwest::Response| {
        let mut names: Vec<String> = r.headers().keys().map(|k| k.to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(header_names(&human), header_names(&bot), "the same headers");
    let (human, bot): (Value, Value) = (human.json().await.unwrap(), bot.json().await.unwrap());
    assert_eq!(bot["status"], "accepted");
    assert!(uuid::Uuid::parse_str(bot["id"].as_str().unwrap()).is_ok());
    let published = sink.published();
    assert_eq!(published.len(), 1, "only the human's lead");
    assert_eq!(published[0].id.to_string(), human["id"].as_str().unwrap());
    assert_eq!(
        metric(&app, "leadpipe_honeypot_caught_total", &[]).await,
        1.0
    );
    assert_eq!(
        metric(&app, "leadpipe_leads_accepted_total", &[]).await,
        1.0,
        "the bot is not an accepted lead"
    );
}

/// A caught bot waits as long as a real lead does (a draw from recent broker
/// acknowledgements), so the answer's timing does not tell it that it was caught.
#[tokio::test]
async fn a_caught_bot_is_answered_after_a_real_leads_delay() {
    let mut settings = settings();
    settings.abuse.honeypot_field = Some("website".into());
    let (app, sink) = spawn_with_memory(settings).await;
    let ack = Duration::from_millis(150);
    sink.set_mode(leadpipe_gateway::sink::MemorySinkMode::Delay(ack));
    let timed = |body: Value| {
        let app = &app;
        async move {
            let started = std::time::Instant::now();
            let status = app.post_lead(&body).await.status();
            assert_eq!(status, 202);
            started.elapsed()
        }
    };
    let mut real = Vec::new();
    for n in 0..5 {
        real.push(timed(person(n)).await);
    }
    let fastest_real = *real.iter().min().unwrap();
    for n in 10..15 {
        let mut bot = person(n);
        bot["website"] = json!("http://spam.example");
        let bot = timed(bot).await;
        // Never faster than the acknowledgements it was drawn from (the slack is the
        // request's own overhead, which the real answers include and the draw does not).
        assert!(
            bot + Duration::from_millis(50) >= fastest_real && bot >= ack,
            "bot answered in {bot:?}, real leads in {real:?}"
        );
    }
    assert_eq!(sink.published().len(), 5);
    assert_eq!(
        metric(&app, "leadpipe_leads_accepted_total", &[]).await,
        5.0
    );
    assert_eq!(
        metric(&app, "leadpipe_honeypot_caught_total", &[]).await,
        5.0
    );
}

#[tokio::test]
async fn a_honeypot_named_like_an_api_field_is_refused_at_start() {
    let mut settings = settings();
    settings.abuse.honeypot_field = Some("email".into());
    let sink = Arc::new(leadpipe_gateway::MemorySink::new());
    let error = leadpipe_gateway::Application::build(&settings, sink, Default::default())
        .err()
        .expect("refused");
    assert!(
        error.to_string().contains("LEADPIPE_HONEYPOT_FIELD"),
        "{error}"
    );
}

/// The forms a verifier received.
type Forms = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// A siteverify endpoint: `pass` passes, anything else fails; records each form.
async fn verifier() -> (String, Forms) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let data = web::Data::new(seen.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).route(
            "/siteverify",
            web::post().to(
                |form: web::Form<HashMap<String, String>>, seen: web::Data<Forms>| async move {
                    let ok = form.get("secret").map(String::as_str) == Some("verifier-secret")
                        && form.get("response").map(String::as_str) == Some("pass");
                    seen.lock().unwrap().push(form.into_inner());
                    HttpResponse::Ok().json(json!({"success": ok, "error-codes": []}))
                },
            ),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/siteverify"), seen)
}

fn with_captcha(url: &str, fail_open: bool) -> Settings {
    let mut settings = settings();
    settings.abuse.captcha_verify_url = Some(url.to_owned());
    settings.abuse.captcha_secret = Some("verifier-secret".parse().unwrap());
    settings.abuse.captcha_timeout_ms = 500;
    settings.abuse.captcha_fail_open = fail_open;
    settings
}

#[tokio::test]
async fn a_captcha_token_is_verified_server_side_from_the_body_or_the_header() {
    let (url, seen) = verifier().await;
    let (app, sink) = spawn_with_memory(with_captcha(&url, false)).await;
    let mut good = person(1);
    good["captcha_token"] = json!("pass");
    assert_eq!(app.post_lead(&good).await.status(), 202);
    let by_header = app
        .client
        .post(app.url("/v1/leads"))
        .header("CAPTCHA-Token", "pass")
        .json(&person(2))
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), 202);
    let mut bad = person(3);
    bad["captcha_token"] = json!("forged");
    assert_eq!(
        problem(app.post_lead(&bad).await, 422).await["code"],
        "captcha_failed"
    );
    assert_eq!(
        problem(app.post_lead(&person(4)).await, 422).await["code"],
        "captcha_failed"
    );
    assert_eq!(sink.published().len(), 2);
    let forms = seen.lock().unwrap().clone();
    assert_eq!(forms.len(), 3, "a missing token never reaches the verifier");
    assert_eq!(forms[0]["remoteip"], "127.0.0.1");
    for (result, count) in [("passed", 2.0), ("failed", 1.0), ("missing", 1.0)] {
        assert_eq!(
            metric(
                &app,
                "leadpipe_captcha_verifications_total",
                &[("result", result)]
            )
            .await,
            count,
            "{result}"
        );
    }
}

/// The limits are checked before the verifier is called: a flood the limits refuse
/// costs no verifier call.
#[tokio::test]
async fn a_rate_limited_submission_makes_no_verifier_call() {
    let (url, seen) = verifier().await;
    let mut settings = with_captcha(&url, false);
    settings.abuse.rate_limit_email = "1/1h".parse().unwrap();
    let (app, sink) = spawn_with_memory(settings).await;
    let mut body = person(1);
    body["captcha_token"] = json!("pass");
    assert_eq!(app.post_lead(&body).await.status(), 202);
    for _ in 0..3 {
        assert_eq!(
            problem(app.post_lead(&body).await, 429).await["code"],
            "rate_limited"
        );
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "one call, for the admitted one"
    );
    assert_eq!(sink.published().len(), 1);
}

#[tokio::test]
async fn an_unreachable_verifier_is_a_503_with_retry_after_unless_configured_to_fail_open() {
    let nobody = format!(
        "http://127.0.0.1:{}/siteverify",
        leadpipe_testkit::free_port()
    );
    let mut good = person(1);
    good["captcha_token"] = json!("pass");
    let (closed, sink) = spawn_with_memory(with_captcha(&nobody, false)).await;
    let response = closed.post_lead(&good).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(problem(response, 503).await["code"], "captcha_unavailable");
    assert!(sink.published().is_empty());
    let (open, sink) = spawn_with_memory(with_captcha(&nobody, true)).await;
    assert_eq!(open.post_lead(&good).await.status(), 202);
    assert_eq!(sink.published().len(), 1);
    assert_eq!(
        metric(
            &open,
            "leadpipe_captcha_verifications_total",
            &[("result", "unavailable")]
        )
        .await,
        1.0
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn post_encoded(app: &TestApp, encoding: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/v1/leads"))
        .header("Content-Type", "application/json")
        .header("Content-Encoding", encoding)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn gzip_is_decoded_within_the_limit_and_every_other_coding_is_refused() {
    let (app, sink) = spawn_with_memory(settings()).await;
    let body = person(1).to_string().into_bytes();
    assert_eq!(post_encoded(&app, "gzip", gzip(&body)).await.status(), 202);
    // 10 MB of spaces compress to about 10 KB: under the 16 KiB body limit, far over it
    // decompressed.
    let mut bomb = b"{\"name\":\"".to_vec();
    bomb.extend(std::iter::repeat_n(b' ', 10_000_000));
    let bomb = gzip(&bomb);
    assert!(bomb.len() < 16 * 1024, "{}", bomb.len());
    assert_eq!(
        problem(post_encoded(&app, "gzip", bomb).await, 413).await["code"],
        "payload_too_large"
    );
    assert_eq!(
        problem(post_encoded(&app, "gzip", body.clone()).await, 400).await["code"],
        "unreadable_body"
    );
    for coding in ["br", "deflate", "gzip, gzip", "compress", "zstd"] {
        let body = problem(post_encoded(&app, coding, body.clone()).await, 415).await;
        assert_eq!(body["code"], "unsupported_encoding", "{coding}");
    }
    assert_eq!(
        post_encoded(&app, "identity", person(2).to_string().into_bytes())
            .await
            .status(),
        202
    );
    assert_eq!(sink.published().len(), 2);
}

fn shared(redis_url: &str) -> Settings {
    let mut settings = settings();
    settings.abuse.rate_limit_email = "2/1h".parse().unwrap();
    settings.abuse.redis_url = Some(redis_url.to_owned());
    settings.abuse.hash_secret = Some("the same on every gateway".parse().unwrap());
    settings
}

async fn wait_until_shared(app: &TestApp, body: &Value) {
    // The connection is made in the background: the first submission may be decided
    // locally. Submit a throw-away person until the store answered one check.
    wait_for(
        "the gateway's Redis connection",
        Duration::from_secs(10),
        || async {
            let before = metric(app, "leadpipe_rate_limit_store_errors_total", &[]).await;
            let status = app.post_lead(body).await.status();
            let after = metric(app, "leadpipe_rate_limit_store_errors_total", &[]).await;
            (status == 202 && after == before).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn with_redis_the_limits_are_shared_by_every_gateway() {
    let mut redis = RedisServer::start().unwrap();
    let (a, _) = spawn_with_memory(shared(&redis.url())).await;
    let (b, _) = spawn_with_memory(shared(&redis.url())).await;
    wait_until_shared(&a, &person(100)).await;
    wait_until_shared(&b, &person(101)).await;
    assert_eq!(a.post_lead(&person(1)).await.status(), 202);
    assert_eq!(b.post_lead(&person(1)).await.status(), 202);
    let refused = problem(a.post_lead(&person(1)).await, 429).await;
    assert_eq!(refused["code"], "rate_limited");
    assert_eq!(
        problem(b.post_lead(&person(1)).await, 429).await["code"],
        "rate_limited"
    );
    // No address in Redis: keys are keyed hashes.
    let keys = redis_keys(&redis.url()).await;
    assert!(
        !keys.is_empty() && keys.iter().all(|k| k.starts_with("leadpipe:rl:")),
        "{keys:?}"
    );
    assert!(
        keys.iter().all(|k| !k.contains('@') && !k.contains("+82")),
        "{keys:?}"
    );

    // Redis gone: each gateway decides with its own limits (fail open), and says so.
    redis.stop();
    assert_eq!(a.post_lead(&person(2)).await.status(), 202);
    assert_eq!(a.post_lead(&person(2)).await.status(), 202);
    assert_eq!(
        a.post_lead(&person(2)).await.status(),
        429,
        "the local limit still holds"
    );
    assert!(metric(&a, "leadpipe_rate_limit_store_errors_total", &[]).await >= 3.0);
    // Back: shared again.
    redis.restart().unwrap();
    wait_until_shared(&a, &person(102)).await;
    wait_until_shared(&b, &person(103)).await;
    assert_eq!(a.post_lead(&person(3)).await.status(), 202);
    assert_eq!(b.post_lead(&person(3)).await.status(), 202);
    assert_eq!(b.post_lead(&person(3)).await.status(), 429);
}

#[tokio::test]
async fn redis_without_a_hash_secret_is_refused_at_start() {
    let mut settings = shared("redis://127.0.0.1:6379/0");
    settings.abuse.hash_secret = None;
    let sink = Arc::new(leadpipe_gateway::MemorySink::new());
    let error = leadpipe_gateway::Application::build(&settings, sink, Default::default())
        .err()
        .expect("refused");
    assert!(
        error.to_string().contains("LEADPIPE_HASH_SECRET"),
        "{error}"
    );
}

async fn redis_keys(url: &str) -> Vec<String> {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut connection)
        .await
        .unwrap()
}
