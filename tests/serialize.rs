//! The `Serialize` form of events: the JSON line the reference receiver prints per event.
//! Names and order are part of the contract, so the whole line is compared.

use vocals_callback::parse;

#[test]
fn a_first_event_serialises_to_exactly_the_documented_line() {
    let body = br#"{"code":200,"msg":"First track generated successfully.","data":{"callbackType":"first","task_id":"65e5","data":[
        {"id":"a","audio_url":"https://x/a.mp3","source_audio_url":"https://s/a.mp3","stream_audio_url":"https://x/s/a",
         "source_stream_audio_url":"https://s/s/a","image_url":"https://x/a.jpeg","source_image_url":"https://s/a.jpeg",
         "prompt":"[Verse]\nHi","model_name":"chirp-v4-5","title":"T","tags":"rock, pop","createTime":1758044664461,"duration":198.44},
        {"id":"b","audio_url":"","createTime":"2025-01-01 00:00:00"}]}}"#;
    let line = serde_json::to_string(&parse(body).unwrap()).unwrap();
    let expected = concat!(
        r#"{"task_id":"65e5","stage":"first","callback_type":"first","code":200,"msg":"First track generated successfully.","tracks":["#,
        r#"{"id":"a","audio_url":"https://x/a.mp3","source_audio_url":"https://s/a.mp3","stream_audio_url":"https://x/s/a","#,
        r#""source_stream_audio_url":"https://s/s/a","image_url":"https://x/a.jpeg","source_image_url":"https://s/a.jpeg","#,
        r#""prompt":"[Verse]\nHi","model_name":"chirp-v4-5","title":"T","tags":"rock, pop","#,
        r#""created_at":1758044664461,"created_at_ms":1758044664461,"duration":198.44,"ready":true},"#,
        r#"{"id":"b","audio_url":null,"source_audio_url":null,"stream_audio_url":null,"source_stream_audio_url":null,"#,
        r#""image_url":null,"source_image_url":null,"prompt":null,"model_name":null,"title":null,"tags":null,"#,
        r#""created_at":"2025-01-01 00:00:00","created_at_ms":1735689600000,"duration":null,"ready":false}]}"#,
    );
    assert_eq!(line, expected);
}

#[test]
fn a_failure_adds_its_kind_and_error_text() {
    let body = br#"{"code":413,"msg":"Prompt too long","data":{"callbackType":"failed","task_id":"t","error":"max 3000 chars","data":null}}"#;
    let line = serde_json::to_string(&parse(body).unwrap()).unwrap();
    assert_eq!(
        line,
        r#"{"task_id":"t","stage":"failed","callback_type":"failed","code":413,"msg":"Prompt too long","failure":"too_long_or_matched","error":"max 3000 chars","tracks":[]}"#
    );
}

#[test]
fn unknown_stages_and_missing_fields_serialise_as_null() {
    let line =
        serde_json::to_string(&parse(br#"{"code":200,"data":{"task_id":"t"}}"#).unwrap()).unwrap();
    assert_eq!(
        line,
        r#"{"task_id":"t","stage":"unknown","callback_type":null,"code":200,"msg":null,"tracks":[]}"#
    );
}

#[test]
fn serialised_strings_are_escaped_so_one_event_stays_one_line() {
    let body = br#"{"code":200,"msg":"a\nb","data":{"callbackType":"text","task_id":"t\u2028"}}"#;
    let line = serde_json::to_string(&parse(body).unwrap()).unwrap();
    assert!(!line.contains('\n'));
    let back: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(back["msg"], "a\nb");
    assert_eq!(back["task_id"], "t\u{2028}");
}

#[test]
fn a_callback_and_a_failure_serialise_as_their_event_line() {
    use vocals_callback::VocalsEvent;
    for body in [
        &br#"{"code":200,"msg":"ok","data":{"callbackType":"text","task_id":"t","data":[]}}"#[..],
        br#"{"code":200,"data":{"callbackType":"complete","task_id":"t","data":[{"id":"a","audio_url":"https://x/a.mp3"}]}}"#,
        br#"{"code":200,"data":{"callbackType":"remix","task_id":"t"}}"#,
        br#"{"code":200,"data":{"callbackType":"error","task_id":"t","error":"boom"}}"#,
        br#"{"code":531,"msg":"refunded","data":{"callbackType":"complete","task_id":"t"}}"#,
    ] {
        let event = parse(body).unwrap();
        let line = serde_json::to_value(&event).unwrap();
        assert_eq!(
            serde_json::to_value(event.callback()).unwrap(),
            line,
            "{event:?}"
        );
        assert_eq!(event.callback().stage(), event.stage());
        if let VocalsEvent::Failed(failure) = &event {
            assert_eq!(serde_json::to_value(failure).unwrap(), line);
            assert!(line.get("failure").is_some());
        }
    }
}
