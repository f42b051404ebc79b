//! The planned run of show: the event, its ordered segments and the automations it runs,
//! with the checks of their shape; pure data, no I/O. When automations fire and what they
//! send is `automation`'s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::actor::CrewPosition;
use super::cues::CueTarget;
use super::notes::NotePreset;
use super::polls::PollDef;
use super::questions::QaMode;
use super::rejection::Rejection;
use super::screens::ShortLink;
use super::text::{match_key, Lang, Localized, Mode};
use super::time::Millis;

/// What a segment is, as a programme lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    Ceremony,
    Speech,
    Keynote,
    Panel,
    Qa,
    Break,
    Closing,
}

/// The event as a whole: what attendees see in every header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInfo {
    pub id: String,
    pub title: Localized,
    pub venue: Localized,
    /// IANA name, so that every page shows planned times in the venue's local time.
    pub time_zone: String,
    pub languages: Vec<Lang>,
    pub hybrid: bool,
    pub planned_start: Millis,
    pub planned_end: Millis,
    /// A standby left unanswered this long is flagged on the console.
    pub standby_alert_ms: Millis,
}

/// The event's look on its screens: a logo (an image as a `data:` URL, which the pages'
/// content policy admits) and two colours (`#rrggbb`): the screens' background and accent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    pub logo: Option<String>,
    pub background: Option<String>,
    pub accent: Option<String>,
}

/// A logo at most, as its `data:` URL: a few kilobytes of SVG or PNG, in every welcome.
pub const MAX_LOGO_BYTES: usize = 64 * 1024;

impl Branding {
    /// The branding when its logo is an image `data:` URL within [`MAX_LOGO_BYTES`] and its
    /// colours are `#rgb` or `#rrggbb`.
    pub fn checked(self) -> Result<Self, String> {
        if let Some(logo) = &self.logo {
            let image =
                ["png", "jpeg", "webp", "svg+xml"].iter().any(|t| logo.starts_with(&format!("data:image/{t};base64,")));
            if !image || logo.len() > MAX_LOGO_BYTES {
                return Err(format!(
                    "logo must be a data:image/png, jpeg, webp or svg+xml ;base64 URL of at most {MAX_LOGO_BYTES} bytes"
                ));
            }
        }
        for (what, colour) in [("background", &self.background), ("accent", &self.accent)] {
            let hex = colour.as_deref().map(|c| c.strip_prefix('#').unwrap_or("-"));
            if hex.is_some_and(|h| !matches!(h.len(), 3 | 6) || !h.chars().all(|c| c.is_ascii_hexdigit())) {
                return Err(format!("{what} must be a colour as #rgb or #rrggbb"));
            }
        }
        Ok(self)
    }
}

/// Someone on the programme of a segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Speaker {
    /// Stable across renames and moves, so that an edit never changes who is speaking.
    /// Empty only in plans stored before speakers had ids; those match by name.
    #[serde(default)]
    pub id: String,
    pub name: Localized,
    pub affiliation: Option<Localized>,
    /// The title of their talk, when it has one.
    pub topic: Option<Localized>,
    /// How they take part, when the programme knows it (a remote panellist, say).
    pub mode: Option<Mode>,
    /// The language they speak in, when the programme knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
    pub duration_ms: Option<Millis>,
    /// The side they speak for (an id of the plan's `sides`), when the event has sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
}

/// A side of a bilateral event (a delegation, the floor): whom people speak for, so that
/// the floor can be shared fairly between the sides and held to their budgets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    pub id: String,
    pub name: Localized,
    /// The side's floor time for the whole event, when it has a budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_ms: Option<Millis>,
}

/// An interpretation channel of a segment: the booth's channel number (what a headset is
/// tuned to), from which language into which, and where remote attendees listen to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub channel: u16,
    pub from: Lang,
    pub to: Lang,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_url: Option<String>,
}

/// The most channels a segment has.
pub const MAX_CHANNELS: usize = 16;

