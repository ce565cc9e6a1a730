//! The two stores that hold security state, checked against simple models.
//!
//! - [`MemoryStore`] (the dedup store, `src/dedup/memory.rs`) against a map from task to
//!   per-stage state with timestamps: retention, capacity with eviction of the least
//!   recently active task that has nothing in flight, lease expiry and the stage-order
//!   guard, as the docs of `dedup` and `MemoryStore` state them; under random sequences of
//!   claim / complete / release / advance-time, single-threaded; and under several threads
//!   claiming a small key set at once, with the invariants that hold under any interleaving.
//! - [`BindingCache`] (`src/verify/binding.rs`), through its public API only, against a map
//!   from MAC to (body, expiry).
//!
//! Time is the `now` argument of each call, driven from a counter: nothing reads the clock.

use std::{
    collections::HashMap,
    future::Future,
    pin::pin,
    sync::{
        Barrier, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Waker},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use proptest::{collection::vec, prelude::*, sample::Index};
use vocals_callback::{
    RejectionKind, Stage,
    dedup::{Claim, ClaimRequest, ClaimToken, DedupKey, DedupStore, MemoryStore},
    verify::BindingCache,
};

/// The memory store's futures are ready at once; this polls one to its end.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the memory store never waits"),
    }
}

/// Unix milliseconds of the start of every run (a fixed date, so runs are reproducible).
const EPOCH_MS: u64 = 1_769_670_760_000;

fn at_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(EPOCH_MS + ms)
}

// =======================================================================================
// The dedup store, single-threaded, against a model.
// =======================================================================================

const TASKS: [&str; 5] = ["t0", "t1", "t2", "t3", "t4"];
const STAGES: &[Stage] = Stage::ALL;
/// The shortest retention the store accepts: time steps below reach past it.
const RETENTION_MS: u64 = 30 * 60 * 1000;

#[derive(Clone, Debug)]
enum StoreOp {
    Claim {
        task: usize,
        stage: usize,
        guard: bool,
        lease_ms: u64,
    },
    Complete {
        task: usize,
        stage: usize,
        /// Which token to present (complete does not check it: the event was handled).
        token: Index,
    },
    Release {
        task: usize,
        stage: usize,
        /// A token handed out earlier (any key's), or, with no tokens yet, one never issued.
        token: Index,
    },
    Advance(u64),
}

