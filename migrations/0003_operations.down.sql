drop table dead_letters;
drop index chat_requests_stale_idx;
drop index chat_requests_user_in_flight_idx;
create index chat_requests_pending_idx on chat_requests (created_at) where status in ('queued', 'running');
