//! The task SQL. Every function that changes a task appends to `task_history` on the same
//! connection: call them inside a transaction (`pool.begin()`) so that the change and its history
//! commit together. The common changes write their history row in the same statement as the change
//! (Postgres builds the snapshot: `task_snapshot`, migration 0009); `record` writes it when that
//! could not be done.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::{DueFilter, LIST_LIMIT_DEFAULT, Priority, Sort, StatusFilter, Task};
use crate::when::{Clock, Due, Repeat};

macro_rules! task_columns {
    () => {
        "id, user_id, title, description, completed, completed_at, due_at, due_has_time, priority, tags, repeat, created_at, updated_at"
    };
}

/// What a change of one task returns, then its history row in the same statement. The change is a
/// CTE `changed` that returns the task's columns and `task_snapshot(tasks) as snapshot`; `$row`
/// gives the history row's action, source, request, conversation, before and after. The
/// statement returns the task and `recorded` (false when `task_snapshot` could not encode it:
/// [`record`] then writes the row).
macro_rules! with_history {
    ($row:literal) => {
        concat!(
            ", history as (
                 insert into task_history
                     (user_id, task_id, action, source, request_id, conversation_id, before, after)
                 select user_id, id, ",
            $row,
            " from changed where snapshot is not null
                 returning 1)
             select ",
            task_columns!(),
            ", exists (select 1 from history) as recorded from changed"
        )
    };
}

/// Which front end changed a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Rest,
    Chat,
    Mcp,
    Undo,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::Rest => "rest",
            Self::Chat => "chat",
            Self::Mcp => "mcp",
            Self::Undo => "undo",
        }
    }
}

/// Who makes a change: recorded in the task's history.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub source: Source,
    /// The chat turn making the change.
    pub request_id: Option<Uuid>,
    pub conversation_id: Option<i64>,
}

impl Actor {
    pub fn rest() -> Self {
        Self {
            source: Source::Rest,
            request_id: None,
            conversation_id: None,
        }
    }

    pub fn chat(request_id: Uuid, conversation_id: i64) -> Self {
        Self {
            source: Source::Chat,
            request_id: Some(request_id),
            conversation_id: Some(conversation_id),
        }
    }
}

/// A validated new task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub due: Option<Due>,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub repeat: Option<Repeat>,
}

/// A change to a task: `None` leaves a field as it is; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub due: Option<Option<Due>>,
    pub priority: Option<Priority>,
    pub tags: Option<Vec<String>>,
    pub repeat: Option<Option<Repeat>>,
    pub completed: Option<bool>,
}

impl TaskChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    fn apply(&self, task: &Task, now: DateTime<Utc>) -> Task {
        let mut t = task.clone();
        if let Some(title) = &self.title {
            t.title.clone_from(title);
        }
        if let Some(d) = &self.description {
            t.description.clone_from(d);
        }
        if let Some(due) = self.due {
            t.due_at = due.map(|d| d.at);
            t.due_has_time = due.is_some_and(|d| d.has_time);
        }
        if let Some(p) = self.priority {
            t.priority = p;
        }
        if let Some(tags) = &self.tags {
            t.tags.clone_from(tags);
        }
        if let Some(r) = &self.repeat {
            t.repeat = r.as_ref().map(Repeat::to_rrule);
        }
        if let Some(c) = self.completed
            && c != t.completed
        {
            t.completed = c;
            t.completed_at = c.then_some(now);
        }
        t
    }
}

/// A listing's filters, order and page.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: StatusFilter,
    pub due: Option<DueFilter>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
    /// Completed before this instant (so completed).
    pub completed_before: Option<DateTime<Utc>>,
    /// Completed after this instant (so completed).
    pub completed_after: Option<DateTime<Utc>>,
    /// At least this priority.
    pub min_priority: Option<Priority>,
    /// At most this priority (with `min_priority` the same: exactly it).
    pub max_priority: Option<Priority>,
    /// Every one of these tags.
    pub tags: Vec<String>,
    /// At least one of these tags ("home or work"); empty: no such condition.
    pub any_tags: Vec<String>,
    /// None of these tags ("everything except work").
    pub not_tags: Vec<String>,
    /// Case-insensitive text in the title or description (`%` and `_` are literal).
    pub text: Option<String>,
    /// Only repeating tasks (`true`) or only one-off ones (`false`).
    pub repeating: Option<bool>,
    /// Only tasks with at least one tag (`true`) or with none (`false`).
    pub tagged: Option<bool>,
    pub sort: Sort,
    pub limit: Option<u32>,
    pub cursor: Option<Cursor>,
}

