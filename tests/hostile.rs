//! The hostile-input catalogue (issue 5, item 3): one test per entry, each asserting the
//! exact status and rejection kind of DESIGN's status table. HTTP-level entries run over
//! real sockets (axum's `route_service`, raw bytes on a `TcpStream` where hyper's own
//! client would refuse to send them, and the reference receiver binary for the slow-client
//! cut-offs); the floods run in-process through `tower::ServiceExt::oneshot`.

mod support;

use std::{
    collections::{HashMap, HashSet},
    hash::{BuildHasherDefault, Hash, Hasher},
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering::Relaxed},
        mpsc,
    },
    time::{Duration, Instant, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::Full;
use sha2::Sha256;
use support::*;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tower::ServiceExt;
use vocals_callback::{
    HandlerResult, ParseErrorKind, Rejection, RejectionKind, Secret, VocalsEvent, VocalsService,
    backend::MemoryBackend,
    service::DEFAULT_BODY_LIMIT,
    testkit::{CallbackBody, TrackBody, sign_kie},
    verify::KieSignature,
};

/// The floods measure the process's resident set: they must not run beside each other.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------
// Fixture: the service on a real socket, with the rejection and its parse error exposed

/// What the hostile-input tests add to the shared fixture: raw writes and a check that
/// nothing was stored.
trait Hostile {
    async fn raw(&self, bytes: &[u8]) -> Reply;
    fn assert_no_state(&self);
}

impl Hostile for Fx {
    /// Connects, writes `bytes`, reads one answer (or the close).
    async fn raw(&self, bytes: &[u8]) -> Reply {
        let mut stream = raw_send(self.addr, bytes).await;
        read_reply(&mut stream, PATIENCE).await
    }

    /// No handler call, no dedup entry, no binding entry.
    #[track_caller]
    fn assert_no_state(&self) {
        assert_eq!(self.probe.call_count(), 0, "the handler ran");
        assert_eq!(self.svc.dedup_store().len(), 0, "a dedup entry was created");
        assert_eq!(self.svc.binding().len(), 0, "a binding entry was created");
        assert_eq!(self.svc.stats().received(), 0);
    }
}

/// `body` refused with `kind` (through the router, so the typed rejection rode in the
/// extensions) and, for body refusals, the parser's `parse_error`.
#[track_caller]
fn assert_body_refused(answer: &Answer, kind: RejectionKind, parse_error: Option<ParseErrorKind>) {
    answer.assert_refused(kind, false);
    assert_eq!(
        answer
            .headers
            .get(PARSE_ERROR_HEADER)
            .map(|v| v.to_str().unwrap()),
        parse_error.map(ParseErrorKind::as_str),
        "{answer:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Raw HTTP/1.1

/// What came back on a raw connection: an answer, or the connection closed (FIN or reset)
/// before any byte of one.
#[derive(Debug)]
enum Reply {
    Answer(RawAnswer),
    Closed,
}

impl Reply {
    #[track_caller]
    fn answer(&self) -> &RawAnswer {
        match self {
            Self::Answer(answer) => answer,
            Self::Closed => panic!("the connection closed without an answer"),
        }
    }

    /// A JSON refusal of `kind` from the service.
    #[track_caller]
    fn assert_rejected(&self, kind: RejectionKind) {
        let answer = self.answer();
        assert_eq!(answer.status, kind.status().as_u16(), "{answer:?}");
        assert_eq!(
            answer.json(),
            serde_json::json!({ "status": "rejected", "reason": kind.as_str() }),
            "{answer:?}"
        );
    }

    /// A 200 `{"status": status}` from the service.
    #[track_caller]
    fn assert_ok(&self, status: &str) {
        let answer = self.answer();
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json(), serde_json::json!({ "status": status }));
    }

    /// hyper's own refusal: `status`, no body from the service.
    #[track_caller]
    fn assert_hyper_refused(&self, status: u16) {
        let answer = self.answer();
        assert_eq!(answer.status, status, "{answer:?}");
        assert!(
            !answer.body.contains("rejected"),
            "expected hyper's own refusal, not the service's: {answer:?}"
        );
    }
}

fn is_reset(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
    )
}

/// Reads one HTTP/1.1 answer (a `Content-Length` body) or the close, within `patience`
/// (a hang fails the test).
async fn read_reply(stream: &mut (impl AsyncRead + Unpin), patience: Duration) -> Reply {
    tokio::time::timeout(patience, read_reply_inner(stream))
        .await
        .unwrap_or_else(|_| panic!("neither an answer nor a close within {patience:?}"))
}

async fn read_reply_inner(stream: &mut (impl AsyncRead + Unpin)) -> Reply {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        match stream.read(&mut chunk).await {
            Ok(0) => {
                assert!(buf.is_empty(), "closed mid-head: {buf:?}");
                return Reply::Closed;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(err) if is_reset(&err) && buf.is_empty() => return Reply::Closed,
            Err(err) => panic!("read failed after {buf:?}: {err}"),
        }
    };
    Reply::Answer(finish_answer(stream, buf, head_end).await)
}

/// How often [`read_reply_within`] looks at the clock.
const TICK: Duration = Duration::from_millis(100);

/// As [`read_reply`], for a deadline on the peer: the answer (or close), the time it took,
/// and how long this process was stalled meanwhile (gaps of a second or more between
/// 100 ms ticks: a paused VM or a starved test runner, during which the peer's timers and
/// ours jump together). Fails when `limit` plus the stalls pass without either.
async fn read_reply_within(
    stream: &mut (impl AsyncRead + Unpin),
    limit: Duration,
) -> (Reply, Duration, Duration) {
    let started = Instant::now();
    let mut stalled = Duration::ZERO;
    let mut last = started;
    let mut read = std::pin::pin!(read_reply_inner(stream));
    loop {
        tokio::select! {
            reply = &mut read => return (reply, started.elapsed(), stalled),
            () = tokio::time::sleep(TICK) => {
                let now = Instant::now();
                let gap = now - last;
                if gap >= Duration::from_secs(1) {
                    stalled += gap - TICK;
                }
                last = now;
                assert!(
                    started.elapsed() < limit + stalled,
                    "neither an answer nor a close within {limit:?} (the test was stalled for {stalled:?})"
                );
            }
        }
    }
}

/// Waits until the peer closes the connection (EOF or reset), discarding what it sends.
async fn closed_within(stream: &mut (impl AsyncRead + Unpin), patience: Duration) -> bool {
    let drain = async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(patience, drain).await.is_ok()
}

/// A `POST` to [`PATH`] with `Content-Type: application/json`, the extra header lines
/// `lines` (each ending in CRLF) and `body` (the caller writes `Content-Length` or
/// `Transfer-Encoding` in `lines`).
fn raw_post(lines: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {PATH} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n{lines}\r\n"
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// As [`raw_post`] with the signature lines for `task` now and a true `Content-Length`.
fn raw_signed(task: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let lines = format!(
        "{}content-length: {}\r\n{extra}",
        kie_header_lines(task, now_secs()),
        body.len()
    );
    raw_post(&lines, body)
}

// ---------------------------------------------------------------------------------------
// Bodies

#[tokio::test]
async fn nested_brackets_100_000_deep_are_refused_or_skipped_without_recursion() {
    let fx = Fx::plain().await;
    // As the whole body: refused at its first byte (the root must be an object).
    let root = vec![b'['; 100_000];
    let answer = fx.post_now("task-nested", root).await;
    assert_body_refused(
        &answer,
        RejectionKind::InvalidBody,
        Some(ParseErrorKind::RootNotObject),
    );
    // Inside a callback, in a field the parser skips and in a track field it reads
    // leniently: the depth limit (128) refuses it without recursing 100 000 deep.
    for prefix in [
        "{\"code\":200,\"zz\":",
        "{\"code\":200,\"data\":{\"task_id\":\"task-nested\",\"callbackType\":\"complete\",\"data\":[{\"id\":\"a\",\"prompt\":",
    ] {
        let mut body = prefix.as_bytes().to_vec();
        body.extend(std::iter::repeat_n(b'[', 100_000));
        let answer = fx.post_now("task-nested", body).await;
        assert_body_refused(
            &answer,
            RejectionKind::InvalidBody,
            Some(ParseErrorKind::InvalidJson),
        );
    }
    // In an envelope field, the wrong type is seen at the first bracket.
    let mut body =
        b"{\"code\":200,\"data\":{\"task_id\":\"task-nested\",\"callbackType\":".to_vec();
    body.extend(std::iter::repeat_n(b'[', 100_000));
    assert_body_refused(
        &fx.post_now("task-nested", body).await,
        RejectionKind::InvalidBody,
        Some(ParseErrorKind::CallbackTypeNotString),
    );
    // Unclosed nested objects likewise.
    let mut objects = b"{\"code\":200,\"zz\":".to_vec();
    objects.extend(std::iter::repeat_n(&b"{\"a\":"[..], 40_000).flatten());
    assert_body_refused(
        &fx.post_now("task-nested", objects).await,
        RejectionKind::InvalidBody,
        Some(ParseErrorKind::InvalidJson),
    );
    fx.assert_no_state();
    assert_eq!(fx.svc.stats().rejected(RejectionKind::InvalidBody), 5);

    // Well-formed nesting as deep as the body limit allows, closed, in a field the parser
    // skips: skipped without recursion (no stack overflow, which would abort this whole
    // test binary) and without a depth limit, so the callback is received.
    let levels = 130_000;
    for (open, close) in [(&b"["[..], &b"]"[..]), (&b"{\"a\":"[..], &b"}"[..])] {
        let task = format!("task-deep-{}", char::from(open[0]));
        let levels = if open.len() == 1 { levels } else { 40_000 };
        let mut body = b"{\"code\":200,\"zz\":".to_vec();
        body.extend(std::iter::repeat_n(open, levels).flatten());
        if open.len() > 1 {
            body.push(b'1');
        }
        body.extend(std::iter::repeat_n(close, levels).flatten());
        body.extend_from_slice(
            format!(r#","data":{{"task_id":"{task}","callbackType":"complete"}}}}"#).as_bytes(),
        );
        assert!(body.len() <= DEFAULT_BODY_LIMIT, "{}", body.len());
        fx.post_now(&task, body).await.assert_ok("received");
    }
    // The same nesting in a track field read leniently (a prompt that is not a string is
    // dropped, not an error) is skipped the same way.
    let mut body = br#"{"code":200,"data":{"task_id":"task-deep-track","callbackType":"complete","data":[{"id":"a","prompt":"#.to_vec();
    body.extend(std::iter::repeat_n(b'[', levels));
    body.extend(std::iter::repeat_n(b']', levels));
    body.extend_from_slice(b"}]}}");
    fx.post_now("task-deep-track", body)
        .await
        .assert_ok("received");
    assert_eq!(fx.probe.call_count(), 3);
}

/// A callback of exactly `len` bytes whose bulk is an array of numbers of every form
/// (huge, tiny, negative zero, exponents, integers past `u64`), in a field the parser skips.
fn numbers_body(task: &str, len: usize) -> Vec<u8> {
    const NUMBERS: [&str; 12] = [
        "-0",
        "1e308",
        "-1.7976931348623157e308",
        "5e-324",
        "18446744073709551615",
        "-9223372036854775808",
        "123456789012345678901234567890",
        "0.1",
        "3.141592653589793",
        "1E+2",
        "-2.5e-3",
        "7",
    ];
    let head = format!(
        r#"{{"code":200,"msg":"All generated successfully.","data":{{"callbackType":"complete","task_id":"{task}","data":[{{"id":"trk-1","audio_url":"https://cdn.example/a.mp3","duration":1e308,"createTime":99999999999999999999}}]}},"numbers":["#
    );
    let tail = "]}";
    let mut body = head.into_bytes();
    let mut first = true;
    for number in NUMBERS.iter().cycle() {
        let add = number.len() + usize::from(!first);
        if body.len() + add + tail.len() > len {
            break;
        }
        if !first {
            body.push(b',');
        }
        body.extend_from_slice(number.as_bytes());
        first = false;
    }
    while body.len() + 2 + tail.len() <= len {
        body.extend_from_slice(b",0");
    }
    if body.len() + tail.len() < len {
        body.push(b' ');
    }
    body.extend_from_slice(tail.as_bytes());
    assert_eq!(body.len(), len);
    body
}

#[tokio::test]
async fn a_body_at_the_limit_full_of_numbers_is_received_and_one_byte_more_is_refused() {
    let fx = Fx::plain().await;
    let body = numbers_body("task-numbers", DEFAULT_BODY_LIMIT);
    serde_json::from_slice::<serde_json::Value>(&body).expect("the body is valid JSON");
    let started = Instant::now();
    fx.post_now("task-numbers", body)
        .await
        .assert_ok("received");
    eprintln!(
        "a {DEFAULT_BODY_LIMIT}-byte body of numbers: answered in {:?}",
        started.elapsed()
    );
    let calls = fx.probe.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].task_id, "task-numbers");

    // One byte more: refused by its Content-Length, before any body byte is read.
    let over = numbers_body("task-numbers-2", DEFAULT_BODY_LIMIT + 1);
    let answer = fx.post_now("task-numbers-2", over.clone()).await;
    assert_body_refused(&answer, RejectionKind::BodyTooLarge, None);
    // And counted while reading when no length is declared (chunked).
    let lines = format!(
        "{}transfer-encoding: chunked\r\n",
        kie_header_lines("task-numbers-2", now_secs())
    );
    let mut chunked = raw_post(&lines, b"");
    for piece in over.chunks(10_000) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    fx.raw(&chunked)
        .await
        .assert_rejected(RejectionKind::BodyTooLarge);
    assert_eq!(fx.probe.call_count(), 1);
    assert_eq!(fx.svc.dedup_store().len(), 1);
}

#[tokio::test]
async fn invalid_utf8_is_an_invalid_body_wherever_it_is() {
    let fx = Fx::plain().await;
    let cases: [(&str, &[u8]); 6] = [
        (
            "a byte 0xff in the task id",
            b"{\"code\":200,\"data\":{\"task_id\":\"t\xff\",\"callbackType\":\"complete\"}}",
        ),
        (
            "a truncated sequence in msg",
            b"{\"code\":200,\"msg\":\"\xe2\x82\",\"data\":{\"task_id\":\"t\",\"callbackType\":\"complete\"}}",
        ),
        (
            "an invalid sequence in a skipped field",
            b"{\"code\":200,\"zz\":\"\xc3\x28\",\"data\":{\"task_id\":\"t\",\"callbackType\":\"complete\"}}",
        ),
        (
            "an overlong '/'",
            b"{\"code\":200,\"data\":{\"task_id\":\"t\xc0\xaf\",\"callbackType\":\"complete\"}}",
        ),
        (
            "a UTF-8-encoded surrogate (CESU-8)",
            b"{\"code\":200,\"data\":{\"task_id\":\"t\xed\xa0\x80\",\"callbackType\":\"complete\"}}",
        ),
        (
            "a byte 0xfe outside any string",
            b"{\"code\":200,\xfe\"data\":{\"task_id\":\"t\",\"callbackType\":\"complete\"}}",
        ),
    ];
    for (what, body) in cases {
        let answer = fx.post_now("t", body.to_vec()).await;
        eprintln!("{what}: {} {}", answer.status, answer.text());
        assert_body_refused(
            &answer,
            RejectionKind::InvalidBody,
            Some(ParseErrorKind::InvalidUtf8),
        );
    }
    fx.assert_no_state();
}

#[tokio::test]
async fn lone_surrogate_escapes_are_invalid_bodies_where_they_are_read() {
    let fx = Fx::plain().await;
    let refused: [(&str, &str); 5] = [
        (
            "a lone high surrogate in the task id",
            r#"{"code":200,"data":{"task_id":"t\ud800","callbackType":"complete"}}"#,
        ),
        (
            "a lone low surrogate in the task id",
            r#"{"code":200,"data":{"task_id":"\udc00t","callbackType":"complete"}}"#,
        ),
        (
            "a high surrogate followed by a non-surrogate escape",
            r#"{"code":200,"data":{"task_id":"t\ud800\u0041","callbackType":"complete"}}"#,
        ),
        (
            "a lone surrogate in msg",
            r#"{"code":200,"msg":"\ud800","data":{"task_id":"t","callbackType":"complete"}}"#,
        ),
        (
            "a lone surrogate in a track's prompt",
            r#"{"code":200,"data":{"task_id":"t","callbackType":"complete","data":[{"id":"a","prompt":"[Verse]\udfff"}]}}"#,
        ),
    ];
    for (what, body) in refused {
        let answer = fx.post_now("t", body.as_bytes().to_vec()).await;
        eprintln!("{what}: {} {}", answer.status, answer.text());
        assert_body_refused(
            &answer,
            RejectionKind::InvalidBody,
            Some(ParseErrorKind::InvalidJson),
        );
    }
    fx.assert_no_state();

    // In a field the parser skips, the escape is never decoded: the callback is received.
    let skipped =
        r#"{"code":200,"zz":"\ud800","data":{"task_id":"task-sur","callbackType":"complete"}}"#;
    fx.post_now("task-sur", skipped.as_bytes().to_vec())
        .await
        .assert_ok("received");
    // A valid pair is decoded, and the signature covers the decoded task id.
    let pair = r#"{"code":200,"data":{"task_id":"task-\ud83c\udfb5","callbackType":"complete"}}"#;
    fx.post_now("task-\u{1f3b5}", pair.as_bytes().to_vec())
        .await
        .assert_ok("received");
    let tasks: Vec<_> = fx.probe.calls().into_iter().map(|c| c.task_id).collect();
    assert_eq!(tasks, ["task-sur", "task-\u{1f3b5}"]);
}

#[tokio::test]
async fn task_id_twice_in_one_object_is_an_invalid_body_whichever_copy_is_signed() {
    let fx = Fx::plain().await;
    let twice =
        r#"{"code":200,"data":{"task_id":"task-a","task_id":"task-b","callbackType":"complete"}}"#;
    // The same key spelled with an escape is the same key.
    let escaped = r#"{"code":200,"data":{"task\u005fid":"task-a","task_id":"task-b","callbackType":"complete"}}"#;
    let same =
        r#"{"code":200,"data":{"task_id":"task-a","task_id":"task-a","callbackType":"complete"}}"#;
    for body in [twice, escaped, same] {
        for signed_for in ["task-a", "task-b"] {
            let answer = fx.post_now(signed_for, body.as_bytes().to_vec()).await;
            assert_body_refused(
                &answer,
                RejectionKind::InvalidBody,
                Some(ParseErrorKind::DuplicateKey),
            );
        }
    }
    // The other envelope keys likewise.
    for body in [
        r#"{"code":200,"code":501,"data":{"task_id":"task-a","callbackType":"complete"}}"#,
        r#"{"code":200,"data":{"task_id":"task-b"},"data":{"task_id":"task-a","callbackType":"complete"}}"#,
        r#"{"code":200,"data":{"task_id":"task-a","callbackType":"text","callbackType":"complete"}}"#,
    ] {
        assert_body_refused(
            &fx.post_now("task-a", body.as_bytes().to_vec()).await,
            RejectionKind::InvalidBody,
            Some(ParseErrorKind::DuplicateKey),
        );
    }
    fx.assert_no_state();
    // An escaped key alone is that key.
    let alone = r#"{"code":200,"data":{"task\u005fid":"task-a","callbackType":"complete"}}"#;
    fx.post_now("task-a", alone.as_bytes().to_vec())
        .await
        .assert_ok("received");
}

#[tokio::test]
async fn numbers_out_of_range_are_refused_in_the_envelope_and_tolerated_in_tracks() {
    let fx = Fx::plain().await;
    let refused: [(&str, ParseErrorKind); 7] = [
        (
            r#"{"code":70000,"data":{"task_id":"t"}}"#,
            ParseErrorKind::CodeOutOfRange,
        ),
        (
            r#"{"code":-1,"data":{"task_id":"t"}}"#,
            ParseErrorKind::CodeOutOfRange,
        ),
        (
            r#"{"code":99999999999999999999999999,"data":{"task_id":"t"}}"#,
            ParseErrorKind::CodeNotInteger,
        ),
        (
            r#"{"code":200.0,"data":{"task_id":"t"}}"#,
            ParseErrorKind::CodeNotInteger,
        ),
        (
            r#"{"code":1e400,"data":{"task_id":"t"}}"#,
            ParseErrorKind::InvalidJson,
        ),
        (
            r#"{"code":200,"data":{"task_id":"t","callbackType":"complete","data":[{"id":"a","duration":1e400}]}}"#,
            ParseErrorKind::InvalidJson,
        ),
        (
            r#"{"code":200,"data":{"task_id":"t","callbackType":"complete","data":[{"id":"a","duration":-1e400}]}}"#,
            ParseErrorKind::InvalidJson,
        ),
    ];
    for (body, parse_error) in refused {
        let answer = fx.post_now("t", body.as_bytes().to_vec()).await;
        eprintln!("{body}: {} {}", answer.status, answer.text());
        assert_body_refused(&answer, RejectionKind::InvalidBody, Some(parse_error));
    }
    fx.assert_no_state();
    // In range for f64 but not for the field's type, or in a skipped field: received.
    let tolerated = [
        r#"{"code":200,"data":{"task_id":"task-n1","callbackType":"complete","data":[{"id":"a","duration":1e308,"createTime":99999999999999999999999}]}}"#,
        r#"{"code":200,"data":{"task_id":"task-n2","callbackType":"complete","data":[{"id":"a","duration":-5e-324,"createTime":-1}]}}"#,
        r#"{"code":200,"zz":1e400,"data":{"task_id":"task-n3","callbackType":"complete"}}"#,
    ];
    for (i, body) in tolerated.into_iter().enumerate() {
        fx.post_now(&format!("task-n{}", i + 1), body.as_bytes().to_vec())
            .await
            .assert_ok("received");
    }
    assert_eq!(fx.probe.call_count(), 3);
}

// ---------------------------------------------------------------------------------------
// Lengths

#[tokio::test]
async fn a_declared_2_mib_body_is_refused_before_it_is_sent() {
    let fx = Fx::plain().await;
    let lines = format!(
        "{}content-length: {}\r\n",
        kie_header_lines("task-2mib", now_secs()),
        2 * 1024 * 1024
    );
    // Only the head: the answer does not wait for the body (which would end in 408).
    let mut stream = raw_send(fx.addr, &raw_post(&lines, b"")).await;
    let reply = read_reply(&mut stream, PATIENCE).await;
    reply.assert_rejected(RejectionKind::BodyTooLarge);
    fx.assert_no_state();
    // Beyond u64 and with a sign: not a length.
    for bad in ["99999999999999999999999", "+5"] {
        let lines = format!(
            "{}content-length: {bad}\r\n",
            kie_header_lines("t", now_secs())
        );
        let reply = fx.raw(&raw_post(&lines, b"{}")).await;
        eprintln!("content-length {bad}: {reply:?}");
        reply.assert_hyper_refused(400);
    }
    fx.assert_no_state();
}

#[tokio::test]
async fn a_chunked_2_mib_body_is_cut_at_the_limit() {
    let fx = Fx::plain().await;
    let lines = format!(
        "{}transfer-encoding: chunked\r\n",
        kie_header_lines("task-chunked", now_secs())
    );
    let stream = raw_send(fx.addr, &raw_post(&lines, b"")).await;
    let (mut rd, mut wr) = stream.into_split();
    let sent = Arc::new(AtomicU64::new(0));
    let writer = {
        let sent = Arc::clone(&sent);
        tokio::spawn(async move {
            let mut body = b"{\"code\":200,\"zz\":\"".to_vec();
            body.resize(2 * 1024 * 1024, b'a');
            for piece in body.chunks(16 * 1024) {
                let mut frame = format!("{:x}\r\n", piece.len()).into_bytes();
                frame.extend_from_slice(piece);
                frame.extend_from_slice(b"\r\n");
                if wr.write_all(&frame).await.is_err() {
                    return;
                }
                sent.fetch_add(piece.len() as u64, Relaxed);
            }
            let _ = wr.write_all(b"0\r\n\r\n").await;
        })
    };
    let reply = read_reply(&mut rd, PATIENCE).await;
    reply.assert_rejected(RejectionKind::BodyTooLarge);
    eprintln!(
        "chunked 2 MiB: refused once {} body bytes were in the socket's buffers",
        sent.load(Relaxed)
    );
    assert!(
        closed_within(&mut rd, PATIENCE).await,
        "the connection stayed open"
    );
    writer.abort();
    fx.assert_no_state();
}

#[tokio::test]
async fn a_content_length_shorter_than_the_body_cuts_the_body() {
    let fx = Fx::plain().await;
    let body = complete("task-short");
    let lines = format!(
        "{}content-length: {}\r\n",
        kie_header_lines("task-short", now_secs()),
        body.len() - 20
    );
    let mut stream = raw_send(fx.addr, &raw_post(&lines, &body)).await;
    // The service reads the declared bytes: truncated JSON.
    let first = read_reply(&mut stream, PATIENCE).await;
    first.assert_rejected(RejectionKind::InvalidBody);
    // The 20 bytes left over are the start of the next request's head, which never ends:
    // the sender closes its side, and hyper drops the connection.
    stream.shutdown().await.unwrap();
    let second = read_reply(&mut stream, PATIENCE).await;
    eprintln!("after the short body: {second:?}");
    match &second {
        Reply::Closed => {}
        Reply::Answer(answer) => assert_eq!(answer.status, 400, "{answer:?}"),
    }
    // Two different lengths: hyper refuses the head.
    let lines = format!(
        "{}content-length: {}\r\ncontent-length: 5\r\n",
        kie_header_lines("task-short", now_secs()),
        body.len()
    );
    let reply = fx.raw(&raw_post(&lines, &body)).await;
    eprintln!("two different content-lengths: {reply:?}");
    reply.assert_hyper_refused(400);
    fx.assert_no_state();
    // Both a length and chunked (request smuggling's classic): hyper reads it as chunked,
    // as RFC 9112 requires, and closes the connection after answering.
    let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
    chunked.extend_from_slice(&body);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let lines = format!(
        "{}content-length: 5\r\ntransfer-encoding: chunked\r\n",
        kie_header_lines("task-short", now_secs())
    );
    let reply = fx.raw(&raw_post(&lines, &chunked)).await;
    eprintln!("content-length and chunked: {reply:?}");
    reply.assert_ok("received");
    assert_eq!(reply.answer().header("connection"), Some("close"));
    assert_eq!(fx.probe.call_count(), 1);
}

#[tokio::test]
async fn a_content_length_longer_than_the_body_times_out_or_breaks_the_read() {
    let read_timeout = Duration::from_secs(1);
    let fx = Fx::new([], |b| b.read_timeout(read_timeout)).await;
    let body = complete("task-long");
    let lines = format!(
        "{}content-length: {}\r\n",
        kie_header_lines("task-long", now_secs()),
        body.len() + 100
    );
    // The sender keeps the connection open: 408 at the read deadline.
    let started = Instant::now();
    let mut stream = raw_send(fx.addr, &raw_post(&lines, &body)).await;
    let reply = read_reply(&mut stream, PATIENCE).await;
    let waited = started.elapsed();
    reply.assert_rejected(RejectionKind::BodyTimeout);
    assert!(waited >= read_timeout, "answered after {waited:?}");
    // The sender closes its side: the body ends early.
    let mut stream = raw_send(fx.addr, &raw_post(&lines, &body)).await;
    stream.shutdown().await.unwrap();
    let reply = read_reply(&mut stream, PATIENCE).await;
    eprintln!("content-length longer than the body, then EOF: {reply:?}");
    reply.assert_rejected(RejectionKind::BodyUnreadable);
    fx.assert_no_state();
}

// ---------------------------------------------------------------------------------------
// The reference receiver: slow clients

/// `target/<profile>/vocals-callback` (the `cli` binary), beside this test binary's
/// `deps/`, brought up to date with the crate's own cargo (these tests do not need the
/// `cli` feature to build, and a receiver left from an older build would test old code;
/// when it is fresh, this costs a second).
fn receiver_exe() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let me = std::env::current_exe().unwrap();
        let profile_dir = me.parent().unwrap().parent().unwrap().to_path_buf();
        let exe = profile_dir.join(format!("vocals-callback{}", std::env::consts::EXE_SUFFIX));
        let target_dir = profile_dir.parent().unwrap();
        let profile = profile_dir.file_name().unwrap().to_str().unwrap();
        let profile = if profile == "debug" { "dev" } else { profile };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--bin",
                "vocals-callback",
                "--all-features",
            ])
            .arg("--profile")
            .arg(profile)
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("running cargo to build the receiver");
        assert!(status.success(), "building the receiver failed");
        assert!(exe.exists(), "no receiver at {}", exe.display());
        exe
    })
    .clone()
}

