//! SubscriptionService: endpoints, the events they want, and how to reach them.

use super::AppState;
use super::convert::{self, Page, duration_from_pb, duration_to_pb, mask_paths, timestamp};
use crate::domain::{
    Backoff, CustomHeaders, DeliveryTimeout, Description, EndpointUrl, EventTypePattern,
    HexAlgorithm, PatternListError, RateLimit, RateLimitError, ResourceName, RetryPolicy,
    RotationOverlap, Scope, SignatureProfile, TargetPolicy, WebhookSecret, parse_pattern_list,
};
use crate::proto::{self as pb, subscription_service_server::SubscriptionService};
use crate::service::subscriptions::{
    self, Subscription, SubscriptionFilter, SubscriptionPatch, SubscriptionSpec,
};
use crate::service::{ServiceError, Violations, test_event};
use std::collections::BTreeMap;
use std::time::Duration;
use tonic::{Request, Response, Status};

pub struct SubscriptionApi {
    state: AppState,
}

impl SubscriptionApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl SubscriptionService for SubscriptionApi {
    async fn create_subscription(
        &self,
        request: Request<pb::CreateSubscriptionRequest>,
    ) -> Result<Response<pb::CreateSubscriptionResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let input = request
            .subscription
            .ok_or_else(|| ServiceError::invalid("subscription", "is required"))?;
        let spec = spec_from_pb(input, &self.state.targets)?;
        let secret = optional_secret("secret", &request.secret)?;
        let state = &self.state;
        let (created, secret) = subscriptions::create(
            &state.db,
            &state.cipher,
            state.quotas,
            &caller,
            spec,
            secret,
        )
        .await?;
        Ok(Response::new(pb::CreateSubscriptionResponse {
            subscription: Some(to_pb(created)),
            secret: secret.expose().to_owned(),
        }))
    }

    async fn get_subscription(
        &self,
        request: Request<pb::GetSubscriptionRequest>,
    ) -> Result<Response<pb::GetSubscriptionResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let found = subscriptions::get(&self.state.db, &caller, &request.get_ref().id).await?;
        Ok(Response::new(pb::GetSubscriptionResponse {
            subscription: Some(to_pb(found)),
        }))
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let page = Page::parse(request.page_size, &request.page_token)?;
        let filter = SubscriptionFilter {
            scope: optional_scope("scope", &request.scope)?,
            enabled: request.enabled,
        };
        let mut found = subscriptions::list(
            &self.state.db,
            &caller,
            filter,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next_page_token = page.finish(&mut found, |s| s.id.as_str());
        Ok(Response::new(pb::ListSubscriptionsResponse {
            subscriptions: found.into_iter().map(to_pb).collect(),
            next_page_token,
        }))
    }

    async fn update_subscription(
        &self,
        request: Request<pb::UpdateSubscriptionRequest>,
    ) -> Result<Response<pb::UpdateSubscriptionResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let paths = mask_paths(request.update_mask)?;
        let input = request
            .subscription
            .ok_or_else(|| ServiceError::invalid("subscription", "is required"))?;
        let patch = patch_from_pb(&paths, &input, &self.state.targets)?;
        let updated = subscriptions::update(&self.state.db, &caller, &input.id, patch).await?;
        Ok(Response::new(pb::UpdateSubscriptionResponse {
            subscription: Some(to_pb(updated)),
        }))
    }

    async fn delete_subscription(
        &self,
        request: Request<pb::DeleteSubscriptionRequest>,
    ) -> Result<Response<pb::DeleteSubscriptionResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        subscriptions::delete(&self.state.db, &caller, &request.get_ref().id).await?;
        Ok(Response::new(pb::DeleteSubscriptionResponse {}))
    }

    async fn rotate_subscription_secret(
        &self,
        request: Request<pb::RotateSubscriptionSecretRequest>,
    ) -> Result<Response<pb::RotateSubscriptionSecretResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let secret = optional_secret("secret", &request.secret)?;
        let overlap = match &request.overlap {
            None => self.state.rotation_overlap,
            Some(input) => overlap(input).map_err(|e| ServiceError::invalid("overlap", e))?,
        };
        let state = &self.state;
        let (secret, previous_expiry) = subscriptions::rotate_secret(
            &state.db,
            &state.cipher,
            &caller,
            &request.id,
            secret,
            overlap,
        )
        .await?;
        Ok(Response::new(pb::RotateSubscriptionSecretResponse {
            secret: secret.expose().to_owned(),
            previous_secret_expire_time: previous_expiry.map(timestamp),
        }))
    }

    async fn send_test_event(
        &self,
        request: Request<pb::SendTestEventRequest>,
    ) -> Result<Response<pb::SendTestEventResponse>, Status> {
        let caller = self.state.authenticate(&request).await?;
        let request = request.into_inner();
        let data = request
            .data
            .map(|data| convert::struct_to_json(data).to_string());
        let state = &self.state;
        let attempt = test_event::send_test_event(
            &state.db,
            &state.cipher,
            state.test_sender.as_ref(),
            &caller,
            &request.id,
            data,
        )
        .await?;
        let outcome = attempt.outcome;
        Ok(Response::new(pb::SendTestEventResponse {
            attempt: Some(pb::DeliveryAttempt {
                id: attempt.id,
                delivery_id: String::new(),
                attempt_number: 1,
                request_headers: outcome.request_headers,
                response_status_code: outcome.status.map(u32::from).unwrap_or_default(),
                response_body: outcome.body,
                error: outcome.error.unwrap_or_default(),
                duration: Some(duration_to_pb(outcome.duration)),
                create_time: Some(timestamp(attempt.create_time)),
            }),
        }))
    }
}

