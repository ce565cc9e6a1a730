//! Plays the provider's sender against a running receiver, over HTTP/1.
//!
//! ```text
//! cargo run --example simulate --features testkit -- \
//!     --url http://127.0.0.1:3000/vocals-callback --key KEY [--scenario NAME|all] [--task-id ID]
//! ```
//!
//! Each scenario of `vocals_callback::testkit::Scenario` is sent in order, under a fresh
//! random task id (or `--task-id`), signed with the kie.ai rule. Like the provider, a
//! delivery answered 5xx or 409 (or not answered within 15 s) is sent again, identical,
//! after a short backoff (`Retry-After`, capped at 2 s), at most 3 attempts. One line is
//! printed per attempt; the final answer of each delivery is checked against what a correct
//! receiver answers. The exit status is 1 when any answer was unexpected, 2 on a usage error.

use std::{
    collections::hash_map::RandomState,
    env,
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

const USAGE: &str = "\
usage: simulate [--url URL] [--key KEY] [--scenario NAME|all] [--task-id ID]

  --url URL          the receiver's callback URL (default http://127.0.0.1:3000/vocals-callback)
  --key KEY          the webhook HMAC key (default: the first key of VOCALS_KEYS)
  --scenario NAME    one of sequence, retry, duplicate, reorder, failure, skew, forgery,
                     or all (default all)
  --task-id ID       the task id (default: a fresh random one per scenario; with several
                     scenarios, each gets ID-<scenario>)";

/// Attempts per delivery, the first included (the provider: one send and retries).
const ATTEMPTS: u32 = 3;
/// The longest wait between attempts, whatever `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The sender's own timeout.
const TIMEOUT: Duration = Duration::from_secs(15);

struct Args {
    url: Uri,
    key: String,
    scenarios: Vec<Scenario>,
    task_id: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut url = String::from("http://127.0.0.1:3000/vocals-callback");
    let mut key = None;
    let mut scenario = String::from("all");
    let mut task_id = None;
    let mut args = env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--url" => url = value()?,
            "--key" => key = Some(value()?),
            "--scenario" => scenario = value()?,
            "--task-id" => task_id = Some(value()?),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    let key = key
        .or_else(|| {
            env::var("VOCALS_KEYS").ok().and_then(|keys| {
                keys.split(',')
                    .map(str::trim)
                    .find(|k| !k.is_empty())
                    .map(str::to_owned)
            })
        })
        .ok_or("no key: pass --key or set VOCALS_KEYS")?;
    let url: Uri = url.parse().map_err(|e| format!("bad --url: {e}"))?;
    if url.scheme_str() != Some("http") || url.authority().is_none() {
        return Err("--url must be an absolute http:// URL".into());
    }
    let scenarios = if scenario.eq_ignore_ascii_case("all") {
        Scenario::all().to_vec()
    } else {
        vec![scenario.parse::<Scenario>().map_err(|e| e.to_string())?]
    };
    if task_id.as_deref() == Some("") {
        return Err("--task-id is empty".into());
    }
    Ok(Args {
        url,
        key,
        scenarios,
        task_id,
    })
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
    let request = delivery.clone().request.map(Full::new);
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("simulate: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let several = args.scenarios.len() > 1;
    let mut unexpected = 0usize;
    let mut total = 0usize;
    for scenario in &args.scenarios {
        let task_id = match &args.task_id {
            Some(id) if several => format!("{id}-{scenario}"),
            Some(id) => id.clone(),
            None => random_task_id(),
        };
        println!("# {scenario}: {} (task {task_id})", scenario.description());
        let deliveries = scenario.steps(&args.key, &args.url, &task_id, SystemTime::now());
        for delivery in &deliveries {
            total += 1;
            if !deliver(&client, delivery).await {
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
