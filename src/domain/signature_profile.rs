//! `SignatureProfile`: an extra, provider-style hex signature header (e.g. GitHub's
//! "X-Hub-Signature-256: sha256=<hex>") for receivers that cannot verify Standard Webhooks.

use http::HeaderName;

use super::headers::{is_reserved, preview};
use super::signing::{HexAlgorithm, hex_signature};

pub const MAX_PREFIX_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProfileError {
    #[error("{field} must not be empty")]
    EmptyHeader { field: &'static str },
    #[error(
        "{field} {name:?} is not a valid HTTP header name; use letters, digits and '-' \
         (e.g. \"X-Hub-Signature-256\")"
    )]
    InvalidHeaderName { field: &'static str, name: String },
    #[error("{field} {name:?} is reserved by hookrelay; choose another header name")]
    ReservedHeader { field: &'static str, name: String },
    #[error("the algorithm header must differ from the signature header")]
    SameHeader,
    #[error("signature prefix is {len} characters long; the maximum is 64")]
    PrefixTooLong { len: usize },
    #[error(
        "signature prefix contains a control or non-ASCII character at position {position}; \
         use printable ASCII such as \"sha256=\""
    )]
    PrefixInvalidChar { position: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureProfile {
    /// Header that carries `prefix + hex(HMAC(body))`.
    pub header: HeaderName,
    pub algorithm: HexAlgorithm,
    /// Text before the hex digest, e.g. "sha256="; may be empty.
    pub prefix: String,
    /// Optional header that names the algorithm ("sha256"/"sha512").
    pub algorithm_header: Option<HeaderName>,
}

impl SignatureProfile {
    /// `algorithm_header` = "" means none.
    pub fn parse(
        header: &str,
        algorithm: HexAlgorithm,
        prefix: &str,
        algorithm_header: &str,
    ) -> Result<Self, SignatureProfileError> {
        let header = parse_header("signature header", header)?;
        let algorithm_header = match algorithm_header {
            "" => None,
            s => Some(parse_header("algorithm header", s)?),
        };
        if algorithm_header.as_ref() == Some(&header) {
            return Err(SignatureProfileError::SameHeader);
        }
        let len = prefix.chars().count();
        if len > MAX_PREFIX_LEN {
            return Err(SignatureProfileError::PrefixTooLong { len });
        }
        if let Some(position) = prefix.chars().position(|c| !(' '..='~').contains(&c)) {
            return Err(SignatureProfileError::PrefixInvalidChar { position });
        }
        Ok(Self {
            header,
            algorithm,
            prefix: prefix.to_owned(),
            algorithm_header,
        })
    }

    /// The header value for `body` signed with `key`: prefix + lowercase hex HMAC.
    pub fn sign(&self, key: &[u8], body: &[u8]) -> String {
        format!(
            "{}{}",
            self.prefix,
            hex_signature(self.algorithm, key, body)
        )
    }
}

fn parse_header(field: &'static str, s: &str) -> Result<HeaderName, SignatureProfileError> {
    if s.is_empty() {
        return Err(SignatureProfileError::EmptyHeader { field });
    }
    let name = HeaderName::from_bytes(s.as_bytes()).map_err(|_| {
        SignatureProfileError::InvalidHeaderName {
            field,
            name: preview(s),
        }
    })?;
    if is_reserved(name.as_str()) {
        return Err(SignatureProfileError::ReservedHeader {
            field,
            name: preview(s),
        });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_profile() {
        let p = SignatureProfile::parse("X-Hub-Signature-256", HexAlgorithm::Sha256, "sha256=", "")
            .unwrap();
        assert_eq!(p.header.as_str(), "x-hub-signature-256");
        assert_eq!(p.algorithm_header, None);
        assert_eq!(
            p.sign(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn with_algorithm_header_and_empty_prefix() {
        let p = SignatureProfile::parse("X-Signature", HexAlgorithm::Sha512, "", "X-Signature-Alg")
            .unwrap();
        assert_eq!(p.algorithm_header.unwrap().as_str(), "x-signature-alg");
        assert_eq!(p.prefix, "");
    }

    #[test]
    fn rejects_bad_profiles() {
        use SignatureProfileError::*;
        let a = HexAlgorithm::Sha256;
        assert_eq!(
            SignatureProfile::parse("", a, "", "").unwrap_err(),
            EmptyHeader {
                field: "signature header"
            }
        );
        for bad in ["bad header", "x-sig\n", "x:sig", "ünï", "x\0"] {
            assert!(
                matches!(
                    SignatureProfile::parse(bad, a, "", "").unwrap_err(),
                    InvalidHeaderName { .. }
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            SignatureProfile::parse("Webhook-Signature", a, "", "").unwrap_err(),
            ReservedHeader { .. }
        ));
        assert!(matches!(
            SignatureProfile::parse("x-sig", a, "", "Content-Type").unwrap_err(),
            ReservedHeader {
                field: "algorithm header",
                ..
            }
        ));
        assert!(matches!(
            SignatureProfile::parse("x-sig", a, "", "bad name").unwrap_err(),
            InvalidHeaderName {
                field: "algorithm header",
                ..
            }
        ));
        assert_eq!(
            SignatureProfile::parse("X-Sig", a, "", "x-sig").unwrap_err(),
            SameHeader
        );
        assert!(SignatureProfile::parse("x-sig", a, &"p".repeat(64), "").is_ok());
        assert_eq!(
            SignatureProfile::parse("x-sig", a, &"p".repeat(65), "").unwrap_err(),
            PrefixTooLong { len: 65 }
        );
        assert_eq!(
            SignatureProfile::parse("x-sig", a, "sha256=\r\n", "").unwrap_err(),
            PrefixInvalidChar { position: 7 }
        );
        assert_eq!(
            SignatureProfile::parse("x-sig", a, "é=", "").unwrap_err(),
            PrefixInvalidChar { position: 0 }
        );
        let huge = "x y".repeat(100_000);
        let msg = SignatureProfile::parse(&huge, a, "", "")
            .unwrap_err()
            .to_string();
        assert!(msg.len() < 300, "{}", msg.len());
        assert!(msg.contains("signature header"), "{msg}");
    }
}
