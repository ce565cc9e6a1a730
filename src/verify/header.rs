//! Reading the one value of a verification header.

use http::{HeaderMap, HeaderName};

use crate::rejection::{Rejection, RejectionKind};

/// The value of `name`: `None` when absent, a rejection when it is repeated
/// (`duplicate_header`) or is not visible ASCII (`invalid_header`). Names are matched
/// without regard to case, as HTTP requires.
pub(crate) fn single<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a str>, Rejection> {
    match single_bytes(headers, name)? {
        // `from_utf8` on bytes `to_str` would accept; `HeaderValue::to_str` is the same check
        // (visible ASCII, space and tab).
        Some(bytes)
            if bytes
                .iter()
                .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b)) =>
        {
            Ok(std::str::from_utf8(bytes).ok())
        }
        Some(_) => Err(RejectionKind::InvalidHeader.into()),
        None => Ok(None),
    }
}

/// The one value of a header the scheme requires: absent or empty is `missing`.
pub(crate) fn required<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    missing: RejectionKind,
) -> Result<&'a str, Rejection> {
    match single(headers, name)? {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(missing.into()),
    }
}

/// The raw bytes of `name`'s one value, for schemes whose own format check (base64,
/// digits) already refuses every byte outside it.
pub(crate) fn single_bytes<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a [u8]>, Rejection> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(RejectionKind::DuplicateHeader.into());
    }
    Ok(Some(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const NAME: HeaderName = HeaderName::from_static("x-webhook-signature");

    #[test]
    fn absent_single_repeated_and_binary_values() {
        let mut headers = HeaderMap::new();
        assert_eq!(single(&headers, &NAME), Ok(None));
        headers.insert("X-Webhook-Signature", HeaderValue::from_static("abc"));
        assert_eq!(single(&headers, &NAME), Ok(Some("abc")));
        headers.append("x-webhook-signature", HeaderValue::from_static("def"));
        assert_eq!(
            single(&headers, &NAME).unwrap_err().kind(),
            RejectionKind::DuplicateHeader
        );
        let mut headers = HeaderMap::new();
        headers.insert(NAME, HeaderValue::from_bytes(b"\xffabc").unwrap());
        assert_eq!(
            single(&headers, &NAME).unwrap_err().kind(),
            RejectionKind::InvalidHeader
        );
    }
}
