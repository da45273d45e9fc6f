//! `WebhookSecret`: the per-subscription signing secret, which must never be logged.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore as _;

const PREFIX: &str = "whsec_";
const MIN_LEN: usize = 24;
/// Recipes keyed on the raw string (GitHub style) accept shorter secrets,
/// because receivers already hold such secrets and cannot change them.
pub const MIN_RAW_LEN: usize = 16;
const MAX_LEN: usize = 512;
const MIN_KEY_BYTES: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSecretError {
    #[error(
        "secret is {len} bytes long; it must be at least {min} (use a long random value, or \
         leave it empty to have one generated)"
    )]
    TooShort { len: usize, min: usize },
    #[error("secret is {len} bytes long; the maximum is 512")]
    TooLong { len: usize },
    // The offending character is deliberately not echoed: it is part of a secret.
    #[error(
        "secret contains whitespace, a control character or a non-ASCII character at byte \
         {position}; use printable ASCII without spaces"
    )]
    InvalidChar { position: usize },
    #[error(
        "secret starts with \"whsec_\" but the rest is not valid standard base64 (A-Z, a-z, \
         0-9, '+', '/' with '=' padding); drop the prefix to use it as a plain string"
    )]
    InvalidBase64,
    #[error(
        "secret starts with \"whsec_\" but decodes to only {len} bytes; the key must be at \
         least 24 bytes"
    )]
    KeyTooShort { len: usize },
}

/// Either "whsec_" + base64 key (Standard Webhooks format) or a plain caller-chosen string.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// A new random secret: "whsec_" + base64 of 32 random bytes.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self(format!("{PREFIX}{}", STANDARD.encode(key)))
    }

    /// A secret under the Standard Webhooks rules: at least 24 bytes, and a
    /// `whsec_` secret must hold a base64 key of at least 24 bytes.
    pub fn parse(s: &str) -> Result<Self, WebhookSecretError> {
        Self::parse_for(s, true)
    }

    /// `standard_rules` false is for profiles whose every signature is keyed
    /// on the raw string: 16 bytes suffice and `whsec_` is just text.
    pub fn parse_for(s: &str, standard_rules: bool) -> Result<Self, WebhookSecretError> {
        let min = if standard_rules { MIN_LEN } else { MIN_RAW_LEN };
        if s.len() < min {
            return Err(WebhookSecretError::TooShort { len: s.len(), min });
        }
        if s.len() > MAX_LEN {
            return Err(WebhookSecretError::TooLong { len: s.len() });
        }
        // Raw-keyed secrets may hold spaces: receivers' existing secrets do
        // (GitHub's documented example is "It's a Secret to Everybody").
        let allowed = |b: u8| b.is_ascii_graphic() || (!standard_rules && b == b' ');
        if let Some(position) = s.bytes().position(|b| !allowed(b)) {
            return Err(WebhookSecretError::InvalidChar { position });
        }
        if let Some(encoded) = s.strip_prefix(PREFIX).filter(|_| standard_rules) {
            let key = STANDARD
                .decode(encoded)
                .map_err(|_| WebhookSecretError::InvalidBase64)?;
            if key.len() < MIN_KEY_BYTES {
                return Err(WebhookSecretError::KeyTooShort { len: key.len() });
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// The secret text, for storing (encrypted) and for showing once to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The HMAC key: the decoded bytes of a "whsec_" secret, else the string's bytes.
    pub fn signing_key(&self) -> Vec<u8> {
        match self.0.strip_prefix(PREFIX) {
            // Validated at construction; the fallback only guards against future misuse.
            Some(encoded) => STANDARD
                .decode(encoded)
                .unwrap_or_else(|_| self.0.as_bytes().to_vec()),
            None => self.0.as_bytes().to_vec(),
        }
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_valid_and_distinct() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("whsec_"));
        assert_eq!(a.expose().len(), 6 + 44);
        assert_eq!(a.signing_key().len(), 32);
        assert_eq!(WebhookSecret::parse(a.expose()).unwrap(), a);
    }

    #[test]
    fn standard_webhooks_secret() {
        let s = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(s.signing_key().len(), 24);
    }

    #[test]
    fn plain_secret_uses_its_bytes() {
        let s = WebhookSecret::parse("my-very-long-shared-secret-123!").unwrap();
        assert_eq!(s.signing_key(), b"my-very-long-shared-secret-123!");
    }

    #[test]
    fn never_prints_the_value() {
        let s = WebhookSecret::parse("super-secret-value-that-is-long").unwrap();
        assert_eq!(format!("{s:?}"), "WebhookSecret(***)");
        assert_eq!(format!("{s}"), "WebhookSecret(***)");
        assert_eq!(format!("{:?}", Some(&s)), "Some(WebhookSecret(***))");
    }

    #[test]
    fn rejects_bad_secrets() {
        use WebhookSecretError::*;
        assert_eq!(
            WebhookSecret::parse("").unwrap_err(),
            TooShort { len: 0, min: 24 }
        );
        assert_eq!(
            WebhookSecret::parse(&"a".repeat(23)).unwrap_err(),
            TooShort { len: 23, min: 24 }
        );
        assert!(WebhookSecret::parse(&"a".repeat(24)).is_ok());
        assert!(WebhookSecret::parse(&"a".repeat(512)).is_ok());
        assert_eq!(
            WebhookSecret::parse(&"a".repeat(513)).unwrap_err(),
            TooLong { len: 513 }
        );
        assert_eq!(
            WebhookSecret::parse(&"a".repeat(1_000_000)).unwrap_err(),
            TooLong { len: 1_000_000 }
        );
        for (s, position) in [
            ("abcdefghijkl mnopqrstuvwxyz", 12),
            ("abcdefghijklmnopqrstuvwxyz\n", 26),
            ("\tabcdefghijklmnopqrstuvwxyz", 0),
            ("abcdefghijklmnopqrstuvwxyz\0", 26),
            ("abcdéfghijklmnopqrstuvwxyz", 4),
        ] {
            assert_eq!(
                WebhookSecret::parse(s).unwrap_err(),
                InvalidChar { position },
                "{s:?}"
            );
        }
        assert_eq!(
            WebhookSecret::parse("whsec_not*base64*at*all*really").unwrap_err(),
            InvalidBase64
        );
        // URL-safe alphabet is not the standard one.
        assert_eq!(
            WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_").unwrap_err(),
            InvalidBase64
        );
        assert_eq!(
            WebhookSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAA").unwrap_err(),
            KeyTooShort { len: 18 }
        );
        let msg = WebhookSecret::parse("short").unwrap_err().to_string();
        assert!(msg.contains("24"), "{msg}");
    }

    #[test]
    fn error_does_not_echo_secret() {
        let err = WebhookSecret::parse("abcdefghijkl\u{7f}mnopqrstuvwxyz").unwrap_err();
        assert!(!err.to_string().contains("abcdef"));
        assert!(!format!("{err:?}").contains("abcdef"));
    }
}
