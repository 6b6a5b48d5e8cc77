//! `todo chat`: the WebSocket chat with the typed protocol. Replies stream as they are written;
//! tool calls show as short lines; Ctrl-C stops the running reply (a `cancel` frame), and a
//! dropped socket is reconnected and the reply `resume`d (or, before it was accepted, the same
//! message sent again with the same `client_msg_id`: it is served once).

use std::io::Write;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use todo_common::protocol::{ClientFrame, ServerFrame};
use todo_common::schema::ToolCall;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

use crate::session::Session;
use crate::{ChatArgs, CliError, Io, exit};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How many times a dropped socket is reconnected during one reply.
const RECONNECTS: u32 = 5;

/// How a reply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done { conversation_id: i64 },
    Stopped { conversation_id: i64 },
    Failed { code: String, message: String },
}

pub async fn run(
    api: &str,
    session: &Session,
    args: ChatArgs,
    json: bool,
    io: &mut Io,
) -> Result<u8, CliError> {
    let mut chat = Chat::connect(api, session).await?;
    let mut conversation = args.conversation;
    if !args.message.is_empty() {
        let message = args.message.join(" ");
        return Ok(match chat.turn(&message, conversation, json, io).await? {
            Outcome::Done { .. } => exit::OK,
            Outcome::Stopped { .. } => exit::STOPPED,
            Outcome::Failed { code, message } => return Err(CliError::Turn { code, message }),
        });
    }
    if io.interactive && !json {
        writeln!(
            io.out,
            "Chatting as {}. Ctrl-C stops a reply, Ctrl-D quits, /new starts a new conversation.",
            session.email
        )?;
    }
    loop {
        if !json {
            write!(io.out, "> ")?;
            io.out.flush()?;
        }
        let mut line = String::new();
        let read = tokio::select! {
            read = io.input.read_line(&mut line) => read?,
            Some(()) = io.interrupts.recv() => {
                // Ctrl-C at the prompt: a fresh prompt (Ctrl-D quits).
                writeln!(io.out)?;
                continue;
            }
        };
        if read == 0 {
            if !json {
                writeln!(io.out)?;
            }
            return Ok(exit::OK);
        }
        let message = line.trim();
        match message {
            "" => continue,
            "/quit" | "/exit" => return Ok(exit::OK),
            "/new" => {
                conversation = None;
                continue;
            }
            _ => {}
        }
        match chat.turn(message, conversation, json, io).await? {
            Outcome::Done { conversation_id } | Outcome::Stopped { conversation_id } => {
                conversation = Some(conversation_id);
            }
            Outcome::Failed { message, .. } => {
                if !json {
                    writeln!(io.err, "todo: {message}")?;
                }
            }
        }
    }
}

pub struct Chat {
    url: String,
    token: String,
    socket: Socket,
}

