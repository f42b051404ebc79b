//! Captions: HTTP ingest with seq (Zoom's convention), the captioner role, per-language
//! routing over real websockets, recent lines on reconnect, durability across a kill -9,
//! and transcripts checked against the WebVTT and SRT cue syntax.

use std::net::SocketAddr;

use eventhub::domain::Role;
use serde_json::{json, Value};

use crate::control::{request, Reply};
use crate::crash::{kill_9, launch};
use crate::helpers::{hello_frame, spawn_app, Client, TestApp, EVENT};

async fn post(addr: SocketAddr, token: &str, query: &str, text: &str) -> Reply {
    let path = format!("/api/v1/events/{EVENT}/captions?{query}");
    let auth = format!("Bearer {token}");
    request(addr, "POST", &path, &[("Authorization", &auth), ("Content-Type", "text/plain; charset=utf-8")], text).await
}

async fn last_seq(addr: SocketAddr, token: &str, lang: &str) -> u64 {
    let path = format!("/api/v1/events/{EVENT}/captions/seq?lang={lang}&token={token}");
    let reply = request(addr, "GET", &path, &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["seq"].as_u64().unwrap()
}

fn captioner(app: &TestApp) -> &str {
    app.token(Role::Captioner)
}

#[tokio::test]
async fn lines_are_taken_in_seq_order_a_retry_is_ignored_and_a_gap_names_the_expected_seq() {
    let app = spawn_app().await;
    let token = captioner(&app);
    assert_eq!(last_seq(app.addr, token, "ja").await, 0);
    let first = post(app.addr, token, "lang=ja&seq=1", "皆さん、おはようございます。").await;
    assert_eq!((first.status, &first.body["seq"], &first.body["final"]), (200, &json!(1), &json!(true)));
    let retry = post(app.addr, token, "lang=ja&seq=1", "皆さん、おはようございます。").await;
    assert_eq!((retry.status, &retry.body["ignored"]), (200, &json!(true)), "{}", retry.body);
    let gap = post(app.addr, token, "lang=ja&seq=3", "飛ばした行").await;
    assert_eq!(gap.status, 409, "{}", gap.body);
    assert_eq!((&gap.body["code"], &gap.body["expected"]), (&json!("out_of_order"), &json!(2)));
    assert!(gap.body["message"].as_str().unwrap().contains("seq 2"), "{}", gap.body);
    post(app.addr, token, "lang=ja&seq=2", "本日の司会を務めます。").await;
    let back = post(app.addr, token, "lang=ja&seq=1", "").await;
    assert_eq!((back.status, &back.body["ignored"]), (409, &Value::Null), "seq 1 is no longer the last: {}", back.body);
    assert_eq!(back.body["expected"], 3);
    // Tracks are independent: English starts at 1.
    assert_eq!(post(app.addr, token, "lang=en&seq=1", "Good morning.").await.status, 200);
    assert_eq!(last_seq(app.addr, token, "ja").await, 2);
    assert_eq!(last_seq(app.addr, token, "en").await, 1);

    // A partial line is replaced by the next with its seq; only the final one counts.
    let partial = post(app.addr, token, "lang=ja&seq=3&final=false", "それでは").await;
    assert_eq!((partial.status, &partial.body["final"]), (200, &json!(false)));
    assert_eq!(last_seq(app.addr, token, "ja").await, 2, "a partial line is not the last yet");
    post(app.addr, token, "lang=ja&seq=3&final=false", "それでは開会").await;
    post(app.addr, token, "lang=ja&seq=3", "それでは開会式を始めます。").await;
    assert_eq!(last_seq(app.addr, token, "ja").await, 3);

    for (query, text, status, code) in [
        ("lang=fr&seq=4", "bonjour", 422, "invalid_field"),
        ("lang=ja", "no seq", 422, "invalid_field"),
        ("lang=ja&seq=0", "zero", 422, "invalid_field"),
        ("lang=ja&seq=4&final=maybe", "x", 422, "invalid_field"),
        ("lang=ja&seq=4", "   ", 422, "invalid_field"),
        ("lang=ja&seq=4", "bell\u{7}", 422, "invalid_field"),
        ("lang=ja&seq=4", &"長".repeat(501), 422, "invalid_field"),
    ] {
        let reply = post(app.addr, token, query, text).await;
        assert_eq!((reply.status, reply.body["code"].as_str()), (status, Some(code)), "{query}: {}", reply.body);
    }
    assert_eq!(last_seq(app.addr, token, "ja").await, 3, "nothing refused was taken");
}

#[tokio::test]
async fn only_the_captioner_and_the_organizer_write_captions() {
    let app = spawn_app().await;
    for role in [Role::Attendee, Role::Moderator, Role::Av, Role::Speaker, Role::Display] {
        let reply = post(app.addr, app.token(role), "lang=en&seq=1", "hello").await;
        assert_eq!((reply.status, reply.body["code"].as_str()), (403, Some("forbidden")), "{role:?}");
    }
    assert_eq!(post(app.addr, "not-a-token", "lang=en&seq=1", "hello").await.status, 401);
    assert_eq!(post(app.addr, app.token(Role::Organizer), "lang=en&seq=1", "hello").await.status, 200);
    // The captioner sends no show commands and cannot ask to speak.
    let (mut captioner, _) = app.join(Role::Captioner, "Respeaker").await;
    captioner.command("next", json!({})).await;
    captioner.expect_error("forbidden").await;
}

/// A viewer reading `lang` that follows `track` (or none).
async fn viewer(app: &TestApp, name: &str, lang: &str, track: Value) -> Client {
    let mut client = Client::connect(app.addr).await;
    let mut hello = hello_frame(app.token(Role::Attendee), name);
    hello["lang"] = json!(lang);
    hello["captions"] = track;
    client.send(hello).await;
    client.expect("welcome").await;
    client
}

/// The next caption line this client gets, skipping everything else.
async fn next_line(client: &mut Client) -> Value {
    loop {
        let frame = client.next_frame().await;
        if frame["type"] == "caption" {
            return frame["line"].clone();
        }
        assert_ne!(frame["type"], "captions", "no recent lines here: {frame}");
    }
}

#[tokio::test]
async fn each_viewer_gets_the_lines_of_its_own_track_and_set_lang_moves_track_and_count() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let mut ja = viewer(&app, "Tanaka", "ja", json!("ja")).await;
    ja.expect("captions").await;
    let mut en = viewer(&app, "Smith", "en", json!("en")).await;
    en.expect("captions").await;
    let token = captioner(&app);
    post(app.addr, token, "lang=en&seq=1", "Good morning, everyone.").await;
    post(app.addr, token, "lang=ja&seq=1", "皆さん、おはようございます。").await;
    post(app.addr, token, "lang=ja&seq=2&final=false", "本日").await;
    let line = next_line(&mut ja).await;
    assert_eq!((line["track"].as_str(), line["seq"].as_u64()), (Some("ja"), Some(1)));
    assert_eq!(line["text"], "皆さん、おはようございます。");
    assert_eq!(line["segment"], "opening", "placed in the live segment");
    assert!(line["speaker"]["name"]["en"].is_string(), "with its speaker: {line}");
    let partial = next_line(&mut ja).await;
    assert_eq!((partial["seq"].as_u64(), &partial["final"]), (Some(2), &json!(false)));
    let line = next_line(&mut en).await;
    assert_eq!((line["track"].as_str(), line["text"].as_str()), (Some("en"), Some("Good morning, everyone.")));

    // Smith switches to Japanese: the next Japanese line reaches them, and the count moves.
    en.send(json!({"type": "set_lang", "id": "l1", "lang": "ja"})).await;
    let ack = en.expect("ack").await;
    assert_eq!(ack["id"], "l1");
    let recent = en.expect("captions").await;
    assert_eq!(recent["track"], "ja");
    assert_eq!(recent["lines"].as_array().unwrap().len(), 1, "the final lines, not the partial: {recent}");
    chair.presence_until(|p| p["counts"]["by_lang"]["ja"] == 2 && p["counts"]["by_lang"]["en"] == 0).await;
    post(app.addr, token, "lang=ja&seq=2", "本日の司会です。").await;
    post(app.addr, token, "lang=en&seq=2", "I am today's host.").await;
    assert_eq!(next_line(&mut en).await["text"], "本日の司会です。");
    assert_eq!(next_line(&mut ja).await["text"], "本日の司会です。");
    // Neither got the English line: each one's next line is the Japanese one after it.
    post(app.addr, token, "lang=ja&seq=3", "よろしくお願いします。").await;
    assert_eq!(next_line(&mut en).await["seq"], 3);
    assert_eq!(next_line(&mut ja).await["seq"], 3);

    // Captions off: no more lines.
    ja.send(json!({"type": "set_lang", "id": "l2", "lang": "ja", "captions": null})).await;
    ja.expect("ack").await;
    post(app.addr, token, "lang=ja&seq=4", "最後の行").await;
    assert_eq!(next_line(&mut en).await["seq"], 4);
    ja.still_works().await;
    en.send(json!({"type": "set_lang", "id": "l3", "lang": "ko"})).await;
    en.expect_error("invalid_field").await;
}

