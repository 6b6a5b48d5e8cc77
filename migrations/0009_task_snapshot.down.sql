drop function task_snapshot(tasks);
drop function todo_rfc3339(timestamptz);
