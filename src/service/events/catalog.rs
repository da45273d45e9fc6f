//! The catalog step of a publish: every event's type must be registered and
//! active, and its payload must satisfy the type's JSON Schema. All
//! problems of a request are reported together.

use super::Job;
use crate::service::{FieldViolation, ServiceError};
use crate::store::{Connection, publish};
use std::collections::{HashMap, HashSet};

/// A catalog entry as publishing sees it.
pub(super) enum Entry {
    /// Registered and active, with its compiled JSON Schema if it has one.
    Active(Option<jsonschema::Validator>),
    /// Registered but archived: publishing it is refused.
    Archived,
}

/// The entries a group of publishes names, by (tenant, type).
pub(super) type Catalog = HashMap<(String, String), Entry>;

/// Reads and compiles, in one statement, the entries the group's requests
/// name (those that check the catalog at all).
pub(super) async fn load<C: Connection>(
    db: &C,
    tenants: &HashSet<&str>,
    jobs: &[Job],
) -> Result<Catalog, ServiceError> {
    let names: HashSet<&str> = jobs
        .iter()
        .filter(|j| j.catalog.is_some())
        .flat_map(|j| j.events.iter().map(|e| e.event_type.as_str()))
        .collect();
    if names.is_empty() {
        return Ok(Catalog::new());
    }
    let mut catalog = Catalog::new();
    for row in publish::event_types_named(db, tenants, &names).await? {
        let entry = if row.archived {
            Entry::Archived
        } else {
            match &row.json_schema {
                None => Entry::Active(None),
                Some(schema) => {
                    let schema: serde_json::Value = serde_json::from_str(schema)
                        .map_err(|e| ServiceError::Internal(format!("stored schema: {e}")))?;
                    Entry::Active(Some(jsonschema::validator_for(&schema).map_err(|e| {
                        ServiceError::Internal(format!("stored schema of {}: {e}", row.name))
                    })?))
                }
            }
        };
        catalog.insert((row.tenant_id, row.name), entry);
    }
    Ok(catalog)
}

/// Checks one request's events against the catalog, naming fields `paths`' way.
pub(super) fn check(catalog: &Catalog, job: &Job) -> Result<(), ServiceError> {
    let Some(paths) = job.catalog else {
        return Ok(());
    };
    let mut violations = Vec::new();
    for (index, event) in job.events.iter().enumerate() {
        let name = event.event_type.as_str();
        match catalog.get(&(job.tenant_id.clone(), name.to_owned())) {
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
            Some(Entry::Active(Some(validator))) => {
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
