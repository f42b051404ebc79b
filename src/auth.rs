//! Role tokens per event, and the server-wide rooms token that creates and archives
//! events: taken from the settings, else generated once and kept in the data dir so that
//! page links survive restarts. Compared in constant time, never logged.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use anyhow::Context;
use subtle::ConstantTimeEq;

use crate::domain::Role;

/// One event's tokens, one per role; serialized only to share them across a cluster.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct EventTokens {
    by_role: BTreeMap<Role, String>,
}

impl EventTokens {
    /// The role a presented token grants. Every token is compared, in constant time, so
    /// that timing tells nothing about which role or how many characters matched.
    pub fn role_of(&self, presented: &str) -> Option<Role> {
        self.by_role.iter().fold(None, |found, (role, token)| {
            let matches: bool = token.as_bytes().ct_eq(presented.as_bytes()).into();
            if matches {
                Some(*role)
            } else {
                found
            }
        })
    }

    pub fn token(&self, role: Role) -> &str {
        self.by_role.get(&role).map_or("", String::as_str)
    }
}

/// The organizer token of the whole server: it lists, creates and archives events. No
/// event's own token grants this.
#[derive(Clone)]
pub struct RoomsToken(String);

impl RoomsToken {
    /// A token every node of a cluster shares, rather than one kept in a data dir.
    pub fn shared(token: String) -> Self {
        RoomsToken(token)
    }

    /// Whether `presented` is this token, compared in constant time.
    pub fn grants(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const ROOMS_TOKEN_FILE: &str = "rooms-token";

/// The configured rooms token, else the one kept in `data_dir`, else a new one written there.
pub fn rooms_token(data_dir: &Path, configured: Option<&str>) -> anyhow::Result<RoomsToken> {
    if let Some(token) = configured {
        if token.trim().is_empty() {
            anyhow::bail!("[server] organizer_token must not be empty; leave it out to have one generated");
        }
        return Ok(RoomsToken(token.to_owned()));
    }
    let path = data_dir.join(ROOMS_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(RoomsToken(text.trim().to_owned())),
        Ok(_) => anyhow::bail!("{} is empty; delete it to have a new token generated", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = generate();
            write_private(&path, &format!("{token}\n"))?;
            Ok(RoomsToken(token))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Held while the tokens file is read and written back: events created at runtime and
/// rotations would otherwise lose each other's writes.
static TOKENS_FILE_LOCK: Mutex<()> = Mutex::new(());

fn lock_tokens_file() -> MutexGuard<'static, ()> {
    TOKENS_FILE_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Gives `role` of `event` a new token, kept in `data_dir` and returned. Links with the old
/// token stop working for new connections; connections already open stay.
pub fn rotate(data_dir: &Path, event: &str, role: Role, tokens: &mut EventTokens) -> anyhow::Result<String> {
    let _file = lock_tokens_file();
    let path = data_dir.join(TOKENS_FILE);
    let mut kept = read_kept(&path)?;
    let token = generate();
    kept.entry(event.to_owned()).or_default().insert(role, token.clone());
    write_private(&path, &toml::to_string(&kept)?)?;
    tokens.by_role.insert(role, token.clone());
    Ok(token)
}

const TOKENS_FILE: &str = "tokens.toml";

/// 128 random bits, hex-encoded.
pub fn generate() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// `tokens` with the roles fixed in the settings set as they say.
pub fn with_fixed(mut tokens: EventTokens, fixed: &HashMap<Role, String>) -> EventTokens {
    for (role, token) in fixed {
        tokens.by_role.insert(*role, token.clone());
    }
    tokens
}

/// The tokens of each event: configured ones win, then those kept in `data_dir`, then new
/// ones, which are written back to `data_dir/tokens.toml` (readable by the owner only).
pub fn load_or_create(
    data_dir: &Path,
    configured: &HashMap<String, HashMap<Role, String>>,
    events: &[String],
) -> anyhow::Result<HashMap<String, EventTokens>> {
    let _file = lock_tokens_file();
    let path = data_dir.join(TOKENS_FILE);
    let mut kept = read_kept(&path)?;
    let before = kept.clone();
    let mut tokens = HashMap::new();
    for event in events {
        let stored = kept.entry(event.clone()).or_default();
        let mut by_role = BTreeMap::new();
        for role in Role::ALL {
            let token = match configured.get(event).and_then(|roles| roles.get(&role)) {
                Some(token) => token.clone(),
                None => stored.entry(role).or_insert_with(generate).clone(),
            };
            by_role.insert(role, token);
        }
        tokens.insert(event.clone(), EventTokens { by_role });
    }
    if kept != before {
        write_private(&path, &toml::to_string(&kept)?)?;
    }
    Ok(tokens)
}

type Kept = BTreeMap<String, BTreeMap<Role, String>>;

fn read_kept(path: &Path) -> anyhow::Result<Kept> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("invalid tokens file {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes `text` to `path`, readable and writable by the owner only.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_kept_across_restarts_and_configured_ones_win() {
        let dir = tempfile::tempdir().unwrap();
        let events = vec!["forum".to_owned()];
        let first = load_or_create(dir.path(), &HashMap::new(), &events).unwrap();
        let again = load_or_create(dir.path(), &HashMap::new(), &events).unwrap();
        assert_eq!(first["forum"].token(Role::Attendee), again["forum"].token(Role::Attendee));
        assert_eq!(first["forum"].token(Role::Attendee).len(), 32);

        let configured =
            HashMap::from([("forum".to_owned(), HashMap::from([(Role::Moderator, "chair-secret".to_owned())]))]);
        let tokens = load_or_create(dir.path(), &configured, &events).unwrap();
        assert_eq!(tokens["forum"].role_of("chair-secret"), Some(Role::Moderator));
        assert_eq!(tokens["forum"].token(Role::Av), first["forum"].token(Role::Av));
    }

    #[test]
    fn the_rooms_token_is_kept_across_restarts_and_a_configured_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let first = rooms_token(dir.path(), None).unwrap();
        assert_eq!(first.as_str().len(), 32);
        assert!(rooms_token(dir.path(), None).unwrap().grants(first.as_str()));
        let configured = rooms_token(dir.path(), Some("hall-secret")).unwrap();
        assert!(configured.grants("hall-secret"));
        assert!(!configured.grants(first.as_str()));
        assert!(!configured.grants("hall-secre"));
        assert!(rooms_token(dir.path(), Some(" ")).is_err());
    }

    #[test]
    fn every_role_gets_a_distinct_token_and_near_misses_grant_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = load_or_create(dir.path(), &HashMap::new(), &["forum".to_owned()]).unwrap();
        let forum = &tokens["forum"];
        for role in Role::ALL {
            assert_eq!(forum.role_of(forum.token(role)), Some(role));
        }
        let attendee = forum.token(Role::Attendee);
        assert_eq!(forum.role_of(&attendee[..31]), None);
        assert_eq!(forum.role_of(""), None);
    }
}
