//! Delivery profiles a tenant saves once by name for many subscriptions.
//! A subscription naming one keeps a copy of it (see
//! [`ProfileSpec::saved_base`]), refreshed here whenever the saved profile
//! changes, so sending never looks profiles up.

use super::subscriptions::profile::{self, violations_under};
use super::subscriptions::to_subscription;
use super::{Caller, ServiceError};
use crate::domain::profile::{PRESET_NAMES, check_saved_name, preset};
use crate::domain::{Capability, DeliveryProfile, ProfileSpec};
use crate::store::delivery_profiles as rows;
use crate::store::{
    Connection, TransactionSession, Transactional, delivery_profile, now_micros, subscription,
};

#[derive(Clone, Debug)]
pub struct SavedProfile {
    pub name: String,
    pub spec: ProfileSpec,
    pub built_in: bool,
    pub create_time: i64,
    pub update_time: i64,
}

pub async fn create<C: Connection>(
    db: &C,
    caller: &Caller,
    name: &str,
    spec: ProfileSpec,
) -> Result<SavedProfile, ServiceError> {
    require_manage(caller)?;
    check_saved_name(name).map_err(|e| ServiceError::invalid("delivery_profile.name", e))?;
    check_spec(&spec)?;
    let now = now_micros();
    let row = rows::insert(
        db,
        delivery_profile::Model {
            tenant_id: caller.tenant_id.clone(),
            name: name.to_owned(),
            spec: to_json(&spec),
            create_time: now,
            update_time: now,
        },
    )
    .await
    .map_err(|err| ServiceError::from_insert(err, "delivery profile", name.to_owned()))?;
    to_saved(row)
}

pub async fn get<C: Connection>(
    db: &C,
    caller: &Caller,
    name: &str,
) -> Result<SavedProfile, ServiceError> {
    caller.require_read()?;
    if let Some(spec) = preset(name) {
        return Ok(built_in(name, spec));
    }
    to_saved(find(db, caller, name).await?)
}

/// The built-in presets on the first page, then the tenant's own by name.
pub async fn list<C: Connection>(
    db: &C,
    caller: &Caller,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<SavedProfile>, ServiceError> {
    caller.require_read()?;
    let mut found: Vec<SavedProfile> = Vec::new();
    if after.is_none() {
        found.extend(
            PRESET_NAMES
                .iter()
                .filter_map(|name| preset(name).map(|spec| built_in(name, spec))),
        );
    }
    for row in rows::list_page(db, &caller.tenant_id, after, limit).await? {
        found.push(to_saved(row)?);
    }
    Ok(found)
}

/// Replaces the profile and, in the same transaction, the copy every
/// subscription using it keeps; refused if one of them would become invalid.
pub async fn update<C: Connection + Transactional>(
    db: &C,
    caller: &Caller,
    name: &str,
    spec: ProfileSpec,
) -> Result<SavedProfile, ServiceError> {
    require_manage(caller)?;
    check_spec(&spec)?;
    let txn = db.begin().await?;
    let row = find(&txn, caller, name).await?;
    let now = now_micros();
    for user in rows::users(&txn, &caller.tenant_id, name).await? {
        refresh_copy(&txn, user, &spec, now).await?;
    }
    let row = rows::replace(&txn, row, to_json(&spec), now).await?;
    txn.commit().await?;
    to_saved(row)
}

pub async fn delete<C: Connection>(
    db: &C,
    caller: &Caller,
    name: &str,
) -> Result<(), ServiceError> {
    require_manage(caller)?;
    find(db, caller, name).await?;
    let users = rows::users(db, &caller.tenant_id, name).await?;
    if let Some(first) = users.first() {
        return Err(ServiceError::FailedPrecondition(format!(
            "delivery profile {name:?} is used by {} subscription(s), e.g. {}; give them another profile first",
            users.len(),
            first.id
        )));
    }
    rows::delete(db, &caller.tenant_id, name).await?;
    Ok(())
}

/// Saved profiles are the tenant's, shared across scopes: a key restricted
/// to one scope may read them but not change them.
fn require_manage(caller: &Caller) -> Result<(), ServiceError> {
    caller.require(Capability::Manage)?;
    caller.require_unscoped("manage delivery profiles")
}

/// A saved profile starts from a built-in preset, never from another saved
/// profile, so a change reaches its users in one step.
fn check_spec(spec: &ProfileSpec) -> Result<(), ServiceError> {
    if spec.saved_name().is_some() {
        return Err(ServiceError::invalid(
            "delivery_profile.profile.preset",
            format!(
                "a saved profile starts from a built-in preset ({}), not from another profile",
                PRESET_NAMES.join(", ")
            ),
        ));
    }
    DeliveryProfile::resolve(spec, |_| None)
        .map(drop)
        .map_err(|v| violations_under("delivery_profile.profile", v))
}

async fn refresh_copy<C: Connection>(
    db: &C,
    user: subscription::Model,
    saved: &ProfileSpec,
    now: i64,
) -> Result<(), ServiceError> {
    let mut spec = to_subscription(user.clone())?.spec;
    spec.profile.saved_base = Some(Box::new(saved.clone()));
    let invalid = |why: String| {
        ServiceError::FailedPrecondition(format!(
            "subscription {} uses this profile and would become invalid: {why}",
            user.id
        ))
    };
    let resolved = profile::resolve(&spec.profile).map_err(|violations| {
        invalid(
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    profile::check_headers(&spec, &resolved).map_err(|err| invalid(err.to_string()))?;
    rows::set_subscription_profile(db, user, to_json(&spec.profile), now).await?;
    Ok(())
}

async fn find<C: Connection>(
    db: &C,
    caller: &Caller,
    name: &str,
) -> Result<delivery_profile::Model, ServiceError> {
    if preset(name).is_some() {
        return Err(ServiceError::FailedPrecondition(format!(
            "{name:?} is a built-in preset and cannot be changed; save a profile of your own that starts from it"
        )));
    }
    rows::find(db, &caller.tenant_id, name)
        .await?
        .ok_or_else(|| ServiceError::not_found("delivery profile", name))
}

fn built_in(name: &str, spec: ProfileSpec) -> SavedProfile {
    SavedProfile {
        name: name.to_owned(),
        spec,
        built_in: true,
        create_time: 0,
        update_time: 0,
    }
}

fn to_saved(row: delivery_profile::Model) -> Result<SavedProfile, ServiceError> {
    let spec = serde_json::from_str(&row.spec).map_err(|e| {
        ServiceError::Internal(format!("stored delivery profile {}: {e}", row.name))
    })?;
    Ok(SavedProfile {
        name: row.name,
        spec,
        built_in: false,
        create_time: row.create_time,
        update_time: row.update_time,
    })
}

fn to_json(spec: &ProfileSpec) -> String {
    serde_json::to_string(spec).expect("plain data serialises")
}
