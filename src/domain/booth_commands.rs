//! The booth's commands in the dispatcher: who may run the stage screens' controls and the
//! side timers, and the change each command makes (docs/protocol.md, "Stage controls and
//! side timers").

use super::actor::Actor;
use super::booth::{create, fullscreen, no_timer, switch, with_timer, TimerDirection, MAX_TIMER_SECONDS};
use super::change::Change;
use super::command::{forbidden, Command};
use super::rejection::Rejection;
use super::state::EventState;
use super::time::Millis;

impl EventState {
    /// The changes of a stage control or side timer command; `None` for any other command.
    pub(super) fn booth(
        &mut self,
        command: &Command,
        actor: &Actor,
        now: Millis,
    ) -> Option<Result<Vec<Change>, Rejection>> {
        let op = command.name().to_owned();
        let note = match command {
            Command::NoteSend { preset, text } => {
                Some(self.notes.send(&self.show.note_presets, preset.as_deref(), text.as_deref(), actor, now))
            }
            Command::NoteRead { note } => Some(self.notes.read(*note, actor, now)),
            _ => None,
        };
        if let Some(note) = note {
            return Some(note.map(|note| {
                let change = Change::Note { op, note: Box::new(note) };
                self.evolve(&change);
                vec![change]
            }));
        }
        let mut screen = self.screen.clone();
        let mut timers = self.timers.clone();
        let result = match command {
            Command::StageBlackout { on } => switch(&mut screen.blackout, *on, "blackout"),
            Command::StageOnAir { on } => switch(&mut screen.on_air, *on, "ON AIR"),
            Command::StageFlash {} => {
                screen.flash_at = Some(now);
                Ok(())
            }
            Command::StageFullscreen { text, seconds } => fullscreen(text, *seconds, actor, now).map(|shown| {
                screen.fullscreen = Some(shown);
            }),
            Command::StageFullscreenClear {} => match screen.fullscreen.take() {
                Some(shown) if shown.until.is_none_or(|until| until > now) => Ok(()),
                _ => Err(Rejection::InvalidState("no full-screen message is shown".into())),
            },
            Command::TimerCreate(def) => create(&mut timers, def, now),
            Command::TimerStart { timer } => with_timer(&mut timers, timer, |t| match t.running_since {
                Some(_) => Err(Rejection::InvalidState(format!("timer {:?} is already running", t.id))),
                None => {
                    t.running_since = Some(now);
                    Ok(())
                }
            }),
            Command::TimerPause { timer } => with_timer(&mut timers, timer, |t| match t.running_since {
                None => Err(Rejection::InvalidState(format!("timer {:?} is not running", t.id))),
                Some(_) => {
                    t.elapsed_ms = t.elapsed_at(now);
                    t.running_since = None;
                    Ok(())
                }
            }),
            Command::TimerReset { timer } => with_timer(&mut timers, timer, |t| {
                (t.duration_ms, t.elapsed_ms, t.running_since) = (t.planned_ms, 0, None);
                Ok(())
            }),
            Command::TimerAdjust { timer, seconds } => {
                let by = seconds.millis_within(MAX_TIMER_SECONDS).ok_or_else(|| {
                    Rejection::InvalidField(format!(
                        "seconds must be between -{MAX_TIMER_SECONDS} and {MAX_TIMER_SECONDS}, and at least 0.001 \
                         either way"
                    ))
                });
                by.and_then(|by| {
                    with_timer(&mut timers, timer, |t| {
                        match t.direction {
                            TimerDirection::Down => t.duration_ms = (t.duration_ms + by).max(0),
                            TimerDirection::Up => {
                                let elapsed = (t.elapsed_at(now) + by).max(0);
                                t.elapsed_ms = elapsed - t.running_since.map_or(0, |since| (now - since).max(0));
                            }
                        }
                        Ok(())
                    })
                })
            }
            Command::TimerShow { timer, stage, cues } => with_timer(&mut timers, timer, |t| {
                t.stage = stage.unwrap_or(t.stage);
                t.cues = cues.unwrap_or(t.cues);
                Ok(())
            }),
            Command::TimerRemove { timer } => match timers.timers.iter().position(|t| &t.id == timer) {
                Some(at) => {
                    timers.timers.remove(at);
                    Ok(())
                }
                None => Err(no_timer(timer)),
            },
            _ => return None,
        };
        let result = if actor.role.runs_booth() {
            result
        } else {
            Err(forbidden(actor, command, "only the chair and the AV crew run the stage screens and timers"))
        };
        let change = match result {
            Err(rejection) => return Some(Err(rejection)),
            Ok(()) if command.name().starts_with("stage_") => Change::Screen { op, screen: Box::new(screen) },
            Ok(()) => Change::Timers { op, timers: Box::new(timers) },
        };
        self.evolve(&change);
        Some(Ok(vec![change]))
    }
}
