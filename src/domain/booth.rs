//! The booth's own controls: what the stage screens show beside the chair's messages
//! (blackout, a flash, ON AIR, a full-screen message) and the side timers beside the show's
//! clocks ("Break ends in", "Q&A five minutes"). Pure, no I/O: a timer is a few instants
//! that every screen counts from on the synchronized clock, as it counts the show's.

use serde::{Deserialize, Serialize};

use super::actor::Actor;
use super::rejection::Rejection;
use super::text;
use super::time::{Millis, Seconds};

/// A full-screen message at most, in characters: it fills the screen in large type.
pub const MAX_FULLSCREEN_CHARS: usize = 140;
/// Side timers an event holds at most.
pub const MAX_TIMERS: usize = 12;
pub const MAX_TIMER_NAME_CHARS: usize = 40;
/// A timer's length, its ± and a full-screen message's duration at most: a day.
pub const MAX_TIMER_SECONDS: f64 = 86_400.0;

/// What the booth has switched on the stage screens, beside the chair's messages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageControls {
    /// The stage screens show nothing at all.
    pub blackout: bool,
    /// The ON AIR / recording light.
    pub on_air: bool,
    /// When the screens were last flashed: each new instant flashes them once.
    pub flash_at: Option<Millis>,
    pub fullscreen: Option<Fullscreen>,
}

/// The chair's text filling the stage screens, until `until` or until cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fullscreen {
    pub text: String,
    pub at: Millis,
    pub by: String,
    /// When the screens return to the clock by themselves; `None`: when it is cleared.
    pub until: Option<Millis>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerDirection {
    #[default]
    Down,
    Up,
}

/// A named timer beside the show's clocks. Its time is `elapsed_ms`, plus the time since
/// `running_since` while it runs; a count down shows `duration_ms` less that, and goes on
/// below zero once over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideTimer {
    pub id: String,
    pub name: String,
    pub direction: TimerDirection,
    /// What it was set to: what a reset returns a count down to.
    pub planned_ms: Millis,
    /// The planned length with the booth's ± added (a count down's; a count up's ± moves
    /// `elapsed_ms` instead).
    pub duration_ms: Millis,
    pub elapsed_ms: Millis,
    pub running_since: Option<Millis>,
    /// Where it shows: the stage screens, the cue screens.
    pub stage: bool,
    pub cues: bool,
}

impl SideTimer {
    /// Its time counted at `now`.
    pub fn elapsed_at(&self, now: Millis) -> Millis {
        self.elapsed_ms + self.running_since.map_or(0, |since| (now - since).max(0))
    }

    /// What it shows at `now`: the time left of a count down (below zero once over), the
    /// time counted of a count up.
    pub fn shown_at(&self, now: Millis) -> Millis {
        match self.direction {
            TimerDirection::Down => self.duration_ms - self.elapsed_at(now),
            TimerDirection::Up => self.elapsed_at(now),
        }
    }
}

/// The event's side timers, in the order they were made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideTimers {
    pub timers: Vec<SideTimer>,
    /// Timers made so far: a generated id is never given twice, so that a key bound to a
    /// removed timer cannot start another.
    pub made: u64,
}

/// A timer as a `timer_create` asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimerDef {
    /// Its id; generated (`timer-N`) when absent.
    pub timer: Option<String>,
    pub name: String,
    #[serde(default)]
    pub direction: TimerDirection,
    /// A count down's length; a count up may leave it out.
    pub seconds: Option<Seconds>,
    /// Shown on the stage screens (default) and the cue screens (default).
    pub stage: Option<bool>,
    pub cues: Option<bool>,
    /// Starts it at once.
    #[serde(default)]
    pub start: bool,
}

/// Sets a switch, refusing a press that changes nothing (a second console's late press).
pub(super) fn switch(switch: &mut bool, on: bool, what: &str) -> Result<(), Rejection> {
    if *switch == on {
        let state = if on { "on" } else { "off" };
        return Err(Rejection::InvalidState(format!("{what} is already {state}")));
    }
    *switch = on;
    Ok(())
}

pub(super) fn fullscreen(
    text: &str,
    seconds: Option<Seconds>,
    actor: &Actor,
    now: Millis,
) -> Result<Fullscreen, Rejection> {
    let text = text::clean(text, MAX_FULLSCREEN_CHARS).map_err(|e| Rejection::InvalidField(format!("text {e}")))?;
    let until = match seconds {
        Some(seconds) => Some(now + positive_millis(seconds)?),
        None => None,
    };
    Ok(Fullscreen { text, at: now, by: actor.name.clone(), until })
}

/// A length in seconds, above zero and at most a day, in milliseconds.
pub(super) fn positive_millis(seconds: Seconds) -> Result<Millis, Rejection> {
    seconds
        .millis_within(MAX_TIMER_SECONDS)
        .filter(|&ms| ms > 0)
        .ok_or_else(|| Rejection::InvalidField(format!("seconds must be between 0.001 and {MAX_TIMER_SECONDS}")))
}

pub(super) fn no_timer(timer: &str) -> Rejection {
    Rejection::InvalidField(format!("no timer has id {timer:?}"))
}

pub(super) fn with_timer(
    timers: &mut SideTimers,
    id: &str,
    change: impl FnOnce(&mut SideTimer) -> Result<(), Rejection>,
) -> Result<(), Rejection> {
    change(timers.timers.iter_mut().find(|t| t.id == id).ok_or_else(|| no_timer(id))?)
}

pub(super) fn create(timers: &mut SideTimers, def: &TimerDef, now: Millis) -> Result<(), Rejection> {
    if timers.timers.len() >= MAX_TIMERS {
        return Err(Rejection::InvalidState(format!("{MAX_TIMERS} timers exist; remove one first")));
    }
    let name =
        text::clean(&def.name, MAX_TIMER_NAME_CHARS).map_err(|e| Rejection::InvalidField(format!("name {e}")))?;
    let id = match &def.timer {
        Some(id) if valid_id(id) => id.clone(),
        Some(id) => {
            return Err(Rejection::InvalidField(format!("timer {id:?}: an id is 1 to 40 letters, digits, '-' or '_'")))
        }
        None => format!("timer-{}", timers.made + 1),
    };
    if timers.timers.iter().any(|t| t.id == id) {
        return Err(Rejection::InvalidField(format!("a timer with id {id:?} exists")));
    }
    let planned_ms = match (def.direction, def.seconds) {
        (_, Some(seconds)) => positive_millis(seconds)?,
        (TimerDirection::Up, None) => 0,
        (TimerDirection::Down, None) => {
            return Err(Rejection::InvalidField("a count down needs its length in seconds".into()))
        }
    };
    timers.made += 1;
    timers.timers.push(SideTimer {
        id,
        name,
        direction: def.direction,
        planned_ms,
        duration_ms: planned_ms,
        elapsed_ms: 0,
        running_since: def.start.then_some(now),
        stage: def.stage.unwrap_or(true),
        cues: def.cues.unwrap_or(true),
    });
    Ok(())
}

fn valid_id(id: &str) -> bool {
    (1..=40).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
