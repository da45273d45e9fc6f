//! From JSON to a [`PayloadFilter`], with every bound checked before the
//! work it bounds, and errors that name the exact place in the filter.

use super::{
    Clause, Condition, FieldPath, Filter, MAX_FILTER_BYTES, MAX_FILTER_DEPTH, MAX_FILTER_NODES,
    MAX_IN_VALUES, MAX_JSON_DEPTH, PayloadFilter, Segment, Test,
};
use serde_json::Value;

const FIELD_OPERATORS: &str = "$eq, $ne, $in, $nin, $gt, $gte, $lt, $lte, $exists, $prefix";

/// Why a filter was refused. `path` is where in the filter, written like
/// the filter's own keys (`amount.$gte`, `$or[1].plan`); empty for the
/// filter as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadFilterError {
    TooLarge { bytes: usize },
    NestedTooDeep,
    TooManyConditions,
    TooManyLevels { path: String },
    NotAnObject { path: String },
    ExpectsFilters { path: String },
    UnknownOperator { path: String },
    FieldOperatorWithoutField { path: String },
    FilterOperatorInCondition { path: String },
    EmptyCondition { path: String },
    MixedCondition { path: String, key: String },
    ExpectsNumber { path: String },
    ExpectsString { path: String },
    ExpectsBool { path: String },
    ExpectsArray { path: String },
    TooManyValues { path: String, count: usize },
    InvalidPath { path: String, reason: &'static str },
}

impl PayloadFilterError {
    /// Where in the filter; empty for the whole filter.
    pub fn path(&self) -> &str {
        match self {
            Self::TooLarge { .. } | Self::NestedTooDeep | Self::TooManyConditions => "",
            Self::TooManyLevels { path }
            | Self::NotAnObject { path }
            | Self::ExpectsFilters { path }
            | Self::UnknownOperator { path }
            | Self::FieldOperatorWithoutField { path }
            | Self::FilterOperatorInCondition { path }
            | Self::EmptyCondition { path }
            | Self::MixedCondition { path, .. }
            | Self::ExpectsNumber { path }
            | Self::ExpectsString { path }
            | Self::ExpectsBool { path }
            | Self::ExpectsArray { path }
            | Self::TooManyValues { path, .. }
            | Self::InvalidPath { path, .. } => path,
        }
    }

    /// What is wrong there, for a person.
    pub fn reason(&self) -> String {
        match self {
            Self::TooLarge { bytes } => {
                format!("is {bytes} bytes as JSON; at most {MAX_FILTER_BYTES}")
            }
            Self::NestedTooDeep => format!("is nested more than {MAX_JSON_DEPTH} levels deep"),
            Self::TooManyConditions => {
                format!("has more than {MAX_FILTER_NODES} conditions")
            }
            Self::TooManyLevels { .. } => {
                format!("$and, $or and $not nest at most {MAX_FILTER_DEPTH} levels deep")
            }
            Self::NotAnObject { .. } => {
                "expects a filter: an object like {\"field\": value}".to_owned()
            }
            Self::ExpectsFilters { .. } => "expects a non-empty array of filters".to_owned(),
            Self::UnknownOperator { .. } => {
                format!("unknown operator; a field's operators are {FIELD_OPERATORS}")
            }
            Self::FieldOperatorWithoutField { .. } => {
                "applies to a field: write {\"field\": {\"$op\": ...}}".to_owned()
            }
            Self::FilterOperatorInCondition { .. } => {
                "combines filters, not a field's operators: write {\"$not\": {\"field\": ...}} at the filter's level".to_owned()
            }
            Self::EmptyCondition { .. } => {
                format!("expects at least one operator ({FIELD_OPERATORS})")
            }
            Self::MixedCondition { key, .. } => format!(
                "mixes operators with the key {key:?}: name a nested field with a dotted path \
                 (\"a.b\"), or compare a whole object with $eq"
            ),
            Self::ExpectsNumber { .. } => "expects a number".to_owned(),
            Self::ExpectsString { .. } => "expects a string".to_owned(),
            Self::ExpectsBool { .. } => "expects true or false".to_owned(),
            Self::ExpectsArray { .. } => "expects an array of values".to_owned(),
            Self::TooManyValues { count, .. } => {
                format!("lists {count} values; at most {MAX_IN_VALUES}")
            }
            Self::InvalidPath { reason, .. } => (*reason).to_owned(),
        }
    }
}

