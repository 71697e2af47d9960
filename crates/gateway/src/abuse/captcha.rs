//! Server-side CAPTCHA verification: the siteverify form POST that Cloudflare Turnstile,
//! hCaptcha and reCAPTCHA share (`secret`, `response`, `remoteip` → `{"success": …}`).
//! The token comes in the body's `captcha_token` or the `CAPTCHA-Token` header. A
//! verifier that does not answer within the timeout is "unavailable": the submission is
//! answered 503 with `Retry-After` unless `LEADPIPE_CAPTCHA_FAIL_OPEN` lets it through.

use std::net::IpAddr;
use std::time::Duration;

use leadpipe_platform::Secret;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptchaVerdict {
    Passed,
    /// No token, or the verifier said no.
    Failed,
    /// The verifier did not answer (in time, or sensibly).
    Unavailable,
}

impl CaptchaVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Unavailable => "unavailable",
        }
    }
}

pub struct CaptchaVerifier {
    url: String,
    secret: Secret,
    client: reqwest::Client,
    pub fail_open: bool,
}

#[derive(Deserialize)]
struct SiteVerify {
    success: bool,
}

impl CaptchaVerifier {
    pub fn new(
        url: String,
        secret: Secret,
        timeout: Duration,
        fail_open: bool,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            url,
            secret,
            client,
            fail_open,
        })
    }

    pub async fn verify(&self, token: Option<&str>, remote_ip: IpAddr) -> CaptchaVerdict {
        let Some(token) = token else {
            return CaptchaVerdict::Failed;
        };
        let remote_ip = remote_ip.to_string();
        let form = [
            ("secret", self.secret.expose()),
            ("response", token),
            ("remoteip", remote_ip.as_str()),
        ];
        let answer = match self.client.post(&self.url).form(&form).send().await {
            Ok(response) if response.status().is_success() => response.json::<SiteVerify>().await,
            Ok(response) => {
                tracing::warn!(
                    status = response.status().as_u16(),
                    "the CAPTCHA verifier answered with an error"
                );
                return CaptchaVerdict::Unavailable;
            }
            Err(error) => Err(error),
        };
        match answer {
            Ok(SiteVerify { success: true }) => CaptchaVerdict::Passed,
            Ok(SiteVerify { success: false }) => CaptchaVerdict::Failed,
            Err(error) => {
                // reqwest's error names the URL, not the form: no token or secret leaks.
                let timeout = error.is_timeout();
                tracing::warn!(error = %error.without_url(), timeout, "the CAPTCHA verifier did not answer");
                CaptchaVerdict::Unavailable
            }
        }
    }
}
