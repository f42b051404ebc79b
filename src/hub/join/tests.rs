//! The audience's snapshot encoded once is what each attendee with nothing of their own in
//! the state would have been sent on their own, on the demo, before and after others asked,
//! voted and sent notes; and every role's welcome snapshot, in each language, is what it was
//! before the shared encoding.

use chrono::Utc;
use serde_json::Value;

use super::SharedSnapshot;
use crate::domain::cues::CrewPosition;
use crate::domain::text::{Lang, Mode};
use crate::domain::votes::{Ballot, Vote};
use crate::domain::{Actor, Command, EventState, Role};
use crate::protocol::{Audience, Tagger, View};

fn person(participant: &str, role: Role, lang: Lang) -> Actor {
    Actor {
        participant: participant.into(),
        name: participant.into(),
        role,
        mode: Mode::Remote,
        lang,
        affiliation: None,
        crew: vec![],
    }
}

fn snapshot(state: &EventState, tagger: &Tagger, me: Option<&str>) -> Value {
    let view = View { audience: Audience::Public, role: Role::Attendee, crew: &[], tagger, me };
    serde_json::to_value(view.snapshot(state)).unwrap()
}

fn demo() -> EventState {
    let demo = include_str!("../../../config/events/sjtu-forum.toml");
    EventState::new(crate::config::parse_event(demo, Utc::now()).unwrap())
}

/// The demo in the round table, with a poll open, an approved question with an upvote, a
/// ballot and a note to the chair.
fn busy_demo() -> EventState {
    let mut state = demo();
    let chair = person("chair", Role::Moderator, Lang::Zh);
    let now = 1_767_225_600_000;
    let run = |state: &mut EventState, command: Command, actor: &Actor| state.apply(&command, actor, now).unwrap();
    run(&mut state, Command::Goto { version: 0, segment: "round-table".into() }, &chair);
    run(&mut state, Command::PollOpen { poll: "next-forum".into() }, &chair);
    let asker = person("asker", Role::Attendee, Lang::Ja);
    run(
        &mut state,
        Command::QuestionAsk { segment: None, text: "データは?".into(), lang: None, anonymous: false },
        &asker,
    );
    let question = state.questions.items.keys().next().copied().unwrap();
    run(&mut state, Command::QuestionApprove { question }, &chair);
    let ballot = |participant: &str, vote| Ballot {
        participant: participant.into(),
        id: format!("v-{participant}"),
        name: participant.into(),
        role: Role::Attendee,
        vote,
    };
    let ballots = vec![
        ballot("asker", Vote::Poll { poll: "next-forum".into(), choices: vec![1] }),
        ballot("voter", Vote::Question { question, up: true }),
    ];
    run(&mut state, Command::Votes { ballots }, &chair);
    run(
        &mut state,
        Command::NoteSend { preset: Some("mic-dead".into()), text: None },
        &person("av", Role::Av, Lang::En),
    );
    state
}

#[test]
fn the_shared_snapshot_is_each_fresh_attendee_s_own() {
    let state = busy_demo();
    let tagger = Tagger::new("epoch");
    let shared = snapshot(&state, &tagger, None);
    for fresh in ["fresh-zh", "fresh-ja", "fresh-en"] {
        assert!(state.holds_nothing_of(fresh));
        assert_eq!(snapshot(&state, &tagger, Some(fresh)), shared, "{fresh}");
    }
    for own in ["asker", "voter"] {
        assert!(!state.holds_nothing_of(own), "{own} has something of their own");
        assert_ne!(snapshot(&state, &tagger, Some(own)), shared, "{own} sees their own");
    }
}

#[test]
fn every_role_in_every_language_is_welcomed_with_the_snapshot_it_had_before() {
    let tagger = Tagger::new("epoch");
    let roles = || Role::ALL.into_iter();
    for (seq, state) in [(0, demo()), (7, busy_demo())] {
        let mut shared = SharedSnapshot::default();
        for (role, lang) in roles().flat_map(|role| [Lang::Zh, Lang::Ja, Lang::En].map(|lang| (role, lang))) {
            for participant in ["fresh", "asker", "voter", "av"] {
                let mut actor = person(participant, role, lang);
                if role == Role::Av {
                    actor.crew = vec![CrewPosition::ALL[0]];
                }
                let me = Some(actor.participant.as_str());
                let view = View { audience: Audience::of(role), role, crew: &actor.crew, tagger: &tagger, me };
                let before = serde_json::to_value(view.snapshot(&state)).unwrap();
                shared.prepare(&state, seq, &tagger, &actor);
                let now = serde_json::to_value(shared.for_actor(&state, seq, &tagger, &actor)).unwrap();
                assert_eq!(now, before, "{role:?} in {lang:?} as {participant} at seq {seq}");
            }
        }
        assert!(shared.0.is_some(), "fresh attendees were welcomed with the shared bytes");
    }
}
