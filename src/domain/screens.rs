//! The screens a chair manages: which pages are screens, by the role that opens them, and
//! the view settings their addresses carry (`&speaker=1&lang=ja`), checked the same way in a
//! screen's hello, a chair's directive and the event file's short links.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use std::collections::HashSet;

use super::actor::Role;
use super::text::DisplayName;

/// The pages that are screens, by the role whose token opens them.
pub const SCREEN_PAGES: [(&str, Role); 4] =
    [("stage", Role::Speaker), ("cues", Role::Av), ("captions", Role::Display), ("wall", Role::Display)];
/// The settings of a screen's view, as its address carries them (`&speaker=1&lang=ja`).
pub const VIEW_KEYS: [&str; 6] = ["lang", "speaker", "captions", "tracks", "crew", "second"];
const MAX_VIEW_VALUE_CHARS: usize = 64;
/// Short links an event file may hold.
pub const MAX_SHORT_LINKS: usize = 50;

/// A screen's page and view, checked: a page its role opens, known view keys with short
/// values. Anything else is refused, so that a directive never carries a stranger's text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenSetup {
    pub page: String,
    pub view: BTreeMap<String, String>,
}

impl ScreenSetup {
    pub fn parse(role: Role, page: &str, view: BTreeMap<String, String>) -> Result<Self, String> {
        if !SCREEN_PAGES.contains(&(page, role)) {
            return Err(format!("page {page:?} is not a screen a {} token opens", role.as_str()));
        }
        Ok(ScreenSetup { page: page.to_owned(), view: checked_view(view)? })
    }
}

/// View settings: known keys, values of at most 64 printable characters, no `&`, `=` or `#`
/// (they go into a page's address).
pub fn checked_view(view: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    for (key, value) in &view {
        if !VIEW_KEYS.contains(&key.as_str()) {
            return Err(format!("view {key:?} is not one of {}", VIEW_KEYS.join(", ")));
        }
        let printable = !value.chars().any(|c| c.is_control() || matches!(c, '&' | '=' | '#' | '%'));
        if value.chars().count() > MAX_VIEW_VALUE_CHARS || !printable {
            return Err(format!("view {key}: at most {MAX_VIEW_VALUE_CHARS} printable characters, without & = # %"));
        }
    }
    Ok(view)
}

/// A short link of the event file (`/s/lectern`): an unattended screen's page and view,
/// opened with its role's token, under a name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShortLink {
    pub id: String,
    pub page: String,
    pub name: Option<String>,
    #[serde(default)]
    pub view: BTreeMap<String, String>,
}

impl ShortLink {
    /// The role whose token opens the link's page.
    pub fn role(&self) -> Option<Role> {
        SCREEN_PAGES.iter().find(|(page, _)| *page == self.page).map(|(_, role)| *role)
    }
}

/// Short links checked: at most [`MAX_SHORT_LINKS`], each with a unique id (1–64 letters,
/// digits, `-`, `_`), a screen's page, known view settings and a name under the text policy.
pub fn checked(links: Vec<ShortLink>) -> Result<Vec<ShortLink>, String> {
    if links.len() > MAX_SHORT_LINKS {
        return Err(format!("an event has at most {MAX_SHORT_LINKS} short links"));
    }
    let mut ids = HashSet::new();
    links
        .into_iter()
        .map(|link| {
            let id_ok = (1..=64).contains(&link.id.len())
                && link.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !id_ok || !ids.insert(link.id.clone()) {
                return Err(format!(
                    "short link id {:?} must be 1-64 letters, digits, '-' or '_', and unique",
                    link.id
                ));
            }
            let role = link
                .role()
                .ok_or_else(|| format!("short link {:?}: {:?} is not a screen's page", link.id, link.page))?;
            let setup = ScreenSetup::parse(role, &link.page, link.view)
                .map_err(|e| format!("short link {:?}: {e}", link.id))?;
            let name = match link.name {
                Some(name) => Some(
                    DisplayName::parse(&name)
                        .map_err(|e| format!("short link {:?}: name {e}", link.id))?
                        .as_str()
                        .to_owned(),
                ),
                None => None,
            };
            Ok(ShortLink { view: setup.view, name, ..link })
        })
        .collect()
}
