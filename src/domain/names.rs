//! Free-text fields people type: resource names, scopes and descriptions.

use std::fmt;

pub const MAX_NAME_LEN: usize = 128;
pub const MAX_SCOPE_LEN: usize = 128;
pub const MAX_DESCRIPTION_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is {len} characters long; the maximum is {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error(
        "{field} contains a control or invisible formatting character at position \
         {position}; remove it"
    )]
    ControlChar {
        field: &'static str,
        position: usize,
    },
    #[error("{field} must not contain whitespace (found at position {position})")]
    Whitespace {
        field: &'static str,
        position: usize,
    },
}

/// Control characters, plus bidirectional overrides and line/paragraph separators: they
/// make a name display differently from what it is ("Trojan Source" style spoofing).
fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

fn check_len(field: &'static str, s: &str, max: usize) -> Result<(), TextError> {
    let len = s.chars().count();
    if len > max {
        return Err(TextError::TooLong { field, len, max });
    }
    Ok(())
}

/// Display name of a subscription or API key: surrounding whitespace is trimmed, 1..=128
/// characters, any script allowed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceName(String);

impl ResourceName {
    pub fn parse(s: &str) -> Result<Self, TextError> {
        const FIELD: &str = "name";
        let s = s.trim();
        if s.is_empty() {
            return Err(TextError::Empty { field: FIELD });
        }
        check_len(FIELD, s, MAX_NAME_LEN)?;
        if let Some(position) = s.chars().position(is_forbidden_char) {
            return Err(TextError::ControlChar {
                field: FIELD,
                position,
            });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An opaque scope label (e.g. a customer or environment id): 1..=128 characters, no
/// whitespace or control characters, so it is safe as a single token in logs and filters.
/// Not trimmed: a stray space is reported rather than silently changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

impl Scope {
    pub fn parse(s: &str) -> Result<Self, TextError> {
        const FIELD: &str = "scope";
        if s.is_empty() {
            return Err(TextError::Empty { field: FIELD });
        }
        check_len(FIELD, s, MAX_SCOPE_LEN)?;
        for (position, c) in s.chars().enumerate() {
            if c.is_whitespace() {
                return Err(TextError::Whitespace {
                    field: FIELD,
                    position,
                });
            }
            if is_forbidden_char(c) {
                return Err(TextError::ControlChar {
                    field: FIELD,
                    position,
                });
            }
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Optional free text, up to 1024 characters. Newlines and tabs are allowed (multi-line
/// notes); other control characters are not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Description(String);

impl Description {
    pub fn parse(s: &str) -> Result<Self, TextError> {
        const FIELD: &str = "description";
        check_len(FIELD, s, MAX_DESCRIPTION_LEN)?;
        if let Some(position) = s
            .chars()
            .position(|c| is_forbidden_char(c) && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(TextError::ControlChar {
                field: FIELD,
                position,
            });
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

macro_rules! impl_display {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    )*};
}
impl_display!(ResourceName, Scope, Description);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names() {
        assert_eq!(
            ResourceName::parse("  Billing hook ").unwrap().as_str(),
            "Billing hook"
        );
        assert_eq!(
            ResourceName::parse("Zahlungseingänge 💶")
                .unwrap()
                .to_string(),
            "Zahlungseingänge 💶"
        );
        assert_eq!(ResourceName::parse("日本語").unwrap().as_str(), "日本語");
        assert!(ResourceName::parse(&"é".repeat(128)).is_ok());
        assert_eq!(
            ResourceName::parse(&"é".repeat(129)).unwrap_err(),
            TextError::TooLong {
                field: "name",
                len: 129,
                max: 128
            }
        );
        for s in ["", "   ", "\n\t"] {
            assert_eq!(
                ResourceName::parse(s).unwrap_err(),
                TextError::Empty { field: "name" },
                "{s:?}"
            );
        }
        for (s, position) in [
            ("a\nb", 1),
            ("a\0", 1),
            ("x\u{7f}", 1),
            ("evil\u{202E}gpj.exe", 4),
            ("\u{1b}[31mred", 0),
        ] {
            assert_eq!(
                ResourceName::parse(s).unwrap_err(),
                TextError::ControlChar {
                    field: "name",
                    position
                },
                "{s:?}"
            );
        }
        assert!(ResourceName::parse(&"x".repeat(1_000_000)).is_err());
    }

    #[test]
    fn scopes() {
        assert_eq!(
            Scope::parse("tenant-42/prod").unwrap().as_str(),
            "tenant-42/prod"
        );
        assert!(Scope::parse("kunde:müller").is_ok());
        assert!(Scope::parse(&"s".repeat(128)).is_ok());
        assert!(matches!(
            Scope::parse(&"s".repeat(129)).unwrap_err(),
            TextError::TooLong { .. }
        ));
        assert_eq!(
            Scope::parse("").unwrap_err(),
            TextError::Empty { field: "scope" }
        );
        for (s, position) in [
            (" a", 0),
            ("a b", 1),
            ("a\t", 1),
            ("a\u{a0}b", 1),
            ("a\u{3000}", 1),
        ] {
            assert_eq!(
                Scope::parse(s).unwrap_err(),
                TextError::Whitespace {
                    field: "scope",
                    position
                },
                "{s:?}"
            );
        }
        assert!(matches!(
            Scope::parse("a\0").unwrap_err(),
            TextError::ControlChar { .. }
        ));
    }

    #[test]
    fn descriptions() {
        assert!(Description::parse("").unwrap().is_empty());
        assert_eq!(Description::default().as_str(), "");
        let multi = "Line one\r\n\tLine two — ünïcode ✓";
        assert_eq!(Description::parse(multi).unwrap().as_str(), multi);
        assert!(Description::parse(&"d".repeat(1024)).is_ok());
        assert!(matches!(
            Description::parse(&"d".repeat(1025)).unwrap_err(),
            TextError::TooLong { max: 1024, .. }
        ));
        assert!(matches!(
            Description::parse("bell\u{7}").unwrap_err(),
            TextError::ControlChar { position: 4, .. }
        ));
        assert!(matches!(
            Description::parse("\u{2066}x").unwrap_err(),
            TextError::ControlChar { .. }
        ));
    }

    #[test]
    fn messages_name_the_field() {
        let msg = Scope::parse("a b").unwrap_err().to_string();
        assert_eq!(
            msg,
            "scope must not contain whitespace (found at position 1)"
        );
        let msg = ResourceName::parse(&"x".repeat(200))
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "name is 200 characters long; the maximum is 128");
    }
}
