-- Operations: per-user in-flight limits, the reconciler's scan and the dead-letter record.

-- Counting a user's unanswered requests (the in-flight limit) reads only this small index.
create index chat_requests_user_in_flight_idx on chat_requests (user_id)
    where status in ('queued', 'running');
-- The reconciler looks for unfinished requests that nothing has touched for a while.
create index chat_requests_stale_idx on chat_requests (updated_at)
    where status in ('queued', 'running');
drop index chat_requests_pending_idx;

-- Requests the workers gave up on: malformed or unknown messages, and turns that failed on their
-- last delivery. One row per message given up (a request id may repeat if it was published again).
create table dead_letters (
    id          bigserial primary key,
    -- null when the message could not be parsed
    request_id  uuid,
    user_id     uuid,
    -- `malformed`, `invalid_request`, `not_found` or `retries_exhausted`
    reason      text not null,
    cause       text not null,
    deliveries  bigint not null,
    -- the message as published (truncated to 64 KiB), to inspect or publish again
    payload     text not null,
    created_at  timestamptz not null default now()
);
create index dead_letters_created_at_idx on dead_letters (created_at);
create index dead_letters_request_id_idx on dead_letters (request_id);
