-- Revocable sessions: a token carries its id (jti) and the user's token version. Logging out records
-- the id here until the token would have expired; changing the password bumps the version, which
-- ends every older token.
alter table users add column token_version integer not null default 0;

create table revoked_tokens (
    jti        uuid primary key,
    user_id    uuid not null references users (id) on delete cascade,
    -- after this the token is expired anyway and the row can go
    expires_at timestamptz not null
);
create index revoked_tokens_user_id_idx on revoked_tokens (user_id);
create index revoked_tokens_expires_at_idx on revoked_tokens (expires_at);
