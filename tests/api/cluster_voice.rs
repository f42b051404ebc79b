//! Questions and votes across a cluster's nodes: each node gathers its own attendees' votes
//! into batches on the event's stream, and every node and page ends with the same counts,
//! each vote counted once; real nodes on a real NATS server.

use serde_json::{json, Value};

use crate::cluster::{Nats, Node, ONE_AT_A_TIME};
use crate::helpers::Client;

/// Reads until a `votes` change gives the question `votes`, and returns it.
async fn votes_reach(client: &mut Client, votes: u64) -> Value {
    loop {
        let frame = client.next_frame().await;
        let change = &frame["change"];
        if frame["type"] == "change" && change["kind"] == "votes" && change["questions"][0]["votes"] == votes {
            return frame;
        }
    }
}

#[tokio::test]
async fn upvotes_on_three_nodes_are_each_counted_once_and_every_node_agrees() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let nats = Nats::single().await;
    let (a, b, c) = tokio::join!(Node::start(nats.url(), 1), Node::start(nats.url(), 1), Node::start(nats.url(), 1));
    let (mut chair, _) = a.join("moderator", "Fukuda").await;
    assert_eq!(chair.run("goto", json!({"segment": "round-table"})).await["type"], "ack");
    let mut asker = b.attendee("asker").await;
    // Named: node b may not have followed the chair's goto yet.
    let ask = json!({"text": "Who keeps the data?", "segment": "round-table"});
    let asked = asker.run("question_ask", ask).await;
    assert_eq!(asked["type"], "ack", "{asked}");
    // The chair approves what its console shows: the question, once node a has followed it.
    crate::cluster::change_at(&mut chair, asked["seq"].as_u64().unwrap()).await;
    let approved = chair.run("question_approve", json!({"question": 1})).await;
    assert_eq!(approved["type"], "ack", "a question asked on one node is approved on another: {approved}");

    // Each node checks a vote against the state it has followed: the approval first.
    let approved_at = approved["seq"].as_u64().unwrap();
    for node in [&a, &b, &c] {
        let mut page = node.attendee("follower").await;
        if page.seq < approved_at {
            crate::cluster::change_at(&mut page, approved_at).await;
        }
    }
    let mut voters = Vec::new();
    for k in 0..30 {
        let node = [&a, &b, &c][k % 3];
        voters.push(node.attendee(&format!("voter-{k}")).await);
    }
    let (mut watcher, _) = c.join("attendee", "watcher").await;
    let votes = voters.iter_mut().enumerate().map(|(k, voter)| async move {
        let id = format!("vote-{k}");
        voter.send(json!({"type": "question_vote", "id": id, "question": 1})).await;
        crate::cluster::reply(voter, &id).await
    });
    let replies = futures_util::future::join_all(votes).await;
    assert!(replies.iter().all(|r| r["type"] == "ack"), "{replies:?}");
    votes_reach(&mut chair, 30).await;
    votes_reach(&mut watcher, 30).await;

    // A vote re-sent to another node than the first attempt's gets its first ack; a new one
    // is refused: one vote each, whichever node.
    let mut again = a.attendee("voter-1").await;
    again.send(json!({"type": "question_vote", "id": "vote-1", "question": 1})).await;
    assert_eq!(crate::cluster::reply(&mut again, "vote-1").await, replies[1]);
    let second = again.run("question_vote", json!({"question": 1})).await;
    assert_eq!(second["code"], "invalid_state", "{second}");
    for node in [&a, &b, &c] {
        let (_, welcome) = node.join("organizer", "check").await;
        assert_eq!(welcome["snapshot"]["questions"]["items"][0]["votes"], 30);
    }
}
