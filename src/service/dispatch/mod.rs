//! The dispatch seam: a claimed [`Job`] goes to the handler, inline or through a queue.
//!
//! Each mode is one variant of [`Dispatcher`] with its file: it takes the job and answers
//! the delivery's [`Outcome`], completing the claim once the handler succeeded (or the job
//! is safe) and releasing it otherwise. A new mode is a new variant and file here; no step
//! of the pipeline changes.

use std::{sync::Arc, time::Duration};

use super::{job::Job, state::State};
use crate::{dedup::DedupStore, handler::VocalsHandler, stats::Outcome};

mod inline;
pub(super) mod queue;

use queue::Queue;

/// How a service hands claimed events to its handler.
pub(super) enum Dispatcher {
    /// Inside the request, under the handler deadline: 200 once the handler returned `Ok`.
    Inline,
    /// Through a bounded in-memory queue: 200 once queued.
    Queued(Arc<Queue>),
}

impl Dispatcher {
    /// Takes a claimed job; answers the delivery.
    pub(super) async fn dispatch<H: VocalsHandler, D: DedupStore>(
        &self,
        state: &Arc<State<H, D>>,
        job: Job,
    ) -> Outcome {
        match self {
            Self::Inline => inline::run(state, job).await,
            Self::Queued(queue) => queue.push(state, job).await,
        }
    }

    /// Events waiting to be dispatched.
    pub(super) fn depth(&self) -> usize {
        match self {
            Self::Inline => 0,
            Self::Queued(queue) => queue.depth(),
        }
    }

    /// Stops taking jobs and lets the running ones finish within `grace`. Returns the jobs
    /// given up (dead-lettered) and the handler calls cut short.
    pub(super) async fn shutdown<H: VocalsHandler, D: DedupStore>(
        &self,
        state: &Arc<State<H, D>>,
        grace: Duration,
    ) -> (usize, usize) {
        match self {
            // Inline handlers run inside their requests: the pipeline waits for those.
            Self::Inline => (0, 0),
            Self::Queued(queue) => queue.shutdown(state, grace).await,
        }
    }

    /// Stops the workers without waiting (the service is gone).
    pub(super) fn close(&self) {
        if let Self::Queued(queue) = self {
            queue.close();
        }
    }
}
