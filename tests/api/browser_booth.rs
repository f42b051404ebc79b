//! The booth's controls seen where they matter, in real headless Chromium: a blackout and a
//! full-screen message pressed on the console cover the speaker's stage screen (and the
//! console's cockpit says so); a side timer made and started on the console counts on the
//! stage and cue screens.

use std::time::Duration;

use eventhub::domain::Role;
use fantoccini::Locator;

use crate::browser::{Browser, Page};
use crate::helpers::spawn_app;

const PATIENCE: Duration = Duration::from_secs(15);

/// Waits until `script` (a function body) returns true on the page.
async fn until_true(page: &Page, what: &str, script: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let value = page.client.execute(script, vec![]).await.expect("the script runs");
        if value == serde_json::Value::Bool(true) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} did not happen within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the element is on screen: present, not hidden, and taking room.
fn shown(selector: &str) -> String {
    format!(
        "const n = document.querySelector('{selector}'); \
         return Boolean(n) && !n.hidden && n.getClientRects().length > 0"
    )
}

fn not_shown(selector: &str) -> String {
    format!("const n = document.querySelector('{selector}'); return !n || n.hidden")
}

async fn type_into(page: &Page, selector: &str, text: &str) {
    let input = page.client.find(Locator::Css(selector)).await.expect("the field exists");
    input.clear().await.expect("it clears");
    input.send_keys(text).await.expect("it takes the text");
}

#[tokio::test]
async fn a_blackout_and_a_full_screen_message_from_the_console_cover_the_stage() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let stage = browser.session().await;
    stage.open(&app, "stage", Role::Speaker, "&lang=ja&name=Stage").await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=ja&name=Fukuda").await;
    until_true(&stage, "the stage screen shows its clock", &not_shown("#stage-blackout")).await;

    console.click("#btn-blackout").await;
    until_true(&stage, "the stage went black", &shown("#stage-blackout")).await;
    until_true(&console, "the cockpit says the stage is black", &shown("#ck-blackout")).await;
    console.wait_attr("#btn-blackout", "aria-pressed", "true").await;
    console.click("#btn-blackout").await;
    until_true(&stage, "the stage came back", &not_shown("#stage-blackout")).await;
    until_true(&console, "the cockpit's blackout badge went", &not_shown("#ck-blackout")).await;

    type_into(&console, "#fullscreen-text", "休憩 · 11:20 再開").await;
    console.click("#btn-fullscreen").await;
    until_true(&stage, "the full-screen message covers the stage", &shown("#stage-fullscreen")).await;
    stage.wait_text("#stage-fullscreen", |t| t == "休憩 · 11:20 再開").await;
    until_true(&console, "the cockpit says a message fills the stage", &shown("#ck-fullscreen")).await;
    console.click("#btn-fullscreen-clear").await;
    until_true(&stage, "the stage returned to its clock", &not_shown("#stage-fullscreen")).await;
    until_true(&stage, "the clock is on screen again", &shown("#countdown")).await;
}

#[tokio::test]
async fn a_side_timer_started_on_the_console_counts_on_the_stage_and_cue_screens() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Fukuda").await;
    let stage = browser.session().await;
    stage.open(&app, "stage", Role::Speaker, "&lang=en&name=Stage").await;
    let cues = browser.session().await;
    cues.open(&app, "cues", Role::Av, "&lang=en&name=Booth").await;

    type_into(&console, "#timer-name", "Break ends in").await;
    type_into(&console, "#timer-minutes", "3").await;
    console.click("#btn-timer-create").await;
    let time = "[data-timer=\"timer-1\"] .side-timer-time";
    stage.wait_text(&format!("#stage-timers {time}"), |t| t == "3:00").await;
    cues.wait_text(&format!("#cue-timers {time}"), |t| t == "3:00").await;
    stage.wait_text("#stage-timers [data-timer=\"timer-1\"] .side-timer-name", |t| t == "Break ends in").await;

    console.click("#booth-timers [data-timer=\"timer-1\"] .bt-toggle").await;
    // Counting down: 2:59, 2:58… on both screens, from the synchronized clock.
    let counting = |t: &str| t.starts_with("2:5");
    stage.wait_text(&format!("#stage-timers {time}"), counting).await;
    cues.wait_text(&format!("#cue-timers {time}"), counting).await;
    let first = stage.wait_text(&format!("#stage-timers {time}"), counting).await;
    stage.wait_text(&format!("#stage-timers {time}"), |t| counting(t) && t != first).await;

    console.click("#booth-timers [data-timer=\"timer-1\"] .bt-plus").await;
    stage.wait_text(&format!("#stage-timers {time}"), |t| t.starts_with("3:5")).await;
    // Taken off the cue screens, it stays on the stage.
    console.click("#booth-timers [data-timer=\"timer-1\"] .bt-cues").await;
    until_true(&cues, "the timer left the cue screen", &not_shown("#cue-timers")).await;
    stage.wait_text(&format!("#stage-timers {time}"), |t| t.starts_with("3:5")).await;
}

