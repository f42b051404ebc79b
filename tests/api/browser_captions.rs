//! Captions and interpretation in real headless Chromium: the attendee's caption panel
//! follows its language's track (and moves with set_lang), the captioner's page sends with
//! Enter, the hall's caption screen stacks two tracks, the stage screen shows a line, and
//! the attendee page and the cue screen name the interpretation channel and language.

use eventhub::domain::Role;
use fantoccini::Locator;
use serde_json::json;

use crate::browser::{Browser, Page};
use crate::control::request;
use crate::helpers::{TestApp, EVENT};

/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";

/// One caption line over the HTTP ingest, as a captioning service sends it.
async fn post_caption(app: &TestApp, lang: &str, seq: u64, text: &str) {
    let path = format!("/api/v1/events/{EVENT}/captions?lang={lang}&seq={seq}");
    let auth = format!("Bearer {}", app.token(Role::Captioner));
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "text/plain; charset=utf-8")];
    let reply = request(app.addr, "POST", &path, &headers, text).await;
    assert_eq!(reply.status, 200, "{lang} #{seq}: {}", reply.body);
}

async fn choose(page: &Page, selector: &str, value: &str) {
    page.client.find(Locator::Css(selector)).await.unwrap().select_by_value(value).await.unwrap();
}

#[tokio::test]
async fn a_japanese_attendee_sees_japanese_captions_only_and_english_ones_after_switching() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("goto", json!({"segment": "keynotes"})).await["type"], "ack");
    let browser = Browser::start().await;
    let attendee = browser.session().await;
    attendee.open(&app, "attend", Role::Attendee, "&lang=ja&name=Tanaka%20Yuki&mode=remote").await;
    attendee.wait_attr("#caption-panel", "data-track", "ja").await;

    post_caption(&app, "en", 1, "Good morning, everyone.").await;
    post_caption(&app, "ja", 1, "皆さん、おはようございます。").await;
    let shown = attendee.wait_text("#caption-lines", |t| t.contains("おはようございます")).await;
    assert!(!shown.contains("Good morning"), "a ja viewer gets no en line: {shown:?}");
    assert!(shown.contains("張英"), "the line names the speaker in the page's language: {shown:?}");

    choose(&attendee, "#lang", "en").await;
    attendee.wait_attr("#caption-panel", "data-track", "en").await;
    let shown = attendee.wait_text("#caption-lines", |t| t.contains("Good morning")).await;
    assert!(!shown.contains("おはよう"), "the en track replaced the ja lines: {shown:?}");
    post_caption(&app, "en", 2, "Our first speaker is Zhang Ying.").await;
    post_caption(&app, "ja", 2, "最初の登壇者は張英さんです。").await;
    let shown = attendee.wait_text("#caption-lines", |t| t.contains("first speaker")).await;
    assert!(!shown.contains("最初"), "after set_lang no ja line arrives: {shown:?}");

    // The panel's settings: larger text and high contrast, remembered; off says so.
    attendee.click("#cap-large").await;
    attendee.click("#cap-contrast").await;
    attendee.click("#cap-on").await;
    attendee.wait_attr("#caption-panel", "data-track", "off").await;
    attendee.wait_text("#caption-empty", |t| t == "Captions are off").await;
    let stored = attendee
        .client
        .execute(
            "return ['on', 'large', 'contrast'].map((k) => localStorage.getItem('hub.captions.' + k)).join(',') \
             + ' ' + document.getElementById('caption-panel').className",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(stored, json!("0,1,1 panel caption-panel large contrast"));
    attendee.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_captioner_page_sends_a_line_with_enter_that_the_ja_page_shows_and_the_zh_page_only_after_switching() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("goto", json!({"segment": "keynotes"})).await["type"], "ack");
    // Someone already wrote two lines to this track: the page must continue at seq 3.
    post_caption(&app, "ja", 1, "皆さん、おはようございます。").await;
    post_caption(&app, "ja", 2, "基調講演を始めます。").await;
    let browser = Browser::start().await;
    let captioner = browser.session().await;
    captioner.open(&app, "caption", Role::Captioner, "&lang=en&name=Respeaker").await;
    choose(&captioner, "#capr-track", "ja").await;
    captioner.wait_attr("body", "data-caption-seq", "2").await;
    captioner.wait_text("#current-speaker", |t| t.contains("Zhang Ying")).await;
    let ja = browser.session().await;
    ja.open(&app, "attend", Role::Attendee, "&lang=ja&name=Yamada&mode=remote").await;
    ja.wait_text("#caption-lines", |t| t.contains("基調講演を始めます")).await;
    let zh = browser.session().await;
    zh.open(&app, "attend", Role::Attendee, "&lang=zh&name=Wang&mode=in_room").await;
    zh.wait_attr("#caption-panel", "data-track", "zh").await;

    const LINE: &str = "新たなデジタル時代、都市の新たな機会。";
    let input = captioner.client.find(Locator::Css("#capr-input")).await.unwrap();
    input.send_keys(&format!("{LINE}{ENTER}")).await.unwrap();
    // Correctness, not speed (hub-load measures that): the line arrives.
    ja.wait_text("#caption-lines", |t| t.contains(LINE)).await;
    captioner.wait_text("#capr-lines", |t| t.contains(LINE) && t.contains("#3")).await;
    captioner.wait_attr("#capr-lines li", "data-state", "sent").await;
    captioner.wait_attr("body", "data-caption-seq", "3").await;
    // A zh line sent after the ja one: lines reach a page in the order they were sent, so
    // once the zh page shows it, a ja line sent to it would have come before.
    post_caption(&app, "zh", 1, "新数字时代，城市新机遇。").await;
    let zh_lines = zh.wait_text("#caption-panel", |t| t.contains("新数字时代")).await;
    assert!(!zh_lines.contains(LINE), "the zh page does not get the ja line: {zh_lines:?}");

    choose(&zh, "#lang", "ja").await;
    zh.wait_attr("#caption-panel", "data-track", "ja").await;
    zh.wait_text("#caption-lines", |t| t.contains(LINE)).await;

    // Another captioner took seq 4 meanwhile (the server answers the page's 4 as a retry, ignored):
    // the page moves past it and sends as 5.
    post_caption(&app, "ja", 4, "（拍手）").await;
    input.send_keys(&format!("ありがとうございます。{ENTER}")).await.unwrap();
    captioner.wait_text("#capr-lines", |t| t.contains("ありがとうございます") && t.contains("#5")).await;
    ja.wait_text("#caption-lines", |t| t.contains("（拍手）") && t.contains("ありがとうございます")).await;
    for page in [captioner, ja, zh] {
        page.client.clone().close().await.unwrap();
    }
}

