//! Who is here: joins and leaves batched into presence frames, counts for the audience and
//! the full list, paged, for the chair and crew, through storms, churn and resumes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{hello_frame, spawn_app, spawn_app_with, Client, TestApp};

/// Over the hub's threshold for splitting a fan-out between threads (2,048).
const STORM: usize = 3000;

async fn join_with(app: &TestApp, role: Role, name: &str, fields: Value) -> (Client, Value) {
    let mut client = app.connect().await;
    let mut hello = hello_frame(app.token(role), name);
    if let (Value::Object(hello), Value::Object(fields)) = (&mut hello, fields) {
        hello.extend(fields);
    }
    client.send(hello).await;
    let welcome = client.expect("welcome").await;
    (client, welcome)
}

fn total(frame: &Value) -> u64 {
    frame["counts"]["total"].as_u64().unwrap()
}

const STORM_PATIENCE: Duration = Duration::from_secs(90);

#[tokio::test]
async fn a_join_storm_costs_linear_presence_frames_and_ends_with_exact_counts() {
    let app = Arc::new(spawn_app_with(|settings| settings.limits.max_connections_per_ip = 10_000).await);
    let (mut chair, _) = join_with(&app, Role::Moderator, "Cai Yuping", json!({"mode": "in_room", "lang": "zh"})).await;
    // The chair's console is listed, not counted: the head count is the audience.
    let expected = STORM as u64;
    let started = Instant::now();
    let mut clients = Vec::new();
    for k in 0..STORM {
        let app = app.clone();
        clients.push(tokio::spawn(async move {
            let mode = if k % 2 == 0 { "remote" } else { "in_room" };
            let lang = ["zh", "ja", "en", "ja"][k % 4];
            let fields = json!({"mode": mode, "lang": lang, "participant": format!("storm-{k}")});
            let (mut client, _) = join_with(&app, Role::Attendee, &format!("attendee {k}"), fields).await;
            let welcomed = started.elapsed();
            // Correctness, not speed: the storm may take a loaded machine a while.
            let last = client.presence_within(STORM_PATIENCE, |p| total(p) == expected).await;
            // Anything still coming after the counts are final would be waste: wait a few ticks.
            tokio::time::sleep(Duration::from_millis(800)).await;
            let _ = tokio::time::timeout(Duration::from_millis(10), client.next_frame()).await;
            (client.presence.len() as u64 + 1, last, welcomed)
        }));
    }
    let mut frames = 0;
    let mut last = Value::Null;
    let mut storm = Duration::ZERO;
    for client in clients {
        let (received, final_frame, welcomed) = client.await.unwrap();
        frames += received;
        last = final_frame;
        storm = storm.max(welcomed);
    }
    let chair_view = chair.presence_within(STORM_PATIENCE, |p| total(p) == expected).await;
    assert_eq!(
        last["counts"],
        json!({"total": expected, "in_room": 1500, "remote": 1500, "by_lang": {"zh": 750, "ja": 1500, "en": 750}})
    );
    assert_eq!(chair_view["counts"], last["counts"]);
    assert!(last.get("joined").is_none(), "attendees get counts, not the full list");
    assert!(last["recent"].as_array().unwrap().len() <= 12);
    // At most one frame per client per two 250 ms ticks of the storm: linear in N, nowhere
    // near N².
    let per_client = frames as f64 / STORM as f64;
    eprintln!("join storm: {STORM} clients welcomed within {storm:?}; {frames} presence frames in all ({per_client:.1} per client)");
    assert!(frames < 40 * STORM as u64, "{frames} presence frames for {STORM} joins");
}

/// Reads whatever arrives for `how_long`: presence frames are set aside in `presence`.
async fn read_for(client: &mut Client, how_long: Duration) {
    let _ = tokio::time::timeout(how_long, async {
        loop {
            client.next_frame().await;
        }
    })
    .await;
}

