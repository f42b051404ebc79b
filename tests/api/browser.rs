//! Real pages in headless Chromium, driven through chromedriver (WebDriver).
//! Needs Debian's `chromium` and `chromium-driver`; without them these tests fail and say so.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use eventhub::domain::Role;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::helpers::{TestApp, EVENT};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a page may take to show what a test waits for.
const PAGE_PATIENCE: Duration = Duration::from_secs(15);
/// How long a page may take to load, on a machine busy with other browsers.
const LOAD_PATIENCE: Duration = Duration::from_secs(60);
/// How far a page's estimate of the server's time may be from it once synchronized. Each
/// estimate is off by at most half the round trip of the page's best ping, which on a loaded
/// machine is tens of milliseconds; a page that did not synchronize is off by how wrong its
/// own clock is, one that applied its offset the wrong way by twice that. Agreeing within
/// a fifth of a second, two pages show the same countdown second nearly all the time.
pub const CLOCK_TOLERANCE_MS: f64 = 100.0;
/// How long pages get to synchronize: their burst of pings at connect and two rounds of the
/// ping every 10 s after it, for a machine too loaded to answer the burst quickly.
const CLOCK_PATIENCE: Duration = Duration::from_secs(30);

/// A chromedriver process of this test's own, killed when the test ends.
pub struct Browser {
    driver: Child,
    port: u16,
}

fn installed(path: &str, env: &str) -> PathBuf {
    let path = std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(path));
    assert!(
        Path::new(&path).exists(),
        "{} is missing: browser tests need Chromium and its driver. Install them with \
         `apt-get install chromium chromium-driver` (or set {env} to their path).",
        path.display()
    );
    path
}

impl Browser {
    pub async fn start() -> Browser {
        installed(CHROMIUM, "CHROMIUM");
        let driver_path = installed(CHROMEDRIVER, "CHROMEDRIVER");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // A group of its own, so that its browsers go with it: killed alone, chromedriver
            // leaves them running, each holding a core's worth of renderers.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Browser { driver, port };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver did not listen on port {port} within 5 s");
    }

    /// A new browser window with a profile of its own, like a second device.
    pub async fn session(&self) -> Page {
        Page { client: self.client().await }
    }

    /// A browser window whose pages all run `script` before their own scripts, through
    /// chromedriver's Chrome DevTools endpoint: WebDriver itself has no way to do that.
    pub async fn session_with(&self, script: &str) -> Page {
        let client = self.client().await;
        let session = client.session_id().await.unwrap().expect("a session id");
        let reply = self.devtools(&session, "Page.addScriptToEvaluateOnNewDocument", json!({ "source": script })).await;
        assert!(reply["value"]["identifier"].is_string(), "the init script is installed: {reply}");
        Page { client }
    }

    /// The page as Chromium prints it to PDF on A4 paper (the browser's "save as PDF"), as
    /// base64.
    pub async fn pdf_base64(&self, page: &Page) -> String {
        let session = page.client.session_id().await.unwrap().expect("a session id");
        let paper =
            json!({"paperWidth": 8.27, "paperHeight": 11.69, "preferCSSPageSize": true, "printBackground": true});
        let reply = self.devtools(&session, "Page.printToPDF", paper).await;
        reply["value"]["data"].as_str().unwrap_or_else(|| panic!("Chromium printed a PDF: {reply}")).to_owned()
    }

