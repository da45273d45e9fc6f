//! The event types a subscription asks for as a whole: a non-empty list of
//! distinct, valid patterns, at most [`MAX_EVENT_TYPE_PATTERNS`] of them.

use super::event_type_pattern::{EventTypePattern, EventTypePatternError};
use std::fmt;

/// Matching an event walks every pattern of every subscription: the list
/// stays short enough for that to be cheap.
pub const MAX_EVENT_TYPE_PATTERNS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternListError {
    #[error("must list at least one event type: an exact name, \"prefix.*\" or \"*\"")]
    Empty,
    #[error("at most {MAX_EVENT_TYPE_PATTERNS} patterns")]
    TooMany,
    /// Every bad entry, so a user can fix them in one round trip.
    #[error("{}", describe(.0))]
    Entries(Vec<PatternEntryError>),
}

/// One bad entry, by its position in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternEntryError {
    pub index: usize,
    pub reason: PatternEntryReason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternEntryReason {
    #[error("{0:?} is listed twice")]
    Duplicate(String),
    #[error(transparent)]
    Invalid(EventTypePatternError),
}

impl fmt::Display for PatternEntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]: {}", self.index, self.reason)
    }
}

fn describe(entries: &[PatternEntryError]) -> String {
    entries
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Parses every entry and reports all bad ones at once.
pub fn parse_pattern_list(raw: &[String]) -> Result<Vec<EventTypePattern>, PatternListError> {
    if raw.is_empty() {
        return Err(PatternListError::Empty);
    }
    if raw.len() > MAX_EVENT_TYPE_PATTERNS {
        return Err(PatternListError::TooMany);
    }
    let mut patterns = Vec::with_capacity(raw.len());
    let mut errors = Vec::new();
    for (index, text) in raw.iter().enumerate() {
        let parsed = if raw[..index].contains(text) {
            Err(PatternEntryReason::Duplicate(text.clone()))
        } else {
            EventTypePattern::parse(text).map_err(PatternEntryReason::Invalid)
        };
        match parsed {
            Ok(pattern) => patterns.push(pattern),
            Err(reason) => errors.push(PatternEntryError { index, reason }),
        }
    }
    if errors.is_empty() {
        Ok(patterns)
    } else {
        Err(PatternListError::Entries(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_list_needs_at_least_one_pattern() {
        assert_eq!(parse_pattern_list(&[]), Err(PatternListError::Empty));
        let patterns = parse_pattern_list(&list(&["invoice.*", "user.created"])).unwrap();
        assert_eq!(patterns.len(), 2);
    }

    #[test]
    fn a_list_holds_at_most_a_hundred_patterns() {
        let names: Vec<String> = (0..=MAX_EVENT_TYPE_PATTERNS)
            .map(|i| format!("type.n{i}"))
            .collect();
        assert!(parse_pattern_list(&names[..MAX_EVENT_TYPE_PATTERNS]).is_ok());
        assert_eq!(
            parse_pattern_list(&names),
            Err(PatternListError::TooMany),
            "one too many"
        );
    }

    #[test]
    fn every_bad_entry_is_reported_by_index() {
        let Err(PatternListError::Entries(errors)) =
            parse_pattern_list(&list(&["a.b", "a.b", "*x", "ok.*"]))
        else {
            panic!("expected entry errors");
        };
        let indexes: Vec<usize> = errors.iter().map(|e| e.index).collect();
        assert_eq!(indexes, [1, 2]);
        assert_eq!(errors[0].reason.to_string(), "\"a.b\" is listed twice");
        assert!(matches!(errors[1].reason, PatternEntryReason::Invalid(_)));
    }
}
