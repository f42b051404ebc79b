//! Caption tracks: one per language, each line with its own seq, the Zoom convention a
//! captioning service already speaks (each line's seq one more than the last; a retry of
//! the last is ignored; a partial line is replaced by the next one with its seq). Apart
//! from the run of show's change log, so that several lines a second never crowd it.
//! Pure, no I/O.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::live::Phase;
use super::queue::EVENT_QUEUE;
use super::state::EventState;
use super::text::{clean, Lang, Localized, TextError};
use super::time::Millis;

/// The most characters a caption line holds.
pub const MAX_LINE_CHARS: usize = 500;
/// Final lines a track keeps in memory for those who join or reconnect.
pub const RECENT_LINES: usize = 20;

/// A caption track's language: one of the show's, or `floor` (what is said, as said).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Track {
    Zh,
    Ja,
    En,
    Floor,
}

impl Track {
    pub const ALL: [Track; 4] = [Track::Zh, Track::Ja, Track::En, Track::Floor];

    pub fn as_str(self) -> &'static str {
        match self {
            Track::Zh => "zh",
            Track::Ja => "ja",
            Track::En => "en",
            Track::Floor => "floor",
        }
    }

    pub fn parse(text: &str) -> Option<Track> {
        Track::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The track a viewer reading `lang` follows by default.
    pub fn of(lang: Lang) -> Track {
        match lang {
            Lang::Zh => Track::Zh,
            Lang::Ja => Track::Ja,
            Lang::En => Track::En,
        }
    }
}

/// Who had the floor when a line arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSpeaker {
    /// A programme speaker's id; for someone speaking from a queue `queue:<queue>:<entry>`,
    /// which no speaker id can be (those hold no ':') and which names no participant id,
    /// since those are never broadcast.
    pub id: String,
    pub name: Localized,
}

impl LineSpeaker {
    /// Whoever has the floor: the one speaking from the queue that matters now (the live
    /// segment's, or the event's when no segment is live), else the segment's current
    /// speaker. The stage screen names the same person (web/stage-view.js, `floorHolder`).
    pub fn with_the_floor(state: &EventState) -> Option<LineSpeaker> {
        let segment =
            state.live.segment.filter(|_| state.live.phase == Phase::Live).and_then(|k| state.show.segments.get(k));
        let queue = segment.map_or(EVENT_QUEUE, |s| s.id.as_str());
        if let Some(entry) = state.queues.get(queue).and_then(|q| q.speaking.as_ref()) {
            return Some(LineSpeaker { id: format!("queue:{queue}:{}", entry.id), name: Localized::same(&entry.name) });
        }
        segment
            .zip(state.live.speaker)
            .and_then(|(s, k)| s.speakers.get(k))
            .map(|p| LineSpeaker { id: p.id.clone(), name: p.name.clone() })
    }
}

/// One caption line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub track: Track,
    pub seq: u64,
    pub text: String,
    pub at: Millis,
    /// The live segment's id when the line arrived.
    pub segment: Option<String>,
    pub speaker: Option<LineSpeaker>,
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// Why a line was not taken.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CaptionError {
    #[error("seq {got} is out of order: the next line of this track is seq {expected}")]
    OutOfOrder { got: u64, expected: u64 },
    #[error("the line {0}")]
    Text(#[from] TextError),
}

/// What became of a line that was not refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    /// New: store it when final, then send it.
    Line(Line),
    /// The last final line again (a retry): nothing to do.
    Repeated,
}

/// One language's captions as the hub holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackState {
    /// The seq of the last final line; 0 before the first.
    pub last: u64,
    /// The latest final lines, oldest first.
    pub recent: VecDeque<Line>,
}

impl TrackState {
    /// A track restored from its stored lines (oldest first).
    pub fn restored(lines: impl IntoIterator<Item = Line>) -> Self {
        let mut track = TrackState::default();
        for line in lines {
            track.keep(line);
        }
        track
    }

    /// Takes line `seq` of `track` as the live state places it: the next seq (partial or
    /// final), or the last final seq again (a retry, ignored).
    pub fn take(
        &self,
        track: Track,
        seq: u64,
        text: &str,
        is_final: bool,
        state: &EventState,
        now: Millis,
    ) -> Result<Taken, CaptionError> {
        let expected = self.last + 1;
        if seq == self.last && seq > 0 {
            return Ok(Taken::Repeated);
        }
        if seq != expected {
            return Err(CaptionError::OutOfOrder { got: seq, expected });
        }
        let text = clean(text, MAX_LINE_CHARS)?;
        let segment = state.live.segment.and_then(|k| state.show.segments.get(k)).map(|s| s.id.clone());
        let speaker = LineSpeaker::with_the_floor(state);
        Ok(Taken::Line(Line { track, seq, text, at: now, segment, speaker, is_final }))
    }

    /// Records a final line as the track's last.
    pub fn keep(&mut self, line: Line) {
        self.last = line.seq;
        if self.recent.len() == RECENT_LINES {
            self.recent.pop_front();
        }
        self.recent.push_back(line);
    }
}

