//! One test per quirk of PROTOCOL.md sections 3, 4 and 7: each variant the provider sends
//! is accepted and read as documented.

use vocals_callback::{CreatedAt, FailureKind, Stage, VocalsEvent, parse};

/// A body with the given `code`, `callbackType` JSON and the rest of `data` (raw JSON).
fn body(code: &str, callback_type: &str, data_rest: &str) -> Vec<u8> {
    format!(
        r#"{{"code":{code},"msg":"m","data":{{"callbackType":{callback_type},"task_id":"t1"{data_rest}}}}}"#
    )
    .into_bytes()
}

fn one_track(track: &str) -> Vec<u8> {
    body("200", r#""complete""#, &format!(r#","data":[{track}]"#))
}

#[test]
fn create_time_is_accepted_as_a_string_or_as_epoch_millis() {
    let event = parse(&one_track(r#"{"createTime":"2025-01-01 00:00:00"}"#)).unwrap();
    let created = event.tracks()[0].created_at().unwrap();
    assert_eq!(created, CreatedAt::Text("2025-01-01 00:00:00"));
    assert_eq!(created.epoch_millis(), Some(1_735_689_600_000));

    let event = parse(&one_track(r#"{"createTime":1758044664461}"#)).unwrap();
    let created = event.tracks()[0].created_at().unwrap();
    assert_eq!(created, CreatedAt::EpochMillis(1_758_044_664_461));
    assert_eq!(created.epoch_millis(), Some(1_758_044_664_461));
}

#[test]
fn an_unparsable_create_time_string_is_kept_but_has_no_epoch() {
    let event = parse(&one_track(r#"{"createTime":"soon"}"#)).unwrap();
    let created = event.tracks()[0].created_at().unwrap();
    assert_eq!(created, CreatedAt::Text("soon"));
    assert_eq!(created.epoch_millis(), None);
}

#[test]
fn the_track_list_may_be_null_empty_or_absent() {
    for rest in [r#","data":null"#, r#","data":[]"#, ""] {
        let event = parse(&body("200", r#""text""#, rest)).unwrap();
        assert_eq!(event.stage(), Stage::Text, "{rest}");
        assert!(event.tracks().is_empty(), "{rest}");
    }
}

#[test]
fn failure_stage_may_be_error_or_failed() {
    for stage in [r#""error""#, r#""failed""#, r#""ERROR""#] {
        let event = parse(&body("501", stage, r#","data":null"#)).unwrap();
        let failure = event.failure().unwrap();
        assert_eq!(failure.kind(), FailureKind::GenerationFailed);
        assert_eq!(failure.callback_type(), Some(stage.trim_matches('"')));
    }
}

#[test]
fn the_code_decides_failure_even_for_a_success_stage() {
    // Documented: `code: 400` with `callbackType: "complete"` and `data: null`.
    let event = parse(&body("400", r#""complete""#, r#","data":null"#)).unwrap();
    assert_eq!(event.stage(), Stage::Failed);
    let failure = event.failure().unwrap();
    assert_eq!(failure.kind(), FailureKind::InvalidRequest);
    assert_eq!(failure.callback_type(), Some("complete"));
    for stage in ["text", "first", "complete", "mystery"] {
        let event = parse(&body("531", &format!("\"{stage}\""), "")).unwrap();
        assert_eq!(event.stage(), Stage::Failed, "{stage}");
    }
}

#[test]
fn an_error_stage_with_code_200_is_still_a_failure() {
    let event = parse(&body("200", r#""error""#, "")).unwrap();
    assert_eq!(event.stage(), Stage::Failed);
    assert_eq!(event.failure().unwrap().kind(), FailureKind::Other(200));
}

#[test]
fn the_extra_error_string_is_kept() {
    let event = parse(&body(
        "500",
        r#""error""#,
        r#","error":"upstream timeout","data":null"#,
    ))
    .unwrap();
    let failure = event.failure().unwrap();
    assert_eq!(failure.error(), Some("upstream timeout"));
    assert_eq!(failure.kind(), FailureKind::ServerError);
}

#[test]
fn every_failure_code_of_the_tables_has_its_kind() {
    let table = [
        (400, FailureKind::InvalidRequest),
        (401, FailureKind::Unauthorized),
        (408, FailureKind::TimedOut),
        (413, FailureKind::TooLongOrMatched),
        (429, FailureKind::InsufficientCredits),
        (451, FailureKind::DownloadFailed),
        (500, FailureKind::ServerError),
        (501, FailureKind::GenerationFailed),
        (531, FailureKind::GenerationFailedRefunded),
        (502, FailureKind::Other(502)),
        (0, FailureKind::Other(0)),
    ];
    for (code, kind) in table {
        let event = parse(&body(&code.to_string(), r#""error""#, "")).unwrap();
        assert_eq!(event.failure().unwrap().kind(), kind, "{code}");
        assert_eq!(event.code(), code);
    }
}

#[test]
fn empty_strings_are_absent() {
    let event = parse(&one_track(
        r#"{"id":"","audio_url":"","stream_audio_url":"","image_url":"","prompt":"","model_name":"","title":"","tags":"","createTime":""}"#,
    ))
    .unwrap();
    let t = &event.tracks()[0];
    assert_eq!(
        [
            t.id(),
            t.audio_url(),
            t.stream_audio_url(),
            t.image_url(),
            t.prompt(),
            t.model_name(),
            t.title(),
            t.tags_raw()
        ],
        [None; 8]
    );
    assert_eq!(t.created_at(), None);
    assert!(!t.is_ready());
    assert!(t.lyrics().is_empty());
    // And at the top level.
    let event =
        parse(br#"{"code":200,"msg":"","data":{"callbackType":"","task_id":"t"}}"#).unwrap();
    assert_eq!(event.msg(), None);
    assert_eq!(event.callback().callback_type(), None);
}

#[test]
fn an_unfinished_track_has_an_empty_audio_url_and_no_duration() {
    let event = parse(&body(
        "200",
        r#""first""#,
        r#","data":[{"id":"a","audio_url":"https://x/a.mp3","duration":198.44},{"id":"b","audio_url":"","stream_audio_url":"https://x/s/b"}]"#,
    ))
    .unwrap();
    let [a, b] = event.tracks() else { panic!() };
    assert!(a.is_ready());
    assert!(!b.is_ready());
    assert_eq!(b.duration_secs(), None);
    assert_eq!(b.stream_audio_url(), Some("https://x/s/b"));
}

#[test]
fn duration_may_be_missing_null_or_a_number_of_any_form() {
    let cases: [(&str, Option<f64>); 6] = [
        (r#"{}"#, None),
        (r#"{"duration":null}"#, None),
        (r#"{"duration":198.44}"#, Some(198.44)),
        (r#"{"duration":200}"#, Some(200.0)),
        (r#"{"duration":"198.5"}"#, Some(198.5)),
        (r#"{"duration":"long"}"#, None),
    ];
    for (track, expected) in cases {
        let event = parse(&one_track(track)).unwrap();
        assert_eq!(event.tracks()[0].duration_secs(), expected, "{track}");
    }
    let event = parse(&one_track(r#"{"duration":1.5}"#)).unwrap();
    assert_eq!(
        event.tracks()[0].duration(),
        Some(std::time::Duration::from_millis(1500))
    );
}

#[test]
fn unknown_keys_are_ignored_at_every_level() {
    let event = parse(
        br#"{"new":{"deep":[1,{"x":null}]},"code":200,"traceId":"abc","msg":"ok",
            "data":{"extra":[true],"callbackType":"complete","task_id":"t1",
                    "data":[{"id":"a","future_field":{"k":"v"},"lyrics_v2":["x"],"audio_url":"u"}]}}"#,
    )
    .unwrap();
    assert_eq!(event.stage(), Stage::Complete);
    assert_eq!(event.tracks()[0].id(), Some("a"));
    assert_eq!(event.tracks()[0].audio_url(), Some("u"));
}

#[test]
fn an_unknown_callback_type_is_surfaced_with_its_raw_value() {
    let event = parse(&body("200", r#""cover_ready""#, "")).unwrap();
    assert_eq!(event.stage(), Stage::Unknown);
    let VocalsEvent::Unknown(callback) = &event else {
        panic!()
    };
    assert_eq!(callback.callback_type(), Some("cover_ready"));
    // A missing or null callbackType is unknown too, not an error.
    assert_eq!(
        parse(&body("200", "null", "")).unwrap().stage(),
        Stage::Unknown
    );
    let event = parse(br#"{"code":200,"data":{"task_id":"t"}}"#).unwrap();
    assert_eq!(event.stage(), Stage::Unknown);
    assert_eq!(event.callback().callback_type(), None);
}

#[test]
fn stage_names_are_matched_without_regard_to_ascii_case() {
    let event = parse(&body("200", r#""Complete""#, "")).unwrap();
    assert_eq!(event.stage(), Stage::Complete);
    assert_eq!(event.callback().callback_type(), Some("Complete"));
}

#[test]
fn cjk_escapes_and_nul_survive_in_strings() {
    let event = parse(&one_track(
        r#"{"title":"钢铁侠","prompt":"[Verse] 夜晚城市 灯火辉煌\n\"quoted\"\ttab \u00e9\u0000end \ud83c\udfb5","tags":"摇滚, pop"}"#,
    ))
    .unwrap();
    let t = &event.tracks()[0];
    assert_eq!(t.title(), Some("钢铁侠"));
    assert_eq!(
        t.prompt(),
        Some("[Verse] 夜晚城市 灯火辉煌\n\"quoted\"\ttab é\0end 🎵")
    );
    assert_eq!(t.tags().collect::<Vec<_>>(), ["摇滚", "pop"]);
    let lyrics = t.lyrics();
    assert_eq!(lyrics.sections().len(), 1);
    assert_eq!(lyrics.lines().next(), Some("夜晚城市 灯火辉煌"));
}

#[test]
fn escaped_keys_are_recognised() {
    // `task\u005fid` is `task_id` written with an escape.
    let event =
        parse(br#"{"code":200,"data":{"callbackType":"text","task\u005fid":"t9"}}"#).unwrap();
    assert_eq!(event.task_id(), "t9");
}

#[test]
fn keys_may_come_in_any_order() {
    let event = parse(
        br#"{"data":{"data":[{"duration":1.0,"id":"a"}],"task_id":"t1","callbackType":"first"},"msg":"m","code":200}"#,
    )
    .unwrap();
    assert_eq!(event.stage(), Stage::First);
    assert_eq!(event.task_id(), "t1");
    assert_eq!(event.msg(), Some("m"));
    assert_eq!(event.tracks()[0].id(), Some("a"));
}

#[test]
fn track_fields_of_an_unexpected_type_are_absent_and_cost_nothing_else() {
    let event = parse(&one_track(
        r#"{"id":7,"title":["a"],"tags":{"x":1},"audio_url":true,"createTime":{"s":1},"prompt":"[Chorus] la","image_url":"i"}"#,
    ))
    .unwrap();
    let t = &event.tracks()[0];
    assert_eq!(
        (t.id(), t.title(), t.tags_raw(), t.audio_url()),
        (None, None, None, None)
    );
    assert_eq!(t.created_at(), None);
    assert_eq!(t.prompt(), Some("[Chorus] la"));
    assert_eq!(t.image_url(), Some("i"));
}

#[test]
fn camel_case_track_names_are_read_as_their_snake_case_twins() {
    let event = parse(&one_track(
        r#"{"audioUrl":"a","sourceAudioUrl":"sa","streamAudioUrl":"s","sourceStreamAudioUrl":"ss","imageUrl":"i","sourceImageUrl":"si","modelName":"m"}"#,
    ))
    .unwrap();
    let t = &event.tracks()[0];
    assert_eq!(
        [
            t.audio_url(),
            t.source_audio_url(),
            t.stream_audio_url(),
            t.source_stream_audio_url(),
            t.image_url(),
            t.source_image_url(),
            t.model_name()
        ],
        [
            Some("a"),
            Some("sa"),
            Some("s"),
            Some("ss"),
            Some("i"),
            Some("si"),
            Some("m")
        ]
    );
}

#[test]
fn a_non_string_msg_is_absent_not_an_error() {
    let event =
        parse(br#"{"code":200,"msg":{"en":"ok"},"data":{"callbackType":"text","task_id":"t"}}"#)
            .unwrap();
    assert_eq!(event.msg(), None);
}

#[test]
fn whitespace_around_the_document_is_allowed() {
    let event =
        parse(b" \n\t{\"code\":200,\"data\":{\"callbackType\":\"text\",\"task_id\":\"t\"}}\r\n ")
            .unwrap();
    assert_eq!(event.stage(), Stage::Text);
}

#[test]
fn the_event_owns_its_data() {
    fn is_static<T: 'static + Send + Sync>(_: &T) {}
    let event = {
        let body = one_track(r#"{"id":"a"}"#);
        parse(&body).unwrap()
    };
    is_static(&event);
    assert_eq!(event.tracks()[0].id(), Some("a"));
}
