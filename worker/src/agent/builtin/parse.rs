//! Understanding a message: plain English → an [`Intent`]. Dates, repeats, priorities and tags are
//! read out of the words; what is left of an "add" is the title. Pure: no database, no clock but
//! the one given.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate, TimeDelta};
use regex::Regex;
use todo_common::tasks::{DueFilter, Priority, Sort, StatusFilter, normalize_tag};
use todo_common::when::phrase;
use todo_common::when::repeat::{RepeatPhrase, parse_phrase as parse_repeat};
use todo_common::when::{Clock, Due, LocalDue};

/// Words a message can use to pick tasks ("what's overdue?", "all completed tasks").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub status: StatusFilter,
    pub due: Option<DueFilter>,
    pub priority: Option<Priority>,
    pub tag: Option<String>,
    pub text: Option<String>,
    pub sort: Option<Sort>,
    /// "my most important task", "my next task": only the first.
    pub top: bool,
    /// "my last 3 tasks", "the 5 most recent ones": only this many, newest first.
    pub newest: Option<u32>,
    /// "my top 3 priorities", "show 5 tasks", "the next 2": only this many, in the order asked.
    pub count: Option<u32>,
    /// "on friday", "next week", "before the 3rd": the days the tasks are due.
    pub days: Option<Days>,
    /// "what did I finish today?", "completed this week": the days the tasks were completed.
    pub done_days: Option<Days>,
    /// "my recurring tasks" (`true`), "one-off tasks" (`false`).
    pub repeating: Option<bool>,
    /// "tasks without tags" (`false`).
    pub tagged: Option<bool>,
    /// "everything except the dentist": tasks this names are left out of a selection.
    pub except: Option<String>,
    /// "what's not urgent?": at most this priority.
    pub max_priority: Option<Priority>,
    /// "high and medium priority tasks": at least this priority.
    pub min_priority: Option<Priority>,
    /// "my work tasks": a word that names a kind of task, read as a tag when the user has tasks
    /// with that tag and as text to find otherwise (the planner decides, knowing the tasks).
    pub about: Option<String>,
    /// "tasks tagged home or work": at least one of these tags.
    pub any_tags: Vec<String>,
    /// "everything except the work tasks", "tasks not tagged home": none of these tags.
    pub not_tags: Vec<String>,
    /// "what's not overdue?", "what isn't due today?": tasks this due filter does not take (no
    /// listing filter says it: the planner selects them from the user's tasks).
    pub not_due: Option<DueFilter>,
    /// "all" said alone ("mark all as done"): the tasks a listing just showed, when it did.
    pub shown_first: bool,
}

/// Days in the user's timezone, both ends included; an end left open is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// How a message refers to tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// "task 3", "#3 and #4".
    Ids(Vec<i32>),
    /// "the dentist task": found by title.
    Title(String),
    /// "it", "that one": the task the conversation was just about.
    Previous,
    /// "the second one", "the last one on the list": by its place in the list the last reply showed
    /// (or in the question it asked); no places ("them", "all of those"): all of that list.
    Listed(Vec<Position>),
    /// "all completed tasks", "everything due today": every task the query matches.
    All(Query),
    /// No reference at all ("delete").
    Missing,
}

/// A place in a list shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based.
    Nth(usize),
    /// Counted from the end: 0 is the last.
    FromEnd(usize),
}

impl Position {
    /// The item at this place in `items`, if there is one.
    pub fn of<T: Copy>(self, items: &[T]) -> Option<T> {
        match self {
            Position::Nth(n) => n.checked_sub(1).and_then(|i| items.get(i)).copied(),
            Position::FromEnd(k) => items
                .len()
                .checked_sub(k + 1)
                .and_then(|i| items.get(i))
                .copied(),
        }
    }
}

/// A task to add, as read from the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub due: Option<Due>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub repeat: Option<RepeatPhrase>,
}

/// A change to tasks. For `due`, `repeat`, `description`: `Some(None)` clears.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edit {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub due: Option<Option<Due>>,
    pub priority: Option<Priority>,
    /// Tags to add to the task's own.
    pub add_tags: Vec<String>,
    /// Tags to take off the task's own.
    pub remove_tags: Vec<String>,
    /// Take every tag off.
    pub clear_tags: bool,
    pub repeat: Option<Option<RepeatPhrase>>,
    /// Move the due date by this much ("postpone it by a week"), from the task's own due date (or
    /// from now when it has none).
    pub shift: Option<Shift>,
    /// "move task 3 to 4pm": this time on the task's own due day (`due`, today at that time, when
    /// it has none).
    pub at_time: Option<chrono::NaiveTime>,
    /// `at_time` was an hour said without am/pm ("at 9"): on a task that has a time, the one of
    /// 9:00 and 21:00 nearer that time is meant ("it's actually at 9" for a party at 20:00).
    pub hour_only: bool,
    /// "raise the priority of task 3" (1), "lower it" (-1): a step from the task's own priority
    /// (none and low go up to medium; nothing goes below low or above high).
    pub priority_step: i8,
}

/// A relative move of a due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    pub days: i64,
    pub months: u32,
    pub minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Add(Vec<NewTask>),
    /// An add request whose title is missing ("add a task").
    AddWithoutTitle,
    /// A change to the task just talked about that says too little to make ("make it
    /// recurring", "make it a bit later"): the question that asks for the rest.
    Unclear(&'static str),
    /// "what time is it?", "what's today's date?": the user's own date and time.
    Now,
    /// "rename task 1", "edit the meeting": the task, and the question that asks what to change.
    AskAbout(Target, &'static str),
    /// "tomorrow", "high priority", "done" alone: a request about the one task just talked
    /// about, or else a listing ("today" with no task in view lists today's tasks, "done" the
    /// completed ones).
    OnItOrList(Box<Intent>, Query),
    /// "set the meeting for 3:30", "make the bed tomorrow": a change when a task has that title,
    /// otherwise a task to add (the planner decides, knowing the tasks).
    ChangeOrAdd(Box<Intent>, Box<Intent>),
    List(Query),
    Count(Query),
    Complete(Target),
    Reopen(Target),
    Delete(Target),
    Update(Target, Box<Edit>),
    /// "show task 3", "tell me about the dentist task": one task in full.
    Show(Target),
    /// "duplicate task 3", "copy the dentist task": a new task like that one.
    Copy(Target),
    /// "what tags do I have?": the tags in use.
    Tags,
    /// "complete task 1 and delete task 2", "add milk. also add eggs": requests in a row, each of
    /// which changes or lists tasks.
    Several(Vec<Intent>),
    Undo,
    /// "yes", "go ahead": an answer to a question.
    Yes,
    /// "yes, delete them", "sure do it": an answer that says again what it agrees to; with no
    /// question open, the request it says.
    YesTo(Box<Intent>),
    /// "no", "cancel".
    No,
    /// "and eggs", "bread too": right after an add, one more task to add (this add); otherwise
    /// not understood.
    AlsoAdd(Box<Intent>),
    /// "milk", "the dentist": a few words that say nothing to do; the tasks they name are shown,
    /// and with none the reply says how to add one.
    Mention(String),
    /// "cancel it", "scrap that": a refusal when a question is open; otherwise the change just
    /// made is undone, or the task just talked about is dropped.
    CancelIt,
    /// "that's wrong", "I didn't mean that": the change just made is undone, if there was one.
    Mistake,
    /// "no, I meant task 5", "wrong one, I meant the oat milk": the change just made belongs to
    /// another task (undone, then made to that one).
    Meant(Target),
    /// "3", "number 3": an answer to "which one?".
    Number(i32),
    /// "the second one": an answer to "which one?" by place in the list.
    Pick(Position),
    /// What may answer "which one?" by the task's title ("the oat one", "buy oat milk") or by
    /// "both", with what the message reads as otherwise.
    AnswerByTitle(String, Box<Intent>),
    Greeting,
    Help,
    /// "bye", "that's all": the end of the conversation.
    Bye,
    Thanks,
    /// "cool", "lol", "you're great": nothing to do, and nothing to thank for.
    Ack,
    /// "set my timezone to …" (`true`), "change my password" (`false`): account settings, which
    /// the chat does not change.
    Settings(bool),
    Unknown,
}

macro_rules! re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($pat).expect("valid regex"));
    };
}

const POLITE: &str = r"(?:please\s+|pls\s+|plz\s+|kindly\s+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?(?:just\s+)?";

re!(
    GREETING,
    r"(?i)^(?:(hi|hello|hey|hiya|howdy|yo|good (morning|afternoon|evening)|greetings)\b( there)?[\s!.,]*(\w+)?|(?:(?:hi|hey|hello),?\s+)?(?:how (?:are you|are things|is it going|'s it going)(?: doing| today)?|what's up|whats up|sup|wassup))[\s!.?]*$"
);
// "what time is it?", "what day is it today?", "what's today's date?"
re!(
    NOW,
    r"(?i)^(?:what(?:'s| is) the (?:time|date|day)(?: today| now)?|what time is it(?: now)?|what (?:day|date) is (?:it|today)(?: today)?|what(?:'s| is) today(?:'s date)?|what(?:'s| is) the date today)[\s?!.]*$"
);
re!(
    HELP,
    r"(?i)^(help|\?+|what can you do|what do you do|how does (this|it) work|how do i use (this|you)|commands|usage|who are you|what are you|what(?:'s| is) your name|how (?:do|can|should) i\s+(?:add|create|make|delete|remove|complete|finish|mark|change|edit|update|rename|move|reschedule|see|list|view|find|search|tag|undo|use)\b|what (?:can|should) i (?:ask|say|type|tell you)|what (?:are|are the) (?:your )?commands|(?:i\s+)?need\s+(?:some\s+)?help(?:\s+please)?$|can\s+you\s+help(?:\s+me)?(?:\s+please)?$)\b"
);
re!(
    THANKS,
    r"(?i)^(thanks|thank you|thx|ty|cheers|great|perfect|awesome|cool|nice|got it)\b[\s\w!.]{0,20}$"
);
// "set my timezone to Europe/London", "my time zone is wrong", "change my password"
re!(
    SETTINGS,
    &format!(
        r"(?i)^(?:{POLITE}(?:set|change|update|switch|fix|reset|delete|remove|close|deactivate|cancel)\s+(?:my|the)\s+|my\s+|what(?:'s| is)\s+my\s+)(timezone|time zone|time-zone|language|password|e-?mail address|e-?mail|username|user name|account|profile|settings|locale)\b|^{POLITE}(?:log|sign)\s+(?:me\s+)?out\b"
    )
);
re!(THANK_WORD, r"(?i)\b(?:thanks|thank|thx|ty|cheers)\b");
// "lol", "haha", "you're great", "good job": a reaction, not a request
re!(
    ACK,
    r"(?i)^(?:lol|lmao|rofl|ha(?:ha)+|he(?:he)+|wow|yay|nice one|good (?:job|work|bot|stuff)|well done|you rock|love (?:it|this|you)|(?:you're|youre|you are) (?:great|awesome|amazing|the best|a star|brilliant|wonderful|helpful|so helpful)|:\)|:-\)|:d|😀|😂|👍|🙂|😊)[\s!.]*$"
);
re!(
    HOW_OFTEN,
    r"(?i)^how\s+often\s+(?:does|do|will|is|are)\s+(.+?)\s+(?:repeat|recur|repeating|recurring|happen|come\s+up|due)$"
);
re!(
    DONE_FOR_TODAY,
    r"(?i)^(?:am\s+i|are\s+we|is\s+that\s+it)\s+(?:all\s+)?(?:done|finished|through|free)?\s*(?:for\s+)?(?:the\s+day|today|tonight)$"
);
re!(
    FORGOT,
    r"(?i)^(?:(?:is\s+there\s+|are\s+there\s+)?(?:anything|something|any\s+tasks?)\s+(?:that\s+)?(?:i\s+)?(?:forgot|forget|have\s+forgotten|missed|have\s+missed|overlooked)(?:\s+about)?|(?:did|have)\s+i\s+(?:miss(?:ed)?|forg[eo]t(?:ten)?|overlook(?:ed)?)\s+(?:anything|something)|what\s+(?:did|have)\s+i\s+(?:miss(?:ed)?|forg[eo]t(?:ten)?|overlook(?:ed)?))$"
);
re!(
    REMIND_ALONE,
    r"(?i)^(?:please\s+)?(?:remind\s+me|set\s+a\s+reminder|new\s+reminder)$"
);
re!(
    BYE,
    r"(?i)^(?:(?:ok(?:ay)?|thanks|thank you),?\s+)?(?:bye|goodbye|bye bye|good night|see you(?: later)?|see ya|that's all|that is all|that's it for now|(?:i'm|im|i am|all) done for (?:today|now|the day|tonight))\b[\s\w!.]{0,12}$"
);
/// An agreement: "yes", "go ahead", "do it".
const AGREEMENT: &str = r"(?:yes|yeah|yea|yep|yup|sure|ok|okay|y|do it|go ahead|go for it|go|go on|let's do it|let's go|confirm|confirmed|please do|absolutely|correct|right|that's right|that one|sure thing|affirmative|of course|alright|all right|fine|sounds good|proceed)";
// an agreement, then more of it: "yes please", "sure, go ahead", "ok do it"
re!(
    YES,
    &format!(
        r"(?i)^{AGREEMENT}(?:[\s,;.!-]+(?:{AGREEMENT}|please|thanks|thank you|all of them|both|all))*[\s!.]*$"
    )
);
/// A refusal: "no", "never mind", "cancel that", "keep them", "don't delete it".
const REFUSAL: &str = r"(?:no|nope|nah|n|neither|none(?: of them)?|wait|no wait|hold on|hang on|not yet|cancel(?: (?:it|that))?|don'?t|do not|stop|never ?mind|abort|forget (?:it|that)|leave (?:it|them)(?: as (?:it is|they are))?|not now|keep (?:it|them|both|all of them|everything)|(?:don'?t|do not) (?:do (?:it|that)|delete|remove|complete|change|touch|add)(?: (?:it|them|that|those|anything))?)";
// a refusal, then more of it or thanks: "no, keep it", "nevermind, keep them", "no thanks"
re!(
    NO,
    &format!(
        r"(?i)^(?:(?:actually|wait|oh|hmm|um)[\s,]+)?{REFUSAL}(?:[\s,;.!-]+(?:{REFUSAL}|thanks|thank you|please))*[\s!.]*$"
    )
);
re!(
    AGREE_THEN,
    r"(?i)^((?:yes|yeah|yep|yup|sure|ok|okay|alright|fine)(?:\s+please)?)\s+(\S.*)$"
);
// "no, I meant task 5", "oops, I meant the oat milk", "wrong one, I meant the second one"
re!(
    MEANT,
    r"(?i)^(?:(?:no|nope|oops|whoops|sorry|wait|actually|wrong\s+(?:one|task)|not\s+(?:that|this)\s+one)[\s,.!]+)*(?:i\s+meant|i\s+mean|i\s+said|meant)\s+(.+?)(?:\s+instead)?[\s.!]*$"
);
re!(
    MISTAKE,
    r"(?i)^(?:(?:oops|whoops|oh no|no|hmm|um)[\s,.!]*)?(?:(?:that's|thats|that is|that was|this is)\s+(?:wrong|not right|incorrect|a mistake|not what i (?:meant|wanted|said|asked for))|(?:i\s+)?didn'?t mean (?:that|it|this)|(?:i\s+)?did not mean (?:that|it|this)|not what i (?:meant|wanted|asked for)|wrong (?:one|task|day|date|time)|not (?:that|this) one|my mistake|my bad)[\s!.]*$"
);
re!(
    REMIND_BEFORE,
    r"(?i)^(?:(?:and|also|and also)\s+)?(?:please\s+)?(?:remind me|send me a reminder|notify me|ping me|alert me)\s+(?:(?:a|an|one|two|three|\d{1,2})\s+(?:days?|hours?|minutes?|mins?|weeks?)\s+(?:before|ahead|in advance|earlier)|the (?:day|night|morning|week) before|beforehand|in advance|ahead of time|before(?:\s+it)?)(?:\s+(?:it|that|then))?$"
);
const REMIND_BEFORE_REPLY: &str = "A task has one due date and shows up as due or overdue from \
    then; I can't send a separate reminder before it. If it should come up sooner, say \"make it \
    a day earlier\".";
re!(
    CANCEL_IT,
    r"(?i)^(?:(?:actually|oh|oops|hmm|um)[\s,]+)?(?:please\s+)?(?:cancel|scrap|scratch)\s+(?:it|that|this)(?:\s+please)?[\s!.]*$"
);
re!(
    UNDO,
    r"(?i)^(?:please\s+)?(?:undo|revert|roll ?back|take (?:that|it) back|undo (?:that|it|this|the last (?:change|action|thing|one|step))|revert (?:that|it|the last change)|oops,?\s*undo(?: that)?|(?:change|put|set|turn) (?:it|that|them) back(?: the way it was)?|go back)[\s!.]*$"
);
// Words people put in front of a request ("actually, …", "oh and …", "ok so …", "hey can you
// …"). Those that can also begin a task ("wait for the plumber", "now …") count only with a
// comma or the like.
re!(
    LEAD_IN,
    r"(?i)^(?:(?:oh and|and also|ok so|okay so|by the way|in that case|actually|also|and|oh|ah|ok|okay|btw|hmm+|um+|uh+|oops|whoops|oh no|my bad|hi there|hey there|hello there|hi|hey|hello|hiya|yo)\b[\s,.!:;-]+|(?:so|well|wait|sorry|alright|all right|then|now|right|no wait|no|nope|nah|perfect|great|awesome|cool|nice|good|excellent|sweet|lovely|brilliant|thanks|thank you|got it)\s*[,.!:;-]+\s*)(\S.*)$"
);
// Words that hand the request to the assistant ("go ahead and …", "make sure to …", "I want you
// to …", "I'd like to …"): read past when what follows is a request of its own. When it is not
// ("make sure to tidy the garage"), the message is read whole (here: a task to add).
re!(
    REQUEST_LEAD_IN,
    r"(?i)^(?:please\s+|pls\s+|kindly\s+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?(?:go ahead and|make sure(?: to| you| that)?|be sure to|i (?:want|need|would like|'d like) you to|i(?:'d| would)? like to|i want to|i wanna|i'd love to|try to|help me(?: to)?|let's|lets|let me|now|and then|then|ok now|okay now|just)\s+(\S.*)$"
);
// "remind me tomorrow at 5 to call mom", "remind me in 2 hours about the oven": the date comes
// before what to do.
re!(
    REMIND_WHEN,
    r"(?i)^(?:please\s+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?remind me\s+(.+?)\s+(?:to|about|that i need to|that i have to)\s+(.+)$"
);
re!(
    FREE_WHEN,
    r"(?i)^(?:am i|are we)\s+(?:free|busy|available|booked)\b|^how (?:busy|full) (?:am i|are we|is my (?:day|week|schedule))\b|^is my (?:day|week|schedule|calendar)\s+(?:free|busy|full|clear)\b"
);
re!(
    NEXT_DUE,
    r"(?i)^(?:when(?:'s|s| is)|what(?:'s|s| is))\s+(?:the|my)\s+next\s+(?:thing|task|todo|deadline|one)(?:\s+(?:due|coming up|i have to do|to do))?$"
);
re!(
    HOW_MANY,
    r"(?i)\bhow many\b|^count\s+(?:my\s+|the\s+|all\s+(?:my\s+|the\s+)?)?(?:[\w-]+\s+)?(?:tasks|todos)\b|\bnumber of (tasks|todos)\b"
);
re!(
    NUMBER_REPLY,
    r"(?i)^(?:the\s+)?(?:task\s+|number\s+|no\.?\s*|#\s*)?#?(\d{1,9})(?:\s+please)?$"
);
re!(
    DELETE,
    &format!(
        r"(?i)^{POLITE}(?:delete|del|rm|remove|erase|cancel|drop|trash|scratch|scrap|ditch|nuke|bin|get rid of|clear(?: out)?|purge|wipe(?: out)?|kill|toss|axe)\b\s*(.*)$"
    )
);
re!(
    REOPEN_VERB,
    &format!(
        r"(?i)^{POLITE}(?:reopen|re-open|uncomplete|un-complete|unmark|uncheck|untick|restore)\s+(.+)$"
    )
);
re!(
    REOPEN_MARK,
    &format!(
        r"(?i)^{POLITE}(?:mark|set|flag)\s+(.+?)\s+(?:as\s+)?(?:not\s+(?:done|complete|completed|finished)|pending|open|incomplete|undone|to ?do|unfinished|not yet done)\b.*$"
    )
);
re!(
    REOPEN_IS,
    r"(?i)^(.+?)\s+(?:is|was|are|were)(?:n't|\s+not)\s+(?:actually\s+|really\s+)?(?:done|finished|complete|completed|paid|called|bought|sent|booked|fixed|cleaned|submitted|watered|sorted|handled)(?:\s+(?:yet|after all))?$"
);
// "I didn't finish the report (after all)": it is not done
re!(
    I_DID_NOT,
    r"(?i)^(?:i|we)\s+(?:didn't|did not|haven't|have not|never)\s+(?:actually\s+|really\s+)?(?:(?:finish(?:ed)?|complete(?:d)?|do(?:ne)?|get to)\s+(.+?)|((?:call|pay|buy|send|email|book|water|clean|fix|submit|write|read|pick up|walk|feed|return|renew|wash|cook)\s+.+?))(?:,?\s+(?:actually|after all|yet))?$"
);
re!(
    MARK_DONE,
    &format!(
        r"(?i)^{POLITE}(?:mark|set|flag|tick|check)\s+(.+?)\s+(?:as\s+|off\s+(?:as\s+)?)?(?:done|complete|completed|finished|bought|paid|called|sent|submitted|booked|cleaned|fixed|handled|sorted)\b.*$"
    )
);
re!(
    COMPLETE_VERB,
    &format!(
        r"(?i)^{POLITE}(?:complete|finish|check off|tick off|tick|close|cross off|cross out|strike off|strike out|strike)\s+(.+)$"
    )
);
re!(
    I_DID,
    r"(?i)^(?:i\s+|i've\s+|ive\s+|i have\s+|we\s+|we've\s+)?(?:just\s+|already\s+|finally\s+|all\s+)?(?:finished with|through with|finished|completed|done with|did|done|got done|wrapped up|took care of|handled|crossed off|ticked off|checked off)\s*[:\s-]\s*(.+)$"
);
re!(
    I_PAST,
    r"(?i)^(?:(?:i|we)(?:'ve| have)?\s+(?:just\s+|already\s+|finally\s+)?(bought|paid|sent|wrote|made|took|got|picked up|went to|read|ate|met|ran|drove|brought|sold|found|fed|gave|told|had|\w{3,}ed)|(?:just\s+|already\s+)?(bought|got|grabbed|picked up|paid|sent|called|emailed|watered|cleaned|fed|booked|mailed|posted|returned|renewed|submitted|fixed|washed|had|attended))\s+(.+?)(?:\s+(?:already|today|now|yesterday))?$"
);
re!(
    HAVE_EVENT,
    r"(?i)^(?:i've got|i have got|i've|i have|i got|we've got|we have got|we've|we have)\s+(?:an?\s+|my\s+|our\s+)(.+)$"
);
re!(
    AGENDA_FOR,
    r"(?i)^(?:what's\s+|whats\s+|what\s+is\s+|show\s+(?:me\s+)?)?(?:my|the)\s+(?:agenda|schedule|plan|plans|todo list|to-do list|to do list|list|tasks|day|week)\s+(?:for|this|next|on|today|tomorrow|tonight)\b.*$"
);
re!(
    PLURAL_QUESTION,
    r"(?i)^(?:(?:the\s+)?(?:tasks|things|todos|stuff)\s+(?:i|we)\s+(?:haven't|have\s+not|didn't|did\s+not)\s+(?:started|done|finished|touched)(?:\s+yet)?\s*[?!.]*|(?:do|did)\s+(?:i|we)\s+have\s+any\s+[a-z]{3,}s\b.*|what(?:'s|’s|\s+is|\s+are)\s+(?:all\s+)?my\s+[a-z]{3,}s(?:\s+(?:today|tomorrow|this\s+week))?\s*[?!.]*)$"
);
re!(
    SHOW_PLURAL,
    r"(?i)^(?:show|list|display|see|view|get)(?:\s+me)?\s+(?:all\s+)?(?:of\s+)?(?:my|the|all)\s+[a-z]{3,}s\s*[?!.]*$"
);
re!(
    MY_DAY,
    r"(?i)^(?:(?:what's|whats|what\s+is|show(?:\s+me)?|how's|hows|how\s+is|what\s+does|how\s+does)\s+)?(?:my|the)\s+(day|week|weekend|today|tomorrow)(?:\s+(?:look(?:s|ing)?\s+like|like|looking))?\s*[?!.]*$|^(today's|tomorrow's|this\s+week's|the\s+week's|this\s+weekend's)\s+(?:plan|plans|agenda|schedule|tasks|list)\s*[?!.]*$"
);
re!(
    BEHIND,
    r"(?i)^(?:(?:am\s+i|are\s+we)\s+behind(?:\s+on\s+anything)?|what\s+(?:am\s+i|are\s+we)\s+behind\s+on|what\s+(?:did|have)\s+(?:i|we)\s+(?:miss|missed)|did\s+i\s+miss\s+anything)\s*[?!.]*$"
);
re!(
    MORE,
    r"(?i)^(?:show\s+(?:me\s+)?)?(?:more|the rest|the others|everything else|next page|more please|see more|load more|show all of them)$"
);
re!(
    NEWEST_FIRST,
    r"(?i)^(?:(?:show|list|sort|order)\s+(?:me\s+)?(?:my\s+|all\s+|the\s+)?(?:tasks\s+|them\s+)?(?:by\s+)?)?(?:newest|latest|most\s+recent|recent|last\s+added)(?:\s+(?:tasks|ones|todos))?\s+first\s*[.!?]*$"
);
re!(
    BY_NAME,
    r"(?i)^(?:(?:show|list|sort|order|put)\s+(?:me\s+)?(?:my\s+|all\s+|the\s+)?(?:tasks\s+|them\s+)?)?(?:(?:by|in)\s+)?(?:name|title|alphabetical(?:ly)?|a\s*-\s*z|abc)(?:\s+order)?\s*[.!?]*$"
);
const BY_NAME_REPLY: &str = "I can list your tasks by due date (\"my tasks by due date\"), by \
    priority (\"by priority\"), oldest first or newest first, but not by name.";
const MORE_REPLY: &str = "A listing shows up to 100 tasks; for the others, ask for fewer at a \
    time, for example \"what's due this week?\", \"my work tasks\" or \"completed tasks from last \
    week\".";
