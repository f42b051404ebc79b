//! Runs an event's automations: follows the hub's changes like any listener, fires what
//! each change set off, and keeps its own timers for the thresholds ahead of the live
//! segment. Every output is sent on a task of its own, retried a bounded number of times,
//! so that a dead lighting desk never delays the hub or the next output.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::gate::{self, Gate, Mark};
use crate::clock::now_millis;
use crate::domain::automation::{self, Automation, Destinations, Escape, Firing, HttpOutput, OscOutput, Trigger};
use crate::domain::{Change, EventState, Millis};
use crate::hub::HubHandle;
use crate::metrics::Metrics;
use crate::store::nats::Lease;

/// Attempts per output before it counts as failed.
pub const ATTEMPTS: u32 = 3;
/// How long one HTTP attempt may take.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(2);
/// Outcomes kept for the console and the API.
const KEPT: usize = 50;

/// What became of one output.
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    pub at: Millis,
    pub trigger: Trigger,
    /// The segment the trigger was in, by id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// `osc udp://host:port/address` or `http METHOD url`, as sent.
    pub output: String,
    /// `sent` or `failed`.
    pub result: &'static str,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The latest outcomes of an event's automations, newest last.
#[derive(Default)]
pub struct Deliveries(Mutex<VecDeque<Delivery>>);

impl Deliveries {
    pub fn recent(&self) -> Vec<Delivery> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }

    fn push(&self, delivery: Delivery) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back(delivery);
    }
}

/// What every output of one event shares.
struct Sending {
    deliveries: Arc<Deliveries>,
    metrics: Arc<Metrics>,
    http: reqwest::Client,
    destinations: Arc<Destinations>,
}

/// The outputs of one event: one lane per destination, each a task that sends in the order
/// the triggers happened, so that a desk gets a segment's end before the next one's start.
struct Outputs {
    sending: Arc<Sending>,
    lanes: HashMap<String, mpsc::Sender<(Send, Delivery)>>,
}

/// Outputs waiting for one destination, at most; beyond it (a desk that has been dead for a
/// while) an output fails at once rather than piling up.
const LANE_BACKLOG: usize = 64;

/// Follows `hub` until the server shuts down or the hub stops (the event is archived).
/// Outputs go only where `destinations` allow, and only from this node while it holds
/// `lease` (in a cluster: see [`Gate`]).
pub async fn run(
    hub: HubHandle,
    deliveries: Arc<Deliveries>,
    metrics: Arc<Metrics>,
    destinations: Destinations,
    lease: Option<Lease>,
    shutdown: CancellationToken,
) {
    let destinations = Arc::new(destinations);
    let http = match reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Resolver(Arc::clone(&destinations))))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            warn!(%error, "automations cannot make HTTP requests; they are off");
            return;
        }
    };
    let sending = Arc::new(Sending { deliveries, metrics, http, destinations });
    let mut outputs = Outputs { sending, lanes: HashMap::new() };
    let mut gate = lease.map_or_else(Gate::alone, Gate::shared);
    while !shutdown.is_cancelled() {
        // A follower that falls too far behind is dropped; follow again from now on.
        let Ok((overview, changes)) = hub.follow().await else { break };
        let from = Followed { state: overview.state, seq: overview.seq };
        if follow(changes, from, &mut outputs, &mut gate, &shutdown).await.is_err() {
            break;
        }
    }
    gate.release().await;
}

/// The hub has stopped.
struct Stopped;

/// The state the automations fire from, and the seq of the last change in it.
struct Followed {
    state: EventState,
    seq: u64,
}

/// One firing's outputs, ready to send.
type Outgoing = Vec<(Send, Delivery)>;

/// Fires what each change sets off, one change at a time, on the state the changes build.
async fn follow(
    mut changes: mpsc::Receiver<(u64, Change)>,
    mut last: Followed,
    outputs: &mut Outputs,
    gate: &mut Gate<Outgoing>,
    shutdown: &CancellationToken,
) -> Result<(), Stopped> {
    let mut ahead = automation::thresholds_ahead(&last.state, now_millis());
    let mut mark = Mark { seq: last.seq, ..Mark::default() };
    let mut lease = tokio::time::interval(gate::RENEW_EVERY);
    lease.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let wait = ahead.first().map_or(Duration::from_secs(3600), |(_, at)| {
            Duration::from_millis(u64::try_from(at - now_millis()).unwrap_or(0))
        });
        let firings = tokio::select! {
            change = changes.recv() => {
                let Some((seq, change)) = change else { return Ok(()) };
                let now = now_millis();
                let mut firings = cross(&mut ahead, &last, now);
                let mut next = last.state.clone();
                next.evolve(&change);
                for firing in automation::fired(&last.state, &next) {
                    firings.push((seq, 0, outgoing(&firing, &next, now)));
                }
                last = Followed { state: next, seq };
                ahead = automation::thresholds_ahead(&last.state, now);
                firings
            }
            () = tokio::time::sleep(wait) => cross(&mut ahead, &last, now_millis()),
            _ = lease.tick() => {
                gate.tick().await.into_iter().for_each(|sends| outputs.queue_all(sends));
                continue;
            }
            () = shutdown.cancelled() => return Err(Stopped),
        };
        for (seq, at, sends) in firings.into_iter().filter(|(_, _, sends)| !sends.is_empty()) {
            mark = mark.next(seq, at);
            if let Some(sends) = gate.pass(mark, sends).await {
                outputs.queue_all(sends);
            }
        }
    }
}

