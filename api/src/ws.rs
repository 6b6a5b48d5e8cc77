//! WebSocket chat: `GET /api/{user_id}/ws` (protocol in `docs/PROTOCOL.md`).
//!
//! One task reads client frames, one writes server frames from a channel, and one task per chat
//! request relays that request's events; several requests may be in flight on one socket. When
//! the socket ends every request task is aborted (the turns themselves still complete in a worker
//! and can be read back from the conversation).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use todo_common::protocol::{ClientFrame, ServerFrame};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::auth::{AuthUser, Session};
use crate::chat::{Submitted, request_id_for, validate_message};
use crate::error::{ApiError, ErrorBody, Result};
use crate::limits::SocketSlot;
use crate::state::AppState;

/// Largest client frame the api reads; larger ones get an `error` frame (`frame_too_large`).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Requests one socket may have in flight; more get an `error` frame (`too_many_in_flight`).
pub const MAX_IN_FLIGHT: usize = 32;
const PING_EVERY: Duration = Duration::from_secs(25);
const IDLE_LIMIT: Duration = Duration::from_secs(75);
const OUTBOX: usize = 256;
const SOCKET_BUFFER_BYTES: usize = 2 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ws_upgrade))
}

#[derive(Deserialize, IntoParams)]
pub struct WsQuery {
    /// Access token, for clients that cannot set an `Authorization` header (browsers).
    pub token: Option<String>,
}

/// Open a chat WebSocket (JSON text frames; see docs/PROTOCOL.md).
///
/// Authenticated by `Authorization: Bearer <jwt>` or `?token=<jwt>`.
#[utoipa::path(get, path = "/api/{user_id}/ws", tag = "chat",
    params(("user_id" = String, Path, description = "The authenticated user's id"), WsQuery),
    responses(
        (status = 101, description = "Switching protocols to the chat WebSocket"),
        (status = 400, description = "Not a WebSocket upgrade request (`websocket_upgrade_required`)", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "Not this user's path", body = ErrorBody),
        (status = 429, description = "Too many open sockets for this user or address (`too_many_sockets`)", body = ErrorBody),
    ))]
async fn ws_upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(user_id): Path<String>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    ws: std::result::Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response> {
    let header_token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let token = header_token.or(query.token).ok_or(ApiError::Unauthorized)?;
    let auth = AuthUser::from_token(&state.auth, &token).await?;
    let user_id = auth.owner(&user_id)?;
    let ws = ws.map_err(|_| ApiError::BadRequest {
        code: "websocket_upgrade_required",
        message: "this endpoint speaks WebSocket: send an upgrade request".into(),
    })?;
    let slot = state.limits.open_socket(user_id, peer.ip())?;
    let session = auth.session;
    // Small I/O buffers: chat frames are small, and idle sockets should cost little memory
    // (tungstenite's defaults reserve 128 KiB per socket for reading alone).
    Ok(ws
        .read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(SOCKET_BUFFER_BYTES)
        .max_message_size(4 * MAX_FRAME_BYTES)
        .max_frame_size(4 * MAX_FRAME_BYTES)
        .on_upgrade(move |socket| serve_socket(socket, state, session, slot)))
}

/// Counts open WebSockets in `todo_ws_connections` for as long as it lives.
struct OpenSocket;

impl OpenSocket {
    fn new() -> Self {
        metrics::gauge!("todo_ws_connections").increment(1.0);
        Self
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        metrics::gauge!("todo_ws_connections").decrement(1.0);
    }
}

/// Close code for a session that ended (token expired, logged out, password changed).
const CLOSE_SESSION_ENDED: u16 = 4001;

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

