//! Every callback sample of the providers' docs (tests/fixtures/upstream, copied from the
//! project's shared upstream/payloads) gives the expected event, field by field.

use vocals_callback::{CreatedAt, FailureKind, ParseErrorKind, Stage, Track, VocalsEvent, parse};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/upstream/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fields a finished track of the docs' samples has, with what varies between sites.
struct Expected<'a> {
    id: &'a str,
    source: bool,
    prompt: &'a str,
    model: &'a str,
    title: &'a str,
    tags: Option<&'a str>,
    duration: f64,
}

/// The one track of kie.ai's `first` and `complete` samples.
const KIE_TRACK: Expected<'static> = Expected {
    id: "e231****-****-****-****-****8cadc7dc",
    source: false,
    prompt: "[Verse] Night city lights shining bright",
    model: "chirp-v4-5",
    title: "Iron Man",
    tags: None,
    duration: 198.44,
};

fn assert_track(track: &Track, e: &Expected<'_>) {
    assert_eq!(track.id(), Some(e.id));
    assert_eq!(track.audio_url(), Some("https://example.cn/****.mp3"));
    assert_eq!(track.stream_audio_url(), Some("https://example.cn/****"));
    assert_eq!(track.image_url(), Some("https://example.cn/****.jpeg"));
    let source = |v: &'static str| e.source.then_some(v);
    assert_eq!(
        track.source_audio_url(),
        source("https://example.cn/****.mp3")
    );
    assert_eq!(
        track.source_stream_audio_url(),
        source("https://example.cn/****")
    );
    assert_eq!(
        track.source_image_url(),
        source("https://example.cn/****.jpeg")
    );
    assert_eq!(track.prompt(), Some(e.prompt));
    assert_eq!(track.model_name(), Some(e.model));
    assert_eq!(track.title(), Some(e.title));
    assert_eq!(track.tags_raw(), e.tags);
    assert_eq!(
        track.created_at(),
        Some(CreatedAt::Text("2025-01-01 00:00:00"))
    );
    assert_eq!(
        track.created_at().and_then(|c| c.epoch_millis()),
        Some(1_735_689_600_000)
    );
    assert_eq!(track.duration_secs(), Some(e.duration));
    assert!(track.is_ready());
    // Every sample's prompt is the one-line doc form: one verse, one line.
    let lyrics = track.lyrics();
    assert_eq!(lyrics.sections().len(), 1);
    let text = e.prompt.strip_prefix("[Verse] ").unwrap();
    assert_eq!(lyrics.lines().collect::<Vec<_>>(), [text]);
}

fn assert_head(event: &VocalsEvent, stage: Stage, code: u16, msg: &str) {
    assert_eq!(event.stage(), stage);
    assert_eq!(event.task_id(), "2fac****9f72");
    assert_eq!(event.code(), code);
    assert_eq!(event.msg(), Some(msg));
}

#[test]
fn kie_add_vocals_complete_has_one_track_without_source_fields_or_tags() {
    let event = parse(&fixture("callback_complete_addvocals_kie_en.json")).unwrap();
    assert_head(&event, Stage::Complete, 200, "All generated successfully.");
    assert!(matches!(event, VocalsEvent::Complete(_)));
    assert_eq!(event.callback().callback_type(), Some("complete"));
    let [track] = event.tracks() else {
        panic!("one track")
    };
    assert_track(track, &KIE_TRACK);
    assert_eq!(track.tags().count(), 0);
}

#[test]
fn sunoapi_add_vocals_complete_has_source_fields_and_tags() {
    let event = parse(&fixture("callback_complete_addvocals_sunoapi_en.json")).unwrap();
    assert_head(&event, Stage::Complete, 200, "All generated successfully.");
    let [track] = event.tracks() else {
        panic!("one track")
    };
    assert_track(
        track,
        &Expected {
            id: "8551****662c",
            source: true,
            prompt: "[Verse] Calm and relaxing melodies with soothing vocals",
            model: "chirp-v3-5",
            title: "Relaxing Piano with Vocals",
            tags: Some("relaxing, piano, vocals, jazz"),
            duration: 198.44,
        },
    );
    assert_eq!(
        track.tags().collect::<Vec<_>>(),
        ["relaxing", "piano", "vocals", "jazz"]
    );
}

#[test]
fn sunoapi_generate_complete_has_two_tracks() {
    let event = parse(&fixture("callback_complete_generate_sunoapi_en.json")).unwrap();
    assert_head(&event, Stage::Complete, 200, "All generated successfully.");
    let [a, b] = event.tracks() else {
        panic!("two tracks")
    };
    for (track, id, duration) in [(a, "8551****662c", 198.44), (b, "bd15****1873", 228.28)] {
        assert_track(
            track,
            &Expected {
                id,
                source: true,
                prompt: "[Verse] Night city lights shining bright",
                model: "chirp-v3-5",
                title: "Iron Man",
                tags: Some("electrifying, rock"),
                duration,
            },
        );
    }
}

#[test]
fn kie_first_has_its_ready_track() {
    let event = parse(&fixture("callback_first_addvocals_kie_en.json")).unwrap();
    assert_head(
        &event,
        Stage::First,
        200,
        "First track generated successfully.",
    );
    assert!(matches!(event, VocalsEvent::First(_)));
    let [track] = event.tracks() else {
        panic!("one track")
    };
    assert_track(track, &KIE_TRACK);
}

#[test]
fn kie_text_has_no_tracks() {
    let event = parse(&fixture("callback_text_addvocals_kie_en.json")).unwrap();
    assert_head(
        &event,
        Stage::Text,
        200,
        "Text generation completed successfully.",
    );
    assert!(matches!(event, VocalsEvent::Text(_)));
    assert!(event.tracks().is_empty());
    assert_eq!(event.failure(), None);
}

#[test]
fn failures_carry_code_kind_and_message_whatever_their_track_list() {
    let cases = [
        (
            "callback_error_addvocals_kie_en.json",
            501,
            FailureKind::GenerationFailed,
            "Audio generation failed",
        ),
        (
            "callback_error_addvocals_sunoapi_en.json",
            400,
            FailureKind::InvalidRequest,
            "Vocal generation failed",
        ),
        // This one sends `data: []` where the others send `null`.
        (
            "callback_error_uploadcover_kie_en.json",
            501,
            FailureKind::GenerationFailed,
            "Audio generation failed.",
        ),
    ];
    for (file, code, kind, msg) in cases {
        let event = parse(&fixture(file)).unwrap();
        assert_head(&event, Stage::Failed, code, msg);
        let failure = event
            .failure()
            .unwrap_or_else(|| panic!("{file}: not a failure"));
        assert_eq!(failure.kind(), kind, "{file}");
        assert_eq!(failure.code(), code);
        assert_eq!(failure.msg(), Some(msg));
        assert_eq!(failure.error(), None);
        assert_eq!(failure.callback_type(), Some("error"));
        assert!(event.tracks().is_empty(), "{file}");
    }
}

#[test]
fn the_submit_answer_and_the_request_are_not_callbacks() {
    // Both are JSON objects of the API, but neither has `data.task_id`: a receiver mounted
    // at the wrong URL must refuse them rather than invent an event.
    let submit = parse(&fixture("addvocals_submit_response_both.json")).unwrap_err();
    assert_eq!(
        submit.kind(),
        ParseErrorKind::MissingTaskId,
        "`taskId` is not `task_id`"
    );
    let request = parse(&fixture("addvocals_request_sunoapi_en.json")).unwrap_err();
    assert_eq!(request.kind(), ParseErrorKind::MissingCode);
}