fn store_op() -> impl Strategy<Value = StoreOp> {
    let task = 0..TASKS.len();
    let stage = 0..STAGES.len();
    prop_oneof![
        4 => (task.clone(), stage.clone(), any::<bool>(), prop_oneof![Just(11_000u64), 1..30_000u64])
            .prop_map(|(task, stage, guard, lease_ms)| StoreOp::Claim { task, stage, guard, lease_ms }),
        2 => (task.clone(), stage.clone(), any::<Index>())
            .prop_map(|(task, stage, token)| StoreOp::Complete { task, stage, token }),
        2 => (task, stage, any::<Index>())
            .prop_map(|(task, stage, token)| StoreOp::Release { task, stage, token }),
        2 => prop_oneof![
            0..2_000u64,
            9_000..13_000u64,
            Just(RETENTION_MS - 1),
            Just(RETENTION_MS),
            RETENTION_MS - 60_000..RETENTION_MS + 60_000,
        ]
        .prop_map(StoreOp::Advance),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    Done,
    InFlight { token: ClaimToken, until: u64 },
}

#[derive(Clone, Debug)]
struct ModelTask {
    /// Milliseconds of the last claim or completion.
    touched: u64,
    /// Order of that last activity among activities at the same millisecond.
    seq: u64,
    slots: [Slot; 5],
}

impl ModelTask {
    fn busy(&self, now: u64) -> bool {
        self.slots
            .iter()
            .any(|s| matches!(s, Slot::InFlight { until, .. } if *until > now))
    }
}

/// What the docs of `dedup` and `MemoryStore` promise, written as plainly as possible.
#[derive(Debug)]
struct DedupModel {
    capacity: usize,
    tasks: HashMap<usize, ModelTask>,
    seq: u64,
}

impl DedupModel {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            tasks: HashMap::new(),
            seq: 0,
        }
    }

    /// Entries older than the retention are gone.
    fn expire(&mut self, now: u64) {
        self.tasks.retain(|_, t| t.touched + RETENTION_MS > now);
    }

    fn touch(&mut self, task: usize, now: u64) -> &mut ModelTask {
        self.seq += 1;
        let seq = self.seq;
        let t = self.tasks.get_mut(&task).expect("touched tasks exist");
        t.touched = now;
        t.seq = seq;
        t
    }

    /// Room for one more task: evicts the least recently active task with nothing in
    /// flight; `false` when every task is in flight.
    fn make_room(&mut self, now: u64) -> bool {
        if self.tasks.len() < self.capacity {
            return true;
        }
        let victim = self
            .tasks
            .iter()
            .filter(|(_, t)| !t.busy(now))
            .min_by_key(|(_, t)| (t.touched, t.seq))
            .map(|(id, _)| *id);
        match victim {
            Some(id) => {
                self.tasks.remove(&id);
                true
            }
            None => false,
        }
    }

    fn insert(&mut self, task: usize, now: u64) {
        self.tasks.insert(
            task,
            ModelTask {
                touched: now,
                seq: 0,
                slots: [Slot::Free; 5],
            },
        );
        self.touch(task, now);
    }

    /// The answer the model expects; `New` carries a placeholder token, replaced by the
    /// store's with [`Self::own`].
    fn claim(&mut self, task: usize, stage: usize, guard: bool, now: u64) -> Result<Claim, ()> {
        self.expire(now);
        if let Some(t) = self.tasks.get(&task) {
            match t.slots[stage] {
                Slot::Done => return Ok(Claim::Done),
                Slot::InFlight { until, .. } if until > now => {
                    return Ok(Claim::InFlight {
                        retry_after: Duration::from_millis(until - now),
                    });
                }
                _ => {}
            }
            // `text` is late after `first` or `complete`, `first` after `complete`; the
            // latest handled one is named.
            let later: &[usize] = match STAGES[stage] {
                Stage::Text => &[2, 1],
                Stage::First => &[2],
                _ => &[],
            };
            if guard && let Some(by) = later.iter().find(|i| t.slots[**i] == Slot::Done) {
                return Ok(Claim::Superseded { by: STAGES[*by] });
            }
            self.touch(task, now);
            return Ok(Claim::New(ClaimToken::new(0)));
        }
        if !self.make_room(now) {
            return Err(());
        }
        self.insert(task, now);
        Ok(Claim::New(ClaimToken::new(0)))
    }

    fn own(&mut self, task: usize, stage: usize, token: ClaimToken, until: u64) {
        self.tasks.get_mut(&task).expect("claimed").slots[stage] = Slot::InFlight { token, until };
    }

    /// Completion drops nothing: a task whose retention ran out but that no claim has
    /// dropped yet comes back with its other stages' state (the store drops lazily, on
    /// claims; remembering a handled key longer is the safe direction).
    fn complete(&mut self, task: usize, stage: usize, now: u64) -> Result<(), ()> {
        if !self.tasks.contains_key(&task) {
            if !self.make_room(now) {
                return Err(());
            }
            self.insert(task, now);
        }
        self.touch(task, now).slots[stage] = Slot::Done;
        Ok(())
    }

    fn release(&mut self, task: usize, stage: usize, token: ClaimToken) {
        if let Some(t) = self.tasks.get_mut(&task)
            && matches!(t.slots[stage], Slot::InFlight { token: owner, .. } if owner == token)
        {
            t.slots[stage] = Slot::Free;
        }
    }
}

fn key(task: usize, stage: usize) -> DedupKey<'static> {
    DedupKey::new(TASKS[task], STAGES[stage])
}

