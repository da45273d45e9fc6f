//! ApiKeyService and bearer-token authentication, and how ids that cannot
//! exist are refused, on both databases.

mod common;

use common::{Backend, TestApp, assert_status, authed, spawn_app, violated_fields};
use hookrelay::proto::{
    ApiKey, Capability, CreateApiKeyRequest, CreateEventTypeRequest, EventType,
    GetCurrentApiKeyRequest, GetDeliveryRequest, GetEventTypeRequest, GetSubscriptionRequest,
    ListApiKeysRequest, ListDeliveryAttemptsRequest, ListEventTypesRequest, RetryDeliveryRequest,
    RevokeApiKeyRequest,
};
use tonic::{Code, Request};

const MANAGE: i32 = Capability::Manage as i32;
const PUBLISH: i32 = Capability::Publish as i32;
const READ: i32 = Capability::Read as i32;

fn key_request(name: &str, capabilities: &[i32], scope: &str) -> CreateApiKeyRequest {
    CreateApiKeyRequest {
        api_key: Some(ApiKey {
            name: name.to_owned(),
            capabilities: capabilities.to_vec(),
            scope: scope.to_owned(),
            ..ApiKey::default()
        }),
    }
}

/// Creates a key with `token`; returns the key and its token.
async fn create_key(
    app: &TestApp,
    token: &str,
    name: &str,
    capabilities: &[i32],
    scope: &str,
) -> (ApiKey, String) {
    let response = app
        .api_keys()
        .create_api_key(authed(token, key_request(name, capabilities, scope)))
        .await
        .unwrap_or_else(|s| panic!("create key {name}: {s:?}"))
        .into_inner();
    (response.api_key.expect("api key"), response.token)
}

async fn list_keys(app: &TestApp, token: &str, show_revoked: bool) -> Vec<ApiKey> {
    app.api_keys()
        .list_api_keys(authed(
            token,
            ListApiKeysRequest {
                show_revoked,
                ..Default::default()
            },
        ))
        .await
        .expect("list keys")
        .into_inner()
        .api_keys
}

async fn list_event_types(app: &TestApp, token: &str) -> Result<Vec<String>, tonic::Status> {
    app.event_types()
        .list_event_types(authed(token, ListEventTypesRequest::default()))
        .await
        .map(|r| {
            r.into_inner()
                .event_types
                .into_iter()
                .map(|t| t.name)
                .collect()
        })
}

async fn create_event_type(app: &TestApp, token: &str, name: &str) {
    app.event_types()
        .create_event_type(authed(
            token,
            CreateEventTypeRequest {
                event_type: Some(EventType {
                    name: name.to_owned(),
                    ..EventType::default()
                }),
            },
        ))
        .await
        .unwrap_or_else(|s| panic!("create event type {name}: {s:?}"));
}

/// A request with a raw `authorization` value (or none).
fn with_authorization<T>(value: Option<&str>, message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(value) = value {
        request
            .metadata_mut()
            .insert("authorization", value.parse().expect("ascii metadata"));
    }
    request
}

