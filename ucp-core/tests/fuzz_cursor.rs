//! Cursors under arbitrary input (issue 12, item 6).
//!
//! A cursor is an opaque string a source hands the platform (Okta's `next` link, a page
//! token, a timestamp) and gets back after a restart. Inputs covered:
//! - any cursor (the start, the empty string, any Unicode text including NUL and `<start>`)
//!   round trips through its JSON form and through every checkpoint store: in memory, the
//!   JSON checkpoint file (reopened from disk) and the durable SQLite store (reopened);
//! - arbitrary bytes as a cursor's JSON form and as the checkpoint file's content: a cursor,
//!   or a typed error naming the file, never a panic.
//!
//! Stream names may hold `/` and `%`: the checkpoint file escapes them in its keys, so
//! `("a/b", "c")` and `("a", "b/c")` keep their own entries.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use ucp_core::store::{
    CheckpointError, CheckpointStore, DurableStore, FileCheckpoints, MemoryCheckpoints,
};
use ucp_core::{Cursor, StreamKey};

fn cursor() -> impl Strategy<Value = Cursor> {
    prop_oneof![
        Just(Cursor::start()),
        select(vec![
            "",
            "<start>",
            "null",
            "\0",
            "https://contoso.okta.com/api/v1/logs?after=1_2&limit=1000",
            "\"quoted\"",
            "line\nbreak",
        ])
        .prop_map(Cursor::new),
        any::<String>().prop_map(Cursor::new),
    ]
}

/// Source and stream names, slashes and percent signs included.
fn name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9_.-]{1,12}", ".{0,12}", "[a/%]{1,6}"]
}

fn positions() -> impl Strategy<Value = Vec<(StreamKey, Cursor)>> {
    btree_map((name(), name()), cursor(), 1..4).prop_map(|m| {
        m.into_iter()
            .map(|((source, stream), c)| (StreamKey::new(source, stream), c))
            .collect()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn save_all(store: &dyn CheckpointStore, positions: &[(StreamKey, Cursor)]) {
    for (stream, cursor) in positions {
        store.save(stream, cursor).await.expect("saved");
    }
}

async fn assert_all(store: &dyn CheckpointStore, positions: &[(StreamKey, Cursor)]) {
    for (stream, cursor) in positions {
        assert_eq!(
            store.load(stream).await.expect("loaded").as_ref(),
            Some(cursor),
            "{stream}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_cursor_round_trips_through_json(cursor in cursor()) {
        let text = serde_json::to_string(&cursor).unwrap();
        let back: Cursor = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back.as_str(), cursor.as_str());
        prop_assert_eq!(back.is_start(), cursor.is_start());
        prop_assert_eq!(back, cursor);
    }

    #[test]
    fn any_bytes_as_a_cursor_are_a_cursor_or_an_error(bytes in vec(any::<u8>(), 0..128)) {
        if let Ok(cursor) = serde_json::from_slice::<Cursor>(&bytes) {
            let again: Cursor = serde_json::from_str(&serde_json::to_string(&cursor).unwrap()).unwrap();
            prop_assert_eq!(again, cursor);
        }
    }

    #[test]
    fn any_cursor_round_trips_through_the_memory_store(positions in positions()) {
        runtime().block_on(async {
            let store = MemoryCheckpoints::new();
            save_all(&store, &positions).await;
            assert_all(&store, &positions).await;
        });
    }
}

proptest! {
    // Every save writes and flushes a file: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_cursor_round_trips_through_the_checkpoint_file(positions in positions()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.json");
        runtime().block_on(async {
            let store = FileCheckpoints::open(&path).await.unwrap();
            save_all(&store, &positions).await;
            assert_all(&store, &positions).await;
            drop(store);
            assert_all(&FileCheckpoints::open(&path).await.unwrap(), &positions).await;
        });
    }

    #[test]
    fn any_cursor_round_trips_through_the_durable_store(positions in positions()) {
        let dir = tempfile::tempdir().unwrap();
        runtime().block_on(async {
            let store = DurableStore::open(dir.path()).unwrap();
            save_all(&*store, &positions).await;
            assert_all(&*store, &positions).await;
            drop(store);
            assert_all(&*DurableStore::open(dir.path()).unwrap(), &positions).await;
        });
    }

    #[test]
    fn any_checkpoint_file_content_opens_or_is_refused_naming_the_file(
        bytes in prop_oneof![
            vec(any::<u8>(), 0..256),
            btree_map(any::<String>(), any::<Option<String>>(), 0..4)
                .prop_map(|m| serde_json::to_vec(&m).unwrap()),
            vec(any::<u8>(), 0..64).prop_map(|tail| {
                let mut bytes = br#"{"okta/system_log": "#.to_vec();
                bytes.extend(tail);
                bytes
            }),
        ]
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.json");
        std::fs::write(&path, &bytes).unwrap();
        runtime().block_on(async {
            match FileCheckpoints::open(&path).await {
                Ok(store) => {
                    // Whatever it read, it answers for any stream.
                    let _ = store.load(&StreamKey::new("okta", "system_log")).await.unwrap();
                }
                Err(error) => {
                    assert!(matches!(error, CheckpointError::Corrupt { .. }), "{error}");
                    assert!(error.to_string().contains("checkpoints.json"), "{error}");
                }
            }
        });
    }
}
