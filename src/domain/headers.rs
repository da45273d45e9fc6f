//! Custom HTTP headers a subscription adds to each delivery, and the names it may not set.

use std::collections::BTreeMap;
use std::fmt;

use http::{HeaderName, HeaderValue};

pub const MAX_CUSTOM_HEADERS: usize = 32;
pub const MAX_HEADER_VALUE_LEN: usize = 4096;

/// Headers the HTTP client owns: framing, and hop-by-hop headers that mean
/// nothing to the receiver. Neither custom headers nor a delivery profile
/// may name them.
pub const TRANSPORT_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "host",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

/// The Standard Webhooks signature: forging it would defeat verification. A
/// profile's other signature headers are checked against the profile.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// True when `name` (any case) is a transport header.
pub fn is_transport(name: &str) -> bool {
    TRANSPORT_HEADERS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

/// Header names a subscriber may not set: the signature and the transport
/// headers. `user-agent` is deliberately NOT reserved: some receivers
/// allow-list callers by user agent, so letting subscribers override it is
/// useful and harmless.
pub fn is_reserved(name: &str) -> bool {
    SIGNATURE_HEADER.eq_ignore_ascii_case(name) || is_transport(name)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("there are {count} custom headers; at most 32 are allowed")]
    TooMany { count: usize },
    #[error("is not a valid HTTP header name; use letters, digits and '-' (e.g. \"X-Api-Key\")")]
    InvalidName,
    #[error("is reserved by hookrelay and cannot be set as a custom header")]
    Reserved,
    #[error("appears more than once (header names are case-insensitive)")]
    Duplicate,
    #[error("value is {len} bytes long; the maximum is 4096")]
    ValueTooLong { len: usize },
    #[error(
        "value contains a carriage return (CR), line feed (LF) or NUL character; header \
         values must be a single line without them"
    )]
    ForbiddenValueChar,
    #[error(
        "value contains a control or non-ASCII character; header values must be printable \
         ASCII (percent-encode other text)"
    )]
    InvalidValue,
}

/// One problem with one header. `name` is the name as given (shortened if huge), or
/// empty for problems with the set as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header {name:?}: {reason}")]
pub struct HeaderViolation {
    pub name: String,
    pub reason: HeaderError,
}

/// Shortens user input echoed in error messages so a huge value cannot bloat them.
pub(crate) fn preview(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomHeaders(Vec<(HeaderName, HeaderValue)>);

impl CustomHeaders {
    /// Validates every entry and reports all problems at once, so a user can fix them in
    /// one round trip.
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Self, Vec<HeaderViolation>> {
        let mut violations = Vec::new();
        if map.len() > MAX_CUSTOM_HEADERS {
            violations.push(HeaderViolation {
                name: String::new(),
                reason: HeaderError::TooMany { count: map.len() },
            });
        }
        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(map.len());
        for (name, value) in map {
            match Self::parse_one(name, value) {
                Ok((n, _)) if headers.iter().any(|(seen, _)| *seen == n) => {
                    violations.push(HeaderViolation {
                        name: preview(name),
                        reason: HeaderError::Duplicate,
                    });
                }
                Ok(pair) => headers.push(pair),
                Err(reason) => violations.push(HeaderViolation {
                    name: preview(name),
                    reason,
                }),
            }
        }
        if violations.is_empty() {
            Ok(Self(headers))
        } else {
            Err(violations)
        }
    }

    fn parse_one(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), HeaderError> {
        // from_bytes lowercases, so "X-Api-Key" and "x-api-key" are the same header.
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| HeaderError::InvalidName)?;
        if is_reserved(name.as_str()) {
            return Err(HeaderError::Reserved);
        }
        if value.len() > MAX_HEADER_VALUE_LEN {
            return Err(HeaderError::ValueTooLong { len: value.len() });
        }
        // CR/LF would let a value smuggle extra headers or a second request.
        if value.contains(['\r', '\n', '\0']) {
            return Err(HeaderError::ForbiddenValueChar);
        }
        // HeaderValue itself accepts bytes >= 0x80, but receivers would read UTF-8 as
        // Latin-1 and to_map could not turn it back into a string: keep values ASCII.
        if !value.is_ascii() {
            return Err(HeaderError::InvalidValue);
        }
        let value = HeaderValue::from_str(value).map_err(|_| HeaderError::InvalidValue)?;
        Ok((name, value))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Lowercase names to values, for storage and API responses.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(n, v)| {
                // Values were built from &str of visible ASCII, so to_str cannot fail.
                let value = v.to_str().unwrap_or_default().to_owned();
                (n.as_str().to_owned(), value)
            })
            .collect()
    }
}