#[tokio::test]
async fn a_reconnecting_viewer_gets_the_latest_lines_of_its_track() {
    let app = spawn_app().await;
    let token = captioner(&app);
    for seq in 1..=25 {
        post(app.addr, token, &format!("lang=zh&seq={seq}"), &format!("第{seq}行")).await;
    }
    let mut zh = viewer(&app, "Wang", "zh", json!("zh")).await;
    let recent = zh.expect("captions").await;
    let seqs: Vec<u64> = recent["lines"].as_array().unwrap().iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (6..=25).collect::<Vec<_>>(), "the latest 20, oldest first");
}

#[tokio::test]
async fn acknowledged_lines_survive_a_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let mut server = launch(data.path()).await;
    let token = server.tokens["captioner"].clone();
    for seq in 1..=30 {
        let reply = post(server.addr, &token, &format!("lang=floor&seq={seq}"), &format!("line {seq}")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    kill_9(&mut server.child).await;
    let server = launch(data.path()).await;
    assert_eq!(last_seq(server.addr, &token, "floor").await, 30);
    assert_eq!(post(server.addr, &token, "lang=floor&seq=30", "line 30").await.body["ignored"], true);
    assert_eq!(post(server.addr, &token, "lang=floor&seq=31", "line 31").await.status, 200);
    let path = format!("/api/events/{EVENT}/transcript.txt?lang=floor&token={}", server.tokens["organizer"]);
    let transcript = request(server.addr, "GET", &path, &[], "").await;
    let text = transcript.body.as_str().unwrap().to_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 31, "{text}");
    assert!(lines.iter().enumerate().all(|(k, l)| *l == format!("line {}", k + 1)), "{text}");
}

