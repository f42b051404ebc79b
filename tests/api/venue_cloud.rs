//! A hybrid event on two sites: a venue hub on a leaf NATS server with its own JetStream
//! domain, a cloud hub on the cloud's NATS server mirroring the venue, in two network
//! namespaces joined by a link that the tests cut and bring back (docs/operations.md,
//! "Venue and cloud").

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::browser::Browser;
use crate::cluster::{change_at, reply, ONE_AT_A_TIME};
use crate::cluster_captions::{line_text, lines_until, post_to};
use crate::helpers::{hello_frame, http_get, Client, Ended, EVENT};
use crate::rooms::{breakout_file, post, BREAKOUT};
use crate::venue_net::{Hub, Side, Sites};

const QUEUE: &str = "round-table";
/// How soon a remote page must learn that the link is down (the bound).
const BANNER_WITHIN: Duration = Duration::from_secs(5);
/// How soon after the link is back every remote page must have every change (the issue's).
const REPLAY_WITHIN: Duration = Duration::from_secs(20);
/// How long the hall may go without an ack while the link is down: its stage signals go
/// out every 150 ms, so anything near this is the outage reaching the hall.
const HALL_STALL: Duration = Duration::from_secs(2);

fn venue_settings() -> String {
    "[cluster]\nurls = \"nats://127.0.0.1:4222\"\nreplicas = 1\nrole = \"venue\"\n".into()
}

fn cloud_settings() -> String {
    "[cluster]\nurls = \"nats://127.0.0.1:4222\"\nreplicas = 1\nrole = \"cloud\"\nvenue_domain = \"venue\"\n".into()
}

/// Both sites with a hub each, the link up, and the show started by the venue's chair.
async fn two_sites() -> (Sites, Hub, Hub) {
    let sites = Sites::new().await;
    sites.until_leaf(true, Duration::from_secs(20)).await;
    let venue = sites.hub(Side::Venue, &venue_settings()).await;
    let cloud = sites.hub(Side::Cloud, &cloud_settings()).await;
    assert_eq!(cloud.process.tokens, venue.process.tokens, "the venue's links work on the cloud too");
    // A cloud node counts the link as down until it hears the venue's first heartbeat.
    until_link_metric(&cloud, 1).await;
    (sites, venue, cloud)
}

/// A page and every change seq it read, in order.
struct Page {
    client: Client,
    seqs: Vec<u64>,
    /// The `up` of every `link` frame read.
    links: Vec<bool>,
    first: u64,
    name: String,
}

impl Page {
    async fn join(hub: &Hub, role: &str, name: &str) -> Page {
        let mut client = Client::connect(hub.addr()).await;
        let mut hello = hello_frame(&hub.process.tokens[role], name);
        hello["participant"] = json!(name);
        client.send(hello).await;
        let welcome = client.expect("welcome").await;
        let first = welcome["seq"].as_u64().unwrap();
        client.seq = first;
        Page { client, seqs: Vec::new(), links: Vec::new(), first, name: name.into() }
    }

    /// Reads until a frame `wanted` picks, noting every change seq on the way; `None` when
    /// none came within `patience`.
    async fn until(&mut self, patience: Duration, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let frame = tokio::time::timeout(left, self.client.try_next_frame_within(left + Duration::from_secs(1)))
                .await
                .ok()??;
            if frame["type"] == "change" {
                self.seqs.push(frame["seq"].as_u64().unwrap());
            }
            if frame["type"] == "link" {
                self.links.push(frame["up"] == true);
            }
            if wanted(&frame) {
                return Some(frame);
            }
        }
    }

    /// Reads until the change with `seq`, within `patience`.
    async fn reaches(&mut self, seq: u64, patience: Duration) {
        if self.seqs.last().is_some_and(|&last| last >= seq) {
            return;
        }
        let reached = self.until(patience, |f| f["type"] == "change" && f["seq"].as_u64() >= Some(seq)).await;
        assert!(reached.is_some(), "{} reaches seq {seq} within {patience:?}; it read {:?}", self.name, self.seqs);
    }

    /// Every change from its welcome to `last` read once, in order.
    fn read_every_change_once(&self, last: u64) {
        let expected: Vec<u64> = (self.first + 1..=last).collect();
        assert_eq!(self.seqs, expected, "{}: every change once, in order, no gap", self.name);
    }
}