impl fmt::Display for CustomHeaders {
    /// Names only: values often carry credentials (Authorization, API keys).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|(n, _)| n.as_str()).collect();
        write!(f, "[{}]", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn accepts_good_headers() {
        let h = CustomHeaders::parse(&map(&[
            ("Authorization", "Bearer abc.def"),
            ("X-Api-Key", "k"),
            ("User-Agent", "my-agent/1.0"),
            ("x-empty", ""),
            ("x-long", &"v".repeat(4096)),
        ]))
        .unwrap();
        assert_eq!(h.len(), 5);
        let m = h.to_map();
        assert_eq!(m["authorization"], "Bearer abc.def");
        assert_eq!(m["user-agent"], "my-agent/1.0");
        assert_eq!(m["x-empty"], "");
        assert_eq!(CustomHeaders::parse(&m).unwrap(), h);
        assert!(h.iter().any(|(n, _)| n == "x-api-key"));
        assert!(!h.to_string().contains("Bearer"));
    }

    #[test]
    fn empty_map_is_fine() {
        let h = CustomHeaders::parse(&BTreeMap::new()).unwrap();
        assert!(h.is_empty());
        assert!(h.to_map().is_empty());
    }

    #[test]
    fn collects_all_violations() {
        let long = "v".repeat(4097);
        let errs = CustomHeaders::parse(&map(&[
            ("", "x"),
            ("bad name", "x"),
            ("Ünïcode", "x"),
            ("Webhook-Signature", "v1,forged"),
            ("host", "evil.example"),
            ("x-a", &long),
            ("x-b", "a\r\nInjected: yes"),
            ("x-c", "nul\0"),
            ("x-d", "tab\tok but bell\u{7}"),
            ("x-e", "ünïcode"),
            ("x-ok", "fine"),
        ]))
        .unwrap_err();
        let reasons: Vec<(&str, &HeaderError)> =
            errs.iter().map(|v| (v.name.as_str(), &v.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                ("", &HeaderError::InvalidName),
                ("Webhook-Signature", &HeaderError::Reserved),
                ("bad name", &HeaderError::InvalidName),
                ("host", &HeaderError::Reserved),
                ("x-a", &HeaderError::ValueTooLong { len: 4097 }),
                ("x-b", &HeaderError::ForbiddenValueChar),
                ("x-c", &HeaderError::ForbiddenValueChar),
                ("x-d", &HeaderError::InvalidValue),
                ("x-e", &HeaderError::InvalidValue),
                ("Ünïcode", &HeaderError::InvalidName),
            ]
        );
        let msg = errs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        assert!(msg.contains("line feed (LF)"), "{msg}");
        assert!(msg.contains("header \"host\": is reserved"), "{msg}");
    }

    #[test]
    fn case_insensitive_duplicates() {
        let errs = CustomHeaders::parse(&map(&[("X-Key", "1"), ("x-key", "2")])).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].reason, HeaderError::Duplicate);
    }

    #[test]
    fn too_many_headers() {
        let m: BTreeMap<String, String> =
            (0..33).map(|i| (format!("x-h{i}"), "v".into())).collect();
        let errs = CustomHeaders::parse(&m).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].reason, HeaderError::TooMany { count: 33 });
        let m: BTreeMap<String, String> =
            (0..32).map(|i| (format!("x-h{i}"), "v".into())).collect();
        assert_eq!(CustomHeaders::parse(&m).unwrap().len(), 32);
    }

    #[test]
    fn huge_names_are_shortened_in_errors() {
        let name = "bad name ".repeat(10_000);
        let errs = CustomHeaders::parse(&map(&[(&name, "x")])).unwrap_err();
        assert!(errs[0].name.chars().count() <= 65);
    }

    #[test]
    fn reserved_lookup() {
        assert!(is_reserved("Content-Type"));
        assert!(is_reserved("WEBHOOK-SIGNATURE"));
        // The id and timestamp are defaults a custom header may override.
        assert!(!is_reserved("webhook-id"));
        assert!(!is_reserved("webhook-timestamp"));
        assert!(!is_reserved("user-agent"));
        assert!(!is_reserved("authorization"));
    }
}
