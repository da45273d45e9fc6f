//! `ProfileSpec`: a delivery profile as the subscriber declares it (a
//! preset name plus overrides, all plain data). It is also the stored
//! form, so a saved subscription is re-validated by the same rules.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileSpec {
    /// A built-in preset (`standard-webhooks`, `github`, …) or a profile the
    /// tenant saved; the fields below override it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// `envelope`, `data` or `fields`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// For `fields`: (name, source) pairs in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub body_fields: Vec<BodyFieldSpec>,
    /// `Some("")` sends no id header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_header: Option<String>,
    /// `Some("")` sends no timestamp header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    /// `seconds` or `milliseconds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_unit: Option<String>,
    /// Extra headers whose values are templates (`{id}`, `{type}`, `{scope}`, `{ts}`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub header_templates: BTreeMap<String, String>,
    /// `Some(vec![])` means the profile sends no signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signatures: Option<Vec<RecipeSpec>>,
    /// When `preset` names a profile the tenant saved: a copy of it, kept
    /// current when the saved profile changes, so sending never looks it up.
    /// Stored only; never part of what the API shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_base: Option<Box<ProfileSpec>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BodyFieldSpec {
    pub name: String,
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecipeSpec {
    pub header: String,
    /// `hmac-sha256` (default) or `hmac-sha512`.
    pub algorithm: String,
    /// `hex` (default) or `base64`.
    pub encoding: String,
    /// `raw` (default) or `standard-webhooks`.
    pub key: String,
    /// Default `{body}`.
    pub signed_content: String,
    /// Default `{sig}`.
    pub each: String,
    /// Empty: the header carries one signature.
    pub separator: String,
    /// Default `{sigs}`.
    pub value: String,
    pub algorithm_header: String,
}

impl ProfileSpec {
    /// True for the default profile (nothing declared): subscriptions that
    /// never mention a profile store nothing and send Standard Webhooks.
    pub fn is_default(&self) -> bool {
        *self == ProfileSpec::default()
    }

    /// `self` over `base`: what `self` declares wins, header templates merge.
    pub fn over(&self, base: &ProfileSpec) -> ProfileSpec {
        let mut header_templates = base.header_templates.clone();
        header_templates.extend(
            self.header_templates
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        let body_declared = self.body.is_some() || !self.body_fields.is_empty();
        ProfileSpec {
            preset: None,
            body: if body_declared {
                self.body.clone()
            } else {
                base.body.clone()
            },
            body_fields: if body_declared {
                self.body_fields.clone()
            } else {
                base.body_fields.clone()
            },
            id_header: self.id_header.clone().or_else(|| base.id_header.clone()),
            timestamp_header: self
                .timestamp_header
                .clone()
                .or_else(|| base.timestamp_header.clone()),
            timestamp_unit: self
                .timestamp_unit
                .clone()
                .or_else(|| base.timestamp_unit.clone()),
            header_templates,
            signatures: self.signatures.clone().or_else(|| base.signatures.clone()),
            saved_base: None,
        }
    }
}