/// Stage signals from the hall's chair, one after the other's answer, until `stop`: when
/// each was answered and how.
async fn keep_signalling(mut chair: Client, stop: Arc<AtomicBool>) -> (Client, Vec<(Instant, String)>) {
    let mut answers = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let id = chair.command("stage_signal", json!({"signal": "wrap_up"})).await;
        let answer = reply(&mut chair, &id).await;
        let outcome = match answer["type"] == "ack" {
            true => format!("ack {}", answer["seq"]),
            false => format!("{}: {}", answer["code"], answer["message"]),
        };
        answers.push((Instant::now(), outcome));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    (chair, answers)
}

/// The longest wait between two acks of the hall's chair from `from` to `to`.
fn longest_stall(answers: &[(Instant, String)], from: Instant, to: Instant) -> Duration {
    let acks = answers.iter().filter(|(at, outcome)| outcome.starts_with("ack") && *at > from && *at <= to);
    let mut last = from;
    let mut longest = Duration::ZERO;
    for (at, _) in acks {
        longest = longest.max(*at - last);
        last = *at;
    }
    longest.max(to - last)
}

/// A queue request from a remote page; its answer.
async fn ask_to_speak(page: &mut Page, id: &str) -> Value {
    let request = json!({"type": "queue_request", "id": id, "queue": QUEUE, "topic": "scale"});
    page.client.send(request).await;
    let answer = page.until(Duration::from_secs(10), |f| f["id"] == id).await;
    answer.unwrap_or_else(|| panic!("{}'s request {id} is answered", page.name))
}

/// How many times `participant` waits in the queue, as a fresh page at the venue sees it.
async fn times_waiting(venue: &Hub, participant: &str) -> usize {
    let (_, welcome) = Client::join(venue.addr(), &venue.process.tokens["moderator"], "counter").await;
    let waiting = welcome["snapshot"]["queues"][QUEUE]["waiting"].as_array().cloned().unwrap_or_default();
    waiting.iter().filter(|entry| entry.to_string().contains(participant)).count()
}

