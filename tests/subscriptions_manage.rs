//! SubscriptionService end to end after creation: list, update, delete and
//! secret rotation, and what a tenant can never see (other tenants' and
//! other scopes' subscriptions, secrets).

mod common;

use common::builders::*;

use common::subscribing::*;
use common::{Backend, assert_status, authed, spawn_app};
use hookrelay::proto::{
    DeleteSubscriptionRequest, GetSubscriptionRequest, ListSubscriptionsRequest, RetryPolicy,
    RotateSubscriptionSecretRequest, Subscription, UpdateSubscriptionRequest,
};
use hookrelay::store::subscription;
use prost_types::Duration as PbDuration;
use sea_orm::{ActiveModelTrait, Set};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use tonic::{Code, Request, Status};

// ---------------------------------------------------------------------------

/// A dashboard pages through subscriptions two at a time and sees each exactly
/// once, in creation (id) order.
async fn list_pages_through_every_subscription_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            create_sub(&app, subscription(&format!("hook {i}")))
                .await
                .id,
        );
    }
    let mut expected = created.clone();
    expected.sort();

    let mut seen = Vec::new();
    let mut page_sizes = Vec::new();
    let mut token = String::new();
    loop {
        let page = list_with(
            &app,
            &app.tenant.token,
            ListSubscriptionsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("list page");
        page_sizes.push(page.subscriptions.len());
        seen.extend(page.subscriptions.into_iter().map(|s| s.id));
        if page.next_page_token.is_empty() {
            break;
        }
        assert!(
            !page.next_page_token.contains("sub_"),
            "page token is not opaque: {}",
            page.next_page_token
        );
        token = page.next_page_token;
        assert!(page_sizes.len() < 10, "pagination does not terminate");
    }
    assert_eq!(page_sizes, vec![2, 2, 1]);
    assert_eq!(seen, expected);

    // page_size 0 means the default (50), which fits everything on one page.
    let all = list_with(&app, &app.tenant.token, ListSubscriptionsRequest::default())
        .await
        .unwrap();
    assert_eq!(all.subscriptions.len(), 5);
    assert_eq!(all.next_page_token, "");

    // Exactly page_size items left: no dangling empty page.
    let exact = list_with(
        &app,
        &app.tenant.token,
        ListSubscriptionsRequest {
            page_size: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(exact.subscriptions.len(), 5);
    assert_eq!(exact.next_page_token, "");

    for bad in ["garbage!", "c3ViXzAx", "sub_01"] {
        assert_invalid(
            list_with(
                &app,
                &app.tenant.token,
                ListSubscriptionsRequest {
                    page_token: bad.to_owned(),
                    ..Default::default()
                },
            )
            .await,
            &["page_token"],
        );
    }
    assert_invalid(
        list_with(
            &app,
            &app.tenant.token,
            ListSubscriptionsRequest {
                page_size: -1,
                ..Default::default()
            },
        )
        .await,
        &["page_size"],
    );
}

/// Lists can be narrowed to one scope and to enabled or disabled subscriptions.
async fn list_filters_by_scope_and_enabled_state(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = create_sub(&app, in_scope("a", "s1")).await.id;
    let b = create_sub(
        &app,
        Subscription {
            enabled: Some(false),
            ..in_scope("b", "s1")
        },
    )
    .await
    .id;
    let c = create_sub(&app, in_scope("c", "s2")).await.id;
    let d = create_sub(
        &app,
        Subscription {
            enabled: Some(false),
            ..subscription("d")
        },
    )
    .await
    .id;
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let filtered = |scope: &str, enabled: Option<bool>| ListSubscriptionsRequest {
        scope: scope.to_owned(),
        enabled,
        ..Default::default()
    };

    assert_eq!(
        list_ids(&app, filtered("", None)).await,
        sorted(vec![a.clone(), b.clone(), c.clone(), d.clone()])
    );
    assert_eq!(
        list_ids(&app, filtered("s1", None)).await,
        sorted(vec![a.clone(), b.clone()])
    );
    assert_eq!(list_ids(&app, filtered("s2", None)).await, vec![c.clone()]);
    assert!(list_ids(&app, filtered("s3", None)).await.is_empty());
    assert_eq!(
        list_ids(&app, filtered("", Some(false))).await,
        sorted(vec![b.clone(), d])
    );
    assert_eq!(
        list_ids(&app, filtered("", Some(true))).await,
        sorted(vec![a.clone(), c])
    );
    assert_eq!(list_ids(&app, filtered("s1", Some(true))).await, vec![a]);
    assert_eq!(list_ids(&app, filtered("s1", Some(false))).await, vec![b]);
    assert_invalid(
        list_with(&app, &app.tenant.token, filtered("has space", None)).await,
        &["scope"],
    );
}

// ---------------------------------------------------------------------------
// Update
// ---------------------------------------------------------------------------

/// A tenant moves its endpoint and pauses deliveries; only the named fields
/// change, and the modification time moves forward.
async fn update_changes_only_the_masked_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let original = create_sub(
        &app,
        Subscription {
            description: "old endpoint".to_owned(),
            headers: BTreeMap::from([("x-api-key".to_owned(), "k".to_owned())]),
            metadata: BTreeMap::from([("team".to_owned(), "billing".to_owned())]),
            timeout: Some(secs(30)),
            ..in_scope("Mover", "s1")
        },
    )
    .await;

    // The request carries junk in unmasked fields: it must be ignored.
    let updated = update(
        &app,
        Subscription {
            id: original.id.clone(),
            url: "https://new.example.com/hooks".to_owned(),
            enabled: Some(false),
            name: String::new(),
            description: "ignored".to_owned(),
            timeout: Some(secs(0)),
            ..Default::default()
        },
        &["url", "enabled"],
    )
    .await
    .expect("update succeeds");

    assert_eq!(updated.url, "https://new.example.com/hooks");
    assert_eq!(updated.enabled, Some(false));
    let unchanged = Subscription {
        url: updated.url.clone(),
        enabled: updated.enabled,
        update_time: updated.update_time,
        ..original.clone()
    };
    assert_eq!(updated, unchanged, "fields outside the mask changed");
    assert!(
        micros(updated.update_time.as_ref().unwrap())
            > micros(original.update_time.as_ref().unwrap()),
        "update_time did not advance: {:?} -> {:?}",
        original.update_time,
        updated.update_time
    );
    assert_eq!(updated.create_time, original.create_time);
    assert_eq!(get(&app, &original.id).await.unwrap(), updated);

    // A masked field left unset takes its default (AIP-134).
    let cleared = update(
        &app,
        Subscription {
            id: original.id.clone(),
            ..Default::default()
        },
        &["description", "timeout", "headers"],
    )
    .await
    .unwrap();
    assert_eq!(cleared.description, "");
    assert_eq!(cleared.timeout, Some(secs(15)));
    assert!(cleared.headers.is_empty());
    assert_eq!(cleared.url, "https://new.example.com/hooks");
    assert_eq!(cleared.metadata, original.metadata);
}

/// When the server disabled a subscription (say, after repeated failures),
/// re-enabling it by hand clears the reason.
async fn re_enabling_clears_the_disabled_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let sub = create_sub(&app, subscription("Flaky")).await;
    let row = stored_row(&app, &sub.id).await.unwrap();
    let mut active: subscription::ActiveModel = row.into();
    active.enabled = Set(false);
    active.disabled_reason = Set(Some("endpoint failed 100 times in a row".to_owned()));
    active.update(&app.db).await.unwrap();
    let disabled = get(&app, &sub.id).await.unwrap();
    assert_eq!(disabled.enabled, Some(false));
    assert_eq!(
        disabled.disabled_reason,
        "endpoint failed 100 times in a row"
    );

    // Changing something else keeps the reason.
    let described = update(
        &app,
        Subscription {
            id: sub.id.clone(),
            description: "looking into it".to_owned(),
            ..Default::default()
        },
        &["description"],
    )
    .await
    .unwrap();
    assert_eq!(
        described.disabled_reason,
        "endpoint failed 100 times in a row"
    );

    let enabled = update(
        &app,
        Subscription {
            id: sub.id.clone(),
            enabled: Some(true),
            ..Default::default()
        },
        &["enabled"],
    )
    .await
    .unwrap();
    assert_eq!(enabled.enabled, Some(true));
    assert_eq!(enabled.disabled_reason, "");
}