/// The reference receiver on a free port with [`KEY`]; killed when dropped.
struct Receiver {
    child: Child,
    addr: SocketAddr,
    path: String,
}

impl Receiver {
    fn start() -> Self {
        let mut child = Command::new(receiver_exe())
            .args([
                "receive",
                "--listen",
                "127.0.0.1:0",
                "--key",
                KEY,
                "--quiet",
            ])
            .env_remove("VOCALS_LISTEN")
            .env_remove("VOCALS_PATH")
            .env_remove("VOCALS_KEYS")
            .env_remove("VOCALS_TOLERANCE_SECS")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the reference receiver");
        let stderr = child.stderr.take().unwrap();
        // The guard exists before the wait, so a failed start still kills the child.
        let mut guard = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            path: String::new(),
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Reads the address, then drains the logs so the receiver never blocks on them.
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some((_, rest)) = line.split_once("listening on http://") {
                    let _ = tx.send(rest.trim().to_owned());
                }
            }
        });
        let listening = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the receiver did not print `listening on http://ADDR/PATH`");
        let (addr, path) = listening.split_once('/').unwrap();
        guard.addr = addr.parse().unwrap();
        guard.path = format!("/{path}");
        guard
    }

    fn post_head(&self, lines: &str) -> Vec<u8> {
        format!(
            "POST {} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n{lines}\r\n",
            self.path
        )
        .into_bytes()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The limit the reference receiver must cut slow clients off within (the sender's own
/// timeout is 15 s).
const CUT_OFF: Duration = Duration::from_secs(12);

#[tokio::test]
async fn the_reference_receiver_cuts_off_half_sent_headers_within_12_s() {
    let receiver = Receiver::start();
    // The receiver works: a signed callback is received.
    let body = complete("task-rx-ok");
    let mut ok = receiver.post_head(&format!(
        "{}content-length: {}\r\n",
        kie_header_lines("task-rx-ok", now_secs()),
        body.len()
    ));
    ok.extend_from_slice(&body);
    let mut stream = raw_send(receiver.addr, &ok).await;
    read_reply(&mut stream, PATIENCE)
        .await
        .assert_ok("received");

    // (a) half the head, then silence; (b) a head trickled at 1 byte/s that never ends;
    // (c) a connection that sends nothing at all.
    let half = async {
        let head = receiver.post_head(&kie_header_lines("task-rx-half", now_secs()));
        let mut stream = raw_send(receiver.addr, &head[..head.len() / 2]).await;
        read_reply_within(&mut stream, CUT_OFF).await
    };
    let trickle = async {
        let stream = raw_send(receiver.addr, b"POST / HTTP/1.1\r\nx-slow: ").await;
        let (mut rd, mut wr) = stream.into_split();
        let writer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if wr.write_all(b"a").await.is_err() {
                    return;
                }
            }
        });
        let reply = read_reply_within(&mut rd, CUT_OFF).await;
        writer.abort();
        reply
    };
    let idle = async {
        let mut stream = TcpStream::connect(receiver.addr).await.unwrap();
        read_reply_within(&mut stream, CUT_OFF).await
    };
    let (half, trickle, idle) = tokio::join!(half, trickle, idle);
    for (what, (reply, elapsed, stalled)) in [("half", half), ("trickle", trickle), ("idle", idle)]
    {
        eprintln!(
            "reference receiver, {what} head: {reply:?} after {elapsed:?} (test stalled {stalled:?})"
        );
        assert!(
            elapsed.saturating_sub(stalled) < CUT_OFF,
            "{what}: {elapsed:?}"
        );
        match &reply {
            Reply::Closed => {}
            Reply::Answer(answer) => assert_eq!(answer.status, 408, "{what}: {answer:?}"),
        }
    }
}