/// `HH:MM:SS.mmm` (WebVTT, hours may be more digits) or `HH:MM:SS,mmm` (SRT) in ms.
fn timestamp(text: &str, separator: char) -> Option<u64> {
    let (clock, fraction) = text.split_once(separator)?;
    let parts: Vec<&str> = clock.split(':').collect();
    let [h, m, s] = parts.as_slice() else { return None };
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    if !(h.len() >= 2 && h.bytes().all(|b| b.is_ascii_digit()) && digits(m, 2) && digits(s, 2) && digits(fraction, 3)) {
        return None;
    }
    let (h, m, s, f): (u64, u64, u64, u64) =
        (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?, fraction.parse().ok()?);
    (m < 60 && s < 60).then_some(((h * 60 + m) * 60 + s) * 1000 + f)
}

/// The cues of a file, each `(start, end, text)`, checked against the format's syntax.
fn cues(file: &str, vtt: bool) -> Vec<(u64, u64, String)> {
    let separator = if vtt { '.' } else { ',' };
    let mut blocks = file.split("\n\n").map(|b| b.trim_matches('\n')).filter(|b| !b.is_empty());
    if vtt {
        let header = blocks.next().expect("a header");
        assert!(header == "WEBVTT" || header.starts_with("WEBVTT ") || header.starts_with("WEBVTT\t"), "{header}");
    }
    let mut out = Vec::new();
    for (k, block) in blocks.enumerate() {
        if vtt && block.starts_with("NOTE") {
            assert!(!block.contains("-->"), "a NOTE holds no arrow: {block}");
            continue;
        }
        let mut lines = block.lines();
        let mut timing = lines.next().unwrap();
        if !timing.contains("-->") {
            // The identifier line: SRT numbers its cues from 1; WebVTT's holds no arrow.
            if !vtt {
                assert_eq!(timing, (out.len() + 1).to_string(), "cue {k} is numbered in order");
            }
            timing = lines.next().expect("a timing line");
        }
        let (start, end) = timing.split_once(" --> ").unwrap_or_else(|| panic!("a timing line: {timing}"));
        let start = timestamp(start, separator).unwrap_or_else(|| panic!("a start time: {timing}"));
        let end = timestamp(end, separator).unwrap_or_else(|| panic!("an end time: {timing}"));
        assert!(start < end, "{timing}");
        let text: Vec<&str> = lines.collect();
        assert!(!text.is_empty() && text.iter().all(|l| !l.contains("-->")), "cue text: {block}");
        out.push((start, end, text.join("\n")));
    }
    let starts: Vec<u64> = out.iter().map(|c| c.0).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "cues in time order: {starts:?}");
    out
}

