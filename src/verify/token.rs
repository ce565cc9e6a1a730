//! A secret token in a query parameter of the callback URL.

use std::{fmt, sync::Arc};

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use super::{HeaderCheck, Verified, Verifier, VerifyRequest, encoding::hex_digit};
use crate::{
    config::{ConfigError, ConfigErrorKind},
    rejection::{Rejection, RejectionKind},
    secret::Secret,
};

/// Verifies a secret token carried in a query parameter of the callback URL.
///
/// Some providers (sunoapi.org) sign nothing: the only proof a callback came from them is
/// that it was sent to a URL only they know. Put a long random token in the `callBackUrl`
/// you give them (`https://example.com/callback?token=…`) and check it here.
///
/// The rules:
///
/// - the query string is split on `&` into pairs, each pair on its first `=`; names and
///   values are percent-decoded (`%41` is `A`; `+` stays a literal `+`, as in RFC 3986,
///   so a space in a token must be sent as `%20`); a malformed escape in the value (`%4`,
///   `%zz`) is `invalid_token`;
/// - the parameter missing, or present with an empty value (`?token=` or `?token`), is
///   `missing_token`;
/// - the parameter present more than once is `invalid_token`, whatever the copies hold:
///   which copy counts would be a guess (proxies and frameworks disagree on first or last),
///   and a guess is where a forgery hides;
/// - the value is compared with **every** configured token, in constant time, with no
///   early exit (a match on the first token takes as long as one on the last); no match is
///   `invalid_token`;
/// - several tokens with labels, for rotation: any one matching passes and its label is
///   reported in [`Verified::key_label`].
///
/// The token is a bearer secret in a URL, so it ends up wherever URLs are logged (access
/// logs of proxies in front of this service included): prefer a signing scheme when the
/// provider offers one, and rotate the token if a log leaks it.
///
/// ```
/// use std::time::UNIX_EPOCH;
/// use http::HeaderMap;
/// use vocals_callback::{Secret, RejectionKind, verify::{UrlToken, Verifier, VerifyRequest}};
///
/// let verifier = UrlToken::new("token", Secret::new("s3cr3t-t0ken")?)?
///     .with_token("next", Secret::new("n3xt t0ken")?)?;
/// let headers = HeaderMap::new();
/// let req = VerifyRequest::new(&headers, b"{}", UNIX_EPOCH)
///     .with_query(Some("source=suno&token=n3xt%20t0ken"));
/// let verified = verifier.verify(&req)?;
/// assert_eq!(verified.key_label(), Some("next"));
///
/// let req = VerifyRequest::new(&headers, b"{}", UNIX_EPOCH).with_query(Some("token=guess"));
/// assert_eq!(verifier.verify(&req).unwrap_err().kind(), RejectionKind::InvalidToken);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct UrlToken {
    param: Box<str>,
    tokens: Vec<(Arc<str>, Secret)>,
}

impl UrlToken {
    /// The scheme name reported in [`Verified::scheme`].
    pub const SCHEME: &'static str = "url_token";

    /// A verifier reading the query parameter `param`, with one token labelled `default`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] of kind [`InvalidName`](ConfigErrorKind::InvalidName) when `param`
    /// is empty or has a character other than ASCII letters, digits, `-`, `.`, `_`, `~`
    /// (the characters a URL carries without escaping).
    pub fn new(param: &str, token: Secret) -> Result<Self, ConfigError> {
        if param.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidName,
                "the token's query parameter name is empty",
            ));
        }
        if !param.bytes().all(is_unreserved) {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidName,
                "the token's query parameter name has a character a URL must escape",
            ));
        }
        Ok(Self {
            param: param.into(),
            tokens: vec![(Arc::from("default"), token)],
        })
    }

    /// Adds a token under `label` (for rotation: keep the old token until the provider has
    /// no task left that was created with the old callback URL).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] of kind [`DuplicateLabel`](ConfigErrorKind::DuplicateLabel) when
    /// `label` is already used.
    pub fn with_token(mut self, label: &str, token: Secret) -> Result<Self, ConfigError> {
        if self.tokens.iter().any(|(l, _)| &**l == label) {
            return Err(ConfigError::new(
                ConfigErrorKind::DuplicateLabel,
                "two tokens have the same label",
            ));
        }
        self.tokens.push((Arc::from(label), token));
        Ok(self)
    }

    /// The name of the query parameter read.
    #[must_use]
    pub fn param(&self) -> &str {
        &self.param
    }

    /// The one value of the parameter, decoded: `Ok(None)` when absent.
    fn find(&self, query: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Rejection> {
        let mut found = None;
        for pair in query.split('&') {
            if pair.is_empty() {
                continue;
            }
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            // A name with a malformed escape cannot be ours: ours has no `%`.
            let is_ours = percent_decode(name).is_some_and(|n| *n == *self.param.as_bytes());
            if !is_ours {
                continue;
            }
            if found.is_some() {
                return Err(RejectionKind::InvalidToken.into());
            }
            let decoded =
                percent_decode(value).ok_or(Rejection::new(RejectionKind::InvalidToken))?;
            found = Some(decoded);
        }
        Ok(found)
    }
}

