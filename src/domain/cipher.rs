//! `SecretCipher`: encrypts webhook secrets at rest with AES-256-GCM.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore as _;

// The version tag lets a future key rotation or algorithm change coexist with old rows.
const VERSION_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error(
        "stored secret has no recognised version prefix (expected \"v1:\"); it was not written by this version of hookrelay"
    )]
    UnknownVersion,
    #[error(
        "stored secret is malformed (bad base64 or too short); it may have been truncated or edited"
    )]
    Malformed,
    #[error(
        "stored secret could not be decrypted: the encryption key is wrong (was it changed \
         since the secret was stored?) or the data was tampered with"
    )]
    Decryption,
    #[error("decrypted secret is not valid UTF-8")]
    NotUtf8,
    #[error(
        "encryption key must be 32 bytes encoded as standard base64 (44 characters); generate one with 32 random bytes"
    )]
    BadKey,
}

#[derive(Clone)]
pub struct SecretCipher {
    cipher: Aes256Gcm,
}

impl SecretCipher {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
        }
    }

    pub fn generate_key() -> [u8; 32] {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        key
    }

    /// Decodes a key given as standard base64 (e.g. from configuration).
    pub fn key_from_base64(s: &str) -> Result<[u8; 32], CipherError> {
        STANDARD
            .decode(s.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(CipherError::BadKey)
    }

    /// "v1:" + base64(nonce || ciphertext+tag). A fresh random nonce per call: with
    /// 96-bit random nonces, reuse is negligible for any realistic number of secrets.
    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            // Only fails for inputs beyond GCM's ~64 GiB limit.
            .expect("AES-GCM encryption of a secret cannot fail");
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        format!("{VERSION_PREFIX}{}", STANDARD.encode(blob))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, CipherError> {
        let encoded = stored
            .strip_prefix(VERSION_PREFIX)
            .ok_or(CipherError::UnknownVersion)?;
        let blob = STANDARD
            .decode(encoded)
            .map_err(|_| CipherError::Malformed)?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(CipherError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| CipherError::Decryption)?;
        String::from_utf8(plaintext).map_err(|_| CipherError::NotUtf8)
    }
}

impl fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCipher(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = SecretCipher::new(&SecretCipher::generate_key());
        for s in [
            "",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "ünïcode ✓ \0 \n",
            &"x".repeat(100_000),
        ] {
            let stored = c.encrypt(s);
            assert!(stored.starts_with("v1:"));
            assert!(!stored.contains(s) || s.is_empty());
            assert_eq!(c.decrypt(&stored).unwrap(), s);
        }
    }

    #[test]
    fn nonces_differ() {
        let c = SecretCipher::new(&[1u8; 32]);
        assert_ne!(c.encrypt("same"), c.encrypt("same"));
    }

    #[test]
    fn wrong_key_fails() {
        let a = SecretCipher::new(&[1u8; 32]);
        let b = SecretCipher::new(&[2u8; 32]);
        assert_eq!(
            b.decrypt(&a.encrypt("secret")).unwrap_err(),
            CipherError::Decryption
        );
    }

    #[test]
    fn tampering_fails() {
        let c = SecretCipher::new(&[3u8; 32]);
        let stored = c.encrypt("secret value");
        let mut blob = STANDARD.decode(&stored[3..]).unwrap();
        for i in [0, NONCE_LEN, blob.len() - 1] {
            blob[i] ^= 1;
            let tampered = format!("v1:{}", STANDARD.encode(&blob));
            assert_eq!(c.decrypt(&tampered).unwrap_err(), CipherError::Decryption);
            blob[i] ^= 1;
        }
        let truncated = format!("v1:{}", STANDARD.encode(&blob[..blob.len() - 1]));
        assert_eq!(c.decrypt(&truncated).unwrap_err(), CipherError::Decryption);
    }

    #[test]
    fn malformed_input_never_panics() {
        let c = SecretCipher::new(&[4u8; 32]);
        use CipherError::*;
        assert_eq!(c.decrypt("").unwrap_err(), UnknownVersion);
        assert_eq!(c.decrypt("v2:AAAA").unwrap_err(), UnknownVersion);
        assert_eq!(c.decrypt("plaintext-secret").unwrap_err(), UnknownVersion);
        assert_eq!(c.decrypt("v1:").unwrap_err(), Malformed);
        assert_eq!(c.decrypt("v1:not base64!").unwrap_err(), Malformed);
        assert_eq!(c.decrypt("v1:ÄÖÜ").unwrap_err(), Malformed);
        assert_eq!(
            c.decrypt(&format!("v1:{}", STANDARD.encode([0u8; 27])))
                .unwrap_err(),
            Malformed
        );
        assert_eq!(
            c.decrypt(&format!("v1:{}", STANDARD.encode([0u8; 28])))
                .unwrap_err(),
            Decryption
        );
        assert_eq!(
            c.decrypt(&format!("v1:{}", "A".repeat(1_000_000)))
                .unwrap_err(),
            Decryption
        );
    }

    #[test]
    fn debug_hides_key() {
        let c = SecretCipher::new(&[0xAB; 32]);
        let dbg = format!("{c:?}");
        assert_eq!(dbg, "SecretCipher(***)");
    }

    #[test]
    fn key_from_base64() {
        let key = SecretCipher::generate_key();
        assert_eq!(
            SecretCipher::key_from_base64(&STANDARD.encode(key)).unwrap(),
            key
        );
        assert_ne!(SecretCipher::generate_key(), key);
        for bad in [
            "",
            "short",
            &STANDARD.encode([0u8; 31]),
            &STANDARD.encode([0u8; 33]),
            "ü",
        ] {
            assert_eq!(
                SecretCipher::key_from_base64(bad).unwrap_err(),
                CipherError::BadKey
            );
        }
    }
}
