//! The service over real sockets: mounted with axum's `route_service`, as a layer around an
//! axum router, and in a plain hyper server; then one test per row of DESIGN's status
//! table, each asserting the status, the JSON body and the headers, and the concurrency
//! promises (one handler call per key, retries after failures, `ingest` beside HTTP).

mod support;

use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use http::{StatusCode, header};
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use support::*;
use tokio::{io::AsyncWriteExt, net::TcpListener};
use vocals_callback::{
    Outcome, RejectionKind, Secret, Stage, VocalsService,
    backend::MemoryBackend,
    parse,
    service::QueueConfig,
    testkit::{CallbackBody, TrackBody},
    verify::{BindingCache, IpAllowlist, KieSignature, UrlToken},
};

// ---------------------------------------------------------------------------------------
// The three ways to mount it

#[tokio::test]
async fn route_service_runs_the_whole_pipeline_over_a_socket() {
    let fx = Fx::plain().await;
    let body = CallbackBody::complete("task-route")
        .track(TrackBody::ready("a").title("Iron Man"))
        .to_bytes();
    fx.post("task-route", now_secs(), body)
        .await
        .assert_ok("received");

    let calls = fx.probe.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "on_complete");
    assert_eq!(calls[0].task_id, "task-route");
    assert_eq!(calls[0].stage, Stage::Complete);
    assert_eq!(fx.svc.stats().received(), 1);

    // Nothing else is mounted on this router.
    let other = fx
        .send(plain("POST", fx.addr, "/elsewhere", &[], vec![]))
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(fx.svc.stats().rejected_total(), 0);
}

/// Under `Router::nest`, the layer belongs on the outermost router, configured with the full
/// path: a layer on the nested router never sees a path that no route of its own matches
/// (axum answers from the fallback first). A trailing slash is the same path.
#[tokio::test]
async fn a_layer_on_the_outer_router_serves_a_nested_path_and_its_trailing_slash() {
    let probe = Probe::new([]);
    let layer = builder(&probe)
        .path("/api/v1/vocals-callback")
        .build_layer()
        .unwrap();
    let api = Router::new().route("/health", get(|| async { "ok" }));
    let app = Router::new().nest("/api/v1", api).layer(layer);
    let addr = serve_router(app).await;
    let client = client();
    let ts = now_secs();
    for (task, path) in [
        ("t-nest", "/api/v1/vocals-callback"),
        ("t-slash", "/api/v1/vocals-callback/"),
    ] {
        send(&client, signed(addr, path, task, ts, complete(task)))
            .await
            .assert_ok("received");
    }
    assert_eq!(probe.call_count(), 2);
    let health = send(&client, plain("GET", addr, "/api/v1/health", &[], vec![])).await;
    assert_eq!(health.text(), "ok");

    // The same layer on the nested router: the callback path is not a route of its own,
    // so axum answers 404 before the layer runs.
    let probe = Probe::new([]);
    let inner_layer = builder(&probe).build_layer().unwrap();
    let api = Router::new()
        .route("/health", get(|| async { "ok" }))
        .layer(inner_layer);
    let addr = serve_router(Router::new().nest("/api/v1", api)).await;
    let answer = send(
        &client,
        signed(
            addr,
            "/api/v1/vocals-callback",
            "t-inner",
            ts,
            complete("t-inner"),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(probe.call_count(), 0);
}

#[tokio::test]
async fn router_layer_runs_the_pipeline_on_its_path_and_passes_everything_else_untouched() {
    let probe = Probe::new([]);
    let layer = builder(&probe).path("/hooks/vocals").build_layer().unwrap();
    let svc = layer.service().clone();
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .layer(layer);
    let addr = serve_router(app).await;
    let client = client();

    // The callback path runs the pipeline.
    let ts = now_secs();
    let answer = send(
        &client,
        signed(
            addr,
            "/hooks/vocals",
            "task-layer",
            ts,
            complete("task-layer"),
        ),
    )
    .await;
    answer.assert_ok("received");
    assert_eq!(probe.call_count(), 1);
    let wrong_method = send(&client, plain("GET", addr, "/hooks/vocals", &[], vec![])).await;
    wrong_method.assert_rejected(RejectionKind::MethodNotAllowed);
    assert_eq!(wrong_method.headers[header::ALLOW], "POST");

    // Everything else reaches the inner router as if the layer were not there.
    let health = send(&client, plain("GET", addr, "/health", &[], vec![])).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.text(), "ok");
    let missing = send(&client, plain("GET", addr, "/nope", &[], vec![])).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.is_empty(), "{missing:?}");
    // The inner router's own 405 (its Allow, not ours), with a body the pipeline would take.
    let post_health = send(
        &client,
        signed(
            addr,
            "/health",
            "task-layer-2",
            ts,
            complete("task-layer-2"),
        ),
    )
    .await;
    assert_eq!(post_health.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_ne!(post_health.headers[header::ALLOW], "POST");
    // The default path is not the configured one.
    let default_path = send(
        &client,
        signed(addr, PATH, "task-layer-3", ts, complete("task-layer-3")),
    )
    .await;
    assert_eq!(default_path.status, StatusCode::NOT_FOUND);

    assert_eq!(probe.call_count(), 1);
    let stats = svc.stats();
    assert_eq!(stats.received(), 1);
    assert_eq!(
        stats.rejected_total(),
        1,
        "only the GET on the callback path"
    );
}

#[tokio::test]
async fn plain_hyper_http1_server_with_tower_to_hyper_service() {
    let probe = Probe::new([]);
    let svc = builder(&probe).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = svc.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let hyper_svc = TowerToHyperService::new(served.clone());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_svc),
            );
        }
    });
    let client = client();
    let ts = now_secs();

    // The service answers wherever it is mounted: here, every path.
    send(
        &client,
        signed(addr, "/any/path", "task-hyper", ts, complete("task-hyper")),
    )
    .await
    .assert_ok("received");
    send(
        &client,
        signed(addr, PATH, "task-hyper", ts, complete("task-hyper")),
    )
    .await
    .assert_ok("duplicate");
    let forged = send(
        &client,
        signed_with(
            "not-the-key",
            addr,
            PATH,
            "task-hyper-2",
            ts,
            complete("task-hyper-2"),
        ),
    )
    .await;
    forged.assert_rejected(RejectionKind::InvalidSignature);
    assert_eq!(probe.call_count(), 1);
    assert_eq!(svc.stats().duplicate(), 1);
}

