//! API bearer tokens: generation, the hash stored in place of the token, and a shape check.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

/// A recognisable prefix lets secret scanners and humans spot leaked tokens.
pub const TOKEN_PREFIX: &str = "hr_";
const TOKEN_BODY_LEN: usize = 43; // base64url without padding of 32 bytes

/// "hr_" + 43 base64url characters encoding 32 random bytes (256 bits).
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Lowercase hex SHA-256 of the token. Tokens have 256 bits of entropy, so a fast
/// unsalted hash is enough and lets us look keys up by hash.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Cheap shape check before hashing and looking up, so garbage is refused early.
pub fn looks_like_token(s: &str) -> bool {
    s.strip_prefix(TOKEN_PREFIX).is_some_and(|body| {
        body.len() == TOKEN_BODY_LEN && URL_SAFE_NO_PAD.decode(body).is_ok_and(|b| b.len() == 32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 43);
        assert!(a.starts_with("hr_"));
        assert!(looks_like_token(&a));
        assert!(
            a[3..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn hashing() {
        // SHA-256 of the empty string (well-known value).
        assert_eq!(
            hash_token(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let t = generate_token();
        assert_eq!(hash_token(&t), hash_token(&t));
        assert_eq!(hash_token(&t).len(), 64);
        assert_ne!(hash_token(&t), hash_token(&generate_token()));
        assert_eq!(hash_token("é\0").len(), 64);
    }

    #[test]
    fn rejects_non_tokens() {
        let good = generate_token();
        for bad in [
            String::new(),
            "hr_".to_string(),
            good[3..].to_string(),
            format!("HR_{}", &good[3..]),
            format!("{good}A"),
            good[..good.len() - 1].to_string(),
            format!(" {good}"),
            format!("hr_{}", "+".repeat(43)),
            format!("hr_{}", "é".repeat(43)),
            format!("hr_{}", "A".repeat(100_000)),
            // 43 chars whose last one carries non-zero trailing bits: not canonical.
            format!("hr_{}B", "A".repeat(42)),
        ] {
            assert!(!looks_like_token(&bad), "{bad:?}");
        }
        assert!(looks_like_token(&format!("hr_{}", "A".repeat(43))));
    }
}
