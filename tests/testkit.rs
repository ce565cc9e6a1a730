//! The testkit builders produce bodies the parser reads back field for field.

use vocals_callback::{
    FailureKind, Stage, parse,
    testkit::{CallbackBody, TrackBody},
};

#[test]
fn each_builder_produces_its_stage() {
    let cases = [
        (CallbackBody::text("t"), Stage::Text),
        (CallbackBody::first("t"), Stage::First),
        (CallbackBody::complete("t"), Stage::Complete),
        (
            CallbackBody::error("t", 501, "Audio generation failed"),
            Stage::Failed,
        ),
    ];
    for (body, stage) in cases {
        let event = parse(&body.to_bytes()).unwrap();
        assert_eq!(event.stage(), stage);
        assert_eq!(event.task_id(), "t");
    }
}

#[test]
fn a_first_callback_with_an_unfinished_track_reads_back() {
    let body = CallbackBody::first("65e5")
        .track(TrackBody::ready("a").title("Iron Man"))
        .track(TrackBody::unfinished("b"))
        .to_bytes();
    let event = parse(&body).unwrap();
    let [a, b] = event.tracks() else { panic!() };
    assert_eq!(a.title(), Some("Iron Man"));
    assert_eq!(a.audio_url(), Some("https://cdn.example/a.mp3"));
    assert_eq!(
        a.created_at().unwrap().epoch_millis(),
        Some(1_758_044_664_461)
    );
    assert!(a.is_ready());
    assert!(!b.is_ready());
    assert_eq!(b.duration_secs(), None);
    assert_eq!(b.stream_audio_url(), Some("https://cdn.example/stream/b"));
}

#[test]
fn quirks_can_be_reproduced() {
    let body = CallbackBody::complete("t")
        .code(400)
        .null_tracks()
        .error_text("moderation")
        .msg(None)
        .to_bytes();
    let event = parse(&body).unwrap();
    let failure = event.failure().unwrap();
    assert_eq!(failure.kind(), FailureKind::InvalidRequest);
    assert_eq!(failure.callback_type(), Some("complete"));
    assert_eq!(failure.error(), Some("moderation"));
    assert_eq!(failure.msg(), None);

    let body = CallbackBody::complete("t")
        .track(
            TrackBody::ready("a")
                .set("createTime", "2025-01-01 00:00:00".into())
                .without("duration"),
        )
        .callback_type(Some("remix"))
        .to_bytes();
    let event = parse(&body).unwrap();
    assert_eq!(event.stage(), Stage::Unknown);
    assert_eq!(
        event.tracks()[0].created_at().unwrap().epoch_millis(),
        Some(1_735_689_600_000)
    );
    assert_eq!(event.tracks()[0].duration_secs(), None);
}
