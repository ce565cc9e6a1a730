//! `vocals-callback load`: a load generator that signs every request, as the provider does.
//!
//! Keep-alive HTTP/1 connections (hyper's `client::conn::http1`, one request in flight per
//! connection), each request **a new task id with a fresh kie.ai signature computed on the
//! spot** at the current second, so a receiver does all its work for every request (MAC,
//! binding, parse, dedup claim, dispatch) instead of recognising a retry. `--repeat` sends
//! one signed body over and over instead (the exact-retry case, answered `duplicate` after
//! the first), `--insecure` sends unsigned bodies (for `receive --insecure`).
//!
//! Pre-signed bodies cannot make this load: a signature is good for the receiver's 300 s
//! window only and each new event needs its own, so a long run would need millions of them
//! prepared in advance. Signing here costs the generator about a microsecond per request,
//! on its own core.
//!
//! The report on standard output: requests sent, answers per status code and per `status`
//! (and refusal `reason`) of the JSON answer, the achieved rate, latency percentiles, the
//! first unexpected answer, and one `summary key=value ...` line for scripts. With
//! `--expect-status CODE` the exit status is 1 if any answer had another code or any
//! request failed; 2 is a usage error.

use std::{
    collections::hash_map::RandomState,
    error::Error as StdError,
    hash::{BuildHasher, Hasher},
    net::{SocketAddr, ToSocketAddrs},
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{
    HeaderMap, HeaderValue, Method, Request, Uri,
    header::{CONTENT_TYPE, HOST},
};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;
use vocals_callback::testkit::{CallbackBody, TrackBody, kie_request};

/// A request not answered within this is counted as failed (the provider's own timeout).
const TIMEOUT: Duration = Duration::from_secs(15);
/// The pause after a failed connect, so a dead server is not hammered in a tight loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);
/// Between two progress lines on stderr.
const PROGRESS: Duration = Duration::from_secs(10);
/// Stands for the task id in the body template; replaced by each request's own id.
const PLACEHOLDER: &str = "ffffffffffffffffffffffffffffffff";

/// Which of the provider's callbacks each request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BodyKind {
    /// `complete` with two finished tracks and every field the live service sends (~1.6 KB).
    Complete,
    /// `first` with one finished and one unfinished track.
    First,
    /// `text`, no tracks (~150 B).
    Text,
}

/// The load generator's settings.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The receiver's callback URL (absolute, `http://`).
    #[arg(long, default_value = "http://127.0.0.1:3000/vocals-callback")]
    url: Uri,
    /// The webhook HMAC key (default: the first key of `VOCALS_KEYS`); not needed with
    /// `--insecure`.
    #[arg(long, env = "VOCALS_KEYS", hide_env_values = true)]
    key: Option<String>,
    /// Keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Stop after this many requests (default: run for `--duration`).
    #[arg(long, conflicts_with = "duration")]
    requests: Option<u64>,
    /// Stop after this many seconds (default 10, unless `--requests`).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    duration: Option<Duration>,
    /// Requests per second over all connections (default: as fast as answers come).
    #[arg(long, value_name = "PER_SEC")]
    rate: Option<f64>,
    /// Runtime threads: 1 is a current-thread runtime (one core: pin it with `taskset`).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Send one signed body over and over (exact retries) instead of a new event each time.
    /// Its timestamp is the start's: past the receiver's tolerance it is refused as too old.
    #[arg(long)]
    repeat: bool,
    /// Send unsigned bodies (for `receive --insecure`).
    #[arg(long)]
    insecure: bool,
    /// The callback each request carries.
    #[arg(long, value_enum, default_value_t = BodyKind::Complete)]
    body: BodyKind,
    /// Exit 1 if any answer has another status code (or any request fails).
    #[arg(long, value_name = "CODE")]
    expect_status: Option<u16>,
}

/// `10`, `2.5` or `10s`: seconds.
fn parse_secs(text: &str) -> Result<Duration, String> {
    let number = text.strip_suffix('s').unwrap_or(text);
    number
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("not a positive number of seconds: {text:?}"))
}

