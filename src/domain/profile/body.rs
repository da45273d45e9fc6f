//! The request body a profile sends: hookrelay's envelope, the event data
//! alone, or a declared shape. Everything is compact JSON built by
//! splicing stored JSON text, so the publisher's `data` reaches the
//! receiver byte for byte.

use chrono::{DateTime, SecondsFormat, Utc};

/// The event as the body and headers see it. JSON fields are stored text.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingEvent<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    /// When the event was published (stable across retries).
    pub create_time: DateTime<Utc>,
    pub scope: Option<&'a str>,
    /// A JSON object's text.
    pub data: &'a str,
    /// A JSON object's text.
    pub metadata: &'a str,
    /// A JSON object's text: the publisher's top-level attributes, if any.
    pub attributes: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    Rfc3339,
    UnixSeconds,
    UnixMillis,
}

/// Where one field of a declared body comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSource {
    Id,
    Type,
    Scope,
    Time(TimeFormat),
    Data,
    Metadata,
    /// One publisher attribute; `null` when the event has none by that name.
    Attribute(String),
    /// Every publisher attribute, lifted to the top level of the body.
    AllAttributes,
}

impl FieldSource {
    pub const NAMES: &'static str = "id, type, scope, timestamp, timestamp_unix, \
        timestamp_unix_ms, data, metadata, attributes (all, lifted to the top level) or \
        attributes.<name>";

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "id" => FieldSource::Id,
            "type" => FieldSource::Type,
            "scope" => FieldSource::Scope,
            "timestamp" => FieldSource::Time(TimeFormat::Rfc3339),
            "timestamp_unix" => FieldSource::Time(TimeFormat::UnixSeconds),
            "timestamp_unix_ms" => FieldSource::Time(TimeFormat::UnixMillis),
            "data" => FieldSource::Data,
            "metadata" => FieldSource::Metadata,
            "attributes" => FieldSource::AllAttributes,
            other => {
                let name = other.strip_prefix("attributes.")?;
                if name.is_empty() {
                    return None;
                }
                FieldSource::Attribute(name.to_owned())
            }
        })
    }

    pub fn as_string(&self) -> String {
        match self {
            FieldSource::Id => "id".into(),
            FieldSource::Type => "type".into(),
            FieldSource::Scope => "scope".into(),
            FieldSource::Time(TimeFormat::Rfc3339) => "timestamp".into(),
            FieldSource::Time(TimeFormat::UnixSeconds) => "timestamp_unix".into(),
            FieldSource::Time(TimeFormat::UnixMillis) => "timestamp_unix_ms".into(),
            FieldSource::Data => "data".into(),
            FieldSource::Metadata => "metadata".into(),
            FieldSource::AllAttributes => "attributes".into(),
            FieldSource::Attribute(name) => format!("attributes.{name}"),
        }
    }
}

/// One field of a declared body: `name` is empty for lifted attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyField {
    pub name: String,
    pub source: FieldSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyShape {
    /// `{"id","type","timestamp","scope","data","metadata"}`.
    Envelope,
    /// The event's data object alone, byte for byte.
    Data,
    /// The declared fields, in order.
    Fields(Vec<BodyField>),
}

impl BodyShape {
    pub fn render(&self, event: &OutgoingEvent<'_>) -> Vec<u8> {
        match self {
            BodyShape::Data => event.data.as_bytes().to_vec(),
            BodyShape::Envelope => render_fields(event, envelope_fields()),
            BodyShape::Fields(fields) => render_fields(event, fields.iter()),
        }
    }
}

fn envelope_fields() -> impl Iterator<Item = &'static BodyField> {
    static FIELDS: std::sync::LazyLock<Vec<BodyField>> = std::sync::LazyLock::new(|| {
        [
            ("id", FieldSource::Id),
            ("type", FieldSource::Type),
            ("timestamp", FieldSource::Time(TimeFormat::Rfc3339)),
            ("scope", FieldSource::Scope),
            ("data", FieldSource::Data),
            ("metadata", FieldSource::Metadata),
        ]
        .into_iter()
        .map(|(name, source)| BodyField {
            name: name.to_owned(),
            source,
        })
        .collect()
    });
    FIELDS.iter()
}

fn render_fields<'f>(
    event: &OutgoingEvent<'_>,
    fields: impl Iterator<Item = &'f BodyField>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(event.data.len() + event.metadata.len() + 160);
    out.push(b'{');
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, name: &str| {
        if !first {
            out.push(b',');
        }
        first = false;
        push_json_string(out, name);
        out.push(b':');
    };
    let attributes: Option<serde_json::Map<String, serde_json::Value>> = event
        .attributes
        .and_then(|text| serde_json::from_str(text).ok());
    for field in fields {
        match &field.source {
            FieldSource::AllAttributes => {
                for (name, value) in attributes.iter().flatten() {
                    key(&mut out, name);
                    out.extend_from_slice(value.to_string().as_bytes());
                }
            }
            source => {
                key(&mut out, &field.name);
                push_value(&mut out, source, event, attributes.as_ref());
            }
        }
    }
    out.push(b'}');
    out
}

