//! The binding cache's memory at sustained rates: `r` new signatures a second over the
//! whole 300 s window, on a fixed clock, with the default 64 MiB limit. Prints the entries
//! held, the bytes counted against the limit, the bytes per entry, and the signatures
//! refused (none until the limit). Recorded in BENCHMARKS.md (issue 13).
//!
//! ```sh
//! cargo run --release --example binding_sizes
//! ```
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, UNIX_EPOCH};

use vocals_callback::verify::BindingCache;

const T: u64 = 1_769_670_760;

fn main() {
    println!("| signatures per second | live entries | memory used | bytes per entry | refused |");
    println!("|---:|---:|---:|---:|---:|");
    for rate in [100u64, 1_000, 3_000, 4_000, 4_500, 5_000] {
        let cache = BindingCache::new(Duration::from_secs(300)).unwrap();
        let mut refused = 0u64;
        for second in 0..300u64 {
            let now = UNIX_EPOCH + Duration::from_secs(T + second);
            for n in 0..rate {
                let mut mac = [0u8; 32];
                mac[..8].copy_from_slice(&second.to_le_bytes());
                mac[8..16].copy_from_slice(&n.to_le_bytes());
                if cache.bind_mac(&mac, T + second, b"body", now).is_err() {
                    refused += 1;
                }
            }
        }
        let used = cache.memory_used();
        println!(
            "| {rate} | {} | {:.1} MiB | {:.1} | {refused} |",
            cache.len(),
            used as f64 / f64::from(1u32 << 20),
            used as f64 / cache.len() as f64,
        );
    }
}