#[tokio::test]
async fn while_people_keep_coming_and_going_the_audience_gets_counts_at_a_steady_pace_and_the_chair_every_diff() {
    const CHURNERS: usize = 40;
    let app = Arc::new(spawn_app_with(|settings| settings.limits.max_connections_per_ip = 1_000).await);
    let (mut chair, _) = join_with(&app, Role::Moderator, "Cai Yuping", json!({"mode": "in_room"})).await;
    let (mut watcher, _) = join_with(&app, Role::Attendee, "Watcher", json!({"participant": "watcher"})).await;
    // One joins every 100 ms and stays 300 ms: every 250 ms tick has someone new and someone gone.
    let churning = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut stays = Vec::new();
            for k in 0..CHURNERS {
                let app = app.clone();
                stays.push(tokio::spawn(async move {
                    let fields = json!({"participant": format!("churn-{k}")});
                    let (client, _) = join_with(&app, Role::Attendee, &format!("churn {k}"), fields).await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    drop(client);
                }));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            for stay in stays {
                stay.await.unwrap();
            }
        })
    };
    let started = Instant::now();
    let (watching, chairing) = tokio::join!(
        async {
            while !churning.is_finished() {
                read_for(&mut watcher, Duration::from_millis(100)).await;
            }
            std::mem::take(&mut watcher.presence)
        },
        async {
            read_for(&mut chair, Duration::from_secs(4)).await;
            std::mem::take(&mut chair.presence)
        }
    );
    let churned = started.elapsed().as_secs_f64();
    let chair_diffs = chairing.iter().filter(|p| p["joined"].as_array().is_some_and(|j| !j.is_empty())).count();
    eprintln!(
        "churn of {churned:.1} s: the watcher got {} presence frames, the chair {}",
        watching.len(),
        chairing.len()
    );
    assert!(watching.iter().all(|p| p.get("joined").is_none() && p.get("left").is_none()), "attendees get counts");
    // While it keeps changing, one frame every fourth tick; never two within 500 ms.
    assert!(!watching.is_empty(), "the audience hears of the churn while it goes on");
    assert!(watching.len() as f64 <= churned * 2.0 + 1.0, "{} frames in {churned:.1} s", watching.len());
    assert!(chair_diffs > watching.len(), "the chair gets each tick's diff: {chair_diffs} against {}", watching.len());
    let versions: Vec<u64> = watching.iter().map(|p| p["version"].as_u64().unwrap()).collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "versions rise, and may skip: {versions:?}");
    // Once nobody comes or goes, the next tick settles it: the counts are exact again.
    let settled = watcher.presence_until(|p| total(p) == 1).await;
    assert_eq!(settled["counts"]["total"], 1);
    chair.presence_until(|p| total(p) == 1).await;
}

/// Presence frames to this many go out in more than one round, letting commands in between.
const CROWD: usize = 2200;

#[tokio::test]
async fn changes_made_while_presence_goes_out_to_thousands_reach_everyone_in_order() {
    const CHANGES: u64 = 10;
    const LATECOMERS: usize = 100;
    let app = Arc::new(spawn_app_with(|settings| settings.limits.max_connections_per_ip = 10_000).await);
    let (mut chair, welcome) = join_with(&app, Role::Moderator, "Cai Yuping", json!({"mode": "in_room"})).await;
    chair.version = welcome["snapshot"]["live"]["version"].as_u64().unwrap();
    let segments: Vec<String> =
        welcome["snapshot"]["segments"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().into()).collect();
    let joins = (0..CROWD).map(|k| {
        let app = app.clone();
        tokio::spawn(async move {
            join_with(&app, Role::Attendee, &format!("attendee {k}"), json!({"participant": format!("crowd-{k}")}))
                .await
        })
    });
    let mut crowd = Vec::new();
    for join in joins.collect::<Vec<_>>() {
        crowd.push(join.await.unwrap());
    }
    let first_seq = crowd[0].1["seq"].as_u64().unwrap();

    // Latecomers keep presence frames going out to everyone while the chair moves the show.
    let latecomers = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut here = Vec::new();
            for k in 0..LATECOMERS {
                let fields = json!({"participant": format!("late-{k}")});
                here.push(join_with(&app, Role::Attendee, &format!("latecomer {k}"), fields).await);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            here
        })
    };
    for k in 0..CHANGES as usize {
        let reply = chair.run("goto", json!({"segment": segments[(k + 1) % segments.len()]})).await;
        assert_eq!(reply["type"], "ack", "{reply}");
    }
    let _latecomers = latecomers.await.unwrap();

    let expected = (CROWD + LATECOMERS) as u64;
    let readers = crowd.into_iter().map(|(mut client, _)| {
        tokio::spawn(async move {
            let mut seq = first_seq;
            while seq < first_seq + CHANGES {
                let frame = client.next_frame().await;
                if frame["type"] == "change" {
                    assert_eq!(frame["seq"], seq + 1, "changes arrive gap-free and in order");
                    seq += 1;
                }
            }
            let totals: Vec<u64> = client.presence.iter().map(total).collect();
            assert!(totals.windows(2).all(|t| t[0] <= t[1]), "only joins, yet the head count went back: {totals:?}");
            client.presence_until(|p| total(p) == expected).await;
        })
    });
    for reader in readers.collect::<Vec<_>>() {
        reader.await.unwrap();
    }
}

