//! EventTypeService end to end: the catalog's validation, pagination,
//! updates, archiving, tenancy and capability checks, on both databases.

mod common;

use common::builders::*;

use common::{Backend, TestApp, assert_status, authed, spawn_app, violated_fields};
use hookrelay::proto::{
    CreateEventTypeRequest, CreateSubscriptionRequest, DeleteEventTypeRequest, EventType,
    GetEventTypeRequest, ListEventTypesRequest, Subscription, UpdateEventTypeRequest,
};
use prost_types::{FieldMask, Struct};
use tonic::Code;

fn invoice_schema() -> Struct {
    to_struct(serde_json::json!({
        "type": "object",
        "properties": {
            "amount": {"type": "number", "minimum": 0},
            "currency": {"type": "string", "enum": ["EUR", "USD"]}
        },
        "required": ["amount"]
    }))
}

fn event_type(name: &str) -> EventType {
    EventType {
        name: name.to_owned(),
        ..EventType::default()
    }
}

fn create_request(name: &str) -> CreateEventTypeRequest {
    CreateEventTypeRequest {
        event_type: Some(event_type(name)),
    }
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

async fn create(app: &TestApp, name: &str) -> EventType {
    app.event_types()
        .create_event_type(app.req(create_request(name)))
        .await
        .unwrap_or_else(|s| panic!("create {name}: {s:?}"))
        .into_inner()
        .event_type
        .expect("created event type")
}

async fn get(app: &TestApp, token: &str, name: &str) -> Result<EventType, tonic::Status> {
    app.event_types()
        .get_event_type(authed(
            token,
            GetEventTypeRequest {
                name: name.to_owned(),
            },
        ))
        .await
        .map(|r| r.into_inner().event_type.expect("event type"))
}

async fn list_names(app: &TestApp, token: &str, show_archived: bool) -> Vec<String> {
    app.event_types()
        .list_event_types(authed(
            token,
            ListEventTypesRequest {
                show_archived,
                ..Default::default()
            },
        ))
        .await
        .expect("list event types")
        .into_inner()
        .event_types
        .into_iter()
        .map(|t| t.name)
        .collect()
}

fn subscription_to(name: &str, event_types: &[&str]) -> CreateSubscriptionRequest {
    CreateSubscriptionRequest {
        subscription: Some(Subscription {
            name: name.to_owned(),
            url: "http://127.0.0.1:9/hooks".to_owned(),
            event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
            ..Subscription::default()
        }),
        secret: String::new(),
    }
}

async fn create_and_get_round_trip(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let created = app
        .event_types()
        .create_event_type(app.req(CreateEventTypeRequest {
            event_type: Some(EventType {
                name: "invoice.paid".to_owned(),
                description: "Sent when an invoice is paid in full.".to_owned(),
                json_schema: Some(invoice_schema()),
                // Output-only fields are ignored on create.
                archived: true,
                create_time: Some(prost_types::Timestamp {
                    seconds: 1,
                    nanos: 0,
                }),
                update_time: None,
            }),
        }))
        .await
        .expect("create")
        .into_inner()
        .event_type
        .expect("event type");
    assert_eq!(created.name, "invoice.paid");
    assert_eq!(created.description, "Sent when an invoice is paid in full.");
    assert_eq!(created.json_schema, Some(invoice_schema()));
    assert!(!created.archived, "a new event type is never archived");
    let create_time = created.create_time.expect("create_time set");
    let update_time = created.update_time.expect("update_time set");
    assert!(
        (create_time.seconds - before).abs() < 60,
        "create_time {create_time:?} is not now ({before})"
    );
    assert_eq!(create_time, update_time);

    let fetched = get(&app, &app.tenant.token, "invoice.paid")
        .await
        .expect("get");
    assert_eq!(fetched, created);

    // No schema and no description are fine too.
    let bare = create(&app, "a.b_c-d.e2").await;
    assert_eq!(bare.name, "a.b_c-d.e2");
    assert_eq!(bare.json_schema, None);
    assert_eq!(bare.description, "");
    assert_eq!(
        get(&app, &app.tenant.token, "a.b_c-d.e2").await.unwrap(),
        bare
    );

    assert_status(
        get(&app, &app.tenant.token, "no.such.type").await,
        Code::NotFound,
        "no.such.type",
    );
}

async fn invalid_names_are_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    let long = format!("a{}", ".b".repeat(100)); // 201 characters
    assert!(long.len() > 128);
    for name in [
        "",
        "Invoice.Paid",
        "invoice..paid",
        ".invoice",
        "invoice.",
        "factura.pagó",
        long.as_str(),
        "invoice paid",
        " invoice.paid",
        "invoice.paid\t",
        "1invoice",
    ] {
        let status = assert_status(
            app.event_types()
                .create_event_type(app.req(create_request(name)))
                .await,
            Code::InvalidArgument,
            "event_type.name",
        );
        assert_eq!(
            violated_fields(&status),
            vec!["event_type.name".to_owned()],
            "name {name:?}: {status:?}"
        );
    }
    let listed = list_names(&app, &app.tenant.token, true).await;
    assert!(
        listed.is_empty(),
        "nothing should have been created: {listed:?}"
    );

    let status = assert_status(
        app.event_types()
            .create_event_type(app.req(create_request("hookrelay.test")))
            .await,
        Code::InvalidArgument,
        "reserved",
    );
    assert_eq!(violated_fields(&status), vec!["event_type.name".to_owned()]);

    // A missing event_type entirely is a precise error too.
    let status = assert_status(
        app.event_types()
            .create_event_type(app.req(CreateEventTypeRequest { event_type: None }))
            .await,
        Code::InvalidArgument,
        "event_type",
    );
    assert_eq!(violated_fields(&status), vec!["event_type".to_owned()]);
}