fn optional_secret(field: &str, text: &str) -> Result<Option<WebhookSecret>, ServiceError> {
    if text.is_empty() {
        return Ok(None);
    }
    WebhookSecret::parse(text)
        .map(Some)
        .map_err(|e| ServiceError::invalid(field, e))
}

fn optional_scope(field: &str, text: &str) -> Result<Option<Scope>, ServiceError> {
    if text.is_empty() {
        return Ok(None);
    }
    Scope::parse(text)
        .map(Some)
        .map_err(|e| ServiceError::invalid(field, e))
}

/// A complete subscription from CreateSubscription: unset fields take defaults.
fn spec_from_pb(
    input: pb::Subscription,
    targets: &TargetPolicy,
) -> Result<SubscriptionSpec, ServiceError> {
    let mut v = Violations::new();
    let name = v.check("subscription.name", ResourceName::parse(&input.name));
    let description = v.check(
        "subscription.description",
        Description::parse(&input.description).map(|d| d.to_string()),
    );
    let url = v.check(
        "subscription.url",
        EndpointUrl::parse_for(&input.url, targets),
    );
    let event_types = event_types(&input.event_types, &mut v);
    // Scope::parse directly: its error is the description, not a nested
    // "invalid request: ..." message.
    let scope = v.check(
        "subscription.scope",
        (!input.scope.is_empty())
            .then(|| Scope::parse(&input.scope))
            .transpose(),
    );
    let headers = headers(&input.headers, &mut v);
    let retry_policy = v.check(
        "subscription.retry_policy",
        retry_policy(input.retry_policy.as_ref()),
    );
    let signature = v.check(
        "subscription.signature",
        signature(input.signature.as_ref()),
    );
    let timeout = v.check("subscription.timeout", timeout(input.timeout.as_ref()));
    let rate_limit = v.check("subscription.rate_limit", rate_limit(input.rate_limit));
    let metadata = convert::metadata("subscription.metadata", &input.metadata, &mut v);
    v.into_result()?;
    let (
        Some(name),
        Some(description),
        Some(url),
        Some(event_types),
        Some(scope),
        Some(headers),
        Some(retry_policy),
        Some(signature),
        Some(timeout),
        Some(rate_limit),
        Some(metadata),
    ) = (
        name,
        description,
        url,
        event_types,
        scope,
        headers,
        retry_policy,
        signature,
        timeout,
        rate_limit,
        metadata,
    )
    else {
        return Err(ServiceError::Internal(
            "a field failed without a violation".to_owned(),
        ));
    };
    Ok(SubscriptionSpec {
        name,
        description,
        url,
        event_types,
        scope,
        enabled: input.enabled.unwrap_or(true),
        headers,
        retry_policy,
        signature,
        timeout,
        rate_limit,
        ordered: input.ordered,
        metadata,
    })
}