/// Runs the load and prints the report.
pub(crate) fn run(args: &Args) -> Result<ExitCode, Box<dyn StdError>> {
    if args.url.scheme_str() != Some("http") {
        return Err("--url must be an absolute http:// URL".into());
    }
    let authority = args
        .url
        .authority()
        .ok_or("--url must be an absolute http:// URL")?
        .clone();
    let addr = (authority.host(), authority.port_u16().unwrap_or(80))
        .to_socket_addrs()?
        .next()
        .ok_or("--url: the host has no address")?;
    if args.connections == 0 || args.threads == 0 {
        return Err("--connections and --threads must be at least 1".into());
    }
    if args.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err("--rate must be a positive number".into());
    }
    // `VOCALS_KEYS` may hold several keys: the first signs.
    let key = match (&args.key, args.insecure) {
        (_, true) => None,
        (Some(keys), false) => Some(
            keys.split(',')
                .map(str::trim)
                .find(|k| !k.is_empty())
                .ok_or("--key is empty")?
                .to_owned(),
        ),
        (None, false) => return Err("no key: pass --key, set VOCALS_KEYS, or --insecure".into()),
    };
    let path = args
        .url
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse::<Uri>()?;
    let mut factory = Factory::new(
        args.body,
        key,
        path,
        HeaderValue::from_str(authority.as_str())?,
    );
    if args.repeat {
        factory.repeat = Some(factory.fresh(0));
    }
    let stop = match (args.requests, args.duration) {
        (Some(n), _) => Stop::Requests(n),
        (None, Some(d)) => Stop::Duration(d),
        (None, None) => Stop::Duration(Duration::from_secs(10)),
    };
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    let what = match (args.repeat, factory.key.is_some()) {
        (true, true) => "one signed body repeated (exact retries)",
        (true, false) => "one unsigned body repeated",
        (false, true) => "a new task id with a fresh signature each",
        (false, false) => "a new task id each, unsigned",
    };
    println!(
        "# load {}: {} connections on {} thread(s), `{:?}` callbacks of {} bytes, {what}",
        args.url,
        args.connections,
        args.threads,
        args.body,
        factory.template.len()
    );
    let report = runtime.block_on(load(addr, args, factory, stop))?;
    Ok(report.print(args.expect_status))
}

/// When the run ends.
#[derive(Clone, Copy, Debug)]
enum Stop {
    Requests(u64),
    Duration(Duration),
}

/// Builds the requests: the body template with each request's task id written in, signed
/// at the current second.
#[derive(Debug)]
struct Factory {
    key: Option<String>,
    template: Vec<u8>,
    /// Where the task id sits in the template (once in every body the testkit builds).
    offsets: Vec<usize>,
    /// The first 16 hex digits of every task id: random per run, so two runs against one
    /// receiver do not collide; the other 16 are the request's sequence number.
    prefix: [u8; 16],
    path: Uri,
    host: HeaderValue,
    /// `--repeat`: the one request, sent again and again.
    repeat: Option<(HeaderMap, Bytes)>,
}

impl Factory {
    fn new(kind: BodyKind, key: Option<String>, path: Uri, host: HeaderValue) -> Self {
        let body = match kind {
            // The shape of tests/fixtures/bodies/complete.json: two finished tracks with
            // the `source_*` URLs the live service adds.
            BodyKind::Complete => CallbackBody::complete(PLACEHOLDER)
                .track(with_sources("8551cf6c-7be1-4a1b-9f52-0c1e64c0c4b1"))
                .track(with_sources("0b1c2d3e-4f50-4617-a8b9-cadbecfd0e1f")),
            BodyKind::First => CallbackBody::first(PLACEHOLDER)
                .track(TrackBody::ready("8551cf6c-7be1-4a1b-9f52-0c1e64c0c4b1"))
                .track(TrackBody::unfinished(
                    "0b1c2d3e-4f50-4617-a8b9-cadbecfd0e1f",
                )),
            BodyKind::Text => CallbackBody::text(PLACEHOLDER),
        };
        let template = body.to_bytes();
        let offsets = template
            .windows(PLACEHOLDER.len())
            .enumerate()
            .filter(|(_, w)| *w == PLACEHOLDER.as_bytes())
            .map(|(i, _)| i)
            .collect();
        let state = RandomState::new();
        let mut hasher = state.build_hasher();
        hasher.write_u32(std::process::id());
        hasher.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        let mut prefix = [0u8; 16];
        hex(hasher.finish(), &mut prefix);
        Self {
            key,
            template,
            offsets,
            prefix,
            path,
            host,
            repeat: None,
        }
    }

