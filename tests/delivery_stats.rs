//! GetDeliveryStats and subscription health, through the API: attempts are
//! counted in the bucket they were made in, as successes or failures, with
//! latency percentiles that match the attempts' recorded durations; a
//! window that moves on leaves old attempts behind; nobody sees another
//! tenant's or another scope's attempts; bad windows are refused with the
//! field named. A subscription's health follows its endpoint through
//! successes, failures and recovery, on Get and on a List page.

mod common;

use common::assert_status;
use common::builders::micros;
use common::delivering::{
    EVENT_TYPE, app_with_type, create_subscription, event, events, fast_retries, publish_to,
    subscribe, subscription_to,
};
use common::publishing::with_scope;
use common::receiver::{Reply, TestReceiver};
use common::stats::{
    attempt_durations, health, stats, stats_request, to_duration, total, try_stats,
    wait_for_health, wait_for_stats,
};
use common::subscribing::assert_invalid;
use common::{Backend, TestApp, authed, register_event_type};
use hookrelay::domain::{IdKind, new_id};
use hookrelay::proto::{
    ListSubscriptionsRequest, PublishEventRequest, Subscription, SubscriptionHealth,
};
use prost_types::Duration as PbDuration;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::Code;

const SECOND: i64 = 1_000_000;
const DEADLINE: Duration = Duration::from_secs(10);