/// Why a segment's channels cannot be: numbers 1–99, each once, into another language,
/// links http(s).
pub fn channels_problem(channels: &[Channel]) -> Option<String> {
    if channels.len() > MAX_CHANNELS {
        return Some(format!("a segment has at most {MAX_CHANNELS} interpretation channels"));
    }
    for (k, c) in channels.iter().enumerate() {
        if !(1..=99).contains(&c.channel) || channels[..k].iter().any(|o| o.channel == c.channel) {
            return Some(format!("interpretation channel numbers are 1-99, each once, not {}", c.channel));
        }
        if c.from == c.to {
            return Some(format!("channel {} interprets into the language it hears", c.channel));
        }
        if c.listen_url.as_deref().is_some_and(|url| !link_ok(url)) {
            return Some(format!(
                "channel {}: listen_url must be an http(s) link of at most 500 characters",
                c.channel
            ));
        }
    }
    None
}

/// A link pages show: http(s), without spaces, of a sane length.
pub fn link_ok(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 500
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// One item of the run of show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub id: String,
    pub kind: SegmentKind,
    pub title: Localized,
    pub chair: Option<Localized>,
    pub speakers: Vec<Speaker>,
    pub planned_start: Millis,
    pub duration_ms: Millis,
    /// How long each person called from the queue may speak, when limited.
    pub speaking_limit_ms: Option<Millis>,
    /// The stage countdown turns amber at this much remaining time, and red at `danger_ms`.
    pub warning_ms: Millis,
    pub danger_ms: Millis,
    pub av_notes: String,
    /// The meeting link remote speakers join by; pages show it to the person called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_url: Option<String>,
    /// Cues planned for this segment, fired from the console when it starts.
    pub cues: Vec<PlannedCue>,
    /// The interpretation channels that run during it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interpretation: Vec<Channel>,
    /// How it takes written questions, when not as the event does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qa: Option<QaMode>,
    /// Each side's floor time in this segment, by side id, for the sides that have one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub side_budgets: BTreeMap<String, Millis>,
}

/// A cue written into the run of show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedCue {
    pub target: CueTarget,
    pub text: Localized,
    pub preset: Option<String>,
}

/// A cue the crew hears often, sent with one click.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CuePreset {
    pub id: String,
    pub target: CueTarget,
    pub text: Localized,
}

/// The planned event: fixed while the show runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOfShow {
    pub event: EventInfo,
    pub segments: Vec<Segment>,
    pub cue_presets: Vec<CuePreset>,
    /// The notes the crew and speakers send the chair with one tap.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub note_presets: Vec<NotePreset>,
    /// The event's logo and colours on the stage and hall screens; kept out of `event`, which
    /// every attendee's welcome carries, since a logo may be tens of kilobytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branding: Option<Branding>,
    /// Unattended screens' short links (`/s/lectern`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_links: Vec<ShortLink>,
    /// What the show sends to the booth's gear by itself; the chair's to see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub automations: Vec<Automation>,
    /// How the event takes written questions where a segment does not say.
    #[serde(default)]
    pub qa: QaMode,
    /// Polls prepared in the plan, opened from the console with one key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prepared_polls: Vec<PollDef>,
    /// The sides people speak for, when the event balances its floor between them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sides: Vec<Side>,
}

impl RunOfShow {
    pub fn segment_index(&self, id: &str) -> Option<usize> {
        self.segments.iter().position(|s| s.id == id)
    }

    /// Planned duration of the segments after `index`.
    pub fn planned_after(&self, index: usize) -> Millis {
        self.segments.iter().skip(index + 1).map(|s| s.duration_ms).sum()
    }

    /// Whether a speaker anywhere in the plan has this id.
    pub fn has_speaker(&self, id: &str) -> bool {
        self.segments.iter().flat_map(|s| &s.speakers).any(|p| p.id == id)
    }

    pub fn planned_total(&self) -> Millis {
        self.segments.iter().map(|s| s.duration_ms).sum()
    }

    /// The speaker with this id, and the segment they speak in.
    pub fn speaker_by_id(&self, id: &str) -> Option<(&Segment, &Speaker)> {
        self.segments.iter().find_map(|s| s.speakers.iter().find(|p| p.id == id).map(|p| (s, p)))
    }