#[tokio::test]
async fn transcripts_are_valid_webvtt_and_srt_with_segment_and_speaker_markers() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    let token = captioner(&app);
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    post(app.addr, token, "lang=en&seq=1", "Good morning.").await;
    post(app.addr, token, "lang=en&seq=2", "Welcome <everyone> & all.").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    post(app.addr, token, "lang=en&seq=3", "Our first keynote.").await;
    let get = |ext: &str, role: Role| {
        let path = format!("/api/events/{EVENT}/transcript.{ext}?lang=en&token={}", app.token(role));
        async move { request(app.addr, "GET", &path, &[], "").await }
    };
    let vtt = get("vtt", Role::Organizer).await;
    assert_eq!(vtt.status, 200);
    assert!(vtt.head.contains("content-type: text/vtt"), "{}", vtt.head);
    let vtt_text = vtt.body.as_str().unwrap().to_owned();
    let vtt_cues = cues(&vtt_text, true);
    assert_eq!(vtt_cues.len(), 3, "{vtt_text}");
    assert!(vtt_cues[1].2.contains("Welcome &lt;everyone&gt; &amp; all."), "escaped: {vtt_text}");
    assert!(vtt_cues[0].2.starts_with("<v "), "a voice span names the speaker: {vtt_text}");
    assert!(vtt_text.contains("NOTE Opening ceremony") && vtt_text.contains("NOTE Keynote speeches"), "{vtt_text}");

    let srt = get("srt", Role::Organizer).await;
    let srt_text = srt.body.as_str().unwrap().to_owned();
    let srt_cues = cues(&srt_text, false);
    assert_eq!(srt_cues.len(), 3, "{srt_text}");
    assert!(srt_cues[0].2.starts_with("[Opening ceremony]\n"), "{srt_text}");
    assert!(srt_cues[2].2.starts_with("[Keynote speeches]\n"), "{srt_text}");
    let txt = get("txt", Role::Organizer).await.body.as_str().unwrap().to_owned();
    assert!(txt.starts_with("## Opening ceremony"), "{txt}");
    assert!(txt.contains("\n## Keynote speeches\n"), "{txt}");

    assert_eq!(get("srt", Role::Moderator).await.status, 403);
    assert_eq!(get("srt", Role::Captioner).await.status, 403);
}

