//! Allowing callbacks only from listed networks, through trusted proxies.

use std::{
    fmt,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    str::FromStr,
};

use http::{Extensions, HeaderMap, HeaderName};

use super::{HeaderCheck, Verified, Verifier, VerifyRequest};
use crate::{
    config::{ConfigError, ConfigErrorKind},
    rejection::{Rejection, RejectionKind},
};

/// Verifies that the callback's client address is inside one of the allowed networks.
///
/// # Networks
///
/// [`new`](Self::new) takes CIDRs in the usual text form: `203.0.113.0/24`,
/// `2001:db8::/32`, or a bare address (`198.51.100.7`, `2001:db8::1`), which is a `/32` or
/// `/128`. A CIDR with host bits set (`203.0.113.7/24`) is **refused**
/// ([`InvalidCidr`](ConfigErrorKind::InvalidCidr)): it usually means a single address was
/// meant, and silently widening it to the whole `/24` would allow 255 addresses nobody
/// asked for. Write `203.0.113.0/24` or `203.0.113.7/32`. Whitespace, zone ids (`%eth0`)
/// and prefixes with a sign are refused too.
///
/// IPv4-mapped IPv6 addresses (`::ffff:203.0.113.7`, which a dual-stack socket reports for
/// IPv4 clients) are treated as the IPv4 address they carry, in the list
/// (`::ffff:203.0.113.0/120` is `203.0.113.0/24`) and for clients alike. An IPv6 network that
/// contains the mapped range (`::/0`, `::/64`) also contains every IPv4 client.
///
/// # The peer address
///
/// The verifier needs the TCP peer's address, passed with
/// [`VerifyRequest::with_peer`]. **Without one, every request is refused**
/// (`peer_not_allowed`, 403): the service must supply it. A server usually stores it in the
/// request's extensions; [`peer_from_extensions`] reads a [`SocketAddr`] or an [`IpAddr`]
/// stored there. With a server of your own (hyper-util, a custom accept loop), insert the
/// connection's `SocketAddr` into each request's extensions. With axum, serve with
/// `app.into_make_service_with_connect_info::<SocketAddr>()`, which stores a
/// `ConnectInfo<SocketAddr>`: a type this crate cannot name without depending on axum, so
/// copy it into the extensions with one middleware:
///
/// ```text
/// use axum::{extract::{ConnectInfo, Request}, middleware::map_request};
/// let app = app.layer(map_request(
///     |ConnectInfo(addr): ConnectInfo<SocketAddr>, mut req: Request| async move {
///         req.extensions_mut().insert(addr);
///         req
///     },
/// ));
/// ```
///
/// # Proxies
///
/// Behind a reverse proxy or load balancer the TCP peer is the proxy. List the proxies with
/// [`with_trusted_proxies`](Self::with_trusted_proxies); then, and only when the peer is one
/// of them, `X-Forwarded-For` is read:
///
/// - all `X-Forwarded-For` header lines are joined in order into one list (several lines
///   are legal and mean the same as one comma-separated line), read **right to left**;
/// - entries that are trusted proxies are skipped; the first entry that is not is the
///   client, and the allowlist judges it. Entries to its left are never read: they are
///   whatever the client sent, and a client can write anything there;
/// - an entry that is not an address where the client's address was expected is refused
///   (`peer_not_allowed`); empty entries (`a, , b`) are skipped, as HTTP lists allow;
/// - an entry may carry a port (`203.0.113.7:1234`, `[2001:db8::1]:443`) or brackets
///   (`[2001:db8::1]`), which some load balancers add; the port is ignored;
/// - if every entry is a trusted proxy, the leftmost is the client; if there are no entries
///   at all, the peer itself is the client.
///
/// When the peer is not a trusted proxy, `X-Forwarded-For` is ignored entirely: the peer is
/// the client, so a client cannot claim another address by sending the header itself. Only
/// `X-Forwarded-For` is read (not `Forwarded` or `X-Real-IP`).
///
/// ```
/// use std::{net::IpAddr, time::UNIX_EPOCH};
/// use http::HeaderMap;
/// use vocals_callback::{RejectionKind, verify::{IpAllowlist, Verifier, VerifyRequest}};
///
/// let verifier = IpAllowlist::new(["203.0.113.0/24", "2001:db8::/32"])?
///     .with_trusted_proxies(["10.0.0.0/8"])?;
///
/// // Straight from the provider.
/// let headers = HeaderMap::new();
/// let peer: IpAddr = "203.0.113.7".parse()?;
/// let req = VerifyRequest::new(&headers, b"{}", UNIX_EPOCH).with_peer(Some(peer));
/// assert_eq!(verifier.verify(&req)?.scheme(), "ip_allowlist");
///
/// // Through the load balancer at 10.0.0.2, which appended the real client address.
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "203.0.113.99, 198.51.100.4".parse()?);
/// let proxy: IpAddr = "10.0.0.2".parse()?;
/// let req = VerifyRequest::new(&headers, b"{}", UNIX_EPOCH).with_peer(Some(proxy));
/// let err = verifier.verify(&req).unwrap_err();
/// assert_eq!(err.kind(), RejectionKind::PeerNotAllowed); // 198.51.100.4 is judged
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct IpAllowlist {
    allowed: Vec<Net>,
    trusted: Vec<Net>,
}

