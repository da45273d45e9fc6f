//! Recording a group of finished attempts: the attempt rows, and what each
//! result moves its delivery and its subscription's health to, in one
//! transaction (one commit, one fsync on SQLite, for many results) or, for
//! the common all-succeeded group on Postgres, in one statement.

use super::delivery::Status;
use super::{DbError, combine, delivery, delivery_attempt, prepared, subscription};
use crate::domain::{
    AttemptRecord, HealthChange, IdKind, NextStep, Streak, health_changes, latest_by_subscription,
    new_id,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait,
    QueryFilter, QuerySelect, QueryTrait, Set, TransactionTrait,
};
use std::collections::{HashMap, HashSet};

/// Most results written as one statement on Postgres: within the bound-
/// parameter limit with room to spare (10 per attempt, 1 per id).
const ONE_STATEMENT_RESULTS: usize = 1_000;

/// Stores a group of finished attempts and moves their deliveries on.
/// Returns, for each subscription still failing afterwards, since when.
/// A subscription whose latest result disables it is left to the caller,
/// which disables it (and says so) once the group is written.
pub async fn record_attempts(
    db: &DatabaseConnection,
    results: Vec<(AttemptRecord, NextStep)>,
) -> Result<HashMap<String, Streak>, DbError> {
    if results.is_empty() {
        return Ok(HashMap::new());
    }
    let attempts: Vec<delivery_attempt::ActiveModel> = results
        .iter()
        .map(|(record, _)| attempt_row(record))
        .collect();
    if let Some(code) = all_succeeded_with_one_code(&results)
        && db.get_database_backend() == DatabaseBackend::Postgres
        && results.len() <= ONE_STATEMENT_RESULTS
    {
        record_successes_in_one_statement(db, &results, attempts, code).await?;
        return Ok(HashMap::new());
    }
    let txn = db.begin().await?;
    for chunk in attempts.chunks(200) {
        delivery_attempt::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    update_deliveries(&txn, &results).await?;
    let failing = update_health(&txn, &results).await?;
    txn.commit().await?;
    Ok(failing)
}

fn attempt_row(record: &AttemptRecord) -> delivery_attempt::ActiveModel {
    delivery_attempt::ActiveModel {
        id: Set(new_id(IdKind::Attempt)),
        delivery_id: Set(record.delivery_id.clone()),
        tenant_id: Set(record.tenant_id.clone()),
        attempt_number: Set(record.attempt_number),
        request_headers: Set(serde_json::to_string(&record.request_headers).expect("string map")),
        response_status_code: Set(record.status_code.map(i32::from)),
        response_body: Set(record.response_body.clone()),
        error: Set(record.last_error()),
        duration_micros: Set(record.duration.as_micros() as i64),
        create_time: Set(record.time),
    }
}

/// The common case under load, as one statement: no BEGIN/COMMIT round
/// trips, and nothing is failing, so nothing to report.
async fn record_successes_in_one_statement(
    db: &DatabaseConnection,
    results: &[(AttemptRecord, NextStep)],
    attempts: Vec<delivery_attempt::ActiveModel>,
    code: u16,
) -> Result<(), DbError> {
    let backend = DatabaseBackend::Postgres;
    let ids = results.iter().map(|(r, _)| r.delivery_id.clone());
    let subscriptions: HashSet<&str> = results
        .iter()
        .map(|(r, _)| r.subscription_id.as_str())
        .collect();
    let now = latest_time(results);
    let statement = combine::with_clauses(
        vec![
            (
                "recorded_attempts",
                delivery_attempt::Entity::insert_many(attempts).build(backend),
            ),
            (
                "healthy_subscriptions",
                mark_healthy(subscriptions.into_iter(), latest_answer(results)).build(backend),
            ),
        ],
        mark_succeeded(ids, code, now).build(backend),
    );
    // Through sqlx, to keep only a small batch's text prepared.
    prepared::pg_execute(db.get_postgres_connection_pool(), statement).await?;
    Ok(())
}

/// Successes with the same status code share one UPDATE (the common case
/// under load is a single statement for the whole group); anything else
/// is written row by row.
async fn update_deliveries<C: ConnectionTrait>(
    txn: &C,
    results: &[(AttemptRecord, NextStep)],
) -> Result<(), DbError> {
    let mut succeeded: HashMap<u16, Vec<String>> = HashMap::new();
    let now = latest_time(results);
    for (record, next) in results {
        if let (NextStep::Succeeded, Some(code)) = (next, record.status_code) {
            succeeded
                .entry(code)
                .or_default()
                .push(record.delivery_id.clone());
            continue;
        }
        let mut update = delivery::Entity::update_many()
            .col_expr(
                delivery::Column::Status,
                Expr::value(Status::from(next.status()) as i16),
            )
            .col_expr(
                delivery::Column::Attempts,
                Expr::value(record.attempt_number),
            )
            .col_expr(
                delivery::Column::LeaseExpireTime,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                delivery::Column::LastStatusCode,
                Expr::value(record.status_code.map(i32::from)),
            )
            .col_expr(
                delivery::Column::LastError,
                Expr::value(record.last_error()),
            )
            .col_expr(delivery::Column::UpdateTime, Expr::value(record.time));
        if let NextStep::RetryAt(at) = next {
            update = update.col_expr(delivery::Column::NextAttemptTime, Expr::value(*at));
        }
        update
            .filter(delivery::Column::Id.eq(&record.delivery_id))
            .exec(txn)
            .await?;
    }
    for (code, ids) in succeeded {
        mark_succeeded(ids.into_iter(), code, now).exec(txn).await?;
    }
    Ok(())
}

/// The latest result per subscription decides its health: a success ends
/// a failing streak, a failure starts one (if none is running). Failures
/// are counted since the latest success. Returns each failing
/// subscription's streak as it now stands.
async fn update_health<C: ConnectionTrait>(
    txn: &C,
    results: &[(AttemptRecord, NextStep)],
) -> Result<HashMap<String, Streak>, DbError> {
    let mut healthy = Vec::new();
    let mut failing = Vec::new();
    let changes = health_changes(results.iter().map(|(record, next)| (record, next)));
    let latest = latest_by_subscription(results.iter().map(|(record, next)| (record, next)));
    for (subscription_id, (_, next)) in latest {
        let change = &changes[subscription_id];
        match next {
            NextStep::Succeeded => healthy.push(subscription_id.to_owned()),
            // Disabling ends the streak; the caller does it after the commit.
            NextStep::DisableSubscription(_) => {
                count_failures(subscription_id, change, false)
                    .exec(txn)
                    .await?;
            }
            NextStep::RetryAt(_) | NextStep::DeadLetter => {
                count_failures(subscription_id, change, true)
                    .exec(txn)
                    .await?;
                failing.push(subscription_id.to_owned());
            }
        }
    }
    if !healthy.is_empty() {
        mark_healthy(healthy.iter().map(String::as_str), latest_answer(results))
            .exec(txn)
            .await?;
    }
    if failing.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(subscription::Entity::find()
        .select_only()
        .column(subscription::Column::Id)
        .column(subscription::Column::FailingSince)
        .column(subscription::Column::ConsecutiveFailures)
        .filter(subscription::Column::Id.is_in(failing))
        .into_tuple::<(String, Option<i64>, i32)>()
        .all(txn)
        .await?
        .into_iter()
        .filter_map(|(id, since, failures)| {
            let streak = Streak {
                since: since?,
                failures: u32::try_from(failures).unwrap_or_default(),
            };
            Some((id, streak))
        })
        .collect())
}

fn latest_time(results: &[(AttemptRecord, NextStep)]) -> i64 {
    results
        .iter()
        .map(|(r, _)| r.time)
        .max()
        .unwrap_or_default()
}

/// The status code every result succeeded with, if they all did with one.
fn all_succeeded_with_one_code(results: &[(AttemptRecord, NextStep)]) -> Option<u16> {
    let mut codes = results.iter().map(|(record, next)| match next {
        NextStep::Succeeded => record.status_code,
        _ => None,
    });
    let first = codes.next()??;
    codes.all(|code| code == Some(first)).then_some(first)
}

/// Marks deliveries that succeeded with `code` (`attempts + 1`: the row
/// still holds the count from before this attempt).
fn mark_succeeded(
    ids: impl Iterator<Item = String>,
    code: u16,
    now: i64,
) -> sea_orm::UpdateMany<delivery::Entity> {
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(Status::Succeeded as i16),
        )
        .col_expr(
            delivery::Column::Attempts,
            Expr::col(delivery::Column::Attempts).add(1),
        )
        .col_expr(
            delivery::Column::LeaseExpireTime,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            delivery::Column::LastStatusCode,
            Expr::value(i32::from(code)),
        )
        .col_expr(
            delivery::Column::LastError,
            Expr::value(Option::<String>::None),
        )
        .col_expr(delivery::Column::UpdateTime, Expr::value(now))
        .filter(delivery::Column::Id.is_in(ids))
}

