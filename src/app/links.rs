//! Links: extra tokens of an event, each granting one role, with an optional name, an
//! optional end and a revoke; kept per event in the data dir (`links.json`, mode 0600) and
//! told to the sessions that joined with one when it ends. Node-local; it knows no HTTP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use chrono::TimeZone;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::sync::watch;

use crate::clock::now_millis;
use crate::domain::text::clean_optional;
use crate::domain::{Millis, Role};
use crate::protocol::ErrorCode;

/// Links of an event that may be live at once.
pub const MAX_LIVE_LINKS: usize = 200;
/// Ended links kept per event, so that their tokens are still told apart from unknown
/// ones; past it the oldest ended link is forgotten and its token is just unauthorized.
pub const MAX_ENDED_LINKS: usize = 500;
/// Characters of a link's name, after the text policy's cleaning.
pub const MAX_NAME_CHARS: usize = 80;
/// The furthest end a link may be given.
pub const MAX_LIFETIME_MS: Millis = 366 * 24 * 3600 * 1000;
/// How the websockets of a link that ended are closed, and how a hello with its token is
/// refused; documented in docs/protocol.md. In the private range, so that pages stop
/// reconnecting.
pub const LINK_ENDED_CLOSE: u16 = 4401;

const LINKS_FILE: &str = "links.json";

/// One link: a token of an event granting `role` until it is revoked or `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub id: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub token: String,
    pub created_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Millis>,
}

/// Where a link stands at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Live,
    Expired,
    Revoked,
}

impl Link {
    /// Whichever came first of its revoke and its expiry, once one has come.
    pub fn state(&self, now: Millis) -> LinkState {
        match (self.revoked_at, self.expires_at) {
            (Some(revoked), Some(expires)) if expires <= revoked && expires <= now => LinkState::Expired,
            (Some(_), _) => LinkState::Revoked,
            (None, Some(expires)) if expires <= now => LinkState::Expired,
            _ => LinkState::Live,
        }
    }

    /// When it stopped granting its role, if it has.
    pub fn ended_at(&self, now: Millis) -> Option<Millis> {
        match self.state(now) {
            LinkState::Live => None,
            LinkState::Expired => self.expires_at,
            LinkState::Revoked => self.revoked_at,
        }
    }

    fn ended(&self, now: Millis) -> Option<EndedLink> {
        let at = self.ended_at(now)?;
        let revoked = self.state(now) == LinkState::Revoked;
        Some(EndedLink { name: self.name.clone(), revoked, at })
    }
}

/// A link that no longer grants its role, as its holder is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedLink {
    pub name: Option<String>,
    /// Revoked, rather than expired.
    pub revoked: bool,
    pub at: Millis,
}

impl EndedLink {
    pub fn code(&self) -> ErrorCode {
        if self.revoked {
            ErrorCode::LinkRevoked
        } else {
            ErrorCode::LinkExpired
        }
    }

    /// The close frame's reason.
    pub fn reason(&self) -> &'static str {
        if self.revoked {
            "link revoked"
        } else {
            "link expired"
        }
    }

    /// Names the link and when it ended, in the event's time zone.
    pub fn message(&self, time_zone: &str) -> String {
        let zone: chrono_tz::Tz = time_zone.parse().unwrap_or(chrono_tz::UTC);
        let when = zone
            .timestamp_millis_opt(self.at)
            .single()
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        let what = if self.revoked { "was revoked" } else { "expired" };
        match &self.name {
            Some(name) => format!("the link {name:?} {what} at {when} ({zone})"),
            None => format!("this link {what} at {when} ({zone})"),
        }
    }
}

/// The link a session joined with, as far as it needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkGrant {
    pub id: String,
    pub expires_at: Option<Millis>,
}

/// What a presented token is to an event's links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    Live(Role, LinkGrant),
    Ended(EndedLink),
    None,
}

/// The link whose token `presented` is. Every token is compared in constant time, so that
/// timing tells nothing about which link or how many characters matched.
pub fn find<'a>(links: &'a [Link], presented: &str) -> Option<&'a Link> {
    links.iter().fold(None, |found, link| {
        let matches: bool = link.token.as_bytes().ct_eq(presented.as_bytes()).into();
        if matches {
            Some(link)
        } else {
            found
        }
    })
}

/// What a new link asks for.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    pub role: Option<Role>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub expires_at: Option<Millis>,
    #[serde(default)]
    pub expires_in_s: Option<i64>,
}

