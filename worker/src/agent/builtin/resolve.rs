//! Finding the tasks a message refers to, and never guessing for a change: a title reference
//! resolves only when it is unambiguous (the title itself, or the one task that has every word the
//! user said); a near miss becomes a question ("Did you mean task 3 “Call mom”?").
//!
//! The work is bounded: at most [`MAX_QUERY_WORDS`] words of a reference and the first
//! [`MAX_TITLE_WORDS`] words of each title are compared.

use todo_common::tasks::{DueFilter, StatusFilter};
use todo_common::tools::ToolTask;
use todo_common::when::Clock;

use super::parse::{Query, STOPWORDS, list_items};

pub const MAX_QUERY_WORDS: usize = 12;
pub const MAX_TITLE_WORDS: usize = 40;

/// Words of a title or reference, lower-cased, stop words dropped, crudely stemmed.
fn keywords(s: &str, max: usize) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOPWORDS.contains(w))
        .take(max)
        .map(stem)
        .collect()
}

fn stem(word: &str) -> String {
    // "I got the milk" is the task "Buy milk"
    if matches!(
        word,
        "get" | "got" | "gets" | "grab" | "grabbed" | "purchase" | "purchased" | "bought"
    ) {
        return "buy".to_owned();
    }
    for suffix in ["ing", "ed", "es", "s"] {
        if word.len() > suffix.len() + 2
            && let Some(base) = word.strip_suffix(suffix)
        {
            return base.to_owned();
        }
    }
    word.to_owned()
}

/// How well a title matches what the user said.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub enum Match {
    /// No shared word.
    None,
    /// Some words alike (typos, partial): worth a question, never an action.
    Near(f64),
    /// Every word the user said is in the title.
    AllWords,
    /// The same words as the title, little words aside ("buy the milk" for "Buy milk").
    SameWords,
    /// The title itself (case and punctuation aside).
    Exact,
}

fn normalized(s: &str) -> String {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn match_title(title: &str, query: &str) -> Match {
    Reference::new(query).against(title)
}

/// A title reference, prepared once and compared against many titles.
struct Reference {
    normalized: String,
    words: Vec<String>,
}

impl Reference {
    fn new(query: &str) -> Self {
        let query: String = query.chars().take(500).collect();
        Self {
            normalized: normalized(&query),
            words: keywords(&query, MAX_QUERY_WORDS),
        }
    }

    fn against(&self, title: &str) -> Match {
        let q = &self.words;
        if !self.normalized.is_empty() && normalized(title) == self.normalized {
            return Match::Exact;
        }
        if q.is_empty() {
            return Match::None;
        }
        let t = keywords(title, MAX_TITLE_WORDS);
        let exact = q
            .iter()
            .filter(|qw| {
                t.iter().any(|tw| {
                    tw == *qw
                        || (qw.len() >= 4 && tw.starts_with(qw.as_str()))
                        || (tw.len() >= 4 && qw.starts_with(tw.as_str()))
                })
            })
            .count();
        if exact == q.len() {
            let mut said = q.clone();
            let mut named = t.clone();
            said.sort();
            said.dedup();
            named.sort();
            named.dedup();
            return if said == named {
                Match::SameWords
            } else {
                Match::AllWords
            };
        }
        let near = q
            .iter()
            .filter(|qw| {
                t.iter().any(|tw| {
                    tw == *qw
                        || (qw.len() >= 3 && tw.starts_with(qw.as_str()))
                        || strsim::jaro_winkler(tw, qw) >= 0.88
                        // one slip in a longer word ("metting" for "meeting", stems "mett" and
                        // "meet")
                        || (qw.len() >= 4 && strsim::damerau_levenshtein(tw, qw) <= 1)
                })
            })
            .count();
        let score = near as f64 / q.len() as f64;
        if score >= 0.5 {
            Match::Near(score)
        } else {
            Match::None
        }
    }
}

/// What a title reference resolved to.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// One task, confidently.
    One(ToolTask),
    /// Several tasks match equally well: ask which.
    Several(Vec<ToolTask>),
    /// Only near misses: ask whether this is the one.
    Maybe(Vec<ToolTask>),
    Nothing,
}

/// Which tasks an action prefers when a title matches several: completing looks at pending tasks
/// first, re-opening at completed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefer {
    Pending,
    Completed,
    Any,
}

pub fn find_by_title(tasks: &[ToolTask], query: &str, prefer: Prefer) -> Found {
    let reference = Reference::new(query);
    let mut scored: Vec<(Match, &ToolTask)> = tasks
        .iter()
        .map(|t| (reference.against(&t.title), t))
        .filter(|(m, _)| *m != Match::None)
        .collect();
    let preferred = |t: &ToolTask| match prefer {
        Prefer::Pending => !t.completed,
        Prefer::Completed => t.completed,
        Prefer::Any => true,
    };
    if scored.iter().any(|(_, t)| preferred(t)) {
        scored.retain(|(_, t)| preferred(t));
    }
    scored.sort_by(|a, b| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.1.task_id.cmp(&b.1.task_id))
    });
    let Some((best, _)) = scored.first().copied() else {
        return Found::Nothing;
    };
    let top: Vec<ToolTask> = scored
        .iter()
        .filter(|(m, _)| match (best, m) {
            (Match::Near(b), Match::Near(s)) => b - s < 0.2,
            (b, m) => *m == b,
        })
        .map(|(_, t)| (*t).clone())
        .take(10)
        .collect();
    match (best, top.as_slice()) {
        (Match::Exact | Match::SameWords | Match::AllWords, [one]) => Found::One(one.clone()),
        (Match::Exact | Match::SameWords | Match::AllWords, _) => Found::Several(top),
        _ => Found::Maybe(top.into_iter().take(3).collect()),
    }
}