/// Where a page ends: the sort keys of its last task. Opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    sort: Sort,
    priority: i16,
    no_due: bool,
    at: DateTime<Utc>,
    id: i32,
}

impl Cursor {
    fn after(task: &Task, sort: Sort) -> Self {
        Self {
            sort,
            priority: task.priority as i16,
            no_due: task.due_at.is_none(),
            at: match sort {
                Sort::Created | Sort::Oldest => task.created_at,
                Sort::Due | Sort::Priority => task.due_at.unwrap_or(DateTime::UNIX_EPOCH),
            },
            id: task.id,
        }
    }

    pub fn encode(&self) -> String {
        let sort = match self.sort {
            Sort::Created => 'c',
            Sort::Due => 'd',
            Sort::Priority => 'p',
            Sort::Oldest => 'o',
        };
        format!(
            "{sort}{}.{}.{}.{}",
            self.priority,
            u8::from(self.no_due),
            self.at.timestamp_micros(),
            self.id
        )
    }

    /// Reads a cursor made for `sort`; `None` when it is malformed or was made for another order.
    pub fn decode(text: &str, sort: Sort) -> Option<Self> {
        let expected = match sort {
            Sort::Created => 'c',
            Sort::Due => 'd',
            Sort::Priority => 'p',
            Sort::Oldest => 'o',
        };
        let rest = text.strip_prefix(expected)?;
        let mut parts = rest.split('.');
        let priority: i16 = parts.next()?.parse().ok().filter(|p| (0..=3).contains(p))?;
        let no_due = match parts.next()? {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        let at = DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?;
        let id = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Self {
            sort,
            priority,
            no_due,
            at,
            id,
        })
    }
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page {
    pub tasks: Vec<Task>,
    /// Where the next page starts, when there is one.
    pub next: Option<Cursor>,
}

/// `%` and `_` match themselves.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

macro_rules! list_where {
    () => {
        " from tasks
         where user_id = $1
           and ($2::boolean is null or completed = $2)
           and ($3::timestamptz is null or due_at < $3)
           and ($4::timestamptz is null or due_at > $4)
           and ($5::smallint is null or priority >= $5)
           and (cardinality($6::text[]) = 0 or tags @> $6)
           and ($7::text is null or title ilike $7 or coalesce(description, '') ilike $7)
           and ($8::text is null
                or ($8 = 'overdue' and not completed
                    and due_at < case when due_has_time then $9 else $10 end)
                or ($8 = 'today' and due_at >= $10 and due_at < $11)
                or ($8 = 'tomorrow' and due_at >= $11 and due_at < $12)
                or ($8 = 'week' and due_at >= $10 and due_at < $13)
                or ($8 = 'none' and due_at is null))
           and ($14::timestamptz is null or completed_at < $14)
           and ($15::timestamptz is null or completed_at > $15)
           and ($16::smallint is null or priority <= $16)
           and ($17::boolean is null or (repeat is not null) = $17)
           and ($18::boolean is null or (cardinality(tags) > 0) = $18)
           and (cardinality($19::text[]) = 0 or tags && $19)
           and (cardinality($20::text[]) = 0 or not tags && $20) "
    };
}

/// The user's tasks matching `filter`, one page at a time.
pub async fn list(
    conn: &mut PgConnection,
    user_id: Uuid,
    filter: &ListFilter,
    clock: &Clock,
) -> sqlx::Result<Page> {
    let limit = filter.limit.unwrap_or(LIST_LIMIT_DEFAULT).max(1);
    let sql = match filter.sort {
        Sort::Created => concat!(
            "select ",
            task_columns!(),
            list_where!(),
            "and ($21::boolean is not true or (created_at, id) < ($22, $23))
             order by created_at desc, id desc limit $24"
        ),
        Sort::Oldest => concat!(
            "select ",
            task_columns!(),
            list_where!(),
            "and ($21::boolean is not true or (created_at, id) > ($22, $23))
             order by created_at, id limit $24"
        ),
        Sort::Due => concat!(
            "select ",
            task_columns!(),
            list_where!(),
            "and ($21::boolean is not true
                  or ((due_at is null), coalesce(due_at, 'epoch'::timestamptz), id) > ($22, $23, $24))
             order by (due_at is null), due_at, id limit $25"
        ),
        Sort::Priority => concat!(
            "select ",
            task_columns!(),
            list_where!(),
            "and ($21::boolean is not true
                  or (-priority, (due_at is null), coalesce(due_at, 'epoch'::timestamptz), id)
                     > (-$22::smallint, $23, $24, $25))
             order by priority desc, (due_at is null), due_at, id limit $26"
        ),
    };
    let cursor = filter.cursor;
    let query = sqlx::query_as(sql)
        .bind(user_id)
        .bind(filter.status.completed())
        .bind(filter.due_before)
        .bind(filter.due_after)
        .bind(filter.min_priority.map(|p| p as i16))
        .bind(&filter.tags)
        .bind(filter.text.as_deref().map(like_pattern))
        .bind(filter.due.map(DueFilter::as_str))
        .bind(clock.now)
        .bind(clock.day_bounds(0))
        .bind(clock.day_bounds(1))
        .bind(clock.day_bounds(2))
        .bind(clock.day_bounds(clock.days_left_in_week()))
        .bind(filter.completed_before)
        .bind(filter.completed_after)
        .bind(filter.max_priority.map(|p| p as i16))
        .bind(filter.repeating)
        .bind(filter.tagged)
        .bind(&filter.any_tags)
        .bind(&filter.not_tags)
        .bind(cursor.is_some());
    // The keyset of the page's order, then the limit (one more row tells whether a next page exists).
    let query = match filter.sort {
        Sort::Created | Sort::Oldest => query,
        Sort::Due => query.bind(cursor.is_some_and(|c| c.no_due)),
        Sort::Priority => query
            .bind(cursor.map_or(0, |c| c.priority))
            .bind(cursor.is_some_and(|c| c.no_due)),
    };
    let mut tasks: Vec<Task> = query
        .bind(cursor.map_or(DateTime::UNIX_EPOCH, |c| c.at))
        .bind(cursor.map_or(0, |c| c.id))
        .bind(i64::from(limit) + 1)
        .fetch_all(conn)
        .await?;
    let next = if tasks.len() > limit as usize {
        tasks.truncate(limit as usize);
        tasks.last().map(|t| Cursor::after(t, filter.sort))
    } else {
        None
    };
    Ok(Page { tasks, next })
}