/// Updates that cannot be applied are refused with a reason, and change nothing.
async fn bad_updates_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let sub = create_sub(&app, in_scope("Target", "s1")).await;
    create(&app, subscription("Taken")).await;
    let with_id = |s: Subscription| Subscription {
        id: sub.id.clone(),
        ..s
    };

    let status = assert_invalid(
        update(&app, with_id(Subscription::default()), &[]).await,
        &["update_mask"],
    );
    assert!(
        status.message().contains("update_mask"),
        "{}",
        status.message()
    );
    let no_mask = app
        .subscriptions()
        .update_subscription(app.req(UpdateSubscriptionRequest {
            subscription: Some(with_id(subscription("x"))),
            update_mask: None,
        }))
        .await;
    assert_invalid(no_mask, &["update_mask"]);

    for path in [
        "colour",
        "id",
        "scope",
        "create_time",
        "update_time",
        "retry_policy.max_attempts",
    ] {
        let status = assert_invalid(
            update(&app, with_id(in_scope("Target", "s2")), &[path]).await,
            &["update_mask"],
        );
        assert!(
            status.message().contains(path),
            "{path}: {}",
            status.message()
        );
    }

    assert_invalid(
        update(
            &app,
            with_id(Subscription {
                url: "ftp://example.com".to_owned(),
                ..Default::default()
            }),
            &["url"],
        )
        .await,
        &["subscription.url"],
    );
    assert_invalid(
        update(&app, with_id(Subscription::default()), &["name"]).await,
        &["subscription.name"],
    );
    assert_invalid(
        update(
            &app,
            with_id(Subscription {
                event_types: vec![],
                ..Default::default()
            }),
            &["event_types"],
        )
        .await,
        &["subscription.event_types"],
    );
    assert_invalid(
        update(
            &app,
            with_id(Subscription {
                retry_policy: Some(RetryPolicy {
                    max_attempts: 1000,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            &["retry_policy"],
        )
        .await,
        &["subscription.retry_policy"],
    );

    assert_status(
        update(&app, with_id(subscription("Taken")), &["name"]).await,
        Code::AlreadyExists,
        "Taken",
    );

    assert_status(
        update(
            &app,
            Subscription {
                id: "sub_01J00000000000000000000000".to_owned(),
                description: "x".to_owned(),
                ..Default::default()
            },
            &["description"],
        )
        .await,
        Code::NotFound,
        "sub_01J00000000000000000000000",
    );

    // After all that, the subscription is exactly as created.
    assert_eq!(get(&app, &sub.id).await.unwrap(), sub);
}

// ---------------------------------------------------------------------------
// Delete
// ---------------------------------------------------------------------------

/// A deleted subscription is gone for good; deleting it again says so.
async fn deleted_subscriptions_are_gone(backend: Backend) {
    let app = spawn_app(backend).await;
    let sub = create_sub(&app, subscription("Doomed")).await;
    let keep = create_sub(&app, subscription("Kept")).await;
    let delete = |id: String| {
        let mut client = app.subscriptions();
        let request = app.req(DeleteSubscriptionRequest { id });
        async move { client.delete_subscription(request).await }
    };

    delete(sub.id.clone()).await.expect("delete succeeds");
    assert_status(get(&app, &sub.id).await, Code::NotFound, &sub.id);
    assert_status(delete(sub.id.clone()).await, Code::NotFound, &sub.id);
    assert_eq!(
        list_ids(&app, ListSubscriptionsRequest::default()).await,
        vec![keep.id.clone()]
    );
    assert!(stored_row(&app, &sub.id).await.is_none());
    assert_status(
        delete("sub_does_not_exist".to_owned()).await,
        Code::NotFound,
        "not found",
    );
    // The name is free again.
    create(&app, subscription("Doomed")).await;
}

// ---------------------------------------------------------------------------
// Secret rotation
// ---------------------------------------------------------------------------

/// A tenant rotates a leaked secret; the old one keeps signing for an overlap
/// window (24h unless told otherwise) so receivers can switch without gaps.
async fn rotating_the_secret_keeps_the_old_one_for_an_overlap(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = create(&app, subscription("Rotated")).await;
    let id = created.subscription.unwrap().id;
    let old_row = stored_row(&app, &id).await.unwrap();
    let rotate = |secret: &str, overlap: Option<PbDuration>| {
        let mut client = app.subscriptions();
        let request = app.req(RotateSubscriptionSecretRequest {
            id: id.clone(),
            secret: secret.to_owned(),
            overlap,
        });
        async move { client.rotate_subscription_secret(request).await }
    };

    let before = SystemTime::now();
    let rotated = rotate("", None).await.expect("rotate").into_inner();
    let after = SystemTime::now();
    assert!(rotated.secret.starts_with("whsec_"), "{}", rotated.secret);
    assert_ne!(rotated.secret, created.secret);
    let expiry = rotated
        .previous_secret_expire_time
        .expect("the previous secret has an expiry");
    assert_time_between(&expiry, before, after, Duration::from_secs(24 * 3600));

    let row = stored_row(&app, &id).await.unwrap();
    assert_eq!(
        row.previous_secret_ciphertext.as_deref(),
        Some(old_row.secret_ciphertext.as_str()),
        "the previous secret is the one that was current"
    );
    assert_eq!(row.previous_secret_expire_time, Some(micros(&expiry)));
    assert_ne!(row.secret_ciphertext, old_row.secret_ciphertext);
    assert!(
        !row.secret_ciphertext
            .contains(rotated.secret.trim_start_matches("whsec_"))
    );
    assert!(row.update_time > old_row.update_time);

    // An explicit overlap.
    let before = SystemTime::now();
    let hour = rotate("", Some(secs(3600)))
        .await
        .expect("rotate")
        .into_inner();
    let after = SystemTime::now();
    assert_ne!(hour.secret, rotated.secret);
    assert_time_between(
        hour.previous_secret_expire_time.as_ref().expect("expiry"),
        before,
        after,
        Duration::from_secs(3600),
    );

    // A caller-supplied secret is used as is, and never returned.
    let own = "a-caller-chosen-rotation-secret";
    let chosen = rotate(own, Some(secs(60)))
        .await
        .expect("rotate")
        .into_inner();
    assert_eq!(chosen.secret, "");
    let row = stored_row(&app, &id).await.unwrap();
    assert!(!row.secret_ciphertext.contains(own));
    assert!(row.previous_secret_ciphertext.is_some());

    // No overlap: the previous secret stops immediately.
    let abrupt = rotate("", Some(secs(0)))
        .await
        .expect("rotate")
        .into_inner();
    assert_eq!(abrupt.previous_secret_expire_time, None);
    let row = stored_row(&app, &id).await.unwrap();
    assert_eq!(row.previous_secret_ciphertext, None);
    assert_eq!(row.previous_secret_expire_time, None);

    // Mistakes.
    assert_invalid(rotate("too-short", None).await, &["secret"]);
    assert_invalid(rotate("", Some(secs(30 * 24 * 3600))).await, &["overlap"]);
    assert_invalid(rotate("", Some(secs(-5))).await, &["overlap"]);
    let unknown = app
        .subscriptions()
        .rotate_subscription_secret(app.req(RotateSubscriptionSecretRequest {
            id: "sub_01J00000000000000000000000".to_owned(),
            ..Default::default()
        }))
        .await;
    assert_status(unknown, Code::NotFound, "sub_01J00000000000000000000000");
    // The failed calls did not rotate anything.
    assert_eq!(stored_row(&app, &id).await.unwrap(), row);
}

// ---------------------------------------------------------------------------
// Tenancy, authentication and capabilities
// ---------------------------------------------------------------------------

/// Another tenant cannot tell acme's subscriptions exist, let alone change them.
async fn other_tenants_cannot_see_or_touch_subscriptions(backend: Backend) {
    let app = spawn_app(backend).await;
    let sub = create_sub(&app, subscription("Acme billing")).await;
    let row_before = stored_row(&app, &sub.id).await.unwrap();
    let globex = app.new_tenant("globex").await;
    let mut client = app.subscriptions();

    let not_found = |result: Result<_, Status>| {
        let status = result.expect_err("globex must not reach acme's subscription");
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert!(status.message().contains(&sub.id), "{}", status.message());
    };
    not_found(
        client
            .get_subscription(authed(
                &globex.token,
                GetSubscriptionRequest { id: sub.id.clone() },
            ))
            .await
            .map(|_| ()),
    );
    not_found(
        client
            .update_subscription(authed(
                &globex.token,
                UpdateSubscriptionRequest {
                    subscription: Some(Subscription {
                        id: sub.id.clone(),
                        url: "https://evil.example.com/".to_owned(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["url"]),
                },
            ))
            .await
            .map(|_| ()),
    );
    not_found(
        client
            .rotate_subscription_secret(authed(
                &globex.token,
                RotateSubscriptionSecretRequest {
                    id: sub.id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(|_| ()),
    );
    not_found(
        client
            .delete_subscription(authed(
                &globex.token,
                DeleteSubscriptionRequest { id: sub.id.clone() },
            ))
            .await
            .map(|_| ()),
    );
    let listed = list_with(&app, &globex.token, ListSubscriptionsRequest::default())
        .await
        .unwrap();
    assert!(listed.subscriptions.is_empty(), "{listed:?}");
    assert_eq!(listed.next_page_token, "");

    // acme's subscription is untouched.
    assert_eq!(get(&app, &sub.id).await.unwrap(), sub);
    assert_eq!(stored_row(&app, &sub.id).await.unwrap(), row_before);
}

/// Every call needs a valid token, and each capability unlocks only its RPCs.
async fn tokens_and_capabilities_gate_every_call(backend: Backend) {
    let app = spawn_app(backend).await;
    let sub = create_sub(&app, subscription("Guarded")).await;
    let mut client = app.subscriptions();

    let status = assert_status(
        client
            .list_subscriptions(Request::new(ListSubscriptionsRequest::default()))
            .await,
        Code::Unauthenticated,
        "authorization",
    );
    assert!(status.message().contains("Bearer"), "{}", status.message());
    assert_status(
        client
            .create_subscription(Request::new(create_request(subscription("x"))))
            .await,
        Code::Unauthenticated,
        "authorization",
    );
    assert_status(
        client
            .get_subscription(Request::new(GetSubscriptionRequest { id: sub.id.clone() }))
            .await,
        Code::Unauthenticated,
        "",
    );
    assert_status(
        client
            .get_subscription(authed(
                "hr_not_a_real_token",
                GetSubscriptionRequest { id: sub.id.clone() },
            ))
            .await,
        Code::Unauthenticated,
        "",
    );

    // A read-only key (a monitoring dashboard) can look but not touch.
    let reader = app.new_key(&app.tenant.id, "read", None).await;
    let seen = client
        .get_subscription(authed(
            &reader,
            GetSubscriptionRequest { id: sub.id.clone() },
        ))
        .await
        .expect("read key can Get")
        .into_inner();
    assert_eq!(seen.subscription.unwrap(), sub);
    let listed = list_with(&app, &reader, ListSubscriptionsRequest::default())
        .await
        .expect("read key can List");
    assert_eq!(listed.subscriptions, vec![sub.clone()]);
    assert_status(
        client
            .create_subscription(authed(&reader, create_request(subscription("x"))))
            .await,
        Code::PermissionDenied,
        "manage",
    );
    assert_status(
        client
            .update_subscription(authed(
                &reader,
                UpdateSubscriptionRequest {
                    subscription: Some(Subscription {
                        id: sub.id.clone(),
                        enabled: Some(false),
                        ..Default::default()
                    }),
                    update_mask: mask(&["enabled"]),
                },
            ))
            .await,
        Code::PermissionDenied,
        "manage",
    );
    assert_status(
        client
            .delete_subscription(authed(
                &reader,
                DeleteSubscriptionRequest { id: sub.id.clone() },
            ))
            .await,
        Code::PermissionDenied,
        "manage",
    );
    assert_status(
        client
            .rotate_subscription_secret(authed(
                &reader,
                RotateSubscriptionSecretRequest {
                    id: sub.id.clone(),
                    ..Default::default()
                },
            ))
            .await,
        Code::PermissionDenied,
        "manage",
    );

    // A publish-only key (a backend that emits events) cannot browse subscriptions.
    let publisher = app.new_key(&app.tenant.id, "publish", None).await;
    assert_status(
        list_with(&app, &publisher, ListSubscriptionsRequest::default()).await,
        Code::PermissionDenied,
        "read",
    );
    assert_status(
        client
            .get_subscription(authed(
                &publisher,
                GetSubscriptionRequest { id: sub.id.clone() },
            ))
            .await,
        Code::PermissionDenied,
        "read",
    );

    // Nothing the denied calls attempted happened.
    assert_eq!(get(&app, &sub.id).await.unwrap(), sub);
    assert_eq!(
        list_ids(&app, ListSubscriptionsRequest::default()).await,
        vec![sub.id]
    );
}

/// A key restricted to scope "s1" (an embedded widget for one end customer)
/// works only inside s1: it creates there by default and cannot see or touch
/// anything else.
async fn scoped_keys_stay_inside_their_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let elsewhere = create_sub(&app, in_scope("Other customer", "s2")).await;
    let tenant_wide = create_sub(&app, subscription("Tenant-wide")).await;
    let admin_s1 = create_sub(&app, in_scope("Made by admin", "s1")).await;
    let widget = app.new_key(&app.tenant.id, "manage,read", Some("s1")).await;
    let mut client = app.subscriptions();

    let own = client
        .create_subscription(authed(&widget, create_request(subscription("Widget hook"))))
        .await
        .expect("scoped key creates in its scope")
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(own.scope, "s1");
    let explicit = client
        .create_subscription(authed(
            &widget,
            create_request(in_scope("Widget hook 2", "s1")),
        ))
        .await
        .expect("naming its own scope is fine")
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(explicit.scope, "s1");
    assert_status(
        client
            .create_subscription(authed(&widget, create_request(in_scope("Escape", "s2"))))
            .await,
        Code::PermissionDenied,
        "s1",
    );

    let listed = list_with(&app, &widget, ListSubscriptionsRequest::default())
        .await
        .unwrap();
    let mut ids: Vec<String> = listed.subscriptions.iter().map(|s| s.id.clone()).collect();
    let mut expected = vec![admin_s1.id.clone(), own.id.clone(), explicit.id.clone()];
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
    assert!(listed.subscriptions.iter().all(|s| s.scope == "s1"));
    assert_status(
        list_with(
            &app,
            &widget,
            ListSubscriptionsRequest {
                scope: "s2".to_owned(),
                ..Default::default()
            },
        )
        .await,
        Code::PermissionDenied,
        "s1",
    );

    for hidden in [&elsewhere, &tenant_wide] {
        let id = hidden.id.clone();
        assert_status(
            client
                .get_subscription(authed(&widget, GetSubscriptionRequest { id: id.clone() }))
                .await,
            Code::NotFound,
            &id,
        );
        assert_status(
            client
                .update_subscription(authed(
                    &widget,
                    UpdateSubscriptionRequest {
                        subscription: Some(Subscription {
                            id: id.clone(),
                            enabled: Some(false),
                            ..Default::default()
                        }),
                        update_mask: mask(&["enabled"]),
                    },
                ))
                .await,
            Code::NotFound,
            &id,
        );
        assert_status(
            client
                .delete_subscription(authed(
                    &widget,
                    DeleteSubscriptionRequest { id: id.clone() },
                ))
                .await,
            Code::NotFound,
            &id,
        );
        assert_status(
            client
                .rotate_subscription_secret(authed(
                    &widget,
                    RotateSubscriptionSecretRequest {
                        id: id.clone(),
                        ..Default::default()
                    },
                ))
                .await,
            Code::NotFound,
            &id,
        );
        assert_eq!(
            &get(&app, &id).await.unwrap(),
            hidden,
            "the admin still sees it unchanged"
        );
    }

    // Within its scope the key has full control.
    let paused = client
        .update_subscription(authed(
            &widget,
            UpdateSubscriptionRequest {
                subscription: Some(Subscription {
                    id: own.id.clone(),
                    enabled: Some(false),
                    ..Default::default()
                }),
                update_mask: mask(&["enabled"]),
            },
        ))
        .await
        .expect("scoped key updates its own subscription")
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(paused.enabled, Some(false));
    assert_eq!(paused.scope, "s1");
    client
        .delete_subscription(authed(
            &widget,
            DeleteSubscriptionRequest { id: own.id.clone() },
        ))
        .await
        .expect("scoped key deletes its own subscription");
    assert_status(get(&app, &own.id).await, Code::NotFound, &own.id);
}

on_both_databases!(
    list_pages_through_every_subscription_once,
    list_filters_by_scope_and_enabled_state,
    update_changes_only_the_masked_fields,
    re_enabling_clears_the_disabled_reason,
    bad_updates_are_refused,
    deleted_subscriptions_are_gone,
    rotating_the_secret_keeps_the_old_one_for_an_overlap,
    other_tenants_cannot_see_or_touch_subscriptions,
    tokens_and_capabilities_gate_every_call,
    scoped_keys_stay_inside_their_scope,
);
