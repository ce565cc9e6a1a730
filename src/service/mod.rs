//! The tower service: one request, from the first header to the answer.
//!
//! [`VocalsService`] is the endpoint; [`VocalsLayer`] puts the same pipeline on one path in
//! front of any service; [`Builder`] configures both. Every request goes through these
//! steps, in this order, in one function (`Pipeline::run`, in `pipeline.rs`), each step a
//! call into the file that owns it:
//!
//! ```text
//!  1 gate ──▶ 2 body ──▶ 3 parse + verify ──▶ 4 bind ──▶ 5 claim ──▶ 6 dispatch ──▶ answer
//!  405 415     413 408      400 401 403         401 503    409 503     200 500 503
//!  413 401 403                                             200 duplicate/ignored
//! ```
//!
//! 1. **gate** (`gate.rs`), before any body byte is read: `POST` only (405 with
//!    `Allow: POST`); `Content-Type: application/json` (parameters allowed) and no
//!    `Content-Encoding` but `identity` (415); a declared `Content-Length` over the limit
//!    (413); shutdown (503); then every verifier's
//!    [`check_headers`](crate::verify::Verifier::check_headers): a
//!    [`UrlToken`](crate::verify::UrlToken) or an [`IpAllowlist`](crate::verify::IpAllowlist)
//!    is checked whole here, and a missing signature header is refused (401, 403) with
//!    nothing read.
//! 2. **body** (`body.rs`): read through `http_body_util::Limited` (413 past the limit,
//!    whatever the headers said) under the read deadline (408).
//! 3. **parse and verify** (`admit.rs`): one pass of [`parse`](crate::parse), strict on the
//!    envelope (400), then the verifiers that need the body, over the same bytes and the
//!    task id read from them (401, 403). The pass that names a key becomes the event's
//!    [`Delivery`](crate::Delivery).
//! 4. **bind** (`bind.rs`): each signature whose MAC does not cover the body (the
//!    provider's rule) is bound to this body in the backend's
//!    [`BindingStore`](crate::verify::BindingStore): a retry with the same body passes, a
//!    swapped body gets 401 `signature_reused`, a store that cannot take it 503.
//! 5. **claim** (`claim.rs`) `(task_id, stage)` in the backend's
//!    [`DedupStore`](crate::dedup::DedupStore): 200 `duplicate` once handled, 200
//!    `ignored` for a late stage, 409 + `Retry-After` while another delivery handles it, 503
//!    when the store fails. A new claim becomes a job: the event, its key and claim token,
//!    the verified body, the delivery.
//! 6. **dispatch** (`dispatch/`): inline under the handler deadline (200 once the handler
//!    returned `Ok`; 500 on error or panic, 503 + `Retry-After` past the deadline or when
//!    the handler asks, the claim released so the provider's retry runs it again), or
//!    through the queue ([`QueueConfig`]: 200 once queued, 503 when full).
//!
//! [`VocalsService::ingest`] runs a polled event from step 5. The answer (`response.rs`)
//! is always a response, never a service error, with a JSON body and the typed
//! [`Rejection`](crate::Rejection) in the extensions; every outcome is counted
//! ([`Stats`](crate::Stats)) and logged (`log.rs` lists the events).
//!
//! | outcome | status | `reason` ([`RejectionKind`](crate::RejectionKind)) |
//! |---|---|---|
//! | handled (inline), queued, unknown stage | 200 `{"status":"received"}` | |
//! | duplicate of a handled key | 200 `{"status":"duplicate"}` | |
//! | late `text`/`first` after a later stage | 200 `{"status":"ignored"}` | |
//! | malformed JSON, missing task id, bad envelope types; repeated or unreadable headers; broken body stream | 400 | `invalid_body`, `missing_task_id`, `duplicate_header`, `invalid_header`, `body_unreadable` |
//! | signature missing, malformed, invalid, reused, or colliding (two callbacks of a task signed in the same second); timestamp missing, malformed or out of window; token missing or invalid | 401 | `missing_signature`, `malformed_signature`, `invalid_signature`, `signature_reused`, `signature_collision`, `missing_timestamp`, `invalid_timestamp`, `timestamp_too_old`, `timestamp_too_new`, `missing_token`, `invalid_token` |
//! | peer address not allowed | 403 | `peer_not_allowed` |
//! | not `POST` | 405 + `Allow: POST` | `method_not_allowed` |
//! | body too slow | 408 | `body_timeout` |
//! | the same key in flight | 409 + `Retry-After` | `in_flight` |
//! | body over the limit | 413 | `body_too_large` |
//! | wrong media type or encoding | 415 | `unsupported_media_type`, `unsupported_encoding` |
//! | handler error or panic (claim released) | 500 | `handler_failed`, `handler_panicked` |
//! | handler past its deadline or asking for a later retry, queue full, binding full, store unavailable, shutting down | 503 + `Retry-After` | `handler_timeout`, `handler_retry`, `queue_full`, `binding_cache_full`, `store_unavailable`, `shutting_down` |
//!
//! A refusal's body is `{"status":"rejected","reason":"<kind>"}`, `<kind>` a stable
//! [`RejectionKind`](crate::RejectionKind) name; each kind has exactly one status
//! ([`RejectionKind::status`](crate::RejectionKind::status)), and a test holds this table
//! to them.
//!
//! # Logs
//!
//! Every `tracing` event of the service, with target `vocals_callback::service::log`:
//!
//! | level | message | fields | when |
//! |---|---|---|---|
//! | `debug` | `callback answered` | `outcome`, `elapsed_us` | a 200 (`received`, `queued`, `duplicate`, `ignored`) |
//! | `info` | `callback refused` | `outcome`, `reason`, `elapsed_us` | a 4xx: the sender's mistake (below `warn`, so a scanner cannot flood the logs) |
//! | `warn` | `callback not handled` | `outcome`, `reason`, `elapsed_us` | a 5xx: ours (handler, store, shutdown) |
//! | `info` | `callback failed verification` | `task_id`, `reason` | a verifier refused a parsed body |
//! | `info` | `callback failed binding` | `reason` | a reused signature, or the binding store could not take it |
//! | `warn` | `dedup claim failed` | `error` | the dedup store failed (503) |
//! | `warn` | `dedup complete failed`, `dedup release failed` | `task_id`, `stage`, `error` | the dedup store failed after the handler ran |
//! | `warn` | `handler failed` | `task_id`, `stage`, `attempt`, `error` | a handler call returned an error, panicked or timed out |
//! | `error` | `event dead-lettered` | `task_id`, `stage`, `attempts`, `error` | the queue gave up on an event |
//! | `warn` | `vocals-callback accepts unverified callbacks: anyone can post events` | | built with no verifier |
//!
//! The Redis backend adds `warn` `binding store failed` (`error`), target
//! `vocals_callback::redis::binding`, when Redis cannot take a binding (503).
//!
//! Each request runs in a `debug` span `vocals_callback` with the fields `task_id` and
//! `stage` once parsed and `key_label` once verified, so at `debug` the `callback answered`
//! line names the key that signed the callback. `elapsed_us` is measured only when `debug`
//! is enabled. Errors are recorded as `dyn Error` values, so a subscriber prints their
//! sources too. Nothing logged holds a secret, a signature or body content beyond the task
//! id and stage.
//!
//! # Where the rest lives
//!
//! - `state.rs`: what claiming and dispatching share (handler, dedup store, counters,
//!   deadlines, clock); `job.rs`: what a claim hands to a dispatcher; `call.rs`: one handler
//!   call under its deadline with panics caught, used by every dispatcher.
//! - `dispatch/mod.rs`: the seam, one variant per mode; `dispatch/inline.rs`,
//!   `dispatch/queue.rs`: the modes.
//! - `endpoint.rs`: the tower `Service`; `layer.rs`: the middleware; `builder.rs`: the
//!   settings, checked once; `clock.rs`, `future.rs`: small helpers.
//! - Where state lives (the dedup store and the binding) is the
//!   [`Backend`](crate::backend::Backend), chosen once with [`Builder::backend`].

mod admit;
mod bind;
mod body;
mod builder;
mod call;
mod claim;
mod clock;
mod dispatch;
mod endpoint;
mod future;
mod gate;
mod job;
mod layer;
mod log;
mod pipeline;
mod response;
mod state;

pub use builder::{
    Builder, DEFAULT_BODY_LIMIT, DEFAULT_HANDLER_TIMEOUT, DEFAULT_PATH, DEFAULT_READ_TIMEOUT,
    MAX_HANDLER_TIMEOUT,
};
pub use dispatch::queue::{DeadLetter, QueueConfig};
pub use endpoint::{ResponseFuture, ShutdownReport, VocalsService};
pub use layer::{VocalsLayer, VocalsMiddleware};
pub use response::ResponseBody;
