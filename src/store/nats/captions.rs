//! Caption lines in the cluster: one stream for every event (`EVENTHUB-CAPTIONS`), a subject
//! per event and track (`eventhub.captions.<event>.<track>`). A final line is published
//! expecting its track to end with the line before it, so that two nodes taking a line at
//! once cannot both store a seq; every node follows its events' lines through one ordered
//! consumer per event and reads transcripts back from the stream.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{LastRawMessageErrorKind, RawMessageErrorKind, Stream};
use async_nats::jetstream::ErrorCode;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::event_log::{EventLog, Refused};
use super::{nats_error, ordered, Cluster, FOLLOW_RETRY, PATIENCE};
use crate::domain::captions::{Line, Track};
use crate::store::StoreError;

/// Not `EVENTHUB_…`, so that it is never taken for an event's stream.
pub(super) const CAPTIONS_STREAM: &str = "EVENTHUB-CAPTIONS";
/// How long a retried line is known by its id: a re-post within it is stored once even when
/// two nodes publish it at the same moment.
pub(super) const CAPTIONS_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Followed lines that may wait for the hub before the follower waits.
const FOLLOW_BACKLOG: usize = 256;

/// Every caption subject, for the stream's configuration.
pub(super) fn captions_subjects() -> String {
    "eventhub.captions.*.*".to_owned()
}

fn track_subject(event: &str, track: Track) -> String {
    format!("eventhub.captions.{event}.{}", track.as_str())
}

fn event_subjects(event: &str) -> String {
    format!("eventhub.captions.{event}.*")
}

/// The last line of a track as the cluster holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackEnd {
    /// The line's seq; 0 before the first.
    pub seq: u64,
    /// Where the line is in the captions stream; 0 before the first.
    pub position: u64,
}

/// A line a follower saw.
pub struct FollowedLine {
    pub line: Line,
}

impl Cluster {
    async fn captions_stream(&self) -> Result<Stream<()>, StoreError> {
        let stream = self.js.get_stream_no_info(CAPTIONS_STREAM).await;
        stream.map_err(|e| nats_error("cannot find the captions stream")(&e))
    }

    /// The last final line of `track`, asked of the stream's leader.
    pub async fn track_end(&self, event: &str, track: Track) -> Result<TrackEnd, StoreError> {
        let asking = async {
            let stream = self.captions_stream().await?;
            match stream.get_last_raw_message_by_subject(&track_subject(event, track)).await {
                Ok(message) => {
                    let line: Line = serde_json::from_slice(&message.payload)?;
                    Ok(TrackEnd { seq: line.seq, position: message.sequence })
                }
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(TrackEnd::default()),
                Err(e) => Err(nats_error("cannot read the captions stream")(&e)),
            }
        };
        tokio::time::timeout(PATIENCE, asking).await.map_err(|_| timed_out())?
    }

    /// Stores a final line if its track still ends at `end`, under an id made of its event,
    /// track and seq, so that a retried line is stored once. Returns where it is stored.
    pub async fn append_line(&self, event: &str, line: &Line, end: TrackEnd) -> Result<u64, Refused> {
        use async_nats::connection::State;
        if self.client.connection_state() != State::Connected {
            return Err(Refused::Unavailable);
        }
        let payload = serde_json::to_vec(line).map_err(|_| Refused::Unavailable)?;
        let message = PublishMessage::build()
            .payload(payload.into())
            .message_id(format!("{event}/{}/{}", line.track.as_str(), line.seq))
            .expected_last_subject_sequence(end.position);
        let ack = match self.js.send_publish(track_subject(event, line.track), message).await {
            Ok(ack) => ack.await,
            Err(_) => return Err(Refused::Unavailable),
        };
        match ack {
            Ok(ack) if ack.duplicate => Err(Refused::Behind),
            Ok(ack) => Ok(ack.sequence),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence || another_in_flight(&e) => Err(Refused::Behind),
            Err(e) if e.kind() == PublishErrorKind::TimedOut => Err(Refused::Unconfirmed),
            Err(e) => {
                warn!(event, error = %e, "a caption line could not be published");
                Err(Refused::Unavailable)
            }
        }
    }

    /// Stores the final lines of one track brought from another store (oldest first) after
    /// those the track holds already, so that a move stopped halfway goes on where it
    /// stopped; returns how many were stored.
    pub async fn import_lines(&self, event: &str, track: Track, lines: &[Line]) -> Result<usize, StoreError> {
        let mut end = self.track_end(event, track).await?;
        let (mut stored, held) = (0, end.seq);
        for line in lines.iter().filter(|line| line.seq > held) {
            let position = self.append_line(event, line, end).await.map_err(|refused| {
                StoreError(format!("line {} of the {} track was not stored: {refused:?}", line.seq, track.as_str()))
            })?;
            end = TrackEnd { seq: line.seq, position };
            stored += 1;
        }
        Ok(stored)
    }

    /// Every line of one track, oldest first, read from the stream's leader.
    pub async fn track_lines(&self, event: &str, track: Track) -> Result<Vec<Line>, StoreError> {
        let reading = async {
            let stream = self.captions_stream().await?;
            let mut lines = Vec::new();
            let mut position = 0;
            while let Some((next, line)) = next_line(&stream, &track_subject(event, track), position).await? {
                lines.push(line);
                position = next;
            }
            Ok(lines)
        };
        tokio::time::timeout(PATIENCE * 15, reading).await.map_err(|_| timed_out())?
    }