/// Runs `ops` against a fresh store and the model; the first disagreement fails.
fn check_store_against_model(capacity: usize, ops: &[StoreOp]) -> Result<(), TestCaseError> {
    let store = MemoryStore::new(capacity)
        .expect("capacity is not zero")
        .with_retention(Duration::from_millis(RETENTION_MS))
        .expect("30 minutes is allowed");
    let mut model = DedupModel::new(capacity);
    let mut now = 0u64;
    let mut issued: Vec<ClaimToken> = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        match *op {
            StoreOp::Advance(ms) => now += ms,
            StoreOp::Claim {
                task,
                stage,
                guard,
                lease_ms,
            } => {
                let mut req = ClaimRequest::new(
                    key(task, stage),
                    at_ms(now),
                    Duration::from_millis(lease_ms),
                );
                if !guard {
                    req = req.with_late_stage_guard(false);
                }
                let got = ready(store.claim(&req)).map_err(|_| ());
                let want = model.claim(task, stage, guard, now);
                match (got, want) {
                    (Ok(Claim::New(token)), Ok(Claim::New(_))) => {
                        prop_assert!(
                            !issued.contains(&token),
                            "step {step}: token {token:?} handed out twice"
                        );
                        issued.push(token);
                        model.own(task, stage, token, now + lease_ms);
                    }
                    (got, want) => prop_assert_eq!(got, want, "step {}: claim {:?}", step, op),
                }
            }
            StoreOp::Complete { task, stage, token } => {
                let token = if issued.is_empty() {
                    ClaimToken::new(u64::MAX)
                } else {
                    *token.get(&issued)
                };
                let got =
                    ready(store.complete(&key(task, stage), token, at_ms(now))).map_err(|_| ());
                let want = model.complete(task, stage, now);
                prop_assert_eq!(got, want, "step {}: complete {:?}", step, op);
            }
            StoreOp::Release { task, stage, token } => {
                let token = if issued.is_empty() {
                    ClaimToken::new(u64::MAX)
                } else {
                    *token.get(&issued)
                };
                prop_assert!(ready(store.release(&key(task, stage), token)).is_ok());
                model.release(task, stage, token);
            }
        }
        prop_assert!(
            store.len() <= store.capacity(),
            "step {step}: {} > capacity",
            store.len()
        );
    }
    Ok(())
}

/// `Complete` at `now` through the public API.
fn complete_at(store: &MemoryStore, task: &str, stage: Stage, ms: u64) {
    let key = DedupKey::new(task, stage);
    ready(store.complete(&key, ClaimToken::new(u64::MAX), at_ms(ms))).unwrap();
}

fn claim_at(store: &MemoryStore, task: &str, stage: Stage, ms: u64) -> Claim {
    let req = ClaimRequest::new(
        DedupKey::new(task, stage),
        at_ms(ms),
        Duration::from_secs(11),
    );
    ready(store.claim(&req)).unwrap()
}

/// The first case proptest minimised, in the terms of the docs: "when a shard is full, its
/// least recently active task is evicted (an exact order)". A claim abandoned at 0 s sits at
/// the front; an eviction while its lease holds moves it behind tasks handled after it,
/// and once the lease is over, the store evicts `b` (handled at 2 s) and keeps the
/// abandoned `x` (last active at 0 s): a retry of `b` is then handled a second time.
#[test]
fn eviction_follows_last_activity_after_an_in_flight_task_was_passed_over() {
    let store = MemoryStore::new(3).unwrap();
    assert!(matches!(
        claim_at(&store, "x", Stage::Text, 0),
        Claim::New(_)
    )); // abandoned
    complete_at(&store, "a", Stage::Text, 1_000);
    complete_at(&store, "b", Stage::Text, 2_000);
    // Full: `a` is evicted (`x` is in flight and must stay).
    assert!(matches!(
        claim_at(&store, "c", Stage::Text, 3_000),
        Claim::New(_)
    ));
    complete_at(&store, "c", Stage::Text, 4_000);
    // `x`'s lease is over: it is now the least recently active task, the one to evict.
    assert!(matches!(
        claim_at(&store, "d", Stage::Text, 20_000),
        Claim::New(_)
    ));
    assert_eq!(
        claim_at(&store, "b", Stage::Text, 21_000),
        Claim::Done,
        "b, handled at 2 s, was evicted before x, last active at 0 s"
    );
}

