use super::*;
use crate::domain::standard_signature;
use std::collections::BTreeMap;

fn event() -> OutgoingEvent<'static> {
    OutgoingEvent {
        id: "evt_01",
        event_type: "invoice.paid",
        create_time: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        scope: None,
        data: r#"{"amount":5}"#,
        metadata: "{}",
        attributes: None,
    }
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_700_000_100, 250_000_000).unwrap()
}

fn named(name: &str) -> DeliveryProfile {
    let spec = ProfileSpec {
        preset: Some(name.into()),
        ..ProfileSpec::default()
    };
    DeliveryProfile::resolve(&spec, |_| None).unwrap()
}

fn header<'r>(request: &'r RenderedRequest, name: &str) -> Option<&'r str> {
    request
        .headers
        .iter()
        .find(|h| h.name.as_str() == name)
        .map(|h| std::str::from_utf8(&h.value).unwrap())
}

fn secret(s: &str) -> WebhookSecret {
    WebhookSecret::parse_for(s, false).unwrap()
}

#[test]
fn every_preset_is_valid() {
    for name in PRESET_NAMES {
        named(name);
    }
    assert_eq!(*DeliveryProfile::standard(), named(STANDARD_WEBHOOKS));
    assert_eq!(
        DeliveryProfile::resolve(&ProfileSpec::default(), |_| None).unwrap(),
        named(STANDARD_WEBHOOKS)
    );
}

#[test]
fn the_default_is_todays_standard_webhooks_request() {
    let key = secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let request = DeliveryProfile::standard().render(&event(), std::slice::from_ref(&key), now());
    // hookrelay's envelope, as sent before profiles existed.
    assert_eq!(
        String::from_utf8(request.body.clone()).unwrap(),
        r#"{"id":"evt_01","type":"invoice.paid","timestamp":"2023-11-14T22:13:20.000000Z","scope":null,"data":{"amount":5},"metadata":{}}"#
    );
    assert_eq!(header(&request, "webhook-id"), Some("evt_01"));
    assert_eq!(header(&request, "webhook-timestamp"), Some("1700000100"));
    assert_eq!(
        header(&request, "webhook-signature").unwrap(),
        standard_signature(&key.signing_key(), "evt_01", 1_700_000_100, &request.body)
    );
}

#[test]
fn standard_webhooks_signs_with_every_valid_secret() {
    let new = secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let old = secret("an-older-plain-secret-of-24+");
    let request = named(STANDARD_WEBHOOKS).render(&event(), &[new.clone(), old.clone()], now());
    let value = header(&request, "webhook-signature").unwrap();
    let sig = |k: &WebhookSecret| {
        standard_signature(&k.signing_key(), "evt_01", 1_700_000_100, &request.body)
    };
    assert_eq!(value, format!("{} {}", sig(&new), sig(&old)));
}

