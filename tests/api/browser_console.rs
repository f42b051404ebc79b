//! The console as a cockpit, in real headless Chromium: its ±time moves the clock the stage
//! screen shows, and End cannot be given by one stray key, and comes back with Undo.

use std::time::Duration;

use eventhub::domain::Role;
use fantoccini::{key::Key, Locator};

use crate::browser::{Browser, Page};
use crate::helpers::spawn_app;

/// "19:58" → 1198 s; "+0:42" (overrun) → −42 s; "1:20:00" → 4800 s.
fn seconds(clock: &str) -> Option<i64> {
    let (sign, digits) = match clock.strip_prefix('+') {
        Some(rest) => (-1, rest),
        None => (1, clock),
    };
    let mut total = 0;
    for part in digits.trim().split(':') {
        total = total * 60 + part.parse::<i64>().ok()?;
    }
    Some(sign * total)
}

/// Waits until the console has moved on to the segment titled `title`.
async fn advance_to(console: &Page, title: &str) {
    console.click("#btn-next").await;
    console.wait_text("#current-title", |t| t == title).await;
}

#[tokio::test]
async fn the_consoles_plus_one_minute_gives_the_stage_screen_one_more_minute() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Chair").await;
    let stage = browser.session().await;
    stage.open(&app, "stage", Role::Speaker, "&lang=en&name=Zhang%20Ying").await;

    console.wait_text("#current-title", |t| !t.is_empty()).await;
    advance_to(&console, "Opening ceremony").await;
    advance_to(&console, "Keynote speeches").await;
    // The keynote speakers have planned minutes: the stage shows the speaker's 20:00.
    stage.wait_text("#current-speaker", |t| t.contains("Zhang Ying")).await;
    let before = stage.wait_text("#countdown", |t| t.starts_with("19:") || t == "20:00").await;
    let before = seconds(&before).expect("the stage shows a clock");

    console.click("#btn-extend-1").await;
    // One more minute, less the seconds that ran meanwhile.
    let one_more = |t: &str| seconds(t).is_some_and(|s| s >= before + 50 && s <= before + 60);
    stage.wait_text("#countdown", one_more).await;
    // The console's "Speaker" clock is the same clock, and says the stage shows it.
    console.wait_text("#speaker-countdown", one_more).await;
    let marked = console.client.find(Locator::Css("#speaker-clock.on-stage")).await;
    assert!(marked.is_ok(), "the console marks the speaker's clock as the one on stage");

    stage.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn one_enter_on_a_focused_end_does_not_end_the_show_and_undo_brings_it_back() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Chair").await;
    let attendee = browser.session().await;
    attendee.open(&app, "attend", Role::Attendee, "&lang=en&name=Tanaka%20Yuki&mode=remote").await;

    console.wait_text("#current-title", |t| !t.is_empty()).await;
    advance_to(&console, "Opening ceremony").await;
    advance_to(&console, "Keynote speeches").await;
    console.click("#btn-next-speaker").await;
    console.wait_text("#current-speaker", |t| t.contains("Lu Ming")).await;
    attendee.wait_text("#current-speaker", |t| t.contains("Lu Ming")).await;
    // Let the speaker's clock run, so that a restart from the full 20:00 would show.
    console.wait_text("#speaker-countdown", |t| t.starts_with("19:5") && t != "19:59").await;

    // One Enter on the focused End only arms it.
    let end = console.client.find(Locator::Css("#btn-end")).await.unwrap();
    console.client.execute("document.getElementById('btn-end').focus()", vec![]).await.unwrap();
    end.send_keys(&String::from(char::from(Key::Enter))).await.unwrap();
    console.wait_text("#btn-end", |t| t.contains("Press again")).await;
    // …and it disarms by itself after 3 s, the show still running everywhere.
    console.wait_text("#btn-end", |t| t == "End").await;
    console.wait_attr("body", "data-phase", "live").await;
    attendee.wait_attr("body", "data-phase", "live").await;
    attendee.wait_text("#current-title", |t| t == "Keynote speeches").await;

    // Two presses end it.
    console.click("#btn-end").await;
    console.wait_text("#btn-end", |t| t.contains("Press again")).await;
    // A second press within 250 ms is taken for the same double click, not a confirmation:
    // the pause between two deliberate presses is part of what is tested.
    tokio::time::sleep(Duration::from_millis(400)).await;
    console.click("#btn-end").await;
    attendee.wait_attr("body", "data-phase", "ended").await;
    console.wait_attr("body", "data-phase", "ended").await;

    // Undo from the toast: the same segment and speaker, their clocks running on.
    console.wait_text("#undo-toast", |t| t.contains("Undo")).await;
    console.click("#btn-undo").await;
    attendee.wait_attr("body", "data-phase", "live").await;
    console.wait_attr("body", "data-phase", "live").await;
    attendee.wait_text("#current-title", |t| t == "Keynote speeches").await;
    attendee.wait_text("#current-speaker", |t| t.contains("Lu Ming")).await;
    console.wait_text("#current-speaker", |t| t.contains("Lu Ming")).await;
    let speaker = console.wait_text("#speaker-countdown", |t| t.starts_with("19:")).await;
    assert!(seconds(&speaker).unwrap() < 19 * 60 + 58, "the speaker's clock went on from {speaker}, not from 20:00");
    // The segment's countdown goes on too: it started minutes of demo time ago, not now.
    let segment = attendee.wait_text("#countdown", |t| seconds(t).is_some()).await;
    assert!(seconds(&segment).unwrap() < 80 * 60 - 3, "the segment's clock went on: {segment}");

    attendee.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_console_shows_an_automation_that_failed() {
    let app = spawn_app().await;
    // A port nobody listens on: every attempt is refused at once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (mut organizer, _) = app.join(Role::Organizer, "Producer").await;
    let automations = serde_json::json!([{"trigger": "segment_start", "http": {"url": format!("http://{dead}/go")}}]);
    let reply = organizer
        .run("plan_update_automations", serde_json::json!({"plan_version": 0, "automations": automations}))
        .await;
    assert_eq!(reply["type"], "ack", "{reply}");

    let browser = Browser::start().await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Chair").await;
    console.wait_text("#automations", |t| t.contains("none failed")).await;
    advance_to(&console, "Opening ceremony").await;
    let line = console.wait_text("#automations", |t| t.contains("1 failed")).await;
    assert!(line.contains(&format!("http POST http://{dead}/go")), "{line}");
    let failed = console.client.find(Locator::Css("#automations.failed")).await;
    assert!(failed.is_ok(), "a failure is shown as one");
    console.client.clone().close().await.unwrap();
}

