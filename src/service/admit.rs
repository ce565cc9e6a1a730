//! Parsing and verifying a complete request: the typed event, from the very bytes every
//! body verifier checks. No await: none of this step's state lives in the request's future.

use std::{
    net::IpAddr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use http::request::Parts;

use super::log;
use crate::{
    delivery::{Delivery, Source},
    event::VocalsEvent,
    parse::parse,
    rejection::Rejection,
    verify::{
        VerifyRequest,
        chain::{HeadersChecked, Passed, Verifiers},
    },
};

/// A verified event, the facts of its delivery, and the signatures still to bind to its
/// body.
pub(super) struct Admitted {
    pub(super) event: VocalsEvent,
    pub(super) delivery: Delivery,
    pub(super) passed: Passed,
}

/// Parses `body` and runs the verifiers that asked for it.
///
/// The parse comes first because the provider's MAC covers the task id, which only the
/// body holds. It is one pass, strict on exactly the envelope (`code`, `data.callbackType`,
/// `data.task_id`: 400 when malformed) and lenient on the rest; reading the envelope
/// separately would cost a second parse for nothing, since the parser's work is bounded (64
/// tracks, 256-byte ids, the body limit) and fuzzed, and nothing it builds is used before
/// verification passes.
///
/// # Errors
///
/// 400 for a body that is not a callback; the first verifier's refusal (401, 403).
pub(super) fn admit(
    parts: &Parts,
    peer: Option<IpAddr>,
    body: &[u8],
    now: SystemTime,
    verifiers: &Verifiers,
    headers_checked: HeadersChecked<'_>,
) -> Result<Admitted, Rejection> {
    let event = parse(body)?;
    log::record_event(&event);
    let req = VerifyRequest::new(&parts.headers, body, now)
        .with_query(parts.uri.query())
        .with_peer(peer)
        .with_task_id(Some(event.task_id()));
    let mut passed = verifiers
        .verify_body(&req, headers_checked)
        .inspect_err(|rejection| log::verification_failed(event.task_id(), rejection))?;
    let mut delivery = Delivery::new(Source::Callback, now);
    if let Some(signer) = passed.signer.take() {
        let (scheme, label, timestamp) = signer.into_signer();
        delivery = delivery.with_scheme(scheme);
        if let Some(label) = label {
            delivery = delivery.with_key_label(label);
        }
        if let Some(secs) = timestamp {
            delivery = delivery.with_signed_at(UNIX_EPOCH + Duration::from_secs(secs));
        }
    }
    log::record_signer(&delivery);
    Ok(Admitted {
        event,
        delivery,
        passed,
    })
}