/// When the group's latest success was answered: every success in a
/// group finished within moments of it, so it stands for each of them.
fn latest_answer(results: &[(AttemptRecord, NextStep)]) -> i64 {
    results
        .iter()
        .filter(|(_, next)| *next == NextStep::Succeeded)
        .map(|(r, _)| r.time + r.duration.as_micros() as i64)
        .max()
        .unwrap_or_default()
}

/// Ends the failing streak of subscriptions that just succeeded, and
/// notes when (`answered`). A no-op for the healthy ones whose last
/// success was noted less than a second before: under load most results
/// write no subscription row, at the price of `last_success_time` being
/// accurate to a second.
fn mark_healthy<'a>(
    ids: impl Iterator<Item = &'a str>,
    answered: i64,
) -> sea_orm::UpdateMany<subscription::Entity> {
    subscription::Entity::update_many()
        .col_expr(
            subscription::Column::FailingSince,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(subscription::Column::ConsecutiveFailures, Expr::value(0))
        .col_expr(subscription::Column::LastSuccessTime, Expr::value(answered))
        .filter(subscription::Column::Id.is_in(ids.map(str::to_owned)))
        .filter(
            Condition::any()
                .add(subscription::Column::FailingSince.is_not_null())
                .add(subscription::Column::ConsecutiveFailures.ne(0))
                .add(subscription::Column::LastSuccessTime.is_null())
                .add(subscription::Column::LastSuccessTime.lt(answered - 1_000_000)),
        )
}

/// Counts a subscription's failures since its latest success (in this
/// group, or before it) and, if it is `failing` (not being disabled),
/// starts its failing streak unless one is running.
fn count_failures(
    subscription_id: &str,
    change: &HealthChange,
    failing: bool,
) -> sea_orm::UpdateMany<subscription::Entity> {
    use subscription::Column;
    let failures = i32::try_from(change.failures_after).unwrap_or(i32::MAX);
    let mut update = subscription::Entity::update_many();
    update = match change.last_success {
        // A success earlier in the group ended the previous streak.
        Some(answered) => update
            .col_expr(Column::LastSuccessTime, Expr::value(answered))
            .col_expr(Column::ConsecutiveFailures, Expr::value(failures)),
        None => update.col_expr(
            Column::ConsecutiveFailures,
            Expr::col(Column::ConsecutiveFailures).add(failures),
        ),
    };
    if failing && let Some(first) = change.first_failure {
        let since = match change.last_success {
            Some(_) => Expr::value(first),
            None => Expr::col(Column::FailingSince).if_null(first),
        };
        update = update.col_expr(Column::FailingSince, since);
    }
    update.filter(Column::Id.eq(subscription_id))
}
