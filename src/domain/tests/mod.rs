//! The dispatcher's tests, by topic, on a small forum (opening, keynotes, closing) with
//! an injected `now`; the shared fixtures and helpers are here.

mod automations;
mod booth;
mod caption_tracks;
mod cue_standbys;
mod plan_edits;
mod queues;
mod run_of_show;
mod sides;
mod speaking;
mod stage;
mod voice;

use std::sync::Arc;

use super::automation::Escape;
use super::cues::{CrewPosition, SignalKind};
use super::live::{timing, LiveState, Phase};
use super::notes::NotePreset;
use super::queue::{EntryState, Queue, QueueEntry, RequestKind};
use super::show::{EventInfo, RunOfShow, Segment, SegmentKind, Side, Speaker};
use super::text::{Lang, Localized, Mode};
use super::*;

const MIN: Millis = 60_000;
const T0: Millis = 1_641_258_000_000;

fn slug(name: &str) -> String {
    name.to_lowercase().replace(' ', "-")
}

fn speaker(name: &str, minutes: Option<Millis>) -> Speaker {
    Speaker {
        id: slug(name),
        lang: None,
        name: Localized::same(name),
        affiliation: None,
        topic: None,
        mode: None,
        duration_ms: minutes.map(|m| m * MIN),
        side: None,
    }
}

fn segment(id: &str, start_min: Millis, minutes: Millis, speakers: Vec<Speaker>) -> Segment {
    Segment {
        id: id.to_owned(),
        kind: SegmentKind::Keynote,
        title: Localized::same(id),
        chair: None,
        speakers,
        planned_start: T0 + start_min * MIN,
        duration_ms: minutes * MIN,
        speaking_limit_ms: None,
        warning_ms: 120_000,
        danger_ms: 30_000,
        cues: vec![],
        interpretation: vec![],
        av_notes: String::new(),
        join_url: None,
        qa: None,
        side_budgets: Default::default(),
    }
}

/// Opening 10 min (two speakers), keynotes 20 min (two timed speakers), closing 5 min.
fn forum() -> EventState {
    EventState::new(forum_show())
}

fn forum_show() -> RunOfShow {
    RunOfShow {
        event: EventInfo {
            id: "forum".into(),
            title: Localized::same("Forum"),
            venue: Localized::same("Hall"),
            time_zone: "Asia/Shanghai".into(),
            languages: vec![Lang::Zh, Lang::Ja, Lang::En],
            hybrid: true,
            planned_start: T0,
            planned_end: T0 + 35 * MIN,
            standby_alert_ms: 10_000,
        },
        segments: vec![
            segment("opening", 0, 10, vec![speaker("Zhou Cheng", None), speaker("Hideki Akamatsu", None)]),
            segment("keynotes", 10, 20, vec![speaker("Zhang Ying", Some(8)), speaker("Lu Ming", Some(12))]),
            segment("closing", 30, 5, vec![]),
        ],
        cue_presets: vec![],
        note_presets: vec![NotePreset { id: "mic-dead".into(), text: Localized::same("Mic dead") }],
        short_links: vec![],
        branding: None,
        automations: vec![],
        qa: Default::default(),
        prepared_polls: vec![],
        sides: vec![],
    }
}

/// The forum with a Chinese and a Japanese side: Zhou Cheng and Zhang Ying speak for cn,
/// Hideki Akamatsu for jp.
fn two_sides() -> EventState {
    let mut show = forum_show();
    show.sides = ["cn", "jp"]
        .map(|id| Side { id: id.into(), name: Localized::same(&id.to_uppercase()), budget_ms: None })
        .to_vec();
    for person in show.segments.iter_mut().flat_map(|s| s.speakers.iter_mut()) {
        person.side = match person.name.en.as_str() {
            "Zhou Cheng" | "Zhang Ying" => Some("cn".into()),
            "Hideki Akamatsu" => Some("jp".into()),
            _ => None,
        };
    }
    EventState::new(show)
}

fn moderator() -> Actor {
    Actor {
        participant: "p-mod".into(),
        name: "Ji Weidong".into(),
        role: Role::Moderator,
        mode: Mode::InRoom,
        lang: Lang::Zh,
        affiliation: None,
        crew: vec![],
    }
}

/// Applies a command as the moderator against the current version.
fn run(state: &mut EventState, make: impl Fn(u64) -> Command, now: Millis) -> Result<Vec<Change>, Rejection> {
    let version = state.live.version;
    state.apply(&make(version), &moderator(), now)
}

fn next(version: u64) -> Command {
    Command::Next { version }
}

fn started() -> EventState {
    let mut state = forum();
    run(&mut state, next, T0).unwrap();
    state
}

fn attendee(participant: &str) -> Actor {
    Actor {
        participant: participant.into(),
        name: participant.into(),
        role: Role::Attendee,
        mode: Mode::Remote,
        lang: Lang::Ja,
        affiliation: None,
        crew: vec![],
    }
}

fn undo(version: u64) -> Command {
    Command::Undo { version }
}

fn ask(state: &mut EventState, queue: &str, participant: &str, now: Millis) {
    let request = Command::QueueRequest { queue: queue.into(), kind: RequestKind::Speak, topic: None, side: None };
    state.apply(&request, &attendee(participant), now).unwrap();
}

fn queue_next(state: &mut EventState, queue: &str, now: Millis) {
    let version = state.queues[queue].version;
    state.apply(&Command::QueueNext { queue: queue.into(), version }, &moderator(), now).unwrap();
}

/// The opening running, with a speaking, b on deck, c and d waiting in its queue.
fn opening_with_requests() -> EventState {
    let mut state = started();
    for (k, who) in ["a", "b", "c", "d"].into_iter().enumerate() {
        ask(&mut state, "opening", who, T0 + k as Millis * 1000);
    }
    queue_next(&mut state, "opening", T0 + MIN);
    state
}

fn signal(state: &mut EventState, pinned: Option<bool>, speaker: Option<usize>) -> Result<Vec<Change>, Rejection> {
    let command = Command::StageSignal { signal: SignalKind::WrapUp, text: None, pinned, speaker };
    state.apply(&command, &moderator(), T0 + MIN)
}

/// Applies a plan edit as the moderator against the current plan version.
fn edit(state: &mut EventState, make: impl Fn(u64) -> Command, now: Millis) -> Result<Vec<Change>, Rejection> {
    let version = state.plan_version;
    state.apply(&make(version), &moderator(), now)
}
