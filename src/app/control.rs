//! The one command path of the tools that do not speak the websocket protocol (the HTTP
//! control API, OSC, and later a Companion module): a named command with text arguments,
//! authorized by a role token, budgeted like a websocket, guarded by `expect`, an
//! idempotency key and the double-press window, built into the typed [`Command`] against
//! the current versions, and sent to the event's hub. Answers are status and JSON body, which
//! each adapter turns into its own reply.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use dashmap::DashMap;
use serde_json::Value;

use super::args::{arg, flag, number, seconds};
pub use super::args::{refusal, Answer};
use super::booth;
use super::flat::flat_state;
use super::{Access, AppState, EventEntry};
use crate::clock::now_millis;
use crate::domain::cues::{CueState, SignalKind};
use crate::domain::queue::Policy;
use crate::domain::text::{Lang, Mode};
use crate::domain::{Actor, Command, EventState, Millis, Role};
use crate::hub::retries::{Outcome, RETRY_WINDOW_MS};
use crate::hub::Overview;
use crate::limits::{FrameBudget, Verdict};
use crate::protocol::ErrorCode;

#[derive(Clone)]
pub struct Control {
    app: AppState,
    /// The last answer to each (event, role, command with its arguments), for double presses;
    /// held while that command is applied, so that a second press waits for it.
    presses: Arc<Mutex<HashMap<String, Press>>>,
    /// Commands each (event, role) may still send, as websocket frames are budgeted.
    budgets: Arc<DashMap<(String, Role), FrameBudget>>,
    /// What each (event, role, `Idempotency-Key`) was first sent with, and when, for the
    /// hub's retry window: the same key with another command or other arguments is refused,
    /// not answered as the first. As many as the budget lets through in that window.
    keys: Arc<Mutex<HashMap<String, SentKey>>>,
}

type Press = Arc<tokio::sync::Mutex<Option<(Millis, Answer)>>>;

/// A key as first sent: when, with what, and whether it passed its `expect` on to the hub,
/// which then answers its retries from its own record, wherever the show has gone since.
struct SentKey {
    at: Millis,
    request: String,
    to_hub: bool,
}

pub fn authorized_token(app: &AppState, event: &str, token: &str) -> Result<(Arc<EventEntry>, Role), Answer> {
    let entry = app.event(event).ok_or_else(|| refusal(ErrorCode::UnknownEvent, format!("no event {event:?}")))?;
    match entry.access(token) {
        Access::Granted(role, _) => Ok((entry, role)),
        Access::Ended(ended) => Err(refusal(ended.code(), ended.message(&entry.show.event.time_zone))),
        Access::Refused => {
            Err(refusal(ErrorCode::Unauthorized, "a role token is needed (Authorization: Bearer or ?token=)"))
        }
    }
}

/// The hub's overview, or the refusal that says the hub has stopped.
pub async fn overview(entry: &EventEntry) -> Result<Overview, Answer> {
    entry.hub.overview().await.map_err(|_| refusal(ErrorCode::Internal, "the event's hub has stopped"))
}

/// Who a command from the API is by: one participant per event and role, so that an
/// `Idempotency-Key` means the same to every device holding that token.
fn api_actor(role: Role) -> Actor {
    Actor {
        participant: format!("api:{}", role.as_str()),
        name: "Control API".into(),
        role,
        mode: Mode::InRoom,
        lang: Lang::En,
        affiliation: None,
        crew: Vec::new(),
    }
}

impl Control {
    pub fn new(app: AppState) -> Self {
        Control { app, presses: Arc::default(), budgets: Arc::default(), keys: Arc::default() }
    }

    /// The shared state the commands are applied to, for the adapters' reads.
    pub fn app(&self) -> &AppState {
        &self.app
    }

