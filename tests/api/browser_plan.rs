//! The console's edit mode for the run of show, in real headless Chromium: a segment added
//! and renamed there reaches an attendee's programme and "next up"; an edit made against a
//! plan someone else has just changed says so and shows the newer plan.

use eventhub::domain::Role;
use fantoccini::{key::Key, Locator};
use serde_json::json;

use crate::browser::{Browser, Page};
use crate::helpers::spawn_app;

/// Holds the page's incoming websocket frames from `__hold()` until `__release()`, so that a
/// test can put another chair's edit between what the console has seen and what it sends.
const HOLD_FRAMES: &str = r#"(() => {
  const Real = window.WebSocket;
  let held = null;
  window.__hold = () => { held = []; };
  window.__release = () => { const q = held || []; held = null; for (const [f, e] of q) f(e); };
  window.WebSocket = class extends Real {
    set onmessage(f) { super.onmessage = f && ((e) => (held ? held.push([f, e]) : f(e))); }
    get onmessage() { return super.onmessage; }
  };
})();"#;

/// Replaces the text of the field `selector` with `text` and presses Enter, as a person
/// would (select all, type): clearing it first would blur it, and a blur saves.
async fn retype(page: &Page, selector: &str, text: &str) {
    let field = page.client.find(Locator::Css(selector)).await.expect("the field exists");
    field.click().await.expect("the field takes focus");
    let keys = format!("{}a{}{text}{}", char::from(Key::Control), char::from(Key::Null), char::from(Key::Enter));
    field.send_keys(&keys).await.expect("the keys are typed");
}

/// Turns the console's edit mode on with its toggle.
async fn enter_edit_mode(console: &Page) {
    console.wait_attr("#btn-plan-edit", "aria-pressed", "false").await;
    console.click("#btn-plan-edit").await;
    console.wait_attr("#btn-plan-edit", "aria-pressed", "true").await;
}