/// The outage the issue describes; with `restart_the_venue`, the venue's hub is killed
/// (kill -9) and started again while the link is down.
async fn outage(sites: &Sites, venue: &mut Hub, cloud: &Hub, restart_the_venue: bool) {
    let (mut chair, _) = Client::join(venue.addr(), &venue.process.tokens["moderator"], "Ji Weidong").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let mut remote = Vec::new();
    for k in 0..3 {
        remote.push(Page::join(cloud, "attendee", &format!("remote-{k}")).await);
    }
    let mut in_room = Page::join(venue, "attendee", "in-room").await;

    // Remote people count with the hall's, on both sides: three remote, one in the room
    // (staff are not counted).
    for hub in [&*venue, cloud] {
        until_counted(hub, 4).await;
    }

    let asked = ask_to_speak(&mut remote[0], "before-the-cut").await;
    assert_eq!(asked["type"], "ack", "a remote request while the link is up is placed: {asked}");
    assert_eq!(times_waiting(venue, "remote-0").await, 1);

    let stop = Arc::new(AtomicBool::new(false));
    let signalling = tokio::spawn(keep_signalling(chair, stop.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;

    sites.cut();
    let cut_at = Instant::now();
    for page in &mut remote {
        // A page that joined before the cloud heard its first heartbeat was told "down", then "up".
        let banner = page.until(BANNER_WITHIN, |f| f["type"] == "link" && f["up"] == false).await;
        let banner =
            banner.unwrap_or_else(|| panic!("{} is told the link is down within {BANNER_WITHIN:?}", page.name));
        assert_eq!((&banner["up"], &banner["to"]), (&json!(false), &json!("venue")), "{banner}");
        assert!(banner["since"].as_i64().is_some_and(|t| t > 0), "{banner}");
    }
    eprintln!("every remote page was told the link is down {:?} after the cut", cut_at.elapsed());
    // The hall is told too: its chair knows that remote people see the show as of the cut.
    let told = in_room.until(BANNER_WITHIN, |f| f["type"] == "link" && f["up"] == false).await;
    assert_eq!(told.map(|f| f["to"].clone()), Some(json!("cloud")), "the venue's pages are told the cloud is cut off");
    until_link_metric(cloud, 0).await;
    until_link_metric(venue, 0).await;
    let refused = ask_to_speak(&mut remote[1], "during-the-cut").await;
    assert_eq!((&refused["type"], &refused["code"]), (&json!("error"), &json!("venue_unreachable")), "{refused}");
    assert_eq!(refused["message"], "the hall is offline; try again");
    // A page that joins the cloud while the link is down is told so after its welcome.
    let mut late = Page::join(cloud, "attendee", "late").await;
    let told = late.until(Duration::from_secs(2), |f| f["type"] == "link").await;
    assert_eq!(told.map(|f| f["up"].clone()), Some(json!(false)), "a page joining during the outage sees the banner");
    // Each side keeps the other's last count while the link is down: the cloud the one in
    // the room, the venue the three remote pages of before the cut.
    until_counted(cloud, 5).await;
    if !restart_the_venue {
        until_counted(venue, 4).await;
    }

    if restart_the_venue {
        stop.store(true, Ordering::Relaxed);
        let (_, before) = signalling.await.unwrap();
        assert!(before.iter().all(|(_, outcome)| outcome.starts_with("ack")), "{before:?}");
        let acked = before.iter().filter_map(|(_, outcome)| outcome.strip_prefix("ack ")?.parse::<u64>().ok()).max();
        venue.restart().await;
        let again = Page::join(venue, "attendee", "in-room again").await;
        assert!(
            Some(again.first) >= acked,
            "every acknowledged change is there after kill -9: {} < {acked:?}",
            again.first
        );
        in_room = again;
        let (chair, _) = Client::join(venue.addr(), &venue.process.tokens["moderator"], "Ji Weidong").await;
        let stop = Arc::new(AtomicBool::new(false));
        let signalling = tokio::spawn(keep_signalling(chair, stop.clone()));
        tokio::time::sleep(Duration::from_secs(3)).await;
        finish(sites, (venue, cloud), remote, late, in_room, stop, signalling, cut_at, false).await;
    } else {
        tokio::time::sleep(Duration::from_secs(4)).await;
        finish(sites, (venue, cloud), remote, late, in_room, stop, signalling, cut_at, true).await;
    }
}

/// The link comes back: every remote page replays the missed changes, and a remote request
/// is placed once.
#[allow(clippy::too_many_arguments)]
async fn finish(
    sites: &Sites,
    (venue, cloud): (&Hub, &Hub),
    mut remote: Vec<Page>,
    mut late: Page,
    mut in_room: Page,
    stop: Arc<AtomicBool>,
    signalling: tokio::task::JoinHandle<(Client, Vec<(Instant, String)>)>,
    cut_at: Instant,
    hall_untouched: bool,
) {
    let restored_at = Instant::now();
    sites.restore();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut chair, answers) = signalling.await.unwrap();
    assert!(
        answers.iter().all(|(_, outcome)| outcome.starts_with("ack")),
        "the hall's every command is acked: {answers:?}"
    );
    if hall_untouched {
        let stall = longest_stall(&answers, cut_at, restored_at);
        assert!(stall < HALL_STALL, "the hall went {stall:?} without an ack while the link was down");
    }
    let last = chair.run("stage_signal", json!({"signal": "wrap_up"})).await;
    let last = last["seq"].as_u64().unwrap();
    in_room.reaches(last, Duration::from_secs(5)).await;
    in_room.read_every_change_once(last);

    for page in remote.iter_mut().chain(std::iter::once(&mut late)) {
        page.reaches(last, REPLAY_WITHIN.saturating_sub(restored_at.elapsed())).await;
        page.read_every_change_once(last);
        if page.links.last() != Some(&true) {
            let back = page.until(Duration::from_secs(5), |f| f["type"] == "link").await;
            assert_eq!(back.map(|f| f["up"].clone()), Some(json!(true)), "{} is told the link is back", page.name);
        }
    }
    eprintln!("every remote page had seq {last} {:?} after the link came back", restored_at.elapsed());
    until_link_metric(cloud, 1).await;
    until_link_metric(venue, 1).await;
    // Four remote pages (one joined in the outage) and one in the room, on both sides again.
    until_counted(venue, 5).await;
    until_counted(cloud, 5).await;

    // After the return: a remote request, sent twice with one id, is placed once.
    let page = &mut remote[2];
    let placed = until_placed(page, "after-the-return").await;
    let again = ask_to_speak(page, "after-the-return").await;
    assert_eq!((&again["type"], &again["seq"]), (&json!("ack"), &placed["seq"]), "a re-sent id is the same ack");
    assert_eq!(times_waiting(venue, "remote-2").await, 1, "placed exactly once");
}

/// `eventhub_link_up` as `hub`'s metrics give it.
async fn link_metric(hub: &Hub) -> u8 {
    let path = format!("/metrics?token={}", hub.process.tokens["organizer"]);
    let (status, _, body) = http_get(hub.addr(), &path).await;
    assert_eq!(status, 200, "{body}");
    let line = body.lines().find(|line| line.starts_with("eventhub_link_up "));
    line.and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("no link metric:\n{body}"))
}

