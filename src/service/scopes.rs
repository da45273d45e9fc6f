//! Registered scopes: a scope (a session, a flow) with an expiry and its
//! own subscription quota. Once it expires or is deleted its subscriptions
//! stop (pending deliveries cancelled, with the reason recorded), its
//! scope-restricted keys stop working and calls naming it are NOT_FOUND
//! with a reason a caller can tell apart from a missing resource.
//! Scopes nobody registered keep working as before.

use super::{Caller, ServiceError};
use crate::domain::{Capability, Scope};
use crate::store::scopes as rows;
use crate::store::{Connection, TransactionSession, Transactional, now_micros, scope};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a scope ended, as callers are told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeEnd {
    Expired { at: i64 },
    Deleted { at: i64 },
}

#[derive(Clone, Debug)]
pub struct RegisteredScope {
    pub name: String,
    pub expire_time: Option<i64>,
    pub max_subscriptions: Option<u32>,
    pub end_time: Option<i64>,
    pub end_reason: Option<String>,
    pub create_time: i64,
    pub update_time: i64,
}

impl RegisteredScope {
    /// How it ended, if it has by now.
    pub fn ended_now(&self) -> Option<ScopeEnd> {
        self.ended(now_micros())
    }

    /// `None` while live at `now`. Expiry counts from its time, not from
    /// when the reaper gets to it.
    pub fn ended(&self, now: i64) -> Option<ScopeEnd> {
        match (self.end_reason.as_deref(), self.end_time, self.expire_time) {
            (Some("deleted"), Some(at), _) => Some(ScopeEnd::Deleted { at }),
            (_, _, Some(at)) if at <= now => Some(ScopeEnd::Expired { at }),
            (Some(_), Some(at), _) => Some(ScopeEnd::Expired { at }),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct NewScope {
    pub name: Option<Scope>,
    pub expire_time: Option<i64>,
    pub max_subscriptions: Option<u32>,
}

/// `Some(None)` clears a field.
#[derive(Clone, Debug, Default)]
pub struct ScopePatch {
    pub expire_time: Option<Option<i64>>,
    pub max_subscriptions: Option<Option<u32>>,
}

/// Remembers registered scopes (and unregistered names) for a moment, so a
/// scoped publisher costs no extra query per request. Deletion here takes
/// effect at once; through another replica within the TTL. Expiry is exact.
#[derive(Default)]
pub struct ScopeCache {
    /// By (tenant, name): the registered scope or `None`, and when read.
    entries: Mutex<HashMap<ScopeKey, (Option<RegisteredScope>, Instant)>>,
}

type ScopeKey = (String, String);

const TTL: Duration = Duration::from_secs(2);
const MAX_ENTRIES: usize = 10_000;

impl ScopeCache {
    fn get(&self, key: &ScopeKey) -> Option<Option<RegisteredScope>> {
        let entries = self.entries.lock().expect("scope cache lock");
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(scope, _)| scope.clone())
    }

    fn put(&self, key: ScopeKey, scope: Option<RegisteredScope>) {
        let mut entries = self.entries.lock().expect("scope cache lock");
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (scope, Instant::now()));
    }

    fn forget(&self, tenant_id: &str, name: &str) {
        let mut entries = self.entries.lock().expect("scope cache lock");
        entries.remove(&(tenant_id.to_owned(), name.to_owned()));
    }
}

/// The registered scope `name` if it is live, `None` if nobody registered
/// it; an ended one is [`ServiceError::ScopeEnded`].
pub async fn require_usable<C: Connection>(
    db: &C,
    cache: &ScopeCache,
    tenant_id: &str,
    name: &str,
) -> Result<Option<RegisteredScope>, ServiceError> {
    let key = (tenant_id.to_owned(), name.to_owned());
    let found = match cache.get(&key) {
        Some(found) => found,
        None => {
            let found = rows::find(db, tenant_id, name).await?.map(to_scope);
            cache.put(key, found.clone());
            found
        }
    };
    if let Some(scope) = &found
        && let Some(end) = scope.ended(now_micros())
    {
        return Err(ServiceError::ScopeEnded {
            scope: name.to_owned(),
            end,
        });
    }
    Ok(found)
}

pub async fn create<C: Connection>(
    db: &C,
    caller: &Caller,
    new: NewScope,
) -> Result<RegisteredScope, ServiceError> {
    require_manage(caller)?;
    let name = new
        .name
        .ok_or_else(|| ServiceError::invalid("scope.name", "is required"))?;
    let now = now_micros();
    if new.expire_time.is_some_and(|at| at <= now) {
        return Err(ServiceError::invalid(
            "scope.expire_time",
            "must be in the future",
        ));
    }
    let row = rows::insert(
        db,
        scope::Model {
            tenant_id: caller.tenant_id.clone(),
            name: name.as_str().to_owned(),
            expire_time: new.expire_time,
            max_subscriptions: new.max_subscriptions.map(|n| n.min(i32::MAX as u32) as i32),
            end_time: None,
            end_reason: None,
            create_time: now,
            update_time: now,
        },
    )
    .await
    .map_err(|err| ServiceError::from_insert(err, "scope", name.as_str().to_owned()))?;
    Ok(to_scope(row))
}

/// A registered scope, ended or not: operators can see when and why it ended.
pub async fn get<C: Connection>(
    db: &C,
    caller: &Caller,
    name: &str,
) -> Result<RegisteredScope, ServiceError> {
    caller.require_read()?;
    if !caller.can_see(Some(name)) {
        return Err(ServiceError::not_found("scope", name));
    }
    rows::find(db, &caller.tenant_id, name)
        .await?
        .map(to_scope)
        .ok_or_else(|| ServiceError::not_found("scope", name))
}

/// Extends, shortens or clears the expiry, or changes the quota, of a live scope.
pub async fn update<C: Connection>(
    db: &C,
    cache: &ScopeCache,
    caller: &Caller,
    name: &str,
    patch: ScopePatch,
) -> Result<RegisteredScope, ServiceError> {
    require_manage(caller)?;
    let row = live(db, caller, name).await?;
    let now = now_micros();
    let expire_time = patch.expire_time.unwrap_or(row.expire_time);
    if expire_time.is_some_and(|at| at <= now) {
        return Err(ServiceError::invalid(
            "scope.expire_time",
            "must be in the future (DeleteScope ends a scope now)",
        ));
    }
    let max = match patch.max_subscriptions {
        Some(max) => max.map(|n| n.min(i32::MAX as u32) as i32),
        None => row.max_subscriptions,
    };
    let row = rows::save(db, row, expire_time, max, now).await?;
    cache.forget(&caller.tenant_id, name);
    Ok(to_scope(row))
}

/// Ends a scope now, in one transaction with its subscriptions and their
/// pending deliveries.
pub async fn delete<C: Connection + Transactional>(
    db: &C,
    cache: &ScopeCache,
    caller: &Caller,
    name: &str,
) -> Result<(), ServiceError> {
    require_manage(caller)?;
    live(db, caller, name).await?;
    let txn = db.begin().await?;
    let reason = format!("scope {name:?} was deleted");
    rows::end(
        &txn,
        &caller.tenant_id,
        name,
        "deleted",
        &reason,
        now_micros(),
    )
    .await?;
    txn.commit().await?;
    cache.forget(&caller.tenant_id, name);
    Ok(())
}

/// Ends the scopes whose expiry has passed (a bounded batch, each in its
/// own transaction); safe on every replica at once. Returns how many ended.
pub async fn end_expired<C: Connection + Transactional>(
    db: &C,
    now: i64,
) -> Result<usize, ServiceError> {
    let mut ended = 0;
    for row in rows::expired(db, now, 100).await? {
        let txn = db.begin().await?;
        let reason = format!("scope {:?} expired", row.name);
        if rows::end(&txn, &row.tenant_id, &row.name, "expired", &reason, now).await? {
            ended += 1;
        }
        txn.commit().await?;
    }
    Ok(ended)
}

/// A live registered scope for a write; ended ones say how they ended.
async fn live<C: Connection>(
    db: &C,
    caller: &Caller,
    name: &str,
) -> Result<scope::Model, ServiceError> {
    let row = rows::find(db, &caller.tenant_id, name)
        .await?
        .ok_or_else(|| ServiceError::not_found("scope", name))?;
    if let Some(end) = to_scope(row.clone()).ended(now_micros()) {
        return Err(ServiceError::ScopeEnded {
            scope: name.to_owned(),
            end,
        });
    }
    Ok(row)
}

/// Registering scopes is the tenant's business, not a scoped key's.
fn require_manage(caller: &Caller) -> Result<(), ServiceError> {
    caller.require(Capability::Manage)?;
    caller.require_unscoped("managing scopes")
}

fn to_scope(row: scope::Model) -> RegisteredScope {
    RegisteredScope {
        name: row.name,
        expire_time: row.expire_time,
        max_subscriptions: row.max_subscriptions.map(|n| n.max(0) as u32),
        end_time: row.end_time,
        end_reason: row.end_reason,
        create_time: row.create_time,
        update_time: row.update_time,
    }
}
