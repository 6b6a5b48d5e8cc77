-- Shared helper: keep `updated_at` current on every update of a table that has the trigger.
create or replace function set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

create table users (
    id            uuid primary key default gen_random_uuid(),
    email         text not null check (length(email) between 3 and 254),
    name          text check (name is null or length(name) <= 100),
    password_hash text not null,
    -- last task number handed out to this user: tasks are numbered 1, 2, 3 ... per user
    task_seq      integer not null default 0,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);
create unique index users_email_lower_key on users (lower(email));
create trigger users_set_updated_at before update on users
    for each row execute function set_updated_at();

create table tasks (
    user_id     uuid not null references users (id) on delete cascade,
    id          integer not null check (id > 0),
    title       text not null check (length(title) between 1 and 200),
    description text check (description is null or length(description) <= 1000),
    completed   boolean not null default false,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    primary key (user_id, id)
);
-- serves the foreign key to users and "newest first" listings
create index tasks_user_id_created_at_idx on tasks (user_id, created_at desc, id desc);
create trigger tasks_set_updated_at before update on tasks
    for each row execute function set_updated_at();

create table conversations (
    id         bigint generated always as identity primary key,
    user_id    uuid not null references users (id) on delete cascade,
    title      text,
    -- last turn number handed out in this conversation (orders turns)
    turn_seq   bigint not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index conversations_user_id_idx on conversations (user_id, updated_at desc);
create trigger conversations_set_updated_at before update on conversations
    for each row execute function set_updated_at();

create table messages (
    id              bigint generated always as identity primary key,
    conversation_id bigint not null references conversations (id) on delete cascade,
    user_id         uuid not null references users (id) on delete cascade,
    role            text not null check (role in ('user', 'assistant')),
    content         text not null,
    tool_calls      jsonb not null default '[]'::jsonb,
    -- the chat request this message belongs to; a turn stores one message per role, once
    request_id      uuid not null,
    created_at      timestamptz not null default now(),
    unique (request_id, role)
);
create index messages_conversation_id_created_at_idx on messages (conversation_id, created_at, id);
create index messages_user_id_idx on messages (user_id);
