//! What the server counts for Prometheus (`GET /metrics`): one registry per server, so that
//! servers in one process (the tests) do not mix their numbers.

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
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("eventhub");
        let connections = Family::default();
        registry.register("connections", "Joined websocket connections", connections.clone());
        let changes = Family::default();
        registry.register("changes", "Changes stored and published", changes.clone());
        let commands = Family::default();
        registry.register("commands", "Commands by type and outcome", commands.clone());
        let errors = Family::default();
        registry.register("errors", "Error answers by code", errors.clone());
        // 0.1 ms to ~1.6 s.
        let store_commit_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 15));
        registry.register("store_commit_seconds", "Time to make a batch durable", store_commit_seconds.clone());
        let fanout_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 15));
        registry.register("fanout_seconds", "Time to hand a change to the last member", fanout_seconds.clone());
        let slow_client_closes = Counter::default();
        registry.register("slow_client_closes", "Connections closed for not keeping up", slow_client_closes.clone());
        let rate_limited_frames = Counter::default();
        registry.register("rate_limited_frames", "Frames refused by the rate limit", rate_limited_frames.clone());
        let automation_outputs = Family::default();
        registry.register("automation_outputs", "Automation outputs sent or failed", automation_outputs.clone());
        let osc_packets = Family::default();
        registry.register("osc_packets", "OSC packets accepted or rejected", osc_packets.clone());
        Metrics {
            registry,
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

impl Metrics {
    /// The registry in the text exposition format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    pub fn error(&self, code: &str) {
        self.errors.get_or_create(&CodeLabel { code: code.to_owned() }).inc();
    }

    pub fn count(family: &Family<ResultLabel, Counter>, result: &str) {
        family.get_or_create(&ResultLabel { result: result.to_owned() }).inc();
    }
}