#[test]
fn github_matches_the_documented_example() {
    // GitHub's documentation: secret "It's a Secret to Everybody", payload
    // "Hello, World!" gives sha256=757107ea….
    let data = "Hello, World!";
    let event = OutgoingEvent { data, ..event() };
    let request = named("github").render(&event, &[secret("It's a Secret to Everybody")], now());
    assert_eq!(request.body, data.as_bytes());
    assert_eq!(
        header(&request, "x-hub-signature-256"),
        Some("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
    );
    assert_eq!(header(&request, "x-github-event"), Some("invoice.paid"));
    assert_eq!(header(&request, "x-github-delivery"), Some("evt_01"));
    assert_eq!(header(&request, "webhook-id"), None);
}

#[test]
fn stripe_carries_the_timestamp_and_every_v1() {
    let a = secret("whsec_test_secret_for_stripe");
    let b = secret("whsec_previous_stripe_secret");
    let request = named("stripe").render(&event(), &[a, b], now());
    let value = header(&request, "stripe-signature").unwrap();
    let parts: Vec<&str> = value.split(',').collect();
    assert_eq!(parts[0], "t=1700000100");
    assert_eq!(parts.len(), 3);
    assert!(
        parts[1..]
            .iter()
            .all(|p| p.starts_with("v1=") && p.len() == 3 + 64)
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["created"], 1_700_000_000);
}

#[test]
fn single_valued_recipes_keep_the_old_secret_through_the_overlap() {
    let new = secret("the-new-secret-for-slack!");
    let old = secret("the-old-secret-for-slack!");
    let profile = named("slack");
    let both = profile.render(&event(), &[new.clone(), old.clone()], now());
    let only_old = profile.render(&event(), &[old], now());
    let only_new = profile.render(&event(), &[new], now());
    assert_eq!(
        header(&both, "x-slack-signature"),
        header(&only_old, "x-slack-signature")
    );
    assert_ne!(
        header(&both, "x-slack-signature"),
        header(&only_new, "x-slack-signature")
    );
    assert_eq!(
        header(&both, "x-slack-request-timestamp"),
        Some("1700000100")
    );
}

#[test]
fn shopify_is_base64_of_the_body() {
    let request = named("shopify").render(&event(), &[secret("shopify-shared-secret")], now());
    let value = header(&request, "x-shopify-hmac-sha256").unwrap();
    assert_eq!(value.len(), 44);
    assert_eq!(header(&request, "x-shopify-topic"), Some("invoice.paid"));
}

#[test]
fn unsigned_requests_carry_no_signature_or_algorithm_header() {
    let spec = ProfileSpec {
        signatures: Some(vec![RecipeSpec {
            header: "X-Webhook-Hmac".into(),
            algorithm: "hmac-sha512".into(),
            algorithm_header: "X-Webhook-Hmac-Algorithm".into(),
            ..RecipeSpec::default()
        }]),
        timestamp_unit: Some("milliseconds".into()),
        ..ProfileSpec::default()
    };
    let profile = DeliveryProfile::resolve(&spec, |_| None).unwrap();
    let signed = profile.render(&event(), &[secret("gateway-secret-16")], now());
    assert_eq!(header(&signed, "x-webhook-hmac").unwrap().len(), 128);
    assert_eq!(header(&signed, "x-webhook-hmac-algorithm"), Some("sha512"));
    assert_eq!(header(&signed, "webhook-timestamp"), Some("1700000100250"));
    let unsigned = profile.render(&event(), &[], now());
    assert_eq!(header(&unsigned, "x-webhook-hmac"), None);
    assert_eq!(header(&unsigned, "x-webhook-hmac-algorithm"), None);
}

#[test]
fn bad_profiles_name_every_field() {
    let spec = ProfileSpec {
        preset: None,
        body: Some("xml".into()),
        timestamp_unit: Some("fortnights".into()),
        id_header: Some("bad header".into()),
        header_templates: BTreeMap::from([
            ("X-Ok".to_owned(), "{nope}".to_owned()),
            ("Content-Length".to_owned(), "1".to_owned()),
        ]),
        signatures: Some(vec![
            RecipeSpec {
                header: "X-Sig".into(),
                signed_content: "{id}".into(),
                each: "v1".into(),
                encoding: "hex32".into(),
                ..RecipeSpec::default()
            },
            RecipeSpec::default(),
        ]),
        ..ProfileSpec::default()
    };
    let violations = DeliveryProfile::resolve(&spec, |_| None).unwrap_err();
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    for expected in [
        "body",
        "timestamp_unit",
        "id_header",
        "header_templates[\"X-Ok\"]",
        "header_templates[\"Content-Length\"]",
        "signatures[0].signed_content",
        "signatures[0].each",
        "signatures[0].encoding",
        "signatures[1].header",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {violations:?}"
        );
    }
    let unknown = DeliveryProfile::resolve(
        &ProfileSpec {
            preset: Some("gitlab".into()),
            ..ProfileSpec::default()
        },
        |_| None,
    )
    .unwrap_err();
    assert_eq!(unknown[0].field, "preset");
}

#[test]
fn two_signatures_on_one_header_are_refused() {
    let recipe = RecipeSpec {
        header: "X-Sig".into(),
        ..RecipeSpec::default()
    };
    let spec = ProfileSpec {
        signatures: Some(vec![recipe.clone(), recipe]),
        ..ProfileSpec::default()
    };
    let violations = DeliveryProfile::resolve(&spec, |_| None).unwrap_err();
    assert_eq!(violations[0].field, "signatures[1].header");
    let clash = ProfileSpec {
        id_header: Some("X-Sig".into()),
        signatures: Some(vec![RecipeSpec {
            header: "x-sig".into(),
            ..RecipeSpec::default()
        }]),
        ..ProfileSpec::default()
    };
    assert_eq!(
        DeliveryProfile::resolve(&clash, |_| None).unwrap_err()[0].field,
        "signatures[0].header"
    );
}

#[test]
fn saved_profiles_are_found_by_name_and_overridden() {
    let saved = ProfileSpec {
        body: Some("data".into()),
        ..ProfileSpec::default()
    };
    let spec = ProfileSpec {
        preset: Some("acme-v2".into()),
        id_header: Some("X-Acme-Id".into()),
        ..ProfileSpec::default()
    };
    let profile =
        DeliveryProfile::resolve(&spec, |name| (name == "acme-v2").then(|| saved.clone())).unwrap();
    assert_eq!(profile.body, BodyShape::Data);
    assert_eq!(profile.headers[0].0.as_str(), "x-acme-id");
}

#[test]
fn the_spec_round_trips_through_its_stored_json() {
    for name in PRESET_NAMES {
        let spec = preset(name).unwrap();
        let text = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<ProfileSpec>(&text).unwrap(), spec);
    }
    assert_eq!(
        serde_json::to_string(&ProfileSpec::default()).unwrap(),
        "{}"
    );
}
