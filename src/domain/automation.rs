//! Automations: what the show does by itself when something happens in it (a segment
//! starts, a threshold is crossed, a cue goes), sending OSC or HTTP to the booth's gear.
//! Here only what they are and when they fire; sending is the server's. Pure, no I/O.

use serde::{Deserialize, Serialize};

use super::cues::{CrewPosition, CueState};
use super::live::{timing, Phase};
use super::show::SegmentKind;
use super::{EventState, Millis, Rejection};

/// The most automations an event holds.
pub const MAX_AUTOMATIONS: usize = 100;
const MAX_TEMPLATE_CHARS: usize = 2000;

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
pub fn checked(automations: &[Automation]) -> Result<(), Rejection> {
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
            if http.body.as_deref().is_some_and(|b| b.chars().count() > MAX_TEMPLATE_CHARS) {
                return field(format!("{at}: a body has at most {MAX_TEMPLATE_CHARS} characters"));
            }
        }
    }
    Ok(())
}

/// Something that happened, for the automations to match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Firing {
    pub trigger: Trigger,
    /// The segment it happened in (for `segment_end`, the one that ended).
    pub segment: Option<usize>,
    pub speaker: Option<usize>,
    pub cue: Option<u64>,
}

impl Firing {
    fn of(trigger: Trigger, segment: Option<usize>, speaker: Option<usize>) -> Self {
        Firing { trigger, segment, speaker, cue: None }
    }
}

/// What happened between `old` and `new`, in the order it happened.
pub fn fired(old: &EventState, new: &EventState) -> Vec<Firing> {
    let (was, now) = (&old.live, &new.live);
    let mut out = Vec::new();
    let moved = was.segment != now.segment || was.segment_started_at != now.segment_started_at;
    if moved && was.phase == Phase::Live {
        out.push(Firing::of(Trigger::SegmentEnd, was.segment, was.speaker));
    }
    if moved && now.phase == Phase::Live {
        out.push(Firing::of(Trigger::SegmentStart, now.segment, now.speaker));
    }
    let speaker_moved = moved || was.speaker != now.speaker || was.speaker_started_at != now.speaker_started_at;
    if speaker_moved && now.phase == Phase::Live && now.speaker.is_some() {
        out.push(Firing::of(Trigger::SpeakerStart, now.segment, now.speaker));
    }
    match (was.held_since, now.held_since) {
        (None, Some(_)) => out.push(Firing::of(Trigger::Hold, now.segment, now.speaker)),
        (Some(_), None) if !moved && now.phase == Phase::Live => {
            out.push(Firing::of(Trigger::Resume, now.segment, now.speaker))
        }
        _ => {}
    }
    for cue in new.cues.cues.iter().filter(|c| c.state == CueState::Go) {
        let before = old.cues.cues.iter().find(|c| c.id == cue.id).map(|c| c.state);
        if before != Some(CueState::Go) {
            out.push(Firing { trigger: Trigger::CueGo, segment: cue.segment, speaker: cue.speaker, cue: Some(cue.id) });
        }
    }
    if was.phase != Phase::Ended && now.phase == Phase::Ended {
        out.push(Firing::of(Trigger::ShowEnd, None, None));
    }
    out
}

/// The thresholds of the live segment still to be crossed at `now`, with the instant each
/// will be, earliest first. Empty while held (the clock stands still) or not live.
pub fn thresholds_ahead(state: &EventState, now: Millis) -> Vec<(Trigger, Millis)> {
    let live = &state.live;
    let Some(segment) = live.segment.map(|k| &state.show.segments[k]) else { return Vec::new() };
    if live.phase != Phase::Live || live.held_since.is_some() {
        return Vec::new();
    }
    let remaining = timing(&state.show, live, now).remaining_ms;
    let mut ahead: Vec<(Trigger, Millis)> =
        [(Trigger::Warning, segment.warning_ms), (Trigger::Danger, segment.danger_ms), (Trigger::Overrun, 0)]
            .into_iter()
            .filter(|(_, at)| remaining > *at)
            .map(|(trigger, at)| (trigger, now + remaining - at))
            .collect();
    ahead.sort_by_key(|(_, at)| *at);
    ahead
}

impl Automation {
    /// Whether this automation answers `firing` in `state`.
    pub fn matches(&self, firing: &Firing, state: &EventState) -> bool {
        if self.trigger != firing.trigger {
            return false;
        }
        let segment = firing.segment.and_then(|k| state.show.segments.get(k));
        if !self.segments.is_empty() && !segment.is_some_and(|s| self.segments.contains(&s.id)) {
            return false;
        }
        if !self.kinds.is_empty() && !segment.is_some_and(|s| self.kinds.contains(&s.kind)) {
            return false;
        }
        if !self.targets.is_empty() {
            let cue = firing.cue.and_then(|id| state.cues.cues.iter().find(|c| c.id == id));
            let position = cue.and_then(|c| c.target.position());
            return position.is_some_and(|p| self.targets.contains(&p));
        }
        true
    }
}
