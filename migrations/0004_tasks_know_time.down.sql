alter table messages drop column agent_state;
alter table conversations drop column pending_action;
drop table task_history;
drop index tasks_tags_idx;
drop index tasks_user_id_priority_idx;
drop index tasks_user_id_due_at_idx;
alter table tasks
    drop column completed_at,
    drop column repeat,
    drop column tags,
    drop column priority,
    drop column due_has_time,
    drop column due_at;
alter table users drop column date_order, drop column timezone;
