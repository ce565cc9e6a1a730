//! `vocals-callback simulate`: the provider's deliveries against a running receiver, over
//! HTTP/1.
//!
//! Each scenario of `vocals_callback::testkit::Scenario` is sent in order, under a fresh
//! random task id (or `--task-id`), signed with the kie.ai rule, each request of a task at
//! a second of its own (two signed in the same second would share a signature). Like the
//! provider, a delivery answered 5xx or 409 (or not answered within 15 s) is sent again,
//! identical, after a short backoff (`Retry-After`, capped at 2 s), at most 3 attempts. One
//! line is printed per attempt; the final answer of each delivery is checked against what
//! a correct receiver answers. The exit status is 1 when any answer was unexpected, 2 on a
//! usage error.

use std::{
    collections::hash_map::RandomState,
    error::Error as StdError,
    hash::{BuildHasher, Hasher},
    process::ExitCode,
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use http::{StatusCode, Uri, header::RETRY_AFTER};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use vocals_callback::testkit::{Scenario, Step};

/// Attempts per delivery, the first included (the provider: one send and retries).
const ATTEMPTS: u32 = 3;
/// The longest wait between attempts, whatever `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The sender's own timeout.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The simulator's settings.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The receiver's callback URL (absolute, `http://`).
    #[arg(long, default_value = "http://127.0.0.1:3000/vocals-callback")]
    url: Uri,
    /// The webhook HMAC key (default: the first key of `VOCALS_KEYS`).
    #[arg(long, env = "VOCALS_KEYS", hide_env_values = true)]
    key: String,
    /// The scenarios to send (repeatable): sequence, retry, duplicate, reorder, failure,
    /// skew, forgery, or all.
    #[arg(long = "scenario", value_name = "NAME", default_value = "all")]
    scenarios: Vec<String>,
    /// The task id (default: a fresh random one per scenario; with several scenarios, each
    /// gets ID-<scenario>).
    #[arg(long)]
    task_id: Option<String>,
}

/// Sends the scenarios; the exit status says whether every answer was the expected one.
pub(crate) fn run(args: &Args) -> Result<ExitCode, Box<dyn StdError>> {
    // `VOCALS_KEYS` may hold several keys: the first signs.
    let key = args
        .key
        .split(',')
        .map(str::trim)
        .find(|k| !k.is_empty())
        .ok_or("no key: pass --key or set VOCALS_KEYS")?
        .to_owned();
    if args.url.scheme_str() != Some("http") || args.url.authority().is_none() {
        return Err("--url must be an absolute http:// URL".into());
    }
    if args.task_id.as_deref() == Some("") {
        return Err("--task-id is empty".into());
    }
    let mut scenarios = Vec::new();
    for name in &args.scenarios {
        if name.eq_ignore_ascii_case("all") {
            scenarios.extend_from_slice(Scenario::all());
        } else {
            scenarios.push(name.parse::<Scenario>()?);
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(send_all(
        &args.url,
        &key,
        &scenarios,
        args.task_id.as_deref(),
    )))
}

async fn send_all(url: &Uri, key: &str, scenarios: &[Scenario], task_id: Option<&str>) -> ExitCode {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let several = scenarios.len() > 1;
    let mut unexpected = 0usize;
    let mut total = 0usize;
    for scenario in scenarios {
        let task_id = match task_id {
            Some(id) if several => format!("{id}-{scenario}"),
            Some(id) => id.to_owned(),
            None => random_task_id(),
        };
        println!("# {scenario}: {} (task {task_id})", scenario.description());
        for step in &scenario.steps(key, url, &task_id, SystemTime::now()) {
            total += 1;
            if !deliver(&client, step).await {
                unexpected += 1;
            }
        }
    }
    if unexpected == 0 {
        println!("# all {total} answers as expected");
        ExitCode::SUCCESS
    } else {
        println!("# {unexpected} of {total} answers UNEXPECTED");
        ExitCode::FAILURE
    }
}

/// 32 lowercase hex characters, like the provider's task ids, from std's randomly keyed
/// hasher over the time and the process id.
fn random_task_id() -> String {
    let state = RandomState::new();
    let word = |salt: u64| {
        let mut h = state.build_hasher();
        h.write_u64(salt);
        h.write_u32(std::process::id());
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        h.write_u128(nanos);
        h.finish()
    };
    format!("{:016x}{:016x}", word(1), word(2))
}

/// The answer to one attempt: status, `Retry-After` seconds and body, or a transport error.
type Answer = Result<(StatusCode, Option<u64>, Bytes), String>;

async fn send(client: &Client<HttpConnector, Full<Bytes>>, delivery: &Step) -> Answer {
    let request = delivery.clone().request;
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .map_err(|_| format!("no answer within {}s", TIMEOUT.as_secs()))?
        .map_err(|e| format!("request failed: {}", chain(&e)))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let body = tokio::time::timeout(TIMEOUT, response.into_body().collect())
        .await
        .map_err(|_| "body not read within the timeout".to_owned())?
        .map_err(|e| format!("reading the body failed: {e}"))?
        .to_bytes();
    Ok((status, retry_after, body))
}

/// `error: cause: cause`, as hyper's errors keep the useful part in their sources.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Sends `delivery` as the provider does (retrying 5xx, 409 and transport failures) and
/// prints each attempt. Returns `true` when the final answer is the expected one.
async fn deliver(client: &Client<HttpConnector, Full<Bytes>>, delivery: &Step) -> bool {
    for attempt in 1..=ATTEMPTS {
        let answer = send(client, delivery).await;
        let retryable = match &answer {
            Ok((status, ..)) => status.is_server_error() || *status == StatusCode::CONFLICT,
            Err(_) => true,
        };
        let shown = match &answer {
            Ok((status, _, body)) => {
                format!("{} {}", status.as_u16(), String::from_utf8_lossy(body))
            }
            Err(e) => e.clone(),
        };
        let tag = if attempt > 1 {
            format!(" [attempt {attempt}/{ATTEMPTS}]")
        } else {
            String::new()
        };
        if retryable && attempt < ATTEMPTS {
            let retry_after = answer.as_ref().ok().and_then(|(_, r, _)| *r);
            let wait = retry_after
                .map_or(Duration::from_millis(250) * attempt, Duration::from_secs)
                .min(MAX_BACKOFF);
            println!(
                "{}{tag}  {shown}  -> retrying in {:.2}s",
                delivery.label,
                wait.as_secs_f64()
            );
            tokio::time::sleep(wait).await;
            continue;
        }
        let ok = matches!(&answer, Ok((status, _, body)) if delivery.expect.matches(*status, body));
        let verdict = if ok {
            "ok".to_owned()
        } else {
            format!("UNEXPECTED (expected {})", delivery.expect)
        };
        println!("{}{tag}  {shown}  {verdict}", delivery.label);
        return ok;
    }
    false
}
