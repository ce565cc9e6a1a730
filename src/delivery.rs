//! How an event reached the handler: its [`Delivery`].

use std::{
    fmt,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Serialize, Serializer, ser::SerializeMap};

/// Where an event came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// Pushed by the provider: a callback request the service verified.
    Callback,
    /// Read from the provider's API (`record-info`) and handed to
    /// [`VocalsService::ingest`](crate::VocalsService::ingest).
    Polled,
}

impl Source {
    /// The stable name: `callback` or `polled`.
    ///
    /// ```
    /// assert_eq!(vocals_callback::Source::Polled.as_str(), "polled");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Callback => "callback",
            Self::Polled => "polled",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The facts of one delivery of an event to the handler: where it came from, which
/// handler call this is, and for a verified callback which key signed it and when.
///
/// A handler reads it by overriding [`VocalsHandler::handle`](crate::VocalsHandler::handle),
/// or, as a closure, through [`handler::with_delivery`](crate::handler::with_delivery). The
/// per-stage methods and plain closures never see it.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use vocals_callback::{Delivery, Source};
///
/// let received = UNIX_EPOCH + Duration::from_secs(1_769_670_790);
/// let delivery = Delivery::new(Source::Callback, received)
///     .with_attempt(2)
///     .with_key_label("2026-12")
///     .with_signed_at(UNIX_EPOCH + Duration::from_secs(1_769_670_760));
/// assert!(delivery.is_redelivery());
/// assert_eq!(delivery.key_label(), Some("2026-12"));
/// assert_eq!(
///     serde_json::to_value(&delivery)?,
///     serde_json::json!({"source": "callback", "attempt": 2, "received_at": 1_769_670_790,
///                        "key_label": "2026-12", "signed_at": 1_769_670_760}),
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    source: Source,
    attempt: u32,
    received_at: SystemTime,
    scheme: Option<&'static str>,
    key_label: Option<Arc<str>>,
    signed_at: Option<SystemTime>,
}

impl Delivery {
    /// A first attempt from `source`, received at `received_at`, with no signer.
    #[must_use]
    pub fn new(source: Source, received_at: SystemTime) -> Self {
        Self {
            source,
            attempt: 1,
            received_at,
            scheme: None,
            key_label: None,
            signed_at: None,
        }
    }

    /// The same delivery as handler call number `attempt` (1 for the first).
    #[must_use]
    pub fn with_attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// The same delivery, signed by the key labelled `label`.
    #[must_use]
    pub fn with_key_label(mut self, label: impl Into<Arc<str>>) -> Self {
        self.key_label = Some(label.into());
        self
    }

    /// The same delivery, signed at `signed_at`.
    #[must_use]
    pub fn with_signed_at(mut self, signed_at: SystemTime) -> Self {
        self.signed_at = Some(signed_at);
        self
    }

    /// The same delivery, verified by `scheme` (a [`Verified::scheme`](crate::verify::Verified::scheme) name).
    #[must_use]
    pub fn with_scheme(mut self, scheme: &'static str) -> Self {
        self.scheme = Some(scheme);
        self
    }

    /// Where the event came from.
    #[must_use]
    pub fn source(&self) -> Source {
        self.source
    }

    /// Which handler call this is for the event, in this service: 1 for the first, more
    /// when a queued event is retried after a failed call. (Inline dispatch always calls
    /// once per request: the provider's own retry of a refused callback is a new request,
    /// and it carries no count.)
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// `true` from the second handler call on.
    #[must_use]
    pub fn is_redelivery(&self) -> bool {
        self.attempt > 1
    }

    /// When the service accepted the delivery (its clock).
    #[must_use]
    pub fn received_at(&self) -> SystemTime {
        self.received_at
    }

    /// The verifier scheme that named the signing key (`"kie_signature"`, `"url_token"`, …).
    #[must_use]
    pub fn scheme(&self) -> Option<&'static str> {
        self.scheme
    }

    /// The label of the key that signed the callback (see
    /// [`KieSignature::with_key`](crate::verify::KieSignature::with_key)): during a key
    /// rotation, the old key is no longer needed once no delivery names it.
    #[must_use]
    pub fn key_label(&self) -> Option<&str> {
        self.key_label.as_deref()
    }

    /// When the callback was signed, for schemes that sign a timestamp.
    #[must_use]
    pub fn signed_at(&self) -> Option<SystemTime> {
        self.signed_at
    }

    /// The label, shared (for the per-label counters).
    pub(crate) fn key_label_shared(&self) -> Option<&Arc<str>> {
        self.key_label.as_ref()
    }
}

/// Unix seconds, 0 before the epoch.
fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .as_ref()
        .map_or(0, Duration::as_secs)
}

/// `{"source", "attempt", "received_at", "scheme"?, "key_label"?, "signed_at"?}`, times in
/// Unix seconds; absent facts are left out.
impl Serialize for Delivery {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("source", self.source.as_str())?;
        map.serialize_entry("attempt", &self.attempt)?;
        map.serialize_entry("received_at", &unix_secs(self.received_at))?;
        if let Some(scheme) = self.scheme {
            map.serialize_entry("scheme", scheme)?;
        }
        if let Some(label) = &self.key_label {
            map.serialize_entry("key_label", &**label)?;
        }
        if let Some(signed_at) = self.signed_at {
            map.serialize_entry("signed_at", &unix_secs(signed_at))?;
        }
        map.end()
    }
}
