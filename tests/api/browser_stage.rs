//! The stage screen from the speaker's side of the lectern, in real headless Chromium:
//! whoever has the floor from a speaker queue is who the hall's captions credit, who the
//! stage and the console's miniature name (the same text), and whose clock the stage shows;
//! the one on deck is next; over time, the digits keep their full contrast while the frame
//! and the banner flash; a break says when it ends, and End closes the screen.

use std::time::Duration;

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::browser::{Browser, Page};
use crate::control::request;
use crate::helpers::{hello_frame, Client, TestApp, EVENT};

/// How long two pages may take to agree.
const PATIENCE: Duration = Duration::from_secs(15);

/// An attendee on their phone (`mode`: in_room or remote) who asks to speak in the round table.
async fn asks_to_speak(app: &TestApp, name: &str, mode: &str) -> Client {
    let mut client = Client::connect(app.addr).await;
    let mut hello = hello_frame(app.token(Role::Attendee), name);
    hello["mode"] = json!(mode);
    client.send(hello).await;
    client.expect("welcome").await;
    assert_eq!(client.run("queue_request", json!({"queue": "round-table"})).await["type"], "ack");
    client
}

/// The chair on the round table, with `Sakano Osaka` (remote) speaking from its queue and
/// `Tanaka Yuki` (in the hall) on deck. The phones stay connected, as they would.
async fn round_table_with_the_floor_taken(app: &TestApp, chair: &mut Client) -> (Client, Client) {
    let sakano = asks_to_speak(app, "Sakano Osaka", "remote").await;
    let tanaka = asks_to_speak(app, "Tanaka Yuki", "in_room").await;
    assert_eq!(chair.run("queue_next", json!({"queue": "round-table", "version": 0})).await["type"], "ack");
    (sakano, tanaka)
}

async fn chair_on_the_round_table(app: &TestApp) -> Client {
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    assert_eq!(chair.run("goto", json!({"segment": "round-table"})).await["type"], "ack");
    chair
}

async fn run_js(page: &Page, script: &str) -> Value {
    page.client.execute(script, vec![]).await.expect("the script runs")
}

/// The text a person sees in a stage view (the stage page's or the console's miniature).
async fn view_text(page: &Page, selector: &str) -> String {
    let value = run_js(page, &format!("return document.querySelector('{selector}').innerText")).await;
    value.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn captions_and_the_console_miniature_credit_the_attendee_who_has_the_floor() {
    let app = crate::helpers::spawn_app().await;
    let mut chair = chair_on_the_round_table(&app).await;
    let browser = Browser::start().await;
    let stage = browser.session().await;
    stage.open(&app, "stage", Role::Speaker, "&lang=en&name=Stage").await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Fukuda").await;
    let hall = browser.session().await;
    hall.open(&app, "captions", Role::Display, "&tracks=en").await;
    stage.wait_text("#current-speaker", |t| t == "Ma Junjie").await;

    // Called while every page is open: the console hears only a queue change.
    let _phones = round_table_with_the_floor_taken(&app, &mut chair).await;
    stage.wait_text("#current-speaker", |t| t == "Sakano Osaka").await;

    let path = format!("/api/v1/events/{EVENT}/captions?lang=en&seq=1");
    let auth = format!("Bearer {}", app.token(Role::Captioner));
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "text/plain; charset=utf-8")];
    let reply = request(app.addr, "POST", &path, &headers, "How do we share data across borders?").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    hall.wait_text("#band-en", |t| t.contains("How do we share data")).await;
    let band = hall.wait_text("#band-en .cap-band-name", |t| t.contains("Sakano Osaka")).await;
    assert!(!band.contains("Ma Junjie"), "the hall screen credits the one with the floor: {band:?}");

    // The miniature is the stage: the same words, read off both screens (the clock may tick
    // between the two reads, so they are read until they agree).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (big, mini) = (view_text(&stage, "#stage-view").await, view_text(&console, "#stage-mini").await);
        if big == mini {
            assert!(mini.contains("Sakano Osaka") && !mini.contains("Ma Junjie"), "{mini:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the miniature shows {mini:?}, the stage {big:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for page in [stage, console, hall] {
        page.client.clone().close().await.unwrap();
    }
}

#[tokio::test]
async fn the_stage_shows_the_floor_speakers_countdown_where_she_is_and_who_is_on_deck() {
    let app = crate::helpers::spawn_app().await;
    let mut chair = chair_on_the_round_table(&app).await;
    let browser = Browser::start().await;
    let stage = browser.session().await;
    stage.open(&app, "stage", Role::Speaker, "&lang=en&name=Stage").await;
    stage.wait_text("#countdown", |t| t.starts_with("59:") || t == "1:00:00").await;

    let _phones = round_table_with_the_floor_taken(&app, &mut chair).await;
    stage.wait_text("#current-speaker", |t| t == "Sakano Osaka").await;
    let where_ = stage.wait_text("#speaker-where", |t| !t.is_empty()).await;
    assert!(where_.contains("remote") && !where_.contains("hall"), "{where_:?}");
    // The round table's 3-minute speaking limit, counting down: not the segment's hour.
    stage.wait_text("#countdown", |t| t.starts_with("2:5") || t == "3:00").await;
    stage.wait_text("#countdown-label", |t| t.starts_with("Speaking time")).await;
    stage.wait_text("#next-speaker", |t| t == "Tanaka Yuki").await;
    let next_where = stage.wait_text("#next-where", |t| !t.is_empty()).await;
    assert!(next_where.contains("in the hall"), "{next_where:?}");
    stage.client.clone().close().await.unwrap();
}

