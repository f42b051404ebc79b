//! Cues as the crew and the chair meet them, in real headless Chromium: which cue G fires
//! and how the console says so, cues closing with their segment, and which cue the cue
//! screen's Space answers.

use std::time::Duration;

use eventhub::domain::Role;
use fantoccini::Locator;
use serde_json::json;

use crate::browser::{Browser, Page};
use crate::helpers::Client;

/// Presses keys as a person does: on the page, not in a field.
async fn press(page: &Page, keys: &str) {
    page.client.find(Locator::Css("body")).await.unwrap().send_keys(keys).await.expect("the keys are pressed");
}

/// Waits until `script` (an expression) is true on the page.
async fn wait_true(page: &Page, script: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        if page.client.execute(&format!("return Boolean({script})"), vec![]).await.unwrap() == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page never made {script} true");
}

/// Runs a command and checks that it was acknowledged.
async fn ok(client: &mut Client, kind: &str, fields: serde_json::Value) {
    let reply = client.run(kind, fields).await;
    assert_eq!(reply["type"], "ack", "{kind}: {reply}");
}

#[tokio::test]
async fn g_fires_the_answered_cue_of_the_segment_the_cockpit_names_and_says_what_went() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    let (mut crew, _) = app.join(Role::Av, "Wang").await;
    ok(&mut chair, "next", json!({})).await;
    // Older and answered, but for the whole day: G must not take it.
    let holding =
        json!({"target": "video", "text": {"zh": "二号屏保持画面", "ja": "スクリーン2保持", "en": "Hold screen 2"}});
    ok(&mut chair, "cue_standby", holding).await;
    ok(&mut crew, "cue_standing_by", json!({"cue": 1})).await;
    ok(&mut chair, "goto", json!({"segment": "keynotes"})).await;

    let browser = Browser::start().await;
    let screen = browser.session().await;
    screen.open(&app, "cues", Role::Av, "&lang=en&name=Wang&crew=video").await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Fukuda").await;
    console.wait_text("#ck-go", |t| t == "G: no cue of this segment stands by").await;

    press(&console, "c").await; // the keynotes' planned cue: the slides
    let slides = r#"#cue-list li.cue[data-state="standby"]"#;
    screen.wait_text(slides, |t| t.contains("Speaker's slides on screen") && t.contains("Keynote speeches")).await;
    screen.click(&format!("{slides} button.ack")).await;

    console.wait_text("#ck-go", |t| t == "G ▶ [Video] Speaker's slides on screen").await;
    press(&console, "g").await;
    console.wait_text("#message", |t| t.starts_with("GO ▶ [Video] Speaker's slides on screen")).await;
    screen.wait_text(r#"#cue-list li.cue[data-state="go"]"#, |t| t.contains("Speaker's slides on screen")).await;
    let still = screen.wait_text(r#"#cue-list li.cue[data-state="standing_by"]"#, |t| !t.is_empty()).await;
    assert!(still.contains("Hold screen 2") && still.contains("Whole day"), "the whole day's cue did not go: {still}");
    console.wait_text("#ck-go", |t| t == "G: no cue of this segment stands by").await;

    // With nothing of this segment standing by, G fires nothing and says so.
    press(&console, "g").await;
    console.wait_text("#message", |t| t.contains("nothing went")).await;
    screen.wait_text(r#"#cue-list li.cue[data-state="standing_by"]"#, |t| t.contains("Hold screen 2")).await;
    screen.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_standby_of_the_opening_closes_on_the_cue_screen_when_the_console_moves_on() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    ok(&mut chair, "next", json!({})).await;
    let browser = Browser::start().await;
    let booth = browser.session().await;
    booth.open(&app, "cues", Role::Av, "&lang=en&name=Booth&crew=interpretation").await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Fukuda").await;

    press(&console, "c").await; // the opening's planned cues
    let standby = r#"#cue-list li.cue[data-state="standby"]"#;
    let shown = booth.wait_text(standby, |t| t.contains("Channel 2: Chinese to Japanese")).await;
    let label = booth.wait_text(&format!("{standby} .cue-seg"), |t| !t.is_empty()).await;
    assert_eq!(label, "Opening ceremony", "the cue says where it belongs: {shown}");

    console.click("#btn-next").await;
    console.wait_text("#current-title", |t| t == "Keynote speeches").await;
    booth.wait_text("main", |t| t.contains("Closed with Opening ceremony")).await;
    wait_true(&booth, r#"!document.querySelector('#cue-list li.cue[data-state="standby"]')"#).await;
    console.wait_text("#cue-list", |t| t.contains("Closed with Opening ceremony")).await;
    booth.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn space_answers_the_new_standby_not_the_old_go_on_top_and_the_frame_shows_it_first() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    ok(&mut chair, "next", json!({})).await;
    let mic = json!({"target": "audio", "text": {"zh": "3号麦克风开启", "ja": "マイク3オン", "en": "Mic 3 live"}, "segment": "opening"});
    ok(&mut chair, "cue_standby", mic).await;
    ok(&mut chair, "cue_go", json!({"cue": 1})).await;
    let music = json!({"target": "audio", "text": {"zh": "登台音乐", "ja": "登壇音楽", "en": "Walk-on music"}, "segment": "opening"});
    ok(&mut chair, "cue_standby", music).await;

    let browser = Browser::start().await;
    let screen = browser.session().await;
    screen.open(&app, "cues", Role::Av, "&lang=en&name=Wang&crew=audio").await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Fukuda").await;

    let first = screen.wait_text("#cue-list li.cue", |t| !t.is_empty()).await;
    assert!(first.contains("Mic 3 live"), "the old GO is on top: {first}");
    screen.wait_text("#cue-list li.cue.next", |t| t.contains("Walk-on music")).await;
    screen.wait_attr("#cue-list li.cue.next", "data-state", "standby").await;

    press(&screen, " ").await;
    screen.wait_text(r#"#cue-list li.cue[data-state="standing_by"]"#, |t| t.contains("Walk-on music")).await;
    console
        .wait_text(r#"#cue-list li.cue[data-state="standing_by"]"#, |t| {
            t.contains("Walk-on music") && t.contains("Wang")
        })
        .await;
    screen.wait_text(r#"#cue-list li.cue[data-state="go"]"#, |t| t.contains("Mic 3 live")).await;

    // Nothing waits for an answer any more: the frame, and the key, pass to the GO.
    screen.wait_text("#cue-list li.cue.next", |t| t.contains("Mic 3 live")).await;
    press(&screen, " ").await;
    console.wait_text(r#"#cue-list li.cue[data-state="done"]"#, |t| t.contains("Mic 3 live")).await;
    screen.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}