#[tokio::test]
async fn the_chair_sees_who_joined_and_left_and_attendees_see_counts() {
    let app = spawn_app().await;
    let (mut chair, welcome) = join_with(&app, Role::Moderator, "Fukuda", json!({})).await;
    assert_eq!(total(&welcome["presence"]), 0, "the chair's console is not in the head count");
    assert_eq!(welcome["presence"]["list"][0]["name"], "Fukuda");
    let (mut attendee, welcome) = join_with(&app, Role::Attendee, "Tanaka", json!({"participant": "tanaka"})).await;
    assert!(welcome["presence"].get("list").is_none());
    assert_eq!(welcome["presence"]["recent"][0]["name"], "Tanaka");

    let (second_tab, _) = join_with(&app, Role::Attendee, "Tanaka", json!({"participant": "tanaka"})).await;
    let joined =
        chair.presence_until(|p| p["joined"].as_array().is_some_and(|j| j.iter().any(|e| e["name"] == "Tanaka"))).await;
    assert_eq!(joined["joined"].as_array().unwrap().iter().filter(|e| e["name"] == "Tanaka").count(), 1);
    assert_eq!(total(&joined), 1, "two tabs are one person");
    let who = joined["joined"].as_array().unwrap().iter().find(|e| e["name"] == "Tanaka").unwrap()["who"].clone();

    drop(second_tab);
    let (newcomer, _) = join_with(&app, Role::Attendee, "Newcomer", json!({})).await;
    let seen = attendee.presence_until(|p| total(p) == 2).await;
    assert_eq!(seen["recent"][0]["name"], "Newcomer");
    drop(newcomer);
    attendee.presence_until(|p| total(p) == 1).await;
    drop(attendee);
    let left = chair.presence_until(|p| p["left"].as_array().is_some_and(|l| l.contains(&who))).await;
    assert_eq!(total(&left), 0);
}

#[tokio::test]
async fn the_chair_can_see_that_a_remote_panellist_is_connected() {
    let app = spawn_app().await;
    let (mut chair, welcome) = join_with(&app, Role::Moderator, "console", json!({})).await;
    assert_eq!(welcome["presence"]["speakers"], json!([]));
    let (_panellist, _) = join_with(&app, Role::Speaker, "坂野俊明", json!({"mode": "remote", "lang": "ja"})).await;
    let here = chair.presence_until(|p| !p["speakers"].as_array().unwrap().is_empty()).await;
    assert_eq!(here["speakers"], json!([[1, 3]]), "Shunming Sakano, keynote speaker 4");
    assert_eq!(here["speakers_in_room"], json!([]), "online, not in the hall");
    let (_, attendee) = join_with(&app, Role::Attendee, "watcher", json!({})).await;
    assert_eq!(attendee["presence"]["speakers"], json!([[1, 3]]), "attendees see the speakers' status too");
    let (_, fake) = join_with(&app, Role::Attendee, "Lu Ming", json!({})).await;
    assert_eq!(fake["presence"]["speakers"], json!([[1, 3]]), "an attendee's name does not make a speaker present");
    let (_, screen) = join_with(&app, Role::Speaker, "Zhang Ying", json!({"screen": true})).await;
    assert_eq!(screen["presence"]["speakers"], json!([[1, 3]]), "a stage screen is not the speaker");

    let (_host, _) = join_with(&app, Role::Moderator, "Ji Weidong", json!({"mode": "in_room"})).await;
    let here = chair.presence_until(|p| p["speakers"].as_array().unwrap().len() > 1).await;
    let host = json!([[0, 0], [0, -1], [1, 3], [1, -1], [3, 1]]);
    assert_eq!(here["speakers"], host, "the host on a chair console is present: host twice, speaker twice");
    assert_eq!(here["speakers_in_room"], json!([[0, 0], [0, -1], [1, -1], [3, 1]]), "in the hall");
    assert_eq!(total(&here), 1, "the audience is the panellist: not the consoles, nor the stage screen");
}

