//! `vocals-callback receive --metrics`: real signed traffic over a socket, then `/metrics`
//! scraped over another, and every number checked against what was sent.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use vocals_callback::{
    RejectionKind, Stage,
    testkit::{CallbackBody, TrackBody, kie_request},
};

/// The binary cargo built for this test.
const EXE: &str = env!("CARGO_BIN_EXE_vocals-callback");
const KEY: &str = "metrics-test-webhook-key";

/// `vocals-callback receive --metrics 127.0.0.1:0` on free ports: the callback URL and the
/// metrics URL it printed.
struct Receiver {
    child: Child,
    callbacks: String,
    metrics: String,
}

impl Receiver {
    fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(EXE)
            .args([
                "receive",
                "--listen",
                "127.0.0.1:0",
                "--metrics",
                "127.0.0.1:0",
            ])
            .args(["--quiet", "--key", KEY])
            .args(extra)
            .env_remove("VOCALS_KEYS")
            .env_remove("VOCALS_LISTEN")
            .env_remove("VOCALS_PATH")
            .env_remove("VOCALS_METRICS")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting vocals-callback receive");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut callbacks, mut metrics) = (None, None);
        while callbacks.is_none() || metrics.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the receiver printed neither of its addresses");
            if let Some((_, url)) = line.split_once("listening on ") {
                callbacks = Some(url.trim().to_owned());
            }
            if let Some((_, url)) = line.split_once("metrics on ") {
                metrics = Some(url.trim().to_owned());
            }
        }
        Self {
            child,
            callbacks: callbacks.unwrap(),
            metrics: metrics.unwrap(),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Http = Client<HttpConnector, Full<Bytes>>;

fn client() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends `req` to `url` and answers the status and the body.
async fn send(http: &Http, url: &str, mut req: Request<Full<Bytes>>) -> (StatusCode, String) {
    *req.uri_mut() = url.parse().unwrap();
    let res = http.request(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn complete(task: &str, title: &str) -> Vec<u8> {
    CallbackBody::complete(task)
        .track(TrackBody::ready("trk-1").title(title))
        .to_bytes()
}

/// One scrape: each sample by `name{label="value",…}` exactly as rendered, and the
/// `# HELP` names.
struct Scrape {
    samples: HashMap<String, f64>,
    helped: Vec<String>,
}

impl Scrape {
    async fn of(http: &Http, url: &str) -> Self {
        let mut req = Request::get(url).body(Full::default()).unwrap();
        *req.uri_mut() = url.parse().unwrap();
        let res = http.request(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(text.to_vec()).unwrap();
        let mut samples = HashMap::new();
        let mut helped = Vec::new();
        for line in text.lines() {
            if let Some(help) = line.strip_prefix("# HELP ") {
                helped.push(help.split(' ').next().unwrap().to_owned());
            } else if !line.starts_with('#') && !line.is_empty() {
                let (series, value) = line.rsplit_once(' ').unwrap();
                let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
                assert!(
                    samples.insert(series.to_owned(), value).is_none(),
                    "{line} twice"
                );
            }
        }
        Self { samples, helped }
    }

    fn get(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in {:#?}", self.samples.keys()))
    }

    fn delivered(&self, outcome: &str) -> f64 {
        self.get(&format!(
            r#"vocals_callback_deliveries_total{{outcome="{outcome}"}}"#
        ))
    }

    fn rejected(&self, kind: RejectionKind) -> f64 {
        self.get(&format!(
            r#"vocals_callback_rejections_total{{kind="{}"}}"#,
            kind.as_str()
        ))
    }

    /// The sum of the samples of every series of `name` ending in `suffix`.
    fn sum_of(&self, name: &str, suffix: &str) -> f64 {
        self.samples
            .iter()
            .filter(|(series, _)| series.starts_with(name) && series.contains(suffix))
            .map(|(_, value)| value)
            .sum()
    }
}

/// Every metric of the `metrics` module's table.
const NAMES: [&str; 10] = [
    "vocals_callback_deliveries_total",
    "vocals_callback_rejections_total",
    "vocals_callback_handler_calls_total",
    "vocals_callback_handler_duration_seconds",
    "vocals_callback_signed_to_answer_seconds",
    "vocals_callback_handler_calls_in_flight",
    "vocals_callback_queue_depth",
    "vocals_callback_dedup_entries",
    "vocals_callback_binding_entries",
    "vocals_callback_binding_memory_bytes",
];

#[tokio::test]
async fn the_metrics_endpoint_counts_real_signed_traffic_exactly() {
    let rx = Receiver::start(&[]);
    let http = client();
    let url = rx.callbacks.as_str();
    let ts = now_secs();

    // 5 new events, each its own task; 2 of them again (the provider's exact retries):
    // duplicates.
    let tasks: Vec<String> = (0..5).map(|i| format!("metrics-task-{i}")).collect();
    for task in &tasks {
        let req = kie_request(KEY, task, ts, complete(task, "Iron Man"));
        assert_eq!(send(&http, url, req).await.0, StatusCode::OK);
    }
    for task in &tasks[..2] {
        let (status, body) = send(
            &http,
            url,
            kie_request(KEY, task, ts, complete(task, "Iron Man")),
        )
        .await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, r#"{"status":"duplicate"}"#)
        );
    }
    // 6 refusals of 5 kinds: a wrong key twice, a body swapped under a captured signature,
    // no signature headers, a GET, a form post.
    for task in ["forged-1", "forged-2"] {
        let req = kie_request("not-the-key", task, ts, complete(task, "x"));
        assert_eq!(send(&http, url, req).await.0, StatusCode::UNAUTHORIZED);
    }
    let swapped = kie_request(KEY, &tasks[0], ts, complete(&tasks[0], "Swapped"));
    assert_eq!(send(&http, url, swapped).await.0, StatusCode::UNAUTHORIZED);
    let unsigned = Request::post("/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(complete("unsigned", "x"))))
        .unwrap();
    let (status, body) = send(&http, url, unsigned).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("missing_timestamp"), "{body}");
    let get = Request::get("/").body(Full::default()).unwrap();
    assert_eq!(
        send(&http, url, get).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let form = Request::post("/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(b"a=1")))
        .unwrap();
    assert_eq!(
        send(&http, url, form).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    // Another path is not a delivery: not counted.
    let elsewhere = rx.callbacks.replace("/vocals-callback", "/elsewhere");
    let other = Request::get("/").body(Full::default()).unwrap();
    assert_eq!(
        send(&http, &elsewhere, other).await.0,
        StatusCode::NOT_FOUND
    );

    let m = Scrape::of(&http, &rx.metrics).await;

    // The counters, exactly.
    assert_eq!(m.delivered("received"), 5.0);
    assert_eq!(m.delivered("duplicate"), 2.0);
    assert_eq!(m.delivered("rejected"), 6.0);
    assert_eq!(m.delivered("queued"), 0.0);
    assert_eq!(m.delivered("ignored"), 0.0);
    assert_eq!(m.rejected(RejectionKind::InvalidSignature), 2.0);
    assert_eq!(m.rejected(RejectionKind::SignatureReused), 1.0);
    assert_eq!(m.rejected(RejectionKind::MissingTimestamp), 1.0);
    assert_eq!(m.rejected(RejectionKind::MethodNotAllowed), 1.0);
    assert_eq!(m.rejected(RejectionKind::UnsupportedMediaType), 1.0);
    // Every kind is a series from the start; the others are at 0.
    let kinds: f64 = RejectionKind::ALL.iter().map(|k| m.rejected(*k)).sum();
    assert_eq!(kinds, 6.0);
    assert_eq!(m.rejected(RejectionKind::BindingCacheFull), 0.0);

    // The gauges, read from the stores at the scrape.
    assert_eq!(
        m.get("vocals_callback_dedup_entries"),
        5.0,
        "the tasks accepted"
    );
    assert_eq!(
        m.get("vocals_callback_binding_entries"),
        5.0,
        "one signature per task: the retries and the swapped body reuse it"
    );
    let bytes = m.get("vocals_callback_binding_memory_bytes");
    assert!(bytes > 0.0 && bytes <= 64.0 * 1024.0 * 1024.0, "{bytes}");
    assert_eq!(m.get("vocals_callback_handler_calls_in_flight"), 0.0);
    assert_eq!(m.get("vocals_callback_queue_depth"), 0.0);

    // The handler ran once per new event, all `complete`, all ok, each well inside its
    // deadline; every other stage and result has its (empty) series.
    let handler = "vocals_callback_handler_duration_seconds";
    assert_eq!(m.sum_of(handler, "_count"), 5.0);
    let complete = r#"{stage="complete"}"#;
    assert_eq!(m.get(&format!("{handler}_count{complete}")), 5.0);
    assert_eq!(
        m.get(&format!(
            r#"{handler}_bucket{{stage="complete",le="+Inf"}}"#
        )),
        5.0
    );
    let took = m.get(&format!("{handler}_sum{complete}"));
    assert!((0.0..5.0).contains(&took), "{took}");
    for stage in Stage::ALL.iter().filter(|s| **s != Stage::Complete) {
        let series = format!(r#"{handler}_count{{stage="{}"}}"#, stage.as_str());
        assert_eq!(m.get(&series), 0.0);
    }
    let calls = |outcome: &str| {
        m.get(&format!(
            r#"vocals_callback_handler_calls_total{{outcome="{outcome}"}}"#
        ))
    };
    assert_eq!(
        ["ok", "error", "panicked", "timed_out"].map(calls),
        [5.0, 0.0, 0.0, 0.0]
    );

    // Signed to answered: every verified delivery (5 new, 2 retries, the swapped body),
    // none of the refused-before-verification ones; each signed at `ts`, answered since.
    let age = "vocals_callback_signed_to_answer_seconds";
    assert_eq!(m.get(&format!("{age}_count")), 8.0);
    let elapsed = (now_secs() - ts + 1) as f64;
    let sum = m.get(&format!("{age}_sum"));
    assert!(
        (0.0..=8.0 * elapsed).contains(&sum),
        "{sum} over 8, {elapsed} s at most each"
    );
    assert_eq!(m.get(&format!(r#"{age}_bucket{{le="600"}}"#)), 8.0);

    for name in NAMES {
        assert!(m.helped.iter().any(|h| h == name), "no # HELP for {name}");
    }

    // Scraping again changes no counter, and other paths and methods are refused.
    let again = Scrape::of(&http, &rx.metrics).await;
    assert_eq!(again.delivered("received"), 5.0);
    assert_eq!(again.sum_of(handler, "_count"), 5.0);
    let wrong_path = rx.metrics.replace("/metrics", "/other");
    let (status, _) = send(
        &http,
        &wrong_path,
        Request::get("/").body(Full::default()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        &http,
        &rx.metrics,
        Request::post("/").body(Full::default()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn queued_events_are_counted_as_queued_and_timed_once_handled() {
    let rx = Receiver::start(&["--mode", "queue"]);
    let http = client();
    let ts = now_secs();
    for i in 0..4 {
        let task = format!("queued-{i}");
        let req = kie_request(KEY, &task, ts, complete(&task, "Queued"));
        assert_eq!(send(&http, &rx.callbacks, req).await.0, StatusCode::OK);
    }
    // The workers handle them after the answers: wait until the histogram has all four and
    // the queue is drained (a job leaves the queue's count after its handler call is timed).
    let handler = "vocals_callback_handler_duration_seconds";
    let mut m = Scrape::of(&http, &rx.metrics).await;
    for _ in 0..200 {
        if m.sum_of(handler, "_count") == 4.0 && m.get("vocals_callback_queue_depth") == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        m = Scrape::of(&http, &rx.metrics).await;
    }
    assert_eq!(m.delivered("queued"), 4.0);
    assert_eq!(m.delivered("received"), 0.0, "queued apart from received");
    assert_eq!(m.sum_of(handler, "_count"), 4.0);
    assert_eq!(m.get("vocals_callback_queue_depth"), 0.0, "drained");
    assert_eq!(m.get("vocals_callback_dedup_entries"), 4.0);
}