/// Why a link was not made or revoked.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("{0}")]
    Invalid(String),
    #[error("the event has {MAX_LIVE_LINKS} live links already; revoke one first")]
    TooMany,
    #[error("no link {0:?} in this event")]
    NotFound(String),
    #[error("links are kept per node and not shared across a cluster; make them on a single node")]
    Cluster,
    #[error("{0}")]
    Store(String),
}

/// Checks `new` and adds it to `links` as a link with `id` and `token`; pure.
pub fn add(links: &mut Vec<Link>, new: NewLink, id: String, token: String, now: Millis) -> Result<Link, LinkError> {
    let role = new.role.ok_or_else(|| LinkError::Invalid("role is needed".into()))?;
    let name = match new.name.as_deref() {
        Some(name) => clean_optional(name, MAX_NAME_CHARS).map_err(|e| LinkError::Invalid(format!("name {e}")))?,
        None => None,
    };
    let expires_at = match (new.expires_at, new.expires_in_s) {
        (Some(_), Some(_)) => return Err(LinkError::Invalid("give expires_at or expires_in_s, not both".into())),
        (Some(at), None) => Some(at),
        (None, Some(seconds)) => Some(now.saturating_add(seconds.saturating_mul(1000))),
        (None, None) => None,
    };
    if let Some(at) = expires_at {
        if at <= now {
            return Err(LinkError::Invalid("the link would have expired already: its end must be ahead".into()));
        }
        if at - now > MAX_LIFETIME_MS {
            return Err(LinkError::Invalid("a link's end may be at most 366 days ahead; or give none".into()));
        }
    }
    if links.iter().filter(|link| link.state(now) == LinkState::Live).count() >= MAX_LIVE_LINKS {
        return Err(LinkError::TooMany);
    }
    let link = Link { id, role, name, token, created_at: now, expires_at, revoked_at: None };
    links.push(link.clone());
    let ended: Vec<usize> =
        links.iter().enumerate().filter(|(_, l)| l.state(now) != LinkState::Live).map(|(i, _)| i).collect();
    if ended.len() > MAX_ENDED_LINKS {
        // The oldest made first, so the forgotten are those that ended longest ago, mostly.
        let forget: Vec<usize> = ended[..ended.len() - MAX_ENDED_LINKS].to_vec();
        let mut index = 0;
        links.retain(|_| {
            let keep = !forget.contains(&index);
            index += 1;
            keep
        });
    }
    Ok(link)
}

/// Revokes the link `id` at `now`; revoking an ended link again changes nothing.
pub fn revoke(links: &mut [Link], id: &str, now: Millis) -> Result<(Link, bool), LinkError> {
    let link = links.iter_mut().find(|link| link.id == id).ok_or_else(|| LinkError::NotFound(id.to_owned()))?;
    if link.state(now) != LinkState::Live {
        return Ok((link.clone(), false));
    }
    link.revoked_at = Some(now);
    Ok((link.clone(), true))
}

/// One event's links, shared by every way in.
#[derive(Default)]
pub struct EventLinks {
    /// In the order made; never held across an await.
    links: RwLock<Vec<Link>>,
    /// Bumped when a link of the event is revoked: each session that joined with a link
    /// then looks whether it was its own.
    revoked: watch::Sender<u64>,
}

impl EventLinks {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Link>> {
        self.links.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn all(&self) -> Vec<Link> {
        self.read().clone()
    }

    /// What `presented` is among these links at `now`.
    pub fn find(&self, presented: &str, now: Millis) -> Found {
        let links = self.read();
        match find(&links, presented) {
            None => Found::None,
            Some(link) => match link.ended(now) {
                Some(ended) => Found::Ended(ended),
                None => Found::Live(link.role, LinkGrant { id: link.id.clone(), expires_at: link.expires_at }),
            },
        }
    }

    /// The link `id` if it has ended by `now`; a link no longer kept has.
    fn ended(&self, id: &str, now: Millis) -> Option<EndedLink> {
        match self.read().iter().find(|link| link.id == id) {
            Some(link) => link.ended(now),
            None => Some(EndedLink { name: None, revoked: true, at: now }),
        }
    }