    async fn follow_captions_loop(self, event: String, to: mpsc::Sender<FollowedLine>, stop: CancellationToken) {
        let mut position = 0;
        loop {
            let subscribed = tokio::select! {
                () = stop.cancelled() => return,
                subscribed = self.subscribe_captions(&event, position) => subscribed,
            };
            match subscribed {
                Ok(messages) => {
                    if self.read_captions(&event, messages, &mut position, &to, &stop).await.is_err() {
                        return;
                    }
                }
                Err(e) => warn!(event, error = %e, "cannot follow the event's captions yet"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(FOLLOW_RETRY) => {}
            }
        }
    }

    /// Hands on what a subscription delivers, until it is lost or falls behind the stream
    /// (`Ok`), or until the hub or `stop` ends the following (`Err`).
    async fn read_captions(
        &self,
        event: &str,
        mut messages: pull::Ordered,
        position: &mut u64,
        to: &mpsc::Sender<FollowedLine>,
        stop: &CancellationToken,
    ) -> Result<(), ()> {
        let follower = CaptionsFollower { cluster: self, event, to };
        ordered::read(&follower, event, "the event's captions", &mut messages, position, stop).await
    }

    /// Whether the stream holds a line of `event` after `position`; a stream that cannot
    /// be asked counts as not.
    async fn captions_after(&self, event: &str, position: u64) -> bool {
        let asking = async {
            let stream = self.captions_stream().await.ok()?;
            next_line(&stream, &event_subjects(event), position).await.ok().flatten()
        };
        matches!(tokio::time::timeout(PATIENCE, asking).await, Ok(Some(_)))
    }

    /// The lines of `event` after stream sequence `position`, with where each is: at most
    /// [`READ_AT_ONCE`], the rest at the next check.
    async fn lines_after(&self, event: &str, mut position: u64) -> Result<Vec<(u64, Line)>, StoreError> {
        let reading = async {
            let stream = self.captions_stream().await?;
            let mut lines = Vec::new();
            while lines.len() < READ_AT_ONCE {
                let Some((at, line)) = next_line(&stream, &event_subjects(event), position).await? else { break };
                position = at;
                lines.push((at, line));
            }
            Ok(lines)
        };
        tokio::time::timeout(PATIENCE, reading).await.map_err(|_| timed_out())?
    }

    async fn subscribe_captions(&self, event: &str, position: u64) -> Result<pull::Ordered, StoreError> {
        let stream = self.captions_stream().await?;
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: event_subjects(event),
                deliver_policy: match position {
                    0 => DeliverPolicy::All,
                    _ => DeliverPolicy::ByStartSequence { start_sequence: position + 1 },
                },
                ..Default::default()
            })
            .await
            .map_err(|e| nats_error("cannot follow the event's captions")(&e))?;
        consumer.messages().await.map_err(|e| nats_error("cannot follow the event's captions")(&e))
    }
}

impl EventLog {
    /// Delivers every caption line of the event in stream order into the returned channel,
    /// from the first, until `stop`; a lost or silent subscription is made again from where
    /// it was.
    pub fn follow_captions(&self, stop: CancellationToken) -> (mpsc::Receiver<FollowedLine>, impl Future<Output = ()>) {
        let (to, rx) = mpsc::channel(FOLLOW_BACKLOG);
        let (cluster, event) = (self.cluster.clone(), self.event.to_string());
        (rx, async move { cluster.follow_captions_loop(event, to, stop).await })
    }
}

/// The first line on `subject` (which may end in a wildcard) after stream sequence
/// `position`, with where it is; none when there is none.
async fn next_line(stream: &Stream<()>, subject: &str, position: u64) -> Result<Option<(u64, Line)>, StoreError> {
    let found = stream.raw_message_builder().sequence(position + 1).next_by_subject(subject.to_owned()).send().await;
    match found {
        Ok(message) => Ok(Some((message.sequence, serde_json::from_slice(&message.payload)?))),
        Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => Ok(None),
        Err(e) => Err(nats_error("cannot read the captions stream")(&e)),
    }
}

/// Whether a publish was refused because another line of its track (or this very line,
/// from another node) was in flight: a clustered stream checks ids and a subject's expected
/// sequence against the messages still being stored too, and answers with codes of its own
/// that the client does not name.
fn another_in_flight(e: &PublishError) -> bool {
    let code = std::error::Error::source(e)
        .and_then(|source| source.downcast_ref::<async_nats::jetstream::Error>())
        .map(|error| error.error_code());
    matches!(
        code,
        Some(
            ErrorCode::STREAM_DUPLICATE_MESSAGE_CONFLICT
                | ErrorCode::STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY
                | ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
        )
    )
}

/// Lines a follower reads directly in one check.
const READ_AT_ONCE: usize = 64;

fn timed_out() -> StoreError {
    StoreError("the captions stream did not answer in time".into())
}

/// The captions follower of one event, as [`ordered::read`] drives it.
struct CaptionsFollower<'a> {
    cluster: &'a Cluster,
    event: &'a str,
    to: &'a mpsc::Sender<FollowedLine>,
}

impl ordered::Follower for CaptionsFollower<'_> {
    type Item = Line;

    /// What the subscription has not brought is read directly at once, as the event log's
    /// follower does: after a stream's election a subscription can stay quiet for seconds.
    async fn check(&self, position: &mut u64, suspect: bool) -> Result<Option<bool>, ()> {
        if suspect {
            return Ok(Some(self.cluster.captions_after(self.event, *position).await));
        }
        let Ok(missed) = self.cluster.lines_after(self.event, *position).await else { return Ok(None) };
        let behind = !missed.is_empty();
        for (at, line) in missed {
            self.deliver(at, line).await?;
            *position = at;
        }
        Ok(Some(behind))
    }

    async fn deliver(&self, _position: u64, line: Line) -> Result<(), ()> {
        self.to.send(FollowedLine { line }).await.map_err(|_| ())
    }
}
