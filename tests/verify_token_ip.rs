//! `UrlToken` and `IpAllowlist`: which requests pass, which kind refuses the others, and
//! that no query string, CIDR text or `X-Forwarded-For` value reaches a panic.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::UNIX_EPOCH,
};

use http::{HeaderMap, HeaderValue, StatusCode};
use proptest::prelude::*;
use vocals_callback::{
    ConfigErrorKind, RejectionKind, Secret,
    verify::{HeaderCheck, IpAllowlist, UrlToken, Verifier, VerifyRequest},
};

// ---------------------------------------------------------------------------------------
// UrlToken

const TOKEN: &str = "k7Qp2-xV9_tL4~mZ.8";

fn token_verifier() -> UrlToken {
    UrlToken::new("token", Secret::new(TOKEN).unwrap()).unwrap()
}

fn rotating_verifier() -> UrlToken {
    token_verifier()
        .with_token("next", Secret::new("n3xt+t0ken/=").unwrap())
        .unwrap()
}

fn check_query(v: &UrlToken, query: Option<&str>) -> Result<Option<String>, RejectionKind> {
    let headers = HeaderMap::new();
    let req = VerifyRequest::new(&headers, b"{}", UNIX_EPOCH).with_query(query);
    match v.verify(&req) {
        Ok(verified) => {
            assert_eq!(verified.scheme(), "url_token");
            Ok(verified.key_label().map(str::to_owned))
        }
        Err(rejection) => {
            assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
            Err(rejection.kind())
        }
    }
}

#[test]
fn right_token_passes_with_its_label() {
    let v = token_verifier();
    assert_eq!(
        check_query(&v, Some(&format!("token={TOKEN}"))),
        Ok(Some("default".to_owned()))
    );
    // The whole check runs on the headers alone, before any body is read.
    let headers = HeaderMap::new();
    let query = format!("token={TOKEN}");
    let early = VerifyRequest::new(&headers, b"", UNIX_EPOCH).with_query(Some(&query));
    assert!(
        matches!(v.check_headers(&early), Ok(HeaderCheck::Verified(ref p)) if p.key_label() == Some("default")),
        "a URL token needs no body"
    );
    assert_eq!(v.param(), "token");
}

#[test]
fn wrong_token_is_invalid() {
    let v = token_verifier();
    for query in [
        "token=wrong",
        "token=k7Qp2-xV9_tL4~mZ.",
        "token=k7Qp2-xV9_tL4~mZ.88",
        "token=K7Qp2-xV9_tL4~mZ.8",
        "token=%00",
    ] {
        assert_eq!(
            check_query(&v, Some(query)),
            Err(RejectionKind::InvalidToken),
            "{query}"
        );
    }
}

#[test]
fn missing_param_is_missing_token() {
    let v = token_verifier();
    for query in [
        None,
        Some(""),
        Some("other=1"),
        Some("tokens=x&xtoken=y"),
        Some("TOKEN=x"),
    ] {
        assert_eq!(
            check_query(&v, query),
            Err(RejectionKind::MissingToken),
            "{query:?}"
        );
    }
}

#[test]
fn empty_value_is_missing_token() {
    let v = token_verifier();
    assert_eq!(
        check_query(&v, Some("token=")),
        Err(RejectionKind::MissingToken)
    );
    assert_eq!(
        check_query(&v, Some("token")),
        Err(RejectionKind::MissingToken)
    );
    assert_eq!(
        check_query(&v, Some("a=1&token=&b=2")),
        Err(RejectionKind::MissingToken)
    );
}

#[test]
fn percent_encoded_token_is_decoded() {
    let v = rotating_verifier();
    // Every character escaped, in either hex case.
    let escaped: String = TOKEN.bytes().map(|b| format!("%{b:02x}")).collect();
    assert_eq!(
        check_query(&v, Some(&format!("token={escaped}"))),
        Ok(Some("default".to_owned()))
    );
    assert_eq!(
        check_query(&v, Some(&format!("token={}", escaped.to_uppercase()))),
        Ok(Some("default".to_owned()))
    );
    // `+` is a literal plus, not a space.
    assert_eq!(
        check_query(&v, Some("token=n3xt%2Bt0ken%2F%3D")),
        Ok(Some("next".to_owned()))
    );
    assert_eq!(
        check_query(&v, Some("token=n3xt+t0ken/=")),
        Ok(Some("next".to_owned()))
    );
    assert_eq!(
        check_query(&v, Some("token=n3xt%20t0ken/=")),
        Err(RejectionKind::InvalidToken)
    );
}