/// The second minimised case, same cause: the task moved behind a newer one is not dropped
/// when its retention ends (expired tasks are dropped from the front only), so a full store
/// evicts a live, handled task and keeps the expired one.
#[test]
fn a_full_store_drops_an_expired_task_before_evicting_a_live_one() {
    let store = MemoryStore::new(3)
        .unwrap()
        .with_retention(Duration::from_millis(RETENTION_MS))
        .unwrap();
    let req = ClaimRequest::new(
        DedupKey::new("x", Stage::Text),
        at_ms(0),
        Duration::from_secs(12),
    );
    assert!(matches!(ready(store.claim(&req)).unwrap(), Claim::New(_))); // abandoned
    assert!(matches!(
        claim_at(&store, "y", Stage::Text, 0),
        Claim::New(_)
    )); // abandoned
    complete_at(&store, "done", Stage::Complete, 11_000);
    // Full: `y` (lease over) is evicted; `x` (lease until 12 s) is passed over.
    assert!(matches!(
        claim_at(&store, "z", Stage::Text, 11_000),
        Claim::New(_)
    ));
    // `x` was last active at 0 s: its retention is over at 30 min; `done`'s is not.
    assert!(matches!(
        claim_at(&store, "w", Stage::Text, RETENTION_MS),
        Claim::New(_)
    ));
    assert_eq!(
        claim_at(&store, "done", Stage::First, RETENTION_MS),
        Claim::Superseded {
            by: Stage::Complete
        },
        "the live task was evicted while an expired one was kept"
    );
}

// =======================================================================================
// The dedup store, multi-threaded: invariants under any interleaving.
// =======================================================================================

const MT_TASKS: [&str; 3] = ["m0", "m1", "m2"];
const MT_STAGES: [Stage; 3] = [Stage::Text, Stage::First, Stage::Complete];
const MT_KEYS: usize = MT_TASKS.len() * MT_STAGES.len();
const MT_LEASE: Duration = Duration::from_secs(11);

fn mt_key(k: usize) -> DedupKey<'static> {
    DedupKey::new(
        MT_TASKS[k / MT_STAGES.len()],
        MT_STAGES[k % MT_STAGES.len()],
    )
}

/// What a thread does after it won a claim.
#[derive(Clone, Copy, Debug)]
enum Then {
    Complete,
    Release,
    /// Presents a stale token (one of another claim, released or abandoned) to `release`,
    /// then checks that its own claim still holds, then releases it.
    StaleReleaseThenRelease(Index),
    /// Keeps the claim until the end of the phase: abandoned, as by a cancelled handler.
    Abandon,
}

fn then() -> impl Strategy<Value = Then> {
    prop_oneof![
        3 => Just(Then::Complete),
        3 => Just(Then::Release),
        3 => any::<Index>().prop_map(Then::StaleReleaseThenRelease),
        1 => Just(Then::Abandon),
    ]
}

/// One thread's script: (key, what to do when the claim is won), per phase.
type Script = Vec<(usize, Then)>;

/// State shared by the threads, to check the store's answers against.
struct Shared {
    /// The token that owns each key now, as far as the threads know.
    owners: Mutex<[Option<ClaimToken>; MT_KEYS]>,
    /// `complete` was called (or is being called) for the key.
    completing: [AtomicBool; MT_KEYS],
    /// `complete` returned for the key.
    completed: [AtomicBool; MT_KEYS],
    /// Tokens of claims given up (released) or abandoned.
    stale: Mutex<Vec<(usize, ClaimToken)>>,
    /// The violations seen (threads record them; the test reports them).
    violations: Mutex<Vec<String>>,
}

impl Shared {
    fn violation(&self, text: String) {
        self.violations.lock().unwrap().push(text);
    }
}

