//! Profiles a tenant saves by name: the rules for their names, and how a
//! subscription's spec tells it names one rather than a built-in preset.

use super::presets::preset;
use super::spec::ProfileSpec;

pub const MAX_SAVED_NAME_LEN: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavedNameError {
    #[error("must be 1 to 63 lowercase letters, digits and '-', starting with a letter or digit")]
    Invalid,
    #[error("{0:?} is a built-in preset; choose another name")]
    BuiltIn(String),
}

/// Checks the name of a profile a tenant saves.
pub fn check_saved_name(name: &str) -> Result<(), SavedNameError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_SAVED_NAME_LEN
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(SavedNameError::Invalid);
    }
    if preset(name).is_some() {
        return Err(SavedNameError::BuiltIn(name.to_owned()));
    }
    Ok(())
}

impl ProfileSpec {
    /// The name of a saved profile this spec starts from, if its preset is
    /// not built in.
    pub fn saved_name(&self) -> Option<&str> {
        self.preset
            .as_deref()
            .filter(|name| !name.is_empty() && preset(name).is_none())
    }
}
