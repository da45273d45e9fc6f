//! `EndpointUrl`: a webhook destination URL, and the SSRF rule for which IPs
//! are off-limits ([`TargetPolicy`]: public addresses only, unless `--dev` or
//! an operator's allow-list of networks says otherwise).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use url::{Host, Url};

/// Which webhook targets this server may contact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// `--dev`: http and every address.
    pub dev: bool,
    /// Private or reserved networks an operator opened explicitly (e.g. an
    /// internal `10.20.0.0/16`). https is still required outside `--dev`.
    pub allowed_networks: Vec<IpNet>,
}

impl TargetPolicy {
    /// Public https targets only: the production default.
    pub const PUBLIC: Self = Self {
        dev: false,
        allowed_networks: Vec::new(),
    };
    /// `--dev`: anything goes.
    pub const DEV: Self = Self {
        dev: true,
        allowed_networks: Vec::new(),
    };

    /// May a webhook be sent to this address?
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.dev
            || !is_forbidden_ip(ip)
            || self.allowed_networks.iter().any(|net| net.contains(&ip))
    }
}

pub const MAX_URL_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointUrlError {
    #[error("endpoint URL must not be empty (e.g. \"https://example.com/webhooks\")")]
    Empty,
    #[error(
        "endpoint URL is {len} characters long (non-ASCII characters count in their \
         percent-encoded form); the maximum is 2048"
    )]
    TooLong { len: usize },
    #[error(
        "endpoint URL contains whitespace or a control character at position {position}; \
         remove it (spaces in a path must be percent-encoded as %20)"
    )]
    InvalidChar { position: usize },
    #[error(
        "endpoint URL is not a valid absolute URL ({reason}); expected something like \
         \"https://example.com/webhooks\""
    )]
    Invalid { reason: String },
    #[error(
        "endpoint URL must start with https:// (http is allowed only when the server runs with --dev)"
    )]
    InsecureScheme,
    #[error("endpoint URL uses the scheme {scheme:?}; it must start with https://")]
    UnsupportedScheme { scheme: String },
    #[error("endpoint URL must have a host name (e.g. \"https://example.com/webhooks\")")]
    MissingHost,
    #[error(
        "endpoint URL must not contain credentials (user:password@); send them in a custom \
         header such as Authorization instead"
    )]
    Credentials,
    #[error("endpoint URL must not contain a #fragment; fragments are never sent to the server")]
    Fragment,
    #[error(
        "endpoint URL points at {ip}, a loopback, private, link-local or otherwise \
         non-public address; webhooks may only target public addresses (others are \
         allowed only when the server runs with --dev, or inside a network the operator \
         lists in allowed_networks)"
    )]
    ForbiddenAddress { ip: IpAddr },
    #[error(
        "endpoint URL points at \"{host}\", which is this machine; webhooks may only target \
         public hosts (local targets are allowed only when the server runs with --dev, or \
         when the operator lists the loopback network in allowed_networks)"
    )]
    LocalHost { host: String },
}

/// A parsed webhook destination. Only literal IPs are checked here; a host name can still
/// resolve to a private address, so the delivery layer must check resolved addresses with
/// [`is_forbidden_ip`] at connect time too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointUrl(Url);

impl EndpointUrl {
    /// `allow_insecure` (the server's --dev mode) permits http:// and local/private targets.
    pub fn parse(s: &str, allow_insecure: bool) -> Result<Self, EndpointUrlError> {
        let policy = if allow_insecure {
            TargetPolicy::DEV
        } else {
            TargetPolicy::PUBLIC
        };
        Self::parse_for(s, &policy)
    }

