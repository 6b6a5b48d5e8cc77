-- Tasks that know time: due dates, priorities, tags, repeats; the user's timezone; and a history of
-- every change to a task, written in the same transaction as the change.

alter table users
    add column timezone   text not null default 'UTC' check (length(timezone) between 1 and 64),
    -- how an ambiguous numeric date such as 3/4 is read: day first (3 April) or month first (March 4)
    add column date_order text not null default 'dmy' check (date_order in ('dmy', 'mdy'));

alter table tasks
    -- an instant; for an all-day task (due_has_time = false) the local midnight that starts the day
    add column due_at       timestamptz,
    add column due_has_time boolean not null default false,
    -- 0 none, 1 low, 2 medium, 3 high: sorts and filters ("at least medium") as numbers
    add column priority     smallint not null default 0 check (priority between 0 and 3),
    add column tags         text[] not null default '{}' check (cardinality(tags) <= 10),
    -- RFC 5545 RRULE text in the subset the application accepts (FREQ, INTERVAL, BYDAY, BYMONTHDAY)
    add column repeat       text check (repeat is null or length(repeat) between 1 and 200),
    add column completed_at timestamptz;

update tasks set completed_at = updated_at where completed;

create index tasks_user_id_due_at_idx on tasks (user_id, due_at) where due_at is not null;
create index tasks_user_id_priority_idx on tasks (user_id, priority desc);
create index tasks_tags_idx on tasks using gin (tags);

-- Who changed which task, how, and when: every create, update, completion, reopening and delete,
-- with the task as it was before and after (null before a create and after a delete).
create table task_history (
    id              bigint generated always as identity primary key,
    user_id         uuid not null references users (id) on delete cascade,
    task_id         integer not null,
    action          text not null
                    check (action in ('created', 'updated', 'completed', 'reopened', 'deleted', 'restored')),
    -- the front end that made the change: the REST API, a chat tool, or an undo
    source          text not null check (source in ('rest', 'chat', 'mcp', 'undo')),
    -- the chat turn (and its conversation) that made it, for chat changes and undos
    request_id      uuid,
    conversation_id bigint references conversations (id) on delete set null,
    before          jsonb,
    after           jsonb,
    -- set when an undo reverted this change: the undo's chat turn
    undone_by       uuid,
    created_at      timestamptz not null default now()
);
create index task_history_user_id_task_id_idx on task_history (user_id, task_id, id);
create index task_history_conversation_id_idx on task_history (conversation_id, id)
    where conversation_id is not null;

-- A bulk change waiting for the user's yes / no, as data of the conversation: what would be done
-- to which tasks, and the turn that asked (only the next turn can confirm it).
alter table conversations add column pending_action jsonb;

-- What an agent remembers from its own reply for the next turn (e.g. the tasks a question offered).
alter table messages add column agent_state jsonb;