on_both_databases!(
    stats_count_each_attempt_in_its_bucket,
    attempts_leave_a_window_that_moves_on,
    another_tenants_attempts_never_show,
    a_scoped_key_counts_only_its_scopes_attempts,
    bad_windows_and_buckets_are_invalid_arguments,
    health_follows_failures_and_recovery,
    a_list_page_carries_each_subscriptions_health,
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// A subscription to `url` that makes one attempt per event: every
/// published event is exactly one attempt, success or not.
fn one_attempt_each(url: String) -> Subscription {
    Subscription {
        retry_policy: fast_retries(1),
        ..subscription_to(url)
    }
}

/// Publishes `count` events as the default tenant (each to one subscription).
async fn publish_n(app: &TestApp, count: usize) {
    for n in 0..count {
        publish_to(app, json!({ "n": n }), 1).await;
    }
}

/// The health of a subscription that was never attempted.
fn untouched() -> SubscriptionHealth {
    SubscriptionHealth::default()
}

// ---------------------------------------------------------------------------
// GetDeliveryStats
// ---------------------------------------------------------------------------

async fn stats_count_each_attempt_in_its_bucket(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    // Four successes (one of them slow), then failures.
    receiver.script([
        Reply::status(200),
        Reply::status(200).after(Duration::from_millis(40)),
        Reply::status(204),
        Reply::status(200),
    ]);
    receiver.set_default(Reply::status(500));
    subscribe(&app, one_attempt_each(receiver.url("/stats"))).await;
    let before = now_micros();
    publish_n(&app, 7).await;
    receiver.wait_for(7, DEADLINE).await;

    let token = &app.tenant.token;
    let response = wait_for_stats(&app, token, stats_request("", Some(120), Some(1)), 7).await;
    let after = now_micros();

    let total = total(&response);
    assert_eq!((total.attempts, total.succeeded, total.failed), (7, 4, 3));
    let buckets = &response.buckets;
    assert_eq!(buckets.len(), 120, "a 120 s window in 1 s buckets");
    let starts: Vec<i64> = buckets
        .iter()
        .map(|b| micros(b.start_time.as_ref().unwrap()))
        .collect();
    assert!(
        starts.windows(2).all(|w| w[1] - w[0] == SECOND),
        "oldest first, 1 s apart"
    );
    assert_eq!(starts[0] % SECOND, 0, "buckets start on whole seconds");
    let last = starts[119];
    assert!(
        last <= after && last + SECOND > before,
        "the last bucket holds now"
    );
    assert_eq!(micros(total.start_time.as_ref().unwrap()), starts[0]);

    // Each attempt is counted in the bucket of the second it was made in,
    // and nowhere else: buckets before the test are empty.
    let attempts = attempt_durations(&app).await;
    assert_eq!(attempts.len(), 7);
    let mut expected: BTreeMap<i64, u64> = BTreeMap::new();
    for (_, time) in &attempts {
        *expected.entry(time - time.rem_euclid(SECOND)).or_default() += 1;
    }
    let counted: BTreeMap<i64, u64> = buckets
        .iter()
        .zip(&starts)
        .filter(|(b, _)| b.attempts > 0)
        .map(|(b, start)| (*start, b.attempts))
        .collect();
    assert_eq!(counted, expected);
    for bucket in buckets {
        assert_eq!(bucket.attempts, bucket.succeeded + bucket.failed);
        assert_eq!(
            bucket.latency_p50.is_some(),
            bucket.attempts > 0,
            "{bucket:?}"
        );
    }
    let sum =
        |f: fn(&hookrelay::proto::DeliveryStatsBucket) -> u64| buckets.iter().map(f).sum::<u64>();
    assert_eq!((sum(|b| b.succeeded), sum(|b| b.failed)), (4, 3));

    // Percentiles (nearest rank of 7): p90 and p99 are the 7th, which the
    // histogram reports exactly (its bin's largest); p50 is the 4th, read
    // from its bin: no less than it and under 5/3 of it.
    let mut durations: Vec<Duration> = attempts.iter().map(|(d, _)| *d).collect();
    durations.sort();
    let slowest = durations[6];
    assert!(
        slowest >= Duration::from_millis(40),
        "the slow reply: {durations:?}"
    );
    assert_eq!(to_duration(total.latency_p99.as_ref()), Some(slowest));
    assert_eq!(to_duration(total.latency_p90.as_ref()), Some(slowest));
    let p50 = to_duration(total.latency_p50.as_ref()).expect("a p50");
    let median = durations[3];
    assert!(
        p50 >= median && (p50 * 3 < median * 5 || p50 <= Duration::from_micros(100)),
        "p50 {p50:?} for a median of {median:?}"
    );
}

async fn attempts_leave_a_window_that_moves_on(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    subscribe(&app, one_attempt_each(receiver.url("/moving"))).await;
    publish_n(&app, 2).await;
    receiver.wait_for(2, DEADLINE).await;
    let token = &app.tenant.token;
    wait_for_stats(&app, token, stats_request("", Some(60), None), 2).await;

    // A one-second window holds only the current second: once it has
    // passed, the attempts are outside it.
    let moved_on = wait_for_stats(&app, token, stats_request("", Some(1), None), 0).await;
    assert_eq!(moved_on.buckets.len(), 1);
    assert_eq!(moved_on.buckets[0].attempts, 0);
    assert_eq!(moved_on.buckets[0].latency_p50, None);
    let minute = stats(&app, token, stats_request("", Some(60), None)).await;
    assert_eq!(total(&minute).attempts, 2, "still within the minute");
}

async fn another_tenants_attempts_never_show(backend: Backend) {
    let app = app_with_type(backend).await;
    let other = app.new_tenant("globex").await;
    register_event_type(app.channel(), &other.token, EVENT_TYPE).await;
    let ours = TestReceiver::start().await;
    let theirs = TestReceiver::start().await;
    theirs.set_default(Reply::status(500));
    let (our_sub, _) = subscribe(&app, one_attempt_each(ours.url("/ours"))).await;
    let (their_sub, _) = create_subscription(
        app.channel(),
        &other.token,
        one_attempt_each(theirs.url("/theirs")),
    )
    .await;
    publish_n(&app, 2).await;
    for n in 0..3 {
        events(app.channel())
            .publish_event(authed(
                &other.token,
                PublishEventRequest {
                    event: Some(event(json!({ "n": n }))),
                },
            ))
            .await
            .expect("publish as the other tenant");
    }
    ours.wait_for(2, DEADLINE).await;
    theirs.wait_for(3, DEADLINE).await;

    let ours_total =
        wait_for_stats(&app, &app.tenant.token, stats_request("", None, None), 2).await;
    assert_eq!(total(&ours_total).succeeded, 2);
    let theirs_total = wait_for_stats(&app, &other.token, stats_request("", None, None), 3).await;
    assert_eq!(total(&theirs_total).failed, 3);
    // Settled: ours still counts only ours.
    let again = stats(&app, &app.tenant.token, stats_request("", None, None)).await;
    assert_eq!((total(&again).attempts, total(&again).failed), (2, 0));
    let by_id = stats(
        &app,
        &app.tenant.token,
        stats_request(&our_sub.id, None, None),
    )
    .await;
    assert_eq!(total(&by_id).attempts, 2);

    // Their subscription does not exist for us.
    let status = assert_status(
        try_stats(
            &app,
            &app.tenant.token,
            stats_request(&their_sub.id, None, None),
        )
        .await,
        Code::NotFound,
        &their_sub.id,
    );
    assert!(status.message().contains("subscription"), "{status:?}");
    // Reading stats takes the read capability.
    let publisher = app.new_key(&app.tenant.id, "publish", None).await;
    assert_status(
        try_stats(&app, &publisher, stats_request("", None, None)).await,
        Code::PermissionDenied,
        "read",
    );
}

async fn a_scoped_key_counts_only_its_scopes_attempts(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    let in_scope = |path: &str, scope: &str| Subscription {
        scope: scope.to_owned(),
        ..one_attempt_each(receiver.url(path))
    };
    let (first, _) = subscribe(&app, in_scope("/first", "first")).await;
    let (second, _) = subscribe(&app, in_scope("/second", "second")).await;
    let publish_in = |scope: &'static str| {
        let app = &app;
        async move {
            let published = events(app.channel())
                .publish_event(app.req(PublishEventRequest {
                    event: Some(with_scope(event(json!({})), scope)),
                }))
                .await
                .expect("publish")
                .into_inner();
            assert_eq!(published.subscription_count, 1);
        }
    };
    publish_in("first").await;
    publish_in("second").await;
    publish_in("second").await;
    receiver.wait_for(3, DEADLINE).await;
    wait_for_stats(&app, &app.tenant.token, stats_request("", None, None), 3).await;

    let first_key = app.new_key(&app.tenant.id, "read", Some("first")).await;
    let seen = stats(&app, &first_key, stats_request("", None, None)).await;
    assert_eq!(total(&seen).attempts, 1, "only the first scope's attempt");
    let by_id = stats(&app, &first_key, stats_request(&first.id, None, None)).await;
    assert_eq!(total(&by_id).attempts, 1);
    assert_status(
        try_stats(&app, &first_key, stats_request(&second.id, None, None)).await,
        Code::NotFound,
        &second.id,
    );
    // A scope with no subscriptions sees every bucket, all empty.
    let empty_key = app.new_key(&app.tenant.id, "read", Some("empty")).await;
    let nothing = stats(&app, &empty_key, stats_request("", None, None)).await;
    assert_eq!(nothing.buckets.len(), 60);
    assert_eq!(total(&nothing).attempts, 0);
    assert!(nothing.buckets.iter().all(|b| b.attempts == 0));
}

