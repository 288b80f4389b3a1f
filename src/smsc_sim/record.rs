//! `--record FILE`: one JSON line per accepted `submit_sm`, appended as it is accepted, so that
//! a test running the simulator in its own process (the crash loop, scripts/crash-loop.sh) can
//! count what reached the "operator": `{"message_id":"1A2B","destination":"255712345678"}`.
//!
//! The message text is left out on purpose: it holds a code, and the record is for counting
//! messages per recipient, not for reading them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

#[derive(Debug)]
pub struct Recorder {
    file: Mutex<File>,
}

impl Recorder {
    /// Opens `path` for appending (created if missing): a simulator restarted on the same
    /// file adds to it.
    pub fn open(path: &Path) -> std::io::Result<Recorder> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Recorder {
            file: Mutex::new(file),
        })
    }

    /// Appends one accepted message. Each line is one `write` on an append-mode file, so
    /// lines never interleave, and it is in the file (the page cache) before the
    /// `submit_sm_resp` goes out: a client that saw the response finds the line.
    pub fn accepted(&self, message_id: &str, destination: &str) {
        let line = serde_json::json!({ "message_id": message_id, "destination": destination });
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = file.write_all(format!("{line}\n").as_bytes()) {
            tracing::warn!(error = %e, "smsc-sim: cannot write to the --record file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_appended_as_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.jsonl");
        Recorder::open(&path)
            .unwrap()
            .accepted("1A", "255712345678");
        Recorder::open(&path)
            .unwrap()
            .accepted("1B", "255712345679");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["message_id"], "1A");
        assert_eq!(lines[1]["destination"], "255712345679");
    }
}