    /// Request number `seq`.
    fn request(&self, seq: u64) -> Request<Full<Bytes>> {
        let (headers, body) = match &self.repeat {
            Some((headers, body)) => (headers.clone(), body.clone()),
            None => self.fresh(seq),
        };
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.path.clone();
        *req.headers_mut() = headers;
        req
    }

    /// The headers and body of a new event: task id `prefix` + `seq`, signed now.
    fn fresh(&self, seq: u64) -> (HeaderMap, Bytes) {
        let mut id = [0u8; 32];
        id[..16].copy_from_slice(&self.prefix);
        hex(seq, &mut id[16..]);
        let mut body = self.template.clone();
        for &at in &self.offsets {
            body[at..at + id.len()].copy_from_slice(&id);
        }
        let mut headers = match &self.key {
            Some(key) => {
                // Hex digits only, so always UTF-8.
                let task_id = std::str::from_utf8(&id).unwrap_or_default();
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                // Each task id is new, so the one-signature-per-task-and-second rule that
                // `KieSigner` enforces cannot bite, and remembering every id as it does would
                // grow without bound over millions of requests: sign directly.
                kie_request(key, task_id, now, Bytes::new())
                    .into_parts()
                    .0
                    .headers
            }
            None => {
                let mut headers = HeaderMap::new();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                headers
            }
        };
        // hyper's connection-level client adds no Host; HTTP/1.1 requires one.
        headers.insert(HOST, self.host.clone());
        (headers, Bytes::from(body))
    }
}

/// A finished track with the `source_*` URLs the live service adds (the testkit's ready
/// track lacks them), so the body is the fixture's size.
fn with_sources(id: &str) -> TrackBody {
    TrackBody::ready(id)
        .set(
            "source_audio_url",
            json!(format!("https://cdn1.suno.example/{id}.mp3")),
        )
        .set(
            "source_stream_audio_url",
            json!(format!("https://cdn1.suno.example/s/{id}")),
        )
        .set(
            "source_image_url",
            json!(format!("https://cdn1.suno.example/{id}.jpeg")),
        )
}

/// `value` as lowercase hex, the low digits last, filling `out` (16 digits for a u64).
fn hex(mut value: u64, out: &mut [u8]) {
    for digit in out.iter_mut().rev() {
        // Masked to 4 bits: the cast cannot truncate anything that matters.
        #[allow(clippy::cast_possible_truncation)]
        let nibble = (value & 0xf) as usize;
        *digit = b"0123456789abcdef"[nibble];
        value >>= 4;
    }
}

/// What every connection task shares.
#[derive(Debug)]
struct Shared {
    addr: SocketAddr,
    factory: Factory,
    stop: Stop,
    start: Instant,
    next: AtomicU64,
    /// Requests answered or failed so far, and how many of them unexpectedly: for the
    /// progress lines of a long run.
    done: AtomicU64,
    bad: AtomicU64,
    expect: Option<u16>,
    /// Between two requests of one connection, under `--rate`.
    interval: Option<Duration>,
    connections: usize,
}

impl Shared {
    fn count(&self, ok: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.bad.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The next request's sequence number, or `None` once the run is over.
    fn ticket(&self) -> Option<u64> {
        match self.stop {
            Stop::Requests(n) => {
                let seq = self.next.fetch_add(1, Ordering::Relaxed);
                (seq < n).then_some(seq)
            }
            Stop::Duration(d) => {
                (self.start.elapsed() < d).then(|| self.next.fetch_add(1, Ordering::Relaxed))
            }
        }
    }
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // One small request at a time per connection: Nagle would only add delay.
    stream
        .set_nodelay(true)
        .map_err(|e| format!("connect: {e}"))?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; a failed request says why.
        let _ = conn.await;
    });
    Ok(sender)
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<(u16, Bytes), String> {
    let exchange = async {
        sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = res.status().as_u16();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| format!("no answer within {}s", TIMEOUT.as_secs()))?
}

