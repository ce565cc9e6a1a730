//! Baseline of the HTTP comparison (`benches/http/compare.sh`): a bare hyper 1 server that
//! reads the whole body (up to 256 KiB, as the receiver) and answers 200 with a tiny JSON
//! body. It verifies, parses and deduplicates nothing.
//!
//! The connection handling is the reference receiver's (`vocals-callback receive`, `src/bin/vocals-callback/receive.rs`): hyper's
//! HTTP/1 connection builder with a 5 s header-read timeout, a tokio multi-thread runtime,
//! graceful shutdown on SIGINT/SIGTERM, 404 off the path; so the difference between the two
//! is the crate's pipeline.
//!
//! ```sh
//! cargo run --release --example baseline_hyper -- [--listen ADDR] [--path PATH] [--threads N [--multi-thread]]
//! ```
//!
//! `--threads N` sets the runtime's threads as `vocals-callback receive --threads N` does (1:
//! a current-thread runtime; default: a worker per core); `--multi-thread` makes even one
//! thread a multi-thread runtime with one worker, to compare the two.

use std::{convert::Infallible, env, net::SocketAddr, process::ExitCode, time::Duration};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header::CONTENT_TYPE};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::net::TcpListener;

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
const BODY_LIMIT: usize = 256 * 1024;
const USAGE: &str =
    "usage: baseline_hyper [--listen ADDR] [--path PATH] [--threads N [--multi-thread]]";

/// The runtime's threads: `None` is tokio's default.
#[derive(Clone, Copy)]
struct Threads {
    count: Option<usize>,
    multi: bool,
}

impl Threads {
    fn runtime(self) -> std::io::Result<tokio::runtime::Runtime> {
        match self.count {
            None => tokio::runtime::Runtime::new(),
            Some(1) if !self.multi => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
            Some(n) => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n)
                .enable_all()
                .build(),
        }
    }
}

fn args() -> Result<(SocketAddr, String, Threads), String> {
    let mut threads = Threads {
        count: None,
        multi: false,
    };
    let mut listen = String::from("127.0.0.1:3000");
    let mut path = String::from("/vocals-callback");
    let mut args = env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = value()?,
            "--path" => path = value()?,
            "--threads" => {
                let n = value()?;
                threads.count = Some(
                    n.parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or(format!("--threads: not a positive number: {n:?}"))?,
                );
            }
            "--multi-thread" => threads.multi = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let listen = listen
        .parse()
        .map_err(|_| format!("--listen: not an address: {listen:?}"))?;
    Ok((listen, path, threads))
}

fn respond(status: StatusCode, body: &'static [u8]) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(body)));
    *res.status_mut() = status;
    res.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    res
}

async fn handle(req: Request<Incoming>, path: &str) -> Response<Full<Bytes>> {
    if req.uri().path() != path {
        return respond(StatusCode::NOT_FOUND, br#"{"status":"not_found"}"#);
    }
    if req.method() != Method::POST {
        return respond(StatusCode::METHOD_NOT_ALLOWED, br#"{"status":"rejected"}"#);
    }
    match Limited::new(req.into_body(), BODY_LIMIT).collect().await {
        Ok(body) => {
            std::hint::black_box(body.to_bytes());
            respond(StatusCode::OK, br#"{"status":"received"}"#)
        }
        Err(_) => respond(StatusCode::PAYLOAD_TOO_LARGE, br#"{"status":"rejected"}"#),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn serve(listen: SocketAddr, path: String) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    eprintln!("listening on http://{}{path}", listener.local_addr()?);
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
            () = &mut stop => break,
        };
        let path = path.clone();
        let svc = service_fn(move |req: Request<Incoming>| {
            let path = path.clone();
            async move { Ok::<_, Infallible>(handle(req, &path).await) }
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), svc));
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
    Ok(())
}

fn main() -> ExitCode {
    let (listen, path, threads) = match args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("baseline_hyper: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match threads.runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("baseline_hyper: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(listen, path)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("baseline_hyper: {err}");
            ExitCode::FAILURE
        }
    }
}
