//! The statistics queries: attempts counted by the database, never paged
//! into the process. GetDeliveryStats counts a window's attempts per
//! (time bucket, latency bin); a subscription's health counts its last
//! 24 hours. Both read `idx_delivery_attempts_tenant_time` for the time
//! range and join `deliveries` (by primary key) only when they need to
//! know the subscription. One SQL text serves SQLite and Postgres.

use super::DbError;
use crate::domain::delivery_stats::{LATENCY_BOUNDS_MICROS, StatsCell, TimeBuckets};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement, Value};
use std::collections::HashMap;

/// An attempt answered 2xx. No answer (a network error) is NULL: not 2xx.
const SUCCEEDED: &str = "CASE WHEN a.response_status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END";

/// Whose attempts a statistics query counts, besides the tenant.
#[derive(Clone, Copy, Debug, Default)]
pub struct AttemptFilter<'a> {
    /// Only this subscription's.
    pub subscription_id: Option<&'a str>,
    /// Only these subscriptions' (a scoped key's view).
    pub visible: Option<&'a [String]>,
}

/// Numbered placeholders: `$1`, `$2`... (Postgres's form, which SQLite
/// accepts too), with their values in order.
#[derive(Default)]
struct Params(Vec<Value>);

impl Params {
    fn bind(&mut self, value: impl Into<Value>) -> String {
        self.0.push(value.into());
        format!("${}", self.0.len())
    }

    fn bind_all<'a>(&mut self, values: impl IntoIterator<Item = &'a String>) -> String {
        values
            .into_iter()
            .map(|v| self.bind(v.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `CASE WHEN a.duration_micros < 100 THEN 0 WHEN ... ELSE 37 END`: the
/// attempt's latency bin (the bounds are constants, written inline).
fn latency_bin_sql() -> String {
    let mut sql = String::from("CASE");
    for (bin, bound) in LATENCY_BOUNDS_MICROS.iter().enumerate() {
        sql.push_str(&format!(" WHEN a.duration_micros < {bound} THEN {bin}"));
    }
    sql.push_str(&format!(" ELSE {} END", LATENCY_BOUNDS_MICROS.len()));
    sql
}

/// The join and conditions that restrict attempts to `filter`; `None`
/// when a scoped key sees no subscription, so nothing can match.
fn subscription_condition(
    filter: AttemptFilter<'_>,
    tenant: &str,
    params: &mut Params,
) -> Option<(&'static str, String)> {
    if filter.subscription_id.is_none() && filter.visible.is_none() {
        return Some(("", String::new()));
    }
    let mut condition = format!(" AND d.tenant_id = {tenant}");
    if let Some(id) = filter.subscription_id {
        condition.push_str(&format!(" AND d.subscription_id = {}", params.bind(id)));
    }
    if let Some(ids) = filter.visible {
        if ids.is_empty() {
            return None;
        }
        condition.push_str(&format!(
            " AND d.subscription_id IN ({})",
            params.bind_all(ids)
        ));
    }
    Some((" JOIN deliveries d ON d.id = a.delivery_id", condition))
}

#[derive(Debug, FromQueryResult)]
struct CellRow {
    bucket: i64,
    bin: i64,
    attempts: i64,
    succeeded: i64,
    max_micros: i64,
}

/// The tenant's attempts made within `buckets`, counted per (time bucket,
/// latency bin): at most buckets x bins rows, however many attempts.
pub async fn delivery_stats<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    filter: AttemptFilter<'_>,
    buckets: TimeBuckets,
) -> Result<Vec<StatsCell>, DbError> {
    let mut params = Params::default();
    let tenant = params.bind(tenant_id);
    let start = params.bind(buckets.start);
    let width = params.bind(buckets.width);
    let end = params.bind(buckets.end());
    let Some((join, condition)) = subscription_condition(filter, &tenant, &mut params) else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT CAST((a.create_time - {start}) / {width} AS BIGINT) AS bucket, \
           CAST({bin} AS BIGINT) AS bin, \
           COUNT(*) AS attempts, \
           CAST(SUM({SUCCEEDED}) AS BIGINT) AS succeeded, \
           CAST(MAX(a.duration_micros) AS BIGINT) AS max_micros \
         FROM delivery_attempts a{join} \
         WHERE a.tenant_id = {tenant} AND a.create_time >= {start} AND a.create_time < {end}{condition} \
         GROUP BY bucket, bin",
        bin = latency_bin_sql(),
    );
    let statement = Statement::from_sql_and_values(db.get_database_backend(), sql, params.0);
    let rows = CellRow::find_by_statement(statement).all(db).await?;
    Ok(rows
        .into_iter()
        .map(|row| StatsCell {
            bucket: row.bucket.max(0) as usize,
            bin: row.bin.max(0) as usize,
            attempts: row.attempts.max(0) as u64,
            succeeded: row.succeeded.max(0) as u64,
            max_micros: row.max_micros,
        })
        .collect())
}

#[derive(Debug, FromQueryResult)]
struct CountRow {
    subscription_id: String,
    attempts: i64,
    succeeded: i64,
}

/// Attempts made since `since` to each of these subscriptions of the
/// tenant, and how many succeeded, in one grouped query. Subscriptions
/// without attempts are absent.
pub async fn attempts_since<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    subscription_ids: &[String],
    since: i64,
) -> Result<HashMap<String, (u64, u64)>, DbError> {
    if subscription_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut params = Params::default();
    let tenant = params.bind(tenant_id);
    let since = params.bind(since);
    let ids = params.bind_all(subscription_ids);
    let sql = format!(
        "SELECT d.subscription_id AS subscription_id, COUNT(*) AS attempts, \
           CAST(SUM({SUCCEEDED}) AS BIGINT) AS succeeded \
         FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id \
         WHERE a.tenant_id = {tenant} AND a.create_time >= {since} \
           AND d.tenant_id = {tenant} AND d.subscription_id IN ({ids}) \
         GROUP BY d.subscription_id"
    );
    let statement = Statement::from_sql_and_values(db.get_database_backend(), sql, params.0);
    Ok(CountRow::find_by_statement(statement)
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            let counts = (row.attempts.max(0) as u64, row.succeeded.max(0) as u64);
            (row.subscription_id, counts)
        })
        .collect())
}
