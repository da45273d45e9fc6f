//! EventService end to end, reading and access: ListEvents/GetEvent paging
//! and filters, tenancy, capabilities and scoped keys, on both databases.

mod common;

use common::builders::*;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::publishing::*;
use common::receiver::TestReceiver;
use common::{Backend, TestApp, assert_status, authed, spawn_app};
use hookrelay::proto::{BatchPublishEventsRequest, GetEventRequest, ListEventsRequest};
use std::collections::BTreeMap;
use tonic::Code;

// ---------------------------------------------------------------- listing

async fn list_events_pages_and_filters(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "invoice.paid", None).await;
    create_type(&app, "user.created", None).await;

    let specs = [
        ("invoice.paid", ""),
        ("user.created", "s1"),
        ("invoice.paid", "s1"),
        ("user.created", ""),
        ("invoice.paid", "s2"),
    ];
    let mut published = Vec::new();
    for (index, (event_type, scope)) in specs.iter().enumerate() {
        let mut event = json_event(event_type, &format!("{{\"i\":{index}}}"));
        event.scope = (*scope).to_owned();
        published.push(publish_ok(&app, event).await.event.unwrap());
    }
    let ids: Vec<String> = published.iter().map(|e| e.id.clone()).collect();

    // Pages of two, oldest first, each event once.
    let token = app.tenant.token.clone();
    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let (page, next) = list_events_as(
            &app,
            &token,
            ListEventsRequest {
                page_size: 2,
                page_token: page_token.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("list page");
        pages += 1;
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|e| e.id.clone()));
        if next.is_empty() {
            break;
        }
        assert!(pages < 10, "pagination does not end");
        page_token = next;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "each event once, in publish order");

    // Newest first, paged the same way: the reverse, each event once.
    let mut newest_first = Vec::new();
    let mut page_token = String::new();
    loop {
        let (page, next) = list_events_as(
            &app,
            &token,
            ListEventsRequest {
                page_size: 2,
                page_token: page_token.clone(),
                order_by: "create_time desc".to_owned(),
                ..Default::default()
            },
        )
        .await
        .expect("list page, newest first");
        newest_first.extend(page.iter().map(|e| e.id.clone()));
        if next.is_empty() {
            break;
        }
        assert!(newest_first.len() < 10, "pagination does not end");
        page_token = next;
    }
    let reversed: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(newest_first, reversed, "each event once, newest first");
    // Spelled out, the default order is the same as no order.
    for order_by in ["create_time", "create_time asc", "  create_time   asc "] {
        let (page, _) = list_events_as(
            &app,
            &token,
            ListEventsRequest {
                order_by: order_by.to_owned(),
                ..Default::default()
            },
        )
        .await
        .expect("list in creation order");
        let page: Vec<String> = page.into_iter().map(|e| e.id).collect();
        assert_eq!(page, ids, "{order_by:?}");
    }
    for bad in ["create_time up", "id desc", "DESC", "create_time desc, id"] {
        let request = ListEventsRequest {
            order_by: bad.to_owned(),
            ..Default::default()
        };
        assert_list_refused(&app, &token, request, "order_by").await;
    }

    let list = |request: ListEventsRequest| {
        let app = &app;
        let token = token.clone();
        async move {
            list_events_as(app, &token, request)
                .await
                .expect("list")
                .0
                .into_iter()
                .map(|e| e.id)
                .collect::<Vec<_>>()
        }
    };
    let by_type = list(ListEventsRequest {
        r#type: "invoice.paid".to_owned(),
        ..Default::default()
    })
    .await;
    assert_eq!(
        by_type,
        vec![ids[0].clone(), ids[2].clone(), ids[4].clone()]
    );
    let by_scope = list(ListEventsRequest {
        scope: "s1".to_owned(),
        ..Default::default()
    })
    .await;
    assert_eq!(by_scope, vec![ids[1].clone(), ids[2].clone()]);
    let both = list(ListEventsRequest {
        r#type: "invoice.paid".to_owned(),
        scope: "s1".to_owned(),
        ..Default::default()
    })
    .await;
    assert_eq!(both, vec![ids[2].clone()]);
    let none = list(ListEventsRequest {
        r#type: "no.such".to_owned(),
        ..Default::default()
    })
    .await;
    assert!(none.is_empty());

    // Time window: start is inclusive, end exclusive.
    let t2 = published[2].create_time;
    let t4 = published[4].create_time;
    assert!(
        micros(published[1].create_time.as_ref().unwrap()) < micros(t2.as_ref().unwrap()),
        "distinct publish times"
    );
    let from_2 = list(ListEventsRequest {
        start_time: t2,
        ..Default::default()
    })
    .await;
    assert_eq!(from_2, ids[2..].to_vec());
    let before_2 = list(ListEventsRequest {
        end_time: t2,
        ..Default::default()
    })
    .await;
    assert_eq!(before_2, ids[..2].to_vec());
    let window = list(ListEventsRequest {
        start_time: t2,
        end_time: t4,
        ..Default::default()
    })
    .await;
    assert_eq!(window, ids[2..4].to_vec());
    // A window with a filter pages too.
    let (first, next) = list_events_as(
        &app,
        &token,
        ListEventsRequest {
            page_size: 1,
            start_time: t2,
            r#type: "invoice.paid".to_owned(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        first.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        vec![ids[2].clone()]
    );
    let (second, last) = list_events_as(
        &app,
        &token,
        ListEventsRequest {
            page_size: 1,
            page_token: next,
            start_time: t2,
            r#type: "invoice.paid".to_owned(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        second.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        vec![ids[4].clone()]
    );
    assert!(last.is_empty());
    // And newest first, a window with a filter: the same two, reversed.
    let newest_in_window = list(ListEventsRequest {
        start_time: t2,
        r#type: "invoice.paid".to_owned(),
        order_by: "create_time desc".to_owned(),
        ..Default::default()
    })
    .await;
    assert_eq!(newest_in_window, vec![ids[4].clone(), ids[2].clone()]);

    // Bad page tokens and sizes.
    for bad in ["not a token", "!!!", "AAAA"] {
        let request = ListEventsRequest {
            page_token: bad.to_owned(),
            ..Default::default()
        };
        assert_list_refused(&app, &token, request, "page_token").await;
    }
    // A token of the right shape whose key is not an event position.
    let (_, real) = list_events_as(
        &app,
        &token,
        ListEventsRequest {
            page_size: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(&real).expect("base64 token")).unwrap();
    // The token wraps the first event's position; keep the wrapper, swap the key.
    let position = format!(
        "{}:{}",
        micros(published[0].create_time.as_ref().unwrap()),
        ids[0]
    );
    let wrapper = decoded
        .strip_suffix(&position)
        .unwrap_or_else(|| panic!("token {decoded:?} does not end with {position:?}"));
    let forged = URL_SAFE_NO_PAD.encode(format!("{wrapper}garbage"));
    let request = ListEventsRequest {
        page_token: forged,
        ..Default::default()
    };
    assert_list_refused(&app, &token, request, "page_token").await;
    let request = ListEventsRequest {
        page_size: -1,
        ..Default::default()
    };
    assert_list_refused(&app, &token, request, "page_size").await;
}

/// Lists with `request` and expects INVALID_ARGUMENT naming `field`.
async fn assert_list_refused(app: &TestApp, token: &str, request: ListEventsRequest, field: &str) {
    assert_invalid(list_events_as(app, token, request).await, field);
}

// ---------------------------------------------------------------- tenancy and auth

async fn tenants_and_capabilities_are_enforced(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "invoice.paid", None).await;
    let event = publish_ok(&app, json_event("invoice.paid", r#"{"secret":1}"#))
        .await
        .event
        .unwrap();

    // Another tenant sees nothing of ours.
    let other = app.new_tenant("globex").await;
    assert_status(
        get_event_as(&app, &other.token, &event.id).await,
        Code::NotFound,
        "",
    );
    let (theirs, next) = list_events_as(&app, &other.token, ListEventsRequest::default())
        .await
        .expect("list");
    assert!(theirs.is_empty() && next.is_empty());

    // Capabilities.
    let read_only = app.new_key(&app.tenant.id, "read", None).await;
    let publish_only = app.new_key(&app.tenant.id, "publish", None).await;
    let manage_only = app.new_key(&app.tenant.id, "manage", None).await;
    for token in [&read_only, &manage_only] {
        assert_status(
            publish_as(&app, token, json_event("invoice.paid", "{}")).await,
            Code::PermissionDenied,
            "",
        );
        let batch_result = events(&app)
            .batch_publish_events(authed(
                token,
                BatchPublishEventsRequest {
                    events: vec![json_event("invoice.paid", "{}")],
                },
            ))
            .await;
        assert_status(batch_result, Code::PermissionDenied, "");
    }
    get_event_as(&app, &read_only, &event.id)
        .await
        .expect("a read key reads");
    assert_status(
        get_event_as(&app, &publish_only, &event.id).await,
        Code::PermissionDenied,
        "",
    );
    assert_status(
        list_events_as(&app, &publish_only, ListEventsRequest::default()).await,
        Code::PermissionDenied,
        "",
    );
    publish_as(&app, &publish_only, json_event("invoice.paid", "{}"))
        .await
        .expect("a publish key publishes");

    // No or bad token.
    let anonymous = events(&app)
        .get_event(GetEventRequest {
            id: event.id.clone(),
        })
        .await;
    assert_status(anonymous, Code::Unauthenticated, "");
    assert_status(
        publish_as(
            &app,
            "hr_not_a_real_token",
            json_event("invoice.paid", "{}"),
        )
        .await,
        Code::Unauthenticated,
        "",
    );
    assert_eq!(
        all_events(&app).await.len(),
        2,
        "only the two allowed publishes"
    );
}

async fn scoped_keys_stay_in_their_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = TestReceiver::start().await;
    create_type(&app, "invoice.paid", None).await;
    let mut s1 = SubSpec::new("s1", receiver.url("/s1"), &["*"]);
    s1.scope = "s1";
    subscribe(&app, s1).await;
    let scoped = app
        .new_key(&app.tenant.id, "publish,read", Some("s1"))
        .await;

    let mine = publish_as(&app, &scoped, json_event("invoice.paid", "{}"))
        .await
        .expect("a scoped key publishes");
    let mine = {
        assert_eq!(mine.subscription_count, 1);
        mine.event.unwrap()
    };
    assert_eq!(mine.scope, "s1", "the key's scope applies when omitted");
    let explicit = publish_as(
        &app,
        &scoped,
        with_scope(json_event("invoice.paid", "{}"), "s1"),
    )
    .await
    .expect("its own scope explicitly");
    assert_eq!(explicit.event.unwrap().scope, "s1");
    let received = receiver.wait_for(2, WEBHOOK_DEADLINE).await;
    assert_eq!(received[0].json()["scope"], "s1");

    assert_status(
        publish_as(
            &app,
            &scoped,
            with_scope(json_event("invoice.paid", "{}"), "s2"),
        )
        .await,
        Code::PermissionDenied,
        "",
    );
    let batch_result = events(&app)
        .batch_publish_events(authed(
            &scoped,
            BatchPublishEventsRequest {
                events: vec![
                    json_event("invoice.paid", "{}"),
                    with_scope(json_event("invoice.paid", "{}"), "s2"),
                ],
            },
        ))
        .await;
    assert_status(batch_result, Code::PermissionDenied, "");

    // Events outside the key's scope are invisible.
    let s2 = publish_ok(&app, with_scope(json_event("invoice.paid", "{}"), "s2"))
        .await
        .event
        .unwrap();
    let unscoped = publish_ok(&app, json_event("invoice.paid", "{}"))
        .await
        .event
        .unwrap();
    assert_status(
        get_event_as(&app, &scoped, &s2.id).await,
        Code::NotFound,
        "",
    );
    assert_status(
        get_event_as(&app, &scoped, &unscoped.id).await,
        Code::NotFound,
        "",
    );
    get_event_as(&app, &scoped, &mine.id)
        .await
        .expect("its own scope is visible");
    let (visible, _) = list_events_as(&app, &scoped, ListEventsRequest::default())
        .await
        .expect("list");
    assert_eq!(visible.len(), 2);
    assert!(visible.iter().all(|e| e.scope == "s1"), "{visible:?}");
    assert_status(
        list_events_as(
            &app,
            &scoped,
            ListEventsRequest {
                scope: "s2".to_owned(),
                ..Default::default()
            },
        )
        .await,
        Code::PermissionDenied,
        "",
    );
    // The full key sees all four, and the rejected ones were never stored.
    let all = all_events(&app).await;
    assert_eq!(all.len(), 4);
    let by_scope: BTreeMap<String, usize> = all.iter().fold(BTreeMap::new(), |mut m, e| {
        *m.entry(e.scope.clone()).or_default() += 1;
        m
    });
    assert_eq!(
        by_scope,
        BTreeMap::from([
            ("".to_owned(), 1),
            ("s1".to_owned(), 2),
            ("s2".to_owned(), 1)
        ])
    );
    assert_settled_at(&app, &receiver, 2).await;
}

on_both_databases!(
    list_events_pages_and_filters,
    tenants_and_capabilities_are_enforced,
    scoped_keys_stay_in_their_scope,
);