fn push_value(
    out: &mut Vec<u8>,
    source: &FieldSource,
    event: &OutgoingEvent<'_>,
    attributes: Option<&serde_json::Map<String, serde_json::Value>>,
) {
    match source {
        FieldSource::Id => push_json_string(out, event.id),
        FieldSource::Type => push_json_string(out, event.event_type),
        FieldSource::Scope => match event.scope {
            Some(scope) => push_json_string(out, scope),
            None => out.extend_from_slice(b"null"),
        },
        FieldSource::Time(format) => {
            let text = match format {
                TimeFormat::Rfc3339 => {
                    let text = event
                        .create_time
                        .to_rfc3339_opts(SecondsFormat::Micros, true);
                    return push_json_string(out, &text);
                }
                TimeFormat::UnixSeconds => event.create_time.timestamp().to_string(),
                TimeFormat::UnixMillis => event.create_time.timestamp_millis().to_string(),
            };
            out.extend_from_slice(text.as_bytes());
        }
        FieldSource::Data => out.extend_from_slice(event.data.as_bytes()),
        FieldSource::Metadata => out.extend_from_slice(event.metadata.as_bytes()),
        FieldSource::Attribute(name) => match attributes.and_then(|a| a.get(name)) {
            Some(value) => out.extend_from_slice(value.to_string().as_bytes()),
            None => out.extend_from_slice(b"null"),
        },
        FieldSource::AllAttributes => {}
    }
}

fn push_json_string(out: &mut Vec<u8>, text: &str) {
    // Serialising a &str cannot fail.
    serde_json::to_writer(&mut *out, text).expect("strings serialise");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(attributes: Option<&'a str>) -> OutgoingEvent<'a> {
        OutgoingEvent {
            id: "evt_1",
            event_type: "flow.completed",
            create_time: DateTime::from_timestamp(1_700_000_000, 5_000_000).unwrap(),
            scope: Some("s\"1"),
            data: r#"{ "amount" : 1.50 }"#,
            metadata: r#"{"k":"v"}"#,
            attributes,
        }
    }

    #[test]
    fn envelope_is_the_default_contract() {
        let body = BodyShape::Envelope.render(&event(None));
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"id":"evt_1","type":"flow.completed","timestamp":"2023-11-14T22:13:20.005000Z","scope":"s\"1","data":{ "amount" : 1.50 },"metadata":{"k":"v"}}"#
        );
    }

    #[test]
    fn data_alone_is_byte_for_byte() {
        assert_eq!(
            BodyShape::Data.render(&event(None)),
            br#"{ "amount" : 1.50 }"#
        );
    }

    #[test]
    fn declared_shape_names_fields_and_lifts_attributes() {
        let field = |name: &str, source: &str| BodyField {
            name: name.into(),
            source: FieldSource::parse(source).unwrap(),
        };
        let shape = BodyShape::Fields(vec![
            field("id", "id"),
            field("event", "type"),
            field("session_id", "attributes.session_id"),
            field("created", "timestamp_unix"),
            field("created_ms", "timestamp_unix_ms"),
            field("missing", "attributes.nope"),
            field("", "attributes"),
            field("data", "data"),
        ]);
        let body = shape.render(&event(Some(r#"{"session_id":"ses_1","success":true}"#)));
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["event"], "flow.completed");
        assert_eq!(parsed["session_id"], "ses_1");
        assert_eq!(parsed["created"], 1_700_000_000);
        assert_eq!(parsed["created_ms"], 1_700_000_000_005i64);
        assert!(parsed["missing"].is_null());
        assert_eq!(parsed["success"], true);
        assert_eq!(parsed["data"]["amount"], 1.5);
        // No attributes at all: lifted ones are simply absent.
        let body = shape.render(&event(None));
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(parsed.get("success").is_none());
    }

    #[test]
    fn source_names_round_trip() {
        for name in [
            "id",
            "type",
            "scope",
            "timestamp",
            "timestamp_unix",
            "timestamp_unix_ms",
            "data",
            "metadata",
            "attributes",
            "attributes.x.y",
        ] {
            assert_eq!(FieldSource::parse(name).unwrap().as_string(), name);
        }
        assert_eq!(FieldSource::parse("attributes."), None);
        assert_eq!(FieldSource::parse("payload"), None);
    }
}
