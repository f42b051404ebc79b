//! Links in headless Chromium: a guest's page closed when its link expires, saying why, and
//! refused when opened again; the links page makes a link and revokes it after a confirm.

use std::time::Duration;

use eventhub::domain::Role;
use serde_json::json;

use crate::browser::{Browser, Page};
use crate::helpers::{TestApp, EVENT};
use crate::links::make_link;

async fn goto(page: &Page, url: &str) {
    tokio::time::timeout(Duration::from_secs(60), page.client.goto(url))
        .await
        .unwrap_or_else(|_| panic!("{url} did not load in time"))
        .expect("the page loads");
}

async fn guest_page(app: &TestApp, page: &Page, token: &str) {
    let url = format!("http://{}/attend#event={EVENT}&token={token}&lang=en&name=Remote%20guest&mode=remote", app.addr);
    goto(page, &url).await;
}

#[tokio::test]
async fn an_attendee_page_opened_with_a_guest_link_is_closed_when_it_expires_and_refused_after() {
    let app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let page = browser.session().await;
    // Made once the browser is up, so that its 5 s go to loading the page and joining.
    let link = make_link(&app, json!({"role": "attendee", "name": "Remote guest", "expires_in_s": 5})).await;
    let token = link["token"].as_str().unwrap();
    guest_page(&app, &page, token).await;
    page.wait_attr("#conn-status", "data-state", "connected").await;

    page.wait_attr("#conn-status", "data-state", "closed").await;
    let expired = "This link has expired. Ask the organizer for a new one.";
    page.wait_text("#message", |t| t == expired).await;
    let title = page.client.find(fantoccini::Locator::Css("#conn-status")).await.unwrap().attr("title").await.unwrap();
    assert!(title.is_some_and(|t| t.contains("\"Remote guest\" expired at")), "the status names the link");

    // Opened again, the link is refused at once; the page does not keep trying.
    goto(&page, "about:blank").await;
    guest_page(&app, &page, token).await;
    page.wait_attr("#conn-status", "data-state", "closed").await;
    page.wait_text("#message", |t| t == expired).await;
    page.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_links_page_makes_a_named_link_and_revokes_it_after_a_confirm() {
    let app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let page = browser.session().await;
    let url = format!("http://{}/links#event={EVENT}&token={}&lang=en", app.addr, app.rooms_token());
    goto(&page, &url).await;
    page.wait_attr("#links-status", "data-state", "connected").await;
    page.wait_text("#links-empty", |t| t.starts_with("No links yet")).await;

    let name = page.client.find(fantoccini::Locator::Css("#link-name")).await.unwrap();
    name.send_keys("Sato <b>remote</b>").await.unwrap();
    page.client.find(fantoccini::Locator::Css("#link-expiry")).await.unwrap().select_by_value("hours").await.unwrap();
    page.click("#create-submit").await;
    page.wait_text("#create-result", |t| t.starts_with("Made “Sato <b>remote</b>”")).await;
    let row = "#links-body tr:first-child";
    page.wait_text(&format!("{row} .link-name"), |t| t == "Sato <b>remote</b>").await;
    page.wait_text(&format!("{row} .link-state"), |t| t == "Live").await;
    page.wait_text(&format!("{row} td:nth-child(2)"), |t| t == "Speaker").await;

    // The link made is the API's, ending in 4 hours.
    let listed = crate::control::request(
        app.addr,
        "GET",
        &format!("/api/events/{EVENT}/links?token={}", app.token(Role::Organizer)),
        &[],
        "",
    )
    .await;
    let made = &listed.body["links"][0];
    let hours = (made["expires_at"].as_i64().unwrap() - made["created_at"].as_i64().unwrap()) as f64 / 3_600_000.0;
    assert!((hours - 4.0).abs() < 0.01, "{made}");
    page.wait_text(&format!("{row} .link-ends"), |t| t.ends_with("Shanghai")).await;

    page.click(&format!("{row} button.revoke")).await;
    page.wait_text(&format!("{row} .confirm-text"), |t| t.starts_with("Revoke “Sato <b>remote</b>”?")).await;
    page.click(&format!("{row} button.confirm")).await;
    page.wait_text(&format!("{row} .link-state"), |t| t.starts_with("Revoked")).await;
    page.client.clone().close().await.unwrap();
}
