//! Runs the terminal client `todo` (its library, with the same I/O the binary wires) in tests:
//! scripted input, captured output, Ctrl-C on demand.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clap::Parser;
use tokio::sync::mpsc;

/// Everything written to it, kept: the terminal client's output here, log lines in
/// tests/tests/logs.rs (as a tracing writer).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One `todo` invocation in flight.
pub struct Todo {
    pub out: Captured,
    pub err: Captured,
    interrupt: mpsc::UnboundedSender<()>,
    task: tokio::task::JoinHandle<u8>,
}

impl Todo {
    /// Starts `todo <args>` with the session kept in `config_dir` and `stdin` as its input.
    pub fn start(config_dir: &Path, args: &[&str], stdin: &str) -> Self {
        let mut argv = vec![
            "todo".to_owned(),
            "--config-dir".to_owned(),
            config_dir.display().to_string(),
        ];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        let cli = todo_cli::Cli::try_parse_from(argv).expect("valid arguments");
        let (interrupt, interrupts) = mpsc::unbounded_channel();
        let out = Captured::default();
        let err = Captured::default();
        let mut io = todo_cli::Io {
            input: Box::new(std::io::Cursor::new(stdin.as_bytes().to_vec())),
            out: Box::new(out.clone()),
            err: Box::new(err.clone()),
            interrupts,
            interactive: false,
        };
        let task = tokio::spawn(async move { todo_cli::run(cli, &mut io).await });
        Self {
            out,
            err,
            interrupt,
            task,
        }
    }

    /// Presses Ctrl-C.
    pub fn interrupt(&self) {
        let _ = self.interrupt.send(());
    }

    /// Waits for the exit status.
    pub async fn status(self) -> u8 {
        self.task.await.expect("todo ran")
    }
}

/// Runs `todo <args>` to the end: (exit status, stdout, stderr).
pub async fn todo(config_dir: &Path, args: &[&str], stdin: &str) -> (u8, String, String) {
    let run = Todo::start(config_dir, args, stdin);
    let (out, err) = (run.out.clone(), run.err.clone());
    let status = run.status().await;
    (status, out.text(), err.text())
}

/// A fresh, empty config directory for one test.
pub fn config_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("todo-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("config dir");
    dir
}
