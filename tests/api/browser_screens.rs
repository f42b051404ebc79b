//! The screens nobody may misread, in real headless Chromium: clock sync against a wrong
//! clock, an attendee's request when the chair moves on, the cue screen's offline overlay.

use std::time::Duration;

use eventhub::domain::Role;
use fantoccini::Locator;
use serde_json::json;

use crate::browser::{clocks_synchronized, Browser, Page};

/// How far the wrong page's clock is ahead of the real one.
const SHIFT_MS: i64 = 7_000;

/// Runs in every document of the session before any of the page's own scripts: `Date.now()`
/// and `new Date()` run 7 s ahead.
const SHIFT_CLOCK: &str = r#"(() => {
  const shift = 7000, Real = Date, realNow = Real.now.bind(Real);
  class Shifted extends Real {
    constructor(...args) { if (args.length === 0) super(realNow() + shift); else super(...args); }
    static now() { return realNow() + shift; }
  }
  window.Date = Shifted;
  window.__clockShift = shift;
})();"#;

async fn text_of(page: &Page, selector: &str) -> String {
    page.client.find(Locator::Css(selector)).await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn a_page_with_a_clock_seven_seconds_off_agrees_with_one_that_is_right() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("goto", json!({"segment": "keynotes"})).await["type"], "ack");
    let browser = Browser::start().await;
    let right = browser.session().await;
    let wrong = browser.session_with(SHIFT_CLOCK).await;
    right.open(&app, "attend", Role::Attendee, "&lang=en&name=Right%20Clock").await;
    wrong.open(&app, "attend", Role::Attendee, "&lang=ja&name=Tanaka").await;

    let shift = wrong.client.execute("return window.__clockShift ?? null", vec![]).await.unwrap();
    assert_eq!(shift, json!(SHIFT_MS), "the wrong page's clock is shifted from its first script on");
    // Both pages' estimates of the server's time come within the tolerance of it: the wrong
    // page measured its clock 7 s ahead and corrects for it.
    let errors = clocks_synchronized(&[&right, &wrong]).await;
    let offset = |page: &Page| {
        let client = page.client.clone();
        async move {
            let value = client.execute("return Number(document.body.dataset.clockOffset)", vec![]).await.unwrap();
            value.as_f64().expect("an offset")
        }
    };
    let (right_offset, wrong_offset) = (offset(&right).await, offset(&wrong).await);
    eprintln!(
        "clock sync: offsets {right_offset} / {wrong_offset} ms; estimated server time minus real time {:.1} / {:.1} ms",
        errors[0], errors[1]
    );
    assert!(
        (wrong_offset + SHIFT_MS as f64).abs() < 1000.0,
        "the shifted page measured its clock about 7 s ahead: offset {wrong_offset} ms"
    );

    // The same countdown second on both: read right, wrong, right; when right did not tick
    // meanwhile, wrong must show the same. A clock 7 s off never passes; two within a fifth
    // of a second of each other do on most tries.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut agreed = None;
    while agreed.is_none() && tokio::time::Instant::now() < deadline {
        let first = text_of(&right, "#countdown").await;
        let other = text_of(&wrong, "#countdown").await;
        let again = text_of(&right, "#countdown").await;
        if first == again && first.contains(':') {
            if first == other {
                agreed = Some(first);
            } else {
                eprintln!("countdowns differ: {first:?} and {other:?}");
            }
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    assert!(agreed.is_some(), "the two pages never showed the same countdown second");
    right.client.clone().close().await.unwrap();
    wrong.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_waiting_attendee_sees_the_request_carried_over_or_closed_when_the_chair_moves_on() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    assert_eq!(chair.run("goto", json!({"segment": "round-table"})).await["type"], "ack");
    let browser = Browser::start().await;
    let attendee = browser.session().await;
    attendee.open(&app, "attend", Role::Attendee, "&lang=en&name=Tanaka%20Yuki&mode=remote").await;
    attendee.click("#btn-ask").await;
    attendee.wait_text("#my-status", |t| t.contains("nobody ahead of you")).await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Fukuda").await;

    // No "It's your turn" anywhere for a request whose segment is over.
    let no_turn = |page: &Page| {
        let client = page.client.clone();
        async move {
            let shown = client
                .execute(
                    "return { status: document.getElementById('my-entry').hidden ? '' : document.getElementById('my-status').textContent, \
                              turn: !document.getElementById('your-turn').hidden, title: document.title }",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(shown["turn"], json!(false), "no \"It's your turn\" for a segment that is over: {shown}");
            assert!(!shown["status"].as_str().unwrap().contains("your turn"), "{shown}");
            assert!(!shown["title"].as_str().unwrap().contains("Your turn"), "{shown}");
        }
    };

    // The round table is a panel, whose queue carries its requests over (docs/protocol.md,
    // "When a segment ends"): the request moves to the closing summary's queue.
    assert_eq!(chair.run("goto", json!({"segment": "closing"})).await["type"], "ack");
    attendee.wait_text("#current-title", |t| t == "Closing summary").await;
    let notice = attendee.wait_text("#my-notice-text", |t| !t.is_empty()).await;
    assert_eq!(notice, "Your request moved to “Closing summary”.");
    no_turn(&attendee).await;
    attendee.wait_attr("#my-entry", "data-live", "true").await;
    console.wait_text("#queue-waiting", |t| t.contains("Tanaka Yuki")).await;

    // The closing summary's queue does not carry over: when the chair moves on, the request
    // is closed, and the page says so, naming the segment, and offers to ask again.
    assert_eq!(chair.run("goto", json!({"segment": "keynotes"})).await["type"], "ack");
    attendee.wait_text("#current-title", |t| t == "Keynote speeches").await;
    let notice = attendee.wait_text("#my-notice-text", |t| !t.contains("moved to")).await;
    assert_eq!(notice, "“Closing summary” has ended; your request was closed.");
    no_turn(&attendee).await;
    attendee.wait_text("#ask-queue", |t| !t.is_empty()).await;
    attendee.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_cue_screen_covers_its_cues_while_the_server_is_away() {
    let mut app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let screen = browser.session().await;
    screen.open(&app, "cues", Role::Av, "&lang=en&name=Wang").await;
    // A hidden element has no visible text: empty means the overlay is not shown.
    screen.wait_text("#offline", |t| t.is_empty()).await;

    app.stop().await;
    screen.wait_text("#offline", |t| t.contains("OFFLINE") && t.contains("cues not live")).await;
    let covers = screen
        .client
        .execute(
            "const r = document.getElementById('offline').getBoundingClientRect(); \
             return r.width >= innerWidth && r.height >= innerHeight",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(covers, json!(true), "the overlay covers the whole screen");

    app.start_again().await;
    screen.wait_attr("#conn-status", "data-state", "connected").await;
    screen.wait_text("#offline", |t| t.is_empty()).await;
    screen.client.clone().close().await.unwrap();
}
