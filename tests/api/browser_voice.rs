//! The audience's voice on the pages, in real headless Chromium: a poll opened with one key
//! is answered on two phones, its results live on the console and on the phones once closed.
//! First, what the pages read to know whether a segment takes questions.

use eventhub::domain::Role;
use fantoccini::Locator;
use serde_json::{json, Value};

use crate::browser::{Browser, Page};
use crate::helpers::{spawn_app, TestApp};

/// The chair's websocket on the round table, which takes moderated questions and has a poll.
async fn round_table(app: &TestApp) -> crate::helpers::Client {
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    assert_eq!(chair.run("goto", json!({"segment": "round-table"})).await["type"], "ack");
    chair
}

/// A window of `width`×`height` showing `page` as `role`.
async fn window(
    browser: &Browser,
    app: &TestApp,
    (width, height): (u32, u32),
    page: &str,
    role: Role,
    extra: &str,
) -> Page {
    let window = browser.session().await;
    window.client.set_window_size(width, height).await.unwrap();
    window.open(app, page, role, extra).await;
    window
}

const PHONE: (u32, u32) = (390, 844);

#[tokio::test]
async fn the_welcome_and_each_plan_change_say_how_the_plan_takes_questions() {
    let app = spawn_app().await;
    let (mut chair, welcome) = app.join(Role::Moderator, "Fukuda").await;
    let (mut attendee, seen) = app.join(Role::Attendee, "Tanaka Yuki").await;
    let modes = |plan: &Value| {
        let segments = plan["segments"].as_array().unwrap();
        (plan["qa"].clone(), segments.iter().map(|s| s["qa"].clone()).collect::<Vec<_>>())
    };
    let planned = (json!("off"), vec![Value::Null, Value::Null, json!("moderated"), Value::Null]);
    assert_eq!(modes(&welcome["snapshot"]), planned);
    assert_eq!(modes(&seen["snapshot"]), planned, "the audience knows it too");

    let edit = json!({"plan_version": 0, "segment": "opening", "duration_min": 25});
    assert_eq!(chair.run("plan_update_segment", edit).await["type"], "ack");
    let change = loop {
        let frame = attendee.next_frame().await;
        if frame["type"] == "change" {
            break frame;
        }
    };
    assert_eq!(modes(&change["change"]["plan"]), planned, "{change}");
}

#[tokio::test]
async fn a_poll_opened_with_p_is_answered_on_two_phones_and_its_results_follow() {
    let app = spawn_app().await;
    let _chair = round_table(&app).await;
    let browser = Browser::start().await;
    let console = window(&browser, &app, (1440, 900), "console", Role::Moderator, "&lang=en&name=Fukuda").await;
    let first = window(&browser, &app, PHONE, "attend", Role::Attendee, "&lang=en&name=First%20Phone").await;
    let second = window(&browser, &app, PHONE, "attend", Role::Attendee, "&lang=ja&name=Second%20Phone").await;

    let poll = r#"#poll-list li[data-poll="next-forum"]"#;
    console.wait_attr(poll, "data-state", "draft").await;
    let press = |page: &Page, key: &'static str| {
        let client = page.client.clone();
        async move { client.find(Locator::Css("body")).await.unwrap().send_keys(key).await.unwrap() }
    };
    press(&console, "p").await;
    console.wait_attr(poll, "data-state", "open").await;

    first.wait_text("#poll-card-question", |t| t == "Which theme should the next forum take up first?").await;
    second.wait_text("#poll-card-question", |t| t == "次回のフォーラムで最も議論したいテーマは？").await;
    first.click(r#"#poll-vote-form input[value="0"]"#).await;
    first.click("#btn-poll-vote").await;
    second.click(r#"#poll-vote-form input[value="2"]"#).await;
    second.click("#btn-poll-vote").await;
    first.wait_text("#poll-counted", |t| t.starts_with("Your vote counted")).await;
    second.wait_text("#poll-counted", |t| t.starts_with("投票を受け付けました")).await;
    let bar = |option: usize| format!(r#"{poll} .poll-bar[data-option="{option}"]"#);
    console.wait_text(&bar(0), |t| t.contains("1 · 50%")).await;
    console.wait_text(&bar(2), |t| t.contains("1 · 50%")).await;
    console.wait_text(poll, |t| t.contains("2 voted")).await;

    // A ballot changes until the close; the phones see no counts before it (results "closed").
    second.wait_text("#btn-poll-vote", |t| t == "選択を変更する").await;
    second.click(r#"#poll-vote-form input[value="1"]"#).await;
    second.click("#btn-poll-vote").await;
    console.wait_text(&bar(1), |t| t.contains("1 · 50%")).await;
    console.wait_text(&bar(2), |t| t.contains("0 · 0%")).await;
    first.wait_text("#poll-card", |t| t.contains("2 voted") && t.contains("Results once the poll closes")).await;
    let bars = first.client.execute("return document.querySelectorAll('#poll-results .poll-bar').length", vec![]).await;
    assert_eq!(bars.unwrap(), json!(0), "no results on a phone while the poll is open");

    press(&console, "p").await;
    console.wait_attr(poll, "data-state", "closed").await;
    first.wait_text("#poll-results", |t| t.contains("Cross-border data flows") && t.contains("1 · 50%")).await;
    first.wait_attr(r#"#poll-results .poll-bar[data-option="0"]"#, "class", "poll-bar lead mine").await;
    second
        .wait_text(r#"#poll-results .poll-bar[data-option="1"]"#, |t| {
            t.contains("グリーン製造") && t.contains("1 · 50%")
        })
        .await;
    second.wait_text("#poll-card", |t| t.contains("アンケートは締め切られました")).await;
    for page in [console, first, second] {
        page.client.close().await.unwrap();
    }
}