    /// The programme speaker someone joined as, by their name in any language (as presence
    /// matches them): one of `segment`'s speakers first, since a person may be on the
    /// programme twice, else the first in the plan.
    pub fn speaker_named(&self, name: &str, segment: Option<&str>) -> Option<&Speaker> {
        let key = match_key(name);
        let named = |p: &&Speaker| [&p.name.zh, &p.name.ja, &p.name.en].into_iter().any(|n| match_key(n) == key);
        let own = segment.and_then(|id| self.segments.iter().find(|s| s.id == id));
        own.and_then(|s| s.speakers.iter().find(named))
            .or_else(|| self.segments.iter().flat_map(|s| &s.speakers).find(named))
    }
}

/// The most automations an event holds.
pub const MAX_AUTOMATIONS: usize = 100;
const MAX_TEMPLATE_CHARS: usize = 2000;

/// What an automation answers: something that happens in the show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    SegmentStart,
    SegmentEnd,
    SpeakerStart,
    /// The segment's remaining time reaches its `warning_ms`.
    Warning,
    /// The segment's remaining time reaches its `danger_ms`.
    Danger,
    /// The segment's remaining time reaches zero.
    Overrun,
    Hold,
    Resume,
    CueGo,
    ShowEnd,
}

/// One automation: a trigger, an optional filter, and where it sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Automation {
    pub trigger: Trigger,
    /// Only for these segments (ids); empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    /// Only for segments of these kinds; empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<SegmentKind>,
    /// For `cue_go`: only cues for these crew positions; empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<CrewPosition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub osc: Option<OscOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpOutput>,
}

/// An OSC message over UDP; address and arguments are templates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OscOutput {
    pub host: String,
    pub port: u16,
    pub address: String,
    /// Each sent as an OSC string, or an int or float when it reads as one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

/// An HTTP request; URL and body are templates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpOutput {
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

fn default_method() -> String {
    "POST".into()
}

/// Checks automations as the event file and the organizer give them.
pub fn check_automations(automations: &[Automation]) -> Result<(), Rejection> {
    let field = |m: String| Err(Rejection::InvalidField(m));
    if automations.len() > MAX_AUTOMATIONS {
        return field(format!("an event has at most {MAX_AUTOMATIONS} automations"));
    }
    for (k, a) in automations.iter().enumerate() {
        let at = format!("automation {}", k + 1);
        if a.osc.is_none() && a.http.is_none() {
            return field(format!("{at} needs an osc or an http output"));
        }
        if !a.targets.is_empty() && a.trigger != Trigger::CueGo {
            return field(format!("{at}: targets filter cue_go only"));
        }
        let long = |t: &str| t.chars().count() > MAX_TEMPLATE_CHARS || t.chars().any(char::is_control);
        if let Some(osc) = &a.osc {
            if !osc.address.starts_with('/') || long(&osc.address) || osc.args.iter().any(|t| long(t)) {
                return field(format!("{at}: an OSC address starts with '/'; no control characters"));
            }
            if osc.host.is_empty() || osc.host.len() > 255 || osc.port == 0 {
                return field(format!("{at}: OSC needs a host and a port"));
            }
        }
        if let Some(http) = &a.http {
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&http.method.as_str()) {
                return field(format!("{at}: method must be GET, POST, PUT, PATCH or DELETE"));
            }
            if !http.url.starts_with("http://") || long(&http.url) {
                return field(format!("{at}: url must be an http:// link (the booth's network)"));
            }
            let authority = http.url["http://".len()..].split(['/', '?', '#']).next().unwrap_or_default();
            if authority.is_empty() || authority.contains('@') || authority.contains("{{") {
                return field(format!(
                    "{at}: url needs a fixed host, without a user name or password and without templates"
                ));
            }
            if http.body.as_deref().is_some_and(|b| b.chars().count() > MAX_TEMPLATE_CHARS) {
                return field(format!("{at}: a body has at most {MAX_TEMPLATE_CHARS} characters"));
            }
        }
    }
    Ok(())
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::SegmentStart => "segment_start",
            Trigger::SegmentEnd => "segment_end",
            Trigger::SpeakerStart => "speaker_start",
            Trigger::Warning => "warning",
            Trigger::Danger => "danger",
            Trigger::Overrun => "overrun",
            Trigger::Hold => "hold",
            Trigger::Resume => "resume",
            Trigger::CueGo => "cue_go",
            Trigger::ShowEnd => "show_end",
        }
    }
}
