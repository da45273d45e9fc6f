//! Event ids chosen by publishers. They double as idempotency keys and are
//! sent in the `webhook-id` header, so they must be safe header values.

pub const MAX_EVENT_ID_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventIdError {
    #[error("must be at most {MAX_EVENT_ID_LEN} characters (got {0})")]
    TooLong(usize),
    #[error(
        "contains {0:?}; event ids may use only ASCII letters, digits and - _ . : (they are sent as the webhook-id header)"
    )]
    InvalidCharacter(char),
}

/// A publisher-supplied event id: 1 to 128 of `[A-Za-z0-9_.:-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventId(String);

impl EventId {
    pub fn parse(s: &str) -> Result<Self, EventIdError> {
        if s.len() > MAX_EVENT_ID_LEN {
            return Err(EventIdError::TooLong(s.chars().count()));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
        {
            return Err(EventIdError::InvalidCharacter(bad));
        }
        // Empty means "let the server choose"; callers handle that before parsing.
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_id_shapes() {
        for id in ["evt_01HX9V", "order-123", "a.b:c_d", "X"] {
            assert!(EventId::parse(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn rejects_header_unsafe_or_huge_ids() {
        assert!(matches!(
            EventId::parse("has space"),
            Err(EventIdError::InvalidCharacter(' '))
        ));
        assert!(EventId::parse("line\nbreak").is_err());
        assert!(EventId::parse("café").is_err());
        assert!(matches!(
            EventId::parse(&"a".repeat(129)),
            Err(EventIdError::TooLong(129))
        ));
    }
}
