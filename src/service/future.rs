//! Two small future adaptors the pipeline's waits share: a poll that does not wait, so a
//! timer is armed only when something really waits; and a panic caught while polling.

use std::{
    future::{Future, poll_fn},
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    task::{Context, Poll},
};

/// Polls `fut` once: its output if ready, `None` if it would wait.
pub(super) async fn now_or_never<F: Future + Unpin>(mut fut: F) -> Option<F::Output> {
    poll_fn(|cx| match Pin::new(&mut fut).poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

/// Turns a panic while polling the inner future into `Err(())`, so one bad event cannot
/// take the connection (or a queue worker) down with it.
pub(super) struct CatchUnwind<F>(pub(super) F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        // The future is dropped right after a panic, never polled again, so no broken
        // invariant of it can be observed.
        match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *inner).poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}
