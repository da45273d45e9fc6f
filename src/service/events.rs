//! Publishing: the event and one delivery per matching, enabled subscription
//! are written in one transaction (the transactional outbox), so nothing is
//! sent before the commit and nothing committed is lost. Also reads of events.

use super::handoff::{Direct, Handoff};
use super::{Caller, FieldViolation, ServiceError};
use crate::domain::{Capability, EventId, EventTypeName, EventTypePattern, IdKind, Scope, new_id};
use crate::store::delivery::Status;
use crate::store::is_unique_violation;
use crate::store::{combine, delivery, event, event_type, now_micros, queue, subscription};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, TransactionSession, TransactionTrait,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

pub const MAX_BATCH: usize = 1_000;
/// The namespace of hookrelay's own events.
pub const OPERATIONAL_PREFIX: &str = "hookrelay.";
/// Published to a tenant when one of its subscriptions is disabled.
pub const SUBSCRIPTION_DISABLED: &str = "hookrelay.subscription.disabled";
/// SendTestEvent's ping; never stored or fanned out.
pub const TEST_EVENT: &str = "hookrelay.test";
/// Rows per INSERT: keeps each statement well under SQLite's bound-parameter limit.
const INSERT_CHUNK: usize = 500;

/// A validated event to publish.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The publisher's own id (an idempotency key), or `None` for a new one.
    pub id: Option<EventId>,
    pub event_type: EventTypeName,
    pub scope: Option<Scope>,
    /// A JSON object's text, kept byte for byte.
    pub payload: String,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct Event {
    pub id: String,
    pub event_type: String,
    pub scope: Option<String>,
    pub payload: String,
    pub metadata: BTreeMap<String, String>,
    pub create_time: i64,
}

#[derive(Clone, Debug)]
pub struct Published {
    pub event: Event,
    pub subscription_count: u32,
    /// The id was already published: this is the original, nothing new was queued.
    pub duplicate: bool,
}

/// How the request names its events in field violations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldPaths {
    /// PublishEvent: `event.type`.
    Single,
    /// BatchPublishEvents: `events[2].type`, even in a batch of one.
    Batch,
}

impl FieldPaths {
    fn of(self, index: usize) -> String {
        match self {
            Self::Single => "event".to_owned(),
            Self::Batch => format!("events[{index}]"),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    pub scope: Option<Scope>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
}

/// Checks what needs no database (capability, batch size, scope) before a
/// publish goes to the [`Publisher`](super::publisher::Publisher).
pub fn prepare(caller: &Caller, mut events: Vec<NewEvent>) -> Result<Vec<NewEvent>, ServiceError> {
    caller.require(Capability::Publish)?;
    if events.is_empty() {
        return Err(ServiceError::invalid(
            "events",
            "must contain at least one event",
        ));
    }
    if events.len() > MAX_BATCH {
        return Err(ServiceError::invalid(
            "events",
            format!("at most {MAX_BATCH} events per call (got {})", events.len()),
        ));
    }
    for event in &mut events {
        event.scope = caller.effective_scope(event.scope.take())?;
    }
    Ok(events)
}

/// Publishes one of hookrelay's own `hookrelay.*` events to a tenant. The
/// reserved types are not in the catalog, so the catalog check is skipped.
/// Returns the stored event and how many deliveries it queued.
pub async fn publish_operational<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    tenant_id: &str,
    event_type: &str,
    data: &serde_json::Value,
) -> Result<Published, ServiceError> {
    let event_type = EventTypeName::parse(event_type)
        .map_err(|e| ServiceError::Internal(format!("operational event type: {e}")))?;
    let event = NewEvent {
        id: None,
        event_type,
        scope: None,
        payload: data.to_string(),
        metadata: BTreeMap::new(),
    };
    let job = Job {
        tenant_id: tenant_id.to_owned(),
        events: vec![event],
        catalog: None,
    };
    let mut written = write_jobs(db, std::slice::from_ref(&job), None).await?;
    written
        .outcomes
        .pop()
        .unwrap_or_else(|| Ok(Vec::new()))?
        .pop()
        .ok_or_else(|| ServiceError::Internal("operational publish stored nothing".to_owned()))
}

/// One publish request as the writer sees it.
pub(super) struct Job {
    pub tenant_id: String,
    pub events: Vec<NewEvent>,
    /// Check types and payloads against the catalog, naming fields this
    /// way; `None` for hookrelay's own events.
    pub catalog: Option<FieldPaths>,
}

/// What a group of publishes wrote.
pub(super) struct Written {
    /// Per request, in order: its events, or why it was refused.
    pub outcomes: Vec<Result<Vec<Published>, ServiceError>>,
    /// Deliveries written leased to this replica, to hand over now.
    pub direct: Vec<Direct>,
    /// Deliveries written pending, for whichever dispatcher claims them.
    pub queued: usize,
}

/// Writes a group of publish requests in one transaction with a fixed number
/// of statements, however many requests and events: catalog, existing ids
/// and subscriptions are each read once for the group, events and deliveries
/// inserted in bulk. A request that fails validation gets its own error and
/// the others proceed; a database error fails the whole group.
///
/// With a `handoff`, each delivery the local dispatcher has room for is
/// written leased to it, to be handed over after the commit; the rest are
/// queued, and only queued deliveries wake other replicas.
pub(super) async fn write_jobs<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    jobs: &[Job],
    handoff: Option<&dyn Handoff>,
) -> Result<Written, ServiceError> {
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        // One connection: reads and writes in one transaction take one turn
        // at it, where separate reads would queue for it one by one.
        let txn = db.begin().await?;
        let written = route_and_store(&txn, jobs, handoff, InTransaction::Yes).await?;
        txn.commit().await?;
        return Ok(written);
    }
    route_and_store(db, jobs, handoff, InTransaction::No).await
}

