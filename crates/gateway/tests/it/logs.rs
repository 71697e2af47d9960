//! Logs carry the request id and the lead id, never the name, email or phone number.
//! The test installs a global subscriber that captures every thread — the other tests of
//! this binary included, whose logs must not carry personal data either.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::support::{lead, settings, spawn_with_memory};
use serde_json::{json, Value};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_name_the_request_and_lead_ids_but_no_personal_data() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .init();

    let (app, _sink) = spawn_with_memory(settings()).await;
    let accepted = app
        .client
        .post(app.url("/v1/leads"))
        .header("x-request-id", "req-123")
        .json(&lead())
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.headers().get("x-request-id").unwrap(), "req-123");
    let id = accepted.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut invalid = lead();
    invalid["email"] = json!("gildong-at-example.com");
    assert_eq!(app.post_lead(&invalid).await.status(), 422);
    drop(app);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let accepted_line = text
        .lines()
        .find(|l| l.contains("lead accepted") && l.contains("req-123"))
        .expect("an accepted-lead log line");
    assert!(accepted_line.contains(&id), "{accepted_line}");
    assert!(accepted_line.contains("req-123"), "{accepted_line}");
    assert!(text.contains("lead rejected"), "{text}");
    for personal in ["홍길동", "gildong", "1012345678", "010-1234-5678"] {
        assert!(
            !text.contains(personal),
            "log contains {personal:?}:\n{text}"
        );
    }
}
