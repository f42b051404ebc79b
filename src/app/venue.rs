//! The two sides of a hybrid event. A venue node beats on the heartbeat subject and takes the
//! commands of the cloud's pages, each applied by the event's hub here as that page's own,
//! so that a re-sent id is applied once. A cloud node beats on its own subject; each side
//! watches the link the other side's beats tell.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tracing::warn;

use super::AppState;
use crate::hub::retries::Outcome;
use crate::protocol::{ErrorCode, RemoteAnswer, RemoteCommand};
use crate::store::nats::{Cluster, Link, RemoteRequest};

/// How long the venue waits before it listens again after losing the subscription.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// Beats for this side, keeps the link to the other side for the hubs and the metrics, and
/// on a venue node serves the cloud's commands, until the server shuts down.
pub async fn serve(app: AppState, cluster: Arc<Cluster>) {
    app.tracker.spawn(Cluster::clone(&cluster).beat(app.shutdown.clone()));
    app.tracker.spawn(Cluster::clone(&cluster).watch_link(app.shutdown.clone()));
    app.tracker.spawn(link_metric(app.clone(), cluster.link()));
    if cluster.in_cloud() {
        app.tracker.spawn(Cluster::clone(&cluster).reach_venue_presence(app.shutdown.clone()));
        return;
    }
    loop {
        match cluster.remote_requests().await {
            Ok(requests) => {
                tokio::pin!(requests);
                loop {
                    tokio::select! {
                        () = app.shutdown.cancelled() => return,
                        request = requests.next() => match request {
                            Some(request) => {
                                let (app, cluster) = (app.clone(), Arc::clone(&cluster));
                                app.tracker.clone().spawn(async move { answer(&app, &cluster, request).await });
                            }
                            None => break,
                        },
                    }
                }
            }
            Err(e) => warn!(error = %e, "cannot take the cloud's commands"),
        }
        tokio::select! {
            () = app.shutdown.cancelled() => return,
            () = tokio::time::sleep(LISTEN_RETRY) => {}
        }
    }
}

/// `eventhub_link_up` as the link changes.
async fn link_metric(app: AppState, mut link: watch::Receiver<Link>) {
    loop {
        app.metrics.link_up.set(i64::from(link.borrow_and_update().up));
        tokio::select! {
            () = app.shutdown.cancelled() => return,
            changed = link.changed() => if changed.is_err() { return },
        }
    }
}

async fn answer(app: &AppState, cluster: &Cluster, request: RemoteRequest) {
    let rejected = |code, message: &str| RemoteAnswer::Rejected { code, message: message.to_owned() };
    app.metrics.remote_commands.inc();
    let answer = match (serde_json::from_slice::<RemoteCommand>(&request.payload), app.event(&request.event)) {
        (Err(e), _) => rejected(ErrorCode::BadJson, &format!("the venue cannot read the command: {e}")),
        (Ok(_), None) => rejected(ErrorCode::UnknownEvent, "the venue does not hold this event"),
        (Ok(RemoteCommand { actor, id, command }), Some(entry)) => match entry.hub.request(actor, id, command).await {
            Ok(Outcome::Ack { seq, warning }) => RemoteAnswer::Ack { seq, warning },
            Ok(Outcome::Rejected(error)) => RemoteAnswer::Rejected { code: error.code, message: error.message },
            Err(_) => rejected(ErrorCode::Internal, "the event's hub at the venue has stopped"),
        },
    };
    cluster.answer(request, serde_json::to_vec(&answer).unwrap_or_default()).await;
}
