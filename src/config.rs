//! Typed settings: the server file (config/default.toml, overridable from the command
//! line) and the event files in its events directory, turned into runs of show.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::Deserialize;

use crate::domain::automation::{self, Automation, Destinations};
use crate::domain::cues::CueTarget;
use crate::domain::notes::{self, NotePreset};
use crate::domain::plan::{self, fresh_speaker_id};
use crate::domain::polls::PollDef;
use crate::domain::questions::QaMode;
use crate::domain::queue::EVENT_QUEUE;
use crate::domain::screens::{self, ShortLink};
use crate::domain::show::{
    channels_problem, Branding, Channel, CuePreset, EventInfo, PlannedCue, RunOfShow, Segment, SegmentKind, Speaker,
};
use crate::domain::sides::{self, SideInput};
use crate::domain::text::{DisplayName, Lang, Localized, Mode};
use crate::domain::{Millis, Role};
use crate::limits::Limits;

/// The server's settings, as read from its TOML file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    /// Fixed tokens per event and role. Roles left out get a generated token, kept in
    /// the data dir so that it survives restarts.
    #[serde(default)]
    pub tokens: HashMap<String, HashMap<Role, String>>,
    #[serde(default)]
    pub limits: Limits,
    /// Per event: a code attendees must also give, for events that are not open to anyone
    /// holding the attendee link.
    #[serde(default)]
    pub attendee_codes: HashMap<String, String>,
    /// Join a cluster of hub nodes on NATS JetStream; without it, the embedded store.
    #[serde(default)]
    pub cluster: Option<ClusterSettings>,
}

/// Where the cluster's NATS servers are, and how many copies JetStream keeps.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// `nats://host:4222`, comma-separated for several servers.
    pub urls: String,
    /// Copies of each stream and bucket: 1 for one NATS server, 3 for a cluster of three.
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// The venue, where the streams are and every command is decided (any cluster without a
    /// cloud too), or the cloud, which mirrors the venue and sends its pages' commands there.
    #[serde(default)]
    pub role: Site,
    /// The venue's JetStream domain, which a cloud node mirrors.
    #[serde(default = "default_venue_domain")]
    pub venue_domain: String,
}

impl ClusterSettings {
    /// The cluster at `urls`, with the other settings as `configured` has them.
    pub fn at(urls: String, configured: Option<ClusterSettings>) -> ClusterSettings {
        match configured {
            Some(configured) => ClusterSettings { urls, ..configured },
            None => ClusterSettings { urls, replicas: 1, role: Site::Venue, venue_domain: default_venue_domain() },
        }
    }

    /// The venue's domain, on a cloud node.
    pub fn mirrored_domain(&self) -> Option<&str> {
        (self.role == Site::Cloud).then_some(self.venue_domain.as_str())
    }
}

/// A node's side of a hybrid event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Site {
    #[default]
    Venue,
    Cloud,
}

fn default_replicas() -> usize {
    1
}

fn default_venue_domain() -> String {
    "venue".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    /// The address people type, when the server sits behind a proxy; printed URLs use it.
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    pub events_dir: PathBuf,
    /// The rooms token, which lists, creates and archives events; generated once and kept
    /// in the data dir when not given.
    #[serde(default)]
    pub organizer_token: Option<String>,
    /// Where OSC commands are received (UDP); off when not given.
    #[serde(default)]
    pub osc_bind: Option<SocketAddr>,
}

impl Settings {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let settings: Settings =
            toml::from_str(&text).with_context(|| format!("invalid settings in {}", path.display()))?;
        Destinations::parse(&settings.limits.automation_destinations)
            .map_err(|e| anyhow::anyhow!("invalid settings in {}: {e}", path.display()))?;
        Ok(settings)
    }
}

/// An event file: `[event]` and its `[[segments]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventFile {
    event: EventSection,
    segments: Vec<SegmentSection>,
    #[serde(default)]
    cue_presets: Vec<CuePreset>,
    /// The notes the crew and speakers send the chair with one tap: `[[note_presets]] id, text`.
    #[serde(default)]
    note_presets: Vec<NotePreset>,
    /// Unattended screens' short links: `[[short_links]] id, page, name, view`.
    #[serde(default)]
    short_links: Vec<ShortLink>,
    #[serde(default)]
    automations: Vec<Automation>,
    /// Polls prepared for the day: `[[polls]]` with `id`, `question`, `options`, ….
    #[serde(default)]
    polls: Vec<PollDef>,
    /// Whom people speak for: `[[sides]] id, name, budget_s`.
    #[serde(default)]
    sides: Vec<SideInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventSection {
    /// By default the file's name without `.toml`.
    id: Option<String>,
    title: Localized,
    venue: Localized,
    time_zone: String,
    #[serde(default = "every_language")]
    languages: Vec<Lang>,
    /// Held in the hall and online at once: what this hub is for.
    #[serde(default = "yes")]
    hybrid: bool,
    /// Without a date the event is planned for the day it is first loaded.
    date: Option<NaiveDate>,
    start: NaiveTime,
    /// Seconds before an unanswered standby is flagged on the console.
    #[serde(default = "default_standby_alert_s")]
    standby_alert_s: u32,
    /// How the event takes written questions: "off", "open" or "moderated".
    #[serde(default)]
    questions: QaMode,
    /// The logo and colours of the stage and hall screens.
    branding: Option<Branding>,
}

