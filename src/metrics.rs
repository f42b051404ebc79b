//! What the server counts for Prometheus (`GET /metrics`): one registry per server, so that
//! servers in one process (the tests) do not mix their numbers, written in the classic
//! Prometheus text format or in OpenMetrics, as the scraper's `Accept` asks.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventRole {
    pub event: String,
    pub role: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabel {
    pub event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandLabels {
    pub event: String,
    pub command: String,
    /// `ack`, or the error code.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

pub struct Metrics {
    registry: Registry,
    /// Joined websockets.
    pub connections: Family<EventRole, Gauge>,
    pub changes: Family<EventLabel, Counter>,
    pub commands: Family<CommandLabels, Counter>,
    /// Every error frame or answer, by code.
    pub errors: Family<CodeLabel, Counter>,
    pub store_commit_seconds: Histogram,
    /// From a batch's commit to its frames written to (or queued for) the last member.
    pub fanout_seconds: Histogram,
    pub slow_client_closes: Counter,
    pub rate_limited_frames: Counter,
    /// Automation outputs by `sent` / `failed`.
    pub automation_outputs: Family<ResultLabel, Counter>,
    /// OSC packets by `accepted` / `rejected`.
    pub osc_packets: Family<ResultLabel, Counter>,
    /// 1 while the other side of a hybrid event is heard, else 0.
    pub link_up: Gauge,
    /// Commands of the cloud's pages this venue node decided.
    pub remote_commands: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("eventhub");
        let connections = Family::default();
        registry.register("connections", "Joined websocket connections by event and role", connections.clone());
        let changes = Family::default();
        registry.register("changes", "Changes stored and published by event", changes.clone());
        let commands = Family::default();
        registry.register("commands", "Commands from websockets and the control API by outcome", commands.clone());
        let errors = Family::default();
        registry.register("errors", "Error frames and answers by code", errors.clone());
        // 0.1 ms to ~1.6 s.
        let store_commit_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 15));
        registry.register("store_commit_seconds", "Time to make a batch durable", store_commit_seconds.clone());
        let fanout_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 15));
        registry.register(
            "fanout_seconds",
            "Time from a change handed to the staff to its frame handed to the last member",
            fanout_seconds.clone(),
        );
        let slow_client_closes = Counter::default();
        registry.register("slow_client_closes", "Connections closed for not keeping up", slow_client_closes.clone());
        let rate_limited_frames = Counter::default();
        registry.register("rate_limited_frames", "Frames refused by the rate limit", rate_limited_frames.clone());
        let automation_outputs = Family::default();
        registry.register("automation_outputs", "Automation outputs sent or failed", automation_outputs.clone());
        let osc_packets = Family::default();
        registry.register(
            "osc_packets",
            "OSC messages accepted, and messages or whole packets rejected",
            osc_packets.clone(),
        );
        let link_up = Gauge::default();
        registry.register(
            "link_up",
            "1 while the other side of a hybrid event is heard (or a venue node never heard a cloud), else 0",
            link_up.clone(),
        );
        let remote_commands = Counter::default();
        registry.register("remote_commands", "Commands of a cloud node's pages decided here", remote_commands.clone());
        Metrics {
            registry,
            link_up,
            remote_commands,
            connections,
            changes,
            commands,
            errors,
            store_commit_seconds,
            fanout_seconds,
            slow_client_closes,
            rate_limited_frames,
            automation_outputs,
            osc_packets,
        }
    }
}

/// The exposition formats `GET /metrics` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The classic Prometheus text format 0.0.4, which `promtool check metrics` reads.
    Text,
    OpenMetrics,
}

impl Format {
    /// What an `Accept` header asks for: OpenMetrics when it names it with a quality at least
    /// that of `text/plain` (Prometheus itself asks so), the classic text otherwise, also
    /// when there is no header or it names neither.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let (mut open_metrics, mut text) = (0.0_f32, 0.0_f32);
        for range in accept.unwrap_or_default().split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                .map_or(1.0, |(_, q)| q.trim().parse().unwrap_or(0.0));
            match media.as_str() {
                "application/openmetrics-text" => open_metrics = open_metrics.max(quality),
                "text/plain" | "text/*" | "*/*" => text = text.max(quality),
                _ => {}
            }
        }
        if open_metrics > 0.0 && open_metrics >= text {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

impl Metrics {
    /// The registry in `format`.
    pub fn encode(&self, format: Format) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        match format {
            Format::OpenMetrics => text,
            Format::Text => classic(&text),
        }
    }

    pub fn error(&self, code: &str) {
        self.errors.get_or_create(&CodeLabel { code: code.to_owned() }).inc();
    }

    pub fn count(family: &Family<ResultLabel, Counter>, result: &str) {
        family.get_or_create(&ResultLabel { result: result.to_owned() }).inc();
    }
}

/// OpenMetrics text (as prometheus-client writes it) in the classic text format: there a
/// counter's family is named as its samples, with `_total`; `# UNIT` and `# EOF` do not
/// exist; and help texts escape only backslashes and line feeds.
fn classic(open_metrics: &str) -> String {
    let mut text = String::with_capacity(open_metrics.len());
    let mut help = None;
    for line in open_metrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = Some(rest.split_once(' ').map_or("", |(_, help)| help));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let (name, kind) = match kind {
                "counter" => (format!("{name}_total"), kind),
                "unknown" => (name.to_owned(), "untyped"),
                _ => (name.to_owned(), kind),
            };
            if let Some(help) = help.take() {
                text.push_str(&format!("# HELP {name} {}\n", help.replace("\\\"", "\"")));
            }
            text.push_str(&format!("# TYPE {name} {kind}\n"));
        } else if !(line.starts_with("# UNIT ") || line == "# EOF") {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_header_chooses_the_format() {
        let prometheus =
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,\
                          text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("application/openmetrics-text")), Format::OpenMetrics);
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(Format::negotiate(Some("text/plain;version=0.0.4")), Format::Text);
        assert_eq!(Format::negotiate(Some("application/json")), Format::Text);
        assert_eq!(Format::negotiate(Some("text/plain, application/openmetrics-text;q=0.5")), Format::Text);
        assert_eq!(Format::negotiate(Some("application/openmetrics-text;q=0")), Format::Text);
    }

    #[test]
    fn the_classic_text_names_counter_families_as_their_samples_and_has_no_eof() {
        let metrics = Metrics::default();
        metrics.slow_client_closes.inc();
        metrics.store_commit_seconds.observe(0.001);
        let text = metrics.encode(Format::Text);
        assert!(
            text.contains("# HELP eventhub_slow_client_closes_total Connections closed for not keeping up.\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE eventhub_slow_client_closes_total counter\neventhub_slow_client_closes_total 1\n")
        );
        assert!(text.contains("# TYPE eventhub_store_commit_seconds histogram\n"));
        assert!(!text.contains("# EOF"), "{text}");
        assert!(metrics.encode(Format::OpenMetrics).ends_with("# EOF\n"));
    }
}