async fn duplicate_names_already_exist(backend: Backend) {
    let app = spawn_app(backend).await;
    create(&app, "invoice.paid").await;
    assert_status(
        app.event_types()
            .create_event_type(app.req(create_request("invoice.paid")))
            .await,
        Code::AlreadyExists,
        "invoice.paid",
    );
    // Archiving does not free the name.
    app.event_types()
        .delete_event_type(app.req(DeleteEventTypeRequest {
            name: "invoice.paid".to_owned(),
        }))
        .await
        .expect("delete");
    assert_status(
        app.event_types()
            .create_event_type(app.req(create_request("invoice.paid")))
            .await,
        Code::AlreadyExists,
        "invoice.paid",
    );
}

async fn invalid_json_schemas_are_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    for schema in [
        serde_json::json!({"type": 12}),
        serde_json::json!({"minimum": "x"}),
        serde_json::json!({"type": "object", "properties": {"a": {"type": "no-such-type"}}}),
        serde_json::json!({"required": "amount"}),
    ] {
        let status = assert_status(
            app.event_types()
                .create_event_type(app.req(CreateEventTypeRequest {
                    event_type: Some(EventType {
                        name: "invoice.paid".to_owned(),
                        json_schema: Some(to_struct(schema.clone())),
                        ..EventType::default()
                    }),
                }))
                .await,
            Code::InvalidArgument,
            "event_type.json_schema",
        );
        assert_eq!(
            violated_fields(&status),
            vec!["event_type.json_schema".to_owned()],
            "schema {schema}"
        );
    }
    assert_status(
        get(&app, &app.tenant.token, "invoice.paid").await,
        Code::NotFound,
        "invoice.paid",
    );
}

