//! End-to-end tests of todo-chat: the real api and workers against real Postgres and NATS.
//! One test binary, one module per feature.

mod auth;
mod backup;
mod browser;
mod chat;
mod cli;
mod clients;
mod durable;
mod health;
mod loadgen;
mod mcp;
mod migrate;
mod nats_roles;
mod openai;
mod openapi;
mod operations;
mod queue;
mod schema;
mod security;
mod smoke;
mod tasks;
mod tasks_db;
mod time;
mod turns_db;