#[tokio::test]
async fn a_segment_added_and_renamed_on_the_console_reaches_the_japanese_programme_and_next_up() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let attendee = browser.session().await;
    attendee.open(&app, "attend", Role::Attendee, "&lang=ja&name=Tanaka%20Yuki&mode=remote").await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Chair").await;

    enter_edit_mode(&console).await;
    console.click(r#"#segments li[data-segment-id="keynotes"] .seg-title"#).await;
    console.wait_attr(r#"#segments li.selected"#, "data-segment-id", "keynotes").await;
    console.click("#btn-plan-add").await;
    // A draft opens after the keynotes, on this console only: nothing is published yet.
    console.wait_text("#segments li.pe-draft", |t| t.contains("Draft")).await;
    let order = console
        .client
        .execute(
            "return [...document.querySelectorAll('#segments > li')].map((li) => li.dataset.segmentId || 'draft')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(order, json!(["opening", "keynotes", "draft", "round-table", "closing"]));
    console.click("#btn-plan-publish").await;
    console.wait_text("#segments li.pe-draft", |t| t.contains("title in at least one language")).await;
    let programme = attendee.wait_text("#programme-list", |t| !t.is_empty()).await;
    assert!(!programme.contains("New segment"), "no blank draft on any phone: {programme}");

    // A title, a kind, Enter: published, with an id that follows its kind.
    let kind = console.client.find(Locator::Css(r#"#segments li.pe-draft [data-draft="kind"]"#)).await.unwrap();
    kind.select_by_value("break").await.unwrap();
    retype(&console, r#"#segments li.pe-draft [data-draft="title.ja"]"#, "懇親会").await;
    console.wait_attr("#segments li.selected", "data-segment-id", "break-2").await;
    attendee.wait_text("#programme-list", |t| t.contains("懇親会")).await;
    // Its planned start follows the keynotes' planned end.
    let keynotes_end =
        console.wait_text(r#"#segments li[data-segment-id="keynotes"] .time-end"#, |t| !t.is_empty()).await;
    console
        .wait_text(r#"#segments li[data-segment-id="break-2"] .time"#, |t| {
            t.get(..5).is_some_and(|start| keynotes_end.ends_with(start))
        })
        .await;
    // The other languages read as the one typed until someone writes them.
    console.wait_text(r#"#segments li[data-segment-id="break-2"] .seg-title"#, |t| t == "懇親会").await;

    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("goto", json!({"segment": "keynotes"})).await["type"], "ack");
    attendee.wait_text("#current-title", |t| t == "基調講演").await;
    attendee.wait_text("#next-title", |t| t == "懇親会").await;
    attendee.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_edit_against_a_plan_another_chair_just_changed_shows_the_conflict_and_the_newer_plan() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let console = browser.session_with(HOLD_FRAMES).await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Chair").await;
    enter_edit_mode(&console).await;
    // In standby, edit mode opens on the first segment.
    console.wait_attr(r#"#segments li.selected"#, "data-segment-id", "opening").await;

    console.client.execute("window.__hold()", vec![]).await.unwrap();
    let (mut other, _) = app.join(Role::Moderator, "Fukuda").await;
    let edit = json!({"plan_version": 0, "segment": "opening", "duration_min": 25});
    assert_eq!(other.run("plan_update_segment", edit).await["type"], "ack");
    retype(&console, r#"#segments li.selected [data-field="duration_min"]"#, "30").await;
    console.client.execute("window.__release()", vec![]).await.unwrap();

    console.wait_text("#plan-status", |t| t.contains("The plan changed meanwhile (someone else edited it)")).await;
    console.wait_text(r#"#segments li[data-segment-id="opening"] .duration"#, |t| t.starts_with("25:00")).await;
    let shown = console
        .client
        .execute(r#"return document.querySelector('#segments li.selected [data-field="duration_min"]').value"#, vec![])
        .await
        .unwrap();
    assert_eq!(shown, json!("25"), "the field shows the newer plan, not the edit that lost");
    console.client.clone().close().await.unwrap();
}

/// The run of show as the console lists it.
async fn order(console: &Page) -> serde_json::Value {
    console
        .client
        .execute("return [...document.querySelectorAll('#segments > li')].map((li) => li.dataset.segmentId)", vec![])
        .await
        .unwrap()
}

#[tokio::test]
async fn the_running_and_finished_rows_cannot_be_moved_by_a_key_or_a_drag() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    assert_eq!(chair.run("goto", json!({"segment": "round-table"})).await["type"], "ack");
    let browser = Browser::start().await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Chair").await;
    console.wait_text("#current-title", |t| t.starts_with("Round table")).await;
    let before = order(&console).await;

    // Edit mode opens on the row after the running one.
    enter_edit_mode(&console).await;
    console.wait_attr("#segments li.selected", "data-segment-id", "closing").await;
    // Neither the running round table nor the finished opening can be dragged.
    let draggable = console
        .client
        .execute("return [...document.querySelectorAll('#segments > li')].map((li) => li.draggable)", vec![])
        .await
        .unwrap();
    assert_eq!(draggable, json!([false, true, false, true]), "opening ran, keynotes skipped, round table running");

    // Shift+↑ on the running row: it stays, and the console says why.
    console.click(r#"#segments li[data-segment-id="round-table"] .seg-title"#).await;
    console.wait_attr("#segments li.selected", "data-segment-id", "round-table").await;
    let shift_up = format!("{}{}{}", char::from(Key::Shift), char::from(Key::Up), char::from(Key::Null));
    console.client.find(Locator::Css("body")).await.unwrap().send_keys(&shift_up).await.unwrap();
    console.wait_text("#plan-status", |t| t.contains("stays where it is")).await;
    // And on a finished one.
    console.click(r#"#segments li[data-segment-id="opening"] .seg-title"#).await;
    console.wait_attr("#segments li.selected", "data-segment-id", "opening").await;
    let shift_down = format!("{}{}{}", char::from(Key::Shift), char::from(Key::Down), char::from(Key::Null));
    console.client.find(Locator::Css("body")).await.unwrap().send_keys(&shift_down).await.unwrap();
    assert_eq!(order(&console).await, before, "the plan is as it was");
    let reply =
        chair.run("plan_move_segment", json!({"plan_version": 0, "segment": "round-table", "after": null})).await;
    assert_eq!(reply["code"], "invalid_state", "the server refuses it too: {reply}");
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_speakers_language_is_chosen_in_the_editor_and_kept_in_the_plan() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Chair").await;
    enter_edit_mode(&console).await;
    console.click(r#"#segments li[data-segment-id="keynotes"] .seg-title"#).await;
    console.wait_attr("#segments li.selected", "data-segment-id", "keynotes").await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    let first = r#"#segments li.selected .pe-speaker:first-child .pe-sp-lang"#;
    console.wait_attr(first, "class", "pe-sp-lang").await;
    let chosen = console
        .client
        .execute(
            &format!(
                "const s = document.querySelector('{first}'); const was = s.value; s.value = 'en'; \
                      s.dispatchEvent(new Event('change')); return was;"
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(chosen, "zh", "the demo says Zhang Ying speaks Chinese");
    let speaker = loop {
        let frame = chair.expect("change").await;
        if frame["change"]["kind"] == "plan" {
            break frame["change"]["plan"]["segments"][1]["speakers"][0].clone();
        }
    };
    assert_eq!(
        (speaker["name"]["en"].as_str(), speaker["lang"].as_str()),
        (Some("Zhang Ying"), Some("en")),
        "{speaker}"
    );
    console.client.clone().close().await.unwrap();
}
