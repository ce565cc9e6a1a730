//! Receive the callbacks of the Suno-family music API's **Add Vocals** task (sunoapi.org,
//! kie.ai, api.box) safely, in any server built on tower and `http` types.
//!
//! - [`VocalsService`] is the endpoint to mount (`axum::Router::route_service`, hyper, any
//!   tower server), and [`VocalsLayer`] the same on one path in front of any service. Each
//!   request goes through the [`service`] module's six steps: gate, body, parse and verify,
//!   bind, claim, dispatch; the module docs list every answer and its status.
//! - A [`VocalsHandler`] gets each event once, with its [`Delivery`] (callback or polled,
//!   which attempt, which key signed it); [`handler`] has the routing for adaptors that wrap
//!   a handler. [`VocalsService::ingest`] runs polled results through the same dedup and
//!   handler; [`VocalsService::stats`] counts outcomes, and [`metrics`] (feature
//!   `metrics`) reports them to a recorder such as Prometheus's.
//! - The [`backend`] is where state lives, chosen once: in memory (the default) or Redis
//!   (feature `redis`, [`redis`]), the dedup store and the binding always together.
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
//! The provider's docs disagree with each other and with the live service; [`parse`]
//! accepts every variant seen in either (a rejection would make the sender retry something
//! that will never succeed):
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
//! The names returned by [`ParseErrorKind::as_str`], [`RejectionKind::as_str`],
//! [`ConfigErrorKind::as_str`], [`Stage::as_str`], [`FailureKind::as_str`],
//! [`Source::as_str`], [`HandlerFailure::as_str`] and the serialised field names are
//! stable. `Display` texts and error sources are not. Kinds are `#[non_exhaustive]` and
//! [`RejectionKind::ALL`] is a slice, so a new kind breaks no match and no type. The traits
//! users implement ([`VocalsHandler`], [`verify::Verifier`], [`dedup::DedupStore`],
//! [`verify::BindingStore`], [`backend::Backend`]) will grow as capabilities land (a
//! durable queue, a poller's registry): new methods come with defaults where one makes
//! sense, and the CHANGELOG names every change.
// The feature-gated modules, linked from the docs above whichever features are built.
#![cfg_attr(
    not(feature = "redis"),
    doc = "\n\n[`redis`]: https://docs.rs/vocals-callback/latest/vocals_callback/redis/"
)]
#![cfg_attr(
    not(feature = "metrics"),
    doc = "\n\n[`metrics`]: https://docs.rs/vocals-callback/latest/vocals_callback/metrics/"
)]
#![cfg_attr(
    not(feature = "testkit"),
    doc = "\n\n[`testkit`]: https://docs.rs/vocals-callback/latest/vocals_callback/testkit/"
)]
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
pub mod backend;
mod config;
pub mod dedup;
mod delivery;
mod error;
mod event;
mod failure;
pub mod handler;
pub mod lyrics;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
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
pub use delivery::{Delivery, Source};
pub use error::{ParseError, ParseErrorKind};
pub use event::{Callback, Failure, Stage, VocalsEvent};
pub use failure::FailureKind;
pub use handler::{HandlerError, HandlerFailure, HandlerResult, VocalsHandler};
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