/// One connection's loop: take a ticket, (re)connect if needed, send, tally the answer.
async fn connection(
    shared: Arc<Shared>,
    index: usize,
    mut sender: Option<SendRequest<Full<Bytes>>>,
) -> Tally {
    let mut tally = Tally::default();
    // Connections start their pacing staggered over one interval, not in lockstep.
    let mut next = shared
        .interval
        .map(|iv| shared.start + iv.mul_f64(index as f64 / shared.connections as f64));
    loop {
        if let (Some(at), Some(iv)) = (next.as_mut(), shared.interval) {
            tokio::time::sleep_until((*at).into()).await;
            *at += iv;
        }
        let Some(seq) = shared.ticket() else { break };
        let sent_at = Instant::now();
        if sender.is_none() {
            match connect(shared.addr).await {
                Ok(s) => sender = Some(s),
                Err(e) => {
                    tally.error(seq, shared.start.elapsed(), e);
                    shared.count(false);
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    continue;
                }
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        let req = shared.factory.request(seq);
        match send(s, req).await {
            Ok((status, body)) => {
                let at = shared.start.elapsed();
                let ok = tally.answer(seq, at, sent_at.elapsed(), status, &body, shared.expect);
                shared.count(ok);
            }
            Err(e) => {
                tally.error(seq, shared.start.elapsed(), e);
                shared.count(false);
                sender = None;
            }
        }
    }
    tally
}

/// A line on stderr every 10 s, so a long run shows where it is (and when refusals began).
async fn progress(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval_at((shared.start + PROGRESS).into(), PROGRESS);
    let mut last = 0;
    loop {
        tick.tick().await;
        let done = shared.done.load(Ordering::Relaxed);
        eprintln!(
            "# {:.0} s: {done} answered or failed ({:.0}/s in the last {} s), {} unexpected",
            shared.start.elapsed().as_secs_f64(),
            (done - last) as f64 / PROGRESS.as_secs_f64(),
            PROGRESS.as_secs(),
            shared.bad.load(Ordering::Relaxed)
        );
        last = done;
    }
}

async fn load(
    addr: SocketAddr,
    args: &Args,
    factory: Factory,
    stop: Stop,
) -> Result<Report, Box<dyn StdError>> {
    // Every connection is open before the clock starts: the rate is the server's, not
    // the handshakes'.
    let mut senders = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        senders.push(connect(addr).await.map_err(|e| format!("{addr}: {e}"))?);
    }
    let interval = args
        .rate
        .map(|rate| Duration::from_secs_f64(args.connections as f64 / rate));
    let shared = Arc::new(Shared {
        addr,
        factory,
        stop,
        start: Instant::now(),
        next: AtomicU64::new(0),
        done: AtomicU64::new(0),
        bad: AtomicU64::new(0),
        expect: args.expect_status,
        interval,
        connections: args.connections,
    });
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, s)| tokio::spawn(connection(Arc::clone(&shared), i, Some(s))))
        .collect();
    let progress = tokio::spawn(progress(Arc::clone(&shared)));
    let mut total = Tally::default();
    for task in tasks {
        total.merge(task.await?);
    }
    progress.abort();
    Ok(Report {
        tally: total,
        elapsed: shared.start.elapsed(),
    })
}

/// Latencies in microseconds, in buckets of at most 1/64 of their value (log-linear), so
/// a run of any length keeps a fixed 20 KB per connection.
#[derive(Clone, Debug)]
struct Histogram {
    counts: Vec<u64>,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; 64 * 64],
            max: 0,
        }
    }
}

impl Histogram {
    /// Values below 128 have a bucket each; above, 64 buckets per power of two.
    #[allow(clippy::cast_possible_truncation)] // Every cast is of a value below 2^12.
    fn index(value: u64) -> usize {
        if value < 128 {
            // Lossless: below 128.
            return value as usize;
        }
        let shift = 63 - value.leading_zeros() - 6;
        // `top` is in 64..128 and `shift` at most 57: both fit.
        let top = (value >> shift) as usize;
        shift as usize * 64 + top
    }

    /// The middle of bucket `index`.
    fn value(index: usize) -> u64 {
        if index < 128 {
            return index as u64;
        }
        let shift = index / 64 - 1;
        let top = (index % 64 + 64) as u64;
        let low = top << shift;
        let high = ((top + 1) << shift) - 1;
        low + (high - low) / 2
    }

