//! `vocals-callback receive`: the reference receiver.
//!
//! Standard output carries exactly one JSON line per handled event, flushed per line: the
//! event's fields and a `delivery` object (`source`, `attempt`, `received_at`, and for a
//! verified callback `scheme`, `key_label`, `signed_at`); none with `--quiet`, for load
//! tests. Logs go to standard error (`RUST_LOG` filters them), `listening on http://ADDR/PATH`
//! once the socket is bound (after `metrics on http://ADDR/metrics` with `--metrics`, see
//! `scrape.rs`). With no key and no `--insecure`, a random key is generated and
//! printed on stderr, so the receiver is secure out of the box. SIGINT or SIGTERM stop it
//! gracefully: no new connections, in-flight requests and handlers finish (10 s at most).

use std::{
    convert::Infallible,
    error::Error as StdError,
    future::Future,
    io::{self, Read, Write},
    net::SocketAddr,
    num::NonZeroUsize,
    process::ExitCode,
    time::Duration,
};

use http::Request;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use serde::Serialize;
use tokio::net::TcpListener;
use tower::{Layer, ServiceExt};
use vocals_callback::{
    Delivery, HandlerError, HandlerResult, Secret, VocalsEvent, VocalsHandler, VocalsLayer,
    VocalsService,
    backend::{Backend, MemoryBackend},
    service::{Builder, QueueConfig},
    verify::KieSignature,
};

/// Slow clients are cut off well inside the sender's 15 s: 5 s for the headers, then the
/// service's 10 s body deadline.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How handled events reach the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// Inside the request: 200 once the line is printed.
    Inline,
    /// Through the in-memory queue: 200 once queued.
    Queue,
}

/// The receiver's settings; every flag has a `VOCALS_…` variable too (the flag wins).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The address to listen on.
    #[arg(long, env = "VOCALS_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// The callback path.
    #[arg(long, env = "VOCALS_PATH", default_value = "/vocals-callback")]
    path: String,
    /// The webhook HMAC key (`webhookHmacKey`); repeat it (or comma-separate
    /// `VOCALS_KEYS`) for rotation: the first is labelled `default`, the next `key2`, ….
    #[arg(
        long = "key",
        value_name = "KEY",
        env = "VOCALS_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    keys: Vec<String>,
    /// The tolerance window of the signature's timestamp, in seconds, both ways.
    #[arg(long, env = "VOCALS_TOLERANCE_SECS", default_value_t = 300)]
    tolerance: u64,
    /// Dispatch inline (200 once handled) or through the queue (200 once queued).
    #[arg(long, value_enum, default_value_t = Mode::Inline)]
    mode: Mode,
    /// Keep dedup and binding state in this Redis, shared with other replicas (build with
    /// `--features cli,redis`).
    #[arg(long, env = "VOCALS_REDIS_URL", hide_env_values = true)]
    redis: Option<String>,
    /// The memory the binding of signatures to bodies may take, in MiB: each verified
    /// signature is held for its 300 s window, about 45 bytes, so 64 MiB hold more than
    /// 3 000 callbacks per second sustained; past it, new callbacks get 503 + `Retry-After`
    /// until the oldest second expires. (With `--redis` the binding lives in Redis.)
    #[arg(
        long,
        value_name = "MIB",
        env = "VOCALS_BINDING_MEMORY_MIB",
        default_value_t = 64,
        value_parser = clap::value_parser!(u32).range(1..=1 << 20)
    )]
    binding_memory: u32,
    /// Accept unverified callbacks (local experiments only: anyone can post events).
    #[arg(long)]
    insecure: bool,
    /// Print no event lines (for load tests).
    #[arg(long)]
    quiet: bool,
    /// Serve metrics in the Prometheus text format on http://ADDR/metrics.
    #[arg(long, value_name = "ADDR", env = "VOCALS_METRICS")]
    metrics: Option<SocketAddr>,
    /// The runtime's worker threads (default: one per core). 1 runs everything on one
    /// thread (a current-thread runtime: no cross-thread wake-ups, the cheapest per request).
    #[arg(long, env = "VOCALS_THREADS")]
    threads: Option<NonZeroUsize>,
}

/// Runs the receiver until SIGINT or SIGTERM.
pub(crate) fn run(args: Args) -> Result<ExitCode, Box<dyn StdError>> {
    let runtime = runtime(args.threads)?;
    runtime.block_on(serve_args(args))?;
    Ok(ExitCode::SUCCESS)
}

/// The runtime for `--threads`: tokio's default (a worker per core) unless set. One thread
/// is a current-thread runtime rather than a multi-thread one with one worker: the latter
/// still runs the accept loop on the main thread and hands each wake-up to its worker
/// through shared queues, which costs CPU per request and a thread switch per accept.
fn runtime(threads: Option<NonZeroUsize>) -> io::Result<tokio::runtime::Runtime> {
    match threads.map(NonZeroUsize::get) {
        None => tokio::runtime::Runtime::new(),
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    }
}

/// One line of standard output: the event's fields, and the delivery's beside them.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    event: &'a VocalsEvent,
    delivery: &'a Delivery,
}

/// The receiver's handler: every event, with its delivery, as a line on stdout. Writing
/// to stdout is the receiver's "safe place": once the line is flushed, the event is
/// acknowledged.
#[derive(Debug)]
struct Printer {
    quiet: bool,
}