#[tokio::test]
async fn the_reference_receiver_cuts_off_a_1_byte_per_second_body_within_12_s() {
    let receiver = Receiver::start();
    let body = complete("task-rx-slow");
    let head = receiver.post_head(&format!(
        "{}content-length: {}\r\n",
        kie_header_lines("task-rx-slow", now_secs()),
        body.len()
    ));
    let stream = raw_send(receiver.addr, &head).await;
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        for byte in body {
            if wr.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let (reply, elapsed, stalled) = read_reply_within(&mut rd, CUT_OFF).await;
    eprintln!(
        "reference receiver, 1 byte/s body: {reply:?} after {elapsed:?} (test stalled {stalled:?})"
    );
    reply.assert_rejected(RejectionKind::BodyTimeout);
    assert!(elapsed.saturating_sub(stalled) < CUT_OFF, "{elapsed:?}");
    assert!(
        closed_within(&mut rd, Duration::from_secs(2)).await,
        "the connection stayed open after the 408"
    );
    writer.abort();
}

// ---------------------------------------------------------------------------------------
// Headers

#[tokio::test]
async fn a_gzip_content_encoding_is_refused_before_the_body() {
    let fx = Fx::plain().await;
    // A real gzip member (of `{}`): the service must not inflate it, whatever it holds.
    let gzip: &[u8] = &[
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xab, 0xae, 0x05, 0x00, 0x43,
        0xbf, 0xa6, 0xa3, 0x02, 0x00, 0x00, 0x00,
    ];
    for encoding in [
        "gzip",
        "GZIP",
        "x-gzip",
        "deflate",
        "br",
        "identity, gzip",
        "gzip, identity",
    ] {
        let mut req = signed(fx.addr, PATH, "task-gzip", now_secs(), gzip.to_vec());
        req.headers_mut()
            .insert("content-encoding", HeaderValue::from_str(encoding).unwrap());
        let answer = send(&fx.client, req).await;
        assert_body_refused(&answer, RejectionKind::UnsupportedEncoding, None);
    }
    // Declared 2 MiB of gzip: the encoding is refused first, without reading.
    let lines = format!(
        "{}content-encoding: gzip\r\ncontent-length: {}\r\n",
        kie_header_lines("task-gzip", now_secs()),
        2 * 1024 * 1024
    );
    fx.raw(&raw_post(&lines, b""))
        .await
        .assert_rejected(RejectionKind::UnsupportedEncoding);
    // Two Content-Encoding lines, one of them gzip.
    let reply = fx
        .raw(&raw_signed(
            "task-gzip",
            "content-encoding: identity\r\ncontent-encoding: gzip\r\n",
            &complete("task-gzip"),
        ))
        .await;
    reply.assert_rejected(RejectionKind::UnsupportedEncoding);
    fx.assert_no_state();
    assert_eq!(
        fx.svc.stats().rejected(RejectionKind::UnsupportedEncoding),
        9
    );
    // `identity` is no encoding at all.
    let mut req = signed(
        fx.addr,
        PATH,
        "task-gzip",
        now_secs(),
        complete("task-gzip"),
    );
    req.headers_mut()
        .insert("content-encoding", HeaderValue::from_static("identity"));
    send(&fx.client, req).await.assert_ok("received");
}

#[tokio::test]
async fn more_than_100_headers_are_refused_by_hyper_and_fewer_pass() {
    let fx = Fx::plain().await;
    let extra = |n: usize| -> String { (0..n).map(|i| format!("x-extra-{i}: {i}\r\n")).collect() };
    let body = complete("task-headers");
    // host, content-type, the two signature headers, content-length: 5 + 95 = 100.
    for n in [96, 200, 5_000] {
        let reply = fx.raw(&raw_signed("task-headers", &extra(n), &body)).await;
        eprintln!("{} headers: {reply:?}", n + 5);
        reply.assert_hyper_refused(431);
    }
    fx.assert_no_state();
    let reply = fx.raw(&raw_signed("task-headers", &extra(95), &body)).await;
    reply.assert_ok("received");
    assert_eq!(fx.probe.call_count(), 1);
}

#[tokio::test]
async fn repeated_signature_headers_are_duplicate_headers() {
    let fx = Fx::plain().await;
    let ts = now_secs().to_string();
    let good = sign_kie(KEY, "task-rep", &ts);
    let wrong = sign_kie("not-the-key", "task-rep", &ts);
    let body = complete("task-rep");
    let sig = |v: &str| format!("x-webhook-signature: {v}\r\n");
    let cases = [
        format!("x-webhook-timestamp: {ts}\r\n{}{}", sig(&good), sig(&wrong)),
        format!("x-webhook-timestamp: {ts}\r\n{}{}", sig(&wrong), sig(&good)),
        format!("x-webhook-timestamp: {ts}\r\n{}{}", sig(&good), sig(&good)),
        format!(
            "x-webhook-timestamp: {ts}\r\n{}X-Webhook-Signature: {good}\r\n",
            sig(&good)
        ),
        format!(
            "x-webhook-timestamp: {ts}\r\n{}x-webhook-signature: \r\n",
            sig(&good)
        ),
        format!(
            "x-webhook-timestamp: {ts}\r\nX-WEBHOOK-TIMESTAMP: {ts}\r\n{}",
            sig(&good)
        ),
        format!(
            "x-webhook-timestamp: 1\r\nx-webhook-timestamp: {ts}\r\n{}",
            sig(&good)
        ),
    ];
    for lines in &cases {
        let lines = format!("{lines}content-length: {}\r\n", body.len());
        let reply = fx.raw(&raw_post(&lines, &body)).await;
        reply.assert_rejected(RejectionKind::DuplicateHeader);
    }
    // Two values folded into one line are one malformed value.
    let lines = format!(
        "x-webhook-timestamp: {ts}\r\nx-webhook-signature: {good}, {wrong}\r\ncontent-length: {}\r\n",
        body.len()
    );
    fx.raw(&raw_post(&lines, &body))
        .await
        .assert_rejected(RejectionKind::MalformedSignature);
    fx.assert_no_state();
    assert_eq!(
        fx.svc.stats().rejected(RejectionKind::DuplicateHeader),
        cases.len() as u64
    );
}

/// What a raw request should get.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// The service's JSON refusal.
    Rejected(RejectionKind),
    /// hyper's own refusal with this status.
    Hyper(u16),
    /// 200 `received`.
    Received,
}