async fn created_key_works_and_its_token_is_never_listed(backend: Backend) {
    let app = spawn_app(backend).await;
    let (key, token) = create_key(
        &app,
        &app.tenant.token,
        "billing worker",
        &[PUBLISH, READ],
        "",
    )
    .await;
    assert!(token.starts_with("hr_"), "token {token:?}");
    assert!(
        token.len() > 20,
        "token {token:?} is too short to be secret"
    );
    assert!(key.id.starts_with("key_"), "id {:?}", key.id);
    assert_eq!(key.name, "billing worker");
    assert_eq!(key.capabilities, vec![PUBLISH, READ]);
    assert_eq!(key.scope, "");
    assert!(!key.revoked);
    assert!(key.create_time.is_some());
    assert!(key.revoke_time.is_none());

    // Works immediately, with exactly its capabilities.
    create_event_type(&app, &app.tenant.token, "invoice.paid").await;
    assert_eq!(
        list_event_types(&app, &token).await.expect("read works"),
        vec!["invoice.paid"]
    );
    assert_status(
        app.event_types()
            .create_event_type(authed(
                &token,
                CreateEventTypeRequest {
                    event_type: Some(EventType {
                        name: "invoice.voided".to_owned(),
                        ..EventType::default()
                    }),
                },
            ))
            .await,
        Code::PermissionDenied,
        "manage",
    );

    // A scoped key echoes its scope; capabilities come back in canonical order.
    let (scoped, scoped_token) = create_key(
        &app,
        &app.tenant.token,
        "widget",
        &[READ, MANAGE],
        "customer-7",
    )
    .await;
    assert_eq!(scoped.scope, "customer-7");
    assert_eq!(scoped.capabilities, vec![MANAGE, READ]);
    assert!(scoped_token.starts_with("hr_"));
    assert_ne!(scoped_token, token);

    let response = app
        .api_keys()
        .list_api_keys(app.req(ListApiKeysRequest::default()))
        .await
        .expect("list")
        .into_inner();
    let debug = format!("{response:?}");
    for secret in [&token, &scoped_token, &app.tenant.token] {
        assert!(!debug.contains(secret.as_str()), "a token leaked: {debug}");
    }
    // The token body is not there in any shape either.
    assert!(!debug.contains(&token[3..]), "a token leaked: {debug}");
    let listed_key = response
        .api_keys
        .iter()
        .find(|k| k.id == key.id)
        .expect("new key listed");
    assert_eq!(listed_key, &key);
    let listed_scoped = response
        .api_keys
        .iter()
        .find(|k| k.id == scoped.id)
        .expect("scoped key listed");
    assert_eq!(listed_scoped, &scoped);
}

async fn invalid_key_requests_are_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    let status = assert_status(
        app.api_keys()
            .create_api_key(app.req(key_request("empty", &[], "")))
            .await,
        Code::InvalidArgument,
        "api_key.capabilities",
    );
    assert_eq!(
        violated_fields(&status),
        vec!["api_key.capabilities".to_owned()]
    );

    let status = assert_status(
        app.api_keys()
            .create_api_key(app.req(key_request(
                "unspecified",
                &[Capability::Unspecified as i32],
                "",
            )))
            .await,
        Code::InvalidArgument,
        "api_key.capabilities",
    );
    assert_eq!(
        violated_fields(&status),
        vec!["api_key.capabilities[0]".to_owned()]
    );

    let status = assert_status(
        app.api_keys()
            .create_api_key(app.req(key_request("unknown", &[READ, 99], "")))
            .await,
        Code::InvalidArgument,
        "api_key.capabilities",
    );
    assert_eq!(
        violated_fields(&status),
        vec!["api_key.capabilities[1]".to_owned()]
    );

    let status = assert_status(
        app.api_keys()
            .create_api_key(app.req(key_request("spaced", &[READ], "has space")))
            .await,
        Code::InvalidArgument,
        "api_key.scope",
    );
    assert_eq!(violated_fields(&status), vec!["api_key.scope".to_owned()]);

    let status = assert_status(
        app.api_keys()
            .create_api_key(app.req(CreateApiKeyRequest { api_key: None }))
            .await,
        Code::InvalidArgument,
        "api_key",
    );
    assert_eq!(violated_fields(&status), vec!["api_key".to_owned()]);

    // None of those made a key: only the harness's own is there.
    assert_eq!(list_keys(&app, &app.tenant.token, true).await.len(), 1);
}

