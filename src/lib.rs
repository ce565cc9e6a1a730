//! Receive the callbacks of the Suno-family music API's **Add Vocals** task (sunoapi.org,
//! kie.ai, api.box) safely, in any server built on tower and `http` types.
//!
//! - [`VocalsService`] is the endpoint to mount (`axum::Router::route_service`, hyper, any
//!   tower server), and [`VocalsLayer`] the same on one path in front of any service. For
//!   each request it checks method, media type and size, reads the body under a limit and
//!   a deadline, parses it, verifies the source, binds the signature to the body, claims
//!   `(task_id, stage)` in a [`dedup`] store, and hands the event once to your
//!   [`VocalsHandler`], answering every request with a status and a JSON body (see
//!   [`service`]). [`VocalsService::ingest`] runs polled results through the same dedup and
//!   handler; [`VocalsService::stats`] counts outcomes.
//!
//! The core is plain functions with no I/O and no async:
//!
//! - [`parse`]: a callback body into a typed [`VocalsEvent`] ([`Text`](VocalsEvent::Text),
//!   [`First`](VocalsEvent::First), [`Complete`](VocalsEvent::Complete),
//!   [`Failed`](VocalsEvent::Failed), [`Unknown`](VocalsEvent::Unknown)), with its
//!   [`Track`]s, their [`lyrics`](Track::lyrics) and a typed [`ParseError`];
//! - [`record_info::parse`]: the polling answer (`GET …/record-info`), whose
//!   [`events`](record_info::RecordInfo::events) are the same events the callbacks carry,
//!   so pushed and polled results can share one handler;
//! - [`verify`]: proving the source: the provider's signature ([`verify::KieSignature`])
//!   bound to its body ([`verify::BindingCache`]), body HMACs and Standard Webhooks for
//!   other providers, a URL token and an IP allowlist for sites that sign nothing; typed
//!   [`Rejection`]s with their HTTP status, [`Secret`]s that never reach a log;
//! - [`redis`] (feature `redis`): a dedup store and a binding cache on Redis,
//!   shared by the replicas of a receiver, so a retry or a swapped body is recognised
//!   whichever replica it reaches;
//! - [`testkit`] (feature `testkit`): builders of realistic callback bodies, signing
//!   helpers, a fixed clock and a simulator of the provider's deliveries, for tests.
//!
//! # Mounting the service
//!
//! ```
//! use vocals_callback::{HandlerResult, Secret, VocalsEvent, VocalsService, verify::KieSignature};
//!
//! let callbacks = VocalsService::builder(|event: VocalsEvent| async move {
//!     // make the event safe (store it), then return Ok: the provider gets its 200 now
//!     let _ = (event.task_id(), event.stage(), event.tracks());
//!     HandlerResult::Ok(())
//! })
//! .verifier(KieSignature::new(Secret::new("your-webhook-hmac-key")?))
//! .build()?;
//! let app: axum::Router = axum::Router::new().route_service("/vocals-callback", callbacks);
//! # let _ = app;
//! # Ok::<(), vocals_callback::ConfigError>(())
//! ```
//!
//! # Parsing a body
//!
//! ```
//! use vocals_callback::{parse, VocalsEvent};
//!
//! let body = br#"{"code":200,"msg":"First track generated successfully.",
//!   "data":{"callbackType":"first","task_id":"2fac3b6e9f72",
//!           "data":[{"id":"e231","audio_url":"https://cdn.example/e231.mp3",
//!                    "prompt":"[Verse]\nNight city lights","createTime":1758044664461},
//!                   {"id":"bd15","audio_url":""}]}}"#;
//!
//! match parse(body)? {
//!     VocalsEvent::First(first) => {
//!         let ready: Vec<_> = first.tracks().iter().filter(|t| t.is_ready()).collect();
//!         assert_eq!(ready.len(), 1);
//!         assert_eq!(ready[0].audio_url(), Some("https://cdn.example/e231.mp3"));
//!     }
//!     other => panic!("unexpected stage {}", other.stage()),
//! }
//! # Ok::<(), vocals_callback::ParseError>(())
//! ```
//!
//! # Quirks accepted
//!
//! The provider's docs disagree with each other and with the live service; the parser
//! accepts every variant seen (see `PROTOCOL.md` of the project):
//!
//! | quirk | read as |
//! |---|---|
//! | `createTime` `"2025-01-01 00:00:00"` or `1758044664461` | [`CreatedAt::Text`] or [`CreatedAt::EpochMillis`]; both normalise with [`CreatedAt::epoch_millis`] |
//! | `data.data` `null`, `[]`, or absent | no tracks |
//! | `code != 200` with any `callbackType`, or `callbackType` `error` / `failed` | [`VocalsEvent::Failed`] |
//! | `data.error` text beside `task_id` | [`Failure::error`] |
//! | `audio_url: ""` on an unfinished track; any empty string | `None`; [`Track::is_ready`] is `false` |
//! | `duration` missing or `null`; `tags`, `source_*` absent | `None` |
//! | unknown keys anywhere | ignored |
//! | unknown `callbackType` | [`VocalsEvent::Unknown`], with the raw value in [`Callback::callback_type`] |
//! | a track field of an unexpected JSON type | `None` for that field |
//! | camelCase track names (`audioUrl`, `modelName`, …) | the same fields |
//!
//! # Stability
//!
//! The names returned by [`ParseErrorKind::as_str`], [`Stage::as_str`],
//! [`FailureKind::as_str`] and the serialised field names are stable. `Display` texts and
//! error sources are not.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Input from the network must never reach a panic, and a library prints nothing: these hold
// for the library only (tests, benches and examples may unwrap and print).
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod arena;
mod config;
pub mod dedup;
mod error;
mod event;
mod failure;
mod handler;
pub mod lyrics;
mod parse;
pub mod record_info;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod rejection;
mod secret;
pub mod service;
mod stats;
mod sync;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
mod time;
mod track;
pub mod verify;
mod wire;

pub use config::{ConfigError, ConfigErrorKind};
pub use error::{ParseError, ParseErrorKind};
pub use event::{Callback, Failure, Stage, VocalsEvent};
pub use failure::FailureKind;
pub use handler::{HandlerError, HandlerResult, VocalsHandler};
pub use parse::parse;
pub use rejection::{Rejection, RejectionKind};
pub use secret::Secret;
pub use service::{VocalsLayer, VocalsService};
pub use stats::{Outcome, Stats};
pub use track::{CreatedAt, Track};
pub use wire::{MAX_TASK_ID_LEN, MAX_TRACKS};

// Compiles and runs the README's example as a doctest, so the README cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
