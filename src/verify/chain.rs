//! Every configured verifier over one request, in the service's two steps: the headers
//! before the body is read, then the body for the verifiers that asked for it.

use std::{any::Any, fmt};

use http::HeaderMap;

use super::{
    HeaderCheck, Signed, Verified, Verifier, VerifyRequest,
    kie::{KieHeaders, KieSignature},
};
use crate::rejection::Rejection;

/// The verifiers of one service, in the order they were configured.
pub(crate) struct Verifiers(Box<[Entry]>);

/// One configured verifier. The provider's own scheme is kept as itself, so that the
/// headers its header step reads are handed to its body step instead of being looked up
/// again (two hashed lookups per request), and its calls are not dynamic.
pub(crate) enum Entry {
    Kie(KieSignature),
    Other(Box<dyn Verifier>),
}

impl Entry {
    pub(crate) fn new<V: Verifier>(verifier: V) -> Self {
        let mut verifier = Some(verifier);
        let any: &mut dyn Any = &mut verifier;
        if let Some(kie) = any
            .downcast_mut::<Option<KieSignature>>()
            .and_then(Option::take)
        {
            return Self::Kie(kie);
        }
        match verifier {
            Some(verifier) => Self::Other(Box::new(verifier)),
            // Taken only when it was a `KieSignature`, which returned above.
            None => unreachable!("a verifier taken but not kept"),
        }
    }

    fn check_headers(&self, req: &VerifyRequest<'_>) -> Result<HeaderCheck, Rejection> {
        match self {
            Self::Kie(kie) => kie.check_headers(req),
            Self::Other(verifier) => verifier.check_headers(req),
        }
    }

    fn verify(&self, req: &VerifyRequest<'_>) -> Result<Verified, Rejection> {
        match self {
            Self::Kie(kie) => kie.verify(req),
            Self::Other(verifier) => verifier.verify(req),
        }
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kie(kie) => kie.fmt(f),
            Self::Other(verifier) => verifier.fmt(f),
        }
    }
}

/// What the header step leaves for the body step.
pub(crate) struct HeadersChecked<'h> {
    /// Bit `i` is set when verifier `i` asked for the body. Verifiers past the 64th are
    /// always asked again with the body (their full check is correct either way).
    needs_body: u64,
    /// What the passes of the header step found.
    passed: Passed,
    /// The headers the step read, and the first provider scheme's values in them (its
    /// index and what it read), for the body step over the same headers.
    headers: &'h HeaderMap,
    kie: Option<(usize, KieHeaders<'h>)>,
}

impl fmt::Debug for HeadersChecked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the headers: they hold the signature.
        f.debug_struct("HeadersChecked")
            .field("needs_body", &self.needs_body)
            .field("passed", &self.passed)
            .finish_non_exhaustive()
    }
}

impl HeadersChecked<'_> {
    fn needs_body(&self, index: usize) -> bool {
        index >= 64 || self.needs_body & (1 << index) != 0
    }
}

/// Every verifier passed: the pass that names the key that signed the request, and the
/// signatures to bind to the body.
#[derive(Debug, Default)]
pub(crate) struct Passed {
    /// The first pass that names a key, body verifiers (which sign the content) first.
    pub(crate) signer: Option<Verified>,
    /// Signatures whose MAC does not cover the body (one, for the provider's rule).
    pub(crate) unbound: Option<Signed>,
    /// Any more of them (none with the built-in verifiers; no allocation when empty).
    pub(crate) more_unbound: Vec<Signed>,
}

impl Passed {
    fn take(&mut self, mut pass: Verified) {
        if let Some(signed) = pass.signature.take() {
            self.push_unbound(signed);
        }
        if self.signer.is_none() && pass.key_label().is_some() {
            self.signer = Some(pass);
        }
    }

    fn push_unbound(&mut self, signed: Signed) {
        match self.unbound {
            None => self.unbound = Some(signed),
            Some(_) => self.more_unbound.push(signed),
        }
    }

    /// Adds what an earlier step found: its signer only when this step named none (body
    /// verifiers sign the content, so theirs comes first), and its signatures to bind.
    fn absorb(&mut self, earlier: Self) {
        if self.signer.is_none() {
            self.signer = earlier.signer;
        }
        for signed in earlier.unbound.into_iter().chain(earlier.more_unbound) {
            self.push_unbound(signed);
        }
    }

    /// The signatures to bind, in verifier order.
    pub(crate) fn unbound(&self) -> impl Iterator<Item = &Signed> {
        self.unbound.iter().chain(&self.more_unbound)
    }
}