fn every_language() -> Vec<Lang> {
    vec![Lang::Zh, Lang::Ja, Lang::En]
}

fn yes() -> bool {
    true
}

fn default_standby_alert_s() -> u32 {
    10
}

fn default_warning_s() -> u32 {
    120
}

fn default_danger_s() -> u32 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentSection {
    id: String,
    kind: SegmentKind,
    title: Localized,
    chair: Option<Localized>,
    #[serde(default)]
    speakers: Vec<SpeakerSection>,
    /// Planned local start; by default the end of the previous segment.
    start: Option<NaiveTime>,
    duration_min: u32,
    /// Speaking time for each person called from this segment's queue.
    speaking_limit_min: Option<u32>,
    /// Remaining seconds at which the stage countdown turns amber, then red.
    #[serde(default = "default_warning_s")]
    warning_s: u32,
    #[serde(default = "default_danger_s")]
    danger_s: u32,
    #[serde(default)]
    av_notes: String,
    /// The meeting link for remote speakers (http or https).
    join_url: Option<String>,
    #[serde(default)]
    cues: Vec<CueSection>,
    /// Interpretation channels: `{ channel = 1, from = "zh", to = "ja", listen_url = "…" }`.
    #[serde(default)]
    interpretation: Vec<Channel>,
    /// How this segment takes written questions, when not as the event does.
    questions: Option<QaMode>,
    /// Each side's floor time in the segment, in seconds: `{ cn = 600, jp = 600 }`.
    #[serde(default)]
    side_budgets: BTreeMap<String, u32>,
}

/// A planned cue: its own text, or a preset's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CueSection {
    target: Option<CueTarget>,
    text: Option<Localized>,
    preset: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpeakerSection {
    /// Stable across plan edits; by default `{segment id}-{n}`.
    id: Option<String>,
    name: Localized,
    affiliation: Option<Localized>,
    topic: Option<Localized>,
    mode: Option<Mode>,
    lang: Option<Lang>,
    duration_min: Option<u32>,
    /// The id of the side they speak for.
    side: Option<String>,
}

const MINUTE: Millis = 60_000;

/// The events of an events directory: those whose files are good, and each file that is
/// not, with why.
pub struct LoadedEvents {
    pub events: Vec<RunOfShow>,
    pub failed: Vec<(PathBuf, String)>,
}

/// Reads every `*.toml` in `dir` as an event, in file-name order. An event whose file
/// gives no date is planned for the date `now` falls on in its time zone. A bad file, or
/// a second file with an id already taken, keeps only its own event from starting.
pub fn load_events(dir: &Path, now: DateTime<Utc>) -> anyhow::Result<LoadedEvents> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the events directory {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    let mut loaded = LoadedEvents { events: Vec::new(), failed: Vec::new() };
    for path in paths {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        let parsed = std::fs::read_to_string(&path)
            .map_err(anyhow::Error::from)
            .and_then(|text| parse_event_file(&text, now, Some(&stem)));
        match parsed {
            Ok(show) if loaded.events.iter().any(|e| e.event.id == show.event.id) => {
                let why = format!("another event file already has the id {:?}", show.event.id);
                loaded.failed.push((path, why));
            }
            Ok(show) => loaded.events.push(show),
            Err(error) => loaded.failed.push((path, format!("{error:#}"))),
        }
    }
    Ok(loaded)
}

/// Parses one event file into a run of show with absolute planned times.
pub fn parse_event(text: &str, now: DateTime<Utc>) -> anyhow::Result<RunOfShow> {
    parse_event_file(text, now, None)
}