/// Counts the `presence_page` frames the page sends, from before its own scripts run.
const COUNT_PAGES: &str = "window.pagesAsked = 0; const send = WebSocket.prototype.send; \
    WebSocket.prototype.send = function (data) { \
      if (typeof data === 'string' && data.includes('\"presence_page\"')) window.pagesAsked += 1; \
      return send.call(this, data); };";

#[tokio::test]
async fn a_console_whose_list_is_whole_does_not_read_it_again_as_people_come_and_go() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let console = browser.session_with(COUNT_PAGES).await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Chair").await;
    // On the list but not all in the head count: the console itself, a cue screen, a speaker.
    let (_crew, _) = app.join(Role::Av, "Audio desk").await;
    let (_stage, _) = app.join(Role::Speaker, "Stage").await;
    console.wait_text("#presence-count", |t| t.contains('1')).await;
    // People come and go, one after another, over more than two of the console's 10-second
    // re-read gaps: the time that passes is what this tests, so a console that read its
    // list again on a timer would have done so twice.
    let started = tokio::time::Instant::now();
    let mut k = 0;
    while started.elapsed() < Duration::from_secs(21) {
        let (guest, _) = app.join(Role::Attendee, &format!("Guest {k}")).await;
        console.wait_text("#presence-count", |t| t.contains('2')).await;
        drop(guest);
        console.wait_text("#presence-count", |t| t.contains('1')).await;
        k += 1;
    }
    let asked = console.client.execute("return window.pagesAsked", vec![]).await.unwrap();
    assert_eq!(asked, 0, "the list the welcome brought stayed whole; nothing was read again");
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn time_is_up_for_one_keynote_speaker_is_gone_when_the_next_one_takes_the_stage() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Chair").await;
    let stage = browser.session().await;
    stage.open(&app, "stage", Role::Speaker, "&lang=en&name=Stage").await;
    console.wait_text("#current-title", |t| !t.is_empty()).await;
    advance_to(&console, "Opening ceremony").await;
    advance_to(&console, "Keynote speeches").await;
    stage.wait_text("#current-speaker", |t| t.contains("Zhang Ying")).await;

    console.click("#btn-stage-time-up").await;
    stage.wait_text("#stage-message", |t| !t.trim().is_empty()).await;
    console.click("#btn-next-speaker").await;
    stage.wait_text("#current-speaker", |t| t.contains("Lu Ming")).await;
    stage.wait_text("#stage-message", |t| t.trim().is_empty()).await;
    console.wait_text("#stage-current", |t| !t.to_lowercase().contains("time")).await;

    stage.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