/// Samples, in the page, the digits' effective opacity and colour and the contrast of that
/// colour on the view's black, with the banner's background and the frame's shadow.
const SAMPLE: &str = "
  const view = document.querySelector(arguments[0]);
  const digits = view.querySelector('.sv-countdown');
  let opacity = 1;
  for (let n = digits; n; n = n.parentElement) opacity *= Number(getComputedStyle(n).opacity);
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => rgb(c).map((v) => v / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
    .reduce((sum, v, k) => sum + v * [0.2126, 0.7152, 0.0722][k], 0);
  const fg = getComputedStyle(digits).color, bg = getComputedStyle(view).backgroundColor;
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  return { opacity, color: fg, contrast: (hi + 0.05) / (lo + 0.05), visible: getComputedStyle(digits).visibility,
           banner: getComputedStyle(view.querySelector('.sv-over')).backgroundColor,
           frame: getComputedStyle(view).boxShadow };
";

#[tokio::test]
async fn over_time_the_digits_keep_full_contrast_while_the_frame_and_banner_flash() {
    let app = crate::helpers::spawn_app().await;
    let mut chair = chair_on_the_round_table(&app).await;
    let limit = json!({"queue": "round-table", "version": 0, "speaking_limit_s": 10});
    assert_eq!(chair.run("queue_settings", limit).await["type"], "ack");
    let browser = Browser::start().await;
    let stage = browser.session().await;
    stage.open(&app, "stage", Role::Speaker, "&lang=en&name=Stage").await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Fukuda").await;
    let sakano = asks_to_speak(&app, "Sakano Osaka", "remote").await;
    assert_eq!(chair.run("queue_next", json!({"queue": "round-table", "version": 1})).await["type"], "ack");

    stage.wait_text("#countdown", |t| t.starts_with('+')).await;
    stage.wait_attr("#countdown", "data-level", "overrun").await;
    stage.wait_text("#stage-over", |t| t.contains("OVER TIME")).await;
    for (page, view) in [(&stage, "#stage-view"), (&console, "#stage-mini")] {
        let mut banners = std::collections::BTreeSet::new();
        let mut frames = std::collections::BTreeSet::new();
        for _ in 0..10 {
            let sample = page.client.execute(SAMPLE, vec![json!(view)]).await.unwrap();
            assert_eq!(sample["opacity"], 1.0, "{view}: the digits never dim: {sample}");
            assert_eq!(sample["visible"], "visible", "{view}: {sample}");
            assert_eq!(sample["color"], "rgb(255, 90, 90)", "{view}: the digits keep their red: {sample}");
            assert!(sample["contrast"].as_f64().unwrap() >= 4.5, "{view}: readable at every moment: {sample}");
            banners.insert(sample["banner"].as_str().unwrap().to_owned());
            frames.insert(sample["frame"].as_str().unwrap().to_owned());
            // Samples spread over the flashing, at a period that is no multiple of its own.
            tokio::time::sleep(Duration::from_millis(170)).await;
        }
        assert!(banners.len() >= 2, "{view}: the banner flashes: {banners:?}");
        assert!(frames.len() >= 2, "{view}: the frame flashes: {frames:?}");
    }
    drop(sakano);
    stage.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_break_says_when_the_show_is_back_and_the_end_closes_the_stage() {
    let app = crate::helpers::spawn_app().await;
    let mut chair = chair_on_the_round_table(&app).await;
    let coffee = json!({"plan_version": 0, "after": "round-table", "new_segment": "coffee", "kind": "break",
                        "title": "Coffee break", "duration_min": 20});
    assert_eq!(chair.run("plan_add_segment", coffee).await["type"], "ack");
    assert_eq!(chair.run("goto", json!({"segment": "coffee"})).await["type"], "ack");
    let started = chair.live["segment_started_at"].as_i64().expect("the break started");
    // The forum is in Asia/Shanghai, UTC+8 all year.
    let back = ((started + 20 * 60_000 + 30_000) / 60_000 + 8 * 60) % (24 * 60);
    let expected = format!("Back at {:02}:{:02}", back / 60, back % 60);
    let browser = Browser::start().await;
    let stage = browser.session().await;
    stage.open(&app, "stage", Role::Speaker, "&lang=en&name=Stage").await;

    stage.wait_text("#current-speaker", |t| t == "Break").await;
    stage.wait_text("#stage-back", |t| t == expected).await;
    let text = view_text(&stage, "#stage-view").await;
    assert!(!text.contains("Now speaking") && !text.contains("--:--"), "{text:?}");

    assert_eq!(chair.run("end", json!({})).await["type"], "ack");
    stage.wait_text("#stage-closing", |t| t.contains("Thank you")).await;
    let text = view_text(&stage, "#stage-view").await;
    assert!(!text.contains("Now speaking") && !text.contains("--:--") && !text.contains('—'), "{text:?}");
    stage.client.clone().close().await.unwrap();
}
