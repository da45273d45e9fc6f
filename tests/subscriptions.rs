//! SubscriptionService end to end, CreateSubscription: the secret, defaults,
//! validation, quotas. What a tenant is told when it gets something wrong.

mod common;

use common::builders::*;

use common::subscribing::*;
use common::{
    Backend, assert_status, authed, register_event_type, spawn_app, spawn_app_with, violated_fields,
};
use hookrelay::proto::{
    Backoff, CreateSubscriptionRequest, DeleteEventTypeRequest, DeleteSubscriptionRequest,
    ListSubscriptionsRequest, RetryPolicy, SignatureAlgorithm, SignatureProfile, Subscription,
};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use tonic::Code;

// ---------------------------------------------------------------------------
// Create, the secret, and defaults
// ---------------------------------------------------------------------------

/// A tenant creates a subscription and receives its signing secret exactly once;
/// reading the subscription back never shows the secret, and the database only
/// holds it encrypted.
async fn create_returns_the_secret_once_and_stores_it_encrypted(backend: Backend) {
    let app = spawn_app(backend).await;
    register_event_type(app.channel(), &app.tenant.token, "invoice.paid").await;

    let mut wanted = subscription("Billing");
    wanted.description = "Invoices to the ERP".to_owned();
    wanted.event_types = vec!["invoice.paid".to_owned(), "customer.*".to_owned()];
    wanted.metadata = BTreeMap::from([("team".to_owned(), "finance".to_owned())]);
    let created = create(&app, wanted).await;
    let secret = created.secret.clone();
    assert!(secret.starts_with("whsec_"), "secret {secret:?}");
    assert!(secret.len() > "whsec_".len() + 24);
    let sub = created.subscription.expect("subscription");
    assert!(sub.id.starts_with("sub_"), "id {:?}", sub.id);
    assert_eq!(sub.name, "Billing");
    assert_eq!(sub.description, "Invoices to the ERP");
    assert_eq!(sub.url, "https://example.com/webhooks");
    assert_eq!(sub.event_types, vec!["invoice.paid", "customer.*"]);
    assert_eq!(sub.metadata["team"], "finance");

    let fetched = get(&app, &sub.id).await.expect("get succeeds");
    assert_eq!(fetched, sub, "Get returns what Create returned");
    assert!(
        !format!("{fetched:?}").contains(&secret),
        "Get leaks the secret"
    );
    let listed = list_with(&app, &app.tenant.token, ListSubscriptionsRequest::default())
        .await
        .expect("list succeeds");
    assert_eq!(listed.subscriptions, vec![sub.clone()]);
    assert!(
        !format!("{listed:?}").contains(&secret),
        "List leaks the secret"
    );

    let row = stored_row(&app, &sub.id).await.expect("row exists");
    let key_part = secret.trim_start_matches("whsec_");
    assert!(!row.secret_ciphertext.is_empty());
    assert!(
        !row.secret_ciphertext.contains(key_part),
        "the secret is stored in plain text: {:?}",
        row.secret_ciphertext
    );
    assert_eq!(row.previous_secret_ciphertext, None);

    // A second subscription gets a different secret.
    let other = create(&app, subscription("Billing 2")).await;
    assert_ne!(other.secret, secret);
}

/// A tenant that already shares a secret with its receiver may bring its own,
/// provided it is at least 24 bytes long.
async fn caller_supplied_secrets_must_be_long_enough(backend: Backend) {
    let app = spawn_app(backend).await;
    let own = "exactly-twenty-four-byte"; // 24 bytes
    assert_eq!(own.len(), 24);
    let created = app
        .subscriptions()
        .create_subscription(app.req(CreateSubscriptionRequest {
            subscription: Some(subscription("Own secret")),
            secret: own.to_owned(),
        }))
        .await
        .expect("a 24-byte secret is accepted")
        .into_inner();
    // A secret the caller supplied is theirs already: never echoed back.
    assert_eq!(created.secret, "");
    let id = created.subscription.unwrap().id;
    let row = stored_row(&app, &id).await.unwrap();
    assert!(!row.secret_ciphertext.contains(own));

    let result = app
        .subscriptions()
        .create_subscription(app.req(CreateSubscriptionRequest {
            subscription: Some(subscription("Short secret")),
            secret: "only-twenty-three-bytes".to_owned(), // 23 bytes
        }))
        .await;
    let status = assert_invalid(result, &["secret"]);
    assert!(status.message().contains("24"), "{}", status.message());
    // Nothing was created by the rejected call.
    assert_eq!(
        list_ids(&app, ListSubscriptionsRequest::default()).await,
        vec![id]
    );
}