/// The outputs of the thresholds `now` has reached, once each, with the seq they came
/// after and their time.
fn cross(ahead: &mut Vec<(Trigger, Millis)>, last: &Followed, now: Millis) -> Vec<(u64, Millis, Outgoing)> {
    let due = ahead.iter().take_while(|(_, at)| *at <= now).count();
    let state = &last.state;
    let firings = ahead.drain(..due).map(|(trigger, at)| {
        let firing = Firing { trigger, segment: state.live.segment, speaker: state.live.speaker, cue: None };
        (last.seq, at, outgoing(&firing, state, now))
    });
    firings.collect()
}

fn outgoing(firing: &Firing, state: &EventState, now: Millis) -> Outgoing {
    let segment = firing.segment.and_then(|k| state.show.segments.get(k)).map(|s| s.id.clone());
    let mut sends = Vec::new();
    for automation in state.show.automations.iter().filter(|a| a.matches(firing, state)) {
        let render = |template: &str, escape| automation::render(template, escape, firing, state, now);
        for send in outputs_of(automation, &render) {
            let delivery = Delivery {
                at: now,
                trigger: firing.trigger,
                segment: segment.clone(),
                output: send.describe(),
                result: "sent",
                attempts: 0,
                error: None,
            };
            sends.push((send, delivery));
        }
    }
    sends
}

impl Outputs {
    fn queue_all(&mut self, sends: Outgoing) {
        for (send, delivery) in sends {
            self.queue(send, delivery);
        }
    }

    /// Puts an output on its destination's lane, starting the lane's task when it is new.
    fn queue(&mut self, send: Send, mut delivery: Delivery) {
        let lane = self.lanes.entry(send.destination()).or_insert_with(|| {
            let (lane, mut waiting) = mpsc::channel::<(Send, Delivery)>(LANE_BACKLOG);
            let sending = Arc::clone(&self.sending);
            tokio::spawn(async move {
                while let Some((send, delivery)) = waiting.recv().await {
                    deliver(send, delivery, &sending).await;
                }
            });
            lane
        });
        if let Err(refused) = lane.try_send((send, delivery.clone())) {
            let error = match refused {
                mpsc::error::TrySendError::Full(_) => {
                    format!("more than {LANE_BACKLOG} outputs wait for this destination")
                }
                mpsc::error::TrySendError::Closed(_) => "the destination's sender has stopped".to_owned(),
            };
            delivery.result = "failed";
            delivery.error = Some(error);
            self.sending.record(delivery);
        }
    }
}

/// One output, rendered.
enum Send {
    Osc { host: String, port: u16, packet: rosc::OscPacket },
    Http { method: reqwest::Method, url: String, body: Option<String>, content_type: Option<String> },
}

impl Send {
    fn describe(&self) -> String {
        match self {
            Send::Osc { host, port, packet: rosc::OscPacket::Message(m), .. } => {
                format!("osc udp://{host}:{port}{}", m.addr)
            }
            Send::Osc { host, port, .. } => format!("osc udp://{host}:{port}"),
            Send::Http { method, url, .. } => format!("http {method} {url}"),
        }
    }

