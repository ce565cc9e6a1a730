//! The user's side: what to do with each event.
//!
//! A handler implements [`VocalsHandler`] (one method per stage, each defaulting to the
//! catch-all [`on_event`](VocalsHandler::on_event)), or is a plain
//! `Fn(VocalsEvent) -> impl Future<Output = HandlerResult>`. The service calls its
//! [`handle`](VocalsHandler::handle) once per delivery, with the [`Delivery`] facts;
//! `handle` routes to the stage's method by default ([`route`]).
//!
//! An adaptor wraps a handler and overrides `handle` only, so the inner handler keeps its
//! own routing:
//!
//! ```
//! use vocals_callback::{Callback, Delivery, HandlerResult, VocalsEvent, VocalsHandler};
//!
//! /// Logs every delivery, then hands it on.
//! struct Logged<H>(H);
//!
//! impl<H: VocalsHandler> VocalsHandler for Logged<H> {
//!     async fn handle(&self, event: VocalsEvent, delivery: Delivery) -> HandlerResult {
//!         println!("{} {} from {}, attempt {}", event.task_id(), event.stage(),
//!                  delivery.source(), delivery.attempt());
//!         self.0.handle(event, delivery).await // the inner handler's `on_complete` still runs
//!     }
//! }
//!
//! struct Store;
//! impl VocalsHandler for Store {
//!     async fn on_complete(&self, done: Callback) -> HandlerResult {
//!         let _ = done.tracks(); // store them
//!         Ok(())
//!     }
//! }
//!
//! fn takes_handler(_: impl VocalsHandler) {}
//! takes_handler(Logged(Store));
//! ```

use std::{error::Error as StdError, fmt, future::Future, time::Duration};

use crate::{
    delivery::Delivery,
    event::{Callback, Failure, VocalsEvent},
};

/// What a handler returns.
pub type HandlerResult = Result<(), HandlerError>;

/// Receives each event once.
///
/// Override the methods of the stages you care about; each default passes the event to
/// [`on_event`](Self::on_event), the catch-all, whose default accepts it and does nothing.
/// Return `Ok(())` only once the event is safe (stored, queued in your own system): the
/// service answers the provider 200 after that, and the provider never sends it again.
/// Return an error to have the provider retry later; the dedup claim is released, so the
/// retry runs the handler again.
///
/// The service calls [`handle`](Self::handle), with the event's [`Delivery`]; its default
/// [`route`]s to the stage's method. Override it to read the delivery (pushed or polled,
/// which attempt, which key signed it) or to wrap another handler (see the
/// [module docs](crate::handler)).
///
/// Handlers must be idempotent all the same: the in-memory dedup store is per process, so a
/// restart or a second replica lets a duplicate through (see [`backend`](crate::backend)).
///
/// ```
/// use vocals_callback::{Callback, Failure, HandlerError, HandlerResult, VocalsHandler};
///
/// struct Downloader;
///
/// impl VocalsHandler for Downloader {
///     async fn on_complete(&self, done: Callback) -> HandlerResult {
///         for track in done.tracks().iter().filter(|t| t.is_ready()) {
///             let _url = track.audio_url(); // fetch it before the URL expires
///         }
///         Ok(())
///     }
///
///     async fn on_failed(&self, failure: Failure) -> HandlerResult {
///         if failure.code() == 500 {
///             return Err(HandlerError::msg("billing service down, try later"));
///         }
///         Ok(())
///     }
/// }
/// ```
///
/// Any `Fn(VocalsEvent) -> impl Future<Output = HandlerResult>` is a handler too:
///
/// ```
/// use vocals_callback::{HandlerResult, VocalsEvent, VocalsHandler};
///
/// fn takes_handler(_: impl VocalsHandler) {}
/// takes_handler(|event: VocalsEvent| async move {
///     println!("{} {}", event.task_id(), event.stage());
///     HandlerResult::Ok(())
/// });
/// ```
pub trait VocalsHandler: Send + Sync + 'static {
    /// The lyrics are ready (`callbackType` `text`).
    fn on_text(&self, event: Callback) -> impl Future<Output = HandlerResult> + Send {
        self.on_event(VocalsEvent::Text(event))
    }

    /// The first track is ready (`first`).
    fn on_first(&self, event: Callback) -> impl Future<Output = HandlerResult> + Send {
        self.on_event(VocalsEvent::First(event))
    }

    /// Every track is ready (`complete`).
    fn on_complete(&self, event: Callback) -> impl Future<Output = HandlerResult> + Send {
        self.on_event(VocalsEvent::Complete(event))
    }

    /// The task failed.
    fn on_failed(&self, event: Failure) -> impl Future<Output = HandlerResult> + Send {
        self.on_event(VocalsEvent::Failed(event))
    }

    /// A stage this crate does not know.
    fn on_unknown(&self, event: Callback) -> impl Future<Output = HandlerResult> + Send {
        self.on_event(VocalsEvent::Unknown(event))
    }

    /// The catch-all for every stage whose method is not overridden. Accepts by default.
    fn on_event(&self, event: VocalsEvent) -> impl Future<Output = HandlerResult> + Send {
        let _ = event;
        std::future::ready(Ok(()))
    }

    /// What the service calls, once per delivery, with its facts (where the event came
    /// from, which attempt, which key signed it). By default it [`route`]s the event to
    /// its stage's method and ignores the facts. Override it to read them, or to wrap
    /// another handler (see the [module docs](crate::handler)).
    fn handle(
        &self,
        event: VocalsEvent,
        delivery: Delivery,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = delivery;
        route(self, event)
    }
}