#[test]
fn malformed_escape_is_invalid_token() {
    let v = token_verifier();
    for query in [
        "token=%",
        "token=abc%4",
        "token=%zz",
        "token=%4g",
        "token=%%",
    ] {
        assert_eq!(
            check_query(&v, Some(query)),
            Err(RejectionKind::InvalidToken),
            "{query}"
        );
    }
}

#[test]
fn repeated_param_is_invalid_token() {
    let v = token_verifier();
    for query in [
        format!("token={TOKEN}&token={TOKEN}"),
        format!("token={TOKEN}&token=wrong"),
        format!("token=wrong&token={TOKEN}"),
        format!("token=&token={TOKEN}"),
        format!("token&token={TOKEN}"),
    ] {
        assert_eq!(
            check_query(&v, Some(&query)),
            Err(RejectionKind::InvalidToken),
            "{query}"
        );
    }
}

#[test]
fn other_params_around_it_are_ignored() {
    let v = token_verifier();
    for query in [
        format!("a=1&token={TOKEN}&b=2"),
        format!("token={TOKEN}&callbackType=complete"),
        format!("x=%zz&token={TOKEN}&=&&y"),
        format!("&token={TOKEN}&"),
        format!("tokenx={TOKEN}x&token={TOKEN}&xtoken=1"),
    ] {
        assert_eq!(
            check_query(&v, Some(&query)),
            Ok(Some("default".to_owned())),
            "{query}"
        );
    }
}

#[test]
fn rotation_reports_each_tokens_label() {
    let v = rotating_verifier()
        .with_token("third", Secret::new("third-token").unwrap())
        .unwrap();
    assert_eq!(
        check_query(&v, Some(&format!("token={TOKEN}"))),
        Ok(Some("default".to_owned()))
    );
    assert_eq!(
        check_query(&v, Some("token=n3xt%2Bt0ken%2F%3D")),
        Ok(Some("next".to_owned()))
    );
    assert_eq!(
        check_query(&v, Some("token=third-token")),
        Ok(Some("third".to_owned()))
    );
    assert_eq!(
        check_query(&v, Some("token=fourth")),
        Err(RejectionKind::InvalidToken)
    );
}