#[tokio::test]
async fn a_crew_note_stands_in_the_cockpit_until_read_and_the_crew_screen_sees_it_read() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Ji%20Weidong").await;
    let cues = browser.session().await;
    cues.open(&app, "cues", Role::Av, "&lang=ja&name=Fukuda&crew=audio").await;
    let phone = browser.session().await;
    phone.open(&app, "notes", Role::Speaker, "&lang=zh&name=Zhang%20Ying").await;
    until_true(&console, "no note stands in the cockpit yet", &not_shown("#ck-notes")).await;

    cues.click("#cue-notes [data-preset=\"mic-dead\"]").await;
    let note = console.wait_text("#ck-notes .ck-note", |t| t.contains("Mic dead")).await;
    assert!(note.contains("Fukuda"), "the cockpit says who sent it: {note:?}");
    cues.wait_text("#note-mine .note-status", |t| t.contains("未確認")).await;

    type_into(&phone, "#note-text", "幻灯片打不开").await;
    phone.click("#btn-note-send").await;
    console.wait_text("#ck-notes", |t| t.contains("幻灯片打不开") && t.contains("Mic dead")).await;

    console.click("#ck-notes .ck-note:first-child .note-ack").await;
    cues.wait_text("#note-mine .note-status", |t| t.contains("Ji Weidong") && t.contains("確認")).await;
    let left = console.wait_text("#ck-notes", |t| !t.contains("Mic dead")).await;
    assert!(left.contains("幻灯片打不开"), "the unread note stays: {left:?}");
    phone.wait_text("#note-mine .note-status", |t| t.contains("尚未阅读")).await;
    console.click("#ck-notes .note-ack").await;
    until_true(&console, "the cockpit's notes went once read", &not_shown("#ck-notes")).await;
    phone.wait_text("#note-mine .note-status", |t| t.contains("Ji Weidong")).await;
}

#[tokio::test]
async fn a_stage_screen_is_identified_and_sent_to_another_speaker_from_the_console() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("goto", serde_json::json!({"segment": "keynotes"})).await["type"], "ack");
    let browser = Browser::start().await;
    // The lectern's screen, opened from its short link as a kiosk would.
    let stage = browser.session().await;
    let url = format!("http://{}/s/lectern", app.addr);
    stage.client.goto(&url).await.expect("the short link opens");
    stage.wait_attr("#conn-status", "data-state", "connected").await;
    stage.wait_text("#current-speaker", |t| t == "张英").await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Ji%20Weidong").await;

    let row = "#screens-list .screen-row[data-page=\"stage\"]";
    console.wait_text(&format!("{row} .scr-title"), |t| t == "Lectern").await;
    console.click(&format!("{row} .scr-identify")).await;
    stage.wait_text("#screen-identify", |t| t == "Lectern").await;

    // Sent to the second keynote speaker's screen: it reloads as that speaker's screen.
    let select = console.client.find(Locator::Css(&format!("{row} select.scr-speaker"))).await.unwrap();
    select.select_by_value("1").await.unwrap();
    console.click(&format!("{row} .scr-apply")).await;
    stage.wait_text("#serves", |t| t.contains("陆铭")).await;
    let address = stage.client.current_url().await.unwrap();
    assert!(address.fragment().is_some_and(|f| f.contains("speaker=1") && f.contains("name=Lectern")), "{address}");
    console.wait_text(&format!("{row} .scr-head"), |t| t.contains("speaker=1")).await;
}