impl VocalsHandler for Printer {
    fn handle(
        &self,
        event: VocalsEvent,
        delivery: Delivery,
    ) -> impl Future<Output = HandlerResult> + Send {
        std::future::ready(self.print(&event, &delivery))
    }
}

impl Printer {
    fn print(&self, event: &VocalsEvent, delivery: &Delivery) -> HandlerResult {
        if self.quiet {
            return Ok(());
        }
        let mut line = serde_json::to_vec(&Line { event, delivery }).map_err(HandlerError::new)?;
        line.push(b'\n');
        let mut out = io::stdout().lock();
        out.write_all(&line)?;
        out.flush()?;
        Ok(())
    }
}

/// 32 random bytes from the OS, hex-encoded.
fn random_key() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The service's settings but the backend.
fn builder(args: &Args) -> Result<Builder<Printer>, Box<dyn StdError>> {
    let mut builder = VocalsService::builder(Printer { quiet: args.quiet }).path(args.path.clone());
    // An empty `VOCALS_KEYS` (or `--key ''`) is no key.
    let mut keys: Vec<&str> = args
        .keys
        .iter()
        .map(|k| k.trim())
        .filter(|k| !k.is_empty())
        .collect();
    let generated;
    if keys.is_empty() && !args.insecure {
        generated = random_key()?;
        eprintln!("no key given: generated one for this run (sign callbacks with it):");
        eprintln!("VOCALS_KEYS={generated}");
        keys.push(&generated);
    }
    if let Some((first, rest)) = keys.split_first() {
        let mut kie = KieSignature::new(Secret::new(*first)?)
            .with_tolerance(Duration::from_secs(args.tolerance))?;
        for (i, key) in rest.iter().enumerate() {
            kie = kie.with_key(&format!("key{}", i + 2), Secret::new(*key)?)?;
        }
        builder = builder.verifier(kie);
    } else {
        builder = builder.insecure_accept_unverified();
    }
    if args.mode == Mode::Queue {
        builder = builder.queued(QueueConfig::new());
    }
    Ok(builder)
}

async fn serve_args(args: Args) -> Result<(), Box<dyn StdError>> {
    crate::scrape::install(args.metrics)?;
    let builder = builder(&args)?;
    match args.redis.clone() {
        None => {
            let mib = usize::try_from(args.binding_memory)?;
            let backend = MemoryBackend::new().with_binding_memory(mib << 20);
            serve(&args, builder.backend(backend).build_layer()?).await
        }
        Some(url) => serve_with_redis(&args, builder, &url).await,
    }
}

/// Dedup and binding in Redis: every replica pointed at it dispatches each event once and
/// refuses a swapped body whichever replica it reaches. Redis being down answers 503 until
/// it is back (the connection comes back by itself).
#[cfg(feature = "redis")]
async fn serve_with_redis(
    args: &Args,
    builder: Builder<Printer>,
    url: &str,
) -> Result<(), Box<dyn StdError>> {
    use vocals_callback::redis::{RedisBackend, RedisConfig};

    let redis = RedisConfig::new(url).connect()?;
    if let Err(err) = redis.ping().await {
        let error = &err as &dyn StdError;
        tracing::warn!(
            error,
            "Redis does not answer yet: callbacks get 503 until it does"
        );
    }
    let layer = builder.backend(RedisBackend::new(redis)).build_layer()?;
    serve(args, layer).await
}

#[cfg(not(feature = "redis"))]
async fn serve_with_redis(_: &Args, _: Builder<Printer>, _: &str) -> Result<(), Box<dyn StdError>> {
    Err("--redis needs the `redis` feature: install with --features cli,redis".into())
}

async fn serve<B: Backend>(
    args: &Args,
    layer: VocalsLayer<Printer, B>,
) -> Result<(), Box<dyn StdError>> {
    // The callback path runs the pipeline; every other path gets the 404 service.
    let svc = layer.service().clone();
    let app = layer.layer(tower::service_fn(|_: Request<Incoming>| async {
        Ok::<_, Infallible>(not_found())
    }));
    crate::scrape::serve(args.metrics, &svc).await?;
    let listener = TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    eprintln!("listening on http://{addr}{}", args.path);

    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    let error = &err as &dyn StdError;
                    tracing::warn!(error, "accept failed");
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let app = app.clone();
        // No IpAllowlist here, so the peer address is not copied into the extensions
        // (with one, `req.extensions_mut().insert(peer)` is what it reads).
        let hyper_svc = service_fn(move |req: Request<Incoming>| app.clone().oneshot(req));
        let conn = http.serve_connection(TokioIo::new(stream), hyper_svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
        });
    }

    tracing::info!("shutting down");
    let report = svc.shutdown(SHUTDOWN_GRACE).await;
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period");
    }
    let stats = svc.stats();
    tracing::info!(
        received = stats.received(),
        duplicate = stats.duplicate(),
        ignored = stats.ignored(),
        rejected = stats.rejected_total(),
        dead_lettered = report.dead_lettered(),
        abandoned = report.abandoned(),
        "stopped"
    );
    Ok(())
}

fn not_found() -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let mut res = http::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(
        br#"{"status":"not_found"}"#,
    )));
    *res.status_mut() = http::StatusCode::NOT_FOUND;
    res
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            },
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