async fn keys_cannot_escalate(backend: Backend) {
    let app = spawn_app(backend).await;
    let tenant = app.tenant.id.clone();

    // manage-only can mint manage keys but not publish or read.
    let manage_only = app.new_key(&tenant, "manage", None).await;
    create_key(&app, &manage_only, "sub-manager", &[MANAGE], "").await;
    assert_status(
        app.api_keys()
            .create_api_key(authed(
                &manage_only,
                key_request("publisher", &[PUBLISH], ""),
            ))
            .await,
        Code::PermissionDenied,
        "publish",
    );
    assert_status(
        app.api_keys()
            .create_api_key(authed(
                &manage_only,
                key_request("everything", &[MANAGE, READ], ""),
            ))
            .await,
        Code::PermissionDenied,
        "read",
    );

    // Without manage, no key can be created at all.
    let read_publish = app.new_key(&tenant, "publish,read", None).await;
    assert_status(
        app.api_keys()
            .create_api_key(authed(&read_publish, key_request("r", &[READ], "")))
            .await,
        Code::PermissionDenied,
        "manage",
    );

    // A scoped manage key's keys land in its scope.
    let scoped = app
        .new_key(&tenant, "manage,read", Some("customer-7"))
        .await;
    let (child, child_token) = create_key(&app, &scoped, "child", &[READ], "").await;
    assert_eq!(child.scope, "customer-7", "forced into the creator's scope");
    let (same, _) = create_key(&app, &scoped, "same", &[READ], "customer-7").await;
    assert_eq!(same.scope, "customer-7");
    let status = assert_status(
        app.api_keys()
            .create_api_key(authed(
                &scoped,
                key_request("escape", &[READ], "customer-8"),
            ))
            .await,
        Code::PermissionDenied,
        "customer-8",
    );
    assert!(status.message().contains("customer-7"), "{status:?}");

    // The child works, and no denied request created a key.
    assert!(list_event_types(&app, &child_token).await.is_ok());
    let all = list_keys(&app, &app.tenant.token, true).await;
    assert!(
        !all.iter()
            .any(|k| ["escape", "publisher", "everything", "r"].contains(&k.name.as_str())),
        "a denied key was created: {all:?}"
    );
}

async fn list_pages_and_filters(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.tenant.token.clone();
    let mut created = Vec::new();
    for i in 0..4 {
        let (key, _) = create_key(&app, &token, &format!("key {i}"), &[READ], "").await;
        created.push(key.id);
    }
    // With the harness's key that is 5 active keys; page through them by 2.
    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut page_token = String::new();
    loop {
        let response = app
            .api_keys()
            .list_api_keys(app.req(ListApiKeysRequest {
                page_size: 2,
                page_token: page_token.clone(),
                show_revoked: false,
            }))
            .await
            .expect("list page")
            .into_inner();
        assert!(response.api_keys.len() <= 2);
        pages.push(response.api_keys.into_iter().map(|k| k.id).collect());
        if response.next_page_token.is_empty() {
            break;
        }
        assert!(pages.len() < 10, "pagination does not terminate");
        page_token = response.next_page_token;
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![2, 2, 1]
    );
    let all: Vec<String> = pages.concat();
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(all, sorted, "ids in order, none repeated");
    for id in &created {
        assert!(all.contains(id), "{id} missing from {all:?}");
    }

    // Bad page tokens are refused.
    let status = assert_status(
        app.api_keys()
            .list_api_keys(app.req(ListApiKeysRequest {
                page_size: 2,
                page_token: "not-a-token".to_owned(),
                show_revoked: false,
            }))
            .await,
        Code::InvalidArgument,
        "page_token",
    );
    assert_eq!(violated_fields(&status), vec!["page_token".to_owned()]);

    // Revoked keys only with show_revoked.
    app.api_keys()
        .revoke_api_key(app.req(RevokeApiKeyRequest {
            id: created[1].clone(),
        }))
        .await
        .expect("revoke");
    let active: Vec<String> = list_keys(&app, &token, false)
        .await
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(active.len(), 4);
    assert!(!active.contains(&created[1]));
    let everything = list_keys(&app, &token, true).await;
    assert_eq!(everything.len(), 5);
    let revoked = everything
        .iter()
        .find(|k| k.id == created[1])
        .expect("revoked key listed with show_revoked");
    assert!(revoked.revoked);
    assert!(revoked.revoke_time.is_some());

    // A scoped key lists only its scope's keys.
    let scoped = app
        .new_key(&app.tenant.id, "manage,read", Some("customer-7"))
        .await;
    app.new_key(&app.tenant.id, "read", Some("customer-8"))
        .await;
    let (mine, _) = create_key(&app, &scoped, "mine", &[READ], "").await;
    let seen = list_keys(&app, &scoped, true).await;
    assert!(seen.len() >= 2, "sees itself and its child: {seen:?}");
    assert!(
        seen.iter().all(|k| k.scope == "customer-7"),
        "a scoped key saw another scope's key: {seen:?}"
    );
    assert!(seen.iter().any(|k| k.id == mine.id));
    // An unscoped manage key sees all of them.
    let total = list_keys(&app, &token, false).await;
    assert!(total.iter().any(|k| k.scope == "customer-8"));
    assert!(total.iter().any(|k| k.scope.is_empty()));

    // read alone cannot list keys.
    let read = app.new_key(&app.tenant.id, "read,publish", None).await;
    assert_status(
        app.api_keys()
            .list_api_keys(authed(&read, ListApiKeysRequest::default()))
            .await,
        Code::PermissionDenied,
        "manage",
    );
}

