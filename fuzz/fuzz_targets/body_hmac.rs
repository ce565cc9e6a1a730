//! `body_hmac`: any header lines and body through the body-HMAC verifier, in each of its
//! forms: `scheme=` `github` (default; `X-Hub-Signature-256: sha256=<hex>`), `slack`
//! (`v0=<hex>` of `v0:ts:body`), `stripe` (`t=…,v1=<hex>,…` of `ts.body`), `shopify`
//! (base64 of the body) or `custom` (`X-Signature: sha256=<base64>` of `ts.body` with an
//! `X-Timestamp` header). Input: the text format of `fuzz/src/lib.rs`.
//!
//! Asserts: no panic; a refusal is a documented kind with status 400/401 and no retry;
//! **sound**: a pass means one signature header (and one all-digit timestamp inside the
//! window where the form has one) carrying exactly the testkit's MAC of the signed content
//! under a configured key; **complete**: a clean request signed with `@sign` passes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vocals_callback::{
    Secret,
    testkit::sign_body_hmac,
    verify::{BodyHmac, Encoding, SignedContent, Verifier, VerifyRequest},
};
use vocals_callback_fuzz::{
    KEY, Message, SIGN, WRONG_KEY, assert_verifier_rejection, in_window, strict_timestamp,
};

const ROTATED: &str = "rotated-body-hmac-key";

/// One form of the scheme: where the signature and timestamp are, and how it is written.
struct Form {
    verifier: BodyHmac,
    header: &'static str,
    /// The timestamp header, for the forms that have one apart.
    ts_header: Option<&'static str>,
    prefix: &'static str,
    encoding: Encoding,
    /// Builds the signed content from the timestamp text and the body.
    content: fn(&str, &[u8]) -> Vec<u8>,
    stripe: bool,
}

fn body_only(_: &str, body: &[u8]) -> Vec<u8> {
    body.to_vec()
}
fn dot(ts: &str, body: &[u8]) -> Vec<u8> {
    [ts.as_bytes(), b".", body].concat()
}
fn slack(ts: &str, body: &[u8]) -> Vec<u8> {
    [b"v0:", ts.as_bytes(), b":", body].concat()
}

fn form(scheme: Option<&str>, key: Secret) -> Option<Form> {
    let rotated = || Secret::new(ROTATED).ok();
    let plain = |verifier: BodyHmac, header, prefix, encoding, ts_header, content| Form {
        verifier,
        header,
        ts_header,
        prefix,
        encoding,
        content,
        stripe: false,
    };
    let form = match scheme.unwrap_or("github") {
        "github" => plain(
            BodyHmac::github(key),
            "x-hub-signature-256",
            "sha256=",
            Encoding::Hex,
            None,
            body_only as fn(&str, &[u8]) -> Vec<u8>,
        ),
        "slack" => plain(
            BodyHmac::slack(key),
            "x-slack-signature",
            "v0=",
            Encoding::Hex,
            Some("x-slack-request-timestamp"),
            slack,
        ),
        "shopify" => plain(
            BodyHmac::shopify(key),
            "x-shopify-hmac-sha256",
            "",
            Encoding::Base64,
            None,
            body_only,
        ),
        "stripe" => Form {
            stripe: true,
            ..plain(
                BodyHmac::stripe(key),
                "stripe-signature",
                "",
                Encoding::Hex,
                None,
                dot,
            )
        },
        "custom" => {
            let verifier = BodyHmac::new("X-Signature", key)
                .ok()?
                .with_timestamp_header("X-Timestamp", SignedContent::TimestampDotBody)
                .ok()?
                .with_encoding(Encoding::Base64)
                .with_prefix("sha256=")
                .ok()?;
            plain(
                verifier,
                "x-signature",
                "sha256=",
                Encoding::Base64,
                Some("x-timestamp"),
                dot,
            )
        }
        _ => return None,
    };
    let verifier = form.verifier.clone().with_key("next", rotated()?).ok()?;
    Some(Form { verifier, ..form })
}

/// The timestamp text of a Stripe header: the value of its first `t=` item.
fn stripe_ts(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(value)
        .ok()?
        .split(',')
        .find_map(|item| item.strip_prefix("t="))
}