#[tokio::test]
async fn a_caption_that_looks_like_srt_timing_or_markup_stays_text_in_the_srt() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    let token = captioner(&app);
    let typed = ["00:00:01,000 --> 00:00:09,000", "<b>bold</b> <font color=red>red</font> {\\an8}top", "3"];
    for (k, text) in typed.iter().enumerate() {
        let reply = post(app.addr, token, &format!("lang=en&seq={}", k + 1), text).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let path = format!("/api/events/{EVENT}/transcript.srt?lang=en&token={}", app.token(Role::Organizer));
    let srt = request(app.addr, "GET", &path, &[], "").await.body.as_str().unwrap().to_owned();
    let cues = cues(&srt, false);
    assert_eq!(cues.len(), 3, "one cue per line, none split or added: {srt}");
    let last_lines: Vec<&str> = cues.iter().map(|c| c.2.lines().last().unwrap()).collect();
    assert!(last_lines[0].ends_with("00:00:01,000 → 00:00:09,000"), "{srt}");
    assert!(last_lines[1].ends_with("＜b＞bold＜/b＞ ＜font color=red＞red＜/font＞ ｛\\an8｝top"), "{srt}");
    assert!(!srt.contains('<') && !srt.contains('{'), "no markup a player would apply: {srt}");
    assert_eq!(last_lines[2], "3");
}

#[tokio::test]
async fn a_caption_line_names_the_attendee_called_from_the_queue_while_she_has_the_floor() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Fukuda").await;
    assert_eq!(chair.run("goto", json!({"segment": "round-table"})).await["type"], "ack");
    let (mut attendee, _) = app.join(Role::Attendee, "Sakano Osaka").await;
    assert_eq!(attendee.run("queue_request", json!({"queue": "round-table"})).await["type"], "ack");
    let mut hall = viewer(&app, "Hall screen", "en", json!("en")).await;
    hall.expect("captions").await;
    let token = captioner(&app);

    post(app.addr, token, "lang=en&seq=1", "Thank you, chair.").await;
    let panellist = next_line(&mut hall).await;
    assert_eq!(panellist["speaker"]["name"]["en"], "Ma Junjie", "the programme speaker before: {panellist}");

    assert_eq!(chair.run("queue_next", json!({"queue": "round-table", "version": 0})).await["type"], "ack");
    post(app.addr, token, "lang=en&seq=2", "My question is about data.").await;
    let line = next_line(&mut hall).await;
    let speaker = &line["speaker"];
    assert_eq!(speaker["name"], json!({"zh": "Sakano Osaka", "ja": "Sakano Osaka", "en": "Sakano Osaka"}), "{line}");
    assert!(speaker["id"].as_str().is_some_and(|id| id.starts_with("queue:round-table:")), "{line}");
    assert_eq!(speaker.as_object().unwrap().len(), 2, "a line's speaker has exactly id and name: {line}");
    assert_eq!(line["segment"], "round-table");

    assert_eq!(chair.run("queue_stop", json!({"queue": "round-table", "version": 1})).await["type"], "ack");
    post(app.addr, token, "lang=en&seq=3", "Thank you for the question.").await;
    assert_eq!(next_line(&mut hall).await["speaker"]["name"]["en"], "Ma Junjie", "the floor is back with the panel");
}

#[tokio::test]
async fn a_viewer_of_a_silent_track_is_told_which_tracks_run() {
    let app = spawn_app().await;
    let (mut chair, _) = app.join(Role::Moderator, "Chair").await;
    assert_eq!(chair.run("next", json!({})).await["type"], "ack");
    for (lang, text) in [("zh", "大家好。"), ("ja", "皆さん、こんにちは。")] {
        assert_eq!(post(app.addr, captioner(&app), &format!("lang={lang}&seq=1"), text).await.status, 200);
    }
    let mut english = viewer(&app, "London", "en", json!("en")).await;
    let recent = english.expect("captions").await;
    assert_eq!((&recent["track"], &recent["lines"]), (&json!("en"), &json!([])), "{recent}");
    assert_eq!(recent["live"], json!(["zh", "ja"]), "{recent}");
}