re!(
    NEED_THING,
    r"(?i)^(?:(?:i|we)\s+(?:still\s+|also\s+)?)?need\s+(?:some\s+|more\s+)?(\S.*)$"
);
re!(
    OUT_OF,
    r"(?i)^(?:(?:we're|we are|were|i'm|im|i am|we've|we have|i've|i have)\s+)?(?:all\s+)?(?:out of|run out of|ran out of|running out of|running low on|low on|almost out of|nearly out of)\s+(.+)$"
);
re!(
    I_AM_DONE,
    r"(?i)^(?:i'm|im|i am)\s+(?:done|finished)\s+(?:with\s+)?(.+)$"
);
// "✅ call mom", "team meeting ✓"
re!(
    CHECKMARK,
    r"^(?:✅|✓|✔️|✔|☑️|☑)\s*(\S.*)$|^(.*\S)\s*(?:✅|✓|✔️|✔|☑️|☑)$"
);
re!(
    IS_DONE,
    r"(?i)^(.+?)(?:\s+(?:is|are|gets|get|got|has been|have been|was|were)|'s|’s)\s+(?:now\s+|all\s+|already\s+)?(?:marked\s+(?:as\s+)?)?(?:done|complete|completed|finished|over|paid|sorted|handled|taken care of|called|emailed|texted|sent|bought|booked|cleaned|fixed|submitted|returned|renewed|washed|fed|watered|mailed|posted|picked up)\b.*$|^(.+?)\s+(?:happened|took place|went well|went fine)$"
);
re!(
    TITLE_DONE,
    r"(?i)^((?:the\s+)?[a-z][\w -]{1,60}?)\s*[:-]?\s+(?:done|finished|completed|complete|paid|bought|called|sent|booked|fixed|cleaned|submitted|handled|sorted)$"
);
/// Words that make "… done" something other than a task's title ("all done", "almost done").
const NOT_A_TITLE: &[&str] = &[
    "i",
    "we",
    "you",
    "all",
    "everything",
    "not",
    "almost",
    "nearly",
    "half",
    "just",
    "so",
    "mostly",
    "pretty",
    "it",
    "that",
    "this",
    "them",
    "those",
    "these",
    "is",
    "are",
    "am",
    "what",
    "which",
    "anything",
    "nothing",
    "something",
    "get",
    "gets",
    "got",
    "be",
    "been",
    "being",
    "mark",
    "well",
    "finally",
    "already",
    "now",
    "then",
    "and",
    "ok",
    "okay",
    "yes",
    "yeah",
];
re!(
    CHECK_NUMBER,
    r"(?i)^(?:please\s+)?check\s+(?:off\s+)?((?:task\s+|number\s+)?#?\d{1,9}(?:\s*(?:,|&|and)\s*#?\d{1,9})*)$"
);
re!(
    NUMBER_DONE,
    r"(?i)^((?:(?:task|number|no\.?)\s*#?|#)?\d{1,9}(?:\s*(?:,|&|and)\s*#?\d{1,9})*)\s*(?:[:-]\s*)?(?:done|complete|completed|finished)$"
);
// "task 4 gets deleted" (after "make sure"), "task 2 can be removed".
re!(
    IS_DELETED,
    r"(?i)^(.+?)\s+(?:is|are|gets|get|got|has been|have been|should be|can be|must be|was|were)\s+(?:deleted|removed|erased|trashed|thrown out|cancell?ed|called off|off)$|^(.+?)\s+(?:isn't|is not|won't be|will not be|isn't going to be|is no longer)\s+happening(?:\s+any\s?more)?$"
);
re!(
    RESCHEDULE,
    &format!(
        r"(?i)^{POLITE}(?:move|reschedule|postpone|push|defer|delay|shift|bump|snooze|change|update|put off|hold off on|hold off)\s+(.+?)\s+(?:back\s+|out\s+|off\s+)?(?:to|until|till|til|for)\s+(.+)$"
    )
);
re!(
    THE_TASK_IS_AT,
    r"(?i)^((?:the|my|our)\s+.+?)(?:\s+is|'s|’s)\s+(?:now\s+|actually\s+)?(.+?)(?:\s+now|\s+instead)?[.!]*$"
);
// "set every task due today to tomorrow" ("set the table for dinner" is a task to add)
re!(SET_TO, &format!(r"(?i)^{POLITE}set\s+(.+?)\s+to\s+(.+)$"));
// "put it on thursday", "schedule task 3 for friday": a task named by number or "it" only
// ("set the table for dinner" may be a task of its own)
re!(
    PUT_IT,
    &format!(
        r"(?i)^{POLITE}(?:put|set|schedule|plan|move|have)\s+(it|that|this|that one|this one|them|task\s+#?\d+|#\d+)\s+(?:on|for|at|to|due)\s+(.+?)(?:\s+instead)?$"
    )
);
re!(
    SET_DUE,
    &format!(
        r"(?i)^{POLITE}(?:change|set|update|make|move)\s+(?:the\s+|a\s+)?(?:due date|deadline|date|due|due time|time|date and time)\s+(?:of|for|on)\s+(.+?)(?:\s+(?:to|as|for)\s+|\s*:\s*)(.+)$"
    )
);
re!(
    SET_DUE_OF,
    &format!(
        r"(?i)^{POLITE}(?:change|set|update|move|push)\s+(?:the\s+)?(.+?)(?:'s)?\s+(?:due date|deadline|date|due|due time|time|start time)\s+(?:to|as|for)\s+(.+)$"
    )
);
// "the meeting is now at 4", "the dentist was moved to friday": news of a new date
re!(
    IS_NOW,
    r"(?i)^(.+?)\s+(?:is now|'s now|’s now|is now due|was moved|has been moved|got moved|was rescheduled|has been rescheduled|got rescheduled|was pushed back|was postponed|has been postponed|got postponed|was changed|has been changed|changed|moved|has moved|got changed|got pushed(?: back)?|was pushed|got delayed|was delayed)\s+(?:to\s+|until\s+|till\s+)?(.+?)(?:\s+now)?$"
);
// "the dentist is on december 2nd now", "the meeting's at 4 instead"
re!(
    IS_ON_NOW,
    r"(?i)^(.+?)(?:\s+is|'s|’s)\s+(?:actually\s+)?((?:on|at)\s+.+?)\s+(?:now|instead)$"
);
/// How many of a unit an amount says ("a", "two", "15"), as one capture group.
const COUNT: &str = r"(a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d{1,3})";

// "move task 2 up a day", "bring it forward by 2 hours" (group 2 how many, 3 of what).
re!(
    EARLIER,
    &format!(
        r"(?i)^{POLITE}(?:move|bring|pull|shift)\s+(.+?)\s+(?:forward|up|earlier|sooner)\s+(?:by\s+)?{COUNT}\s+(minutes?|mins?|hours?|days?|weeks?)$"
    )
);
// "move task 2 a day earlier"
re!(
    EARLIER_AFTER,
    &format!(
        r"(?i)^{POLITE}(?:move|bring|pull|shift|push)\s+(.+?)\s+(?:by\s+)?{COUNT}\s+(minutes?|mins?|hours?|days?|weeks?)\s+(?:earlier|sooner)$"
    )
);
re!(HALF_HOUR, r"(?i)\b(?:half an hour|a half hour|half hour)\b");
// "(move it to) the day after", "the week before"
re!(
    DAY_AFTER,
    r"(?i)^(?:(?:move|push|shift|bump|change|reschedule|postpone)\s+it\s+)?(?:to\s+)?the\s+(day|week)\s+(after|before)$"
);
// "move the dentist to the day after"
re!(
    MOVE_DAY_AFTER,
    &format!(
        r"(?i)^{POLITE}(?:move|push|shift|bump|change|reschedule|postpone)\s+(.+?)\s+to\s+the\s+(day|week)\s+(after|before)$"
    )
);
// "a day later", "2 hours earlier" alone
re!(
    BARE_SHIFT,
    &format!(
        r"(?i)^(?:(?:make it|move it|push it|do it)\s+)?(?:by\s+)?{COUNT}\s+(minutes?|mins?|hours?|days?|weeks?|months?)\s+(later|earlier|sooner|before)$"
    )
);
// "make it 30 minutes later", "have the meeting an hour earlier"
re!(
    MAKE_EARLIER,
    &format!(
        r"(?i)^{POLITE}(?:make|have|set)\s+(.+?)\s+(?:by\s+)?{COUNT}\s+(minutes?|mins?|hours?|days?|weeks?)\s+(?:earlier|sooner)$"
    )
);
re!(
    MAKE_LATER,
    &format!(
        r"(?i)^{POLITE}(?:make|have|set)\s+(.+?)\s+(?:by\s+)?{COUNT}\s+(minutes?|mins?|hours?|days?|weeks?|months?)\s+later$"
    )
);
// "task 1 from buy milk", "the meeting from today" (before "to …" in a rename or a move): the
// task, then what it was (group 2).
re!(FROM_OLD, r"(?i)^(.+?)\s+from\s+(.+)$");
// "what do I need to buy?": pending tasks with that verb.
re!(
    NEED_TO_VERB,
    r"(?i)^what\s+(?:else\s+)?(?:do|should|must)\s+(?:i|we)\s+(?:still\s+)?(?:need\s+to|have\s+to)\s+([a-z]+)$"
);
// "give task 3 a due date of friday", "give it a deadline of tomorrow 5pm".
re!(
    GIVE_DUE,
    &format!(
        r"(?i)^{POLITE}(?:give|assign)\s+(.+?)\s+(?:a\s+|the\s+)?(?:new\s+)?(?:due date|deadline|date)\s+(?:of\s+|on\s+|for\s+|:\s*)?(.+)$"
    )
);
// A task named by its number somewhere in a message ("task 3", "#3"): such a message is about
// that task, never a new one.
re!(
    NAMES_A_TASK,
    r"(?i)\b(?:task|number)\s*#?\d{1,9}\b|(?:^|\s)#\d{1,9}\b"
);
re!(
    MAKE_DUE,
    &format!(r"(?i)^{POLITE}(?:make|set|have)\s+(.+?)\s+(?:be\s+)?due\s+(.+)$")
);
re!(IS_DUE, r"(?i)^(.+?)\s+(?:is|should be)\s+due\s+(.+)$");
// "task 5 due next monday": a task number needs no verb
re!(
    NUMBER_DUE,
    r"(?i)^((?:task|number|no\.?)\s*#?\d{1,9}|#\d{1,9})\s*[:-]?\s*due\s+(.+)$"
);
re!(
    CLEAR_DUE,
    &format!(
        r"(?i)^{POLITE}(?:remove|clear|delete|drop|unset)\s+the\s+(?:due date|deadline|date)\s+(?:of|from|on|for)\s+(.+)$"
    )
);
re!(
    IT_CLEAR_DUE,
    &format!(
        r"(?i)^{POLITE}(?:remove|clear|delete|drop|unset|take off)\s+(?:the\s+|its\s+)?(?:due date|deadline|date|due)(?:\s+(?:from it|off it|of it|on it))?$"
    )
);
re!(
    SET_PRIORITY,
    &format!(
        r"(?i)^{POLITE}(?:make|set|mark|flag|change|bump|raise|lower|drop|move|put|give)\s+(.+?)\s+(?:(?:up|down)\s+)?(?:as\s+|to\s+)?(?:a\s+)?(high|top|low|medium|normal|no)(?:\s+|-)priority$"
    )
);
re!(
    SET_PRIORITY2,
    &format!(
        r"(?i)^{POLITE}(?:set|change|update)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+(.+?)\s+to\s+(high|low|medium|none|normal|urgent)$"
    )
);
// "set the milk task's priority to low": with the verb, any reference (a title too).
re!(
    SET_PRIORITY3,
    &format!(
        r"(?i)^{POLITE}(?:set|change|update|make)\s+(.+?)(?:'s|’s)\s+(?:priority|prio)\s+(?:to\s+|as\s+)?(high|top|low|medium|normal|none|urgent)$"
    )
);
// "raise the priority of task 3", "lower the rent's priority", "raise its priority": one step up
// or down
re!(
    PRIORITY_STEP,
    &format!(
        r"(?i)^{POLITE}(raise|increase|bump up|bump|up|lower|decrease|reduce|drop|bring down)\s+(?:(?:the\s+)?(?:priority|prio)\s+(?:of|for|on)\s+(.+?)|(.+?)(?:'s|’s)\s+(?:priority|prio)|(?:(its|their|the)\s+)?(?:priority|prio)|(.+?)\s+(?:priority|prio))$"
    )
);
// "repeat it monthly", "let task 7 recur every 2 weeks": the task by a reference only ("repeat
// the exercises daily" is a task to add)
re!(
    REPEAT_TASK,
    &format!(
        r"(?i)^{POLITE}(?:(?:have|let|make)\s+)?(?:repeat|recur)\s+(it|that|this|that one|this one|them|those|task\s+#?\d+|#\d+)\s+(.+)$|^{POLITE}(?:have|let|make)\s+(it|that|this|that one|this one|them|those|task\s+#?\d+|#\d+)\s+(?:repeat|recur)\s+(.+)$"
    )
);
// "make the plants a daily task", "turn task 3 into a weekly one"
re!(
    MAKE_KIND,
    &format!(
        r"(?i)^{POLITE}(?:make|turn)\s+(.+?)\s+(?:into\s+)?an?\s+(daily|weekly|monthly|yearly|annual|weekday|fortnightly|biweekly)\s+(?:task|thing|todo|to-do|one|reminder|event)$"
    )
);
// "the plants don't need to repeat anymore", "task 7 shouldn't repeat"
re!(
    NO_MORE_REPEAT,
    r"(?i)^(.+?)\s+(?:doesn't|does not|don't|do not|shouldn't|should not|needn't|no longer needs? to|won't|will not)\s+(?:need to\s+|have to\s+)?(?:repeat|recur|be recurring|be repeating)(?:\s+any\s?more)?$"
);
// "bump it up", "knock the rent down a notch", "move task 3 up in priority": one step as well
re!(
    PRIORITY_BUMP,
    &format!(
        r"(?i)^{POLITE}(?:(?:bump|knock)\s+(.+?)\s+(up|down)(?:\s+a\s+(?:notch|level|bit|step))?(?:\s+in\s+priority)?|(?:move|push|put|raise|lower)\s+(.+?)\s+(up|down)\s+in\s+priority)$"
    )
);
// "task 3 priority low", "set task 3's priority to high", "set the meeting priority to low",
// "the dentist priority should be high". Groups: the verb, the task, the word between, the
// priority.
re!(
    PRIORITY_OF,
    &format!(
        r"(?i)^{POLITE}(?:(set|change|update|make)\s+)?(.+?)(?:'s)?\s+(?:priority|prio)\s*(?:(to|is|should be|:|=)\s*)?(high|top|low|medium|normal|none|urgent)$"
    )
);
re!(
    IS_PRIORITY,
    r"(?i)^(.+?)\s+(?:is|should be|needs to be)\s+(?:a\s+)?(high|top|low|medium|normal|no)(?:\s+|-)priority$"
);
// "make the dentist less urgent", "the rent is not urgent anymore": low priority
re!(
    NOT_URGENT,
    &format!(
        r"(?i)^{POLITE}(?:(?:make|mark|flag|set)\s+(.+?)\s+(?:as\s+)?(?:less|not|no longer|non-?)\s*|(.+?)\s+(?:isn't|is not|is no longer|'s not|’s not)\s+)(?:so\s+)?(?:urgent|important|a priority)(?:\s+any ?more)?$"
    )
);
// "snooze it", "postpone the meeting": with no amount, a day later
re!(
    BARE_SNOOZE,
    &format!(
        r"(?i)^{POLITE}(?:snooze|postpone|push back|push|delay|defer|put off)\s+(it|that|this|that one|this one|(?:the|my)\s+.+?|task\s+#?\d+|#\d+)(?:\s+(?:back|out|off))?(?:\s+(?:a bit|for now))?$"
    )
);
// "remind me again tomorrow", "remind me about it on friday": a new date for the task just
// talked about
re!(
    REMIND_AGAIN,
    r"(?i)^remind me\s+(?:again|about (?:it|that)(?: again)?|of (?:it|that)(?: again)?)\s+(.+)$"
);
// "done", "mark as done", "finished it" alone: the task just talked about is done (or, for
// "not done" / "reopen", not)
re!(
    IT_DONE,
    r"(?i)^(?:mark\s+(?:it\s+|that\s+|this\s+)?as\s+|it'?s\s+|it\s+is\s+|that'?s\s+|that\s+is\s+|this\s+is\s+|that one'?s\s+|that one is\s+)?(?:all\s+)?(done|complete|completed|finished|not done|incomplete|undone|reopen|re-open)[\s!.]*$"
);
// "delete", "remove" alone
re!(
    IT_DELETE,
    r"(?i)^(?:delete|remove|trash|erase|drop)[\s!.]*$"
);
// "high priority", "priority: low" alone
re!(
    BARE_PRIORITY,
    r"(?i)^(?:(?:with|as|at|a)\s+)?(?:(high|top|low|medium|normal)(?:(?:\s+|-)(?:priority|prio))?|(?:priority|prio)\s*:?\s*(high|top|low|medium|normal|none))[\s!.]*$"
);
// "the rent is urgent", "this is important now"
re!(
    IS_URGENT,
    r"(?i)^(.+?)(?:\s+is|'s|’s)\s+(?:very\s+|really\s+|super\s+|actually\s+|now\s+)?(?:an?\s+)?(urgent|important|a priority|top|high|medium|low)(?:\s+priority)?(?:\s+now)?$"
);
re!(
    MARK_URGENT,
    &format!(
        r"(?i)^{POLITE}(?:make|mark|flag|set)\s+(.+?)\s+(?:as\s+)?(urgent|important|a priority)$"
    )
);
re!(
    PRIORITIZE,
    &format!(r"(?i)^{POLITE}(?:(de)?prioriti[sz]e|flag|star)\s+(.+)$")
);
// "tag task 1 #groceries #weekly"
re!(
    TAG_HASHES,
    &format!(r"(?i)^{POLITE}(?:tag|label)\s+(.+?)\s+((?:#[\w-]+[\s,]*)+)$")
);
re!(
    TAG,
    &format!(
        r"(?i)^{POLITE}(?:tag|label)\s+(.+?)\s+(?:as\s+|with\s+)?#?([\w-]+(?:\s*(?:,|and)\s*#?[\w-]+)*)$"
    )
);
re!(
    NO_PRIORITY_FOR,
    r"(?i)^(?:no|zero|without(?:\s+a)?)\s+priority\s+(?:for|on)\s+(.+?)[\s.!]*$"
);
// "clear all due dates", "remove every tag from my tasks", "reset all priorities"
re!(
    CLEAR_EVERY_PART,
    &format!(
        r"(?i)^{POLITE}(?:remove|clear|delete|drop|unset|reset|wipe|strip|erase)\s+(?:all|every|each)\s+(?:of\s+)?(?:the\s+|my\s+)?(due\s+dates?|deadlines?|dates|priorities|priority|tags|labels|notes|descriptions)(?:\s+(?:from|on|of|off)\s+(?:all\s+|every\s+)?(?:of\s+)?(?:my\s+|the\s+)?(?:tasks?|todos?|to-dos?|everything))?\s*[.!]*$"
    )
);
// "remove the priority from task 3", "delete the note on task 1", "clear the tags of task 4".
re!(
    CLEAR_PART,
    &format!(
        r"(?i)^{POLITE}(?:remove|clear|delete|drop|unset|take off|take away|strip)\s+(?:the\s+|all\s+(?:the\s+)?)?(priority|description|details|notes?|tags?|labels?)\s+(?:from|of|on|for|off)\s+(.+)$"
    )
);
// "remove the home tag from task 4", "remove #home from task 4", "take the tag work off it".
re!(
    REMOVE_TAG,
    &format!(
        r"(?i)^{POLITE}(?:remove|delete|drop|take)\s+(?:the\s+)?(?:(?:tag|label)\s+#?([\w-]+)|#?([\w-]+)\s+(?:tag|label)|#([\w-]+))\s+(?:from|off(?:\s+of)?|on)\s+(.+)$"
    )
);
re!(UNTAG, &format!(r"(?i)^{POLITE}untag\s+(.+)$"));
re!(
    ADD_TAG,
    &format!(
        r"(?i)^{POLITE}add\s+(?:the\s+)?(?:tags?|labels?)\s+#?([\w-]+(?:\s*(?:,|and)\s*#?[\w-]+)*)\s+to\s+(.+)$"
    )
);
re!(
    MAKE_REPEAT,
    &format!(
        r"(?i)^{POLITE}(?:make|set|have)\s+(.+?)\s+(?:to\s+)?(?:repeat|recur|repeating|recurring)(?:s)?\s+(.+)$"
    )
);
re!(
    IT_REPEATS,
    r"(?i)^(.+?)\s+(?:repeats|recurs|should repeat|happens)\s+(.+)$"
);
re!(
    STOP_REPEAT,
    &format!(
        r"(?i)^{POLITE}(?:stop repeating|don't repeat|do not repeat|make\s+(.+?)\s+not repeat|stop\s+(.+?)\s+(?:from\s+)?repeating)\s*(.*)$"
    )
);
// "task 1 notes: get the organic one", "add a note: organic" (to the task just talked about)
re!(
    NOTE_AFTER,
    r"(?i)^(?:(?:add|put|write|leave)\s+(?:a|the|this)\s+(?:note|comment|description)\s*(?::|saying)?|(.+?)\s+(?:notes?|description|details)\s*:)\s*(\S.*)$"
);
// "add a note to task 2: bring the documents", "put a description on the report task saying …"
re!(
    ADD_NOTE,
    &format!(
        r"(?i)^{POLITE}(?:(?:add|put|attach|write|leave)\s+(?:a\s+|the\s+|this\s+|some\s+|more\s+)?)?(?:notes?|description|details?|comment|info|information|context)\s+(?:to|on|for)\s+(.+?)\s*(?::|\s-|\s+saying|\s+that says)\s*(\S.*)$"
    )
);
re!(
    UPDATE_DESC,
    &format!(
        r"(?i)^{POLITE}(?:change|update|edit|modify|set)\s+(?:the\s+)?(?:description|details|notes?)\s+(?:of|for|on)\s+(.+?)\s+(?:to|as)\s+(.+)$"
    )
);
re!(
    UPDATE_DESC2,
    &format!(
        r"(?i)^{POLITE}(?:change|update|edit|modify|set)\s+(.+?)(?:'s)?\s+(?:description|details|notes?)\s+(?:to|as)\s+(.+)$"
    )
);
// "give it a note: bring the card", "give task 3 a description saying …"
re!(
    GIVE_NOTE,
    &format!(
        r"(?i)^{POLITE}give\s+(.+?)\s+(?:a\s+|the\s+)?(?:note|description|comment)\s*(?::|\s-|\s+saying|\s+that says|\s+of)\s*(\S.*)$"
    )
);
// "change the time to 9am", "set the date to friday": the task just talked about
re!(
    IT_TIME_TO,
    &format!(
        r"(?i)^{POLITE}(?:change|set|move|update|make|switch)\s+(?:the\s+|its\s+)?(?:time|date|due date|due time|deadline|day)\s+(?:to|for)\s+(.+)$"
    )
);
re!(
    ADD_TAG_TO,
    &format!(
        r"(?i)^{POLITE}(?:add|put|attach|stick|give)\s+(?:the\s+|a\s+|an\s+)?#?([\w-]+)\s+(?:tag|label)\s+(?:to|on|onto)\s+(.+)$"
    )
);
re!(
    COPY,
    &format!(
        r"(?i)^{POLITE}(?:duplicate|copy|clone|make\s+a\s+copy\s+of|make\s+another\s+(?:copy\s+)?of|add\s+(?:a\s+)?copy\s+of)\s+(.+?)(?:\s+(?:again|for me))?$"
    )
);
re!(
    RENAME_TAG,
    &format!(
        r"(?i)^{POLITE}(?:rename|change|replace|retag)\s+(?:the\s+|my\s+)?(?:(?:tag|label)\s+#?([\w-]+)|#([\w-]+)|([\w-]+)\s+(?:tag|label))\s+(?:tag\s+|label\s+)?(?:to|into|as|with)\s+#?([\w-]+)(?:\s+(?:everywhere|on all tasks|on every task))?$"
    )
);
re!(
    UPDATE_TITLE,
    &format!(
        r"(?i)^{POLITE}(?:change|rename|update|edit|modify|retitle|set)\s+(?:the\s+)?(?:title\s+of\s+|name\s+of\s+|wording\s+of\s+|text\s+of\s+)?(.+?)(?:'s)?(?:\s+(?:title|name|wording|text))?\s+(?:to|into|as)\s+(?:say\s+|read\s+|be\s+called\s+|be\s+named\s+)?(.+)$"
    )
);
re!(
    NAMES_TITLE,
    r"(?i)\b(?:rename|retitle|title|name|call(?:ed)?)\b"
);
// "rename task 5 buy soy milk", "rename the milk task \"oat milk\"": a new title without "to"
re!(
    RENAME_BARE,
    &format!(
        r#"(?i)^{POLITE}(?:rename|retitle)\s+(?:(task\s+#?\d+|#\d+|it|that|this|that one|this one)\s+(?:as\s+)?([^"“”]+|["“][^"“”]+["”])|(.+?)\s+(["“][^"“”]+["”]))$"#
    )
);
// "update task 2: call dad", "rename the milk task: buy oat milk".
re!(
    EDIT_COLON,
    &format!(r"(?i)^{POLITE}(?:change|rename|update|edit|modify|retitle)\s+(.+?)\s*:\s*(.+)$")
);
re!(
    ADD,
    &format!(
        r"(?i)^{POLITE}(add|create|make|put|insert|new|save|log|schedule|jot down|write down|note down|set up)\b\s*(.*)$"
    )
);
re!(
    TASK_NOUN,
    r"(?i)^(?:(?:a|an|another|one more|one|me a)\s+)?(?:new\s+)?(?:task|todo|to-do|to do|item|reminder|entry|note)s?\b"
);
re!(
    REMIND,
    r"(?i)^(?:please\s+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?(?:remind me(?::|\s+(?:to|about|of))?|(?:don't|dont|do not) let me forget(?:\s+(?:to|about))?|make sure (?:i|to)|(?:set|create|add|make)\s+(?:a\s+|me\s+a\s+)?reminder\s+(?:to|for|about)|i need to|i have to|i must|i should|i gotta|i've got to|ive got to|i got to|need to|gotta|have to|must|don't forget to|dont forget to|do not forget to|don't forget|dont forget|remember to|note to self:?|todo:|to-do:|task:)\s+(.+)$"
);
re!(
    ADD_PREFIX,
    r"(?i)^(?:(?:a|an|the|another|one more|one)\s+)?(?:(?:new\s+)?(?:(high|low|medium|urgent|important)(?:[\s-]+priority)?\s+)?(?:(daily|weekly|monthly|yearly|annual|recurring|repeating)\s+)?(?:new\s+)?(?:(?P<kind>[a-z][\w-]*)\s+(?:task|todo|to-do)s?|(?:task|todo|to-do|to do|item|reminder|entry|note)s?))?\s*(?P<to>to\s+|called\s+|named\s+|titled\s+|saying\s+|that says\s+|for\s+|about\s+|:\s*|-\s*)?(?P<body>.*)$"
);
/// Words before "task" in "add a … task to …" that are not a kind of task to tag it with.
const NOT_A_TASK_KIND: &[&str] = &[
    "new",
    "quick",
    "small",
    "simple",
    "short",
    "big",
    "little",
    "separate",
    "single",
    "one-off",
    "one-time",
    "another",
    "second",
    "first",
    "next",
    "easy",
    "hard",
    "tiny",
    "major",
    "minor",
    "general",
    "random",
    "specific",
    "special",
    "extra",
    "additional",
    "same",
    "different",
    "regular",
    "normal",
    "proper",
    "real",
    "actual",
    "important",
    "urgent",
    "priority",
    "my",
    "the",
    "this",
    "that",
    "some",
    "todo",
    "to-do",
    "reminder",
    "followup",
    "follow-up",
    "one",
    "more",
    "last",
    "final",
    "late",
    "overdue",
];

/// "eggs to my shopping list", "groceries: apples, bananas": what to add, and the list it names
/// as a tag (the list is a tag the user keeps by name).
fn list_named(body: &str) -> (String, Option<String>) {
    let named = LIST_AFTER
        .captures(body)
        .filter(|c| {
            ![
                "todo",
                "to-do",
                "do",
                "task",
                "tasks",
                "reminder",
                "reminders",
            ]
            .contains(&c[2].to_lowercase().as_str())
        })
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .or_else(|| {
            LIST_BEFORE
                .captures(body)
                .map(|c| (c[2].to_owned(), c[1].to_owned()))
        });
    match named.and_then(|(items, list)| Some((items, normalize_tag(&list).ok()?))) {
        Some((items, tag)) => (items, Some(tag)),
        None => (body.to_owned(), None),
    }
}

