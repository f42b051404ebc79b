//! The audience's snapshot encoded once is what each attendee with nothing of their own in
//! the state would have been sent on their own, on the demo, before and after others asked,
//! voted and sent notes.

use chrono::Utc;
use serde_json::Value;

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

#[test]
fn the_shared_snapshot_is_each_fresh_attendee_s_own() {
    let demo = include_str!("../../../config/events/sjtu-forum.toml");
    let mut state = EventState::new(crate::config::parse_event(demo, Utc::now()).unwrap());
    let tagger = Tagger::new("epoch");
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
