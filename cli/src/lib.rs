//! `todo`, the terminal client of todo-chat.
//!
//! - [`Cli`] / [`run`]: the commands (`login`, `logout`, `chat`, `tasks`, `mcp`) and their exit
//!   statuses; `main.rs` only wires the real terminal ([`Io`]) and Ctrl-C.
//! - [`session`]: the stored session (token in the user's config directory, mode 0600).
//! - [`http`]: the REST calls and the api's error shape.
//! - [`chat`]: chat over the WebSocket with the typed protocol (`todo_common::protocol`):
//!   streamed replies, Ctrl-C stops the running reply, reconnect + `resume` on a dropped socket.
//! - [`mcp`]: `todo mcp`, an MCP server on stdio that forwards to the api's `/mcp` with the
//!   stored token.

pub mod chat;
pub mod http;
pub mod mcp;
pub mod session;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::mpsc;

pub use http::CliError;

/// Default api when neither `--api`, `TODO_API_URL` nor a stored session names one.
pub const DEFAULT_API: &str = "http://127.0.0.1:8000";

/// Exit statuses: 0 done, 1 the request failed, 2 usage, 3 not logged in, 130 stopped.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const NOT_LOGGED_IN: u8 = 3;
    pub const STOPPED: u8 = 130;
}

#[derive(Debug, Parser)]
#[command(
    name = "todo",
    version,
    about = "Manage your todo-chat tasks from the terminal"
)]
pub struct Cli {
    /// Base URL of the todo-chat api (default: the logged-in one, else http://127.0.0.1:8000).
    #[arg(long, global = true, env = "TODO_API_URL")]
    pub api: Option<String>,
    /// Machine-readable output (JSON).
    #[arg(long, global = true)]
    pub json: bool,
    /// Where the session is kept (default: the user's config directory, `todo-chat/`).
    #[arg(long, global = true, env = "TODO_CONFIG_DIR", hide = true)]
    pub config_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in and keep the session (token stored with mode 0600).
    Login(LoginArgs),
    /// Create an account, then log in.
    Signup(LoginArgs),
    /// Log out (the token is revoked on the server and forgotten here).
    Logout,
    /// Chat with the assistant: interactive without a message (Ctrl-C stops a reply, Ctrl-D
    /// quits), or one message and exit (status 0 when answered).
    Chat(ChatArgs),
    /// List your tasks.
    Tasks(TasksArgs),
    /// Serve the task tools over MCP on stdio (for desktop assistants), with the stored login.
    Mcp,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Your email (asked when absent).
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from the first line of stdin (for scripts).
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The message (omit for an interactive session).
    pub message: Vec<String>,
    /// Continue this conversation.
    #[arg(long, short)]
    pub conversation: Option<i64>,
}

#[derive(Debug, Args)]
pub struct TasksArgs {
    /// pending (default), done or all.
    #[arg(long, short, default_value = "pending")]
    pub status: String,
    /// overdue, today, tomorrow, week or none.
    #[arg(long)]
    pub due: Option<String>,
    /// Only tasks with this tag (repeat for several).
    #[arg(long)]
    pub tag: Vec<String>,
    /// Text to search for in titles and descriptions.
    #[arg(long, short)]
    pub query: Option<String>,
    /// at most this many (1–100).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

/// The terminal: lines in, text out, and Ctrl-C presses.
pub struct Io {
    pub input: Box<dyn AsyncBufRead + Unpin + Send>,
    pub out: Box<dyn Write + Send>,
    pub err: Box<dyn Write + Send>,
    /// One message per Ctrl-C.
    pub interrupts: mpsc::UnboundedReceiver<()>,
    /// The input is a terminal (prompts and hidden password entry make sense).
    pub interactive: bool,
}

impl Io {
    /// Reads one line of input (`None` at end of input).
    pub async fn read_line(&mut self) -> std::io::Result<Option<String>> {
        let mut line = String::new();
        if self.input.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\n', '\r']).to_owned()))
    }

