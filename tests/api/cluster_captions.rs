//! Caption lines in a cluster: three hub nodes on three NATS servers, a captioner posting to
//! one node, viewers on the others, transcripts from each, a node killed mid-transcript, and
//! the same line posted to two nodes at once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cluster::{migrate, trio_with_a_node_each, Nats, Node, ONE_AT_A_TIME};
use crate::control::{request, Reply};
use crate::crash::{kill_9, launch};
use crate::helpers::{hello_frame, http_get, Client, EVENT};

async fn post(node: &Node, query: &str, text: &str) -> Reply {
    post_to(node.process.addr, node.token("captioner"), query, text).await
}

pub(crate) async fn post_to(addr: SocketAddr, token: &str, query: &str, text: &str) -> Reply {
    let path = format!("/api/v1/events/{EVENT}/captions?{query}");
    let auth = format!("Bearer {token}");
    request(addr, "POST", &path, &[("Authorization", &auth), ("Content-Type", "text/plain; charset=utf-8")], text).await
}

/// Posts final line `seq` of the Japanese track and checks that it is taken.
async fn post_line(node: &Node, seq: u64) {
    let reply = post(node, &format!("lang=ja&seq={seq}"), &line_text(seq)).await;
    assert_eq!((reply.status, &reply.body["final"]), (200, &json!(true)), "line {seq}: {}", reply.body);
}

pub(crate) fn line_text(seq: u64) -> String {
    format!("第{seq}行、皆さん。")
}

/// A viewer on `node` following the Japanese track, past its first `captions` frame.
async fn viewer(node: &Node, name: &str) -> Client {
    let mut client = Client::connect(node.process.addr).await;
    let mut hello = hello_frame(node.token("attendee"), name);
    hello["lang"] = json!("ja");
    hello["captions"] = json!("ja");
    client.send(hello).await;
    client.expect("welcome").await;
    client.expect("captions").await;
    client
}

/// Reads caption lines until final line `last`, failing on any line out of order: each
/// line must be the one after the line before, so a gap or a repeat fails the test.
pub(crate) async fn lines_until(client: &mut Client, mut seen: u64, last: u64) -> Vec<Value> {
    let mut lines = Vec::new();
    while seen < last {
        // After a NATS server's death a node's follower may take the stream's election
        // (up to 8.4 s measured) and a new subscription before the next line comes.
        let frame = client.try_next_frame_within(Duration::from_secs(30)).await.expect("the viewer stays connected");
        if frame["type"] != "caption" {
            continue;
        }
        let line = frame["line"].clone();
        assert_eq!(line["final"], true, "only final lines here: {line}");
        assert_eq!(line["seq"], seen + 1, "every line once, in order, after seq {seen}: {line}");
        seen += 1;
        lines.push(line);
    }
    lines
}

/// The three transcripts of the Japanese track as `node` serves them.
async fn transcripts(node: &Node) -> Vec<String> {
    transcripts_at(node.process.addr, node.token("organizer")).await
}

async fn transcripts_at(addr: SocketAddr, organizer: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    for format in ["txt", "vtt", "srt"] {
        let path = format!("/api/events/{EVENT}/transcript.{format}?lang=ja&token={organizer}");
        let (status, _, body) = http_get(addr, &path).await;
        assert_eq!(status, 200, "transcript.{format}: {body}");
        bodies.push(body);
    }
    bodies
}

async fn last_seq(node: &Node) -> u64 {
    let path = format!("/api/v1/events/{EVENT}/captions/seq?lang=ja&token={}", node.token("captioner"));
    let (status, _, body) = http_get(node.process.addr, &path).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["seq"].as_u64().unwrap()
}

/// The plain-text transcript holds lines `1..=last`, each once, in order.
fn holds_every_line(text: &str, last: u64) {
    let mut from = 0;
    for seq in 1..=last {
        let line = line_text(seq);
        assert_eq!(text.matches(&line).count(), 1, "line {seq} once in the transcript:\n{text}");
        let at = text.find(&line).unwrap();
        assert!(at >= from, "line {seq} after line {}:\n{text}", seq - 1);
        from = at;
    }
}