#[tokio::test]
async fn cr_lf_and_invisible_bytes_in_header_values_get_4xx() {
    let fx = Fx::plain().await;
    let body = complete("task-crlf");
    let ts = now_secs().to_string();
    let good = sign_kie(KEY, "task-crlf", &ts);
    let timestamp = format!("x-webhook-timestamp: {ts}\r\n").into_bytes();
    let signature = format!("x-webhook-signature: {good}\r\n").into_bytes();
    let length = format!("content-length: {}\r\n", body.len()).into_bytes();
    // (what, the raw header lines replacing the signature line, expected)
    let cat = |parts: &[&[u8]]| -> Vec<u8> { parts.concat() };
    let g = good.as_bytes();
    let cases: Vec<(&str, Vec<u8>, Want)> = vec![
        (
            "bare CR inside the signature",
            cat(&[b"x-webhook-signature: ", &g[..10], b"\r", &g[10..], b"\r\n"]),
            Want::Hyper(400),
        ),
        (
            "bare LF inside the signature (ends the line)",
            cat(&[b"x-webhook-signature: ", &g[..10], b"\n", &g[10..], b"\r\n"]),
            Want::Hyper(400),
        ),
        (
            "CRLF injecting a second signature line",
            cat(&[&signature, b"x-webhook-signature: ", g, b"\r\n"]),
            Want::Rejected(RejectionKind::DuplicateHeader),
        ),
        (
            "obs-fold continuation of the signature",
            cat(&[
                b"x-webhook-signature: ",
                &g[..10],
                b"\r\n ",
                &g[10..],
                b"\r\n",
            ]),
            Want::Hyper(400),
        ),
        (
            "NUL inside the signature",
            cat(&[b"x-webhook-signature: ", &g[..10], b"\0", &g[10..], b"\r\n"]),
            Want::Hyper(400),
        ),
        (
            "0x01 inside the signature",
            cat(&[
                b"x-webhook-signature: ",
                &g[..10],
                b"\x01",
                &g[10..],
                b"\r\n",
            ]),
            Want::Hyper(400),
        ),
        (
            "DEL inside the signature",
            cat(&[
                b"x-webhook-signature: ",
                &g[..10],
                b"\x7f",
                &g[10..],
                b"\r\n",
            ]),
            Want::Hyper(400),
        ),
        (
            "0xff inside the signature",
            cat(&[
                b"x-webhook-signature: ",
                &g[..10],
                b"\xff",
                &g[10..],
                b"\r\n",
            ]),
            Want::Rejected(RejectionKind::MalformedSignature),
        ),
        (
            "a tab inside the signature",
            cat(&[b"x-webhook-signature: ", &g[..10], b"\t", &g[10..], b"\r\n"]),
            Want::Rejected(RejectionKind::MalformedSignature),
        ),
        (
            "UTF-8 in the signature",
            cat(&[
                b"x-webhook-signature: ",
                &g[..10],
                "é".as_bytes(),
                &g[12..],
                b"\r\n",
            ]),
            Want::Rejected(RejectionKind::MalformedSignature),
        ),
        (
            "a space before the colon",
            cat(&[b"x-webhook-signature : ", g, b"\r\n"]),
            Want::Hyper(400),
        ),
        (
            "0xff in a header name",
            cat(&[&signature, b"x-\xff: 1\r\n"]),
            Want::Hyper(400),
        ),
        (
            "0xff in an unrelated header value",
            cat(&[&signature, b"x-note: caf\xe9 \xff\r\n"]),
            Want::Received,
        ),
    ];
    let mut received = 0;
    for (what, lines, want) in &cases {
        let mut req = format!(
            "POST {PATH} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
        )
        .into_bytes();
        req.extend_from_slice(&timestamp);
        req.extend_from_slice(lines);
        req.extend_from_slice(&length);
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(&body);
        let reply = fx.raw(&req).await;
        eprintln!("{what}: {reply:?}");
        match *want {
            Want::Rejected(kind) => reply.assert_rejected(kind),
            Want::Hyper(status) => reply.assert_hyper_refused(status),
            Want::Received => {
                reply.assert_ok(if received == 0 {
                    "received"
                } else {
                    "duplicate"
                });
                received += 1;
            }
        }
    }
    // Invisible bytes in the timestamp and the content type.
    let cases: [(&[u8], Want); 3] = [
        (
            b"x-webhook-timestamp: 17\xff\r\n",
            Want::Rejected(RejectionKind::InvalidTimestamp),
        ),
        // Leading whitespace is not part of a field value: hyper trims it.
        (
            b"x-webhook-timestamp: \t17\r\n",
            Want::Rejected(RejectionKind::TimestampTooOld),
        ),
        (b"x-webhook-timestamp: 1\x0b7\r\n", Want::Hyper(400)),
    ];
    for (line, want) in cases {
        let mut req = format!(
            "POST {PATH} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
        )
        .into_bytes();
        req.extend_from_slice(line);
        req.extend_from_slice(&signature);
        req.extend_from_slice(&length);
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(&body);
        let reply = fx.raw(&req).await;
        eprintln!("{:?}: {reply:?}", String::from_utf8_lossy(line));
        match want {
            Want::Rejected(kind) => reply.assert_rejected(kind),
            Want::Hyper(status) => reply.assert_hyper_refused(status),
            Want::Received => unreachable!(),
        }
    }
    let mut req = b"POST /vocals-callback HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\xff\r\n".to_vec();
    req.extend_from_slice(&timestamp);
    req.extend_from_slice(&signature);
    req.extend_from_slice(&length);
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(&body);
    fx.raw(&req)
        .await
        .assert_rejected(RejectionKind::UnsupportedMediaType);
    assert_eq!(
        fx.probe.call_count(),
        1,
        "only the request with a harmless odd header"
    );
}