/// Parses an event file whose `[event] id`, when absent, is `default_id` (its file name).
/// The result is checked as a plan edit is: the same limits and the one text policy.
pub fn parse_event_file(text: &str, now: DateTime<Utc>, default_id: Option<&str>) -> anyhow::Result<RunOfShow> {
    let file: EventFile = toml::from_str(text)?;
    let section = file.event;
    let id = section.id.or_else(|| default_id.map(str::to_owned)).context("the event needs an id ([event] id)")?;
    if !valid_id(&id) {
        bail!("event id {id:?} must be 1-64 letters, digits, '-' or '_'");
    }
    // Checked before any work per segment, so that an oversized file costs nothing more.
    if file.segments.len() > plan::MAX_SEGMENTS {
        bail!("an event has at most {} segments, not {}", plan::MAX_SEGMENTS, file.segments.len());
    }
    if let Some(s) =
        file.segments.iter().find(|s| s.speakers.len() > plan::MAX_SPEAKERS || s.cues.len() > plan::MAX_CUES)
    {
        bail!("segment {:?}: at most {} speakers and {} cues", s.id, plan::MAX_SPEAKERS, plan::MAX_CUES);
    }
    if file.cue_presets.len() > MAX_CUE_PRESETS {
        bail!("an event has at most {MAX_CUE_PRESETS} cue presets");
    }
    if file.note_presets.len() > notes::MAX_NOTE_PRESETS {
        bail!("an event has at most {} note presets", notes::MAX_NOTE_PRESETS);
    }
    if file.sides.len() > sides::MAX_SIDES {
        bail!("an event has at most {} sides", sides::MAX_SIDES);
    }
    let zone: chrono_tz::Tz = section.time_zone.parse().map_err(|_| {
        anyhow::anyhow!("unknown time zone {:?}; use an IANA name such as Asia/Shanghai", section.time_zone)
    })?;
    let date = section.date.unwrap_or_else(|| now.with_timezone(&zone).date_naive());
    let at = |time: NaiveTime| -> anyhow::Result<Millis> {
        zone.from_local_datetime(&date.and_time(time))
            .earliest()
            .map(|t| t.timestamp_millis())
            .with_context(|| format!("{date} {time} does not exist in {zone}"))
    };
    if file.segments.is_empty() {
        bail!("an event needs at least one segment");
    }
    automation::checked(&file.automations).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cue_presets = file
        .cue_presets
        .into_iter()
        .map(|p| {
            if !valid_id(&p.id) {
                bail!("cue preset id {:?} must be 1-64 letters, digits, '-' or '_'", p.id);
            }
            let text = plan::cue_text(&p.text).map_err(|e| anyhow::anyhow!("cue preset {:?}: {e}", p.id))?;
            Ok(CuePreset { target: person_target(p.target)?, text, ..p })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut note_ids = HashSet::new();
    let note_presets = file
        .note_presets
        .into_iter()
        .map(|p| {
            if !valid_id(&p.id) || !note_ids.insert(p.id.clone()) {
                bail!("note preset id {:?} must be 1-64 letters, digits, '-' or '_', and unique", p.id);
            }
            let text = plan::cue_text(&p.text).map_err(|e| anyhow::anyhow!("note preset {:?}: {e}", p.id))?;
            Ok(NotePreset { text, ..p })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let short_links = screens::checked(file.short_links).map_err(|e| anyhow::anyhow!("{e}"))?;
    let branding = section.branding.map(Branding::checked).transpose().map_err(|e| anyhow::anyhow!("branding: {e}"))?;
    let planned_start = at(section.start)?;
    let mut cursor = planned_start;
    let mut segments = Vec::with_capacity(file.segments.len());
    for s in file.segments {
        if !valid_id(&s.id) || s.id == EVENT_QUEUE || segments.iter().any(|other: &Segment| other.id == s.id) {
            bail!("segment id {:?} must be unique, not {EVENT_QUEUE:?}, and 1-64 letters, digits, '-' or '_'", s.id);
        }
        let start = s.start.map(at).transpose()?.unwrap_or(cursor);
        let duration_ms = Millis::from(s.duration_min) * MINUTE;
        cursor = start + duration_ms;
        let join_url = s.join_url.map(|url| check_join_url(&s.id, url)).transpose()?;
        if let Some(problem) = channels_problem(&s.interpretation) {
            bail!("segment {:?}: {problem}", s.id);
        }
        let side_budgets =
            sides::segment_budgets(&s.side_budgets).map_err(|e| anyhow::anyhow!("segment {:?}: {e}", s.id))?;
        segments.push(Segment {
            id: s.id,
            kind: s.kind,
            title: s.title,
            chair: s.chair.map(|chair| person_name(chair, "chair")).transpose()?,
            speakers: s
                .speakers
                .into_iter()
                .map(|p| {
                    Ok(Speaker {
                        id: p.id.unwrap_or_default(),
                        name: person_name(p.name, "speaker")?,
                        affiliation: p.affiliation,
                        topic: p.topic,
                        mode: p.mode,
                        lang: p.lang,
                        duration_ms: p.duration_min.map(|m| Millis::from(m) * MINUTE),
                        side: p.side,
                    })
                })
                .collect::<anyhow::Result<_>>()?,
            planned_start: start,
            duration_ms,
            speaking_limit_ms: s.speaking_limit_min.map(|m| Millis::from(m) * MINUTE),
            warning_ms: Millis::from(s.warning_s) * 1000,
            danger_ms: Millis::from(s.danger_s) * 1000,
            av_notes: s.av_notes,
            join_url,
            cues: s.cues.into_iter().map(|c| planned_cue(c, &cue_presets)).collect::<anyhow::Result<_>>()?,
            interpretation: s.interpretation,
            qa: s.questions,
            side_budgets,
        });
    }
    name_speakers(&mut segments)?;
    if let Some(poll) =
        file.polls.iter().find(|p| p.segment.as_ref().is_some_and(|s| segments.iter().all(|g| g.id != *s)))
    {
        bail!("poll {:?}: no segment has id {:?}", poll.id, poll.segment.as_deref().unwrap_or_default());
    }
    let show = RunOfShow {
        event: EventInfo {
            id,
            title: section.title,
            venue: section.venue,
            time_zone: section.time_zone,
            languages: section.languages,
            hybrid: section.hybrid,
            planned_start,
            planned_end: cursor,
            standby_alert_ms: Millis::from(section.standby_alert_s) * 1000,
        },
        segments,
        cue_presets,
        note_presets,
        short_links,
        branding,
        automations: file.automations,
        qa: section.questions,
        prepared_polls: file.polls,
        sides: file.sides.iter().map(SideInput::side).collect::<Result<_, _>>().map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    plan::checked(&show, &show).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Cue presets an event file may hold: the crew's buttons for the whole day.
const MAX_CUE_PRESETS: usize = 100;

/// Checks the speaker ids the file gives, and gives the others the first free
/// `{segment id}-{n}`.
fn name_speakers(segments: &mut [Segment]) -> anyhow::Result<()> {
    let mut taken = HashSet::new();
    for id in segments.iter().flat_map(|s| &s.speakers).map(|p| &p.id).filter(|id| !id.is_empty()) {
        if !valid_id(id) || !taken.insert(id.clone()) {
            bail!("speaker id {id:?} must be unique in the event and 1-64 letters, digits, '-' or '_'");
        }
    }
    for segment in segments {
        for person in segment.speakers.iter_mut().filter(|p| p.id.is_empty()) {
            person.id = fresh_speaker_id(&taken, &segment.id);
            taken.insert(person.id.clone());
        }
    }
    Ok(())
}

/// A person named in the event file, cleaned as a typed name is, so that the programme
/// shows and matches the same name as the one its speaker joins with.
fn person_name(name: Localized, role: &str) -> anyhow::Result<Localized> {
    let clean = |text: &str| match DisplayName::parse(text) {
        Ok(name) => Ok(name.as_str().to_owned()),
        Err(e) => Err(anyhow::anyhow!("the {role} name {text:?} {e}")),
    };
    Ok(Localized { zh: clean(&name.zh)?, ja: clean(&name.ja)?, en: clean(&name.en)? })
}

/// A cue's target from the event file, its person's name cleaned as a typed one is.
fn person_target(target: CueTarget) -> anyhow::Result<CueTarget> {
    target.parse().map_err(|e| anyhow::anyhow!("a cue's person name {e}"))
}

/// Resolves a planned cue against the presets: a preset gives the target and text that the
/// cue does not give itself.
fn planned_cue(cue: CueSection, presets: &[CuePreset]) -> anyhow::Result<PlannedCue> {
    let preset = match &cue.preset {
        Some(id) => Some(presets.iter().find(|p| &p.id == id).with_context(|| format!("no cue preset {id:?}"))?),
        None => None,
    };
    let target = match cue.target {
        Some(target) => person_target(target)?,
        None => preset.map(|p| p.target.clone()).context("a planned cue needs a target")?,
    };
    let text = cue.text.or_else(|| preset.map(|p| p.text.clone())).context("a planned cue needs a text")?;
    Ok(PlannedCue { target, text, preset: cue.preset })
}

/// A meeting link: http(s), without spaces, of a sane length, since pages turn it into a link.
fn check_join_url(segment: &str, url: String) -> anyhow::Result<String> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 500
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        bail!("segment {segment:?}: join_url must be an http(s) link of at most 500 characters, not {url:?}");
    }
    Ok(url)
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests;
