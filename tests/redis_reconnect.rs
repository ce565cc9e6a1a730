//! No callback is refused once Redis answers again (issue 13), against a real
//! `redis-server` started by the test (never a mock):
//!
//! - two replicas, Redis killed and restarted: from one second after it is back, every
//!   callback on both replicas is answered 200 and each event is dispatched once;
//! - each replica reconnects by itself, before any request needs the connection;
//! - a connection closed by Redis (`CLIENT KILL`) costs no callback;
//! - an operation whose answer was lost with its connection is run again on a new one and
//!   answers as its first run did (the claim, complete, release and bind scripts are
//!   idempotent for their own token), through a proxy that drops the connection after Redis
//!   has run the command and before its answer reaches the client;
//! - a connection that stops answering without closing is replaced.
#![cfg(all(feature = "redis", feature = "testkit"))]

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};
use vocals_callback::{
    HandlerResult, RejectionKind, Secret, Stage, VocalsEvent, VocalsHandler, VocalsService,
    dedup::{Claim, ClaimRequest, DedupKey, DedupStore},
    redis::{RedisBackend, RedisBinding, RedisConfig, RedisConnection, RedisStore},
    testkit::{CallbackBody, RedisServer, kie_request},
    verify::KieSignature,
};

mod support;
use support::oneshot::send;

const KEY: &str = "reconnect-shared-key";

/// Counts the dispatches of each task, across replicas.
#[derive(Clone, Default)]
struct Counting(Arc<Mutex<HashMap<String, usize>>>);

impl VocalsHandler for Counting {
    async fn on_event(&self, event: VocalsEvent) -> HandlerResult {
        *self
            .0
            .lock()
            .unwrap()
            .entry(event.task_id().to_owned())
            .or_default() += 1;
        Ok(())
    }
}

fn connect(url: &str) -> RedisConnection {
    // The default timeout: the retry must fit in the one a receiver really runs with.
    RedisConfig::new(url)
        .with_key_prefix("rc:")
        .connect()
        .unwrap()
}

fn replica(redis: &RedisServer, handler: &Counting) -> VocalsService<Counting, RedisBackend> {
    VocalsService::builder(handler.clone())
        .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
        .backend(RedisBackend::new(connect(&redis.url())))
        .build()
        .unwrap()
}

fn callback(task: &str) -> Request<Full<Bytes>> {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    kie_request(KEY, task, ts, CallbackBody::complete(task).to_bytes())
}

