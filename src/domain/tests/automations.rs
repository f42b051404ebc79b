//! Automations: when they fire, what they match, their templates and where they may send.

use super::*;

fn triggers(old: &EventState, new: &EventState) -> Vec<automation::Trigger> {
    automation::fired(old, new).into_iter().map(|f| f.trigger).collect()
}

#[test]
fn automations_see_segments_start_and_end_speakers_holds_cues_and_the_end() {
    use automation::Trigger::*;
    let standby = forum();
    let live = started();
    assert_eq!(triggers(&standby, &live), [SegmentStart, SpeakerStart]);
    let mut state = live.clone();
    run(&mut state, |version| Command::Hold { version }, T0 + MIN).unwrap();
    assert_eq!(triggers(&live, &state), [Hold]);
    let held = state.clone();
    run(&mut state, |version| Command::Resume { version }, T0 + 2 * MIN).unwrap();
    assert_eq!(triggers(&held, &state), [Resume]);
    let before = state.clone();
    run(&mut state, next, T0 + 3 * MIN).unwrap();
    assert_eq!(triggers(&before, &state), [SegmentEnd, SegmentStart, SpeakerStart]);
    let fired = automation::fired(&before, &state);
    assert_eq!((fired[0].segment, fired[1].segment), (Some(0), Some(1)));
    let standby = Command::CueStandby {
        target: Some(cues::CueTarget::Position(CrewPosition::Lighting)),
        text: Some(Localized::same("house down")),
        preset: None,
        segment: None,
        speaker: None,
    };
    state.apply(&standby, &moderator(), T0 + 4 * MIN).unwrap();
    let before = state.clone();
    let id = state.cues.cues[0].id;
    state.apply(&Command::CueGo { cue: id }, &moderator(), T0 + 4 * MIN).unwrap();
    let fired = automation::fired(&before, &state);
    assert_eq!((fired[0].trigger, fired[0].cue), (CueGo, Some(id)));
    let before = state.clone();
    run(&mut state, |version| Command::End { version }, T0 + 5 * MIN).unwrap();
    assert_eq!(triggers(&before, &state), [SegmentEnd, ShowEnd]);
}

#[test]
fn thresholds_ahead_count_down_from_the_live_segment_and_stand_still_while_held() {
    use automation::Trigger::*;
    let mut state = started();
    // Opening: 10 minutes, amber at 2:00 left, red at 0:30.
    let ahead = automation::thresholds_ahead(&state, T0 + MIN);
    assert_eq!(ahead, [(Warning, T0 + 8 * MIN), (Danger, T0 + 10 * MIN - 30_000), (Overrun, T0 + 10 * MIN)]);
    assert_eq!(
        automation::thresholds_ahead(&state, T0 + 9 * MIN),
        [(Danger, T0 + 10 * MIN - 30_000), (Overrun, T0 + 10 * MIN)]
    );
    run(&mut state, |version| Command::Hold { version }, T0 + MIN).unwrap();
    assert!(automation::thresholds_ahead(&state, T0 + 2 * MIN).is_empty());
    run(&mut state, |version| Command::Resume { version }, T0 + 3 * MIN).unwrap();
    assert_eq!(automation::thresholds_ahead(&state, T0 + 3 * MIN)[0], (Warning, T0 + 10 * MIN), "two minutes later");
}

fn osc_automation(trigger: automation::Trigger) -> automation::Automation {
    automation::Automation {
        trigger,
        segments: vec![],
        kinds: vec![],
        targets: vec![],
        osc: Some(automation::OscOutput {
            host: "127.0.0.1".into(),
            port: 53000,
            address: "/cue/{{segment.number}}/start".into(),
            args: vec![],
        }),
        http: None,
    }
}

#[test]
fn automations_match_by_trigger_segment_kind_and_cue_target() {
    let state = started();
    let firing = automation::fired(&forum(), &state).remove(0);
    let mut a = osc_automation(automation::Trigger::SegmentStart);
    assert!(a.matches(&firing, &state));
    a.segments = vec!["keynotes".into()];
    assert!(!a.matches(&firing, &state));
    a.segments = vec![];
    a.kinds = vec![SegmentKind::Keynote];
    assert!(a.matches(&firing, &state), "the test forum's segments are keynotes");
    a.kinds = vec![SegmentKind::Panel];
    assert!(!a.matches(&firing, &state));
    assert!(!osc_automation(automation::Trigger::SegmentEnd).matches(&firing, &state));
}

#[test]
fn automations_are_checked_and_only_the_organizer_edits_them() {
    let mut state = forum();
    let mut bad = osc_automation(automation::Trigger::Warning);
    bad.osc = None;
    let organizer = Actor { role: Role::Organizer, ..moderator() };
    let command = |automations| Command::PlanUpdateAutomations { plan_version: 0, automations };
    assert_eq!(state.apply(&command(vec![bad]), &organizer, T0).unwrap_err().code(), "invalid_field");
    let mut targeted = osc_automation(automation::Trigger::Warning);
    targeted.targets = vec![CrewPosition::Audio];
    assert_eq!(state.apply(&command(vec![targeted]), &organizer, T0).unwrap_err().code(), "invalid_field");
    let good = vec![osc_automation(automation::Trigger::SegmentStart)];
    assert_eq!(state.apply(&command(good.clone()), &moderator(), T0).unwrap_err().code(), "forbidden");
    state.apply(&command(good.clone()), &organizer, T0).unwrap();
    assert_eq!(state.show.automations, good);
    edit(&mut state, |plan_version| Command::PlanUndo { plan_version }, T0).unwrap();
    assert!(state.show.automations.is_empty(), "plan undo covers automations");
}

