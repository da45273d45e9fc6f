//! SubscriptionService end to end: what a tenant can create, read, change,
//! rotate and delete, what it is told when it gets something wrong, and what
//! it can never see (other tenants' and other scopes' subscriptions, secrets).

mod common;

use common::{
    Backend, TestApp, assert_status, authed, register_event_type, spawn_app, spawn_app_with,
    violated_fields,
};
use hookrelay::proto::{
    Backoff, CreateSubscriptionRequest, CreateSubscriptionResponse, DeleteEventTypeRequest,
    DeleteSubscriptionRequest, GetSubscriptionRequest, ListSubscriptionsRequest,
    ListSubscriptionsResponse, RetryPolicy, RotateSubscriptionSecretRequest, SignatureAlgorithm,
    SignatureProfile, Subscription, UpdateSubscriptionRequest,
};
use hookrelay::store::subscription;
use prost_types::{Duration as PbDuration, FieldMask, Timestamp};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::{Code, Request, Status};

// ---------------------------------------------------------------------------
// Helpers: a minimal valid subscription, and thin wrappers over the RPCs.
// ---------------------------------------------------------------------------

/// A subscription that is valid on any server: a public https URL and `*`.
fn subscription(name: &str) -> Subscription {
    Subscription {
        name: name.to_owned(),
        url: "https://example.com/webhooks".to_owned(),
        event_types: vec!["*".to_owned()],
        ..Default::default()
    }
}

fn in_scope(name: &str, scope: &str) -> Subscription {
    Subscription {
        scope: scope.to_owned(),
        ..subscription(name)
    }
}

fn secs(seconds: i64) -> PbDuration {
    PbDuration { seconds, nanos: 0 }
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

fn create_request(subscription: Subscription) -> CreateSubscriptionRequest {
    CreateSubscriptionRequest {
        subscription: Some(subscription),
        secret: String::new(),
    }
}

async fn try_create(
    app: &TestApp,
    subscription: Subscription,
) -> Result<CreateSubscriptionResponse, Status> {
    app.subscriptions()
        .create_subscription(app.req(create_request(subscription)))
        .await
        .map(|r| r.into_inner())
}

async fn create(app: &TestApp, subscription: Subscription) -> CreateSubscriptionResponse {
    let name = subscription.name.clone();
    try_create(app, subscription)
        .await
        .unwrap_or_else(|status| panic!("creating {name:?} failed: {status:?}"))
}

/// Creates and returns only the stored subscription.
async fn create_sub(app: &TestApp, subscription: Subscription) -> Subscription {
    create(app, subscription)
        .await
        .subscription
        .expect("subscription in response")
}

async fn get(app: &TestApp, id: &str) -> Result<Subscription, Status> {
    app.subscriptions()
        .get_subscription(app.req(GetSubscriptionRequest { id: id.to_owned() }))
        .await
        .map(|r| {
            r.into_inner()
                .subscription
                .expect("subscription in response")
        })
}

async fn list_with(
    app: &TestApp,
    token: &str,
    request: ListSubscriptionsRequest,
) -> Result<ListSubscriptionsResponse, Status> {
    app.subscriptions()
        .list_subscriptions(authed(token, request))
        .await
        .map(|r| r.into_inner())
}

/// Ids of the first page of an unfiltered list, as the default tenant.
async fn list_ids(app: &TestApp, request: ListSubscriptionsRequest) -> Vec<String> {
    let response = list_with(app, &app.tenant.token, request)
        .await
        .expect("list succeeds");
    response.subscriptions.into_iter().map(|s| s.id).collect()
}

async fn update(
    app: &TestApp,
    subscription: Subscription,
    paths: &[&str],
) -> Result<Subscription, Status> {
    app.subscriptions()
        .update_subscription(app.req(UpdateSubscriptionRequest {
            subscription: Some(subscription),
            update_mask: mask(paths),
        }))
        .await
        .map(|r| {
            r.into_inner()
                .subscription
                .expect("subscription in response")
        })
}

async fn stored_row(app: &TestApp, id: &str) -> Option<subscription::Model> {
    subscription::Entity::find_by_id(id.to_owned())
        .one(&app.db)
        .await
        .expect("query the subscriptions table")
}

/// Asserts INVALID_ARGUMENT whose field violations include every one of `fields`.
#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: Result<T, Status>, fields: &[&str]) -> Status {
    let status = assert_status(result, Code::InvalidArgument, "");
    let violated = violated_fields(&status);
    for field in fields {
        assert!(
            violated.iter().any(|v| v == field),
            "expected a violation of {field:?}, got {violated:?} ({})",
            status.message()
        );
    }
    status
}

fn to_system_time(ts: &Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::new(ts.seconds as u64, ts.nanos as u32)
}

/// Asserts that `ts` lies between `before + offset` and `after + offset`, give or
/// take a second of clock granularity.
#[track_caller]
fn assert_time_between(ts: &Timestamp, before: SystemTime, after: SystemTime, offset: Duration) {
    let t = to_system_time(ts);
    let slack = Duration::from_secs(1);
    assert!(
        t + slack >= before + offset && t <= after + offset + slack,
        "{t:?} is not within [{:?}, {:?}]",
        before + offset,
        after + offset
    );
}

fn micros(ts: &Timestamp) -> i64 {
    ts.seconds * 1_000_000 + i64::from(ts.nanos) / 1_000
}

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
    assert_eq!(created.secret, own);
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
// List
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

    // A caller-supplied secret is used as is.
    let own = "a-caller-chosen-rotation-secret";
    let chosen = rotate(own, Some(secs(60)))
        .await
        .expect("rotate")
        .into_inner();
    assert_eq!(chosen.secret, own);
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
