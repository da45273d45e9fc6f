//! What publishing keeps in memory about each tenant between groups: its
//! enabled subscriptions, parsed for routing (payload filters included),
//! and its event catalog. An entry lasts until the tenant's routing stamp
//! moves; triggers in the database move it on every write to the tenant's
//! subscriptions or event types, from any replica and any code path. A
//! group reads its tenants' stamps in one small statement and reloads only
//! the tenants whose stamp moved, so a steady publisher reads no
//! subscription rows, parses no settings or filters and compiles no schema
//! per group.

use super::catalog::{self, Entry};
use crate::domain::{EventTypePattern, PayloadFilter, Route};
use crate::service::ServiceError;
use crate::store::{Connection, publish, subscription};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Tenants kept at most; past this the cache starts over (a reload per
/// tenant is what every group paid before there was a cache).
const MAX_TENANTS: usize = 10_000;

/// One tenant's routing as of its stamp.
pub(super) struct TenantRouting {
    stamp: i64,
    pub targets: Vec<Target>,
    /// Catalog entries by type name.
    pub catalog: HashMap<String, Entry>,
}

/// The routing of a group's tenants, by tenant id.
pub(super) type Routing = HashMap<String, Arc<TenantRouting>>;

#[derive(Default)]
pub(in crate::service) struct RoutingCache {
    tenants: Mutex<HashMap<String, Arc<TenantRouting>>>,
}

impl TenantRouting {
    /// The routing stamp this routing was loaded under.
    pub fn stamp(&self) -> i64 {
        self.stamp
    }
}

impl RoutingCache {
    /// The kept routing of `tenants`, if every one of them is kept, without
    /// asking the database whether it is current: for a write that checks
    /// the stamps itself ([`publish::insert_group_if_current`]).
    pub(super) fn kept(&self, tenants: &HashSet<&str>) -> Option<Routing> {
        let cached = self.tenants.lock().expect("routing cache lock");
        tenants
            .iter()
            .map(|&tenant| Some((tenant.to_owned(), Arc::clone(cached.get(tenant)?))))
            .collect()
    }

    /// Forgets these tenants' routing: a write found their stamps moved.
    pub(super) fn forget(&self, tenants: &HashSet<&str>) {
        let mut cached = self.tenants.lock().expect("routing cache lock");
        for tenant in tenants {
            cached.remove(*tenant);
        }
    }

    /// The current routing of `tenants`: the stamps in one statement, then
    /// the subscriptions and catalogs of the tenants whose stamp moved.
    /// Stamps are read first, so what is loaded is at least as new as the
    /// stamp it is kept under.
    pub(super) async fn load<C: Connection>(
        &self,
        db: &C,
        tenants: &HashSet<&str>,
    ) -> Result<Routing, ServiceError> {
        let stamps: HashMap<String, i64> = publish::routing_stamps(db, tenants)
            .await?
            .into_iter()
            .collect();
        // A tenant that never had a subscription or an event type has no stamp.
        let stamp_of = |tenant: &str| stamps.get(tenant).copied().unwrap_or(0);
        let mut routing = Routing::new();
        let mut stale = HashSet::new();
        {
            let cached = self.tenants.lock().expect("routing cache lock");
            for &tenant in tenants {
                match cached.get(tenant) {
                    Some(entry) if entry.stamp == stamp_of(tenant) => {
                        routing.insert(tenant.to_owned(), Arc::clone(entry));
                    }
                    _ => {
                        stale.insert(tenant);
                    }
                }
            }
        }
        if stale.is_empty() {
            return Ok(routing);
        }
        let (mut targets, mut catalogs) =
            tokio::try_join!(load_targets(db, &stale), catalog::load(db, &stale))?;
        let mut cached = self.tenants.lock().expect("routing cache lock");
        if cached.len() + stale.len() > MAX_TENANTS {
            cached.clear();
        }
        for tenant in stale {
            let entry = Arc::new(TenantRouting {
                stamp: stamp_of(tenant),
                targets: targets.remove(tenant).unwrap_or_default(),
                catalog: catalogs.remove(tenant).unwrap_or_default(),
            });
            cached.insert(tenant.to_owned(), Arc::clone(&entry));
            routing.insert(tenant.to_owned(), entry);
        }
        Ok(routing)
    }
}

/// A subscription as routing sees it, with its row for a hand-off.
pub(super) struct Target {
    pub model: Arc<subscription::Model>,
    pub route: Route,
    /// Parsed once per load, evaluated per event.
    pub filter: Option<PayloadFilter>,
}

/// Reads these tenants' enabled subscriptions in one statement.
async fn load_targets<C: Connection>(
    db: &C,
    tenants: &HashSet<&str>,
) -> Result<HashMap<String, Vec<Target>>, ServiceError> {
    let mut by_tenant: HashMap<String, Vec<Target>> = HashMap::new();
    for row in publish::enabled_subscriptions(db, tenants).await? {
        let patterns: Vec<String> = serde_json::from_str(&row.event_types).unwrap_or_default();
        let filter = match row.payload_filter.as_deref().map(PayloadFilter::parse_text) {
            None => None,
            Some(Ok(filter)) => Some(filter),
            Some(Err(err)) => {
                // Written validated, so edited by hand: a filter that
                // cannot be read lets nothing through rather than everything.
                tracing::warn!(subscription_id = %row.id, %err, "unreadable payload filter; not routing to it");
                continue;
            }
        };
        by_tenant
            .entry(row.tenant_id.clone())
            .or_default()
            .push(Target {
                route: Route {
                    scope: row.scope.clone(),
                    patterns: patterns
                        .iter()
                        .filter_map(|p| EventTypePattern::parse(p).ok())
                        .collect(),
                },
                filter,
                model: Arc::new(row),
            });
    }
    Ok(by_tenant)
}