#[tokio::test]
async fn nfc_and_nfd_task_ids_are_two_tasks() {
    let fx = Fx::plain().await;
    // Canonically equivalent, different bytes: two tasks to the provider and to us.
    let pairs = [
        ("task-caf\u{e9}", "task-cafe\u{301}"),
        ("task-\u{d55c}", "task-\u{1112}\u{1161}\u{11ab}"),
        ("task-\u{212b}", "task-\u{c5}"),
    ];
    for (nfc, nfd) in pairs {
        assert_ne!(nfc.as_bytes(), nfd.as_bytes());
        fx.post_now(nfc, complete(nfc)).await.assert_ok("received");
        fx.post_now(nfd, complete(nfd)).await.assert_ok("received");
        fx.post_now(nfc, complete(nfc)).await.assert_ok("duplicate");
        fx.post_now(nfd, complete(nfd)).await.assert_ok("duplicate");
        // One form's signature does not verify the other.
        let answer = fx.post_now(nfc, complete(nfd)).await;
        answer.assert_refused(RejectionKind::InvalidSignature, false);
    }
    let tasks: Vec<_> = fx.probe.calls().into_iter().map(|c| c.task_id).collect();
    let expected: Vec<_> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    assert_eq!(tasks, expected);
    assert_eq!(fx.svc.dedup_store().len(), 6);
    assert_eq!(fx.svc.stats().duplicate(), 6);
}

