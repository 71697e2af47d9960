//! A workspace binary running as a child process, as operators run it: its own port
//! (`LEADPIPE_HTTP_ADDR`), JSON logs in a file that failing assertions print, and the
//! ways it can end — SIGTERM (an orchestrator), SIGKILL (a crash), or on its own.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::scrape::Scrape;

pub struct ServiceProcess {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    pub port: u16,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl ServiceProcess {
    /// Starts workspace binary `name` (see [`crate::binary`]) with `args` and `env` on
    /// a free port, logging JSON at `info` (both overridable through `env`).
    pub fn start<K: Into<String>, V: Into<String>>(
        name: &'static str,
        args: &[&str],
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let port = crate::free_port();
        let mut all = vec![
            ("LEADPIPE_HTTP_ADDR".to_owned(), format!("127.0.0.1:{port}")),
            ("LEADPIPE_LOG_FORMAT".to_owned(), "json".to_owned()),
            ("RUST_LOG".to_owned(), "info".to_owned()),
        ];
        all.extend(env.into_iter().map(|(k, v)| (k.into(), v.into())));
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir()
            .expect("a log directory");
        let mut service = Self {
            name,
            program: crate::binary(name).unwrap_or_else(|e| panic!("{e}")),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: all,
            log: dir.path().join(format!("{name}.log")),
            port,
            child: None,
            _dir: dir,
        };
        service.spawn();
        service
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.program.display()));
        self.child = Some(child);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the log, for assertion messages.
    pub fn log_tail(&self) -> String {
        let logs = self.logs();
        let lines: Vec<&str> = logs.lines().collect();
        let start = lines.len().saturating_sub(40);
        format!(
            "--- last lines of {} ---\n{}",
            self.name,
            lines[start..].join("\n")
        )
    }

    /// SIGKILL, as a crash or an OOM kill would end it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again with the same settings (after a kill or an exit).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGTERM, as an orchestrator stops it.
    pub fn terminate(&self) {
        let pid = self.pid().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM {pid}");
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Waits for the process to exit on its own and returns how it ended.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let child = self.child.as_mut().expect("running");
            if let Some(status) = child.try_wait().expect("wait") {
                self.child = None;
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not exit within {timeout:?}\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then the exit status.
    pub async fn stop(&mut self, timeout: Duration) -> ExitStatus {
        self.terminate();
        self.wait_exit(timeout).await
    }

    /// `GET path`: status and body, `None` while nothing answers.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = reqwest::Client::new()
            .get(self.url(path))
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// The status of `/readyz`, `None` while nothing answers.
    pub async fn readiness(&self) -> Option<u16> {
        self.get("/readyz").await.map(|(status, _)| status)
    }

    pub async fn metrics(&self) -> Option<Scrape> {
        Scrape::fetch(&self.url("/metrics")).await
    }

    /// One metric value (see [`Scrape::value`]).
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.metrics().await?.value(name, labels)
    }

    /// Waits until `/readyz` answers 200; fails if the process exits or the time is up.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "{} exited ({status}) before it was ready\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if self.readiness().await == Some(200) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} not ready within {timeout:?}\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