/// A handler shared with the rest of a program: state the handler writes (a database pool,
/// a channel) is reached through the same `Arc` elsewhere, and
/// [`VocalsService::handler`](crate::VocalsService::handler) gives it back.
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
/// use vocals_callback::{Callback, HandlerResult, VocalsHandler, VocalsService};
///
/// #[derive(Default)]
/// struct Counter(AtomicU64);
/// impl VocalsHandler for Counter {
///     async fn on_complete(&self, _done: Callback) -> HandlerResult {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         Ok(())
///     }
/// }
///
/// let counter = Arc::new(Counter::default());
/// let svc = VocalsService::builder(Arc::clone(&counter)).insecure_accept_unverified().build()?;
/// assert!(Arc::ptr_eq(svc.handler(), &counter));
/// # Ok::<(), vocals_callback::ConfigError>(())
/// ```
impl<H: VocalsHandler + ?Sized> VocalsHandler for std::sync::Arc<H> {
    fn on_text(&self, event: Callback) -> impl Future<Output = HandlerResult> + Send {
        (**self).on_text(event)
    }

    fn on_first(&self, event: Callback) -> impl Future<Output = HandlerResult> + Send {
        (**self).on_first(event)
    }

    fn on_complete(&self, event: Callback) -> impl Future<Output = HandlerResult> + Send {
        (**self).on_complete(event)
    }

    fn on_failed(&self, event: Failure) -> impl Future<Output = HandlerResult> + Send {
        (**self).on_failed(event)
    }

    fn on_unknown(&self, event: Callback) -> impl Future<Output = HandlerResult> + Send {
        (**self).on_unknown(event)
    }

    fn on_event(&self, event: VocalsEvent) -> impl Future<Output = HandlerResult> + Send {
        (**self).on_event(event)
    }

    fn handle(
        &self,
        event: VocalsEvent,
        delivery: Delivery,
    ) -> impl Future<Output = HandlerResult> + Send {
        (**self).handle(event, delivery)
    }
}

/// Calls the method of `event`'s stage on `handler`: [`on_text`](VocalsHandler::on_text),
/// [`on_first`](VocalsHandler::on_first), [`on_complete`](VocalsHandler::on_complete),
/// [`on_failed`](VocalsHandler::on_failed) or [`on_unknown`](VocalsHandler::on_unknown)
/// (each of which falls back to [`on_event`](VocalsHandler::on_event)). The default of
/// [`handle`](VocalsHandler::handle).
///
/// ```
/// use vocals_callback::{Callback, HandlerResult, VocalsHandler, handler::route, parse};
///
/// struct Completes;
/// impl VocalsHandler for Completes {
///     async fn on_complete(&self, _done: Callback) -> HandlerResult { Ok(()) }
///     async fn on_event(&self, _other: vocals_callback::VocalsEvent) -> HandlerResult {
///         Err(vocals_callback::HandlerError::msg("not a complete"))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let complete = parse(br#"{"code":200,"data":{"callbackType":"complete","task_id":"t1"}}"#)?;
/// assert!(route(&Completes, complete).await.is_ok());
/// let text = parse(br#"{"code":200,"data":{"callbackType":"text","task_id":"t1"}}"#)?;
/// assert!(route(&Completes, text).await.is_err());
/// # Ok::<(), vocals_callback::ParseError>(()) }).unwrap();
/// ```
pub async fn route<H: VocalsHandler + ?Sized>(handler: &H, event: VocalsEvent) -> HandlerResult {
    match event {
        VocalsEvent::Text(c) => handler.on_text(c).await,
        VocalsEvent::First(c) => handler.on_first(c).await,
        VocalsEvent::Complete(c) => handler.on_complete(c).await,
        VocalsEvent::Failed(f) => handler.on_failed(f).await,
        VocalsEvent::Unknown(c) => handler.on_unknown(c).await,
    }
}

/// A handler from a closure that also takes the [`Delivery`]: see [`with_delivery`].
#[derive(Clone, Copy)]
pub struct WithDelivery<F>(F);