    /// Applies the API command `name` with `args` as the role `token` grants, guarded as
    /// documented (budget, idempotency key, double press); answers as HTTP would.
    pub async fn run(
        &self,
        event: &str,
        name: &str,
        args: HashMap<String, String>,
        token: &str,
        key: Option<String>,
    ) -> Answer {
        let (entry, role) = match authorized_token(&self.app, event, token) {
            Ok(found) => found,
            Err(answer) => return answer,
        };
        if matches!(role, Role::Attendee | Role::Display | Role::Captioner) {
            return refusal(ErrorCode::Forbidden, format!("the {} token cannot send show commands", role.as_str()));
        }
        let now = now_millis();
        if let Some(answer) = self.over_budget(event, role, now) {
            return answer;
        }
        if let Some(key) = key {
            let slot = format!("{event}\u{0}{}\u{0}{key}", role.as_str());
            let checked = match self.key_sent(&slot, press_key(event, role, name, &args), now) {
                Ok(to_hub) => !to_hub,
                Err(answer) => return answer,
            };
            // A retried key is answered by the hub's own record of it.
            return self.apply(&entry, role, name, &args, Some((key, slot, checked))).await;
        }
        let window = self.app.limits.api_double_press_ms;
        let slot = {
            let mut presses = self.presses.lock().unwrap_or_else(|e| e.into_inner());
            presses.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot.try_lock().is_ok_and(|last| last.as_ref().is_some_and(|(at, _)| now - at < window))
            });
            Arc::clone(presses.entry(press_key(event, role, name, &args)).or_default())
        };
        // The second press waits for the first one's answer, then is given it.
        let mut last = slot.lock().await;
        if let Some((at, answer)) = last.as_ref().filter(|(at, _)| now - at < window) {
            tracing::debug!(event, command = name, since_ms = now - at, "a double press is answered, not applied");
            return answer.clone();
        }
        let answer = self.apply(&entry, role, name, &args, None).await;
        *last = Some((now, answer.clone()));
        answer
    }

    /// Whether the key in `slot` went on to the hub before; a refusal when it was sent
    /// within the retry window with another request than `request`.
    fn key_sent(&self, slot: &str, request: String, now: Millis) -> Result<bool, Answer> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.retain(|_, sent| now - sent.at < RETRY_WINDOW_MS);
        let first = keys.entry(slot.to_owned()).or_insert(SentKey { at: now, request: request.clone(), to_hub: false });
        if first.request != request {
            return Err(refusal(
                ErrorCode::Conflict,
                "this Idempotency-Key was sent with another command or other arguments",
            ));
        }
        Ok(first.to_hub)
    }

    fn over_budget(&self, event: &str, role: Role, now: Millis) -> Option<Answer> {
        let mut budget =
            self.budgets.entry((event.to_owned(), role)).or_insert_with(|| FrameBudget::new(&self.app.limits, now));
        match budget.check(now) {
            Verdict::Accept => None,
            Verdict::Reject { .. } | Verdict::Close => {
                Some(refusal(ErrorCode::RateLimited, "too many commands; slow down"))
            }
        }
    }

    async fn apply(
        &self,
        entry: &EventEntry,
        role: Role,
        name: &str,
        args: &HashMap<String, String>,
        key: Option<(String, String, bool)>,
    ) -> Answer {
        let before = match overview(entry).await {
            Ok(overview) => overview,
            Err(answer) => return answer,
        };
        let expect = args.get("expect").filter(|_| key.as_ref().is_none_or(|(_, _, checked)| *checked));
        if let Some(expected) = expect {
            let current = before.state.live.segment.map(|k| before.state.show.segments[k].id.as_str());
            if current != Some(expected.as_str()) {
                let at = current.map_or("no segment".to_owned(), |id| format!("{id:?}"));
                return refusal(ErrorCode::Conflict, format!("the show is on {at}, not {expected:?}"));
            }
        }
        let command = match build(name, args, &before.state) {
            Ok(command) => command,
            Err(answer) => return answer,
        };
        if let Some((_, slot, _)) = &key {
            if let Some(sent) = self.keys.lock().unwrap_or_else(|e| e.into_inner()).get_mut(slot) {
                sent.to_hub = true;
            }
        }
        let id = key.map_or_else(|| format!("api-{}", uuid::Uuid::new_v4()), |(key, _, _)| format!("key:{key}"));
        match entry.hub.request(api_actor(role), id, command).await {
            Ok(Outcome::Ack { .. }) => match overview(entry).await {
                Ok(after) => Answer { status: StatusCode::OK, body: flat_state(&after, role, now_millis()) },
                Err(answer) => answer,
            },
            Ok(Outcome::Rejected(error)) => refusal(error.code, error.message),
            Err(_) => refusal(ErrorCode::Internal, "the event's hub has stopped"),
        }
    }
}