// ---------------------------------------------------------------------------------------
// Floods

#[tokio::test]
async fn a_flood_of_badly_signed_requests_creates_no_dedup_or_binding_entry() {
    const EACH: usize = 100;
    let fx = Fx::plain().await;
    let mut expected: Vec<(RejectionKind, u64)> = Vec::new();
    let mut count = |kind: RejectionKind| match expected.iter_mut().find(|(k, _)| *k == kind) {
        Some((_, n)) => *n += 1,
        None => expected.push((kind, 1)),
    };
    for i in 0..EACH {
        let task = format!("task-forged-{i}");
        let body = complete(&task);
        // Now, and well outside the 300 s window either way (however slow this loop runs).
        let now = now_secs();
        let (stale, future) = ((now - 400).to_string(), (now + 400).to_string());
        let ts = now.to_string();
        // Each forgery with the headers it needs, and the kind it must get.
        let forgeries: Vec<(Vec<(&str, String)>, RejectionKind)> = vec![
            (
                vec![
                    ("x-webhook-timestamp", ts.clone()),
                    ("x-webhook-signature", sign_kie("not-the-key", &task, &ts)),
                ],
                RejectionKind::InvalidSignature,
            ),
            (
                vec![
                    ("x-webhook-timestamp", stale.clone()),
                    ("x-webhook-signature", sign_kie(KEY, &task, &stale)),
                ],
                RejectionKind::TimestampTooOld,
            ),
            (
                vec![
                    ("x-webhook-timestamp", future.clone()),
                    ("x-webhook-signature", sign_kie(KEY, &task, &future)),
                ],
                RejectionKind::TimestampTooNew,
            ),
            (
                vec![
                    ("x-webhook-timestamp", ts.clone()),
                    ("x-webhook-signature", "garbage!!".repeat(i % 7 + 1)),
                ],
                RejectionKind::MalformedSignature,
            ),
            (
                vec![
                    ("x-webhook-timestamp", ts.clone()),
                    (
                        "x-webhook-signature",
                        STANDARD.encode([u8::try_from(i).unwrap(); 32]),
                    ),
                ],
                RejectionKind::InvalidSignature,
            ),
            (
                vec![
                    ("x-webhook-timestamp", ts.clone()),
                    // Signed for another task than the body names.
                    ("x-webhook-signature", sign_kie(KEY, "task-other", &ts)),
                ],
                RejectionKind::InvalidSignature,
            ),
            (
                vec![("x-webhook-timestamp", ts.clone())],
                RejectionKind::MissingSignature,
            ),
            (
                vec![("x-webhook-signature", sign_kie(KEY, &task, &ts))],
                RejectionKind::MissingTimestamp,
            ),
            (
                vec![
                    ("x-webhook-timestamp", format!("{ts}.0")),
                    (
                        "x-webhook-signature",
                        sign_kie(KEY, &task, &format!("{ts}.0")),
                    ),
                ],
                RejectionKind::InvalidTimestamp,
            ),
        ];
        for (headers, kind) in forgeries {
            let mut all = vec![("content-type", "application/json".to_owned())];
            all.extend(headers);
            let pairs: Vec<(&str, &str)> = all.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let answer = send(
                &fx.client,
                plain("POST", fx.addr, PATH, &pairs, body.clone()),
            )
            .await;
            answer.assert_refused(kind, false);
            count(kind);
        }
    }
    fx.assert_no_state();
    let stats = fx.svc.stats();
    for (kind, n) in &expected {
        assert_eq!(stats.rejected(*kind), *n, "{kind}");
    }
    assert_eq!(stats.rejected_total(), (EACH * 9) as u64);

    // A genuine callback then creates exactly one of each, and a swapped body under its
    // signature creates nothing more.
    let body = complete("task-forged-0");
    fx.post_now("task-forged-0", body)
        .await
        .assert_ok("received");
    assert_eq!(fx.svc.dedup_store().len(), 1);
    assert_eq!(fx.svc.binding().len(), 1);
    let ts = now_secs();
    send(
        &fx.client,
        signed(
            fx.addr,
            PATH,
            "task-forged-1",
            ts,
            complete("task-forged-1"),
        ),
    )
    .await
    .assert_ok("received");
    let swapped = CallbackBody::complete("task-forged-1")
        .track(TrackBody::ready("evil").title("Swapped"))
        .to_bytes();
    for _ in 0..EACH {
        send(
            &fx.client,
            signed(fx.addr, PATH, "task-forged-1", ts, swapped.clone()),
        )
        .await
        .assert_refused(RejectionKind::SignatureReused, false);
    }
    assert_eq!(fx.svc.dedup_store().len(), 2);
    assert_eq!(fx.svc.binding().len(), 2);
    assert_eq!(fx.probe.call_count(), 2);
}