/// Whether `db` is already a transaction the caller commits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InTransaction {
    Yes,
    No,
}

async fn route_and_store<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    jobs: &[Job],
    handoff: Option<&dyn Handoff>,
    in_transaction: InTransaction,
) -> Result<Written, ServiceError> {
    // The reads go first, side by side and outside the write: under READ
    // COMMITTED each statement sees the latest commits anyway, and a race
    // on a caller's event id is caught by the primary key below.
    let tenants: HashSet<&str> = jobs.iter().map(|j| j.tenant_id.as_str()).collect();
    let (catalog, existing, subscriptions) = tokio::try_join!(
        load_catalog(db, &tenants, jobs),
        existing_events(db, jobs.iter()),
        enabled_subscriptions(db, &tenants),
    )?;
    let mut outcomes: Vec<Result<Vec<Published>, ServiceError>> = jobs
        .iter()
        .map(|job| match job.catalog {
            Some(paths) => check_types_and_payloads(&catalog, job, paths).map(|()| Vec::new()),
            None => Ok(Vec::new()),
        })
        .collect();
    let valid: Vec<usize> = (0..jobs.len()).filter(|&i| outcomes[i].is_ok()).collect();

    let now = now_micros();
    let mut new_events = Vec::new();
    let mut new_deliveries = Vec::new();
    let mut direct = Vec::new();
    let lease_until = handoff.map(|h| now + h.lease().as_micros() as i64);
    // Ids first seen in this group, per tenant: (job, index in its results).
    let mut seen: HashMap<(String, String), (usize, usize)> = HashMap::new();
    for &job_index in &valid {
        let job = &jobs[job_index];
        let tenant_id = job.tenant_id.as_str();
        let targets = subscriptions.get(tenant_id).map_or(&[][..], Vec::as_slice);
        let mut results = Vec::with_capacity(job.events.len());
        for new in &job.events {
            let id = new.id.as_ref().map(|id| id.as_str().to_owned());
            if let Some(id) = &id {
                let key = (tenant_id.to_owned(), id.clone());
                if let Some((event, count)) = existing.get(&key) {
                    results.push(Published {
                        event: event.clone(),
                        subscription_count: *count,
                        duplicate: true,
                    });
                    continue;
                }
                if let Some(&(first_job, first_index)) = seen.get(&key) {
                    let original = if first_job == job_index {
                        results[first_index].clone()
                    } else {
                        match &outcomes[first_job] {
                            Ok(published) => published[first_index].clone(),
                            Err(_) => continue,
                        }
                    };
                    results.push(Published {
                        duplicate: true,
                        ..original
                    });
                    continue;
                }
            }
            let id = id.unwrap_or_else(|| new_id(IdKind::Event));
            let stored = Arc::new(event::Model {
                tenant_id: tenant_id.to_owned(),
                id: id.clone(),
                event_type: new.event_type.as_str().to_owned(),
                scope: new.scope.as_ref().map(|s| s.as_str().to_owned()),
                payload: new.payload.clone(),
                metadata: serde_json::to_string(&new.metadata).expect("string map"),
                create_time: now,
            });
            let matching: Vec<&Target> = targets
                .iter()
                .filter(|s| s.accepts(new.event_type.as_str(), new.scope.as_ref()))
                .collect();
            for target in &matching {
                let delivery_id = new_id(IdKind::Delivery);
                let reservation = handoff.and_then(|h| h.reserve(&target.model, &delivery_id));
                let (status, lease) = match (&reservation, lease_until) {
                    (Some(_), Some(until)) => (Status::InFlight, Some(until)),
                    _ => (Status::Pending, None),
                };
                if let Some(reservation) = reservation {
                    direct.push(Direct {
                        reservation,
                        delivery: queue::Claimed {
                            id: delivery_id.clone(),
                            tenant_id: tenant_id.to_owned(),
                            event_id: id.clone(),
                            subscription_id: target.model.id.clone(),
                            attempts: 0,
                            create_time: now,
                        },
                        subscription: Arc::clone(&target.model),
                        event: Arc::clone(&stored),
                    });
                }
                new_deliveries.push(delivery::ActiveModel {
                    id: sea_orm::Set(delivery_id),
                    tenant_id: sea_orm::Set(tenant_id.to_owned()),
                    event_id: sea_orm::Set(id.clone()),
                    subscription_id: sea_orm::Set(target.model.id.clone()),
                    event_type: sea_orm::Set(new.event_type.as_str().to_owned()),
                    ordered: sea_orm::Set(target.model.ordered),
                    status: sea_orm::Set(status as i16),
                    attempts: sea_orm::Set(0),
                    next_attempt_time: sea_orm::Set(now),
                    lease_expire_time: sea_orm::Set(lease),
                    last_status_code: sea_orm::Set(None),
                    last_error: sea_orm::Set(None),
                    create_time: sea_orm::Set(now),
                    update_time: sea_orm::Set(now),
                });
            }
            let event = Event {
                id: id.clone(),
                event_type: stored.event_type.clone(),
                scope: stored.scope.clone(),
                payload: new.payload.clone(),
                metadata: new.metadata.clone(),
                create_time: now,
            };
            new_events.push(event::ActiveModel {
                tenant_id: sea_orm::Set(stored.tenant_id.clone()),
                id: sea_orm::Set(id.clone()),
                event_type: sea_orm::Set(stored.event_type.clone()),
                scope: sea_orm::Set(stored.scope.clone()),
                payload: sea_orm::Set(stored.payload.clone()),
                metadata: sea_orm::Set(stored.metadata.clone()),
                create_time: sea_orm::Set(now),
            });
            seen.insert((tenant_id.to_owned(), id), (job_index, results.len()));
            results.push(Published {
                event,
                subscription_count: matching.len() as u32,
                duplicate: false,
            });
        }
        outcomes[job_index] = Ok(results);
    }

    let queued = new_deliveries.len() - direct.len();
    store_rows(db, new_events, new_deliveries, queued > 0, in_transaction)
        .await
        .map_err(|err| {
            if is_unique_violation(&err) {
                // Another replica published one of these ids just now.
                ServiceError::AlreadyExists {
                    kind: "event",
                    id: String::new(),
                }
            } else {
                err.into()
            }
        })?;
    Ok(Written {
        outcomes,
        direct,
        queued,
    })
}

