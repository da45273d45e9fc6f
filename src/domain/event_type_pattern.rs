//! `EventTypePattern`: which event types a subscription receives ("*", "invoice.*", exact).

use std::fmt;

use super::event_type_name::{EventTypeName, EventTypeNameError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventTypePatternError {
    #[error("event type pattern must not be empty; use \"*\" for all events")]
    Empty,
    #[error(
        "'*' is only allowed as the whole pattern (\"*\") or as the last segment after a \
         dot (\"invoice.*\")"
    )]
    MisplacedWildcard,
    #[error("invalid prefix before \".*\": {0}")]
    InvalidPrefix(EventTypeNameError),
    #[error(transparent)]
    InvalidName(EventTypeNameError),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventTypePattern {
    /// "*": every event type.
    All,
    /// "invoice.*", stored without the ".*" (here "invoice"); the prefix is a valid
    /// event type name. Matches names with at least one more segment.
    Prefix(String),
    /// An exact event type name.
    Exact(EventTypeName),
}

impl EventTypePattern {
    pub fn parse(s: &str) -> Result<Self, EventTypePatternError> {
        if s.is_empty() {
            return Err(EventTypePatternError::Empty);
        }
        if s == "*" {
            return Ok(Self::All);
        }
        if let Some(prefix) = s.strip_suffix(".*") {
            if prefix.contains('*') {
                return Err(EventTypePatternError::MisplacedWildcard);
            }
            let name =
                EventTypeName::parse(prefix).map_err(EventTypePatternError::InvalidPrefix)?;
            return Ok(Self::Prefix(name.into_string()));
        }
        if s.contains('*') {
            return Err(EventTypePatternError::MisplacedWildcard);
        }
        EventTypeName::parse(s)
            .map(Self::Exact)
            .map_err(EventTypePatternError::InvalidName)
    }

    pub fn matches(&self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Prefix(prefix) => name
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|rest| !rest.is_empty()),
            Self::Exact(exact) => exact.as_str() == name,
        }
    }

    pub fn exact(&self) -> Option<&EventTypeName> {
        match self {
            Self::Exact(name) => Some(name),
            _ => None,
        }
    }

    /// The text form; `parse(p.as_string()) == p`.
    pub fn as_string(&self) -> String {
        match self {
            Self::All => "*".to_owned(),
            Self::Prefix(prefix) => format!("{prefix}.*"),
            Self::Exact(name) => name.as_str().to_owned(),
        }
    }
}

impl fmt::Display for EventTypePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

impl std::str::FromStr for EventTypePattern {
    type Err = EventTypePatternError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips() {
        for s in ["*", "invoice.*", "invoice.line.*", "invoice.paid", "a"] {
            let p = EventTypePattern::parse(s).unwrap();
            assert_eq!(p.as_string(), s);
            assert_eq!(p.to_string(), s);
            assert_eq!(EventTypePattern::parse(&p.as_string()).unwrap(), p);
        }
        assert_eq!(EventTypePattern::parse("*").unwrap(), EventTypePattern::All);
        assert_eq!(
            EventTypePattern::parse("invoice.*").unwrap(),
            EventTypePattern::Prefix("invoice".into())
        );
    }

    #[test]
    fn prefix_matching() {
        let p = EventTypePattern::parse("invoice.*").unwrap();
        assert!(p.matches("invoice.paid"));
        assert!(p.matches("invoice.line.added"));
        assert!(!p.matches("invoice"));
        assert!(!p.matches("invoice."));
        assert!(!p.matches("invoices.x"));
        assert!(!p.matches("xinvoice.paid"));
        assert!(!p.matches(""));
        assert!(p.exact().is_none());
    }

    #[test]
    fn all_and_exact_matching() {
        assert!(EventTypePattern::All.matches("anything.at.all"));
        let p = EventTypePattern::parse("invoice.paid").unwrap();
        assert!(p.matches("invoice.paid"));
        assert!(!p.matches("invoice.paid.late"));
        assert!(!p.matches("invoice"));
        assert_eq!(p.exact().unwrap().as_str(), "invoice.paid");
    }

    #[test]
    fn rejects_bad_patterns() {
        use EventTypePatternError::*;
        assert_eq!(EventTypePattern::parse("").unwrap_err(), Empty);
        for s in [
            "**",
            "invoice*",
            "*.paid",
            "invoice.*.x",
            "in*voice",
            "*.*",
            "a.**",
        ] {
            assert_eq!(
                EventTypePattern::parse(s).unwrap_err(),
                MisplacedWildcard,
                "{s}"
            );
        }
        assert!(matches!(
            EventTypePattern::parse(".*").unwrap_err(),
            InvalidPrefix(EventTypeNameError::Empty)
        ));
        assert!(matches!(
            EventTypePattern::parse("Invoice.*").unwrap_err(),
            InvalidPrefix(_)
        ));
        assert!(matches!(
            EventTypePattern::parse("invoice..*").unwrap_err(),
            InvalidPrefix(EventTypeNameError::EmptySegment)
        ));
        assert!(matches!(
            EventTypePattern::parse(" *").unwrap_err(),
            MisplacedWildcard
        ));
        assert!(matches!(
            EventTypePattern::parse("ünïcode").unwrap_err(),
            InvalidName(_)
        ));
        assert!(matches!(
            EventTypePattern::parse(&"a".repeat(10_000)).unwrap_err(),
            InvalidName(EventTypeNameError::TooLong { .. })
        ));
        assert!(matches!(
            EventTypePattern::parse("a\u{0}").unwrap_err(),
            InvalidName(_)
        ));
        let msg = EventTypePattern::parse("invoice*").unwrap_err().to_string();
        assert!(msg.contains("invoice.*"), "{msg}");
    }
}
