//! EventTypeService: the catalog of what a tenant publishes.

use super::AppState;
use super::convert::{Page, json_to_struct, mask_paths, struct_to_json, timestamp};
use crate::domain::{Description, EventTypeName};
use crate::proto::{self as pb, event_type_service_server::EventTypeService};
use crate::service::event_types::{
    self, EventType, EventTypePatch, NewEventType, check_json_schema,
};
use crate::service::{ServiceError, Violations};
use tonic::{Request, Response, Status};

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
        let page = Page::parse(request.page_size, &request.page_token)?;
        let mut found = event_types::list(
            &self.state.db,
            &caller,
            page.after.as_deref(),
            page.fetch_limit(),
            request.show_archived,
        )
        .await?;
        let next_page_token = page.finish(&mut found, |t| t.name.as_str());
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

fn new_event_type(input: Option<pb::EventType>) -> Result<NewEventType, ServiceError> {
    let input = input.ok_or_else(|| ServiceError::invalid("event_type", "is required"))?;
    let mut violations = Violations::new();
    let name = violations.check("event_type.name", EventTypeName::parse(&input.name));
    let description = violations.check(
        "event_type.description",
        Description::parse(&input.description).map(|d| d.to_string()),
    );
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
                    Description::parse(&input.description).map(|d| d.to_string()),
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
