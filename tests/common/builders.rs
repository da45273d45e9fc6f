//! Message builders and conversions several test binaries share: protobuf
//! Structs from JSON, durations and timestamps.

use prost_types::{Duration as PbDuration, Struct, Timestamp, value::Kind};

/// A JSON object as a `google.protobuf.Struct`, built by hand so the test
/// does not share the server's conversion code.
pub fn to_struct(json: serde_json::Value) -> Struct {
    let serde_json::Value::Object(object) = json else {
        panic!("not an object: {json}");
    };
    Struct {
        fields: object.into_iter().map(|(k, v)| (k, to_value(v))).collect(),
    }
}

pub fn to_value(json: serde_json::Value) -> prost_types::Value {
    use serde_json::Value as J;
    let kind = match json {
        J::Null => Kind::NullValue(0),
        J::Bool(b) => Kind::BoolValue(b),
        J::Number(n) => Kind::NumberValue(n.as_f64().unwrap()),
        J::String(s) => Kind::StringValue(s),
        J::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(to_value).collect(),
        }),
        object @ J::Object(_) => Kind::StructValue(to_struct(object)),
    };
    prost_types::Value { kind: Some(kind) }
}

/// Whole seconds as a `google.protobuf.Duration`.
pub fn secs(seconds: i64) -> PbDuration {
    PbDuration { seconds, nanos: 0 }
}

/// A timestamp in microseconds since the Unix epoch.
pub fn micros(ts: &Timestamp) -> i64 {
    ts.seconds * 1_000_000 + i64::from(ts.nanos) / 1_000
}
