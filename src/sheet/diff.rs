//! What an import would change, in words an organizer checks before applying it.

use std::collections::{BTreeMap, HashSet};

use chrono::TimeZone;

use super::write::serde_name;
use crate::domain::show::{PlannedCue, RunOfShow, Segment, Speaker};
use crate::domain::text::Localized;
use crate::domain::Millis;

/// One line per difference from `old` to `new`: the event's fields, then segments removed,
/// added and moved, then what changed inside the segments both have, in `new`'s order.
/// Empty when the plans are the same; planned times that follow from durations are not
/// listed again.
pub fn differences(old: &RunOfShow, new: &RunOfShow) -> Vec<String> {
    let mut out = Vec::new();
    event(old, new, &mut out);
    let old_ids: Vec<&str> = old.segments.iter().map(|s| s.id.as_str()).collect();
    let new_ids: Vec<&str> = new.segments.iter().map(|s| s.id.as_str()).collect();
    for id in old_ids.iter().filter(|id| !new_ids.contains(id)) {
        out.push(format!("- segment {id:?}"));
    }
    for (k, segment) in new.segments.iter().enumerate().filter(|(_, s)| !old_ids.contains(&s.id.as_str())) {
        let place = match k.checked_sub(1) {
            Some(before) => format!("after {:?}", new_ids[before]),
            None => "first".to_owned(),
        };
        out.push(format!(
            "+ segment {:?} ({}, {} min) {place}",
            segment.id,
            serde_name(segment.kind),
            minutes(segment.duration_ms)
        ));
    }
    moved(&old_ids, &new_ids, &mut out);
    for segment in &new.segments {
        if let Some(before) = old.segments.iter().find(|s| s.id == segment.id) {
            changed(before, segment, &mut out);
        }
    }
    polls(old, new, &mut out);
    out
}

/// Prepared polls removed, added and changed. A poll removed from the plan stays in the
/// event as it is; one changed changes only while it has not been opened.
fn polls(old: &RunOfShow, new: &RunOfShow, out: &mut Vec<String>) {
    let find = |plan: &RunOfShow, id: &str| plan.prepared_polls.iter().find(|p| p.id == id).cloned();
    for poll in old.prepared_polls.iter().filter(|p| find(new, &p.id).is_none()) {
        out.push(format!("- poll {:?}", poll.id));
    }
    for poll in &new.prepared_polls {
        match find(old, &poll.id) {
            None => out.push(format!("+ poll {:?} ({} options)", poll.id, poll.options.len())),
            Some(before) if before != *poll => out.push(format!("~ poll {:?}", poll.id)),
            Some(_) => {}
        }
    }
}

fn minutes(ms: Millis) -> Millis {
    ms / 60_000
}