    /// Follows the link a session joined with, to learn when it ends.
    pub fn watch(self: &Arc<Self>, grant: LinkGrant) -> LinkWatch {
        LinkWatch { links: Arc::clone(self), grant, revoked: self.revoked.subscribe() }
    }
}

/// The link a session joined with, followed until it ends.
pub struct LinkWatch {
    links: Arc<EventLinks>,
    grant: LinkGrant,
    revoked: watch::Receiver<u64>,
}

impl LinkWatch {
    /// Resolves when the link is revoked, at once, or at its expiry.
    pub async fn ended(&mut self) -> EndedLink {
        // Never false while the book keeps every event's sender; then only the expiry is left.
        let mut told = true;
        loop {
            self.revoked.borrow_and_update();
            let now = now_millis();
            if let Some(ended) = self.links.ended(&self.grant.id, now) {
                return ended;
            }
            let expires_at = self.grant.expires_at;
            let expiry = async move {
                match expires_at {
                    Some(at) => tokio::time::sleep(Duration::from_millis((at - now).max(0) as u64 + 1)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = expiry => {}
                changed = self.revoked.changed(), if told => told = changed.is_ok(),
            }
        }
    }
}

/// Every event's links, and the file that keeps them.
pub struct LinkBook {
    path: PathBuf,
    events: DashMap<String, Arc<EventLinks>>,
    /// Held while the file is written: two changes at once would lose one.
    file: Mutex<()>,
}

type Kept = BTreeMap<String, Vec<Link>>;

impl LinkBook {
    /// The links kept in `data_dir`, none when there is no file yet.
    pub fn load(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(LINKS_FILE);
        let kept: Kept = match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).with_context(|| format!("invalid links file {}", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Kept::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let events = DashMap::new();
        for (event, links) in kept {
            events.insert(event, Arc::new(EventLinks { links: RwLock::new(links), ..EventLinks::default() }));
        }
        Ok(LinkBook { path, events, file: Mutex::new(()) })
    }

    /// The links of `event`, none yet when it has none.
    pub fn of(&self, event: &str) -> Arc<EventLinks> {
        Arc::clone(self.events.entry(event.to_owned()).or_default().value())
    }

    /// Makes a link of `event` and keeps it.
    pub fn create(&self, event: &str, new: NewLink, now: Millis) -> Result<Link, LinkError> {
        let id = format!("{:016x}", rand::random::<u64>());
        let token = crate::auth::generate();
        self.change(event, |links| add(links, new, id, token, now))
    }

    /// Revokes the link `id` of `event`; the sessions that joined with it are closed.
    pub fn revoke(&self, event: &str, id: &str, now: Millis) -> Result<Link, LinkError> {
        let (link, changed) = self.change(event, |links| revoke(links, id, now))?;
        if changed {
            self.of(event).revoked.send_modify(|n| *n += 1);
        }
        Ok(link)
    }

    /// Applies `change` to the links of `event` and writes them all to the file; a change
    /// the file did not take is undone.
    fn change<T>(
        &self,
        event: &str,
        change: impl FnOnce(&mut Vec<Link>) -> Result<T, LinkError>,
    ) -> Result<T, LinkError> {
        let _file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let links = self.of(event);
        let (before, answer) = {
            let mut links = links.links.write().unwrap_or_else(|e| e.into_inner());
            let before = links.clone();
            (before, change(&mut links)?)
        };
        let kept: Kept = self.events.iter().map(|e| (e.key().clone(), e.value().all())).collect();
        let written = serde_json::to_string_pretty(&kept)
            .map_err(anyhow::Error::from)
            .and_then(|text| crate::auth::write_private(&self.path, &text));
        if let Err(e) = written {
            *links.links.write().unwrap_or_else(|e| e.into_inner()) = before;
            return Err(LinkError::Store(format!("the link was not kept: {e:#}")));
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_767_225_600_000;

    fn new(role: Role, name: &str, expires_in_s: Option<i64>) -> NewLink {
        NewLink { role: Some(role), name: Some(name.into()), expires_at: None, expires_in_s }
    }

    fn made(links: &mut Vec<Link>, n: u32, expires_in_s: Option<i64>) -> Link {
        add(links, new(Role::Speaker, "Sato", expires_in_s), format!("id{n}"), format!("token{n}"), NOW).unwrap()
    }

    #[test]
    fn a_link_is_live_until_it_expires_or_is_revoked_whichever_comes_first() {
        let mut links = Vec::new();
        let link = made(&mut links, 1, Some(60));
        assert_eq!(link.expires_at, Some(NOW + 60_000));
        assert_eq!(link.state(NOW + 59_999), LinkState::Live);
        assert_eq!(link.state(NOW + 60_000), LinkState::Expired);
        let (revoked, changed) = revoke(&mut links, "id1", NOW + 1000).unwrap();
        assert!(changed);
        assert_eq!(revoked.state(NOW + 1000), LinkState::Revoked);
        assert_eq!(revoked.state(NOW + 90_000), LinkState::Revoked);
        assert_eq!(revoked.ended_at(NOW + 90_000), Some(NOW + 1000));
        let (again, changed) = revoke(&mut links, "id1", NOW + 2000).unwrap();
        assert!(!changed);
        assert_eq!(again.revoked_at, Some(NOW + 1000));

        let expired = made(&mut links, 2, Some(1));
        let (expired, changed) = revoke(&mut links, &expired.id, NOW + 5000).unwrap();
        assert!(!changed, "an expired link stays expired");
        assert_eq!(expired.state(NOW + 5000), LinkState::Expired);
        assert_eq!(revoke(&mut links, "nope", NOW), Err(LinkError::NotFound("nope".into())));
    }

    #[test]
    fn tokens_are_found_only_whole_and_ended_links_say_how_they_ended() {
        let links = EventLinks::default();
        {
            let mut kept = links.links.write().unwrap();
            made(&mut kept, 1, Some(60));
            made(&mut kept, 2, None);
            revoke(&mut kept, "id2", NOW + 10).unwrap();
        }
        let live = Found::Live(Role::Speaker, LinkGrant { id: "id1".into(), expires_at: Some(NOW + 60_000) });
        assert_eq!(links.find("token1", NOW), live);
        assert_eq!(links.find("token", NOW), Found::None);
        assert_eq!(links.find("", NOW), Found::None);
        let Found::Ended(expired) = links.find("token1", NOW + 60_000) else { panic!("ended") };
        assert_eq!(expired.code(), ErrorCode::LinkExpired);
        assert_eq!(expired.reason(), "link expired");
        assert_eq!(expired.message("Asia/Shanghai"), "the link \"Sato\" expired at 2026-01-01 08:01 (Asia/Shanghai)");
        let Found::Ended(revoked) = links.find("token2", NOW + 20) else { panic!("ended") };
        assert_eq!(revoked.code(), ErrorCode::LinkRevoked);
        assert_eq!(revoked.reason(), "link revoked");
        assert!(revoked.message("UTC").contains("was revoked at 2026-01-01 00:00"));
    }

    #[test]
    fn new_links_are_checked_and_bounded() {
        let mut links = Vec::new();
        let invalid = |links: &mut Vec<Link>, new: NewLink| match add(links, new, "x".into(), "t".into(), NOW) {
            Err(LinkError::Invalid(why)) => why,
            other => panic!("refused, not {other:?}"),
        };
        assert!(invalid(&mut links, NewLink::default()).contains("role"));
        assert!(invalid(&mut links, new(Role::Attendee, &"x".repeat(81), None)).contains("name is longer"));
        assert!(invalid(&mut links, new(Role::Attendee, "a\u{7}", None)).contains("control"));
        assert!(invalid(&mut links, new(Role::Attendee, "Sato", Some(0))).contains("expired already"));
        assert!(invalid(&mut links, new(Role::Attendee, "Sato", Some(367 * 86_400))).contains("366 days"));
        let both = NewLink { expires_at: Some(NOW + 1000), ..new(Role::Attendee, "Sato", Some(5)) };
        assert!(invalid(&mut links, both).contains("not both"));
        assert!(links.is_empty());

        let blank = add(&mut links, new(Role::Attendee, " \u{200b} ", None), "a".into(), "t".into(), NOW).unwrap();
        assert_eq!(blank.name, None, "a name with nothing visible is none");
        for n in 1..MAX_LIVE_LINKS as u32 {
            made(&mut links, n, None);
        }
        let over = add(&mut links, new(Role::Attendee, "one more", None), "z".into(), "t".into(), NOW);
        assert_eq!(over, Err(LinkError::TooMany));
        revoke(&mut links, "a", NOW).unwrap();
        made(&mut links, 1000, None);
    }

    #[test]
    fn the_oldest_ended_links_are_forgotten_past_the_limit() {
        let mut links = Vec::new();
        for n in 0..MAX_ENDED_LINKS as u32 + 3 {
            made(&mut links, n, None);
            revoke(&mut links, &format!("id{n}"), NOW).unwrap();
        }
        made(&mut links, 9999, None);
        assert_eq!(links.len(), MAX_ENDED_LINKS + 1);
        assert_eq!(links[0].id, "id3");
    }

    #[test]
    fn links_are_kept_privately_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let book = LinkBook::load(dir.path()).unwrap();
        let link = book.create("forum", new(Role::Speaker, "Sato", Some(3600)), NOW).unwrap();
        book.revoke("forum", &link.id, NOW + 5).unwrap();
        let again = LinkBook::load(dir.path()).unwrap();
        assert_eq!(again.of("forum").all(), vec![Link { revoked_at: Some(NOW + 5), ..link }]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(LINKS_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
