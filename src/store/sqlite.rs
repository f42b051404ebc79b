//! The embedded default store: one SQLite file in the data dir, in WAL mode with full
//! synchronous commits, so that a commit survives a crash of the process or the machine.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use super::{Append, Applied, AtMost, Backend, LogEntry, StoreError, StoredEvent};
use crate::domain::presence::{Sample, HISTORY_LEN};
use crate::domain::{EventState, Millis};

pub const FILE_NAME: &str = "eventhub.db";
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, state TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS changes (
    event TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,
    actor TEXT NOT NULL, change TEXT NOT NULL, command TEXT,
    PRIMARY KEY (event, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attendance (
    event TEXT NOT NULL, at INTEGER NOT NULL, in_room INTEGER NOT NULL, remote INTEGER NOT NULL,
    PRIMARY KEY (event, at)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    event TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (event, seq)) WITHOUT ROWID;
";

pub struct SqliteBackend {
    conn: Connection,
    epoch: String,
}

/// The database file could not be used as it is; the message says what to do.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database file {path} is damaged or is not an eventhub database ({reason}). \
     Restore it from a backup (see docs/operations.md), or move it aside to start with an empty log; \
     the events in config/events are then seeded again"
)]
pub struct Damaged {
    pub path: PathBuf,
    pub reason: String,
}

impl SqliteBackend {
    /// Opens (or creates) the store in `data_dir` and checks that it is sound.
    pub fn open(data_dir: &Path) -> Result<Self, Damaged> {
        let path = data_dir.join(FILE_NAME);
        let damaged = |reason: String| Damaged { path: path.clone(), reason };
        let conn = Connection::open(&path).map_err(|e| damaged(e.to_string()))?;
        let epoch = prepare(&conn).map_err(|e| damaged(e.to_string()))?;
        Ok(SqliteBackend { conn, epoch })
    }
}

impl SqliteBackend {
    /// Each stored event's id with its state as it was created (before any change) and
    /// whether it is archived, for moving the store into a cluster.
    pub fn created_events(&mut self) -> Result<Vec<(EventState, bool)>, StoreError> {
        let mut query = self.conn.prepare("SELECT state, archived FROM events ORDER BY created_at, id")?;
        let rows = query.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, bool>(1)?)))?;
        let mut events = Vec::new();
        for row in rows {
            let (state, archived) = row?;
            events.push((serde_json::from_str(&state)?, archived));
        }
        Ok(events)
    }
}

/// Sets the pragmas, checks integrity, creates the schema and returns the epoch.
fn prepare(conn: &Connection) -> Result<String, StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError(format!("cannot switch to WAL mode (got {mode})")));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
    if check != "ok" {
        return Err(StoreError(format!("integrity check failed: {check}")));
    }
    conn.execute_batch(SCHEMA)?;
    let schema: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |row| row.get(0)).optional()?;
    match schema.as_deref() {
        Some(v) if v == SCHEMA_VERSION.to_string() => {}
        // Version 1 did not keep the command id of a change, and version 2 did not know
        // archived events; each step runs in one transaction.
        Some("1") => {
            conn.execute_batch(
                "BEGIN; ALTER TABLE changes ADD COLUMN command TEXT; \
                 ALTER TABLE events ADD COLUMN archived INTEGER NOT NULL DEFAULT 0; \
                 UPDATE meta SET value = '3' WHERE key = 'schema'; COMMIT;",
            )?;
        }
        Some("2") => {
            conn.execute_batch(
                "BEGIN; ALTER TABLE events ADD COLUMN archived INTEGER NOT NULL DEFAULT 0; \
                 UPDATE meta SET value = '3' WHERE key = 'schema'; COMMIT;",
            )?;
        }
        Some(v) => return Err(StoreError(format!("schema version {v}, but this server reads {SCHEMA_VERSION}"))),
        None => {
            conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?1)", [SCHEMA_VERSION.to_string()])?;
        }
    }
    let epoch: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |row| row.get(0)).optional()?;
    Ok(match epoch {
        Some(epoch) => epoch,
        None => {
            let epoch = uuid::Uuid::new_v4().to_string();
            conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?1)", [&epoch])?;
            epoch
        }
    })
}

