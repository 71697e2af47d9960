//! A Tansu broker of a test's own. Its data lives in a temporary SQLite file, so a
//! restart on the same port keeps topics, messages, committed offsets and users.
//!
//! [`Tansu::builder`] makes a broker that requires SASL/SCRAM authentication, and one
//! that advertises another port (a [`crate::TlsProxy`] in front of it). Tansu's `user
//! create` cannot talk to a broker that already requires authentication, so the users
//! (and topics) are created on the broker started without it, which is then restarted
//! on the same storage with `--authentication`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process::{free_port, wait_for_port};

pub struct Tansu {
    port: u16,
    advertised_port: u16,
    authentication: bool,
    memory: bool,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// What a broker of a test's own needs before the test starts.
#[derive(Default)]
pub struct TansuBuilder {
    users: Vec<(String, String)>,
    topics: Vec<(String, i32)>,
    advertised_port: Option<u16>,
    memory: bool,
}

impl TansuBuilder {
    /// A SCRAM-SHA-512 user; with any user the broker requires authentication.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.to_owned(), password.to_owned()));
        self
    }

    /// A topic created before the test starts (needed with authentication: the
    /// testkit's plaintext admin helpers cannot log in).
    pub fn topic(mut self, name: &str, partitions: i32) -> Self {
        self.topics.push((name.to_owned(), partitions));
        self
    }

    /// Tells clients (in metadata) to connect to `port`, e.g. a TLS proxy's.
    pub fn advertise(mut self, port: u16) -> Self {
        self.advertised_port = Some(port);
        self
    }

    /// In-memory storage instead of SQLite (nothing survives a restart): for benchmarks
    /// where the broker must not be the limit.
    pub fn memory(mut self) -> Self {
        self.memory = true;
        self
    }

    pub fn start(self) -> anyhow::Result<Tansu> {
        let port = free_port();
        let mut broker = Tansu {
            port,
            advertised_port: port,
            authentication: false,
            memory: self.memory,
            dir: tempfile::tempdir()?,
            child: None,
        };
        broker.restart()?;
        let url = format!("tcp://127.0.0.1:{port}");
        for (name, password) in &self.users {
            run_cli(&["user", "create", "--broker", &url, name, password])?;
        }
        for (name, partitions) in &self.topics {
            run_cli(&[
                "topic",
                "create",
                "--broker",
                &url,
                "--partitions",
                &partitions.to_string(),
                name,
            ])?;
        }
        broker.authentication = !self.users.is_empty();
        broker.advertised_port = self.advertised_port.unwrap_or(port);
        if broker.authentication || broker.advertised_port != port {
            broker.restart()?;
        }
        Ok(broker)
    }
}

fn binary() -> PathBuf {
    std::env::var_os("LEADPIPE_TANSU_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| "tansu".into())
}

fn run_cli(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new(binary())
        .args(args)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run `tansu` (install it with `make tansu`): {e}"))?;
    anyhow::ensure!(
        output.status.success(),
        "tansu {} failed: {}{}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

impl Tansu {
    /// Starts a plaintext broker without authentication on a free port and waits until
    /// it accepts connections.
    pub fn start() -> anyhow::Result<Self> {
        Self::builder().start()
    }

    pub fn builder() -> TansuBuilder {
        TansuBuilder::default()
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the broker at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the broker process runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// The broker's log so far, for assertion messages.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tansu.log")).unwrap_or_default()
    }

    /// Starts the broker again on the same port with the same data.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = format!("tcp://127.0.0.1:{}", self.advertised_port);
        // Tansu reads the SQLite path relative to its working directory.
        let storage = if self.memory {
            "memory://tansu/"
        } else {
            "sqlite://./tansu.db"
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("tansu.log"))?;
        let mut command = Command::new(binary());
        command.args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &advertised,
            "--storage-engine",
            storage,
        ]);
        if self.authentication {
            command.arg("--authentication");
        }
        let child = command
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