/// The fields named by an update mask, each validated like on create.
fn patch_from_pb(
    paths: &[String],
    input: &pb::Subscription,
    targets: &TargetPolicy,
) -> Result<SubscriptionPatch, ServiceError> {
    let mut v = Violations::new();
    let mut patch = SubscriptionPatch::default();
    for path in paths {
        match path.as_str() {
            "name" => patch.name = v.check("subscription.name", ResourceName::parse(&input.name)),
            "description" => {
                patch.description = v.check("subscription.description", Description::parse(&input.description).map(|d| d.to_string()))
            }
            "url" => patch.url = v.check("subscription.url", EndpointUrl::parse_for(&input.url, targets)),
            "event_types" => patch.event_types = event_types(&input.event_types, &mut v),
            "enabled" => patch.enabled = Some(input.enabled.unwrap_or(true)),
            "headers" => patch.headers = headers(&input.headers, &mut v),
            "retry_policy" => {
                patch.retry_policy =
                    v.check("subscription.retry_policy", retry_policy(input.retry_policy.as_ref()))
            }
            "signature" => {
                patch.signature = v.check("subscription.signature", signature(input.signature.as_ref()))
            }
            "timeout" => patch.timeout = v.check("subscription.timeout", timeout(input.timeout.as_ref())),
            "rate_limit" => {
                patch.rate_limit = v.check("subscription.rate_limit", rate_limit(input.rate_limit))
            }
            "ordered" => patch.ordered = Some(input.ordered),
            "metadata" => patch.metadata = convert::metadata("subscription.metadata", &input.metadata, &mut v),
            "id" | "scope" | "disabled_reason" | "create_time" | "update_time" => {
                v.add("update_mask", format!("{path:?} cannot be changed"))
            }
            other if other.contains('.') => v.add(
                "update_mask",
                format!("{other:?}: update the top-level field (e.g. \"retry_policy\") as a whole"),
            ),
            other => v.add(
                "update_mask",
                format!(
                    "unknown field {other:?}; mutable fields: name, description, url, event_types, enabled, headers, retry_policy, signature, timeout, rate_limit, ordered, metadata"
                ),
            ),
        }
    }
    v.into_result()?;
    Ok(patch)
}

fn event_types(raw: &[String], v: &mut Violations) -> Option<Vec<EventTypePattern>> {
    match parse_pattern_list(raw) {
        Ok(patterns) => Some(patterns),
        Err(PatternListError::Entries(entries)) => {
            for entry in entries {
                v.add(
                    format!("subscription.event_types[{}]", entry.index),
                    entry.reason,
                );
            }
            None
        }
        Err(list) => {
            v.add("subscription.event_types", list);
            None
        }
    }
}

fn headers(raw: &BTreeMap<String, String>, v: &mut Violations) -> Option<CustomHeaders> {
    match CustomHeaders::parse(raw) {
        Ok(headers) => Some(headers),
        Err(violations) => {
            for violation in &violations {
                v.add(
                    format!("subscription.headers[{:?}]", violation.name),
                    &violation.reason,
                );
            }
            None
        }
    }
}

fn retry_policy(input: Option<&pb::RetryPolicy>) -> Result<RetryPolicy, String> {
    let defaults = RetryPolicy::default();
    let Some(input) = input else {
        return Ok(defaults);
    };
    let delay = |d: Option<&prost_types::Duration>, default: Duration| {
        d.map(duration_from_pb)
            .transpose()
            .map(|d| d.unwrap_or(default))
    };
    let backoff = match pb::Backoff::try_from(input.backoff) {
        Ok(pb::Backoff::Unspecified) => defaults.backoff,
        Ok(pb::Backoff::Exponential) => Backoff::Exponential,
        Ok(pb::Backoff::Linear) => Backoff::Linear,
        Ok(pb::Backoff::Fixed) => Backoff::Fixed,
        Err(_) => return Err(format!("backoff: unknown value {}", input.backoff)),
    };
    let max_attempts = match input.max_attempts {
        0 => defaults.max_attempts,
        n => n,
    };
    RetryPolicy::new(
        max_attempts,
        delay(input.initial_delay.as_ref(), defaults.initial_delay)?,
        delay(input.max_delay.as_ref(), defaults.max_delay)?,
        backoff,
    )
    .map_err(|e| e.to_string())
}