impl std::fmt::Display for PayloadFilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.path() {
            "" => write!(f, "{}", self.reason()),
            path => write!(f, "{path}: {}", self.reason()),
        }
    }
}

impl std::error::Error for PayloadFilterError {}

impl PayloadFilter {
    /// Parses a filter document. Never panics, and recurses no deeper than
    /// [`MAX_JSON_DEPTH`] whatever the input.
    pub fn parse(value: &Value) -> Result<Self, PayloadFilterError> {
        // Depth first, without recursion: what follows recurses.
        if json_depth_exceeds(value, MAX_JSON_DEPTH) {
            return Err(PayloadFilterError::NestedTooDeep);
        }
        let bytes = serde_json::to_string(value).map_or(usize::MAX, |text| text.len());
        if bytes > MAX_FILTER_BYTES {
            return Err(PayloadFilterError::TooLarge { bytes });
        }
        let mut parser = Parser { nodes: 0 };
        let root = parser.filter(value, "", 0)?;
        Ok(Self { root })
    }

    /// Parses a filter's JSON text (the stored form).
    pub fn parse_text(text: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Self::parse(&value).map_err(|e| e.to_string())
    }
}

struct Parser {
    nodes: usize,
}

impl Parser {
    fn count(&mut self) -> Result<(), PayloadFilterError> {
        self.nodes += 1;
        if self.nodes > MAX_FILTER_NODES {
            return Err(PayloadFilterError::TooManyConditions);
        }
        Ok(())
    }

    fn filter(
        &mut self,
        value: &Value,
        at: &str,
        level: usize,
    ) -> Result<Filter, PayloadFilterError> {
        let Value::Object(object) = value else {
            return Err(PayloadFilterError::NotAnObject {
                path: at.to_owned(),
            });
        };
        let mut clauses = Vec::with_capacity(object.len());
        for (key, value) in object {
            let here = join(at, key);
            self.count()?;
            let clause = match key.as_str() {
                "$and" => Clause::And(self.filters(value, &here, level)?),
                "$or" => Clause::Or(self.filters(value, &here, level)?),
                "$not" => {
                    check_level(&here, level)?;
                    Clause::Not(Box::new(self.filter(value, &here, level + 1)?))
                }
                operator if operator.starts_with('$') => {
                    return Err(if is_field_operator(operator) {
                        PayloadFilterError::FieldOperatorWithoutField { path: here }
                    } else {
                        PayloadFilterError::UnknownOperator { path: here }
                    });
                }
                _ => Clause::Field {
                    path: field_path(key, &here)?,
                    condition: self.condition(value, &here)?,
                },
            };
            clauses.push(clause);
        }
        Ok(Filter(clauses))
    }

    fn filters(
        &mut self,
        value: &Value,
        at: &str,
        level: usize,
    ) -> Result<Vec<Filter>, PayloadFilterError> {
        check_level(at, level)?;
        let Value::Array(items) = value else {
            return Err(PayloadFilterError::ExpectsFilters {
                path: at.to_owned(),
            });
        };
        if items.is_empty() {
            return Err(PayloadFilterError::ExpectsFilters {
                path: at.to_owned(),
            });
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.filter(item, &format!("{at}[{i}]"), level + 1))
            .collect()
    }