    /// Parses a URL this server may send to under `policy`: https (http too
    /// with --dev), and a literal address or `localhost` only if the policy
    /// permits it.
    pub fn parse_for(s: &str, policy: &TargetPolicy) -> Result<Self, EndpointUrlError> {
        let allow_insecure = policy.dev;
        if s.is_empty() {
            return Err(EndpointUrlError::Empty);
        }
        // Cheap guard before parsing; the encoded form is checked again below.
        if s.len() > MAX_URL_LEN {
            return Err(EndpointUrlError::TooLong { len: s.len() });
        }
        // The URL parser silently strips tabs/newlines and surrounding spaces; refuse them
        // so that what is stored is exactly what the user typed.
        if let Some(position) = s.chars().position(|c| c.is_whitespace() || c.is_control()) {
            return Err(EndpointUrlError::InvalidChar { position });
        }
        let url = Url::parse(s).map_err(|e| EndpointUrlError::Invalid {
            reason: e.to_string(),
        })?;
        // Non-ASCII text grows when percent-encoded; the stored and sent form must fit.
        if url.as_str().len() > MAX_URL_LEN {
            return Err(EndpointUrlError::TooLong {
                len: url.as_str().len(),
            });
        }
        match url.scheme() {
            "https" => {}
            "http" if allow_insecure => {}
            "http" => return Err(EndpointUrlError::InsecureScheme),
            other => {
                return Err(EndpointUrlError::UnsupportedScheme {
                    scheme: other.to_owned(),
                });
            }
        }
        let Some(host) = url.host() else {
            return Err(EndpointUrlError::MissingHost);
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EndpointUrlError::Credentials);
        }
        if url.fragment().is_some() {
            return Err(EndpointUrlError::Fragment);
        }
        if !allow_insecure {
            match host {
                Host::Ipv4(v4) if !policy.permits(IpAddr::V4(v4)) => {
                    return Err(EndpointUrlError::ForbiddenAddress { ip: IpAddr::V4(v4) });
                }
                Host::Ipv6(v6) if !policy.permits(IpAddr::V6(v6)) => {
                    return Err(EndpointUrlError::ForbiddenAddress { ip: IpAddr::V6(v6) });
                }
                Host::Domain(domain) => {
                    // The parser lowercases domains of http(s) URLs; a trailing dot is the
                    // same name in DNS. localhost is loopback (RFC 6761), whatever
                    // the resolver says.
                    let d = domain.trim_end_matches('.');
                    let loopback_allowed = policy.permits(Ipv4Addr::LOCALHOST.into())
                        || policy.permits(Ipv6Addr::LOCALHOST.into());
                    if (d == "localhost" || d.ends_with(".localhost")) && !loopback_allowed {
                        return Err(EndpointUrlError::LocalHost {
                            host: domain.to_owned(),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// True for addresses a webhook must never be sent to: anything that is not globally
/// routable, so that a subscriber cannot make the server probe its own network (SSRF).
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network" 0/8, includes 0.0.0.0
        || a == 10 // private
        || (a == 100 && (b & 0xC0) == 64) // CGNAT 100.64/10
        || a == 127 // loopback
        || (a == 169 && b == 254) // link-local, incl. cloud metadata 169.254.169.254
        || (a == 172 && (b & 0xF0) == 16) // private 172.16/12
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0/24
        || (a == 192 && b == 0 && c == 2) // documentation TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // deprecated 6to4 relay anycast
        || (a == 192 && b == 168) // private
        || (a == 198 && (b & 0xFE) == 18) // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100) // documentation TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // documentation TEST-NET-3
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast 255.255.255.255
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if ip.is_loopback() || ip.is_unspecified() {
        return true;
    }
    // IPv4-mapped (::ffff:a.b.c.d) reaches the IPv4 host on dual-stack sockets.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_forbidden_v4(v4);
    }
    // Deprecated IPv4-compatible (::a.b.c.d): judge by the IPv4 it names.
    if s[..6].iter().all(|&x| x == 0) {
        return is_forbidden_v4(embedded_v4(s[6], s[7]));
    }
    // NAT64 well-known prefix 64:ff9b::/96 translates to the embedded IPv4.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0) {
        return is_forbidden_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4 2002::/16 carries an IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return is_forbidden_v4(embedded_v4(s[1], s[2]));
    }
    // AWS instance metadata over IPv6 (also inside fc00::/7; named for clarity).
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return true;
    }
    (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 64:ff9b:1::/48
        || (s[0] == 0x100 && s[1..4].iter().all(|&x| x == 0)) // discard-only 100::/64
        || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32 (tunnels to hidden IPv4)
        || (s[0] == 0x2001 && s[1] == 2 && s[2] == 0) // benchmarking 2001:2::/48
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation 2001:db8::/32
        || (s[0] & 0xfff0) == 0x3ff0 // documentation 3fff::/20
        || (s[0] & 0xfe00) == 0xfc00 // unique-local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // deprecated site-local fec0::/10
        || (s[0] & 0xff00) == 0xff00 // multicast ff00::/8
}

#[cfg(test)]
mod tests;
