//! Baseline of the HTTP comparison (`benches/http/compare.sh`): the handler a team writes by
//! hand in axum 0.8: one `POST` route whose handler takes `Json<serde_json::Value>` and
//! answers 200. It verifies nothing and deduplicates nothing.
//!
//! ```sh
//! cargo run --release --example baseline_axum -- [--listen ADDR] [--path PATH] [--threads N [--multi-thread]]
//! ```
//!
//! `--threads N` sets the runtime's threads as `vocals-callback receive --threads N` does (1:
//! a current-thread runtime; default: a worker per core); `--multi-thread` makes even one
//! thread a multi-thread runtime with one worker, to compare the two.

use std::{env, net::SocketAddr, process::ExitCode};

use axum::{Json, Router, routing::post};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const USAGE: &str =
    "usage: baseline_axum [--listen ADDR] [--path PATH] [--threads N [--multi-thread]]";

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

async fn callback(Json(event): Json<Value>) -> Json<Value> {
    std::hint::black_box(event);
    Json(json!({ "status": "received" }))
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

async fn serve(listen: SocketAddr, path: &str) -> std::io::Result<()> {
    let app = Router::new().route(path, post(callback));
    let listener = TcpListener::bind(listen).await?;
    eprintln!("listening on http://{}{path}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

fn main() -> ExitCode {
    let (listen, path, threads) = match args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("baseline_axum: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match threads.runtime() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("baseline_axum: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(listen, &path)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("baseline_axum: {err}");
            ExitCode::FAILURE
        }
    }
}