async fn serve_socket(socket: WebSocket, state: AppState, session: Session, _slot: SocketSlot) {
    let user_id = session.user_id;
    let _open = OpenSocket::new();
    let frame_budget = state.limits.frame_budget();
    let mut revocations = state.sessions.subscribe();
    let mut task_changes = state.tasks_feed.subscribe(user_id);
    let expires_in = session.expires_at.saturating_sub(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    let expiry = tokio::time::sleep(Duration::from_secs(expires_in));
    tokio::pin!(expiry);
    let mut recheck = tokio::time::interval(crate::sessions::RECHECK_EVERY);
    recheck.reset();
    tracing::info!(user_id = %user_id, "websocket opened");
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(OUTBOX);
    let writer = tokio::spawn(async move {
        // Frames that are ready together go out in one write (one flush, one syscall).
        'write: while let Some(msg) = rx.recv().await {
            let mut closing = matches!(msg, Message::Close(_));
            if sink.feed(msg).await.is_err() {
                break;
            }
            while !closing && let Ok(msg) = rx.try_recv() {
                closing = matches!(msg, Message::Close(_));
                if sink.feed(msg).await.is_err() {
                    break 'write;
                }
            }
            if sink.flush().await.is_err() || closing {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut requests = JoinSet::new();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let mut last_seen = Instant::now();
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(Ok(msg)) = incoming else { break };
                last_seen = Instant::now();
                if matches!(msg, Message::Text(_) | Message::Binary(_))
                    && frame_budget.as_ref().is_some_and(|b| b.check().is_err())
                {
                    send(&tx, ServerFrame::error(None, None, "rate_limited", "too many frames: slow down")).await;
                    continue;
                }
                match msg {
                    Message::Text(text) => {
                        // boxed: keeps the per-socket task small while the socket is idle
                        Box::pin(handle_text(&state, user_id, text, &tx, &slots, &mut requests)).await;
                    }
                    Message::Binary(_) => {
                        send(&tx, ServerFrame::error(None, None, "unsupported_frame", "send JSON text frames")).await;
                    }
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > IDLE_LIMIT {
                    tracing::info!(user_id = %user_id, "closing unresponsive websocket");
                    break;
                }
                if tx.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            Some(_) = requests.join_next(), if !requests.is_empty() => {}
            changed = task_changes.frames.recv() => {
                match changed {
                    Ok(frame) => {
                        if tx.send(Message::Text(Utf8Bytes::from(&*frame))).await.is_err() {
                            break;
                        }
                    }
                    // Fell behind: the next frame brings the newest state of what it names.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        task_changes = state.tasks_feed.subscribe(user_id);
                    }
                }
            }
            () = &mut expiry => {
                tracing::info!(user_id = %user_id, "closing websocket: token expired");
                let _ = tx.send(close_frame(CLOSE_SESSION_ENDED, "token expired")).await;
                break;
            }
            revoked = revocations.recv() => {
                let ended = match revoked {
                    Ok(r) => r.ends(user_id, session.jti),
                    // Missed some: ask the source of truth.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        !state.auth.is_live(&session).await.unwrap_or(true)
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => false,
                };
                if ended {
                    tracing::info!(user_id = %user_id, "closing websocket: session revoked");
                    let _ = tx.send(close_frame(CLOSE_SESSION_ENDED, "session revoked")).await;
                    break;
                }
            }
            _ = recheck.tick() => {
                if matches!(state.auth.is_live(&session).await, Ok(false)) {
                    tracing::info!(user_id = %user_id, "closing websocket: session revoked");
                    let _ = tx.send(close_frame(CLOSE_SESSION_ENDED, "session revoked")).await;
                    break;
                }
            }
            _ = state.shutdown.cancelled() => {
                let _ = tx.send(Message::Close(Some(CloseFrame { code: 1001, reason: Utf8Bytes::from_static("server shutting down") }))).await;
                break;
            }
        }
    }
    requests.abort_all();
    drop(tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    tracing::info!(user_id = %user_id, "websocket closed");
}

async fn handle_text(
    state: &AppState,
    user_id: Uuid,
    text: Utf8Bytes,
    tx: &mpsc::Sender<Message>,
    slots: &Arc<Semaphore>,
    requests: &mut JoinSet<()>,
) {
    if text.len() > MAX_FRAME_BYTES {
        let msg = format!("frames are limited to {MAX_FRAME_BYTES} bytes");
        send(tx, ServerFrame::error(None, None, "frame_too_large", msg)).await;
        return;
    }
    let frame = match parse_frame(text.as_str()) {
        Ok(frame) => frame,
        Err(error) => {
            send(tx, error).await;
            return;
        }
    };
    match frame {
        ClientFrame::Chat {
            message,
            conversation_id,
            client_msg_id,
        } => {
            let cmid = client_msg_id.as_deref();
            chat(
                state,
                user_id,
                &message,
                conversation_id,
                cmid,
                tx,
                slots,
                requests,
            )
            .await;
        }
        ClientFrame::Resume {
            request_id,
            client_msg_id,
        } => {
            let cmid = client_msg_id.as_deref();
            resume(state, user_id, request_id, cmid, tx, slots, requests).await;
        }
        ClientFrame::Cancel {
            request_id,
            client_msg_id,
        } => {
            match state.chat.mark_cancel(user_id, request_id).await {
                Ok(record) => {
                    // Acknowledged before any worker hears of it: `cancel_requested` always
                    // comes before the request's `cancelled`.
                    let ack = ServerFrame::CancelRequested {
                        request_id,
                        client_msg_id,
                    };
                    send(tx, ack).await;
                    if let Err(e) = state.chat.stop_marked(&record).await {
                        // The mark holds: whichever worker picks the turn up stops it.
                        tracing::warn!(error = %e, %request_id, "could not finish a stop at once");
                    }
                }
                Err(e) => {
                    let frame = ServerFrame::error(
                        Some(request_id),
                        client_msg_id.as_deref(),
                        e.code(),
                        e.to_string(),
                    );
                    send(tx, frame).await;
                }
            }
        }
        ClientFrame::Ping => send(tx, ServerFrame::Pong).await,
    }
}

/// Reads a client frame, or the `error` frame that explains why it is not one.
fn parse_frame(text: &str) -> std::result::Result<ClientFrame, ServerFrame> {
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: Option<Value>,
        client_msg_id: Option<Value>,
        message: Option<Value>,
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|_| ServerFrame::error(None, None, "malformed_json", "frame is not valid JSON"))?;
    match serde_json::from_value::<ClientFrame>(value.clone()) {
        Ok(ClientFrame::Chat { message, .. }) if message.trim().is_empty() => {
            Err(ServerFrame::error(
                None,
                None,
                "message_required",
                "`message` must be a non-empty string",
            ))
        }
        Ok(frame) => Ok(frame),
        Err(e) => {
            // Explain the error in the client's terms (and echo its id when it gave one).
            let envelope = serde_json::from_value::<Envelope>(value).ok();
            let cmid = envelope
                .as_ref()
                .and_then(|e| e.client_msg_id.as_ref())
                .and_then(Value::as_str)
                .map(str::to_owned);
            let cmid = cmid.as_deref();
            let kind = envelope.as_ref().and_then(|e| e.kind.as_ref());
            let error = match kind {
                None => {
                    ServerFrame::error(None, cmid, "invalid_frame", "frame needs a `type` field")
                }
                Some(_) if e.to_string().starts_with("unknown variant") => ServerFrame::error(
                    None,
                    cmid,
                    "unknown_type",
                    "unknown frame type; expected `chat`, `resume`, `cancel` or `ping`",
                ),
                Some(_)
                    if envelope
                        .as_ref()
                        .is_some_and(|e| !matches!(e.message, Some(Value::String(_))))
                        && e.to_string().contains("message") =>
                {
                    ServerFrame::error(
                        None,
                        cmid,
                        "message_required",
                        "`message` must be a non-empty string",
                    )
                }
                Some(_) => {
                    ServerFrame::error(None, cmid, "invalid_frame", format!("invalid frame: {e}"))
                }
            };
            Err(error)
        }
    }
}

/// Queues a frame for the socket's writer.
async fn send(tx: &mpsc::Sender<Message>, frame: ServerFrame) {
    let _ = tx.send(Message::Text(frame.to_json().into())).await;
}

#[allow(clippy::too_many_arguments)]
async fn chat(
    state: &AppState,
    user_id: Uuid,
    message: &str,
    conversation_id: Option<i64>,
    cmid: Option<&str>,
    tx: &mpsc::Sender<Message>,
    slots: &Arc<Semaphore>,
    requests: &mut JoinSet<()>,
) {
    let message = match validate_message(message) {
        Ok(m) => m,
        Err(e) => {
            send(tx, ServerFrame::error(None, cmid, e.code(), e.to_string())).await;
            return;
        }
    };
    let Some(permit) = take_slot(slots, tx, None, cmid).await else {
        return;
    };
    // Accepting (store + publish) happens here, in frame order, so turns sent one after another
    // on a socket run in that order; following the reply happens in its own task.
    let request_id = request_id_for(user_id, cmid);
    let span = turn_span(user_id, request_id);
    let submitted = state
        .chat
        .submit(user_id, request_id, conversation_id, &message)
        .instrument(span.clone())
        .await;
    let follow = Follow {
        request_id,
        cmid,
        span,
        permit,
    };
    follow
        .start(submitted, tx, requests, |s| ServerFrame::Accepted {
            request_id,
            conversation_id: s.record.conversation_id,
            client_msg_id: cmid.map(str::to_owned),
        })
        .await;
}

/// One of the socket's [`MAX_IN_FLIGHT`] request slots, or a `too_many_in_flight` error frame.
async fn take_slot(
    slots: &Arc<Semaphore>,
    tx: &mpsc::Sender<Message>,
    request_id: Option<Uuid>,
    cmid: Option<&str>,
) -> Option<OwnedSemaphorePermit> {
    let permit = slots.clone().try_acquire_owned().ok();
    if permit.is_none() {
        let msg = format!("at most {MAX_IN_FLIGHT} requests may be in flight on one socket");
        send(
            tx,
            ServerFrame::error(request_id, cmid, "too_many_in_flight", msg),
        )
        .await;
    }
    permit
}

/// A request a socket is about to follow (after `chat` or `resume`).
struct Follow<'a> {
    request_id: Uuid,
    cmid: Option<&'a str>,
    span: tracing::Span,
    permit: OwnedSemaphorePermit,
}

impl Follow<'_> {
    /// On success sends the first frame (`first`) and relays the request's events in a task of
    /// the socket; on failure sends the `error` frame.
    async fn start(
        self,
        outcome: Result<Submitted>,
        tx: &mpsc::Sender<Message>,
        requests: &mut JoinSet<()>,
        first: impl FnOnce(&Submitted) -> ServerFrame,
    ) {
        let submitted = match outcome {
            Ok(s) => s,
            Err(e) => {
                let frame =
                    ServerFrame::error(Some(self.request_id), self.cmid, e.code(), e.to_string());
                send(tx, frame).await;
                return;
            }
        };
        self.span
            .record("conversation_id", submitted.record.conversation_id);
        let frame = first(&submitted);
        if tx
            .send(Message::Text(frame.to_json().into()))
            .await
            .is_err()
        {
            return;
        }
        let tx = tx.clone();
        let permit = self.permit;
        requests.spawn(
            async move {
                let _permit = permit;
                relay_events(submitted, tx).await;
            }
            .instrument(self.span),
        );
    }
}