type Row = (u64, i64, String, String, Option<String>);

fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
}

fn decode((seq, at, actor, change, command): Row) -> Result<LogEntry, StoreError> {
    Ok(LogEntry { seq, at, actor: serde_json::from_str(&actor)?, command, change: serde_json::from_str(&change)? })
}

impl SqliteBackend {
    fn entries_after(&self, event: &str, after: u64) -> Result<Vec<LogEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, at, actor, change, command FROM changes WHERE event = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![event, after], entry)?;
        rows.map(|row| decode(row?)).collect()
    }

    /// The latest changes since `since` that carry a command id, as one [`Applied`] per
    /// command (its last change), oldest first.
    fn applied_since(&self, event: &str, since: Millis, max: AtMost) -> Result<Vec<Applied>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, at, actor, change, command FROM changes \
             WHERE event = ?1 AND at >= ?2 AND command IS NOT NULL ORDER BY seq DESC LIMIT ?3",
        )?;
        // A row holds one command, or a batch of votes: this many rows hold all that is kept.
        let rows_needed = max.commands.saturating_add(max.votes).min(i64::MAX as usize) as i64;
        let rows = stmt.query_map(params![event, since, rows_needed], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
        })?;
        // Newest first: the first row of a command is its last change.
        let entries = rows.map(|row| decode(row?)).collect::<Result<Vec<_>, _>>()?;
        Ok(Applied::of(entries.iter(), max))
    }

    fn load_one(
        &self,
        (id, created, archived): &(String, String, bool),
        recent: usize,
        since: Millis,
        max_applied: AtMost,
    ) -> Result<StoredEvent, StoreError> {
        let snapshot: Option<(u64, String)> = self
            .conn
            .query_row("SELECT seq, state FROM snapshots WHERE event = ?1 ORDER BY seq DESC LIMIT 1", [id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        let (mut seq, state) = snapshot.unwrap_or((0, created.to_owned()));
        let mut state: EventState = serde_json::from_str(&state)?;
        let tail = self.entries_after(id, seq)?;
        for entry in &tail {
            if entry.seq != seq + 1 {
                return Err(StoreError(format!("event {id}: the log jumps from seq {seq} to {}", entry.seq)));
            }
            state.evolve(&entry.change);
            seq = entry.seq;
        }
        let recent = self.entries_after(id, seq.saturating_sub(recent as u64))?;
        let attendance = self.read_attendance(id)?;
        let applied = self.applied_since(id, since, max_applied)?;
        Ok(StoredEvent { state, seq, recent, attendance, applied, archived: *archived, position: 0, epoch: None })
    }
}

impl SqliteBackend {
    fn read_attendance(&self, event: &str) -> Result<Vec<Sample>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at, in_room, remote FROM attendance WHERE event = ?1 ORDER BY at DESC LIMIT ?2")?;
        let rows = stmt.query_map(params![event, HISTORY_LEN as i64], |row| {
            Ok(Sample { at: row.get(0)?, in_room: row.get(1)?, remote: row.get(2)? })
        })?;
        let mut samples = rows.collect::<Result<Vec<_>, _>>()?;
        samples.reverse();
        Ok(samples)
    }
}

impl Backend for SqliteBackend {
    fn epoch(&self) -> &str {
        &self.epoch
    }

