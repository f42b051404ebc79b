//! The protocol as the load speaks it: the hello it sends, and the few numbers it reads from
//! the frames it gets without parsing them, so that the generator does not set the pace.

use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// The demo's poll, which the load votes on.
pub const POLL: &str = "next-forum";

/// The caption tracks the load uses: attendee k reads `LANGS[k % 3]`.
pub const LANGS: [&str; 3] = ["zh", "ja", "en"];

/// A hello as participant `k`, in language `LANGS[k % 3]`, following that caption track
/// when `captions`.
pub fn hello(
    event: &str,
    token: &str,
    participant: &str,
    k: usize,
    captions: bool,
    resume: Option<(&str, u64)>,
) -> Message {
    let mode = if k.is_multiple_of(2) { "remote" } else { "in_room" };
    let lang = LANGS[k % 3];
    let mut frame = json!({"type": "hello", "protocol": 1, "event": event, "token": token, "name": participant,
                           "mode": mode, "lang": lang, "participant": participant});
    if captions {
        frame["captions"] = json!(lang);
    }
    if let Some((epoch, seq)) = resume {
        frame["resume"] = json!({"epoch": epoch, "seq": seq});
    }
    Message::Text(frame.to_string().into())
}

/// A hello from a stage or cue screen, which is listed but never in the head counts.
pub fn screen_hello(event: &str, token: &str, name: &str) -> Message {
    let frame = json!({"type": "hello", "protocol": 1, "event": event, "token": token, "name": name,
                       "mode": "in_room", "lang": "en", "screen": true});
    Message::Text(frame.to_string().into())
}

/// The digits at the start of `text`, as a number.
fn leading_number(text: &str) -> Option<u64> {
    let end = text.find(|c: char| !c.is_ascii_digit())?;
    text[..end].parse().ok()
}

/// The head count in a presence frame, read without parsing the whole frame.
pub fn presence_total(text: &str) -> Option<u64> {
    let rest = text.strip_prefix(r#"{"type":"presence","#)?;
    const TOTAL: &str = r#""counts":{"total":"#;
    leading_number(&rest[rest.find(TOTAL)? + TOTAL.len()..])
}

/// The seq of a change frame, read without parsing the whole frame.
pub fn change_seq(text: &str) -> Option<u64> {
    leading_number(text.strip_prefix(r#"{"type":"change","seq":"#)?)
}

/// The track (an index into `LANGS`) and seq of a caption line, read without parsing it.
pub fn caption_line(text: &str) -> Option<(usize, u64)> {
    let rest = text.strip_prefix(r#"{"type":"caption","line":{"track":""#)?;
    let track = LANGS.iter().position(|lang| rest.starts_with(lang))?;
    leading_number(rest[LANGS[track].len()..].strip_prefix(r#"","seq":"#)?).map(|seq| (track, seq))
}

/// The press number `k` in a frame's `"command":"m{k}"` or `"id":"m{k}"`.
pub fn press(text: &str, key: &str) -> Option<usize> {
    let at = text.find(key)? + key.len();
    leading_number(&text[at..]).map(|k| k as usize)
}
