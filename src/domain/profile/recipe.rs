//! One signature recipe: which HMAC, how it is encoded, what string is
//! signed and how the header value is formed. Standard Webhooks, GitHub,
//! Stripe, Shopify and Slack are all instances of it.

use super::template::{Placeholder, Template};
use crate::domain::WebhookSecret;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::HeaderName;
use sha2::{Sha256, Sha512};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlgorithm {
    HmacSha256,
    HmacSha512,
}

impl MacAlgorithm {
    /// The name receivers see in an algorithm header ("sha256", "sha512").
    pub fn name(self) -> &'static str {
        match self {
            MacAlgorithm::HmacSha256 => "sha256",
            MacAlgorithm::HmacSha512 => "sha512",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// Lowercase hex.
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// Which bytes of the secret key the HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningKey {
    /// The base64-decoded part after `whsec_` (else the string's bytes), as
    /// the Standard Webhooks libraries do.
    StandardWebhooks,
    /// The secret string's UTF-8 bytes exactly as the subscriber holds it
    /// (GitHub, Stripe, Shopify, Slack).
    Raw,
}

/// Placeholders a signed-content template may use.
pub const SIGNED_CONTENT_PLACEHOLDERS: &[Placeholder] =
    &[Placeholder::Id, Placeholder::Ts, Placeholder::Body];
/// Placeholders a signature's `each` form may use.
pub const EACH_PLACEHOLDERS: &[Placeholder] = &[Placeholder::Sig];
/// Placeholders a header value form may use.
pub const VALUE_PLACEHOLDERS: &[Placeholder] =
    &[Placeholder::Id, Placeholder::Ts, Placeholder::Sigs];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRecipe {
    pub header: HeaderName,
    pub algorithm: MacAlgorithm,
    pub encoding: SignatureEncoding,
    pub key: SigningKey,
    /// What is signed, e.g. `{body}` or `{id}.{ts}.{body}`.
    pub signed_content: Template,
    /// One signature's form, e.g. `v1,{sig}` or `sha256={sig}`.
    pub each: Template,
    /// Joins several signatures during a rotation overlap; `None` means the
    /// header carries exactly one (see [`SignatureRecipe::secrets_to_use`]).
    pub separator: Option<String>,
    /// The whole header value, e.g. `{sigs}` or `t={ts},{sigs}`.
    pub value: Template,
    /// Optional header naming the algorithm, e.g. `X-Webhook-Hmac-Algorithm: sha512`.
    pub algorithm_header: Option<HeaderName>,
}

/// What a signed string and a header value are made of for one request.
pub struct SigningInput<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub body: &'a [u8],
}

impl SignatureRecipe {
    /// The secrets this recipe signs with, given the valid ones newest first.
    /// A recipe that can carry several signatures signs with all of them; a
    /// single-valued one (GitHub style) keeps signing with the oldest valid
    /// secret, the one receivers already hold, until the overlap ends, so a
    /// rotation never breaks a receiver before its announced cut-over time.
    pub fn secrets_to_use<'s>(&self, secrets: &'s [WebhookSecret]) -> &'s [WebhookSecret] {
        match (&self.separator, secrets.len()) {
            (Some(_), _) | (None, 0) => secrets,
            (None, n) => &secrets[n - 1..],
        }
    }

    /// The header value for `input`, signed with `secrets`.
    pub fn header_value(&self, secrets: &[WebhookSecret], input: &SigningInput<'_>) -> Vec<u8> {
        let signed = self.signed_content.render(|p, out| match p {
            Placeholder::Id => out.extend_from_slice(input.id.as_bytes()),
            Placeholder::Ts => out.extend_from_slice(input.timestamp.as_bytes()),
            Placeholder::Body => out.extend_from_slice(input.body),
            _ => {}
        });
        let mut sigs = Vec::new();
        for (i, secret) in self.secrets_to_use(secrets).iter().enumerate() {
            if i > 0 {
                sigs.extend_from_slice(self.separator.as_deref().unwrap_or(" ").as_bytes());
            }
            let sig = self.sign(secret, &signed);
            self.each
                .render_into(&mut sigs, |_, out| out.extend_from_slice(sig.as_bytes()));
        }
        self.value.render(|p, out| match p {
            Placeholder::Id => out.extend_from_slice(input.id.as_bytes()),
            Placeholder::Ts => out.extend_from_slice(input.timestamp.as_bytes()),
            Placeholder::Sigs => out.extend_from_slice(&sigs),
            _ => {}
        })
    }

    fn sign(&self, secret: &WebhookSecret, message: &[u8]) -> String {
        let key = match self.key {
            SigningKey::StandardWebhooks => secret.signing_key(),
            SigningKey::Raw => secret.expose().as_bytes().to_vec(),
        };
        let digest = match self.algorithm {
            MacAlgorithm::HmacSha256 => mac::<Hmac<Sha256>>(&key, message),
            MacAlgorithm::HmacSha512 => mac::<Hmac<Sha512>>(&key, message),
        };
        match self.encoding {
            SignatureEncoding::Hex => hex::encode(digest),
            SignatureEncoding::Base64 => STANDARD.encode(digest),
        }
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC is defined for keys of any length (long keys are hashed).
    let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}
