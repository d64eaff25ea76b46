//! Why the durable queue is on SQLite: the same workload on SQLite (as the durable store
//! configures it, and with SQLite's default page size) and on redb, the pure-Rust embedded
//! store. Prints a table; not part of the library.
//!
//! `cargo bench --bench store_choice`
//!
//! Workload: one transaction appends a page of 1,000 records of 1 KiB to three products'
//! queues and is made durable (fsync); then commits of a single 1 KiB record (the fixed cost
//! of a durable commit). 200 rounds each, three runs; medians with min–max.

use std::path::Path;
use std::time::Instant;

const ROUNDS: usize = 200;
const PAGE: usize = 1_000 * 1_040;

fn sqlite(dir: &Path, page_size: u32) -> (f64, f64) {
    let conn = rusqlite::Connection::open(dir.join("q.sqlite")).expect("open");
    conn.execute_batch(&format!(
        "PRAGMA page_size={page_size}; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE q (p TEXT, seq INTEGER, body BLOB, PRIMARY KEY (p, seq)) WITHOUT ROWID;"
    ))
    .expect("schema");
    let body = vec![b'x'; PAGE];
    let start = Instant::now();
    for i in 0..ROUNDS {
        let tx = conn.unchecked_transaction().expect("tx");
        for p in ["a", "b", "c"] {
            tx.execute(
                "INSERT INTO q VALUES (?1, ?2, ?3)",
                rusqlite::params![p, i as i64, &body],
            )
            .expect("insert");
        }
        tx.commit().expect("commit");
    }
    let page = start.elapsed().as_secs_f64() / ROUNDS as f64;
    let small = vec![b'x'; 1_040];
    let start = Instant::now();
    for i in 0..ROUNDS {
        conn.execute(
            "INSERT INTO q VALUES ('s', ?1, ?2)",
            rusqlite::params![i as i64, &small],
        )
        .expect("insert");
    }
    (page, start.elapsed().as_secs_f64() / ROUNDS as f64)
}

const QUEUE: redb::TableDefinition<(&str, u64), &[u8]> = redb::TableDefinition::new("q");

fn redb(dir: &Path) -> (f64, f64) {
    let db = redb::Database::create(dir.join("q.redb")).expect("create");
    let body = vec![b'x'; PAGE];
    let start = Instant::now();
    for i in 0..ROUNDS {
        let tx = db.begin_write().expect("tx");
        {
            let mut table = tx.open_table(QUEUE).expect("table");
            for p in ["a", "b", "c"] {
                table
                    .insert((p, i as u64), body.as_slice())
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    let page = start.elapsed().as_secs_f64() / ROUNDS as f64;
    let small = vec![b'x'; 1_040];
    let start = Instant::now();
    for i in 0..ROUNDS {
        let tx = db.begin_write().expect("tx");
        {
            let mut table = tx.open_table(QUEUE).expect("table");
            table
                .insert(("s", i as u64), small.as_slice())
                .expect("insert");
        }
        tx.commit().expect("commit");
    }
    (page, start.elapsed().as_secs_f64() / ROUNDS as f64)
}

/// One store's run: seconds per page and per single-record commit.
type Workload = dyn Fn(&Path) -> (f64, f64);

fn median_min_max(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    // `cargo test --benches` runs this once as a smoke test: keep that quick.
    let runs = if std::env::args().any(|a| a == "--bench") {
        3
    } else {
        1
    };
    println!("store                 page of 3×1000×1 KiB (MB/s)      single-record commit (ms)");
    let stores: [(&str, &Workload); 3] = [
        ("sqlite, 64 KiB pages", &|d| sqlite(d, 65_536)),
        ("sqlite, 4 KiB pages", &|d| sqlite(d, 4_096)),
        ("redb", &|d| redb(d)),
    ];
    for (name, run) in stores {
        let (mut pages, mut commits) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let dir = tempfile::tempdir().expect("temp dir");
            let (page, commit) = run(dir.path());
            pages.push(3.0 * PAGE as f64 / page / 1e6);
            commits.push(commit * 1e3);
        }
        let (p, p0, p1) = median_min_max(pages);
        let (c, c0, c1) = median_min_max(commits);
        println!(
            "{name:<21} {p:>6.0} ({p0:.0}–{p1:.0})                  {c:>5.2} ({c0:.2}–{c1:.2})"
        );
    }
}
