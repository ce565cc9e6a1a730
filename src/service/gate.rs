//! The checks made before reading any body byte: method, media type, encoding, length.

use http::{HeaderMap, Method, header};

use crate::rejection::{Rejection, RejectionKind};

/// Refuses what can be refused from the request line and headers alone.
pub(crate) fn check(method: &Method, headers: &HeaderMap, limit: usize) -> Result<(), Rejection> {
    if method != Method::POST {
        return Err(RejectionKind::MethodNotAllowed.into());
    }
    check_content_type(headers)?;
    check_encoding(headers)?;
    check_length(headers, limit)
}

/// Exactly one `Content-Type`, `application/json` with any parameters (`charset=utf-8`).
fn check_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(RejectionKind::UnsupportedMediaType.into());
    };
    let essence = value
        .as_bytes()
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if essence.eq_ignore_ascii_case(b"application/json") {
        Ok(())
    } else {
        Err(RejectionKind::UnsupportedMediaType.into())
    }
}

/// No `Content-Encoding` but `identity`: the signature covers the bytes as sent, and
/// inflating unverified input is how decompression bombs get in.
fn check_encoding(headers: &HeaderMap) -> Result<(), Rejection> {
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let identity = value
            .as_bytes()
            .split(|b| *b == b',')
            .map(<[u8]>::trim_ascii)
            .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case(b"identity"));
        if !identity {
            return Err(RejectionKind::UnsupportedEncoding.into());
        }
    }
    Ok(())
}

/// A declared length over the limit is refused before reading; the read enforces the
/// limit again whatever was declared.
fn check_length(headers: &HeaderMap, limit: usize) -> Result<(), Rejection> {
    let mut values = headers.get_all(header::CONTENT_LENGTH).iter();
    let Some(value) = values.next() else {
        return Ok(());
    };
    if values.next().is_some() {
        return Err(RejectionKind::DuplicateHeader.into());
    }
    let declared = std::str::from_utf8(value.as_bytes())
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(Rejection::new(RejectionKind::InvalidHeader))?;
    if declared > u64::try_from(limit).unwrap_or(u64::MAX) {
        return Err(RejectionKind::BodyTooLarge.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn kind(method: &Method, pairs: &[(&str, &str)]) -> Option<RejectionKind> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        check(method, &headers, 100).err().map(|r| r.kind())
    }

    const JSON: (&str, &str) = ("content-type", "application/json");

    #[test]
    fn accepts_json_posts_within_the_limit() {
        assert_eq!(kind(&Method::POST, &[JSON]), None);
        assert_eq!(
            kind(
                &Method::POST,
                &[("content-type", "Application/JSON ; charset=utf-8")]
            ),
            None
        );
        assert_eq!(
            kind(&Method::POST, &[JSON, ("content-length", "100")]),
            None
        );
        assert_eq!(
            kind(&Method::POST, &[JSON, ("content-encoding", "identity")]),
            None
        );
    }

    #[test]
    fn refuses_each_gate_with_its_kind() {
        use RejectionKind::*;
        assert_eq!(kind(&Method::GET, &[JSON]), Some(MethodNotAllowed));
        assert_eq!(kind(&Method::PUT, &[JSON]), Some(MethodNotAllowed));
        assert_eq!(kind(&Method::POST, &[]), Some(UnsupportedMediaType));
        for ct in [
            "text/plain",
            "application/jsonx",
            "application/x-www-form-urlencoded",
        ] {
            assert_eq!(
                kind(&Method::POST, &[("content-type", ct)]),
                Some(UnsupportedMediaType)
            );
        }
        assert_eq!(
            kind(&Method::POST, &[JSON, JSON]),
            Some(UnsupportedMediaType)
        );
        for ce in ["gzip", "identity, gzip", "br"] {
            assert_eq!(
                kind(&Method::POST, &[JSON, ("content-encoding", ce)]),
                Some(UnsupportedEncoding)
            );
        }
        assert_eq!(
            kind(&Method::POST, &[JSON, ("content-length", "101")]),
            Some(BodyTooLarge)
        );
        assert_eq!(
            kind(
                &Method::POST,
                &[JSON, ("content-length", "99999999999999999999999")]
            ),
            Some(InvalidHeader)
        );
        assert_eq!(
            kind(&Method::POST, &[JSON, ("content-length", "+5")]),
            Some(InvalidHeader)
        );
        assert_eq!(
            kind(
                &Method::POST,
                &[JSON, ("content-length", "5"), ("content-length", "5")]
            ),
            Some(DuplicateHeader)
        );
    }
}
