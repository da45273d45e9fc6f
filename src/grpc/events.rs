//! EventService: publishing (single and batch) and reading events.

use super::AppState;
use super::convert::{
    Page, json_to_struct, metadata, micros_from_pb, newest_first, struct_to_json, timestamp,
};
use super::watch::{self, BoxStream};
use crate::domain::{Capability, EventId, EventTypeName, EventTypePattern, Scope};
use crate::proto::{self as pb, event::Payload, event_service_server::EventService};
use crate::service::changes::Change;
use crate::service::events::{
    self, Event, EventFilter, FieldPaths, JsonObject, NewEvent, Published, event_page_key,
};
use crate::service::{ServiceError, Violations};
use tonic::{Request, Response, Status};

pub struct EventApi {
    state: AppState,
}

impl EventApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    async fn publish(
        &self,
        caller: &crate::service::Caller,
        events: Vec<NewEvent>,
        paths: FieldPaths,
    ) -> Result<Vec<Published>, ServiceError> {
        // An ended scope takes no events (each distinct scope checked once;
        // a scoped caller's own was checked when it authenticated).
        let mut named: Vec<&Scope> = events.iter().filter_map(|e| e.scope.as_ref()).collect();
        named.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        named.dedup();
        for scope in named {
            if caller.scope.as_ref() != Some(scope) {
                self.state.require_scope(caller, Some(scope)).await?;
            }
        }
        // The publisher hands deliveries to the dispatcher (or wakes it).
        let published = self.state.publisher.publish(caller, events, paths).await?;
        // Feed WatchEvents: every newly stored event (not a duplicate's original).
        for p in published.iter().filter(|p| !p.duplicate) {
            self.state.changes.send(Change::EventPublished {
                tenant_id: caller.tenant_id.clone(),
                event: p.event.clone(),
            });
        }
        Ok(published)
    }
}

#[tonic::async_trait]
impl EventService for EventApi {
    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<BoxStream<pb::WatchEventsResponse>>, Status> {
        let caller = self.state.authenticate(&request).await?;
        caller.require(Capability::Read)?;
        let request = request.into_inner();
        let mut v = Violations::new();
        let patterns: Vec<EventTypePattern> = request
            .event_types
            .iter()
            .enumerate()
            .filter_map(|(i, p)| v.check(&format!("event_types[{i}]"), EventTypePattern::parse(p)))
            .collect();
        let scope = if request.scope.is_empty() {
            None
        } else {
            v.check("scope", Scope::parse(&request.scope))
        };
        v.into_result()?;
        let scope = caller.effective_scope(scope)?;
        let stream = watch::stream(
            &self.state.changes,
            self.state.shutdown.clone(),
            move |change| {
                let Change::EventPublished { tenant_id, event } = change else {
                    return None;
                };
                let wanted = *tenant_id == caller.tenant_id
                    && scope
                        .as_ref()
                        .is_none_or(|s| event.scope.as_deref() == Some(s.as_str()))
                    && (patterns.is_empty()
                        || patterns.iter().any(|p| p.matches(&event.event_type)));
                wanted.then(|| pb::WatchEventsResponse {
                    event: Some(to_pb(event.clone())),
                })
            },
        );
        Ok(Response::new(stream))
    }

