//! Runs an event's automations: follows the hub's changes like any listener, fires what
//! each change set off, and keeps its own timers for the thresholds ahead of the live
//! segment. Every output is sent on a task of its own, retried a bounded number of times,
//! so that a dead lighting desk never delays the hub or the next output.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::clock::now_millis;
use crate::domain::automation::{self, Automation, Firing, HttpOutput, OscOutput, Trigger};
use crate::domain::{EventState, Millis, Role};
use crate::hub::{HubHandle, Overview};
use crate::metrics::Metrics;

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
struct Outputs {
    deliveries: Arc<Deliveries>,
    metrics: Arc<Metrics>,
    http: reqwest::Client,
}

/// Follows `hub` until the server shuts down or the hub stops (the event is archived).
pub async fn run(hub: HubHandle, deliveries: Arc<Deliveries>, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    let http = match reqwest::Client::builder().timeout(HTTP_TIMEOUT).build() {
        Ok(client) => client,
        Err(error) => {
            warn!(%error, "automations cannot make HTTP requests; they are off");
            return;
        }
    };
    let outputs = Arc::new(Outputs { deliveries, metrics, http });
    while !shutdown.is_cancelled() {
        // A listener that falls too far behind is dropped; listen again from now on.
        let Ok((_, frames)) = hub.listen(Role::Organizer, None).await else { return };
        let Ok(overview) = hub.overview().await else { return };
        if follow(&hub, frames, overview, &outputs, &shutdown).await.is_err() {
            return;
        }
    }
}

/// The hub has stopped.
struct Stopped;

async fn follow(
    hub: &HubHandle,
    mut frames: tokio::sync::mpsc::Receiver<crate::wire::Frame>,
    mut last: Overview,
    outputs: &Arc<Outputs>,
    shutdown: &CancellationToken,
) -> Result<(), Stopped> {
    let mut ahead = automation::thresholds_ahead(&last.state, now_millis());
    loop {
        let wait = ahead.first().map_or(Duration::from_secs(3600), |(_, at)| {
            Duration::from_millis(u64::try_from(at - now_millis()).unwrap_or(0))
        });
        tokio::select! {
            frame = frames.recv() => {
                if frame.is_none() {
                    return Ok(());
                }
                while frames.try_recv().is_ok() {}
                let now = now_millis();
                cross(&mut ahead, &last.state, now, outputs);
                let next = hub.overview().await.map_err(|_| Stopped)?;
                for firing in automation::fired(&last.state, &next.state) {
                    dispatch(&firing, &next.state, now, outputs);
                }
                last = next;
                ahead = automation::thresholds_ahead(&last.state, now);
            }
            () = tokio::time::sleep(wait) => cross(&mut ahead, &last.state, now_millis(), outputs),
            () = shutdown.cancelled() => return Ok(()),
        }
    }
}

/// Fires the thresholds `now` has reached, once each.
fn cross(ahead: &mut Vec<(Trigger, Millis)>, state: &EventState, now: Millis, outputs: &Arc<Outputs>) {
    let due = ahead.iter().take_while(|(_, at)| *at <= now).count();
    for (trigger, _) in ahead.drain(..due) {
        let firing = Firing { trigger, segment: state.live.segment, speaker: state.live.speaker, cue: None };
        dispatch(&firing, state, now, outputs);
    }
}

fn dispatch(firing: &Firing, state: &EventState, now: Millis, outputs: &Arc<Outputs>) {
    let segment = firing.segment.and_then(|k| state.show.segments.get(k)).map(|s| s.id.clone());
    for automation in state.show.automations.iter().filter(|a| a.matches(firing, state)) {
        let render = |template: &str| automation::render(template, firing, state, now);
        let sends = outputs_of(automation, &render);
        for send in sends {
            let outputs = Arc::clone(outputs);
            let base = Delivery {
                at: now,
                trigger: firing.trigger,
                segment: segment.clone(),
                output: send.describe(),
                result: "sent",
                attempts: 0,
                error: None,
            };
            tokio::spawn(async move { deliver(send, base, &outputs).await });
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
}

fn outputs_of(automation: &Automation, render: &dyn Fn(&str) -> String) -> Vec<Send> {
    let mut sends = Vec::new();
    if let Some(OscOutput { host, port, address, args }) = &automation.osc {
        let args = args.iter().map(|a| osc_arg(render(a))).collect();
        let message = rosc::OscMessage { addr: render(address), args };
        sends.push(Send::Osc { host: host.clone(), port: *port, packet: rosc::OscPacket::Message(message) });
    }
    if let Some(HttpOutput { method, url, body, content_type }) = &automation.http {
        // `checked` let only the five methods through.
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
        sends.push(Send::Http {
            method,
            url: render(url),
            body: body.as_deref().map(render),
            content_type: content_type.clone(),
        });
    }
    sends
}

/// An int or a float when the text reads as one, as desks expect `/cue/go 3` to be an int.
fn osc_arg(text: String) -> rosc::OscType {
    if let Ok(n) = text.parse::<i32>() {
        rosc::OscType::Int(n)
    } else if let Some(x) = text.parse::<f32>().ok().filter(|x| x.is_finite() && text.contains('.')) {
        rosc::OscType::Float(x)
    } else {
        rosc::OscType::String(text)
    }
}

async fn deliver(send: Send, mut delivery: Delivery, outputs: &Outputs) {
    let mut pause = Duration::from_millis(200);
    loop {
        delivery.attempts += 1;
        match attempt(&send, &outputs.http).await {
            Ok(()) => break,
            Err(error) if delivery.attempts >= ATTEMPTS => {
                warn!(output = delivery.output, attempts = delivery.attempts, error, "an automation output failed");
                delivery.result = "failed";
                delivery.error = Some(error);
                break;
            }
            Err(error) => debug!(output = delivery.output, error, "an automation output is retried"),
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
    Metrics::count(&outputs.metrics.automation_outputs, delivery.result);
    outputs.deliveries.push(delivery);
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

async fn attempt(send: &Send, http: &reqwest::Client) -> Result<(), String> {
    match send {
        Send::Osc { host, port, packet } => {
            let bytes = rosc::encoder::encode(packet).map_err(|e| format!("cannot encode: {e:?}"))?;
            let to = tokio::net::lookup_host((host.as_str(), *port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .next()
                .ok_or_else(|| format!("{host} has no address"))?;
            let local = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
            let socket = UdpSocket::bind(local).await.map_err(|e| format!("no UDP socket: {e}"))?;
            socket.send_to(&bytes, to).await.map_err(|e| format!("cannot send to {to}: {e}"))?;
            Ok(())
        }
        Send::Http { method, url, body, content_type } => {
            let mut request = http.request(method.clone(), url);
            if let Some(body) = body {
                let kind = content_type.as_deref().unwrap_or("text/plain; charset=utf-8");
                request = request.header(reqwest::header::CONTENT_TYPE, kind).body(body.clone());
            }
            let response = request.send().await.map_err(|e| causes(&e))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!("answered {}", response.status()))
            }
        }
    }
}