/// What makes two presses the same: the event, the role, the command and its arguments.
fn press_key(event: &str, role: Role, name: &str, args: &HashMap<String, String>) -> String {
    let mut args: Vec<_> = args.iter().collect();
    args.sort();
    format!("{event}\u{0}{}\u{0}{name}\u{0}{args:?}", role.as_str())
}

/// The websocket command an API path stands for, against the current versions.
fn build(name: &str, args: &HashMap<String, String>, state: &EventState) -> Result<Command, Answer> {
    let version = state.live.version;
    let current = state.live.segment.map(|k| state.show.segments[k].id.clone());
    let signal = |text: &str| {
        serde_json::from_value::<SignalKind>(Value::String(text.to_owned()))
            .map_err(|_| refusal(ErrorCode::InvalidField, format!("unknown signal {text:?}")))
    };
    Ok(match name {
        "next" => Command::Next { version },
        "previous" => Command::Previous { version },
        "goto" => {
            let segment = match (args.get("segment"), args.get("index")) {
                (Some(id), _) => id.clone(),
                (None, Some(_)) => {
                    let index: usize = number(args, "index")?;
                    state.show.segments.get(index).map(|s| s.id.clone()).ok_or_else(|| {
                        refusal(ErrorCode::InvalidField, format!("index {index} is past the last segment"))
                    })?
                }
                (None, None) => return Err(refusal(ErrorCode::InvalidField, "segment (an id) or index is needed")),
            };
            Command::Goto { version, segment }
        }
        "next_speaker" => Command::NextSpeaker { version },
        "hold" => Command::Hold { version },
        "resume" => Command::Resume { version },
        "toggle_hold" if state.live.held_since.is_some() => Command::Resume { version },
        "toggle_hold" => Command::Hold { version },
        "extend" => Command::Extend { version, seconds: seconds(args, "seconds")? },
        "end" => Command::End { version },
        "undo" => Command::Undo { version },
        "queue/next" => {
            let (queue, version) = queue_named(args, current, state)?;
            Command::QueueNext { queue, version }
        }
        "queue/side" => {
            let (queue, version) = queue_named(args, current, state)?;
            let side = args.get("side").filter(|side| !side.is_empty()).cloned();
            Command::QueueSide { queue, version, entry: number(args, "entry")?, side }
        }
        "queue/close" | "queue/open" => {
            let (queue, version) = queue_named(args, current, state)?;
            queue_settings(queue, version, None, Some(name == "queue/close"))
        }
        "queue/policy" => {
            let (queue, version) = queue_named(args, current, state)?;
            let text = arg(args, "policy")?;
            let policy = serde_json::from_value::<Policy>(Value::String(text.to_owned())).map_err(|_| {
                refusal(
                    ErrorCode::InvalidField,
                    format!("policy must be first_come, alternate or balanced, not {text:?}"),
                )
            })?;
            queue_settings(queue, version, Some(policy), None)
        }
        "cue/standby" => Command::CueStandby {
            target: None,
            text: None,
            preset: Some(arg(args, "preset")?.to_owned()),
            segment: current,
            speaker: None,
        },
        "cue/go" => Command::CueGo {
            cue: match args.contains_key("cue") {
                true => number(args, "cue")?,
                false => state.cue_to_go().ok_or_else(|| {
                    refusal(ErrorCode::InvalidState, "no cue of the current segment stands by (answered by the crew)")
                })?,
            },
        },
        "cue/cancel" => Command::CueCancel { cue: cue_or_oldest(args, state)? },
        "stage/signal" => {
            Command::StageSignal { signal: signal(arg(args, "signal")?)?, text: None, pinned: None, speaker: None }
        }
        "stage/message" => Command::StageSignal {
            signal: SignalKind::Message,
            text: Some(arg(args, "text")?.to_owned()),
            pinned: flag(args, "pinned")?,
            speaker: None,
        },
        "stage/clear" => Command::StageClear {},
        "question/highlight" => Command::QuestionHighlight {
            question: Some(number_or(
                args,
                "question",
                state.next_question(),
                "no approved question waits in the chair's order",
            )?),
        },
        "question/clear" => Command::QuestionHighlight { question: None },
        "question/answer" => Command::QuestionAnswer {
            question: number_or(args, "question", state.questions.board.highlighted, "no question is on screen")?,
        },
        "poll/open" => Command::PollOpen {
            poll: text_or(args, "poll", state.next_poll(), "no poll of the live segment is ready")?,
        },
        "poll/close" => Command::PollClose { poll: text_or(args, "poll", state.open_poll(), "no poll is open")? },
        "poll/show" | "poll/hide" => Command::PollShow {
            poll: text_or(args, "poll", state.open_poll(), "no poll is open; name one")?,
            shown: name == "poll/show",
        },
        other => return booth::build(other, args, state),
    })
}

