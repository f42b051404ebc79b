//! The screens a chair manages from the console (docs/protocol.md, "Screens"): what a
//! screen's hello says of its page and view, what the list of screens shows, and the
//! directives a chair sends one screen (show your name, take this name, change your view).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::cues::CrewPosition;
use crate::domain::text::{self, Lang};
use crate::domain::{Millis, Role};

/// How long a screen shows its name when identified.
pub const IDENTIFY_MS: Millis = 5_000;

/// One screen as the chair's list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScreenEntry {
    /// The connection: what a directive names.
    pub screen: u64,
    pub name: String,
    pub role: Role,
    pub page: String,
    pub lang: Lang,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub crew: Vec<CrewPosition>,
    pub view: BTreeMap<String, String>,
    /// The client's address, as the server sees it.
    pub address: String,
    pub since: Millis,
}

/// What a chair tells one screen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Directive {
    /// Show your name big, for `ms`.
    Identify { name: String, ms: Millis },
    /// Take this name from now on.
    Rename { name: String },
    /// Open your page (or `page`, another of your role's) with these view settings; a
    /// setting left out keeps yours, one given empty drops it.
    View {
        #[serde(skip_serializing_if = "Option::is_none")]
        page: Option<String>,
        view: BTreeMap<String, String>,
    },
}

/// A typed screen name, under the text policy of every typed name.
pub fn screen_name(name: &str) -> Result<String, String> {
    text::DisplayName::parse(name).map(|n| n.as_str().to_owned()).map_err(|e| format!("name {e}"))
}
