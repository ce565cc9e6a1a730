//! `parse`: any bytes as a callback body.
//!
//! Asserts: no panic; an accepted body gives an event whose envelope holds the documented
//! bounds (non-empty task id of at most 256 bytes, at most 64 tracks, `code != 200` is
//! `Failed`); parsing is a pure function of the bytes; every accessor, the lyrics of every
//! track and the `Serialize` form work on whatever was accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vocals_callback::{MAX_TASK_ID_LEN, MAX_TRACKS, Rejection, Stage, VocalsEvent, parse};

fuzz_target!(|data: &[u8]| {
    let first = parse(data);
    // Deterministic: the service parses once, but a retry must be judged the same.
    let again = parse(data);
    match (&first, &again) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind()),
        _ => panic!("parse is not deterministic"),
    }
    let event = match first {
        Ok(event) => event,
        Err(err) => {
            // Every refusal maps to a 400 or a 413 of the status table, never anything else.
            let status = Rejection::from(err).status().as_u16();
            assert!(
                status == 400 || status == 413,
                "parse error answered {status}"
            );
            return;
        }
    };
    let task = event.task_id();
    assert!(
        !task.is_empty() && task.len() <= MAX_TASK_ID_LEN,
        "task id {task:?}"
    );
    assert!(event.tracks().len() <= MAX_TRACKS);
    if event.code() != 200 {
        assert_eq!(event.stage(), Stage::Failed);
    }
    match &event {
        VocalsEvent::Failed(f) => {
            assert_eq!(f.task_id(), task);
            let _ = (f.kind().as_str(), f.error(), f.msg(), f.callback_type());
        }
        other => assert_eq!(other.callback().task_id(), task),
    }
    for track in event.tracks() {
        let _ = (
            track.id(),
            track.audio_url(),
            track.title(),
            track.duration(),
        );
        let _ = track.created_at().map(|c| c.epoch_millis());
        // A tag list cannot split into more tags than it has bytes.
        assert!(track.tags().count() <= track.tags_raw().map_or(0, str::len) + 1);
        let lyrics = track.lyrics();
        let _ = (
            lyrics.to_string(),
            lyrics.is_instrumental(),
            lyrics.lines().count(),
        );
        // Empty strings are normalised away.
        assert_ne!(track.audio_url(), Some(""));
        assert_eq!(track.is_ready(), track.audio_url().is_some());
    }
    // The reference receiver prints this form of every event: it must always serialise.
    let json = serde_json::to_string(&event).expect("an event always serialises");
    assert!(json.contains(r#""task_id""#));
});