/// Waits until `hub`'s metrics say the link is `up` (1) or down (0), within 10 s: each
/// side beats every second and counts the link as down after 3 s without a beat.
async fn until_link_metric(hub: &Hub, up: u8) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while link_metric(hub).await != up {
        assert!(Instant::now() < deadline, "eventhub_link_up is {up} at {} within 10 s", hub.addr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until a page joining `hub` is told that `expected` people are here.
async fn until_counted(hub: &Hub, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // A moderator's page, which is not counted itself.
        let (_, welcome) = Client::join(hub.addr(), &hub.process.tokens["moderator"], "counter").await;
        let counts = &welcome["presence"]["counts"];
        if counts["total"] == expected {
            return;
        }
        assert!(Instant::now() < deadline, "{expected} people are counted at {} within 10 s: {counts}", hub.addr());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Asks until the venue answers: right after the link is back the cloud may not have heard
/// its first heartbeat yet and refuses with `venue_unreachable`.
async fn until_placed(page: &mut Page, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = ask_to_speak(page, id).await;
        if answer["type"] == "ack" {
            return answer;
        }
        assert_eq!(answer["code"], "venue_unreachable", "{answer}");
        assert!(Instant::now() < deadline, "a remote request is placed within 10 s of the return: {answer}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn with_the_venues_link_down_the_hall_goes_on_remote_pages_are_told_and_replay_every_change_after() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (sites, mut venue, cloud) = two_sites().await;
    outage(&sites, &mut venue, &cloud, false).await;
}

#[tokio::test]
async fn a_venue_hub_killed_and_restarted_during_the_outage_loses_nothing_and_the_cloud_catches_up() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (sites, mut venue, cloud) = two_sites().await;
    outage(&sites, &mut venue, &cloud, true).await;
}

/// Joins `event` on `hub` once it runs it, within 15 s.
async fn join_once_running(hub: &Hub, event: &str, token: &str, name: &str) -> Client {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut client = Client::connect(hub.addr()).await;
        let hello = json!({"type": "hello", "protocol": 1, "event": event, "token": token, "name": name,
                           "mode": "remote", "lang": "en"});
        client.send(hello).await;
        let frame = client.next_frame().await;
        if frame["type"] == "welcome" {
            client.seq = frame["seq"].as_u64().unwrap();
            return client;
        }
        assert_eq!(frame["code"], "unknown_event", "{frame}");
        assert!(Instant::now() < deadline, "{} runs {event} within 15 s", hub.addr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_event_created_at_the_venue_reaches_a_running_cloud_node_and_its_archive_closes_it_there() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (_sites, venue, cloud) = two_sites().await;
    let rooms = venue.process.rooms_token.clone().expect("the venue prints its rooms link");
    assert_eq!(cloud.process.rooms_token.as_deref(), Some(rooms.as_str()), "one rooms link for both sides");
    let (status, created) =
        post(venue.addr(), "/api/events", &rooms, Some("application/toml"), breakout_file(BREAKOUT).as_bytes()).await;
    assert_eq!(status, 201, "{created}");
    let (attendee, moderator) =
        (created["tokens"]["attendee"].as_str().unwrap(), created["tokens"]["moderator"].as_str().unwrap());
    let mut remote = join_once_running(&cloud, BREAKOUT, attendee, "remote in the breakout").await;
    let mut chair = join_once_running(&venue, BREAKOUT, moderator, "breakout chair").await;
    let ack = chair.run("next", json!({})).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let change = change_at(&mut remote, ack["seq"].as_u64().unwrap()).await;
    assert_eq!(change["change"]["live"]["segment"], 0, "{change}");

    let (status, body) =
        post(venue.addr(), &format!("/api/events/{BREAKOUT}/archive?force=true"), &rooms, None, b"").await;
    assert_eq!(status, 200, "{body}");
    match tokio::time::timeout(Duration::from_secs(15), remote.ended()).await {
        Ok(Ended::Closed(Some(frame))) => assert_eq!(u16::from(frame.code), 4404, "{frame:?}"),
        other => panic!("the cloud closes the archived event's pages with 4404, not {other:?}"),
    }
}

#[tokio::test]
async fn caption_lines_posted_at_the_venue_reach_remote_pages_and_the_cloud_sends_captioners_there() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (_sites, venue, cloud) = two_sites().await;
    let mut remote = Client::connect(cloud.addr()).await;
    let mut hello = hello_frame(&cloud.process.tokens["attendee"], "remote reader");
    (hello["lang"], hello["captions"]) = (json!("ja"), json!("ja"));
    remote.send(hello).await;
    remote.expect("welcome").await;
    let captioner = &venue.process.tokens["captioner"];
    for seq in 1..=3 {
        let reply = post_to(venue.addr(), captioner, &format!("lang=ja&seq={seq}"), &line_text(seq)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let lines = lines_until(&mut remote, 0, 3).await;
    assert_eq!(lines[2]["text"], line_text(3));

    let refused = post_to(cloud.addr(), captioner, "lang=ja&seq=4", &line_text(4)).await;
    assert_eq!((refused.status, &refused.body["code"]), (403, &json!("forbidden")), "{}", refused.body);
}

#[tokio::test]
async fn a_remote_attendees_page_shows_the_hall_offline_banner_in_its_language_and_drops_it_when_the_link_is_back() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (sites, _venue, cloud) = two_sites().await;
    let browser = Browser::start().await;
    let page = browser.session().await;
    let token = &cloud.process.tokens["attendee"];
    let url = format!("http://{}/attend#event={EVENT}&token={token}&lang=ja&name=Remote", cloud.addr());
    tokio::time::timeout(Duration::from_secs(60), page.client.goto(&url))
        .await
        .expect("the page loads in time")
        .expect("the page loads");
    page.wait_attr("#conn-status", "data-state", "connected").await;

    sites.cut();
    let banner = page.wait_text("#link-banner", |text| text.contains("会場との接続が切れています")).await;
    assert!(banner.contains("Shanghai"), "the time is the event's, as every clock of the page: {banner}");
    page.wait_attr("#conn-status", "data-state", "connected").await;

    sites.restore();
    page.wait_attr("#link-banner", "hidden", "true").await;
}

#[tokio::test]
async fn automations_go_out_once_from_the_venue_and_never_from_the_cloud() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (sites, venue, cloud) = two_sites().await;
    // The desk is in the root namespace, at the root's end of the venue's access pair.
    let desk = tokio::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    let port = desk.local_addr().unwrap().port();
    let host = std::net::Ipv4Addr::from(u32::from(sites.access(Side::Venue)) - 1).to_string();
    let osc = json!({"host": host, "port": port, "address": "/start", "args": ["{{segment.number}}"]});
    let mut remote = Page::join(&cloud, "attendee", "remote").await;
    let (mut organizer, _) = Client::join(venue.addr(), &venue.process.tokens["organizer"], "Producer").await;
    let automations = json!([{"trigger": "segment_start", "osc": osc}]);
    let set = organizer.run("plan_update_automations", json!({"plan_version": 0, "automations": automations})).await;
    assert_eq!(set["type"], "ack", "{set}");
    // The cloud has the plan before the show starts, as it would in a real day.
    remote.reaches(set["seq"].as_u64().unwrap(), Duration::from_secs(10)).await;
    assert_eq!(organizer.run("next", json!({})).await["type"], "ack");

    let mut buffer = vec![0; 65_536];
    let (len, from) = tokio::time::timeout(Duration::from_secs(10), desk.recv_from(&mut buffer))
        .await
        .expect("the venue's output reaches the desk")
        .unwrap();
    let packet = rosc::decoder::decode_udp(&buffer[..len]).expect("a valid OSC packet").1;
    assert!(matches!(&packet, rosc::OscPacket::Message(m) if m.addr == "/start"), "{packet:?}");
    assert_eq!(from.ip(), std::net::IpAddr::V4(sites.access(Side::Venue)), "sent from the venue");
    let again = tokio::time::timeout(Duration::from_secs(3), desk.recv_from(&mut buffer)).await;
    assert!(again.is_err(), "sent once: {again:?}");
    for (hub, expected) in [(&venue, 1), (&cloud, 0)] {
        let path = format!("/api/v1/events/{EVENT}/automations?token={}", hub.process.tokens["av"]);
        let (status, _, body) = http_get(hub.addr(), &path).await;
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["recent"].as_array().map(Vec::len), Some(expected), "{} sent: {body}", hub.addr());
    }
}

#[tokio::test]
async fn a_cloud_node_restarted_while_the_link_is_down_serves_its_pages_and_counts_with_the_venue_once_it_is_back() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (sites, venue, mut cloud) = two_sites().await;
    let (mut chair, _) = Client::join(venue.addr(), &venue.process.tokens["moderator"], "Ji Weidong").await;
    let started = chair.run("next", json!({})).await["seq"].as_u64().unwrap();
    sites.cut();
    until_link_metric(&cloud, 0).await;
    cloud.restart().await;
    // Its mirror and the venue's tokens are its own now: it starts and serves the last state.
    let remote = Page::join(&cloud, "attendee", "remote").await;
    assert_eq!(remote.first, started, "the state as of the cut");
    let _in_room = Page::join(&venue, "attendee", "in the room").await;
    sites.restore();
    until_link_metric(&cloud, 1).await;
    until_counted(&venue, 2).await;
    until_counted(&cloud, 2).await;
}

#[tokio::test]
async fn the_venue_answers_a_malformed_or_misdirected_remote_command_with_a_clear_error_and_applies_nothing() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (sites, venue, _cloud) = two_sites().await;
    let nats = async_nats::connect(sites.nats_url(Side::Venue)).await.expect("the venue's NATS answers");
    let (_, welcome) = Client::join(venue.addr(), &venue.process.tokens["attendee"], "watcher").await;
    let before = welcome["seq"].as_u64().unwrap();
    let actor = json!({"participant": "p1", "name": "Remote", "role": "attendee", "mode": "remote", "lang": "en",
                       "affiliation": null});
    let asks = [
        (format!("eventhub.venue.command.{EVENT}"), "not json".to_owned(), "bad_json"),
        (
            format!("eventhub.venue.command.{EVENT}"),
            json!({"actor": actor, "id": "x", "command": {"type": "no_such_command"}}).to_string(),
            "bad_json",
        ),
        (
            "eventhub.venue.command.no-such-event".to_owned(),
            json!({"actor": actor, "id": "y", "command": {"type": "next", "version": 0}}).to_string(),
            "unknown_event",
        ),
        (
            format!("eventhub.venue.command.{EVENT}"),
            json!({"actor": actor, "id": "z", "command": {"type": "next", "version": 0}}).to_string(),
            "forbidden",
        ),
    ];
    for (subject, payload, code) in asks {
        let answer = tokio::time::timeout(Duration::from_secs(5), nats.request(subject, payload.clone().into()))
            .await
            .expect("the venue answers in time")
            .expect("the venue answers");
        let answer: Value = serde_json::from_slice(&answer.payload).unwrap();
        assert_eq!((&answer["outcome"], &answer["code"]), (&json!("rejected"), &json!(code)), "{payload}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    let (_, again) = Client::join(venue.addr(), &venue.process.tokens["attendee"], "second look").await;
    assert_eq!(again["seq"].as_u64(), Some(before), "nothing was applied");
}

#[tokio::test]
async fn remote_attendees_vote_from_the_cloud_in_batches_decided_at_the_venue_and_each_vote_counts_once() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (_sites, venue, cloud) = two_sites().await;
    let mut chair = Page::join(&venue, "moderator", "Fukuda").await;
    let opened = chair.client.run("poll_open", json!({"poll": "next-forum"})).await;
    assert_eq!(opened["type"], "ack", "{opened}");
    let mut phones = Vec::new();
    for k in 0..12 {
        phones.push(Page::join(&cloud, "attendee", &format!("remote-{k}")).await.client);
    }
    // The cloud checks a vote against its mirror: the poll must be open there first.
    let mut mirror = Page::join(&cloud, "attendee", "mirror watcher").await;
    if mirror.first < opened["seq"].as_u64().unwrap() {
        mirror.reaches(opened["seq"].as_u64().unwrap(), Duration::from_secs(10)).await;
    }
    let votes = phones.iter_mut().enumerate().map(|(k, phone)| async move {
        let frame = json!({"type": "poll_vote", "id": format!("v{k}"), "poll": "next-forum", "choices": [k % 3]});
        crate::retries::reply_to(phone, frame).await
    });
    let replies = futures_util::future::join_all(votes).await;
    assert!(replies.iter().all(|r| r["type"] == "ack"), "{replies:?}");
    let counted = chair
        .until(Duration::from_secs(10), |f| f["change"]["kind"] == "votes" && f["change"]["polls"][0]["voters"] == 12)
        .await;
    assert_eq!(counted.expect("the hall's chair sees all twelve")["change"]["polls"][0]["counts"], json!([4, 4, 4]));
    // A vote re-sent from the cloud is answered with its first ack, and counts once.
    let retry = json!({"type": "poll_vote", "id": "v0", "poll": "next-forum", "choices": [0]});
    assert_eq!(crate::retries::reply_to(&mut phones[0], retry).await, replies[0]);
    let mut remote = Page::join(&cloud, "attendee", "remote watcher").await;
    let closed = chair.client.run("poll_close", json!({"poll": "next-forum"})).await;
    remote.reaches(closed["seq"].as_u64().unwrap(), Duration::from_secs(10)).await;
    let (_, welcome) = Client::join(cloud.addr(), &cloud.process.tokens["attendee"], "checker").await;
    let poll = &welcome["snapshot"]["polls"]["polls"][0];
    assert_eq!((poll["state"].as_str(), poll["counts"].clone()), (Some("closed"), json!([4, 4, 4])));
}
