//! The reference receiver: the crate's main job, ready to run.
//!
//! ```sh
//! cargo run --release --example receiver -- [--listen ADDR] [--path PATH] [--key KEY]...
//!     [--tolerance SECS] [--mode inline|queue] [--insecure] [--quiet]
//! ```
//!
//! The same settings come from `VOCALS_LISTEN`, `VOCALS_PATH`, `VOCALS_KEYS` (comma-separated)
//! and `VOCALS_TOLERANCE_SECS`; flags win. Defaults: `127.0.0.1:3000`, `/vocals-callback`,
//! inline dispatch, 300 s. With no key and no `--insecure`, a random key is generated and
//! printed on stderr, so the receiver is secure out of the box.
//!
//! Standard output carries exactly one JSON line per dispatched event, flushed per line:
//! the event's fields and a `delivery` object (`source`, `attempt`, `received_at`, and for
//! a verified callback `scheme`, `key_label`, `signed_at`); none with `--quiet`, for load
//! tests. Logs go to standard error (`RUST_LOG` filters them). SIGINT or SIGTERM stop it gracefully: no new connections, in-flight requests and
//! handlers finish (10 s at most).

use std::{
    convert::Infallible,
    env,
    future::Future,
    io::{self, IsTerminal, Read, Write},
    net::SocketAddr,
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
    backend::Backend,
    service::{Builder, QueueConfig},
    verify::KieSignature,
};

/// Slow clients are cut off well inside the sender's 15 s: 5 s for the headers, then the
/// service's 10 s body deadline.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

const USAGE: &str = "usage: receiver [--listen ADDR] [--path PATH] [--key KEY]... \
[--tolerance SECS] [--mode inline|queue] [--redis URL] [--insecure] [--quiet]
env: VOCALS_LISTEN, VOCALS_PATH, VOCALS_KEYS (comma-separated), VOCALS_TOLERANCE_SECS, \
VOCALS_REDIS_URL";

#[derive(Debug)]
struct Settings {
    listen: SocketAddr,
    path: String,
    keys: Vec<String>,
    tolerance: u64,
    queued: bool,
    /// Dedup and binding in this Redis, shared with the other replicas (feature `redis`).
    redis: Option<String>,
    insecure: bool,
    quiet: bool,
}

fn settings(args: impl IntoIterator<Item = String>) -> Result<Settings, String> {
    let var = |name: &str| env::var(name).ok().filter(|v| !v.is_empty());
    let mut listen = var("VOCALS_LISTEN").unwrap_or_else(|| "127.0.0.1:3000".into());
    let mut path = var("VOCALS_PATH").unwrap_or_else(|| "/vocals-callback".into());
    let mut keys: Vec<String> = var("VOCALS_KEYS")
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let mut tolerance = var("VOCALS_TOLERANCE_SECS").unwrap_or_else(|| "300".into());
    let mut redis = var("VOCALS_REDIS_URL");
    let (mut mode, mut insecure, mut quiet) = (String::from("inline"), false, false);
    let mut flag_keys = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = value()?,
            "--path" => path = value()?,
            "--key" => flag_keys.push(value()?),
            "--tolerance" => tolerance = value()?,
            "--mode" => mode = value()?,
            "--redis" => redis = Some(value()?),
            "--insecure" => insecure = true,
            "--quiet" => quiet = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !flag_keys.is_empty() {
        keys = flag_keys;
    }
    Ok(Settings {
        listen: listen
            .parse()
            .map_err(|_| format!("--listen: not an address: {listen:?}"))?,
        path,
        keys,
        tolerance: tolerance
            .parse()
            .map_err(|_| format!("--tolerance: not a number of seconds: {tolerance:?}"))?,
        queued: match mode.as_str() {
            "inline" => false,
            "queue" => true,
            other => return Err(format!("--mode: inline or queue, not {other:?}")),
        },
        redis,
        insecure,
        quiet,
    })
}

/// 32 random bytes from the OS, hex-encoded.
fn random_key() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// One line of standard output: the event's fields, and the delivery's beside them.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    event: &'a VocalsEvent,
    delivery: &'a Delivery,
}

