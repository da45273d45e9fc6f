//! `EventTypeName`: the validated name of an event type, e.g. "invoice.paid".

use std::fmt;

pub const MAX_EVENT_TYPE_LEN: usize = 128;
const RESERVED_PREFIX: &str = "hookrelay.";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventTypeNameError {
    #[error("event type must not be empty (e.g. \"invoice.paid\")")]
    Empty,
    #[error("event type is {len} characters long; the maximum is 128")]
    TooLong { len: usize },
    #[error("event type must start with a lowercase letter a-z (e.g. \"invoice.paid\")")]
    MustStartWithLetter,
    #[error(
        "event type contains {ch:?} at position {position}; only lowercase a-z, 0-9, '_', '-' \
         and '.' between segments are allowed (e.g. \"invoice.paid\")"
    )]
    InvalidChar { ch: char, position: usize },
    #[error(
        "event type has an empty segment (a leading, trailing or doubled '.'); separate \
         segments with single dots, e.g. \"invoice.line.added\""
    )]
    EmptySegment,
}

/// Lowercase dotted name: segments of `[a-z0-9_-]+` joined by single dots, starting with
/// a letter, at most 128 characters. Kept strict so that names are unambiguous keys and
/// prefix patterns ("invoice.*") mean exactly one thing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventTypeName(String);

impl EventTypeName {
    pub fn parse(s: &str) -> Result<Self, EventTypeNameError> {
        if s.is_empty() {
            return Err(EventTypeNameError::Empty);
        }
        let len = s.chars().count();
        if len > MAX_EVENT_TYPE_LEN {
            return Err(EventTypeNameError::TooLong { len });
        }
        for (position, ch) in s.chars().enumerate() {
            let ok = ch.is_ascii_lowercase() || ch.is_ascii_digit() || "_-.".contains(ch);
            if !ok {
                return Err(EventTypeNameError::InvalidChar { ch, position });
            }
        }
        if s.split('.').any(str::is_empty) {
            return Err(EventTypeNameError::EmptySegment);
        }
        if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(EventTypeNameError::MustStartWithLetter);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Names under "hookrelay." are emitted by the service itself (e.g. test pings) and
    /// must not be published by clients.
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with(RESERVED_PREFIX)
    }
}

impl fmt::Display for EventTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EventTypeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for EventTypeName {
    type Err = EventTypeNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_names() {
        for s in [
            "a",
            "invoice.paid",
            "invoice.line.added",
            "user_created",
            "order-v2.shipped",
            "a1.2b.c-_",
            &"a".repeat(128),
        ] {
            let n = EventTypeName::parse(s).unwrap();
            assert_eq!(n.as_str(), s);
            assert_eq!(n.to_string(), s);
        }
    }

    #[test]
    fn rejects_bad_names() {
        use EventTypeNameError::*;
        let cases: &[(&str, EventTypeNameError)] = &[
            ("", Empty),
            (
                "Invoice.paid",
                InvalidChar {
                    ch: 'I',
                    position: 0,
                },
            ),
            (
                "invoice paid",
                InvalidChar {
                    ch: ' ',
                    position: 7,
                },
            ),
            (
                "invoice.*",
                InvalidChar {
                    ch: '*',
                    position: 8,
                },
            ),
            (
                "rechnung.bezahlt€",
                InvalidChar {
                    ch: '€',
                    position: 16,
                },
            ),
            (
                "a\nb",
                InvalidChar {
                    ch: '\n',
                    position: 1,
                },
            ),
            (
                "a\0",
                InvalidChar {
                    ch: '\0',
                    position: 1,
                },
            ),
            (".invoice", EmptySegment),
            ("invoice.", EmptySegment),
            ("invoice..paid", EmptySegment),
            ("1invoice", MustStartWithLetter),
            ("_invoice", MustStartWithLetter),
            ("-a", MustStartWithLetter),
        ];
        for (s, err) in cases {
            assert_eq!(EventTypeName::parse(s).unwrap_err(), *err, "{s:?}");
        }
        assert_eq!(
            EventTypeName::parse(&"a".repeat(129)).unwrap_err(),
            TooLong { len: 129 }
        );
        assert_eq!(
            EventTypeName::parse(&"é".repeat(1_000_000)).unwrap_err(),
            TooLong { len: 1_000_000 }
        );
    }

    #[test]
    fn reserved_prefix() {
        assert!(
            EventTypeName::parse("hookrelay.ping")
                .unwrap()
                .is_reserved()
        );
        assert!(!EventTypeName::parse("hookrelay").unwrap().is_reserved());
        assert!(
            !EventTypeName::parse("hookrelayx.ping")
                .unwrap()
                .is_reserved()
        );
    }

    #[test]
    fn messages_are_actionable() {
        let msg = EventTypeName::parse("Invoice").unwrap_err().to_string();
        assert!(msg.contains("lowercase"), "{msg}");
        assert!(msg.contains("invoice.paid"), "{msg}");
    }
}
