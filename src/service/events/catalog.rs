//! The catalog step of a publish: every event's type must be registered and
//! active, and its payload must satisfy the type's JSON Schema. All
//! problems of a request are reported together.

use super::Job;
use crate::service::{FieldViolation, ServiceError};
use crate::store::{Connection, publish};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// A catalog entry as publishing sees it.
pub(super) enum Entry {
    /// Registered and active, with its JSON Schema if it has one.
    Active(Option<Box<Schema>>),
    /// Registered but archived: publishing it is refused.
    Archived,
}

/// A stored JSON Schema, compiled the first time a payload is checked
/// against it and then kept with the tenant's routing.
pub(super) struct Schema {
    text: String,
    compiled: OnceLock<Result<jsonschema::Validator, String>>,
}

impl Schema {
    fn validator(&self, type_name: &str) -> Result<&jsonschema::Validator, ServiceError> {
        self.compiled
            .get_or_init(|| {
                let schema: serde_json::Value =
                    serde_json::from_str(&self.text).map_err(|e| e.to_string())?;
                jsonschema::validator_for(&schema).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| ServiceError::Internal(format!("stored schema of {type_name}: {e}")))
    }
}

/// Every catalog entry of these tenants, by tenant and then by name, in one
/// statement.
pub(super) async fn load<C: Connection>(
    db: &C,
    tenants: &HashSet<&str>,
) -> Result<HashMap<String, HashMap<String, Entry>>, ServiceError> {
    let mut catalogs: HashMap<String, HashMap<String, Entry>> = HashMap::new();
    for row in publish::event_types_of(db, tenants).await? {
        let entry = if row.archived {
            Entry::Archived
        } else {
            Entry::Active(row.json_schema.map(|text| {
                Box::new(Schema {
                    text,
                    compiled: OnceLock::new(),
                })
            }))
        };
        catalogs
            .entry(row.tenant_id)
            .or_default()
            .insert(row.name, entry);
    }
    Ok(catalogs)
}

/// Checks one request's events against the catalog, naming fields `paths`' way.
/// `catalog` is the tenant's, by type name.
pub(super) fn check(catalog: &HashMap<String, Entry>, job: &Job) -> Result<(), ServiceError> {
    let Some(paths) = job.catalog else {
        return Ok(());
    };
    let mut violations = Vec::new();
    for (index, event) in job.events.iter().enumerate() {
        let name = event.event_type.as_str();
        match catalog.get(name) {
            None => violations.push(FieldViolation {
                field: format!("{}.type", paths.of(index)),
                description: format!(
                    "event type {name:?} is not registered; create it with CreateEventType first"
                ),
            }),
            Some(Entry::Archived) => violations.push(FieldViolation {
                field: format!("{}.type", paths.of(index)),
                description: format!(
                    "event type {name:?} is archived; unarchive it with UpdateEventType to publish"
                ),
            }),
            Some(Entry::Active(None)) => {}
            Some(Entry::Active(Some(schema))) => {
                let validator = schema.validator(name)?;
                let data: serde_json::Value = serde_json::from_str(&event.payload)
                    .map_err(|e| ServiceError::Internal(format!("checked payload: {e}")))?;
                let problems: Vec<String> = validator
                    .iter_errors(&data)
                    .take(5)
                    .map(|e| {
                        let path = e.instance_path.to_string();
                        if path.is_empty() {
                            e.to_string()
                        } else {
                            format!("{path}: {e}")
                        }
                    })
                    .collect();
                if !problems.is_empty() {
                    violations.push(FieldViolation {
                        field: format!("{}.data", paths.of(index)),
                        description: format!(
                            "does not match the JSON Schema of {name}: {}",
                            problems.join("; ")
                        ),
                    });
                }
            }
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::InvalidArgument(violations))
    }
}