async fn revoked_tokens_stop_working(backend: Backend) {
    let app = spawn_app(backend).await;
    let (key, token) = create_key(&app, &app.tenant.token, "temp", &[READ], "").await;
    assert!(list_event_types(&app, &token).await.is_ok());

    let revoked = app
        .api_keys()
        .revoke_api_key(app.req(RevokeApiKeyRequest { id: key.id.clone() }))
        .await
        .expect("revoke")
        .into_inner()
        .api_key
        .unwrap();
    assert_eq!(revoked.id, key.id);
    assert!(revoked.revoked);
    let revoke_time = revoked.revoke_time.expect("revoke_time set");

    assert_status(
        list_event_types(&app, &token).await,
        Code::Unauthenticated,
        "revoked",
    );

    // Idempotent: the same revoked key, with the first revoke time.
    let again = app
        .api_keys()
        .revoke_api_key(app.req(RevokeApiKeyRequest { id: key.id.clone() }))
        .await
        .expect("revoking twice succeeds")
        .into_inner()
        .api_key
        .unwrap();
    assert!(again.revoked);
    assert_eq!(again.revoke_time, Some(revoke_time));
    assert_status(
        list_event_types(&app, &token).await,
        Code::Unauthenticated,
        "revoked",
    );

    // Another tenant's key and unknown ids are not found, and untouched.
    let globex = app.new_tenant("globex").await;
    let (theirs, their_token) = create_key(&app, &globex.token, "theirs", &[READ], "").await;
    assert_status(
        app.api_keys()
            .revoke_api_key(app.req(RevokeApiKeyRequest {
                id: theirs.id.clone(),
            }))
            .await,
        Code::NotFound,
        &theirs.id,
    );
    assert!(
        list_event_types(&app, &their_token).await.is_ok(),
        "another tenant's key must survive"
    );
    assert_status(
        app.api_keys()
            .revoke_api_key(app.req(RevokeApiKeyRequest {
                id: "key_01HX9V0000000000000000000Z".to_owned(),
            }))
            .await,
        Code::NotFound,
        "key_01HX9V0000000000000000000Z",
    );

    // A scoped key cannot revoke keys outside its scope (reported as not found).
    let scoped = app
        .new_key(&app.tenant.id, "manage", Some("customer-7"))
        .await;
    let (outside, outside_token) =
        create_key(&app, &app.tenant.token, "outside", &[READ], "").await;
    assert_status(
        app.api_keys()
            .revoke_api_key(authed(
                &scoped,
                RevokeApiKeyRequest {
                    id: outside.id.clone(),
                },
            ))
            .await,
        Code::NotFound,
        &outside.id,
    );
    assert!(list_event_types(&app, &outside_token).await.is_ok());

    // A key can revoke itself; then it is locked out.
    let (own, own_token) = create_key(&app, &app.tenant.token, "self", &[MANAGE], "").await;
    app.api_keys()
        .revoke_api_key(authed(&own_token, RevokeApiKeyRequest { id: own.id }))
        .await
        .expect("self-revoke");
    assert_status(
        app.api_keys()
            .list_api_keys(authed(&own_token, ListApiKeysRequest::default()))
            .await,
        Code::Unauthenticated,
        "revoked",
    );
}

