//! The event-type catalog: what a tenant can publish and subscribe to.
//! Deleting archives, so history and existing subscriptions stay readable.

use super::{Caller, ServiceError};
use crate::domain::{Capability, EventTypeName};
use crate::store::{Connection, event_type, event_types, now_micros};

#[derive(Clone, Debug)]
pub struct EventType {
    pub name: EventTypeName,
    pub description: String,
    pub json_schema: Option<serde_json::Value>,
    pub archived: bool,
    pub create_time: i64,
    pub update_time: i64,
}

/// The validated input of CreateEventType.
#[derive(Clone, Debug)]
pub struct NewEventType {
    pub name: EventTypeName,
    pub description: String,
    pub json_schema: Option<serde_json::Value>,
}

/// The fields an update mask named, each already validated.
#[derive(Clone, Debug, Default)]
pub struct EventTypePatch {
    pub description: Option<String>,
    /// `Some(None)` removes the schema.
    pub json_schema: Option<Option<serde_json::Value>>,
    pub archived: Option<bool>,
}

/// Checks that `schema` is itself a valid JSON Schema, so a bad schema is
/// refused when stored rather than failing every publish later.
pub fn check_json_schema(schema: &serde_json::Value) -> Result<(), String> {
    if !schema.is_object() {
        return Err("must be a JSON object (a JSON Schema)".to_owned());
    }
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|err| format!("not a valid JSON Schema: {err}"))
}

pub async fn create<C: Connection>(
    db: &C,
    caller: &Caller,
    new: NewEventType,
) -> Result<EventType, ServiceError> {
    caller.require(Capability::Manage)?;
    caller.require_unscoped("the event-type catalog")?;
    if new.name.is_reserved() {
        return Err(ServiceError::invalid(
            "event_type.name",
            "the `hookrelay.` prefix is reserved for operational events",
        ));
    }
    let now = now_micros();
    let row = event_type::Model {
        tenant_id: caller.tenant_id.clone(),
        name: new.name.as_str().to_owned(),
        description: new.description,
        json_schema: new.json_schema.as_ref().map(|s| s.to_string()),
        archived: false,
        create_time: now,
        update_time: now,
    };
    let model = event_types::insert(db, row).await.map_err(|err| {
        ServiceError::from_insert(err, "event type", new.name.as_str().to_owned())
    })?;
    to_event_type(model)
}

pub async fn get<C: Connection>(
    db: &C,
    caller: &Caller,
    name: &str,
) -> Result<EventType, ServiceError> {
    caller.require_read()?;
    to_event_type(find(db, &caller.tenant_id, name).await?)
}

pub async fn list<C: Connection>(
    db: &C,
    caller: &Caller,
    after_name: Option<&str>,
    limit: u64,
    show_archived: bool,
) -> Result<Vec<EventType>, ServiceError> {
    caller.require_read()?;
    event_types::list_page(db, &caller.tenant_id, after_name, limit, show_archived)
        .await?
        .into_iter()
        .map(to_event_type)
        .collect()
}

pub async fn update<C: Connection>(
    db: &C,
    caller: &Caller,
    name: &str,
    patch: EventTypePatch,
) -> Result<EventType, ServiceError> {
    caller.require(Capability::Manage)?;
    caller.require_unscoped("the event-type catalog")?;
    let current = find(db, &caller.tenant_id, name).await?;
    let changes = event_types::Changes {
        description: patch.description,
        json_schema: patch
            .json_schema
            .map(|schema| schema.map(|s| s.to_string())),
        archived: patch.archived,
        update_time: now_micros(),
    };
    to_event_type(event_types::update(db, current, changes).await?)
}

/// Archives: publishing to it and new subscriptions naming it are refused,
/// but its history stays.
pub async fn archive<C: Connection>(
    db: &C,
    caller: &Caller,
    name: &str,
) -> Result<EventType, ServiceError> {
    update(
        db,
        caller,
        name,
        EventTypePatch {
            archived: Some(true),
            ..EventTypePatch::default()
        },
    )
    .await
}

/// Of `names`, those registered for the tenant and not archived.
pub async fn active_names<C: Connection>(
    db: &C,
    tenant_id: &str,
    names: &[String],
) -> Result<Vec<String>, ServiceError> {
    Ok(event_types::active_names(db, tenant_id, names).await?)
}

async fn find<C: Connection>(
    db: &C,
    tenant_id: &str,
    name: &str,
) -> Result<event_type::Model, ServiceError> {
    event_types::find(db, tenant_id, name)
        .await?
        .ok_or_else(|| ServiceError::not_found("event type", name))
}

fn to_event_type(model: event_type::Model) -> Result<EventType, ServiceError> {
    let corrupt = |what: String| ServiceError::Internal(format!("stored event type: {what}"));
    Ok(EventType {
        name: EventTypeName::parse(&model.name).map_err(|e| corrupt(e.to_string()))?,
        description: model.description,
        json_schema: model
            .json_schema
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?,
        archived: model.archived,
        create_time: model.create_time,
        update_time: model.update_time,
    })
}
