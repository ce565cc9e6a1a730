//! Turning an [`Outcome`] into the HTTP answer.

use std::time::Duration;

use bytes::Bytes;
use http::{Extensions, HeaderMap, HeaderValue, Response, header, request::Parts};
use http_body_util::Full;

use crate::{rejection::RejectionKind, stats::Outcome};

/// The response body type of [`VocalsService`](crate::VocalsService).
pub type ResponseBody = Full<Bytes>;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The answer to `outcome`: the status of the status table, a JSON body naming the
/// outcome (and for refusals the stable reason), `Allow` for 405, `Retry-After` where the
/// sender should come back, and in the extensions the [`Outcome`] (and for refusals the
/// [`Rejection`](crate::Rejection)). Its maps are those of `spare`.
pub(crate) fn of(outcome: &Outcome, spare: Spare) -> Response<ResponseBody> {
    let body = match outcome {
        Outcome::Received | Outcome::Queued => Bytes::from_static(br#"{"status":"received"}"#),
        Outcome::Duplicate => Bytes::from_static(br#"{"status":"duplicate"}"#),
        Outcome::Ignored => Bytes::from_static(br#"{"status":"ignored"}"#),
        Outcome::Rejected(rejection) => Bytes::from(format!(
            r#"{{"status":"rejected","reason":"{}"}}"#,
            rejection.kind().as_str()
        )),
    };
    let mut response = Response::new(Full::new(body));
    *response.headers_mut() = spare.headers;
    *response.extensions_mut() = spare.extensions;
    *response.status_mut() = outcome.status();
    response.extensions_mut().insert(*outcome);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, JSON);
    if let Outcome::Rejected(rejection) = outcome {
        if rejection.kind() == RejectionKind::MethodNotAllowed {
            headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        if let Some(delay) = rejection.retry_after() {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs(delay)),
            );
        }
        response.extensions_mut().insert(*rejection);
    }
    response
}

/// The memory of a request's head, emptied, for its answer: a header map and an
/// extension map that allocate on their first insert would cost two and three
/// allocations per request (a box, a table, and the boxed value for the extensions),
/// and the request's own are freed at the same moment anyway.
#[derive(Default)]
pub(crate) struct Spare {
    headers: HeaderMap,
    extensions: Extensions,
}

impl Spare {
    /// `parts` spent: every header and extension dropped, their memory kept.
    pub(crate) fn from_parts(parts: Parts) -> Self {
        let Parts {
            mut headers,
            mut extensions,
            ..
        } = parts;
        headers.clear();
        extensions.clear();
        Self {
            headers,
            extensions,
        }
    }
}

/// Whole seconds, rounded up, at least 1 (`Retry-After: 0` invites a hot loop).
pub(crate) fn retry_after_secs(delay: Duration) -> u64 {
    let secs = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;
    use crate::Rejection;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(30)), 30);
    }

    #[test]
    fn refusals_carry_their_headers_and_the_typed_rejection() {
        let r = of(
            &Outcome::Rejected(RejectionKind::MethodNotAllowed.into()),
            Spare::default(),
        );
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "POST");
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
        let busy =
            Rejection::new(RejectionKind::InFlight).with_retry_after(Duration::from_millis(2500));
        let r = of(&Outcome::Rejected(busy), Spare::default());
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(r.headers()[header::RETRY_AFTER], "3");
        assert_eq!(r.extensions().get::<Rejection>(), Some(&busy));
        let ok = of(&Outcome::Received, Spare::default());
        assert_eq!(ok.status(), StatusCode::OK);
        assert!(ok.extensions().get::<Rejection>().is_none());
        assert_eq!(ok.extensions().get::<Outcome>(), Some(&Outcome::Received));
        let queued = of(&Outcome::Queued, Spare::default());
        assert_eq!(queued.extensions().get::<Outcome>(), Some(&Outcome::Queued));
        assert_eq!(queued.status(), StatusCode::OK);
        assert_eq!(ok.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn an_answer_in_a_requests_maps_carries_nothing_of_the_request() {
        let mut req = http::Request::post("/")
            .header("x-webhook-signature", "secret-looking")
            .header(header::CONTENT_TYPE, "application/json")
            .body(())
            .unwrap();
        req.extensions_mut().insert(7u32);
        let (parts, ()) = req.into_parts();
        let r = of(&Outcome::Duplicate, Spare::from_parts(parts));
        assert_eq!(r.headers().len(), 1);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert!(r.extensions().get::<u32>().is_none());
        assert_eq!(r.extensions().get::<Outcome>(), Some(&Outcome::Duplicate));
    }
}
