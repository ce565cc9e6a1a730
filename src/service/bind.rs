//! Binding the signatures whose MAC does not cover the body to this body, in the
//! backend's [`BindingStore`].

use std::time::SystemTime;

use super::log;
use crate::{
    event::Stage,
    rejection::Rejection,
    verify::{BindingStore, chain::Passed},
};

/// Binds every such signature of `passed` (spent here; one for the provider's rule, none for
/// schemes that sign the body) to `body`, a callback of `stage`.
///
/// # Errors
///
/// 401 [`SignatureReused`](crate::RejectionKind::SignatureReused) or
/// [`SignatureCollision`](crate::RejectionKind::SignatureCollision) for a signature already
/// bound to another body; 503 when the store is full or fails.
pub(super) async fn bind<S: BindingStore>(
    binding: &S,
    passed: Passed,
    body: &[u8],
    stage: Stage,
    now: SystemTime,
) -> Result<(), Rejection> {
    for signed in passed.unbound() {
        binding
            .bind(signed, body, stage, now)
            .await
            .inspect_err(log::binding_failed)?;
    }
    Ok(())
}