/// Leaving the optional settings out gives an enabled subscription with the
/// documented retry schedule and timeout.
async fn unset_fields_take_the_documented_defaults(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = SystemTime::now();
    let sub = create_sub(&app, subscription("Defaults")).await;
    let after = SystemTime::now();

    assert_eq!(sub.enabled, Some(true));
    assert_eq!(sub.disabled_reason, "");
    assert_eq!(
        sub.retry_policy,
        Some(RetryPolicy {
            max_attempts: 15,
            initial_delay: Some(secs(2)),
            max_delay: Some(secs(10 * 3600)),
            backoff: Backoff::Exponential as i32,
            jitter: Some(true),
        })
    );
    assert_eq!(sub.timeout, Some(secs(15)));
    assert_eq!(sub.rate_limit, 0);
    assert!(!sub.ordered);
    assert_eq!(sub.scope, "");
    assert!(sub.headers.is_empty());
    assert_eq!(sub.signature, None);
    let create_time = sub.create_time.expect("create_time");
    assert_time_between(&create_time, before, after, Duration::ZERO);
    assert_eq!(sub.update_time, Some(create_time));

    // Explicitly disabled stays disabled; explicit settings are kept as given.
    let custom = create_sub(
        &app,
        Subscription {
            enabled: Some(false),
            retry_policy: Some(RetryPolicy {
                max_attempts: 5,
                initial_delay: Some(secs(10)),
                max_delay: Some(secs(60)),
                backoff: Backoff::Linear as i32,
                jitter: None,
            }),
            timeout: Some(secs(30)),
            rate_limit: 100,
            ordered: true,
            ..subscription("Custom")
        },
    )
    .await;
    assert_eq!(custom.enabled, Some(false));
    let policy = custom.retry_policy.unwrap();
    assert_eq!(
        (
            policy.max_attempts,
            policy.initial_delay,
            policy.max_delay,
            policy.backoff
        ),
        (5, Some(secs(10)), Some(secs(60)), Backoff::Linear as i32)
    );
    assert_eq!(custom.timeout, Some(secs(30)));
    assert_eq!(custom.rate_limit, 100);
    assert!(custom.ordered);
    assert_eq!(get(&app, &custom.id).await.unwrap(), custom);
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/// Names must be present and reasonably short; any language is fine; two
/// subscriptions of one tenant cannot share a name.
async fn names_are_validated_and_unique_per_tenant(backend: Backend) {
    let app = spawn_app(backend).await;

    assert_invalid(
        try_create(&app, subscription("")).await,
        &["subscription.name"],
    );
    assert_invalid(
        try_create(&app, subscription("   ")).await,
        &["subscription.name"],
    );
    assert_invalid(
        try_create(&app, subscription(&"n".repeat(10_000))).await,
        &["subscription.name"],
    );

    let unicode = create_sub(&app, subscription("Facturación 請求")).await;
    assert_eq!(unicode.name, "Facturación 請求");
    assert_eq!(
        get(&app, &unicode.id).await.unwrap().name,
        "Facturación 請求"
    );

    let status = assert_status(
        try_create(&app, subscription("Facturación 請求")).await,
        Code::AlreadyExists,
        "Facturación 請求",
    );
    assert!(
        status.message().contains("already exists"),
        "{}",
        status.message()
    );
    assert_eq!(
        list_ids(&app, ListSubscriptionsRequest::default())
            .await
            .len(),
        1
    );

    // Uniqueness is per tenant: another tenant may use the same name.
    let globex = app.new_tenant("globex").await;
    app.subscriptions()
        .create_subscription(authed(
            &globex.token,
            create_request(subscription("Facturación 請求")),
        ))
        .await
        .expect("another tenant may reuse the name");
}

/// In dev mode http and local targets are allowed, but the URL must still be an
/// absolute http(s) URL.
async fn urls_must_be_absolute_http_urls(backend: Backend) {
    let app = spawn_app(backend).await;
    for bad in [
        "not a url",
        "example.com/hooks",
        "ftp://example.com/hooks",
        "",
    ] {
        let status = assert_invalid(
            try_create(
                &app,
                Subscription {
                    url: bad.to_owned(),
                    ..subscription("Bad URL")
                },
            )
            .await,
            &["subscription.url"],
        );
        assert!(
            status.message().contains("URL"),
            "{bad:?}: {}",
            status.message()
        );
    }
    let local = create_sub(
        &app,
        Subscription {
            url: "http://localhost:8080/hooks".to_owned(),
            ..subscription("Local in dev")
        },
    )
    .await;
    assert_eq!(local.url, "http://localhost:8080/hooks");
}

/// Outside dev mode a webhook may only target public https endpoints, so the
/// service cannot be used to probe the network it runs in.
async fn without_dev_only_public_https_urls_are_accepted(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.dev = false).await;
    for bad in [
        "http://example.com/hooks",
        "https://127.0.0.1/",
        "https://10.0.0.1",
        "https://localhost",
        "https://localhost:8443/hooks",
    ] {
        assert_invalid(
            try_create(
                &app,
                Subscription {
                    url: bad.to_owned(),
                    ..subscription("Internal")
                },
            )
            .await,
            &["subscription.url"],
        );
    }
    let status = assert_invalid(
        try_create(
            &app,
            Subscription {
                url: "http://example.com/hooks".to_owned(),
                ..subscription("Plain http")
            },
        )
        .await,
        &["subscription.url"],
    );
    assert!(status.message().contains("https"), "{}", status.message());
    assert!(
        list_ids(&app, ListSubscriptionsRequest::default())
            .await
            .is_empty()
    );

    let public = create_sub(
        &app,
        Subscription {
            url: "https://example.com".to_owned(),
            ..subscription("Public")
        },
    )
    .await;
    assert!(
        public.url.starts_with("https://example.com"),
        "{}",
        public.url
    );

    // The same policy applies when the URL is changed later.
    let result = update(
        &app,
        Subscription {
            id: public.id.clone(),
            url: "https://10.0.0.1/hooks".to_owned(),
            ..Default::default()
        },
        &["url"],
    )
    .await;
    assert_invalid(result, &["subscription.url"]);
    assert_eq!(get(&app, &public.id).await.unwrap().url, public.url);
}

