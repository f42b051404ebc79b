//! Caption tracks: sequencing, who speaks in a line, and transcripts.

use super::*;

#[test]
fn a_caption_track_takes_the_next_seq_ignores_the_last_and_places_lines_in_the_live_segment() {
    use super::captions::{CaptionError, Taken, Track, TrackState};
    let state = started();
    let mut track = TrackState::default();
    let Ok(Taken::Line(first)) = track.take(Track::Ja, 1, " 皆さん\n こんにちは ", true, &state, T0) else {
        panic!("the first line is seq 1")
    };
    assert_eq!(first.text, "皆さん こんにちは", "one text policy");
    assert_eq!(first.segment.as_deref(), Some(state.show.segments[0].id.as_str()));
    assert_eq!(first.speaker.as_ref().map(|s| s.id.as_str()), Some(state.show.segments[0].speakers[0].id.as_str()));
    track.keep(first);
    assert_eq!(track.take(Track::Ja, 1, "again", true, &state, T0), Ok(Taken::Repeated));
    assert_eq!(
        track.take(Track::Ja, 3, "gap", true, &state, T0),
        Err(CaptionError::OutOfOrder { got: 3, expected: 2 })
    );
    assert!(matches!(track.take(Track::Ja, 2, "", true, &state, T0), Err(CaptionError::Text(_))));
    for seq in 2..=30 {
        let Ok(Taken::Line(line)) = track.take(Track::Ja, seq, "x", true, &state, T0) else { panic!("{seq}") };
        track.keep(line);
    }
    assert_eq!((track.last, track.recent.len()), (30, super::captions::RECENT_LINES));
    assert_eq!(track.recent.front().map(|l| l.seq), Some(11));
}

#[test]
fn a_caption_line_names_whoever_speaks_from_the_live_segments_queue() {
    use super::captions::{Taken, Track, TrackState};
    let mut state = opening_with_requests();
    let speaking = state.queues["opening"].speaking.clone().unwrap();
    let line = |state: &EventState| match TrackState::default().take(Track::En, 1, "Thank you", true, state, T0) {
        Ok(Taken::Line(line)) => line.speaker.unwrap(),
        other => panic!("{other:?}"),
    };
    let from_queue = line(&state);
    assert_eq!(from_queue.id, format!("queue:opening:{}", speaking.id), "names the queue entry, not the participant");
    assert_eq!(from_queue.name, Localized::same(&speaking.name));

    let version = state.queues["opening"].version;
    state.apply(&Command::QueueStop { queue: "opening".into(), version }, &moderator(), T0 + 2 * MIN).unwrap();
    assert_eq!(line(&state).id, state.show.segments[0].speakers[0].id, "the floor is the programme speaker's again");
}

#[test]
fn a_caption_line_after_the_end_names_whoever_speaks_from_the_events_queue() {
    use super::captions::{Taken, Track, TrackState};
    let mut state = started();
    run(&mut state, |version| Command::End { version }, T0 + MIN).unwrap();
    let take = |state: &EventState| match TrackState::default().take(Track::Zh, 1, "谢谢", true, state, T0 + 2 * MIN)
    {
        Ok(Taken::Line(line)) => (line.segment, line.speaker),
        other => panic!("{other:?}"),
    };
    assert_eq!(take(&state), (None, None));
    ask(&mut state, "event", "q", T0 + 2 * MIN);
    queue_next(&mut state, "event", T0 + 2 * MIN);
    let (_, speaker) = take(&state);
    assert!(speaker.is_some_and(|s| s.id.starts_with("queue:event:")));
}

#[test]
fn transcript_cues_last_until_the_next_line_within_bounds() {
    use super::captions::{srt, Line, Track};
    let state = started();
    let line = |seq, at| Line {
        track: Track::En,
        seq,
        text: format!("line {seq}"),
        at,
        segment: None,
        speaker: None,
        is_final: true,
    };
    let lines = [line(1, T0), line(2, T0 + 200), line(3, T0 + 3_000), line(4, T0 + 60_000)];
    let text = srt(&lines, &state);
    let timings: Vec<&str> = text.lines().filter(|l| l.contains("-->")).collect();
    assert_eq!(
        timings,
        [
            "00:00:00,000 --> 00:00:01,000",
            "00:00:00,200 --> 00:00:03,000",
            "00:00:03,000 --> 00:00:10,000",
            "00:01:00,000 --> 00:01:07,000",
        ],
        "at least 1 s, at most 7 s, else until the next line"
    );
}