re!(
    LIST_AFTER,
    r"(?i)^(.+?)\s+(?:to|on|onto|in|into)\s+(?:my|the|our)\s+([\w-]+)\s+list[\s.!]*$"
);
re!(
    LIST_BEFORE,
    r"(?i)^(?:to\s+)?(?:my\s+|the\s+|our\s+)?(shopping|groceries|grocery|errands|chores|packing|gift|gifts|wish|reading|movie|movies|travel|garden|house|work|home|personal|family|school)(?:\s+list)?\s*(?::|\s-|\s–)\s*(.+)$"
);
re!(
    ADD_SUFFIX,
    r"(?i)\s+(?:to|on|in|onto|into)\s+(?:my|the)\s+(?:[\w-]+\s+)?(?:todo\s+|to-do\s+|to do\s+|task\s+|tasks\s+)?(?:list|tasks|todos|to-dos|calendar|agenda|schedule)$"
);
re!(
    MANY,
    r"(?i)^(?:(?:(?:\d+|two|three|four|five|six|seven|eight|nine|ten|some|these|the following|a few)\s+)?(?:new\s+)?(?:tasks|items|things|todos|to-dos)|these|the following|(?:these|the following|them)\s+(?:on|to)\s+(?:my|the)\s+(?:list|tasks|todo list|to-do list))\s*:\s*(.+)$"
);
re!(
    DESCRIPTION,
    r"(?i)^(.+?)\s*(?:,\s*|\s+)(?:with\s+(?:the\s+)?(?:description|details|notes?)|description:|details:|notes?:|desc:)\s*[:\-]?\s*(.+)$"
);
re!(
    LIST_VERB,
    r"(?i)\b(show|list|display|view|see|get|sort|what|what's|whats|which|give me|tell me|read|check|remaining|outstanding|any|anything|do i have|is there|are there)\b"
);
// "high priority tasks", "my tasks for tomorrow", "tasks due after friday", "all my work
// tasks": a request that is a noun phrase about tasks (up to three words before "tasks")
re!(
    TASKS_PHRASE,
    r"(?i)^(?:all\s+|my\s+|the\s+|any\s+)*(?:[\w'-]+\s+){0,3}?(?:tasks|todos|to-dos)(?:\s+(?:for|due|on|this|next|from|with|about|containing|mentioning|tagged|in|at|without|that|which|before|after|by|left|remaining|open|pending|completed|done|today|tomorrow|overdue)\b.*)?\s*[?!.]*$"
);
re!(
    STATUS_TASKS,
    r"(?i)^(?:all\s+|my\s+|the\s+)*(?:completed|done|finished|pending|open|overdue|remaining|unfinished|outstanding)\s+(?:tasks|todos|to-dos|items)\b"
);
// "how am I doing?", "what's my progress?", "give me an overview": how many are done and pending
re!(
    OVERVIEW,
    r"(?i)^(?:how am i doing|(?:what's|whats|what is|show(?: me)?|give me|how's|how is)\s+(?:my|an?|the)\s+(?:quick\s+)?(?:progress|overview|stats|statistics|summary|status report)|(?:quick\s+)?summary|summari[sz]e\s+(?:my\s+|the\s+)?(?:tasks|list|todos|to-dos|todo list|to-do list))\b[\s\w]*[?!.]*$"
);
re!(
    WHAT_ELSE,
    r"(?i)^(?:what|anything|is there anything)\s+else(?:\s+(?:is there|do i have|have i got|is left|is pending|to do|do i need to do))?$"
);
// "what's coming up?", "anything coming up this week?", "what do I have on?"
re!(
    COMING_UP,
    r"(?i)^(?:(?:what's|whats|what is|anything|is anything|is there anything)\s+(?:\w+\s+)?coming up\b|what(?:'s| is| do i have| have i got|'ve i got)(?: going)? on\s*(?:$|[?!.]|this|next|today|tomorrow|for))"
);
// A question about tasks by its first words: "what's due on friday?", "anything next week?"
// ("see the doctor on friday" is a task).
re!(
    LIST_QUESTION,
    r"(?i)^(?:what|what's|whats|which|any|anything|do i have|have i got|is there|are there|is anything|is something|are any|show|list|display)\b"
);
re!(
    LIST_NOUN,
    r"(?i)\b(tasks?|todos?|to-dos?|to do|list|pending|completed|complete|done|finished|left|remaining|open|outstanding|unfinished|incomplete|plate|agenda|overdue|late|due|urgent|important|priority|priorities|tagged|labell?ed|next|upcoming|schedule|today|tomorrow|tonight|yesterday|this week|last week|this month|last month|everything|all)\b|#\w"
);
re!(
    BARE_LIST,
    r"(?i)^(?:my\s+|all\s+)?(?:(?:open|pending|completed|done|finished|overdue|remaining|upcoming|unfinished|outstanding)\s+(?:tasks|todos|to-dos|items)|tasks|todos|to-dos|list|ls|todo list|pending|completed|done|everything|all|overdue|agenda|show(?: me)?|show all|display|this week|next week|this weekend|the weekend)\s*[?!.]*$"
);
// "show my work stuff", "list the home things": the tasks of that kind
re!(
    KIND_STUFF,
    r"(?i)^(?:show|list|display|view|see|what's|whats|what is|what are)\s+(?:me\s+)?(?:all\s+|only\s+|just\s+)?(?:of\s+)?(?:my\s+|the\s+)?[\w-]+\s+(?:stuff|things)\s*[?!.]*$"
);
re!(
    FIND,
    r"(?i)^(?:please\s+)?(?:find|search(?:\s+for)?|look\s+(?:for|up)|look\s+up|where(?:'s| is)|do i have (?:a|any) tasks? (?:about|for|called|named|mentioning))\s+(.+?)\??$"
);
re!(
    PENDING_WORDS,
    r"(?i)\b(pending|left|remaining|open|outstanding|unfinished|incomplete|not done|to do|todo|still|need to do|plate|active|overdue|late|next|upcoming|due)\b"
);
re!(
    NOT_DONE,
    r"(?i)\b(?:haven't|have not|hasn't|has not|didn't|did not|aren't|isn't|wasn't|weren't|not|not yet|never)\s+(?:i\s+|we\s+)?(?:been\s+|yet\s+)?(?:done|finished|completed|complete|did|do|finish|ticked off|checked off|started|start)\b"
);
re!(
    COMPLETED_WORDS,
    r"(?i)\b(completed|complete|done|finished|accomplished|checked off|did i)\b"
);
re!(
    TAGGED,
    r"(?i)(?:\btagged\s+(?:as\s+|with\s+)?|\blabell?ed\s+(?:as\s+)?|\bwith\s+(?:the\s+)?tag\s+|#)([\w-]+)|\b([\w-]+)\s+tag\b"
);
// "except the work tasks", "but not #home", "not tagged work", "excluding the home ones"
re!(
    NOT_TAGGED,
    r"\b(?:except(?:\s+for)?|but\s+not|but|other\s+than|apart\s+from|besides|excluding|without)\s+(?:the\s+|my\s+|any\s+)?(?:#([\w-]+)|([\w-]+)\s+(?:ones|tasks|todos|stuff|things|items|tag)\b|(?:tag|tagged)\s+#?([\w-]+))|\b(?:not|aren't|arent|isn't|isnt)\s+(?:tagged|labell?ed)\s+(?:as\s+|with\s+)?#?([\w-]+)"
);
// "tagged home or work", "#home or #work", "home or work tasks"
re!(
    ANY_TAGS,
    r"\b(?:tagged|labell?ed)\s+(?:as\s+|with\s+)?#?[\w-]+(?:\s*,\s*#?[\w-]+)*\s*,?\s+or\s+#?[\w-]+|#[\w-]+(?:\s*,\s*#[\w-]+)*\s*,?\s+or\s+#[\w-]+|\b[\w-]+(?:\s*,\s*[\w-]+)*\s*,?\s+or\s+[\w-]+\s+(?:tasks|todos|ones|items|stuff|things)\b"
);
// "untagged tasks", "tasks without a tag", "which tasks have no tags?"
re!(
    ANY_TAG,
    r"\b(?:(?:are|is)\s+tagged\s*[?!.]*$|with\s+(?:a\s+|any\s+)?(?:tags?|labels?)\s*[?!.]*$|(?:have|has)\s+(?:a\s+|any\s+)?(?:tags?|labels?)\s*[?!.]*$)"
);
re!(
    UNTAGGED,
    r"\b(?:untagged|not tagged|without (?:a |any )?(?:tags?|labels?)|with no (?:tags?|labels?)|(?:have|has|having) no (?:tags?|labels?))\b"
);
re!(
    SELECTOR,
    r"(?i)^(?:all|every|everything|each|any)\b|^(?:the\s+|my\s+)?(?:completed|done|finished|overdue|old|checked)\s+(?:tasks|ones|items|todos)?$|^(?:the\s+)?(?:tasks|ones|items|todos)\s+(?:due|tagged|that are|with)\b|^(?:my|the)\s+(?:whole\s+|entire\s+)?(?:list|todo list|to-do list|task list|tasks|todos)$"
);
re!(
    TAG_TASKS,
    r"(?i)^(?:(?:all|the|my)\s+)*#([\w-]+)(?:\s+(?:tasks|todos|to-dos|items|ones))?$"
);
re!(
    TASK_NUMBER,
    r"(?i)^(?:the\s+)?(?:task|todo|to-do|item|number|no\.?|#)?\s*(?:number\s+|no\.?\s*|#)?\s*#?(\d{1,9})(?:\s*(?:task|todo|item))?$"
);
re!(
    TASK_WORD_NUMBER,
    r"(?i)^(?:the\s+)?(?:task|todo|to-do|item|number)\s+(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)$"
);
re!(
    SHIFT,
    &format!(
        r"(?i)^{POLITE}(?:postpone|push|delay|defer|move|bump|shift|snooze|push back)\s+(.+?)\s+(?:back\s+|out\s+)?(?:by\s+)?{COUNT}\s+(minutes?|mins?|hours?|days?|weeks?|months?)(?:\s+later)?$"
    )
);
// "show task 3", "what is it", "open #4": a task named by number or by the conversation.
re!(
    SHOW_ONE,
    r"(?i)^(?:please\s+)?(?:(?:can|could)\s+you\s+)?(?:show(?:\s+me)?|what(?:'s|s| is| was)|open|view|look at|display)\s+(.+?)$"
);
// "what tags do I have?", "list my tags", "which labels am I using".
re!(
    TAGS_QUESTION,
    r"(?i)^(?:(?:what|which)\s+(?:tags|labels)\s+(?:do\s+i\s+(?:have|use)|are\s+there|am\s+i\s+using|have\s+i\s+used)|(?:list|show)(?:\s+me)?\s+(?:all\s+)?(?:of\s+)?(?:my\s+|the\s+)?(?:tags|labels)|(?:my\s+)?(?:tags|labels))$"
);
// "tell me about the dentist task", "what is task 3 about", "details of the report", "what's the
// description of task 1?".
re!(
    SHOW_ABOUT,
    r"(?i)^(?:please\s+)?(?:(?:can|could)\s+you\s+)?(?:tell me(?:\s+more)?\s+about\s+(.+?)|(?:what(?:'s|s| is)\s+)?(?:the\s+)?status\s+(?:of|on|for)\s+(.+?)|what(?:'s|s| is| was)\s+(.+?)\s+about|describe\s+(.+?)|(?:give me\s+|show(?:\s+me)?\s+|what are\s+|what(?:'s|s| is)\s+)?(?:the\s+|my\s+|any\s+)?(?:details|description|notes?|due date|deadline|priority|tags)\s+(?:of|for|on|about)\s+(.+?))$"
);
// Questions about one task: "when is the dentist?", "when is task 3 due", "did I finish the
// report?", "is task 4 done?". Answered with the task, never by changing it.
re!(
    ASK_ABOUT,
    r"(?i)^(?:when(?:'s|s| is| was)\s+(.+?)(?:\s+due)?|what (?:time|day|date) is\s+(.+?)(?:\s+(?:due|on|at))?|how long (?:until|till|before|is it until)\s+(.+?)|(?:did|have|has)\s+(?:i|we)\s+(?:already\s+|ever\s+)?(?:finish(?:ed)?|complete(?:d)?|do|done|mark(?:ed)?|pa(?:y|id)|call(?:ed)?|add(?:ed)?|put(?:\s+down)?|create(?:d)?|write down|written down)\s+(.+?)(?:\s+(?:yet|already|done))?|(?:is|are)\s+(.+?)\s+(?:done|finished|complete|completed|paid|over|overdue|late|pending|still open|due (?:today|tomorrow|soon|this week)|(?:on|in)\s+(?:my|the)\s+(?:list|tasks|todo list|to-do list))(?:\s+(?:yet|already))?|(?:do|did)\s+(?:i|we)\s+(?:still\s+)?(?:need|have)\s+to\s+(.+?)(?:\s+(?:still|again|today))?|do\s+(?:i|we)\s+have\s+(.+?)\s+(?:on|in)\s+(?:my|the)\s+(?:list|tasks|todo list|to-do list)|what\s+(?:notes?|details|tags|labels|priority|due date|deadline)\s+(?:does|do|has)\s+(.+?)\s+(?:have|got)|(?:does|do)\s+(.+?)\s+have\s+(?:any\s+|a\s+)?(?:notes?|details|tags?|labels?|due date|deadline|priority|repeat)|(?:is|are)\s+(.+?)\s+(?:still\s+)?(?:on|at|due(?:\s+on|\s+at)?)\s+(?:(?:this|next)\s+)?(?:mon|tues|wednes|thurs|fri|satur|sun)day|(?:is|are)\s+(.+?)\s+(?:still\s+)?(?:at|due at)\s+\d{1,2}(?::\d{2})?\s*(?:am|pm)?|what\s+(?:priority|tags?|labels?|due date|deadline|notes?)\s+(?:is|are|does|do|has)\s+(.+?)(?:\s+(?:have|got|set to|at|on))?|(?:is|are)\s+(.+?)\s+(?:an?\s+)?(?:(?:high|low|medium|top|normal)(?:\s+|-)priority|urgent|important|a priority))$"
);
re!(
    IT_PROPERTY,
    r"(?i)^(?:what(?:'s|s| is)|tell me)\s+(?:its|the)\s+(?:priority|due date|deadline|date|time|status|description|notes?|tags?|title)(?:\s+again)?$|^when(?:'s|s| is)\s+(?:it|that|this)(?:\s+due)?(?:\s+again)?$|^(?:is|was)\s+(?:it|that|this)\s+(?:important|urgent|high priority|a priority|done|finished|overdue|late|due (?:today|tomorrow|soon)|repeating|recurring)$"
);
re!(
    IT_IS_WHEN,
    r"(?i)^(?:it|that|this|that one|this one)(?:'s|’s|s| is| should be| needs to be| has to be| will be| was moved to| got moved to| moved to)\s+(?:actually\s+|now\s+|really\s+)?(?:due\s+)?(.+?)(?:\s*,?\s+not\s+[^,]+)?(?:\s+instead)?$"
);
re!(
    NEED_ANYTHING,
    r"(?i)^(?:do|did)\s+(?:i|we)\s+(?:still\s+)?(?:need|have)\s+to\s+([a-z]+)\s+(?:anything|something|stuff)(?:\s+(?:else|still|today))?$"
);
// "I don't need to buy milk anymore", "forget about the dentist", "never mind the rent task".
re!(
    DROP,
    r"(?i)^(?:(?:i|we)\s+(?:don't|dont|do not|no longer)\s+(?:need|have)\s+to\s+(.+?)(?:\s+any\s?more)?|(?:i|we)\s+no longer\s+need\s+(.+?)|(?:i|we)\s+(?:don't|dont|do not)\s+need\s+((?:the|that|this|my)\s+.+?)\s+any\s?more|(?:forget|never\s?mind|nevermind)\s+(?:about\s+)?(.+?)|(?:there's\s+|there\s+is\s+)?no\s+(?:more\s+)?need\s+to\s+(.+?))$"
);
re!(
    PLAN_DAY,
    r"(?i)^(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?(?:help\s+me\s+(?:to\s+)?)?(?:plan|organi[sz]e|sort out|structure|prioriti[sz]e)\s+(?:my|the|our)\s+day(?:\s+for me)?$"
);
re!(
    PRIORITIZE_ALL,
    r"(?i)^(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?(?:help\s+me\s+)?(?:prioriti[sz]e|rank|order)\s+(?:all\s+)?(?:my|the|our)\s+(?:tasks|todos|to-dos|list|todo list|to-do list)(?:\s+for me)?$"
);
re!(WHAT_ABOUT, r"(?i)^(?:and\s+)?(?:what|how)\s+about\s+(.+?)$");
re!(
    WHAT_FIRST,
    r"(?i)^(?:what|which task)\s+(?:should|do)\s+i\s+(?:do|work on|start with|tackle|focus on)(?:\s+(?:first|next|now|today))?$"
);
re!(
    TASK_WORD_NUMBERS,
    r"(?i)^(?:the\s+)?(?:tasks|todos|items|numbers)\s+((?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)(?:\s*(?:,|and|,\s*and)\s*(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve))+)$"
);
re!(
    TASK_NUMBERS,
    r"(?i)^(?:the\s+)?(?:tasks?|todos?|items?|numbers?)?\s*#?(\d{1,9})(?:(?:\s*(?:,|and|&|,\s*and)\s*|\s+)(?:(?:task|todo|item|number)\s+)?#?\d{1,9})+$"
);
re!(
    TASK_RANGE,
    r"(?i)^(?:the\s+)?(?:tasks?|todos?|items?|numbers?)?\s*#?(\d{1,4})\s*(?:-|–|to|through|thru|until)\s*#?(\d{1,4})$"
);
// "the second one", "the 3rd task", "the last one on the list"
re!(
    ORDINAL,
    r"(?i)^(?:the\s+)?(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|1st|2nd|3rd|4th|5th|6th|7th|8th|9th|10th|last)(?:\s+(?:one|task|todo|item|of them))?(?:\s+(?:on|in|from)\s+(?:the|that|your|my)\s+list)?(?:\s+please)?$"
);
re!(
    SHOWN,
    r"(?i)^(?:all\s+)?(?:of\s+)?(?:them|those|these|both)(?:\s+(?:all|two|three|ones|tasks|items))?(?:\s+of\s+them)?$"
);
re!(
    PREVIOUS,
    r"(?i)^(?:it|its|that|this|that one|this one|that task|this task|the one you just added)$"
);
re!(
    PRIORITY_WORDS,
    r"(?i)(?:^|\s)(?:(?:with|as|at|a|it's|it is|its|this is|that's)\s+)?(?:(high|top|highest|low|lowest|medium|normal)(?:\s+|-)priority|priority\s*:?\s*(high|low|medium|urgent|[1-3])|\((?:priority\s*:?\s*)?(high|low|medium|urgent|important)(?:\s+priority)?\)|(urgent(?:ly)?|asap|important|critical)|!(high|low|medium|urgent)|(!{1,3})|\b(p[1-4]))(?:[\s!.,:]|$)"
);
re!(
    NOT_URGENT_ADD,
    r"(?i)(?:,\s*|\s+-\s+|\s+)\(?(?:not\s+(?:urgent|important)|no\s+rush|non[- ]urgent|not\s+a\s+priority|whenever|low[- ]key)\)?[\s!.]*$"
);
re!(
    TAG_PHRASE,
    r"(?i)(?:^|[\s,;])(?:and\s+)?(?:tag(?:ged|s)?|label(?:l?ed|s)?)\s*:?\s+(?:it\s+)?(?:as\s+|with\s+)?#?([\w-]+(?:\s*(?:,|and)\s*#?[\w-]+)*)[\s,;.]*$"
);
// A span of time: "from 2 to 3pm", "2-3pm", "between 9:30 and 11am", "from 14:00 to 15:00";
// groups: start hour, its minutes, its am/pm, end hour, its minutes, its am/pm.
re!(
    DATE_RANGE,
    r"(?i)\s+from\s+([^,]+?)\s+(?:to|until|till|through|thru)\s+([^,]+?)$"
);
re!(
    TIME_RANGE,
    r"(?i)(?:\b(?:from|between)\s+)?\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*(?:-|–|to|until|till|and)\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b"
);
// "the first two", "the top 3", "the last two ones": several places in the list shown.
re!(
    FIRST_FEW,
    r"(?i)^(?:the\s+)?(first|top|last)\s+(\w+)(?:\s+(?:ones|tasks|items|of them|on the list))?$"
);
// Two or more titles in double quotes, joined by commas, "and" or "&".
re!(
    QUOTED_LIST,
    r#"^\s*["“][^"“”]+["”](?:\s*(?:,\s*(?:and\s+)?|and\s+|&\s*)["“][^"“”]+["”])+\s*$"#
);
re!(QUOTED, r#"["“]([^"“”]+)["”]"#);
re!(HASHTAG, r"(?:^|\s)#([\p{L}\p{N}_-]*\p{L}[\p{L}\p{N}_-]*)");

/// Lower-case words that carry no meaning when matching a title.
pub const STOPWORDS: &[&str] = &[
    "the", "a", "an", "my", "to", "task", "tasks", "todo", "item", "for", "of", "on", "with",
    "and", "please", "that", "this", "one", "about", "i", "me", "it", "is", "as", "at", "in",
];

pub fn strip_punctuation(s: &str) -> &str {
    let s = s.trim();
    let cut = s.trim_end_matches(['.', '!', '?', ',', ';']);
    // "on 15.12.": the last dot of a date written with dots is part of it (the phrase reader
    // tells such a date from a time by that dot)
    if s[cut.len()..].starts_with('.') {
        let last = cut.rsplit(char::is_whitespace).next().unwrap_or(cut);
        if phrase::dotted_date(&format!("{last}.")).is_some() {
            return &s[..=cut.len()];
        }
    }
    cut.trim()
}

pub fn unquote(s: &str) -> &str {
    let s = s.trim();
    for (open, close) in [('"', '"'), ('\'', '\''), ('“', '”'), ('‘', '’'), ('`', '`')] {
        if let Some(inner) = s.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            return inner.trim();
        }
    }
    s
}

/// Capitalizes the first letter of a title.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn clean_title(raw: &str) -> String {
    let s = strip_punctuation(raw);
    let s = ADD_SUFFIX.replace(s, "");
    let mut s = unquote(strip_punctuation(&s)).to_owned();
    // Words left dangling once a date or tag was read out: "pay rent on", "call mom and".
    loop {
        let lower = s.to_lowercase();
        let Some(cut) = [
            " with a due date of",
            " with the due date",
            " with due date",
            " with a due date",
            " due date of",
            " due date",
            " with a deadline of",
            " with deadline",
            " with a deadline",
            " deadline",
            " on",
            " by",
            " at",
            " due",
            " for",
            " and",
            " with",
            " -",
            " to",
            " before",
            ",",
            " sometime",
            " some time",
            " at some point",
            " soon",
            " soonish",
            " eventually",
            " when i can",
            " when i get a chance",
            " instead",
            " is",
            " are",
        ]
        .iter()
        .find(|w| lower.ends_with(**w)) else {
            break;
        };
        s.truncate(s.len() - cut.len());
        s = strip_punctuation(&s).to_owned();
    }
    // "there's a party on saturday": the party
    let lower = s.to_lowercase();
    if let Some(rest) = ["there's a ", "there is a ", "there's an ", "there is an "]
        .iter()
        .find(|p| lower.starts_with(**p))
        .map(|p| s[p.len()..].to_owned())
        .filter(|r| !r.trim().is_empty())
    {
        s = rest;
    }
    // "I should probably call my sister": the hedge is not part of what to do
    loop {
        let lower = s.to_lowercase();
        let Some(hedge) = ["probably ", "maybe ", "perhaps ", "definitely ", "really "]
            .iter()
            .find(|h| lower.starts_with(**h) && s.len() > h.len())
        else {
            break;
        };
        s = s[hedge.len()..].trim_start().to_owned();
    }
    // "ADD BUY MILK": a message typed with caps lock on is not a title in capitals
    let shouted = s.chars().any(char::is_alphabetic)
        && !s.chars().any(char::is_lowercase)
        && s.split_whitespace()
            .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
            .count()
            >= 2;
    if shouted {
        s = s.to_lowercase();
    }
    capitalize(unquote(&s))
}

/// Parses what a task reference names.
pub fn parse_target(raw: &str, clock: &Clock) -> Target {
    let s = unquote(strip_punctuation(raw));
    // "task 5 for me", "the milk please": words for the listener, not the task
    let s = [
        "for me",
        "please",
        "pls",
        "right now",
        "now",
        "too",
        "as well",
    ]
    .iter()
    .find_map(|w| {
        let cut = s.len().checked_sub(w.len() + 1)?;
        (s.is_char_boundary(cut)
            && s[cut..].starts_with(' ')
            && s[cut + 1..].eq_ignore_ascii_case(w))
        .then(|| s[..cut].trim_end())
    })
    .unwrap_or(s);
    if s.is_empty()
        || matches!(
            s.to_lowercase().as_str(),
            "task" | "a task" | "the task" | "tasks"
        )
    {
        return Target::Missing;
    }
    if let Some(c) = TASK_NUMBER.captures(s)
        && let Ok(n) = c[1].parse::<i32>()
    {
        return Target::Ids(vec![n]);
    }
    // "task one", "number three"
    if let Some(c) = TASK_WORD_NUMBER.captures(s)
        && let Some(n) = phrase::number(&c[1].to_lowercase()).filter(|n| *n > 0)
        && let Ok(n) = i32::try_from(n)
    {
        return Target::Ids(vec![n]);
    }
    // "tasks one and two", "numbers three, four and five"
    if let Some(c) = TASK_WORD_NUMBERS.captures(s) {
        let ids: Option<Vec<i32>> = list_items(&c[1])
            .map(|w| {
                phrase::number(&w.to_lowercase())
                    .filter(|n| *n > 0)
                    .and_then(|n| i32::try_from(n).ok())
            })
            .collect();
        if let Some(ids) = ids.filter(|ids| ids.len() > 1) {
            return Target::Ids(ids);
        }
    }
    // "tasks 1-3", "tasks 2 through 5": every number between (a short run only)
    if let Some(c) = TASK_RANGE.captures(s)
        && let (Ok(from), Ok(to)) = (c[1].parse::<i32>(), c[2].parse::<i32>())
        && from < to
        && to - from < 50
    {
        return Target::Ids((from..=to).collect());
    }
    if TASK_NUMBERS.is_match(s) {
        re!(DIGITS, r"\d{1,9}");
        let ids: Vec<i32> = DIGITS
            .find_iter(s)
            .filter_map(|m| m.as_str().parse().ok())
            .collect();
        return Target::Ids(ids);
    }
    if PREVIOUS.is_match(s) {
        return Target::Previous;
    }
    // "them", "all of those": every task just shown (or just talked about)
    if SHOWN.is_match(s) {
        return Target::Listed(Vec::new());
    }
    // "the first and the third"
    if s.contains(" and ") || s.contains(", ") {
        let places: Option<Vec<Position>> = list_items(s).map(ordinal).collect();
        if let Some(places) = places.filter(|p| p.len() > 1) {
            return Target::Listed(places);
        }
    }
    // "my last task" as "the last task"
    let the = s
        .strip_prefix("my ")
        .or_else(|| s.strip_prefix("My "))
        .map(|rest| format!("the {rest}"));
    if let Some(p) = ordinal(the.as_deref().unwrap_or(s)) {
        return Target::Listed(vec![p]);
    }
    // "the first two", "the last 3 ones"
    if let Some(c) = FIRST_FEW.captures(s)
        && let Some(n) = phrase::number(&c[2].to_lowercase())
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=20).contains(n))
    {
        let first = !c[1].eq_ignore_ascii_case("last");
        return Target::Listed(
            (1..=n)
                .map(|i| {
                    if first {
                        Position::Nth(i)
                    } else {
                        Position::FromEnd(n - i)
                    }
                })
                .collect(),
        );
    }
    if SELECTOR.is_match(s) {
        // "mark all as done" right after a listing: the tasks it showed (the planner decides)
        let shown_first = matches!(s.to_lowercase().as_str(), "all" | "all of it");
        return Target::All(Query {
            shown_first,
            ..selector_query(s, clock)
        });
    }
    // "#home tasks", "the #work ones": every task with that tag
    if let Some(c) = TAG_TASKS.captures(s)
        && let Ok(tag) = normalize_tag(&c[1])
    {
        return Target::All(Query {
            tag: Some(tag),
            ..Query::default()
        });
    }
    // "the milk tasks", "both milk ones": every task those words name, as "all the milk tasks"
    if let Some(c) = PLURAL_TASKS.captures(s)
        && !SELECTOR_WORDS.contains(&c[1].to_lowercase().as_str())
    {
        return Target::All(selector_query(&format!("all the {} tasks", &c[1]), clock));
    }
    // "my 3pm meeting", "tomorrow's call": the title after the time or day that says which
    if let Some(c) = WHEN_BEFORE_TITLE.captures(s) {
        // "today's tasks": every task due then
        if matches!(
            c[1].to_lowercase().as_str(),
            "tasks" | "todos" | "to-dos" | "stuff" | "things" | "items" | "ones"
        ) {
            return Target::All(selector_query(&format!("all {s}"), clock));
        }
        return parse_target(&c[1], clock);
    }
    let mut t = s.to_owned();
    for prefix in ["the ", "my ", "a ", "that ", "this "] {
        if t.to_lowercase().starts_with(prefix) {
            t = t[prefix.len()..].to_owned();
        }
    }
    for suffix in [" task", " todo", " item", " one", " reminder"] {
        if t.to_lowercase().ends_with(suffix) && t.len() > suffix.len() {
            t.truncate(t.len() - suffix.len());
        }
    }
    let t = unquote(&t);
    // "task 'buy milk'" / "task called buy milk" / "the task about milk"
    let t = t
        .strip_prefix("task ")
        .or_else(|| t.strip_prefix("Task "))
        .map_or(t, |r| {
            ["called ", "named ", "about ", "for ", "with ", "to "]
                .iter()
                .find_map(|p| r.strip_prefix(p))
                .unwrap_or(r)
        });
    Target::Title(unquote(t).to_owned())
}

re!(
    WHEN_BEFORE_TITLE,
    r"(?i)^(?:the\s+|my\s+)?(?:(?:today|tonight|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?:'s|’s)|\d{1,2}(?::\d{2})?\s*(?:am|pm)|\d{1,2}:\d{2}|noon)\s+([a-z].*)$"
);
re!(
    PLURAL_TASKS,
    r"(?i)^(?:the\s+|my\s+|both\s+(?:the\s+|my\s+)?)(?:(?:two|three|four|five|\d{1,2})\s+)?([\w' -]+?)\s+(?:tasks|todos|to-dos|ones|items|reminders)$"
);

/// The items of "a, b and c", trimmed.
pub fn list_items(s: &str) -> impl Iterator<Item = &str> {
    s.split(" and ").flat_map(|p| p.split(", ")).map(str::trim)
}

/// The first capture group that took part in the match, for patterns whose alternatives each
/// capture the same thing in a group of their own.
fn first_group<'h>(c: &regex::Captures<'h>) -> Option<regex::Match<'h>> {
    c.iter().skip(1).flatten().next()
}

/// The place "the second one" names.
fn ordinal(s: &str) -> Option<Position> {
    let c = ORDINAL.captures(s)?;
    let word = c[1].to_lowercase();
    if word == "last" {
        return Some(Position::FromEnd(0));
    }
    const WORDS: [&str; 10] = [
        "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
        "tenth",
    ];
    WORDS
        .iter()
        .position(|w| *w == word)
        .map(|i| i + 1)
        .or_else(|| phrase::ordinal(&word).and_then(|n| usize::try_from(n).ok()))
        .map(Position::Nth)
}

re!(AS_WELL, r"\b(?:including|include|incl|even|plus|as well)\b");