/// An operator can open chosen private networks (an internal service) without
/// --dev: those addresses are accepted, on create and on update; every other
/// private address, and plain http, is still refused.
async fn allowed_networks_open_only_those_private_targets(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.dev = false;
        s.allowed_networks = vec!["10.20.0.0/16".parse().unwrap()];
    })
    .await;
    let internal = create_sub(
        &app,
        Subscription {
            url: "https://10.20.3.4:8443/hooks".to_owned(),
            ..subscription("Internal")
        },
    )
    .await;
    assert_eq!(internal.url, "https://10.20.3.4:8443/hooks");
    for refused in [
        "https://10.21.0.1/hooks",
        "https://192.168.1.10/hooks",
        "https://localhost/hooks",
        "http://10.20.3.4/hooks",
    ] {
        let status = assert_invalid(
            try_create(
                &app,
                Subscription {
                    url: refused.to_owned(),
                    ..subscription("Elsewhere")
                },
            )
            .await,
            &["subscription.url"],
        );
        let hint = if refused.starts_with("http:") {
            "https"
        } else {
            "allowed_networks"
        };
        assert!(
            status.message().contains(hint),
            "{refused}: {}",
            status.message()
        );
    }
    let moved = update(
        &app,
        Subscription {
            id: internal.id.clone(),
            url: "https://10.20.9.9/hooks".to_owned(),
            ..Default::default()
        },
        &["url"],
    )
    .await
    .expect("an update within the allowed network");
    assert_eq!(moved.url, "https://10.20.9.9/hooks");
    assert_invalid(
        update(
            &app,
            Subscription {
                id: internal.id.clone(),
                url: "https://172.16.0.1/hooks".to_owned(),
                ..Default::default()
            },
            &["url"],
        )
        .await,
        &["subscription.url"],
    );
}

