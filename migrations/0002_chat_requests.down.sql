drop table if exists tool_effects;
drop table if exists chat_requests;
