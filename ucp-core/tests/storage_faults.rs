//! The platform's own storage on a disk that fills up, fails with I/O errors or turns
//! read-only, and comes back: the durable store, the checkpoint file and the health table
//! report it (naming the file and what to do), lose nothing and heal without a restart.
//!
//! The disks are real file systems from `ucp_testkit::disk` (root needed; skipped with a
//! message elsewhere, failing under `CI=true`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ucp_core::health::{
    Component, HealthEvent, HealthKind, HealthQuery, HealthReporter, HealthService, HealthTable,
    MemoryHealth, Retention, SqliteHealthTable, Status, HEALTH_TABLE_PART,
};
use ucp_core::store::{CheckpointStore, DurableStore, FileCheckpoints};
use ucp_core::*;
use ucp_testkit::disk::{require_lab_disks, LabDisk};
use ucp_testkit::{EventLog, EventLogSource, RecordingSink};

#[derive(Clone, Copy, Debug)]
enum Fault {
    Full,
    Io,
    ReadOnly,
}

const FAULTS: [Fault; 3] = [Fault::Full, Fault::Io, Fault::ReadOnly];

impl Fault {
    fn strike(self, disk: &LabDisk) {
        match self {
            Fault::Full => disk.fill(),
            Fault::Io => disk.fail_io(),
            Fault::ReadOnly => disk.go_read_only(),
        }
        .unwrap();
    }

    fn clear(self, disk: &mut LabDisk) {
        match self {
            Fault::Full => disk.free(),
            Fault::Io | Fault::ReadOnly => disk.repair(),
        }
        .unwrap();
    }
}

fn mins(m: u64) -> Duration {
    Duration::from_secs(60 * m)
}

fn clock() -> Clock {
    Clock::at(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap())
}

fn stream() -> StreamKey {
    StreamKey::new("okta", "events")
}

