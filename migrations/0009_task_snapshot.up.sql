-- A task's history snapshot built by Postgres, so that a change and its history row are one
-- statement. The JSON is exactly what the application's serde encoding of a task gives (chrono's
-- RFC 3339 in UTC with a `Z` and 0, 3 or 6 fraction digits; priority by name), so rows written
-- either way read the same through the history API and undo.

-- An instant as chrono writes it (`2026-12-05T17:00:00.250Z`); null for null.
create function todo_rfc3339(t timestamptz) returns text
language sql stable strict parallel safe
return to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || case
           when extract(microseconds from t)::bigint % 1000000 = 0 then ''
           when extract(microseconds from t)::bigint % 1000 = 0 then to_char(t at time zone 'UTC', '.MS')
           else to_char(t at time zone 'UTC', '.US')
       end
    || 'Z';

-- The task as its history stores it; null when an instant lies outside the years 1 to 9999
-- (written differently by the two encoders): the application then writes that row itself.
create function task_snapshot(t tasks) returns jsonb
language sql stable parallel safe
return case
    when (t.due_at is null or t.due_at between '0001-01-01T00:00:00Z' and '9999-12-31T23:59:59.999999Z')
     and (t.completed_at is null or t.completed_at between '0001-01-01T00:00:00Z' and '9999-12-31T23:59:59.999999Z')
     and t.created_at between '0001-01-01T00:00:00Z' and '9999-12-31T23:59:59.999999Z'
     and t.updated_at between '0001-01-01T00:00:00Z' and '9999-12-31T23:59:59.999999Z'
    then jsonb_build_object(
        'id', t.id,
        'user_id', t.user_id,
        'title', t.title,
        'description', t.description,
        'completed', t.completed,
        'completed_at', todo_rfc3339(t.completed_at),
        'due_at', todo_rfc3339(t.due_at),
        'due_has_time', t.due_has_time,
        'priority', (array['none', 'low', 'medium', 'high'])[t.priority + 1],
        'tags', to_jsonb(t.tags),
        'repeat', t.repeat,
        'created_at', todo_rfc3339(t.created_at),
        'updated_at', todo_rfc3339(t.updated_at))
end;