    /// Prints `prompt` and reads the answer.
    pub async fn ask(&mut self, prompt: &str) -> Result<String, CliError> {
        write!(self.out, "{prompt}")?;
        self.out.flush()?;
        self.read_line()
            .await?
            .ok_or_else(|| CliError::Usage("no input".into()))
    }
}

/// Runs a command; the exit status to end with.
pub async fn run(cli: Cli, io: &mut Io) -> u8 {
    let json = cli.json;
    match execute(cli, io).await {
        Ok(code) => code,
        Err(e) => {
            if json {
                let body =
                    serde_json::json!({"error": {"code": e.code(), "message": e.to_string()}});
                let _ = writeln!(io.out, "{body}");
            } else {
                let _ = writeln!(io.err, "todo: {e}");
            }
            e.exit_code()
        }
    }
}

async fn execute(cli: Cli, io: &mut Io) -> Result<u8, CliError> {
    let store = session::Store::new(cli.config_dir.clone())?;
    match cli.command {
        Command::Signup(args) => {
            let api = cli.api.clone().unwrap_or_else(|| DEFAULT_API.into());
            login(&store, &api, args, io, true, cli.json).await
        }
        Command::Login(args) => {
            let api = cli
                .api
                .clone()
                .or_else(|| store.load().ok().flatten().map(|s| s.api))
                .unwrap_or_else(|| DEFAULT_API.into());
            login(&store, &api, args, io, false, cli.json).await
        }
        Command::Logout => {
            if let Some(session) = store.load()? {
                let client = http::Client::new(
                    cli.api.as_deref().unwrap_or(&session.api),
                    Some(session.clone()),
                )?;
                // Forget it here even if the server cannot be told.
                let revoked = client.logout().await;
                store.forget()?;
                revoked?;
            }
            if !cli.json {
                writeln!(io.out, "Logged out.")?;
            }
            Ok(exit::OK)
        }
        Command::Chat(args) => {
            let session = store.load()?.ok_or(CliError::NotLoggedIn)?;
            let api = cli.api.clone().unwrap_or_else(|| session.api.clone());
            chat::run(&api, &session, args, cli.json, io).await
        }
        Command::Tasks(args) => {
            let session = store.load()?.ok_or(CliError::NotLoggedIn)?;
            let api = cli.api.clone().unwrap_or_else(|| session.api.clone());
            let client = http::Client::new(&api, Some(session))?;
            let tasks = client.tasks(&args).await?;
            if cli.json {
                writeln!(
                    io.out,
                    "{}",
                    serde_json::to_string_pretty(&tasks).unwrap_or_default()
                )?;
            } else {
                print_tasks(&tasks, io)?;
            }
            Ok(exit::OK)
        }
        Command::Mcp => {
            let session = store.load()?.ok_or(CliError::NotLoggedIn)?;
            let api = cli.api.clone().unwrap_or_else(|| session.api.clone());
            mcp::serve_stdio(&api, &session).await?;
            Ok(exit::OK)
        }
    }
}

async fn login(
    store: &session::Store,
    api: &str,
    args: LoginArgs,
    io: &mut Io,
    signup: bool,
    json: bool,
) -> Result<u8, CliError> {
    let email = match args.email {
        Some(e) => e,
        None => io.ask("Email: ").await?,
    };
    let password = if args.password_stdin || !io.interactive {
        io.read_line()
            .await?
            .ok_or_else(|| CliError::Usage("expected the password on stdin".into()))?
    } else {
        tokio::task::spawn_blocking(|| rpassword::prompt_password("Password: "))
            .await
            .map_err(|e| CliError::Usage(e.to_string()))??
    };
    let client = http::Client::new(api, None)?;
    if signup {
        client.signup(email.trim(), &password).await?;
    }
    let session = client.login(email.trim(), &password).await?;
    let path = store.save(&session)?;
    if json {
        writeln!(
            io.out,
            "{}",
            serde_json::json!({"user_id": session.user_id, "email": session.email, "api": session.api})
        )?;
    } else {
        writeln!(
            io.out,
            "Logged in as {} (session kept in {}).",
            session.email,
            path.display()
        )?;
    }
    Ok(exit::OK)
}

fn print_tasks(tasks: &[serde_json::Value], io: &mut Io) -> Result<(), CliError> {
    if tasks.is_empty() {
        writeln!(io.out, "No tasks.")?;
        return Ok(());
    }
    for t in tasks {
        let done = if t["completed"] == true { "✓" } else { "·" };
        let mut line = format!(
            "{done} {:>4}  {}",
            format!("#{}", t["id"]),
            t["title"].as_str().unwrap_or("")
        );
        if let Some(due) = t["due_text"].as_str() {
            let overdue = if t["overdue"] == true {
                "overdue, "
            } else {
                ""
            };
            line.push_str(&format!("  ({overdue}due {due})"));
        }
        if let Some(p) = t["priority"].as_str().filter(|p| *p != "none") {
            line.push_str(&format!("  [{p}]"));
        }
        for tag in t["tags"].as_array().into_iter().flatten() {
            line.push_str(&format!(" #{}", tag.as_str().unwrap_or("")));
        }
        writeln!(io.out, "{line}")?;
    }
    Ok(())
}
