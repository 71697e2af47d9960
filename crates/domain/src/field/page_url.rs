use url::Url;

use crate::error::{FieldErrorCode, FieldRejection};

/// The page the lead was submitted from: an absolute `http` or `https` URL with a host,
/// at most 2048 characters, stored in the form the URL parser normalised it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUrl(String);

impl PageUrl {
    pub const MAX_CHARS: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, FieldRejection> {
        let invalid = FieldRejection::new(
            FieldErrorCode::InvalidFormat,
            "must be an absolute http(s) URL",
        );
        let value = raw.trim();
        if value.is_empty() {
            return Err(FieldRejection::new(
                FieldErrorCode::Empty,
                "must not be empty",
            ));
        }
        if value.len() > Self::MAX_CHARS {
            return Err(FieldRejection::new(
                FieldErrorCode::TooLong,
                "must be at most 2048 characters",
            ));
        }
        let url = Url::parse(value).map_err(|_| invalid.clone())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(invalid);
        }
        let normalised = String::from(url);
        if normalised.len() > Self::MAX_CHARS {
            return Err(FieldRejection::new(
                FieldErrorCode::TooLong,
                "must be at most 2048 characters",
            ));
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_urls() {
        assert_eq!(
            PageUrl::parse("https://event.example.com/spring?utm_source=x")
                .unwrap()
                .as_str(),
            "https://event.example.com/spring?utm_source=x"
        );
        assert_eq!(
            PageUrl::parse("http://EXAMPLE.com").unwrap().as_str(),
            "http://example.com/"
        );
        assert!(PageUrl::parse("https://이벤트.한국/봄").is_ok());
    }

    #[test]
    fn rejects_other_schemes_and_relative_urls() {
        for raw in [
            "javascript:alert(1)",
            "ftp://example.com/",
            "/relative/path",
            "example.com",
            "https://",
            "data:text/html,hi",
        ] {
            assert!(PageUrl::parse(raw).is_err(), "{raw:?}");
        }
        assert_eq!(
            PageUrl::parse(&format!("https://e.com/{}", "a".repeat(2048)))
                .unwrap_err()
                .code,
            FieldErrorCode::TooLong
        );
    }
}