impl Verifiers {
    pub(crate) fn new(verifiers: Vec<Entry>) -> Self {
        Self(verifiers.into_boxed_slice())
    }

    /// Step one, before any body byte is read: every verifier's
    /// [`check_headers`](Verifier::check_headers). `req` has no body and no task id.
    pub(crate) fn check_headers<'h>(
        &self,
        req: &VerifyRequest<'h>,
    ) -> Result<HeadersChecked<'h>, Rejection> {
        let mut checked = HeadersChecked {
            needs_body: 0,
            passed: Passed::default(),
            headers: req.headers(),
            kie: None,
        };
        for (index, verifier) in self.0.iter().enumerate() {
            if let (Entry::Kie(_), None) = (verifier, &checked.kie) {
                // What `KieSignature::check_headers` does, its reads kept.
                checked.kie = Some((index, KieHeaders::read(req.headers())?));
                if index < 64 {
                    checked.needs_body |= 1 << index;
                }
                continue;
            }
            match verifier.check_headers(req)? {
                HeaderCheck::Verified(pass) => checked.passed.take(pass),
                HeaderCheck::NeedsBody => {
                    if index < 64 {
                        checked.needs_body |= 1 << index;
                    }
                }
            }
        }
        Ok(checked)
    }

    /// Step two, with the body and its task id: [`verify`](Verifier::verify) of every
    /// verifier that asked for the body.
    pub(crate) fn verify_body(
        &self,
        req: &VerifyRequest<'_>,
        checked: HeadersChecked<'_>,
    ) -> Result<Passed, Rejection> {
        let mut passed = Passed::default();
        // What the header step read stands only for these very headers.
        let read = checked
            .kie
            .filter(|_| std::ptr::eq(checked.headers, req.headers()));
        for (index, verifier) in self.0.iter().enumerate() {
            if !checked.needs_body(index) {
                continue;
            }
            let pass = match (verifier, read) {
                (Entry::Kie(kie), Some((at, headers))) if at == index => {
                    kie.verify_read(req, headers)?
                }
                _ => verifier.verify(req)?,
            };
            passed.take(pass);
        }
        passed.absorb(checked.passed);
        Ok(passed)
    }
}