/// Every control in the window whose centre is not its own: what covers it, as text.
const COVERED: &str = "return [...document.querySelectorAll('button, select, input, textarea, a[href], [tabindex]')] \
    .filter((n) => { const r = n.getBoundingClientRect(); return r.width > 0 && r.height > 0 \
      && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth \
      && getComputedStyle(n).visibility !== 'hidden'; }) \
    .map((n) => { const r = n.getBoundingClientRect(); \
      const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2); \
      return at && (n === at || n.contains(at)) ? null \
        : `${n.id || n.className || n.tagName} under ${at ? (at.id || at.className || at.tagName) : 'nothing'}`; }) \
    .filter(Boolean)";

#[tokio::test]
async fn no_control_of_the_console_lies_under_a_toast() {
    for (width, height) in [(1440, 900), (1920, 1080)] {
        // A fresh show and a fresh window for each size.
        let app = spawn_app().await;
        let browser = Browser::start().await;
        let console = browser.session().await;
        console.client.set_window_size(width, height).await.unwrap();
        console.open(&app, "console", Role::Moderator, "&lang=en&name=Chair").await;
        console.wait_attr("#conn-status", "data-state", "connected").await;
        console.wait_text("#current-title", |t| !t.is_empty()).await;
        // A show command opens the Undo toast; an undo says what it undid in the message toast.
        console.click("#btn-next").await;
        console.wait_text("#undo-toast", |t| t.contains("Undo")).await;
        console.click("#btn-undo").await;
        console.wait_text("#message", |t| !t.is_empty()).await;
        console.click("#btn-next").await;
        console.wait_text("#undo-toast", |t| t.contains("Undo")).await;
        console.wait_text("#message", |t| !t.is_empty()).await;
        let covered = console.client.execute(COVERED, vec![]).await.unwrap();
        assert_eq!(covered, serde_json::json!([]), "at {width}×{height}");
        console.client.clone().close().await.unwrap();
    }
}

/// Chooses `value` in the select `selector` of `page`, as a person picks an option.
async fn choose(page: &Page, selector: &str, value: &str) {
    page.client.find(Locator::Css(selector)).await.unwrap().select_by_value(value).await.unwrap();
}

#[tokio::test]
async fn the_consoles_balanced_order_calls_the_side_that_has_spoken_least_and_its_list_closes() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    // Ma Junjie, of the Chinese delegation, takes the floor as the round table starts.
    assert_eq!(chair.run("goto", serde_json::json!({"segment": "round-table"})).await["type"], "ack");
    let browser = Browser::start().await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Chair").await;
    let tanaka = browser.session().await;
    tanaka.open(&app, "attend", Role::Attendee, "&lang=en&name=Tanaka%20Yuki&mode=remote").await;

    console.wait_text("#speaking-list tr[data-side='cn'] .sp-total", |t| t != "0:00").await;
    console.wait_text("#speaking-list tr[data-side='cn'] .sp-seg", |t| t.ends_with("/ 20:00")).await;
    choose(&console, "#queue-policy", "balanced").await;
    loop {
        let frame = chair.next_frame().await;
        if frame["change"]["kind"] == "queue" && frame["change"]["state"]["policy"] == "balanced" {
            break;
        }
    }
    let (mut zhao, _) = app.join(Role::Attendee, "Zhao Min").await;
    let ask = serde_json::json!({"queue": "round-table", "side": "cn"});
    assert_eq!(zhao.run("queue_request", ask).await["type"], "ack");
    console.wait_text("#queue-waiting li:first-child .q-name", |t| t == "Zhao Min").await;
    // Tanaka asks after Zhao, for the Japanese delegation, with the page's side picker.
    choose(&tanaka, "#ask-side", "jp").await;
    tanaka.click("#btn-ask").await;
    console.wait_text("#queue-waiting li:first-child .q-name", |t| t == "Tanaka Yuki").await;
    let side = console.client.find(Locator::Css("#queue-waiting li:first-child select.q-side")).await.unwrap();
    assert_eq!(side.prop("value").await.unwrap().as_deref(), Some("jp"), "the console shows the entry's side");

    console.click("#btn-queue-next").await;
    console.wait_text("#queue-speaking .q-name", |t| t == "Tanaka Yuki").await;
    console.wait_attr("#speaking-list tr[data-side='jp']", "class", "sp-side running").await;

    console.click("#queue-closed").await;
    let late = browser.session().await;
    late.open(&app, "attend", Role::Attendee, "&lang=en&name=Late%20comer&mode=remote").await;
    late.wait_text("#ask-closed", |t| t.contains("closed")).await;
    late.wait_attr("#btn-ask", "disabled", "true").await;
    let (mut asking, _) = app.join(Role::Attendee, "Late too").await;
    let refused = asking.run("queue_request", serde_json::json!({"queue": "round-table"})).await;
    assert_eq!(refused["code"], "invalid_state", "{refused}");

    late.client.clone().close().await.unwrap();
    tanaka.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}
