//! Gzip for Logs Ingestion bodies: deflate back ends and levels on real Okta-shaped bodies,
//! bytes on the wire against CPU.
//!
//! `cargo bench --bench compression` (flate2 as ucp-sinks builds it), and the C back end in
//! its own build: `cargo bench --bench compression --features zlib-ng` (needs cmake).
//!
//! The input is the first body the Sentinel encoder makes of the Okta simulator's events
//! (copy-top-level rows, about 1 MB of JSON). Each back end makes a whole gzip member (header,
//! deflate, CRC-32):
//!
//! - `flate2 (<back end>)`: ucp's own path (`Encoded::to_bodies_at`: reused deflate states,
//!   a body compressed straight from its chunk), with the back end flate2 is built with;
//! - `miniz_oxide` and `zlib-rs`: the two pure-Rust back ends called directly, in the same
//!   run, so every run compares them whatever flate2 is built with.
//!
//! Sizes are printed first (they do not depend on the machine); criterion's throughput is
//! MiB/s of JSON.

#[path = "reference/okta_events.rs"]
#[allow(dead_code)]
mod okta_events;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ucp::sinks::sentinel::{ColumnMapping, SentinelEncoder, GZIP_BACKEND};
use zlib_rs::{DeflateConfig, Method, Strategy};

const LEVELS: [u32; 6] = [1, 2, 3, 4, 6, 9];

fn miniz(body: &[u8], level: u32) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(body);
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    out.extend(miniz_oxide::deflate::compress_to_vec(body, level as u8));
    out.extend(crc.sum().to_le_bytes());
    out.extend(crc.amount().to_le_bytes());
    out
}

fn zlib_rs(body: &[u8], level: u32, out: &mut Vec<u8>) -> usize {
    out.resize(zlib_rs::compress_bound(body.len()) + 32, 0);
    let config = DeflateConfig {
        level: level as i32,
        method: Method::Deflated,
        // 15 bits of window, +16: a gzip member.
        window_bits: 31,
        mem_level: 8,
        strategy: Strategy::Default,
    };
    let (compressed, rc) = zlib_rs::compress_slice(out, body, config);
    assert_eq!(rc, zlib_rs::ReturnCode::Ok, "zlib-rs compressed");
    compressed.len()
}

fn compression(c: &mut Criterion) {
    let records = okta_events::records(2_000);
    let encoded = SentinelEncoder::new(ColumnMapping::copy_top_level()).encode(&records);
    let first = encoded.to_bodies(false).expect("bodies").remove(0);
    let rows = serde_json::from_slice::<Vec<serde_json::Value>>(&first)
        .expect("a JSON array")
        .len();
    // Exactly the first body's rows: one body to compress.
    let encoded = SentinelEncoder::new(ColumnMapping::copy_top_level()).encode(&records[..rows]);
    assert_eq!(encoded.bodies(), 1);
    let flate2 = format!("flate2 ({GZIP_BACKEND})");
    println!(
        "body: {} bytes of JSON, {rows} rows ({} bytes per row)",
        first.len(),
        first.len() / rows
    );
    println!("| level | {flate2} bytes | miniz_oxide bytes | zlib-rs bytes | ratio ({flate2}) |");
    let mut out = Vec::new();
    for level in LEVELS {
        let ours = encoded.to_bodies_at(Some(level)).expect("gzip")[0].len();
        let m = miniz(&first, level).len();
        let z = zlib_rs(&first, level, &mut out);
        println!(
            "| {level} | {ours} | {m} | {z} | {:.1} |",
            first.len() as f64 / ours as f64
        );
    }
    let mut group = c.benchmark_group("gzip_body");
    group
        .throughput(Throughput::Bytes(first.len() as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for level in LEVELS {
        group.bench_with_input(BenchmarkId::new(&flate2, level), &level, |b, &level| {
            b.iter(|| encoded.to_bodies_at(Some(level)).expect("gzip"))
        });
        group.bench_with_input(
            BenchmarkId::new("miniz_oxide", level),
            &level,
            |b, &level| b.iter(|| miniz(&first, level)),
        );
        group.bench_with_input(BenchmarkId::new("zlib-rs", level), &level, |b, &level| {
            b.iter(|| zlib_rs(&first, level, &mut out))
        });
    }
    group.finish();
}

criterion_group!(benches, compression);
criterion_main!(benches);
