//! The HTTP side: one `reqwest` client with a connection pool as large as the run's
//! connection count, posting planned requests and turning each answer (or failure) into
//! an [`Outcome`]. Bodies are read to the end so connections are reused.

use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde::Deserialize;
use url::Url;
use uuid::Uuid;

use crate::generator::PlannedRequest;
use crate::outcome::{problem_code, Outcome};

pub struct LeadClient {
    http: reqwest::Client,
    endpoint: Url,
}

#[derive(Deserialize)]
struct AcceptedBody {
    id: Uuid,
}

#[derive(Deserialize)]
struct ProblemBody {
    code: String,
}

impl LeadClient {
    /// A client for `POST {target}/v1/leads` keeping up to `connections` connections.
    pub fn new(
        target: &Url,
        connections: usize,
        request_timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .connect_timeout(request_timeout.min(Duration::from_secs(3)))
            .timeout(request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            endpoint: endpoint(target),
        })
    }

    pub async fn send(&self, request: &PlannedRequest) -> Outcome {
        let mut builder = self
            .http
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(request.content_type))
            .body(request.body.clone());
        if let Some(key) = &request.idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        let answer = async {
            let response = builder.send().await?;
            let status = response.status().as_u16();
            Ok((status, response.bytes().await?))
        };
        match answer.await {
            Ok((status, body)) => classify(status, &body),
            Err(error) => transport(&error),
        }
    }
}

/// `{target}/v1/leads`, whether or not the target ends with a slash.
pub fn endpoint(target: &Url) -> Url {
    let mut url = target.clone();
    let path = format!("{}/v1/leads", target.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

/// The outcome of a complete answer.
pub fn classify(status: u16, body: &[u8]) -> Outcome {
    let code = || {
        serde_json::from_slice::<ProblemBody>(body)
            .map(|p| problem_code(&p.code))
            .unwrap_or("unrecognised")
    };
    match status {
        202 => match serde_json::from_slice::<AcceptedBody>(body) {
            Ok(accepted) => Outcome::Accepted { id: accepted.id },
            Err(_) => Outcome::OtherStatus { status },
        },
        400..=499 => Outcome::Rejected {
            status,
            code: code(),
        },
        503 => Outcome::Unavailable { code: code() },
        _ => Outcome::OtherStatus { status },
    }
}

fn transport(error: &reqwest::Error) -> Outcome {
    if error.is_connect() {
        Outcome::ConnectFailed
    } else if error.is_timeout() {
        Outcome::TimedOut
    } else {
        Outcome::Transport
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_below_the_target() {
        for target in ["http://127.0.0.1:8080", "http://127.0.0.1:8080/"] {
            assert_eq!(
                endpoint(&Url::parse(target).unwrap()).as_str(),
                "http://127.0.0.1:8080/v1/leads"
            );
        }
        assert_eq!(
            endpoint(&Url::parse("http://lb.example/leadpipe/").unwrap()).as_str(),
            "http://lb.example/leadpipe/v1/leads"
        );
    }

    #[test]
    fn answers_are_classified_by_status_and_problem_code() {
        let id = Uuid::now_v7();
        assert_eq!(
            classify(
                202,
                format!(r#"{{"id":"{id}","status":"accepted"}}"#).as_bytes()
            ),
            Outcome::Accepted { id }
        );
        assert_eq!(classify(202, b"{}"), Outcome::OtherStatus { status: 202 });
        assert_eq!(
            classify(422, br#"{"status":422,"code":"validation_failed"}"#),
            Outcome::Rejected {
                status: 422,
                code: "validation_failed"
            }
        );
        assert_eq!(
            classify(503, br#"{"code":"broker_unavailable"}"#),
            Outcome::Unavailable {
                code: "broker_unavailable"
            }
        );
        assert_eq!(
            classify(400, b"not json"),
            Outcome::Rejected {
                status: 400,
                code: "unrecognised"
            }
        );
        assert_eq!(classify(500, b""), Outcome::OtherStatus { status: 500 });
    }
}
