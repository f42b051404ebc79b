//! The screens a chair manages (docs/protocol.md, "Screens"): the list of joined screens and
//! a directive written to one of them, which the screen's page acts on by itself.

use super::{ConnId, Hub};
use crate::protocol::{encode, Directive, ScreenEntry, ServerFrame};

impl Hub {
    /// Every joined screen, in the order they joined.
    pub(super) fn screens(&self) -> Vec<ScreenEntry> {
        let mut screens: Vec<ScreenEntry> = self
            .members
            .iter()
            .filter_map(|member| {
                let screen = member.screen.as_ref()?;
                let actor = &member.actor;
                Some(ScreenEntry {
                    screen: member.conn,
                    name: actor.name.clone(),
                    role: actor.role,
                    page: screen.setup.page.clone(),
                    lang: actor.lang,
                    crew: actor.crew.clone(),
                    view: screen.setup.view.clone(),
                    address: screen.address.clone(),
                    since: screen.since,
                })
            })
            .collect();
        screens.sort_by_key(|s| (s.since, s.screen));
        screens
    }

    /// Writes `directive` to screen `conn`; false when no such screen is joined.
    pub(super) fn direct(&self, conn: ConnId, directive: &Directive) -> bool {
        let is_screen = self.members.get(conn).is_some_and(|member| member.screen.is_some());
        is_screen && self.members.deliver(conn, &encode(&ServerFrame::Directive { directive }))
    }
}
