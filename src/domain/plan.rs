//! Live edits of the run of show: each builds a whole new plan from the current one, with
//! the planned times recomputed; checking it against the running show is the caller's.
//! Pure, no I/O.

use std::collections::{BTreeMap, HashSet};

use chrono::{NaiveDate, NaiveTime, TimeZone};
use serde::{Deserialize, Serialize};

use super::cues::CueTarget;
use super::plan_fields::{clean_localized, field, minutes, person_name, MAX_TITLE_CHARS};
use super::polls::checked_polls;
use super::queue::EVENT_QUEUE;
use super::rejection::Rejection;
use super::screens::{self, ShortLink};
use super::show::{
    channels_problem, check_automations, link_ok, Automation, Channel, PlannedCue, RunOfShow, Segment, SegmentKind,
    Side, Speaker,
};
use super::sides::{self, SideInput};
use super::text::{self, Lang, Localized, Mode};
use super::time::Millis;

/// Earlier plans a chair can walk back to with `plan_undo`.
pub const PLAN_UNDO_DEPTH: usize = 16;
pub const MAX_AV_NOTES_CHARS: usize = 2000;
/// The most segments a plan holds, so that a runaway script cannot grow every welcome.
pub const MAX_SEGMENTS: usize = 200;
pub const MAX_SPEAKERS: usize = 50;
pub const MAX_CUES: usize = 50;
/// Cue texts, as a cue sent from the console.
const MAX_CUE_TEXT_CHARS: usize = 140;
const MINUTE: Millis = 60_000;

/// Some languages of a text: those given replace the current ones, the others stay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalizedEdit {
    pub zh: Option<String>,
    pub ja: Option<String>,
    pub en: Option<String>,
}

/// A speaker as a plan edit gives them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeakerInput {
    /// An existing speaker's id keeps them the same person through a rename; a new one is
    /// taken as given; absent, one is made.
    pub id: Option<String>,
    pub name: Localized,
    pub affiliation: Option<Localized>,
    pub topic: Option<Localized>,
    pub mode: Option<Mode>,
    pub lang: Option<Lang>,
    pub minutes: Option<u32>,
    /// The side they speak for: an id of the event's sides.
    pub side: Option<String>,
}

/// A planned cue as a plan edit gives it: its own target and text, or a preset's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CueInput {
    pub target: Option<CueTarget>,
    pub text: Option<Localized>,
    pub preset: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSegment {
    pub plan_version: u64,
    /// The segment the new one follows; absent, it comes first.
    pub after: Option<String>,
    /// The new segment's id (`id` names the command); generated from the kind when absent.
    pub new_segment: Option<String>,
    pub kind: SegmentKind,
    pub title: Localized,
    pub duration_min: u32,
}

/// Any of a segment's fields; those absent stay as they are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSegment {
    pub plan_version: u64,
    pub segment: String,
    pub kind: Option<SegmentKind>,
    pub title: Option<LocalizedEdit>,
    /// An empty name removes the chair.
    pub chair: Option<Localized>,
    /// The whole list, in order.
    pub speakers: Option<Vec<SpeakerInput>>,
    pub duration_min: Option<u32>,
    pub av_notes: Option<String>,
    pub warning_s: Option<u32>,
    pub danger_s: Option<u32>,
    /// 0 removes the limit.
    pub speaking_limit_min: Option<u32>,
    /// An empty link removes it.
    pub join_url: Option<String>,
    /// The whole list of planned cues, in order.
    pub cues: Option<Vec<CueInput>>,
    /// The whole list of interpretation channels.
    pub interpretation: Option<Vec<Channel>>,
    /// The whole map of the sides' budgets in this segment, side id to seconds.
    pub side_budgets: Option<BTreeMap<String, u32>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateEvent {
    pub plan_version: u64,
    pub title: Option<LocalizedEdit>,
    pub venue: Option<LocalizedEdit>,
    /// Local time of the first segment, "HH:MM".
    pub start: Option<String>,
    /// Local date, "YYYY-MM-DD".
    pub date: Option<String>,
    /// IANA name; the local start time and date stay, so the instant moves.
    pub time_zone: Option<String>,
    /// The whole list of sides.
    pub sides: Option<Vec<SideInput>>,
}