/// Makes a handler of `f`, which is given each event with its [`Delivery`] (a plain
/// `|event| async { … }` closure is a handler as it is, without the facts).
///
/// ```
/// use vocals_callback::{Delivery, HandlerResult, Source, VocalsEvent, VocalsService, handler::with_delivery};
///
/// let svc = VocalsService::builder(with_delivery(|event: VocalsEvent, delivery: Delivery| async move {
///     if delivery.source() == Source::Polled {
///         // the callback never came: the poller found the result
///     }
///     let _ = (event.task_id(), delivery.key_label(), delivery.attempt());
///     HandlerResult::Ok(())
/// }))
/// .insecure_accept_unverified()
/// .build()?;
/// # let _ = svc;
/// # Ok::<(), vocals_callback::ConfigError>(())
/// ```
pub fn with_delivery<F, Fut>(f: F) -> WithDelivery<F>
where
    F: Fn(VocalsEvent, Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send,
{
    WithDelivery(f)
}

impl<F, Fut> VocalsHandler for WithDelivery<F>
where
    F: Fn(VocalsEvent, Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send,
{
    fn handle(
        &self,
        event: VocalsEvent,
        delivery: Delivery,
    ) -> impl Future<Output = HandlerResult> + Send {
        (self.0)(event, delivery)
    }
}

impl<F> fmt::Debug for WithDelivery<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WithDelivery(..)")
    }
}

impl<F, Fut> VocalsHandler for F
where
    F: Fn(VocalsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send,
{
    fn on_event(&self, event: VocalsEvent) -> impl Future<Output = HandlerResult> + Send {
        self(event)
    }

    // What routing would do (every stage's method falls back to `on_event`), without the
    // unwrapping and rewrapping of the event.
    fn handle(
        &self,
        event: VocalsEvent,
        delivery: Delivery,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = delivery;
        self(event)
    }
}

/// A handler's refusal: the event is not safe yet, the provider should send it again.
///
/// The service answers 500 (or 503 with `Retry-After` when it asks for a later retry,
/// [`retry_later`](Self::retry_later) or [`with_retry_after`](Self::with_retry_after)); the
/// claim is released so the retry runs the handler again. The source error is logged, never
/// sent to the provider.
///
/// It is not itself a [`std::error::Error`] (so that `?` turns any error into one), and its
/// `Display` shows its cause.
///
/// ```
/// use std::time::Duration;
/// use vocals_callback::HandlerError;
///
/// let io = std::io::Error::other("disk full");
/// let err = HandlerError::new(io).with_retry_after(Duration::from_secs(30));
/// assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
/// assert_eq!(err.to_string(), "handler failed: disk full");
/// assert_eq!(HandlerError::retry_later(Duration::from_secs(5)).to_string(), "handler asked for a retry");
/// ```
pub struct HandlerError {
    source: Option<Box<dyn StdError + Send + Sync>>,
    retry_after: Option<Duration>,
}

impl HandlerError {
    /// A failure caused by `source`.
    pub fn new(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            source: Some(source.into()),
            retry_after: None,
        }
    }

    /// A failure described by `message`.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self::new(message.to_string())
    }

    /// Asks the sender to retry after `delay` (503 with `Retry-After`), with no error.
    #[must_use]
    pub fn retry_later(delay: Duration) -> Self {
        Self {
            source: None,
            retry_after: Some(delay),
        }
    }

    /// The same error, asking for a retry after `delay`.
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// The delay asked for, if any.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The error that caused it, if any.
    #[must_use]
    pub fn source(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.source.as_deref()
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for HandlerError {
    fn from(err: E) -> Self {
        Self::new(err)
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("source", &self.source)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "handler failed: {source}"),
            None => f.write_str("handler asked for a retry"),
        }
    }
}

/// Why a handler call did not succeed: kept with a dead letter
/// ([`DeadLetter::failure`](crate::service::DeadLetter::failure)) and logged.
///
/// ```
/// use std::error::Error as _;
/// use vocals_callback::{HandlerError, HandlerFailure};
///
/// let failure = HandlerFailure::Error(HandlerError::msg("disk full"));
/// assert_eq!(failure.as_str(), "error");
/// assert_eq!(failure.to_string(), "handler returned an error");
/// assert_eq!(failure.source().unwrap().to_string(), "disk full");
/// assert_eq!(HandlerFailure::TimedOut.to_string(), "handler ran past its deadline");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum HandlerFailure {
    /// The handler returned an error.
    Error(HandlerError),
    /// The handler panicked.
    Panicked,
    /// The handler ran past its deadline and was cancelled.
    TimedOut,
}

impl HandlerFailure {
    /// The stable name: `error`, `panicked` or `timed_out`.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Error(_) => "error",
            Self::Panicked => "panicked",
            Self::TimedOut => "timed_out",
        }
    }

    /// The delay the handler asked for, if it did.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Error(err) => err.retry_after(),
            Self::Panicked | Self::TimedOut => None,
        }
    }
}

impl fmt::Display for HandlerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error(err) if err.source.is_none() => "handler asked for a retry",
            Self::Error(_) => "handler returned an error",
            Self::Panicked => "handler panicked",
            Self::TimedOut => "handler ran past its deadline",
        })
    }
}

impl StdError for HandlerFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Error(err) => err
                .source
                .as_deref()
                .map(|source| source as &(dyn StdError + 'static)),
            Self::Panicked | Self::TimedOut => None,
        }
    }
}
