//! What opening the store had to repair after a crash.

use std::path::{Path, PathBuf};

/// Whether the write-ahead log beside `db` ends in a torn frame (a crash mid-write): SQLite
/// ignores such a tail when it opens the file; this says how much was dropped.
pub(super) fn torn_tail(db: &Path) -> Option<String> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let wal_len = std::fs::metadata(PathBuf::from(&wal)).ok()?.len();
    if wal_len == 0 {
        return None;
    }
    let header = std::fs::read(db).ok().filter(|h| h.len() >= 18)?;
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => n as u64,
    };
    let frame = 24 + page_size;
    let torn = wal_len
        .checked_sub(32)
        .map_or(wal_len, |frames| frames % frame);
    (torn != 0).then(|| {
        format!(
            "the durable store's log ended in a torn write of {torn} bytes (a crash mid-write); it was dropped and every queue resumes from the last complete commit"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_data::{batch, id};
    use super::super::{DurableStore, FILE_NAME};

    #[tokio::test]
    async fn a_torn_log_tail_is_dropped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = DurableStore::open(dir.path()).unwrap();
            store
                .append(vec![(id("mdi"), batch(0, 5))], None)
                .await
                .unwrap();
            // Keep the WAL (a crash leaves it; a clean close would checkpoint it away).
            std::mem::forget(store);
        }
        let wal = dir.path().join(format!("{FILE_NAME}-wal"));
        let mut bytes = std::fs::read(&wal).unwrap();
        let good = bytes.len();
        bytes.extend_from_slice(&[0xA5; 700]); // half a frame of garbage
        std::fs::write(&wal, &bytes).unwrap();
        let store = DurableStore::open(dir.path()).unwrap();
        let recovery = store.recovery().expect("the torn tail is reported");
        assert!(
            recovery.contains("torn write of 700 bytes"),
            "{recovery} (wal was {good} bytes)"
        );
        let (_, batch) = store.front(&id("mdi")).await.unwrap().unwrap();
        assert_eq!(batch.records.len(), 5, "the last complete commit is intact");
    }
}
