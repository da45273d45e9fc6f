//! Delivery profiles end to end: each webhook contract hookrelay must serve
//! unchanged, checked by a receiver written the way that contract's
//! documentation tells receivers to work (Python or Node, its own process),
//! plus the GitHub, Stripe, Shopify and Slack presets, PreviewDelivery,
//! and what a bad profile or secret gets back.

#[macro_use]
mod common;

use common::builders::to_struct;
use common::delivering::{hmac_hex, unix_now};
use common::process::free_port;
use common::publishing::{create_type, publish_as, publish_ok, with_scope};
use common::script_receiver::ScriptReceiver;
use common::{Backend, TestApp, assert_status, authed, spawn_app, violated_fields};
use hookrelay::proto::delivery_profile_service_client::DeliveryProfileServiceClient;
use hookrelay::proto::event::Payload;
use hookrelay::proto::scope_service_client::ScopeServiceClient;
use hookrelay::proto::{
    BodyField, BodyFormat, CreateSubscriptionRequest, CreateSubscriptionResponse, DeliveryProfile,
    Event, GetSubscriptionRequest, ListSubscriptionsRequest, MacAlgorithm, PreviewDeliveryRequest,
    RetryPolicy, RotateSubscriptionSecretRequest, SendTestEventRequest, SignatureRecipe,
    Subscription, TimestampUnit, UpdateSubscriptionRequest,
};
use hookrelay::proto::{
    CreateDeliveryProfileRequest, DeleteDeliveryProfileRequest, ListDeliveryProfilesRequest,
    SavedDeliveryProfile, UpdateDeliveryProfileRequest,
};
use hookrelay::proto::{CreateScopeRequest, DeleteScopeRequest, Scope};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use tonic::Code;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/receivers/contracts")
        .join(name)
}

async fn python_receiver(name: &str, secret: Option<&str>) -> (ScriptReceiver, String) {
    let port = free_port();
    let receiver = ScriptReceiver::start("python3", &script(name), port, secret).await;
    (receiver, format!("http://127.0.0.1:{port}/hook"))
}

async fn node_receiver(name: &str, secret: Option<&str>) -> (ScriptReceiver, String) {
    common::tools::require("node", &["--version"], "Node.js 20 or newer");
    let port = free_port();
    let receiver = ScriptReceiver::start("node", &script(name), port, secret).await;
    (receiver, format!("http://127.0.0.1:{port}/hook"))
}

