//! The polling answer (`GET …/record-info`): every field of the documented samples, the
//! status table of `RecordInfo::events`, the quirks of PROTOCOL.md §6, and the claim that
//! pushed and polled results share one handler.

use vocals_callback::{
    CreatedAt, FailureKind, MAX_TASK_ID_LEN, ParseErrorKind as K, Stage, Track, VocalsEvent,
    parse as parse_callback,
    record_info::{RecordInfo, TaskStatus, parse},
};

const KIE: &[u8] = include_bytes!("fixtures/upstream/recordinfo_success_kie_en.json");
const SUNOAPI: &[u8] = include_bytes!("fixtures/upstream/recordinfo_success_sunoapi_en.json");

const TASK: &str = "5c79****be8e";
const PARAM: &str = r#"{"prompt":"A calm piano track","style":"Classical","title":"Peaceful Piano","customMode":true,"instrumental":true,"model":"V3_5"}"#;

/// A record-info answer with code 200, `taskId` [`TASK`], the given `status` JSON value,
/// `response` JSON value, and extra `data` entries (JSON text, with a leading comma).
fn answer(status: &str, response: &str, extra: &str) -> String {
    format!(
        r#"{{"code":200,"msg":"success","data":{{"taskId":"{TASK}","response":{response},"status":{status}{extra}}}}}"#
    )
}