/// The number argument `name`, or else `default`, or else `invalid_state` with `none`.
fn number_or(args: &HashMap<String, String>, name: &str, default: Option<u64>, none: &str) -> Result<u64, Answer> {
    match args.contains_key(name) {
        true => number(args, name),
        false => default.ok_or_else(|| refusal(ErrorCode::InvalidState, none)),
    }
}

/// The text argument `name`, or else `default`, or else `invalid_state` with `none`.
fn text_or(args: &HashMap<String, String>, name: &str, default: Option<&str>, none: &str) -> Result<String, Answer> {
    args.get(name)
        .map(String::as_str)
        .or(default)
        .map(str::to_owned)
        .ok_or_else(|| refusal(ErrorCode::InvalidState, none))
}

/// The queue `queue` names, else the live segment's, with the version a chair's command
/// names.
fn queue_named(
    args: &HashMap<String, String>,
    current: Option<String>,
    state: &EventState,
) -> Result<(String, u64), Answer> {
    let queue = match args.get("queue") {
        Some(queue) => queue.clone(),
        None => current.ok_or_else(|| refusal(ErrorCode::InvalidState, "no segment is live; name the queue"))?,
    };
    let version = state.queues.get(&queue).map_or(0, |q| q.version);
    Ok((queue, version))
}

/// A queue's settings command that changes only its policy or whether it is closed.
fn queue_settings(queue: String, version: u64, policy: Option<Policy>, closed: Option<bool>) -> Command {
    Command::QueueSettings {
        queue,
        version,
        policy,
        topics_public: None,
        panellists_first: None,
        speaking_limit_s: None,
        carry_over: None,
        closed,
    }
}

/// The cue named by `cue`, or else the oldest one waiting for its go.
fn cue_or_oldest(args: &HashMap<String, String>, state: &EventState) -> Result<u64, Answer> {
    if args.contains_key("cue") {
        return number(args, "cue");
    }
    state
        .cues
        .cues
        .iter()
        .filter(|c| matches!(c.state, CueState::Standby | CueState::StandingBy))
        .map(|c| c.id)
        .min()
        .ok_or_else(|| refusal(ErrorCode::InvalidState, "no cue is on standby"))
}