async fn create_as(
    app: &TestApp,
    token: &str,
    subscription: Subscription,
    secret: &str,
) -> Result<CreateSubscriptionResponse, tonic::Status> {
    app.subscriptions()
        .create_subscription(authed(
            token,
            CreateSubscriptionRequest {
                subscription: Some(subscription),
                secret: secret.to_owned(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

async fn create(
    app: &TestApp,
    subscription: Subscription,
    secret: &str,
) -> CreateSubscriptionResponse {
    let name = subscription.name.clone();
    create_as(app, &app.tenant.token, subscription, secret)
        .await
        .unwrap_or_else(|s| panic!("create {name}: {s:?}"))
}

fn subscription(
    name: &str,
    url: &str,
    event_types: &[&str],
    profile: DeliveryProfile,
) -> Subscription {
    Subscription {
        name: name.to_owned(),
        url: url.to_owned(),
        event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
        profile: Some(profile),
        ..Default::default()
    }
}

fn preset(name: &str) -> DeliveryProfile {
    DeliveryProfile {
        preset: name.to_owned(),
        ..Default::default()
    }
}

/// `header: sha256=<hex HMAC-SHA256 of the raw body>`, keyed on the raw secret.
fn hex_sha256_of_body(header: &str) -> SignatureRecipe {
    SignatureRecipe {
        header: header.to_owned(),
        each: "sha256={sig}".to_owned(),
        ..Default::default()
    }
}

fn json_event(event_type: &str, data: serde_json::Value) -> Event {
    Event {
        r#type: event_type.to_owned(),
        payload: Some(Payload::DataJson(data.to_string())),
        ..Default::default()
    }
}

/// The stored ciphertext must not contain the secret in the clear.
async fn stored_secret_is_sealed(app: &TestApp, id: &str, secret: &str) {
    use hookrelay::store::subscription;
    use sea_orm::EntityTrait;
    let row = subscription::Entity::find_by_id(id.to_owned())
        .one(&app.db)
        .await
        .unwrap()
        .expect("stored row");
    assert!(!row.secret_ciphertext.is_empty());
    assert!(!row.secret_ciphertext.contains(secret));
}

// ---------------------------------------------------------------------------
// The five contracts.
// ---------------------------------------------------------------------------

/// Contract 1: Widget push: a session's own (scoped) token manages its
/// subscriptions; X-Widget-Signature when the subscriber gave a secret,
/// no signature header when it gave none.
async fn widget_push_signs_only_with_a_subscriber_secret(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "message.complete", None).await;
    create_type(&app, "session.expiry_warning", None).await;
    // The session is a registered scope with an expiry.
    ScopeServiceClient::new(app.channel())
        .create_scope(app.req(CreateScopeRequest {
            scope: Some(Scope {
                name: "ses_widget_1".to_owned(),
                expire_time: Some(
                    (std::time::SystemTime::now() + std::time::Duration::from_secs(3600)).into(),
                ),
                ..Default::default()
            }),
        }))
        .await
        .expect("register the session");
    let session_token = app
        .new_key(&app.tenant.id, "manage,publish,read", Some("ses_widget_1"))
        .await;
    let widget = |name: &str, url: &str| Subscription {
        unsigned: false,
        ..subscription(
            name,
            url,
            &["message.complete", "session.expiry_warning"],
            DeliveryProfile {
                signatures: vec![hex_sha256_of_body("X-Widget-Signature")],
                ..Default::default()
            },
        )
    };
    let secret = "widget-secret-16";
    let (signed_receiver, signed_url) = python_receiver("widget_receiver.py", Some(secret)).await;
    let (plain_receiver, plain_url) = python_receiver("widget_receiver.py", None).await;
    let signed = create_as(&app, &session_token, widget("signed", &signed_url), secret)
        .await
        .expect("a 16-byte secret suits a raw-keyed recipe");
    assert_eq!(
        signed.secret, "",
        "a subscriber's own secret is never echoed"
    );
    let plain = create_as(
        &app,
        &session_token,
        Subscription {
            unsigned: true,
            ..widget("unsigned", &plain_url)
        },
        "",
    )
    .await
    .expect("an unsigned subscription");
    assert_eq!(plain.secret, "");
    let plain = plain.subscription.unwrap();
    assert!(plain.unsigned);
    // The session's token put both in its scope.
    assert_eq!(plain.scope, "ses_widget_1");

    publish_as(
        &app,
        &session_token,
        json_event("message.complete", json!({"text": "héllo <b>"})),
    )
    .await
    .expect("publish in the session");
    let signed_seen = signed_receiver.wait_verified(1).await;
    let plain_seen = plain_receiver.wait_verified(1).await;
    assert_eq!(signed_seen[0]["signed"], true);
    assert_eq!(plain_seen[0]["signed"], false);
    assert_eq!(signed_seen[0]["body"]["data"]["text"], "héllo <b>");

    // Another session's token cannot see them.
    let other = app
        .new_key(&app.tenant.id, "manage,publish,read", Some("ses_widget_2"))
        .await;
    let status = app
        .subscriptions()
        .get_subscription(authed(
            &other,
            GetSubscriptionRequest {
                id: plain.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    // The session ends: its token and every call naming it are NOT_FOUND
    // with a reason unlike a missing subscription's.
    ScopeServiceClient::new(app.channel())
        .delete_scope(app.req(DeleteScopeRequest {
            name: "ses_widget_1".to_owned(),
        }))
        .await
        .expect("end the session");
    let ended = app
        .subscriptions()
        .get_subscription(authed(
            &session_token,
            GetSubscriptionRequest { id: plain.id },
        ))
        .await
        .unwrap_err();
    assert_eq!(ended.code(), Code::NotFound);
    assert_eq!(error_reason(&ended), "SCOPE_DELETED");
    assert_eq!(error_reason(&status), "NOT_FOUND");
}

fn error_reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

/// Contract 2: Planned outbound webhooks: the body is the data itself, signed with
/// the 19-byte secret exactly as typed; Node verifies with createHmac and
/// timingSafeEqual.
async fn planned_outbound_webhooks_verify_in_node(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "plan.approved", None).await;
    let secret = "your-signing-secret";
    assert_eq!(secret.len(), 19);
    let (receiver, url) = node_receiver("causeflow_receiver.mjs", Some(secret)).await;
    let created = create(
        &app,
        subscription(
            "causeflow",
            &url,
            &["plan.approved"],
            DeliveryProfile {
                body: BodyFormat::Data as i32,
                signatures: vec![hex_sha256_of_body("X-CauseFlow-Signature")],
                ..Default::default()
            },
        ),
        secret,
    )
    .await;
    assert_eq!(created.secret, "");
    let id = created.subscription.unwrap().id;
    stored_secret_is_sealed(&app, &id, secret).await;

    let data = json!({"plan_id": "pln_1", "steps": [1, 2], "note": "✓ ok"});
    publish_ok(&app, json_event("plan.approved", data.clone())).await;
    let seen = receiver.wait_verified(1).await;
    assert_eq!(seen[0]["data"], data, "the body is the event data alone");
}

/// Contract 3: Presence subscriptions: unique names, wildcard event sets, `enabled`,
/// and a generated secret (32 random bytes) returned on create, verified by
/// the Standard Webhooks library.
async fn presence_subscriptions_get_a_generated_secret(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "presence.online", None).await;
    create_type(&app, "presence.offline", None).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/presence");
    let presence = Subscription {
        name: "presence-feed".to_owned(),
        url: url.clone(),
        event_types: vec!["presence.*".to_owned()],
        enabled: Some(false),
        ..Default::default()
    };
    let created = create(&app, presence.clone(), "").await;
    let secret = created.secret;
    let key = secret.strip_prefix("whsec_").expect("a whsec_ secret");
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap();
    assert_eq!(key.len(), 32, "at least 32 random bytes");
    let id = created.subscription.unwrap().id;
    // Names are unique per tenant.
    let duplicate = create_as(&app, &app.tenant.token, presence, "").await;
    assert_status(duplicate, Code::AlreadyExists, "presence-feed");
    // Disabled: nothing is fanned out.
    let quiet = publish_ok(&app, json_event("presence.online", json!({"user": "u1"}))).await;
    assert_eq!(quiet.subscription_count, 0);

    common::tools::require_python_module("standardwebhooks", "standardwebhooks");
    let receiver = ScriptReceiver::start(
        "python3",
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/receivers/standardwebhooks_receiver.py"),
        port,
        Some(&secret),
    )
    .await;
    app.subscriptions()
        .update_subscription(app.req(UpdateSubscriptionRequest {
            subscription: Some(Subscription {
                id: id.clone(),
                enabled: Some(true),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["enabled".to_owned()],
            }),
        }))
        .await
        .expect("enable");
    let online = publish_ok(&app, json_event("presence.online", json!({"user": "u1"}))).await;
    let offline = publish_ok(&app, json_event("presence.offline", json!({"user": "u1"}))).await;
    assert_eq!(online.subscription_count + offline.subscription_count, 2);
    let ok = common::wait_until(std::time::Duration::from_secs(20), || async {
        receiver.with_prefix("VERIFIED ").len() >= 2
    })
    .await;
    assert!(
        ok,
        "the Standard Webhooks library verified: {:?}",
        receiver.lines()
    );
}

fn gateway_profile() -> DeliveryProfile {
    DeliveryProfile {
        id_header: Some("X-Webhook-Request-Id".to_owned()),
        timestamp_header: Some("X-Webhook-Timestamp".to_owned()),
        timestamp_unit: TimestampUnit::Milliseconds as i32,
        signatures: vec![SignatureRecipe {
            header: "X-Webhook-Hmac".to_owned(),
            algorithm: MacAlgorithm::HmacSha512 as i32,
            algorithm_header: "X-Webhook-Hmac-Algorithm".to_owned(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Contract 4: Gateway webhooks: organisation-wide or per session; HMAC-SHA512 hex
/// plus the algorithm header when a secret is set, nothing when not; the
/// request id and a millisecond timestamp always; custom headers last,
/// overriding defaults; the secret never returned; an exact retry schedule.
async fn gateway_webhooks_sign_with_sha512_and_millis(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "gateway.request", None).await;
    let secret = "gateway-org-secret";
    let (org_receiver, org_url) = python_receiver("gateway_receiver.py", Some(secret)).await;
    let (session_receiver, session_url) = python_receiver("gateway_receiver.py", None).await;
    let exact = Some(RetryPolicy {
        jitter: Some(false),
        ..Default::default()
    });
    let org = create(
        &app,
        Subscription {
            headers: BTreeMap::from([("X-Gateway-Source".to_owned(), "hookrelay".to_owned())]),
            retry_policy: exact,
            ..subscription("org-wide", &org_url, &["gateway.*"], gateway_profile())
        },
        secret,
    )
    .await;
    assert_eq!(org.secret, "", "not even the create returns it");
    let org = org.subscription.unwrap();
    stored_secret_is_sealed(&app, &org.id, secret).await;
    let policy = org.retry_policy.unwrap();
    assert_eq!(
        (
            policy.max_attempts,
            policy.initial_delay.unwrap().seconds,
            policy.jitter
        ),
        (15, 2, Some(false)),
        "2 s, 4 s, 8 s … for 15 attempts, exactly"
    );
    let session = create(
        &app,
        Subscription {
            scope: "ses_gw".to_owned(),
            unsigned: true,
            // Applied last: overrides the profile's id header.
            headers: BTreeMap::from([("X-Webhook-Request-Id".to_owned(), "req-fixed".to_owned())]),
            ..subscription(
                "one-session",
                &session_url,
                &["gateway.request"],
                gateway_profile(),
            )
        },
        "",
    )
    .await;
    assert_eq!(session.secret, "");

    let published = publish_ok(
        &app,
        with_scope(
            json_event("gateway.request", json!({"path": "/v1/chat"})),
            "ses_gw",
        ),
    )
    .await;
    assert_eq!(published.subscription_count, 2);
    let event_id = published.event.unwrap().id;
    let org_seen = org_receiver.wait_verified(1).await;
    let session_seen = session_receiver.wait_verified(1).await;
    assert_eq!(org_seen[0]["request_id"], event_id.as_str());
    assert_eq!(org_seen[0]["signed"], true);
    assert_eq!(org_seen[0]["custom"], "hookrelay");
    assert_eq!(session_seen[0]["signed"], false);
    assert_eq!(session_seen[0]["request_id"], "req-fixed");

    // The attempt log records what the receiver got, signature redacted.
    let org_delivery = common::delivering::deliveries_of_event(&app, &event_id)
        .await
        .into_iter()
        .find(|d| d.subscription_id == org.id)
        .expect("the org-wide delivery");
    let ok = common::wait_until(std::time::Duration::from_secs(10), || async {
        !common::delivering::attempts_of(&app, &org_delivery.id)
            .await
            .is_empty()
    })
    .await;
    assert!(ok, "no attempt recorded");
    let attempt = common::delivering::attempts_of(&app, &org_delivery.id)
        .await
        .remove(0);
    let headers = &attempt.request_headers;
    assert_eq!(
        headers.get("x-webhook-request-id").map(String::as_str),
        Some(event_id.as_str())
    );
    assert_eq!(
        headers.get("x-webhook-hmac").map(String::as_str),
        Some("<redacted>")
    );
    assert_eq!(
        headers.get("x-webhook-hmac-algorithm").map(String::as_str),
        Some("sha512")
    );
    assert_eq!(
        headers.get("x-webhook-timestamp").map(|t| t.len()),
        Some(13)
    );
    assert!(!headers.contains_key("webhook-signature"));

    // No call returns the secret.
    let listed = app
        .subscriptions()
        .list_subscriptions(app.req(ListSubscriptionsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let text = format!("{listed:?}");
    assert!(!text.contains(secret));
}

fn flow_profile() -> DeliveryProfile {
    let field = |name: &str, source: &str| BodyField {
        name: name.to_owned(),
        source: source.to_owned(),
    };
    DeliveryProfile {
        body: BodyFormat::Fields as i32,
        body_fields: vec![
            field("id", "id"),
            field("event", "type"),
            field("session_id", "attributes.session_id"),
            field("created", "timestamp_unix"),
            field("success", "attributes.success"),
            field("flow_name", "attributes.flow_name"),
            field("metadata", "metadata"),
            field("data", "data"),
        ],
        ..Default::default()
    }
}

/// Contract 5: Flow webhooks: at most 5 endpoints per flow (a scope); the declared
/// body with publisher attributes lifted by name and `created` in unix
/// seconds; endpoints tested on demand.
async fn flow_webhooks_send_the_declared_body(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "flow.completed", None).await;
    let (receiver, url) = python_receiver("flow_receiver.py", None).await;
    let flow = |n: usize| Subscription {
        scope: "flow_checkout".to_owned(),
        ..subscription(
            &format!("flow-{n}"),
            &url,
            &["flow.completed"],
            flow_profile(),
        )
    };
    let first = create(&app, flow(0), "").await.subscription.unwrap();
    for n in 1..5 {
        create(&app, flow(n), "").await;
    }
    let sixth = create_as(&app, &app.tenant.token, flow(5), "").await;
    assert_status(sixth, Code::ResourceExhausted, "limit 5");

    let event = Event {
        scope: "flow_checkout".to_owned(),
        metadata_object: Some(to_struct(json!({"tenant": "t1", "retry": {"count": 0}}))),
        attributes: Some(to_struct(json!({
            "session_id": "ses_42",
            "success": true,
            "flow_name": "checkout",
        }))),
        ..json_event("flow.completed", json!({"order": "o_1", "total": 12.5}))
    };
    let published = publish_ok(&app, event).await;
    assert_eq!(published.subscription_count, 5);
    let stored = published.event.unwrap();
    assert_eq!(
        stored.attributes,
        Some(to_struct(
            json!({"session_id": "ses_42", "success": true, "flow_name": "checkout"})
        ))
    );
    let seen = receiver.wait_verified(5).await;
    for body in &seen {
        assert_eq!(body["id"], stored.id.as_str());
        assert_eq!(body["event"], "flow.completed");
        assert_eq!(body["session_id"], "ses_42");
        assert_eq!(body["success"], true);
        assert_eq!(body["flow_name"], "checkout");
        assert_eq!(body["metadata"]["retry"]["count"], 0);
        assert_eq!(body["data"]["order"], "o_1");
    }

    // Tested on demand, through the same profile.
    let tested = app
        .subscriptions()
        .send_test_event(app.req(SendTestEventRequest {
            id: first.id,
            data: Some(to_struct(json!({"ping": true}))),
            attributes: Some(to_struct(json!({
                "session_id": "ses_test",
                "success": false,
                "flow_name": "checkout",
            }))),
        }))
        .await
        .expect("send a test event")
        .into_inner()
        .attempt
        .unwrap();
    assert_eq!(tested.response_status_code, 200, "{tested:?}");
    let seen = receiver.wait_verified(6).await;
    let test = seen
        .iter()
        .find(|b| b["session_id"] == "ses_test")
        .expect("the test event");
    assert_eq!(test["event"], "hookrelay.test");
    assert_eq!(test["success"], false);
}

// ---------------------------------------------------------------------------
// Presets, each verified with its provider's documented algorithm.
// ---------------------------------------------------------------------------

async fn presets_verify_with_each_providers_algorithm(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "order.created", None).await;
    let secrets = [
        ("github", "It's a Secret to Everybody"),
        ("stripe", "whsec_stripe_endpoint_secret_1"),
        ("shopify", "shpss_shopify_app_secret"),
        ("slack", "8f742231b10e8888abcd99yyyzzz85a5"),
    ];
    let mut receivers = Vec::new();
    let mut ids = HashMap::new();
    for (name, secret) in secrets {
        let (receiver, url) = match name {
            "shopify" => node_receiver("shopify_receiver.mjs", Some(secret)).await,
            _ => python_receiver(&format!("{name}_receiver.py"), Some(secret)).await,
        };
        let created = create(
            &app,
            subscription(name, &url, &["order.created"], preset(name)),
            secret,
        )
        .await;
        ids.insert(name, created.subscription.unwrap().id);
        receivers.push((name, receiver));
    }
    let data = json!({"order": "o_9", "lines": [{"sku": "a", "qty": 2}]});
    let published = publish_ok(&app, json_event("order.created", data.clone())).await;
    let event_id = published.event.unwrap().id;
    for (name, receiver) in &receivers {
        let seen = receiver.wait_verified(1).await;
        match *name {
            "github" => {
                assert_eq!(seen[0]["event"], "order.created");
                assert_eq!(seen[0]["delivery"], event_id.as_str());
                assert_eq!(seen[0]["data"], data);
            }
            "stripe" => {
                assert_eq!(seen[0]["id"], event_id.as_str());
                assert_eq!(seen[0]["type"], "order.created");
                assert!(seen[0]["created"].is_i64());
            }
            "shopify" => {
                assert_eq!(seen[0]["topic"], "order.created");
                assert_eq!(seen[0]["data"], data);
            }
            _ => assert_eq!(seen[0]["data"], data),
        }
    }

    // Rotation overlap: Stripe's header carries one v1 per valid secret, so
    // a receiver still holding the old secret verifies.
    app.subscriptions()
        .rotate_subscription_secret(app.req(RotateSubscriptionSecretRequest {
            id: ids["stripe"].clone(),
            secret: "whsec_stripe_endpoint_secret_2".to_owned(),
            overlap: Some(prost_types::Duration {
                seconds: 3600,
                nanos: 0,
            }),
        }))
        .await
        .expect("rotate");
    publish_ok(&app, json_event("order.created", data.clone())).await;
    let (_, stripe) = receivers.iter().find(|(n, _)| *n == "stripe").unwrap();
    let seen = stripe.wait_verified(2).await;
    assert_eq!(seen[1]["v1_count"], 2);
    // Single-signature headers keep the secret receivers hold through the
    // overlap: GitHub's receiver (old secret) still verifies.
    app.subscriptions()
        .rotate_subscription_secret(app.req(RotateSubscriptionSecretRequest {
            id: ids["github"].clone(),
            secret: "a-brand-new-github-secret".to_owned(),
            overlap: Some(prost_types::Duration {
                seconds: 3600,
                nanos: 0,
            }),
        }))
        .await
        .expect("rotate");
    let (_, github) = receivers.iter().find(|(n, _)| *n == "github").unwrap();
    github.wait_verified(2).await;
}

// ---------------------------------------------------------------------------
// PreviewDelivery, validation and secrets.
// ---------------------------------------------------------------------------

async fn preview_shows_the_exact_request(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "order.created", None).await;
    let unsaved = subscription(
        "draft",
        "http://127.0.0.1:9/hook",
        &["order.created"],
        preset("github"),
    );
    let data = r#"{"order":"o_1"}"#;
    let preview = |id: &str, subscription: Option<Subscription>, test_secret: &str| {
        let request = PreviewDeliveryRequest {
            id: id.to_owned(),
            subscription,
            event: Some(json_event_text("order.created", data)),
            test_secret: test_secret.to_owned(),
        };
        let mut client = app.subscriptions();
        let request = app.req(request);
        async move { client.preview_delivery(request).await }
    };
    let shown = preview("", Some(unsaved.clone()), "It's a Secret to Everybody")
        .await
        .expect("preview an unsaved subscription")
        .into_inner();
    assert_eq!(shown.method, "POST");
    assert_eq!(shown.url, "http://127.0.0.1:9/hook");
    assert_eq!(
        shown.body,
        data.as_bytes(),
        "the github preset sends the data alone"
    );
    let header = |name: &str| {
        shown
            .headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value.clone())
    };
    assert_eq!(
        header("x-hub-signature-256").unwrap(),
        format!(
            "sha256={}",
            hmac_hex::<hmac::Hmac<sha2::Sha256>>(b"It's a Secret to Everybody", data.as_bytes())
        )
    );
    assert_eq!(header("x-github-event").as_deref(), Some("order.created"));
    assert_eq!(header("content-type").as_deref(), Some("application/json"));

    // Without a test secret the signature is not shown; a saved one previews by id.
    let saved = create(&app, unsaved, "").await.subscription.unwrap();
    let shown = preview(&saved.id, None, "")
        .await
        .expect("preview by id")
        .into_inner();
    let signature = shown
        .headers
        .iter()
        .find(|h| h.name == "x-hub-signature-256")
        .unwrap();
    assert_eq!(signature.value, "<redacted>");
    // Neither or both of id and subscription is a mistake.
    assert_status(
        preview("", None, "").await,
        Code::InvalidArgument,
        "give either",
    );
    let _ = unix_now();
}

fn json_event_text(event_type: &str, data: &str) -> Event {
    Event {
        r#type: event_type.to_owned(),
        payload: Some(Payload::DataJson(data.to_owned())),
        ..Default::default()
    }
}

async fn bad_profiles_and_secrets_get_precise_violations(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "order.created", None).await;
    let bad = DeliveryProfile {
        preset: String::new(),
        timestamp_unit: 9,
        id_header: Some("not a token".to_owned()),
        signatures: vec![
            SignatureRecipe {
                header: "X-Sig".to_owned(),
                ..Default::default()
            },
            // Two signatures on one header.
            SignatureRecipe {
                header: "x-sig".to_owned(),
                ..Default::default()
            },
            SignatureRecipe {
                header: "X-Other".to_owned(),
                signed_content: "{nonce}.{body}".to_owned(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let result = create_as(
        &app,
        &app.tenant.token,
        subscription("bad", "http://127.0.0.1:9/hook", &["order.created"], bad),
        "",
    )
    .await;
    let status = assert_status(result, Code::InvalidArgument, "timestamp_unit");
    let fields = violated_fields(&status);
    for expected in [
        "subscription.profile.timestamp_unit",
        "subscription.profile.id_header",
        "subscription.profile.signatures[1].header",
        "subscription.profile.signatures[2].signed_content",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} not in {fields:?}"
        );
    }
    assert!(status.message().contains("{nonce}"), "{}", status.message());
    let unknown = create_as(
        &app,
        &app.tenant.token,
        subscription(
            "unknown",
            "http://127.0.0.1:9/hook",
            &["order.created"],
            preset("gitlab"),
        ),
        "",
    )
    .await;
    let status = assert_status(unknown, Code::InvalidArgument, "gitlab");
    assert_eq!(violated_fields(&status), ["subscription.profile.preset"]);
    // A custom header may not set a signature header.
    let forged = create_as(
        &app,
        &app.tenant.token,
        Subscription {
            headers: BTreeMap::from([("X-Hub-Signature-256".to_owned(), "sha256=0".to_owned())]),
            ..subscription(
                "forged",
                "http://127.0.0.1:9/hook",
                &["order.created"],
                preset("github"),
            )
        },
        "",
    )
    .await;
    assert_status(forged, Code::InvalidArgument, "signature header");
    // Secrets: 16 bytes for raw-keyed recipes, 24 under Standard Webhooks;
    // an unsigned subscription takes none.
    let raw = |name: &str| {
        subscription(
            name,
            "http://127.0.0.1:9/hook",
            &["order.created"],
            preset("github"),
        )
    };
    assert_status(
        create_as(&app, &app.tenant.token, raw("short"), "fifteen-bytes!!").await,
        Code::InvalidArgument,
        "at least 16",
    );
    let sixteen = create(&app, raw("sixteen"), "sixteen-bytes!!!")
        .await
        .subscription
        .unwrap();
    // Moving it to Standard Webhooks keys needs a secret that suits them.
    let moved = app
        .subscriptions()
        .update_subscription(app.req(UpdateSubscriptionRequest {
            subscription: Some(Subscription {
                id: sixteen.id.clone(),
                profile: Some(preset("standard-webhooks")),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["profile".to_owned()],
            }),
        }))
        .await;
    assert_status(moved, Code::FailedPrecondition, "rotate the secret");
    let standard = subscription(
        "std",
        "http://127.0.0.1:9/hook",
        &["order.created"],
        preset("standard-webhooks"),
    );
    assert_status(
        create_as(&app, &app.tenant.token, standard, "sixteen-bytes!!!").await,
        Code::InvalidArgument,
        "at least 24",
    );
    let both = Subscription {
        unsigned: true,
        ..raw("both")
    };
    assert_status(
        create_as(&app, &app.tenant.token, both, "sixteen-bytes!!!").await,
        Code::InvalidArgument,
        "unsigned",
    );
    // Nothing rejected was stored.
    let listed = app
        .subscriptions()
        .list_subscriptions(app.req(ListSubscriptionsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = listed
        .subscriptions
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["sixteen"]);
}

// ---------------------------------------------------------------------------
// Saved profiles: one definition, many subscriptions, kept current.
// ---------------------------------------------------------------------------

fn profiles(app: &TestApp) -> DeliveryProfileServiceClient<tonic::transport::Channel> {
    DeliveryProfileServiceClient::new(app.channel())
}

fn saved(name: &str, profile: DeliveryProfile) -> SavedDeliveryProfile {
    SavedDeliveryProfile {
        name: name.to_owned(),
        profile: Some(profile),
        ..Default::default()
    }
}

fn acme(version: &str) -> DeliveryProfile {
    DeliveryProfile {
        preset: "github".to_owned(),
        header_templates: BTreeMap::from([("X-Acme-Version".to_owned(), version.to_owned())]),
        ..Default::default()
    }
}

async fn preview_header(app: &TestApp, id: &str, name: &str) -> Option<String> {
    app.subscriptions()
        .preview_delivery(app.req(PreviewDeliveryRequest {
            id: id.to_owned(),
            event: Some(json_event("order.created", json!({"n": 1}))),
            ..Default::default()
        }))
        .await
        .expect("preview")
        .into_inner()
        .headers
        .into_iter()
        .find(|h| h.name == name)
        .map(|h| h.value)
}

async fn saved_profiles_are_shared_and_kept_current(backend: Backend) {
    let app = spawn_app(backend).await;
    create_type(&app, "order.created", None).await;
    let create_profile = |profile: SavedDeliveryProfile| {
        let mut client = profiles(&app);
        let request = app.req(CreateDeliveryProfileRequest {
            delivery_profile: Some(profile),
        });
        async move { client.create_delivery_profile(request).await }
    };
    create_profile(saved("acme-v1", acme("1")))
        .await
        .expect("save a profile");
    // Names: lowercase, not a preset's; a saved profile starts from a preset.
    assert_status(
        create_profile(saved("Acme", acme("1"))).await,
        Code::InvalidArgument,
        "lowercase",
    );
    assert_status(
        create_profile(saved("github", acme("1"))).await,
        Code::InvalidArgument,
        "built-in",
    );
    assert_status(
        create_profile(saved("acme-v1", acme("1"))).await,
        Code::AlreadyExists,
        "acme-v1",
    );
    let chained = DeliveryProfile {
        preset: "acme-v1".to_owned(),
        ..Default::default()
    };
    assert_status(
        create_profile(saved("chained", chained)).await,
        Code::InvalidArgument,
        "built-in preset",
    );
    // A scoped key may read profiles, not change them.
    let scoped = app
        .new_key(&app.tenant.id, "manage,read", Some("ses_1"))
        .await;
    let denied = profiles(&app)
        .create_delivery_profile(authed(
            &scoped,
            CreateDeliveryProfileRequest {
                delivery_profile: Some(saved("mine", acme("1"))),
            },
        ))
        .await;
    assert_status(denied, Code::PermissionDenied, "");

    // Two subscriptions use it; one also overrides its id header.
    let secret = "It's a Secret to Everybody";
    let (receiver, url) = python_receiver("github_receiver.py", Some(secret)).await;
    let uses = |name: &str, id_header: Option<&str>| Subscription {
        profile: Some(DeliveryProfile {
            preset: "acme-v1".to_owned(),
            id_header: id_header.map(str::to_owned),
            ..Default::default()
        }),
        ..subscription(name, &url, &["order.created"], DeliveryProfile::default())
    };
    let first = create(&app, uses("first", None), secret)
        .await
        .subscription
        .unwrap();
    let second = create(&app, uses("second", Some("X-Acme-Id")), secret)
        .await
        .subscription
        .unwrap();
    assert_eq!(
        first.profile.as_ref().unwrap().preset,
        "acme-v1",
        "shown as declared"
    );
    publish_ok(&app, json_event("order.created", json!({"n": 1}))).await;
    let seen = receiver.wait_verified(2).await;
    assert!(seen.iter().all(|s| s["event"] == "order.created"));
    assert_eq!(
        preview_header(&app, &first.id, "x-acme-version")
            .await
            .as_deref(),
        Some("1")
    );

    // Updating the saved profile reaches every subscription using it.
    let update = |profile: DeliveryProfile| {
        let mut client = profiles(&app);
        let request = app.req(UpdateDeliveryProfileRequest {
            delivery_profile: Some(saved("acme-v1", profile)),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["profile".to_owned()],
            }),
        });
        async move { client.update_delivery_profile(request).await }
    };
    update(acme("2")).await.expect("update the saved profile");
    for id in [&first.id, &second.id] {
        assert_eq!(
            preview_header(&app, id, "x-acme-version").await.as_deref(),
            Some("2")
        );
    }
    publish_ok(&app, json_event("order.created", json!({"n": 2}))).await;
    receiver.wait_verified(4).await;
    // A change that would break a user is refused, naming it; nothing changes.
    let clashing = DeliveryProfile {
        signatures: vec![SignatureRecipe {
            header: "X-Acme-Id".to_owned(),
            ..Default::default()
        }],
        ..acme("3")
    };
    assert_status(update(clashing).await, Code::FailedPrecondition, &second.id);
    assert_eq!(
        preview_header(&app, &first.id, "x-acme-version")
            .await
            .as_deref(),
        Some("2")
    );

    // Listing shows the presets, then the tenant's own.
    let listed = profiles(&app)
        .list_delivery_profiles(app.req(ListDeliveryProfilesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<(&str, bool)> = listed
        .delivery_profiles
        .iter()
        .map(|p| (p.name.as_str(), p.built_in))
        .collect();
    assert_eq!(
        names,
        [
            ("standard-webhooks", true),
            ("github", true),
            ("stripe", true),
            ("shopify", true),
            ("slack", true),
            ("acme-v1", false)
        ]
    );
    // In use: not deletable. Another tenant does not see it.
    let delete = |token: String| {
        let mut client = profiles(&app);
        let request = authed(
            &token,
            DeleteDeliveryProfileRequest {
                name: "acme-v1".to_owned(),
            },
        );
        async move { client.delete_delivery_profile(request).await }
    };
    assert_status(
        delete(app.tenant.token.clone()).await,
        Code::FailedPrecondition,
        "used by 2",
    );
    let other = app.new_tenant("other").await;
    assert_status(delete(other.token.clone()).await, Code::NotFound, "acme-v1");
    let unknown = create_as(
        &app,
        &other.token,
        subscription("theirs", &url, &["*"], preset("acme-v1")),
        "",
    )
    .await;
    assert_status(unknown, Code::InvalidArgument, "acme-v1");
}

on_both_databases!(
    saved_profiles_are_shared_and_kept_current,
    widget_push_signs_only_with_a_subscriber_secret,
    planned_outbound_webhooks_verify_in_node,
    presence_subscriptions_get_a_generated_secret,
    gateway_webhooks_sign_with_sha512_and_millis,
    flow_webhooks_send_the_declared_body,
    presets_verify_with_each_providers_algorithm,
    preview_shows_the_exact_request,
    bad_profiles_and_secrets_get_precise_violations,
);
