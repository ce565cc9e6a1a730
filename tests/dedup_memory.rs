//! The in-memory dedup store's memory per entry, measured from the process's resident set
//! while 100 000 tasks are remembered (a test binary of its own, so nothing else allocates
//! meanwhile).

use std::time::{Duration, SystemTime};

use vocals_callback::{
    Stage,
    dedup::{Claim, ClaimRequest, DedupKey, DedupStore, MemoryStore},
};

/// Resident set size in bytes, from /proc (Linux).
fn rss() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn ready<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    match fut
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the memory store never waits"),
    }
}

#[test]
fn a_remembered_task_costs_under_256_bytes_at_100_000_tasks() {
    const N: usize = 100_000;
    // Ids made before the measurement, so only the store's own allocations count.
    let ids: Vec<String> = (0..N).map(|i| format!("{i:032x}")).collect();
    let now = SystemTime::now();
    let before = rss().expect("this test reads /proc/self/status (Linux)");
    let store = MemoryStore::new(N).unwrap();
    for id in &ids {
        let key = DedupKey::new(id, Stage::Complete);
        let req = ClaimRequest::new(key, now, Duration::from_secs(11));
        let Claim::New(token) = ready(store.claim(&req)).unwrap() else {
            panic!("a fresh task must be new")
        };
        ready(store.complete(&key, token, now)).unwrap();
    }
    let after = rss().unwrap();
    assert_eq!(store.len(), N);
    let per_entry = after.saturating_sub(before) / N;
    eprintln!("memory store: {per_entry} B per task at {N} tasks (resident set growth)");
    assert!(
        per_entry > 32,
        "implausibly small: {per_entry} B (is /proc lying?)"
    );
    assert!(per_entry < 256, "{per_entry} B per task");
    // Every one is still remembered.
    for id in ids.iter().step_by(997) {
        let req = ClaimRequest::new(
            DedupKey::new(id, Stage::Complete),
            now,
            Duration::from_secs(11),
        );
        assert_eq!(ready(store.claim(&req)).unwrap(), Claim::Done);
    }
}
