//! EventTypeService: the catalog of what a tenant publishes.

use super::AppState;
use super::convert::{Page, json_to_struct, mask_paths, struct_to_json, timestamp};
use crate::domain::{EventTypeName, PageTokenError};
use crate::proto::{self as pb, event_type_service_server::EventTypeService};
use crate::service::event_types::{
    self, EventType, EventTypePatch, NewEventType, check_json_schema,
};
use crate::service::{ServiceError, Violations};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tonic::{Request, Response, Status};

const MAX_DESCRIPTION_CHARS: usize = 1024;

pub struct EventTypeApi {
    state: AppState,
}

impl EventTypeApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl EventTypeService for EventTypeApi {
    async fn create_event_type(
        &self,
        request: Request<pb::CreateEventTypeRequest>,
    ) -> Result<Response<pb::CreateEventTypeResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let new = new_event_type(request.into_inner().event_type)?;
        let created = event_types::create(&self.state.db, &caller, new).await?;
        Ok(Response::new(pb::CreateEventTypeResponse {
            event_type: Some(to_pb(created)),
        }))
    }

    async fn get_event_type(
        &self,
        request: Request<pb::GetEventTypeRequest>,
    ) -> Result<Response<pb::GetEventTypeResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let found = event_types::get(&self.state.db, &caller, &request.get_ref().name).await?;
        Ok(Response::new(pb::GetEventTypeResponse {
            event_type: Some(to_pb(found)),
        }))
    }

    async fn list_event_types(
        &self,
        request: Request<pb::ListEventTypesRequest>,
    ) -> Result<Response<pb::ListEventTypesResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let page = parse_page(request.page_size, &request.page_token)?;
        let mut found = event_types::list(
            &self.state.db,
            &caller,
            page.after.as_deref(),
            page.fetch_limit(),
            request.show_archived,
        )
        .await?;
        let next_page_token = finish_page(&page, &mut found);
        Ok(Response::new(pb::ListEventTypesResponse {
            event_types: found.into_iter().map(to_pb).collect(),
            next_page_token,
        }))
    }

    async fn update_event_type(
        &self,
        request: Request<pb::UpdateEventTypeRequest>,
    ) -> Result<Response<pb::UpdateEventTypeResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let paths = mask_paths(request.update_mask)?;
        let event_type = request
            .event_type
            .ok_or_else(|| ServiceError::invalid("event_type", "is required"))?;
        let patch = patch(&paths, &event_type)?;
        let updated = event_types::update(&self.state.db, &caller, &event_type.name, patch).await?;
        Ok(Response::new(pb::UpdateEventTypeResponse {
            event_type: Some(to_pb(updated)),
        }))
    }

    async fn delete_event_type(
        &self,
        request: Request<pb::DeleteEventTypeRequest>,
    ) -> Result<Response<pb::DeleteEventTypeResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let archived =
            event_types::archive(&self.state.db, &caller, &request.get_ref().name).await?;
        Ok(Response::new(pb::DeleteEventTypeResponse {
            event_type: Some(to_pb(archived)),
        }))
    }
}

/// Event types page by name, and names contain dots, which the shared page
/// token (made for resource ids) refuses. Their tokens have a format of their
/// own: opaque base64url of a versioned prefix and the last name returned.
const NAME_TOKEN_PREFIX: &str = "etn1:";

fn parse_page(page_size: i32, page_token: &str) -> Result<Page, ServiceError> {
    let mut page = Page::parse(page_size, "")?;
    if !page_token.is_empty() {
        let name = decode_name_token(page_token)
            .ok_or_else(|| ServiceError::invalid("page_token", PageTokenError::Invalid))?;
        page.after = Some(name);
    }
    Ok(page)
}

fn decode_name_token(token: &str) -> Option<String> {
    // A name is at most 128 ASCII characters; anything longer was not made here.
    if token.len() > 256 {
        return None;
    }
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let name = text.strip_prefix(NAME_TOKEN_PREFIX)?;
    EventTypeName::parse(name)
        .ok()
        .map(EventTypeName::into_string)
}

