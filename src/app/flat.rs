//! The show's state flat, as a key of a control surface or a script shows it: the current
//! and next segment, both clocks as numbers and text, the queue, the sides' floor time and
//! budgets, and the open cues, in the view of one role. The HTTP state, the SSE stream and every command's answer share it.

use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::booth::TimerDirection;
use crate::domain::cues::CueState;
use crate::domain::live::{clock_text, remaining_text, timing, Phase};
use crate::domain::questions::QuestionState;
use crate::domain::show::Segment;
use crate::domain::text::Localized;
use crate::domain::{Millis, Role};
use crate::hub::Overview;
use crate::protocol::Routing;

#[derive(Serialize)]
struct SegmentBrief<'a> {
    id: &'a str,
    index: usize,
    kind: crate::domain::show::SegmentKind,
    title: &'a Localized,
    planned_start: Millis,
    duration_ms: Millis,
}

impl<'a> SegmentBrief<'a> {
    fn of(segment: &'a Segment, index: usize) -> Self {
        SegmentBrief {
            id: &segment.id,
            index,
            kind: segment.kind,
            title: &segment.title,
            planned_start: segment.planned_start,
            duration_ms: segment.duration_ms,
        }
    }
}

/// The state as a key or a script with a token of `role` shows it, at `now`. Cues are seen
/// as the websocket's view of the role sees them (`protocol::View`): the chair and AV see
/// them all, the other roles, who get cue changes as `hidden`, see none.
pub fn flat_state(overview: &Overview, role: Role, now: Millis) -> Value {
    let state = &overview.state;
    let (show, live) = (&state.show, &state.live);
    let tm = timing(show, live, now);
    let current = live.segment.map(|k| (k, &show.segments[k]));
    let next_index = match live.phase {
        Phase::Standby => Some(0),
        Phase::Live => live.segment.map(|k| k + 1),
        Phase::Ended => None,
    };
    let next = next_index.and_then(|k| show.segments.get(k).map(|s| SegmentBrief::of(s, k)));
    let speaker = current.zip(live.speaker).and_then(|((_, segment), k)| segment.speakers.get(k).map(|p| (k, p)));
    let segment_clock = current.map(|(_, segment)| {
        json!({
            "planned_ms": segment.duration_ms + live.extended_ms,
            "elapsed_ms": tm.elapsed_ms,
            "remaining_ms": tm.remaining_ms,
            "elapsed": clock_text(tm.elapsed_ms),
            "remaining": remaining_text(tm.remaining_ms),
            "overrun": tm.remaining_ms < 0,
            "started_at": live.segment_started_at,
            "paused_ms": live.segment_paused_ms,
            "warning_ms": segment.warning_ms,
            "danger_ms": segment.danger_ms,
            "level": level(tm.remaining_ms, segment.warning_ms, segment.danger_ms),
        })
    });
    let speaker_clock = speaker.zip(tm.speaker_elapsed_ms).map(|((_, person), elapsed)| {
        json!({
            "planned_ms": person.duration_ms.map(|d| d + live.speaker_extended_ms),
            "elapsed_ms": elapsed,
            "remaining_ms": tm.speaker_remaining_ms,
            "elapsed": clock_text(elapsed),
            "remaining": tm.speaker_remaining_ms.map(remaining_text),
            "overrun": tm.speaker_remaining_ms.is_some_and(|r| r < 0),
            "started_at": live.speaker_started_at,
            "paused_ms": live.speaker_paused_ms,
        })
    });
    let queue = current.and_then(|(_, segment)| state.queues.get(&segment.id));
    let open_cues: Vec<Value> = state
        .cues
        .cues
        .iter()
        .filter(|c| !matches!(c.state, CueState::Done | CueState::Cancelled))
        .filter(|c| Routing::Crew(c.target.position()).reaches(role, &[]))
        .map(|c| json!({ "id": c.id, "state": c.state, "target": c.target, "text": c.text, "preset": c.preset }))
        .collect();
    let chair = matches!(role, Role::Organizer | Role::Moderator);
    let questions = &state.questions;
    let on_screen = questions.board.highlighted.and_then(|id| questions.items.get(&id)).map(|q| {
        let name = (!q.anonymous).then_some(&q.name);
        json!({ "id": q.id, "text": q.text, "lang": q.lang, "name": name, "votes": q.votes })
    });
    let pending = questions.items.values().filter(|q| q.state == QuestionState::Pending).count();
    let poll = state.open_poll().and_then(|id| state.polls.get(id).ok()).map(|p| {
        let counts = (chair || p.shown).then_some(&p.counts);
        json!({ "id": p.def.id, "question": p.def.question, "voters": p.voters, "counts": counts })
    });
    let drift_sign = if tm.drift_ms > 0 { "+" } else { "" };
    json!({
        "event": show.event.id,
        "seq": overview.seq,
        "server_time": now,
        "plan_version": state.plan_version,
        "version": live.version,
        "phase": live.phase,
        "held": live.held_since.is_some(),
        "held_since": live.held_since,
        "current": current.map(|(k, segment)| SegmentBrief::of(segment, k)),
        "next": next,
        "speaker": speaker.map(|(k, person)| json!({ "id": person.id, "index": k, "name": person.name })),
        "segment_clock": segment_clock,
        "speaker_clock": speaker_clock,
        "overrun": tm.remaining_ms < 0,
        "drift_ms": tm.drift_ms,
        "drift": format!("{drift_sign}{}", clock_text(tm.drift_ms)),
        "projected_end": tm.projected_end,
        "planned_end": show.event.planned_end,
        "queue": queue.map(|q| json!({
            "waiting": q.waiting.len(),
            "on_deck": q.on_deck.as_ref().map(|e| &e.name),
            "speaking": q.speaking.as_ref().map(|e| &e.name),
            "policy": q.policy,
            "closed": q.closed,
        })),
        "sides": state.speaking.sides_at(show, current.map(|(_, segment)| segment.id.as_str()), now),
        "cues": open_cues,
        "questions": json!({
            "pending": chair.then_some(pending),
            "approved": questions.board.order.len(),
            "on_screen": on_screen,
        }),
        "poll": poll,
        "stage": stage(overview, role, now),
        "notes": chair.then(|| notes(overview)),
        "timers": timers(overview, role, now),
    })
}