impl IpAllowlist {
    /// The scheme name reported in [`Verified::scheme`].
    pub const SCHEME: &'static str = "ip_allowlist";
    /// `X-Forwarded-For`, read only when the peer is a trusted proxy.
    pub const FORWARDED_FOR_HEADER: HeaderName = HeaderName::from_static("x-forwarded-for");

    /// An allowlist of the networks in `cidrs`, with no trusted proxy.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] of kind [`InvalidCidr`](ConfigErrorKind::InvalidCidr) for a CIDR
    /// that does not parse, has a prefix longer than the address (`/33` for IPv4, `/129` for
    /// IPv6) or has host bits set; [`Empty`](ConfigErrorKind::Empty) for no CIDR at all.
    pub fn new<'a, I: IntoIterator<Item = &'a str>>(cidrs: I) -> Result<Self, ConfigError> {
        Ok(Self {
            allowed: parse_list(cidrs)?,
            trusted: Vec::new(),
        })
    }

    /// Sets the networks of the proxies whose `X-Forwarded-For` is believed (replacing any
    /// set before).
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new).
    pub fn with_trusted_proxies<'a, I: IntoIterator<Item = &'a str>>(
        mut self,
        cidrs: I,
    ) -> Result<Self, ConfigError> {
        self.trusted = parse_list(cidrs)?;
        Ok(self)
    }

    /// The address the allowlist judges: the peer, or the client behind trusted proxies.
    fn client(&self, peer: IpAddr, headers: &HeaderMap) -> Result<IpAddr, Rejection> {
        if !contains_any(&self.trusted, peer) {
            return Ok(peer);
        }
        let mut leftmost = peer;
        for line in headers.get_all(&Self::FORWARDED_FOR_HEADER).iter().rev() {
            for entry in line.as_bytes().rsplit(|&b| b == b',') {
                let entry = entry.trim_ascii();
                if entry.is_empty() {
                    continue;
                }
                let addr = parse_entry(entry)
                    .ok_or(Rejection::new(RejectionKind::PeerNotAllowed))?
                    .to_canonical();
                if !contains_any(&self.trusted, addr) {
                    return Ok(addr);
                }
                leftmost = addr;
            }
        }
        Ok(leftmost)
    }
}

impl Verifier for IpAllowlist {
    fn verify(&self, req: &VerifyRequest<'_>) -> Result<Verified, Rejection> {
        let denied = || Rejection::new(RejectionKind::PeerNotAllowed);
        let peer = req.peer().ok_or_else(denied)?.to_canonical();
        let client = self.client(peer, req.headers())?;
        if contains_any(&self.allowed, client) {
            Ok(Verified::new(Self::SCHEME, None))
        } else {
            Err(denied())
        }
    }

