//! Bodies that are not a usable callback, each with the typed error kind it must give.

use vocals_callback::{MAX_TASK_ID_LEN, MAX_TRACKS, ParseErrorKind as K, parse};

#[test]
fn each_malformed_body_gives_its_kind() {
    let long_id = "a".repeat(MAX_TASK_ID_LEN + 1);
    let long_body = format!(r#"{{"code":200,"data":{{"task_id":"{long_id}"}}}}"#);
    let tracks = |n: usize| {
        format!(
            r#"{{"code":200,"data":{{"task_id":"t","data":[{}]}}}}"#,
            vec!["{}"; n].join(",")
        )
    };
    let too_many = tracks(MAX_TRACKS + 1);
    let deep = "[".repeat(100_000);
    // Nesting inside a skipped value meets serde_json's recursion limit (128), not the stack.
    let deep_inside = format!(r#"{{"code":200,"x":{deep}"#);
    let table: Vec<(&[u8], K)> = vec![
        // Syntax.
        (b"", K::InvalidJson),
        (b"   ", K::InvalidJson),
        (b"not json", K::InvalidJson),
        (b"{", K::InvalidJson),
        (br#"{"code":200,"data":{"task_id":"t"}"#, K::InvalidJson),
        (br#"{"code":200,"data":{"task_id":"t"},}"#, K::InvalidJson),
        (br#"{'code':200}"#, K::InvalidJson),
        (br#"{"code":1e400,"data":{"task_id":"t"}}"#, K::InvalidJson),
        (br#"{"code":200,"data":{"task_id":"\ud800"}}"#, K::InvalidJson),
        (br#"{"code":200,"data":{"task_id":"a	b"}}"#, K::InvalidJson),
        (deep_inside.as_bytes(), K::InvalidJson),
        (b"{\"code\":200,\"data\":{\"task_id\":\"\xff\"}}", K::InvalidUtf8),
        (b"\xef\xbb\xbf{}", K::InvalidJson),
        (b"{\"code\":200,\"data\":{\"task_id\":\"t\"}}\xc3", K::InvalidUtf8),
        (br#"{"code":200,"data":{"task_id":"t"}} {}"#, K::TrailingCharacters),
        (br#"{"code":200,"data":{"task_id":"t"}}x"#, K::TrailingCharacters),
        // Shape.
        (b"[]", K::RootNotObject),
        // The root is refused at its first byte, before the nesting is read.
        (deep.as_bytes(), K::RootNotObject),
        (b"null", K::RootNotObject),
        (b"200", K::RootNotObject),
        (br#""callback""#, K::RootNotObject),
        (br#"{}"#, K::MissingCode),
        (br#"{"data":{"task_id":"t"}}"#, K::MissingCode),
        (br#"{"code":"200","data":{"task_id":"t"}}"#, K::CodeNotInteger),
        (br#"{"code":200.0,"data":{"task_id":"t"}}"#, K::CodeNotInteger),
        (br#"{"code":null,"data":{"task_id":"t"}}"#, K::CodeNotInteger),
        (br#"{"code":[200],"data":{"task_id":"t"}}"#, K::CodeNotInteger),
        (br#"{"code":-1,"data":{"task_id":"t"}}"#, K::CodeOutOfRange),
        (br#"{"code":65536,"data":{"task_id":"t"}}"#, K::CodeOutOfRange),
        (br#"{"code":18446744073709551616,"data":{"task_id":"t"}}"#, K::CodeNotInteger),
        (br#"{"code":200}"#, K::MissingTaskId),
        (br#"{"code":200,"data":null}"#, K::MissingTaskId),
        (br#"{"code":200,"data":{}}"#, K::MissingTaskId),
        (br#"{"code":200,"data":{"task_id":null}}"#, K::MissingTaskId),
        (br#"{"code":200,"data":[]}"#, K::DataNotObject),
        (br#"{"code":200,"data":"t"}"#, K::DataNotObject),
        (br#"{"code":200,"data":{"task_id":""}}"#, K::EmptyTaskId),
        (br#"{"code":200,"data":{"task_id":42}}"#, K::TaskIdNotString),
        (br#"{"code":200,"data":{"task_id":["t"]}}"#, K::TaskIdNotString),
        (br#"{"code":200,"data":{"task_id":{"id":"t"}}}"#, K::TaskIdNotString),
        (long_body.as_bytes(), K::TaskIdTooLong),
        (br#"{"code":200,"data":{"task_id":"t","callbackType":1}}"#, K::CallbackTypeNotString),
        (br#"{"code":200,"data":{"task_id":"t","callbackType":["text"]}}"#, K::CallbackTypeNotString),
        (br#"{"code":200,"data":{"task_id":"t","data":{}}}"#, K::TracksNotArray),
        (br#"{"code":200,"data":{"task_id":"t","data":"x"}}"#, K::TracksNotArray),
        (br#"{"code":200,"data":{"task_id":"t","data":[1]}}"#, K::TrackNotObject),
        (br#"{"code":200,"data":{"task_id":"t","data":[null]}}"#, K::TrackNotObject),
        (br#"{"code":200,"data":{"task_id":"t","data":[{},[]]}}"#, K::TrackNotObject),
        (too_many.as_bytes(), K::TooManyTracks),
        // Duplicates of keys the parser reads, at each level.
        (br#"{"code":200,"code":400,"data":{"task_id":"t"}}"#, K::DuplicateKey),
        (br#"{"code":200,"data":{"task_id":"a","task_id":"b"}}"#, K::DuplicateKey),
        (br#"{"code":200,"data":{"task_id":"a"},"data":{"task_id":"b"}}"#, K::DuplicateKey),
        (br#"{"code":200,"data":{"task_id":"a","callbackType":"text","callbackType":"complete"}}"#, K::DuplicateKey),
        (br#"{"code":200,"data":{"task_id":"a","data":[{"audio_url":"x","audioUrl":"y"}]}}"#, K::DuplicateKey),
    ];
    for (body, kind) in table {
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        let err = parse(body).expect_err(&shown);
        assert_eq!(err.kind(), kind, "{shown}");
        assert_eq!(
            err.kind().is_syntax(),
            matches!(
                kind,
                K::InvalidJson | K::InvalidUtf8 | K::TrailingCharacters
            ),
            "{shown}"
        );
    }
}

#[test]
fn a_task_id_of_exactly_the_limit_is_accepted() {
    let id = "é".repeat(MAX_TASK_ID_LEN / 2);
    assert_eq!(id.len(), MAX_TASK_ID_LEN);
    let body = format!(r#"{{"code":200,"data":{{"task_id":"{id}"}}}}"#);
    assert_eq!(parse(body.as_bytes()).unwrap().task_id(), id);
}

#[test]
fn unread_keys_may_repeat() {
    // Duplicates are refused only where the parser reads the key; unknown ones are skipped.
    let event = parse(br#"{"x":1,"x":2,"code":200,"data":{"task_id":"t","y":1,"y":2}}"#).unwrap();
    assert_eq!(event.task_id(), "t");
}

#[test]
fn errors_name_the_problem_but_never_quote_the_body() {
    let secret = "sk-live-SECRET-VALUE";
    let body = format!(r#"{{"code":"{secret}","data":{{"task_id":"t"}}}}"#);
    let err = parse(body.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid callback body: `code` is not an integer"
    );
    assert!(!format!("{err:?}").contains(secret));
    let body = format!(r#"{{"code":200,"data":{{"task_id":"{secret}"#);
    let err = parse(body.as_bytes()).unwrap_err();
    assert!(!err.to_string().contains(secret));
    assert!(!format!("{err:?}").contains(secret), "{err:?}");
    assert!(err.position().is_some());
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn kind_names_are_distinct_snake_case() {
    let kinds = [
        K::InvalidJson,
        K::InvalidUtf8,
        K::TrailingCharacters,
        K::BodyTooLarge,
        K::RootNotObject,
        K::DuplicateKey,
        K::MissingCode,
        K::CodeNotInteger,
        K::CodeOutOfRange,
        K::DataNotObject,
        K::MissingTaskId,
        K::EmptyTaskId,
        K::TaskIdNotString,
        K::TaskIdTooLong,
        K::CallbackTypeNotString,
        K::TracksNotArray,
        K::TrackNotObject,
        K::TooManyTracks,
    ];
    let names: std::collections::HashSet<_> = kinds.iter().map(|k| k.as_str()).collect();
    assert_eq!(names.len(), kinds.len());
    for kind in kinds {
        let name = kind.as_str();
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{name}"
        );
        assert_eq!(kind.to_string(), name);
    }
}

#[test]
fn exactly_the_most_tracks_are_accepted() {
    let body = format!(
        r#"{{"code":200,"data":{{"task_id":"t","data":[{}]}}}}"#,
        vec![r#"{"id":"x"}"#; MAX_TRACKS].join(",")
    );
    assert_eq!(parse(body.as_bytes()).unwrap().tracks().len(), MAX_TRACKS);
}
