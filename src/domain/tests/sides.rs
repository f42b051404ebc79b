//! Sides in the plan: what names a side (speakers, a segment's budgets) names one the event
//! has, through every plan edit.

use std::collections::BTreeMap;

use super::*;
use crate::domain::sides::SideInput;

fn with_budgets<'a>(segment: &'a str, budgets: &[(&str, u32)]) -> impl Fn(u64) -> Command + 'a {
    let budgets: BTreeMap<String, u32> = budgets.iter().map(|(side, s)| ((*side).to_owned(), *s)).collect();
    move |plan_version| {
        Command::PlanUpdateSegment(Box::new(plan::UpdateSegment {
            side_budgets: Some(budgets.clone()),
            ..update_of(segment, plan_version)
        }))
    }
}

fn update_of(segment: &str, plan_version: u64) -> plan::UpdateSegment {
    plan::UpdateSegment {
        plan_version,
        segment: segment.into(),
        kind: None,
        title: None,
        chair: None,
        speakers: None,
        duration_min: None,
        av_notes: None,
        warning_s: None,
        danger_s: None,
        speaking_limit_min: None,
        join_url: None,
        cues: None,
        interpretation: None,
        side_budgets: None,
    }
}

#[test]
fn a_segments_budgets_name_the_events_sides_and_last_a_second_to_a_day() {
    let mut state = two_sides();
    let error = edit(&mut state, with_budgets("keynotes", &[("kr", 600)]), T0).unwrap_err();
    assert_eq!(error.code(), "invalid_field");
    assert!(error.to_string().contains("\"kr\"") && error.to_string().contains("cn, jp"), "{error}");
    assert_eq!(edit(&mut state, with_budgets("keynotes", &[("cn", 0)]), T0).unwrap_err().code(), "invalid_field");
    edit(&mut state, with_budgets("keynotes", &[("cn", 600), ("jp", 540)]), T0).unwrap();
    let budgets = &state.show.segments[1].side_budgets;
    assert_eq!((budgets["cn"], budgets["jp"]), (600_000, 540_000));
}

#[test]
fn a_speaker_is_given_a_side_the_event_has_or_the_edit_is_refused() {
    let mut state = two_sides();
    let speakers = |side: &str| {
        let side = side.to_owned();
        move |plan_version| {
            let person = plan::SpeakerInput {
                id: Some("lu-ming".into()),
                name: Localized::same("Lu Ming"),
                affiliation: None,
                topic: None,
                mode: None,
                lang: None,
                minutes: None,
                side: Some(side.clone()),
            };
            let update = plan::UpdateSegment { speakers: Some(vec![person]), ..update_of("keynotes", plan_version) };
            Command::PlanUpdateSegment(Box::new(update))
        }
    };
    let error = edit(&mut state, speakers("taiwan"), T0).unwrap_err();
    assert_eq!(error.code(), "invalid_field");
    assert!(error.to_string().contains("Lu Ming") && error.to_string().contains("\"taiwan\""), "{error}");
    edit(&mut state, speakers("jp"), T0).unwrap();
    assert_eq!(state.show.segments[1].speakers[0].side.as_deref(), Some("jp"));
}

#[test]
fn the_sides_change_whole_and_one_still_named_cannot_go() {
    let mut state = two_sides();
    let sides = |list: Vec<SideInput>| {
        move |plan_version| {
            Command::PlanUpdateEvent(Box::new(plan::UpdateEvent {
                plan_version,
                title: None,
                venue: None,
                start: None,
                date: None,
                time_zone: None,
                sides: Some(list.clone()),
            }))
        }
    };
    let side = |id: &str, budget_s| SideInput { id: id.into(), name: Localized::same(id), budget_s };
    let error = edit(&mut state, sides(vec![side("cn", None)]), T0).unwrap_err();
    assert!(error.to_string().contains("Hideki Akamatsu"), "jp is still named: {error}");
    let error = edit(&mut state, sides(vec![side("cn", None), side("c n", None)]), T0).unwrap_err();
    assert_eq!(error.code(), "invalid_field");
    edit(&mut state, sides(vec![side("cn", Some(900)), side("jp", None), side("floor", None)]), T0).unwrap();
    let ids: Vec<(&str, Option<Millis>)> = state.show.sides.iter().map(|s| (s.id.as_str(), s.budget_ms)).collect();
    assert_eq!(ids, [("cn", Some(900_000)), ("jp", None), ("floor", None)]);
}

fn request(queue: &str, side: Option<&str>) -> Command {
    Command::QueueRequest { queue: queue.into(), kind: RequestKind::Speak, topic: None, side: side.map(str::to_owned) }
}

fn panellist(name: &str) -> Actor {
    Actor { participant: format!("p-{name}"), name: name.into(), role: Role::Speaker, ..attendee("x") }
}

#[test]
fn a_request_speaks_for_a_side_the_plan_has_or_is_an_invalid_field() {
    let mut state = two_sides();
    let error = state.apply(&request("event", Some("kr")), &attendee("a"), T0).unwrap_err();
    assert_eq!(error.code(), "invalid_field");
    assert!(error.to_string().contains("\"kr\"") && error.to_string().contains("cn, jp"), "{error}");
    state.apply(&request("event", Some("jp")), &attendee("a"), T0).unwrap();
    state.apply(&request("event", None), &attendee("b"), T0).unwrap();
    let sides: Vec<Option<&str>> = state.queues["event"].waiting.iter().map(|e| e.side.as_deref()).collect();
    assert_eq!(sides, [Some("jp"), None]);
}

#[test]
fn a_panellist_speaks_for_their_programme_side_unless_they_name_another() {
    let mut state = two_sides();
    state.apply(&request("opening", None), &panellist("hideki  AKAMATSU"), T0).unwrap();
    state.apply(&request("opening", Some("jp")), &panellist("Zhou Cheng"), T0).unwrap();
    let posing = Actor { participant: "p-pose".into(), ..attendee("Zhang Ying") };
    state.apply(&request("opening", None), &posing, T0).unwrap();
    let entries: Vec<(Option<&str>, Option<&str>)> =
        state.queues["opening"].waiting.iter().map(|e| (e.side.as_deref(), e.speaker.as_deref())).collect();
    assert_eq!(
        entries,
        [(Some("jp"), Some("hideki-akamatsu")), (Some("jp"), Some("zhou-cheng")), (None, None)],
        "an attendee may take any name, so a name alone gives no side"
    );
}

#[test]
fn only_the_chair_sets_a_side_and_only_one_the_plan_has() {
    let mut state = two_sides();
    state.apply(&request("event", None), &attendee("a"), T0).unwrap();
    let entry = state.queues["event"].waiting[0].id;
    let set = |side: Option<&str>, version| Command::QueueSide {
        queue: "event".into(),
        version,
        entry,
        side: side.map(str::to_owned),
    };
    assert_eq!(state.apply(&set(Some("cn"), 0), &attendee("a"), T0).unwrap_err().code(), "forbidden");
    assert_eq!(state.apply(&set(Some("kr"), 0), &moderator(), T0).unwrap_err().code(), "invalid_field");
    let changes = state.apply(&set(Some("cn"), 0), &moderator(), T0).unwrap();
    assert!(matches!(&changes[..], [Change::Queue { op, .. }] if op == "queue_side"));
    assert_eq!(state.queues["event"].waiting[0].side.as_deref(), Some("cn"));
    assert_eq!(state.apply(&set(None, 0), &moderator(), T0).unwrap_err().code(), "conflict");
    state.apply(&set(None, 1), &moderator(), T0).unwrap();
    assert_eq!(state.queues["event"].waiting[0].side, None);
}