/// Storage events of `health`, in order: (status, message).
fn storage_events(health: &MemoryHealth) -> Vec<(Status, String)> {
    health
        .events()
        .into_iter()
        .filter(|e| e.kind == HealthKind::Storage)
        .map(|e| (e.status, e.message))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn durable_queues_wait_out_a_full_failing_or_read_only_disk_and_heal_without_a_restart() {
    if !require_lab_disks("durable_queues_wait_out_a_full_failing_or_read_only_disk") {
        return;
    }
    for fault in FAULTS {
        let mut disk = LabDisk::ext4(16 << 20).unwrap();
        let store = DurableStore::open(disk.path()).unwrap();
        let log = EventLog::new();
        log.generate(20, Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap());
        let (sentinel, mdi) = (RecordingSink::new("sentinel"), RecordingSink::new("mdi"));
        let health = Arc::new(MemoryHealth::new());
        let mut builder = Platform::builder()
            .clock(clock())
            .health(health.clone())
            .durable(store.clone())
            .max_jitter(Duration::ZERO)
            .source("okta", EventLogSource::new("contoso", log.clone(), clock()))
            .sink("sentinel", sentinel.clone())
            .sink("mdi", mdi.clone());
        for product in ["sentinel", "mdi"] {
            builder = builder.subscribe(
                Subscription::new(product, "okta", "events")
                    .every(mins(1))
                    .durable(1 << 20),
            );
        }
        let running = builder.build().unwrap().start().await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(sentinel.ids(), log.ids_matching(None), "{fault:?}");

        fault.strike(&disk);
        log.generate(10, Utc::now());
        tokio::time::sleep(mins(3)).await;
        let failing = running.stats().await;
        assert!(
            failing.job("okta", "events").unwrap().store_failures > 0,
            "{fault:?}: the refused appends are counted"
        );
        assert_eq!(sentinel.ids().len(), 20, "{fault:?}: nothing new is queued");
        let events = storage_events(&health);
        let (status, message) = events.first().expect("a storage event");
        assert_eq!(*status, Status::Error, "{fault:?}: {message}");
        let path = store.path().display().to_string();
        assert!(
            message.contains(&path) && message.contains("no restart is needed"),
            "{fault:?}: the message names the file and what to do: {message}"
        );

        fault.clear(&mut disk);
        tokio::time::sleep(mins(2)).await;
        log.generate(5, Utc::now());
        tokio::time::sleep(mins(2)).await;
        for product in [&sentinel, &mdi] {
            assert_eq!(
                product.ids(),
                log.ids_matching(None),
                "{fault:?}: every record, once, in order, without a restart"
            );
        }
        let events = storage_events(&health);
        assert_eq!(
            events.last().map(|(s, _)| *s),
            Some(Status::Ok),
            "{fault:?}: {events:?}"
        );
        assert!(store.dead_letters(None).await.unwrap().is_empty());
        running.shutdown().await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_checkpoint_file_on_a_failing_disk_is_saved_again_once_the_disk_works() {
    if !require_lab_disks("a_checkpoint_file_on_a_failing_disk_is_saved_again") {
        return;
    }
    for fault in FAULTS {
        let mut disk = LabDisk::ext4(8 << 20).unwrap();
        let file = disk.path().join("state/checkpoints.json");
        let checkpoints = Arc::new(FileCheckpoints::open(&file).await.unwrap());
        let log = EventLog::new();
        log.generate(10, Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap());
        let product = RecordingSink::new("sentinel");
        let health = Arc::new(MemoryHealth::new());
        let running = Platform::builder()
            .clock(clock())
            .health(health.clone())
            .checkpoints(checkpoints.clone())
            .max_jitter(Duration::ZERO)
            .source("okta", EventLogSource::new("contoso", log.clone(), clock()))
            .sink("sentinel", product.clone())
            .subscribe(Subscription::new("sentinel", "okta", "events").every(mins(1)))
            .build()
            .unwrap()
            .start()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = checkpoints.load(&stream()).await.unwrap();

        fault.strike(&disk);
        log.generate(10, Utc::now());
        tokio::time::sleep(mins(2)).await;
        assert_eq!(
            product.ids(),
            log.ids_matching(None),
            "{fault:?}: delivery goes on while the checkpoint cannot be saved"
        );
        let events = storage_events(&health);
        let (status, message) = events.first().expect("a storage event");
        assert_eq!(*status, Status::Error);
        assert!(
            message.contains(&file.display().to_string())
                && message.contains("no restart is needed"),
            "{fault:?}: {message}"
        );

        fault.clear(&mut disk);
        tokio::time::sleep(mins(2)).await;
        let on_disk = FileCheckpoints::open(&file)
            .await
            .unwrap()
            .load(&stream())
            .await
            .unwrap();
        let latest = running.saved_cursor(&stream()).await.unwrap();
        assert_ne!(on_disk, before, "{fault:?}: the cursor moved on disk");
        assert_eq!(on_disk, latest, "{fault:?}: the newest cursor is on disk");
        assert_eq!(
            storage_events(&health).last().map(|(s, _)| *s),
            Some(Status::Ok),
            "{fault:?}"
        );
        assert!(
            !file.with_extension("json.tmp").exists(),
            "{fault:?}: no temporary file is left"
        );
        running.shutdown().await.unwrap();
    }
}

fn event(n: usize, status: Status) -> HealthEvent {
    HealthEvent {
        // The table keeps rows by age against the newest, and the service stamps its own
        // rows with the wall clock: events of now.
        time: Utc::now() + chrono::Duration::milliseconds(n as i64),
        component: Component {
            tenant: "contoso".into(),
            connector: "okta".into(),
            product: None,
            stream: Some(format!("stream-{n}")),
        },
        status,
        previous: Status::Starting,
        kind: HealthKind::Collection,
        message: format!("event {n}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_health_table_keeps_its_rows_while_its_disk_fails_and_writes_them_after() {
    if !require_lab_disks("the_health_table_keeps_its_rows_while_its_disk_fails") {
        return;
    }
    for fault in FAULTS {
        let mut disk = LabDisk::ext4(8 << 20).unwrap();
        let path = disk.path().join("health.sqlite");
        let table = Arc::new(SqliteHealthTable::open(&path, Retention::default()).unwrap());
        let seen = Arc::new(Mutex::new(Vec::<HealthEvent>::new()));
        let service = {
            let seen = seen.clone();
            HealthService::builder()
                .table(table.clone())
                .on_event(move |e| seen.lock().unwrap().push(e.clone()))
                .build()
        };
        service.report(event(0, Status::Ok)).await;

        fault.strike(&disk);
        for n in 1..=3 {
            service.report(event(n, Status::Warning)).await;
        }
        // The table's own part says it fails, through the callbacks (the table cannot).
        let own = |status| {
            seen.lock()
                .unwrap()
                .iter()
                .filter(|e| {
                    (e.component.tenant.as_str(), e.component.connector.as_str())
                        == HEALTH_TABLE_PART
                        && e.status == status
                })
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
        };
        let errors = own(Status::Error);
        assert_eq!(
            errors.len(),
            1,
            "{fault:?}: one Error per outage: {errors:?}"
        );
        assert!(
            errors[0].contains(&path.display().to_string())
                && errors[0].contains("no restart is needed"),
            "{fault:?}: {}",
            errors[0]
        );
        assert_eq!(
            service.rows_waiting().await,
            4,
            "{fault:?}: three rows and the table's own"
        );

        fault.clear(&mut disk);
        // The retry task writes them with backoff, without another event.
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(service.rows_waiting().await, 0, "{fault:?}");
        assert_eq!(own(Status::Ok).len(), 1, "{fault:?}");
        let rows = table
            .query(&HealthQuery::new().tenant("contoso"))
            .await
            .unwrap();
        let messages: Vec<&str> = rows.iter().rev().map(|r| r.message.as_str()).collect();
        assert_eq!(
            messages,
            ["event 0", "event 1", "event 2", "event 3"],
            "{fault:?}: nothing lost, in order"
        );
        let own_rows = table
            .query(&HealthQuery::new().tenant(HEALTH_TABLE_PART.0))
            .await
            .unwrap();
        assert_eq!(
            own_rows.iter().map(|r| r.status).collect::<Vec<_>>(),
            [Status::Ok, Status::Error],
            "{fault:?}: the table's own Error and Ok are rows too"
        );
        assert_eq!(service.rows_lost(), 0);
    }
}