#[test]
fn clocks_read_as_a_key_shows_them() {
    use super::live::{clock_text, remaining_text};
    assert_eq!(clock_text(0), "00:00");
    assert_eq!(clock_text(59_999), "00:59");
    assert_eq!(clock_text(-65_000), "-01:05");
    assert_eq!(clock_text(3_723_000), "1:02:03");
    assert_eq!(remaining_text(59_001), "01:00", "a countdown rounds up");
    assert_eq!(remaining_text(-400), "00:00");
}

#[test]
fn templates_name_the_segment_speaker_cue_and_clock_of_a_firing() {
    let state = started();
    let firing = automation::fired(&forum(), &state).remove(0);
    let at = T0 + MIN + 500;
    let text = automation::render(
        "/cue/{{segment.number}}/start {{ segment.id }} {{trigger}} {{remaining}} {{elapsed}} {{speaker.name}}",
        Escape::Plain,
        &firing,
        &state,
        at,
    );
    let first = &state.show.segments[0];
    let speaker = first.speakers[0].name.get(Lang::En);
    assert_eq!(text, format!("/cue/1/start {} segment_start 09:00 01:00 {speaker}", first.id));
    assert_eq!(
        automation::render("{{segment.title.ja}}", Escape::Plain, &firing, &state, at),
        first.title.get(Lang::Ja)
    );
    assert_eq!(automation::render("{{next.id}}", Escape::Plain, &firing, &state, at), state.show.segments[1].id);
    for unknown in ["{{nope}}", "{{segment.title.fr}}", "{{cue.id}}", "open {{ no end"] {
        assert_eq!(automation::render(unknown, Escape::Plain, &firing, &state, at), unknown, "left as written");
    }
}

#[test]
fn a_value_in_a_url_is_percent_encoded_and_in_a_json_body_escaped() {
    let mut state = started();
    let mut show = (*state.show).clone();
    show.segments[0].title.en = "x?delete=all#/../admin \"quoted\" 日本".into();
    state.show = std::sync::Arc::new(show);
    let firing = automation::fired(&forum(), &state).remove(0);
    let url = automation::render("http://desk/hook?title={{segment.title}}", Escape::Url, &firing, &state, T0);
    assert_eq!(url, "http://desk/hook?title=x%3Fdelete%3Dall%23%2F..%2Fadmin%20%22quoted%22%20%E6%97%A5%E6%9C%AC");
    let body = automation::render(r#"{"t": "{{segment.title}}"}"#, Escape::Json, &firing, &state, T0);
    let parsed: serde_json::Value = serde_json::from_str(&body).expect("still JSON");
    assert_eq!(parsed["t"], "x?delete=all#/../admin \"quoted\" 日本");
    assert_eq!(Escape::for_body(Some("application/json; charset=utf-8")), Escape::Json);
    assert_eq!(Escape::for_body(None), Escape::Plain);
}

#[test]
fn automation_urls_with_a_user_or_a_templated_host_are_refused() {
    let http = |url: &str| automation::Automation {
        trigger: automation::Trigger::SegmentStart,
        segments: Vec::new(),
        kinds: Vec::new(),
        targets: Vec::new(),
        osc: None,
        http: Some(automation::HttpOutput { method: "GET".into(), url: url.into(), body: None, content_type: None }),
    };
    for bad in ["http://admin:pw@desk/hook", "http://user@desk/", "http://{{segment.id}}.local/x", "http:///path"] {
        assert!(automation::checked(&[http(bad)]).is_err(), "{bad}");
    }
    assert!(automation::checked(&[http("http://10.0.0.4:8080/hook?s={{segment.id}}")]).is_ok());
}

#[test]
fn destinations_refuse_link_local_unless_listed_and_keep_to_the_list() {
    use automation::Destinations;
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let open = Destinations::parse(&[]).unwrap();
    assert!(open.allows("desk", ip("10.0.0.4")) && open.allows("localhost", ip("127.0.0.1")));
    assert!(!open.allows("metadata", ip("169.254.169.254")));
    assert!(!open.allows("x", ip("::ffff:169.254.169.254")), "an IPv4-mapped address is the same address");
    assert!(!open.allows("x", ip("fe80::1")));
    let listed = Destinations::parse(&["10.0.0.0/8".into(), "qlab.local".into(), "169.254.10.0/24".into()]).unwrap();
    assert!(listed.allows("anything", ip("10.200.1.1")));
    assert!(listed.allows("QLab.local", ip("192.168.1.9")), "a listed host name, whatever it resolves to");
    assert!(!listed.allows("other", ip("192.168.1.9")));
    assert!(!listed.allows("qlab.local", ip("169.254.169.254")), "link-local only where a network lists it");
    assert!(listed.allows("x", ip("169.254.10.7")));
    for bad in ["10.0.0.0/33", "not a host", "", "::1/200"] {
        assert!(Destinations::parse(&[bad.into()]).is_err(), "{bad}");
    }
}
