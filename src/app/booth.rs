//! The control API's stage controls, side timers and notes (`stage/blackout`, `timer/start`,
//! `note/read`, …): the same commands as the websocket's, built from text arguments, with the
//! toggles and defaults a key on a Stream Deck needs.

use std::collections::HashMap;

use serde_json::Value;

use super::args::{arg, flag, number, refusal, seconds, Answer};
use crate::domain::booth::{TimerDef, TimerDirection};
use crate::domain::{Command, EventState};
use crate::protocol::ErrorCode;

/// The command a `stage/…` control or `timer/…` path stands for, against the current state.
pub(super) fn build(name: &str, args: &HashMap<String, String>, state: &EventState) -> Result<Command, Answer> {
    let timer = || arg(args, "timer").map(str::to_owned);
    Ok(match name {
        "stage/blackout" => Command::StageBlackout { on: flag(args, "on")?.unwrap_or(!state.screen.blackout) },
        "stage/on_air" => Command::StageOnAir { on: flag(args, "on")?.unwrap_or(!state.screen.on_air) },
        "stage/flash" => Command::StageFlash {},
        "stage/fullscreen" => Command::StageFullscreen {
            text: arg(args, "text")?.to_owned(),
            seconds: args.contains_key("seconds").then(|| seconds(args, "seconds")).transpose()?,
        },
        "stage/fullscreen_clear" => Command::StageFullscreenClear {},
        "timer/create" => Command::TimerCreate(Box::new(TimerDef {
            timer: args.get("timer").cloned(),
            name: arg(args, "name")?.to_owned(),
            direction: match args.get("direction") {
                Some(text) => serde_json::from_value(Value::String(text.clone())).map_err(|_| {
                    refusal(ErrorCode::InvalidField, format!("direction must be down or up, not {text:?}"))
                })?,
                None => TimerDirection::Down,
            },
            seconds: args.contains_key("seconds").then(|| seconds(args, "seconds")).transpose()?,
            stage: flag(args, "stage")?,
            cues: flag(args, "cues")?,
            start: flag(args, "start")?.unwrap_or(false),
        })),
        "timer/start" => Command::TimerStart { timer: timer()? },
        "timer/pause" => Command::TimerPause { timer: timer()? },
        "timer/toggle" => {
            let timer = timer()?;
            let running = state.timers.timers.iter().find(|t| t.id == timer).is_some_and(|t| t.running_since.is_some());
            match running {
                true => Command::TimerPause { timer },
                false => Command::TimerStart { timer },
            }
        }
        "timer/reset" => Command::TimerReset { timer: timer()? },
        "timer/adjust" => Command::TimerAdjust { timer: timer()?, seconds: seconds(args, "seconds")? },
        "timer/show" => Command::TimerShow { timer: timer()?, stage: flag(args, "stage")?, cues: flag(args, "cues")? },
        "timer/remove" => Command::TimerRemove { timer: timer()? },
        "note/read" => Command::NoteRead {
            note: match args.contains_key("note") {
                true => number(args, "note")?,
                false => {
                    let unread = state.notes.notes.iter().find(|n| n.read.is_none());
                    unread.map(|n| n.id).ok_or_else(|| refusal(ErrorCode::InvalidState, "no note waits to be read"))?
                }
            },
        },
        other => return Err(refusal(ErrorCode::UnknownType, format!("no command {other:?}"))),
    })
}