// ---------------------------------------------------------------------------------------
// One test per row of the status table

#[tokio::test]
async fn row_200_received_for_handled_and_unknown_stages() {
    let fx = Fx::plain().await;
    let now = now_secs();
    fx.post("task-200", now, CallbackBody::text("task-200").to_bytes())
        .await
        .assert_ok("received");

    // An unknown stage is accepted and handed to `on_unknown`.
    let remix = CallbackBody::complete("task-200")
        .callback_type(Some("remix"))
        .to_bytes();
    fx.post("task-200", now - 1, remix)
        .await
        .assert_ok("received");
    // A failure goes to `on_failed`.
    let failed = CallbackBody::error("task-200-f", 501, "Audio generation failed.").to_bytes();
    fx.post("task-200-f", now, failed)
        .await
        .assert_ok("received");

    let calls = fx.probe.calls();
    let seen: Vec<_> = calls.iter().map(|c| (c.method, c.stage)).collect();
    assert_eq!(
        seen,
        [
            ("on_text", Stage::Text),
            ("on_unknown", Stage::Unknown),
            ("on_failed", Stage::Failed)
        ]
    );
    assert_eq!(fx.svc.stats().received(), 3);
}

#[tokio::test]
async fn row_200_duplicate_does_not_call_the_handler_again() {
    let fx = Fx::plain().await;
    let ts = now_secs();
    fx.post("task-dup", ts, complete("task-dup"))
        .await
        .assert_ok("received");
    // The provider's retry: the same headers and bytes.
    fx.post("task-dup", ts, complete("task-dup"))
        .await
        .assert_ok("duplicate");
    // The same event re-signed later (a new timestamp) is still the same key.
    fx.post("task-dup", ts - 5, complete("task-dup"))
        .await
        .assert_ok("duplicate");
    assert_eq!(fx.probe.call_count(), 1);
    let stats = fx.svc.stats();
    assert_eq!((stats.received(), stats.duplicate()), (1, 2));
}