/// Polls `ready` every 10 ms until it holds, for at most `within`; panics naming `what`.
async fn within(within: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ready() {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_one_second_after_redis_is_back_both_replicas_refuse_nothing() {
    let mut redis = RedisServer::start().unwrap();
    let handler = Counting::default();
    let replicas = [replica(&redis, &handler), replica(&redis, &handler)];
    for (i, svc) in replicas.iter().enumerate() {
        let (status, outcome, _) = send(svc, callback(&format!("before-{i}"))).await;
        assert_eq!((status, outcome.as_str()), (StatusCode::OK, "received"));
    }

    redis.kill();
    for (i, svc) in replicas.iter().enumerate() {
        let res = tower::ServiceExt::oneshot(svc.clone(), callback(&format!("down-{i}")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers().contains_key(http::header::RETRY_AFTER));
        assert_eq!(
            res.extensions()
                .get::<vocals_callback::Rejection>()
                .map(vocals_callback::Rejection::kind),
            Some(RejectionKind::StoreUnavailable)
        );
    }

    redis.restart().unwrap();
    // The requirement's own second: no callback may be refused from then on.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 20 new events per replica, all at once (the first of them is the one that used to be
    // refused), then the two refused during the outage, as the provider retries them.
    let mut sends = Vec::new();
    for i in 0..20 {
        for (r, svc) in replicas.iter().enumerate() {
            let svc = svc.clone();
            let task = format!("after-{r}-{i}");
            sends.push(tokio::spawn(async move {
                (task.clone(), send(&svc, callback(&task)).await)
            }));
        }
    }
    for handle in sends {
        let (task, (status, outcome, kind)) = handle.await.unwrap();
        assert_eq!(
            (status, outcome.as_str(), kind),
            (StatusCode::OK, "received", None),
            "{task}"
        );
    }
    for (i, svc) in replicas.iter().rev().enumerate() {
        let (status, outcome, kind) = send(svc, callback(&format!("down-{i}"))).await;
        assert_eq!(
            (status, outcome.as_str(), kind),
            (StatusCode::OK, "received", None)
        );
    }

    let counts = handler.0.lock().unwrap();
    assert_eq!(counts.len(), 2 + 40 + 2, "{counts:?}");
    assert!(
        counts.values().all(|&n| n == 1),
        "dispatched once each: {counts:?}"
    );
}

#[tokio::test]
async fn each_replica_reconnects_by_itself_once_redis_is_back() {
    let mut redis = RedisServer::start().unwrap();
    let replicas = [connect(&redis.url()), connect(&redis.url())];
    for conn in &replicas {
        conn.ping().await.unwrap();
    }
    assert_eq!(redis.clients().unwrap(), 2);

    // Killed and restarted: both connections are made again with no request sent, so the
    // first callback after the outage finds one ready.
    redis.kill();
    redis.restart().unwrap();
    within(
        Duration::from_secs(1),
        "both replicas connected again",
        || redis.clients().unwrap() == 2,
    )
    .await;

    // Closed by Redis (an idle timeout, a failover): the same.
    assert_eq!(redis.kill_clients().unwrap(), 2);
    within(
        Duration::from_secs(1),
        "both replicas connected again",
        || redis.clients().unwrap() == 2,
    )
    .await;
    drop(replicas);
}

#[tokio::test]
async fn a_connection_closed_by_redis_costs_no_callback() {
    let redis = RedisServer::start().unwrap();
    let handler = Counting::default();
    let replicas = [replica(&redis, &handler), replica(&redis, &handler)];
    for round in 0..3 {
        for (r, svc) in replicas.iter().enumerate() {
            let task = format!("kill-{round}-{r}");
            let (status, _, kind) = send(svc, callback(&task)).await;
            assert_eq!(
                (status, kind),
                (StatusCode::OK, None),
                "{task} before the kill"
            );
            // Straight after the kill: the next callback finds the connection closed.
            assert!(redis.kill_clients().unwrap() >= 1);
            let (status, _, kind) = send(svc, callback(&format!("{task}-next"))).await;
            assert_eq!(
                (status, kind),
                (StatusCode::OK, None),
                "{task} after the kill"
            );
        }
    }
    let counts = handler.0.lock().unwrap();
    assert_eq!(counts.len(), 12);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

/// A TCP proxy in front of Redis that misbehaves on demand, as a network or a dying server
/// does; every connection made after a misbehaviour is forwarded untouched.
///
/// - [`lose`](Self::lose): forwards the next request holding a marker, reads Redis's
///   answers until the expected one has come (so the command has run), drops them and
///   closes both sides: the answer is lost with the connection.
/// - [`stall`](Self::stall): the connections open now stop forwarding anything, without
///   closing (a host that vanished: no FIN, no RST).
struct Proxy {
    port: u16,
    state: Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    /// The marker and the answer to lose.
    armed: Mutex<Option<(Vec<u8>, Vec<u8>)>>,
    /// The last marker armed, and how many requests forwarded held it since.
    marker: Mutex<Vec<u8>>,
    seen: AtomicUsize,
    /// Connections numbered below this one are stalled.
    stalled_below: AtomicUsize,
    accepted: AtomicUsize,
}

impl Proxy {
    async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ProxyState::default());
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let (client, _) = listener.accept().await.unwrap();
                let server = TcpStream::connect(("127.0.0.1", upstream)).await.unwrap();
                let number = shared.accepted.fetch_add(1, SeqCst);
                tokio::spawn(pipe(client, server, number, shared.clone()));
            }
        });
        Self { port, state }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Loses the answer `answer` of the next request holding `marker`.
    fn lose(&self, marker: &str, answer: &[u8]) {
        *self.state.marker.lock().unwrap() = marker.as_bytes().to_vec();
        *self.state.armed.lock().unwrap() = Some((marker.as_bytes().to_vec(), answer.to_vec()));
        self.state.seen.store(0, SeqCst);
    }

    fn is_armed(&self) -> bool {
        self.state.armed.lock().unwrap().is_some()
    }

    /// Requests holding the last marker forwarded since it was armed.
    fn seen(&self) -> usize {
        self.state.seen.load(SeqCst)
    }

    /// Stalls every connection open now.
    fn stall(&self) {
        let accepted = self.state.accepted.load(SeqCst);
        self.state.stalled_below.store(accepted, SeqCst);
    }

    fn connections(&self) -> usize {
        self.state.accepted.load(SeqCst)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

async fn pipe(client: TcpStream, server: TcpStream, number: usize, state: Arc<ProxyState>) {
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    // The answer to wait for and drop, once the marked request has gone up.
    let losing: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let lose = losing.clone();
    let up_state = state.clone();
    let up = tokio::spawn(async move {
        let state = up_state;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_rx.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if number < state.stalled_below.load(SeqCst) {
                continue;
            }
            let chunk = &buf[..n];
            if contains(chunk, &state.marker.lock().unwrap()) {
                state.seen.fetch_add(1, SeqCst);
            }
            let take = {
                let mut armed = state.armed.lock().unwrap();
                match armed.as_ref() {
                    Some((m, _)) if contains(chunk, m) => armed.take().map(|(_, answer)| answer),
                    _ => None,
                }
            };
            if let Some(answer) = take {
                *lose.lock().unwrap() = Some(answer);
            }
            if server_tx.write_all(chunk).await.is_err() {
                return;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut dropped = Vec::new();
    loop {
        let n = match server_rx.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if number < state.stalled_below.load(SeqCst) {
            continue;
        }
        let answer = losing.lock().unwrap().clone();
        if let Some(answer) = answer {
            // Answers come in order: the marked request's is the one that ends with it
            // (answers to requests sent before it, a health check's, go with it).
            dropped.extend_from_slice(&buf[..n]);
            if dropped.ends_with(&answer) {
                break;
            }
            continue;
        }
        if client_tx.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    up.abort();
    // Dropping both halves of both sockets closes them.
}

#[tokio::test]
async fn an_answer_lost_with_its_connection_is_answered_as_the_first_run_did() {
    let redis = RedisServer::start().unwrap();
    let proxy = Proxy::start(redis.port()).await;
    let store = RedisStore::new(connect(&proxy.url()));
    let binding = RedisBinding::new(store.connection().clone(), Duration::from_secs(300)).unwrap();
    // Loads the scripts, so the marked requests are the scripts' runs (no `NOSCRIPT`).
    let warm = ClaimRequest::new(
        DedupKey::new("warm-up", Stage::Text),
        SystemTime::now(),
        Duration::from_secs(11),
    );
    let Claim::New(token) = store.claim(&warm).await.unwrap() else {
        panic!("first claim");
    };
    store.release(warm.key(), token).await.unwrap();
    let Claim::New(token) = store.claim(&warm).await.unwrap() else {
        panic!("released, so new");
    };
    store
        .complete(warm.key(), token, SystemTime::now())
        .await
        .unwrap();
    let now = SystemTime::now();
    let ts = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
    binding.bind_mac(&[9; 32], ts, b"warm", now).await.unwrap();

    let key = DedupKey::new("lost-answer", Stage::Complete);
    let claim = ClaimRequest::new(key, SystemTime::now(), Duration::from_secs(11));

    // The claim took the key (its answer `{0}` was lost): run again with the same token, it
    // is answered "claimed" again, not "in flight" (its own lease).
    proxy.lose("lost-answer", b"*1\r\n:0\r\n");
    let Claim::New(token) = store.claim(&claim).await.unwrap() else {
        panic!("the repeated claim must answer as the first run did");
    };
    assert!(!proxy.is_armed());
    assert_eq!(proxy.seen(), 2, "run once, lost, run again");
    // The key holds that token: it releases it.
    assert_eq!(
        redis
            .command(&["GET", "rc:{lost-answer}:complete"])
            .unwrap(),
        token.get().to_string()
    );

    // The release deleted the key (`1` lost): run again, it deletes nothing and succeeds.
    proxy.lose("lost-answer", b":1\r\n");
    store.release(&key, token).await.unwrap();
    assert_eq!(proxy.seen(), 2);
    assert_eq!(
        redis
            .command(&["EXISTS", "rc:{lost-answer}:complete"])
            .unwrap(),
        "0"
    );

    // The completion wrote `done` (`1` lost): run again, it writes `done` again.
    let Claim::New(token) = store.claim(&claim).await.unwrap() else {
        panic!("released, so new");
    };
    proxy.lose("lost-answer", b":1\r\n");
    store
        .complete(&key, token, SystemTime::now())
        .await
        .unwrap();
    assert_eq!(proxy.seen(), 2);
    assert_eq!(store.claim(&claim).await.unwrap(), Claim::Done);

    // The binding was written (nil lost): run again, it finds its own digest and passes,
    // not "signature reused".
    let mac = [0x5a; 32];
    let mut hex = String::new();
    for b in mac {
        hex.push_str(&format!("{b:02x}"));
    }
    proxy.lose(&hex, b"$-1\r\n");
    binding.bind_mac(&mac, ts, b"the body", now).await.unwrap();
    assert_eq!(proxy.seen(), 2);
    let swapped = binding.bind_mac(&mac, ts, b"another body", now).await;
    assert_eq!(swapped.unwrap_err().kind(), RejectionKind::SignatureReused);
}

#[tokio::test]
async fn a_connection_that_stops_answering_is_replaced() {
    let redis = RedisServer::start().unwrap();
    let proxy = Proxy::start(redis.port()).await;
    let timeout = Duration::from_millis(300);
    let conn = RedisConfig::new(proxy.url())
        .with_timeout(timeout)
        .connect()
        .unwrap();
    conn.ping().await.unwrap();
    assert_eq!(proxy.connections(), 1);

    // The socket stays open and answers nothing: redis-rs alone would wait on it forever
    // (a timeout is not a reason for it to reconnect), each request failing after the
    // timeout. The health task's PING times out too, and the connection is made anew.
    proxy.stall();
    let started = Instant::now();
    while conn.ping().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the stalled connection was never replaced"
        );
    }
    assert_eq!(proxy.connections(), 2);
}
