//! `record_info`: any bytes as a polling answer (`GET …/record-info`).
//!
//! Asserts: no panic; an accepted answer's events are the stages its status reached, all
//! of its task, in order, at most one failure; they serialise like callback events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vocals_callback::{MAX_TASK_ID_LEN, MAX_TRACKS, Stage, record_info};

fuzz_target!(|data: &[u8]| {
    let Ok(info) = record_info::parse(data) else {
        return;
    };
    let _ = (
        info.code(),
        info.msg(),
        info.status(),
        info.status_raw(),
        info.param(),
    );
    let _ = (
        info.error_code(),
        info.error_message(),
        info.task_type(),
        info.created_at(),
    );
    assert!(info.tracks().len() <= MAX_TRACKS);
    let events = info.events();
    let Some(task) = info.task_id() else {
        assert!(events.is_empty(), "events without a task id");
        return;
    };
    assert!(!task.is_empty() && task.len() <= MAX_TASK_ID_LEN);
    let stages: Vec<Stage> = events.iter().map(|e| e.stage()).collect();
    let allowed: [&[Stage]; 5] = [
        &[],
        &[Stage::Text],
        &[Stage::Text, Stage::First],
        &[Stage::Text, Stage::First, Stage::Complete],
        &[Stage::Failed],
    ];
    assert!(allowed.contains(&stages.as_slice()), "stages {stages:?}");
    for event in &events {
        assert_eq!(event.task_id(), task);
        if event.stage() == Stage::Failed {
            assert_ne!(event.code(), 200, "a failure with code 200");
        } else {
            assert_eq!(event.code(), 200);
        }
        serde_json::to_string(event).expect("an event always serialises");
    }
});