/// One thread's phase at the fixed time `now`.
fn run_script(
    store: &MemoryStore,
    shared: &Shared,
    script: &Script,
    now: SystemTime,
    no_eviction: bool,
    held: &mut Vec<(usize, ClaimToken)>,
) {
    for &(k, then) in script {
        let key = mt_key(k);
        let done_before = shared.completed[k].load(Ordering::SeqCst);
        let req = ClaimRequest::new(key, now, MT_LEASE);
        match ready(store.claim(&req)) {
            Ok(Claim::New(token)) => {
                if done_before && no_eviction {
                    shared.violation(format!("{key}: New after it was completed"));
                }
                {
                    let mut owners = shared.owners.lock().unwrap();
                    if let Some(other) = owners[k] {
                        shared
                            .violation(format!("{key}: owned by {other:?} and {token:?} at once"));
                    }
                    owners[k] = Some(token);
                }
                match then {
                    Then::Complete => {
                        shared.completing[k].store(true, Ordering::SeqCst);
                        shared.owners.lock().unwrap()[k] = None;
                        if ready(store.complete(&key, token, now)).is_err() {
                            shared.violation(format!("{key}: completing a held claim failed"));
                        }
                        shared.completed[k].store(true, Ordering::SeqCst);
                    }
                    Then::Release => {
                        shared.owners.lock().unwrap()[k] = None;
                        ready(store.release(&key, token)).unwrap();
                        shared.stale.lock().unwrap().push((k, token));
                    }
                    Then::StaleReleaseThenRelease(pick) => {
                        let stale = shared.stale.lock().unwrap().clone();
                        if !stale.is_empty() {
                            let (_, old) = *pick.get(&stale);
                            ready(store.release(&key, old)).unwrap();
                        }
                        // Our claim must still hold: the same key claimed again is in flight.
                        match ready(store.claim(&req)) {
                            Ok(Claim::InFlight { .. }) => {}
                            other => shared.violation(format!(
                                "{key}: a stale release freed the claim of {token:?}: {other:?}"
                            )),
                        }
                        shared.owners.lock().unwrap()[k] = None;
                        ready(store.release(&key, token)).unwrap();
                        shared.stale.lock().unwrap().push((k, token));
                    }
                    Then::Abandon => held.push((k, token)),
                }
            }
            Ok(Claim::InFlight { retry_after }) => {
                if retry_after.is_zero() || retry_after > MT_LEASE {
                    shared.violation(format!("{key}: retry after {retry_after:?}"));
                }
            }
            Ok(Claim::Done) => {
                if !shared.completing[k].load(Ordering::SeqCst) {
                    shared.violation(format!("{key}: Done but never completed"));
                }
            }
            Ok(Claim::Superseded { by }) => {
                let later = (k / MT_STAGES.len()) * MT_STAGES.len()
                    + MT_STAGES.iter().position(|s| *s == by).unwrap();
                if !shared.completing[later].load(Ordering::SeqCst) || by <= key.stage() {
                    shared.violation(format!("{key}: superseded by {by:?}, never completed"));
                }
            }
            Ok(other) => shared.violation(format!("{key}: unexpected {other:?}")),
            // A full store of tasks in flight refuses (only possible when it is small).
            Err(_) if !no_eviction => {}
            Err(e) => shared.violation(format!("{key}: {e}")),
        }
    }
}

/// Several threads run their scripts against one store in two phases: at `t`, then past
/// every lease of the first phase (its abandoned claims can be reclaimed, and their tokens,
/// now stale, are presented to `release` against the new owners).
fn check_concurrent(capacity: usize, scripts: &[(Script, Script)]) -> Result<(), TestCaseError> {
    let store = MemoryStore::new(capacity).unwrap();
    let no_eviction = capacity >= MT_TASKS.len();
    let shared = Shared {
        owners: Mutex::new([None; MT_KEYS]),
        completing: std::array::from_fn(|_| AtomicBool::new(false)),
        completed: std::array::from_fn(|_| AtomicBool::new(false)),
        stale: Mutex::new(Vec::new()),
        violations: Mutex::new(Vec::new()),
    };
    let barrier = Barrier::new(scripts.len());
    let phase_one = at_ms(0);
    let phase_two = at_ms(u64::try_from(MT_LEASE.as_millis()).unwrap() + 1);
    std::thread::scope(|scope| {
        for (first, second) in scripts {
            let (store, shared, barrier) = (&store, &shared, &barrier);
            scope.spawn(move || {
                let mut held = Vec::new();
                run_script(store, shared, first, phase_one, no_eviction, &mut held);
                barrier.wait();
                // The abandoned claims are stale from now on: forget their owners (one
                // thread at a time, before anyone starts the second phase).
                {
                    let mut owners = shared.owners.lock().unwrap();
                    for (k, token) in &held {
                        if owners[*k] == Some(*token) {
                            owners[*k] = None;
                        }
                    }
                    shared.stale.lock().unwrap().extend(held.drain(..));
                }
                barrier.wait();
                run_script(store, shared, second, phase_two, no_eviction, &mut held);
            });
        }
    });
    let violations = shared.violations.into_inner().unwrap();
    prop_assert!(violations.is_empty(), "{:#?}", violations);
    prop_assert!(store.len() <= capacity);
    Ok(())
}