/// Cue timings for a transcript: each line from its time until the next line's (at most
/// `MAX_CUE_MS`, at least `MIN_CUE_MS`), relative to the first line.
pub const MIN_CUE_MS: Millis = 1000;
pub const MAX_CUE_MS: Millis = 7000;

fn cue_times(lines: &[Line]) -> Vec<(Millis, Millis)> {
    let origin = lines.first().map_or(0, |l| l.at);
    lines
        .iter()
        .enumerate()
        .map(|(k, line)| {
            let start = line.at - origin;
            let next = lines.get(k + 1).map_or(start + MAX_CUE_MS, |n| n.at - origin);
            (start, next.clamp(start + MIN_CUE_MS, start + MAX_CUE_MS))
        })
        .collect()
}

fn stamp(ms: Millis, separator: char) -> String {
    let ms = ms.max(0);
    let (h, m, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h:02}:{m:02}:{s:02}{separator}{f:03}")
}

/// Where a segment or a speaker begins at `line`: the segment's title, and the speaker's
/// name (again at a new segment), in the track's language.
fn markers(line: &Line, before: Option<&Line>, state: &EventState) -> (Option<String>, Option<String>) {
    let lang = marker_lang(line.track);
    let new_segment = line.segment != before.and_then(|b| b.segment.clone());
    let title = new_segment
        .then(|| line.segment.as_ref().and_then(|id| state.show.segments.iter().find(|s| &s.id == id)))
        .flatten()
        .map(|s| s.title.get(lang).to_owned());
    let new_speaker =
        new_segment || line.speaker.as_ref().map(|s| &s.id) != before.and_then(|b| b.speaker.as_ref().map(|s| &s.id));
    let name = line.speaker.as_ref().filter(|_| new_speaker).map(|s| s.name.get(lang).to_owned());
    (title, name)
}

fn marker_lang(track: Track) -> Lang {
    match track {
        Track::Zh => Lang::Zh,
        Track::Ja => Lang::Ja,
        Track::En | Track::Floor => Lang::En,
    }
}

/// The transcript as plain text: a `## segment` heading where a segment begins, and
/// `speaker:` before the first line of each speaker.
pub fn transcript_text(lines: &[Line], state: &EventState) -> String {
    let mut out = String::new();
    for (k, line) in lines.iter().enumerate() {
        let (title, name) = markers(line, k.checked_sub(1).map(|b| &lines[b]), state);
        if let Some(title) = title {
            out.push_str(&format!("\n## {title}\n\n"));
        }
        match name {
            Some(name) => out.push_str(&format!("{name}: {}\n", line.text)),
            None => out.push_str(&format!("{}\n", line.text)),
        }
    }
    out.trim_start().to_owned()
}

/// WebVTT (W3C): `NOTE` blocks where a segment begins, a `<v Speaker>` voice span per line.
pub fn webvtt(lines: &[Line], state: &EventState) -> String {
    let mut out = String::from("WEBVTT\n");
    for ((k, line), (start, end)) in lines.iter().enumerate().zip(cue_times(lines)) {
        let (title, _) = markers(line, k.checked_sub(1).map(|b| &lines[b]), state);
        if let Some(title) = title {
            // A NOTE may not hold "-->".
            out.push_str(&format!("\nNOTE {}\n", title.replace("-->", "→")));
        }
        let text = vtt_escape(&line.text);
        let body = match &line.speaker {
            Some(speaker) => format!("<v {}>{text}", vtt_escape(speaker.name.get(marker_lang(line.track)))),
            None => text,
        };
        out.push_str(&format!("\n{}\n{} --> {}\n{body}\n", line.seq, stamp(start, '.'), stamp(end, '.')));
    }
    out
}

fn vtt_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// SubRip: numbered cues from 1, `Speaker: ` before a speaker's first line, `[segment]`
/// where a segment begins.
pub fn srt(lines: &[Line], state: &EventState) -> String {
    let mut out = String::new();
    for ((k, line), (start, end)) in lines.iter().enumerate().zip(cue_times(lines)) {
        let (title, name) = markers(line, k.checked_sub(1).map(|b| &lines[b]), state);
        let mut text = title.map(|t| format!("[{}]\n", srt_escape(&t))).unwrap_or_default();
        if let Some(name) = name {
            text.push_str(&format!("{}: ", srt_escape(&name)));
        }
        text.push_str(&srt_escape(&line.text));
        out.push_str(&format!("{}\n{} --> {}\n{text}\n\n", k + 1, stamp(start, ','), stamp(end, ',')));
    }
    out
}

/// SubRip has no escapes, and players read `<b>`, `<font>` and `{\an8}` as markup, and a
/// line with `-->` as the start of a new cue: those characters become their full-width
/// look-alikes and the arrow a single `→`, so that what a captioner typed stays text.
fn srt_escape(text: &str) -> String {
    text.replace("-->", "→").replace('<', "＜").replace('>', "＞").replace('{', "｛").replace('}', "｝")
}
