//! Property tests on payload filters (issue 12): no filter document makes
//! the parser panic, every filter it accepts parses again from its written
//! form to an equal filter, evaluation never panics on any data, and the
//! operators obey the laws the README promises ($not flips, $and of one
//! is that one, `$in: [x]` is `$eq: x`, $ne and $nin negate $eq and $in).

use hookrelay::domain::PayloadFilter;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Keys that reach every branch of the parser: operators, paths (dotted,
/// escaped, indexes, broken) and plain names.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("$and".to_owned()),
        Just("$or".to_owned()),
        Just("$not".to_owned()),
        Just("$eq".to_owned()),
        Just("$ne".to_owned()),
        Just("$in".to_owned()),
        Just("$nin".to_owned()),
        Just("$gt".to_owned()),
        Just("$gte".to_owned()),
        Just("$lt".to_owned()),
        Just("$lte".to_owned()),
        Just("$exists".to_owned()),
        Just("$prefix".to_owned()),
        "[a-c]{1,2}",
        "[a-c0-2.\\\\$]{0,6}",
        any::<String>(),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        (-3i64..3).prop_map(Value::from),
        "[a-c]{0,3}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

/// Any JSON, shaped like filters and data often are.
fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Data with the fields valid filters name.
fn data() -> impl Strategy<Value = Value> {
    let field = prop_oneof![scalar(), json_value()];
    prop::collection::vec((prop_oneof![Just("a"), Just("b"), Just("c")], field), 0..4).prop_map(
        |entries| {
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            )
        },
    )
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("a.b".to_owned()),
        Just("a.0".to_owned()),
        Just("c\\.d".to_owned()),
    ]
}

/// A field condition that parses.
fn condition() -> impl Strategy<Value = Value> {
    let number = (-5i64..5).prop_map(Value::from);
    let op = prop_oneof![
        scalar().prop_map(|v| ("$eq", v)),
        scalar().prop_map(|v| ("$ne", v)),
        prop::collection::vec(scalar(), 0..4).prop_map(|v| ("$in", Value::Array(v))),
        prop::collection::vec(scalar(), 0..4).prop_map(|v| ("$nin", Value::Array(v))),
        number.clone().prop_map(|v| ("$gt", v)),
        number.clone().prop_map(|v| ("$gte", v)),
        number.clone().prop_map(|v| ("$lt", v)),
        number.prop_map(|v| ("$lte", v)),
        any::<bool>().prop_map(|v| ("$exists", Value::from(v))),
        "[a-c]{0,2}".prop_map(|v| ("$prefix", Value::from(v))),
    ];
    prop_oneof![
        scalar(),
        prop::collection::vec(op, 1..3).prop_map(|ops| {
            Value::Object(ops.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        }),
    ]
}

/// A filter that parses.
fn valid_filter() -> impl Strategy<Value = Value> {
    let leaf = prop::collection::vec((path(), condition()), 0..3)
        .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>()));
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(|f| json!({"$and": f})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|f| json!({"$or": f})),
            inner.clone().prop_map(|f| json!({"$not": f})),
            (inner, path(), condition()).prop_map(|(mut f, p, c)| {
                f.as_object_mut().expect("an object").insert(p, c);
                f
            }),
        ]
    })
}

fn parse(value: Value) -> PayloadFilter {
    PayloadFilter::parse(&value).unwrap_or_else(|e| panic!("{value}: {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_document_parses_or_is_refused_without_panic(input in json_value(), data in json_value()) {
        if let Ok(filter) = PayloadFilter::parse(&input) {
            let again = PayloadFilter::parse(&filter.to_json());
            prop_assert_eq!(again.as_ref(), Ok(&filter));
            let _ = filter.matches(&data);
        }
    }

    #[test]
    fn valid_filters_round_trip(input in valid_filter()) {
        let filter = PayloadFilter::parse(&input);
        prop_assert!(filter.is_ok(), "{input} refused: {filter:?}");
        let filter = filter.expect("checked");
        prop_assert_eq!(&filter.to_json(), &input);
        prop_assert_eq!(PayloadFilter::parse_text(&filter.to_string()), Ok(filter.clone()));
    }

    #[test]
    fn evaluation_never_panics(input in valid_filter(), data in prop_oneof![data(), json_value()]) {
        let _ = parse(input).matches(&data);
    }

    #[test]
    fn not_flips_and_a_single_and_or_or_is_its_member(input in valid_filter(), data in data()) {
        let matched = parse(input.clone()).matches(&data);
        prop_assert_eq!(parse(json!({"$not": input.clone()})).matches(&data), !matched);
        prop_assert_eq!(parse(json!({"$and": [input.clone()]})).matches(&data), matched);
        prop_assert_eq!(parse(json!({"$or": [input.clone()]})).matches(&data), matched);
        prop_assert_eq!(parse(json!({"$and": [input.clone(), {}]})).matches(&data), matched);
    }

    #[test]
    fn in_of_one_is_eq_and_the_negations_negate(p in path(), x in scalar(), data in data()) {
        let eq = parse(json!({ p.clone(): {"$eq": x.clone()} })).matches(&data);
        prop_assert_eq!(parse(json!({ p.clone(): x.clone() })).matches(&data), eq);
        prop_assert_eq!(parse(json!({ p.clone(): {"$in": [x.clone()]} })).matches(&data), eq);
        prop_assert_eq!(parse(json!({ p.clone(): {"$ne": x.clone()} })).matches(&data), !eq);
        prop_assert_eq!(parse(json!({ p.clone(): {"$nin": [x.clone()]} })).matches(&data), !eq);
    }

    #[test]
    fn comparisons_agree_with_each_other(p in path(), n in -5i64..5, data in data()) {
        let gt = parse(json!({ p.clone(): {"$gt": n} })).matches(&data);
        let eq = parse(json!({ p.clone(): {"$eq": n} })).matches(&data);
        let gte = parse(json!({ p.clone(): {"$gte": n} })).matches(&data);
        let lt = parse(json!({ p.clone(): {"$lt": n} })).matches(&data);
        let lte = parse(json!({ p.clone(): {"$lte": n} })).matches(&data);
        prop_assert_eq!(gte, gt || eq);
        prop_assert_eq!(lte, lt || eq);
        prop_assert!(!(gt && lt));
        let exists = parse(json!({ p.clone(): {"$exists": true} })).matches(&data);
        prop_assert!(exists || !gte, "a missing field is never compared");
    }
}
