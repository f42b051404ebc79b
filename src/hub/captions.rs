//! The hub's side of captions: it places each line against the live state (segment,
//! speaker), reserves its seq, and once the line is stored sends it, encoded once, to the
//! connections following its track. Caption lines have their own seq per track and never
//! enter the change log, so a reconnect replays none of them: it gets the track's latest.
//! In a cluster the captions stream orders each track's final lines: a line is judged
//! against the track's end there, and sent once the stream holds it, whichever node
//! stored it.

use std::collections::BTreeMap;

use tokio::sync::oneshot;
use tracing::error;

use super::fanout::AUDIENCE_ROUND;
use super::{ConnId, Hub};
use crate::clock::now_millis;
use crate::domain::captions::{CaptionError, Line, Taken, Track, TrackState};
use crate::domain::text::Lang;
use crate::domain::Millis;
use crate::hub::members::Member;
use crate::protocol::{encode, CaptionChoice, ServerFrame, LIVE_TRACK_MS};
use crate::wire::Frame;

/// A caption line on its way out: its frame, who follows its track, and how far it got.
pub(super) struct CaptionOut {
    track: Track,
    frame: Frame,
    to: Vec<ConnId>,
    next: usize,
}

/// A line offered to the hub.
pub struct CaptionIn {
    pub track: Track,
    pub seq: u64,
    pub text: String,
    pub is_final: bool,
    /// In a cluster, the seq the track ends with in the captions stream, which decides.
    pub known_last: Option<u64>,
    pub reply: oneshot::Sender<Result<Taken, CaptionError>>,
}

impl Hub {
    pub(super) fn caption(&mut self, line: CaptionIn, now: Millis) {
        let CaptionIn { track, seq, text, is_final, known_last, reply } = line;
        let current = self.captions.entry(track).or_default();
        let taken = match known_last {
            Some(last) => {
                TrackState { last, ..TrackState::default() }.take(track, seq, &text, is_final, &self.state, now)
            }
            None => current.take(track, seq, &text, is_final, &self.state, now),
        };
        match &taken {
            // In a cluster the stream holds the seq, not this node.
            Ok(Taken::Line(line)) if line.is_final && self.cluster.is_some() => {}
            // The seq is the line's from now on, so that a retry while it is stored is a retry.
            Ok(Taken::Line(line)) if line.is_final => current.keep(line.clone()),
            Ok(Taken::Line(line)) => self.send_caption(line),
            _ => {}
        }
        let _ = reply.send(taken);
    }

    pub(super) fn caption_stored(&mut self, line: Line, stored: bool) {
        if self.cluster.is_some() {
            if stored {
                self.caption_durable(line);
            }
            return;
        }
        if stored {
            self.send_caption(&line);
            return;
        }
        let track = self.captions.entry(line.track).or_default();
        if track.last == line.seq {
            track.recent.pop_back();
            track.last = line.seq - 1;
        }
    }

    /// A final line the captions stream holds, stored by this node or followed from the
    /// stream: it becomes the track's last and goes out, once, when it is the next one.
    pub(super) fn caption_durable(&mut self, line: Line) {
        let track = self.captions.entry(line.track).or_default();
        if line.seq <= track.last {
            return;
        }
        if line.seq > track.last + 1 {
            // The stream holds no gap in a track; a line beyond one is shown rather than a
            // track that stops for good.
            let (track_name, last) = (line.track.as_str(), track.last);
            error!(event = %self.event, track = track_name, last, seq = line.seq, "a caption line skips a seq");
        }
        track.keep(line.clone());
        self.send_caption(&line);
    }

    /// Queues a line for its track's followers; it goes out in rounds, between which
    /// commands go first, so that captions never hold up a show change.
    fn send_caption(&mut self, line: &Line) {
        let frame = encode(&ServerFrame::Caption { line });
        let to = self.members.iter().filter(|m| m.captions == Some(line.track)).map(|m| m.conn).collect();
        self.captions_out.push_back(CaptionOut { track: line.track, frame, to, next: 0 });
    }

    /// Writes the oldest queued line to its next round of followers.
    pub(super) fn continue_captions(&mut self) {
        let Some(out) = self.captions_out.front_mut() else { return };
        let end = (out.next + AUDIENCE_ROUND).min(out.to.len());
        // Who moved to another track meanwhile has had that track's lines since.
        let round: Vec<_> = out.to[out.next..end]
            .iter()
            .copied()
            .filter(|&conn| self.members.get(conn).is_some_and(|m| m.captions == Some(out.track)))
            .collect();
        out.next = end;
        let dropped = self.members.send_some(&round, &|_: &Member| &out.frame);
        if out.next == out.to.len() {
            self.captions_out.pop_front();
        }
        dropped.into_iter().for_each(|conn| self.remove_member(conn));
    }

    /// The latest lines of `track`, as a connection that starts to follow it gets them.
    pub(super) fn recent_captions(&self, track: Track) -> Frame {
        let lines = self.captions.get(&track).map(|t| t.recent.iter().collect()).unwrap_or_default();
        let since = now_millis() - LIVE_TRACK_MS;
        let live = self
            .captions
            .iter()
            .filter(|(_, state)| state.recent.back().is_some_and(|line| line.at >= since))
            .map(|(track, _)| *track)
            .collect();
        encode(&ServerFrame::Captions { track, lines, live })
    }

    pub(super) fn caption_seqs(&self) -> BTreeMap<Track, u64> {
        self.captions.iter().map(|(track, state)| (*track, state.last)).collect()
    }

    pub(super) fn set_lang(&mut self, conn: u64, id: &str, lang: Lang, captions: CaptionChoice) {
        let Some(member) = self.members.get_mut(conn) else { return };
        member.actor.lang = lang;
        let before = member.captions;
        member.captions = match captions {
            CaptionChoice::Follow => before.map(|_| Track::of(lang)),
            CaptionChoice::Off => None,
            CaptionChoice::Track(track) => Some(track),
        };
        let (participant, after) = (member.actor.participant.clone(), member.captions);
        self.presence.set_lang(&participant, lang);
        self.send_to(conn, encode(&ServerFrame::Ack { id, seq: self.seq, warning: None }));
        if let Some(track) = after.filter(|t| before != Some(*t)) {
            let recent = self.recent_captions(track);
            self.send_to(conn, recent);
        }
    }
}

/// The tracks an event starts with.
pub type Tracks = BTreeMap<Track, TrackState>;
