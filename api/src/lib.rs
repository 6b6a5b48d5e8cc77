//! The todo-chat api: the HTTP + WebSocket edge.
//!
//! - [`auth`]: signup / login / me, bcrypt, JWT, the `AuthUser` extractor and the ownership rule.
//! - [`tasks`]: the task REST API.
//! - [`chat`]: accepting chat turns (`service`: Postgres, then JetStream), following their reply
//!   events (`follow`), HTTP chat and conversation history routes (`routes`).
//! - [`ws`]: the WebSocket chat protocol.
//! - [`limits`]: rate limits (chat per user, login per email and per IP) answered 429.
//! - [`reconciler`]: publishes again unfinished requests whose message was lost.
//! - [`live`]: task changes (from any front end, any process) pushed to the user's open sockets.
//! - [`mcp`]: the task tools over the Model Context Protocol at `/mcp` (bearer auth).
//! - [`migrate`]: `api migrate up | down | status`, the schema as an operator command.
//! - [`web`]: the chat web app served at `/` (assets embedded in the binary).
//! - [`sessions`]: revoked sessions broadcast to every instance's open sockets.
//! - [`health`]: the `/health` route and the `/metrics` listener.
//! - [`http`]: middleware (request id, logs, timeout, CORS, JSON fallbacks) and the OpenAPI document.
//! - [`error`]: the one error type and its JSON shape.
//! - [`startup`]: [`Application`], which wires everything and runs until a shutdown signal.

pub mod auth;
pub mod chat;
pub mod error;
pub mod health;
pub mod http;
pub mod limits;
pub mod live;
pub mod mcp;
pub mod migrate;
pub mod reconciler;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod tasks;
pub mod web;
pub mod ws;

pub use startup::Application;