    fn load(&mut self, recent: usize, since: Millis, max_applied: AtMost) -> Result<Vec<StoredEvent>, StoreError> {
        let events: Vec<(String, String, bool)> = {
            let mut stmt = self.conn.prepare("SELECT id, state, archived FROM events ORDER BY id")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        events.iter().map(|event| self.load_one(event, recent, since, max_applied)).collect()
    }

    fn create(&mut self, state: &EventState) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO events (id, created_at, state) VALUES (?1, ?2, ?3)",
            params![state.show.event.id, crate::clock::now_millis(), serde_json::to_string(state)?],
        )?;
        Ok(())
    }

    fn archive(&mut self, event: &str) -> Result<(), StoreError> {
        match self.conn.execute("UPDATE events SET archived = 1 WHERE id = ?1", [event])? {
            1 => Ok(()),
            _ => Err(StoreError(format!("no stored event {event:?}"))),
        }
    }

    fn append(&mut self, batch: &[Append]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO changes (event, seq, at, actor, change, command) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for append in batch {
                for e in &append.entries {
                    let actor = serde_json::to_string(&e.actor)?;
                    let change = serde_json::to_string(&e.change)?;
                    insert.execute(params![append.event, e.seq, e.at, actor, change, e.command])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn snapshot(&mut self, event: &str, seq: u64, state: &EventState) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO snapshots (event, seq, state) VALUES (?1, ?2, ?3)",
            params![event, seq, serde_json::to_string(state)?],
        )?;
        tx.execute("DELETE FROM snapshots WHERE event = ?1 AND seq < ?2", params![event, seq])?;
        tx.commit()?;
        Ok(())
    }

    fn read_log(&mut self, event: &str) -> Result<Vec<LogEntry>, StoreError> {
        self.entries_after(event, 0)
    }

    fn record_attendance(&mut self, event: &str, sample: Sample) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO attendance (event, at, in_room, remote) VALUES (?1, ?2, ?3, ?4)",
            params![event, sample.at, sample.in_room, sample.remote],
        )?;
        Ok(())
    }

    fn attendance(&mut self, event: &str) -> Result<Vec<Sample>, StoreError> {
        self.read_attendance(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_event;
    use crate::domain::text::{Lang, Mode};
    use crate::domain::{Actor, Command, Role};

    fn demo() -> EventState {
        let text = include_str!("../../config/events/sjtu-forum.toml");
        EventState::new(parse_event(text, "2022-01-04T00:00:00Z".parse().unwrap()).unwrap())
    }

    fn chair() -> Actor {
        Actor {
            participant: "p1".into(),
            name: "Ji Weidong".into(),
            role: Role::Moderator,
            mode: Mode::InRoom,
            lang: Lang::Zh,
            affiliation: None,
            crew: vec![],
        }
    }

    /// Applies `n` alternating hold/resume commands after a start; returns their log entries.
    fn run(state: &mut EventState, from_seq: u64, n: usize) -> Vec<LogEntry> {
        let mut entries = Vec::new();
        for k in 0..n {
            let version = state.live.version;
            let command = match (version, state.live.held_since) {
                (0, _) => Command::Next { version },
                (_, None) => Command::Hold { version },
                (_, Some(_)) => Command::Resume { version },
            };
            let at = 1_000 + k as i64;
            for change in state.apply(&command, &chair(), at).unwrap() {
                let seq = from_seq + entries.len() as u64 + 1;
                entries.push(LogEntry { seq, at, actor: chair(), command: Some(format!("c{seq}")), change });
            }
        }
        entries
    }

    #[test]
    fn appended_changes_and_snapshots_rebuild_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = demo();
        let epoch = {
            let mut store = SqliteBackend::open(dir.path()).unwrap();
            store.create(&state).unwrap();
            let first = run(&mut state, 0, 5);
            store.append(&[Append { event: "sjtu-forum".into(), entries: first }]).unwrap();
            store.snapshot("sjtu-forum", 5, &state).unwrap();
            let second = run(&mut state, 5, 4);
            store.append(&[Append { event: "sjtu-forum".into(), entries: second }]).unwrap();
            store.epoch().to_owned()
        };
        let mut store = SqliteBackend::open(dir.path()).unwrap();
        assert_eq!(store.epoch(), epoch, "the epoch survives a reopen");
        let loaded = store.load(3, 0, AtMost { commands: 100, votes: 100 }).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].seq, 9);
        assert_eq!(loaded[0].state, state);
        let recent: Vec<u64> = loaded[0].recent.iter().map(|e| e.seq).collect();
        assert_eq!(recent, [7, 8, 9]);
        assert_eq!(store.read_log("sjtu-forum").unwrap().len(), 9);
        let applied: Vec<(u64, &str)> = loaded[0].applied.iter().map(|a| (a.seq, a.command.as_str())).collect();
        assert_eq!(applied.len(), 9, "every command's id is kept with its seq");
        assert_eq!(applied[8], (9, "c9"));
    }

    #[test]
    fn a_failed_batch_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteBackend::open(dir.path()).unwrap();
        let mut state = demo();
        store.create(&state).unwrap();
        let entries = run(&mut state, 0, 2);
        let duplicate = entries[0].clone();
        let batch =
            [Append { event: "sjtu-forum".into(), entries: vec![entries[0].clone(), entries[1].clone(), duplicate] }];
        assert!(store.append(&batch).is_err());
        assert!(store.read_log("sjtu-forum").unwrap().is_empty());
    }

    #[test]
    fn a_version_1_database_is_migrated_and_keeps_its_epoch() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
            let v1 = SCHEMA.replace(", command TEXT", "").replace(ARCHIVED_COLUMN, "");
            conn.execute_batch(&v1).unwrap();
            conn.execute_batch(
                "INSERT INTO meta VALUES ('schema', '1'); INSERT INTO meta VALUES ('epoch', 'old-epoch');",
            )
            .unwrap();
        }
        let mut store = SqliteBackend::open(dir.path()).unwrap();
        assert_eq!(store.epoch(), "old-epoch");
        let mut state = demo();
        store.create(&state).unwrap();
        let entries = run(&mut state, 0, 1);
        store.append(&[Append { event: "sjtu-forum".into(), entries }]).unwrap();
        assert_eq!(store.read_log("sjtu-forum").unwrap()[0].command.as_deref(), Some("c1"));
        drop(store);
        assert!(SqliteBackend::open(dir.path()).is_ok(), "a migrated file opens again");
    }

    const ARCHIVED_COLUMN: &str = ",\n    archived INTEGER NOT NULL DEFAULT 0";

    #[test]
    fn a_version_2_database_is_migrated_and_its_events_are_not_archived() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
            assert!(SCHEMA.contains(ARCHIVED_COLUMN));
            conn.execute_batch(&SCHEMA.replace(ARCHIVED_COLUMN, "")).unwrap();
            conn.execute_batch("INSERT INTO meta VALUES ('schema', '2'); INSERT INTO meta VALUES ('epoch', 'e2');")
                .unwrap();
            let state = serde_json::to_string(&demo()).unwrap();
            conn.execute("INSERT INTO events (id, created_at, state) VALUES ('sjtu-forum', 0, ?1)", [state]).unwrap();
        }
        let mut store = SqliteBackend::open(dir.path()).unwrap();
        assert_eq!(store.epoch(), "e2");
        let loaded = store.load(3, 0, AtMost { commands: 100, votes: 100 }).unwrap();
        assert!(!loaded[0].archived, "events from before archiving existed are running ones");
        store.archive("sjtu-forum").unwrap();
        drop(store);
        let mut store = SqliteBackend::open(dir.path()).unwrap();
        assert!(
            store.load(3, 0, AtMost { commands: 100, votes: 100 }).unwrap()[0].archived,
            "the archived flag is durable"
        );
    }

    #[test]
    fn archiving_an_unknown_event_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteBackend::open(dir.path()).unwrap();
        assert!(store.archive("nope").is_err());
    }

    #[test]
    fn a_new_file_gets_a_new_epoch() {
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        let a = SqliteBackend::open(one.path()).unwrap().epoch().to_owned();
        let b = SqliteBackend::open(two.path()).unwrap().epoch().to_owned();
        assert_ne!(a, b);
    }

    #[test]
    fn garbage_in_place_of_the_database_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), vec![0x5a; 8192]).unwrap();
        let err = SqliteBackend::open(dir.path()).err().expect("garbage is refused").to_string();
        assert!(err.contains(FILE_NAME), "{err}");
        assert!(err.contains("backup"), "{err}");
    }
}
