-- A running attempt's lease gets its own column (it was `updated_at`, which every update bumps),
-- and a request keeps the reply subject it was published with (`reply_to`), so that a redelivery
-- or a re-publish by the reconciler answers on the same subject.
alter table chat_requests
    add column lease_expires_at timestamptz,
    add column reply_to text check (reply_to is null or length(reply_to) between 1 and 256);
update chat_requests set lease_expires_at = updated_at + interval '30 seconds' where status = 'running';