    fn check_headers(&self, req: &VerifyRequest<'_>) -> Result<HeaderCheck, Rejection> {
        // Needs nothing from the body: the whole check runs before it is read.
        self.verify(req).map(HeaderCheck::Verified)
    }
}

impl fmt::Debug for IpAllowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpAllowlist")
            .field("allowed", &self.allowed)
            .field("trusted_proxies", &self.trusted)
            .finish()
    }
}

/// The peer address a server stored in the request's extensions: a [`SocketAddr`] (its IP)
/// or, failing that, an [`IpAddr`]. `None` when neither is there.
///
/// axum's `ConnectInfo<SocketAddr>` is a type of its own and is not read here; see
/// [`IpAllowlist`] for the one-line middleware that copies it into the extensions. A server
/// of your own can `extensions_mut().insert(socket_addr)`.
///
/// ```
/// use std::net::{IpAddr, SocketAddr};
/// use vocals_callback::verify::peer_from_extensions;
///
/// let mut ext = http::Extensions::new();
/// assert_eq!(peer_from_extensions(&ext), None);
/// ext.insert("203.0.113.7:50123".parse::<SocketAddr>()?);
/// assert_eq!(peer_from_extensions(&ext), Some("203.0.113.7".parse::<IpAddr>()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn peer_from_extensions(ext: &Extensions) -> Option<IpAddr> {
    ext.get::<SocketAddr>()
        .map(SocketAddr::ip)
        .or_else(|| ext.get::<IpAddr>().copied())
}

/// One network, canonical: IPv4-mapped IPv6 networks are stored as IPv4, and no host bit
/// is set.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Net {
    V4 { addr: u32, prefix: u8 },
    V6 { addr: u128, prefix: u8 },
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl Net {
    /// Whether `ip` (canonical) is inside.
    fn contains(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Self::V4 { addr, prefix }, IpAddr::V4(ip)) => {
                (u32::from(ip) ^ addr) & mask32(prefix) == 0
            }
            (Self::V6 { addr, prefix }, IpAddr::V6(ip)) => {
                (u128::from(ip) ^ addr) & mask128(prefix) == 0
            }
            (Self::V6 { addr, prefix }, IpAddr::V4(ip)) => {
                (u128::from(ip.to_ipv6_mapped()) ^ addr) & mask128(prefix) == 0
            }
            (Self::V4 { .. }, IpAddr::V6(_)) => false,
        }
    }
}

impl FromStr for Net {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, ConfigError> {
        let invalid = |detail| ConfigError::new(ConfigErrorKind::InvalidCidr, detail);
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr = IpAddr::from_str(addr_text).map_err(|_| invalid("a CIDR does not parse"))?;
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) if (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or(invalid("a CIDR prefix is longer than its address"))?,
            Some(_) => return Err(invalid("a CIDR prefix is not a number")),
        };
        let net = match addr {
            IpAddr::V4(a) => Self::V4 {
                addr: u32::from(a),
                prefix,
            },
            IpAddr::V6(a) => Self::V6 {
                addr: u128::from(a),
                prefix,
            },
        };
        let host_bits = match net {
            Self::V4 { addr, prefix } => addr & !mask32(prefix) != 0,
            Self::V6 { addr, prefix } => addr & !mask128(prefix) != 0,
        };
        if host_bits {
            return Err(invalid("a CIDR has host bits set"));
        }
        // With no host bits set, a mapped address has a prefix of at least 96.
        Ok(match (addr, net) {
            (IpAddr::V6(a), Self::V6 { prefix, .. }) => match a.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => Self::V4 {
                    addr: u32::from(v4),
                    prefix: prefix - 96,
                },
                _ => net,
            },
            _ => net,
        })
    }
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::V4 { addr, prefix } => {
                write!(f, "{}/{prefix}", std::net::Ipv4Addr::from(addr))
            }
            Self::V6 { addr, prefix } => write!(f, "{}/{prefix}", Ipv6Addr::from(addr)),
        }
    }
}

