//! The rooms page in headless Chromium: the demo and a breakout created over HTTP, side by side;
//! a wrong token said as OFFLINE with the reason.

use eventhub::domain::Role;
use fantoccini::Locator;
use serde_json::json;

use crate::browser::Browser;
use crate::rooms::{create, BREAKOUT};

#[tokio::test]
async fn the_rooms_page_shows_a_plenary_and_a_breakout_side_by_side_with_their_segments() {
    let app = crate::helpers::spawn_app().await;
    let created = create(&app, BREAKOUT).await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("goto", json!({"segment": "keynotes"})).await["type"], "ack");

    let browser = Browser::start().await;
    let page = browser.session().await;
    let url = format!("http://{}/rooms#token={}&lang=en", app.addr, app.rooms_token());
    page.client.goto(&url).await.expect("the page loads");
    page.wait_attr("#rooms-status", "data-state", "connected").await;
    let demo = r#".room-card[data-event="sjtu-forum"]"#;
    let breakout = r#".room-card[data-event="breakout-a"]"#;
    page.wait_text(&format!("{demo} .room-current"), |t| t == "Keynote speeches").await;
    page.wait_text(&format!("{breakout} .room-current"), |t| t == "Standby — the event has not started").await;
    page.wait_text(&format!("{demo} .room-countdown"), |t| t.starts_with("1:19:") || t == "1:20:00").await;

    let tops = page
        .client
        .execute(
            "return [...document.querySelectorAll('.room-card')].map((c) => { const r = c.getBoundingClientRect(); \
             return [Math.round(r.top), Math.round(r.left)]; })",
            vec![],
        )
        .await
        .unwrap();
    let cards = tops.as_array().expect("a list of cards");
    assert_eq!(cards.len(), 2, "{tops}");
    assert_eq!(cards[0][0], cards[1][0], "the two cards are on one row: {tops}");
    assert_ne!(cards[0][1], cards[1][1], "side by side: {tops}");
    let link = page.client.find(Locator::Css(&format!("{breakout} a[data-page=\"console\"]"))).await.unwrap();
    let href = link.attr("href").await.unwrap().unwrap();
    assert!(href.ends_with(created["links"]["organizer"].as_str().unwrap()), "{href}");

    page.client.find(Locator::Css("#lang")).await.unwrap().select_by_value("ja").await.unwrap();
    page.wait_text(&format!("{demo} .room-current"), |t| t == "基調講演").await;
    page.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_rooms_page_with_a_wrong_token_says_offline_and_why() {
    let app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let page = browser.session().await;
    let url = format!("http://{}/rooms#token=not-the-rooms-token&lang=en", app.addr);
    page.client.goto(&url).await.expect("the page loads");
    page.wait_attr("#rooms-status", "data-state", "closed").await;
    page.wait_text("#rooms-status", |t| t == "OFFLINE").await;
    page.wait_text("#message", |t| t == "The rooms token in this address is not valid (unauthorized).").await;
    page.wait_attr("#message", "data-kind", "error").await;
    page.client.clone().close().await.unwrap();
}
