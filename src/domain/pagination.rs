//! Page tokens and page sizes for list RPCs (keyset pagination on a sort key:
//! an id, an event-type name, or a `time:id` pair).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 1000;
const TOKEN_VERSION: &str = "v1:";
const MAX_TOKEN_LEN: usize = 512;
const MAX_KEY_LEN: usize = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageTokenError {
    #[error(
        "page_token is not valid; pass the next_page_token from a previous response \
         unchanged, or leave it empty for the first page"
    )]
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageSizeError {
    #[error("page_size is {value}; it must not be negative (0 means the default of 50)")]
    Negative { value: i32 },
}

/// Opaque token for "continue after `last_id`". Opaque (base64url) so clients don't build
/// tokens themselves; versioned so the format can change without breaking old tokens.
pub fn encode_page_token(last_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_VERSION}{last_id}"))
}

/// The id a token continues after. Callers treat an empty request token as "first page"
/// before calling this; an empty string here is an error.
pub fn decode_page_token(token: &str) -> Result<String, PageTokenError> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(PageTokenError::Invalid);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| PageTokenError::Invalid)?;
    let text = String::from_utf8(bytes).map_err(|_| PageTokenError::Invalid)?;
    let id = text
        .strip_prefix(TOKEN_VERSION)
        .ok_or(PageTokenError::Invalid)?;
    // Sort keys are printable ASCII ("sub_01HX...", "invoice.paid", "1700000000:evt_1");
    // anything else was not made by encode_page_token.
    let plausible =
        !id.is_empty() && id.len() <= MAX_KEY_LEN && id.bytes().all(|b| b.is_ascii_graphic());
    if plausible {
        Ok(id.to_owned())
    } else {
        Err(PageTokenError::Invalid)
    }
}

/// 0 (proto default, i.e. unset) means 50; larger than 1000 is quietly lowered to 1000, as
/// AIP-158 recommends; negative is an error.
pub fn clamp_page_size(requested: i32) -> Result<u64, PageSizeError> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(PageSizeError::Negative { value: n }),
        n => Ok((n as u64).min(MAX_PAGE_SIZE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip() {
        for id in [
            "sub_01HX9V00000000000000000000",
            "a",
            "x-y_z",
            "invoice.paid",
            "1700000000000000:order-1",
        ] {
            let t = encode_page_token(id);
            assert!(
                t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
            assert_eq!(decode_page_token(&t).unwrap(), id);
        }
    }

    #[test]
    fn bad_tokens() {
        let bad = [
            String::new(),
            "!!!".to_string(),
            "dGVzdA".to_string(), // "test": no version
            URL_SAFE_NO_PAD.encode("v2:sub_1"),
            URL_SAFE_NO_PAD.encode("v1:"),
            URL_SAFE_NO_PAD.encode("v1:a b"),
            URL_SAFE_NO_PAD.encode("v1:ünï"),
            URL_SAFE_NO_PAD.encode("v1:a\0"),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00]),
            URL_SAFE_NO_PAD.encode(format!("v1:{}", "a".repeat(301))),
            "A".repeat(100_000),
            format!("{}=", encode_page_token("abc")),
        ];
        for t in bad {
            assert_eq!(
                decode_page_token(&t).unwrap_err(),
                PageTokenError::Invalid,
                "{t:?}"
            );
        }
        assert!(!encode_page_token("").is_empty());
        assert!(decode_page_token(&encode_page_token("")).is_err());
    }

    #[test]
    fn page_sizes() {
        assert_eq!(clamp_page_size(0).unwrap(), 50);
        assert_eq!(clamp_page_size(1).unwrap(), 1);
        assert_eq!(clamp_page_size(1000).unwrap(), 1000);
        assert_eq!(clamp_page_size(1001).unwrap(), 1000);
        assert_eq!(clamp_page_size(i32::MAX).unwrap(), 1000);
        assert_eq!(
            clamp_page_size(-1).unwrap_err(),
            PageSizeError::Negative { value: -1 }
        );
        assert!(clamp_page_size(i32::MIN).is_err());
        assert!(
            clamp_page_size(-1)
                .unwrap_err()
                .to_string()
                .contains("negative")
        );
    }
}