#[tokio::test]
async fn row_200_ignored_for_a_late_stage_unless_late_stages_are_delivered() {
    let fx = Fx::plain().await;
    let now = now_secs();
    fx.post("task-late", now, complete("task-late"))
        .await
        .assert_ok("received");
    // One task, distinct timestamps per stage (the same-second rule).
    fx.post(
        "task-late",
        now - 1,
        CallbackBody::text("task-late").to_bytes(),
    )
    .await
    .assert_ok("ignored");
    fx.post(
        "task-late",
        now - 2,
        CallbackBody::first("task-late").to_bytes(),
    )
    .await
    .assert_ok("ignored");
    assert_eq!(fx.probe.call_count(), 1);
    assert_eq!(fx.svc.stats().ignored(), 2);

    let fx = Fx::new([], |b| b.deliver_late_stages(true)).await;
    fx.post("task-late", now, complete("task-late"))
        .await
        .assert_ok("received");
    fx.post(
        "task-late",
        now - 1,
        CallbackBody::text("task-late").to_bytes(),
    )
    .await
    .assert_ok("received");
    let stages: Vec<_> = fx.probe.calls().iter().map(|c| c.stage).collect();
    assert_eq!(stages, [Stage::Complete, Stage::Text]);
    assert_eq!(fx.svc.stats().ignored(), 0);
}

