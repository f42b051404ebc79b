//! The audience's voice on the pages, in real headless Chromium: a question from a phone
//! approved and put on screen from the console reaches the stage, the hall display and
//! another phone; a poll opened with one key is answered on two phones, its results live on
//! the console and on the phones once closed. First, what the pages read to know whether a
//! segment takes questions.

use eventhub::domain::Role;
use fantoccini::Locator;
use serde_json::{json, Value};

use crate::browser::{Browser, Page};
use crate::helpers::{spawn_app, TestApp};

const QUESTION: &str = "データ共有のルールは、日本と中国でどう違いますか？";
const MARKUP: &str = "<img src=x onerror=\"window.__pwned=1\">";
/// Whether a question's markup ran or made elements on the console.
const INJECTED: &str = "return { pwned: window.__pwned === undefined ? null : window.__pwned, \
    injected: document.querySelectorAll('#qa-list img').length }";

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
const SCREEN: (u32, u32) = (1920, 1080);

async fn type_into(page: &Page, selector: &str, text: &str) {
    page.client.find(Locator::Css(selector)).await.unwrap().send_keys(text).await.unwrap();
}

/// The countdown's box lies inside the window, wholly above the question's.
const CLOCK_ABOVE_QUESTION: &str = "const c = document.getElementById('countdown').getBoundingClientRect(); \
    const q = document.getElementById('stage-question').getBoundingClientRect(); \
    return c.height > 0 && c.top >= 0 && c.bottom <= q.top && q.bottom <= innerHeight";

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
async fn a_question_from_a_phone_approved_and_put_on_screen_reaches_the_stage_the_hall_and_another_phone() {
    let app = spawn_app().await;
    let mut chair = round_table(&app).await;
    let browser = Browser::start().await;
    let phone =
        window(&browser, &app, PHONE, "attend", Role::Attendee, "&lang=ja&name=Tanaka%20Yuki&mode=remote").await;
    let other = window(&browser, &app, PHONE, "attend", Role::Attendee, "&lang=zh&name=Wang%20Lei&mode=in_room").await;
    let stage = window(&browser, &app, SCREEN, "stage", Role::Speaker, "&lang=en&name=Ma%20Junjie").await;
    let console = window(&browser, &app, (1440, 900), "console", Role::Moderator, "&lang=en&name=Fukuda").await;

    // The phone asks, in the page's language by default; the question waits for the chair.
    phone.wait_text("#qa-ask-title", |t| t == "質問する").await;
    type_into(&phone, "#qa-text", QUESTION).await;
    phone.wait_text("#qa-count", |t| t.starts_with(&format!("{} /", QUESTION.chars().count()))).await;
    phone.click("#btn-qa-submit").await;
    let own = r#"#qa-public-list li[data-state="pending"]"#;
    phone.wait_text(own, |t| t.contains(QUESTION) && t.contains("司会者の確認待ち") && t.contains("日本語")).await;
    other.wait_text("#qa-none", |t| t.contains("还没有人提问")).await;

    // Another question, made of markup, waits beside it: the console shows it as text.
    assert_eq!(chair.run("question_ask", json!({"text": MARKUP})).await["type"], "ack");
    let pending = r#"#qa-list li[data-question="1"]"#;
    console.wait_text(pending, |t| t.contains(QUESTION) && t.contains("Tanaka Yuki") && t.contains("日本語")).await;
    console.wait_text(r#"#qa-list li[data-question="2"]"#, |t| t.contains(MARKUP)).await;
    let verdict = console.client.execute(INJECTED, vec![]).await.unwrap();
    assert_eq!(verdict, json!({"pwned": null, "injected": 0}), "the markup stayed text");
    console.click(&format!("{pending} button[data-action='approve']")).await;
    other.wait_text(r#"#qa-public-list li[data-state="approved"]"#, |t| t.contains(QUESTION)).await;
    console.click("#qa-tab-approved").await;
    console.click(r#"#qa-list li[data-state="approved"] button[data-action='highlight']"#).await;
    console.wait_text("#qa-list li.on-screen", |t| t.contains("On screen now")).await;

    stage
        .wait_text("#stage-question", |t| {
            t.contains(QUESTION) && t.contains("Asked by Tanaka Yuki") && t.contains("日本語")
        })
        .await;
    let clock = stage.client.execute(CLOCK_ABOVE_QUESTION, vec![]).await.unwrap();
    assert_eq!(clock, json!(true), "the question leaves the stage's countdown in sight, above it");
    other.wait_text("#qa-public-list li.on-screen", |t| t.contains("正在上屏") && t.contains(QUESTION)).await;
    phone.wait_text("#qa-public-list li.on-screen", |t| t.contains("画面に表示中") && t.contains("あなたの質問")).await;

    // The hall display shows it too, in its own language around the question's.
    stage.open(&app, "wall", Role::Display, "&lang=zh").await;
    stage.wait_text("#wall-question", |t| t.contains(QUESTION) && t.contains("提问者：Tanaka Yuki")).await;

    // Taken off screen from the console, it leaves the stage's screen at once.
    console.click("#qa-list li.on-screen button[data-action='highlight']").await;
    stage.wait_attr("body", "data-show", "idle").await;
    for page in [phone, other, stage, console] {
        page.client.close().await.unwrap();
    }
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
