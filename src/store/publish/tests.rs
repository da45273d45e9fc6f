//! The one-turn SQLite write: what it writes, what it refuses, and that a
//! failure part way leaves no transaction open on the connection.

use super::*;
use crate::store::{connect, is_unique_violation, migrate, tenant};

async fn database() -> DatabaseConnection {
    let db = connect("sqlite::memory:", 1, true).await.unwrap();
    migrate(&db).await.unwrap();
    tenant::Entity::insert(tenant::ActiveModel {
        id: Set("t1".to_owned()),
        name: Set("one".to_owned()),
        create_time: Set(1),
        ..Default::default()
    })
    .exec(&db)
    .await
    .unwrap();
    db
}

fn event(tenant: &str, id: &str) -> event::Model {
    event::Model {
        tenant_id: tenant.to_owned(),
        id: id.to_owned(),
        event_type: "order.created".to_owned(),
        scope: None,
        payload: "{}".to_owned(),
        metadata: "{}".to_owned(),
        attributes: None,
        create_time: 1,
        expunge_time: None,
    }
}

async fn stored_ids(db: &DatabaseConnection) -> Vec<String> {
    let mut ids: Vec<String> = event::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    ids.sort();
    ids
}

/// A transaction can begin: the last write left none open.
async fn no_transaction_left_open(db: &DatabaseConnection) {
    let txn = db.begin().await.expect("a transaction was left open");
    txn.commit().await.unwrap();
}

#[tokio::test]
async fn sqlite_writes_in_one_turn_only_while_the_stamps_hold() {
    let db = database().await;
    // No stamp yet for t1: 0 is current.
    let written =
        insert_group_if_current(&db, &[&event("t1", "e1")], Vec::new(), false, &[("t1", 0)])
            .await
            .unwrap();
    assert!(written);
    // A stamp the tenant never had: nothing written.
    let written =
        insert_group_if_current(&db, &[&event("t1", "e2")], Vec::new(), false, &[("t1", 7)])
            .await
            .unwrap();
    assert!(!written);
    assert_eq!(stored_ids(&db).await, ["e1"]);
    no_transaction_left_open(&db).await;
}

#[tokio::test]
async fn sqlite_one_turn_failures_write_nothing_and_leave_no_transaction() {
    let db = database().await;
    insert_group_if_current(&db, &[&event("t1", "e1")], Vec::new(), false, &[])
        .await
        .unwrap();

    // An id that exists: INSERT OR ROLLBACK ends the transaction itself.
    let err = insert_group_if_current(
        &db,
        &[&event("t1", "e2"), &event("t1", "e1")],
        Vec::new(),
        false,
        &[],
    )
    .await
    .unwrap_err();
    assert!(is_unique_violation(&err), "{err}");
    no_transaction_left_open(&db).await;

    // A missing tenant breaks a foreign key, which OR ROLLBACK does not
    // cover: the statement fails inside the transaction, which the write
    // then rolls back before the connection is used again.
    let err = insert_group_if_current(
        &db,
        &[&event("t1", "e3"), &event("nobody", "e4")],
        Vec::new(),
        false,
        &[],
    )
    .await
    .unwrap_err();
    assert!(!is_unique_violation(&err), "{err}");
    no_transaction_left_open(&db).await;

    assert_eq!(stored_ids(&db).await, ["e1"]);
}
