drop table revoked_tokens;
alter table users drop column token_version;
