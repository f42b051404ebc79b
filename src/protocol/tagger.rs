//! Public tags for participant ids: a client matches them against its own `you.who`, and
//! nobody learns another's id.

/// Turns participant ids, which act as a person's key across tabs and are never broadcast,
/// into public tags that a client can match against its own `you.who`.
#[derive(Clone, Debug)]
pub struct Tagger {
    namespace: uuid::Uuid,
}

impl Tagger {
    pub fn new(epoch: &str) -> Self {
        let namespace =
            uuid::Uuid::parse_str(epoch).unwrap_or_else(|_| uuid::Uuid::new_v5(&uuid::Uuid::nil(), epoch.as_bytes()));
        Tagger { namespace }
    }

    pub fn who(&self, participant: &str) -> String {
        let tag = uuid::Uuid::new_v5(&self.namespace, participant.as_bytes()).simple().to_string();
        tag[..16].to_owned()
    }
}
