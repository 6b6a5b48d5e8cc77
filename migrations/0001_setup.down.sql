drop table if exists messages;
drop table if exists conversations;
drop table if exists tasks;
drop table if exists users;
drop function if exists set_updated_at();