/// Stores a group's events and deliveries atomically, waking other replicas
/// when `notify` (some deliveries are queued). On Postgres a group that fits
/// one statement is written as one, the events inserted in a data-modifying
/// WITH: it commits on its own, saving the BEGIN and COMMIT round trips
/// and a second INSERT's. Larger groups use a transaction (the caller's, if
/// it is in one).
async fn store_rows<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    events: Vec<event::ActiveModel>,
    deliveries: Vec<delivery::ActiveModel>,
    notify: bool,
    in_transaction: InTransaction,
) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    if in_transaction == InTransaction::Yes {
        return insert_rows(db, events, deliveries, notify).await;
    }
    let backend = db.get_database_backend();
    let one_statement = backend == DatabaseBackend::Postgres
        && events.len() <= INSERT_CHUNK
        && deliveries.len() <= INSERT_CHUNK;
    if one_statement {
        let stored_events = event::Entity::insert_many(events).build(backend);
        let statement = if deliveries.is_empty() {
            stored_events
        } else {
            combine::with_clauses(
                vec![("stored_events", stored_events)],
                delivery::Entity::insert_many(deliveries).build(backend),
            )
        };
        db.execute_raw(statement).await?;
        if notify {
            // After the commit, as NOTIFY inside a transaction would be.
            queue::notify_dispatchers(db).await?;
        }
        return Ok(());
    }
    let txn = db.begin().await?;
    insert_rows(&txn, events, deliveries, notify).await?;
    txn.commit().await
}

