//! `PayloadFilter`: a subscription's condition on an event's `data`, in a
//! small MongoDB-like JSON language, parsed once into a typed tree
//! ([`parse`](PayloadFilter::parse)) and evaluated at routing time
//! ([`matches`](PayloadFilter::matches)).
//!
//! ```json
//! {"amount": {"$gte": 1000}, "customer.country": {"$in": ["DE", "FR"]},
//!  "$or": [{"plan": "pro"}, {"seats": {"$gt": 10}}]}
//! ```
//!
//! - A filter is an object; all its entries must hold. A key is a field
//!   path, or `$and` / `$or` (a non-empty array of filters) or `$not` (a
//!   filter). `{}` matches every event.
//! - A path is dotted keys into nested objects (`customer.address.city`);
//!   a segment of digits also indexes an array (`items.0.sku`). `\.` is a
//!   literal dot inside a key and `\\` a backslash; no other escapes.
//! - A field's condition is a bare value (equality) or an object of
//!   operators, all of which must hold: `$eq`, `$ne`, `$in`, `$nin` (any
//!   JSON values; numbers equal by value, so `1` equals `1.0`), `$gt`,
//!   `$gte`, `$lt`, `$lte` (numbers only, compared as 64-bit floats; a field
//!   that is not a number never satisfies them), `$exists` (a boolean),
//!   `$prefix` (a string; the field must be a string starting with it).
//! - A missing field satisfies only `$ne`, `$nin` and `$exists: false`,
//!   which are the negations of `$eq`, `$in` and `$exists: true`. `null`
//!   equals only a field present with the value null. Arrays are values
//!   like any other: `{"tags": "a"}` does not look inside an array.
//!
//! The parser is bounded (bytes, nesting, conditions, `$in` length) so a
//! hostile filter costs little, and each error names the exact place in
//! the filter (`amount.$gte: expects a number`). Evaluation never fails:
//! a filter either matches the data or does not.

mod parse;

pub use parse::PayloadFilterError;

use serde_json::{Map, Number, Value};

/// Largest filter accepted, as compact JSON.
pub const MAX_FILTER_BYTES: usize = 16 * 1024;
/// Deepest nesting of `$and`, `$or` and `$not`.
pub const MAX_FILTER_DEPTH: usize = 8;
/// Most conditions (fields, operators and `$and`/`$or`/`$not`) in a filter.
pub const MAX_FILTER_NODES: usize = 256;
/// Most values in one `$in` or `$nin` list.
pub const MAX_IN_VALUES: usize = 256;
/// Deepest JSON nesting of the filter document itself, values included.
pub const MAX_JSON_DEPTH: usize = 32;

/// A parsed, valid filter. Two filters are equal when they are written
/// alike (entry order aside).
#[derive(Clone, Debug, PartialEq)]
pub struct PayloadFilter {
    root: Filter,
}

/// A filter object: all of its clauses must hold.
#[derive(Clone, Debug, PartialEq)]
struct Filter(Vec<Clause>);