/// Subscribers pick from the event-type catalog: exact names must be
/// registered and active; wildcards need no registration.
async fn event_types_must_be_patterns_from_the_catalog(backend: Backend) {
    let app = spawn_app(backend).await;
    let with_types = |types: &[&str]| Subscription {
        event_types: types.iter().map(|t| (*t).to_owned()).collect(),
        ..subscription("Typed")
    };

    assert_invalid(
        try_create(&app, with_types(&[])).await,
        &["subscription.event_types"],
    );
    for malformed in ["Invoice Paid", "invoice.*.paid", "invoice*", ".invoice"] {
        assert_invalid(
            try_create(&app, with_types(&[malformed])).await,
            &["subscription.event_types[0]"],
        );
    }

    let status = assert_invalid(
        try_create(&app, with_types(&["*", "invoice.paid"])).await,
        &["subscription.event_types[1]"],
    );
    assert!(
        status.message().contains("invoice.paid"),
        "{}",
        status.message()
    );
    assert!(
        !violated_fields(&status).contains(&"subscription.event_types[0]".to_owned()),
        "the wildcard was not the problem: {:?}",
        violated_fields(&status)
    );

    register_event_type(app.channel(), &app.tenant.token, "invoice.paid").await;
    let sub = create_sub(&app, with_types(&["invoice.paid"])).await;
    assert_eq!(sub.event_types, vec!["invoice.paid"]);

    // Archiving the type keeps existing subscriptions but refuses new ones.
    app.event_types()
        .delete_event_type(app.req(DeleteEventTypeRequest {
            name: "invoice.paid".to_owned(),
        }))
        .await
        .expect("archive the event type");
    assert_invalid(
        try_create(
            &app,
            Subscription {
                name: "After archive".to_owned(),
                ..with_types(&["invoice.paid"])
            },
        )
        .await,
        &["subscription.event_types[0]"],
    );
    // Nor can an existing subscription switch to it.
    let wildcard = create_sub(
        &app,
        Subscription {
            name: "Wildcard".to_owned(),
            ..with_types(&["invoice.*"])
        },
    )
    .await;
    assert_invalid(
        update(
            &app,
            Subscription {
                id: wildcard.id.clone(),
                event_types: vec!["invoice.paid".to_owned()],
                ..Default::default()
            },
            &["event_types"],
        )
        .await,
        &["subscription.event_types[0]"],
    );
    assert_eq!(wildcard.event_types, vec!["invoice.*"]);
    let everything = create_sub(
        &app,
        Subscription {
            name: "Everything".to_owned(),
            ..with_types(&["*"])
        },
    )
    .await;
    assert_eq!(everything.event_types, vec!["*"]);
}