    /// What outputs share a lane: one desk, or one web server.
    fn destination(&self) -> String {
        match self {
            Send::Osc { host, port, .. } => format!("osc {host}:{port}"),
            Send::Http { url, .. } => match reqwest::Url::parse(url) {
                Ok(url) => {
                    format!("http {}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(80))
                }
                Err(_) => format!("http {url}"),
            },
        }
    }
}

fn outputs_of(automation: &Automation, render: &dyn Fn(&str, Escape) -> String) -> Vec<Send> {
    let mut sends = Vec::new();
    if let Some(OscOutput { host, port, address, args }) = &automation.osc {
        let args = args.iter().map(|a| osc_arg(render(a, Escape::Plain))).collect();
        let message = rosc::OscMessage { addr: render(address, Escape::Plain), args };
        sends.push(Send::Osc { host: host.clone(), port: *port, packet: rosc::OscPacket::Message(message) });
    }
    if let Some(HttpOutput { method, url, body, content_type }) = &automation.http {
        // `checked` let only the five methods through.
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let escape = Escape::for_body(content_type.as_deref());
        sends.push(Send::Http {
            method,
            url: render(url, Escape::Url),
            body: body.as_deref().map(|body| render(body, escape)),
            content_type: content_type.clone(),
        });
    }
    sends
}

/// An int or a float when the text reads as one, as desks expect `/cue/go 3` to be an int;
/// an int64 when it does not fit in 32 bits (`{{server_time}}`).
fn osc_arg(text: String) -> rosc::OscType {
    if let Ok(n) = text.parse::<i32>() {
        rosc::OscType::Int(n)
    } else if let Ok(n) = text.parse::<i64>() {
        rosc::OscType::Long(n)
    } else if let Some(x) = text.parse::<f32>().ok().filter(|x| x.is_finite() && text.contains('.')) {
        rosc::OscType::Float(x)
    } else {
        rosc::OscType::String(text)
    }
}

/// Why an attempt failed, and whether another attempt could go better.
struct Failure {
    error: String,
    retry: bool,
}

impl From<String> for Failure {
    fn from(error: String) -> Self {
        Failure { error, retry: true }
    }
}

async fn deliver(send: Send, mut delivery: Delivery, sending: &Sending) {
    let mut pause = Duration::from_millis(200);
    loop {
        delivery.attempts += 1;
        match attempt(&send, sending).await {
            Ok(()) => break,
            Err(Failure { error, retry }) if !retry || delivery.attempts >= ATTEMPTS => {
                warn!(output = delivery.output, attempts = delivery.attempts, error, "an automation output failed");
                delivery.result = "failed";
                delivery.error = Some(error);
                break;
            }
            Err(Failure { error, .. }) => debug!(output = delivery.output, error, "an automation output is retried"),
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
    sending.record(delivery);
}

impl Sending {
    fn record(&self, delivery: Delivery) {
        Metrics::count(&self.metrics.automation_outputs, delivery.result);
        self.deliveries.push(delivery);
    }
}

/// Resolves HTTP outputs' host names, keeping only the addresses the settings allow.
struct Resolver(Arc<Destinations>);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let destinations = Arc::clone(&self.0);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                found.iter().copied().filter(|a| destinations.allows(&host, a.ip())).collect();
            if allowed.is_empty() {
                return Err(not_allowed(&host, found.first().map(SocketAddr::ip)).into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn not_allowed(host: &str, address: Option<IpAddr>) -> String {
    match address {
        Some(address) => format!("{host} ({address}) is not an allowed destination (limits.automation_destinations)"),
        None => format!("{host} has no address"),
    }
}

/// An error with what caused it, as reqwest's own message leaves the cause out.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

async fn attempt(send: &Send, sending: &Sending) -> Result<(), Failure> {
    let refused = |error: String| Failure { error, retry: false };
    match send {
        Send::Osc { host, port, packet } => {
            let bytes = rosc::encoder::encode(packet).map_err(|e| refused(format!("cannot encode: {e:?}")))?;
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), *port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .collect();
            let to = found
                .iter()
                .copied()
                .find(|a| sending.destinations.allows(host, a.ip()))
                .ok_or_else(|| refused(not_allowed(host, found.first().map(SocketAddr::ip))))?;
            let local = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
            let socket = UdpSocket::bind(local).await.map_err(|e| format!("no UDP socket: {e}"))?;
            socket.send_to(&bytes, to).await.map_err(|e| format!("cannot send to {to}: {e}"))?;
            Ok(())
        }
        Send::Http { method, url, body, content_type } => {
            let parsed = reqwest::Url::parse(url).map_err(|e| refused(format!("not a URL: {e}")))?;
            // The resolver sees host names only; an address written in the URL is checked here.
            let host = parsed.host_str().unwrap_or_default();
            let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
            if let Some(ip) = literal.filter(|ip| !sending.destinations.allows(&ip.to_string(), *ip)) {
                return Err(refused(not_allowed(&ip.to_string(), Some(ip))));
            }
            let mut request = sending.http.request(method.clone(), parsed);
            if let Some(body) = body {
                let kind = content_type.as_deref().unwrap_or("text/plain; charset=utf-8");
                request = request.header(reqwest::header::CONTENT_TYPE, kind).body(body.clone());
            }
            let response = request.send().await.map_err(|e| causes(&e))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!("answered {}", response.status()).into())
            }
        }
    }
}