    fn condition(&mut self, value: &Value, at: &str) -> Result<Condition, PayloadFilterError> {
        let Value::Object(object) = value else {
            return Ok(Condition::Bare(value.clone()));
        };
        if object.is_empty() {
            return Err(PayloadFilterError::EmptyCondition {
                path: at.to_owned(),
            });
        }
        if let Some(key) = object.keys().find(|k| !k.starts_with('$')) {
            return Err(PayloadFilterError::MixedCondition {
                path: at.to_owned(),
                key: key.clone(),
            });
        }
        object
            .iter()
            .map(|(operator, operand)| {
                let here = join(at, operator);
                self.count()?;
                test(operator, operand, here)
            })
            .collect::<Result<_, _>>()
            .map(Condition::Operators)
    }
}

fn test(operator: &str, operand: &Value, path: String) -> Result<Test, PayloadFilterError> {
    let number = |path: String| match operand {
        Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => Ok(n.clone()),
        _ => Err(PayloadFilterError::ExpectsNumber { path }),
    };
    Ok(match operator {
        "$eq" => Test::Eq(operand.clone()),
        "$ne" => Test::Ne(operand.clone()),
        "$in" => Test::In(values(operand, path)?),
        "$nin" => Test::Nin(values(operand, path)?),
        "$gt" => Test::Gt(number(path)?),
        "$gte" => Test::Gte(number(path)?),
        "$lt" => Test::Lt(number(path)?),
        "$lte" => Test::Lte(number(path)?),
        "$exists" => match operand {
            Value::Bool(wanted) => Test::Exists(*wanted),
            _ => return Err(PayloadFilterError::ExpectsBool { path }),
        },
        "$prefix" => match operand {
            Value::String(prefix) => Test::Prefix(prefix.clone()),
            _ => return Err(PayloadFilterError::ExpectsString { path }),
        },
        "$and" | "$or" | "$not" => {
            return Err(PayloadFilterError::FilterOperatorInCondition { path });
        }
        _ => return Err(PayloadFilterError::UnknownOperator { path }),
    })
}

fn values(operand: &Value, path: String) -> Result<Vec<Value>, PayloadFilterError> {
    let Value::Array(items) = operand else {
        return Err(PayloadFilterError::ExpectsArray { path });
    };
    if items.len() > MAX_IN_VALUES {
        return Err(PayloadFilterError::TooManyValues {
            path,
            count: items.len(),
        });
    }
    Ok(items.clone())
}

fn is_field_operator(key: &str) -> bool {
    FIELD_OPERATORS.split(", ").any(|op| op == key)
}

fn check_level(at: &str, level: usize) -> Result<(), PayloadFilterError> {
    if level >= MAX_FILTER_DEPTH {
        return Err(PayloadFilterError::TooManyLevels {
            path: at.to_owned(),
        });
    }
    Ok(())
}

/// `at` then `key`, the way errors name places.
fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

/// Splits a key into segments on unescaped dots.
fn field_path(key: &str, at: &str) -> Result<FieldPath, PayloadFilterError> {
    let invalid = |reason| PayloadFilterError::InvalidPath {
        path: at.to_owned(),
        reason,
    };
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('.' | '\\')) => current.push(escaped),
                _ => {
                    return Err(invalid(
                        "a backslash escapes only a dot (\\.) or a backslash (\\\\)",
                    ));
                }
            },
            '.' => segments.push(segment(std::mem::take(&mut current)).ok_or_else(|| {
                invalid("a field path has an empty segment; write keys joined by single dots")
            })?),
            c => current.push(c),
        }
    }
    segments.push(segment(current).ok_or_else(|| {
        invalid("a field path has an empty segment; write keys joined by single dots")
    })?);
    Ok(FieldPath(segments))
}

fn segment(key: String) -> Option<Segment> {
    if key.is_empty() {
        return None;
    }
    let index = (key.bytes().all(|b| b.is_ascii_digit()) && (key == "0" || !key.starts_with('0')))
        .then(|| key.parse().ok())
        .flatten();
    Some(Segment { key, index })
}

/// Whether `value` nests deeper than `max` arrays and objects, found
/// without recursion.
fn json_depth_exceeds(value: &Value, max: usize) -> bool {
    let mut stack = vec![(value, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(object) => Box::new(object.values()),
            _ => continue,
        };
        if depth > max {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
}
