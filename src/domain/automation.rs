//! Automations: what the show does by itself when something happens in it (a segment
//! starts, a threshold is crossed, a cue goes), sending OSC or HTTP to the booth's gear.
//! The rules and their checks are part of the plan (`show`); here when they fire, what
//! they send and where it may go. Sending is the server's. Pure, no I/O.

use std::net::IpAddr;

use super::cues::CueState;
use super::live::{clock_text, remaining_text, timing, Phase};
use super::state::EventState;
use super::text::{Lang, Localized};
use super::time::Millis;

pub use super::show::{check_automations as checked, Automation, HttpOutput, OscOutput, Trigger, MAX_AUTOMATIONS};

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

/// Where automations may send, from `[limits] automation_destinations`: host names, IP
/// addresses and networks (`10.0.0.0/8`). Empty: anywhere but link-local addresses
/// (169.254.0.0/16, fe80::/10), where cloud machines answer metadata requests with their
/// credentials. A link-local address is reached only when a listed network holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Destinations {
    hosts: Vec<String>,
    networks: Vec<(IpAddr, u8)>,
}

impl Destinations {
    pub fn parse(entries: &[String]) -> Result<Destinations, String> {
        let mut destinations = Destinations::default();
        for entry in entries {
            let (address, bits) = match entry.split_once('/') {
                Some((address, bits)) => (address, Some(bits)),
                None => (entry.as_str(), None),
            };
            match (address.parse::<IpAddr>(), bits) {
                (Ok(ip), bits) => {
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    let bits = match bits {
                        None => max,
                        Some(bits) => bits.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| {
                            format!("automation destination {entry:?}: the prefix length must be 0-{max}")
                        })?,
                    };
                    destinations.networks.push((ip.to_canonical(), bits));
                }
                (Err(_), None)
                    if !entry.is_empty()
                        && entry.len() <= 253
                        && entry.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') =>
                {
                    destinations.hosts.push(entry.to_ascii_lowercase());
                }
                _ => {
                    return Err(format!(
                        "automation destination {entry:?} is neither a host name, an IP address nor a network"
                    ))
                }
            }
        }
        Ok(destinations)
    }

    /// Whether an output to `host`, as the automation names it, may go to `address`, one of
    /// the addresses it resolved to.
    pub fn allows(&self, host: &str, address: IpAddr) -> bool {
        let address = address.to_canonical();
        if self.networks.iter().any(|&(network, bits)| within(address, network, bits)) {
            return true;
        }
        if is_link_local(address) {
            return false;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        (self.hosts.is_empty() && self.networks.is_empty()) || self.hosts.contains(&host)
    }
}

fn is_link_local(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn within(address: IpAddr, network: IpAddr, bits: u8) -> bool {
    let prefix = |a: u128, width: u32| if bits == 0 { 0 } else { a >> (width - u32::from(bits)) };
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => prefix(u32::from(a).into(), 32) == prefix(u32::from(n).into(), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => prefix(u128::from(a), 128) == prefix(u128::from(n), 128),
        _ => false,
    }
}

/// `value` with every byte but the unreserved ones (RFC 3986: letters, digits, `-._~`)
/// percent-encoded: safe in a path, a query or a fragment.
pub fn percent_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// How a value is written into a template: as it is (OSC, plain bodies), percent-encoded
/// (URLs: a title must not add a path, a query or a fragment) or as the inside of a JSON
/// string (JSON bodies: a quote in a title must not end the string).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    Plain,
    Url,
    Json,
}

impl Escape {
    fn write(self, value: &str, out: &mut String) {
        match self {
            Escape::Plain => out.push_str(value),
            Escape::Url => out.push_str(&percent_encoded(value)),
            Escape::Json => {
                let quoted = serde_json::Value::String(value.to_owned()).to_string();
                out.push_str(&quoted[1..quoted.len() - 1]);
            }
        }
    }

    /// A body is JSON when its content type says so.
    pub fn for_body(content_type: Option<&str>) -> Escape {
        if content_type.is_some_and(|t| t.to_ascii_lowercase().contains("json")) {
            Escape::Json
        } else {
            Escape::Plain
        }
    }
}

/// A template with each `{{name}}` replaced by its value for `firing` in `state` at `now`
/// (names in docs/integrations.md), written as `escape` says. A name it does not know stays
/// as written, so that the receiving desk shows the mistake.
pub fn render(template: &str, escape: Escape, firing: &Firing, state: &EventState, now: Millis) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = after[..close].trim();
        match value(name, firing, state, now) {
            Some(value) => escape.write(&value, &mut out),
            None => out.push_str(&rest[open..open + 2 + close + 2]),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// `segment.title.ja`, or `segment.title` for the English.
fn localized(text: &Localized, lang: Option<&str>) -> Option<String> {
    let lang = match lang {
        None | Some("en") => Lang::En,
        Some("zh") => Lang::Zh,
        Some("ja") => Lang::Ja,
        Some(_) => return None,
    };
    Some(text.get(lang).to_owned())
}

fn value(name: &str, firing: &Firing, state: &EventState, now: Millis) -> Option<String> {
    let show = &state.show;
    let segment = firing.segment.and_then(|k| show.segments.get(k).map(|s| (k, s)));
    let speaker = segment.zip(firing.speaker).and_then(|((_, s), k)| s.speakers.get(k));
    let cue = firing.cue.and_then(|id| state.cues.cues.iter().find(|c| c.id == id));
    let tm = timing(show, &state.live, now);
    let mut parts = name.splitn(3, '.');
    let (head, field, lang) = (parts.next()?, parts.next(), parts.next());
    Some(match (head, field) {
        ("trigger", None) => firing.trigger.as_str().to_owned(),
        ("server_time", None) => now.to_string(),
        ("remaining", None) => remaining_text(tm.remaining_ms),
        ("remaining_ms", None) => tm.remaining_ms.to_string(),
        ("elapsed", None) => clock_text(tm.elapsed_ms),
        ("elapsed_ms", None) => tm.elapsed_ms.to_string(),
        ("overrun", None) => (tm.remaining_ms < 0).to_string(),
        ("event", Some("id")) => show.event.id.clone(),
        ("event", Some("title")) => localized(&show.event.title, lang)?,
        ("segment", Some("id")) => segment?.1.id.clone(),
        ("segment", Some("index")) => segment?.0.to_string(),
        ("segment", Some("number")) => (segment?.0 + 1).to_string(),
        ("segment", Some("kind")) => serde_json::to_value(segment?.1.kind).ok()?.as_str()?.to_owned(),
        ("segment", Some("title")) => localized(&segment?.1.title, lang)?,
        ("segment", Some("duration")) => clock_text(segment?.1.duration_ms),
        ("next", Some("id")) => show.segments.get(segment?.0 + 1)?.id.clone(),
        ("next", Some("title")) => localized(&show.segments.get(segment?.0 + 1)?.title, lang)?,
        ("speaker", Some("name")) => localized(&speaker?.name, lang)?,
        ("cue", Some("id")) => cue?.id.to_string(),
        ("cue", Some("text")) => localized(&cue?.text, lang)?,
        ("cue", Some("preset")) => cue?.preset.clone()?,
        _ => return None,
    })
}