fn parse_list<'a, I: IntoIterator<Item = &'a str>>(cidrs: I) -> Result<Vec<Net>, ConfigError> {
    let nets = cidrs
        .into_iter()
        .map(Net::from_str)
        .collect::<Result<Vec<_>, _>>()?;
    if nets.is_empty() {
        return Err(ConfigError::new(
            ConfigErrorKind::Empty,
            "an address list has no CIDR",
        ));
    }
    Ok(nets)
}

fn contains_any(nets: &[Net], ip: IpAddr) -> bool {
    nets.iter().any(|n| n.contains(ip))
}

/// One `X-Forwarded-For` entry, trimmed: an address, `v4:port`, `[v6]` or `[v6]:port`.
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?;
    if let Ok(ip) = IpAddr::from_str(text) {
        return Some(ip);
    }
    if let Ok(sock) = SocketAddr::from_str(text) {
        return Some(sock.ip());
    }
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    Ipv6Addr::from_str(inner).ok().map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Net {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_and_canonicalises() {
        assert_eq!(format!("{:?}", net("203.0.113.0/24")), "203.0.113.0/24");
        assert_eq!(format!("{:?}", net("198.51.100.7")), "198.51.100.7/32");
        assert_eq!(format!("{:?}", net("2001:db8::/32")), "2001:db8::/32");
        assert_eq!(format!("{:?}", net("2001:db8::1")), "2001:db8::1/128");
        assert_eq!(
            format!("{:?}", net("::ffff:203.0.113.0/120")),
            "203.0.113.0/24"
        );
        assert_eq!(format!("{:?}", net("::ffff:203.0.113.7")), "203.0.113.7/32");
        assert_eq!(format!("{:?}", net("::ffff:0.0.0.0/96")), "0.0.0.0/0");
        assert_eq!(format!("{:?}", net("0.0.0.0/0")), "0.0.0.0/0");
        assert_eq!(format!("{:?}", net("::/0")), "::/0");
    }

    #[test]
    fn refuses_bad_text() {
        for bad in [
            "",
            "/",
            "/24",
            "203.0.113.0/",
            "203.0.113.0/33",
            "2001:db8::/129",
            "203.0.113.7/24",
            "2001:db8::1/32",
            "::ffff:1.2.3.4/80",
            "203.0.113.0/+24",
            "203.0.113.0/-1",
            "203.0.113.0/0024",
            "203.0.113.0/24/8",
            " 203.0.113.0/24",
            "203.0.113.0 /24",
            "fe80::1%eth0",
            "203.0.113",
            "example.com",
        ] {
            assert_eq!(
                bad.parse::<Net>().unwrap_err().kind(),
                ConfigErrorKind::InvalidCidr,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn masks_at_the_edges() {
        assert_eq!(mask32(0), 0);
        assert_eq!(mask32(32), u32::MAX);
        assert_eq!(mask32(24), 0xffff_ff00);
        assert_eq!(mask128(0), 0);
        assert_eq!(mask128(128), u128::MAX);
        assert!(net("0.0.0.0/0").contains(ip("255.255.255.255")));
        assert!(!net("0.0.0.0/0").contains(ip("::1")));
        assert!(net("::/0").contains(ip("::1")));
        // A v6 network holding the mapped range holds canonical v4 clients.
        assert!(net("::/0").contains(ip("203.0.113.7")));
        assert!(!net("2001:db8::/32").contains(ip("203.0.113.7")));
    }

    #[test]
    fn forwarded_entries() {
        assert_eq!(parse_entry(b"203.0.113.7"), Some(ip("203.0.113.7")));
        assert_eq!(parse_entry(b"203.0.113.7:1234"), Some(ip("203.0.113.7")));
        assert_eq!(parse_entry(b"2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(parse_entry(b"[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(parse_entry(b"[2001:db8::1]:443"), Some(ip("2001:db8::1")));
        for bad in [
            &b"unknown"[..],
            b"_hidden",
            b"203.0.113.7:99999",
            b"[203.0.113.7]",
            b"2001:db8::1:443]",
            b"\xff",
            b"203.0.113.7 1.2.3.4",
        ] {
            assert_eq!(parse_entry(bad), None, "{bad:?}");
        }
    }
}
