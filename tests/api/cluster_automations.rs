//! Automations on three hub nodes: each output reaches the desk once, in the order of its
//! triggers, and still once when the node that was sending dies mid-segment.

use std::time::{Duration, Instant};

use rosc::{OscPacket, OscType};
use serde_json::{json, Value};
use tokio::net::UdpSocket;

use crate::cluster::{reply, trio_with_a_node_each, Node, ONE_AT_A_TIME};
use crate::crash::exited;
use crate::helpers::{http_get, Client, EVENT};

/// How long a lease left behind stands before another node takes it (docs/operations.md).
const LAPSE: Duration = Duration::from_secs(3);
/// Longer than any node needs to send what it has: a duplicate would come within it.
const QUIET: Duration = Duration::from_secs(3);

/// The OSC messages that reach `desk` until none has come for `quiet`, as `address arg`.
async fn heard(desk: &UdpSocket, quiet: Duration) -> Vec<String> {
    let mut messages = Vec::new();
    let mut buffer = vec![0; 65_536];
    while let Ok(received) = tokio::time::timeout(quiet, desk.recv_from(&mut buffer)).await {
        let (len, _) = received.unwrap();
        match rosc::decoder::decode_udp(&buffer[..len]).expect("a valid OSC packet").1 {
            OscPacket::Message(m) => {
                let arg = match m.args.first() {
                    Some(OscType::Int(n)) => n.to_string(),
                    other => format!("{other:?}"),
                };
                messages.push(format!("{} {arg}", m.addr));
            }
            OscPacket::Bundle(bundle) => panic!("a message, not {bundle:?}"),
        }
    }
    messages
}

/// The messages that reach `desk` until `last` has come, within `patience`.
async fn heard_until(desk: &UdpSocket, last: &str, patience: Duration) -> Vec<String> {
    let deadline = Instant::now() + patience;
    let mut messages = Vec::new();
    while !messages.iter().any(|m| m == last) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "{last} reaches the desk within {patience:?}; it heard {messages:?}");
        messages.extend(heard(desk, left.min(Duration::from_millis(200))).await);
    }
    messages
}

/// Runs a command once `client` has read up to `seq` (what other nodes' clients did, so
/// that it names the show version they left); returns the seq it was stored at.
async fn run(client: &mut Client, seq: u64, kind: &str, fields: Value) -> u64 {
    while client.seq < seq {
        client.next_frame().await;
    }
    let id = client.command(kind, fields).await;
    let answer = reply(client, &id).await;
    assert_eq!(answer["type"], "ack", "{kind}: {answer}");
    answer["seq"].as_u64().unwrap()
}

/// What a node's automations sent, as its API lists them.
async fn sent_by(node: &Node) -> usize {
    let path = format!("/api/v1/events/{EVENT}/automations?token={}", node.token("av"));
    let (status, _, body) = http_get(node.process.addr, &path).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    body["recent"].as_array().unwrap().len()
}

#[tokio::test]
async fn three_nodes_send_each_output_once_in_order_and_the_next_holder_goes_on_when_one_dies() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (_trio, mut nodes) = trio_with_a_node_each().await;
    let desk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = desk.local_addr().unwrap().port();
    let osc =
        |address: &str| json!({"host": "127.0.0.1", "port": port, "address": address, "args": ["{{segment.number}}"]});
    let (mut organizer, _) = nodes[0].join("organizer", "Producer").await;
    let automations = json!([
        {"trigger": "segment_start", "osc": osc("/start")},
        {"trigger": "segment_end", "osc": osc("/end")},
        {"trigger": "warning", "osc": osc("/warning")},
    ]);
    let mut seq =
        run(&mut organizer, 0, "plan_update_automations", json!({"plan_version": 0, "automations": automations})).await;
    // The opening warns 2 s in, the round table 5 s in: time for a node to die first.
    for (version, segment, warning) in [(1, "opening", 58), (2, "round-table", 55)] {
        let fields = json!({"plan_version": version, "segment": segment, "duration_min": 1, "warning_s": warning, "danger_s": 0});
        seq = run(&mut organizer, seq, "plan_update_segment", fields).await;
    }
    let mut chairs = Vec::new();
    for node in &nodes {
        chairs.push(node.join("moderator", "Chair").await.0);
    }

    // Commands from every node; the warning is each node's own timer.
    seq = run(&mut chairs[1], seq, "next", json!({})).await;
    let mut desk_heard = heard_until(&desk, "/warning 1", Duration::from_secs(15)).await;
    seq = run(&mut chairs[2], seq, "next", json!({})).await;
    desk_heard.extend(heard(&desk, QUIET).await);
    assert_eq!(desk_heard, ["/start 1", "/warning 1", "/end 1", "/start 2"], "once each, in trigger order");

    let mut senders = Vec::new();
    for (k, node) in nodes.iter().enumerate() {
        if sent_by(node).await > 0 {
            senders.push(k);
        }
    }
    assert_eq!(senders.len(), 1, "one node sends: {senders:?}");
    let holder = senders[0];
    let chair = (holder + 1) % 3;

    // Mid-segment, the sending node dies before the round table's warning.
    seq = run(&mut chairs[chair], seq, "next", json!({})).await;
    let mut desk_heard = heard_until(&desk, "/start 3", Duration::from_secs(10)).await;
    nodes[holder].kill().await;
    desk_heard.extend(heard_until(&desk, "/warning 3", Duration::from_secs(20)).await);
    seq = run(&mut chairs[chair], seq, "next", json!({})).await;
    desk_heard.extend(heard_until(&desk, "/start 4", Duration::from_secs(10)).await);
    desk_heard.extend(heard(&desk, QUIET).await);
    assert_eq!(desk_heard, ["/end 2", "/start 3", "/warning 3", "/end 3", "/start 4"], "once each, in trigger order");
    let mut survivors = Vec::new();
    for (k, node) in nodes.iter().enumerate().filter(|(k, _)| *k != holder) {
        if sent_by(node).await > 0 {
            survivors.push(k);
        }
    }
    assert_eq!(survivors.len(), 1, "one surviving node took over: {survivors:?}");

    // The new holder stops cleanly and hands the lease over: the last node sends the end
    // sooner after the stop than a lease left to lapse would let it (1.3 s against 3.6 s,
    // measured).
    let (stopping, last) = (survivors[0], 3 - holder - survivors[0]);
    let pid = nodes[stopping].process.child.id().expect("the node runs").to_string();
    let asked = Instant::now();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    exited(&mut nodes[stopping].process.child, Duration::from_secs(15)).await;
    run(&mut chairs[last], seq, "end", json!({})).await;
    let mut desk_heard = heard_until(&desk, "/end 4", Duration::from_secs(10)).await;
    let took = asked.elapsed();
    desk_heard.extend(heard(&desk, QUIET).await);
    assert_eq!(desk_heard, ["/end 4"]);
    assert!(took < LAPSE, "handed over, not lapsed: the end came {took:?} after the stop");
}