async fn bad_windows_and_buckets_are_invalid_arguments(backend: Backend) {
    let app = app_with_type(backend).await;
    let token = &app.tenant.token;
    let day = 24 * 3600;
    for (window, bucket, field) in [
        (Some(0), None, "window"),
        (Some(-5), None, "window"),
        (Some(8 * day), None, "window"),
        (Some(3600), Some(0), "bucket"),
        (Some(3600), Some(7200), "bucket"),
        (Some(7 * day), Some(60), "bucket"),
        (Some(1_001), Some(1), "bucket"),
    ] {
        let request = stats_request("", window, bucket);
        let status = assert_invalid(try_stats(&app, token, request).await, &[field]);
        assert!(status.message().contains(field), "{status:?}");
    }
    let half_second = hookrelay::proto::GetDeliveryStatsRequest {
        bucket: Some(PbDuration {
            seconds: 0,
            nanos: 500_000_000,
        }),
        ..stats_request("", Some(60), None)
    };
    assert_invalid(try_stats(&app, token, half_second).await, &["bucket"]);

    // Unknown or malformed subscription ids are not found.
    for id in [new_id(IdKind::Subscription), "sub_nope".to_owned()] {
        assert_status(
            try_stats(&app, token, stats_request(&id, None, None)).await,
            Code::NotFound,
            &id,
        );
    }
    // The defaults: the last hour, by the minute; the most buckets allowed.
    let defaults = stats(&app, token, stats_request("", None, None)).await;
    assert_eq!(defaults.buckets.len(), 60);
    let starts: Vec<i64> = defaults
        .buckets
        .iter()
        .map(|b| micros(b.start_time.as_ref().unwrap()))
        .collect();
    assert!(starts.windows(2).all(|w| w[1] - w[0] == 60 * SECOND));
    let most = stats(&app, token, stats_request("", Some(1_000), Some(1))).await;
    assert_eq!(most.buckets.len(), 1_000);
}

// ---------------------------------------------------------------------------
// Subscription health
// ---------------------------------------------------------------------------