fn status_from_words(text: &str) -> StatusFilter {
    // "due" means still to do, but "(without a) due date" says nothing about done or not.
    let text = &text.to_lowercase().replace("due date", "");
    // "what did I add today?" asks about adding, not finishing
    let text = &["add", "create", "put", "write down"]
        .iter()
        .fold(text.clone(), |t, verb| {
            t.replace(&format!("did i {verb}"), verb)
        });
    // "everything I haven't done", "tasks not finished yet", "all but the completed ones": still
    // to do
    let text = &NOT_DONE.replace_all(text, "pending").into_owned();
    let text = &EXCEPT_DONE.replace_all(text, "pending").into_owned();
    let completed = COMPLETED_WORDS.is_match(text);
    // Beside a completion word "due" dates the tasks ("completed tasks that were due today").
    let pending = PENDING_WORDS
        .find_iter(text)
        .any(|w| !(completed && w.as_str().eq_ignore_ascii_case("due")))
        || text.contains("have to do")
        || text.contains("need to do");
    // "all my tasks including completed ones", "even the done ones": both
    let as_well = AS_WELL.is_match(text);
    match (pending, completed) {
        (true, false) => StatusFilter::Pending,
        (false, true) if !as_well => StatusFilter::Completed,
        _ => StatusFilter::All,
    }
}

// "everything except completed", "all but the done ones", "excluding finished tasks"
re!(
    EXCEPT_DONE,
    r"(?i)\b(?:except(?:\s+for)?|but\s+not|but|other\s+than|apart\s+from|besides|excluding|exclude|without|hide|hiding)\s+(?:the\s+)?(?:completed|done|finished|closed|ticked[\s-]off|checked[\s-]off)(?:\s+(?:ones|tasks|todos|items))?\b"
);
// "what's not overdue?", "tasks that aren't due today": everything still to do but those
re!(
    NOT_DUE,
    r"(?i)\b(?:not|isn't|aren't|ain't|wasn't|weren't)\s+(?:yet\s+)?(?:(overdue|late|past\s+due)|due\s+(today|tonight|tomorrow|this\s+week))\b"
);
// "tasks that aren't low priority": medium and up
re!(
    NOT_LOW,
    r"(?i)\b(?:not|non|isn't|aren't)[\s-](?:a\s+)?low[\s-]priority\b"
);
re!(
    NO_PRIORITY_Q,
    r"(?i)\b(?:without\s+(?:a\s+|any\s+)?priority|with\s+no\s+priority|no\s+priority\s+(?:set|tasks)|(?:have|has)\s+no\s+priority|(?:don't|do\s+not|doesn't)\s+have\s+a\s+priority|un-?prioriti[sz]ed|not\s+prioriti[sz]ed)\b"
);
re!(
    AT_LEAST_MEDIUM,
    r"\b(?:high\s+(?:and|or|&)\s+medium|medium\s+(?:and|or|&)\s+high|medium\s+or\s+(?:higher|above|more)|at\s+least\s+medium)\b"
);
re!(
    NOT_URGENT_WORDS,
    r"\b(?:not|non|un|less|isn't|aren't)[\s-]?(?:urgent|important|(?:a\s+)?high[\s-]priority)\b"
);

/// Words that ask for repeating tasks ("my recurring tasks", "which tasks repeat?").
const REPEAT_WORDS: &[&str] = &[
    "recurring",
    "repeating",
    "repeat",
    "repeats",
    "recur",
    "recurrent",
    "daily",
    "weekly",
    "monthly",
    "yearly",
];

/// Words that ask for one-off tasks ("my one-off tasks").
const ONE_OFF_WORDS: &[&str] = &["one-off", "one-time", "non-recurring", "non-repeating"];

/// Words a selector may use beside a title fragment ("all the milk tasks", "tasks with milk").
const SELECTOR_WORDS: &[&str] = &[
    "all",
    "every",
    "everything",
    "each",
    "any",
    "the",
    "my",
    "of",
    "tasks",
    "task",
    "ones",
    "one",
    "items",
    "item",
    "todos",
    "todo",
    "to-dos",
    "that",
    "are",
    "is",
    "with",
    "about",
    "containing",
    "mentioning",
    "called",
    "named",
    "titled",
    "completed",
    "complete",
    "done",
    "finished",
    "pending",
    "open",
    "overdue",
    "late",
    "due",
    "today",
    "tonight",
    "tomorrow",
    "yesterday",
    "week",
    "month",
    "last",
    "past",
    "this",
    "next",
    "high",
    "low",
    "medium",
    "priority",
    "urgent",
    "important",
    "tagged",
    "tag",
    "labelled",
    "labeled",
    "as",
    "no",
    "date",
    "without",
    "a",
    "an",
    "old",
    "checked",
    "remaining",
    "left",
    "list",
    "whole",
    "entire",
    "in",
    "for",
    "and",
];

/// The days a listing names at its end ("what's due on friday", "anything next week?", "tasks due
/// before the 3rd"), and the text before them. Today, tomorrow and this week are
/// [`DueFilter`]s instead.
fn take_days(text: &str, clock: &Clock) -> Option<(Days, String)> {
    let text = strip_punctuation(text).to_lowercase();
    let words: Vec<&str> = text.split_whitespace().collect();
    let n = words.len();
    (1..n.min(7)).rev().find_map(|k| {
        days_phrase(&words[n - k..], clock).map(|days| (days, words[..n - k].join(" ")))
    })
}

/// Reads all of `words` ("due on friday", "before the 3rd", "next week") as days.
fn days_phrase(words: &[&str], clock: &Clock) -> Option<Days> {
    let skip = usize::from(words.first() == Some(&"due"));
    let (&first, rest) = words[skip..].split_first()?;
    // "between monday and wednesday", "between the 3rd and the 10th"
    if first == "between" {
        let joined = rest.join(" ");
        let (a, b) = joined.split_once(" and ")?;
        let (from, _) = day_span(a.trim_start_matches("the "), clock)?;
        let (_, to) = day_span(b.trim_start_matches("the "), clock)?;
        return (from <= to).then_some(Days {
            from: Some(from),
            to: Some(to),
        });
    }
    let (bound, phrase) = match first {
        // "on or before friday", "on or after the 3rd"
        "on" if rest.len() > 2 && rest[0] == "or" && matches!(rest[1], "before" | "after") => {
            (if rest[1] == "before" { "by" } else { "from" }, &rest[2..])
        }
        "on" | "for" | "over" | "during" => ("on", rest),
        // "in december"
        "in" if rest.len() == 1 && phrase::month(rest[0]).is_some() => ("on", rest),
        // "in the next 3 days", "within the next week"
        "in" | "within"
            if rest
                .first()
                .is_some_and(|w| matches!(*w, "the" | "next" | "coming")) =>
        {
            ("on", rest)
        }
        "before" | "by" | "until" | "till" | "after" => (first, rest),
        // "what was due yesterday?"
        "yesterday" if rest.is_empty() => ("on", &words[skip..]),
        "next" | "this" | "coming" | "the" => ("on", &words[skip..]),
        // "in two days", "in a week": that day
        "in" if rest.len() == 2
            && (rest[0] == "a" || phrase::number(rest[0]).is_some())
            && matches!(rest[1], "day" | "days" | "week" | "weeks") =>
        {
            ("on", &words[skip..])
        }
        _ => return None,
    };
    let phrase = phrase.join(" ");
    let phrase = phrase.trim_start_matches("the ");
    // "due tomorrow" is read as a due filter; "after tomorrow", "by tonight" are days here
    if phrase.is_empty()
        || (bound == "on"
            && matches!(
                phrase,
                "today" | "tonight" | "tomorrow" | "week" | "this week" | "the week"
            ))
        || matches!(phrase, "week" | "this week" | "the week")
    {
        return None;
    }
    let (mut from, mut to) = day_span(phrase, clock)?;
    // "before the weekend" said on a weekend day: the coming one
    if bound == "before" && phrase.ends_with("weekend") && from <= clock.today() {
        from = from.checked_add_days(chrono::Days::new(7))?;
        from -= TimeDelta::days(i64::from(from.weekday().num_days_from_monday()) - 5);
        to = from + TimeDelta::days(1);
    }
    // "before 5pm today": the day itself counts (days are what a listing filters by)
    let timed = phrase::parse(phrase, clock).is_some_and(|p| p.resolve(clock.tz).has_time);
    let days = match bound {
        "before" if timed => Days {
            from: None,
            to: Some(to),
        },
        "before" => Days {
            from: None,
            to: from.pred_opt(),
        },
        "by" | "until" | "till" => Days {
            from: None,
            to: Some(to),
        },
        "after" => Days {
            from: to.succ_opt(),
            to: None,
        },
        "from" => Days {
            from: Some(from),
            to: None,
        },
        _ => Days {
            from: Some(from),
            to: Some(to),
        },
    };
    Some(days)
}

/// Whether `words` stand in `text` as whole words ("week" is not in "weekend"): an occurrence
/// with no letter, digit or `_` right before or after it (what `\b` means around words that
/// start and end with one).
fn has_words(text: &str, words: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(words).any(|(at, found)| {
        !text[..at].chars().next_back().is_some_and(word)
            && !text[at + found.len()..].chars().next().is_some_and(word)
    })
}

/// The days a question about completed tasks names, looking back from today: "today",
/// "yesterday", "this week", "last week", "this month", "last month", "on monday" (the latest
/// monday up to today).
fn done_days(lower: &str, clock: &Clock) -> Option<Days> {
    let has = |w: &str| has_words(lower, w);
    let today = clock.today();
    let monday = today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()));
    let month_start = today.with_day(1)?;
    let (from, to) = if has("today") || has("tonight") {
        (today, today)
    } else if has("yesterday") {
        let day = today.pred_opt()?;
        (day, day)
    } else if has("last week") {
        (monday - TimeDelta::days(7), monday.pred_opt()?)
    } else if has("past week") || has("last 7 days") || has("last seven days") {
        (today - TimeDelta::days(6), today)
    } else if let Some(n) = LAST_DAYS
        .captures(lower)
        .and_then(|c| phrase::number(&c[1]))
        .filter(|n| (1..=366).contains(n))
    {
        // "in the last 3 days", "over the past two days": today and the days before
        (today - TimeDelta::days(i64::from(n) - 1), today)
    } else if has("this week") || has("week") {
        (monday, today)
    } else if has("last month") {
        let last_month = month_start.checked_sub_months(chrono::Months::new(1))?;
        (last_month, month_start.pred_opt()?)
    } else if has("this month") || has("month") {
        (month_start, today)
    } else if let Some(m) = lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.len() > 3)
        .find_map(phrase::month)
    {
        // "in november": the latest November up to today
        let year = today.year() - i32::from(m > today.month());
        let first = NaiveDate::from_ymd_opt(year, m, 1)?;
        let last = first
            .checked_add_months(chrono::Months::new(1))?
            .pred_opt()?;
        (first, last.min(today))
    } else {
        let weekday = lower
            .split(|c: char| !c.is_alphabetic())
            .find_map(|w| match w {
                "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday"
                | "sunday" => w.parse::<chrono::Weekday>().ok(),
                _ => None,
            })?;
        let back =
            (7 + today.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
        let day = today - TimeDelta::days(i64::from(back));
        // "since monday": from then to today
        if has("since") {
            (day, today)
        } else {
            (day, day)
        }
    };
    Some(Days {
        from: Some(from),
        to: Some(to),
    })
}

re!(
    LAST_DAYS,
    r"\b(?:last|past)\s+(\d{1,3}|two|three|four|five|six|seven|eight|nine|ten|fourteen|thirty)\s+days\b"
);

/// Spans of days a single date does not name: next week, the weekend, this or next month.
/// The first and last day a phrase names: a span ("next week", "december") or one day.
fn day_span(phrase: &str, clock: &Clock) -> Option<(NaiveDate, NaiveDate)> {
    named_days(phrase, clock).or_else(|| {
        let day = due_phrase(phrase, clock)?.local_date(clock.tz);
        Some((day, day))
    })
}

fn named_days(phrase: &str, clock: &Clock) -> Option<(NaiveDate, NaiveDate)> {
    let today = clock.today();
    // a month by name: all of it, the next one that has not ended ("december", "january")
    if let Some(m) = phrase::month(phrase).filter(|_| phrase.len() > 3) {
        let first = phrase::month_ahead(today, m)?;
        let last = first
            .checked_add_months(chrono::Months::new(1))?
            .pred_opt()?;
        return Some((first, last));
    }
    let monday = today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()));
    let saturday = monday + TimeDelta::days(5);
    let month_start = today.with_day(1)?;
    let next_month = month_start.checked_add_months(chrono::Months::new(1))?;
    let span = |from: NaiveDate, days: i64| (from, from + TimeDelta::days(days - 1));
    Some(match phrase {
        "next week" | "coming week" => span(monday + TimeDelta::days(7), 7),
        "weekend" | "this weekend" | "coming weekend" => {
            (today.max(saturday), saturday + TimeDelta::days(1))
        }
        // as "next friday" is the friday of next week
        "next weekend" => span(saturday + TimeDelta::days(7), 2),
        "this month" | "month" => (today, next_month.pred_opt()?),
        "next month" | "coming month" => (
            next_month,
            next_month
                .checked_add_months(chrono::Months::new(1))?
                .pred_opt()?,
        ),
        _ => (today, today + TimeDelta::days(coming_days(phrase)?)),
    })
}

/// How many days ahead "next 3 days", "coming two weeks", "next couple of days" reach.
fn coming_days(phrase: &str) -> Option<i64> {
    let rest = phrase
        .strip_prefix("next ")
        .or_else(|| phrase.strip_prefix("coming "))?;
    let (count, unit) = rest.split_once(' ')?;
    let unit = unit.strip_prefix("of ").unwrap_or(unit);
    let n = i64::from(phrase::number(count)?);
    let days = match unit {
        "days" | "day" => n,
        "weeks" | "week" => n.checked_mul(7)?,
        _ => return None,
    };
    (1..=366).contains(&days).then_some(days)
}

/// A selector's query, with what is left of its words (a title fragment) as a text filter, so
/// that "delete all the milk tasks" picks the milk tasks, not every task.
fn selector_query(text: &str, clock: &Clock) -> Query {
    // "everything except the dentist", "all tasks but the work ones"
    if let Some(c) = EXCEPT.captures(text) {
        let kept = c[2].trim();
        if !kept.is_empty() {
            return Query {
                except: Some(kept.to_owned()),
                ..selector_query(&c[1], clock)
            };
        }
    }
    let (mut q, before_days) = query_and_rest(text, clock);
    // "everything due on friday": the days are not words of a title
    let text = before_days.unwrap_or_else(|| text.to_owned());
    let rest: Vec<String> = text
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '#');
            // "today's tasks": the word is "today"
            w.strip_suffix("'s")
                .or_else(|| w.strip_suffix("’s"))
                .unwrap_or(w)
                .to_owned()
        })
        .filter(|w| !w.is_empty() && !w.starts_with('#'))
        .filter(|w| {
            let w = w.as_str();
            !SELECTOR_WORDS.contains(&w)
                && !REPEAT_WORDS.contains(&w)
                && !ONE_OFF_WORDS.contains(&w)
        })
        .filter(|w| q.tag.as_deref() != Some(w.as_str()))
        // "tagged home or work": the tags are not words of a title
        .filter(|w| {
            !q.any_tags.contains(w)
                && !q.not_tags.contains(w)
                && (q.any_tags.is_empty() || w != "or")
        })
        .collect();
    if !rest.is_empty() {
        q.text = Some(rest.join(" "));
    }
    q
}

re!(
    EXCEPT,
    r"(?i)^(.+?)\s*,?\s+(?:except(?:\s+for)?|but\s+not|but|other\s+than|apart\s+from|besides|save\s+for)\s+(.+)$"
);

/// `query` limited to pending tasks unless it says which ("what's coming up?", "today" alone).
fn still_to_do(mut query: Query) -> Query {
    if query.status == StatusFilter::All {
        query.status = StatusFilter::Pending;
    }
    query
}

/// What a listing asks for.
pub fn query_of(text: &str, clock: &Clock) -> Query {
    let mut q = query_and_rest(text, clock).0;
    // "any tasks with milk?", "tasks about the report": words to find
    if q.tag.is_none()
        && q.text.is_none()
        && let Some(c) = WITH_TEXT.captures(text)
    {
        let words = c[1].trim().to_lowercase();
        let filters = words.split_whitespace().any(|w| {
            SELECTOR_WORDS.contains(&w)
                || matches!(
                    w,
                    "priority" | "due" | "date" | "dates" | "tag" | "tags" | "time" | "a" | "no"
                )
        });
        if !filters {
            q.text = Some(words);
        }
    }
    if q.tag.is_none()
        && q.text.is_none()
        && let Some(c) = KIND_OF_TASKS.captures(&text.to_lowercase())
    {
        let word = c[1].to_owned();
        if !SELECTOR_WORDS.contains(&word.as_str())
            && !NOT_A_KIND.contains(&word.as_str())
            && !ONE_OFF_WORDS.contains(&word.as_str())
            && !REPEAT_WORDS.contains(&word.as_str())
            && !word.ends_with("priority")
            && !word.contains("urgent")
            && !word.contains("important")
        {
            q.about = normalize_tag(&word)
                .ok()
                // "everything except the work tasks", "home or work tasks": read above
                .filter(|kind| !q.not_tags.contains(kind) && !q.any_tags.contains(kind));
        }
    }
    // "any meetings today?", "how many calls do I have": things of a kind, by the word for one
    if q.tag.is_none()
        && q.text.is_none()
        && q.about.is_none()
        && q.any_tags.is_empty()
        && q.not_tags.is_empty()
        && let Some(c) = ANY_OF_A_KIND.captures(&text.to_lowercase())
        && let Some(one) = singular(&c[1])
        && !SELECTOR_WORDS.contains(&one.as_str())
        && !NOT_A_KIND.contains(&one.as_str())
        && !NOT_KINDS.contains(&c[1].to_lowercase().as_str())
    {
        q.about = Some(one);
    }
    // "what's overdue at home?", "anything for work?", "what do I have for mom?": a kind of task
    if q.tag.is_none()
        && q.text.is_none()
        && q.about.is_none()
        && q.any_tags.is_empty()
        && q.not_tags.is_empty()
        && let Some(c) = AT_OR_FOR.captures(&text.to_lowercase())
    {
        let word = c[1].to_owned();
        if !SELECTOR_WORDS.contains(&word.as_str())
            && !NOT_A_KIND.contains(&word.as_str())
            && phrase::parse(&word, clock).is_none()
            && !matches!(
                word.as_str(),
                "weekend" | "now" | "later" | "me" | "us" | "you"
            )
        {
            q.about = normalize_tag(&word).ok();
        }
    }
    q
}

// "any meetings", "how many calls", "my appointments"
re!(
    ANY_OF_A_KIND,
    r"\b(?:any|many|my|all|the|upcoming)\s+([a-z]{3,}s)\b"
);
/// Plurals that are not a kind of task ("any tasks", "how many days").
const NOT_KINDS: &[&str] = &[
    "tasks",
    "todos",
    "to-dos",
    "things",
    "items",
    "ones",
    "days",
    "weeks",
    "months",
    "hours",
    "minutes",
    "years",
    "weekends",
    "mornings",
    "evenings",
    "nights",
    "plans",
    "priorities",
    "tags",
    "labels",
    "lists",
    "notes",
    "reminders",
    "dates",
    "deadlines",
    "chores",
    "errands",
    "jobs",
    "others",
    "rest",
    "details",
    "news",
    "yes",
    "this",
    "us",
    "is",
    "has",
    "was",
    "does",
    "bits",
    "pieces",
    "stuffs",
    "goals",
    "assignments",
];

/// "meetings" → "meeting", "classes" → "class"; `None` for a word that is not a plural.
fn singular(word: &str) -> Option<String> {
    let word = word.to_lowercase();
    for (plural, one) in [("sses", "ss"), ("ches", "ch"), ("shes", "sh"), ("xes", "x")] {
        if let Some(stem) = word.strip_suffix(plural) {
            return Some(format!("{stem}{one}"));
        }
    }
    word.strip_suffix('s')
        .filter(|stem| stem.len() >= 3 && !stem.ends_with('s'))
        .map(str::to_owned)
}

re!(
    AT_OR_FOR,
    r"\b(?:at|for)\s+(?:the\s+|my\s+)?([a-z][a-z-]{1,31})\s*[?!.]*$"
);

re!(
    WITH_TEXT,
    r#"(?i)\b(?:tasks?|todos?|to-dos?|anything|something|everything)\s+(?:with|containing|mentioning|about|that mentions?|that says?|that contains?)\s+(?:the\s+word\s+)?(?:the\s+)?['"“]?([^'"”?!.]+?)['"”]?\s*[?!.]*$"#
);
// "my work tasks", "the shopping todos", "my pending home tasks", "home tasks": the word before
// "tasks".
// "sorted by due date", "in order of deadline", "by date": soonest first
re!(
    SORT_BY_DUE,
    r"\b(?:by|of)\s+(?:the\s+)?(?:due\s+dates?|due|deadlines?|dates?|when (?:they're|they are) due)\b"
);
// "by priority", "in order of importance": most important first
re!(
    SORT_BY_PRIORITY,
    r"\b(?:by|of)\s+(?:priority|priorities|importance|urgency)\b"
);
re!(
    KIND_OF_TASKS,
    r"(?:^|\b(?:my|the|all|any|many|show|list|only|just)\s+)(?:(?:pending|open|completed|done|finished|overdue|urgent|important|high|low|medium|priority|remaining|unfinished|upcoming)\s+)*([a-z][a-z0-9-]*)\s+(?:tasks|todos|to-dos|items|list|stuff|things)\b"
);

/// Words before "tasks" that say which tasks without naming a kind of task.
const NOT_A_KIND: &[&str] = &[
    "me",
    "us",
    "all",
    "any",
    "some",
    "view",
    "see",
    "get",
    "read",
    "display",
    "which",
    "what",
    "whose",
    "how",
    "show",
    "list",
    "other",
    "current",
    "outstanding",
    "new",
    "newest",
    "recent",
    "latest",
    "upcoming",
    "unfinished",
    "incomplete",
    "active",
    "own",
    "first",
    "last",
    "next",
    "older",
    "oldest",
    "few",
    "many",
    "top",
    "main",
    "biggest",
    "daily",
    "weekly",
    "monthly",
    "repeating",
    "recurring",
    "recurrent",
    "whole",
    "entire",
    "full",
    "complete",
    "task",
    "master",
    "do",
    "this",
    "that",
    "the",
    "my",
    "tagged",
    "undated",
    "untagged",
    "late",
    "todo",
    "to-do",
    "open",
    "closed",
    "finished",
    "remaining",
    "pending",
    "done",
    "completed",
    "overdue",
    "important",
    "urgent",
];

/// [`query_of`], and the text before the days it names when it names some.
fn query_and_rest(text: &str, clock: &Clock) -> (Query, Option<String>) {
    // "between now and friday": from today
    // "this morning" at 10:30 is still today (as a due date it would be tomorrow's morning)
    let lower = text
        .to_lowercase()
        .replace("between now and ", "between today and ")
        .replace("this morning", "today");
    let has = |w: &str| has_words(&lower, w);
    let mut q = Query {
        status: status_from_words(&lower),
        ..Query::default()
    };
    // Days are due dates: "what did I finish on monday" asks about completions, which have none.
    let (days, before_days) = take_days(&lower, clock).unzip();
    if q.status != StatusFilter::Completed {
        q.days = days;
    }
    // "what's overdue or due today?": everything due by the end of today
    if q.days.is_none() && has("overdue") && has("today") && !has("tomorrow") {
        q.days = Some(Days {
            from: None,
            to: Some(clock.today()),
        });
    }
    // "what's due this week?" on a Sunday: the week that starts tomorrow too (the week's last
    // day alone would leave out everything the user is planning for)
    if q.days.is_none()
        && q.status != StatusFilter::Completed
        && clock.today().weekday() == chrono::Weekday::Sun
        && (has("this week") || has("week"))
        && !has("last week")
        && !has("next week")
    {
        let today = clock.today();
        q.days = Some(Days {
            from: Some(today),
            to: Some(today + TimeDelta::days(7)),
        });
    }
    // "today's and tomorrow's tasks", "what's due today or tomorrow": both days
    if q.days.is_none()
        && q.status != StatusFilter::Completed
        && (has("today") || has("tonight"))
        && has("tomorrow")
    {
        let today = clock.today();
        q.days = Some(Days {
            from: Some(today),
            to: today.succ_opt(),
        });
    }
    q.due = if q.days.is_some() {
        None
    } else if has("overdue") || has("late") || lower.contains("past due") {
        Some(DueFilter::Overdue)
    } else if has("today") || has("tonight") {
        Some(DueFilter::Today)
    } else if has("tomorrow") {
        Some(DueFilter::Tomorrow)
    } else if has("this week") || has("week") {
        Some(DueFilter::Week)
    } else if lower.contains("no due date")
        || lower.contains("without a date")
        || lower.contains("without a due date")
        || has("undated")
        || lower.contains("no date")
        || lower.contains("have a date")
        || lower.contains("have a due date")
        || lower.contains("have any date")
    {
        Some(DueFilter::None)
    } else {
        None
    };
    // "what's not overdue?", "anything not due today?": what is still to do, but those
    if let Some(c) = NOT_DUE.captures(&lower) {
        q.not_due = Some(match c.get(2).map(|m| m.as_str()) {
            None => DueFilter::Overdue,
            Some("today" | "tonight") => DueFilter::Today,
            Some("tomorrow") => DueFilter::Tomorrow,
            Some(_) => DueFilter::Week,
        });
        q.due = None;
        q.days = None;
        if q.status == StatusFilter::All {
            q.status = StatusFilter::Pending;
        }
    }
    // "what did I finish today?": for completed tasks a day is when they were done, unless the
    // message speaks of due dates ("completed tasks that were due today").
    if q.status == StatusFilter::Completed && !has("due") {
        q.done_days = done_days(&lower, clock);
        if q.done_days.is_some() {
            q.due = None;
        }
    }
    // "what's due today?", "what do I have tomorrow?": what is still to do, unless asked otherwise.
    if (q.due.is_some_and(|d| d != DueFilter::None) || q.days.is_some())
        && !COMPLETED_WORDS.is_match(&lower)
    {
        q.status = StatusFilter::Pending;
    }
    if NO_PRIORITY_Q.is_match(&lower) {
        // "tasks without a priority", "unprioritized tasks"
        q.priority = Some(Priority::None);
    } else if lower.contains("most important")
        || lower.contains("top priority")
        || lower.contains("highest priority")
        || lower.contains("most urgent")
        || has("priorities")
        || lower.contains("top priorities")
    {
        q.sort = Some(Sort::Priority);
        q.top = !has("tasks") && !has("priorities");
        q.status = StatusFilter::Pending;
    } else if NOT_URGENT_WORDS.is_match(&lower) {
        // "what's not urgent?": what still needs doing, below high priority
        q.max_priority = Some(Priority::Medium);
        if q.status == StatusFilter::All {
            q.status = StatusFilter::Pending;
        }
    } else if has("high priority") || has("urgent") || has("important") || has("high-priority") {
        q.priority = Some(Priority::High);
        // "what's urgent?", "anything important?": what still needs doing
        if (has("urgent") || has("important")) && q.status == StatusFilter::All {
            q.status = StatusFilter::Pending;
        }
    } else if AT_LEAST_MEDIUM.is_match(&lower) || NOT_LOW.is_match(&lower) {
        // "high and medium priority", "medium or higher"
        q.min_priority = Some(Priority::Medium);
    } else if has("medium priority") {
        q.priority = Some(Priority::Medium);
    } else if has("low priority") {
        q.priority = Some(Priority::Low);
    }
    if has("next") && q.due.is_none()
        || has("upcoming")
        || SORT_BY_DUE.is_match(&lower)
        || has("soonest")
        || lower.contains("due first")
        || has("earliest")
        || has("coming up")
        || has("soon")
    {
        q.sort = q.sort.or(Some(Sort::Due));
        // "anything due soon?", "what's coming up?": what is still to do
        if q.status == StatusFilter::All {
            q.status = StatusFilter::Pending;
        }
        if has("next") || has("earliest") || has("soonest") || lower.contains("due first") {
            q.status = StatusFilter::Pending;
            // "what's my next task?": the one due soonest
            q.top = q.top
                || ((lower.contains("due first")
                    || ["task", "todo", "to-do", "thing", "one"]
                        .iter()
                        .any(|w| has(w)))
                    && !["tasks", "todos", "things"].iter().any(|w| has(w)));
        }
    }
    if SORT_BY_PRIORITY.is_match(&lower) {
        q.sort = Some(Sort::Priority);
    }
    // "what's my oldest task?", "show them oldest first": in the order they were added
    if has("oldest") || has("least recent") || lower.contains("first added") {
        q.sort = Some(Sort::Oldest);
        q.top = ["task", "todo", "to-do", "thing", "one", "item"]
            .iter()
            .any(|w| has(w))
            && !["tasks", "todos", "things", "ones", "items", "first"]
                .iter()
                .any(|w| has(w));
    }
    // "my top 3 priorities", "show 5 tasks", "the next two": only that many
    if let Some(c) = HOW_MANY_SHOWN.captures(&lower)
        // "the next 3 days" are days
        && !c.get(2).is_some_and(|unit| {
            let unit = unit.as_str().trim_end_matches('s');
            matches!(unit, "minute" | "hour" | "day" | "week" | "month" | "year" | "weekend")
        })
        && let Some(n) = c
            .get(1)
            .or_else(|| c.get(3))
            .and_then(|m| phrase::number(m.as_str()))
            .filter(|n| (1..=50).contains(n))
    {
        q.count = Some(n);
        q.top = false;
    }
    // "my last 3 tasks", "the 5 most recent ones": the newest few (not "the last 3 days")
    if LATEST_ONE.is_match(&lower) {
        q.newest = Some(1);
        q.sort = None;
    } else if let Some(c) = NEWEST.captures(&lower)
        && let Some(n) = c
            .get(1)
            .or_else(|| c.get(2))
            .and_then(|m| phrase::number(m.as_str()))
            .filter(|n| (1..=50).contains(n))
    {
        q.newest = Some(n);
        q.sort = None;
    }
    // "my recurring tasks", "which tasks repeat?", "one-off tasks"
    if ONE_OFF_WORDS
        .iter()
        .chain(&[
            "one off",
            "not recurring",
            "don't repeat",
            "do not repeat",
            "not repeating",
        ])
        .any(|w| lower.contains(w))
    {
        q.repeating = Some(false);
    } else if REPEAT_WORDS.iter().any(|w| has(w)) || lower.contains("on repeat") {
        q.repeating = Some(true);
    }
    // "everything except the work tasks", "tasks not tagged home": leave that tag out
    if let Some(c) = NOT_TAGGED.captures(&lower)
        && let Some(tag) = c
            .iter()
            .skip(1)
            .flatten()
            .next()
            .and_then(|m| normalize_tag(m.as_str()).ok())
        // "everything but the done ones" leaves out a status, read above
        && !SELECTOR_WORDS.contains(&tag.as_str())
    {
        q.not_tags = vec![tag];
    } else if let Some(words) = ANY_TAGS.find(&lower).map(|m| {
        m.as_str()
            .split(|ch: char| ch.is_whitespace() || ch == ',')
            .map(|w| w.trim_start_matches('#'))
            .filter(|w| {
                !w.is_empty()
                    && !matches!(
                        *w,
                        "or" | "tagged" | "labelled" | "labeled" | "as" | "with" | "tasks"
                            | "todos" | "ones" | "items" | "stuff" | "things"
                    )
            })
            .collect::<Vec<_>>()
    })
        // "tagged home or work", "#home or #work tasks": either ("overdue or pending tasks" are
        // not tags)
        && !words
            .iter()
            .any(|w| SELECTOR_WORDS.contains(w) || NOT_A_KIND.contains(w))
    {
        q.any_tags = words
            .into_iter()
            .filter_map(|w| normalize_tag(w).ok())
            .collect();
        q.any_tags.dedup();
    } else if UNTAGGED.is_match(&lower) {
        q.tagged = Some(false);
    } else if ANY_TAG.is_match(&lower) {
        // "which tasks are tagged?", "tasks with tags"
        q.tagged = Some(true);
    } else if let Some(c) = TAGGED.captures(text) {
        let raw = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
        if !matches!(
            raw.to_lowercase().as_str(),
            "the" | "a" | "any" | "this" | "that"
        ) {
            q.tag = normalize_tag(raw).ok();
        }
    }
    // "what did I add today?": tasks are listed newest first; a day here is when they were added,
    // which no filter reads, so the newest are shown rather than those due that day
    if [
        "did i add",
        "have i added",
        "i've added",
        "i added",
        "did i create",
        "tasks added",
        "tasks i created",
        "tasks created",
        "added today",
        "created today",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        q.due = None;
        q.days = None;
        q.done_days = None;
        q.sort = None;
    }
    (q, before_days)
}

