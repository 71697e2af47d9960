//! A PostgreSQL cluster of a test's own, created with `initdb` in a temporary folder and
//! run with `pg_ctl` on a free port, so a test can stop the database under load without
//! touching the shared server. PostgreSQL refuses to run as root, so as root the tools
//! run as the `postgres` user.

use std::process::Command;
use std::time::Duration;

use crate::process::{free_port, wait_for_port};

pub struct PgCluster {
    port: u16,
    dir: tempfile::TempDir,
    running: bool,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

fn pg_command(program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", program]);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) -> anyhow::Result<()> {
    let output = command
        .output()
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    anyhow::ensure!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

impl PgCluster {
    /// Creates and starts a cluster (trust authentication, user `postgres`).
    pub fn start() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("leadpipe-pg-").tempdir()?;
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres:postgres"]).arg(dir.path());
                    c
                },
                "chown",
            )?;
        }
        let mut initdb = pg_command("initdb");
        initdb
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(dir.path().join("data"));
        run(initdb, "initdb")?;
        let mut cluster = Self {
            port: free_port(),
            dir,
            running: false,
        };
        cluster.resume()?;
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server immediately (no checkpoint, like a crash): connections drop and
    /// new ones are refused until [`PgCluster::resume`].
    pub fn halt(&mut self) -> anyhow::Result<()> {
        let mut stop = pg_command("pg_ctl");
        stop.args(["stop", "-m", "immediate", "-w", "-D"])
            .arg(self.dir.path().join("data"));
        run(stop, "pg_ctl stop")?;
        self.running = false;
        Ok(())
    }

    /// Starts the server (again) on the same port with the same data.
    pub fn resume(&mut self) -> anyhow::Result<()> {
        let data = self.dir.path().join("data");
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}' -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let mut start = pg_command("pg_ctl");
        start
            .args(["start", "-w", "-t", "60", "-o", &options, "-l"])
            .arg(data.join("server.log"))
            .arg("-D")
            .arg(&data);
        run(start, "pg_ctl start")?;
        self.running = true;
        wait_for_port(self.port, Duration::from_secs(30))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            let _ = self.halt();
        }
    }
}
