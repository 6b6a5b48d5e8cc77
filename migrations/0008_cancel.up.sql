-- Stopping a reply: a turn can end `cancelled` (its stored final event is the `cancelled` event);
-- `cancel_requested_at` tells any worker that picks the turn up not to run it (further); an
-- assistant message cut short is kept and marked `stopped`.
alter table chat_requests drop constraint chat_requests_status_check;
alter table chat_requests add constraint chat_requests_status_check
    check (status in ('queued', 'running', 'done', 'failed', 'cancelled'));
alter table chat_requests add column cancel_requested_at timestamptz;
alter table messages add column stopped boolean not null default false;