pub async fn get(conn: &mut PgConnection, user_id: Uuid, id: i32) -> sqlx::Result<Option<Task>> {
    sqlx::query_as::<_, Task>(concat!(
        "select ",
        task_columns!(),
        " from tasks where user_id = $1 and id = $2"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Tasks named by `(user_id, task_id)` pairs (those that exist), each with its user's clock: one
/// statement for any number of users. Tasks that do not exist (any more) are simply absent.
pub async fn get_many_with_clock(
    conn: &mut PgConnection,
    tasks: &[(Uuid, i32)],
) -> sqlx::Result<Vec<(Task, Clock)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        timezone: String,
        date_order: String,
        #[sqlx(flatten)]
        task: Task,
    }
    let (users, ids): (Vec<Uuid>, Vec<i32>) = tasks.iter().copied().unzip();
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "select u.timezone, u.date_order, t.*
         from unnest($1::uuid[], $2::int[]) as w (user_id, task_id)
         join users u on u.id = w.user_id
         cross join lateral (select ",
        task_columns!(),
        " from tasks where user_id = w.user_id and id = w.task_id) t"
    ))
    .bind(&users)
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.task, Clock::of_user(&r.timezone, &r.date_order)))
        .collect())
}

/// Locks a task for a change in this transaction.
async fn get_for_update(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: i32,
) -> sqlx::Result<Option<Task>> {
    sqlx::query_as::<_, Task>(concat!(
        "select ",
        task_columns!(),
        " from tasks where user_id = $1 and id = $2 for update"
    ))
    .bind(user_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

fn snapshot(task: Option<&Task>) -> Option<Json<&Task>> {
    task.map(Json)
}

/// A task a statement changed, and whether the same statement wrote its history row.
#[derive(sqlx::FromRow)]
struct Changed {
    #[sqlx(flatten)]
    task: Task,
    recorded: bool,
}

async fn record(
    conn: &mut PgConnection,
    user_id: Uuid,
    task_id: i32,
    action: &str,
    actor: &Actor,
    before: Option<&Task>,
    after: Option<&Task>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into task_history (user_id, task_id, action, source, request_id, conversation_id, before, after)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(user_id)
    .bind(task_id)
    .bind(action)
    .bind(actor.source.as_str())
    .bind(actor.request_id)
    .bind(actor.conversation_id)
    .bind(snapshot(before))
    .bind(snapshot(after))
    .execute(conn)
    .await?;
    Ok(())
}

/// What [`create`] did.
#[derive(Debug, Clone)]
pub enum Created {
    Task(Task),
    /// The user already has `max_tasks` tasks.
    LimitReached(u32),
    UserMissing,
}

/// Creates a task with the user's next task number, unless the user has `max_tasks` already.
pub async fn create(
    conn: &mut PgConnection,
    user_id: Uuid,
    new: &NewTask,
    actor: &Actor,
    max_tasks: Option<u32>,
) -> sqlx::Result<Created> {
    let limit = max_tasks.map(i64::from);
    let changed = sqlx::query_as::<_, Changed>(concat!(
        "with seq as (
             update users set task_seq = task_seq + 1
             where id = $1
               and ($9::bigint is null or (select count(*) from tasks where user_id = $1) < $9)
             returning task_seq
         ), changed as (
             insert into tasks (user_id, id, title, description, due_at, due_has_time, priority, tags, repeat)
             select $1, task_seq, $2, $3, $4, $5, $6, $7, $8 from seq
             returning ",
        task_columns!(),
        ", task_snapshot(tasks) as snapshot)",
        with_history!("'created', $10, $11, $12, null, snapshot")
    ))
    .bind(user_id)
    .bind(&new.title)
    .bind(new.description.as_deref())
    .bind(new.due.map(|d| d.at))
    .bind(new.due.is_some_and(|d| d.has_time))
    .bind(new.priority)
    .bind(&new.tags)
    .bind(new.repeat.as_ref().map(Repeat::to_rrule))
    .bind(limit)
    .bind(actor.source.as_str())
    .bind(actor.request_id)
    .bind(actor.conversation_id)
    .fetch_optional(&mut *conn)
    .await?;
    match changed {
        Some(Changed { task, recorded }) => {
            if !recorded {
                record(conn, user_id, task.id, "created", actor, None, Some(&task)).await?;
            }
            Ok(Created::Task(task))
        }
        None => {
            let exists: bool =
                sqlx::query_scalar("select exists(select 1 from users where id = $1)")
                    .bind(user_id)
                    .fetch_one(conn)
                    .await?;
            Ok(match (exists, max_tasks) {
                (true, Some(max)) => Created::LimitReached(max),
                _ => Created::UserMissing,
            })
        }
    }
}

/// One task for [`create_many`] to create.
#[derive(Debug, Clone, Copy)]
pub struct NewTaskFor<'a> {
    pub user_id: Uuid,
    pub new: &'a NewTask,
    pub actor: &'a Actor,
    pub max_tasks: Option<u32>,
}

/// A task [`create_many`] created, by its input position.
#[derive(sqlx::FromRow)]
struct CreatedRow {
    ord: i64,
    #[sqlx(flatten)]
    task: Task,
    recorded: bool,
}

/// Creates several tasks, of any users, with one statement: what [`create`] does for each, in
/// order. A user's tasks are numbered in input order, and once the user has `max_tasks` the rest
/// of that user's are refused. The users' rows are locked in id order, as a caller that runs
/// one user's statements after another's does, and `for no key update`, as [`create`]'s update
/// of the row does: rows that refer to a user (a new conversation, chat request or message) still
/// pass their foreign-key check while the batch holds it. One result per input, in order.
pub async fn create_many(
    conn: &mut PgConnection,
    items: &[NewTaskFor<'_>],
) -> sqlx::Result<Vec<Created>> {
    let users: Vec<Uuid> = items.iter().map(|i| i.user_id).collect();
    let titles: Vec<&str> = items.iter().map(|i| i.new.title.as_str()).collect();
    let descriptions: Vec<Option<&str>> =
        items.iter().map(|i| i.new.description.as_deref()).collect();
    let due_at: Vec<Option<DateTime<Utc>>> =
        items.iter().map(|i| i.new.due.map(|d| d.at)).collect();
    let due_has_time: Vec<bool> = items
        .iter()
        .map(|i| i.new.due.is_some_and(|d| d.has_time))
        .collect();
    let priorities: Vec<i16> = items.iter().map(|i| i.new.priority as i16).collect();
    // A text[] per row does not fit a two-dimensional array (rows differ in length): JSON does.
    let tags: Vec<Json<&Vec<String>>> = items.iter().map(|i| Json(&i.new.tags)).collect();
    let repeats: Vec<Option<String>> = items
        .iter()
        .map(|i| i.new.repeat.as_ref().map(Repeat::to_rrule))
        .collect();
    let limits: Vec<Option<i64>> = items.iter().map(|i| i.max_tasks.map(i64::from)).collect();
    let sources: Vec<&str> = items.iter().map(|i| i.actor.source.as_str()).collect();
    let requests: Vec<Option<Uuid>> = items.iter().map(|i| i.actor.request_id).collect();
    let conversations: Vec<Option<i64>> = items.iter().map(|i| i.actor.conversation_id).collect();
    let rows = sqlx::query_as::<_, CreatedRow>(concat!(
        "with input as (
             select * from unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[],
                                  $5::boolean[], $6::smallint[], $7::jsonb[], $8::text[],
                                  $9::bigint[], $10::text[], $11::uuid[], $12::bigint[])
                 with ordinality as i(user_id, title, description, due_at, due_has_time,
                                      priority, tags, repeat, max_tasks, source, request_id,
                                      conversation_id, ord)
         ), wanted as (
             select user_id, count(*) as n, min(max_tasks) as max_tasks from input group by user_id
         ), locked as materialized (
             select id, task_seq from users where id in (select user_id from wanted)
             order by id for no key update
         ), granted as (
             select w.user_id, l.task_seq as base,
                    case when w.max_tasks is null then w.n
                         else least(w.n, greatest(0, w.max_tasks
                              - (select count(*) from tasks t where t.user_id = w.user_id)))
                    end as n
             from wanted w join locked l on l.id = w.user_id
         ), seq as (
             update users u set task_seq = u.task_seq + g.n from granted g
             where u.id = g.user_id and g.n > 0
         ), numbered as (
             select r.*, g.base + r.nth as id
             from (select i.*, row_number() over (partition by i.user_id order by i.ord) as nth
                   from input i) r
             join granted g on g.user_id = r.user_id
             where r.nth <= g.n
         ), changed as (
             insert into tasks (user_id, id, title, description, due_at, due_has_time, priority, tags, repeat)
             select user_id, id, title, description, due_at, due_has_time, priority,
                    array(select jsonb_array_elements_text(tags)), repeat
             from numbered
             returning ",
        task_columns!(),
        ", task_snapshot(tasks) as snapshot
         ), history as (
             insert into task_history
                 (user_id, task_id, action, source, request_id, conversation_id, before, after)
             select c.user_id, c.id, 'created', n.source, n.request_id, n.conversation_id, null, c.snapshot
             from changed c join numbered n on n.user_id = c.user_id and n.id = c.id
             where c.snapshot is not null
         )
         select (select n.ord from numbered n where n.user_id = c.user_id and n.id = c.id) as ord, ",
        task_columns!(),
        ", snapshot is not null as recorded from changed c"
    ))
    .bind(&users)
    .bind(&titles)
    .bind(&descriptions)
    .bind(&due_at)
    .bind(&due_has_time)
    .bind(&priorities)
    .bind(&tags)
    .bind(&repeats)
    .bind(&limits)
    .bind(&sources)
    .bind(&requests)
    .bind(&conversations)
    .fetch_all(&mut *conn)
    .await?;
    let mut created: Vec<Option<Task>> = items.iter().map(|_| None).collect();
    for row in rows {
        let item = usize::try_from(row.ord - 1)
            .ok()
            .and_then(|i| items.get(i).map(|item| (i, item)));
        let Some((i, item)) = item else { continue };
        if !row.recorded {
            let task = &row.task;
            record(
                conn,
                task.user_id,
                task.id,
                "created",
                item.actor,
                None,
                Some(task),
            )
            .await?;
        }
        created[i] = Some(row.task);
    }
    // Why the others were refused: their user is gone, or has as many tasks as allowed.
    let refused: Vec<Uuid> = items
        .iter()
        .zip(&created)
        .filter(|(_, c)| c.is_none())
        .map(|(i, _)| i.user_id)
        .collect();
    let existing: Vec<Uuid> = if refused.is_empty() {
        Vec::new()
    } else {
        sqlx::query_scalar("select id from users where id = any($1)")
            .bind(&refused)
            .fetch_all(&mut *conn)
            .await?
    };
    Ok(items
        .iter()
        .zip(created)
        .map(|(item, task)| match (task, item.max_tasks) {
            (Some(task), _) => Created::Task(task),
            (None, Some(max)) if existing.contains(&item.user_id) => Created::LimitReached(max),
            (None, _) => Created::UserMissing,
        })
        .collect())
}