#[test]
fn debug_has_no_token_text() {
    let v = rotating_verifier();
    let debug = format!("{v:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
    assert!(!debug.contains("n3xt"), "{debug}");
    assert!(debug.contains("token"));
    assert!(
        debug.contains("default") && debug.contains("next"),
        "{debug}"
    );
}

#[test]
fn url_token_config_errors() {
    let secret = || Secret::new(TOKEN).unwrap();
    assert_eq!(
        UrlToken::new("", secret()).unwrap_err().kind(),
        ConfigErrorKind::InvalidName
    );
    assert_eq!(
        UrlToken::new("to ken", secret()).unwrap_err().kind(),
        ConfigErrorKind::InvalidName
    );
    assert_eq!(
        UrlToken::new("tok&en", secret()).unwrap_err().kind(),
        ConfigErrorKind::InvalidName
    );
    assert_eq!(
        Secret::new("").unwrap_err().kind(),
        ConfigErrorKind::EmptySecret
    );
    assert_eq!(
        Secret::new(" token").unwrap_err().kind(),
        ConfigErrorKind::PaddedSecret
    );
    assert_eq!(
        token_verifier()
            .with_token("default", secret())
            .unwrap_err()
            .kind(),
        ConfigErrorKind::DuplicateLabel
    );
}

// ---------------------------------------------------------------------------------------
// IpAllowlist

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn check_peer(v: &IpAllowlist, peer: Option<&str>, xff: &[&str]) -> Result<(), RejectionKind> {
    let mut headers = HeaderMap::new();
    for line in xff {
        headers.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
    }
    check_with_headers(v, peer.map(ip), &headers)
}

fn check_with_headers(
    v: &IpAllowlist,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> Result<(), RejectionKind> {
    let req = VerifyRequest::new(headers, b"{}", UNIX_EPOCH).with_peer(peer);
    match v.verify(&req) {
        Ok(verified) => {
            assert_eq!(verified.scheme(), "ip_allowlist");
            assert_eq!(verified.key_label(), None);
            Ok(())
        }
        Err(rejection) => {
            assert_eq!(rejection.status(), StatusCode::FORBIDDEN);
            Err(rejection.kind())
        }
    }
}

const DENIED: Result<(), RejectionKind> = Err(RejectionKind::PeerNotAllowed);

fn allowlist() -> IpAllowlist {
    IpAllowlist::new(["203.0.113.0/24", "2001:db8::/32"]).unwrap()
}

fn proxied() -> IpAllowlist {
    allowlist()
        .with_trusted_proxies(["10.0.0.0/8", "fd00::/8"])
        .unwrap()
}

#[test]
fn v4_inside_and_outside() {
    let v = allowlist();
    let headers = HeaderMap::new();
    let early = VerifyRequest::new(&headers, b"", UNIX_EPOCH)
        .with_peer(Some("203.0.113.7".parse().unwrap()));
    assert!(
        matches!(v.check_headers(&early), Ok(HeaderCheck::Verified(_))),
        "an allowlist needs no body"
    );
    assert_eq!(check_peer(&v, Some("203.0.113.7"), &[]), Ok(()));
    assert_eq!(check_peer(&v, Some("203.0.114.7"), &[]), DENIED);
    assert_eq!(check_peer(&v, Some("198.51.100.7"), &[]), DENIED);
}

#[test]
fn v6_inside_and_outside() {
    let v = allowlist();
    assert_eq!(check_peer(&v, Some("2001:db8:1234::7"), &[]), Ok(()));
    assert_eq!(check_peer(&v, Some("2001:db9::7"), &[]), DENIED);
    assert_eq!(check_peer(&v, Some("::1"), &[]), DENIED);
}

#[test]
fn first_and_last_address_of_a_range() {
    let v = allowlist();
    assert_eq!(check_peer(&v, Some("203.0.113.0"), &[]), Ok(()));
    assert_eq!(check_peer(&v, Some("203.0.113.255"), &[]), Ok(()));
    assert_eq!(check_peer(&v, Some("203.0.112.255"), &[]), DENIED);
    assert_eq!(check_peer(&v, Some("203.0.114.0"), &[]), DENIED);
    assert_eq!(check_peer(&v, Some("2001:db8::"), &[]), Ok(()));
    assert_eq!(
        check_peer(&v, Some("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), &[]),
        Ok(())
    );
    assert_eq!(
        check_peer(&v, Some("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"), &[]),
        DENIED
    );
    assert_eq!(check_peer(&v, Some("2001:db9::"), &[]), DENIED);
}

#[test]
fn prefix_edges() {
    let all_v4 = IpAllowlist::new(["0.0.0.0/0"]).unwrap();
    assert_eq!(check_peer(&all_v4, Some("0.0.0.0"), &[]), Ok(()));
    assert_eq!(check_peer(&all_v4, Some("255.255.255.255"), &[]), Ok(()));
    assert_eq!(check_peer(&all_v4, Some("2001:db8::1"), &[]), DENIED);

    let all_v6 = IpAllowlist::new(["::/0"]).unwrap();
    assert_eq!(check_peer(&all_v6, Some("::"), &[]), Ok(()));
    assert_eq!(check_peer(&all_v6, Some("ffff::1"), &[]), Ok(()));

    for one in [
        IpAllowlist::new(["198.51.100.7/32"]).unwrap(),
        IpAllowlist::new(["198.51.100.7"]).unwrap(),
    ] {
        assert_eq!(check_peer(&one, Some("198.51.100.7"), &[]), Ok(()));
        assert_eq!(check_peer(&one, Some("198.51.100.6"), &[]), DENIED);
        assert_eq!(check_peer(&one, Some("198.51.100.8"), &[]), DENIED);
    }
    for one in [
        IpAllowlist::new(["2001:db8::7/128"]).unwrap(),
        IpAllowlist::new(["2001:db8::7"]).unwrap(),
    ] {
        assert_eq!(check_peer(&one, Some("2001:db8::7"), &[]), Ok(()));
        assert_eq!(check_peer(&one, Some("2001:db8::6"), &[]), DENIED);
        assert_eq!(check_peer(&one, Some("2001:db8::8"), &[]), DENIED);
    }
}

#[test]
fn mapped_v6_peer_matches_v4_cidr() {
    let v = allowlist();
    assert_eq!(check_peer(&v, Some("::ffff:203.0.113.7"), &[]), Ok(()));
    assert_eq!(check_peer(&v, Some("::ffff:198.51.100.7"), &[]), DENIED);
    // And a mapped CIDR in the list matches plain IPv4 peers.
    let mapped = IpAllowlist::new(["::ffff:198.51.100.0/120"]).unwrap();
    assert_eq!(check_peer(&mapped, Some("198.51.100.9"), &[]), Ok(()));
    assert_eq!(
        check_peer(&mapped, Some("::ffff:198.51.100.9"), &[]),
        Ok(())
    );
    assert_eq!(check_peer(&mapped, Some("198.51.101.9"), &[]), DENIED);
    // Mapped entries in X-Forwarded-For are canonicalised too.
    let v = proxied();
    assert_eq!(
        check_peer(&v, Some("10.0.0.1"), &["::ffff:203.0.113.7"]),
        Ok(())
    );
    assert_eq!(
        check_peer(
            &v,
            Some("::ffff:10.0.0.1"),
            &["203.0.113.7, ::ffff:10.1.1.1"]
        ),
        Ok(())
    );
}

#[test]
fn untrusted_peer_with_spoofed_xff_is_judged_by_the_peer() {
    // No trusted proxy at all.
    let v = allowlist();
    assert_eq!(
        check_peer(&v, Some("198.51.100.7"), &["203.0.113.7"]),
        DENIED
    );
    assert_eq!(
        check_peer(&v, Some("203.0.113.7"), &["198.51.100.7"]),
        Ok(())
    );
    // Trusted proxies, but the peer is not one of them.
    let v = proxied();
    assert_eq!(
        check_peer(&v, Some("198.51.100.7"), &["203.0.113.7"]),
        DENIED
    );
    assert_eq!(check_peer(&v, Some("198.51.100.7"), &["garbage"]), DENIED);
    assert_eq!(check_peer(&v, Some("203.0.113.7"), &["garbage"]), Ok(()));
    assert_eq!(
        check_peer(&v, Some("203.0.113.7"), &["198.51.100.7"]),
        Ok(())
    );
}

#[test]
fn trusted_proxy_with_xff_client_inside_and_outside() {
    let v = proxied();
    assert_eq!(check_peer(&v, Some("10.0.0.2"), &["203.0.113.7"]), Ok(()));
    assert_eq!(check_peer(&v, Some("10.0.0.2"), &["2001:db8::7"]), Ok(()));
    assert_eq!(check_peer(&v, Some("10.0.0.2"), &["198.51.100.7"]), DENIED);
    assert_eq!(check_peer(&v, Some("fd00::2"), &["198.51.100.7"]), DENIED);
    assert_eq!(check_peer(&v, Some("fd00::2"), &["203.0.113.7"]), Ok(()));
}

#[test]
fn trusted_proxy_without_xff_judges_the_peer() {
    let v = proxied();
    assert_eq!(check_peer(&v, Some("10.0.0.2"), &[]), DENIED);
    assert_eq!(check_peer(&v, Some("10.0.0.2"), &[""]), DENIED);
    let v = IpAllowlist::new(["10.0.0.0/8"])
        .unwrap()
        .with_trusted_proxies(["10.0.0.2"])
        .unwrap();
    assert_eq!(check_peer(&v, Some("10.0.0.2"), &[]), Ok(()));
    assert_eq!(check_peer(&v, Some("10.0.0.2"), &[" , "]), Ok(()));
}

#[test]
fn chain_of_two_trusted_proxies_read_right_to_left() {
    let v = proxied();
    // client -> 10.1.1.1 (edge) -> 10.0.0.2 (peer)
    assert_eq!(
        check_peer(&v, Some("10.0.0.2"), &["203.0.113.7, 10.1.1.1"]),
        Ok(())
    );
    assert_eq!(
        check_peer(&v, Some("10.0.0.2"), &["198.51.100.7, 10.1.1.1"]),
        DENIED
    );
    assert_eq!(
        check_peer(&v, Some("10.0.0.2"), &["203.0.113.7, fd00::9, 10.1.1.1"]),
        Ok(())
    );
    // Every entry trusted: the leftmost is the client.
    assert_eq!(
        check_peer(&v, Some("10.0.0.2"), &["10.9.9.9, 10.1.1.1"]),
        DENIED
    );
    let v = IpAllowlist::new(["10.9.9.9"])
        .unwrap()
        .with_trusted_proxies(["10.0.0.0/8"])
        .unwrap();
    assert_eq!(
        check_peer(&v, Some("10.0.0.2"), &["10.9.9.9, 10.1.1.1"]),
        Ok(())
    );
    assert_eq!(
        check_peer(&v, Some("10.0.0.2"), &["10.1.1.1, 10.9.9.9"]),
        DENIED
    );
}

#[test]
fn spoofed_leftmost_entries_are_ignored() {
    let v = proxied();
    // The client sent `XFF: 203.0.113.7` (allowed) and the proxy appended its real address.
    assert_eq!(
        check_peer(&v, Some("10.0.0.2"), &["203.0.113.7, 198.51.100.66"]),
        DENIED
    );
    // The same through two proxies.
    assert_eq!(
        check_peer(
            &v,
            Some("10.0.0.2"),
            &["203.0.113.7, 198.51.100.66, 10.1.1.1"]
        ),
        DENIED
    );
    // Garbage to the left of the real client is never read.
    assert_eq!(
        check_peer(&v, Some("10.0.0.2"), &["not an address, 203.0.113.7"]),
        Ok(())
    );
    let mut headers = HeaderMap::new();
    headers.append(
        "x-forwarded-for",
        HeaderValue::from_bytes(b"\xff\xfe, 10.9.9.9").unwrap(),
    );
    headers.append("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
    assert_eq!(
        check_with_headers(&v, Some(ip("10.0.0.2")), &headers),
        Ok(())
    );
}

#[test]
fn multiple_xff_header_lines_are_joined_in_order() {
    let v = proxied();
    assert_eq!(
        check_peer(&v, Some("10.0.0.2"), &["198.51.100.66", "203.0.113.7"]),
        Ok(())
    );
    assert_eq!(
        check_peer(&v, Some("10.0.0.2"), &["203.0.113.7", "198.51.100.66"]),
        DENIED
    );
    assert_eq!(
        check_peer(
            &v,
            Some("10.0.0.2"),
            &["198.51.100.66, 203.0.113.7", "10.1.1.1", "fd00::3"]
        ),
        Ok(())
    );
    assert_eq!(
        check_peer(
            &v,
            Some("10.0.0.2"),
            &["203.0.113.7, 198.51.100.66", "10.1.1.1"]
        ),
        DENIED
    );
}

#[test]
fn malformed_xff_entry_where_the_client_is_expected_is_refused() {
    let v = proxied();
    for line in [
        "garbage",
        "unknown",
        "203.0.113.7, garbage",
        "203.0.113.7, garbage, 10.1.1.1",
        "203.0.113.7 10.1.1.1",
        "203.0.113.7;10.1.1.1",
        "203.0.113.7:99999",
        "for=203.0.113.7",
        "203.0.113.300",
    ] {
        assert_eq!(check_peer(&v, Some("10.0.0.2"), &[line]), DENIED, "{line}");
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_bytes(b"203.0.113.\xff").unwrap(),
    );
    assert_eq!(
        check_with_headers(&v, Some(ip("10.0.0.2")), &headers),
        DENIED
    );
}

#[test]
fn xff_entries_with_ports_and_brackets() {
    let v = proxied();
    for line in [
        "203.0.113.7:1234",
        "[2001:db8::1]:443",
        "[2001:db8::1]",
        "203.0.113.7, 10.1.1.1:80",
        "203.0.113.7, [fd00::1]:8080",
    ] {
        assert_eq!(check_peer(&v, Some("10.0.0.2"), &[line]), Ok(()), "{line}");
    }
    assert_eq!(
        check_peer(&v, Some("10.0.0.2"), &["198.51.100.7:1234"]),
        DENIED
    );
}

#[test]
fn whitespace_around_entries() {
    let v = proxied();
    for line in [
        " 203.0.113.7 ",
        "\t203.0.113.7\t",
        "198.51.100.1 ,  203.0.113.7 ,\t10.1.1.1  ",
        "203.0.113.7,10.1.1.1",
        "203.0.113.7, , 10.1.1.1",
        "203.0.113.7,,",
    ] {
        assert_eq!(
            check_peer(&v, Some("10.0.0.2"), &[line]),
            Ok(()),
            "{line:?}"
        );
    }
}

#[test]
fn no_peer_is_refused() {
    assert_eq!(check_peer(&allowlist(), None, &[]), DENIED);
    assert_eq!(check_peer(&proxied(), None, &["203.0.113.7"]), DENIED);
    let everything = IpAllowlist::new(["0.0.0.0/0", "::/0"]).unwrap();
    assert_eq!(check_peer(&everything, None, &[]), DENIED);
}

#[test]
fn ip_allowlist_config_errors() {
    let kind = |list: &[&str]| IpAllowlist::new(list.iter().copied()).unwrap_err().kind();
    assert_eq!(kind(&["not a cidr"]), ConfigErrorKind::InvalidCidr);
    assert_eq!(
        kind(&["203.0.113.0/24", "203.0.113.0/33"]),
        ConfigErrorKind::InvalidCidr
    );
    assert_eq!(kind(&["2001:db8::/129"]), ConfigErrorKind::InvalidCidr);
    assert_eq!(kind(&["203.0.113.7/24"]), ConfigErrorKind::InvalidCidr);
    assert_eq!(kind(&["203.0.113.0/x"]), ConfigErrorKind::InvalidCidr);
    assert_eq!(kind(&["203.0.113.0/24 "]), ConfigErrorKind::InvalidCidr);
    assert_eq!(kind(&[]), ConfigErrorKind::Empty);
    assert_eq!(
        allowlist()
            .with_trusted_proxies(["10.0.0.0/6"])
            .unwrap_err()
            .kind(),
        ConfigErrorKind::InvalidCidr
    );
    assert_eq!(
        allowlist()
            .with_trusted_proxies(std::iter::empty::<&str>())
            .unwrap_err()
            .kind(),
        ConfigErrorKind::Empty
    );
}

#[test]
fn ip_allowlist_debug_lists_networks() {
    let debug = format!("{:?}", proxied());
    assert!(debug.contains("203.0.113.0/24"), "{debug}");
    assert!(debug.contains("2001:db8::/32"), "{debug}");
    assert!(debug.contains("10.0.0.0/8"), "{debug}");
}

// ---------------------------------------------------------------------------------------
// Properties

/// An address and a prefix, as a CIDR whose host bits are cleared, plus an address inside
/// and one outside (a bit within the prefix flipped).
#[derive(Debug)]
struct Case {
    cidr: String,
    inside: IpAddr,
    outside: Option<IpAddr>,
}

fn v4_case() -> impl Strategy<Value = Case> {
    (any::<u32>(), 0u8..=32, any::<u32>(), any::<u32>()).prop_map(|(base, prefix, host, flip)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        let net = base & mask;
        let inside = net | (host & !mask);
        let outside = (prefix > 0).then(|| inside ^ (1u32 << (31 - flip % u32::from(prefix))));
        Case {
            cidr: format!("{}/{prefix}", Ipv4Addr::from(net)),
            inside: IpAddr::V4(Ipv4Addr::from(inside)),
            outside: outside.map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        }
    })
}

fn v6_case() -> impl Strategy<Value = Case> {
    (any::<u128>(), 0u8..=128, any::<u128>(), any::<u32>()).prop_map(
        |(base, prefix, host, flip)| {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            let net = base & mask;
            let inside = net | (host & !mask);
            let outside =
                (prefix > 0).then(|| inside ^ (1u128 << (127 - flip % u32::from(prefix))));
            Case {
                cidr: format!("{}/{prefix}", Ipv6Addr::from(net)),
                inside: IpAddr::V6(Ipv6Addr::from(inside)),
                outside: outside.map(|o| IpAddr::V6(Ipv6Addr::from(o))),
            }
        },
    )
}

proptest! {
    #[test]
    fn inside_passes_and_outside_fails(case in prop_oneof![v4_case(), v6_case()]) {
        let v = IpAllowlist::new([case.cidr.as_str()]).unwrap();
        let headers = HeaderMap::new();
        prop_assert_eq!(check_with_headers(&v, Some(case.inside), &headers), Ok(()));
        if let Some(outside) = case.outside {
            prop_assert_eq!(check_with_headers(&v, Some(outside), &headers), DENIED);
        }
        // The same client through a trusted proxy.
        let v = v.with_trusted_proxies(["10.255.255.254", "fd00::fe"]).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(&case.inside.to_string()).unwrap());
        let proxy = Some(ip("10.255.255.254"));
        let client_is_proxy = case.inside.to_canonical() == ip("10.255.255.254")
            || case.inside == ip("fd00::fe");
        if !client_is_proxy {
            prop_assert_eq!(check_with_headers(&v, proxy, &headers), Ok(()));
        }
    }

    #[test]
    fn cidr_parsing_never_panics(text in any::<String>()) {
        let _ = IpAllowlist::new([text.as_str()]);
        let _ = allowlist().with_trusted_proxies([text.as_str()]);
    }

    #[test]
    fn cidr_like_text_never_panics(text in "[0-9a-fA-F:.%/\\[\\]+-]{0,48}") {
        let _ = IpAllowlist::new([text.as_str()]);
    }

    #[test]
    fn arbitrary_xff_values_never_panic(
        lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..4),
        structured in "[0-9a-f:.,\\[\\] \t]{0,80}",
    ) {
        let v = proxied();
        let mut headers = HeaderMap::new();
        for line in &lines {
            if let Ok(value) = HeaderValue::from_bytes(line) {
                headers.append("x-forwarded-for", value);
            }
        }
        if let Ok(value) = HeaderValue::from_str(&structured) {
            headers.append("x-forwarded-for", value);
        }
        for peer in [ip("10.0.0.2"), ip("fd00::2"), ip("203.0.113.7")] {
            let req = VerifyRequest::new(&headers, b"", UNIX_EPOCH).with_peer(Some(peer));
            if let Err(rejection) = v.verify(&req) {
                prop_assert_eq!(rejection.kind(), RejectionKind::PeerNotAllowed);
            }
        }
    }

    #[test]
    fn arbitrary_queries_never_panic(query in any::<String>(), structured in "[a-z%0-9A-F&=+]{0,60}") {
        let v = rotating_verifier();
        for q in [query.as_str(), structured.as_str()] {
            let headers = HeaderMap::new();
            let req = VerifyRequest::new(&headers, b"", UNIX_EPOCH).with_query(Some(q));
            if let Err(rejection) = v.verify(&req) {
                prop_assert!(matches!(
                    rejection.kind(),
                    RejectionKind::MissingToken | RejectionKind::InvalidToken
                ));
            }
        }
    }
}
