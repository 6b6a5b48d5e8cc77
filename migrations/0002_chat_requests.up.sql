-- Postgres is the system of record for chat turns: every accepted request is stored here before it is
-- acknowledged to the client, and every tool effect is recorded in the same transaction as the effect,
-- so a redelivered turn replays what it already did instead of doing it twice.
create table chat_requests (
    request_id      uuid primary key,
    user_id         uuid not null references users (id) on delete cascade,
    conversation_id bigint not null references conversations (id) on delete cascade,
    -- position of this turn in its conversation: turns run strictly in this order
    turn            bigint not null,
    message         text not null,
    status          text not null default 'queued'
                    check (status in ('queued', 'running', 'done', 'failed')),
    attempts        integer not null default 0,
    -- the final `done` (or `error`) event, replayed to late or duplicate requesters
    result          jsonb,
    error           text,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (conversation_id, turn)
);
create index chat_requests_user_id_idx on chat_requests (user_id);
create index chat_requests_pending_idx on chat_requests (created_at) where status in ('queued', 'running');
create trigger chat_requests_set_updated_at before update on chat_requests
    for each row execute function set_updated_at();

create table tool_effects (
    request_id uuid not null references chat_requests (request_id) on delete cascade,
    call_index integer not null,
    tool       text not null,
    arguments  jsonb not null,
    result     jsonb not null,
    created_at timestamptz not null default now(),
    primary key (request_id, call_index)
);