    fn record(&mut self, micros: u64) {
        if let Some(count) = self.counts.get_mut(Self::index(micros)) {
            *count += 1;
        }
        self.max = self.max.max(micros);
    }

    fn merge(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.max = self.max.max(other.max);
    }

    /// The `q` quantile (0..=1), or 0 with no values.
    fn quantile(&self, q: f64) -> u64 {
        let n: u64 = self.counts.iter().sum();
        if n == 0 {
            return 0;
        }
        // The rank of the quantile, at least the first value: n is far below 2^52, so
        // the float is exact enough.
        #[allow(clippy::cast_possible_truncation)]
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::value(i).min(self.max);
            }
        }
        self.max
    }
}

/// Answers of one kind: status code, the JSON answer's `status` and `reason`.
#[derive(Clone, Debug)]
struct Kind {
    code: u16,
    status: Vec<u8>,
    reason: Vec<u8>,
    count: u64,
}

/// The first answer that was not the expected one.
#[derive(Clone, Debug)]
struct Unexpected {
    seq: u64,
    at: Duration,
    what: String,
}

/// One connection's counts (then all of them, merged).
#[derive(Debug, Default)]
struct Tally {
    latency: Histogram,
    kinds: Vec<Kind>,
    errors: Vec<(String, u64)>,
    unexpected: u64,
    first: Option<Unexpected>,
}

/// The string value after `pattern` (`"field":"`) in a JSON answer, if it is there: the
/// receiver's answers are tiny and flat, so a scan is enough (and allocates nothing).
fn field<'a>(body: &'a [u8], pattern: &[u8]) -> &'a [u8] {
    body.windows(pattern.len())
        .position(|w| w == pattern)
        .map(|at| &body[at + pattern.len()..])
        .and_then(|rest| rest.iter().position(|&b| b == b'"').map(|end| &rest[..end]))
        .unwrap_or_default()
}

const STATUS: &[u8] = br#""status":""#;
const REASON: &[u8] = br#""reason":""#;

