//! Private, real servers and processes for the fault-injection runs: a Postgres cluster and a
//! NATS server of their own (so restarting them disturbs nothing else on the machine), and the
//! `api` / `worker` binaries as child processes that can be killed with SIGKILL or stopped with
//! SIGTERM.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// A free TCP port on 127.0.0.1 for a server started later, outside the kernel's ephemeral range.
///
/// A port from `bind(0)` is an ephemeral one: between releasing it and the server binding it, an
/// outgoing connection (a pool's, or `wait_for_port`'s own, which can even connect to itself) may
/// take it, and the server then fails with "address in use". Ports below the ephemeral range are
/// never handed to outgoing connections; this process never hands out the same one twice.
pub fn free_port() -> anyhow::Result<u16> {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, RandomState};
    use std::sync::{Mutex, PoisonError};

    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let low = ephemeral_low();
    // 10000 up to the ephemeral range; where that range starts lower, the old way.
    if low <= 12_000 {
        return Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port());
    }
    let span = u64::from(low - 10_000);
    let seed = RandomState::new();
    let mut given = GIVEN.lock().unwrap_or_else(PoisonError::into_inner);
    let given = given.get_or_insert_with(HashSet::new);
    for attempt in 0..1_000u32 {
        let port = 10_000 + u16::try_from(seed.hash_one(attempt) % span)?;
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return Ok(port);
        }
    }
    bail!("no free port between 10000 and {low}")
}

/// Where the kernel's range of ports for outgoing connections starts (Linux; its default
/// elsewhere).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// Waits until something accepts connections on `port`.
pub async fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if tokio::time::Instant::now() > deadline {
            bail!("nothing listens on port {port} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Finds a Postgres server binary (`initdb`, `pg_ctl`) on PATH or under /usr/lib/postgresql.
fn pg_bin(name: &str) -> anyhow::Result<PathBuf> {
    if let Ok(out) = Command::new("which").arg(name).output()
        && out.status.success()
    {
        return Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .context("Postgres server binaries not found (install the postgresql package)")?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .with_context(|| format!("{name} not found under /usr/lib/postgresql"))
}

/// Runs a Postgres tool, as the `postgres` user when we are root (Postgres refuses root).
fn pg_command(tool: &str, args: &[&str]) -> anyhow::Result<()> {
    let bin = pg_bin(tool)?;
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {tool}"))?;
    if !out.status.success() {
        bail!(
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A throwaway Postgres cluster on its own port (trust auth, user `postgres`).
pub struct PrivatePostgres {
    dir: PathBuf,
    pub port: u16,
}

impl PrivatePostgres {
    pub async fn start(root: &Path) -> anyhow::Result<Self> {
        let dir = root.join("pg");
        std::fs::create_dir_all(&dir)?;
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(root)
                .status()?;
            if !status.success() {
                bail!("could not hand {} to the postgres user", root.display());
            }
        }
        let data = dir.to_string_lossy().into_owned();
        pg_command(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        )?;
        let pg = Self {
            dir,
            port: free_port()?,
        };
        pg.start_server().await?;
        Ok(pg)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    async fn start_server(&self) -> anyhow::Result<()> {
        let data = self.dir.to_string_lossy().into_owned();
        let opts = format!(
            "-p {} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port
        );
        let log = self.dir.join("server.log").to_string_lossy().into_owned();
        pg_command(
            "pg_ctl",
            &["-D", &data, "-o", &opts, "-l", &log, "-w", "start"],
        )?;
        wait_for_port(self.port, Duration::from_secs(30)).await
    }

    /// Stops the server (fast shutdown: sessions are cut, committed work is kept).
    pub fn stop(&self) -> anyhow::Result<()> {
        let data = self.dir.to_string_lossy().into_owned();
        pg_command("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"])
    }

    pub async fn restart_after(&self, down: Duration) -> anyhow::Result<()> {
        self.stop()?;
        tokio::time::sleep(down).await;
        self.start_server().await
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A NATS server with JetStream on its own port and store directory.
pub struct PrivateNats {
    bin: PathBuf,
    store: PathBuf,
    pub port: u16,
    /// Cluster flags (name, routes) when this server is a node of a cluster.
    cluster_args: Vec<String>,
    child: Option<Child>,
}

impl PrivateNats {
    pub async fn start(root: &Path) -> anyhow::Result<Self> {
        let mut nats = Self::new(root.join("nats"), Vec::new())?;
        nats.start_server().await?;
        Ok(nats)
    }

    /// Three servers forming one JetStream cluster (each with its own store), all started.
    pub async fn start_cluster(root: &Path) -> anyhow::Result<Vec<Self>> {
        let route_ports = [free_port()?, free_port()?, free_port()?];
        let routes = route_ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes = Vec::new();
        for (i, route_port) in route_ports.iter().enumerate() {
            let args = vec![
                "-n".to_owned(),
                format!("todo-nats-{}", i + 1),
                "--cluster_name".to_owned(),
                "todo-chat".to_owned(),
                "--cluster".to_owned(),
                format!("nats://127.0.0.1:{route_port}"),
                "--routes".to_owned(),
                routes.clone(),
            ];
            nodes.push(Self::new(root.join(format!("nats-{}", i + 1)), args)?);
        }
        // All three at once: JetStream elects its meta leader once a majority is up.
        for node in &mut nodes {
            node.spawn()?;
        }
        for node in &nodes {
            wait_for_port(node.port, Duration::from_secs(15)).await?;
        }
        Ok(nodes)
    }

    fn new(store: PathBuf, cluster_args: Vec<String>) -> anyhow::Result<Self> {
        let bin = Command::new("which")
            .arg("nats-server")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .or_else(|| {
                let home = std::env::var("HOME").unwrap_or_default();
                [
                    "/usr/sbin/nats-server".to_owned(),
                    "/usr/bin/nats-server".to_owned(),
                    format!("{home}/.local/bin/nats-server"),
                ]
                .into_iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
            })
            .context("nats-server not found (scripts/services.sh installs it)")?;
        Ok(Self {
            bin,
            store,
            port: free_port()?,
            cluster_args,
            child: None,
        })
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn start_server(&mut self) -> anyhow::Result<()> {
        self.spawn()?;
        wait_for_port(self.port, Duration::from_secs(15)).await
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let child = Command::new(&self.bin)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .args(&self.cluster_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nats-server")?;
        self.child = Some(child);
        Ok(())
    }

    /// `kill -9` the server, leave it down for `down`, start it again on the same store, or
    /// (`wipe_store`) on an empty one: every stored message, acknowledged or not, is gone.
    pub async fn restart_after(&mut self, down: Duration, wipe_store: bool) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        if wipe_store {
            std::fs::remove_dir_all(&self.store)?;
        }
        tokio::time::sleep(down).await;
        self.start_server().await
    }
}

impl Drop for PrivateNats {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A child process of ours (`api` or `worker`) with its environment, restartable.
pub struct Service {
    pub name: String,
    bin: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Service {
    pub fn new(name: &str, bin: PathBuf, env: Vec<(String, String)>, log: PathBuf) -> Self {
        Self {
            name: name.to_owned(),
            bin,
            env,
            log,
            child: None,
        }
    }

    pub fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(&self.bin)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL: no chance to finish, ack or clean up anything.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// SIGTERM and wait (at most `timeout`, then SIGKILL); returns whether it exited cleanly.
    pub async fn terminate(&mut self, timeout: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            if tokio::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}
