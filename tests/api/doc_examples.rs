//! The examples in docs/integrations.md work as copied, on a fresh server.

use eventhub::domain::Role;

use crate::control::request;
use crate::helpers::{spawn_app, EVENT};

const INTEGRATIONS: &str = include_str!("../../docs/integrations.md");

/// The shell words of one command line, with quotes removed (as sh reads them; enough
/// for the doc's examples, which use no escapes inside quotes).
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut started = false;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => (quote, started) = (Some(c), true),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (_, c) => (word, started) = (word + &c.to_string(), true),
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// The `curl` lines of the doc's "## curl" block, continuation lines joined and comments
/// and pipes cut off.
fn curl_examples() -> Vec<String> {
    let block = INTEGRATIONS.split("## curl").nth(1).expect("a curl section");
    let block = block.split("```sh").nth(1).and_then(|b| b.split("```").next()).expect("a sh block");
    let joined = block.replace("\\\n", " ");
    joined
        .lines()
        .filter(|l| l.trim_start().starts_with("curl "))
        .map(|l| l.split(" | ").next().unwrap().split(" # ").next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_curl_examples_work_in_order_on_a_fresh_server() {
    let app = spawn_app().await;
    let examples = curl_examples();
    assert!(examples.len() >= 5, "{examples:?}");
    let base = format!("http://{}/api/v1/events/{EVENT}", app.addr);
    for (k, example) in examples.iter().enumerate() {
        let line = example
            .replace("$T", app.token(Role::Moderator))
            .replace("$E", &base)
            .replace("$(uuidgen)", &format!("example-{k}"));
        let mut words = words(&line).into_iter().skip(1);
        let (mut method, mut headers, mut body, mut url) = ("GET".to_owned(), Vec::new(), String::new(), None);
        while let Some(word) = words.next() {
            match word.as_str() {
                "-s" => {}
                "-X" => method = words.next().unwrap(),
                "-H" => headers.push(words.next().unwrap()),
                "-d" => body = words.next().unwrap(),
                other => url = Some(other.to_owned()),
            }
        }
        let url = url.unwrap_or_else(|| panic!("a URL in {example}"));
        let path = url.strip_prefix(&format!("http://{}", app.addr)).unwrap_or_else(|| panic!("{url}"));
        let headers: Vec<(&str, &str)> =
            headers.iter().map(|h| h.split_once(": ").unwrap_or_else(|| panic!("a header: {h}"))).collect();
        let reply = request(app.addr, &method, path, &headers, &body).await;
        assert!((200..300).contains(&reply.status), "{example} answered {}: {}", reply.status, reply.body);
    }
}

#[test]
fn the_companion_hint_puts_a_token_after_a_query_with_an_ampersand() {
    let hint = INTEGRATIONS.split("## Bitfocus Companion").nth(1).unwrap().split("\n## ").next().unwrap();
    for url in hint.split('`').filter(|part| part.starts_with('/') && part.contains("token=")) {
        assert_eq!(url.matches('?').count(), 1, "one query per URL: {url}");
    }
}
