-- Durable agent turns: every model response that asks for tool calls is journaled before any of
-- its tools run (the calls exactly as the model gave them). A retried turn rebuilds the
-- conversation from this journal and the recorded tool results (tool_effects, by call index) and
-- asks the model only for what comes after: recorded steps are never executed twice or re-decided.
create table turn_steps (
    request_id uuid not null references chat_requests (request_id) on delete cascade,
    -- 0, 1, 2 ... in the order the model answered
    step       integer not null check (step >= 0),
    -- text the model wrote along with its tool calls
    content    text not null default '',
    -- [{"id": …, "name": …, "arguments": "<JSON text as the model sent it>"}]
    tool_calls jsonb not null,
    created_at timestamptz not null default now(),
    primary key (request_id, step)
);