impl Chat {
    pub async fn connect(api: &str, session: &Session) -> Result<Self, CliError> {
        let base = api.trim_end_matches('/');
        let ws_base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            return Err(CliError::Usage(format!(
                "--api {api} must start with http:// or https://"
            )));
        };
        let url = format!("{ws_base}/api/{}/ws", session.user_id);
        let socket = open(&url, &session.token).await?;
        Ok(Self {
            url,
            token: session.token.clone(),
            socket,
        })
    }

    async fn send(
        &mut self,
        frame: &ClientFrame,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let text = serde_json::to_string(frame).unwrap_or_default();
        self.socket.send(Message::Text(text.into())).await
    }

    /// The next protocol frame; `None` when the socket ended.
    async fn next_frame(&mut self) -> Option<ServerFrame> {
        while let Some(Ok(message)) = self.socket.next().await {
            match message {
                Message::Text(text) => {
                    if let Ok(frame) = serde_json::from_str::<ServerFrame>(text.as_str()) {
                        return Some(frame);
                    }
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
        None
    }

    /// Sends one message and follows its reply to the end.
    pub async fn turn(
        &mut self,
        message: &str,
        conversation_id: Option<i64>,
        json: bool,
        io: &mut Io,
    ) -> Result<Outcome, CliError> {
        let client_msg_id = Uuid::new_v4().to_string();
        let chat = ClientFrame::Chat {
            message: message.to_owned(),
            conversation_id,
            client_msg_id: Some(client_msg_id.clone()),
        };
        self.send(&chat).await.map_err(|e| network(&self.url, &e))?;
        let mut printer = Printer::new(json);
        let mut request_id = None;
        let mut stop_when_accepted = false;
        let mut reconnects = 0;
        loop {
            let frame = tokio::select! {
                frame = self.next_frame() => frame,
                Some(()) = io.interrupts.recv() => {
                    match request_id {
                        Some(id) => {
                            let _ = self.send(&ClientFrame::Cancel { request_id: id, client_msg_id: None }).await;
                        }
                        None => stop_when_accepted = true,
                    }
                    continue;
                }
            };
            let Some(frame) = frame else {
                // The socket dropped: reconnect, then follow the same reply.
                reconnects += 1;
                if reconnects > RECONNECTS {
                    return Err(CliError::Network {
                        url: self.url.clone(),
                        cause: "the connection keeps dropping".into(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(250 * 2u64.pow(reconnects))).await;
                let Ok(socket) = open(&self.url, &self.token).await else {
                    continue;
                };
                self.socket = socket;
                let again = match request_id {
                    Some(id) => ClientFrame::Resume {
                        request_id: id,
                        client_msg_id: None,
                    },
                    None => chat.clone(),
                };
                let _ = self.send(&again).await;
                continue;
            };
            if let Some(id) = request_id
                && frame.request_id().is_some_and(|r| r != id)
            {
                continue; // another request's frame
            }
            match frame {
                ServerFrame::Accepted {
                    request_id: id,
                    client_msg_id: Some(ref cmid),
                    ..
                } if *cmid == client_msg_id => {
                    request_id = Some(id);
                    if stop_when_accepted {
                        let _ = self
                            .send(&ClientFrame::Cancel {
                                request_id: id,
                                client_msg_id: None,
                            })
                            .await;
                    }
                }
                ServerFrame::Delta { text, .. } => printer.text(&text, io)?,
                ServerFrame::Tool {
                    tool,
                    arguments,
                    result,
                    ..
                } => {
                    printer.tool(
                        &ToolCall {
                            tool,
                            arguments,
                            result,
                        },
                        io,
                    )?;
                }
                ServerFrame::Reset { .. } => printer.reset(io)?,
                ServerFrame::Done {
                    conversation_id, ..
                } => {
                    printer.end(&frame, "", io)?;
                    return Ok(Outcome::Done { conversation_id });
                }
                ServerFrame::Cancelled {
                    conversation_id, ..
                } => {
                    printer.end(&frame, "[stopped]", io)?;
                    return Ok(Outcome::Stopped { conversation_id });
                }
                // An error of this request, or (before it was accepted) about this message.
                ServerFrame::Error {
                    ref code,
                    ref message,
                    client_msg_id: ref cmid,
                    request_id: rid,
                } if rid.is_some()
                    || (request_id.is_none()
                        && cmid.as_ref().is_none_or(|c| *c == client_msg_id)) =>
                {
                    let (code, message) = (code.clone(), message.clone());
                    printer.end(&frame, "", io)?;
                    return Ok(Outcome::Failed { code, message });
                }
                _ => {}
            }
        }
    }
}

async fn open(url: &str, token: &str) -> Result<Socket, CliError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| CliError::Usage(format!("bad api URL: {e}")))?;
    let value = format!("Bearer {token}")
        .parse()
        .map_err(|_| CliError::NotLoggedIn)?;
    request.headers_mut().insert("authorization", value);
    // A 4 KiB read buffer: tungstenite zero-fills its whole buffer (128 KiB by default) before
    // every read, once per streamed delta; chat frames are small, and larger ones still arrive.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    match tokio_tungstenite::connect_async_with_config(request, Some(config), false).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response))
            if response.status().as_u16() == 401 =>
        {
            Err(CliError::Api {
                status: 401,
                code: "unauthorized".into(),
                message: "your session has ended: run `todo login`".into(),
            })
        }
        Err(e) => Err(network(url, &e)),
    }
}

fn network(url: &str, e: &tokio_tungstenite::tungstenite::Error) -> CliError {
    CliError::Network {
        url: url.to_owned(),
        cause: e.to_string(),
    }
}

/// Writes a reply as it streams (or, with `--json`, only its final frame).
struct Printer {
    json: bool,
    at_line_start: bool,
}

impl Printer {
    fn new(json: bool) -> Self {
        Self {
            json,
            at_line_start: true,
        }
    }

    fn text(&mut self, text: &str, io: &mut Io) -> std::io::Result<()> {
        if self.json || text.is_empty() {
            return Ok(());
        }
        write!(io.out, "{text}")?;
        io.out.flush()?;
        self.at_line_start = text.ends_with('\n');
        Ok(())
    }

    fn newline(&mut self, io: &mut Io) -> std::io::Result<()> {
        if !self.at_line_start {
            writeln!(io.out)?;
            self.at_line_start = true;
        }
        Ok(())
    }

    fn tool(&mut self, call: &ToolCall, io: &mut Io) -> std::io::Result<()> {
        if self.json {
            return Ok(());
        }
        self.newline(io)?;
        writeln!(io.out, "  [{}] {}", call.tool, describe(call))?;
        Ok(())
    }

    fn reset(&mut self, io: &mut Io) -> std::io::Result<()> {
        if self.json {
            return Ok(());
        }
        self.newline(io)?;
        writeln!(io.out, "(the reply restarts)")?;
        Ok(())
    }

    fn end(&mut self, frame: &ServerFrame, note: &str, io: &mut Io) -> std::io::Result<()> {
        if self.json {
            writeln!(io.out, "{}", frame.to_json())?;
            return Ok(());
        }
        if !note.is_empty() {
            self.newline(io)?;
            writeln!(io.out, "{note}")?;
        }
        self.newline(io)
    }
}

/// One line about what a tool did.
fn describe(call: &ToolCall) -> String {
    let r = &call.result;
    let task = format!(
        "#{} {}",
        r["task_id"].as_i64().unwrap_or_default(),
        r["title"].as_str().unwrap_or("")
    );
    let due = r["due_text"]
        .as_str()
        .map(|d| format!(" (due {d})"))
        .unwrap_or_default();
    match r["status"].as_str().unwrap_or("") {
        "created" => format!("added {task}{due}"),
        "updated" => format!("updated {task}{due}"),
        "completed" => format!("completed {task}"),
        "reopened" => format!("re-opened {task}"),
        "deleted" => format!("deleted {task}"),
        "listed" => format!("looked at {} task(s)", r["count"].as_u64().unwrap_or(0)),
        "error" => format!(
            "refused: {}",
            r["error"]["message"].as_str().unwrap_or("error")
        ),
        other => other.replace('_', " "),
    }
}