/// The crew's notes the chair has not read: how many, and the oldest.
fn notes(overview: &Overview) -> Value {
    let unread: Vec<_> = overview.state.notes.notes.iter().filter(|n| n.read.is_none()).collect();
    let oldest =
        unread.first().map(|n| json!({ "id": n.id, "text": n.text, "name": n.name, "role": n.role, "at": n.at }));
    json!({ "unread": unread.len(), "oldest": oldest })
}

/// How urgent a clock is: as the stage screen colours it.
fn level(remaining_ms: Millis, warning_ms: Millis, danger_ms: Millis) -> &'static str {
    match remaining_ms {
        r if r < 0 => "overrun",
        r if r <= danger_ms => "danger",
        r if r <= warning_ms => "warning",
        _ => "normal",
    }
}

/// What the stage screens show besides the clock, for those who see the stage (the chair,
/// AV and speakers); `null` for the others. A full-screen message past its end is `null`.
fn stage(overview: &Overview, role: Role, now: Millis) -> Value {
    if !Routing::Stage.reaches(role, &[]) {
        return Value::Null;
    }
    let state = &overview.state;
    let screen = &state.screen;
    let fullscreen = screen.fullscreen.as_ref().filter(|f| f.until.is_none_or(|until| until > now));
    json!({
        "blackout": screen.blackout,
        "on_air": screen.on_air,
        "flash_at": screen.flash_at,
        "fullscreen": fullscreen.map(|f| json!({ "text": f.text, "until": f.until })),
        "message": state.stage.as_ref().map(|m| json!({ "kind": m.kind, "text": m.text, "pinned": m.pinned })),
    })
}

/// The side timers with their time at `now`, for those who see the stage; `[]` for others.
fn timers(overview: &Overview, role: Role, now: Millis) -> Vec<Value> {
    if !Routing::Stage.reaches(role, &[]) {
        return Vec::new();
    }
    let timers = &overview.state.timers.timers;
    timers
        .iter()
        .map(|t| {
            let shown = t.shown_at(now);
            let text = match t.direction {
                TimerDirection::Down => remaining_text(shown),
                TimerDirection::Up => clock_text(shown),
            };
            json!({
                "id": t.id, "name": t.name, "direction": t.direction, "running": t.running_since.is_some(),
                "ms": shown, "text": text, "over": shown < 0, "duration_ms": t.duration_ms,
                "elapsed_ms": t.elapsed_ms, "running_since": t.running_since, "stage": t.stage, "cues": t.cues,
            })
        })
        .collect()
}
