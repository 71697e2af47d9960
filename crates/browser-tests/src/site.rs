//! `web/` served from an origin of the test's own (`http://127.0.0.1:<free port>`), as a
//! CDN would serve it, with the page pointed at the test's gateway: the `leadpipe-api`
//! meta tag and the CSP's `connect-src` name the gateway instead of `localhost:8080`.
//!
//! The origin must be known before the gateway starts (its CORS setting names it) and
//! the gateway's address before the page is served, so binding ([`SiteListener`]) and
//! serving ([`SiteListener::serve`]) are two steps.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What `web/index.html` names as the gateway, replaced by the test's gateway.
const LOCAL_API: &str = "http://localhost:8080";
const LOCAL_API_CSP: &str = "http://localhost:8080 http://127.0.0.1:8080";

/// The listening socket, before the page knows its gateway.
pub struct SiteListener {
    listener: TcpListener,
    origin: String,
}

/// `web/` being served; stops when dropped.
pub struct Site {
    origin: String,
    task: JoinHandle<()>,
}

/// The repository's `web/` directory.
pub fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

impl SiteListener {
    pub async fn bind() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        Ok(Self { listener, origin })
    }

    /// The origin the browser sends as `Origin` (what the gateway's CORS must allow).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Serves `web/` with the page pointed at `api` (the gateway's base URL).
    pub fn serve(self, api: &str) -> Site {
        let index = std::fs::read_to_string(web_dir().join("index.html"))
            .unwrap_or_else(|e| panic!("reading web/index.html: {e}"));
        assert!(
            index.contains(LOCAL_API) && index.contains(LOCAL_API_CSP),
            "web/index.html no longer names {LOCAL_API} in its leadpipe-api meta tag and CSP \
             ({LOCAL_API_CSP}): the tests cannot point it at their gateway"
        );
        let files = Arc::new(Files {
            dir: web_dir(),
            api: api.trim_end_matches('/').to_owned(),
        });
        let listener = self.listener;
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let files = files.clone();
                tokio::spawn(async move {
                    let _ = answer(stream, &files).await;
                });
            }
        });
        Site {
            origin: self.origin,
            task,
        }
    }
}

impl Site {
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The page's URL, with `query` (`""`, or `?lang=en&utm_source=…`).
    pub fn page_url(&self, query: &str) -> String {
        format!("{}/{query}", self.origin)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Files {
    dir: PathBuf,
    api: String,
}

impl Files {
    /// Status, content type and body for a request path.
    fn get(&self, path: &str) -> (u16, &'static str, Vec<u8>) {
        let path = path.split(['?', '#']).next().unwrap_or("/");
        let name = match path.strip_prefix('/') {
            Some("") => "index.html",
            Some(name) => name,
            None => return not_found(),
        };
        let safe = !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !safe {
            return not_found();
        }
        let Ok(bytes) = std::fs::read(self.dir.join(name)) else {
            return not_found();
        };
        let content_type = match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("html") => "text/html; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("png") => "image/png",
            Some("svg") => "image/svg+xml",
            _ => "application/octet-stream",
        };
        if name == "index.html" {
            let html = String::from_utf8_lossy(&bytes)
                .replace(LOCAL_API_CSP, &self.api)
                .replace(LOCAL_API, &self.api);
            return (200, content_type, html.into_bytes());
        }
        (200, content_type, bytes)
    }
}

fn not_found() -> (u16, &'static str, Vec<u8>) {
    (404, "text/plain; charset=utf-8", b"not found".to_vec())
}

async fn answer(mut stream: TcpStream, files: &Files) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&request);
    let mut parts = head.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let (status, content_type, body) = match method {
        "GET" | "HEAD" => files.get(path),
        _ => (
            405,
            "text/plain; charset=utf-8",
            b"method not allowed".to_vec(),
        ),
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let header = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes()).await?;
    if method != "HEAD" {
        stream.write_all(&body).await?;
    }
    stream.shutdown().await
}
