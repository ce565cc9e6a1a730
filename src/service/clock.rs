//! The service's clock: timestamp windows, claims, completions and deliveries all read it,
//! so a test that injects one controls every time rule.

use std::{fmt, sync::Arc, time::SystemTime};

#[derive(Clone)]
pub(super) struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    /// `SystemTime::now`.
    pub(super) fn system() -> Self {
        Self(Arc::new(SystemTime::now))
    }

    pub(super) fn new(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    pub(super) fn now(&self) -> SystemTime {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock(..)")
    }
}