/// Writes `task` over the stored one (or back, after a delete) with its history row: `action`, by
/// `actor`, from `before`.
async fn write(
    conn: &mut PgConnection,
    task: &Task,
    action: &str,
    actor: &Actor,
    before: Option<&Task>,
) -> sqlx::Result<Task> {
    let Changed {
        task: after,
        recorded,
    } = sqlx::query_as::<_, Changed>(concat!(
        "with changed as (
             insert into tasks (user_id, id, title, description, completed, completed_at, due_at,
                                due_has_time, priority, tags, repeat, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             on conflict (user_id, id) do update set
                 title = excluded.title, description = excluded.description,
                 completed = excluded.completed, completed_at = excluded.completed_at,
                 due_at = excluded.due_at, due_has_time = excluded.due_has_time,
                 priority = excluded.priority, tags = excluded.tags, repeat = excluded.repeat
             returning ",
        task_columns!(),
        ", task_snapshot(tasks) as snapshot)",
        with_history!("$13, $14, $15, $16, $17, snapshot")
    ))
    .bind(task.user_id)
    .bind(task.id)
    .bind(&task.title)
    .bind(task.description.as_deref())
    .bind(task.completed)
    .bind(task.completed_at)
    .bind(task.due_at)
    .bind(task.due_has_time)
    .bind(task.priority)
    .bind(&task.tags)
    .bind(task.repeat.as_deref())
    .bind(task.created_at)
    .bind(action)
    .bind(actor.source.as_str())
    .bind(actor.request_id)
    .bind(actor.conversation_id)
    .bind(snapshot(before))
    .fetch_one(&mut *conn)
    .await?;
    if !recorded {
        record(
            conn,
            task.user_id,
            task.id,
            action,
            actor,
            before,
            Some(&after),
        )
        .await?;
    }
    Ok(after)
}

/// Applies `changes`; `None` when the task does not exist for this user.
pub async fn update(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: i32,
    changes: &TaskChanges,
    actor: &Actor,
    clock: &Clock,
) -> sqlx::Result<Option<Task>> {
    let Some(before) = get_for_update(conn, user_id, id).await? else {
        return Ok(None);
    };
    let mut wanted = changes.apply(&before, clock.now);
    // A repeat needs a date to repeat from.
    if wanted.repeat.is_some() && wanted.due_at.is_none() {
        wanted.due_at = Some(clock.start_of(clock.today()));
        wanted.due_has_time = false;
    }
    if wanted == before {
        return Ok(Some(before));
    }
    let action = match (before.completed, wanted.completed) {
        (false, true) => "completed",
        (true, false) => "reopened",
        _ => "updated",
    };
    let after = write(conn, &wanted, action, actor, Some(&before)).await?;
    Ok(Some(after))
}

/// What completing a task did.
#[derive(Debug, Clone)]
pub struct Completion {
    pub task: Task,
    /// It was already completed: nothing changed.
    pub already_completed: bool,
    /// A repeating task moved to its next occurrence and stays pending.
    pub repeated: bool,
}

/// Completes a task. A repeating task with a due date moves to its next occurrence (after the
/// later of its due date and now) and stays pending; the completion is recorded in its history.
pub async fn complete(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: i32,
    actor: &Actor,
    clock: &Clock,
) -> sqlx::Result<Option<Completion>> {
    let Some(before) = get_for_update(conn, user_id, id).await? else {
        return Ok(None);
    };
    if before.completed {
        return Ok(Some(Completion {
            task: before,
            already_completed: true,
            repeated: false,
        }));
    }
    let next = before.repeat_rule().and_then(|rule| {
        let start = before
            .due_at
            .unwrap_or_else(|| clock.start_of(clock.today()))
            .with_timezone(&clock.tz);
        let after = start.max(clock.now.with_timezone(&clock.tz));
        rule.next_after(start, after)
    });
    let mut wanted = before.clone();
    match next {
        Some(next) => wanted.due_at = Some(next.with_timezone(&Utc)),
        None => {
            wanted.completed = true;
            wanted.completed_at = Some(clock.now);
        }
    }
    let after = write(conn, &wanted, "completed", actor, Some(&before)).await?;
    Ok(Some(Completion {
        task: after,
        already_completed: false,
        repeated: next.is_some(),
    }))
}

/// Deletes a task; returns it, or `None` when it does not exist for this user.
pub async fn delete(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: i32,
    actor: &Actor,
) -> sqlx::Result<Option<Task>> {
    let changed = sqlx::query_as::<_, Changed>(concat!(
        "with changed as (
             delete from tasks where user_id = $1 and id = $2
             returning ",
        task_columns!(),
        ", task_snapshot(tasks) as snapshot)",
        with_history!("'deleted', $3, $4, $5, snapshot, null")
    ))
    .bind(user_id)
    .bind(id)
    .bind(actor.source.as_str())
    .bind(actor.request_id)
    .bind(actor.conversation_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(Changed { task, recorded }) = changed else {
        return Ok(None);
    };
    if !recorded {
        record(conn, user_id, id, "deleted", actor, Some(&task), None).await?;
    }
    Ok(Some(task))
}

/// One change in a task's history.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub id: i64,
    pub task_id: i32,
    /// `created`, `updated`, `completed`, `reopened`, `deleted` or `restored`.
    pub action: String,
    /// `rest`, `chat`, `mcp` or `undo`.
    pub source: String,
    /// The chat turn that made the change.
    pub request_id: Option<Uuid>,
    pub conversation_id: Option<i64>,
    /// The task before the change (null for a create).
    #[schema(value_type = Option<Object>)]
    pub before: Option<Json<Value>>,
    /// The task after the change (null for a delete).
    #[schema(value_type = Option<Object>)]
    pub after: Option<Json<Value>>,
    /// Whether an undo reverted this change.
    pub undone: bool,
    pub created_at: DateTime<Utc>,
}

/// A task's history, oldest first; empty when the user never had such a task.
pub async fn history(
    conn: &mut PgConnection,
    user_id: Uuid,
    task_id: i32,
) -> sqlx::Result<Vec<HistoryEntry>> {
    sqlx::query_as(
        "select id, task_id, action, source, request_id, conversation_id, before, after,
                undone_by is not null as undone, created_at
         from task_history where user_id = $1 and task_id = $2 order by id",
    )
    .bind(user_id)
    .bind(task_id)
    .fetch_all(conn)
    .await
}

/// A change an undo reverted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reverted {
    pub task_id: i32,
    /// What was undone: `created`, `updated`, `completed`, `reopened` or `deleted`.
    pub undid: String,
    /// The task as it is now (null when undoing its creation deleted it).
    pub task: Option<Task>,
    /// The title it had.
    pub title: String,
}

