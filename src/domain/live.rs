//! The live state of the show and its transitions. Time is data: the state keeps
//! timestamps, and remaining time, overrun and drift are derived from them.

use serde::{Deserialize, Serialize};

use super::rejection::Rejection;
use super::show::RunOfShow;
use super::time::Millis;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Standby,
    Live,
    Ended,
}

/// When a segment really ran: the planned-vs-actual record of the day. A segment run twice
/// (the chair went back) keeps its first start and its last end, so that the record, and
/// every live change that carries it, holds at most one entry per segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualRun {
    pub segment: usize,
    pub started_at: Millis,
    pub ended_at: Option<Millis>,
}

/// Show transitions an `undo` can walk back through: the state before each is kept.
pub const UNDO_DEPTH: usize = 32;

/// Where the show stands. Replaced whole by every show transition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveState {
    /// Bumped by every transition; commands name the version they were issued against.
    pub version: u64,
    pub phase: Phase,
    pub segment: Option<usize>,
    pub speaker: Option<usize>,
    pub segment_started_at: Option<Millis>,
    pub speaker_started_at: Option<Millis>,
    pub held_since: Option<Millis>,
    pub segment_paused_ms: Millis,
    pub speaker_paused_ms: Millis,
    pub extended_ms: Millis,
    /// Added to the current speaker's planned slot by `extend`, which moves the clock the
    /// stage screen shows; reset when the speaker changes.
    #[serde(default)]
    pub speaker_extended_ms: Millis,
    pub show_started_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub actual: Vec<ActualRun>,
    /// The states before the latest transitions, oldest first, each without a history of its
    /// own: what `undo` restores. Kept here, so that it is in every snapshot and every live
    /// change of the log, and a restart can still undo; clients are sent only its length.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<LiveState>,
}

impl Default for LiveState {
    fn default() -> Self {
        LiveState {
            version: 0,
            phase: Phase::Standby,
            segment: None,
            speaker: None,
            segment_started_at: None,
            speaker_started_at: None,
            held_since: None,
            segment_paused_ms: 0,
            speaker_paused_ms: 0,
            extended_ms: 0,
            speaker_extended_ms: 0,
            show_started_at: None,
            ended_at: None,
            actual: Vec::new(),
            history: Vec::new(),
        }
    }
}

/// A run-of-show operation, validated against the plan and the live state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShowOp {
    Next,
    Previous,
    Goto(usize),
    NextSpeaker,
    GotoSpeaker(usize),
    Hold,
    Resume,
    Extend(Millis),
    End,
    /// Back to the state before the latest transition that was not itself undone.
    Undo,
}

fn invalid(message: &str) -> Rejection {
    Rejection::InvalidState(message.to_owned())
}

impl LiveState {
    /// The state after `op` at `now`, or why it cannot happen. `self` is left untouched.
    /// Every transition but `undo` remembers the state it left, for `undo`.
    pub fn transition(&self, show: &RunOfShow, op: &ShowOp, now: Millis) -> Result<Self, Rejection> {
        let mut next = self.step(show, op, now)?;
        if *op == ShowOp::Undo {
            return Ok(next);
        }
        let mut left = self.clone();
        left.history = Vec::new();
        next.history.push(left);
        if next.history.len() > UNDO_DEPTH {
            next.history.remove(0);
        }
        Ok(next)
    }

    /// How many `undo`s in a row can be applied.
    pub fn undo_depth(&self) -> usize {
        self.history.len()
    }

    /// The state before the latest transition, under a new version: versions only grow, so
    /// a command issued before the undo conflicts. An undo is not remembered, so undoing
    /// again walks further back rather than redoing.
    fn undone(&self) -> Result<Self, Rejection> {
        let mut history = self.history.clone();
        let mut previous = history.pop().ok_or_else(|| invalid("there is nothing to undo"))?;
        previous.version = self.version + 1;
        previous.history = history;
        Ok(previous)
    }