async fn authentication_is_required_and_strict(backend: Backend) {
    let app = spawn_app(backend).await;
    create_event_type(&app, &app.tenant.token, "invoice.paid").await;
    let list = || ListEventTypesRequest::default();

    let status = assert_status(
        app.event_types()
            .list_event_types(with_authorization(None, list()))
            .await,
        Code::Unauthenticated,
        "authorization",
    );
    assert!(status.message().contains("Bearer"), "{status:?}");
    assert_status(
        app.api_keys()
            .list_api_keys(with_authorization(None, ListApiKeysRequest::default()))
            .await,
        Code::Unauthenticated,
        "authorization",
    );

    let random = format!("hr_{}", "A".repeat(43));
    let tenant_token = app.tenant.token.clone();
    for value in [
        "Basic xyz".to_owned(),
        "Bearer ".to_owned(),
        "Bearer".to_owned(),
        tenant_token.clone(), // no scheme
        format!("Token {tenant_token}"),
        format!("Bearer {random}"),
        format!("Bearer {}", tenant_token.to_uppercase()),
        format!("Bearer {}x", tenant_token),
        "Bearer hr_".to_owned(),
    ] {
        let result = app
            .event_types()
            .list_event_types(with_authorization(Some(&value), list()))
            .await;
        let status = result.expect_err(&format!("{value:?} must not authenticate"));
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{value:?}: {status:?}"
        );
    }

    // The scheme is case-insensitive; surrounding whitespace is tolerated.
    for value in [
        format!("bearer {tenant_token}"),
        format!("BEARER {tenant_token}"),
        format!("Bearer  {tenant_token} "),
    ] {
        let names = app
            .event_types()
            .list_event_types(with_authorization(Some(&value), list()))
            .await
            .unwrap_or_else(|s| panic!("{value:?} should authenticate: {s:?}"))
            .into_inner()
            .event_types;
        assert_eq!(names.len(), 1, "{value:?}");
    }

    // A token of another tenant sees only that tenant.
    let globex = app.new_tenant("globex").await;
    assert!(
        list_event_types(&app, &globex.token)
            .await
            .unwrap()
            .is_empty()
    );
    assert_status(
        app.event_types()
            .get_event_type(authed(
                &globex.token,
                GetEventTypeRequest {
                    name: "invoice.paid".to_owned(),
                },
            ))
            .await,
        Code::NotFound,
        "invoice.paid",
    );
    create_event_type(&app, &globex.token, "shipment.sent").await;
    assert_eq!(
        list_event_types(&app, &globex.token).await.unwrap(),
        vec!["shipment.sent"]
    );
    assert_eq!(
        list_event_types(&app, &app.tenant.token).await.unwrap(),
        vec!["invoice.paid"]
    );
    let globex_keys = list_keys(&app, &globex.token, true).await;
    let acme_keys = list_keys(&app, &app.tenant.token, true).await;
    assert_eq!(globex_keys.len(), 1);
    assert_eq!(acme_keys.len(), 1);
    assert_ne!(globex_keys[0].id, acme_keys[0].id);
}

