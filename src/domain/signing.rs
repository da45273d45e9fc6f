//! Payload signatures: the Standard Webhooks "v1," scheme and plain hex HMACs (GitHub style).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};

/// Standard Webhooks signature: "v1," + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
/// Signing id and timestamp with the body stops replays of a body under another id/time.
pub fn standard_signature(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = new_mac::<Hmac<Sha256>>(key);
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HexAlgorithm {
    Sha256,
    Sha512,
}

impl HexAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            HexAlgorithm::Sha256 => "sha256",
            HexAlgorithm::Sha512 => "sha512",
        }
    }

    /// Inverse of [`HexAlgorithm::name`], case-insensitive.
    pub fn from_name(name: &str) -> Option<Self> {
        [HexAlgorithm::Sha256, HexAlgorithm::Sha512]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }
}

/// Lowercase hex HMAC of the body alone, as GitHub ("sha256=" + this) and many others use.
pub fn hex_signature(alg: HexAlgorithm, key: &[u8], body: &[u8]) -> String {
    match alg {
        HexAlgorithm::Sha256 => {
            let mut mac = new_mac::<Hmac<Sha256>>(key);
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        HexAlgorithm::Sha512 => {
            let mut mac = new_mac::<Hmac<Sha512>>(key);
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
    }
}

fn new_mac<M: Mac + hmac::digest::KeyInit>(key: &[u8]) -> M {
    // HMAC is defined for keys of any length (long keys are hashed), so this cannot fail.
    <M as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::super::secret::WebhookSecret;
    use super::*;

    #[test]
    fn standard_webhooks_spec_example() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = standard_signature(
            &secret.signing_key(),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn standard_signature_binds_id_and_timestamp() {
        let a = standard_signature(b"k", "msg_1", 1, b"body");
        assert_ne!(a, standard_signature(b"k", "msg_2", 1, b"body"));
        assert_ne!(a, standard_signature(b"k", "msg_1", 2, b"body"));
        assert_ne!(a, standard_signature(b"k2", "msg_1", 1, b"body"));
        // Negative timestamps and empty inputs are handled, not rejected.
        assert!(standard_signature(b"", "", -1, b"").starts_with("v1,"));
    }

    // Expected values computed with:
    //   printf 'Hello, World!' | openssl dgst -sha256 -hmac "It's a Secret to Everybody"
    // (this is also the example in GitHub's webhook documentation).
    #[test]
    fn github_style_hex_signatures() {
        let key = b"It's a Secret to Everybody";
        assert_eq!(
            hex_signature(HexAlgorithm::Sha256, key, b"Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        assert_eq!(
            hex_signature(HexAlgorithm::Sha512, key, b"Hello, World!"),
            "11ed355a617e98134e842012a7944ccf59c10256cb182357bd7e3a42013ff07c\
             376f8c14cf5cc1923da20b51d64256b2fb8ebbf100aa67a61326f61fea8111bc"
        );
        assert_eq!(
            hex_signature(HexAlgorithm::Sha256, b"key", b""),
            "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0"
        );
    }

    #[test]
    fn huge_key_and_body() {
        let key = vec![7u8; 10_000];
        let body = vec![0u8; 1_000_000];
        assert_eq!(hex_signature(HexAlgorithm::Sha512, &key, &body).len(), 128);
    }

    #[test]
    fn algorithm_names() {
        assert_eq!(HexAlgorithm::Sha256.name(), "sha256");
        assert_eq!(HexAlgorithm::Sha512.name(), "sha512");
        assert_eq!(
            HexAlgorithm::from_name("SHA512"),
            Some(HexAlgorithm::Sha512)
        );
        assert_eq!(HexAlgorithm::from_name("md5"), None);
        assert_eq!(HexAlgorithm::from_name(""), None);
    }
}