    fn step(&self, show: &RunOfShow, op: &ShowOp, now: Millis) -> Result<Self, Rejection> {
        let last = show.segments.len().checked_sub(1).ok_or_else(|| invalid("the run of show has no segments"))?;
        let mut next = self.clone();
        match (op, self.phase, self.segment) {
            (ShowOp::Next, Phase::Standby, _) => next.enter_segment(0, now, show),
            (ShowOp::Next, Phase::Live, Some(current)) if current < last => next.enter_segment(current + 1, now, show),
            (ShowOp::Next, Phase::Live, _) => return Err(invalid("this is the last segment; end the show instead")),
            (ShowOp::Next, Phase::Ended, _) => return Err(invalid("the show has ended")),
            (ShowOp::Previous, Phase::Live, Some(current)) if current > 0 => next.enter_segment(current - 1, now, show),
            (ShowOp::Previous, Phase::Live, _) => return Err(invalid("this is the first segment")),
            (ShowOp::Previous, Phase::Ended, _) => next.enter_segment(last, now, show),
            (ShowOp::Previous, Phase::Standby, _) => return Err(invalid("the show has not started")),
            (ShowOp::Goto(index), _, _) => next.enter_segment(*index, now, show),
            (ShowOp::NextSpeaker, Phase::Live, Some(current)) => {
                let speaker = self.speaker.map_or(0, |k| k + 1);
                if speaker >= show.segments[current].speakers.len() {
                    return Err(invalid("this is the segment's last speaker"));
                }
                next.enter_speaker(speaker, now);
            }
            (ShowOp::GotoSpeaker(speaker), Phase::Live, Some(current)) => {
                if *speaker >= show.segments[current].speakers.len() {
                    return Err(Rejection::InvalidField(format!("the segment has no speaker {speaker}")));
                }
                next.enter_speaker(*speaker, now);
            }
            (ShowOp::Hold, Phase::Live, _) if self.held_since.is_some() => return Err(invalid("already on hold")),
            (ShowOp::Hold, Phase::Live, _) => next.held_since = Some(now),
            (ShowOp::Resume, Phase::Live, _) if self.held_since.is_none() => return Err(invalid("not on hold")),
            (ShowOp::Resume, Phase::Live, _) => next.release_hold(now),
            (ShowOp::Extend(by), Phase::Live, Some(current)) => {
                let planned = show.segments[current].duration_ms + self.extended_ms + by;
                if planned < 0 {
                    return Err(invalid("cannot shorten the segment below zero"));
                }
                next.extended_ms += by;
                // The stage screen shows the speaker's slot when there is one: the time
                // the chair gives or takes must show there, and in the segment, so that the
                // day's projection follows.
                if let Some(slot) = self.speaker_slot(show) {
                    if slot + self.speaker_extended_ms + by < 0 {
                        return Err(invalid("cannot shorten the speaker's slot below zero"));
                    }
                    next.speaker_extended_ms += by;
                }
            }
            (ShowOp::End, Phase::Live, _) => {
                next.release_hold(now);
                next.close_actual(now);
                next.phase = Phase::Ended;
                next.segment = None;
                next.speaker = None;
                next.ended_at = Some(now);
            }
            (ShowOp::Undo, _, _) => return self.undone(),
            (_, Phase::Standby, _) => return Err(invalid("the show has not started")),
            (_, Phase::Ended, _) => return Err(invalid("the show has ended")),
            (_, Phase::Live, None) => return Err(invalid("no segment is live")),
        }
        next.version += 1;
        Ok(next)
    }

    /// The current speaker's planned time, when the programme gives them one.
    fn speaker_slot(&self, show: &RunOfShow) -> Option<Millis> {
        show.segments.get(self.segment?)?.speakers.get(self.speaker?)?.duration_ms
    }

