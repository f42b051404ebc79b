//! The programme as an iCalendar file, read back with the Python icalendar library as a
//! calendar script reads it: every segment at its planned time, in the event's time zone,
//! again after a plan edit.

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{python_json, spawn_app, TestApp, EVENT};
use crate::retries::join_as;

/// The calendar's events as icalendar reads them: uid, summary, start and end in epoch
/// milliseconds, sequence, and the zone of their start.
async fn events_of(ics: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("programme.ics");
    std::fs::write(&path, ics).unwrap();
    let script = "import json, sys, icalendar\n\
                  cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())\n\
                  zones = [str(z['TZID']) for z in cal.walk('VTIMEZONE')]\n\
                  ms = lambda d: int(d.timestamp() * 1000)\n\
                  events = [{'uid': str(e['UID']), 'summary': str(e['SUMMARY']), 'start': ms(e.decoded('DTSTART')),\n\
                             'end': ms(e.decoded('DTEND')), 'zone': str(e.decoded('DTSTART').tzinfo),\n\
                             'sequence': int(e['SEQUENCE'])} for e in cal.walk('VEVENT')]\n\
                  print(json.dumps({'zones': zones, 'events': events}))";
    python_json(script, &[&path], "icalendar 7.3.0").await
}

async fn programme(app: &TestApp, token: &str, lang: &str) -> (u16, String, String) {
    app.get(&format!("/api/events/{EVENT}/programme.ics?token={token}&lang={lang}")).await
}

#[tokio::test]
async fn the_programme_calendar_has_every_segment_at_its_planned_time_and_follows_a_plan_edit() {
    let app = spawn_app().await;
    let (mut chair, welcome) = join_as(app.addr, app.token(Role::Moderator), "Fukuda", "chair").await;
    let (status, head, body) = programme(&app, app.token(Role::Attendee), "ja").await;
    assert_eq!(status, 200, "{body}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/calendar"), "{head}");
    let read = events_of(&body).await;
    assert_eq!(read["zones"], json!(["Asia/Shanghai"]));
    let segments = welcome["snapshot"]["segments"].as_array().unwrap();
    let events = read["events"].as_array().unwrap();
    assert_eq!(events.len(), segments.len(), "one event per segment");
    for (event, segment) in events.iter().zip(segments) {
        let start = segment["planned_start"].as_i64().unwrap();
        assert_eq!(event["start"].as_i64(), Some(start), "{event} {segment}");
        assert_eq!(event["end"].as_i64(), Some(start + segment["duration_ms"].as_i64().unwrap()));
        assert_eq!(event["summary"], segment["title"]["ja"]);
        assert_eq!(event["zone"], "Asia/Shanghai");
        assert_eq!(event["uid"], format!("{EVENT}-{}@eventhub", segment["id"].as_str().unwrap()));
        assert_eq!(event["sequence"], 0);
    }

    let first = segments[0]["id"].as_str().unwrap();
    let longer = json!({"plan_version": 0, "segment": first, "duration_min": segments[0]["duration_ms"].as_i64().unwrap() / 60_000 + 5});
    assert_eq!(chair.run("plan_update_segment", longer).await["type"], "ack");
    let (_, _, body) = programme(&app, app.token(Role::Attendee), "en").await;
    let after = events_of(&body).await;
    let second = &after["events"][1];
    assert_eq!(second["start"].as_i64(), Some(segments[1]["planned_start"].as_i64().unwrap() + 5 * 60_000));
    assert_eq!((second["sequence"].as_i64(), &second["summary"]), (Some(1), &segments[1]["title"]["en"]));

    assert_eq!(programme(&app, "nope", "en").await.0, 401, "a token of the event");
    assert_eq!(programme(&app, app.token(Role::Attendee), "fr").await.0, 400, "zh, ja or en");
    let token = app.token(Role::Attendee);
    assert_eq!(app.get(&format!("/api/events/nope/programme.ics?token={token}")).await.0, 404);
}
