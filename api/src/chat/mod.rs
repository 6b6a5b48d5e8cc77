//! Chat on the api side, shared by the WebSocket and the HTTP interface:
//!
//! - [`service`]: accepting a turn (store it in Postgres, then publish it to JetStream).
//! - [`follow`]: following a turn's reply events (core NATS at most once, so while waiting the api
//!   also checks Postgres, the system of record, for a final event it may have missed).
//! - [`router`]: the instance's one subscription to the reply events of the turns it accepted.
//! - [`routes`]: `POST /api/{user_id}/chat` and the conversation history routes.
//!
//! Input rules for a message and its idempotency key are here, used by both interfaces.

pub mod follow;
pub mod router;
pub mod routes;
pub mod service;

use todo_common::schema::MESSAGE_MAX_CHARS;
use uuid::Uuid;

use crate::error::{ApiError, Result};

pub use follow::{RelayedEvent, RequestEvents};
pub use router::EventRouter;
pub use routes::router;
pub use service::{ChatService, Submitted};

/// Namespace of request ids derived from a client-supplied idempotency key.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_1a5e_8c1e_4f0b_9d7a_2f1e_0c3b_5a77);

/// Validates a chat message: trimmed, non-empty, at most 10 000 characters.
pub fn validate_message(raw: &str) -> Result<String> {
    let message = raw.trim();
    if message.is_empty() {
        return Err(ApiError::validation(
            "message_required",
            "message",
            "message must not be empty",
        ));
    }
    if message.chars().count() > MESSAGE_MAX_CHARS {
        return Err(ApiError::validation(
            "message_too_long",
            "message",
            format!("message must be at most {MESSAGE_MAX_CHARS} characters"),
        ));
    }
    if message.contains('\0') {
        return Err(ApiError::validation(
            "message_invalid",
            "message",
            "message must not contain NUL characters",
        ));
    }
    Ok(message.to_owned())
}

/// The request id for a turn: derived from the client's idempotency key when it gives one (so a
/// retried send is served once), random otherwise.
pub fn request_id_for(user_id: Uuid, idempotency_key: Option<&str>) -> Uuid {
    match idempotency_key.map(str::trim).filter(|k| !k.is_empty()) {
        Some(key) => Uuid::new_v5(
            &IDEMPOTENCY_NAMESPACE,
            format!("{user_id}:{key}").as_bytes(),
        ),
        None => Uuid::new_v4(),
    }
}
