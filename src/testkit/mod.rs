//! Builders of callback bodies, for tests of your handler and of this crate.
//!
//! The bodies are what the provider sends: compact JSON with the live service's quirks
//! (`createTime` as epoch milliseconds, unfinished tracks with `audio_url: ""` and no
//! `duration`), signing helpers for every scheme the crate verifies, signed `http::Request`
//! builders, a fixed clock, and a simulator of the provider's delivery behaviour ([`Scenario`]:
//! stages, retries, duplicates, reordering, clock skew, forgery) with the answer a correct
//! receiver gives each delivery.
//!
//! ```
//! use vocals_callback::{parse, testkit::{CallbackBody, TrackBody}, Stage};
//!
//! let body = CallbackBody::complete("65e563474bd7b6485dfb229eb92324a8")
//!     .track(TrackBody::ready("e231").title("Iron Man").prompt("[Verse]\nNight city lights"))
//!     .to_bytes();
//! let event = parse(&body).unwrap();
//! assert_eq!(event.stage(), Stage::Complete);
//! assert_eq!(event.tracks()[0].title(), Some("Iron Man"));
//! ```

mod body;
#[cfg(feature = "redis")]
mod redis_server;
mod sign;
mod sign_more;
mod simulate;

pub use body::{CallbackBody, TrackBody};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_server::RedisServer;
pub use sign::{FixedClock, KieSigner, kie_request, sign_kie};
pub use sign_more::{
    sign_body_hmac, sign_standard_webhooks, sign_stripe, standard_webhooks_request,
};
pub use simulate::{Expect, SKEW_SECS, Scenario, Step, UnknownScenario};