#[derive(sqlx::FromRow)]
struct UndoRow {
    id: i64,
    task_id: i32,
    action: String,
    before: Option<Json<Task>>,
    after: Option<Json<Task>>,
}

/// Reverts the task changes of the conversation's last turn that changed tasks and has not been
/// undone yet (undos themselves are not undone: saying "undo" again goes one turn further back).
/// Returns what was reverted, newest change first; empty when there was nothing to undo.
pub async fn undo_last_turn(
    conn: &mut PgConnection,
    user_id: Uuid,
    conversation_id: i64,
    actor: &Actor,
) -> sqlx::Result<Vec<Reverted>> {
    let rows: Vec<UndoRow> = sqlx::query_as(
        "select id, task_id, action, before, after from task_history
         where user_id = $1 and conversation_id = $2 and source <> 'undo' and undone_by is null
           and request_id = (
               select request_id from task_history
               where user_id = $1 and conversation_id = $2 and source <> 'undo'
                 and undone_by is null and request_id is not null and request_id <> $3
               order by id desc limit 1)
         order by id desc
         for update",
    )
    .bind(user_id)
    .bind(conversation_id)
    .bind(actor.request_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut reverted = Vec::with_capacity(rows.len());
    for row in &rows {
        let current = get_for_update(conn, user_id, row.task_id).await?;
        let title = row
            .before
            .as_ref()
            .or(row.after.as_ref())
            .map(|t| t.0.title.clone())
            .unwrap_or_default();
        let now = match (&row.before, &current) {
            // Undo a create: delete the task (if it still exists).
            (None, Some(task)) => {
                delete(conn, user_id, task.id, actor).await?;
                None
            }
            (None, None) => None,
            // Undo a delete or a change: put the task back as it was.
            (Some(before), current) => {
                // `write` stores the snapshot's completion as it is.
                let action = match &current {
                    None => "restored",
                    Some(c) if c.completed && !before.0.completed => "reopened",
                    Some(c) if !c.completed && before.0.completed => "completed",
                    Some(_) => "updated",
                };
                Some(write(conn, &before.0, action, actor, current.as_ref()).await?)
            }
        };
        reverted.push(Reverted {
            task_id: row.task_id,
            undid: row.action.clone(),
            task: now,
            title,
        });
    }
    if !rows.is_empty() {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        sqlx::query("update task_history set undone_by = $2 where id = any($1)")
            .bind(&ids)
            .bind(actor.request_id.unwrap_or_else(Uuid::nil))
            .execute(conn)
            .await?;
    }
    Ok(reverted)
}

/// The user's timezone and date order.
pub async fn user_clock(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Option<Clock>> {
    let row: Option<(String, String)> =
        sqlx::query_as("select timezone, date_order from users where id = $1")
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(tz, order)| Clock::of_user(&tz, &order)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_is_bound_to_its_order() {
        let c = Cursor {
            sort: Sort::Priority,
            priority: 3,
            no_due: false,
            at: DateTime::from_timestamp_micros(1_764_000_000_123_456).expect("ts"),
            id: 42,
        };
        let text = c.encode();
        assert_eq!(Cursor::decode(&text, Sort::Priority), Some(c));
        assert_eq!(Cursor::decode(&text, Sort::Due), None);
        assert_eq!(Cursor::decode("p9.0.1.1", Sort::Priority), None);
        assert_eq!(Cursor::decode("garbage", Sort::Created), None);
    }

    #[test]
    fn like_patterns_match_percent_and_underscore_literally() {
        assert_eq!(like_pattern("50%_off"), "%50\\%\\_off%");
    }
}