/// Custom headers are sent with every delivery, so they may not smuggle extra
/// lines or replace the headers hookrelay signs requests with.
async fn custom_headers_cannot_inject_or_override_signatures(backend: Backend) {
    let app = spawn_app(backend).await;
    let with_headers = |pairs: &[(&str, &str)]| Subscription {
        headers: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..subscription("Headers")
    };

    assert_invalid(
        try_create(&app, with_headers(&[("x-api-key", "a\r\nInjected: yes")])).await,
        &["subscription.headers[\"x-api-key\"]"],
    );
    assert_invalid(
        try_create(&app, with_headers(&[("x-api-key", "line\nbreak")])).await,
        &["subscription.headers[\"x-api-key\"]"],
    );
    let status = assert_invalid(
        try_create(&app, with_headers(&[("webhook-signature", "v1,forged")])).await,
        &["subscription.headers[\"webhook-signature\"]"],
    );
    assert!(
        status.message().contains("reserved"),
        "{}",
        status.message()
    );

    // The extra signature profile owns its header too.
    let clash = Subscription {
        signature: Some(SignatureProfile {
            header: "X-Hub-Signature-256".to_owned(),
            algorithm: SignatureAlgorithm::HmacSha256Hex as i32,
            prefix: "sha256=".to_owned(),
            algorithm_header: String::new(),
        }),
        ..with_headers(&[("x-hub-signature-256", "sha256=forged")])
    };
    let status = assert_invalid(try_create(&app, clash).await, &["subscription.headers"]);
    assert!(
        status
            .message()
            .to_lowercase()
            .contains("x-hub-signature-256"),
        "{}",
        status.message()
    );
    assert!(
        list_ids(&app, ListSubscriptionsRequest::default())
            .await
            .is_empty()
    );

    let ok = create_sub(
        &app,
        Subscription {
            signature: Some(SignatureProfile {
                header: "X-Hub-Signature-256".to_owned(),
                algorithm: SignatureAlgorithm::HmacSha256Hex as i32,
                prefix: "sha256=".to_owned(),
                algorithm_header: String::new(),
            }),
            ..with_headers(&[("X-Api-Key", "k-123"), ("Authorization", "Bearer abc")])
        },
    )
    .await;
    assert_eq!(ok.headers["x-api-key"], "k-123");
    assert_eq!(ok.headers["authorization"], "Bearer abc");
    assert_eq!(ok.signature.unwrap().header, "x-hub-signature-256");
}

/// Retry schedule, timeout and rate limit are bounded so a subscription cannot
/// tie up the delivery workers.
async fn delivery_settings_are_bounded(backend: Backend) {
    let app = spawn_app(backend).await;
    let too_many_attempts = Subscription {
        retry_policy: Some(RetryPolicy {
            max_attempts: 1000,
            ..Default::default()
        }),
        ..subscription("Retries")
    };
    let status = assert_invalid(
        try_create(&app, too_many_attempts).await,
        &["subscription.retry_policy"],
    );
    assert!(
        status.message().contains("max_attempts"),
        "{}",
        status.message()
    );

    let no_delay = Subscription {
        retry_policy: Some(RetryPolicy {
            initial_delay: Some(secs(0)),
            ..Default::default()
        }),
        ..subscription("Retries")
    };
    let status = assert_invalid(
        try_create(&app, no_delay).await,
        &["subscription.retry_policy"],
    );
    assert!(
        status.message().contains("initial_delay"),
        "{}",
        status.message()
    );

    for timeout in [secs(0), secs(3600)] {
        assert_invalid(
            try_create(
                &app,
                Subscription {
                    timeout: Some(timeout),
                    ..subscription("Timeout")
                },
            )
            .await,
            &["subscription.timeout"],
        );
    }
    assert_invalid(
        try_create(
            &app,
            Subscription {
                rate_limit: 1_000_000,
                ..subscription("Rate")
            },
        )
        .await,
        &["subscription.rate_limit"],
    );
    assert!(
        list_ids(&app, ListSubscriptionsRequest::default())
            .await
            .is_empty()
    );
}

/// A form with several mistakes gets all of them back at once, so the user
/// can fix everything in one go.
async fn several_mistakes_are_reported_together(backend: Backend) {
    let app = spawn_app(backend).await;
    let bad = Subscription {
        name: String::new(),
        url: "ftp://example.com".to_owned(),
        event_types: vec![],
        timeout: Some(secs(0)),
        rate_limit: 1_000_000,
        scope: "has space".to_owned(),
        ..Default::default()
    };
    let status = assert_invalid(
        try_create(&app, bad).await,
        &[
            "subscription.name",
            "subscription.url",
            "subscription.event_types",
            "subscription.timeout",
            "subscription.rate_limit",
            "subscription.scope",
        ],
    );
    assert_eq!(
        status.message().matches("invalid request").count(),
        1,
        "each violation is described once, without nested prefixes: {}",
        status.message()
    );
    assert_eq!(
        status.message().matches("subscription.scope").count(),
        1,
        "{}",
        status.message()
    );
    for field in [
        "subscription.name",
        "subscription.url",
        "subscription.timeout",
    ] {
        assert!(status.message().contains(field), "{}", status.message());
    }

    let missing = app
        .subscriptions()
        .create_subscription(app.req(CreateSubscriptionRequest::default()))
        .await;
    assert_invalid(missing, &["subscription"]);
}