    async fn publish_event(
        &self,
        request: Request<pb::PublishEventRequest>,
    ) -> Result<Response<pb::PublishEventResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let input = request
            .into_inner()
            .event
            .ok_or_else(|| ServiceError::invalid("event", "is required"))?;
        let new = new_event("event", input, self.state.max_payload_bytes)?;
        let published = self.publish(&caller, vec![new], FieldPaths::Single).await?;
        let Some(result) = published.into_iter().next() else {
            return Err(ServiceError::Internal("publish returned no result".to_owned()).into());
        };
        Ok(Response::new(pb::PublishEventResponse {
            event: Some(to_pb(result.event)),
            subscription_count: result.subscription_count,
            duplicate: result.duplicate,
        }))
    }

    async fn batch_publish_events(
        &self,
        request: Request<pb::BatchPublishEventsRequest>,
    ) -> Result<Response<pb::BatchPublishEventsResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let inputs = request.into_inner().events;
        events::check_batch_size(inputs.len())?;
        let mut violations = Violations::new();
        let mut new_events = Vec::with_capacity(inputs.len());
        for (index, input) in inputs.into_iter().enumerate() {
            match new_event(
                &format!("events[{index}]"),
                input,
                self.state.max_payload_bytes,
            ) {
                Ok(new) => new_events.push(new),
                Err(ServiceError::InvalidArgument(found)) => {
                    for violation in found {
                        violations.add(violation.field, violation.description);
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        violations.into_result()?;
        let published = self.publish(&caller, new_events, FieldPaths::Batch).await?;
        Ok(Response::new(pb::BatchPublishEventsResponse {
            results: published
                .into_iter()
                .map(|p| pb::PublishedEvent {
                    event: Some(to_pb(p.event)),
                    subscription_count: p.subscription_count,
                    duplicate: p.duplicate,
                })
                .collect(),
        }))
    }

    async fn get_event(
        &self,
        request: Request<pb::GetEventRequest>,
    ) -> Result<Response<pb::GetEventResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let event = events::get(&self.state.db, &caller, &request.get_ref().id).await?;
        Ok(Response::new(pb::GetEventResponse {
            event: Some(to_pb(event)),
        }))
    }

    async fn expunge_event(
        &self,
        request: Request<pb::ExpungeEventRequest>,
    ) -> Result<Response<pb::ExpungeEventResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let event = events::expunge(&self.state.db, &caller, &request.get_ref().id).await?;
        Ok(Response::new(pb::ExpungeEventResponse {
            event: Some(to_pb(event)),
        }))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let page = Page::parse(request.page_size, &request.page_token)?;
        let filter = EventFilter {
            event_type: (!request.r#type.is_empty()).then_some(request.r#type),
            scope: if request.scope.is_empty() {
                None
            } else {
                Some(Scope::parse(&request.scope).map_err(|e| ServiceError::invalid("scope", e))?)
            },
            start_time: request.start_time.map(micros_from_pb),
            end_time: request.end_time.map(micros_from_pb),
            newest_first: newest_first(&request.order_by)?,
        };
        let mut found = events::list(
            &self.state.db,
            &caller,
            filter,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish_by(&mut found, event_page_key);
        Ok(Response::new(pb::ListEventsResponse {
            events: found.into_iter().map(to_pb).collect(),
            next_page_token,
        }))
    }
}

/// Validates one event of a publish request; `field` is its path
/// (`event` or `events[3]`).
pub(super) fn new_event(
    field: &str,
    input: pb::Event,
    max_payload: u64,
) -> Result<NewEvent, ServiceError> {
    let mut v = Violations::new();
    let id = if input.id.is_empty() {
        Some(None)
    } else {
        v.check(&format!("{field}.id"), EventId::parse(&input.id))
            .map(Some)
    };
    let event_type = v.check(
        &format!("{field}.type"),
        EventTypeName::parse(&input.r#type),
    );
    let scope = if input.scope.is_empty() {
        Some(None)
    } else {
        v.check(&format!("{field}.scope"), Scope::parse(&input.scope))
            .map(Some)
    };
    let payload = match input.payload {
        None => {
            v.add(
                format!("{field}.data"),
                "is required: give `data` (a JSON object) or `data_json` (JSON object text)",
            );
            None
        }
        Some(Payload::Data(data)) => Some(struct_to_json(data).to_string()),
        Some(Payload::DataJson(text)) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(value) if value.is_object() => Some(text),
            Ok(_) => {
                v.add(
                    format!("{field}.data_json"),
                    "must be a JSON object ({...})",
                );
                None
            }
            Err(err) => {
                v.add(
                    format!("{field}.data_json"),
                    format!("is not valid JSON: {err}"),
                );
                None
            }
        },
    };
    let metadata = event_metadata(field, &input.metadata, input.metadata_object, &mut v);
    let attributes = input.attributes.map(|attributes| {
        json_object(&format!("{field}.attributes"), attributes, &mut v).unwrap_or_default()
    });
    v.into_result()?;
    let (Some(id), Some(event_type), Some(scope), Some(payload), Some(metadata)) =
        (id, event_type, scope, payload, metadata)
    else {
        return Err(ServiceError::Internal(
            "a field failed without a violation".to_owned(),
        ));
    };
    if payload.len() as u64 > max_payload {
        return Err(ServiceError::QuotaExceeded(format!(
            "{field}: the payload is {} bytes; the limit is {max_payload}",
            payload.len()
        )));
    }
    Ok(NewEvent {
        id,
        event_type,
        scope,
        payload,
        metadata,
        attributes,
    })
}

/// Largest metadata object or attribute set, as JSON text.
const MAX_OBJECT_BYTES: usize = 16 * 1024;

/// String labels (`metadata`) or any JSON object (`metadata_object`), not both.
fn event_metadata(
    field: &str,
    labels: &std::collections::BTreeMap<String, String>,
    object: Option<prost_types::Struct>,
    v: &mut Violations,
) -> Option<JsonObject> {
    match object {
        Some(_) if !labels.is_empty() => {
            v.add(
                format!("{field}.metadata_object"),
                "give either metadata (string labels) or metadata_object, not both",
            );
            None
        }
        Some(object) => json_object(&format!("{field}.metadata_object"), object, v),
        None => metadata(&format!("{field}.metadata"), labels, v).map(|labels| {
            labels
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect()
        }),
    }
}

fn json_object(field: &str, object: prost_types::Struct, v: &mut Violations) -> Option<JsonObject> {
    let serde_json::Value::Object(object) = struct_to_json(object) else {
        return None;
    };
    let len = serde_json::Value::Object(object.clone()).to_string().len();
    if len > MAX_OBJECT_BYTES {
        v.add(
            field,
            format!("is {len} bytes as JSON; the maximum is {MAX_OBJECT_BYTES}"),
        );
        return None;
    }
    Some(object)
}

/// Events come back with `data_json`: the exact text that was published and
/// is delivered, which a Struct (doubles only) could not always reproduce.
/// An expunged event has no data at all.
fn to_pb(event: Event) -> pb::Event {
    pb::Event {
        id: event.id,
        r#type: event.event_type,
        scope: event.scope.unwrap_or_default(),
        payload: event
            .expunge_time
            .is_none()
            .then_some(Payload::DataJson(event.payload)),
        metadata: event
            .metadata
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect(),
        metadata_object: json_to_struct(&serde_json::Value::Object(event.metadata)),
        attributes: event
            .attributes
            .and_then(|a| json_to_struct(&serde_json::Value::Object(a))),
        create_time: Some(timestamp(event.create_time)),
        expunge_time: event.expunge_time.map(timestamp),
    }
}