#[tokio::test]
async fn row_400_malformed_json_missing_task_id_and_bad_envelope_types() {
    let fx = Fx::plain().await;
    let now = now_secs();
    let long_id = format!(
        r#"{{"code":200,"data":{{"callbackType":"complete","task_id":"{}"}}}}"#,
        "x".repeat(257)
    );
    let cases: [(&[u8], RejectionKind); 9] = [
        (
            br#"{"code":200,"data":{"callbackType":"complete","task_id":"t"#,
            RejectionKind::InvalidBody,
        ),
        (b"not json at all", RejectionKind::InvalidBody),
        (
            br#"{"code":200,"data":{"callbackType":"complete"}}"#,
            RejectionKind::MissingTaskId,
        ),
        (br#"{"code":200}"#, RejectionKind::MissingTaskId),
        // Present but unusable: a bad envelope, not a missing id.
        (
            br#"{"code":200,"data":{"callbackType":"complete","task_id":""}}"#,
            RejectionKind::InvalidBody,
        ),
        (
            br#"{"code":200,"data":{"callbackType":"complete","task_id":7}}"#,
            RejectionKind::InvalidBody,
        ),
        (long_id.as_bytes(), RejectionKind::InvalidBody),
        (
            br#"{"code":200,"data":{"callbackType":7,"task_id":"t"}}"#,
            RejectionKind::InvalidBody,
        ),
        (
            br#"{"code":"200","data":{"callbackType":"complete","task_id":"t"}}"#,
            RejectionKind::InvalidBody,
        ),
    ];
    for (body, kind) in cases {
        let answer = fx.post("t", now, body.to_vec()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
        answer.assert_refused(kind, false);
    }
    assert_eq!(fx.probe.call_count(), 0);
    let stats = fx.svc.stats();
    assert_eq!(stats.rejected(RejectionKind::InvalidBody), 7);
    assert_eq!(stats.rejected(RejectionKind::MissingTaskId), 2);
}

#[tokio::test]
async fn row_401_signature_missing_invalid_or_out_of_window() {
    let fx = Fx::plain().await;
    let now = now_secs();
    let task = "task-401";

    let mut no_signature = signed(fx.addr, PATH, task, now, complete(task));
    no_signature
        .headers_mut()
        .remove(KieSignature::SIGNATURE_HEADER);
    fx.send(no_signature)
        .await
        .assert_refused(RejectionKind::MissingSignature, false);

    let unsigned = plain(
        "POST",
        fx.addr,
        PATH,
        &[("content-type", "application/json")],
        complete(task),
    );
    fx.send(unsigned)
        .await
        .assert_refused(RejectionKind::MissingTimestamp, false);

    let wrong_key = signed_with(
        "an-attackers-guess",
        fx.addr,
        PATH,
        task,
        now,
        complete(task),
    );
    fx.send(wrong_key)
        .await
        .assert_refused(RejectionKind::InvalidSignature, false);

    // Signed for another task: the MAC covers the task id.
    fx.send(signed(fx.addr, PATH, "another-task", now, complete(task)))
        .await
        .assert_refused(RejectionKind::InvalidSignature, false);

    let mut malformed = signed(fx.addr, PATH, task, now, complete(task));
    malformed.headers_mut().insert(
        KieSignature::SIGNATURE_HEADER,
        http::HeaderValue::from_static("bm90LWEtbWFj"),
    );
    fx.send(malformed)
        .await
        .assert_refused(RejectionKind::MalformedSignature, false);

    fx.post(task, now - 400, complete(task))
        .await
        .assert_refused(RejectionKind::TimestampTooOld, false);
    fx.post(task, now + 400, complete(task))
        .await
        .assert_refused(RejectionKind::TimestampTooNew, false);

    assert_eq!(fx.probe.call_count(), 0);
    // And the genuine delivery still goes through.
    fx.post(task, now, complete(task))
        .await
        .assert_ok("received");
    let stats = fx.svc.stats();
    assert_eq!(stats.rejected(RejectionKind::InvalidSignature), 2);
    assert_eq!(stats.rejected_total(), 7);
}

#[tokio::test]
async fn row_401_signature_reused_for_a_body_swapped_under_captured_headers() {
    let fx = Fx::plain().await;
    let ts = now_secs();
    let task = "task-swap";
    let genuine = CallbackBody::complete(task)
        .track(TrackBody::ready("a").set("audio_url", "https://cdn.example/a.mp3".into()))
        .to_bytes();
    fx.post(task, ts, genuine.clone())
        .await
        .assert_ok("received");

    // The captured header pair over a body of the attacker's, same task id.
    let forged = CallbackBody::complete(task)
        .track(TrackBody::ready("a").set("audio_url", "https://evil.example/x.mp3".into()))
        .to_bytes();
    fx.post(task, ts, forged.clone())
        .await
        .assert_refused(RejectionKind::SignatureReused, false);
    // Also for a stage not handled yet: the binding refuses before dedup is consulted. A
    // body of another stage at once is what the provider's second callback of the same
    // second looks like: refused all the same, but counted as a collision.
    let forged_text = CallbackBody::text(task).to_bytes();
    fx.post(task, ts, forged_text)
        .await
        .assert_refused(RejectionKind::SignatureCollision, false);

    // The sender's own retry of the genuine bytes passes verification (a duplicate).
    fx.post(task, ts, genuine).await.assert_ok("duplicate");
    assert_eq!(fx.probe.call_count(), 1);
    assert_eq!(fx.probe.stored(), ["task-swap/complete"]);
    let stats = fx.svc.stats();
    assert_eq!(stats.rejected(RejectionKind::SignatureReused), 1);
    assert_eq!(stats.rejected(RejectionKind::SignatureCollision), 1);
}

#[tokio::test]
async fn row_401_bad_url_token() {
    let probe = Probe::new([]);
    let svc = VocalsService::builder(probe.handler())
        .verifier(UrlToken::new("token", Secret::new("s3cr3t-t0ken").unwrap()).unwrap())
        .build()
        .unwrap();
    let addr = serve(svc.clone()).await;
    let client = client();
    let json = [("content-type", "application/json")];
    let post = |query: &str, task: &str| {
        plain(
            "POST",
            addr,
            &format!("{PATH}{query}"),
            &json,
            complete(task),
        )
    };

    send(&client, post("?token=guess", "t1"))
        .await
        .assert_refused(RejectionKind::InvalidToken, false);
    send(&client, post("", "t1"))
        .await
        .assert_refused(RejectionKind::MissingToken, false);
    send(
        &client,
        post("?token=s3cr3t-t0ken&token=s3cr3t-t0ken", "t1"),
    )
    .await
    .assert_refused(RejectionKind::InvalidToken, false);
    assert_eq!(probe.call_count(), 0);
    send(&client, post("?source=suno&token=s3cr3t-t0ken", "t1"))
        .await
        .assert_ok("received");
    assert_eq!(probe.call_count(), 1);
}

#[tokio::test]
async fn row_403_peer_not_allowed_with_the_peer_from_a_middleware() {
    let client = client();
    let now = now_secs();

    // 127.0.0.1 is not in the list: refused before the body is read.
    let probe = Probe::new([]);
    let svc = builder(&probe)
        .verifier(IpAllowlist::new(["203.0.113.0/24"]).unwrap())
        .build()
        .unwrap();
    let addr = serve(svc.clone()).await;
    send(
        &client,
        signed(addr, PATH, "task-ip", now, complete("task-ip")),
    )
    .await
    .assert_refused(RejectionKind::PeerNotAllowed, false);
    assert_eq!(probe.call_count(), 0);
    assert_eq!(svc.stats().rejected(RejectionKind::PeerNotAllowed), 1);

    // The same allowlist naming 127.0.0.1: the middleware did hand the peer over.
    let probe = Probe::new([]);
    let allowed = || {
        builder(&probe)
            .verifier(IpAllowlist::new(["127.0.0.1"]).unwrap())
            .build()
            .unwrap()
    };
    let addr = serve(allowed()).await;
    send(
        &client,
        signed(addr, PATH, "task-ip", now, complete("task-ip")),
    )
    .await
    .assert_ok("received");
    // The same through plain hyper, where the accept loop inserts the peer.
    let addr = serve_hyper(allowed()).await;
    send(
        &client,
        signed(addr, PATH, "task-ip-2", now, complete("task-ip-2")),
    )
    .await
    .assert_ok("received");
    assert_eq!(probe.call_count(), 2);

    // Without the middleware the peer is unknown: refused, never guessed.
    let unaware = Router::new().route_service(PATH, allowed());
    let addr = serve_router(unaware).await;
    send(
        &client,
        signed(addr, PATH, "task-ip-3", now, complete("task-ip-3")),
    )
    .await
    .assert_rejected(RejectionKind::PeerNotAllowed);
    assert_eq!(probe.call_count(), 2);
}

#[tokio::test]
async fn row_405_wrong_method_with_allow_post() {
    let fx = Fx::plain().await;
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let answer = fx
            .send(plain(
                method,
                fx.addr,
                PATH,
                &[("content-type", "application/json")],
                complete("t"),
            ))
            .await;
        answer.assert_refused(RejectionKind::MethodNotAllowed, false);
        assert_eq!(answer.headers[header::ALLOW], "POST", "{method}");
    }
    assert_eq!(fx.svc.stats().rejected(RejectionKind::MethodNotAllowed), 4);
    assert_eq!(fx.probe.call_count(), 0);
}

#[tokio::test]
async fn row_408_slow_body() {
    let fx = Fx::new([], |b| b.read_timeout(Duration::from_millis(200))).await;
    let task = "task-slow";
    let body = complete(task);
    let half = &body[..body.len() / 2];
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n",
        body.len(),
        kie_header_lines(task, now_secs())
    );
    let started = Instant::now();
    let mut stream = raw_send(fx.addr, head.as_bytes()).await;
    stream.write_all(half).await.unwrap();
    // ... and the rest never comes.
    let answer = raw_read(&mut stream).await;
    let waited = started.elapsed();
    assert_eq!(answer.status, 408, "{answer:?}");
    assert_eq!(
        answer.json(),
        serde_json::json!({"status": "rejected", "reason": "body_timeout"})
    );
    assert_eq!(answer.header(REJECTION_HEADER), Some("body_timeout"));
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    assert_eq!(fx.svc.stats().rejected(RejectionKind::BodyTimeout), 1);
    assert_eq!(fx.probe.call_count(), 0);
}