async fn health_follows_failures_and_recovery(backend: Backend) {
    let app = app_with_type(backend).await;
    let receiver = TestReceiver::start().await;
    let (sub, _) = subscribe(&app, one_attempt_each(receiver.url("/health"))).await;
    assert_eq!(health(&app, &sub.id).await, untouched());

    // Two successes.
    let before = now_micros();
    publish_n(&app, 2).await;
    let healthy = wait_for_health(&app, &sub.id, |h| h.attempts_24h == 2).await;
    let succeeded_at = micros(healthy.last_success_time.as_ref().expect("succeeded"));
    assert!(before <= succeeded_at && succeeded_at <= now_micros());
    assert_eq!(healthy.consecutive_failures, 0);
    assert_eq!(healthy.failing_since, None);
    assert_eq!(healthy.success_ratio_24h, 1.0);

    // Three failures: a failing streak, counted.
    receiver.set_default(Reply::status(503));
    let failures_began = now_micros();
    publish_n(&app, 3).await;
    let failing = wait_for_health(&app, &sub.id, |h| h.attempts_24h == 5).await;
    assert_eq!(failing.consecutive_failures, 3);
    let since = micros(failing.failing_since.as_ref().expect("failing"));
    assert!(
        failures_began <= since && since <= now_micros(),
        "{failing:?}"
    );
    assert_eq!(failing.last_success_time, healthy.last_success_time);
    assert!(
        (failing.success_ratio_24h - 0.4).abs() < 1e-9,
        "{failing:?}"
    );

    // One more failure made later extends the streak, not its start.
    publish_n(&app, 1).await;
    let longer = wait_for_health(&app, &sub.id, |h| h.attempts_24h == 6).await;
    assert_eq!(longer.consecutive_failures, 4);
    assert_eq!(longer.failing_since, failing.failing_since);

    // Recovery ends the streak.
    receiver.set_default(Reply::status(200));
    publish_n(&app, 1).await;
    let recovered = wait_for_health(&app, &sub.id, |h| h.attempts_24h == 7).await;
    assert_eq!(recovered.consecutive_failures, 0);
    assert_eq!(recovered.failing_since, None);
    let recovered_at = micros(recovered.last_success_time.as_ref().unwrap());
    assert!(
        recovered_at > succeeded_at && recovered_at > since,
        "{recovered:?}"
    );
    assert!((recovered.success_ratio_24h - 3.0 / 7.0).abs() < 1e-9);

    // Every returned subscription carries it, an updated one too.
    let renamed = Subscription {
        id: sub.id.clone(),
        description: "renamed".to_owned(),
        ..Default::default()
    };
    let updated = common::subscribing::update(&app, renamed, &["description"])
        .await
        .expect("update");
    assert_eq!(updated.health, Some(recovered));
}

async fn a_list_page_carries_each_subscriptions_health(backend: Backend) {
    let app = app_with_type(backend).await;
    let ok = TestReceiver::start().await;
    let broken = TestReceiver::start().await;
    broken.set_default(Reply::status(500));
    let (good, _) = subscribe(&app, one_attempt_each(ok.url("/good"))).await;
    let (bad, _) = subscribe(&app, one_attempt_each(broken.url("/bad"))).await;
    // An idle one, disabled from the start: it hears nothing.
    let (idle, _) = subscribe(
        &app,
        Subscription {
            enabled: Some(false),
            ..one_attempt_each(ok.url("/idle"))
        },
    )
    .await;
    for n in 0..2 {
        publish_to(&app, json!({ "n": n }), 2).await;
    }
    ok.wait_for(2, DEADLINE).await;
    broken.wait_for(2, DEADLINE).await;
    wait_for_health(&app, &bad.id, |h| h.attempts_24h == 2).await;
    wait_for_health(&app, &good.id, |h| h.attempts_24h == 2).await;

    let page = common::subscribing::list_ids(&app, ListSubscriptionsRequest::default()).await;
    assert_eq!(page.len(), 3);
    let listed = app
        .subscriptions()
        .list_subscriptions(app.req(ListSubscriptionsRequest::default()))
        .await
        .expect("list")
        .into_inner()
        .subscriptions;
    for subscription in &listed {
        let on_list = subscription.health.expect("List sets health");
        assert_eq!(
            on_list,
            health(&app, &subscription.id).await,
            "{}",
            subscription.name
        );
    }
    let of = |id: &str| {
        listed
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.health)
            .unwrap()
    };
    assert_eq!(of(&good.id).success_ratio_24h, 1.0);
    assert_eq!(of(&good.id).consecutive_failures, 0);
    assert_eq!(of(&bad.id).success_ratio_24h, 0.0);
    assert_eq!(of(&bad.id).consecutive_failures, 2);
    assert!(of(&bad.id).failing_since.is_some());
    assert_eq!(of(&bad.id).last_success_time, None);
    assert_eq!(of(&idle.id), untouched());
}