impl Tally {
    fn answer(
        &mut self,
        seq: u64,
        at: Duration,
        latency: Duration,
        code: u16,
        body: &[u8],
        expect: Option<u16>,
    ) -> bool {
        self.latency
            .record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        let (status, reason) = (field(body, STATUS), field(body, REASON));
        match self
            .kinds
            .iter_mut()
            .find(|k| k.code == code && k.status == status && k.reason == reason)
        {
            Some(kind) => kind.count += 1,
            None => self.kinds.push(Kind {
                code,
                status: status.to_vec(),
                reason: reason.to_vec(),
                count: 1,
            }),
        }
        let ok = match expect {
            Some(expected) => code == expected,
            None => (200..300).contains(&code),
        };
        if !ok {
            self.unexpected += 1;
            let what = format!(
                "{code} {}",
                String::from_utf8_lossy(body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            );
            self.note_first(seq, at, what);
        }
        ok
    }

    fn error(&mut self, seq: u64, at: Duration, error: String) {
        self.note_first(seq, at, error.clone());
        match self.errors.iter_mut().find(|(e, _)| *e == error) {
            Some((_, count)) => *count += 1,
            None => self.errors.push((error, 1)),
        }
    }

    fn note_first(&mut self, seq: u64, at: Duration, what: String) {
        if self.first.as_ref().is_none_or(|f| seq < f.seq) {
            self.first = Some(Unexpected { seq, at, what });
        }
    }

    fn merge(&mut self, other: Self) {
        self.latency.merge(&other.latency);
        for kind in other.kinds {
            match self
                .kinds
                .iter_mut()
                .find(|k| k.code == kind.code && k.status == kind.status && k.reason == kind.reason)
            {
                Some(k) => k.count += kind.count,
                None => self.kinds.push(kind),
            }
        }
        for (error, count) in other.errors {
            match self.errors.iter_mut().find(|(e, _)| *e == error) {
                Some((_, c)) => *c += count,
                None => self.errors.push((error, count)),
            }
        }
        self.unexpected += other.unexpected;
        if let Some(first) = other.first {
            self.note_first(first.seq, first.at, first.what);
        }
    }
}

/// The whole run.
#[derive(Debug)]
struct Report {
    tally: Tally,
    elapsed: Duration,
}

impl Report {
    /// Prints the report; the exit status under `--expect-status`.
    fn print(mut self, expect: Option<u16>) -> ExitCode {
        let t = &mut self.tally;
        let answered: u64 = t.kinds.iter().map(|k| k.count).sum();
        let errors: u64 = t.errors.iter().map(|(_, c)| c).sum();
        let secs = self.elapsed.as_secs_f64();
        let rate = answered as f64 / secs.max(f64::MIN_POSITIVE);
        let (p50, p99) = (t.latency.quantile(0.50), t.latency.quantile(0.99));
        println!(
            "sent {} requests in {secs:.2} s: {answered} answered ({rate:.0}/s), {errors} failed",
            answered + errors
        );
        println!(
            "latency p50 {p50} us, p99 {p99} us, p99.9 {} us, max {} us",
            t.latency.quantile(0.999),
            t.latency.max
        );
        t.kinds.sort_by_key(|k| std::cmp::Reverse(k.count));
        let mut codes: Vec<(u16, u64)> = Vec::new();
        for k in &t.kinds {
            let mut label = String::from_utf8_lossy(&k.status).into_owned();
            if !k.reason.is_empty() {
                label.push(' ');
                label.push_str(&String::from_utf8_lossy(&k.reason));
            }
            println!("  {} {label}: {}", k.code, k.count);
            match codes.iter_mut().find(|(c, _)| *c == k.code) {
                Some((_, n)) => *n += k.count,
                None => codes.push((k.code, k.count)),
            }
        }
        for (error, count) in &t.errors {
            println!("  failed: {error}: {count}");
        }
        if let Some(first) = &t.first {
            println!(
                "first unexpected: request #{} at {:.2} s: {}",
                first.seq + 1,
                first.at.as_secs_f64(),
                first.what
            );
        }
        codes.sort_unstable();
        let by_code: String = codes
            .iter()
            .map(|(c, n)| format!(" status_{c}={n}"))
            .collect();
        let received = t
            .kinds
            .iter()
            .filter(|k| k.status == b"received")
            .map(|k| k.count)
            .sum::<u64>();
        let duplicate = t
            .kinds
            .iter()
            .filter(|k| k.status == b"duplicate")
            .map(|k| k.count)
            .sum::<u64>();
        println!(
            "summary sent={} answered={answered} failed={errors} seconds={secs:.3} rate={rate:.0} \
             p50_us={p50} p99_us={p99} unexpected={} received={received} duplicate={duplicate}{by_code}",
            answered + errors,
            t.unexpected + errors,
        );
        if expect.is_some() && (t.unexpected > 0 || errors > 0) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_contiguous_and_close() {
        let mut last = 0;
        for v in [0, 1, 127, 128, 129, 255, 256, 1_000, 123_456, 10_000_000] {
            let i = Histogram::index(v);
            assert!(i >= last, "{v}");
            last = i;
            let mid = Histogram::value(i);
            assert!(mid.abs_diff(v) <= v / 64 + 1, "{v} -> {mid}");
        }
        let mut h = Histogram::default();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), 50);
        assert_eq!(h.quantile(0.99), 99);
    }

    #[test]
    fn the_answer_fields_are_read() {
        let body = br#"{"status":"rejected","reason":"binding_cache_full"}"#;
        assert_eq!(field(body, STATUS), b"rejected");
        assert_eq!(field(body, REASON), b"binding_cache_full");
        assert_eq!(field(br#"{"status":"received"}"#, REASON), b"");
    }

    #[test]
    fn every_request_is_a_new_task_signed_now() {
        let f = Factory::new(
            BodyKind::Complete,
            Some("k".into()),
            Uri::from_static("/cb"),
            HeaderValue::from_static("h"),
        );
        assert_eq!(f.offsets.len(), 1);
        let (a, b) = (f.request(1), f.request(2));
        let id = |r: &Request<Full<Bytes>>| r.headers()["x-webhook-signature"].clone();
        assert_ne!(id(&a), id(&b));
        assert_eq!(a.uri(), "/cb");
        assert_eq!(a.headers()[HOST], "h");
    }
}