/// Trims the look-ahead item and returns the next page's token (empty on the last page).
fn finish_page(page: &Page, found: &mut Vec<EventType>) -> String {
    if found.len() as u64 <= page.size {
        return String::new();
    }
    found.truncate(page.size as usize);
    found
        .last()
        .map(|last| URL_SAFE_NO_PAD.encode(format!("{NAME_TOKEN_PREFIX}{}", last.name)))
        .unwrap_or_default()
}

fn new_event_type(input: Option<pb::EventType>) -> Result<NewEventType, ServiceError> {
    let input = input.ok_or_else(|| ServiceError::invalid("event_type", "is required"))?;
    let mut violations = Violations::new();
    let name = violations.check("event_type.name", EventTypeName::parse(&input.name));
    let description = violations.check("event_type.description", description(input.description));
    let json_schema = violations.check("event_type.json_schema", schema(input.json_schema));
    violations.into_result()?;
    Ok(NewEventType {
        name: name.expect("checked"),
        description: description.expect("checked"),
        json_schema: json_schema.expect("checked"),
    })
}

fn patch(paths: &[String], input: &pb::EventType) -> Result<EventTypePatch, ServiceError> {
    let mut violations = Violations::new();
    let mut patch = EventTypePatch::default();
    for path in paths {
        match path.as_str() {
            "description" => {
                patch.description = violations.check(
                    "event_type.description",
                    description(input.description.clone()),
                );
            }
            "json_schema" => {
                patch.json_schema =
                    violations.check("event_type.json_schema", schema(input.json_schema.clone()));
            }
            "archived" => patch.archived = Some(input.archived),
            "name" | "create_time" | "update_time" => {
                violations.add("update_mask", format!("{path:?} cannot be changed"))
            }
            other => violations.add(
                "update_mask",
                format!(
                    "unknown field {other:?}; mutable fields: description, json_schema, archived"
                ),
            ),
        }
    }
    violations.into_result()?;
    Ok(patch)
}

fn description(text: String) -> Result<String, String> {
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(format!(
            "must be at most {MAX_DESCRIPTION_CHARS} characters"
        ));
    }
    Ok(text)
}

fn schema(input: Option<prost_types::Struct>) -> Result<Option<serde_json::Value>, String> {
    input
        .map(|s| {
            let json = struct_to_json(s);
            check_json_schema(&json).map(|()| json)
        })
        .transpose()
}

fn to_pb(event_type: EventType) -> pb::EventType {
    pb::EventType {
        name: event_type.name.as_str().to_owned(),
        description: event_type.description,
        json_schema: event_type.json_schema.as_ref().and_then(json_to_struct),
        archived: event_type.archived,
        create_time: Some(timestamp(event_type.create_time)),
        update_time: Some(timestamp(event_type.update_time)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_tokens_round_trip_and_reject_garbage() {
        for name in ["a", "invoice.paid", "a.b_c-d.e2", &"a".repeat(128)] {
            let token = URL_SAFE_NO_PAD.encode(format!("{NAME_TOKEN_PREFIX}{name}"));
            assert!(
                name.len() < 3 || !token.contains(name),
                "token is not opaque"
            );
            assert_eq!(decode_name_token(&token).as_deref(), Some(name));
        }
        for bad in [
            "!!!".to_owned(),
            URL_SAFE_NO_PAD.encode("invoice.paid"),
            URL_SAFE_NO_PAD.encode(NAME_TOKEN_PREFIX),
            URL_SAFE_NO_PAD.encode(format!("{NAME_TOKEN_PREFIX}Invoice")),
            URL_SAFE_NO_PAD.encode(format!("{NAME_TOKEN_PREFIX}{}", "a".repeat(129))),
            "A".repeat(100_000),
        ] {
            assert_eq!(decode_name_token(&bad), None, "{bad:?}");
        }
        assert!(parse_page(2, "!!!").is_err());
        assert!(parse_page(-1, "").is_err());
    }
}