/// The chair console's first presence frame in which someone named `name` joined.
async fn joined_as(console: &mut Client, name: &str) -> Value {
    console.presence_until(|p| p["joined"].as_array().is_some_and(|j| j.iter().any(|e| e["name"] == name))).await
}

#[tokio::test]
async fn a_name_with_hidden_characters_shows_without_them_and_does_not_pass_for_the_chair() {
    let app = spawn_app().await;
    let (mut console, _) = join_with(&app, Role::Organizer, "console", json!({})).await;
    let (_impostor, welcome) = join_with(&app, Role::Speaker, "Ji\u{200b}Wei\u{2060}dong", json!({})).await;
    assert_eq!(welcome["you"]["name"], "JiWeidong");
    let seen = joined_as(&mut console, "JiWeidong").await;
    assert_eq!(seen["speakers"], json!([]), "Ji Weidong, the chair, is not here");

    let (_chair, welcome) = join_with(&app, Role::Speaker, "ＪＩ\u{3000}ＷＥＩＤＯＮＧ", json!({})).await;
    assert_eq!(welcome["you"]["name"], "ＪＩ ＷＥＩＤＯＮＧ");
    let seen = joined_as(&mut console, "ＪＩ ＷＥＩＤＯＮＧ").await;
    let everywhere = json!([[0, 0], [0, -1], [1, -1], [3, 1]]);
    assert_eq!(seen["speakers"], everywhere, "a full-width spelling is Ji Weidong: chair twice, speaker twice");
}

#[tokio::test]
async fn a_bidi_override_in_a_name_is_removed_before_anyone_sees_it() {
    let app = spawn_app().await;
    let (mut console, _) = join_with(&app, Role::Organizer, "console", json!({})).await;
    let fields = json!({"affiliation": "\u{2067}SJTU\u{2069}"});
    let (_eve, welcome) = join_with(&app, Role::Attendee, "Eve\u{202e}txt.exe", fields).await;
    assert_eq!(welcome["you"]["name"], "Evetxt.exe");
    let seen = joined_as(&mut console, "Evetxt.exe").await;
    let eve = seen["joined"].as_array().unwrap().iter().find(|e| e["name"] == "Evetxt.exe").unwrap();
    assert_eq!(eve["affiliation"], "SJTU");
}

