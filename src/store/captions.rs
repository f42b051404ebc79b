//! Caption lines, durably, in a SQLite file of their own (`captions.sqlite`): apart from
//! the change log, so that a captioner's several lines a second never wait behind, or
//! hold up, the show's commits. Each write is its own transaction, synced before it
//! returns.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use rusqlite::{params, Connection};

use crate::domain::captions::{Line, Track, TrackState, RECENT_LINES};

const FILE_NAME: &str = "captions.sqlite";

pub struct CaptionStore {
    conn: Mutex<Connection>,
}

impl CaptionStore {
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(FILE_NAME);
        let conn = Connection::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS lines (
                event TEXT NOT NULL, track TEXT NOT NULL, seq INTEGER NOT NULL, line TEXT NOT NULL,
                PRIMARY KEY (event, track, seq)
            ) WITHOUT ROWID;",
        )
        .context("cannot create the captions table")?;
        Ok(CaptionStore { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a final line; blocking: call it off the runtime's threads.
    pub fn append(&self, event: &str, line: &Line) -> anyhow::Result<()> {
        let json = serde_json::to_string(line)?;
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO lines (event, track, seq, line) VALUES (?1, ?2, ?3, ?4)",
                params![event, line.track.as_str(), line.seq, json],
            )
            .context("cannot store a caption line")?;
        Ok(())
    }

    /// Every line of one track, oldest first.
    pub fn lines(&self, event: &str, track: Track) -> anyhow::Result<Vec<Line>> {
        let conn = self.conn();
        let mut query = conn.prepare("SELECT line FROM lines WHERE event = ?1 AND track = ?2 ORDER BY seq")?;
        let rows = query.query_map(params![event, track.as_str()], |row| row.get::<_, String>(0))?;
        rows.map(|json| Ok(serde_json::from_str(&json?)?)).collect()
    }

    /// Each track of an event as the hub starts with it: its last seq and latest lines.
    pub fn tracks(&self, event: &str) -> anyhow::Result<BTreeMap<Track, TrackState>> {
        let conn = self.conn();
        let mut query = conn.prepare(
            "SELECT line FROM (SELECT seq, line FROM lines WHERE event = ?1 AND track = ?2 ORDER BY seq DESC LIMIT ?3)
             ORDER BY seq",
        )?;
        let mut tracks = BTreeMap::new();
        for track in Track::ALL {
            let rows = query.query_map(params![event, track.as_str(), RECENT_LINES], |row| row.get::<_, String>(0))?;
            let lines: Vec<Line> = rows.map(|json| Ok(serde_json::from_str(&json?)?)).collect::<anyhow::Result<_>>()?;
            if !lines.is_empty() {
                tracks.insert(track, TrackState::restored(lines));
            }
        }
        Ok(tracks)
    }
}