#[tokio::test]
async fn row_409_same_key_in_flight_with_retry_after() {
    let fx = Fx::new([Step::Block], |b| b).await;
    let ts = now_secs();
    let task = "task-409";
    let first = {
        let req = signed(fx.addr, PATH, task, ts, complete(task));
        let client = fx.client.clone();
        tokio::spawn(async move { send(&client, req).await })
    };
    fx.probe.started(1).await;

    let busy = fx.post(task, ts, complete(task)).await;
    busy.assert_refused(RejectionKind::InFlight, true);
    let secs = busy.retry_after().unwrap();
    assert!((1..=11).contains(&secs), "at most the lease: {busy:?}");

    fx.probe.release(1);
    first.await.unwrap().assert_ok("received");
    fx.post(task, ts, complete(task))
        .await
        .assert_ok("duplicate");
    assert_eq!(fx.probe.call_count(), 1);
    assert_eq!(fx.svc.stats().rejected(RejectionKind::InFlight), 1);
}

#[tokio::test]
async fn row_413_declared_length_over_the_limit_refused_before_the_body() {
    let fx = Fx::new([], |b| b.body_limit(1024)).await;
    let task = "task-413";
    // Headers only: the refusal must come without a single body byte sent.
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: 1025\r\n{}\r\n",
        kie_header_lines(task, now_secs())
    );
    let mut stream = raw_send(fx.addr, head.as_bytes()).await;
    let answer = raw_read(&mut stream).await;
    assert_eq!(answer.status, 413, "{answer:?}");
    assert_eq!(
        answer.json(),
        serde_json::json!({"status": "rejected", "reason": "body_too_large"})
    );
    assert_eq!(answer.header(REJECTION_HEADER), Some("body_too_large"));

    // Just at the limit is fine.
    let mut body = complete(task);
    let pad = 1024 - body.len();
    body.splice(1..1, std::iter::repeat_n(b' ', pad));
    assert_eq!(body.len(), 1024);
    fx.post(task, now_secs(), body).await.assert_ok("received");
}