#[tokio::test]
async fn the_full_list_is_paged_for_the_chair_only() {
    let app = spawn_app().await;
    let mut people = Vec::new();
    for k in 0..30 {
        people.push(join_with(&app, Role::Attendee, &format!("p{k:02}"), json!({})).await.0);
    }
    let (mut chair, welcome) = join_with(&app, Role::Organizer, "zz chair", json!({})).await;
    let list = welcome["presence"]["list"].as_array().unwrap();
    assert_eq!(list.len(), 31, "the first page is the whole list: {}", welcome["presence"]);
    assert!(welcome["presence"].get("next").is_none(), "and there is no next page");
    chair.send(json!({"type": "presence_page", "id": "pg", "limit": 20})).await;
    let page = chair.expect("presence_page").await;
    assert_eq!(page["total"], 31);
    let next = page["next"].clone();
    assert!(next.is_string(), "{page}");
    chair.send(json!({"type": "presence_page", "id": "pg", "after": next, "limit": 20})).await;
    let page = chair.expect("presence_page").await;
    let names: Vec<&str> = page["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["p20", "p21", "p22", "p23", "p24", "p25", "p26", "p27", "p28", "p29", "zz chair"]);
    assert_eq!(page["next"], Value::Null, "the last page");
    chair.send(json!({"type": "presence_page", "id": "bad", "after": "not a cursor", "limit": 20})).await;
    assert_eq!(chair.expect_error("invalid_field").await["id"], "bad");
    let attendee = &mut people[0];
    attendee.send(json!({"type": "presence_page", "id": "pg", "limit": 10})).await;
    assert_eq!(attendee.expect_error("forbidden").await["id"], "pg");
    attendee.send(json!({"type": "presence_page", "id": "pg2", "limit": 100000})).await;
    attendee.expect_error("invalid_field").await;
}

/// A chair's model of the full list: who → name.
type List = std::collections::BTreeMap<String, String>;

fn apply_diff(list: &mut List, frame: &Value) {
    for who in frame["left"].as_array().into_iter().flatten() {
        list.remove(who.as_str().unwrap());
    }
    for entry in frame["joined"].as_array().into_iter().flatten() {
        list.insert(entry["who"].as_str().unwrap().into(), entry["name"].as_str().unwrap().into());
    }
}

#[tokio::test]
async fn a_chair_paging_while_two_hundred_come_and_go_gets_everyone_exactly_once() {
    let app = Arc::new(spawn_app().await);
    let mut stayers = Vec::new();
    for k in 0..150 {
        stayers.push(join_with(&app, Role::Attendee, &format!("stay-{k:03}"), json!({})).await.0);
    }
    let (mut chair, _) = join_with(&app, Role::Moderator, "chair", json!({})).await;
    let churn = {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let mut kept = Vec::new();
            for k in 0..200 {
                let (client, _) = join_with(&app, Role::Attendee, &format!("churn-{k:03}"), json!({})).await;
                if k % 4 == 0 {
                    kept.push(client);
                }
                // Spread over the paging, so that people come and go between its pages.
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            kept
        })
    };
    // The welcome's list is dropped: the chair reads the whole list in pages of 10 while
    // people come and go, applying each presence frame in the order it arrived.
    chair.presence.clear();
    let mut list = List::new();
    let mut paged: Vec<String> = Vec::new();
    let mut after = Value::Null;
    loop {
        let mut ask = json!({"type": "presence_page", "id": "pg", "limit": 10});
        if !after.is_null() {
            ask["after"] = after.clone();
        }
        chair.send(ask).await;
        let page = chair.expect("presence_page").await;
        for frame in std::mem::take(&mut chair.presence) {
            apply_diff(&mut list, &frame);
        }
        for entry in page["entries"].as_array().unwrap() {
            paged.push(entry["name"].as_str().unwrap().into());
            list.insert(entry["who"].as_str().unwrap().into(), entry["name"].as_str().unwrap().into());
        }
        after = page["next"].clone();
        if after.is_null() {
            break;
        }
        // A chair's pace, so that the churn goes on between the pages.
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let kept = churn.await.unwrap();
    for k in 0..150 {
        let name = format!("stay-{k:03}");
        assert_eq!(paged.iter().filter(|n| **n == name).count(), 1, "{name} is on exactly one page");
    }
    let mut names: Vec<&String> = paged.iter().collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), paged.len(), "nobody is on two pages");

    assert_eq!(kept.len(), 50, "every fourth stays");
    let mut want: Vec<String> = (0..150).map(|k| format!("stay-{k:03}")).collect();
    want.extend((0..200).filter(|k| k % 4 == 0).map(|k| format!("churn-{k:03}")));
    want.push("chair".into());
    want.sort();
    // The last leaves may still be on their way: wait for the list itself, not for the head
    // count, which a frame where one left as another joined leaves as it was.
    let deadline = Instant::now() + Duration::from_secs(20);
    let have = loop {
        for frame in std::mem::take(&mut chair.presence) {
            apply_diff(&mut list, &frame);
        }
        let mut have: Vec<String> = list.values().cloned().collect();
        have.sort();
        if have == want || Instant::now() > deadline {
            break have;
        }
        let _ = tokio::time::timeout(Duration::from_millis(500), chair.presence_until(|_| true)).await;
    };
    assert_eq!(have, want, "pages and diffs together give exactly who is here");
}

