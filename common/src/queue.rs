//! JetStream plumbing shared by the api (publisher) and workers (consumers): connecting, and
//! creating the request stream and the shared durable pull consumer idempotently, whoever starts first.

use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, consumer, stream};

use crate::chat::ChatRequestRecord;
use crate::config::NatsConfig;
use crate::schema::{ChatRequest, SCHEMA_VERSION};

/// How long the stream remembers a `Nats-Msg-Id` to drop duplicate publishes.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Connects to NATS. The client keeps retrying in the background if the server is down at start-up,
/// so a process can start and report itself unhealthy instead of crashing.
pub async fn connect(
    config: &NatsConfig,
    name: &str,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let mut options = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2));
    if let Some((user, password)) = &config.credentials {
        use secrecy::ExposeSecret;
        options = options
            .user_and_password(user.clone(), password.expose_secret().to_owned())
            .custom_inbox_prefix(inbox_prefix(user));
    }
    // NATS_URL may list several servers of a cluster: the client starts with any of them and
    // moves to another (also to servers the cluster announces) when one goes away.
    let servers: Result<Vec<async_nats::ServerAddr>, _> =
        config.url.split(',').map(|u| u.trim().parse()).collect();
    match servers {
        Ok(servers) => options.connect(servers.as_slice()).await,
        Err(_) => options.connect(config.url.as_str()).await,
    }
}

/// The inbox prefix of a NATS role: replies to a role's requests (JetStream API answers, pulled
/// messages) arrive under it, and only that role may subscribe there (deploy/nats/nats.conf), so
/// no other client can read them.
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

/// Waits up to `timeout` for the client's first connection (it keeps trying in the background
/// after that); returns whether it is connected.
pub async fn wait_connected(client: &async_nats::Client, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while client.connection_state() != async_nats::connection::State::Connected {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// The request stream's configuration: work-queue retention (a request is removed once acked),
/// file storage, bounded size that refuses new publishes when full, duplicate window.
pub fn stream_config(config: &NatsConfig) -> stream::Config {
    stream::Config {
        name: config.stream.clone(),
        description: Some("todo-chat chat requests (schema v1, see docs/QUEUE.md)".into()),
        subjects: vec![config.request_subject()],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        max_messages: config.stream_max_msgs,
        discard: stream::DiscardPolicy::New,
        duplicate_window: DUPLICATE_WINDOW,
        num_replicas: config.stream_replicas,
        ..Default::default()
    }
}

/// The shared consumer's configuration: durable, explicit ack, bounded deliveries.
pub fn consumer_config(config: &NatsConfig) -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(config.consumer.clone()),
        description: Some("todo-chat workers".into()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_deliver: config.max_deliver,
        max_ack_pending: 10_000,
        ..Default::default()
    }
}

/// Creates (or finds) the request stream.
pub async fn ensure_stream(
    js: &jetstream::Context,
    config: &NatsConfig,
) -> anyhow::Result<stream::Stream> {
    js.get_or_create_stream(stream_config(config))
        .await
        .map_err(|e| anyhow::anyhow!("creating JetStream stream {}: {e}", config.stream))
}

/// Creates (or finds) the stream and the shared durable pull consumer.
pub async fn ensure_consumer(
    js: &jetstream::Context,
    config: &NatsConfig,
) -> anyhow::Result<consumer::Consumer<consumer::pull::Config>> {
    let stream = ensure_stream(js, config).await?;
    stream
        .get_or_create_consumer(&config.consumer, consumer_config(config))
        .await
        .map_err(|e| anyhow::anyhow!("creating JetStream consumer {}: {e}", config.consumer))
}

/// Publishes a stored chat request to the request stream and waits (at most `timeout`) for
/// JetStream's acknowledgement; `true` when the stream dropped it as a duplicate. The
/// `Nats-Msg-Id` is the request id, so publishing the same request again within
/// [`DUPLICATE_WINDOW`] is dropped by the stream.
pub async fn publish_request(
    js: &jetstream::Context,
    config: &NatsConfig,
    record: &ChatRequestRecord,
    timeout: Duration,
) -> anyhow::Result<bool> {
    publish_with_id(js, config, record, record.request_id.to_string(), timeout).await
}

/// Publishes a request the api has just stored (never seen in Postgres before). Should the
/// stream call it a duplicate, a request with this id was published in the last
/// [`DUPLICATE_WINDOW`] and then deleted from Postgres (its conversation was deleted, and the
/// client reused its idempotency key): that message is gone, so this one is published again under
/// a message id of its own. (A second delivery of a live one would be harmless: a turn runs once.)
pub async fn publish_new_request(
    js: &jetstream::Context,
    config: &NatsConfig,
    record: &ChatRequestRecord,
    timeout: Duration,
) -> anyhow::Result<()> {
    if publish_request(js, config, record, timeout).await? {
        let unique = format!("{}.{}", record.request_id, uuid::Uuid::new_v4().simple());
        publish_with_id(js, config, record, unique, timeout).await?;
    }
    Ok(())
}

/// The request of `record` on the request subject under `Nats-Msg-Id: message_id`; whether the
/// stream called it a duplicate.
async fn publish_with_id(
    js: &jetstream::Context,
    config: &NatsConfig,
    record: &ChatRequestRecord,
    message_id: String,
    timeout: Duration,
) -> anyhow::Result<bool> {
    let request = ChatRequest {
        v: SCHEMA_VERSION,
        request_id: record.request_id,
        user_id: record.user_id,
        conversation_id: Some(record.conversation_id),
        message: record.message.clone(),
        reply_to: record.reply_to.clone(),
        turn: Some(record.turn),
    };
    let payload = serde_json::to_vec(&request)?;
    let ack = js
        .send_publish(
            config.request_subject(),
            PublishMessage::build()
                .payload(payload.into())
                .message_id(message_id),
        )
        .await?;
    let ack = tokio::time::timeout(timeout, ack)
        .await
        .map_err(|_| anyhow::anyhow!("JetStream did not acknowledge the publish in time"))??;
    Ok(ack.duplicate)
}
