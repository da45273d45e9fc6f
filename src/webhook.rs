//! Verifying webhooks on the receiving side, as the Standard Webhooks
//! libraries do: the `v1,` HMAC-SHA256 of `"{id}.{timestamp}.{body}"`,
//! compared in constant time, with a tolerance on the timestamp so a
//! captured request cannot be replayed later.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

/// The tolerance the Standard Webhooks libraries use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not a unix time in seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is {0}s away from now, beyond the tolerance")]
    OutsideTolerance(i64),
    #[error("no v1 signature matches this secret")]
    NoMatchingSignature,
    #[error("the secret is not valid base64 after whsec_")]
    BadSecret,
}

/// The key a receiver holding `secret` signs with: the base64-decoded part
/// after `whsec_`, or the secret's bytes for a secret of another form.
pub fn signing_key(secret: &str) -> Result<Vec<u8>, VerifyError> {
    match secret.strip_prefix("whsec_") {
        Some(encoded) => STANDARD.decode(encoded).map_err(|_| VerifyError::BadSecret),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

/// Checks the headers of one request against `secret`. `now` is unix seconds.
pub fn verify(
    secret: &str,
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let id = id.ok_or(VerifyError::MissingHeader("webhook-id"))?;
    let timestamp = timestamp.ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
    let signature = signature.ok_or(VerifyError::MissingHeader("webhook-signature"))?;
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let skew = now - sent;
    if skew.unsigned_abs() > tolerance.as_secs() {
        return Err(VerifyError::OutsideTolerance(skew));
    }
    let key = signing_key(secret)?;
    let matches = signature
        .split(' ')
        .filter_map(|candidate| candidate.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|candidate| {
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            // verify_slice compares in constant time.
            mac.verify_slice(&candidate).is_ok()
        });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's published example.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn check(signature: &str, now: i64) -> Result<(), VerifyError> {
        verify(
            SECRET,
            Some(ID),
            Some(&TIMESTAMP.to_string()),
            Some(signature),
            BODY,
            now,
            DEFAULT_TOLERANCE,
        )
    }

    #[test]
    fn accepts_the_specification_example() {
        check(SIGNATURE, TIMESTAMP).unwrap();
        check(&format!("v1,bogus {SIGNATURE}"), TIMESTAMP + 60).unwrap();
    }

    #[test]
    fn rejects_tampering_and_stale_requests() {
        assert_eq!(
            check("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=", TIMESTAMP),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            check("v2,whatever", TIMESTAMP),
            Err(VerifyError::NoMatchingSignature)
        );
        assert!(matches!(
            check(SIGNATURE, TIMESTAMP + 301),
            Err(VerifyError::OutsideTolerance(301))
        ));
        assert_eq!(
            verify(
                SECRET,
                None,
                Some("1"),
                Some(SIGNATURE),
                BODY,
                1,
                DEFAULT_TOLERANCE
            ),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
    }
}
