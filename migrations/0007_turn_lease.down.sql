alter table chat_requests drop column reply_to, drop column lease_expires_at;
