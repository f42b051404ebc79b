//! The screens nobody may misread, in real headless Chromium: clock sync against a wrong
//! clock, an attendee's request when the chair moves on, the cue screen's offline overlay.

use std::process::Stdio;
use std::time::Duration;

use eventhub::domain::Role;
use fantoccini::{ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::browser::{Browser, Page};

/// How far the wrong page's clock is ahead of the real one.
const SHIFT_MS: i64 = 7_000;

/// Runs in every document of the session before any of the page's own scripts: `Date.now()`
/// and `new Date()` run 7 s ahead.
const SHIFT_CLOCK: &str = r#"(() => {
  const shift = 7000, Real = Date, realNow = Real.now.bind(Real);
  class Shifted extends Real {
    constructor(...args) { if (args.length === 0) super(realNow() + shift); else super(...args); }
    static now() { return realNow() + shift; }
  }
  window.Date = Shifted;
  window.__clockShift = shift;
})();"#;

/// A chromedriver of this module's own, whose port we know, so that its Chrome DevTools
/// endpoint (`POST /session/{id}/goog/cdp/execute`) can inject a script into every new
/// document: WebDriver itself has no way to run a script before the page's own.
struct DevtoolsDriver {
    driver: Child,
    port: u16,
}

impl DevtoolsDriver {
    async fn start() -> DevtoolsDriver {
        let path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return DevtoolsDriver { driver, port };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver did not listen on port {port} within 5 s");
    }

    /// A browser window whose pages all run `script` before their own scripts.
    async fn session_with(&self, script: &str) -> Page {
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1280,900"]
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("chromedriver opens a Chromium session");
        let session = client.session_id().await.unwrap().expect("a session id");
        let reply = self.devtools(&session, "Page.addScriptToEvaluateOnNewDocument", json!({ "source": script })).await;
        assert!(reply["value"]["identifier"].is_string(), "the init script is installed: {reply}");
        Page { client }
    }

    /// One Chrome DevTools command through chromedriver's vendor endpoint.
    async fn devtools(&self, session: &str, cmd: &str, params: Value) -> Value {
        let body = json!({ "cmd": cmd, "params": params }).to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let request = format!(
            "POST /session/{session}/goog/cdp/execute HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        // Read the head, then exactly Content-Length bytes: chromedriver may keep the socket open.
        let mut response = Vec::new();
        let mut chunk = [0u8; 4096];
        let body = loop {
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
                .await
                .expect("chromedriver answers in time")
                .unwrap();
            response.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&response).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                assert!(head.starts_with("HTTP/1.1 200"), "chromedriver ran {cmd}: {text}");
                let length = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .and_then(|v| v.parse::<usize>().ok());
                if length.is_none_or(|len| body.len() >= len) || n == 0 {
                    break body.to_owned();
                }
            }
            assert!(n > 0, "chromedriver hung up: {text}");
        };
        serde_json::from_str(body.trim()).expect("chromedriver answers JSON")
    }
}

impl Drop for DevtoolsDriver {
    fn drop(&mut self) {
        let _ = self.driver.start_kill();
    }
}