fn signature(input: Option<&pb::SignatureProfile>) -> Result<Option<SignatureProfile>, String> {
    let Some(input) = input else {
        return Ok(None);
    };
    let algorithm = match pb::SignatureAlgorithm::try_from(input.algorithm) {
        Ok(pb::SignatureAlgorithm::HmacSha256Hex) => HexAlgorithm::Sha256,
        Ok(pb::SignatureAlgorithm::HmacSha512Hex) => HexAlgorithm::Sha512,
        _ => {
            return Err(
                "algorithm must be SIGNATURE_ALGORITHM_HMAC_SHA256_HEX or SIGNATURE_ALGORITHM_HMAC_SHA512_HEX"
                    .to_owned(),
            );
        }
    };
    SignatureProfile::parse(
        &input.header,
        algorithm,
        &input.prefix,
        &input.algorithm_header,
    )
    .map(Some)
    .map_err(|e| e.to_string())
}

fn timeout(input: Option<&prost_types::Duration>) -> Result<Duration, String> {
    let Some(input) = input else {
        return Ok(DeliveryTimeout::DEFAULT.get());
    };
    let timeout = DeliveryTimeout::parse(duration_from_pb(input)?).map_err(|e| e.to_string())?;
    Ok(timeout.get())
}

fn rate_limit(per_second: u32) -> Result<u32, RateLimitError> {
    RateLimit::parse(per_second).map(RateLimit::per_second)
}

fn overlap(input: &prost_types::Duration) -> Result<Duration, String> {
    let overlap = RotationOverlap::parse(duration_from_pb(input)?).map_err(|e| e.to_string())?;
    Ok(overlap.get())
}

fn backoff_to_pb(backoff: Backoff) -> pb::Backoff {
    match backoff {
        Backoff::Exponential => pb::Backoff::Exponential,
        Backoff::Linear => pb::Backoff::Linear,
        Backoff::Fixed => pb::Backoff::Fixed,
    }
}

fn to_pb(subscription: Subscription) -> pb::Subscription {
    let spec = subscription.spec;
    let policy = &spec.retry_policy;
    pb::Subscription {
        id: subscription.id,
        name: spec.name.as_str().to_owned(),
        description: spec.description,
        url: spec.url.as_str().to_owned(),
        event_types: spec.event_types.iter().map(|p| p.as_string()).collect(),
        scope: spec
            .scope
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        enabled: Some(spec.enabled),
        disabled_reason: subscription.disabled_reason.unwrap_or_default(),
        headers: spec.headers.to_map(),
        retry_policy: Some(pb::RetryPolicy {
            max_attempts: policy.max_attempts,
            initial_delay: Some(duration_to_pb(policy.initial_delay)),
            max_delay: Some(duration_to_pb(policy.max_delay)),
            backoff: backoff_to_pb(policy.backoff) as i32,
        }),
        signature: spec.signature.map(|s| pb::SignatureProfile {
            header: s.header.as_str().to_owned(),
            algorithm: match s.algorithm {
                HexAlgorithm::Sha256 => pb::SignatureAlgorithm::HmacSha256Hex,
                HexAlgorithm::Sha512 => pb::SignatureAlgorithm::HmacSha512Hex,
            } as i32,
            prefix: s.prefix,
            algorithm_header: s
                .algorithm_header
                .map(|h| h.as_str().to_owned())
                .unwrap_or_default(),
        }),
        timeout: Some(duration_to_pb(spec.timeout)),
        rate_limit: spec.rate_limit,
        ordered: spec.ordered,
        metadata: spec.metadata,
        create_time: Some(timestamp(subscription.create_time)),
        update_time: Some(timestamp(subscription.update_time)),
    }
}