fuzz_target!(|data: &[u8]| {
    let msg = Message::parse(data);
    let key = msg.key.unwrap_or(KEY);
    let Ok(secret) = Secret::new(key) else { return };
    let Some(form) = form(msg.scheme, secret) else {
        return;
    };
    let ts_text: Option<String> = match (form.stripe, form.ts_header) {
        (true, _) => msg
            .first(form.header)
            .and_then(stripe_ts)
            .map(str::to_owned),
        (false, Some(name)) => msg
            .first(name)
            .map(|v| String::from_utf8_lossy(v).into_owned()),
        (false, None) => None,
    };
    let sign = |right: bool| {
        let content = (form.content)(ts_text.as_deref().unwrap_or(""), msg.body);
        sign_body_hmac(
            (if right { key } else { WRONG_KEY }).as_bytes(),
            &content,
            form.encoding,
        )
    };
    let (headers, dropped) = msg.header_map(sign);
    let now = msg.now();
    let result = form
        .verifier
        .verify(&VerifyRequest::new(&headers, msg.body, now));
    let tolerance = form.verifier.tolerance();
    match &result {
        Err(rejection) => {
            assert_verifier_rejection(rejection);
            let ts_ok = |t: Option<&str>| {
                t.and_then(|t| strict_timestamp(t.as_bytes()))
                    .is_some_and(|ts| in_window(ts, now, tolerance))
            };
            let signed = match (form.stripe, form.ts_header) {
                (true, _) => msg.first(form.header).is_some_and(|v| {
                    ts_ok(ts_text.as_deref())
                        && v == format!("t={},v1={SIGN}", ts_text.as_deref().unwrap_or(""))
                            .as_bytes()
                }),
                (false, ts_header) => {
                    ts_header.is_none_or(|n| msg.count(n) == 1 && ts_ok(ts_text.as_deref()))
                        && msg.first(form.header)
                            == Some(format!("{}{SIGN}", form.prefix).as_bytes())
                }
            };
            let clean = !dropped && msg.count(form.header) == 1 && signed;
            assert!(
                !clean,
                "a clean signed request was refused: {}",
                rejection.kind()
            );
        }
        Ok(verified) => {
            assert_eq!(headers.get_all(form.header).iter().count(), 1);
            let value = headers[form.header]
                .to_str()
                .expect("visible ASCII signature");
            let ts = if form.stripe {
                let t = value
                    .split(',')
                    .filter_map(|i| i.split_once('='))
                    .filter(|(k, _)| *k == "t")
                    .map(|(_, v)| v)
                    .collect::<Vec<_>>();
                assert_eq!(t.len(), 1, "a Stripe pass without exactly one t=");
                Some(t[0].to_owned())
            } else {
                form.ts_header.map(|n| {
                    assert_eq!(headers.get_all(n).iter().count(), 1);
                    headers[n].to_str().expect("digits").to_owned()
                })
            };
            if let Some(ts) = &ts {
                let n = strict_timestamp(ts.as_bytes())
                    .expect("a pass with a timestamp that is not 1-10 digits");
                assert!(in_window(n, now, tolerance), "a pass outside the window");
            }
            let key = match verified.key_label() {
                Some("default") => key,
                Some("next") => ROTATED,
                other => panic!("unexpected key label {other:?}"),
            };
            let content = (form.content)(ts.as_deref().unwrap_or(""), msg.body);
            let expected = sign_body_hmac(key.as_bytes(), &content, form.encoding);
            // Hex is compared as bytes, so either case of digit passes; base64 is canonical.
            let matches = |mac: &str| match form.encoding {
                Encoding::Hex => mac.to_ascii_lowercase() == expected,
                _ => mac == expected,
            };
            let ok = if form.stripe {
                value
                    .split(',')
                    .filter_map(|i| i.strip_prefix("v1="))
                    .any(matches)
            } else {
                value.strip_prefix(form.prefix).is_some_and(matches)
            };
            assert!(ok, "a pass whose signature is not the MAC");
            assert_eq!(verified.scheme(), BodyHmac::SCHEME);
        }
    }
});
