//! The user's side: what to do with each event.

use std::{error::Error as StdError, fmt, future::Future, time::Duration};

use crate::event::{Callback, Failure, VocalsEvent};

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
/// Handlers must be idempotent all the same: the in-memory dedup store is per process, so a
/// restart or a second replica lets a duplicate through (see [`MemoryStore`](crate::dedup::MemoryStore)).
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
}

impl<F, Fut> VocalsHandler for F
where
    F: Fn(VocalsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send,
{
    fn on_event(&self, event: VocalsEvent) -> impl Future<Output = HandlerResult> + Send {
        self(event)
    }
}

/// Calls the method of `event`'s stage.
pub(crate) async fn call<H: VocalsHandler>(handler: &H, event: VocalsEvent) -> HandlerResult {
    match event {
        VocalsEvent::Text(c) => handler.on_text(c).await,
        VocalsEvent::First(c) => handler.on_first(c).await,
        VocalsEvent::Complete(c) => handler.on_complete(c).await,
        VocalsEvent::Failed(f) => handler.on_failed(f).await,
        VocalsEvent::Unknown(c) => handler.on_unknown(c).await,
    }
}

/// A handler's refusal: the event is not safe yet, the provider should send it again.
///
/// The service answers 500 (or 503 with `Retry-After` when built with
/// [`retry_after`](Self::retry_after)); the claim is released so the retry runs the handler
/// again. The source error is logged, never sent to the provider.
///
/// ```
/// use std::time::Duration;
/// use vocals_callback::HandlerError;
///
/// let io = std::io::Error::other("disk full");
/// let err = HandlerError::new(io).with_retry_after(Duration::from_secs(30));
/// assert_eq!(err.retry_after_delay(), Some(Duration::from_secs(30)));
/// assert_eq!(HandlerError::retry_after(Duration::from_secs(5)).to_string(), "handler asked for a retry");
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
    pub fn retry_after(delay: Duration) -> Self {
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
    pub fn retry_after_delay(&self) -> Option<Duration> {
        self.retry_after
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