/// Prints each dispatched event as one JSON line. Writing to stdout is the receiver's
/// "safe place": once the line is flushed, the event is acknowledged.
fn print_event(event: &VocalsEvent, delivery: &Delivery, quiet: bool) -> HandlerResult {
    if quiet {
        return Ok(());
    }
    let mut line = serde_json::to_vec(&Line { event, delivery }).map_err(HandlerError::new)?;
    line.push(b'\n');
    let mut out = io::stdout().lock();
    out.write_all(&line)?;
    out.flush()?;
    Ok(())
}

/// The receiver's handler: every event, with its delivery, as a line on stdout.
struct Handler {
    quiet: bool,
}

impl VocalsHandler for Handler {
    fn handle(
        &self,
        event: VocalsEvent,
        delivery: Delivery,
    ) -> impl Future<Output = HandlerResult> + Send {
        std::future::ready(print_event(&event, &delivery, self.quiet))
    }
}

/// The service's settings but the backend.
fn builder(settings: &Settings) -> Result<Builder<Handler>, Box<dyn std::error::Error>> {
    let handler = Handler {
        quiet: settings.quiet,
    };
    let mut builder = VocalsService::builder(handler).path(settings.path.clone());
    let mut keys = settings.keys.clone();
    if keys.is_empty() && !settings.insecure {
        let key = random_key()?;
        eprintln!("no key given: generated one for this run (sign callbacks with it):");
        eprintln!("VOCALS_KEYS={key}");
        keys.push(key);
    }
    if let Some((first, rest)) = keys.split_first() {
        let mut kie = KieSignature::new(Secret::new(first.trim())?)
            .with_tolerance(Duration::from_secs(settings.tolerance))?;
        for (i, key) in rest.iter().enumerate() {
            kie = kie.with_key(&format!("key{}", i + 2), Secret::new(key.trim())?)?;
        }
        builder = builder.verifier(kie);
    } else {
        builder = builder.insecure_accept_unverified();
    }
    if settings.queued {
        builder = builder.queued(QueueConfig::new());
    }
    Ok(builder)
}

async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let builder = builder(&settings)?;
    match settings.redis.clone() {
        None => serve(settings, builder.build_layer()?).await,
        Some(url) => serve_with_redis(settings, builder, &url).await,
    }
}

/// Dedup and binding in Redis: every replica pointed at it dispatches each event once and
/// refuses a swapped body whichever replica it reaches. Redis being down answers 503 until
/// it is back (the connection comes back by itself).
#[cfg(feature = "redis")]
async fn serve_with_redis(
    settings: Settings,
    builder: Builder<Handler>,
    url: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    use vocals_callback::redis::{RedisBackend, RedisConfig};

    let redis = RedisConfig::new(url).connect()?;
    if let Err(err) = redis.ping().await {
        let error = &err as &dyn std::error::Error;
        tracing::warn!(
            error,
            "Redis does not answer yet: callbacks get 503 until it does"
        );
    }
    let layer = builder.backend(RedisBackend::new(redis)).build_layer()?;
    serve(settings, layer).await
}

#[cfg(not(feature = "redis"))]
async fn serve_with_redis(
    _: Settings,
    _: Builder<Handler>,
    _: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    Err("--redis needs the `redis` feature: cargo run --release --features redis --example receiver -- --redis URL".into())
}

async fn serve<B: Backend>(
    settings: Settings,
    layer: VocalsLayer<Handler, B>,
) -> Result<(), Box<dyn std::error::Error>> {
    // The callback path runs the pipeline; every other path gets the 404 service.
    let svc = layer.service().clone();
    let app = layer.layer(tower::service_fn(|_: Request<Incoming>| async {
        Ok::<_, Infallible>(not_found())
    }));
    let listener = TcpListener::bind(settings.listen).await?;
    let addr = listener.local_addr()?;
    eprintln!("listening on http://{addr}{}", settings.path);

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
                    tracing::warn!(error = %err, "accept failed");
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

fn main() -> ExitCode {
    let settings = match settings(env::args().skip(1)) {
        Ok(settings) => settings,
        Err(err) => {
            if !err.is_empty() {
                eprintln!("receiver: {err}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("receiver: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("receiver: {err}");
            ExitCode::FAILURE
        }
    }
}