    /// One Chrome DevTools command through chromedriver's vendor endpoint.
    async fn devtools(&self, session: &str, cmd: &str, params: Value) -> Value {
        let body = json!({ "cmd": cmd, "params": params }).to_string();
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
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

    async fn client(&self) -> Client {
        let chromium = installed(CHROMIUM, "CHROMIUM");
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
        // On a loaded machine chromedriver sometimes answers a new session with nothing;
        // it succeeds when asked again.
        let mut last = None;
        for _ in 0..3 {
            let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
            builder.capabilities(capabilities.clone());
            let driver = format!("http://127.0.0.1:{}", self.port);
            match tokio::time::timeout(LOAD_PATIENCE, builder.connect(&driver)).await {
                Ok(Ok(client)) => return client,
                Ok(Err(e)) => last = Some(e.to_string()),
                Err(_) => last = Some(format!("no answer within {LOAD_PATIENCE:?}")),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("chromedriver opens no Chromium session: {last:?}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(group) = self.driver.id() {
            let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).status();
        }
        let _ = self.driver.start_kill();
    }
}

pub struct Page {
    pub client: Client,
}

impl Page {
    /// Opens `page` of the test app as `role`, with extra fragment parameters.
    pub async fn open(&self, app: &TestApp, page: &str, role: Role, extra: &str) {
        let url = format!("http://{}/{page}#event={EVENT}&token={}{extra}", app.addr, app.token(role));
        tokio::time::timeout(LOAD_PATIENCE, self.client.goto(&url))
            .await
            .unwrap_or_else(|_| panic!("/{page} did not load within {LOAD_PATIENCE:?}"))
            .expect("the page loads");
        self.wait_attr("#conn-status", "data-state", "connected").await;
    }

    /// Waits until the element's text satisfies `ok`; returns it.
    pub async fn wait_text(&self, selector: &str, ok: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        // One deadline for the whole wait, WebDriver's answers included: a chromedriver
        // that stops answering fails the test rather than hanging it.
        let found = tokio::time::timeout(PAGE_PATIENCE, async {
            loop {
                if let Ok(element) = self.client.find(Locator::Css(selector)).await {
                    if let Ok(text) = element.text().await {
                        if ok(&text) {
                            return text;
                        }
                        last = text;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("{selector} never showed the expected text; it shows {last:?}"))
    }

    pub async fn wait_attr(&self, selector: &str, attribute: &str, expected: &str) {
        let mut last = None;
        let found = tokio::time::timeout(PAGE_PATIENCE, async {
            loop {
                if let Ok(element) = self.client.find(Locator::Css(selector)).await {
                    last = element.attr(attribute).await.ok().flatten();
                    if last.as_deref() == Some(expected) {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("{selector}[{attribute}] never became {expected:?}; it is {last:?}"))
    }

    /// The page's estimate of the server's time minus the real time, in ms: how far off its
    /// countdowns are. The real time is read past whatever `Date` the page has
    /// (`performance.timeOrigin + performance.now()`), and the server runs on this machine.
    /// None until the page has estimated its clock offset (`<body data-clock-offset>`).
    pub async fn clock_error(&self) -> Option<f64> {
        let script = "const offset = document.body.dataset.clockOffset; \
            return offset === undefined ? null \
              : (Date.now() + Number(offset)) - (performance.timeOrigin + performance.now())";
        self.client.execute(script, vec![]).await.expect("the script runs").as_f64()
    }

    /// Clicks as a person does: the element brought to the middle of the window first, so
    /// that it is not under the console's sticky cockpit after the page scrolled.
    pub async fn click(&self, selector: &str) {
        let clicked = tokio::time::timeout(PAGE_PATIENCE, async {
            let element = self.client.find(Locator::Css(selector)).await.expect("the element exists");
            let script = "arguments[0].scrollIntoView({ block: 'center', inline: 'nearest' })";
            let arg = serde_json::to_value(&element).expect("an element reference");
            self.client.execute(script, vec![arg]).await.expect("it scrolls into view");
            element.click().await.expect("it clicks");
        });
        clicked.await.unwrap_or_else(|_| panic!("chromedriver did not click {selector} within {PAGE_PATIENCE:?}"));
    }
}

/// Waits until every page's estimate of the server's time is within
/// [`CLOCK_TOLERANCE_MS`] of it; returns each page's error, in ms.
pub async fn clocks_synchronized(pages: &[&Page]) -> Vec<f64> {
    let deadline = tokio::time::Instant::now() + CLOCK_PATIENCE;
    loop {
        let mut errors = Vec::new();
        for page in pages {
            errors.push(page.clock_error().await);
        }
        let errors: Option<Vec<f64>> = errors.into_iter().collect();
        if let Some(errors) = errors.as_ref().filter(|e| e.iter().all(|ms| ms.abs() < CLOCK_TOLERANCE_MS)) {
            return errors.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pages' estimates of the server's time stayed off by {errors:?} ms (at most {CLOCK_TOLERANCE_MS} wanted)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_attendee_page_follows_the_console_in_the_chosen_language() {
    let app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let attendee = browser.session().await;
    attendee.open(&app, "attend", Role::Attendee, "&lang=ja&name=Tanaka%20Yuki&mode=remote").await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Ji%20Weidong").await;

    console.wait_text("#current-title", |t| !t.is_empty()).await;
    console.click("#btn-next").await;
    console.wait_text("#current-title", |t| t == "Opening ceremony").await;
    attendee.wait_text("#current-title", |t| t == "開会式").await;
    attendee.wait_text("#current-speaker", |t| t.contains("季衛東")).await;
    attendee.wait_text("#next-title", |t| t.contains("基調講演")).await;
    // The programme for the phone's calendar, in the page's language.
    attendee.wait_text("#calendar-link", |t| t == "プログラムをカレンダーに追加").await;
    let link = attendee.client.find(Locator::Css("#calendar-link")).await.unwrap();
    let href = link.attr("href").await.unwrap().expect("the link has an address");
    assert!(href.contains("lang=ja"), "{href}");
    let (status, _, ics) = app.get(&href).await;
    assert_eq!(status, 200, "{href}: {ics}");
    assert!(ics.contains("SUMMARY:開会式"), "{ics}");

    console.click("#btn-next").await;
    attendee.wait_text("#current-title", |t| t == "基調講演").await;

    let select = attendee.client.find(Locator::Css("#lang")).await.unwrap();
    select.select_by_value("zh").await.unwrap();
    attendee.wait_text("#current-title", |t| t == "主旨演讲").await;
    attendee.wait_text("#countdown", |t| t.contains(':')).await;
    console.client.clone().close().await.unwrap();
    attendee.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_attendee_page_rides_out_a_server_restart_and_catches_up() {
    let mut app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let attendee = browser.session().await;
    attendee.open(&app, "attend", Role::Attendee, "&lang=en&name=On%20a%20train&mode=remote").await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    attendee.wait_text("#current-title", |t| t == "Opening ceremony").await;

    app.stop().await;
    attendee.wait_attr("#conn-status", "data-state", "reconnecting").await;
    attendee.wait_text("#current-title", |t| t == "Opening ceremony").await;

    app.start_again().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("goto", json!({"segment": "round-table"})).await["type"], "ack");
    attendee.wait_attr("#conn-status", "data-state", "connected").await;
    attendee.wait_text("#current-title", |t| t.starts_with("Round table")).await;
    attendee.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_remote_attendee_asks_to_speak_and_the_console_calls_them() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    assert_eq!(chair.run("goto", json!({"segment": "round-table"})).await["type"], "ack");
    let browser = Browser::start().await;
    let attendee = browser.session().await;
    attendee.open(&app, "attend", Role::Attendee, "&lang=en&name=Sakano%20Osaka&mode=remote").await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Fukuda").await;

    let topic = attendee.client.find(Locator::Css("#ask-topic")).await.unwrap();
    topic.send_keys("Smart city data across borders").await.unwrap();
    attendee.click("#btn-ask").await;
    attendee.wait_text("#my-status", |t| t.contains("nobody ahead of you")).await;
    console.wait_text("#queue-waiting", |t| t.contains("Sakano Osaka") && t.contains("Smart city data")).await;

    console.click("#btn-queue-next").await;
    attendee.wait_text("#my-status", |t| t.contains("your turn")).await;
    attendee.wait_text("#my-countdown", |t| t.contains("2:5") || t.contains("3:00")).await;
    console.wait_text("#queue-speaking", |t| t.contains("Sakano Osaka")).await;
    attendee.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_cue_goes_from_console_to_cue_screen_and_back_and_flashes_on_go() {
    let app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let screen = browser.session().await;
    screen.open(&app, "cues", Role::Av, "&lang=en&name=Wang&crew=audio").await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Fukuda").await;

    let target = console.client.find(Locator::Css("#cue-target")).await.unwrap();
    target.select_by_value("audio").await.unwrap();
    console.client.find(Locator::Css("#cue-text")).await.unwrap().send_keys("Mic 3 live").await.unwrap();
    console.click("#btn-cue-standby").await;

    let on_screen = r#"#cue-list li.cue[data-state="standby"]"#;
    screen.wait_text(on_screen, |t| t.contains("Mic 3 live")).await;
    screen.click(&format!("{on_screen} button.ack")).await;
    let answered = r#"#cue-list li.cue[data-state="standing_by"]"#;
    console.wait_text(answered, |t| t.contains("Wang")).await;

    console.click(&format!("{answered} button.go")).await;
    let go = r#"#cue-list li.cue[data-state="go"]"#;
    screen.wait_text(go, |t| t.contains("Mic 3 live")).await;
    let animation = screen
        .client
        .execute(
            &format!("return getComputedStyle(document.querySelector('{}')).animationName", go.replace('\'', "\\'")),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(animation, json!("go-flash"), "go flashes on the cue screen");
    screen.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_stage_screen_counts_down_and_shows_the_chairs_wrap_up() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Ji Weidong").await;
    assert_eq!(chair.run("goto", json!({"segment": "keynotes"})).await["type"], "ack");
    let browser = Browser::start().await;
    let stage = browser.session().await;
    stage.open(&app, "stage", Role::Speaker, "&lang=en&name=Zhang%20Ying").await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Ji%20Weidong").await;

    stage.wait_text("#current-speaker", |t| t.contains("Zhang Ying")).await;
    stage.wait_text("#countdown", |t| t.starts_with("19:") || t == "20:00").await;
    stage.wait_attr("#countdown", "data-level", "normal").await;
    console.click("#btn-stage-wrap-up").await;
    stage.wait_text("#stage-message", |t| t.contains("Please wrap up")).await;
    stage.wait_text("#next-speaker", |t| t.contains("Lu Ming")).await;
    stage.client.clone().close().await.unwrap();
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn two_screens_agree_on_the_server_clock() {
    let app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let stage = browser.session().await;
    stage.open(&app, "stage", Role::Speaker, "&lang=en&name=Lu%20Ming").await;
    let attendee = browser.session().await;
    attendee.open(&app, "attend", Role::Attendee, "&lang=en&name=Watcher").await;
    // Both within the tolerance of the server's clock, so within twice it of each other.
    let errors = clocks_synchronized(&[&stage, &attendee]).await;
    eprintln!("clock sync: stage {:.1} ms, attendee {:.1} ms off the server's clock", errors[0], errors[1]);
    stage.client.clone().close().await.unwrap();
    attendee.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_attendee_page_sees_a_newcomer_arrive_and_leave() {
    let app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let first = browser.session().await;
    first.open(&app, "attend", Role::Attendee, "&lang=en&name=First%20Attendee&mode=in_room").await;
    first.wait_text("#presence-count", |t| t.contains('1')).await;

    let second = browser.session().await;
    second.open(&app, "attend", Role::Attendee, "&lang=en&name=Osaka%20Newcomer&mode=remote").await;
    first.wait_text("#presence-count", |t| t.contains('2')).await;
    first.wait_text("#recent-joins", |t| t.contains("Osaka Newcomer")).await;

    second.client.clone().close().await.unwrap();
    first.wait_text("#presence-count", |t| t.contains('1') && !t.contains('2')).await;
    first.wait_text("#recent-joins", |t| !t.contains("Osaka Newcomer")).await;
    first.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_name_made_of_markup_shows_as_text_and_runs_nothing() {
    const NAME: &str = "<img src=x onerror=\"window.__pwned=1\">";
    const TOPIC: &str = "<script>window.__pwned=2</script>";
    let app = crate::helpers::spawn_app().await;
    let browser = Browser::start().await;
    let console = browser.session().await;
    console.open(&app, "console", Role::Moderator, "&lang=en&name=Fukuda").await;
    let (mut hostile, _) = app.join(Role::Attendee, NAME).await;
    assert_eq!(hostile.run("queue_request", json!({"queue": "event", "topic": TOPIC})).await["type"], "ack");

    console.wait_text("#presence-list", |t| t.contains(NAME)).await;
    console.wait_text("#queue-waiting", |t| t.contains(NAME) && t.contains(TOPIC)).await;
    let verdict = console
        .client
        .execute(
            "return { pwned: window.__pwned === undefined ? null : window.__pwned, \
                      injected: document.querySelectorAll('#presence-list img, #queue-waiting img, #queue-waiting script').length }",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(verdict, json!({"pwned": null, "injected": 0}), "the markup stayed text");
    console.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn an_in_room_attendee_called_from_the_queue_is_sent_to_the_floor_microphone_never_to_the_meeting() {
    let app = crate::helpers::spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    assert_eq!(chair.run("goto", json!({"segment": "round-table"})).await["type"], "ack");
    let (mut first, _) = app.join(Role::Attendee, "First Asker").await;
    let (mut second, _) = app.join(Role::Attendee, "Second Asker").await;
    for asker in [&mut first, &mut second] {
        assert_eq!(asker.run("queue_request", json!({"queue": "round-table"})).await["type"], "ack");
    }
    let next = |version: u64| json!({"queue": "round-table", "version": version});
    let reply = chair.run("queue_next", next(0)).await;
    assert_eq!(reply["type"], "ack", "{reply}");

    let browser = Browser::start().await;
    let attendee = browser.session().await;
    attendee.open(&app, "attend", Role::Attendee, "&lang=en&name=Tanaka%20Yuki&mode=in_room").await;
    attendee.click("#btn-ask").await;
    attendee.wait_text("#my-status", |t| t.contains("2 ahead of you (1 speaking, 1 on deck)")).await;

    // On deck, then speaking: where to speak in the hall, and no meeting link at any point.
    assert_eq!(chair.run("queue_next", next(1)).await["type"], "ack");
    attendee.wait_text("#deck-next", |t| t.contains("floor microphone")).await;
    let nothing_online = |page: &Page| {
        let client = page.client.clone();
        async move {
            let shown = client
                .execute(
                    "return [...document.querySelectorAll('#join-link, #deck-join')].filter((a) => !a.hidden).length",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(shown, 0, "no meeting link for someone in the hall");
            let text = client.execute("return document.body.innerText", vec![]).await.unwrap();
            let text = text.as_str().unwrap().to_lowercase();
            assert!(!text.contains("unmute") && !text.contains("meeting"), "{text}");
        }
    };
    nothing_online(&attendee).await;
    assert_eq!(chair.run("queue_next", next(2)).await["type"], "ack");
    attendee.wait_text("#your-turn-next", |t| t.contains("floor microphone")).await;
    attendee.wait_text("#current-speaker", |t| t == "Tanaka Yuki").await;
    nothing_online(&attendee).await;
    attendee.client.clone().close().await.unwrap();
}