impl fmt::Debug for Verifiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering::SeqCst},
        },
        time::{Duration, UNIX_EPOCH},
    };

    use base64::{Engine, engine::general_purpose::STANDARD};
    use hmac::Mac;
    use http::HeaderMap;

    use super::*;
    use crate::{
        RejectionKind, Secret,
        verify::{KieSignature, UrlToken, keys},
    };

    /// A header-only verifier that counts its full checks.
    #[derive(Debug, Default)]
    struct Counting(Arc<AtomicUsize>);

    impl Verifier for Counting {
        fn check_headers(&self, req: &VerifyRequest<'_>) -> Result<HeaderCheck, Rejection> {
            self.verify(req).map(HeaderCheck::Verified)
        }

        fn verify(&self, _req: &VerifyRequest<'_>) -> Result<Verified, Rejection> {
            self.0.fetch_add(1, SeqCst);
            Ok(Verified::new("counting", None))
        }
    }

    /// A header-only verifier whose pass carries a signature to bind.
    #[derive(Debug)]
    struct HeaderSigned;

    impl Verifier for HeaderSigned {
        fn check_headers(&self, req: &VerifyRequest<'_>) -> Result<HeaderCheck, Rejection> {
            self.verify(req).map(HeaderCheck::Verified)
        }

        fn verify(&self, _req: &VerifyRequest<'_>) -> Result<Verified, Rejection> {
            let signed = Signed::new([1; 32], 5, Duration::from_secs(300));
            Ok(Verified::new("header_signed", Some(Arc::from("h"))).with_signature(signed))
        }
    }

    #[test]
    fn a_signature_passed_before_the_body_is_still_bound() {
        let headers = HeaderMap::new();
        let now = UNIX_EPOCH + Duration::from_secs(5);
        let verifiers = Verifiers::new(vec![Entry::new(HeaderSigned)]);
        let checked = verifiers
            .check_headers(&VerifyRequest::new(&headers, b"", now))
            .unwrap();
        let passed = verifiers
            .verify_body(&VerifyRequest::new(&headers, b"{}", now), checked)
            .unwrap();
        assert_eq!(
            passed.unbound().map(Signed::timestamp).collect::<Vec<_>>(),
            [5]
        );
        assert_eq!(passed.signer.unwrap().key_label(), Some("h"));
    }

    #[test]
    fn the_body_step_reads_its_own_headers_when_they_are_not_the_header_steps() {
        const TS: u64 = 1_769_670_760;
        let verifiers = Verifiers::new(vec![Entry::new(KieSignature::new(
            Secret::new("key").unwrap(),
        ))]);
        let signed = |key: &[u8]| {
            let mut mac = keys::keyed(key);
            mac.update(format!("task-1.{TS}").as_bytes());
            let mut headers = HeaderMap::new();
            headers.insert("x-webhook-timestamp", TS.to_string().parse().unwrap());
            let signature = STANDARD.encode(mac.finalize().into_bytes());
            headers.insert("x-webhook-signature", signature.parse().unwrap());
            headers
        };
        let (good, bad) = (signed(b"key"), signed(b"guess"));
        let now = UNIX_EPOCH + Duration::from_secs(TS);
        let body = |headers| VerifyRequest::new(headers, b"{}", now).with_task_id(Some("task-1"));
        // Read from the good headers, verified against the bad ones: the bad ones count.
        let checked = verifiers
            .check_headers(&VerifyRequest::new(&good, b"", now))
            .unwrap();
        assert_eq!(
            verifiers
                .verify_body(&body(&bad), checked)
                .unwrap_err()
                .kind(),
            RejectionKind::InvalidSignature
        );
        let checked = verifiers
            .check_headers(&VerifyRequest::new(&bad, b"", now))
            .unwrap();
        assert!(verifiers.verify_body(&body(&good), checked).is_ok());
        let checked = verifiers
            .check_headers(&VerifyRequest::new(&good, b"", now))
            .unwrap();
        assert!(verifiers.verify_body(&body(&good), checked).is_ok());
    }

    #[test]
    fn header_passes_are_not_repeated_and_the_signer_is_the_body_verifiers_key() {
        const TS: u64 = 1_769_670_760;
        let calls = Arc::new(AtomicUsize::new(0));
        let verifiers = Verifiers::new(vec![
            Entry::new(Counting(Arc::clone(&calls))),
            Entry::new(UrlToken::new("token", Secret::new("t0ken").unwrap()).unwrap()),
            Entry::new(
                KieSignature::new(Secret::new("old-key").unwrap())
                    .with_key("new", Secret::new("new-key").unwrap())
                    .unwrap(),
            ),
        ]);
        assert!(matches!(verifiers.0[2], Entry::Kie(_)));
        assert!(matches!(verifiers.0[0], Entry::Other(_)));
        let mut mac = keys::keyed(b"new-key");
        mac.update(format!("task-1.{TS}").as_bytes());
        let mut headers = HeaderMap::new();
        headers.insert("x-webhook-timestamp", TS.to_string().parse().unwrap());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        headers.insert("x-webhook-signature", signature.parse().unwrap());
        let now = UNIX_EPOCH + Duration::from_secs(TS);

        let early = VerifyRequest::new(&headers, b"", now).with_query(Some("token=t0ken"));
        let checked = verifiers.check_headers(&early).unwrap();
        assert_eq!(calls.load(SeqCst), 1);
        let full = VerifyRequest::new(&headers, b"{}", now)
            .with_query(Some("token=t0ken"))
            .with_task_id(Some("task-1"));
        let passed = verifiers.verify_body(&full, checked).unwrap();
        assert_eq!(calls.load(SeqCst), 1, "a header-only pass runs once");
        let signer = passed.signer.as_ref().unwrap();
        assert_eq!(
            (signer.scheme(), signer.key_label()),
            ("kie_signature", Some("new"))
        );
        assert_eq!(
            passed.unbound().map(Signed::timestamp).collect::<Vec<_>>(),
            [TS]
        );

        // Without a signing key, the URL token's label is the signer's.
        let token_only = Verifiers::new(vec![Entry::new(
            UrlToken::new("token", Secret::new("t0ken").unwrap()).unwrap(),
        )]);
        let checked = token_only.check_headers(&early).unwrap();
        let passed = token_only.verify_body(&full, checked).unwrap();
        assert_eq!(passed.signer.unwrap().key_label(), Some("default"));
        assert!(passed.unbound.is_none());

        // The first refusal is returned, from the step that finds it.
        let wrong = VerifyRequest::new(&headers, b"", now).with_query(Some("token=guess"));
        assert_eq!(
            verifiers.check_headers(&wrong).unwrap_err().kind(),
            RejectionKind::InvalidToken
        );
        let checked = verifiers.check_headers(&early).unwrap();
        let other_task = full.with_task_id(Some("task-2"));
        assert_eq!(
            verifiers
                .verify_body(&other_task, checked)
                .unwrap_err()
                .kind(),
            RejectionKind::InvalidSignature
        );
    }
}