    /// Moving on releases a hold: the new segment or speaker starts running at once.
    fn enter_segment(&mut self, index: usize, now: Millis, show: &RunOfShow) {
        self.close_actual(now);
        self.phase = Phase::Live;
        self.segment = Some(index);
        self.speaker = (!show.segments[index].speakers.is_empty()).then_some(0);
        self.segment_started_at = Some(now);
        self.speaker_started_at = self.speaker.map(|_| now);
        self.held_since = None;
        self.segment_paused_ms = 0;
        self.speaker_paused_ms = 0;
        self.extended_ms = 0;
        self.speaker_extended_ms = 0;
        self.show_started_at.get_or_insert(now);
        self.ended_at = None;
        match self.actual.iter_mut().find(|run| run.segment == index) {
            Some(run) => run.ended_at = None,
            None => self.actual.push(ActualRun { segment: index, started_at: now, ended_at: None }),
        }
    }

    fn enter_speaker(&mut self, speaker: usize, now: Millis) {
        self.release_hold(now);
        self.speaker = Some(speaker);
        self.speaker_started_at = Some(now);
        self.speaker_paused_ms = 0;
        self.speaker_extended_ms = 0;
    }

    fn release_hold(&mut self, now: Millis) {
        if let Some(since) = self.held_since.take() {
            self.segment_paused_ms += now - since;
            self.speaker_paused_ms += now - since;
        }
    }

    fn close_actual(&mut self, now: Millis) {
        if let Some(run) = self.actual.iter_mut().find(|run| run.ended_at.is_none()) {
            run.ended_at.get_or_insert(now);
        }
    }
}

/// Everything a screen derives from the state at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    pub elapsed_ms: Millis,
    /// Planned minus elapsed; negative once the segment overruns.
    pub remaining_ms: Millis,
    pub speaker_elapsed_ms: Option<Millis>,
    pub speaker_remaining_ms: Option<Millis>,
    pub projected_end: Millis,
    /// Projected end minus planned end: positive when the day runs behind.
    pub drift_ms: Millis,
}

impl Timing {
    pub fn overrun_ms(&self) -> Millis {
        (-self.remaining_ms).max(0)
    }
}

/// `-1:05`, `04:59`, `1:02:03`: as a Stream Deck key shows a clock.
pub fn clock_text(ms: Millis) -> String {
    let seconds = ms.abs() / 1000;
    let sign = if ms < 0 && seconds > 0 { "-" } else { "" };
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{sign}{h}:{m:02}:{s:02}")
    } else {
        format!("{sign}{m:02}:{s:02}")
    }
}

/// A countdown shows whole seconds rounded up, so that it reads 00:00 only at the end.
pub fn remaining_text(ms: Millis) -> String {
    clock_text(if ms > 0 { (ms + 999) / 1000 * 1000 } else { ms })
}

/// Derives remaining time, overrun, drift and the projected end of the day at `now`.
pub fn timing(show: &RunOfShow, live: &LiveState, now: Millis) -> Timing {
    let clock = live.held_since.unwrap_or(now);
    let (elapsed_ms, remaining_ms, projected_end, speaker) = match (live.phase, live.segment) {
        (Phase::Live, Some(index)) => {
            let segment = &show.segments[index];
            let elapsed = clock - live.segment_started_at.unwrap_or(clock) - live.segment_paused_ms;
            let remaining = segment.duration_ms + live.extended_ms - elapsed;
            let projected = now + remaining.max(0) + show.planned_after(index);
            let speaker = live.speaker.zip(live.speaker_started_at).map(|(k, started)| {
                let elapsed = clock - started - live.speaker_paused_ms;
                let planned = segment.speakers.get(k).and_then(|s| s.duration_ms);
                (elapsed, planned.map(|d| d + live.speaker_extended_ms - elapsed))
            });
            (elapsed, remaining, projected, speaker)
        }
        (Phase::Ended, _) => (0, 0, live.ended_at.unwrap_or(now), None),
        _ => (0, 0, now.max(show.event.planned_start) + show.planned_total(), None),
    };
    Timing {
        elapsed_ms,
        remaining_ms,
        speaker_elapsed_ms: speaker.map(|(elapsed, _)| elapsed),
        speaker_remaining_ms: speaker.and_then(|(_, remaining)| remaining),
        projected_end,
        drift_ms: projected_end - show.event.planned_end,
    }
}