#[tokio::test]
async fn the_caption_screen_stacks_two_tracks_and_the_stage_screen_shows_its_track() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("goto", json!({"segment": "keynotes"})).await["type"], "ack");
    let browser = Browser::start().await;
    let screen = browser.session().await;
    screen.open(&app, "captions", Role::Display, "&tracks=zh,ja").await;
    let stage = browser.session().await;
    stage.open(&app, "stage", Role::Speaker, "&lang=en&name=Zhang%20Ying&captions=ja").await;

    post_caption(&app, "zh", 1, "新数字时代，城市新机遇。").await;
    post_caption(&app, "ja", 1, "新たなデジタル時代、都市の新たな機会。").await;
    post_caption(&app, "en", 1, "New digital era, new opportunities for cities.").await;
    let zh = screen.wait_text("#band-zh", |t| t.contains("新数字时代")).await;
    let ja = screen.wait_text("#band-ja", |t| t.contains("新たなデジタル時代")).await;
    assert!(!zh.contains("デジタル") && !zh.contains("New digital"), "{zh:?}");
    assert!(!ja.contains("新数字") && !ja.contains("New digital"), "{ja:?}");
    let layout = screen
        .client
        .execute(
            "const a = document.getElementById('band-zh').getBoundingClientRect(), \
                   b = document.getElementById('band-ja').getBoundingClientRect(); \
             return { stacked: a.bottom <= b.top + 1, full: Math.round(a.width) === innerWidth, \
                      background: getComputedStyle(document.body).backgroundColor }",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(layout, json!({"stacked": true, "full": true, "background": "rgb(0, 0, 0)"}));

    stage.wait_text("#stage-caption", |t| t.contains("新たなデジタル時代")).await;
    post_caption(&app, "ja", 2, "本日はよろしくお願いします。").await;
    stage.wait_text("#stage-caption", |t| t == "本日はよろしくお願いします。").await;
    screen.client.clone().close().await.unwrap();
    stage.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_attendee_page_names_the_channel_of_its_language_and_the_booth_sees_who_speaks_next() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("goto", json!({"segment": "keynotes"})).await["type"], "ack");
    let browser = Browser::start().await;
    let ja = browser.session().await;
    ja.open(&app, "attend", Role::Attendee, "&lang=ja&name=Tanaka&mode=remote").await;
    ja.wait_text("#interp-text", |t| t == "日本語：チャンネル 2").await;
    let href = ja.client.find(Locator::Css("#interp-listen")).await.unwrap().attr("href").await.unwrap();
    assert_eq!(href.as_deref(), Some("https://listen.example.org/sjtu-forum/ja"));
    choose(&ja, "#lang", "zh").await;
    // Zhang Ying speaks Chinese (the demo says so): a Chinese viewer needs no channel.
    ja.wait_text("#interp-text", |t| t == "发言语言为中文，无需传译").await;
    choose(&ja, "#lang", "en").await;
    ja.wait_text("#interp-text", |t| t == "No interpretation into English in this segment").await;

    let booth = browser.session().await;
    booth.open(&app, "cues", Role::Av, "&lang=en&name=Booth&crew=interpretation").await;
    booth.wait_text("#interp-now", |t| t.contains("Zhang Ying")).await;
    booth.wait_text("#interp-next", |t| t.starts_with("Next: Lu Ming")).await;
    booth.wait_text("#interp-channels", |t| t.contains("1 ja→zh") && t.contains("2 zh→ja")).await;
    ja.client.clone().close().await.unwrap();
    booth.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn lines_typed_while_the_server_restarts_wait_and_go_out_in_order_when_it_is_back() {
    let mut app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let captioner = browser.session().await;
    captioner.open(&app, "caption", Role::Captioner, "&lang=en&name=Respeaker").await;
    choose(&captioner, "#capr-track", "en").await;
    captioner.wait_attr("body", "data-caption-seq", "0").await;

    app.stop().await;
    captioner.wait_attr("#conn-status", "data-state", "reconnecting").await;
    let input = captioner.client.find(Locator::Css("#capr-input")).await.unwrap();
    for line in ["First line while offline.", "Second line while offline."] {
        input.send_keys(&format!("{line}{ENTER}")).await.unwrap();
    }
    captioner.wait_text("#capr-lines", |t| t.matches("waiting for the connection").count() == 2).await;
    captioner.wait_text("#capr-status", |t| t.contains("2 line")).await;

    app.start_again().await;
    captioner.wait_attr("#conn-status", "data-state", "connected").await;
    captioner.wait_attr("body", "data-caption-seq", "2").await;
    let states = captioner
        .client
        .execute("return [...document.querySelectorAll('#capr-lines li')].map((li) => li.dataset.state)", vec![])
        .await
        .unwrap();
    assert_eq!(states, json!(["sent", "sent"]));
    let path = format!("/api/events/{EVENT}/transcript.txt?lang=en&token={}", app.token(Role::Organizer));
    let transcript = request(app.addr, "GET", &path, &[], "").await.body;
    let text = transcript.as_str().unwrap();
    let (first, second) = (text.find("First line").unwrap(), text.find("Second line").unwrap());
    assert!(first < second, "in the order typed: {text}");
    captioner.client.clone().close().await.unwrap();
}
