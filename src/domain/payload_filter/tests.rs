use super::*;
use serde_json::json;

fn filter(value: Value) -> PayloadFilter {
    PayloadFilter::parse(&value).unwrap_or_else(|e| panic!("{value}: {e}"))
}

fn error(value: Value) -> String {
    PayloadFilter::parse(&value)
        .expect_err("refused")
        .to_string()
}

fn order() -> Value {
    json!({
        "amount": 1500,
        "plan": "pro",
        "sku": "pro-annual",
        "customer": {"country": "DE", "tags": ["vip"]},
        "items": [{"sku": "a"}, {"sku": "b"}],
        "coupon": null,
        "a.b": 1
    })
}

#[test]
fn each_operator_matches_and_misses() {
    let data = order();
    let cases = [
        (json!({"plan": "pro"}), json!({"plan": "free"})),
        (
            json!({"amount": {"$eq": 1500.0}}),
            json!({"amount": {"$eq": "1500"}}),
        ),
        (
            json!({"plan": {"$ne": "free"}}),
            json!({"plan": {"$ne": "pro"}}),
        ),
        (
            json!({"customer.country": {"$in": ["DE", "FR"]}}),
            json!({"customer.country": {"$in": ["US"]}}),
        ),
        (
            json!({"customer.country": {"$nin": ["US"]}}),
            json!({"customer.country": {"$nin": ["DE"]}}),
        ),
        (
            json!({"amount": {"$gt": 1000}}),
            json!({"amount": {"$gt": 1500}}),
        ),
        (
            json!({"amount": {"$gte": 1500}}),
            json!({"amount": {"$gte": 1500.5}}),
        ),
        (
            json!({"amount": {"$lt": 2000}}),
            json!({"amount": {"$lt": 1500}}),
        ),
        (
            json!({"amount": {"$lte": 1500}}),
            json!({"amount": {"$lte": 10}}),
        ),
        (
            json!({"discount": {"$exists": false}}),
            json!({"coupon": {"$exists": false}}),
        ),
        (
            json!({"sku": {"$prefix": "pro-"}}),
            json!({"sku": {"$prefix": "basic-"}}),
        ),
        (json!({"items.1.sku": "b"}), json!({"items.2.sku": "b"})),
        (json!({"a\\.b": 1}), json!({"a.b": 1})),
        (
            json!({"$or": [{"plan": "free"}, {"amount": {"$gt": 1}}]}),
            json!({"$or": [{"plan": "free"}]}),
        ),
        (
            json!({"$and": [{"plan": "pro"}, {"sku": {"$prefix": "pro"}}]}),
            json!({"$and": [{"plan": "pro"}, {"sku": "x"}]}),
        ),
        (
            json!({"$not": {"plan": "free"}}),
            json!({"$not": {"plan": "pro"}}),
        ),
        (json!({"coupon": null}), json!({"discount": null})),
        (
            json!({"customer.tags": ["vip"]}),
            json!({"customer.tags": "vip"}),
        ),
        (
            json!({"amount": {"$gte": 1000, "$lt": 2000}}),
            json!({"amount": {"$gte": 1000, "$lt": 1200}}),
        ),
    ];
    for (yes, no) in cases {
        assert!(filter(yes.clone()).matches(&data), "{yes} should match");
        assert!(!filter(no.clone()).matches(&data), "{no} should not match");
    }
}

#[test]
fn type_mismatches_never_match() {
    let data = json!({"amount": "1500", "n": 5});
    assert!(!filter(json!({"amount": {"$gt": 1000}})).matches(&data));
    assert!(!filter(json!({"amount": 1500})).matches(&data));
    assert!(!filter(json!({"n": {"$prefix": "5"}})).matches(&data));
    assert!(!filter(json!({"n.x": 1})).matches(&data));
    assert!(filter(json!({})).matches(&data));
}

#[test]
fn errors_name_the_place() {
    let cases = [
        (
            json!({"amount": {"$gte": "1000"}}),
            "amount.$gte: expects a number",
        ),
        (
            json!({"amount": {"$gt": null}}),
            "amount.$gt: expects a number",
        ),
        (
            json!({"sku": {"$prefix": 1}}),
            "sku.$prefix: expects a string",
        ),
        (
            json!({"coupon": {"$exists": 1}}),
            "coupon.$exists: expects true or false",
        ),
        (
            json!({"c": {"$in": "DE"}}),
            "c.$in: expects an array of values",
        ),
        (
            json!({"c": {"$nin": {}}}),
            "c.$nin: expects an array of values",
        ),
        (json!({"c": {"$regex": "x"}}), "c.$regex: unknown operator"),
        (json!({"$gte": 1}), "$gte: applies to a field"),
        (json!({"$nor": []}), "$nor: unknown operator"),
        (
            json!({"$or": []}),
            "$or: expects a non-empty array of filters",
        ),
        (
            json!({"$and": {}}),
            "$and: expects a non-empty array of filters",
        ),
        (json!({"$or": [{"a": 1}, 3]}), "$or[1]: expects a filter"),
        (
            json!({"$or": [{"a": {"$lt": "x"}}]}),
            "$or[0].a.$lt: expects a number",
        ),
        (json!({"$not": [1]}), "$not: expects a filter"),
        (json!({"a": {}}), "a: expects at least one operator"),
        (
            json!({"a": {"$eq": 1, "b": 2}}),
            "a: mixes operators with the key \"b\"",
        ),
        (
            json!({"a": {"$not": {"$eq": 1}}}),
            "a.$not: combines filters",
        ),
        (
            json!({"a..b": 1}),
            "a..b: a field path has an empty segment",
        ),
        (json!({".a": 1}), ".a: a field path has an empty segment"),
        (json!({"a\\b": 1}), "a\\b: a backslash escapes only"),
        (json!([1]), "expects a filter"),
    ];
    for (input, expected) in cases {
        let message = error(input.clone());
        assert!(
            message.starts_with(expected),
            "{input}: {message:?} should start with {expected:?}"
        );
    }
}

#[test]
fn bounds_are_enforced() {
    let many: Vec<Value> = (0..=MAX_IN_VALUES).map(Value::from).collect();
    assert!(error(json!({"a": {"$in": many}})).starts_with("a.$in: lists 257 values"));
    let big = "x".repeat(MAX_FILTER_BYTES);
    assert!(error(json!({"a": big})).starts_with("is "));
    let mut deep = json!({"a": 1});
    for _ in 0..=MAX_FILTER_DEPTH {
        deep = json!({"$not": deep});
    }
    assert!(error(deep).contains("nest at most"));
    let mut nested = json!(1);
    for _ in 0..1_000 {
        nested = json!([nested]);
    }
    let message = error(json!({"a": nested}));
    assert!(message.starts_with("is nested more than"), "{message}");
    let wide: serde_json::Map<String, Value> = (0..=MAX_FILTER_NODES)
        .map(|i| (format!("f{i}"), json!(i)))
        .collect();
    assert!(error(Value::Object(wide)).starts_with("has more than 256 conditions"));
}

#[test]
fn the_written_form_comes_back() {
    let input = json!({
        "amount": {"$gte": 1000},
        "customer.country": {"$in": ["DE", "FR"]},
        "$or": [{"plan": "pro"}, {"seats": {"$gt": 10}}],
        "a\\.b": {"$eq": {"x": [1, 2]}},
        "$not": {"coupon": {"$exists": true}}
    });
    let parsed = filter(input.clone());
    assert_eq!(parsed.to_json(), input);
    assert_eq!(PayloadFilter::parse_text(&parsed.to_string()), Ok(parsed));
}