/// Whether a task is one that "except the dentist and the work tasks" keeps: its title has every
/// word of one of the parts, or its tag is one.
pub fn excepted(task: &ToolTask, except: &str) -> bool {
    list_items(except).any(|part| {
        let part = part.to_lowercase();
        let part = part.trim_start_matches("the ").trim_start_matches("my ");
        let part = part
            .trim_end_matches(" tasks")
            .trim_end_matches(" task")
            .trim_end_matches(" ones")
            .trim_end_matches(" one")
            .trim();
        !part.is_empty()
            && (match_title(&task.title, part) >= Match::AllWords
                || task.tags.iter().any(|t| t == part.trim_start_matches('#')))
    })
}

/// The tasks a selector ("all completed tasks", "everything due today") picks.
pub fn select(tasks: &[ToolTask], query: &Query, clock: &Clock) -> Vec<ToolTask> {
    let today = clock.start_of(clock.today());
    let tomorrow = clock.day_bounds(1);
    let day_after = clock.day_bounds(2);
    let week_end = clock.day_bounds(clock.days_left_in_week());
    // whether a task's due date is one `filter` takes ("due today", "overdue", "no date")
    let due_in = |t: &ToolTask, filter: DueFilter| match (filter, t.due_at) {
        (DueFilter::None, due) => due.is_none(),
        (_, None) => false,
        (DueFilter::Overdue, Some(_)) => t.overdue,
        (DueFilter::Today, Some(at)) => at >= today && at < tomorrow,
        (DueFilter::Tomorrow, Some(at)) => at >= tomorrow && at < day_after,
        (DueFilter::Week, Some(at)) => at >= today && at < week_end,
    };
    tasks
        .iter()
        .filter(|t| match query.status {
            StatusFilter::All => true,
            StatusFilter::Pending => !t.completed,
            StatusFilter::Completed => t.completed,
        })
        .filter(|t| query.due.is_none_or(|filter| due_in(t, filter)))
        .filter(|t| {
            query.days.is_none_or(|days| {
                t.due_at.is_some_and(|at| {
                    let day = at.with_timezone(&clock.tz).date_naive();
                    days.from.is_none_or(|from| day >= from) && days.to.is_none_or(|to| day <= to)
                })
            })
        })
        .filter(|t| query.priority.is_none_or(|p| t.priority == p))
        .filter(|t| query.min_priority.is_none_or(|p| t.priority >= p))
        .filter(|t| query.tag.as_ref().is_none_or(|tag| t.tags.contains(tag)))
        .filter(|t| query.any_tags.is_empty() || query.any_tags.iter().any(|a| t.tags.contains(a)))
        .filter(|t| !query.not_tags.iter().any(|n| t.tags.contains(n)))
        .filter(|t| query.repeating.is_none_or(|r| t.repeat.is_some() == r))
        .filter(|t| {
            query
                .tagged
                .is_none_or(|tagged| t.tags.is_empty() != tagged)
        })
        .filter(|t| query.max_priority.is_none_or(|p| t.priority <= p))
        .filter(|t| query.not_due.is_none_or(|filter| !due_in(t, filter)))
        .filter(|t| query.except.as_ref().is_none_or(|x| !excepted(t, x)))
        .filter(|t| {
            query
                .text
                .as_ref()
                // "all work tasks": the word in the title, or the task's tag
                .is_none_or(|q| {
                    let q = q.to_lowercase();
                    t.title.to_lowercase().contains(&q) || t.tags.contains(&q)
                })
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: i32, title: &str, completed: bool) -> ToolTask {
        ToolTask {
            task_id: id,
            title: title.into(),
            description: None,
            completed,
            due_at: None,
            due_text: None,
            due_has_time: false,
            priority: Default::default(),
            tags: Vec::new(),
            repeat: None,
            repeat_text: None,
            overdue: false,
        }
    }

    #[test]
    fn title_matching_levels() {
        assert_eq!(match_title("Call mom", "call mom"), Match::Exact);
        assert_eq!(
            match_title("Call mom tomorrow", "calling mom"),
            Match::AllWords
        );
        assert_eq!(
            match_title("Team meeting at 3pm", "meeting"),
            Match::AllWords
        );
        assert!(matches!(match_title("Buy milk", "by milk"), Match::Near(_)));
        assert_eq!(match_title("Buy milk", "meeting"), Match::None);
    }

    #[test]
    fn only_an_unambiguous_match_is_acted_on() {
        let tasks = [
            task(1, "Buy milk", false),
            task(2, "Buy oat milk", false),
            task(3, "Call mom", false),
        ];
        assert_eq!(
            find_by_title(&tasks, "buy milk", Prefer::Pending),
            Found::One(tasks[0].clone())
        );
        assert!(
            matches!(find_by_title(&tasks, "milk", Prefer::Pending), Found::Several(v) if v.len() == 2)
        );
        assert!(matches!(
            find_by_title(&tasks, "cal mum", Prefer::Pending),
            Found::Maybe(_)
        ));
        assert_eq!(
            find_by_title(&tasks, "dentist", Prefer::Pending),
            Found::Nothing
        );
    }
}
