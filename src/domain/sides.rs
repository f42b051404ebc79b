//! The sides of an event (the delegations, the floor) and what names them: a speaker's side,
//! a segment's budgets, a request's side. One check for event files, imports and plan edits,
//! so that every side named is one the plan has. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rejection::Rejection;
use super::show::{RunOfShow, Side};
use super::text::Localized;
use super::time::Millis;

/// The most sides an event has: the delegations of a forum and its floor, with room to spare.
pub const MAX_SIDES: usize = 16;
/// A budget is at least a second and at most a day.
const MAX_BUDGET_S: u32 = 24 * 3600;

/// A side as an event file and a plan edit give it: its budget in seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideInput {
    pub id: String,
    pub name: Localized,
    pub budget_s: Option<u32>,
}

impl SideInput {
    pub fn side(&self) -> Result<Side, Rejection> {
        Ok(Side { id: self.id.clone(), name: self.name.clone(), budget_ms: self.budget_s.map(budget).transpose()? })
    }
}

/// A segment's budgets as files and edits give them, side id to seconds, in milliseconds.
pub fn segment_budgets(given: &BTreeMap<String, u32>) -> Result<BTreeMap<String, Millis>, Rejection> {
    given.iter().map(|(side, s)| Ok((side.clone(), budget(*s)?))).collect()
}

/// A segment's budgets in seconds, as files and edits give them.
pub fn budget_seconds(budgets: &BTreeMap<String, Millis>) -> BTreeMap<String, u32> {
    budgets.iter().map(|(side, ms)| (side.clone(), seconds(*ms))).collect()
}

fn budget(seconds: u32) -> Result<Millis, Rejection> {
    if seconds == 0 || seconds > MAX_BUDGET_S {
        return Err(Rejection::InvalidField(format!("a side's budget is 1-{MAX_BUDGET_S} seconds, not {seconds}")));
    }
    Ok(Millis::from(seconds) * 1000)
}

/// Whole seconds, rounded up, as a budget is read back.
fn seconds(ms: Millis) -> u32 {
    u32::try_from((ms + 999) / 1000).unwrap_or(u32::MAX)
}

/// "cn, jp, floor", or "none", for messages that list what may be named.
fn listed(show: &RunOfShow) -> String {
    if show.sides.is_empty() {
        return "none".into();
    }
    show.sides.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
}

/// A side a client names (a request to speak, the chair's correction): one of the plan's.
pub fn known(show: &RunOfShow, side: &str) -> Result<(), Rejection> {
    if show.sides.iter().any(|s| s.id == side) {
        return Ok(());
    }
    Err(Rejection::InvalidField(format!("no side {side:?}; this event's sides are {}", listed(show))))
}

/// Why the plan's sides cannot be: ids of 1-64 letters, digits, '-' or '_', each once, at
/// most [`MAX_SIDES`]; and every side a speaker or a segment's budget names is one of them.
pub fn problem(show: &RunOfShow) -> Option<String> {
    if show.sides.len() > MAX_SIDES {
        return Some(format!("an event has at most {MAX_SIDES} sides"));
    }
    for (k, side) in show.sides.iter().enumerate() {
        let valid = (1..=64).contains(&side.id.len())
            && side.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid || show.sides[..k].iter().any(|other| other.id == side.id) {
            return Some(format!("side id {:?} must be unique and 1-64 letters, digits, '-' or '_'", side.id));
        }
    }
    let has = |id: &str| show.sides.iter().any(|s| s.id == id);
    for segment in &show.segments {
        if let Some(person) = segment.speakers.iter().find(|p| p.side.as_deref().is_some_and(|s| !has(s))) {
            return Some(format!(
                "speaker {:?} of segment {:?} is on side {:?}, which the event does not have (its sides: {})",
                person.name.en,
                segment.id,
                person.side.as_deref().unwrap_or_default(),
                listed(show)
            ));
        }
        if let Some(side) = segment.side_budgets.keys().find(|s| !has(s)) {
            return Some(format!(
                "segment {:?} budgets side {side:?}, which the event does not have (its sides: {})",
                segment.id,
                listed(show)
            ));
        }
    }
    None
}