/// The rows in bulk, in chunks that stay under the bound-parameter limits.
async fn insert_rows<C: ConnectionTrait>(
    db: &C,
    events: Vec<event::ActiveModel>,
    deliveries: Vec<delivery::ActiveModel>,
    notify: bool,
) -> Result<(), DbErr> {
    for chunk in events.chunks(INSERT_CHUNK) {
        event::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    for chunk in deliveries.chunks(INSERT_CHUNK) {
        delivery::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    if notify {
        queue::notify_dispatchers(db).await?;
    }
    Ok(())
}

/// A subscription as routing sees it, with its row for a hand-off.
struct Target {
    model: Arc<subscription::Model>,
    patterns: Vec<EventTypePattern>,
}

impl Target {
    /// A subscription with a scope receives only that scope's events; one
    /// without a scope receives every event of its types. hookrelay's own
    /// `hookrelay.*` events go only to patterns that name that namespace, so
    /// a `*` subscriber never receives operational traffic it did not ask for.
    fn accepts(&self, event_type: &str, scope: Option<&Scope>) -> bool {
        let scope_ok = match &self.model.scope {
            None => true,
            Some(own) => scope.is_some_and(|s| s.as_str() == own),
        };
        let operational = event_type.starts_with(OPERATIONAL_PREFIX);
        scope_ok
            && self.patterns.iter().any(|p| {
                p.matches(event_type)
                    && (!operational || p.as_string().starts_with(OPERATIONAL_PREFIX))
            })
    }
}

async fn enabled_subscriptions<C: ConnectionTrait>(
    db: &C,
    tenants: &HashSet<&str>,
) -> Result<HashMap<String, Vec<Target>>, ServiceError> {
    let rows = subscription::Entity::find()
        .filter(subscription::Column::TenantId.is_in(tenants.iter().copied()))
        .filter(subscription::Column::Enabled.eq(true))
        .all(db)
        .await?;
    let mut by_tenant: HashMap<String, Vec<Target>> = HashMap::new();
    for row in rows {
        let patterns: Vec<String> = serde_json::from_str(&row.event_types).unwrap_or_default();
        by_tenant
            .entry(row.tenant_id.clone())
            .or_default()
            .push(Target {
                patterns: patterns
                    .iter()
                    .filter_map(|p| EventTypePattern::parse(p).ok())
                    .collect(),
                model: Arc::new(row),
            });
    }
    Ok(by_tenant)
}

/// The catalog entries a group of publishes names: per (tenant, type), the
/// compiled JSON Schema (if any), or `Err(())` when the type is archived.
type Catalog = HashMap<(String, String), Result<Option<jsonschema::Validator>, ()>>;

async fn load_catalog<C: ConnectionTrait>(
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
    let rows = event_type::Entity::find()
        .filter(event_type::Column::TenantId.is_in(tenants.iter().copied()))
        .filter(event_type::Column::Name.is_in(names.iter().copied()))
        .all(db)
        .await?;
    let mut catalog = Catalog::new();
    for row in rows {
        let entry = if row.archived {
            Err(())
        } else {
            match &row.json_schema {
                None => Ok(None),
                Some(schema) => {
                    let schema: serde_json::Value = serde_json::from_str(schema)
                        .map_err(|e| ServiceError::Internal(format!("stored schema: {e}")))?;
                    Ok(Some(jsonschema::validator_for(&schema).map_err(|e| {
                        ServiceError::Internal(format!("stored schema of {}: {e}", row.name))
                    })?))
                }
            }
        };
        catalog.insert((row.tenant_id, row.name), entry);
    }
    Ok(catalog)
}

/// Every event's type must be registered and active, and its payload must
/// satisfy the type's JSON Schema. All problems are reported together.
fn check_types_and_payloads(
    catalog: &Catalog,
    job: &Job,
    paths: FieldPaths,
) -> Result<(), ServiceError> {
    let events = &job.events;
    let mut violations = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let name = event.event_type.as_str();
        let entry = catalog.get(&(job.tenant_id.clone(), name.to_owned()));
        match entry.map(Result::as_ref) {
            None | Some(Err(())) => violations.push(FieldViolation {
                field: format!("{}.type", paths.of(index)),
                description: if entry.is_some() {
                    format!("event type {name:?} is archived; unarchive it with UpdateEventType to publish")
                } else {
                    format!("event type {name:?} is not registered; create it with CreateEventType first")
                },
            }),
            Some(Ok(None)) => {}
            Some(Ok(Some(validator))) => {
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

/// Events already stored under the caller-supplied ids of these jobs, by
/// (tenant, id), with how many deliveries each fanned out to.
async fn existing_events<'a, C: ConnectionTrait>(
    db: &C,
    jobs: impl Iterator<Item = &'a Job>,
) -> Result<HashMap<(String, String), (Event, u32)>, ServiceError> {
    let mut wanted: HashSet<(&str, &str)> = HashSet::new();
    for job in jobs {
        for id in job.events.iter().filter_map(|e| e.id.as_ref()) {
            wanted.insert((job.tenant_id.as_str(), id.as_str()));
        }
    }
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let tenants: HashSet<&str> = wanted.iter().map(|(t, _)| *t).collect();
    let ids: HashSet<&str> = wanted.iter().map(|(_, id)| *id).collect();
    let rows = event::Entity::find()
        .filter(event::Column::TenantId.is_in(tenants))
        .filter(event::Column::Id.is_in(ids))
        .all(db)
        .await?;
    let mut found = HashMap::new();
    for row in rows {
        if !wanted.contains(&(row.tenant_id.as_str(), row.id.as_str())) {
            continue;
        }
        // Duplicates are rare; counting their deliveries one by one is fine.
        let count = delivery::Entity::find()
            .filter(delivery::Column::TenantId.eq(&row.tenant_id))
            .filter(delivery::Column::EventId.eq(&row.id))
            .count(db)
            .await? as u32;
        let tenant_id = row.tenant_id.clone();
        let event = to_event(row)?;
        found.insert((tenant_id, event.id.clone()), (event, count));
    }
    Ok(found)
}

pub async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<Event, ServiceError> {
    caller.require(Capability::Read)?;
    let row = event::Entity::find_by_id((caller.tenant_id.clone(), id.to_owned()))
        .one(db)
        .await?
        .filter(|row| caller.can_see(row.scope.as_deref()))
        .ok_or_else(|| ServiceError::not_found("event", id))?;
    to_event(row)
}

/// Where a page of events ends: publish time, then id (caller-chosen ids
/// need not sort by time, so the id alone cannot be the key).
pub fn event_page_key(event: &Event) -> String {
    format!("{}:{}", event.create_time, event.id)
}

fn parse_event_page_key(key: &str) -> Option<(i64, &str)> {
    let (time, id) = key.split_once(':')?;
    Some((time.parse().ok()?, id))
}

/// Events oldest first, paged by (publish time, id).
pub async fn list<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    filter: EventFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Event>, ServiceError> {
    caller.require(Capability::Read)?;
    let scope = caller.effective_scope(filter.scope)?;
    let mut query = event::Entity::find()
        .filter(event::Column::TenantId.eq(&caller.tenant_id))
        .order_by_asc(event::Column::CreateTime)
        .order_by_asc(event::Column::Id)
        .limit(limit);
    if let Some(scope) = scope {
        query = query.filter(event::Column::Scope.eq(scope.as_str()));
    }
    if let Some(event_type) = filter.event_type {
        query = query.filter(event::Column::EventType.eq(event_type));
    }
    if let Some(start) = filter.start_time {
        query = query.filter(event::Column::CreateTime.gte(start));
    }
    if let Some(end) = filter.end_time {
        query = query.filter(event::Column::CreateTime.lt(end));
    }
    if let Some(after) = after {
        let (time, id) = parse_event_page_key(after).ok_or_else(|| {
            ServiceError::invalid("page_token", "is not a token this server issued")
        })?;
        query = query.filter(
            Condition::any()
                .add(event::Column::CreateTime.gt(time))
                .add(
                    Condition::all()
                        .add(event::Column::CreateTime.eq(time))
                        .add(event::Column::Id.gt(id)),
                ),
        );
    }
    query.all(db).await?.into_iter().map(to_event).collect()
}

fn to_event(row: event::Model) -> Result<Event, ServiceError> {
    let metadata = serde_json::from_str(&row.metadata)
        .map_err(|e| ServiceError::Internal(format!("stored event {}: metadata: {e}", row.id)))?;
    Ok(Event {
        id: row.id,
        event_type: row.event_type,
        scope: row.scope,
        payload: row.payload,
        metadata,
        create_time: row.create_time,
    })
}