#[tokio::test]
async fn row_413_chunked_body_over_the_limit_without_content_length() {
    let fx = Fx::new([], |b| b.body_limit(1024)).await;
    let task = "task-413c";
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n{}\r\n",
        kie_header_lines(task, now_secs())
    );
    let mut stream = raw_send(fx.addr, head.as_bytes()).await;
    let chunk = vec![b' '; 400];
    for _ in 0..3 {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(&chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let answer = raw_read(&mut stream).await;
    assert_eq!(answer.status, 413, "{answer:?}");
    assert_eq!(
        answer.json(),
        serde_json::json!({"status": "rejected", "reason": "body_too_large"})
    );
    assert_eq!(fx.svc.stats().rejected(RejectionKind::BodyTooLarge), 1);
    assert_eq!(fx.probe.call_count(), 0);
}

#[tokio::test]
async fn row_415_wrong_content_type_or_encoding() {
    let fx = Fx::plain().await;
    let now = now_secs();
    let task = "task-415";
    let with = |name: http::HeaderName, value: &'static str| {
        let mut req = signed(fx.addr, PATH, task, now, complete(task));
        req.headers_mut()
            .insert(name, http::HeaderValue::from_static(value));
        req
    };
    fx.send(with(header::CONTENT_TYPE, "text/plain"))
        .await
        .assert_refused(RejectionKind::UnsupportedMediaType, false);
    let mut untyped = signed(fx.addr, PATH, task, now, complete(task));
    untyped.headers_mut().remove(header::CONTENT_TYPE);
    fx.send(untyped)
        .await
        .assert_refused(RejectionKind::UnsupportedMediaType, false);
    fx.send(with(header::CONTENT_ENCODING, "gzip"))
        .await
        .assert_refused(RejectionKind::UnsupportedEncoding, false);
    assert_eq!(fx.probe.call_count(), 0);
    // Parameters on the media type are fine.
    fx.send(with(
        header::CONTENT_TYPE,
        "application/json; charset=utf-8",
    ))
    .await
    .assert_ok("received");
}

#[tokio::test]
async fn row_500_handler_error_releases_the_claim_for_the_retry() {
    let fx = Fx::new([Step::Fail], |b| b).await;
    let ts = now_secs();
    let task = "task-500";
    fx.post(task, ts, complete(task))
        .await
        .assert_refused(RejectionKind::HandlerFailed, false);
    // The provider's retry (same headers, same bytes) runs the handler again.
    fx.post(task, ts, complete(task))
        .await
        .assert_ok("received");
    fx.post(task, ts, complete(task))
        .await
        .assert_ok("duplicate");
    assert_eq!(fx.probe.call_count(), 2);
    assert_eq!(fx.probe.successes(), 1);
    let stats = fx.svc.stats();
    assert_eq!((stats.handled(), stats.handler_failures()), (1, 1));
}

#[tokio::test]
async fn row_500_handler_panic_releases_the_claim_for_the_retry() {
    let fx = Fx::new([Step::Panic], |b| b).await;
    let ts = now_secs();
    let task = "task-panic";
    fx.post(task, ts, complete(task))
        .await
        .assert_refused(RejectionKind::HandlerPanicked, false);
    fx.post(task, ts, complete(task))
        .await
        .assert_ok("received");
    assert_eq!(fx.probe.call_count(), 2);
    assert_eq!(fx.probe.successes(), 1);
    assert_eq!(fx.svc.stats().rejected(RejectionKind::HandlerPanicked), 1);
}

