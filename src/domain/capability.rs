//! `Capabilities`: what an API key may do (manage, publish, read), stored as a small bitset.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// Create/update/delete subscriptions and keys.
    Manage,
    /// Publish events.
    Publish,
    /// Read subscriptions, events and deliveries.
    Read,
}

impl Capability {
    /// Canonical order, used by `to_list_string`.
    pub const ALL: [Capability; 3] = [Capability::Manage, Capability::Publish, Capability::Read];

    pub fn name(self) -> &'static str {
        match self {
            Capability::Manage => "manage",
            Capability::Publish => "publish",
            Capability::Read => "read",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Capability::Manage => 1,
            Capability::Publish => 2,
            Capability::Read => 4,
        }
    }

    /// One name, trimmed and case-insensitive.
    pub fn parse(s: &str) -> Result<Self, CapabilityError> {
        let t = s.trim();
        Capability::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| CapabilityError::Unknown {
                name: super::headers::preview(t),
            })
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityError {
    #[error(
        "capability list must not be empty; use a comma-separated list of manage, publish, read"
    )]
    Empty,
    #[error("capability list has an empty entry (doubled or trailing comma)")]
    EmptyEntry,
    #[error("unknown capability {name:?}; expected one of manage, publish, read")]
    Unknown { name: String },
}

/// A set of capabilities. No capability implies another; that policy belongs to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(u8);

impl Capabilities {
    pub fn empty() -> Self {
        Self(0)
    }

    pub fn all() -> Self {
        Capability::ALL.into_iter().collect()
    }

    /// "manage, Publish" style user input: comma-separated, trimmed, case-insensitive,
    /// duplicates ignored; must name at least one capability.
    pub fn parse_list(s: &str) -> Result<Self, CapabilityError> {
        if s.trim().is_empty() {
            return Err(CapabilityError::Empty);
        }
        let mut caps = Self::empty();
        for part in s.split(',') {
            if part.trim().is_empty() {
                return Err(CapabilityError::EmptyEntry);
            }
            caps.insert(Capability::parse(part)?);
        }
        Ok(caps)
    }

    /// Reads the stored form written by `to_list_string`; an empty string is the empty set.
    pub fn from_list_string(s: &str) -> Result<Self, CapabilityError> {
        if s.is_empty() {
            Ok(Self::empty())
        } else {
            Self::parse_list(s)
        }
    }

    /// Canonical comma-separated form ("manage,publish,read"), for storage and display.
    pub fn to_list_string(&self) -> String {
        self.iter()
            .map(Capability::name)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn contains(&self, cap: Capability) -> bool {
        self.0 & cap.bit() != 0
    }

    pub fn insert(&mut self, cap: Capability) {
        self.0 |= cap.bit();
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// Members in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        Capability::ALL.into_iter().filter(|c| self.contains(*c))
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut caps = Self::empty();
        for c in iter {
            caps.insert(c);
        }
        caps
    }
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_list_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists() {
        let c = Capabilities::parse_list("read, MANAGE ,publish,read").unwrap();
        assert_eq!(c, Capabilities::all());
        assert_eq!(c.to_list_string(), "manage,publish,read");
        let c = Capabilities::parse_list(" Publish ").unwrap();
        assert!(c.contains(Capability::Publish));
        assert!(!c.contains(Capability::Read));
        assert_eq!(c.iter().collect::<Vec<_>>(), vec![Capability::Publish]);
    }

    #[test]
    fn storage_round_trip() {
        for s in ["", "manage", "publish,read", "manage,publish,read"] {
            let c = Capabilities::from_list_string(s).unwrap();
            assert_eq!(c.to_list_string(), s);
        }
        assert!(Capabilities::from_list_string("").unwrap().is_empty());
    }

    #[test]
    fn insert_is_idempotent() {
        let mut c = Capabilities::empty();
        c.insert(Capability::Read);
        c.insert(Capability::Read);
        assert_eq!(c.to_list_string(), "read");
        assert_eq!(c.to_string(), "read");
    }

    #[test]
    fn rejects_bad_lists() {
        use CapabilityError::*;
        assert_eq!(Capabilities::parse_list("").unwrap_err(), Empty);
        assert_eq!(Capabilities::parse_list("  ").unwrap_err(), Empty);
        assert_eq!(Capabilities::parse_list("read,").unwrap_err(), EmptyEntry);
        assert_eq!(
            Capabilities::parse_list("read,,manage").unwrap_err(),
            EmptyEntry
        );
        assert_eq!(
            Capabilities::parse_list("read,admin").unwrap_err(),
            Unknown {
                name: "admin".into()
            }
        );
        for bad in ["rëad", "read\0", "read manage", "*", "réad"] {
            assert!(
                matches!(Capabilities::parse_list(bad).unwrap_err(), Unknown { .. }),
                "{bad:?}"
            );
        }
        let huge = "x".repeat(100_000);
        let msg = Capabilities::parse_list(&huge).unwrap_err().to_string();
        assert!(msg.len() < 200);
        assert!(msg.contains("manage, publish, read"));
    }
}
