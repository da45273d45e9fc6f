//! The event-type catalog: what a tenant can publish and subscribe to.
//! Deleting archives, so history and existing subscriptions stay readable.

use super::{Caller, ServiceError};
use crate::domain::{Capability, EventTypeName};
use crate::store::is_unique_violation;
use crate::store::{event_type, now_micros};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

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

pub async fn create<C: ConnectionTrait>(
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
    let model = event_type::ActiveModel {
        tenant_id: Set(caller.tenant_id.clone()),
        name: Set(new.name.as_str().to_owned()),
        description: Set(new.description),
        json_schema: Set(new.json_schema.as_ref().map(|s| s.to_string())),
        archived: Set(false),
        create_time: Set(now),
        update_time: Set(now),
    };
    let model = model.insert(db).await.map_err(|err| {
        if is_unique_violation(&err) {
            ServiceError::AlreadyExists {
                kind: "event type",
                id: new.name.as_str().to_owned(),
            }
        } else {
            err.into()
        }
    })?;
    to_event_type(model)
}

pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    name: &str,
) -> Result<EventType, ServiceError> {
    caller.require_read()?;
    to_event_type(find(db, &caller.tenant_id, name).await?)
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    after_name: Option<&str>,
    limit: u64,
    show_archived: bool,
) -> Result<Vec<EventType>, ServiceError> {
    caller.require_read()?;
    let mut query = event_type::Entity::find()
        .filter(event_type::Column::TenantId.eq(&caller.tenant_id))
        .order_by_asc(event_type::Column::Name)
        .limit(limit);
    if let Some(after) = after_name {
        query = query.filter(event_type::Column::Name.gt(after));
    }
    if !show_archived {
        query = query.filter(event_type::Column::Archived.eq(false));
    }
    query
        .all(db)
        .await?
        .into_iter()
        .map(to_event_type)
        .collect()
}

pub async fn update<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    name: &str,
    patch: EventTypePatch,
) -> Result<EventType, ServiceError> {
    caller.require(Capability::Manage)?;
    caller.require_unscoped("the event-type catalog")?;
    let mut active: event_type::ActiveModel = find(db, &caller.tenant_id, name).await?.into();
    if let Some(description) = patch.description {
        active.description = Set(description);
    }
    if let Some(schema) = patch.json_schema {
        active.json_schema = Set(schema.map(|s| s.to_string()));
    }
    if let Some(archived) = patch.archived {
        active.archived = Set(archived);
    }
    active.update_time = Set(now_micros());
    to_event_type(active.update(db).await?)
}

/// Archives: publishing to it and new subscriptions naming it are refused,
/// but its history stays.
pub async fn archive<C: ConnectionTrait>(
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
pub async fn active_names<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    names: &[String],
) -> Result<Vec<String>, ServiceError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let found = event_type::Entity::find()
        .select_only()
        .column(event_type::Column::Name)
        .filter(event_type::Column::TenantId.eq(tenant_id))
        .filter(event_type::Column::Name.is_in(names.iter().cloned()))
        .filter(event_type::Column::Archived.eq(false))
        .into_tuple::<String>()
        .all(db)
        .await?;
    Ok(found)
}

async fn find<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    name: &str,
) -> Result<event_type::Model, ServiceError> {
    event_type::Entity::find_by_id((tenant_id.to_owned(), name.to_owned()))
        .one(db)
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