/// Resident set size in bytes (Linux).
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// kie.ai signatures under [`KEY`] from a pre-keyed HMAC state (the testkit's `sign_kie`
/// keys a fresh one per call).
struct Signer(Hmac<Sha256>);

impl Signer {
    fn new() -> Self {
        Self(Hmac::new_from_slice(KEY.as_bytes()).unwrap())
    }

    fn sign(&self, task: &str, ts: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(task.as_bytes());
        mac.update(b".");
        mac.update(ts.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

/// A signed `complete` for `task` at `ts`, its body from a template.
fn flood_request(signer: &Signer, task: &str, ts: u64) -> Request<Full<Bytes>> {
    let ts = ts.to_string();
    let mut body = Vec::with_capacity(task.len() + 96);
    body.extend_from_slice(br#"{"code":200,"msg":"All generated successfully.","data":{"callbackType":"complete","task_id":""#);
    body.extend_from_slice(task.as_bytes());
    body.extend_from_slice(br#"","data":[]}}"#);
    Request::post(PATH)
        .header("content-type", "application/json")
        .header("x-webhook-timestamp", &ts)
        .header("x-webhook-signature", signer.sign(task, &ts))
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// A flood handler: counts its calls.
fn counting(
    calls: &Arc<AtomicU64>,
) -> impl Fn(VocalsEvent) -> std::future::Ready<HandlerResult> + Clone + Send + Sync + 'static {
    let calls = Arc::clone(calls);
    move |_event: VocalsEvent| {
        calls.fetch_add(1, Relaxed);
        std::future::ready(Ok(()))
    }
}

/// An upper bound of one dedup task's memory from SECURITY.md's description: its id (at
/// most 256 bytes), a timestamp, four 16-byte stage slots, an empty slice of unknown
/// stages, and the map's bookkeeping (a linked node with two pointers, the hash table's
/// slot, and two allocations' headers). BENCHMARKS.md measures 187 B at 32-byte ids.
fn dedup_task_bound(id_len: usize) -> usize {
    id_len + 8 + 4 * 16 + 16 + 16 + 16 + 16 + 2 * 16 + 64
}

#[tokio::test]
async fn a_flood_of_1_000_000_unique_signed_tasks_stays_within_the_memory_bounds() {
    const N: u64 = 1_000_000;
    const DEDUP_CAPACITY: usize = 10_000;
    /// 4 signatures a second over 301 s of window: about 100 KiB, so the cache drops a
    /// second of expired entries on nearly every second of the clock and never refuses.
    const BINDING_MEMORY: usize = 256 << 10;
    /// Requests per second of the injected clock: 4 × 300 s live signatures; 250 000 s in
    /// all pass the dedup store's 24 h retention too.
    const PER_SECOND: u64 = 4;
    const MARGIN: usize = 16 << 20;
    let _heavy = HEAVY.lock().await;

    let start = 1_769_670_760;
    let clock = Arc::new(AtomicU64::new(start));
    let calls = Arc::new(AtomicU64::new(0));
    let svc = {
        let clock = Arc::clone(&clock);
        VocalsService::builder(counting(&calls))
            .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
            .backend(
                MemoryBackend::new()
                    .with_capacity(DEDUP_CAPACITY)
                    .with_binding_memory(BINDING_MEMORY),
            )
            .clock(move || UNIX_EPOCH + Duration::from_secs(clock.load(Relaxed)))
            .build()
            .unwrap()
    };
    assert_eq!(svc.binding().memory_limit(), BINDING_MEMORY);
    let signer = Signer::new();
    let id_len = format!("flood-{:012}", 0).len();
    let bound = BINDING_MEMORY + DEDUP_CAPACITY * dedup_task_bound(id_len);

    let before = rss();
    let started = Instant::now();
    let mut peak = (0, 0, 0);
    let mut halfway = 0;
    for i in 0..N {
        let ts = start + i / PER_SECOND;
        clock.store(ts, Relaxed);
        let task = format!("flood-{i:012}");
        let res = svc
            .clone()
            .oneshot(flood_request(&signer, &task, ts))
            .await
            .unwrap();
        if res.status() != StatusCode::OK || res.extensions().get::<Rejection>().is_some() {
            panic!(
                "request {i} refused: {:?} {:?}",
                res.status(),
                res.extensions().get::<Rejection>()
            );
        }
        if i % 1_000 == 999 {
            let dedup = svc.dedup_store().len();
            let bound_entries = svc.binding().len();
            assert!(dedup <= DEDUP_CAPACITY, "dedup store at {dedup} after {i}");
            assert!(
                bound_entries <= 4 * 301,
                "binding cache at {bound_entries} after {i}"
            );
            assert!(svc.binding().memory_used() <= BINDING_MEMORY);
            let grown = rss().saturating_sub(before);
            assert!(
                grown <= bound + MARGIN,
                "resident set grew by {grown} B after {i} requests (bound {bound} B + {MARGIN} B)"
            );
            peak = (
                peak.0.max(dedup),
                peak.1.max(bound_entries),
                peak.2.max(grown),
            );
            if i + 1 == N / 2 {
                halfway = rss();
            }
        }
    }
    let elapsed = started.elapsed();
    let after = rss();
    eprintln!(
        "1M flood: {elapsed:?} ({:.1} µs/request); peak dedup {} / {DEDUP_CAPACITY}, peak binding {} entries; \
         RSS growth {} B (peak {} B, bound {bound} B + margin {MARGIN} B), second half {} B",
        elapsed.as_secs_f64() * 1e6 / N as f64,
        peak.0,
        peak.1,
        after.saturating_sub(before),
        peak.2,
        after.saturating_sub(halfway),
    );
    assert_eq!(calls.load(Relaxed), N, "every unique task dispatched once");
    assert_eq!(svc.stats().received(), N);
    assert_eq!(
        peak.0, DEDUP_CAPACITY,
        "the dedup store filled up and evicted"
    );
    // In the steady state the process does not grow: a leak of 16 B per request shows.
    assert!(
        after.saturating_sub(halfway) < 8 << 20,
        "resident set grew by {} B over the second half",
        after.saturating_sub(halfway)
    );
}

// ---------------------------------------------------------------------------------------
// Keys colliding under a weak hasher

/// rustc-hash 1.x's `FxHasher` (64-bit): the hasher of rustc and of many `HashMap`s.
#[derive(Default)]
struct Fx64(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Fx64 {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for Fx64 {
    fn write(&mut self, mut bytes: &[u8]) {
        while bytes.len() >= 8 {
            self.add(u64::from_le_bytes(bytes[..8].try_into().unwrap()));
            bytes = &bytes[8..];
        }
        if bytes.len() >= 4 {
            self.add(u64::from(u32::from_le_bytes(
                bytes[..4].try_into().unwrap(),
            )));
            bytes = &bytes[4..];
        }
        if bytes.len() >= 2 {
            self.add(u64::from(u16::from_le_bytes(
                bytes[..2].try_into().unwrap(),
            )));
            bytes = &bytes[2..];
        }
        if let Some(&b) = bytes.first() {
            self.add(u64::from(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn fx_hash(s: &str) -> u64 {
    let mut h = Fx64(0);
    s.hash(&mut h);
    h.finish()
}

/// splitmix64: a deterministic stream for the key search.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A word of 8 bytes from `ALPHABET`.
    fn word(&mut self) -> [u8; 8] {
        let mut word = [0u8; 8];
        for b in &mut word {
            *b = ALPHABET[usize::try_from(self.next() % ALPHABET.len() as u64).unwrap()];
        }
        word
    }
}

/// The characters of the crafted task ids: printable ASCII that JSON strings carry
/// unescaped.
const ALPHABET: &[u8] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&'()*+,-./:;<=>?@[]^_`{|}~";

/// `2^blocks` distinct task ids of `16 × blocks` bytes with one and the same FxHash: block
/// `i` has two 16-byte variants that take the hasher from the same state to the same state
/// (`w2 ^ w2' = rotl(s1, 5) ^ rotl(s1', 5)`), so every choice of variants collides.
fn fx_colliding_ids(blocks: u32, count: usize) -> Vec<String> {
    let mut rng = Rng(0x5eed);
    let mut variants: Vec<[[u8; 16]; 2]> = Vec::new();
    let mut state = 0u64;
    let step =
        |s: u64, w: [u8; 8]| (s.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(FX_SEED);
    while variants.len() < usize::try_from(blocks).unwrap() {
        let (a, b) = (rng.word(), rng.word());
        if a == b {
            continue;
        }
        let (sa, sb) = (step(state, a), step(state, b));
        let diff = (sa.rotate_left(5) ^ sb.rotate_left(5)).to_le_bytes();
        // Second words w (for a) and w ^ diff (for b), both in the alphabet.
        let mut second = [0u8; 8];
        let found = diff.iter().zip(&mut second).all(|(d, out)| {
            let pick = ALPHABET.iter().find(|&&c| ALPHABET.contains(&(c ^ d)));
            pick.map(|&c| *out = c).is_some()
        });
        if !found {
            continue;
        }
        let mut other = second;
        for (o, d) in other.iter_mut().zip(diff) {
            *o ^= d;
        }
        assert_eq!(step(sa, second), step(sb, other));
        state = step(sa, second);
        let mut va = [0u8; 16];
        va[..8].copy_from_slice(&a);
        va[8..].copy_from_slice(&second);
        let mut vb = [0u8; 16];
        vb[..8].copy_from_slice(&b);
        vb[8..].copy_from_slice(&other);
        variants.push([va, vb]);
    }
    (0..count)
        .map(|n| {
            let mut id = Vec::with_capacity(variants.len() * 16);
            for (bit, pair) in variants.iter().enumerate() {
                id.extend_from_slice(&pair[(n >> bit) & 1]);
            }
            String::from_utf8(id).unwrap()
        })
        .collect()
}

/// `count` random task ids of `len` bytes from the same alphabet.
fn random_ids(len: usize, count: usize) -> Vec<String> {
    let mut rng = Rng(0xfeed);
    (0..count)
        .map(|_| {
            let bytes: Vec<u8> = (0..len / 8).flat_map(|_| rng.word()).collect();
            String::from_utf8(bytes).unwrap()
        })
        .collect()
}

/// Sends every id once (each must be received) and then again in another order (each must
/// be a duplicate), through a fresh service; the time of both passes.
async fn deliver_all(ids: &[String]) -> Duration {
    let calls = Arc::new(AtomicU64::new(0));
    let svc = VocalsService::builder(counting(&calls))
        .verifier(KieSignature::new(Secret::new(KEY).unwrap()))
        .build()
        .unwrap();
    let signer = Signer::new();
    let ts = now_secs();
    // Requests built before the clock starts: only the service is timed.
    let first: Vec<_> = ids
        .iter()
        .map(|id| flood_request(&signer, id, ts))
        .collect();
    let again: Vec<_> = ids
        .iter()
        .rev()
        .map(|id| flood_request(&signer, id, ts))
        .collect();
    let started = Instant::now();
    for (pass, requests, status) in [(0, first, "received"), (1, again, "duplicate")] {
        for (i, req) in requests.into_iter().enumerate() {
            let res = svc.clone().oneshot(req).await.unwrap();
            let ok =
                res.status() == StatusCode::OK && res.extensions().get::<Rejection>().is_none();
            assert!(
                ok,
                "pass {pass}, request {i}: {:?} {:?}",
                res.status(),
                res.extensions().get::<Rejection>()
            );
        }
        let stats = svc.stats();
        let n = ids.len() as u64;
        match status {
            "received" => assert_eq!(stats.received(), n),
            _ => assert_eq!(stats.duplicate(), n, "every duplicate caught"),
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(
        calls.load(Relaxed),
        ids.len() as u64,
        "one handler call per task"
    );
    assert_eq!(svc.dedup_store().len(), ids.len());
    elapsed
}

#[tokio::test]
async fn task_ids_colliding_under_fxhash_cost_what_random_ones_cost() {
    const N: usize = 50_000;
    let _heavy = HEAVY.lock().await;
    let crafted = fx_colliding_ids(16, N);
    let len = crafted[0].len();
    assert_eq!(len, vocals_callback::MAX_TASK_ID_LEN);
    // The keys really are hostile to a weak hasher: one FxHash for all, all distinct.
    let target = fx_hash(&crafted[0]);
    assert!(crafted.iter().all(|id| fx_hash(id) == target));
    assert_eq!(crafted.iter().collect::<HashSet<_>>().len(), N);
    let random = random_ids(len, N);

    // Control: in a `HashMap` hashed with FxHash, 5 000 of them already cost far more than
    // 5 000 random ones (every insert probes past all the others); 50 000 would take minutes.
    let fx_map_time = |ids: &[String]| {
        let started = Instant::now();
        let mut map: HashMap<&str, (), BuildHasherDefault<Fx64>> = HashMap::default();
        for id in ids {
            map.insert(id, ());
        }
        assert_eq!(map.len(), ids.len());
        started.elapsed()
    };
    let weak_random = fx_map_time(&random[..5_000]);
    let weak_crafted = fx_map_time(&crafted[..5_000]);
    eprintln!("FxHash map, 5 000 keys: crafted {weak_crafted:?}, random {weak_random:?}");
    assert!(
        weak_crafted > weak_random * 10,
        "the crafted keys do not degrade an FxHash map: {weak_crafted:?} vs {weak_random:?}"
    );

    let random_time = deliver_all(&random).await;
    let crafted_time = deliver_all(&crafted).await;
    let ratio = crafted_time.as_secs_f64() / random_time.as_secs_f64();
    eprintln!(
        "{N} FxHash-colliding task ids: {crafted_time:?}; {N} random ones: {random_time:?}; ratio {ratio:.2}"
    );
    assert!(ratio < 5.0, "colliding keys cost {ratio:.2}× random ones");
}