/// Reads the priority words out of an add ("urgent", "high priority", "!high", "p1").
fn take_priority(text: &mut String) -> Option<Priority> {
    // "not urgent", "(no rush)", "whenever": low
    if let Some(m) = NOT_URGENT_ADD.find(text) {
        text.replace_range(m.range(), " ");
        *text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        return Some(Priority::Low);
    }
    let c = PRIORITY_WORDS.captures(text)?;
    let word = first_group(&c).map(|m| m.as_str().to_lowercase())?;
    let priority = match word.as_str() {
        "high" | "top" | "highest" | "urgent" | "urgently" | "asap" | "important" | "critical"
        | "p1" | "!!!" | "1" => Priority::High,
        "medium" | "normal" | "p2" | "!!" | "2" => Priority::Medium,
        "low" | "lowest" | "p3" | "!" | "3" => Priority::Low,
        "p4" => Priority::None,
        _ => return None,
    };
    let range = c.get(0)?.range();
    text.replace_range(range, " ");
    Some(priority)
}

fn split_tags(list: &str) -> Vec<String> {
    list.split([',', ' ', '&'])
        .map(|t| t.trim().trim_start_matches('#'))
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("and"))
        .filter_map(|t| normalize_tag(t).ok())
        .collect()
}

/// Reads tags out of an add: "#work", "tag it home", "tagged work and errands".
fn take_tags(text: &mut String) -> Vec<String> {
    let mut tags = Vec::new();
    if let Some(c) = TAG_PHRASE.captures(text) {
        tags.extend(split_tags(&c[1]));
        let range = c.get(0).map_or(0..0, |m| m.range());
        text.replace_range(range, " ");
    }
    let found: Vec<(std::ops::Range<usize>, String)> = HASHTAG
        .captures_iter(text)
        .filter_map(|c| Some((c.get(0)?.range(), c.get(1)?.as_str().to_owned())))
        .collect();
    for (range, tag) in found.into_iter().rev() {
        if let Ok(tag) = normalize_tag(&tag) {
            tags.insert(0, tag);
            text.replace_range(range, " ");
        }
    }
    tags.dedup();
    if !tags.is_empty() {
        *text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    tags
}

/// The due date or repeat at the end (or start) of some words, and the words before it.
struct Timing {
    due: Option<Due>,
    repeat: Option<RepeatPhrase>,
}

/// The due date `words` name; `about` is the rest of the sentence, the task it is for ("dinner
/// with sam" puts "at 8" in the evening).
fn due_of(words: &str, clock: &Clock, about: &str) -> Option<Due> {
    phrase::parse_in_sentence(words, clock, about).map(|p| p.resolve(clock.tz))
}

re!(
    STARTING,
    r"(?i)^(.+\b(?:every|daily|weekly|monthly|yearly|each)\b.*?),?\s+(?:starting|beginning|from)\s+(?:on\s+|from\s+)?(.+)$"
);

/// Reads a trailing date and/or repeat out of `text` (several may follow each other: "every
/// monday at 9 starting next week" is not supported, "tomorrow every week" is).
fn take_timing(text: &mut String, clock: &Clock) -> Timing {
    let mut timing = Timing {
        due: None,
        repeat: None,
    };
    // "water the plants every 3 days starting tomorrow": the first date of a repeat
    if let Some(c) = STARTING.captures(text)
        && let Some(due) = due_of(&c[2], clock, &c[1])
    {
        timing.due = Some(due);
        *text = c[1].to_owned();
    }
    loop {
        let words: Vec<&str> = text.split_whitespace().collect();
        let n = words.len();
        let mut found = false;
        // Longest trailing phrase first, leaving at least one word for the title.
        for k in (1..n.min(9)).rev() {
            // "talk to mom about christmas": what it is about, not when
            if words[n - k - 1..=n - k]
                .iter()
                .any(|w| ["about", "regarding", "re"].contains(&w.to_lowercase().as_str()))
            {
                continue;
            }
            let tail = words[n - k..].join(" ");
            if timing.repeat.is_none()
                && let Some(r) = parse_repeat(&tail)
            {
                timing.repeat = Some(r);
            } else if timing.due.is_none()
                && let Some(d) = due_of(&tail, clock, &words[..n - k].join(" "))
            {
                timing.due = Some(d);
            } else {
                continue;
            }
            *text = words[..n - k].join(" ");
            found = true;
            break;
        }
        if !found {
            break;
        }
    }
    // "standup at 9am on weekdays": a time before the repeat is the repeat's time of day
    if timing.due.is_none()
        && let Some(repeat) = timing.repeat.as_mut().filter(|r| r.time.is_none())
    {
        let mut words: Vec<&str> = text.split_whitespace().collect();
        // "standup at 9am on (weekdays)": the repeat took its noun, not its preposition
        while words
            .last()
            .is_some_and(|w| ["on", "every", "each"].contains(&w.to_lowercase().as_str()))
        {
            words.pop();
        }
        let n = words.len();
        if let Some((k, at)) = (1..n.min(4))
            .rev()
            .find_map(|k| phrase::time_only(&words[n - k..].join(" ")).map(|t| (k, t)))
        {
            repeat.time = Some(at);
            *text = words[..n - k].join(" ");
        }
    }
    // A leading date: "tomorrow call mom", "on friday: pay rent".
    if timing.due.is_none() {
        let words: Vec<&str> = text.split_whitespace().collect();
        for k in (1..words.len().min(5)).rev() {
            let head = words[..k].join(" ");
            let closes = head.ends_with([':', ',', '-']);
            let first = words[0].to_lowercase();
            if (closes || matches!(first.as_str(), "today" | "tomorrow" | "tonight"))
                && let Some(d) = due_of(
                    head.trim_end_matches([':', ',', '-']),
                    clock,
                    &words[k..].join(" "),
                )
            {
                timing.due = Some(d);
                *text = words[k..].join(" ");
                break;
            }
        }
    }
    // A date in the middle, before what the task is about: "call the office on monday about
    // the meeting", "email john tomorrow regarding the report".
    if timing.due.is_none() {
        let words: Vec<&str> = text.split_whitespace().collect();
        let n = words.len();
        let found = (1..n.saturating_sub(2)).find_map(|i| {
            let first = words[i].to_lowercase();
            if !MID_DATE_STARTS.contains(&first.as_str()) {
                return None;
            }
            (1..=5.min(n - i - 1)).rev().find_map(|k| {
                let after = words[i + k].to_lowercase();
                if !MID_DATE_ENDS.contains(&after.as_str()) {
                    return None;
                }
                let about = [&words[..i], &words[i + k..]].concat().join(" ");
                due_of(&words[i..i + k].join(" "), clock, &about).map(|d| (d, about))
            })
        });
        if let Some((due, rest)) = found {
            timing.due = Some(due);
            *text = rest;
        }
    }
    timing
}

/// Words a date in the middle of a task begins with, and words that may follow it.
const MID_DATE_STARTS: &[&str] = &[
    "on", "by", "at", "today", "tonight", "tomorrow", "next", "this",
];
const MID_DATE_ENDS: &[&str] = &["about", "regarding", "re", "to", "for", "with"];

/// The start of the time span in `text`, as words the date reader takes ("at 2pm"); `None` when
/// there is none, or when neither end says am/pm or has minutes ("pages 2 to 5" is no time).
fn time_range_start(text: &str) -> Option<String> {
    let c = TIME_RANGE.captures(text)?;
    let (start, end): (u32, u32) = (c[1].parse().ok()?, c[4].parse().ok()?);
    let clock_like = c.get(2).is_some() || c.get(5).is_some();
    let meridiem = c.get(3).map(|m| m.as_str().to_lowercase()).or_else(|| {
        // "2 to 3pm" is 2pm, "11 to 1pm" 11am
        let suffix = c.get(6)?.as_str().to_lowercase();
        Some(match suffix.as_str() {
            "pm" if (start > end && start != 12) => "am".to_owned(),
            _ => suffix,
        })
    });
    if meridiem.is_none() && !clock_like {
        return None;
    }
    let minutes = c
        .get(2)
        .map_or(String::new(), |m| format!(":{}", m.as_str()));
    Some(format!(
        " at {start}{minutes}{} ",
        meridiem.unwrap_or_default()
    ))
}

// "gym on monday, wednesday and friday (at 6pm)": a title, then two or more weekdays (group 2),
// perhaps a time.
re!(
    DAY_LIST,
    r"(?i)^(.+?)(?:\s+on)?((?:(?:\s*,\s*|\s+)(?:(?:and|&)\s+)?(?:mon|tues|wednes|thurs|fri|satur|sun)day\b){2,})(\s+at\s+[^,]+)?$"
);
re!(WEEKDAY, r"(?i)(?:mon|tues|wednes|thurs|fri|satur|sun)day");

/// One task for each weekday of a list ("call mom on monday and tuesday"), each due on the next
/// such day; `None` unless the text ends in such a list. A repeat ("every monday and friday") and
/// a span ("between monday and friday") are not lists of days.
fn on_several_days(text: &str, clock: &Clock) -> Option<Vec<NewTask>> {
    let c = DAY_LIST.captures(text)?;
    let title = c[1].trim();
    let last_word = title
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or_default()
        .to_lowercase();
    const NOT_A_LIST: &[&str] = &[
        "every", "each", "between", "from", "until", "till", "due", "by", "before", "after",
    ];
    if NOT_A_LIST.contains(&last_word.as_str()) {
        return None;
    }
    let at = c.get(3).map_or("", |m| m.as_str());
    let mut tasks = Vec::new();
    for day in WEEKDAY.find_iter(&c[2]) {
        match parse_add(&format!("{title} on {}{at}", day.as_str()), clock) {
            Intent::Add(mut some) if some.len() == 1 && some[0].due.is_some() => {
                tasks.append(&mut some);
            }
            _ => return None,
        }
    }
    Some(tasks)
}

/// "buy milk tomorrow and call mom on friday": when every part around " and " is a task with a
/// date (or a repeat) of its own, one task each; `None` otherwise ("milk and eggs tomorrow" is
/// one task).
fn each_with_own_date(text: &str, clock: &Clock) -> Option<Vec<NewTask>> {
    let parts: Vec<&str> = text.split(" and ").map(str::trim).collect();
    if !(2..=5).contains(&parts.len()) {
        return None;
    }
    let mut tasks: Vec<NewTask> = Vec::with_capacity(parts.len());
    for part in parts {
        let mut rest = part.to_owned();
        let timing = take_timing(&mut rest, clock);
        if timing.due.is_none() && timing.repeat.is_none() {
            return None;
        }
        match parse_add(part, clock) {
            // "yoga every tuesday and thursday": a part that is only a day is not a task
            Intent::Add(mut one)
                if one.len() == 1 && due_phrase(&one[0].title, clock).is_none() =>
            {
                tasks.append(&mut one);
            }
            _ => return None,
        }
    }
    let titles = share_verb(tasks.iter().map(|t| t.title.clone()).collect());
    for (task, title) in tasks.iter_mut().zip(titles) {
        task.title = title;
    }
    Some(tasks)
}

/// Reads an add's body: title, description, due date, priority, tags, repeat; several tasks for
/// "tasks: eggs, milk and bread" or "eggs, milk and bread".
fn parse_add(body: &str, clock: &Clock) -> Intent {
    // "\"Meeting at 3\" on friday": the words in quotes are the title as written; a date is read
    // only outside them
    if let Some(c) = ONE_QUOTED.captures(body)
        && !c[2].trim().is_empty()
    {
        let quoted = c[2].trim().to_owned();
        let outside = format!("{}{QUOTED_TITLE}{}", &c[1], &c[3]);
        return match parse_add(&outside, clock) {
            Intent::Add(mut tasks) => {
                for task in &mut tasks {
                    if let Some(rest) = task.title.strip_prefix(QUOTED_TITLE) {
                        task.title = format!("{}{rest}", capitalize(&quoted));
                    } else {
                        task.title = task.title.replace(QUOTED_TITLE, &quoted);
                    }
                    // "add buy milk with the note \"2 litres, organic\"": the quotes were the note
                    if let Some(d) = &mut task.description {
                        *d = d.replace(QUOTED_TITLE, &quoted);
                    }
                }
                Intent::Add(tasks)
            }
            _ => parse_add_unquoted(body, clock),
        };
    }
    parse_add_unquoted(body, clock)
}

/// Stands for a quoted title while the words around it are read.
const QUOTED_TITLE: &str = "QUOTEDTITLE";
re!(ONE_QUOTED, r#"^([^"“”]*)["“]([^"“”]+)["”]([^"“”]*)$"#);

fn parse_add_unquoted(body: &str, clock: &Clock) -> Intent {
    let (body, list_tag) = list_named(body);
    let body = body.as_str();
    let (body, description) = match DESCRIPTION.captures(body) {
        Some(d) => (
            d[1].to_owned(),
            Some(unquote(strip_punctuation(&d[2])).to_owned()).filter(|d| !d.is_empty()),
        ),
        None => (body.to_owned(), None),
    };
    let (many, mut text) = match MANY.captures(&body) {
        Some(c) => (true, c[1].to_owned()),
        None => (false, body.clone()),
    };
    let suffix_free = ADD_SUFFIX
        .replace(strip_punctuation(&text), "")
        .into_owned();
    text = suffix_free;
    // "buy milk tomorrow and call mom on friday": one task for each part with its own date
    if !many
        && description.is_none()
        && let Some(tasks) = each_with_own_date(&text, clock)
    {
        return Intent::Add(tasks);
    }
    // "gym on monday, wednesday and friday": one task for each day
    if !many && let Some(mut tasks) = on_several_days(&text, clock) {
        for task in &mut tasks {
            task.description.clone_from(&description);
        }
        return Intent::Add(tasks);
    }
    let mut tags = take_tags(&mut text);
    tags.extend(list_tag);
    let priority = take_priority(&mut text);
    // "conference from dec 10 to dec 12": due when it starts, the span out of the title
    if let Some(c) = DATE_RANGE.captures(&text)
        && due_phrase(&c[1], clock).is_some()
        && due_phrase(&c[2], clock).is_some()
    {
        text = DATE_RANGE.replace(&text, " ${1}").into_owned();
    }
    // "from 2 to 3pm", "2-3pm", "between 14:00 and 15:00": the task is due when it starts.
    if let Some(start) = time_range_start(&text) {
        text = TIME_RANGE.replace(&text, start.as_str()).into_owned();
    }
    let timing = take_timing(&mut text, clock);
    tags.extend(take_tags(&mut text));
    tags.dedup();
    let priority = priority.or_else(|| take_priority(&mut text));
    let text = ADD_SUFFIX
        .replace(strip_punctuation(&text), "")
        .into_owned();
    // Several tasks: quoted titles ("\"call mom\" and \"email dad\""), an explicit "tasks:" list,
    // or "a, b and c".
    let items: Vec<String> = if QUOTED_LIST.is_match(&text) {
        QUOTED
            .captures_iter(&text)
            .map(|c| clean_title(&c[1]))
            .collect()
    } else if many || (text.contains(',') && (SERIES_END.is_match(&text) || short_list(&text))) {
        let items = text
            .split([',', ';'])
            .flat_map(|part| {
                let part = part.trim();
                let part = part
                    .strip_prefix("and ")
                    .or_else(|| part.strip_prefix("& "))
                    .unwrap_or(part);
                // the last item: "milk and bread"
                if many || part.contains(" and ") {
                    part.splitn(2, " and ")
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                } else {
                    vec![part.to_owned()]
                }
            })
            .map(|t| clean_title(&t))
            .filter(|t| !t.is_empty())
            .collect();
        share_verb(items)
    } else if let Some(doings) = doings(&text) {
        doings.into_iter().map(clean_title).collect()
    } else {
        vec![clean_title(&text)]
    };
    let items: Vec<String> = items.into_iter().filter(|t| !t.is_empty()).collect();
    // "set a reminder for 5pm": a time is not what the task says
    let only_a_date = matches!(items.as_slice(), [title] if timing.due.is_none() && due_phrase(title, clock).is_some());
    // "add task 3": a number is not what a task says
    let only_a_number = matches!(items.as_slice(), [title] if title.chars().all(|c| c.is_ascii_digit() || c == '#'));
    // "I wanna add something": no title yet
    let only_a_placeholder = matches!(items.as_slice(), [title] if matches!(
        title.to_lowercase().as_str(),
        "something" | "something new" | "anything" | "a thing" | "stuff" | "one" | "a new one" | "another one" | "more"
            // "remind me to", "add a task to": the sentence stopped
            | "to" | "me" | "me to" | "that" | "about"
    ));
    if items.is_empty() || only_a_date || only_a_number || only_a_placeholder {
        return Intent::AddWithoutTitle;
    }
    let single = items.len() == 1;
    Intent::Add(
        items
            .into_iter()
            .map(|title| NewTask {
                title,
                description: if single { description.clone() } else { None },
                due: timing.due,
                priority,
                tags: tags.clone(),
                repeat: timing.repeat.clone(),
            })
            .collect(),
    )
}

/// A date phrase for a reschedule, or `None` when it is not one. The phrase is the whole new date,
/// as a due date given on its own: a meal or a part of day alone is a time ("move task 2 to
/// dinner").
fn due_phrase(raw: &str, clock: &Clock) -> Option<Due> {
    phrase::parse(strip_punctuation(raw), clock).map(|p| p.resolve(clock.tz))
}

fn priority_word(word: &str) -> Option<Priority> {
    match word.to_lowercase().as_str() {
        "high" | "top" | "urgent" | "important" | "a priority" => Some(Priority::High),
        "medium" | "normal" => Some(Priority::Medium),
        "low" => Some(Priority::Low),
        "no" | "none" => Some(Priority::None),
        _ => None,
    }
}

/// Messages [`warm_up`] reads: one that matches nothing (it is tried against every top-level
/// pattern) and one of each kind of request, with the time, repeat, tag and priority phrases whose
/// patterns are compiled only once a request has matched.
pub const WARM_UP: &[&str] = &[
    "zqx wvut 42",
    "add buy milk tomorrow at 5pm every monday #home high priority",
    "what's due this week?",
    "how many tasks are pending",
    "mark task 3 as done",
    "reopen the milk task",
    "delete the dentist task",
    "move task 2 to next friday at 9am",
    "rename task 1 to call mom",
    "postpone it by a week",
];

/// Compiles the parser's patterns by reading [`WARM_UP`]. Each pattern is compiled the first time
/// a message needs it; a worker calls this at start-up (off the async threads), so its first
/// turns do not pay tens of milliseconds for it.
pub fn warm_up() {
    let clock = Clock::system(chrono_tz::UTC, todo_common::when::DateOrder::Dmy);
    for message in WARM_UP {
        let _ = parse(message, &clock);
    }
}

/// Lead-in words read past at most ("oh ok so actually, …"): each one costs a reading of the
/// rest, so a message of nothing but lead-ins stays cheap.
const MAX_LEAD_INS: usize = 4;

/// Understands one message. The words people put in front of a request ("actually, mark it as
/// not done", "oh and add eggs") are read past when what follows them is understood.
pub fn parse(message: &str, clock: &Clock) -> Intent {
    // "delete task 2, please", "add milk, thanks": the courtesy is not part of the request
    let message = match POLITE_END.find(message) {
        Some(end) if end.start() > 0 => &message[..end.start()],
        _ => message,
    };
    // "whats due 2day", "call mom tmrw": texting shorthand for the days
    let spelled = SHORTHAND.replace_all(message, |c: &regex::Captures<'_>| {
        match c[1].to_lowercase().as_str() {
            "2day" => "today",
            "2nite" | "2night" | "tonite" => "tonight",
            _ => "tomorrow",
        }
    });
    // "would you mind adding …": the request is the verb
    let unmind = MIND.captures(spelled.as_ref()).and_then(|c| {
        let verb = match c[1].to_lowercase().as_str() {
            "adding" => "add",
            "putting" => "put",
            "setting" => "set",
            "moving" => "move",
            "making" => "make",
            "deleting" => "delete",
            "removing" => "remove",
            "marking" => "mark",
            "creating" => "create",
            "showing" => "show",
            "listing" => "list",
            "changing" => "change",
            "completing" => "complete",
            "updating" => "update",
            "renaming" => "rename",
            "scheduling" => "schedule",
            "reminding" => "remind",
            "pushing" => "push",
            "postponing" => "postpone",
            "checking" => "check",
            "tagging" => "tag",
            _ => return None,
        };
        Some(format!("{verb} {}", &c[2]))
    });
    let message = unmind.as_deref().unwrap_or(spelled.as_ref());
    // "1. buy milk 2. call mom", "add: - milk - eggs", one item a line: tasks to add, one each
    let listed = as_items(message);
    let message = listed.as_deref().unwrap_or(message);
    if let Some(several) = parse_several(message, clock) {
        return several;
    }
    if let Some(both) = one_verb_two_changes(message, clock) {
        return both;
    }
    parse_one(message, clock)
}

re!(
    ITEMS_LEAD,
    r"(?i)^(?:(?:please\s+)?(?:add|todo|to-do|to do|tasks|add these|new tasks|put these on my list)\s*:?\s*)?"
);
re!(NUMBERED_ITEM, r"(?:^|\s)\d{1,2}[.)]\s+");
re!(BULLET_ITEM, r"(?:^|\s)[-*•]\s+");

/// A list of things to add written as a numbered list, bullets or one item a line, as "add a;
/// add b; add c"; `None` when the message is not such a list (fewer than two items, or text before the
/// first marker).
fn as_items(message: &str) -> Option<String> {
    let message = message.trim();
    let lead = ITEMS_LEAD.find(message).map_or(0, |m| m.end());
    let rest = &message[lead..];
    let by_marker = |marker: &Regex| -> Option<Vec<String>> {
        let first = marker.find(rest)?;
        if first.start() != 0 || marker.find_iter(rest).count() < 2 {
            return None;
        }
        Some(
            marker
                .split(rest)
                .map(str::trim)
                .map(str::to_owned)
                .collect(),
        )
    };
    let items = by_marker(&NUMBERED_ITEM)
        .or_else(|| by_marker(&BULLET_ITEM))
        .or_else(|| {
            let lines: Vec<String> = rest.lines().map(str::trim).map(str::to_owned).collect();
            (lines.iter().filter(|l| !l.is_empty()).count() >= 2 && lead > 0).then_some(lines)
        })?;
    let items: Vec<String> = items
        .into_iter()
        .filter(|i| !i.is_empty())
        .map(|i| i.trim_end_matches([',', ';']).to_owned())
        .collect();
    (items.len() >= 2 && items.len() <= MAX_PARTS).then(|| {
        items
            .iter()
            .map(|i| format!("add {i}"))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

re!(
    MIND,
    r"(?i)^(?:please\s+)?(?:would|do|could)\s+you\s+mind\s+(\w+ing)\s+(.+)$"
);
// "move the dentist to friday and the meeting to monday": one verb for two changes
re!(
    SHARED_CHANGE_VERB,
    r"(?i)^((?:please\s+)?(?:move|reschedule|postpone|push|shift|change|set|mark|make|update))\s+(.+?)\s+and\s+(.+)$"
);

/// Two changes of different tasks that share the verb ("change the meeting to 3pm and the dentist
/// to 10am", "mark task 1 done and task 2 as high priority"); `None` unless both halves read as
/// a change of a task named by number or title.
fn one_verb_two_changes(message: &str, clock: &Clock) -> Option<Intent> {
    let c = SHARED_CHANGE_VERB.captures(strip_punctuation(message))?;
    let named = |intent: &mut Intent| {
        matches!(
            intent,
            Intent::Update(..) | Intent::Complete(_) | Intent::Delete(_)
        ) && matches!(target_mut(intent), Some(Target::Ids(_) | Target::Title(_)))
    };
    let mut first = parse_one(&format!("{} {}", &c[1], &c[2]), clock);
    let mut second = parse_one(&format!("{} {}", &c[1], &c[3]), clock);
    (named(&mut first) && named(&mut second) && first != second)
        .then(|| Intent::Several(vec![first, second]))
}

re!(
    SHORTHAND,
    r"(?i)\b(2day|2moro|2morrow|2morow|2nite|2night|tonite|tmrw|tmr|tmrow|tomoz)\b"
);
re!(
    POLITE_END,
    r"(?i)(?:[\s,]+(?:please|pls|plz)|\s*[,.!]\s*(?:thanks|thank you|thx|ty|cheers))[\s.!]*$"
);

fn parse_one(message: &str, clock: &Clock) -> Intent {
    // "+ milk", "+call the bank tomorrow": the shorthand of a list app for adding
    if let Some(rest) = message.trim().strip_prefix('+').map(str::trim_start)
        && rest.starts_with(|c: char| c.is_alphanumeric() || c == '"' || c == '\'')
    {
        return parse_past_lead_ins(&format!("add {rest}"), clock, MAX_LEAD_INS);
    }
    match parse_past_lead_ins(message, clock, MAX_LEAD_INS) {
        Intent::Unknown => retyped(message).map_or_else(
            || also_add(message, clock),
            |m| parse_past_lead_ins(&m, clock, MAX_LEAD_INS),
        ),
        intent => intent,
    }
}

// "and eggs", "also the bread", "plus a card", "eggs too", "bread as well"
re!(
    ALSO_ITEM,
    r"(?i)^(?:(?:oh,?\s+)?and(?:\s+also)?|also|plus)\s+(.+?)(?:\s+(?:too|as well))?[\s.!]*$|^(.+?)\s+(?:too|as well)[\s.!]*$"
);

// "milk", "the dentist", "groceries": a few words and no request
re!(
    MENTION,
    r"(?i)^(?:the\s+|my\s+)?([a-z][a-z'-]*(?:\s+[a-z][a-z'-]*){0,2})\s*[.!]*$"
);

/// Words that make a few words something other than a task's name ("what", "hmm", "test").
const NOT_A_MENTION: &[&str] = &[
    "show",
    "list",
    "find",
    "see",
    "view",
    "display",
    "get",
    "tell",
    "give",
    "what's",
    "whats",
    "what",
    "why",
    "how",
    "who",
    "when",
    "where",
    "which",
    "hmm",
    "hm",
    "hmmm",
    "huh",
    "uh",
    "um",
    "umm",
    "eh",
    "er",
    "blah",
    "test",
    "testing",
    "asdf",
    "idk",
    "dunno",
    "whatever",
    "nothing",
    "something",
    "anything",
    "stuff",
    "i",
    "you",
    "me",
    "we",
    "is",
    "are",
    "am",
    "do",
    "does",
    "can",
    "could",
    "would",
    "should",
    "will",
    "not",
    "no",
    "yes",
    "please",
];

/// "and eggs" that says nothing else: the add it would be after an add ([`Intent::AlsoAdd`]); a
/// few words and nothing else: [`Intent::Mention`].
fn also_add(message: &str, clock: &Clock) -> Intent {
    let Some(item) = ALSO_ITEM
        .captures(message.trim())
        .and_then(|c| c.get(1).or_else(|| c.get(2)))
    else {
        return match MENTION.captures(message.trim()) {
            Some(c)
                if !c[1]
                    .split_whitespace()
                    .any(|w| NOT_A_MENTION.contains(&w.to_lowercase().as_str())) =>
            {
                Intent::Mention(c[1].to_lowercase())
            }
            _ => Intent::Unknown,
        };
    };
    match parse_past_lead_ins(&format!("add {}", item.as_str()), clock, 0) {
        add @ Intent::Add(_) => Intent::AlsoAdd(Box::new(add)),
        _ => Intent::Unknown,
    }
}

re!(
    SET_FOR,
    &format!(
        r"(?i)^{POLITE}(?:set|make|have|put|schedule|plan)\s+((?:the|my|our)\s+.+?)\s+(?:for|at|on|to)\s+(.+?)(?:\s+instead)?$"
    )
);
// the same without a preposition, when a date follows: "make the meeting tomorrow instead"
re!(
    SET_WHEN,
    &format!(
        r"(?i)^{POLITE}(?:set|make|have|put|schedule|plan)\s+((?:the|my|our)\s+.+?)\s+((?:today|tonight|tomorrow|next\s+\w+|this\s+\w+|\d{{1,2}}(?::\d{{2}})?\s*(?:am|pm)?|(?:mon|tues|wednes|thurs|fri|satur|sun)day)(?:\s+.+?)?)(?:\s+instead)?$"
    )
);
// "what did I add last?", "what did I just add?": the newest task
re!(
    JUST_ADDED,
    r"(?i)^(?:what|which task|which one)\s+(?:did|have)\s+(?:i|we)\s+(?:just\s+)?(?:add|added|create|created|put (?:in|on the list)|write down|written down)(?:\s+(?:last|most recently|just now|a minute ago|last time))?$"
);
re!(
    MAKE_THE_REPEAT,
    &format!(
        r"(?i)^{POLITE}(?:make|set|have|change|switch)\s+(.+?)\s+(?:to\s+)?(?:repeat\s+|recur\s+|happen\s+)?((?:every|each)\s+.+|(?:daily|weekly|fortnightly|monthly|yearly|annually)(?:\s+on\s+.+)?|on weekdays)$"
    )
);
re!(
    LATEST_ONE,
    r"\b(?:last|latest|newest|most recent|most recently added)\s+(?:task|todo|to-do|item|one|thing)(?:\s+(?:i|we)\s+(?:added|created|put in|wrote down))?\s*[?!.]*$"
);
re!(
    HOW_MANY_SHOWN,
    r"\b(?:top|first|next)\s+(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\b(?:\s+([a-z]+))?|\b(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\s+(?:most\s+(?:important|urgent)|(?:top|highest|high)[\s-]priority|priorities|(?:pending\s+|open\s+|overdue\s+|urgent\s+)?(?:tasks|todos|to-dos|things|items)\s*[?!.]*$)"
);
re!(
    NEWEST,
    r"\b(?:(?:last|latest|newest|most recent|recent)\s+(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)|(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\s+(?:last|latest|newest|most recent|recent|recently added))(?:\s+(?:tasks?|todos?|to-dos?|items?|ones?|things?))?(?:\s+(?:i\s+)?(?:added|created))?\s*[?!.]*$"
);

// "what's recurring?", "which tasks repeat?", "what are my repeating ones?"
re!(
    REPEATING_QUESTION,
    r"(?i)^(?:what|which)(?:'s|’s|s| is| are)?\s+(?:(?:of\s+)?my\s+)?(?:tasks?\s+|todos?\s+|ones\s+)?(?:(?:is|are)\s+)?(?:recurring|repeating|recurrent|on repeat|repeats?|recurs?)(?:\s+(?:tasks?|todos?|ones))?(?:\s+do\s+i\s+have)?$"
);

/// "milk, eggs", "apples, pears, plums": items too short to be one title with a comma in it
/// (single words, or three or more of at most two words).
fn short_list(text: &str) -> bool {
    let parts: Vec<usize> = text
        .split(',')
        .map(|p| p.split_whitespace().count())
        .collect();
    parts.iter().all(|n| (1..=2).contains(n)) && (parts.len() >= 3 || parts.iter().all(|n| *n == 1))
}

/// "buy milk, eggs and bread", "call mom at 5 and dad at 6": a shopping or calling verb leading
/// the first item leads the bare ones after it ("Buy eggs", "Call dad"); an item with a verb of
/// its own keeps it.
fn share_verb(mut items: Vec<String>) -> Vec<String> {
    const SHOPPING: &[&str] = &[
        "buy", "get", "grab", "order", "pick up", "call", "phone", "ring", "email", "text",
        "message", "visit",
    ];
    let Some(first) = items.first().map(|t| t.to_lowercase()) else {
        return items;
    };
    let Some(verb) = SHOPPING.iter().find(|v| {
        first
            .strip_prefix(**v)
            .is_some_and(|rest| rest.starts_with(' '))
    }) else {
        return items;
    };
    if items.len() < 2 || first.split_whitespace().count() > verb.split(' ').count() + 3 {
        return items;
    }
    for item in items.iter_mut().skip(1) {
        let lower = item.to_lowercase();
        let word = lower.split_whitespace().next().unwrap_or_default();
        if lower.split_whitespace().count() <= 3 && !TASK_VERBS.contains(&word) {
            // the item's first letter was capitalised as a title's; its other letters are kept
            let mut chars = item.chars();
            let rest: String = chars
                .next()
                .map(|c| c.to_lowercase().chain(chars).collect())
                .unwrap_or_default();
            *item = capitalize(&format!("{verb} {rest}"));
        }
    }
    items
}

// The end of "a, b and c" (or "a, b, and c"): the text is several tasks.
re!(SERIES_END, r"(?i),\s*(?:[^,]+\s+)?(?:and|&)\s+[^,]+$");

/// At most this many requests in one message.
const MAX_PARTS: usize = 5;

// Where one request may end and the next begin: a sentence end, "then", "also" (group 1), or a
// plain "and" or a comma (group 2), which count only before a command or question word ("add
// milk and eggs" is one request, "mark task 1 done and what's left?" two); group 3 is the next
// word.
re!(
    NEXT_REQUEST,
    r"(?i)(?:([.!;?]\s+|\s*,?\s+(?:and\s+then|then|and\s+also|also)\s+)|(\s*,?\s+and\s+|\s*,\s+))(\w+)"
);

/// Words that begin a request or question of their own after "and".
const REQUEST_WORDS: &[&str] = &[
    "add",
    "delete",
    "remove",
    "complete",
    "finish",
    "mark",
    "move",
    "reschedule",
    "postpone",
    "push",
    "rename",
    "change",
    "update",
    "reopen",
    "uncheck",
    "remind",
    "show",
    "list",
    "tag",
    "untag",
    "set",
    "make",
    "please",
    "what",
    "whats",
    "which",
    "how",
    "anything",
];

/// A message of several requests in a row, each read on its own; `None` unless every part is a
/// request that changes or lists tasks.
fn parse_several(message: &str, clock: &Clock) -> Option<Intent> {
    // (where the part before ends, where the next begins, whether only a comma divides them)
    let mut cuts = Vec::new();
    for c in NEXT_REQUEST.captures_iter(message) {
        let (Some(all), Some(word)) = (c.get(0), c.get(3)) else {
            continue;
        };
        if let Some(between) = c.get(2) {
            if !REQUEST_WORDS.contains(&word.as_str().to_lowercase().as_str()) {
                continue;
            }
            // group 2 is ", and" / "and", or a comma alone
            let comma = !between.as_str().to_lowercase().contains("and");
            cuts.push((all.start(), word.start(), comma));
        } else {
            cuts.push((all.start(), word.start(), false));
        }
    }
    // A comma ends a request only before one that stands on its own: an add, a question, or a
    // change of a task named by number, "it" or its place in a list ("add milk, show my tasks",
    // "what's pending, add bread"); "add paint the fence, make sure to buy brushes" stays one task.
    let ends = cuts
        .iter()
        .map(|c| c.0)
        .skip(1)
        .chain(std::iter::once(message.len()))
        .collect::<Vec<_>>();
    let cuts: Vec<(usize, usize)> = cuts
        .iter()
        .zip(ends)
        .filter(|((_, next, comma), end)| {
            !comma || stands_alone(parse_one(&message[*next..*end], clock))
        })
        .map(|((end, next, _), _)| (*end, *next))
        .collect();
    let mut parts = Vec::new();
    let mut start = 0;
    for (end, next) in cuts {
        parts.push(&message[start..end]);
        start = next;
    }
    parts.push(&message[start..]);
    let parts: Vec<&str> = parts
        .into_iter()
        .map(|p| p.trim().trim_end_matches(['.', '!', ';']).trim_end())
        .filter(|p| !p.is_empty())
        .collect();
    if !(2..=MAX_PARTS).contains(&parts.len()) {
        return None;
    }
    // "move task 2 to friday and make it high priority": "it" is the task named before. Right
    // after an add ("add call mom and then make it high priority") it is the new task: the change
    // becomes part of the add. After an add and something else it is unclear, and the message is
    // read whole.
    let mut intents: Vec<Intent> = Vec::with_capacity(parts.len());
    let mut named: Option<Target> = None;
    let mut added = false;
    for (i, part) in parts.iter().enumerate() {
        let mut intent = parse_one(part, clock);
        match intent {
            // "hi, add milk", "thanks, and what's left?": the greeting needs no answer of its own
            Intent::Greeting | Intent::Thanks | Intent::Ack | Intent::Bye => continue,
            // "never mind, delete it", "no, delete task 3": the request that follows is the answer
            Intent::No | Intent::CancelIt if i == 0 => continue,
            // "yes, delete them": the answer, when the rest only says again what it agrees to
            // ("go ahead and delete task 2" is read whole)
            Intent::Yes if i == 0 => {
                let rest: Vec<Intent> = parts[1..].iter().map(|p| parse_one(p, clock)).collect();
                if !rest.iter().cloned().all(restates) {
                    return None;
                }
                return Some(match <[Intent; 1]>::try_from(rest) {
                    Ok([one]) => Intent::YesTo(Box::new(one)),
                    Err(_) => Intent::Yes,
                });
            }
            _ => {}
        }
        if matches!(intent, Intent::Add(_)) {
            added = true;
            named = None;
        }
        // "add milk to my list and then show it": "it" is the list
        if added && intent == Intent::Show(Target::Previous) {
            intent = Intent::List(Query::default());
        }
        if let Some(target) = target_mut(&mut intent) {
            // "add eggs and milk and mark them as urgent": "them" is what was just named
            if *target == Target::Listed(Vec::new()) && (added || named.is_some()) {
                *target = Target::Previous;
            }
            match target {
                Target::Previous if added && named.is_none() => {
                    let (Some(Intent::Add(tasks)), Intent::Update(_, edit)) =
                        (intents.last_mut(), &intent)
                    else {
                        return None;
                    };
                    if !edit_new_tasks(tasks, edit) {
                        return None;
                    }
                    continue;
                }
                Target::Previous => {
                    if let Some(earlier) = &named {
                        *target = earlier.clone();
                    }
                }
                Target::Ids(_) | Target::Title(_) => named = Some(target.clone()),
                _ => {}
            }
        }
        intents.push(intent);
    }
    if intents.len() <= 1 {
        return intents.pop();
    }
    intents
        .iter()
        .all(|i| {
            matches!(
                i,
                Intent::Add(_)
                    | Intent::List(_)
                    | Intent::Count(_)
                    | Intent::Complete(_)
                    | Intent::Reopen(_)
                    | Intent::Delete(_)
                    | Intent::Update(..)
            )
        })
        .then_some(Intent::Several(intents))
}

/// A request that needs nothing said before it: an add, a listing or count, or a change of a task
/// named by number, "it" or its place in a list.
/// Whether a request after "yes" only says again what was asked about ("delete them", "mark it
/// done"): it names no task of its own.
fn restates(mut intent: Intent) -> bool {
    match target_mut(&mut intent) {
        Some(Target::Previous | Target::All(_)) => true,
        Some(Target::Listed(places)) => places.is_empty(),
        _ => false,
    }
}

fn stands_alone(mut intent: Intent) -> bool {
    match target_mut(&mut intent) {
        Some(target) => matches!(
            target,
            Target::Ids(_) | Target::Previous | Target::Listed(_)
        ),
        None => matches!(intent, Intent::Add(_) | Intent::List(_) | Intent::Count(_)),
    }
}

/// Applies `edit` to tasks not yet added ("add call mom and make it urgent"); `false` when the
/// edit cannot be read that way (a new title for several tasks, a move relative to a due date).
fn edit_new_tasks(tasks: &mut [NewTask], edit: &Edit) -> bool {
    if edit.shift.is_some() || (edit.title.is_some() && tasks.len() != 1) {
        return false;
    }
    for task in tasks {
        if let Some(title) = &edit.title {
            task.title.clone_from(title);
        }
        if let Some(description) = &edit.description {
            task.description.clone_from(description);
        }
        if let Some(due) = edit.due {
            task.due = due;
        }
        if let Some(priority) = edit.priority {
            task.priority = Some(priority);
        }
        if let Some(repeat) = &edit.repeat {
            task.repeat.clone_from(repeat);
        }
        if edit.clear_tags {
            task.tags.clear();
        }
        task.tags.retain(|t| !edit.remove_tags.contains(t));
        for tag in &edit.add_tags {
            if !task.tags.contains(tag) {
                task.tags.push(tag.clone());
            }
        }
    }
    true
}

/// The tasks a request acts on, if it names any.
fn target_mut(intent: &mut Intent) -> Option<&mut Target> {
    match intent {
        Intent::Complete(t) | Intent::Reopen(t) | Intent::Delete(t) | Intent::Update(t, _) => {
            Some(t)
        }
        _ => None,
    }
}

/// Command words a slip of the keyboard is read as ("delte task 2", "compelte task 3").
const COMMANDS: &[&str] = &[
    "delete",
    "remove",
    "complete",
    "finish",
    "mark",
    "rename",
    "reschedule",
    "postpone",
    "move",
    "change",
    "update",
    "show",
    "list",
    "reopen",
    "uncheck",
    "remind",
];

/// `message` with its first word read as the command one letter away from it (a letter missing,
/// extra, wrong or two swapped), when there is exactly one. A word of four letters only counts
/// with two letters swapped ("shwo", "mrak"): "lost my keys" is not "list my keys".
fn retyped(message: &str) -> Option<String> {
    let message = message.trim();
    let (first, rest) = message.split_once(char::is_whitespace)?;
    let word = first.to_lowercase();
    // "add" is too short to be found one letter away without "ad" (a word of its own) coming
    // along: only a doubled letter counts
    if matches!(word.as_str(), "addd" | "aadd") {
        return Some(format!("add {rest}"));
    }
    if word.chars().count() < 4 || COMMANDS.contains(&word.as_str()) {
        return None;
    }
    let letters = |w: &str| {
        let mut l: Vec<char> = w.chars().collect();
        l.sort_unstable();
        l
    };
    let mut near = COMMANDS.iter().filter(|c| {
        strsim::damerau_levenshtein(&word, c) == 1
            && (word.chars().count() > 4 || letters(&word) == letters(c))
    });
    match (near.next(), near.next()) {
        (Some(command), None) => Some(format!("{command} {rest}")),
        _ => None,
    }
}

fn parse_past_lead_ins(message: &str, clock: &Clock, lead_ins: usize) -> Intent {
    let message = message.trim();
    if lead_ins > 0 {
        // (pattern, whether the rest may be the user's own sentence: "oh, I bought milk" but
        // not "make sure I pay the rent", which is a to-do read whole below)
        for (lead_in, own_sentence) in [(&LEAD_IN, true), (&REQUEST_LEAD_IN, false)] {
            if let Some(c) = lead_in.captures(message)
                && (own_sentence || !starts_with_word(&c[1], &["i", "we"]))
            {
                let rest = parse_past_lead_ins(&c[1], clock, lead_ins - 1);
                if rest != Intent::Unknown {
                    return rest;
                }
            }
        }
        if let Some(intent) = parse_dated_request(message, clock) {
            return intent;
        }
    }
    parse_request(message, clock)
}

// "make it friday", "make that oat milk", "call it team sync", "call task 1 oat milk": a
// correction of the task just talked about or named by number (group 1 the verb, 2 the task, 3
// what it becomes).
re!(
    CORRECTION,
    r"(?i)^(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?|please\s+|just\s+)?(make|call|name)\s+(that one|this one|it|that|this|task\s+#?\d+|#\d+)\s+(?:to\s+|into\s+|as\s+)?(.+?)(?:\s+instead)?$"
);
// "task 1 should be called buy almond milk"
re!(
    SHOULD_BE_CALLED,
    r"(?i)^(.+?)\s+(?:should be|is now|is)\s+(?:called|named|titled)\s+(.+)$|^(.+?)\s+should\s+(?:say|read)\s+(.+)$"
);
// "rename task 1", "edit the meeting", "update the dentist": which task, but not what to change
re!(
    CHANGE_WHAT,
    &format!(
        r"(?i)^{POLITE}(rename|retitle|edit|change|update|modify)\s+(it|that|this|that one|this one|task\s+#?\d+|#\d+|the\s+.+?(?:\s+task)?)$"
    )
);

/// A correction of the task just talked about: "call it" / "name it" gives a new title; "make it"
/// a repeat ("make it weekly") or what "change it to …" would change: a date, a time, a
/// priority, and a title only after "make that" ("make that oat milk"; "make it recurring" is
/// not a title). `None` for anything else, which is read as before.
fn correction(bare: &str, clock: &Clock) -> Option<Intent> {
    /// Words "make that …" does not rename a task to.
    const NOT_A_TITLE: &[&str] = &[
        "done",
        "complete",
        "completed",
        "finished",
        "recurring",
        "repeating",
        "later",
        "earlier",
        "sooner",
        "bigger",
        "smaller",
        "shorter",
        "longer",
        "work",
        "happen",
        "count",
    ];
    let c = CORRECTION.captures(bare)?;
    let (verb, task) = (c[1].to_lowercase(), &c[2]);
    // "make it 4": an hour alone is a time
    let what = &if verb == "make" {
        at_hour(c[3].trim())
    } else {
        c[3].trim().to_owned()
    };
    let lower = what.to_lowercase();
    if has_words(&lower, "repeat") {
        return None;
    }
    if verb != "make" {
        let title = clean_title(what);
        return (!title.is_empty()).then(|| {
            update(
                parse_target(task, clock),
                Edit {
                    title: Some(title),
                    ..Edit::default()
                },
            )
        });
    }
    // "make it weekly", "make it every monday": a new repeat
    if let Some(repeat) = parse_repeat(what) {
        return Some(update(
            parse_target(task, clock),
            Edit {
                repeat: Some(Some(repeat)),
                ..Edit::default()
            },
        ));
    }
    let renames = task.to_lowercase().starts_with("that")
        && !lower
            .split_whitespace()
            .any(|w| NOT_A_TITLE.contains(&w) || w.starts_with("later"));
    match parse_request(&format!("change {task} to {what}"), clock) {
        Intent::Update(_, edit) if edit.title.is_some() && !renames => None,
        intent @ Intent::Update(..) => Some(intent),
        _ => None,
    }
}

/// What to ask about a "make it …" that [`correction`] could not read ("make it recurring",
/// "make it a bit later", "make it nicer"): it speaks of the task just talked about, so it is not
/// a new task. "make it to the gym" (arriving somewhere) is left to be read as a new task.
fn unclear_correction(bare: &str, clock: &Clock) -> Option<&'static str> {
    let c = CORRECTION.captures(bare)?;
    if !c[1].eq_ignore_ascii_case("make") || bare.to_lowercase().contains(" to ") {
        return None;
    }
    // "make it 30 minutes later": an edit reads it
    if MAKE_LATER.is_match(bare) || MAKE_EARLIER.is_match(bare) {
        return None;
    }
    // "make it urgent", "make it less urgent": an edit reads it
    if parse_edit(bare, clock).is_some() {
        return None;
    }
    let what = c[3].trim().to_lowercase();
    let has = |w: &str| has_words(&what, w);
    // "make it repeat every week" is read with the other repeats
    if has("repeat") && what != "repeat" {
        return None;
    }
    Some(
        if has("recurring") || has("repeating") || has("repeat") || has("regular") {
            "How often should it repeat? For example: \"make it weekly\", \"make it every monday\" or \"make it monthly\"."
        } else if has("later") || has("earlier") || has("sooner") {
            "By how much, or to when? For example: \"move it 2 hours later\", \"move it a day earlier\" or \"move it to friday at 5pm\"."
        } else {
            "What should I change about it? For example: \"make it friday\", \"make it high priority\", \"make it weekly\" or \"call it …\" for a new title."
        },
    )
}

re!(
    BARE_NO_DUE,
    r"(?i)^(?:no|without a|without|remove the|clear the|drop the)\s+(?:due\s+)?(?:date|deadline|due date)$"
);
re!(
    BARE_CLEAR_TAGS,
    r"(?i)^(?:remove|clear|delete|drop)\s+(?:the\s+|all\s+(?:the\s+)?|its\s+)?(?:tags?|labels?)$|^no\s+tags?$"
);
re!(
    BARE_ADD_TAG,
    r"(?i)^(?:(?:add|also)\s+(?:the\s+|a\s+)?(?:tags?|labels?)\s+|(?:tags?|labels?)\s*:\s*|#)#?([\w-]+(?:\s*(?:,|and)?\s*#[\w-]+|\s*(?:,|and)\s*#?[\w-]+)*)$"
);
/// A message that is nothing but a new date, time or priority ("tomorrow", "due friday at 5",
/// "at 5pm", "high priority"): what it would change.
fn bare_change(bare: &str, clock: &Clock) -> Option<Edit> {
    // "at 4 instead", "friday then"
    let bare = [" instead", " then", " please"]
        .iter()
        .find_map(|w| bare.strip_suffix(w))
        .unwrap_or(bare);
    // a date phrase is a few words ("next friday at 5:30 pm"); longer messages are something else
    if bare.split_whitespace().count() > 6 {
        return None;
    }
    if let Some(c) = BARE_PRIORITY.captures(bare) {
        let word = c.get(1).or_else(|| c.get(2))?;
        return Some(Edit {
            priority: Some(priority_word(word.as_str())?),
            ..Edit::default()
        });
    }
    // "every week", "no due date", "remove the tag", "add tag teeth": about the task just talked
    // about
    if let Some(repeat) = parse_repeat(strip_punctuation(bare)) {
        return Some(Edit {
            repeat: Some(Some(repeat)),
            ..Edit::default()
        });
    }
    if BARE_NO_DUE.is_match(bare) {
        return Some(Edit {
            due: Some(None),
            ..Edit::default()
        });
    }
    if BARE_CLEAR_TAGS.is_match(bare) {
        return Some(Edit {
            clear_tags: true,
            ..Edit::default()
        });
    }
    if let Some(c) = BARE_ADD_TAG.captures(bare) {
        let tags = split_tags(&c[1]);
        if !tags.is_empty() {
            return Some(Edit {
                add_tags: tags,
                ..Edit::default()
            });
        }
    }
    // "the day after", "the week before": a day or a week from where the task stands
    if let Some(c) = DAY_AFTER.captures(bare) {
        return Some(Edit {
            shift: Some(shift_of("1", &c[1], c[2].eq_ignore_ascii_case("before"))),
            ..Edit::default()
        });
    }
    // "a day later", "an hour earlier", "by half an hour": from where the task stands
    let halves = HALF_HOUR.replace_all(bare, "30 minutes");
    if let Some(c) = BARE_SHIFT.captures(&halves) {
        return Some(Edit {
            shift: Some(shift_of(&c[1], &c[2], !c[3].eq_ignore_ascii_case("later"))),
            ..Edit::default()
        });
    }
    let lower = bare.to_lowercase();
    let when = lower
        .strip_prefix("due ")
        .or_else(|| lower.strip_prefix("by "))
        .unwrap_or(&lower);
    let due = due_phrase(when, clock)?;
    Some(Edit {
        due: Some(Some(due)),
        at_time: phrase::time_only(strip_punctuation(when)),
        hour_only: hour_only(when),
        ..Edit::default()
    })
}

/// Whether `when` is a clock hour alone, without am/pm or a part of day ("at 9", "9:30", "by 5").
pub fn hour_only(when: &str) -> bool {
    re!(
        HOUR_ONLY,
        r"(?i)^(?:at\s+|by\s+|around\s+|about\s+|for\s+)?(?:1[0-2]|0?[1-9])(?::[0-5]\d)?(?:\s+instead)?[\s.!?]*$"
    );
    HOUR_ONLY.is_match(when.trim())
}

/// A shift by `count` `unit`s ("2", "hours"), earlier or later.
fn shift_of(count: &str, unit: &str, earlier: bool) -> Shift {
    let sign = if earlier { -1 } else { 1 };
    let n = sign * i64::from(phrase::number(&count.to_lowercase()).unwrap_or(1));
    match unit.to_lowercase().trim_end_matches('s') {
        "minute" | "min" => Shift {
            days: 0,
            months: 0,
            minutes: n,
        },
        "hour" => Shift {
            days: 0,
            months: 0,
            minutes: 60 * n,
        },
        "week" => Shift {
            days: 7 * n,
            months: 0,
            minutes: 0,
        },
        "month" => Shift {
            days: 0,
            months: u32::try_from(n).unwrap_or(1),
            minutes: 0,
        },
        _ => Shift {
            days: n,
            months: 0,
            minutes: 0,
        },
    }
}

/// Whether `message`, read as `intent`, may instead answer a "which one?" by naming the task
/// ("the oat one", "buy oat milk", "both"): it is not understood, or it would add a task without
/// saying "add" (a title alone reads as a new task).
pub fn may_answer_by_title(message: &str, intent: &Intent) -> bool {
    match intent {
        Intent::Unknown | Intent::Mention(_) => true,
        Intent::Add(_) => !starts_with_word(
            message,
            &[
                "add", "create", "new", "remind", "put", "insert", "make", "todo", "task",
            ],
        ),
        _ => false,
    }
}

/// The words of an answer to "which one?" that name the task: "the oat milk one" → "oat milk".
pub fn answer_words(message: &str) -> String {
    let lower = strip_punctuation(message).to_lowercase();
    let mut words: Vec<&str> = lower.split_whitespace().collect();
    while words
        .first()
        .is_some_and(|w| ["the", "that", "this", "its", "it's", "i", "mean"].contains(w))
    {
        words.remove(0);
    }
    while words
        .last()
        .is_some_and(|w| ["one", "task", "please", "thanks", "pls"].contains(w))
    {
        words.pop();
    }
    words.join(" ")
}

/// Whether `words` (from [`answer_words`]) choose every task the question offered.
pub fn means_all_offered(words: &str) -> bool {
    matches!(
        words,
        "both"
            | "both of them"
            | "all"
            | "all of them"
            | "all three"
            | "them all"
            | "each"
            | "every"
    )
}

/// Whether `text`'s first word is one of `words` (lower case).
fn starts_with_word(text: &str, words: &[&str]) -> bool {
    text.split_whitespace()
        .next()
        .is_some_and(|w| words.contains(&w.to_lowercase().as_str()))
}

/// "tomorrow remind me to call mom", "on friday I need to pay rent": a date in front of a request
/// to add. The date goes to the tasks that name none of their own.
fn parse_dated_request(message: &str, clock: &Clock) -> Option<Intent> {
    let words: Vec<&str> = message.split_whitespace().collect();
    (1..words.len().min(5)).rev().find_map(|k| {
        let rest = words[k..].join(" ");
        let rest = rest.trim_start_matches([',', ':', '-', ' ']);
        if !(REMIND.is_match(rest) || ADD.is_match(rest)) {
            return None;
        }
        let head = words[..k].join(" ");
        match due_phrase(&head, clock) {
            Some(due) => dated(parse_request(rest, clock), due),
            // "every monday remind me to water the plants"
            None => repeating(
                parse_request(rest, clock),
                parse_repeat(head.trim_end_matches([',', ':', '-']))?,
            ),
        }
    })
}

/// An add whose tasks are due at `due` unless they name a date of their own; `None` for anything
/// but an add.
fn dated(intent: Intent, due: Due) -> Option<Intent> {
    each_new_task(intent, |t| NewTask {
        due: t.due.or(Some(due)),
        ..t
    })
}

/// An add whose tasks repeat by `repeat` unless they name a repeat of their own; `None` for
/// anything but an add.
fn repeating(intent: Intent, repeat: RepeatPhrase) -> Option<Intent> {
    each_new_task(intent, |t| NewTask {
        repeat: t.repeat.or_else(|| Some(repeat.clone())),
        ..t
    })
}

/// An add with `f` applied to each of its tasks; `None` for anything but an add.
fn each_new_task(intent: Intent, f: impl FnMut(NewTask) -> NewTask) -> Option<Intent> {
    match intent {
        Intent::Add(tasks) => Some(Intent::Add(tasks.into_iter().map(f).collect())),
        _ => None,
    }
}

/// The body of "remind me to …" / "I need to …" with any further such words read past ("I need
/// to remember to pick up the kids").
fn reminder_body(body: &str) -> &str {
    let mut body = body;
    for _ in 0..MAX_LEAD_INS {
        match REMIND.captures(body).and_then(|c| c.get(1)) {
            Some(inner) => body = inner.as_str(),
            None => break,
        }
    }
    body
}

re!(
    MORE_THAN_DAILY,
    r"(?i)\b(?:(?:every|each)\s+(?:(?:\d+|two|three|four|five|six|eight|twelve|few|couple\s+of|other)\s+)?(?:hours?|minutes?|mins?|half[\s-]hour)|hourly|(?:twice|thrice|(?:two|three|four|several|\d+)\s+times)\s+(?:a|per|each|every)\s+day)\b"
);
const MORE_THAN_DAILY_REPLY: &str = "A task can repeat every day at the most (daily, weekly, \
     monthly or yearly), not several times a day, so I changed nothing. Try \"take my pills every \
     day at 9am\", or add one task for each time of day.";

fn parse_request(message: &str, clock: &Clock) -> Intent {
    let text = message.trim();
    let lower = text.to_lowercase();
    let bare = strip_punctuation(text);

    if GREETING.is_match(bare) {
        return Intent::Greeting;
    }
    if HELP.is_match(bare) {
        return Intent::Help;
    }
    if NOW.is_match(bare) {
        return Intent::Now;
    }
    if let Some(c) = SETTINGS.captures(bare) {
        let timezone = c
            .get(1)
            .is_some_and(|m| m.as_str().to_lowercase().starts_with("time"));
        return Intent::Settings(timezone);
    }
    if UNDO.is_match(bare) {
        return Intent::Undo;
    }
    if let Some(c) = IT_TIME_TO.captures(bare)
        && let Some(edit) = bare_change(&c[1], clock).filter(|e| e.due.is_some())
    {
        return update(Target::Previous, edit);
    }
    if YES.is_match(bare) {
        return Intent::Yes;
    }
    // "yes delete them", "ok do it": the answer, saying again what it agrees to
    if let Some(c) = AGREE_THEN.captures(bare)
        && YES.is_match(&c[1])
    {
        let rest = parse_one(&c[2], clock);
        if restates(rest.clone()) {
            return Intent::YesTo(Box::new(rest));
        }
        // "sure add eggs", "yes what's due today": a request of its own
        if matches!(rest, Intent::Add(_) | Intent::List(_)) {
            return rest;
        }
    }
    if CANCEL_IT.is_match(bare) {
        return Intent::CancelIt;
    }
    if MISTAKE.is_match(bare) {
        return Intent::Mistake;
    }
    if let Some(c) = MEANT.captures(bare) {
        let target = parse_target(&c[1], clock);
        if target != Target::Missing && target != Target::Previous {
            return Intent::Meant(target);
        }
    }
    // "also remind me the day before": no reminder apart from the due date
    if REMIND_BEFORE.is_match(bare) {
        return Intent::Unclear(REMIND_BEFORE_REPLY);
    }
    if NO.is_match(bare) {
        return Intent::No;
    }
    if let Some(c) = NUMBER_REPLY.captures(bare)
        && let Ok(n) = c[1].parse()
    {
        return Intent::Number(n);
    }
    if let Some(p) = ordinal(bare) {
        return Intent::Pick(p);
    }
    if BYE.is_match(bare) {
        return Intent::Bye;
    }
    // "am I done for the day?": what is left, due by today
    if DONE_FOR_TODAY.is_match(bare) {
        return Intent::List(Query {
            status: StatusFilter::Pending,
            days: Some(Days {
                from: None,
                to: Some(clock.today()),
            }),
            ..Query::default()
        });
    }
    // "is there anything I forgot?": what is overdue
    if FORGOT.is_match(bare) {
        return Intent::List(Query {
            status: StatusFilter::Pending,
            due: Some(DueFilter::Overdue),
            ..Query::default()
        });
    }
    if REMIND_ALONE.is_match(bare) {
        return Intent::AddWithoutTitle;
    }
    // "thanks", "cool", "lol", "wow thanks": a thank-you is answered as one, the rest as a reaction
    if (THANKS.is_match(bare) && bare.split_whitespace().count() <= 4)
        || ACK.is_match(bare)
        || only_reactions(bare)
    {
        return if THANK_WORD.is_match(bare) {
            Intent::Thanks
        } else {
            Intent::Ack
        };
    }
    if let Some(intent) = correction(bare, clock) {
        return intent;
    }
    if let Some(question) = unclear_correction(bare, clock) {
        return Intent::Unclear(question);
    }
    // "take my pills every 4 hours", "drink water twice a day": repeats run daily at the most
    if MORE_THAN_DAILY.is_match(bare)
        && !starts_with_word(
            bare,
            &[
                "what", "what's", "which", "show", "list", "how", "is", "are",
            ],
        )
    {
        return Intent::Unclear(MORE_THAN_DAILY_REPLY);
    }
    // "done", "not done" alone: about the task just talked about
    if let Some(c) = IT_DONE.captures(bare) {
        let reopen = matches!(
            c[1].to_lowercase().as_str(),
            "not done" | "incomplete" | "undone" | "reopen" | "re-open"
        );
        let (action, status) = if reopen {
            (Intent::Reopen(Target::Previous), StatusFilter::Pending)
        } else {
            (Intent::Complete(Target::Previous), StatusFilter::Completed)
        };
        // "mark it as done" is about a task; "done" alone may ask for the completed ones
        if starts_with_word(
            bare,
            &[
                "mark", "it's", "its", "it", "that's", "thats", "that", "this",
            ],
        ) {
            return action;
        }
        return Intent::OnItOrList(
            Box::new(action),
            Query {
                status,
                ..Query::default()
            },
        );
    }
    if IT_DELETE.is_match(bare) {
        return Intent::Delete(Target::Previous);
    }
    // "tomorrow", "due friday at 5", "at 5pm", "high priority" alone: a change to the task just
    // talked about
    if let Some(edit) = bare_change(bare, clock) {
        // "add tag teeth", "every week": only ever about a task ("which task?" when none was
        // talked about)
        // "#groceries" alone: the task just talked about gets the tag; with none, the tasks
        // that have it are listed
        if bare.starts_with('#')
            && let [tag] = edit.add_tags.as_slice()
        {
            let list = Query {
                tag: Some(tag.clone()),
                ..Query::default()
            };
            return Intent::OnItOrList(Box::new(update(Target::Previous, edit)), list);
        }
        if !edit.add_tags.is_empty()
            || edit.clear_tags
            || edit.repeat.is_some()
            || edit.shift.is_some()
        {
            return update(Target::Previous, edit);
        }
        return Intent::OnItOrList(
            Box::new(update(Target::Previous, edit)),
            still_to_do(query_of(bare, clock)),
        );
    }
    if let Some(c) = REMIND_AGAIN.captures(bare)
        && let Some(edit) = bare_change(&c[1], clock)
    {
        return update(Target::Previous, edit);
    }
    // "completed tasks from last week", "done tasks this month": a listing, not a completion
    if STATUS_TASKS.is_match(bare) {
        return Intent::List(query_of(bare, clock));
    }
    // "am I free tomorrow?", "how busy am I on friday?": what is due then
    if FREE_WHEN.is_match(bare) {
        return Intent::List(still_to_do(query_of(bare, clock)));
    }
    // "when's the next thing due?": the task due soonest
    if NEXT_DUE.is_match(bare) {
        return Intent::List(Query {
            status: StatusFilter::Pending,
            sort: Some(Sort::Due),
            top: true,
            ..Query::default()
        });
    }
    if HOW_MANY.is_match(&lower) {
        return Intent::Count(query_of(&lower, clock));
    }
    if JUST_ADDED.is_match(bare) {
        return Intent::List(Query {
            newest: Some(1),
            ..Query::default()
        });
    }
    // A question about a task, or dropping one, before the verbs they contain ("did I finish the
    // report?" asks; it does not complete).
    // "do I need to buy anything?": the tasks with that verb
    if let Some(c) = NEED_ANYTHING.captures(bare) {
        return Intent::List(Query {
            status: StatusFilter::Pending,
            text: Some(c[1].to_lowercase()),
            ..Query::default()
        });
    }
    // "what's its priority?", "when is it due?": the task just talked about
    if IT_PROPERTY.is_match(bare) {
        return Intent::Show(Target::Previous);
    }
    // "it's actually on friday", "it should be at 11, not 10": a new date for that task
    if let Some(c) = IT_IS_WHEN.captures(bare)
        && let Some(edit) = bare_change(&c[1], clock)
        && edit.due.is_some()
    {
        return update(Target::Previous, edit);
    }
    if let Some(target) = ASK_ABOUT
        .captures(bare)
        .and_then(|c| first_group(&c))
        // "have I added anything today?" asks for a list
        // ("is there anything due today?", "what tags do I have?" ask for a list)
        .filter(|m| {
            !starts_with_word(
                m.as_str(),
                &[
                    "anything",
                    "something",
                    "everything",
                    "there",
                    "any",
                    "i",
                    "we",
                    "you",
                    "what",
                    "which",
                    "who",
                    "how",
                ],
            )
        })
        // "how long until then?": the task just talked about
        .map(|m| match m.as_str().to_lowercase().as_str() {
            "then" | "that time" | "that day" => Target::Previous,
            _ => parse_target(m.as_str(), clock),
        })
        .filter(|t| !matches!(t, Target::All(_) | Target::Missing))
    {
        return Intent::Show(target);
    }
    if let Some(c) = DROP.captures(bare)
        && let Some(m) = first_group(&c)
        && let target @ (Target::Ids(_) | Target::Title(_) | Target::Previous | Target::Listed(_)) =
            parse_target(m.as_str(), clock)
    {
        return Intent::Delete(target);
    }
    // "remind me to …", "I need to …", "set a reminder to …": always a task to add, even when
    // its words look like an edit ("remind me to move the car to the garage").
    if let Some(c) = REMIND_WHEN.captures(bare) {
        let body = parse_add(reminder_body(&c[2]), clock);
        let intent = match (due_phrase(&c[1], clock), parse_repeat(&c[1])) {
            (Some(due), _) => dated(body, due),
            // "remind me every other week to water the plants"
            (None, Some(repeat)) => repeating(body, repeat),
            (None, None) => None,
        };
        if let Some(intent) = intent {
            return intent;
        }
    }
    if let Some(c) = REMIND.captures(bare) {
        return parse_add(reminder_body(&c[1]), clock);
    }
    // "remove the date" right after a task
    if IT_CLEAR_DUE.is_match(bare) {
        return update(
            Target::Previous,
            Edit {
                due: Some(None),
                ..Edit::default()
            },
        );
    }
    if let Some(c) = CLEAR_DUE.captures(bare) {
        return update(
            parse_target(&c[1], clock),
            Edit {
                due: Some(None),
                ..Edit::default()
            },
        );
    }
    // "prioritize my tasks", "rank my list": the list, most important first (not "prioritize
    // the dentist", an edit)
    if PRIORITIZE_ALL.is_match(bare) {
        return Intent::List(Query {
            status: StatusFilter::Pending,
            sort: Some(Sort::Priority),
            ..Query::default()
        });
    }
    if let Some(intent) = parse_edit(bare, clock) {
        return intent;
    }
    // "snooze it", "postpone the dentist": a day later (any amount or date was read above)
    if let Some(c) = BARE_SNOOZE.captures(bare)
        && !c[1].split_whitespace().any(|w| {
            ["to", "by", "until", "till", "for", "at", "on"].contains(&w)
                || w.contains(|ch: char| ch.is_ascii_digit())
        })
    {
        return update(
            parse_target(&c[1], clock),
            Edit {
                shift: Some(Shift {
                    days: 1,
                    months: 0,
                    minutes: 0,
                }),
                ..Edit::default()
            },
        );
    }
    if let Some(c) = REOPEN_VERB
        .captures(bare)
        .or_else(|| REOPEN_MARK.captures(bare))
        .or_else(|| REOPEN_IS.captures(bare))
        .or_else(|| I_DID_NOT.captures(bare))
        && let Some(named) = c.get(1).or_else(|| c.get(2))
        // "which tasks aren't done yet?", "show me what isn't finished": a listing
        && !starts_with_word(
            named.as_str(),
            &[
                "which", "what", "what's", "whats", "show", "list", "tasks", "anything",
                "everything", "all", "any", "how",
            ],
        )
    {
        return Intent::Reopen(parse_target(named.as_str(), clock));
    }
    if let Some(c) = UPDATE_DESC
        .captures(bare)
        .or_else(|| UPDATE_DESC2.captures(bare))
    {
        return update(
            parse_target(&c[1], clock),
            Edit {
                description: Some(Some(unquote(&c[2]).to_owned())),
                ..Edit::default()
            },
        );
    }
    if let Some(c) = DELETE.captures(bare) {
        let target = c[1].trim();
        // "clear completed" / "clear done": the completed tasks
        let target = match target.to_lowercase().as_str() {
            "completed" | "done" | "finished" | "the completed" | "the done ones" => {
                "all completed tasks"
            }
            _ => target,
        };
        return Intent::Delete(parse_target(target, clock));
    }
    if let Some(c) = MARK_DONE
        .captures(bare)
        .or_else(|| COMPLETE_VERB.captures(bare))
        .or_else(|| I_AM_DONE.captures(bare))
        .or_else(|| I_DID.captures(bare))
    {
        return Intent::Complete(parse_target(&c[1], clock));
    }
    // "we're out of coffee", "running low on milk": something to buy
    if let Some(c) = OUT_OF.captures(bare) {
        return parse_add(&format!("buy {}", &c[1]), clock);
    }
    // "need milk", "we need a new charger": something to get ("need to …" is read above)
    if let Some(c) = NEED_THING.captures(bare)
        && !c[1].to_lowercase().starts_with("to ")
        && !c[1].to_lowercase().starts_with("help")
    {
        return parse_add(&format!("get {}", &c[1]), clock);
    }
    // "I've got a doctor's appointment on friday at 9": an event to add
    if let Some(c) = HAVE_EVENT.captures(bare) {
        let mut rest = c[1].to_owned();
        if take_timing(&mut rest, clock).due.is_some() && !clean_title(&rest).is_empty() {
            return parse_add(&c[1], clock);
        }
    }
    // "I bought the milk", "we called mom": the task with that verb is done.
    if let Some(c) = I_PAST.captures(bare)
        && let Some(verb) = c.get(1).or_else(|| c.get(2))
        // "I had to cancel": not something done
        && !(verb.as_str().eq_ignore_ascii_case("had") && c[3].to_lowercase().starts_with("to "))
    {
        // "I already bought it": the task just talked about
        if PREVIOUS.is_match(&c[3]) {
            return Intent::Complete(Target::Previous);
        }
        // "had the team meeting", "attended the workshop": the event itself is the task
        if matches!(verb.as_str().to_lowercase().as_str(), "had" | "attended") {
            return Intent::Complete(parse_target(&c[3], clock));
        }
        return Intent::Complete(parse_target(
            &format!("{} {}", present(verb.as_str()), &c[3]),
            clock,
        ));
    }
    if let Some(c) = GIVE_NOTE.captures(bare) {
        let note = unquote(strip_punctuation(&c[2])).to_owned();
        let target = parse_target(&c[1], clock);
        if target != Target::Missing && !note.is_empty() {
            return update(
                target,
                Edit {
                    description: Some(Some(note)),
                    ..Edit::default()
                },
            );
        }
    }
    // "add the urgent tag to task 2", "put a work label on the dentist"
    if let Some(c) = ADD_TAG_TO.captures(bare)
        && let Ok(tag) = normalize_tag(&c[1])
    {
        let target = parse_target(&c[2], clock);
        if target != Target::Missing {
            return update(
                target,
                Edit {
                    add_tags: vec![tag],
                    ..Edit::default()
                },
            );
        }
    }
    // "duplicate task 3", "make a copy of the dentist task"
    if let Some(c) = COPY.captures(bare) {
        return Intent::Copy(parse_target(&c[1], clock));
    }
    // "rename the tag home to house", "change #home to #house": every task with it
    if let Some(c) = RENAME_TAG.captures(bare)
        && let Some(old) = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3))
        && let (Ok(old), Ok(new)) = (normalize_tag(old.as_str()), normalize_tag(&c[4]))
    {
        return update(
            Target::All(Query {
                tag: Some(old.clone()),
                ..Query::default()
            }),
            Edit {
                add_tags: vec![new],
                remove_tags: vec![old],
                ..Edit::default()
            },
        );
    }
    if let Some(c) = UPDATE_TITLE.captures(bare)
        // "set the dentist to tomorrow at 11": a new date (read below), not a new title
        // ("set every task due today to tomorrow" too; a bare number is a time only after "set
        // the …")
        && (NAMES_TITLE.is_match(bare)
            || if SET_FOR.is_match(bare) {
                due_phrase(&at_hour(&c[2]), clock).is_none()
            } else {
                due_phrase(&c[2], clock).is_none()
            })
    {
        // "rename task 1 from buy milk to …": the old title only says again which task
        let named = c[1].trim_start_matches("from ").trim_start_matches("From ");
        let named = FROM_OLD
            .captures(named)
            .filter(|f| {
                matches!(
                    parse_target(&f[1], clock),
                    Target::Ids(_) | Target::Previous
                )
            })
            .map_or(named, |f| f.get(1).map_or(named, |m| m.as_str()));
        let target = parse_target(named, clock);
        // "set it to medium", "change task 3 to high priority": a priority, not a title
        if let Some(priority) = priority_word(
            strip_punctuation(&c[2])
                .trim_end_matches(" priority")
                .trim_end_matches(" prio"),
        )
        .filter(|_| !NAMES_TITLE.is_match(bare))
            && target != Target::Missing
        {
            return update(
                target,
                Edit {
                    priority: Some(priority),
                    ..Edit::default()
                },
            );
        }
        // "change the plants to every tuesday": a new repeat, not a title
        if let Some(repeat) = parse_repeat(strip_punctuation(&c[2]))
            && target != Target::Missing
        {
            return update(
                target,
                Edit {
                    repeat: Some(Some(repeat)),
                    ..Edit::default()
                },
            );
        }
        // "update task 1 to buy bread tomorrow": a new title and a new date (a rename, or words
        // that say "title", keep every word)
        let before_title = c.get(2).map_or(bare, |m| &bare[..m.start()]);
        if !NAMES_TITLE.is_match(before_title) && target != Target::Missing {
            let mut rest = c[2].to_owned();
            let timing = take_timing(&mut rest, clock);
            let new_title = clean_title(&rest);
            if let Some(due) = timing.due.filter(|_| !new_title.is_empty())
                && timing.repeat.is_none()
            {
                return update(
                    target,
                    Edit {
                        title: Some(new_title),
                        due: Some(Some(due)),
                        ..Edit::default()
                    },
                );
            }
        }
        let new_title = clean_title(&c[2]);
        if !new_title.is_empty() && target != Target::Missing {
            return update(
                target,
                Edit {
                    title: Some(new_title),
                    ..Edit::default()
                },
            );
        }
    }
    if let Some(c) = RENAME_BARE.captures(bare)
        && let (Some(named), Some(title)) = (c.get(1).or(c.get(3)), c.get(2).or(c.get(4)))
        && !title.as_str().to_lowercase().starts_with("to ")
    {
        let target = parse_target(named.as_str(), clock);
        let title = clean_title(title.as_str());
        if target != Target::Missing && !title.is_empty() {
            return update(
                target,
                Edit {
                    title: Some(title),
                    ..Edit::default()
                },
            );
        }
    }
    if let Some(c) = EDIT_COLON.captures(bare) {
        let target = parse_target(&c[1], clock);
        let edit = match due_phrase(&c[2], clock) {
            Some(due) => Edit {
                due: Some(Some(due)),
                ..Edit::default()
            },
            None => Edit {
                title: Some(clean_title(&c[2])),
                ..Edit::default()
            },
        };
        if target != Target::Missing && edit.title.as_ref().is_none_or(|t| !t.is_empty()) {
            return update(target, edit);
        }
    }
    if let Some(c) = CHECKMARK.captures(text)
        && let Some(named) = c.get(1).or_else(|| c.get(2))
    {
        return Intent::Complete(parse_target(named.as_str(), clock));
    }
    if let Some(c) = IS_DONE.captures(bare)
        && let Some(named) = c.get(1).or_else(|| c.get(2))
        && !LIST_VERB.is_match(named.as_str())
    {
        return Intent::Complete(parse_target(named.as_str(), clock));
    }
    // "check 3", "check task 2": ticked off ("check the mail" is a task)
    if let Some(c) = CHECK_NUMBER.captures(bare) {
        return Intent::Complete(parse_target(&c[1], clock));
    }
    // "task 2 done", "#3 finished": a task number needs no verb
    if let Some(c) = NUMBER_DONE.captures(bare) {
        return Intent::Complete(parse_target(&c[1], clock));
    }
    // "dentist done", "the rent finished": a title needs none either
    if let Some(c) = TITLE_DONE.captures(bare)
        && !starts_with_word(&c[1], NOT_A_TITLE)
        && !LIST_VERB.is_match(&c[1])
        && c[1].split_whitespace().count() <= 4
        // "the report is almost done" says how far it is
        && !c[1].split_whitespace().any(|w| {
            matches!(
                w.to_lowercase().as_str(),
                "is" | "are" | "was" | "were" | "be" | "almost" | "nearly" | "not" | "half"
            )
        })
        && !c[1].to_lowercase().ends_with(" as")
        && !c[1].chars().any(|ch| ch.is_ascii_digit())
    {
        return Intent::Complete(parse_target(&c[1], clock));
    }
    if let Some(named) = IS_DELETED
        .captures(bare)
        .and_then(|c| c.get(1).or_else(|| c.get(2)))
        && !LIST_VERB.is_match(named.as_str())
    {
        return Intent::Delete(parse_target(named.as_str(), clock));
    }
    if TAGS_QUESTION.is_match(bare) {
        return Intent::Tags;
    }
    // "how often does the plants task repeat?": the task, with its repeat
    if let Some(c) = HOW_OFTEN.captures(bare) {
        let named = c[1].trim();
        let named = named
            .strip_suffix(" task")
            .or_else(|| named.strip_suffix(" one"))
            .unwrap_or(named);
        return Intent::Show(parse_target(named, clock));
    }
    if let Some(target) = SHOW_ABOUT
        .captures(bare)
        .and_then(|c| first_group(&c))
        .map(|m| parse_target(m.as_str(), clock))
        .filter(|t| !matches!(t, Target::All(_) | Target::Missing))
        .or_else(|| {
            SHOW_ONE
                .captures(bare)
                .map(|c| parse_target(&c[1], clock))
                .filter(|t| matches!(t, Target::Ids(_) | Target::Previous | Target::Listed(_)))
        })
    {
        return Intent::Show(target);
    }
    // "plan my day", "help me organize my day": what is due by today, most important first
    if PLAN_DAY.is_match(bare) {
        let today = clock.today();
        return Intent::List(Query {
            status: StatusFilter::Pending,
            sort: Some(Sort::Priority),
            days: Some(Days {
                from: None,
                to: Some(today),
            }),
            ..Query::default()
        });
    }
    // "what about the second one?", "what about task 3?": that task
    if let Some(c) = WHAT_ABOUT.captures(bare)
        && let target @ (Target::Ids(_) | Target::Listed(_) | Target::Previous) =
            parse_target(&c[1], clock)
    {
        return Intent::Show(target);
    }
    // "what about friday?", "how about next week?": the tasks due then, after a listing
    if let Some(c) = WHAT_ABOUT.captures(bare) {
        let rest = c[1].to_lowercase();
        let words: Vec<&str> = rest.split_whitespace().collect();
        // ("what's due friday" reads "friday" as words to find: "on" makes it a day)
        for asked in [
            format!("what's due {rest}"),
            format!("what's due on {rest}"),
        ] {
            let due = query_of(&asked, clock);
            if due.days.is_some() || due.due.is_some() {
                return Intent::List(still_to_do(due));
            }
        }
        // "what about work?": the tasks of that kind
        if let [word] = words.as_slice()
            && !STOPWORDS.contains(word)
            && !NOT_A_KIND.contains(word)
            && !["it", "that", "this", "them", "those", "me", "you"].contains(word)
        {
            return Intent::List(Query {
                status: StatusFilter::Pending,
                about: Some((*word).to_owned()),
                ..Query::default()
            });
        }
        // "what about the dentist?": that task
        if let target @ Target::Title(_) = parse_target(&c[1], clock) {
            return Intent::Show(target);
        }
    }
    if WHAT_FIRST.is_match(bare) {
        return Intent::List(Query {
            status: StatusFilter::Pending,
            sort: Some(Sort::Priority),
            top: true,
            ..Query::default()
        });
    }
    if let Some(c) = FIND.captures(bare) {
        // "find tasks mentioning mom", "search for anything about the report"
        if WITH_TEXT.is_match(&c[1]) {
            return Intent::List(query_of(&c[1], clock));
        }
        let target = parse_target(&c[1], clock);
        if let Target::Title(t) = target {
            return Intent::List(Query {
                text: Some(t),
                ..Query::default()
            });
        }
    }
    // "rename task 1", "edit the meeting": which task, but not what to change (every way of
    // saying what was read above)
    if let Some(c) = CHANGE_WHAT.captures(bare)
        && !c[2].split_whitespace().any(|w| {
            ["to", "into", "as", "from", "of", "with"].contains(&w)
                || w.ends_with(':')
                || w.ends_with("'s")
        })
    {
        let question = if matches!(c[1].to_lowercase().as_str(), "rename" | "retitle") {
            "What should I call it? For example: \"call it buy oat milk\"."
        } else {
            "What should I change about it? For example: \"make it friday\", \"make it high priority\", \"call it …\" for a new title, or \"add a note: …\"."
        };
        return Intent::AskAbout(parse_target(&c[2], clock), question);
    }
    // "set the meeting for 3:30", "make the meeting at 4 instead": a new date for a task with that
    // title; "set the table for dinner", "make the bed tomorrow" are tasks to add when none is
    // "the dentist is at 11", "my meeting's tomorrow now": the same, said as news
    for c in [
        SET_FOR.captures(bare),
        SET_WHEN.captures(bare),
        THE_TASK_IS_AT.captures(bare),
    ]
    .into_iter()
    .flatten()
    {
        let when = at_hour(&c[2]);
        if let Some(due) = due_phrase(&when, clock) {
            let change = update(
                parse_target(&c[1], clock),
                Edit {
                    due: Some(Some(due)),
                    at_time: phrase::time_only(&when),
                    hour_only: hour_only(&when),
                    ..Edit::default()
                },
            );
            if matches!(change, Intent::Update(Target::Title(_), _)) {
                return Intent::ChangeOrAdd(Box::new(change), Box::new(parse_add(bare, clock)));
            }
        }
    }
    // "make the plants every two weeks": a new repeat for a task with that title, or a task to add
    if let Some(c) = MAKE_THE_REPEAT.captures(bare)
        && let Some(repeat) = parse_repeat(&c[2])
    {
        let change = update(
            parse_target(&c[1], clock),
            Edit {
                repeat: Some(Some(repeat)),
                ..Edit::default()
            },
        );
        if matches!(change, Intent::Update(Target::Title(_), _)) {
            return Intent::ChangeOrAdd(Box::new(change), Box::new(parse_add(bare, clock)));
        }
    }
    // "shopping: milk, eggs, bread": items for a list the user keeps by name
    if LIST_BEFORE.is_match(bare) {
        return parse_add(bare, clock);
    }
    let add_body = ADD
        .captures(bare)
        // "make a task to …" adds; "make pancakes" is a task of its own (read below).
        .filter(|c| !c[1].eq_ignore_ascii_case("make") || TASK_NOUN.is_match(&c[2]))
        .map(|c| {
            let rest = c[2].to_owned();
            if MANY.is_match(&rest) {
                return rest;
            }
            ADD_PREFIX.captures(&rest).map_or(rest.clone(), |p| {
                // "a high priority task to …", "a weekly reminder to …": the priority and the
                // repeat go with the title
                let mut body = p["body"].to_owned();
                // "a work task to …": the kind is a tag ("a quick task to …" is not); without
                // "to …" the words are the title ("a doctor task for next week")
                if let Some(kind) = p.name("kind") {
                    let said_what = p
                        .name("to")
                        .is_some_and(|to| !to.as_str().to_lowercase().starts_with("for"));
                    match normalize_tag(&kind.as_str().to_lowercase()) {
                        Ok(tag) if NOT_A_TASK_KIND.contains(&tag.as_str()) => {}
                        Ok(tag) if said_what => body.push_str(&format!(" #{tag}")),
                        _ => body = rest[kind.start()..].to_owned(),
                    }
                }
                // "a weekly task to … every friday" says the repeat once
                let repeats = !body.to_lowercase().contains("every ");
                match p.get(2).map(|m| m.as_str().to_lowercase()).as_deref() {
                    Some("daily") if repeats => body.push_str(" every day"),
                    Some("weekly") if repeats => body.push_str(" every week"),
                    Some("monthly") if repeats => body.push_str(" every month"),
                    Some("yearly" | "annual") if repeats => body.push_str(" every year"),
                    _ => {}
                }
                match p.get(1).map(|m| m.as_str().to_lowercase()).as_deref() {
                    Some("low") => body.push_str(" low priority"),
                    Some("medium") => body.push_str(" medium priority"),
                    Some(_) => body.push_str(" high priority"),
                    None => {}
                }
                body
            })
        })
        .or_else(|| REMIND.captures(bare).map(|c| c[1].to_owned()));
    if let Some(body) = add_body {
        return parse_add(&body, clock);
    }
    if OVERVIEW.is_match(bare) {
        return Intent::Count(Query::default());
    }
    // "my agenda for the week", "my schedule for tomorrow": a listing
    if AGENDA_FOR.is_match(bare) {
        return Intent::List(still_to_do(query_of(bare, clock)));
    }
    // "do I have any meetings?", "what are my chores?": things still to do, of that kind
    if PLURAL_QUESTION.is_match(bare) {
        return Intent::List(still_to_do(query_of(bare, clock)));
    }
    // "show my appointments", "list all calls": every task of that kind
    if SHOW_PLURAL.is_match(bare) {
        return Intent::List(query_of(bare, clock));
    }
    // "my day", "what does my week look like?", "tomorrow's plan": what is due then
    if let Some(c) = MY_DAY.captures(bare)
        && let Some(when) = c.get(1).or_else(|| c.get(2))
    {
        let when = match when.as_str().to_lowercase().trim_end_matches("'s") {
            "day" | "today" => "today".to_owned(),
            "tomorrow" => "tomorrow".to_owned(),
            other => format!(
                "this {}",
                other.trim_start_matches("the ").trim_start_matches("this ")
            ),
        };
        return Intent::List(still_to_do(query_of(&format!("what's due {when}"), clock)));
    }
    // "am I behind?", "what did I miss?": what is overdue
    if BEHIND.is_match(bare) {
        return Intent::List(Query {
            status: StatusFilter::Pending,
            due: Some(DueFilter::Overdue),
            ..Query::default()
        });
    }
    // "show more", "next page": a listing shows what fits; a narrower one shows the rest
    if MORE.is_match(bare) {
        return Intent::Unclear(MORE_REPLY);
    }
    // "newest first", "most recent first": the newest tasks, in the order they were added
    if NEWEST_FIRST.is_match(bare) {
        return Intent::List(Query {
            newest: Some(50),
            ..Query::default()
        });
    }
    // "sort by name", "alphabetical order": not an order a listing has
    if BY_NAME.is_match(bare) {
        return Intent::Unclear(BY_NAME_REPLY);
    }
    // "what else?", "anything else?": what is still to do
    if WHAT_ELSE.is_match(bare) {
        return Intent::List(still_to_do(Query::default()));
    }
    // "what's coming up?", "what do I have on?": what is still to do
    if COMING_UP.is_match(bare) {
        return Intent::List(still_to_do(query_of(bare, clock)));
    }
    if BARE_LIST.is_match(bare)
        || TASKS_PHRASE.is_match(bare)
        || REPEATING_QUESTION.is_match(bare)
        || (LIST_VERB.is_match(&lower) && LIST_NOUN.is_match(&lower))
        || (LIST_QUESTION.is_match(&lower) && take_days(&lower, clock).is_some())
        || (LIST_QUESTION.is_match(&lower) && WITH_TEXT.is_match(bare))
        || (LIST_QUESTION.is_match(&lower) && text.ends_with('?') && AT_OR_FOR.is_match(&lower))
        || KIND_STUFF.is_match(bare)
        // "everything but the home stuff", "all tasks not tagged work"
        || (starts_with_word(bare, &["everything", "all"]) && NOT_TAGGED.is_match(&lower))
    {
        return Intent::List(query_of(bare, clock));
    }
    // "buy eggs", "call the bank": a short imperative with a task verb is a task to add.
    let words: Vec<&str> = bare.split_whitespace().collect();
    if NAMES_A_TASK.is_match(bare) {
        return Intent::Unknown;
    }
    if !text.ends_with('?')
        && (2..=12).contains(&words.len())
        && TASK_VERBS.contains(&words[0].to_lowercase().as_str())
        && !matches!(words[1].to_lowercase().as_str(), "me" | "us" | "you")
    {
        return parse_add(bare, clock);
    }
    // "pay rent on friday", "dentist tomorrow at 10", "water plants every monday": a statement
    // that ends in a date or a repeat is a task to add.
    if !text.ends_with('?')
        && bare.split_whitespace().count() <= 25
        && !starts_with_word(bare, &["show", "list", "display", "view"])
    {
        let mut rest = bare.to_owned();
        let timing = take_timing(&mut rest, clock);
        if (timing.due.is_some() || timing.repeat.is_some()) && !clean_title(&rest).is_empty() {
            return parse_add(bare, clock);
        }
    }
    if let Some(c) = NEED_TO_VERB.captures(bare)
        && !c[1].eq_ignore_ascii_case("do")
    {
        return Intent::List(Query {
            status: StatusFilter::Pending,
            text: Some(c[1].to_lowercase()),
            ..Query::default()
        });
    }
    Intent::Unknown
}

/// "haha nice", "wow thanks", "ok cool": a few words that only react.
fn only_reactions(text: &str) -> bool {
    const REACTIONS: &[&str] = &[
        "lol",
        "lmao",
        "wow",
        "yay",
        "nice",
        "cool",
        "great",
        "perfect",
        "awesome",
        "amazing",
        "super",
        "sweet",
        "excellent",
        "brilliant",
        "ok",
        "okay",
        "thanks",
        "thank",
        "you",
        "thx",
        "ty",
        "cheers",
        "much",
        "so",
        "very",
        "👍",
        "🙂",
        "😊",
        "😀",
        "😂",
    ];
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '!' | '.'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let laugh = |w: &str| {
        w.len() >= 4
            && (w.trim_start_matches("ha").is_empty() || w.trim_start_matches("he").is_empty())
    };
    (2..=5).contains(&words.len())
        && words
            .iter()
            .all(|w| REACTIONS.contains(&w.as_str()) || laugh(w))
        && words
            .iter()
            .any(|w| !matches!(w.as_str(), "ok" | "okay" | "you" | "so" | "very" | "much"))
}

/// The present tense of a past verb ("bought" → "buy"); a regular "-ed" verb is left to the
/// matcher's stemming ("called" and "call" match).
fn present(verb: &str) -> String {
    let lower = verb.to_lowercase();
    let base = match lower.as_str() {
        "bought" => "buy",
        "paid" => "pay",
        "sent" => "send",
        "wrote" => "write",
        "made" => "make",
        "took" => "take",
        "got" => "get",
        "picked up" => "pick up",
        "grabbed" => "grab",
        "went to" => "go to",
        "ate" => "eat",
        "met" => "meet",
        "ran" => "run",
        "drove" => "drive",
        "brought" => "bring",
        "sold" => "sell",
        "found" => "find",
        "fed" => "feed",
        "gave" => "give",
        "told" => "tell",
        other => other,
    };
    base.to_owned()
}

/// A short imperative that names a task ("buy eggs", "call the bank"): a task to add.
const TASK_VERBS: &[&str] = &[
    "buy", "call", "email", "e-mail", "text", "pay", "book", "schedule", "pick", "send", "write",
    "clean", "fix", "finish", "read", "visit", "water", "walk", "feed", "return", "renew",
    "cancel", "order", "submit", "prepare", "plan", "review", "check", "wash", "cook", "bake",
    "mow", "take", "bring", "get", "make", "go", "meet", "reply", "respond", "print", "sign",
    "file", "update", "study", "practice", "practise", "pack", "charge", "repair", "replace",
];

/// "buy milk and call mom", "wash the car and mow the lawn and clean the gutters": things to do,
/// each led by a verb of its own and saying what it is done to ("pick up and drop off the kids",
/// "call mom and tell her" stay one task).
fn doings(text: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = text.split(" and ").collect();
    let doing = |part: &str| {
        let words: Vec<String> = part.split_whitespace().map(|w| w.to_lowercase()).collect();
        words.len() >= 2
            && TASK_VERBS.contains(&words[0].as_str())
            && !words[1..]
                .iter()
                .any(|w| matches!(w.as_str(), "it" | "them" | "her" | "him" | "and"))
            // "pick up and drop off the kids": a verb and its particle alone
            && !(words.len() == 2
                && matches!(words[1].as_str(), "up" | "off" | "out" | "down" | "over"))
    };
    (parts.len() >= 2 && parts.len() <= MAX_PARTS && parts.iter().all(|p| doing(p)))
        .then_some(parts)
}

/// An [`Intent::Update`].
/// "move the meeting to 4", "change the meeting time to 4:30": an hour alone is a time when the
/// message moves a task or speaks of its time ("change task 2 to 4" may be a new title).
fn hour_alone_as_time(message: &str, when: &str) -> String {
    // "can you move the meeting to 4": the words of asking first
    re!(POLITE_START, &format!(r"(?i)^{POLITE}"));
    let asked = POLITE_START.replace(message, "");
    // "the meeting got pushed to 4" moves a task too
    let moves = IS_NOW.is_match(message)
        || starts_with_word(
            &asked,
            &[
                "move",
                "reschedule",
                "push",
                "shift",
                "bump",
                "postpone",
                "delay",
            ],
        )
        || has_words(&message.to_lowercase(), "time");
    if moves {
        at_hour(when)
    } else {
        strip_punctuation(when).to_owned()
    }
}

/// "4" → "at 4" (an hour alone, read as a time); anything else as it is.
fn at_hour(when: &str) -> String {
    let when = strip_punctuation(when);
    if is_clock_time(when) {
        format!("at {when}")
    } else {
        when.to_owned()
    }
}

/// "6", "16:30", "4.15": a clock time written alone, without "at" or am/pm ("2024" is none).
pub fn is_clock_time(text: &str) -> bool {
    re!(HOUR, r"^\d{1,2}(?:[:.]\d{2})?$");
    HOUR.is_match(text)
}

fn update(target: Target, edit: Edit) -> Intent {
    Intent::Update(target, Box::new(edit))
}

// "… and due tomorrow", "…, and high priority": a second change of the same task
re!(
    AND_CHANGE,
    r"(?i)^(.+?)(?:\s*,\s*|\s+)(?:and|&)\s+(?:(?:make|set|mark)\s+it\s+)?(?:as\s+)?((?:due|on|at|for|to|by)\s+.+|(?:a\s+)?(?:high|medium|low|top|normal|urgent|important)(?:[\s-]+priority)?|(?:priority|prio)\s+\w+|(?:tagged|labell?ed|tag\s+it)\s+.+|(?:repeat(?:ing)?|every)\s+.+)$"
);

/// Two changes of one task in one clause: "mark task 1 as high priority and due tomorrow", "move
/// the dentist to friday and high priority". The second is read as a change of "it".
fn two_changes(bare: &str, clock: &Clock) -> Option<Intent> {
    let c = AND_CHANGE.captures(bare)?;
    let Some(Intent::Update(target, first)) = parse_edit(&c[1], clock) else {
        return None;
    };
    let rest = c[2].trim();
    let tags = rest
        .strip_prefix("tagged ")
        .or_else(|| rest.strip_prefix("tag it "))
        .unwrap_or(rest);
    let second = [
        format!("make it {rest}"),
        format!("move it {rest}"),
        format!("make it repeat {rest}"),
        format!("tag it {tags}"),
    ]
    .iter()
    .find_map(|it| match parse_edit(it, clock) {
        Some(Intent::Update(Target::Previous, edit)) => Some(edit),
        _ => None,
    })?;
    Some(update(target, merged(*first, *second)?))
}

/// Both changes, when they change different things.
fn merged(a: Edit, b: Edit) -> Option<Edit> {
    let moves = |e: &Edit| e.due.is_some() || e.shift.is_some() || e.at_time.is_some();
    let ranks = |e: &Edit| e.priority.is_some() || e.priority_step != 0;
    let tags = |e: &Edit| !e.add_tags.is_empty() || !e.remove_tags.is_empty() || e.clear_tags;
    if (moves(&a) && moves(&b))
        || (ranks(&a) && ranks(&b))
        || (tags(&a) && tags(&b))
        || (a.title.is_some() && b.title.is_some())
        || (a.description.is_some() && b.description.is_some())
        || (a.repeat.is_some() && b.repeat.is_some())
    {
        return None;
    }
    Some(Edit {
        title: a.title.or(b.title),
        description: a.description.or(b.description),
        due: a.due.or(b.due),
        priority: a.priority.or(b.priority),
        add_tags: [a.add_tags, b.add_tags].concat(),
        remove_tags: [a.remove_tags, b.remove_tags].concat(),
        clear_tags: a.clear_tags || b.clear_tags,
        repeat: a.repeat.or(b.repeat),
        shift: a.shift.or(b.shift),
        at_time: a.at_time.or(b.at_time),
        hour_only: if a.at_time.is_some() {
            a.hour_only
        } else {
            b.hour_only
        },
        priority_step: a.priority_step + b.priority_step,
    })
}

/// Reschedules, priorities, tags and repeats of existing tasks.
/// The change that takes a named part off a task: "priority", "tags" / "labels", "due date" /
/// "deadline" / "dates", or else its note ("description", "details", "notes").
fn cleared_part(part: &str) -> Edit {
    let part = part.to_lowercase();
    if part.starts_with("prior") {
        Edit {
            priority: Some(Priority::None),
            ..Edit::default()
        }
    } else if part.starts_with("tag") || part.starts_with("label") {
        Edit {
            clear_tags: true,
            ..Edit::default()
        }
    } else if part.starts_with("due") || part.starts_with("deadline") || part.starts_with("date") {
        Edit {
            due: Some(None),
            ..Edit::default()
        }
    } else {
        Edit {
            description: Some(None),
            ..Edit::default()
        }
    }
}

fn parse_edit(bare: &str, clock: &Clock) -> Option<Intent> {
    // "what high priority stuff is due tomorrow?" asks; a question changes nothing
    if starts_with_word(
        bare,
        &[
            "what", "what's", "whats", "which", "who", "how", "anything", "any",
        ],
    ) {
        return None;
    }
    if let Some(both) = two_changes(bare, clock) {
        return Some(both);
    }
    let edit = |target: &str, edit: Edit| Some(update(parse_target(target, clock), edit));
    // ("note to self: …" is no task's note)
    if let Some(c) = ADD_NOTE.captures(bare)
        && !matches!(c[1].to_lowercase().as_str(), "self" | "myself" | "me")
    {
        return edit(
            &c[1],
            Edit {
                description: Some(Some(unquote(strip_punctuation(&c[2])).to_owned())),
                ..Edit::default()
            },
        );
    }
    if let Some(c) = NOTE_AFTER.captures(bare) {
        let target = c
            .get(1)
            .map_or(Target::Previous, |t| parse_target(t.as_str(), clock));
        // "add a note that I need my insurance card"
        let note = c[2]
            .strip_prefix("that ")
            .or_else(|| c[2].strip_prefix("That "))
            .unwrap_or(&c[2]);
        let note = unquote(strip_punctuation(note)).to_owned();
        if matches!(
            target,
            Target::Ids(_) | Target::Previous | Target::Listed(_)
        ) && !note.is_empty()
        {
            return Some(update(
                target,
                Edit {
                    description: Some(Some(note)),
                    ..Edit::default()
                },
            ));
        }
    }
    if let Some(c) = SHOULD_BE_CALLED.captures(bare)
        && let (Some(named), Some(said)) = (c.get(1).or(c.get(3)), c.get(2).or(c.get(4)))
    {
        let title = clean_title(said.as_str());
        if !title.is_empty() {
            return edit(
                named.as_str(),
                Edit {
                    title: Some(title),
                    ..Edit::default()
                },
            );
        }
    }
    // "no priority for task 3"
    if let Some(c) = NO_PRIORITY_FOR.captures(bare) {
        return edit(
            &c[1],
            Edit {
                priority: Some(Priority::None),
                ..Edit::default()
            },
        );
    }
    // "clear all due dates", "remove all the tags": that part off every task (behind the bulk
    // confirmation; "clear all …" is otherwise a delete)
    if let Some(c) = CLEAR_EVERY_PART.captures(bare) {
        let cleared = cleared_part(&c[1]);
        // only the tasks that have that part
        let having = if cleared.due.is_some() {
            Query {
                not_due: Some(DueFilter::None),
                ..Query::default()
            }
        } else if cleared.clear_tags {
            Query {
                tagged: Some(true),
                ..Query::default()
            }
        } else if cleared.priority.is_some() {
            Query {
                min_priority: Some(Priority::Low),
                ..Query::default()
            }
        } else {
            Query::default()
        };
        return Some(update(Target::All(having), cleared));
    }
    if let Some(c) = CLEAR_PART.captures(bare) {
        return edit(&c[2], cleared_part(&c[1]));
    }
    if let Some(c) = REMOVE_TAG.captures(bare)
        && let Some(tag) = first_group(&c).and_then(|m| normalize_tag(m.as_str()).ok())
    {
        return edit(
            &c[4],
            Edit {
                remove_tags: vec![tag],
                ..Edit::default()
            },
        );
    }
    if let Some(c) = UNTAG.captures(bare) {
        return edit(
            &c[1],
            Edit {
                clear_tags: true,
                ..Edit::default()
            },
        );
    }
    // "by half an hour": thirty minutes
    let halves = HALF_HOUR.replace_all(bare, "30 minutes");
    // "move task 2 up a day", "bring it forward by 2 hours": earlier
    let earlier = EARLIER
        .captures(&halves)
        .or_else(|| EARLIER_AFTER.captures(&halves))
        .or_else(|| MAKE_EARLIER.captures(&halves));
    let later = SHIFT
        .captures(&halves)
        .or_else(|| MAKE_LATER.captures(&halves));
    if let Some(c) = MOVE_DAY_AFTER.captures(bare) {
        return edit(
            &c[1],
            Edit {
                shift: Some(shift_of("1", &c[2], c[3].eq_ignore_ascii_case("before"))),
                ..Edit::default()
            },
        );
    }
    if let Some(c) = earlier.as_ref().or(later.as_ref()) {
        let shift = shift_of(&c[2], &c[3], earlier.is_some());
        return edit(
            &c[1],
            Edit {
                shift: Some(shift),
                ..Edit::default()
            },
        );
    }
    if let Some(c) = SET_DUE
        .captures(bare)
        .or_else(|| SET_DUE_OF.captures(bare))
        .or_else(|| RESCHEDULE.captures(bare))
        .or_else(|| SET_TO.captures(bare))
        .or_else(|| MAKE_DUE.captures(bare))
        .or_else(|| GIVE_DUE.captures(bare))
        .or_else(|| IS_DUE.captures(bare))
        .or_else(|| NUMBER_DUE.captures(bare))
        .or_else(|| IS_NOW.captures(bare))
        .or_else(|| IS_ON_NOW.captures(bare))
        .or_else(|| PUT_IT.captures(bare))
        // "what is due before the weekend?" asks
        && !matches!(
            c[1].to_lowercase().as_str(),
            "what" | "which" | "anything" | "something" | "nothing" | "what else" | "who"
        )
        && let when = hour_alone_as_time(bare, &c[2])
        && let Some(due) = due_phrase(&when, clock)
    {
        // "move the meeting from today to friday": the old date only says again which task;
        // "everything from today" is every task due then
        let old = FROM_OLD.captures(&c[1]).filter(|f| {
            due_phrase(&f[2], clock).is_some()
                || phrase::time_only(strip_punctuation(&f[2])).is_some()
        });
        let named = match &old {
            Some(f) if matches!(parse_target(&f[1], clock), Target::All(_)) => {
                format!("{} due {}", &f[1], &f[2])
            }
            Some(f) => f[1].to_owned(),
            None => c[1].to_owned(),
        };
        return edit(
            &named,
            Edit {
                due: Some(Some(due)),
                at_time: phrase::time_only(strip_punctuation(&when)),
                hour_only: hour_only(&when),
                ..Edit::default()
            },
        );
    }
    // "raise rent priority" steps; "bump task 1 to high priority" sets (below).
    if let Some(c) = PRIORITY_STEP.captures(bare)
        && !c.get(5).is_some_and(|task| {
            task.as_str()
                .rsplit(char::is_whitespace)
                .next()
                .is_some_and(|last| priority_word(last).is_some())
        })
    {
        // "raise its priority", "lower the priority": the task (or tasks) just talked about
        let task = c
            .get(2)
            .or_else(|| c.get(3))
            .or_else(|| c.get(5))
            .map_or_else(
                || match c.get(4).map(|m| m.as_str().to_lowercase()).as_deref() {
                    Some("their") => "them",
                    _ => "it",
                },
                |m| m.as_str(),
            );
        let up = matches!(
            c[1].to_lowercase().as_str(),
            "raise" | "increase" | "bump up" | "bump" | "up"
        );
        return edit(
            task,
            Edit {
                priority_step: if up { 1 } else { -1 },
                ..Edit::default()
            },
        );
    }
    // "repeat it monthly", "have task 7 recur every 2 weeks": a new repeat for that task
    if let Some(c) = REPEAT_TASK.captures(bare)
        && let (Some(task), Some(how)) = (c.get(1).or(c.get(3)), c.get(2).or(c.get(4)))
        && let Some(repeat) = parse_repeat(how.as_str())
    {
        return edit(
            task.as_str(),
            Edit {
                repeat: Some(Some(repeat)),
                ..Edit::default()
            },
        );
    }
    // "make the plants a daily task": a new repeat
    if let Some(c) = MAKE_KIND.captures(bare)
        && let Some(repeat) = parse_repeat(&c[2])
    {
        return edit(
            &c[1],
            Edit {
                repeat: Some(Some(repeat)),
                ..Edit::default()
            },
        );
    }
    // "the plants don't need to repeat anymore": no repeat
    if let Some(c) = NO_MORE_REPEAT.captures(bare) {
        return edit(
            &c[1],
            Edit {
                repeat: Some(None),
                ..Edit::default()
            },
        );
    }
    if let Some(c) = PRIORITY_BUMP.captures(bare)
        && let (Some(task), Some(way)) =
            (c.get(1).or_else(|| c.get(3)), c.get(2).or_else(|| c.get(4)))
    {
        return edit(
            task.as_str(),
            Edit {
                priority_step: if way.as_str().eq_ignore_ascii_case("up") {
                    1
                } else {
                    -1
                },
                ..Edit::default()
            },
        );
    }
    if let Some(c) = NOT_URGENT.captures(bare)
        && let Some(task) = c.get(1).or_else(|| c.get(2))
    {
        return edit(
            task.as_str(),
            Edit {
                priority: Some(Priority::Low),
                ..Edit::default()
            },
        );
    }
    if let Some(c) = SET_PRIORITY
        .captures(bare)
        .or_else(|| SET_PRIORITY2.captures(bare))
        .or_else(|| SET_PRIORITY3.captures(bare))
        .or_else(|| MARK_URGENT.captures(bare))
        .or_else(|| {
            IS_URGENT.captures(bare).filter(|c| {
                // "the second one's priority is high" is read below
                !c[1].to_lowercase().ends_with("priority")
                    && !starts_with_word(
                        &c[1],
                        &[
                            "what",
                            "what's",
                            "which",
                            "who",
                            "anything",
                            "something",
                            "nothing",
                            "everything",
                            "is",
                            "how",
                            "where",
                            "why",
                            "whats",
                        ],
                    )
            })
        })
        && let Some(p) = priority_word(&c[2])
    {
        return edit(
            &c[1],
            Edit {
                priority: Some(p),
                ..Edit::default()
            },
        );
    }
    // "task 3 priority low" and "it should be high priority" for a reference to a task; a task
    // named by its title only after a verb or with "to" / "is" / "should be" before the priority
    // ("set the meeting priority to low": "buy milk priority high" adds); with no task named ("set
    // priority to low", "change the priority to high"), the task just talked about.
    if let Some(c) = PRIORITY_OF.captures(bare)
        && let Some(p) = priority_word(&c[4])
    {
        let priority = Edit {
            priority: Some(p),
            ..Edit::default()
        };
        let target = parse_target(&c[2], clock);
        if matches!(
            target,
            Target::Ids(_) | Target::Previous | Target::Listed(_)
        ) {
            return Some(update(target, priority));
        }
        let unnamed = matches!(
            (c.get(1), c[2].to_lowercase().as_str()),
            (None, "set" | "change" | "update" | "make") | (Some(_), "the")
        );
        let by_title = c
            .get(1)
            .is_some_and(|verb| !verb.as_str().eq_ignore_ascii_case("make"))
            || c.get(3).is_some_and(|word| word.as_str().len() > 1);
        if unnamed {
            return edit("it", priority);
        }
        if by_title {
            return Some(update(target, priority));
        }
    }
    if let Some(c) = IS_PRIORITY.captures(bare)
        && let Some(p) = priority_word(&c[2])
        && let target @ (Target::Ids(_) | Target::Previous | Target::Listed(_)) =
            parse_target(&c[1], clock)
    {
        return Some(update(
            target,
            Edit {
                priority: Some(p),
                ..Edit::default()
            },
        ));
    }
    if let Some(c) = PRIORITIZE.captures(bare) {
        let p = if c.get(1).is_some() {
            Priority::Low
        } else {
            Priority::High
        };
        return edit(
            &c[2],
            Edit {
                priority: Some(p),
                ..Edit::default()
            },
        );
    }
    if let Some(c) = ADD_TAG.captures(bare) {
        let tags = split_tags(&c[1]);
        if !tags.is_empty() {
            return edit(
                &c[2],
                Edit {
                    add_tags: tags,
                    ..Edit::default()
                },
            );
        }
    }
    if let Some(c) = TAG_HASHES.captures(bare).or_else(|| TAG.captures(bare)) {
        let tags = split_tags(&c[2]);
        if !tags.is_empty() {
            return edit(
                &c[1],
                Edit {
                    add_tags: tags,
                    ..Edit::default()
                },
            );
        }
    }
    if let Some(c) = STOP_REPEAT.captures(bare) {
        let target = c
            .get(1)
            .or_else(|| c.get(2))
            .or_else(|| c.get(3))
            .map_or("", |m| m.as_str());
        return edit(
            if target.trim().is_empty() {
                "it"
            } else {
                target
            },
            Edit {
                repeat: Some(None),
                ..Edit::default()
            },
        );
    }
    if let Some(c) = MAKE_REPEAT
        .captures(bare)
        .or_else(|| IT_REPEATS.captures(bare))
        && let Some(r) = parse_repeat(strip_punctuation(&c[2]))
    {
        return edit(
            &c[1],
            Edit {
                repeat: Some(Some(r)),
                ..Edit::default()
            },
        );
    }
    None
}

/// A due date as the tools take it: `2026-12-05` (all-day), `2026-12-05T17:00` (local), or
/// RFC 3339 for an exact instant.
pub fn due_argument(due: Due, clock: &Clock) -> String {
    let local = due.at.with_timezone(&clock.tz);
    if due.has_time {
        let back = LocalDue::at(local.date_naive(), local.time()).resolve(clock.tz);
        if back.at == due.at {
            return local.format("%Y-%m-%dT%H:%M").to_string();
        }
        return due.at.to_rfc3339();
    }
    local.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::{as_items, has_words};

    #[test]
    fn lists_of_items_become_one_add_each() {
        assert_eq!(
            as_items("add:\nmilk\n\neggs\n").as_deref(),
            Some("add milk; add eggs")
        );
        assert_eq!(
            as_items("1) buy milk 2) call mom").as_deref(),
            Some("add buy milk; add call mom")
        );
        assert_eq!(
            as_items("todo: * milk * eggs").as_deref(),
            Some("add milk; add eggs")
        );
        // one item, text before the first marker, lines without a lead: not a list
        assert_eq!(as_items("1. buy milk"), None);
        assert_eq!(as_items("call mom - urgent - today"), None);
        assert_eq!(as_items("buy milk\ncall mom"), None);
    }

    #[test]
    fn words_count_only_whole() {
        assert!(has_words("what's due this week?", "week"));
        assert!(has_words("week", "week"));
        assert!(has_words("show high-priority ones", "high-priority"));
        assert!(has_words("in the last 7 days", "last 7 days"));
        assert!(!has_words("plans for the weekend", "week"));
        assert!(!has_words("biweekly", "week"));
        assert!(!has_words("week_2", "week"));
        assert!(has_words("the weekend, then next week", "week"));
        assert!(!has_words("", "week"));
        assert!(has_words("überweek week", "week"));
        assert!(!has_words("überweek", "week"));
    }
}