/// RFC 3986 unreserved characters.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-decodes `text` (no `+` rule); `None` for a `%` not followed by two hex digits.
fn percent_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len()));
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = hex_digit(bytes.next()?)?;
            let lo = hex_digit(bytes.next()?)?;
            out.push((hi << 4) | lo);
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// Whether `given == expected`, in time that depends only on `expected.len()` (and not on
/// where the first difference is, nor on whether the lengths differ).
fn ct_eq_padded(expected: &[u8], given: &[u8]) -> Choice {
    let mut same = (expected.len() as u64).ct_eq(&(given.len() as u64));
    for (i, e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(0);
        same &= e.ct_eq(&g);
    }
    same
}

impl Verifier for UrlToken {
    fn verify(&self, req: &VerifyRequest<'_>) -> Result<Verified, Rejection> {
        let missing = || Rejection::new(RejectionKind::MissingToken);
        let value = self.find(req.query().unwrap_or(""))?.ok_or_else(missing)?;
        if value.is_empty() {
            return Err(missing());
        }
        // Every token is compared, and the index of the match is selected without a branch.
        let mut matched = Choice::from(0);
        let mut index: u32 = 0;
        for (i, (_, token)) in self.tokens.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let same = ct_eq_padded(token.expose(), &value);
            index.conditional_assign(&i, same & !matched);
            matched |= same;
        }
        if !bool::from(matched) {
            return Err(RejectionKind::InvalidToken.into());
        }
        let label = usize::try_from(index)
            .ok()
            .and_then(|i| self.tokens.get(i))
            .map(|(label, _)| label.clone())
            .ok_or(Rejection::new(RejectionKind::InvalidToken))?;
        Ok(Verified::new(Self::SCHEME, Some(label)))
    }

    fn check_headers(&self, req: &VerifyRequest<'_>) -> Result<HeaderCheck, Rejection> {
        // Needs nothing from the body: the whole check runs before it is read.
        self.verify(req).map(HeaderCheck::Verified)
    }
}

impl fmt::Debug for UrlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: Vec<&str> = self.tokens.iter().map(|(l, _)| &**l).collect();
        f.debug_struct("UrlToken")
            .field("param", &self.param)
            .field("tokens", &labels)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use http::HeaderMap;

    use super::*;

    fn check(v: &UrlToken, query: Option<&str>) -> Result<Verified, RejectionKind> {
        let headers = HeaderMap::new();
        let req = VerifyRequest::new(&headers, b"", UNIX_EPOCH).with_query(query);
        v.verify(&req).map_err(|r| r.kind())
    }

    fn verifier() -> UrlToken {
        UrlToken::new("token", Secret::new("abc").unwrap()).unwrap()
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c").unwrap().as_slice(), b"a b+c");
        assert_eq!(percent_decode("%41%6a%6A").unwrap().as_slice(), b"Ajj");
        assert_eq!(percent_decode("%ff").unwrap().as_slice(), b"\xff");
        assert!(percent_decode("%").is_none());
        assert!(percent_decode("%4").is_none());
        assert!(percent_decode("%zz").is_none());
        assert!(percent_decode("%%41").is_none());
        assert_eq!(percent_decode("").unwrap().as_slice(), b"");
    }

    #[test]
    fn padded_compare() {
        assert!(bool::from(ct_eq_padded(b"abc", b"abc")));
        assert!(!bool::from(ct_eq_padded(b"abc", b"ab")));
        assert!(!bool::from(ct_eq_padded(b"abc", b"abc\0")));
        assert!(!bool::from(ct_eq_padded(b"abc", b"abd")));
        assert!(!bool::from(ct_eq_padded(b"abc", b"")));
    }

    #[test]
    fn encoded_name_and_malformed_value() {
        let v = verifier();
        assert!(check(&v, Some("t%6Fken=abc")).is_ok());
        assert_eq!(
            check(&v, Some("token=abc&t%6fken=abc")),
            Err(RejectionKind::InvalidToken)
        );
        assert_eq!(
            check(&v, Some("token=%a")),
            Err(RejectionKind::InvalidToken)
        );
        assert_eq!(
            check(&v, Some("tok%en=abc")),
            Err(RejectionKind::MissingToken)
        );
        assert_eq!(check(&v, None), Err(RejectionKind::MissingToken));
        assert_eq!(check(&v, Some("&&")), Err(RejectionKind::MissingToken));
        assert!(check(&v, Some("&token=abc&")).is_ok());
    }

    #[test]
    fn param_names() {
        let secret = || Secret::new("abc").unwrap();
        assert!(UrlToken::new("a-b.c_d~9", secret()).is_ok());
        for bad in ["", "a b", "a&b", "a=b", "a%20", "é"] {
            assert_eq!(
                UrlToken::new(bad, secret()).unwrap_err().kind(),
                ConfigErrorKind::InvalidName,
                "{bad:?}"
            );
        }
        assert_eq!(
            verifier()
                .with_token("default", secret())
                .unwrap_err()
                .kind(),
            ConfigErrorKind::DuplicateLabel
        );
    }
}