/// A plan edit, decoded from its command.
pub enum PlanOp<'a> {
    Add(&'a AddSegment),
    Duplicate {
        segment: &'a str,
        id: Option<&'a str>,
    },
    Remove(&'a str),
    Move {
        segment: &'a str,
        after: Option<&'a str>,
    },
    Update(&'a UpdateSegment),
    Event(&'a UpdateEvent),
    /// A whole new list of segments (an import), under the event's own fields.
    Replace(&'a RunOfShow),
    Automations(&'a [Automation]),
    ShortLinks(&'a [ShortLink]),
}

/// The plan after `op`, with planned starts consecutive from the event's start.
pub fn edited(show: &RunOfShow, op: PlanOp<'_>) -> Result<RunOfShow, Rejection> {
    let mut plan = show.clone();
    match op {
        PlanOp::Add(add) => {
            let id = new_id(&plan, add.new_segment.as_deref(), segment_stem(add.kind))?;
            let at = position_after(&plan, add.after.as_deref())?;
            let segment = Segment {
                id,
                kind: add.kind,
                title: clean_localized(&add.title, "title")?,
                chair: None,
                speakers: Vec::new(),
                planned_start: 0,
                duration_ms: minutes(add.duration_min, "duration_min")?,
                speaking_limit_ms: None,
                warning_ms: 120_000,
                danger_ms: 30_000,
                av_notes: String::new(),
                join_url: None,
                cues: Vec::new(),
                interpretation: Vec::new(),
                qa: None,
                side_budgets: BTreeMap::new(),
            };
            insert(&mut plan, at, segment)?;
        }
        PlanOp::Duplicate { segment, id } => {
            let index = index_of(&plan, segment)?;
            let mut copy = plan.segments[index].clone();
            copy.id = new_id(&plan, id, &copy.id)?;
            // The copy's speakers are other slots for the same people, so other ids.
            let mut taken = speaker_ids(&plan);
            for person in &mut copy.speakers {
                person.id = fresh_speaker_id(&taken, &copy.id);
                taken.insert(person.id.clone());
            }
            insert(&mut plan, index + 1, copy)?;
        }
        PlanOp::Remove(segment) => {
            let index = index_of(&plan, segment)?;
            if plan.segments.len() == 1 {
                return Err(Rejection::InvalidState("the run of show needs at least one segment".into()));
            }
            plan.segments.remove(index);
        }
        PlanOp::Move { segment, after } => {
            if after == Some(segment) {
                return Err(field("a segment cannot follow itself".into()));
            }
            let moved = plan.segments.remove(index_of(&plan, segment)?);
            let at = position_after(&plan, after)?;
            plan.segments.insert(at, moved);
        }
        PlanOp::Update(update) => {
            let index = index_of(&plan, &update.segment)?;
            let others: HashSet<String> = plan
                .segments
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != index)
                .flat_map(|(_, s)| s.speakers.iter().map(|p| p.id.clone()))
                .collect();
            let presets = plan.cue_presets.clone();
            update_segment(&mut plan.segments[index], update, others, &presets)?;
        }
        PlanOp::Event(update) => update_event(&mut plan, update)?,
        PlanOp::Replace(new) => plan = checked(&plan, new)?,
        PlanOp::Automations(automations) => {
            check_automations(automations)?;
            plan.automations = automations.to_vec();
        }
        PlanOp::ShortLinks(links) => plan.short_links = screens::checked(links.to_vec()).map_err(field)?,
    }
    if let Some(problem) = sides::problem(&plan) {
        return Err(field(problem));
    }
    Ok(retimed(plan))
}

/// Planned starts consecutive from the event's start, and its planned end after the last.
pub fn retimed(mut plan: RunOfShow) -> RunOfShow {
    let mut cursor = plan.event.planned_start;
    for segment in &mut plan.segments {
        segment.planned_start = cursor;
        cursor += segment.duration_ms;
    }
    plan.event.planned_end = cursor;
    plan
}

/// `new`'s segments and the event's title, venue, time zone and start, checked as edits
/// are, under `current`'s id, languages and presets: what an import may replace. Speakers
/// without an id get one.
pub fn checked(current: &RunOfShow, new: &RunOfShow) -> Result<RunOfShow, Rejection> {
    if new.segments.is_empty() {
        return Err(Rejection::InvalidState("the run of show needs at least one segment".into()));
    }
    if new.segments.len() > MAX_SEGMENTS {
        return Err(field(format!("the run of show holds at most {MAX_SEGMENTS} segments")));
    }
    let mut plan = RunOfShow { segments: Vec::new(), ..current.clone() };
    let zone = &new.event.time_zone;
    if zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(field(format!("unknown time zone {zone:?}; use an IANA name such as Asia/Shanghai")));
    }
    plan.event.time_zone = zone.clone();
    plan.event.title = clean_localized(&new.event.title, "title")?;
    plan.event.venue = clean_localized(&new.event.venue, "venue")?;
    plan.event.planned_start = new.event.planned_start;
    plan.sides = new.sides.iter().map(clean_side).collect::<Result<_, _>>()?;
    let mut speakers = HashSet::new();
    for segment in &new.segments {
        let id = new_id(&plan, Some(&segment.id), &segment.id)?;
        let minutes_of = |ms: Millis, name: &str| {
            u32::try_from(ms / MINUTE).ok().filter(|m| Millis::from(*m) * MINUTE == ms).map_or_else(
                || Err(field(format!("segment {id:?}: {name} must be whole minutes"))),
                |m| minutes(m, name),
            )
        };
        let mut checked = Segment {
            id: id.clone(),
            title: clean_localized(&segment.title, "title")?,
            chair: segment.chair.as_ref().map(|c| person_name(c, "chair")).transpose()?,
            speakers: Vec::new(),
            duration_ms: minutes_of(segment.duration_ms, "duration_min")?,
            speaking_limit_ms: segment.speaking_limit_ms.map(|ms| minutes_of(ms, "speaking_limit_min")).transpose()?,
            av_notes: String::new(),
            join_url: None,
            cues: Vec::new(),
            interpretation: Vec::new(),
            ..segment.clone()
        };
        let update = UpdateSegment {
            plan_version: 0,
            segment: id,
            kind: None,
            title: None,
            chair: None,
            speakers: Some(segment.speakers.iter().map(SpeakerInput::of).collect()),
            duration_min: None,
            av_notes: Some(segment.av_notes.clone()),
            warning_s: Some(seconds_of(segment.warning_ms)),
            danger_s: Some(seconds_of(segment.danger_ms)),
            speaking_limit_min: None,
            join_url: Some(segment.join_url.clone().unwrap_or_default()),
            cues: Some(segment.cues.iter().map(CueInput::of).collect()),
            // Spreadsheets have no interpretation columns: a segment keeps its channels.
            interpretation: Some(if segment.interpretation.is_empty() {
                current
                    .segments
                    .iter()
                    .find(|s| s.id == segment.id)
                    .map(|s| s.interpretation.clone())
                    .unwrap_or_default()
            } else {
                segment.interpretation.clone()
            }),
            side_budgets: Some(sides::budget_seconds(&segment.side_budgets)),
        };
        update_segment(&mut checked, &update, speakers.clone(), &plan.cue_presets)?;
        speakers.extend(checked.speakers.iter().map(|p| p.id.clone()));
        plan.segments.push(checked);
    }
    plan.qa = new.qa;
    plan.prepared_polls = checked_polls(&new.prepared_polls, |id| plan.segment_index(id).is_some())?;
    match sides::problem(&plan) {
        Some(problem) => Err(field(problem)),
        None => Ok(plan),
    }
}

/// Whole seconds, rounded up so that a threshold is never quietly loosened; out of range
/// stays out of range for the check.
fn seconds_of(ms: Millis) -> u32 {
    u32::try_from((ms + 999) / 1000).unwrap_or(u32::MAX)
}

impl SpeakerInput {
    fn of(speaker: &Speaker) -> Self {
        SpeakerInput {
            id: (!speaker.id.is_empty()).then(|| speaker.id.clone()),
            name: speaker.name.clone(),
            affiliation: speaker.affiliation.clone(),
            topic: speaker.topic.clone(),
            mode: speaker.mode,
            lang: speaker.lang,
            minutes: speaker.duration_ms.map(|ms| u32::try_from(ms.div_euclid(MINUTE)).unwrap_or(u32::MAX)),
            side: speaker.side.clone(),
        }
    }
}

impl CueInput {
    fn of(cue: &PlannedCue) -> Self {
        CueInput { target: Some(cue.target.clone()), text: Some(cue.text.clone()), preset: cue.preset.clone() }
    }
}

fn speaker_ids(plan: &RunOfShow) -> HashSet<String> {
    plan.segments.iter().flat_map(|s| &s.speakers).map(|p| p.id.clone()).collect()
}

/// The first of `segment-1`, `segment-2`, … no speaker has.
pub fn fresh_speaker_id(taken: &HashSet<String>, segment: &str) -> String {
    let stem: String = segment.chars().take(56).collect();
    (1..).map(|n| format!("{stem}-{n}")).find(|id| !taken.contains(id)).unwrap_or_default()
}

fn index_of(plan: &RunOfShow, id: &str) -> Result<usize, Rejection> {
    plan.segment_index(id).ok_or_else(|| field(format!("no segment has id {id:?}")))
}

/// Where a segment placed after `after` goes: first when `after` is absent.
fn position_after(plan: &RunOfShow, after: Option<&str>) -> Result<usize, Rejection> {
    after.map_or(Ok(0), |id| Ok(index_of(plan, id)? + 1))
}

fn insert(plan: &mut RunOfShow, at: usize, segment: Segment) -> Result<(), Rejection> {
    if plan.segments.len() >= MAX_SEGMENTS {
        return Err(Rejection::InvalidState(format!("the run of show holds at most {MAX_SEGMENTS} segments")));
    }
    plan.segments.insert(at, segment);
    Ok(())
}

fn segment_stem(kind: SegmentKind) -> &'static str {
    match kind {
        SegmentKind::Ceremony => "ceremony",
        SegmentKind::Speech => "speech",
        SegmentKind::Keynote => "keynote",
        SegmentKind::Panel => "panel",
        SegmentKind::Qa => "qa",
        SegmentKind::Break => "break",
        SegmentKind::Closing => "closing",
    }
}

/// Ids as the event file's: 1-64 letters, digits, '-' or '_', unique and not the event
/// queue's name.
fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The id given, checked, or the first free `stem-2`, `stem-3`, … when none is.
fn new_id(plan: &RunOfShow, given: Option<&str>, stem: &str) -> Result<String, Rejection> {
    let taken = |id: &str| id == EVENT_QUEUE || plan.segment_index(id).is_some();
    if let Some(id) = given {
        if !valid_id(id) || taken(id) {
            return Err(field(format!(
                "segment id {id:?} must be unique, not {EVENT_QUEUE:?}, and 1-64 letters, digits, '-' or '_'"
            )));
        }
        return Ok(id.to_owned());
    }
    // Short enough that the number still fits in 64 characters.
    let stem: String = stem.chars().take(56).collect();
    let mut n = 2;
    loop {
        let id = format!("{stem}-{n}");
        if !taken(&id) {
            return Ok(id);
        }
        n += 1;
    }
}

fn merge_localized(current: &Localized, edit: &LocalizedEdit, what: &str) -> Result<Localized, Rejection> {
    let merged = Localized {
        zh: edit.zh.clone().unwrap_or_else(|| current.zh.clone()),
        ja: edit.ja.clone().unwrap_or_else(|| current.ja.clone()),
        en: edit.en.clone().unwrap_or_else(|| current.en.clone()),
    };
    clean_localized(&merged, what)
}

fn speaker(input: &SpeakerInput, id: String) -> Result<Speaker, Rejection> {
    Ok(Speaker {
        id,
        name: person_name(&input.name, "speaker")?,
        affiliation: input.affiliation.as_ref().map(|a| clean_localized(a, "affiliation")).transpose()?,
        topic: input.topic.as_ref().map(|t| clean_localized(t, "topic")).transpose()?,
        mode: input.mode,
        lang: input.lang,
        duration_ms: input.minutes.map(|m| minutes(m, "minutes")).transpose()?,
        side: input.side.clone(),
    })
}

/// The segment's speakers as listed, each id checked against `taken` (the other
/// segments' speakers) and the list itself, or made.
fn speakers(segment: &str, inputs: &[SpeakerInput], mut taken: HashSet<String>) -> Result<Vec<Speaker>, Rejection> {
    if inputs.len() > MAX_SPEAKERS {
        return Err(field(format!("a segment has at most {MAX_SPEAKERS} speakers")));
    }
    for id in inputs.iter().filter_map(|p| p.id.as_deref()) {
        if !valid_id(id) || !taken.insert(id.to_owned()) {
            return Err(field(format!(
                "speaker id {id:?} must be unique in the event and 1-64 letters, digits, '-' or '_'"
            )));
        }
    }
    inputs
        .iter()
        .map(|input| {
            let id = input.id.clone().unwrap_or_else(|| fresh_speaker_id(&taken, segment));
            taken.insert(id.clone());
            speaker(input, id)
        })
        .collect()
}

/// A planned cue resolved against the presets: a preset gives what the cue does not.
fn planned_cue(input: &CueInput, presets: &[super::show::CuePreset]) -> Result<PlannedCue, Rejection> {
    let preset = match &input.preset {
        Some(id) => Some(presets.iter().find(|p| &p.id == id).ok_or_else(|| field(format!("no cue preset {id:?}")))?),
        None => None,
    };
    let target = match input.target.clone().or_else(|| preset.map(|p| p.target.clone())) {
        Some(target) => target.parse().map_err(|e| field(format!("cue target name {e}")))?,
        None => return Err(field("a planned cue needs a target or a preset".into())),
    };
    let text = input
        .text
        .as_ref()
        .or(preset.map(|p| &p.text))
        .ok_or_else(|| field("a planned cue needs a text or a preset".into()))?;
    Ok(PlannedCue { target, text: cue_text(text)?, preset: input.preset.clone() })
}

/// A cue's text in every language, under the text policy, as a cue or a preset holds it.
pub fn cue_text(text: &Localized) -> Result<Localized, Rejection> {
    let clean = |t: &str| text::clean(t, MAX_CUE_TEXT_CHARS).map_err(|e| field(format!("cue text {e}")));
    Ok(Localized { zh: clean(&text.zh)?, ja: clean(&text.ja)?, en: clean(&text.en)? })
}

fn update_segment(
    segment: &mut Segment,
    update: &UpdateSegment,
    taken: HashSet<String>,
    presets: &[super::show::CuePreset],
) -> Result<(), Rejection> {
    if let Some(kind) = update.kind {
        segment.kind = kind;
    }
    if let Some(title) = &update.title {
        segment.title = merge_localized(&segment.title, title, "title")?;
    }
    if let Some(chair) = &update.chair {
        let empty = text::clean_optional(&chair.en, MAX_TITLE_CHARS).ok().flatten().is_none();
        segment.chair = if empty { None } else { Some(person_name(chair, "chair")?) };
    }
    if let Some(inputs) = &update.speakers {
        segment.speakers = speakers(&segment.id, inputs, taken)?;
    }
    if let Some(cues) = &update.cues {
        if cues.len() > MAX_CUES {
            return Err(field(format!("a segment has at most {MAX_CUES} planned cues")));
        }
        segment.cues = cues.iter().map(|cue| planned_cue(cue, presets)).collect::<Result<_, _>>()?;
    }
    if let Some(duration) = update.duration_min {
        segment.duration_ms = minutes(duration, "duration_min")?;
    }
    if let Some(notes) = &update.av_notes {
        segment.av_notes = text::clean_optional(notes, MAX_AV_NOTES_CHARS)
            .map_err(|e| field(format!("av_notes {e}")))?
            .unwrap_or_default();
    }
    let seconds = |s: u32, name: &str| {
        (s <= 3600).then(|| Millis::from(s) * 1000).ok_or_else(|| field(format!("{name} must be 0-3600")))
    };
    if let Some(warning) = update.warning_s {
        segment.warning_ms = seconds(warning, "warning_s")?;
    }
    if let Some(danger) = update.danger_s {
        segment.danger_ms = seconds(danger, "danger_s")?;
    }
    if let Some(limit) = update.speaking_limit_min {
        segment.speaking_limit_ms = (limit > 0).then(|| minutes(limit, "speaking_limit_min")).transpose()?;
    }
    if let Some(url) = &update.join_url {
        segment.join_url = match url.as_str() {
            "" => None,
            url if link_ok(url) => Some(url.to_owned()),
            _ => return Err(field("join_url must be an http(s) link of at most 500 characters".into())),
        };
    }
    if let Some(channels) = &update.interpretation {
        if let Some(problem) = channels_problem(channels) {
            return Err(field(problem));
        }
        segment.interpretation = channels.clone();
    }
    if let Some(budgets) = &update.side_budgets {
        segment.side_budgets = sides::segment_budgets(budgets)?;
    }
    Ok(())
}

/// A side with its name cleaned as every title is.
fn clean_side(side: &Side) -> Result<Side, Rejection> {
    Ok(Side { name: clean_localized(&side.name, "side name")?, ..side.clone() })
}

fn update_event(plan: &mut RunOfShow, update: &UpdateEvent) -> Result<(), Rejection> {
    if let Some(given) = &update.sides {
        plan.sides = given.iter().map(|input| clean_side(&input.side()?)).collect::<Result<_, _>>()?;
    }
    let event = &mut plan.event;
    if let Some(title) = &update.title {
        event.title = merge_localized(&event.title, title, "title")?;
    }
    if let Some(venue) = &update.venue {
        event.venue = merge_localized(&event.venue, venue, "venue")?;
    }
    if update.start.is_none() && update.date.is_none() && update.time_zone.is_none() {
        return Ok(());
    }
    let zone_of = |name: &str| {
        name.parse::<chrono_tz::Tz>()
            .map_err(|_| field(format!("unknown time zone {name:?}; use an IANA name such as Asia/Shanghai")))
    };
    let local = zone_of(&event.time_zone)?
        .timestamp_millis_opt(event.planned_start)
        .single()
        .map(|t| t.naive_local())
        .ok_or_else(|| field("the event's planned start is out of range".into()))?;
    let time = match &update.start {
        Some(text) => NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| field("start must be HH:MM".into()))?,
        None => local.time(),
    };
    let date = match &update.date {
        Some(text) => {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| field("date must be YYYY-MM-DD".into()))?
        }
        None => local.date(),
    };
    let name = update.time_zone.as_deref().unwrap_or(&event.time_zone).to_owned();
    let start = zone_of(&name)?
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .ok_or_else(|| field(format!("{date} {time} does not exist in {name}")))?;
    event.planned_start = start.timestamp_millis();
    event.time_zone = name;
    Ok(())
}
