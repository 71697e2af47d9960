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
    tls: bool,
}

/// The password of `postgres` on a cluster started with TLS, which requires passwords
/// (SCRAM) on TCP connections.
pub const TLS_CLUSTER_PASSWORD: &str = "leadpipe-test-password";

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
        Self::create(None)
    }

    /// Like [`PgCluster::start`], with TLS on (`ssl=on`), the server certificate made by
    /// `ca` for `names` (host names or IP addresses clients will connect to), and SCRAM
    /// passwords required on TCP ([`TLS_CLUSTER_PASSWORD`] for `postgres`).
    pub fn start_with_tls(ca: &crate::TestCa, names: &[&str]) -> anyhow::Result<Self> {
        Self::create(Some((ca, names)))
    }

    fn create(tls: Option<(&crate::TestCa, &[&str])>) -> anyhow::Result<Self> {
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
        initdb.args(["-U", "postgres", "--no-sync", "-E", "UTF8"]);
        if tls.is_some() {
            let pwfile = dir.path().join("pwfile");
            std::fs::write(&pwfile, TLS_CLUSTER_PASSWORD)?;
            if is_root() {
                let mut chown = Command::new("chown");
                chown.arg("postgres:postgres").arg(&pwfile);
                run(chown, "chown")?;
            }
            initdb
                .args([
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--pwfile",
                ])
                .arg(&pwfile);
        } else {
            initdb.args(["-A", "trust"]);
        }
        initdb.arg("-D").arg(dir.path().join("data"));
        run(initdb, "initdb")?;
        if let Some((ca, names)) = tls {
            let issued = ca.issue(names, dir.path(), "server")?;
            for path in [&issued.cert_path, &issued.key_path] {
                std::fs::set_permissions(
                    path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )?;
                if is_root() {
                    let mut chown = Command::new("chown");
                    chown.arg("postgres:postgres").arg(path);
                    run(chown, "chown")?;
                }
            }
        }
        let mut cluster = Self {
            port: free_port(),
            dir,
            running: false,
            tls: tls.is_some(),
        };
        cluster.resume()?;
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of `database` on this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("{}/{database}", self.server_url())
    }

    /// `postgres://postgres[:password]@127.0.0.1:<port>`, for [`crate::TestDatabase`].
    pub fn server_url(&self) -> String {
        if self.tls {
            format!(
                "postgres://postgres:{TLS_CLUSTER_PASSWORD}@127.0.0.1:{}",
                self.port
            )
        } else {
            format!("postgres://postgres@127.0.0.1:{}", self.port)
        }
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
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}' -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        if self.tls {
            let dir = self.dir.path().display();
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file='{dir}/server.crt' -c ssl_key_file='{dir}/server.key'"
            ));
        }
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