async fn list_pages_in_name_order(backend: Backend) {
    let app = spawn_app(backend).await;
    // Created out of order; listed by name.
    for name in [
        "order.shipped",
        "invoice.paid",
        "customer.created",
        "invoice.created",
        "order.cancelled",
    ] {
        create(&app, name).await;
    }
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let response = app
            .event_types()
            .list_event_types(app.req(ListEventTypesRequest {
                page_size: 2,
                page_token: token.clone(),
                show_archived: false,
            }))
            .await
            .unwrap_or_else(|s| panic!("list page {} failed: {s:?}", pages.len() + 1))
            .into_inner();
        let names: Vec<String> = response.event_types.into_iter().map(|t| t.name).collect();
        assert!(names.len() <= 2, "page larger than page_size: {names:?}");
        if !response.next_page_token.is_empty() {
            // Opaque: not the raw name of the last item.
            let last = names.last().expect("a page with a next token has items");
            assert!(
                !response.next_page_token.contains(last.as_str()),
                "token {:?} exposes {last:?}",
                response.next_page_token
            );
        }
        pages.push(names);
        if response.next_page_token.is_empty() {
            break;
        }
        assert!(pages.len() < 10, "pagination does not terminate");
        token = response.next_page_token;
    }
    assert_eq!(
        pages,
        vec![
            vec!["customer.created", "invoice.created"],
            vec!["invoice.paid", "order.cancelled"],
            vec!["order.shipped"],
        ]
    );

    // Exactly a page's worth left: the last page comes with an empty token.
    app.event_types()
        .delete_event_type(app.req(DeleteEventTypeRequest {
            name: "order.shipped".to_owned(),
        }))
        .await
        .expect("delete");
    let first = app
        .event_types()
        .list_event_types(app.req(ListEventTypesRequest {
            page_size: 4,
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(first.event_types.len(), 4);
    assert_eq!(first.next_page_token, "", "no more active types");

    // Archived types are hidden unless asked for.
    assert_eq!(
        list_names(&app, &app.tenant.token, false).await,
        vec![
            "customer.created",
            "invoice.created",
            "invoice.paid",
            "order.cancelled"
        ]
    );
    assert_eq!(
        list_names(&app, &app.tenant.token, true).await,
        vec![
            "customer.created",
            "invoice.created",
            "invoice.paid",
            "order.cancelled",
            "order.shipped"
        ]
    );

    for bad in ["garbage!", "dGVzdA", "AAAA"] {
        let status = assert_status(
            app.event_types()
                .list_event_types(app.req(ListEventTypesRequest {
                    page_size: 2,
                    page_token: bad.to_owned(),
                    show_archived: false,
                }))
                .await,
            Code::InvalidArgument,
            "page_token",
        );
        assert_eq!(violated_fields(&status), vec!["page_token".to_owned()]);
    }
    let status = assert_status(
        app.event_types()
            .list_event_types(app.req(ListEventTypesRequest {
                page_size: -1,
                ..Default::default()
            }))
            .await,
        Code::InvalidArgument,
        "page_size",
    );
    assert_eq!(violated_fields(&status), vec!["page_size".to_owned()]);
}

async fn update_with_field_mask(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .event_types()
        .create_event_type(app.req(CreateEventTypeRequest {
            event_type: Some(EventType {
                name: "invoice.paid".to_owned(),
                description: "old".to_owned(),
                json_schema: Some(invoice_schema()),
                ..EventType::default()
            }),
        }))
        .await
        .expect("create")
        .into_inner()
        .event_type
        .unwrap();
    let update = |event_type: EventType, paths: &[&str]| UpdateEventTypeRequest {
        event_type: Some(event_type),
        update_mask: mask(paths),
    };

    // Only masked fields change: the description, not the schema given alongside.
    let updated = app
        .event_types()
        .update_event_type(app.req(update(
            EventType {
                name: "invoice.paid".to_owned(),
                description: "new".to_owned(),
                json_schema: None,
                archived: true,
                ..EventType::default()
            },
            &["description"],
        )))
        .await
        .expect("update description")
        .into_inner()
        .event_type
        .unwrap();
    assert_eq!(updated.description, "new");
    assert_eq!(updated.json_schema, Some(invoice_schema()));
    assert!(!updated.archived);
    assert_eq!(updated.create_time, created.create_time);
    let micros = |t: Option<prost_types::Timestamp>| {
        let t = t.expect("timestamp set");
        t.seconds * 1_000_000 + i64::from(t.nanos / 1_000)
    };
    assert!(
        micros(updated.update_time) >= micros(created.update_time),
        "update_time went backwards"
    );
    assert_eq!(
        get(&app, &app.tenant.token, "invoice.paid").await.unwrap(),
        updated
    );

    // Replace the schema, then remove it.
    let other_schema = to_struct(serde_json::json!({"type": "object", "maxProperties": 3}));
    let updated = app
        .event_types()
        .update_event_type(app.req(update(
            EventType {
                name: "invoice.paid".to_owned(),
                json_schema: Some(other_schema.clone()),
                ..EventType::default()
            },
            &["json_schema"],
        )))
        .await
        .expect("update schema")
        .into_inner()
        .event_type
        .unwrap();
    assert_eq!(updated.json_schema, Some(other_schema));
    assert_eq!(updated.description, "new");
    let updated = app
        .event_types()
        .update_event_type(app.req(update(event_type("invoice.paid"), &["json_schema"])))
        .await
        .expect("remove schema")
        .into_inner()
        .event_type
        .unwrap();
    assert_eq!(updated.json_schema, None);
    assert_eq!(
        get(&app, &app.tenant.token, "invoice.paid")
            .await
            .unwrap()
            .json_schema,
        None
    );

    // An invalid schema in an update is refused like on create.
    let status = assert_status(
        app.event_types()
            .update_event_type(app.req(update(
                EventType {
                    name: "invoice.paid".to_owned(),
                    json_schema: Some(to_struct(serde_json::json!({"type": 12}))),
                    ..EventType::default()
                },
                &["json_schema"],
            )))
            .await,
        Code::InvalidArgument,
        "event_type.json_schema",
    );
    assert_eq!(
        violated_fields(&status),
        vec!["event_type.json_schema".to_owned()]
    );

    // Archive through Delete, unarchive through Update archived=false.
    app.event_types()
        .delete_event_type(app.req(DeleteEventTypeRequest {
            name: "invoice.paid".to_owned(),
        }))
        .await
        .expect("delete");
    assert!(list_names(&app, &app.tenant.token, false).await.is_empty());
    let restored = app
        .event_types()
        .update_event_type(app.req(update(event_type("invoice.paid"), &["archived"])))
        .await
        .expect("unarchive")
        .into_inner()
        .event_type
        .unwrap();
    assert!(!restored.archived);
    assert_eq!(
        list_names(&app, &app.tenant.token, false).await,
        vec!["invoice.paid"]
    );

    // Bad masks name update_mask and change nothing.
    for paths in [
        &[][..],
        &["colour"][..],
        &["name"][..],
        &["description", "name"][..],
        &["create_time"][..],
    ] {
        let status = assert_status(
            app.event_types()
                .update_event_type(app.req(update(
                    EventType {
                        name: "invoice.paid".to_owned(),
                        description: "should not be stored".to_owned(),
                        ..EventType::default()
                    },
                    paths,
                )))
                .await,
            Code::InvalidArgument,
            "update_mask",
        );
        assert!(
            violated_fields(&status).contains(&"update_mask".to_owned()),
            "{paths:?}: {status:?}"
        );
    }
    let status = assert_status(
        app.event_types()
            .update_event_type(app.req(UpdateEventTypeRequest {
                event_type: Some(event_type("invoice.paid")),
                update_mask: None,
            }))
            .await,
        Code::InvalidArgument,
        "update_mask",
    );
    assert_eq!(violated_fields(&status), vec!["update_mask".to_owned()]);
    assert_eq!(
        get(&app, &app.tenant.token, "invoice.paid")
            .await
            .unwrap()
            .description,
        "new"
    );

    assert_status(
        app.event_types()
            .update_event_type(app.req(update(
                EventType {
                    name: "invoice.refunded".to_owned(),
                    description: "x".to_owned(),
                    ..EventType::default()
                },
                &["description"],
            )))
            .await,
        Code::NotFound,
        "invoice.refunded",
    );
    assert_status(
        app.event_types()
            .delete_event_type(app.req(DeleteEventTypeRequest {
                name: "invoice.refunded".to_owned(),
            }))
            .await,
        Code::NotFound,
        "invoice.refunded",
    );
}

async fn delete_archives(backend: Backend) {
    let app = spawn_app(backend).await;
    create(&app, "invoice.paid").await;
    create(&app, "invoice.voided").await;

    // Before archiving, subscribing to the exact name works.
    app.subscriptions()
        .create_subscription(app.req(subscription_to("before", &["invoice.paid"])))
        .await
        .expect("subscribing to an active type works");

    let archived = app
        .event_types()
        .delete_event_type(app.req(DeleteEventTypeRequest {
            name: "invoice.paid".to_owned(),
        }))
        .await
        .expect("delete")
        .into_inner()
        .event_type
        .unwrap();
    assert_eq!(archived.name, "invoice.paid");
    assert!(archived.archived);

    let fetched = get(&app, &app.tenant.token, "invoice.paid")
        .await
        .expect("archived types are still readable");
    assert!(fetched.archived);
    assert_eq!(
        list_names(&app, &app.tenant.token, false).await,
        vec!["invoice.voided"]
    );

    let status = assert_status(
        app.subscriptions()
            .create_subscription(app.req(subscription_to("after", &["invoice.paid"])))
            .await,
        Code::InvalidArgument,
        "invoice.paid",
    );
    assert_eq!(
        violated_fields(&status),
        vec!["subscription.event_types[0]".to_owned()]
    );
    // Deleting again is harmless and still reports it archived.
    let again = app
        .event_types()
        .delete_event_type(app.req(DeleteEventTypeRequest {
            name: "invoice.paid".to_owned(),
        }))
        .await
        .expect("delete again")
        .into_inner()
        .event_type
        .unwrap();
    assert!(again.archived);
}

async fn tenants_are_isolated(backend: Backend) {
    let app = spawn_app(backend).await;
    create(&app, "invoice.paid").await;
    create(&app, "invoice.voided").await;
    let globex = app.new_tenant("globex").await;

    assert_status(
        get(&app, &globex.token, "invoice.paid").await,
        Code::NotFound,
        "invoice.paid",
    );
    assert_status(
        app.event_types()
            .update_event_type(authed(
                &globex.token,
                UpdateEventTypeRequest {
                    event_type: Some(EventType {
                        name: "invoice.paid".to_owned(),
                        description: "hijacked".to_owned(),
                        ..EventType::default()
                    }),
                    update_mask: mask(&["description"]),
                },
            ))
            .await,
        Code::NotFound,
        "invoice.paid",
    );
    assert_status(
        app.event_types()
            .delete_event_type(authed(
                &globex.token,
                DeleteEventTypeRequest {
                    name: "invoice.paid".to_owned(),
                },
            ))
            .await,
        Code::NotFound,
        "invoice.paid",
    );
    assert!(list_names(&app, &globex.token, true).await.is_empty());

    // acme's type is untouched.
    let acme_type = get(&app, &app.tenant.token, "invoice.paid").await.unwrap();
    assert_eq!(acme_type.description, "");
    assert!(!acme_type.archived);

    // globex registers the same name independently.
    let theirs = app
        .event_types()
        .create_event_type(authed(
            &globex.token,
            CreateEventTypeRequest {
                event_type: Some(EventType {
                    name: "invoice.paid".to_owned(),
                    description: "globex's".to_owned(),
                    ..EventType::default()
                }),
            },
        ))
        .await
        .expect("same name in another tenant")
        .into_inner()
        .event_type
        .unwrap();
    assert_eq!(theirs.description, "globex's");
    assert_eq!(
        list_names(&app, &globex.token, true).await,
        vec!["invoice.paid"]
    );
    assert_eq!(
        get(&app, &app.tenant.token, "invoice.paid")
            .await
            .unwrap()
            .description,
        ""
    );
    app.event_types()
        .delete_event_type(authed(
            &globex.token,
            DeleteEventTypeRequest {
                name: "invoice.paid".to_owned(),
            },
        ))
        .await
        .expect("globex archives its own");
    assert!(
        !get(&app, &app.tenant.token, "invoice.paid")
            .await
            .unwrap()
            .archived,
        "archiving globex's type must not archive acme's"
    );
}

async fn capabilities_are_enforced(backend: Backend) {
    let app = spawn_app(backend).await;
    create(&app, "invoice.paid").await;
    let tenant = app.tenant.id.clone();

    // read: Get and List, nothing else.
    let read = app.new_key(&tenant, "read", None).await;
    assert_eq!(
        get(&app, &read, "invoice.paid").await.unwrap().name,
        "invoice.paid"
    );
    assert_eq!(list_names(&app, &read, false).await, vec!["invoice.paid"]);
    assert_status(
        app.event_types()
            .create_event_type(authed(&read, create_request("invoice.voided")))
            .await,
        Code::PermissionDenied,
        "manage",
    );
    assert_status(
        app.event_types()
            .update_event_type(authed(
                &read,
                UpdateEventTypeRequest {
                    event_type: Some(EventType {
                        name: "invoice.paid".to_owned(),
                        description: "x".to_owned(),
                        ..EventType::default()
                    }),
                    update_mask: mask(&["description"]),
                },
            ))
            .await,
        Code::PermissionDenied,
        "manage",
    );
    assert_status(
        app.event_types()
            .delete_event_type(authed(
                &read,
                DeleteEventTypeRequest {
                    name: "invoice.paid".to_owned(),
                },
            ))
            .await,
        Code::PermissionDenied,
        "manage",
    );

    // publish only: not even List.
    let publish = app.new_key(&tenant, "publish", None).await;
    assert_status(
        app.event_types()
            .list_event_types(authed(&publish, ListEventTypesRequest::default()))
            .await,
        Code::PermissionDenied,
        "read",
    );
    assert_status(
        get(&app, &publish, "invoice.paid").await,
        Code::PermissionDenied,
        "read",
    );

    // A scoped manage key reads the catalog but cannot change it.
    let scoped = app
        .new_key(&tenant, "manage,read", Some("session-42"))
        .await;
    assert_eq!(
        get(&app, &scoped, "invoice.paid").await.unwrap().name,
        "invoice.paid"
    );
    assert_eq!(list_names(&app, &scoped, false).await, vec!["invoice.paid"]);
    assert_status(
        app.event_types()
            .create_event_type(authed(&scoped, create_request("invoice.voided")))
            .await,
        Code::PermissionDenied,
        "tenant-wide",
    );
    assert_status(
        app.event_types()
            .update_event_type(authed(
                &scoped,
                UpdateEventTypeRequest {
                    event_type: Some(EventType {
                        name: "invoice.paid".to_owned(),
                        description: "x".to_owned(),
                        ..EventType::default()
                    }),
                    update_mask: mask(&["description"]),
                },
            ))
            .await,
        Code::PermissionDenied,
        "tenant-wide",
    );
    assert_status(
        app.event_types()
            .delete_event_type(authed(
                &scoped,
                DeleteEventTypeRequest {
                    name: "invoice.paid".to_owned(),
                },
            ))
            .await,
        Code::PermissionDenied,
        "tenant-wide",
    );

    // Nothing above changed the catalog.
    let after = get(&app, &app.tenant.token, "invoice.paid").await.unwrap();
    assert_eq!(after.description, "");
    assert!(!after.archived);
    assert_eq!(
        list_names(&app, &app.tenant.token, true).await,
        vec!["invoice.paid"]
    );

    // And every RPC needs a token at all.
    assert_status(
        app.event_types()
            .list_event_types(ListEventTypesRequest::default())
            .await,
        Code::Unauthenticated,
        "authorization",
    );
}

on_both_databases!(
    create_and_get_round_trip,
    invalid_names_are_rejected,
    duplicate_names_already_exist,
    invalid_json_schemas_are_rejected,
    list_pages_in_name_order,
    update_with_field_mask,
    delete_archives,
    tenants_are_isolated,
    capabilities_are_enforced,
);