#[tokio::test]
async fn lines_posted_to_one_node_reach_every_nodes_viewers_once_in_order_and_transcripts_match() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (_trio, nodes) = trio_with_a_node_each().await;
    let (mut chair, _) = nodes[1].join("moderator", "Ji Weidong").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let mut viewers = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        viewers.push(viewer(node, &format!("viewer on {k}")).await);
    }

    const LINES: u64 = 30;
    for seq in 1..=LINES {
        post_line(&nodes[0], seq).await;
    }
    for (k, viewer) in viewers.iter_mut().enumerate() {
        let lines = lines_until(viewer, 0, LINES).await;
        assert_eq!(lines[0]["segment"], "opening", "node {k} shows the line placed where it was taken");
    }
    // A repeat sent late would come before the next line.
    post_line(&nodes[2], LINES + 1).await;
    for viewer in &mut viewers {
        lines_until(viewer, LINES, LINES + 1).await;
    }

    let from_a = transcripts(&nodes[0]).await;
    holds_every_line(&from_a[0], LINES + 1);
    for node in &nodes[1..] {
        assert_eq!(transcripts(node).await, from_a, "every node serves the same transcripts, byte for byte");
    }
    for node in &nodes {
        assert_eq!(last_seq(node).await, LINES + 1);
    }
}

#[tokio::test]
async fn a_node_killed_after_acknowledged_lines_loses_none_and_the_captioner_goes_on_on_another() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (_trio, mut nodes) = trio_with_a_node_each().await;
    let mut on_b = viewer(&nodes[1], "viewer on b").await;
    let mut on_c = viewer(&nodes[2], "viewer on c").await;

    const BEFORE: u64 = 15;
    for seq in 1..=BEFORE {
        post_line(&nodes[0], seq).await;
    }
    // Killed right after its last answer: what it acknowledged is in the stream.
    kill_9(&mut nodes[0].process.child).await;

    // The captioner comes back on another node and asks where the track ends, as after a
    // restart of its own.
    assert_eq!(last_seq(&nodes[1]).await, BEFORE, "every acknowledged line is there");
    const AFTER: u64 = 30;
    for seq in BEFORE + 1..=AFTER {
        post_line(&nodes[1], seq).await;
    }
    for viewer in [&mut on_b, &mut on_c] {
        lines_until(viewer, 0, AFTER).await;
    }
    let from_b = transcripts(&nodes[1]).await;
    holds_every_line(&from_b[0], AFTER);
    assert_eq!(transcripts(&nodes[2]).await, from_b, "the transcripts on b and c are the same");
    // A viewer that joins later gets the latest twenty from the stream.
    let mut late = Client::connect(nodes[2].process.addr).await;
    let mut hello = hello_frame(nodes[2].token("attendee"), "late");
    hello["captions"] = json!("ja");
    late.send(hello).await;
    late.expect("welcome").await;
    let recent = late.expect("captions").await;
    let seqs: Vec<u64> = recent["lines"].as_array().unwrap().iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (AFTER - 19..=AFTER).collect::<Vec<_>>(), "{recent}");
}

#[tokio::test]
async fn a_re_posted_line_is_stored_once_whichever_node_takes_it_and_a_gap_is_refused() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (_trio, nodes) = trio_with_a_node_each().await;
    let mut on_c = viewer(&nodes[2], "viewer on c").await;

    post_line(&nodes[0], 1).await;
    for node in [&nodes[1], &nodes[0]] {
        let (again, _) = answered(node, "lang=ja&seq=1", &line_text(1)).await;
        assert_eq!((again.status, &again.body["ignored"]), (200, &json!(true)), "a retry is ignored: {}", again.body);
    }

    // The same seq taken by two nodes at the same moment: one stores it, the other is told
    // it was a retry.
    const RACED: u64 = 8;
    for seq in 2..=RACED {
        let (query, text) = (format!("lang=ja&seq={seq}"), line_text(seq));
        let (first, second) = tokio::join!(answered(&nodes[0], &query, &text), answered(&nodes[1], &query, &text));
        let mut outcomes = Vec::new();
        for (reply, _) in [&first, &second] {
            assert_eq!(reply.status, 200, "seq {seq}, after a 503 too: {}", reply.body);
            outcomes.push(if reply.body["ignored"] == true { "ignored" } else { "stored" });
        }
        outcomes.sort_unstable();
        // A line stored unconfirmed (503) and sent again is a retry from then on.
        let unconfirmed = (first.1 || second.1) && outcomes == ["ignored", "ignored"];
        assert!(outcomes == ["ignored", "stored"] || unconfirmed, "seq {seq}: {} {}", first.0.body, second.0.body);
    }
    lines_until(&mut on_c, 0, RACED).await;
    let from_c = transcripts(&nodes[2]).await;
    holds_every_line(&from_c[0], RACED);
    assert_eq!(from_c[0].lines().filter(|l| !l.is_empty()).count() as u64, RACED, "{}", from_c[0]);

    let (gap, _) = answered(&nodes[1], &format!("lang=ja&seq={}", RACED + 2), "飛ばした行").await;
    assert_eq!(gap.status, 409, "{}", gap.body);
    assert_eq!((&gap.body["code"], &gap.body["expected"]), (&json!("out_of_order"), &json!(RACED + 1)));
    let (back, _) = answered(&nodes[2], "lang=ja&seq=3", &line_text(3)).await;
    assert_eq!((back.status, &back.body["expected"]), (409, &json!(RACED + 1)), "{}", back.body);
    assert_eq!(last_seq(&nodes[0]).await, RACED, "nothing refused was stored");
}

