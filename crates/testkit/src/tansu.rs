//! A Tansu broker of a test's own. Its data lives in a temporary SQLite file, so a
//! restart on the same port keeps topics, messages and committed offsets.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process::{free_port, wait_for_port};

pub struct Tansu {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Tansu {
    /// Starts a broker on a free port and waits until it accepts connections.
    pub fn start() -> anyhow::Result<Self> {
        let mut broker = Self {
            port: free_port(),
            dir: tempfile::tempdir()?,
            child: None,
        };
        broker.restart()?;
        Ok(broker)
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn binary() -> PathBuf {
        std::env::var_os("LEADPIPE_TANSU_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| "tansu".into())
    }

    /// Kills the broker at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port with the same data.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        // Tansu reads the SQLite path relative to its working directory.
        let storage = "sqlite://./tansu.db";
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("tansu.log"))?;
        let child = Command::new(Self::binary())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                storage,
            ])
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("cannot start `tansu` (install it with `make tansu`): {e}")
            })?;
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(30))
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
    }
}
