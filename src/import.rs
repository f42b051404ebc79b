//! The `eventhub import` command: sends a plan file to a running server's
//! `POST /api/events/{event}/plan` and says what it changed, would change, or why not. A
//! blocking client; it shares no state with the server beyond the HTTP API.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::sheet::MAX_FILE_BYTES;

/// What to import, where, and how far to go.
pub struct Import {
    pub file: PathBuf,
    pub event: String,
    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    pub token: String,
    pub apply: bool,
    pub force: bool,
}

/// How the command ended, as its exit code says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Done = 0,
    /// The file has errors; nothing changed.
    FileErrors = 1,
    /// The server refused (live without force, a conflict, the token) or was not reached.
    Refused = 2,
}

#[derive(Deserialize)]
struct Answer {
    applied: bool,
    plan_version: u64,
    differences: Vec<String>,
}

#[derive(Deserialize)]
struct Refusal {
    code: String,
    message: String,
    #[serde(default)]
    errors: Vec<FileError>,
}

#[derive(Deserialize)]
struct FileError {
    row: Option<usize>,
    column: Option<String>,
    message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.row, &self.column) {
            (Some(row), Some(column)) => write!(f, "row {row}, {column}: {}", self.message),
            (Some(row), None) => write!(f, "row {row}: {}", self.message),
            (None, Some(column)) => write!(f, "{column}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// The content type a file's extension names; others are left to the server to sniff.
fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => "text/csv",
        Some("xlsx") => crate::sheet::XLSX,
        Some("toml") => "application/toml",
        _ => "application/octet-stream",
    }
}

/// The file's bytes, refused from its size alone when it is past what the server takes,
/// so that a huge file is never read into memory; read through a bound as well, since the
/// file may grow between the size check and the read.
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let limit = MAX_FILE_BYTES as u64;
    let too_large = format!(
        "{} is larger than {} MiB, the most a plan file may be; nothing was sent",
        path.display(),
        MAX_FILE_BYTES / 1024 / 1024
    );
    let unreadable = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let file = File::open(path).map_err(unreadable)?;
    if file.metadata().map_err(unreadable)?.len() > limit {
        return Err(too_large);
    }
    let mut body = Vec::new();
    file.take(limit + 1).read_to_end(&mut body).map_err(unreadable)?;
    if body.len() as u64 > limit {
        return Err(too_large);
    }
    Ok(body)
}

/// Runs the import, writing what happened to `out` and what went wrong to `err`.
pub fn run(import: &Import, out: &mut impl Write, err: &mut impl Write) -> Ended {
    let body = match read_bounded(&import.file) {
        Ok(body) => body,
        Err(message) => {
            let _ = writeln!(err, "{message}");
            return Ended::FileErrors;
        }
    };
    let url = format!("{}/api/events/{}/plan", import.server.trim_end_matches('/'), import.event);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = agent
        .post(&url)
        .header("Content-Type", content_type(&import.file))
        .header("Authorization", format!("Bearer {}", import.token));
    if import.apply {
        request = request.query("apply", "true");
    }
    if import.force {
        request = request.query("force", "true");
    }
    let mut response = match request.send(&body[..]) {
        Ok(response) => response,
        Err(e) => {
            let _ = writeln!(err, "cannot reach the server at {}: {e}; is `eventhub` running?", import.server);
            return Ended::Refused;
        }
    };
    let status = response.status();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    if status.is_success() {
        let Ok(answer) = serde_json::from_str::<Answer>(&text) else {
            let _ = writeln!(err, "the server answered {status} with {text:?}, not an import answer");
            return Ended::Refused;
        };
        for line in &answer.differences {
            let _ = writeln!(out, "{line}");
        }
        if answer.differences.is_empty() {
            let _ = writeln!(out, "no differences from the current plan");
        }
        if answer.applied {
            let _ = writeln!(out, "applied: plan version {}", answer.plan_version);
        } else {
            let _ = writeln!(out, "dry run: nothing changed; add --apply");
        }
        return Ended::Done;
    }
    let Ok(refusal) = serde_json::from_str::<Refusal>(&text) else {
        let _ = writeln!(err, "the server answered {status}: {text}");
        return Ended::Refused;
    };
    let _ = writeln!(err, "{}: {}", refusal.code, refusal.message);
    for error in &refusal.errors {
        let _ = writeln!(err, "{error}");
    }
    match refusal.code.as_str() {
        "invalid_file" | "too_large" | "unsupported_media_type" => Ended::FileErrors,
        "invalid_state" if !import.force => {
            let _ = writeln!(err, "add --force to replace the plan of a live show");
            Ended::Refused
        }
        _ => Ended::Refused,
    }
}