fn local(plan: &RunOfShow) -> String {
    let zone: chrono_tz::Tz = plan.event.time_zone.parse().unwrap_or(chrono_tz::UTC);
    zone.timestamp_millis_opt(plan.event.planned_start)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn event(old: &RunOfShow, new: &RunOfShow, out: &mut Vec<String>) {
    localized("event", "title", &old.event.title, &new.event.title, out);
    localized("event", "venue", &old.event.venue, &new.event.venue, out);
    if old.event.time_zone != new.event.time_zone {
        out.push(format!("~ event time zone {} → {}", old.event.time_zone, new.event.time_zone));
    }
    let (before, after) = (local(old), local(new));
    if before != after {
        // The day only when it changes: a sheet moves the start within the day.
        let same_day = before.get(..10) == after.get(..10);
        let show = |t: &str| if same_day { t.get(11..).unwrap_or(t).to_owned() } else { t.to_owned() };
        out.push(format!("~ event start {} → {}", show(&before), show(&after)));
    }
    if old.sides != new.sides {
        let ids = |plan: &RunOfShow| plan.sides.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ");
        out.push(format!("~ event sides [{}] → [{}]", ids(old), ids(new)));
    }
}

fn localized(what: &str, field: &str, old: &Localized, new: &Localized, out: &mut Vec<String>) {
    for (lang, a, b) in [("en", &old.en, &new.en), ("zh", &old.zh, &new.zh), ("ja", &old.ja, &new.ja)] {
        if a != b {
            out.push(format!("~ {what} {field} {lang}: {a:?} → {b:?}"));
        }
    }
}

/// The segments both plans have that are out of their old order: those outside the
/// longest run both orders share, keeping the earlier ones in place when either would do.
fn moved(old: &[&str], new: &[&str], out: &mut Vec<String>) {
    let common_old: Vec<&str> = old.iter().copied().filter(|id| new.contains(id)).collect();
    let common_new: Vec<&str> = new.iter().copied().filter(|id| old.contains(id)).collect();
    let kept = longest_common(&common_old, &common_new);
    for (k, id) in common_new.iter().enumerate().filter(|(_, id)| !kept.contains(*id)) {
        match (common_new.get(k + 1), k.checked_sub(1).map(|p| common_new[p])) {
            (Some(next), _) => out.push(format!("moved {id:?} before {next:?}")),
            (None, Some(previous)) => out.push(format!("moved {id:?} after {previous:?}")),
            (None, None) => {}
        }
    }
}

fn longest_common<'a>(a: &[&'a str], b: &[&'a str]) -> HashSet<&'a str> {
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            table[i][j] = if a[i] == b[j] { table[i + 1][j + 1] + 1 } else { table[i + 1][j].max(table[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut kept) = (0, 0, HashSet::new());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            kept.insert(a[i]);
            i += 1;
            j += 1;
        } else if table[i + 1][j] > table[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    kept
}

fn optional<T: PartialEq + std::fmt::Debug>(what: String, old: &Option<T>, new: &Option<T>, out: &mut Vec<String>) {
    if old != new {
        let show = |v: &Option<T>| v.as_ref().map_or("none".to_owned(), |v| format!("{v:?}"));
        out.push(format!("{what}: {} → {}", show(old), show(new)));
    }
}

fn changed(old: &Segment, new: &Segment, out: &mut Vec<String>) {
    let at = format!("{:?}", new.id);
    if old.kind != new.kind {
        out.push(format!("~ {at} kind {} → {}", serde_name(old.kind), serde_name(new.kind)));
    }
    if old.duration_ms != new.duration_ms {
        out.push(format!("~ {at} duration {} → {} min", minutes(old.duration_ms), minutes(new.duration_ms)));
    }
    localized(&at, "title", &old.title, &new.title, out);
    match (&old.chair, &new.chair) {
        (Some(a), Some(b)) => localized(&at, "chair", a, b, out),
        (a, b) => optional(format!("~ {at} chair"), &a.as_ref().map(|c| &c.en), &b.as_ref().map(|c| &c.en), out),
    }
    speakers(&at, &old.speakers, &new.speakers, out);
    cues(&at, &old.cues, &new.cues, out);
    if old.av_notes != new.av_notes {
        out.push(format!("~ {at} av notes: {:?} → {:?}", old.av_notes, new.av_notes));
    }
    if old.warning_ms != new.warning_ms {
        out.push(format!("~ {at} warning {} → {} s", old.warning_ms / 1000, new.warning_ms / 1000));
    }
    if old.danger_ms != new.danger_ms {
        out.push(format!("~ {at} danger {} → {} s", old.danger_ms / 1000, new.danger_ms / 1000));
    }
    let limit = |ms: Option<Millis>| ms.map(|ms| format!("{} min", minutes(ms)));
    optional(format!("~ {at} speaking limit"), &limit(old.speaking_limit_ms), &limit(new.speaking_limit_ms), out);
    optional(format!("~ {at} join url"), &old.join_url, &new.join_url, out);
    if old.side_budgets != new.side_budgets {
        let words = |budgets: &BTreeMap<String, Millis>| {
            let list: Vec<String> = budgets.iter().map(|(side, ms)| format!("{side} {} s", ms / 1000)).collect();
            if list.is_empty() {
                "none".to_owned()
            } else {
                list.join(", ")
            }
        };
        out.push(format!("~ {at} side budgets: {} → {}", words(&old.side_budgets), words(&new.side_budgets)));
    }
}

/// Speakers are the same person by id, or by English name in plans from before ids.
fn same_person(a: &Speaker, b: &Speaker) -> bool {
    if a.id.is_empty() || b.id.is_empty() {
        a.name.en == b.name.en
    } else {
        a.id == b.id
    }
}

fn speakers(at: &str, old: &[Speaker], new: &[Speaker], out: &mut Vec<String>) {
    let mut list = Vec::new();
    for person in new.iter().filter(|p| !old.iter().any(|o| same_person(o, p))) {
        list.push(format!("+ {:?}", person.name.en));
    }
    for person in old.iter().filter(|o| !new.iter().any(|p| same_person(o, p))) {
        list.push(format!("- {:?}", person.name.en));
    }
    if !list.is_empty() {
        out.push(format!("~ {at} speakers: {}", list.join(", ")));
    }
    let kept_old: Vec<&Speaker> = old.iter().filter(|o| new.iter().any(|p| same_person(o, p))).collect();
    let kept_new: Vec<&Speaker> = new.iter().filter(|p| old.iter().any(|o| same_person(o, p))).collect();
    if kept_old.iter().zip(&kept_new).any(|(a, b)| !same_person(a, b)) {
        out.push(format!("~ {at} speakers reordered"));
    }
    for b in kept_new {
        let Some(a) = old.iter().find(|o| same_person(o, b)) else { continue };
        let who = format!("{at} speaker {:?}", b.name.en);
        localized(&who, "name", &a.name, &b.name, out);
        let mins = |p: &Speaker| p.duration_ms.map(|ms| format!("{} min", minutes(ms)));
        optional(format!("~ {who} minutes"), &mins(a), &mins(b), out);
        optional(format!("~ {who} mode"), &a.mode.map(serde_name), &b.mode.map(serde_name), out);
        optional(format!("~ {who} language"), &a.lang.map(serde_name), &b.lang.map(serde_name), out);
        optional(format!("~ {who} side"), &a.side, &b.side, out);
        for (field, x, y) in [("affiliation", &a.affiliation, &b.affiliation), ("topic", &a.topic, &b.topic)] {
            match (x, y) {
                (Some(x), Some(y)) => localized(&who, field, x, y, out),
                _ => optional(format!("~ {who} {field}"), &x.as_ref().map(|t| &t.en), &y.as_ref().map(|t| &t.en), out),
            }
        }
    }
}

fn cue_words(cue: &PlannedCue) -> String {
    let target = match &cue.target {
        crate::domain::cues::CueTarget::Position(position) => serde_name(position),
        crate::domain::cues::CueTarget::Person { person } => person.clone(),
    };
    format!("{target}: {}", cue.text.en)
}

fn cues(at: &str, old: &[PlannedCue], new: &[PlannedCue], out: &mut Vec<String>) {
    if old == new {
        return;
    }
    let mut list = Vec::new();
    for cue in new.iter().filter(|c| !old.contains(c)) {
        list.push(format!("+ {:?}", cue_words(cue)));
    }
    for cue in old.iter().filter(|c| !new.contains(c)) {
        list.push(format!("- {:?}", cue_words(cue)));
    }
    if list.is_empty() {
        out.push(format!("~ {at} cues reordered"));
    } else {
        out.push(format!("~ {at} cues: {}", list.join(", ")));
    }
}