/// A `response` object with camelCase tracks under `sunoData`.
fn response(tracks: &str) -> String {
    format!(r#"{{"taskId":"{TASK}","sunoData":[{tracks}]}}"#)
}

const READY: &str = r#"{"id":"e231","audioUrl":"https://cdn.example/e231.mp3","streamAudioUrl":"https://cdn.example/s/e231","imageUrl":"https://cdn.example/e231.jpeg","prompt":"[Verse]\nNight city lights","modelName":"chirp-v4-5","title":"Iron Man","tags":"rock, pop","createTime":1758044664461,"duration":198.44}"#;
const UNFINISHED_NULL: &str = r#"{"id":"bd15","audioUrl":null,"streamAudioUrl":"https://cdn.example/s/bd15","createTime":1758044664462,"duration":null}"#;
const UNFINISHED_EMPTY: &str =
    r#"{"id":"bd16","audioUrl":"","createTime":1758044664463,"duration":null}"#;

fn info(body: &str) -> RecordInfo {
    parse(body.as_bytes()).unwrap_or_else(|e| panic!("{e:?} for {body}"))
}

fn stages(info: &RecordInfo) -> Vec<Stage> {
    info.events().iter().map(VocalsEvent::stage).collect()
}

fn assert_success_events(info: &RecordInfo, expected: &[Stage]) {
    let events = info.events();
    assert_eq!(
        events.iter().map(VocalsEvent::stage).collect::<Vec<_>>(),
        expected
    );
    for event in &events {
        assert_eq!(Some(event.task_id()), info.task_id());
        assert_eq!(event.code(), 200);
        assert_eq!(event.msg(), None);
        assert_eq!(
            event.callback().callback_type(),
            Some(event.stage().as_str())
        );
        assert_eq!(event.tracks(), info.tracks());
        assert!(event.failure().is_none());
    }
}

fn assert_fixture(body: &[u8], track_id: &str) {
    let info = parse(body).expect("the documented sample parses");
    assert_eq!(info.code(), 200);
    assert_eq!(info.msg(), Some("success"));
    assert_eq!(info.task_id(), Some(TASK));
    assert_eq!(info.parent_music_id(), None, "an empty string is absent");
    assert_eq!(info.param(), Some(PARAM));
    let param: serde_json::Value = serde_json::from_str(info.param().unwrap()).unwrap();
    assert_eq!(param["model"], "V3_5");
    assert_eq!(info.status(), TaskStatus::Success);
    assert_eq!(info.status_raw(), Some("SUCCESS"));
    assert_eq!(info.task_type(), Some("GENERATE"));
    assert_eq!(info.operation_type(), None);
    assert_eq!(info.error_code(), None);
    assert_eq!(info.error_message(), None);
    assert_eq!(info.created_at(), None);

    let [track] = info.tracks() else {
        panic!("one track, got {:?}", info.tracks())
    };
    assert_eq!(track.id(), Some(track_id));
    assert_eq!(track.audio_url(), Some("https://example.cn/****.mp3"));
    assert_eq!(track.stream_audio_url(), Some("https://example.cn/****"));
    assert_eq!(track.image_url(), Some("https://example.cn/****.jpeg"));
    assert_eq!(track.source_audio_url(), None);
    assert_eq!(track.source_stream_audio_url(), None);
    assert_eq!(track.source_image_url(), None);
    assert_eq!(track.prompt(), Some("[Verse] 夜晚城市 灯火辉煌"));
    assert_eq!(track.model_name(), Some("chirp-v3-5"));
    assert_eq!(track.title(), Some("钢铁侠"));
    assert_eq!(track.tags_raw(), Some("electrifying, rock"));
    assert_eq!(track.tags().collect::<Vec<_>>(), ["electrifying", "rock"]);
    assert_eq!(
        track.created_at(),
        Some(CreatedAt::Text("2025-01-01 00:00:00"))
    );
    assert_eq!(
        track.created_at().and_then(|c| c.epoch_millis()),
        Some(1_735_689_600_000)
    );
    assert_eq!(track.duration_secs(), Some(198.44));
    assert!(track.is_ready());
    assert_eq!(
        track.lyrics().lines().collect::<Vec<_>>(),
        ["夜晚城市 灯火辉煌"]
    );

    assert_success_events(&info, &[Stage::Text, Stage::First, Stage::Complete]);
}

#[test]
fn the_kie_sample_gives_every_field_and_three_success_events() {
    assert_fixture(KIE, "e231****-****-****-****-****8cadc7dc");
}

#[test]
fn the_sunoapi_sample_gives_every_field_and_three_success_events() {
    assert_fixture(SUNOAPI, "8551****662c");
}

#[test]
fn the_snake_case_variant_gives_the_same_tracks_as_the_camel_case_one() {
    let camel = info(&answer(
        r#""FIRST_SUCCESS""#,
        &response(&format!("{READY},{UNFINISHED_NULL}")),
        "",
    ));
    let snake_tracks = r#"{"id":"e231","audio_url":"https://cdn.example/e231.mp3","stream_audio_url":"https://cdn.example/s/e231","image_url":"https://cdn.example/e231.jpeg","prompt":"[Verse]\nNight city lights","model_name":"chirp-v4-5","title":"Iron Man","tags":"rock, pop","createTime":1758044664461,"duration":198.44},
        {"id":"bd15","audio_url":null,"stream_audio_url":"https://cdn.example/s/bd15","create_time":1758044664462,"duration":null}"#;
    let snake = info(&format!(
        r#"{{"code":200,"msg":"success","data":{{"task_id":"{TASK}","response":{{"task_id":"{TASK}","data":[{snake_tracks}]}},"status":"FIRST_SUCCESS","error_code":null,"error_message":null,"parent_music_id":"p1","operation_type":"generate"}}}}"#
    ));
    assert_eq!(camel.tracks().len(), 2);
    assert_eq!(snake.tracks(), camel.tracks());
    assert_eq!(snake.task_id(), Some(TASK));
    assert_eq!(snake.parent_music_id(), Some("p1"));
    assert_eq!(snake.operation_type(), Some("generate"));
    assert_eq!(snake.events(), camel.events());
    assert_eq!(stages(&snake), [Stage::Text, Stage::First]);
}

#[test]
fn a_pending_answer_with_a_null_response_has_no_tracks_and_no_events() {
    let pending = info(&answer(
        r#""PENDING""#,
        "null",
        r#","errorCode":null,"errorMessage":null"#,
    ));
    assert_eq!(pending.status(), TaskStatus::Pending);
    assert_eq!(pending.status_raw(), Some("PENDING"));
    assert_eq!(pending.task_id(), Some(TASK));
    assert!(pending.tracks().is_empty());
    assert!(pending.events().is_empty());
    assert_eq!(pending.error_code(), None);
    assert_eq!(pending.error_message(), None);
}

#[test]
fn an_error_set_while_pending_is_exposed_but_yields_no_event() {
    let pending = info(&answer(
        r#""PENDING""#,
        "null",
        r#","errorCode":413,"errorMessage":"Uploaded audio matches existing work""#,
    ));
    assert_eq!(pending.status(), TaskStatus::Pending);
    assert_eq!(pending.error_code(), Some(413));
    assert_eq!(
        pending.error_message(),
        Some("Uploaded audio matches existing work")
    );
    assert!(pending.events().is_empty());
}

#[test]
fn each_status_string_names_its_status_and_keeps_the_raw_value() {
    let table = [
        ("PENDING", TaskStatus::Pending, false),
        ("TEXT_SUCCESS", TaskStatus::TextSuccess, false),
        ("FIRST_SUCCESS", TaskStatus::FirstSuccess, false),
        ("SUCCESS", TaskStatus::Success, false),
        ("CREATE_TASK_FAILED", TaskStatus::CreateTaskFailed, true),
        (
            "GENERATE_AUDIO_FAILED",
            TaskStatus::GenerateAudioFailed,
            true,
        ),
        ("CALLBACK_EXCEPTION", TaskStatus::CallbackException, true),
        ("SENSITIVE_WORD_ERROR", TaskStatus::SensitiveWordError, true),
        ("NEW_THING", TaskStatus::Unknown, false),
        ("success", TaskStatus::Unknown, false),
    ];
    for (raw, status, failure) in table {
        assert_eq!(TaskStatus::from_raw(raw), status, "{raw}");
        assert_eq!(status.is_failure(), failure, "{raw}");
        let parsed = info(&answer(&format!("{raw:?}"), &response(READY), ""));
        assert_eq!(parsed.status(), status, "{raw}");
        assert_eq!(parsed.status_raw(), Some(raw));
    }
}

#[test]
fn an_unknown_or_missing_status_is_unknown_and_yields_no_event() {
    let unknown = info(&answer(r#""NEW_THING""#, &response(READY), ""));
    assert_eq!(unknown.status(), TaskStatus::Unknown);
    assert_eq!(unknown.status_raw(), Some("NEW_THING"));
    assert!(unknown.events().is_empty());

    let missing = info(&format!(
        r#"{{"code":200,"msg":"success","data":{{"taskId":"{TASK}","response":{}}}}}"#,
        response(READY)
    ));
    assert_eq!(missing.status(), TaskStatus::Unknown);
    assert_eq!(missing.status_raw(), None);
    assert!(missing.events().is_empty());

    for status in ["null", r#""""#, "42"] {
        let odd = info(&answer(status, &response(READY), ""));
        assert_eq!(odd.status(), TaskStatus::Unknown, "{status}");
        assert_eq!(odd.status_raw(), None, "{status}");
        assert!(odd.events().is_empty(), "{status}");
    }
}

#[test]
fn each_success_status_yields_the_callbacks_up_to_its_stage() {
    let table: [(&str, &[Stage]); 3] = [
        ("TEXT_SUCCESS", &[Stage::Text]),
        ("FIRST_SUCCESS", &[Stage::Text, Stage::First]),
        ("SUCCESS", &[Stage::Text, Stage::First, Stage::Complete]),
    ];
    for (status, expected) in table {
        let tracks = format!("{READY},{UNFINISHED_EMPTY}");
        let parsed = info(&answer(&format!("{status:?}"), &response(&tracks), ""));
        assert_eq!(parsed.tracks().len(), 2);
        assert_success_events(&parsed, expected);
    }
}

#[test]
fn each_failure_status_yields_one_failed_event_with_the_error_code_and_message() {
    for status in [
        "CREATE_TASK_FAILED",
        "GENERATE_AUDIO_FAILED",
        "SENSITIVE_WORD_ERROR",
    ] {
        let parsed = info(&answer(
            &format!("{status:?}"),
            "null",
            r#","errorCode":429,"errorMessage":"Insufficient credits""#,
        ));
        let events = parsed.events();
        let [VocalsEvent::Failed(failure)] = events.as_slice() else {
            panic!("{status}: one failure, got {events:?}")
        };
        assert_eq!(failure.task_id(), TASK);
        assert_eq!(failure.code(), 429);
        assert_eq!(failure.kind(), FailureKind::InsufficientCredits);
        assert_eq!(failure.msg(), Some("Insufficient credits"));
        assert_eq!(failure.callback_type(), Some("error"));
        assert_eq!(failure.error(), None);
        assert!(failure.callback().tracks().is_empty());
    }
}

#[test]
fn a_failure_without_error_code_falls_back_to_the_documented_code_and_the_raw_status() {
    let table = [
        ("CREATE_TASK_FAILED", 500, FailureKind::ServerError),
        ("GENERATE_AUDIO_FAILED", 501, FailureKind::GenerationFailed),
        ("SENSITIVE_WORD_ERROR", 400, FailureKind::InvalidRequest),
    ];
    for (status, code, kind) in table {
        for extra in ["", r#","errorCode":null,"errorMessage":null"#] {
            let parsed = info(&answer(&format!("{status:?}"), "null", extra));
            let events = parsed.events();
            let [VocalsEvent::Failed(failure)] = events.as_slice() else {
                panic!("{status}: one failure, got {events:?}")
            };
            assert_eq!(failure.code(), code, "{status}");
            assert_eq!(failure.kind(), kind, "{status}");
            assert_eq!(failure.msg(), Some(status));
            assert_eq!(failure.callback_type(), Some("error"));
            assert_eq!(failure.task_id(), TASK);
        }
    }
}

#[test]
fn a_callback_exception_with_every_track_ready_yields_the_three_success_events() {
    let tracks = format!("{READY},{READY}");
    let parsed = info(&answer(r#""CALLBACK_EXCEPTION""#, &response(&tracks), ""));
    assert_eq!(parsed.status(), TaskStatus::CallbackException);
    assert!(parsed.tracks().iter().all(Track::is_ready));
    assert_success_events(&parsed, &[Stage::Text, Stage::First, Stage::Complete]);
}

#[test]
fn a_callback_exception_with_an_unfinished_track_yields_one_failed_event() {
    for unfinished in [UNFINISHED_NULL, UNFINISHED_EMPTY] {
        let tracks = format!("{READY},{unfinished}");
        let parsed = info(&answer(r#""CALLBACK_EXCEPTION""#, &response(&tracks), ""));
        let events = parsed.events();
        let [VocalsEvent::Failed(failure)] = events.as_slice() else {
            panic!("one failure, got {events:?}")
        };
        assert_eq!(failure.code(), 500);
        assert_eq!(failure.msg(), Some("CALLBACK_EXCEPTION"));
        assert_eq!(failure.callback_type(), Some("error"));
        assert_eq!(failure.callback().tracks(), parsed.tracks());
    }
    // With no tracks at all, nothing says the task succeeded: a failure too.
    let empty = info(&answer(r#""CALLBACK_EXCEPTION""#, "null", ""));
    assert_eq!(stages(&empty), [Stage::Failed]);
}

#[test]
fn epoch_millis_create_time_and_unfinished_tracks_are_read_as_the_live_service_sends_them() {
    let tracks = format!("{READY},{UNFINISHED_NULL},{UNFINISHED_EMPTY}");
    let parsed = info(&answer(
        r#""FIRST_SUCCESS""#,
        &response(&tracks),
        r#","createTime":1758044664000"#,
    ));
    assert_eq!(
        parsed.created_at(),
        Some(CreatedAt::EpochMillis(1_758_044_664_000))
    );
    let [ready, null_url, empty_url] = parsed.tracks() else {
        panic!("three tracks, got {:?}", parsed.tracks())
    };
    assert_eq!(
        ready.created_at(),
        Some(CreatedAt::EpochMillis(1_758_044_664_461))
    );
    assert_eq!(
        ready.created_at().and_then(|c| c.epoch_millis()),
        Some(1_758_044_664_461)
    );
    assert!(ready.is_ready());
    assert_eq!(ready.duration_secs(), Some(198.44));

    for (track, id, ms) in [
        (null_url, "bd15", 1_758_044_664_462),
        (empty_url, "bd16", 1_758_044_664_463),
    ] {
        assert_eq!(track.id(), Some(id));
        assert_eq!(track.audio_url(), None);
        assert!(!track.is_ready(), "{id}");
        assert_eq!(track.duration_secs(), None);
        assert_eq!(track.duration(), None);
        assert_eq!(track.created_at(), Some(CreatedAt::EpochMillis(ms)));
    }
    assert_eq!(
        null_url.stream_audio_url(),
        Some("https://cdn.example/s/bd15")
    );
}

#[test]
fn an_error_code_given_as_a_string_is_read_as_a_number() {
    let parsed = info(&answer(
        r#""GENERATE_AUDIO_FAILED""#,
        "null",
        r#","errorCode":"413","errorMessage":"Matches an existing work""#,
    ));
    assert_eq!(parsed.error_code(), Some(413));
    let events = parsed.events();
    let [VocalsEvent::Failed(failure)] = events.as_slice() else {
        panic!("one failure, got {events:?}")
    };
    assert_eq!(failure.code(), 413);
    assert_eq!(failure.kind(), FailureKind::TooLongOrMatched);
    assert_eq!(failure.msg(), Some("Matches an existing work"));

    // A string that is not a number is no code at all.
    let odd = info(&answer(
        r#""GENERATE_AUDIO_FAILED""#,
        "null",
        r#","errorCode":"oops""#,
    ));
    assert_eq!(odd.error_code(), None);
}

/// `failure` takes `errorCode` only when it fits in a `u16` and is not 200; otherwise the
/// answer's own `code` when that is not 200; otherwise the status's fallback (400 for
/// `SENSITIVE_WORD_ERROR`, 501 for `GENERATE_AUDIO_FAILED`, 500 for the others).
#[test]
fn an_error_code_of_200_or_out_of_range_on_a_failed_status_falls_back() {
    let failed_code = |body: &str| {
        let parsed = info(body);
        let events = parsed.events();
        let [VocalsEvent::Failed(failure)] = events.as_slice() else {
            panic!("one failure for {body}, got {events:?}")
        };
        (parsed.error_code(), failure.code())
    };
    let status = r#""GENERATE_AUDIO_FAILED""#;
    for (error_code, raw) in [
        ("200", Some(200)),
        ("-1", Some(-1)),
        ("70000", Some(70_000)),
        ("\"200\"", Some(200)),
        ("413.0", None),
    ] {
        let body = answer(status, "null", &format!(r#","errorCode":{error_code}"#));
        assert_eq!(failed_code(&body), (raw, 501), "errorCode {error_code}");
    }
    let sensitive = answer(r#""SENSITIVE_WORD_ERROR""#, "null", r#","errorCode":200"#);
    assert_eq!(failed_code(&sensitive), (Some(200), 400));
    let create = answer(r#""CREATE_TASK_FAILED""#, "null", r#","errorCode":200"#);
    assert_eq!(failed_code(&create), (Some(200), 500));

    // The answer's own non-200 code comes before the fallback.
    let own = format!(
        r#"{{"code":455,"msg":"odd","data":{{"taskId":"{TASK}","status":"GENERATE_AUDIO_FAILED","errorCode":200}}}}"#
    );
    assert_eq!(failed_code(&own), (Some(200), 455));
    // A usable errorCode wins over both.
    let usable = format!(
        r#"{{"code":455,"msg":"odd","data":{{"taskId":"{TASK}","status":"GENERATE_AUDIO_FAILED","errorCode":531}}}}"#
    );
    assert_eq!(failed_code(&usable), (Some(531), 531));
}

#[test]
fn an_api_level_error_answer_parses_with_no_task_and_no_events() {
    let parsed = info(r#"{"code":401,"msg":"Unauthorized","data":null}"#);
    assert_eq!(parsed.code(), 401);
    assert_eq!(parsed.msg(), Some("Unauthorized"));
    assert_eq!(parsed.task_id(), None);
    assert_eq!(parsed.status(), TaskStatus::Unknown);
    assert!(parsed.tracks().is_empty());
    assert!(parsed.events().is_empty());

    let no_data = info(r#"{"code":429,"msg":"Too many requests"}"#);
    assert_eq!(no_data.code(), 429);
    assert_eq!(no_data.task_id(), None);
    assert!(no_data.events().is_empty());
}

#[test]
fn a_successful_answer_without_a_task_id_is_refused() {
    for body in [
        r#"{"code":200,"msg":"success","data":null}"#,
        r#"{"code":200,"msg":"success"}"#,
        r#"{"code":200,"msg":"success","data":{"status":"SUCCESS"}}"#,
        r#"{"code":200,"msg":"success","data":{"taskId":null,"response":null}}"#,
    ] {
        let err = parse(body.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), K::MissingTaskId, "{body}");
    }
}

#[test]
fn a_task_id_given_only_in_the_response_is_used() {
    let parsed = info(&format!(
        r#"{{"code":200,"msg":"success","data":{{"response":{},"status":"SUCCESS"}}}}"#,
        response(READY)
    ));
    assert_eq!(parsed.task_id(), Some(TASK));
    let events = parsed.events();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.task_id() == TASK));

    // `data.taskId` wins when both are given.
    let both = info(&format!(
        r#"{{"code":200,"data":{{"taskId":"outer","response":{},"status":"SUCCESS"}}}}"#,
        response(READY)
    ));
    assert_eq!(both.task_id(), Some("outer"));
}

#[test]
fn each_malformed_answer_gives_its_kind() {
    let ok_response = response(READY);
    let table: Vec<(String, K)> = vec![
        ("not json".into(), K::InvalidJson),
        (String::new(), K::InvalidJson),
        (
            r#"{"code":200,"data":{"taskId":"t"}"#.into(),
            K::InvalidJson,
        ),
        (
            r#"{"code":200,"data":{"taskId":"t"}} x"#.into(),
            K::TrailingCharacters,
        ),
        ("[]".into(), K::RootNotObject),
        (
            format!("[{}]", String::from_utf8_lossy(KIE)),
            K::RootNotObject,
        ),
        ("null".into(), K::RootNotObject),
        (
            r#"{"msg":"success","data":{"taskId":"t"}}"#.into(),
            K::MissingCode,
        ),
        (
            r#"{"code":"200","data":{"taskId":"t"}}"#.into(),
            K::CodeNotInteger,
        ),
        (r#"{"code":200,"data":"5c79be8e"}"#.into(), K::DataNotObject),
        (r#"{"code":200,"data":[]}"#.into(), K::DataNotObject),
        (
            r#"{"code":200,"data":{"taskId":42}}"#.into(),
            K::TaskIdNotString,
        ),
        (
            r#"{"code":200,"data":{"taskId":""}}"#.into(),
            K::EmptyTaskId,
        ),
        (
            format!(
                r#"{{"code":200,"data":{{"taskId":"{}"}}}}"#,
                "a".repeat(MAX_TASK_ID_LEN + 1)
            ),
            K::TaskIdTooLong,
        ),
        (
            r#"{"code":200,"data":{"response":{"taskId":7}}}"#.into(),
            K::TaskIdNotString,
        ),
        (
            answer(r#""SUCCESS""#, &ok_response, r#","status":"PENDING""#),
            K::DuplicateKey,
        ),
        (
            r#"{"code":200,"data":{"taskId":"t","task_id":"t"}}"#.into(),
            K::DuplicateKey,
        ),
        (
            r#"{"code":200,"data":{"taskId":"t","errorCode":1,"error_code":2}}"#.into(),
            K::DuplicateKey,
        ),
        (
            r#"{"code":200,"data":{"taskId":"t","response":{"sunoData":[],"data":[]}}}"#.into(),
            K::DuplicateKey,
        ),
        (
            r#"{"code":200,"data":{"taskId":"t","response":{"sunoData":{"id":"e231"}}}}"#.into(),
            K::TracksNotArray,
        ),
        (
            r#"{"code":200,"data":{"taskId":"t","response":{"data":"e231"}}}"#.into(),
            K::TracksNotArray,
        ),
        (
            r#"{"code":200,"data":{"taskId":"t","response":{"sunoData":["e231"]}}}"#.into(),
            K::TrackNotObject,
        ),
    ];
    for (body, kind) in table {
        let err = parse(body.as_bytes()).expect_err(&body);
        assert_eq!(err.kind(), kind, "{body}");
    }
    assert_eq!(
        parse(b"{\"code\":200,\"data\":{\"taskId\":\"\xff\"}}")
            .unwrap_err()
            .kind(),
        K::InvalidUtf8
    );
}

#[test]
fn polled_events_equal_the_events_of_the_equivalent_callbacks() {
    let tracks = format!("{READY},{UNFINISHED_EMPTY}");
    let polled = info(&answer(r#""SUCCESS""#, &response(&tracks), "")).events();
    // The same tracks in the callbacks' snake_case, keys in another order.
    let snake = r#"[{"duration":198.44,"createTime":1758044664461,"tags":"rock, pop","title":"Iron Man","model_name":"chirp-v4-5","prompt":"[Verse]\nNight city lights","image_url":"https://cdn.example/e231.jpeg","stream_audio_url":"https://cdn.example/s/e231","audio_url":"https://cdn.example/e231.mp3","id":"e231"},
                    {"id":"bd16","audio_url":"","createTime":1758044664463}]"#;
    let pushed: Vec<VocalsEvent> = ["text", "first", "complete"]
        .into_iter()
        .map(|stage| {
            let body = format!(
                r#"{{"code":200,"data":{{"callbackType":"{stage}","task_id":"{TASK}","data":{snake}}}}}"#
            );
            parse_callback(body.as_bytes()).expect("a hand-written callback parses")
        })
        .collect();
    assert_eq!(polled.len(), 3);
    for (poll, push) in polled.iter().zip(&pushed) {
        assert_eq!(poll.task_id(), push.task_id());
        assert_eq!(poll.stage(), push.stage());
        assert_eq!(poll.tracks(), push.tracks());
        assert_eq!(poll.code(), push.code());
        assert_eq!(poll.msg(), push.msg());
        assert_eq!(poll, push);
    }

    // And a polled failure equals the `error` callback with the same code and message.
    let failed = info(&answer(
        r#""GENERATE_AUDIO_FAILED""#,
        "null",
        r#","errorCode":501,"errorMessage":"Audio generation failed""#,
    ))
    .events();
    let callback = parse_callback(
        format!(
            r#"{{"code":501,"msg":"Audio generation failed","data":{{"callbackType":"error","task_id":"{TASK}","data":null}}}}"#
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(failed, [callback]);
}

#[test]
fn the_task_create_time_is_read_as_text_or_epoch_millis() {
    let text = info(&answer(
        r#""PENDING""#,
        "null",
        r#","createTime":"2025-01-01 00:00:00""#,
    ));
    assert_eq!(
        text.created_at(),
        Some(CreatedAt::Text("2025-01-01 00:00:00"))
    );
    assert_eq!(
        text.created_at().and_then(|c| c.epoch_millis()),
        Some(1_735_689_600_000)
    );
    for absent in [r#""""#, "null", "true", "[1]"] {
        let parsed = info(&answer(
            r#""PENDING""#,
            "null",
            &format!(r#","createTime":{absent}"#),
        ));
        assert_eq!(parsed.created_at(), None, "{absent}");
    }
}