#[tokio::test]
async fn migrate_moves_caption_lines_into_the_stream_and_the_transcripts_stay_the_same() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().unwrap();
    let mut single = launch(data.path()).await;
    let (mut chair, _) = Client::join(single.addr, &single.tokens["moderator"], "Ji Weidong").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let captioner = single.tokens["captioner"].clone();
    for seq in 1..=5 {
        let reply = post_to(single.addr, &captioner, &format!("lang=ja&seq={seq}"), &line_text(seq)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    for seq in 1..=2 {
        let reply = post_to(single.addr, &captioner, &format!("lang=en&seq={seq}"), "Good morning.").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let before = transcripts_at(single.addr, &single.tokens["organizer"]).await;
    kill_9(&mut single.child).await;

    let nats = Nats::single().await;
    let migrated = migrate(data.path(), &nats.url()).await;
    let said = String::from_utf8_lossy(&migrated.stdout);
    assert!(migrated.status.success(), "{said}{}", String::from_utf8_lossy(&migrated.stderr));
    assert!(said.contains("7 caption lines"), "{said}");

    let node = Node::start(nats.url(), 1).await;
    assert_eq!(transcripts(&node).await, before, "the transcripts are the same, byte for byte");
    assert_eq!(last_seq(&node).await, 5);
    let mut reader = viewer(&node, "reader").await;
    post_line(&node, 6).await;
    lines_until(&mut reader, 5, 6).await;
}

/// The name (`n0`…) of the server that leads the captions stream, as `nats` reports it.
async fn captions_leader(nats: &Nats) -> usize {
    let addr = format!("127.0.0.1:{}", nats.monitor).parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, _, body) = http_get(addr, "/jsz?streams=true").await;
        let jsz: Value = serde_json::from_str(&body).unwrap_or_default();
        let leader = jsz["account_details"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| a["stream_detail"].as_array().cloned().unwrap_or_default())
            .filter(|s| s["name"] == "EVENTHUB-CAPTIONS")
            .find_map(|s| s["cluster"]["leader"].as_str().map(str::to_owned));
        if let Some(leader) = leader {
            return leader.trim_start_matches('n').parse().expect("servers are named n0, n1, n2");
        }
        assert!(Instant::now() < deadline, "the captions stream has a leader: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Posts a line again while the cluster answers 503, as a captioner does; the last reply,
/// and whether any 503 came first.
async fn answered(node: &Node, query: &str, text: &str) -> (Reply, bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut unavailable = false;
    loop {
        let reply = post(node, query, text).await;
        if reply.status != 503 || Instant::now() > deadline {
            return (reply, unavailable);
        }
        unavailable = true;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Posts line `seq` until it is taken (or found taken: a retry of an attempt that was
/// stored unconfirmed is `ignored`), as a captioner does while the cluster answers 503.
async fn until_taken(node: &Node, seq: u64, patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        let reply = post(node, &format!("lang=ja&seq={seq}"), &line_text(seq)).await;
        if reply.status == 200 {
            return;
        }
        assert_eq!((reply.status, &reply.body["code"]), (503, &json!("unavailable")), "line {seq}: {}", reply.body);
        assert!(Instant::now() < deadline, "line {seq} is taken within {patience:?}: {}", reply.body);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn when_the_captions_streams_leader_dies_lines_go_on_and_every_node_follows_them() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (mut trio, nodes) = trio_with_a_node_each().await;
    let mut viewers = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        viewers.push(viewer(node, &format!("viewer on {k}")).await);
    }
    post_line(&nodes[0], 1).await;
    let leader = captions_leader(&trio[0]).await;
    let captioner = &nodes[(leader + 1) % 3];
    for seq in 2..=10 {
        post_line(captioner, seq).await;
    }
    trio[leader].kill().await;
    for seq in 11..=20 {
        until_taken(captioner, seq, Duration::from_secs(30)).await;
    }
    // Every node, its own server's death included, follows the lines stored since.
    for viewer in &mut viewers {
        lines_until(viewer, 0, 20).await;
    }
    let survivors: Vec<&Node> = nodes.iter().enumerate().filter(|(k, _)| *k != leader).map(|(_, n)| n).collect();
    let first = transcripts(survivors[0]).await;
    holds_every_line(&first[0], 20);
    assert_eq!(transcripts(survivors[1]).await, first);
}