fn scripts() -> impl Strategy<Value = Vec<(Script, Script)>> {
    let script = || vec((0..MT_KEYS, then()), 20..120);
    vec((script(), script()), 2..5)
}

// =======================================================================================
// The binding cache against a model.
// =======================================================================================

#[derive(Clone, Debug)]
enum BindOp {
    /// `bind(macs[mac], now_secs + delta, bodies[body], now)`.
    Bind { mac: usize, delta: i64, body: usize },
    /// A timestamp far from now (0 or near `u64::MAX`: expiry saturates).
    BindFar { mac: usize, far: u64, body: usize },
    /// Milliseconds.
    Advance(u64),
}

const BODIES: [&[u8]; 3] = [b"{\"a\":1}", b"{\"a\":2}", b""];
const MACS: usize = 6;
const T0: u64 = EPOCH_MS / 1000;

fn bind_op(tolerance: u64) -> impl Strategy<Value = BindOp> {
    let t = i64::try_from(tolerance).unwrap();
    prop_oneof![
        6 => (0..MACS, -t - 3..=t + 3, 0..BODIES.len())
            .prop_map(|(mac, delta, body)| BindOp::Bind { mac, delta, body }),
        1 => (0..MACS, prop_oneof![Just(0u64), Just(u64::MAX), Just(u64::MAX - tolerance)], 0..BODIES.len())
            .prop_map(|(mac, far, body)| BindOp::BindFar { mac, far, body }),
        3 => prop_oneof![
            0..1_500u64,
            Just(tolerance * 1000),
            (tolerance * 1000).saturating_sub(999)..tolerance * 1000 + 2_000,
        ]
        .prop_map(BindOp::Advance),
    ]
}

fn mac(i: usize) -> [u8; 32] {
    let mut mac = [0xa5; 32];
    mac[0] = u8::try_from(i).unwrap();
    mac
}

/// The MAC of signature `m` at `ts`: a genuine MAC covers its timestamp, so the same `m`
/// at another second is another MAC.
fn signature(m: usize, ts: u64) -> [u8; 32] {
    let mut mac = mac(m);
    mac[1..9].copy_from_slice(&ts.to_le_bytes());
    mac
}