#[tokio::test]
async fn a_chair_that_resumes_gets_the_joins_and_leaves_it_missed_not_the_list() {
    let app = spawn_app().await;
    let (mut chair, welcome) = join_with(&app, Role::Moderator, "chair", json!({"participant": "chair-1"})).await;
    let (leaver, _) = join_with(&app, Role::Attendee, "leaver", json!({})).await;
    let seen = chair.presence_until(|p| total(p) == 1).await;
    let version = seen["version"].as_u64().unwrap();
    drop(chair);
    drop(leaver);
    let (_newcomer, _) = join_with(&app, Role::Attendee, "newcomer", json!({})).await;
    let epoch = welcome["epoch"].clone();
    let resume = json!({"participant": "chair-1", "resume": {"epoch": epoch, "seq": 0, "presence": version}});
    let (_, again) = join_with(&app, Role::Moderator, "chair", resume).await;
    let presence = &again["presence"];
    assert!(presence.get("list").is_none(), "no list: {presence}");
    let joined: Vec<&str> =
        presence["joined"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(joined.contains(&"newcomer"), "{presence}");
    assert_eq!(presence["left"].as_array().unwrap().len(), 1, "the leaver: {presence}");
    assert!(presence["version"].as_u64().unwrap() > version);

    let stale = json!({"resume": {"epoch": epoch, "seq": 0, "presence": version + 1000}});
    let (_, fresh) = join_with(&app, Role::Moderator, "other chair", stale).await;
    assert!(fresh["presence"]["list"].is_array(), "a version it does not know gets the list");
}

/// Joins `event` of the server at `addr` with `token` and extra hello `fields`.
async fn join_at(addr: std::net::SocketAddr, token: &str, name: &str, fields: Value) -> (Client, Value) {
    let mut client = Client::connect(addr).await;
    let mut hello = hello_frame(token, name);
    if let (Value::Object(hello), Value::Object(fields)) = (&mut hello, fields) {
        hello.extend(fields);
    }
    client.send(hello).await;
    let welcome = client.expect("welcome").await;
    (client, welcome)
}

#[tokio::test]
async fn a_crew_screen_resuming_with_a_version_from_before_a_hard_kill_gets_the_whole_list() {
    let data = tempfile::tempdir().unwrap();
    let mut server = crate::crash::launch(data.path()).await;
    let av = server.tokens["av"].clone();
    let attendee = server.tokens["attendee"].clone();
    let (mut crew, welcome) = join_at(server.addr, &av, "Audio desk", json!({"participant": "audio-1"})).await;
    let (_leaver, _) = join_at(server.addr, &attendee, "Leaver", json!({})).await;
    let seen = crew.presence_until(|p| total(p) == 1).await;
    let version = seen["version"].as_u64().unwrap();
    assert_eq!(seen["listed"], 2, "the desk and the leaver are on the full list: {seen}");

    crate::crash::kill_9(&mut server.child).await;
    let server = crate::crash::launch(data.path()).await;
    let (_newcomer, _) = join_at(server.addr, &attendee, "Newcomer", json!({})).await;
    let resume = json!({"participant": "audio-1", "resume": {"epoch": welcome["epoch"], "seq": welcome["seq"], "presence": version}});
    let (_crew, again) = join_at(server.addr, &server.tokens["av"], "Audio desk", resume).await;
    let presence = &again["presence"];
    assert!(presence.get("joined").is_none() && presence.get("left").is_none(), "no diff: {presence}");
    let mut names: Vec<&str> =
        presence["list"].as_array().expect("the whole list").iter().map(|e| e["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["Audio desk", "Newcomer"], "the leaver is gone and the newcomer listed: {presence}");
    assert!(presence["version"].as_u64().unwrap() > version, "versions of the new life are past the old ones");
    assert_eq!((presence["counts"]["total"].as_u64(), presence["listed"].as_u64()), (Some(1), Some(2)), "{presence}");
}