/// Waits until the page has estimated its clock offset (`<body data-clock-offset>`).
async fn clock_offset(page: &Page) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let value = page.client.execute("return document.body.dataset.clockOffset || null", vec![]).await.unwrap();
        if let Some(ms) = value.as_str().and_then(|s| s.parse::<f64>().ok()) {
            return ms;
        }
        assert!(tokio::time::Instant::now() < deadline, "the page never estimated its clock offset");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page's estimate of the server's time minus the real wall clock (which the shift does
/// not touch: performance.timeOrigin + performance.now()), in ms.
async fn estimate_error(page: &Page) -> f64 {
    let value = page
        .client
        .execute(
            "return (Date.now() + Number(document.body.dataset.clockOffset)) - (performance.timeOrigin + performance.now())",
            vec![],
        )
        .await
        .unwrap();
    value.as_f64().expect("a number")
}

async fn text_of(page: &Page, selector: &str) -> String {
    page.client.find(Locator::Css(selector)).await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn a_page_with_a_clock_seven_seconds_off_agrees_with_one_that_is_right() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("goto", json!({"segment": "keynotes"})).await["type"], "ack");
    let browser = Browser::start().await;
    let right = browser.session().await;
    let devtools = DevtoolsDriver::start().await;
    let wrong = devtools.session_with(SHIFT_CLOCK).await;
    right.open(&app, "attend", Role::Attendee, "&lang=en&name=Right%20Clock").await;
    wrong.open(&app, "attend", Role::Attendee, "&lang=ja&name=Tanaka").await;

    let shift = wrong.client.execute("return window.__clockShift ?? null", vec![]).await.unwrap();
    assert_eq!(shift, json!(SHIFT_MS), "the wrong page's clock is shifted from its first script on");
    // Let the burst of sync pings at connect finish on both pages.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (right_offset, wrong_offset) = (clock_offset(&right).await, clock_offset(&wrong).await);
    assert!(
        (wrong_offset + SHIFT_MS as f64).abs() < 1000.0,
        "the shifted page measured its clock about 7 s ahead: offset {wrong_offset} ms"
    );
    let (a, b) = (estimate_error(&right).await, estimate_error(&wrong).await);
    eprintln!(
        "clock sync: offsets {right_offset} / {wrong_offset} ms; estimated server time minus real time {a:.1} / {b:.1} ms"
    );
    assert!((a - b).abs() < 25.0, "the two pages' server time differs by {:.1} ms", (a - b).abs());

    // The same countdown second on both: read right, wrong, right; when right did not tick
    // meanwhile, wrong must show the same. A clock 7 s off never passes.
    let mut agreed = None;
    for _ in 0..10 {
        let first = text_of(&right, "#countdown").await;
        let other = text_of(&wrong, "#countdown").await;
        let again = text_of(&right, "#countdown").await;
        if first == again && first.contains(':') {
            if first == other {
                agreed = Some(first);
                break;
            }
            eprintln!("countdowns differ: {first:?} and {other:?}");
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    assert!(agreed.is_some(), "the two pages never showed the same countdown second");
    right.client.clone().close().await.unwrap();
    wrong.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_waiting_attendee_sees_the_request_carried_over_or_closed_when_the_chair_moves_on() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    assert_eq!(chair.run("goto", json!({"segment": "round-table"})).await["type"], "ack");
    let browser = Browser::start().await;
    let attendee = browser.session().await;
    attendee.open(&app, "attend", Role::Attendee, "&lang=en&name=Tanaka%20Yuki&mode=remote").await;
    attendee.click("#btn-ask").await;
    attendee.wait_text("#my-status", |t| t.contains("number 1")).await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Fukuda").await;

    assert_eq!(chair.run("goto", json!({"segment": "closing"})).await["type"], "ack");
    attendee.wait_text("#current-title", |t| t.contains("Closing") || t.contains("closing")).await;
    let notice =
        attendee.wait_text("#my-notice-text", |t| t.contains("moved to") || t.contains("request was closed")).await;
    let page = attendee
        .client
        .execute(
            "return { status: document.getElementById('my-entry').hidden ? '' : document.getElementById('my-status').textContent, \
                      turn: !document.getElementById('your-turn').hidden, title: document.title }",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(page["turn"], json!(false), "no \"It's your turn\" for a segment that is over: {page}");
    assert!(!page["status"].as_str().unwrap().contains("your turn"), "{page}");
    assert!(!page["title"].as_str().unwrap().contains("Your turn"), "{page}");

    if notice.contains("moved to") {
        attendee.wait_attr("#my-entry", "data-live", "true").await;
        console.wait_text("#queue-waiting", |t| t.contains("Tanaka Yuki")).await;
    } else {
        assert!(notice.contains("Round table"), "the closed request names its segment: {notice}");
        attendee.wait_text("#ask-queue", |t| !t.is_empty()).await;
    }
    attendee.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_cue_screen_covers_its_cues_while_the_server_is_away() {
    let mut app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let screen = browser.session().await;
    screen.open(&app, "cues", Role::Av, "&lang=en&name=Wang").await;
    // A hidden element has no visible text: empty means the overlay is not shown.
    screen.wait_text("#offline", |t| t.is_empty()).await;

    app.stop().await;
    screen.wait_text("#offline", |t| t.contains("OFFLINE") && t.contains("cues not live")).await;
    let covers = screen
        .client
        .execute(
            "const r = document.getElementById('offline').getBoundingClientRect(); \
             return r.width >= innerWidth && r.height >= innerHeight",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(covers, json!(true), "the overlay covers the whole screen");

    app.start_again().await;
    screen.wait_attr("#conn-status", "data-state", "connected").await;
    screen.wait_text("#offline", |t| t.is_empty()).await;
    screen.client.clone().close().await.unwrap();
}
