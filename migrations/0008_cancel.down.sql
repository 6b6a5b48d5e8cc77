alter table messages drop column stopped;
alter table chat_requests drop column cancel_requested_at;
update chat_requests set status = 'failed' where status = 'cancelled';
alter table chat_requests drop constraint chat_requests_status_check;
alter table chat_requests add constraint chat_requests_status_check
    check (status in ('queued', 'running', 'done', 'failed'));
