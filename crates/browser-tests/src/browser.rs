//! Headless Chromium through a chromedriver of the test's own, on a free port, with a
//! throwaway profile. Dropping it tells chromedriver to quit Chromium, then kills
//! chromedriver, also when the test panicked.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use leadpipe_testkit::{free_port, wait_for_port};

const INSTALL: &str = concat!(
    "install Chromium and its driver: `apt-get install chromium chromium-driver` ",
    "(`ops/local/stack browser` does it)"
);

/// A phone-sized window: the page is designed mobile first.
pub const WINDOW: (u32, u32) = (412, 1000);

pub struct Browser {
    pub client: Client,
    /// Held for its `Drop`: Chromium and chromedriver stop with the browser.
    _driver: Driver,
}

/// The chromedriver process and the Chromium it drives; dropping it ends both.
struct Driver {
    port: u16,
    /// The WebDriver id of the running Chromium.
    remote: Option<String>,
    child: Child,
    dir: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium through it. Fails, naming what to
    /// install, when either is missing. `LEADPIPE_CHROMEDRIVER` and `LEADPIPE_CHROMIUM`
    /// override where they are looked for.
    pub async fn start() -> anyhow::Result<Self> {
        let driver_path = find("LEADPIPE_CHROMEDRIVER", &["chromedriver"])
            .with_context(|| format!("chromedriver not found on PATH: {INSTALL}"))?;
        let chromium = find(
            "LEADPIPE_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        )
        .with_context(|| format!("Chromium not found on PATH: {INSTALL}"))?;
        let dir = tempfile::Builder::new()
            .prefix("leadpipe-browser-")
            .tempdir()?;
        let port = free_port();
        let child = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                dir.path().join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}: {INSTALL}", driver_path.display()))?;
        let mut driver = Driver {
            port,
            remote: None,
            child,
            dir,
        };
        wait_for_port(port, Duration::from_secs(20))
            .context("chromedriver did not listen within 20 s")?;
        let capabilities = capabilities(&chromium, &driver.dir.path().join("profile"));
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .with_context(|| {
                format!(
                    "chromedriver could not start Chromium ({INSTALL})\n{}",
                    driver.log()
                )
            })?;
        driver.remote = client.session_id().await?;
        // Headless Chromium starts no narrower than 500 px whatever --window-size says.
        client.set_window_size(WINDOW.0, WINDOW.1).await?;
        Ok(Self {
            client,
            _driver: driver,
        })
    }
}

impl Driver {
    fn log(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

fn capabilities(chromium: &Path, profile: &Path) -> serde_json::Map<String, serde_json::Value> {
    let (width, height) = WINDOW;
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".to_owned(), "chrome".into());
    let options = serde_json::json!({
        "binary": chromium,
        "args": [
            "--headless=new",
            // Tests run as root in containers, where Chromium's sandbox cannot start.
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-sync",
            "--lang=ko-KR",
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.display()),
        ],
    });
    capabilities.insert("goog:chromeOptions".to_owned(), options);
    capabilities
}

/// `$env_var`, or the first of `names` on `PATH`.
fn find(env_var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin"));
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// Tells chromedriver to close Chromium `remote`, with a blocking request (Drop cannot
/// await).
fn quit(port: u16, remote: &str) -> std::io::Result<()> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "DELETE /session/{remote} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(())
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(remote) = self.remote.take() {
            let _ = quit(self.port, &remote);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