#[tokio::test]
async fn row_503_handler_past_its_deadline_with_retry_after() {
    let fx = Fx::new([Step::Sleep(Duration::from_secs(30))], |b| {
        b.handler_timeout(Duration::from_millis(200))
    })
    .await;
    let ts = now_secs();
    let task = "task-deadline";
    let started = Instant::now();
    let answer = fx.post(task, ts, complete(task)).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    answer.assert_refused(RejectionKind::HandlerTimeout, true);
    // The claim was released: the retry runs at once, not after the lease.
    fx.post(task, ts, complete(task))
        .await
        .assert_ok("received");
    assert_eq!(fx.probe.call_count(), 2);
    assert_eq!(fx.probe.successes(), 1);
    assert_eq!(fx.svc.stats().handler_failures(), 1);
}

#[tokio::test]
async fn row_503_handler_asking_for_a_later_retry() {
    let fx = Fx::new([Step::RetryAfter(Duration::from_millis(1500))], |b| b).await;
    let ts = now_secs();
    let task = "task-later";
    let answer = fx.post(task, ts, complete(task)).await;
    answer.assert_refused(RejectionKind::HandlerRetry, true);
    assert_eq!(answer.retry_after(), Some(2), "rounded up to whole seconds");
    fx.post(task, ts, complete(task))
        .await
        .assert_ok("received");
    assert_eq!(fx.probe.successes(), 1);
}

#[tokio::test]
async fn row_503_queue_full_with_retry_after() {
    let fx = Fx::new([Step::Block], |b| {
        b.queued(QueueConfig::new().with_capacity(1).with_workers(1))
    })
    .await;
    let now = now_secs();
    fx.post("q-a", now, complete("q-a"))
        .await
        .assert_ok("received");
    fx.probe.started(1).await; // the only worker holds q-a
    fx.post("q-b", now, complete("q-b"))
        .await
        .assert_ok("received"); // queued
    assert_eq!(fx.svc.stats().queue_depth(), 1);
    let full = fx.post("q-c", now, complete("q-c")).await;
    full.assert_refused(RejectionKind::QueueFull, true);

    fx.probe.release(1);
    fx.probe.finished(2).await;
    // The refused event's claim was given back: its retry is queued and handled.
    fx.post("q-c", now, complete("q-c"))
        .await
        .assert_ok("received");
    fx.probe.finished(3).await;
    let mut stored = fx.probe.stored();
    stored.sort();
    assert_eq!(stored, ["q-a/complete", "q-b/complete", "q-c/complete"]);
    assert_eq!(fx.svc.stats().rejected(RejectionKind::QueueFull), 1);
}

#[tokio::test]
async fn row_503_binding_cache_full_with_retry_after() {
    let fx = Fx::new([], |b| {
        b.backend(MemoryBackend::new().with_binding_memory(BindingCache::MIN_MEMORY_LIMIT))
    })
    .await;
    let now = now_secs();
    fx.post("bind-a", now, complete("bind-a"))
        .await
        .assert_ok("received");
    // A live signature of another second does not fit, and no live entry is evicted for it.
    fx.post("bind-b", now + 1, complete("bind-b"))
        .await
        .assert_refused(RejectionKind::BindingCacheFull, true);
    fx.post("bind-a", now, complete("bind-a"))
        .await
        .assert_ok("duplicate");
    assert_eq!(fx.probe.call_count(), 1);
}