// ---------------------------------------------------------------------------
// Quotas
// ---------------------------------------------------------------------------

/// A scope (e.g. one end customer) gets 5 subscriptions by default; other
/// scopes are unaffected.
async fn each_scope_has_a_subscription_quota(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..5 {
        create(&app, in_scope(&format!("s1 hook {i}"), "s1")).await;
    }
    let status = assert_status(
        try_create(&app, in_scope("s1 hook 6", "s1")).await,
        Code::ResourceExhausted,
        "s1",
    );
    assert!(status.message().contains('5'), "{}", status.message());
    let s1 = list_with(
        &app,
        &app.tenant.token,
        ListSubscriptionsRequest {
            scope: "s1".to_owned(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(s1.subscriptions.len(), 5);

    create(&app, in_scope("s2 hook", "s2")).await;
    create(&app, subscription("tenant-wide hook")).await;

    // Deleting one frees a slot.
    app.subscriptions()
        .delete_subscription(app.req(DeleteSubscriptionRequest {
            id: s1.subscriptions[0].id.clone(),
        }))
        .await
        .unwrap();
    create(&app, in_scope("s1 hook 6", "s1")).await;
}

/// The tenant as a whole has a configurable quota, whatever the scopes.
async fn each_tenant_has_a_subscription_quota(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.quotas.subscriptions_per_tenant = 3).await;
    create(&app, subscription("one")).await;
    create(&app, in_scope("two", "a")).await;
    create(&app, in_scope("three", "b")).await;
    for extra in [subscription("four"), in_scope("four", "c")] {
        assert_status(try_create(&app, extra).await, Code::ResourceExhausted, "3");
    }
    assert_eq!(
        list_ids(&app, ListSubscriptionsRequest::default())
            .await
            .len(),
        3
    );

    // Another tenant has its own allowance.
    let globex = app.new_tenant("globex").await;
    app.subscriptions()
        .create_subscription(authed(&globex.token, create_request(subscription("one"))))
        .await
        .expect("another tenant's quota is separate");
}

/// Two admins clicking "create" at the same moment cannot overshoot a quota or
/// create two subscriptions with one name; the losers get a clear answer.
async fn concurrent_creates_respect_quotas_and_names(backend: Backend) {
    let app = spawn_app(backend).await;
    let attempts = (0..8).map(|i| try_create(&app, in_scope(&format!("racer {i}"), "s1")));
    let results = futures_join_all(attempts).await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    for result in &results {
        if let Err(status) = result {
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        }
    }
    assert_eq!(created, 5, "the per-scope quota is 5: {results:?}");

    let same_name = (0..5).map(|_| try_create(&app, subscription("Only one")));
    let results = futures_join_all(same_name).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for result in &results {
        if let Err(status) = result {
            assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
        }
    }
    assert_eq!(
        list_ids(&app, ListSubscriptionsRequest::default())
            .await
            .len(),
        6
    );
}

/// Runs the futures concurrently on the runtime and collects their outputs in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future,
{
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("polled to completion"))
        .collect()
}

// ---------------------------------------------------------------------------

on_both_databases!(
    allowed_networks_open_only_those_private_targets,
    create_returns_the_secret_once_and_stores_it_encrypted,
    caller_supplied_secrets_must_be_long_enough,
    unset_fields_take_the_documented_defaults,
    names_are_validated_and_unique_per_tenant,
    urls_must_be_absolute_http_urls,
    without_dev_only_public_https_urls_are_accepted,
    event_types_must_be_patterns_from_the_catalog,
    custom_headers_cannot_inject_or_override_signatures,
    delivery_settings_are_bounded,
    several_mistakes_are_reported_together,
    each_scope_has_a_subscription_quota,
    each_tenant_has_a_subscription_quota,
    concurrent_creates_respect_quotas_and_names,
);