/// The span of one chat turn on the api: the worker's log lines of the turn carry the same fields.
fn turn_span(user_id: Uuid, request_id: Uuid) -> tracing::Span {
    tracing::info_span!(
        "chat",
        %request_id,
        %user_id,
        conversation_id = tracing::field::Empty
    )
}

/// `{"type": "resume", "request_id": "…"}`: relays the rest of a request the user sent earlier,
/// on any socket of any api instance, ending with its final event (replayed from Postgres if it
/// already finished).
async fn resume(
    state: &AppState,
    user_id: Uuid,
    request_id: Uuid,
    cmid: Option<&str>,
    tx: &mpsc::Sender<Message>,
    slots: &Arc<Semaphore>,
    requests: &mut JoinSet<()>,
) {
    let Some(permit) = take_slot(slots, tx, Some(request_id), cmid).await else {
        return;
    };
    let span = turn_span(user_id, request_id);
    let resumed = state
        .chat
        .resume(user_id, request_id)
        .instrument(span.clone())
        .await;
    if let Ok(s) = &resumed {
        tracing::info!(parent: &span, status = %s.record.status, "resuming a request");
    }
    let follow = Follow {
        request_id,
        cmid,
        span,
        permit,
    };
    follow
        .start(resumed, tx, requests, |s| ServerFrame::Resumed {
            request_id,
            conversation_id: s.record.conversation_id,
            status: s.record.status,
            client_msg_id: cmid.map(str::to_owned),
        })
        .await;
}

async fn relay_events(mut submitted: Submitted, tx: mpsc::Sender<Message>) {
    while let Some(event) = submitted.events.next().await {
        let Ok(text) = Utf8Bytes::try_from(event.raw) else {
            continue;
        };
        if tx.send(Message::Text(text)).await.is_err() {
            return;
        }
    }
}
