-- A turn starts only when no earlier turn of its conversation is unfinished. That check reads the
-- conversation's own unfinished turns through this small index, instead of walking all of the
-- conversation's turns or intersecting with the whole table's unfinished ones.
create index chat_requests_conversation_unfinished_idx on chat_requests (conversation_id, turn)
    where status in ('queued', 'running');