// ---------------------------------------------------------------------------------------
// Concurrency and retries

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_identical_concurrent_deliveries_call_the_handler_once() {
    let fx = Fx::new([Step::Block], |b| b).await;
    let ts = now_secs();
    let task = "task-fifty";
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..50 {
        let req = signed(fx.addr, PATH, task, ts, complete(task));
        let (client, tx) = (fx.client.clone(), tx.clone());
        tokio::spawn(async move { tx.send(send(&client, req).await).unwrap() });
    }
    drop(tx);
    fx.probe.started(1).await;

    // While the owner is blocked, every other delivery is told to come back later.
    let mut answers = Vec::new();
    for _ in 0..25 {
        let answer = tokio::time::timeout(PATIENCE, rx.recv())
            .await
            .unwrap()
            .unwrap();
        answer.assert_refused(RejectionKind::InFlight, true);
        answers.push(answer);
    }
    fx.probe.release(1);
    while let Some(answer) = rx.recv().await {
        answers.push(answer);
    }
    assert_eq!(answers.len(), 50);
    let mut received = 0;
    for answer in &answers {
        match (answer.status, answer.json()["status"].as_str()) {
            (StatusCode::OK, Some("received")) => received += 1,
            (StatusCode::OK, Some("duplicate")) => {}
            (StatusCode::CONFLICT, Some("rejected")) => {
                answer.assert_refused(RejectionKind::InFlight, true);
            }
            other => panic!("unexpected answer {other:?}: {answer:?}"),
        }
    }
    assert_eq!(received, 1);
    assert_eq!(fx.probe.call_count(), 1);

    // The retries of all of them are duplicates.
    fx.post(task, ts, complete(task))
        .await
        .assert_ok("duplicate");
    assert_eq!(fx.probe.call_count(), 1);
    let stats = fx.svc.stats();
    assert_eq!(stats.received(), 1);
    assert_eq!(
        stats.received() + stats.duplicate() + stats.rejected(RejectionKind::InFlight),
        51
    );
    assert_eq!(
        stats.rejected_total(),
        stats.rejected(RejectionKind::InFlight)
    );
}

#[tokio::test]
async fn a_retry_after_a_handler_error_records_the_event_once() {
    let fx = Fx::new([Step::Fail], |b| b).await;
    let ts = now_secs();
    let task = "task-retry";
    let body = CallbackBody::first(task)
        .track(TrackBody::ready("a"))
        .track(TrackBody::unfinished("b"))
        .to_bytes();
    fx.post(task, ts, body.clone())
        .await
        .assert_refused(RejectionKind::HandlerFailed, false);
    assert!(fx.probe.stored().is_empty());
    fx.post(task, ts, body.clone()).await.assert_ok("received");
    fx.post(task, ts, body).await.assert_ok("duplicate");

    assert_eq!(fx.probe.call_count(), 2);
    assert_eq!(fx.probe.successes(), 1);
    assert_eq!(fx.probe.stored(), ["task-retry/first"]);
}

#[tokio::test]
async fn ingest_and_http_of_the_same_event_dispatch_it_once_whichever_comes_first() {
    let fx = Fx::new([Step::Ok, Step::Ok, Step::Block], |b| b).await;
    let now = now_secs();

    // HTTP first, then the poller.
    let body = complete("ing-http-first");
    fx.post("ing-http-first", now, body.clone())
        .await
        .assert_ok("received");
    assert_eq!(
        fx.svc.ingest(parse(&body).unwrap()).await,
        Outcome::Duplicate
    );

    // The poller first, then HTTP.
    let body = complete("ing-poll-first");
    assert_eq!(
        fx.svc.ingest(parse(&body).unwrap()).await,
        Outcome::Received
    );
    fx.post("ing-poll-first", now, body)
        .await
        .assert_ok("duplicate");

    // Both at once: the one that comes second is told the key is in flight.
    let body = complete("ing-both");
    let over_http = {
        let req = signed(fx.addr, PATH, "ing-both", now, body.clone());
        let client = fx.client.clone();
        tokio::spawn(async move { send(&client, req).await })
    };
    fx.probe.started(3).await;
    match fx.svc.ingest(parse(&body).unwrap()).await {
        Outcome::Rejected(r) => assert_eq!(r.kind(), RejectionKind::InFlight),
        other => panic!("expected in_flight, got {other:?}"),
    }
    fx.probe.release(1);
    over_http.await.unwrap().assert_ok("received");
    assert_eq!(
        fx.svc.ingest(parse(&body).unwrap()).await,
        Outcome::Duplicate
    );

    let mut stored = fx.probe.stored();
    stored.sort();
    assert_eq!(
        stored,
        [
            "ing-both/complete",
            "ing-http-first/complete",
            "ing-poll-first/complete"
        ]
    );
    assert_eq!(fx.probe.call_count(), 3);
}
