//! The webhook body: `{"id","type","timestamp","scope","data","metadata"}`
//! as compact JSON. `data` is spliced in as the publisher's exact text, so
//! what they signed or hashed on their side is what the receiver gets.

use std::collections::BTreeMap;

pub struct Envelope<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    /// RFC 3339, UTC: when the event was published (stable across retries).
    pub timestamp: chrono::DateTime<chrono::Utc>,
    pub scope: Option<&'a str>,
    /// A JSON object's text, already validated.
    pub data: &'a str,
    pub metadata: &'a BTreeMap<String, String>,
}

impl Envelope<'_> {
    pub fn to_bytes(&self) -> Vec<u8> {
        let quote = |s: &str| serde_json::to_string(s).expect("strings serialise");
        let metadata = serde_json::to_string(self.metadata).expect("string maps serialise");
        let scope = self.scope.map_or_else(|| "null".to_owned(), quote);
        let timestamp = self
            .timestamp
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        format!(
            r#"{{"id":{},"type":{},"timestamp":"{timestamp}","scope":{scope},"data":{},"metadata":{metadata}}}"#,
            quote(self.id),
            quote(self.event_type),
            self.data,
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_data_byte_for_byte_and_escapes_the_rest() {
        let metadata = BTreeMap::from([("k".to_owned(), "v\"".to_owned())]);
        let data = r#"{ "amount" : 1.50,  "note":"é" }"#;
        let envelope = Envelope {
            id: "evt_1",
            event_type: "invoice.paid",
            timestamp: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            scope: Some("s\"1"),
            data,
            metadata: &metadata,
        };
        let text = String::from_utf8(envelope.to_bytes()).unwrap();
        assert!(text.contains(data), "{text}");
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["scope"], "s\"1");
        assert_eq!(parsed["timestamp"], "2023-11-14T22:13:20.000000Z");
        assert_eq!(parsed["metadata"]["k"], "v\"");
        assert_eq!(parsed["data"]["amount"], 1.5);
    }

    #[test]
    fn absent_scope_is_null() {
        let metadata = BTreeMap::new();
        let envelope = Envelope {
            id: "e",
            event_type: "a.b",
            timestamp: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            scope: None,
            data: "{}",
            metadata: &metadata,
        };
        let parsed: serde_json::Value = serde_json::from_slice(&envelope.to_bytes()).unwrap();
        assert!(parsed["scope"].is_null());
    }
}
