//! Conversions shared by the handlers: well-known types (Timestamp, Duration,
//! Struct) and keyset pagination with opaque page tokens.

use crate::domain::{clamp_page_size, decode_page_token, encode_page_token};
use crate::service::{ServiceError, Violations};
use prost_types::value::Kind;
use std::collections::BTreeMap;
use std::time::Duration;

pub const MAX_METADATA_ENTRIES: usize = 32;
const MAX_METADATA_KEY_CHARS: usize = 128;
const MAX_METADATA_VALUE_CHARS: usize = 1024;

pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

/// A request's Timestamp as our stored form, saturating rather than
/// overflowing on absurd values.
pub fn micros_from_pb(ts: prost_types::Timestamp) -> i64 {
    ts.seconds
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(ts.nanos) / 1_000)
}

/// A list's `order_by`: creation order (the default) or its reverse, as
/// AIP-132 spells them.
pub fn newest_first(order_by: &str) -> Result<bool, ServiceError> {
    match order_by.split_whitespace().collect::<Vec<_>>().as_slice() {
        [] | ["create_time"] | ["create_time", "asc"] => Ok(false),
        ["create_time", "desc"] => Ok(true),
        _ => Err(ServiceError::invalid(
            "order_by",
            format!("{order_by:?} is not `create_time` or `create_time desc`"),
        )),
    }
}

pub fn duration_to_pb(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: duration.as_secs() as i64,
        nanos: duration.subsec_nanos() as i32,
    }
}

pub fn duration_from_pb(duration: &prost_types::Duration) -> Result<Duration, String> {
    if duration.seconds < 0 || duration.nanos < 0 || duration.nanos >= 1_000_000_000 {
        return Err("must be a non-negative duration (e.g. \"30s\")".to_owned());
    }
    Ok(Duration::new(
        duration.seconds as u64,
        duration.nanos as u32,
    ))
}

/// `google.protobuf.Struct` to a JSON object.
pub fn struct_to_json(value: prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(
        value
            .fields
            .into_iter()
            .map(|(key, value)| (key, value_to_json(value)))
            .collect(),
    )
}

fn value_to_json(value: prost_types::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value.kind {
        None | Some(Kind::NullValue(_)) => J::Null,
        Some(Kind::BoolValue(b)) => J::Bool(b),
        Some(Kind::NumberValue(n)) => number_to_json(n),
        Some(Kind::StringValue(s)) => J::String(s),
        Some(Kind::ListValue(list)) => {
            J::Array(list.values.into_iter().map(value_to_json).collect())
        }
        Some(Kind::StructValue(object)) => struct_to_json(object),
    }
}

/// Struct numbers are doubles; whole ones within the exactly representable
/// range go out as integers, so `{"amount": 42}` is delivered as `42`, not `42.0`.
fn number_to_json(n: f64) -> serde_json::Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() <= EXACT {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// A JSON object to `google.protobuf.Struct`; other JSON values have no
/// Struct form and yield `None`.
pub fn json_to_struct(value: &serde_json::Value) -> Option<prost_types::Struct> {
    let object = value.as_object()?;
    Some(prost_types::Struct {
        fields: object
            .iter()
            .map(|(key, value)| (key.clone(), json_to_value(value)))
            .collect(),
    })
}

fn json_to_value(value: &serde_json::Value) -> prost_types::Value {
    use serde_json::Value as J;
    let kind = match value {
        J::Null => Kind::NullValue(0),
        J::Bool(b) => Kind::BoolValue(*b),
        J::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        J::String(s) => Kind::StringValue(s.clone()),
        J::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(json_to_value).collect(),
        }),
        J::Object(_) => Kind::StructValue(json_to_struct(value).unwrap_or_default()),
    };
    prost_types::Value { kind: Some(kind) }
}

/// A validated `page_size` / `page_token` pair.
pub struct Page {
    /// The sort key of the last item already returned.
    pub after: Option<String>,
    pub size: u64,
}

impl Page {
    pub fn parse(page_size: i32, page_token: &str) -> Result<Self, ServiceError> {
        let size = clamp_page_size(page_size).map_err(|e| ServiceError::invalid("page_size", e))?;
        let after = if page_token.is_empty() {
            None
        } else {
            Some(
                decode_page_token(page_token)
                    .map_err(|e| ServiceError::invalid("page_token", e))?,
            )
        };
        Ok(Self { after, size })
    }

    /// One more than a page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> u64 {
        self.size + 1
    }

    /// Trims the look-ahead item and returns the token for the next page
    /// (empty on the last page).
    pub fn finish<T>(&self, items: &mut Vec<T>, key: impl Fn(&T) -> &str) -> String {
        self.finish_by(items, |item| key(item).to_owned())
    }

    /// [`Page::finish`] for sort keys that are computed rather than stored.
    pub fn finish_by<T>(&self, items: &mut Vec<T>, key: impl Fn(&T) -> String) -> String {
        if items.len() as u64 > self.size {
            items.truncate(self.size as usize);
            items
                .last()
                .map(|last| encode_page_token(&key(last)))
                .unwrap_or_default()
        } else {
            String::new()
        }
    }
}

/// Checks a string map of caller metadata (subscriptions and events share
/// the limits) and records what is wrong under `field`.
pub fn metadata(
    field: &str,
    raw: &BTreeMap<String, String>,
    violations: &mut Violations,
) -> Option<BTreeMap<String, String>> {
    let mut ok = true;
    if raw.len() > MAX_METADATA_ENTRIES {
        violations.add(field, format!("at most {MAX_METADATA_ENTRIES} entries"));
        ok = false;
    }
    for (key, value) in raw {
        if key.is_empty() || key.chars().count() > MAX_METADATA_KEY_CHARS {
            violations.add(
                format!("{field}[{key:?}]"),
                format!("keys must be 1 to {MAX_METADATA_KEY_CHARS} characters"),
            );
            ok = false;
        }
        if value.chars().count() > MAX_METADATA_VALUE_CHARS {
            violations.add(
                format!("{field}[{key:?}]"),
                format!("values must be at most {MAX_METADATA_VALUE_CHARS} characters"),
            );
            ok = false;
        }
    }
    ok.then(|| raw.clone())
}

/// The update mask's paths, or an error naming the field when it is empty.
pub fn mask_paths(mask: Option<prost_types::FieldMask>) -> Result<Vec<String>, ServiceError> {
    let paths = mask.map(|m| m.paths).unwrap_or_default();
    if paths.is_empty() {
        return Err(ServiceError::invalid(
            "update_mask",
            "is required: list the fields to change, e.g. {\"paths\": [\"description\"]}",
        ));
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_through_struct() {
        let json = serde_json::json!({"a": 1.5, "n": 42, "b": [true, null, "x"], "c": {"d": "é"}});
        let back = struct_to_json(json_to_struct(&json).unwrap());
        assert_eq!(back, json);
        assert!(json_to_struct(&serde_json::json!([1])).is_none());
    }

    #[test]
    fn timestamps_handle_negative_micros() {
        let ts = timestamp(-1);
        assert_eq!((ts.seconds, ts.nanos), (-1, 999_999_000));
    }

    #[test]
    fn negative_durations_are_refused() {
        let bad = prost_types::Duration {
            seconds: -1,
            nanos: 0,
        };
        assert!(duration_from_pb(&bad).is_err());
    }
}