/// Runs `ops` against a fresh cache and the model ((MAC, timestamp) → body and expiry
/// second; a genuine MAC covers its timestamp, so the pair is the signature).
///
/// The cache's limit holds `capacity` seconds of one entry each: the bytes of one bucket
/// are read from a cache holding one entry, since the limit is in bytes and the model
/// counts no bytes. A refusal for room is checked to come only for a new signature, with
/// the cache nearly full, and with the wait until the oldest live second expires.
fn check_binding_against_model(
    capacity: usize,
    tolerance: u64,
    ops: &[BindOp],
) -> Result<(), TestCaseError> {
    let window = Duration::from_secs(tolerance);
    let one = BindingCache::new(window).unwrap();
    one.bind_mac(&signature(0, T0), T0, b"", at_ms(0)).unwrap();
    let bucket = one.memory_used();
    let limit = capacity * bucket;
    let cache = BindingCache::new(window)
        .unwrap()
        .with_memory_limit(limit)
        .unwrap();
    prop_assert_eq!(cache.memory_limit(), limit);
    let mut model: HashMap<(usize, u64), (usize, u64)> = HashMap::new();
    let mut now_ms = 0u64;
    for (step, op) in ops.iter().enumerate() {
        let (m, ts, body) = match *op {
            BindOp::Advance(ms) => {
                now_ms += ms;
                continue;
            }
            BindOp::Bind { mac, delta, body } => {
                let now_secs = T0 + now_ms / 1000;
                (mac, now_secs.saturating_add_signed(delta), body)
            }
            BindOp::BindFar { mac, far, body } => (mac, far, body),
        };
        let now = at_ms(now_ms);
        let now_secs = T0 + now_ms / 1000;
        let expires = ts.saturating_add(tolerance);
        let used_before = cache.memory_used();
        let got = cache.bind_mac(&signature(m, ts), ts, BODIES[body], now);
        // The model: expired signatures are gone (every bind drops them first); a live one
        // answers for its signature; one already outside its window is not kept; a new
        // one is kept unless there is no room.
        model.retain(|_, (_, until)| *until >= now_secs);
        let got = got.map_err(|e| (e.kind(), e.retry_after()));
        match model.get(&(m, ts)) {
            Some(&(bound, _)) => {
                let want = if BODIES[bound] == BODIES[body] {
                    Ok(())
                } else {
                    Err((RejectionKind::SignatureReused, None))
                };
                prop_assert_eq!(got, want, "step {}: {:?} at {}", step, op, now_secs);
            }
            None if expires < now_secs => {
                prop_assert_eq!(got, Ok(()), "step {}: {:?} at {}", step, op, now_secs);
            }
            None => match got {
                Ok(()) => {
                    model.insert((m, ts), (body, expires));
                }
                Err((RejectionKind::BindingCacheFull, wait)) => {
                    let oldest = model.values().map(|&(_, until)| until).min();
                    prop_assert!(oldest.is_some(), "step {}: refused while empty", step);
                    let want = oldest.unwrap().saturating_sub(now_secs).saturating_add(1);
                    prop_assert_eq!(wait, Some(Duration::from_secs(want)), "step {}", step);
                    // Nearly full: less room left than one more bucket (and its growth).
                    prop_assert!(
                        used_before.min(cache.memory_used()) + 2 * bucket > limit,
                        "step {}: refused at {} of {} bytes",
                        step,
                        cache.memory_used(),
                        limit
                    );
                }
                Err(other) => {
                    prop_assert!(
                        false,
                        "step {}: {:?} at {}: {:?}",
                        step,
                        op,
                        now_secs,
                        other
                    );
                }
            },
        }
        prop_assert!(cache.memory_used() <= limit, "step {}", step);
        prop_assert_eq!(cache.len(), model.len(), "step {}", step);
        // No live entry is ever gone: each still refuses a body it was not bound to.
        for (&(m, ts), &(bound, _)) in &model {
            let other = (bound + 1) % BODIES.len();
            prop_assert_eq!(
                cache
                    .bind_mac(&signature(m, ts), ts, BODIES[other], now)
                    .map_err(|e| e.kind()),
                Err(RejectionKind::SignatureReused),
                "step {}: live entry {:?} lost",
                step,
                (m, ts)
            );
        }
    }
    Ok(())
}

// =======================================================================================
// Properties.
// =======================================================================================

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn the_dedup_store_agrees_with_its_model(
        capacity in prop_oneof![1..=3usize, Just(5usize)],
        ops in vec(store_op(), 1..120),
    ) {
        check_store_against_model(capacity, &ops)?;
    }

    #[test]
    fn the_binding_cache_agrees_with_its_model(
        capacity in 1..=5usize,
        (tolerance, ops) in prop_oneof![Just(1u64), Just(5u64), Just(300u64)]
            .prop_flat_map(|t| (Just(t), vec(bind_op(t), 1..100))),
    ) {
        check_binding_against_model(capacity, tolerance, &ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn concurrent_claims_keep_one_owner_and_remember_completions(
        capacity in prop_oneof![Just(100usize), Just(2usize)],
        scripts in scripts(),
    ) {
        check_concurrent(capacity, &scripts)?;
    }
}