#[derive(Clone, Debug, PartialEq)]
enum Clause {
    Field {
        path: FieldPath,
        condition: Condition,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

/// A field's condition: written as a bare value, or as operators.
#[derive(Clone, Debug, PartialEq)]
enum Condition {
    Bare(Value),
    Operators(Vec<Test>),
}

#[derive(Clone, Debug, PartialEq)]
enum Test {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Gt(Number),
    Gte(Number),
    Lt(Number),
    Lte(Number),
    Exists(bool),
    Prefix(String),
}

/// A field path, one entry per segment.
#[derive(Clone, Debug, PartialEq)]
struct FieldPath(Vec<Segment>);

#[derive(Clone, Debug, PartialEq)]
struct Segment {
    key: String,
    /// The key as an array index, when it is all digits.
    index: Option<usize>,
}

impl PayloadFilter {
    /// Whether `data` (an event's data) satisfies the filter.
    pub fn matches(&self, data: &Value) -> bool {
        self.root.matches(data)
    }

    /// Whether the filter is `{}`, which matches everything.
    pub fn is_empty(&self) -> bool {
        self.root.0.is_empty()
    }

    /// The filter as JSON, written as it was parsed: `parse(to_json())`
    /// gives an equal filter.
    pub fn to_json(&self) -> Value {
        self.root.to_json()
    }
}

impl std::fmt::Display for PayloadFilter {
    /// Compact JSON, the stored form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

impl Filter {
    fn matches(&self, data: &Value) -> bool {
        self.0.iter().all(|clause| match clause {
            Clause::Field { path, condition } => condition.holds(path.resolve(data)),
            Clause::And(filters) => filters.iter().all(|f| f.matches(data)),
            Clause::Or(filters) => filters.iter().any(|f| f.matches(data)),
            Clause::Not(filter) => !filter.matches(data),
        })
    }

    fn to_json(&self) -> Value {
        let list = |filters: &[Filter]| Value::Array(filters.iter().map(Filter::to_json).collect());
        let mut object = Map::new();
        for clause in &self.0 {
            let (key, value) = match clause {
                Clause::Field { path, condition } => (path.to_string(), condition.to_json()),
                Clause::And(filters) => ("$and".to_owned(), list(filters)),
                Clause::Or(filters) => ("$or".to_owned(), list(filters)),
                Clause::Not(filter) => ("$not".to_owned(), filter.to_json()),
            };
            object.insert(key, value);
        }
        Value::Object(object)
    }
}

impl Condition {
    fn holds(&self, field: Option<&Value>) -> bool {
        match self {
            Self::Bare(value) => field.is_some_and(|f| json_equal(f, value)),
            Self::Operators(tests) => tests.iter().all(|test| test.holds(field)),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Self::Bare(value) => value.clone(),
            Self::Operators(tests) => Value::Object(
                tests
                    .iter()
                    .map(|test| (test.operator().to_owned(), test.operand()))
                    .collect(),
            ),
        }
    }
}

impl Test {
    fn holds(&self, field: Option<&Value>) -> bool {
        let equal = |value: &Value| field.is_some_and(|f| json_equal(f, value));
        let number = || field.and_then(Value::as_f64);
        let bound = |n: &Number| n.as_f64().unwrap_or(f64::NAN);
        match self {
            Self::Eq(value) => equal(value),
            Self::Ne(value) => !equal(value),
            Self::In(values) => values.iter().any(equal),
            Self::Nin(values) => !values.iter().any(equal),
            Self::Gt(n) => number().is_some_and(|x| x > bound(n)),
            Self::Gte(n) => number().is_some_and(|x| x >= bound(n)),
            Self::Lt(n) => number().is_some_and(|x| x < bound(n)),
            Self::Lte(n) => number().is_some_and(|x| x <= bound(n)),
            Self::Exists(wanted) => field.is_some() == *wanted,
            Self::Prefix(prefix) => field
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with(prefix.as_str())),
        }
    }

    fn operator(&self) -> &'static str {
        match self {
            Self::Eq(_) => "$eq",
            Self::Ne(_) => "$ne",
            Self::In(_) => "$in",
            Self::Nin(_) => "$nin",
            Self::Gt(_) => "$gt",
            Self::Gte(_) => "$gte",
            Self::Lt(_) => "$lt",
            Self::Lte(_) => "$lte",
            Self::Exists(_) => "$exists",
            Self::Prefix(_) => "$prefix",
        }
    }

    fn operand(&self) -> Value {
        match self {
            Self::Eq(value) | Self::Ne(value) => value.clone(),
            Self::In(values) | Self::Nin(values) => Value::Array(values.clone()),
            Self::Gt(n) | Self::Gte(n) | Self::Lt(n) | Self::Lte(n) => Value::Number(n.clone()),
            Self::Exists(wanted) => Value::Bool(*wanted),
            Self::Prefix(prefix) => Value::String(prefix.clone()),
        }
    }
}

impl FieldPath {
    /// The value at this path, if there is one.
    fn resolve<'a>(&self, data: &'a Value) -> Option<&'a Value> {
        let mut at = data;
        for segment in &self.0 {
            at = match at {
                Value::Object(object) => object.get(&segment.key)?,
                Value::Array(items) => items.get(segment.index?)?,
                _ => return None,
            };
        }
        Some(at)
    }
}

impl std::fmt::Display for FieldPath {
    /// The path as written in a filter: dots between segments, dots and
    /// backslashes inside a segment escaped.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            for c in segment.key.chars() {
                if c == '.' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
/// Recursion is bounded by the shallower side, and a filter's operands
/// are at most [`MAX_JSON_DEPTH`] deep.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_equal(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, a)| y.get(key).is_some_and(|b| json_equal(a, b)))
        }
        _ => a == b,
    }
}

fn number_equal(x: &Number, y: &Number) -> bool {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        a == b
    } else if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        a == b
    } else {
        x.as_f64() == y.as_f64()
    }
}

#[cfg(test)]
mod tests;