/// Ids that no resource can have (hookrelay's are `<prefix>_<ULID>`) are
/// NOT_FOUND, exactly like well-formed ids that do not exist: empty,
/// another kind's, lowercase, unicode, long.
async fn malformed_ids_are_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let ulid = "01HX9V00000000000000000000";
    let ugly = |prefix: &str| {
        vec![
            String::new(),
            "nope".to_owned(),
            format!("sub_{ulid}"),
            format!("{prefix}_{}", ulid.to_lowercase()),
            format!("{prefix}_01HX9V000000000000000000é"),
            format!("{prefix}_{}", "0".repeat(300)),
            format!("{prefix}_{ulid}"),
        ]
    };
    for id in ugly("dlv") {
        let deliveries = common::delivering::deliveries(app.channel());
        assert_status(
            deliveries
                .clone()
                .get_delivery(app.req(GetDeliveryRequest { id: id.clone() }))
                .await,
            Code::NotFound,
            "not found",
        );
        assert_status(
            deliveries
                .clone()
                .retry_delivery(app.req(RetryDeliveryRequest { id: id.clone() }))
                .await,
            Code::NotFound,
            "not found",
        );
        assert_status(
            deliveries
                .clone()
                .list_delivery_attempts(app.req(ListDeliveryAttemptsRequest {
                    delivery_id: id.clone(),
                    ..Default::default()
                }))
                .await,
            Code::NotFound,
            "not found",
        );
    }
    for id in ugly("sub") {
        assert_status(
            app.subscriptions()
                .get_subscription(app.req(GetSubscriptionRequest { id }))
                .await,
            Code::NotFound,
            "not found",
        );
    }
    for id in ugly("key") {
        assert_status(
            app.api_keys()
                .revoke_api_key(app.req(RevokeApiKeyRequest { id }))
                .await,
            Code::NotFound,
            "not found",
        );
    }
}

/// Any key, whatever its capabilities, reads itself through
/// GetCurrentApiKey (what the console shows is decided by it), and nothing
/// else: never its token, never another key. No token or a revoked one is
/// refused.
async fn every_key_reads_itself(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.tenant.token.clone();
    let current = |token: &str| {
        let mut client = app.api_keys();
        let request = authed(token, GetCurrentApiKeyRequest {});
        async move { client.get_current_api_key(request).await }
    };
    for (name, capabilities, scope) in [
        ("publisher", &[PUBLISH][..], ""),
        ("reader", &[READ][..], ""),
        ("operator", &[MANAGE, READ][..], ""),
        ("widget-é", &[MANAGE, READ][..], "customer-7"),
    ] {
        let (created, token) = create_key(&app, &admin, name, capabilities, scope).await;
        let itself = current(&token)
            .await
            .unwrap_or_else(|s| panic!("{name} reads itself: {s:?}"))
            .into_inner()
            .api_key
            .expect("api key");
        assert_eq!(itself, created, "{name}");
        assert!(!format!("{itself:?}").contains(&token), "{name}: no token");
    }

    let (revoked, token) = create_key(&app, &admin, "gone", &[READ], "").await;
    app.api_keys()
        .revoke_api_key(authed(&admin, RevokeApiKeyRequest { id: revoked.id }))
        .await
        .expect("revoke");
    assert_status(current(&token).await, Code::Unauthenticated, "revoked");
    assert_status(
        app.api_keys()
            .get_current_api_key(with_authorization(None, GetCurrentApiKeyRequest {}))
            .await,
        Code::Unauthenticated,
        "authorization",
    );
}

on_both_databases!(
    every_key_reads_itself,
    malformed_ids_are_not_found,
    created_key_works_and_its_token_is_never_listed,
    invalid_key_requests_are_rejected,
    keys_cannot_escalate,
    list_pages_and_filters,
    revoked_tokens_stop_working,
    authentication_is_required_and_strict,
);
