//! The Subscription message and the domain values it carries: a request's
//! fields parsed one by one (every violation collected), and a subscription
//! converted back. The limits themselves live in the domain types.

use crate::domain::{
    Backoff, CustomHeaders, DeliveryTimeout, Description, EndpointUrl, EventTypePattern,
    HexAlgorithm, PatternListError, PayloadFilter, RateLimit, RateLimitError, ResourceName,
    RetryPolicy, Scope, SignatureProfile, SubscriptionHealth, TargetPolicy, parse_pattern_list,
};
use crate::grpc::convert::{self, duration_from_pb, duration_to_pb, timestamp};
use crate::grpc::profile::{profile_from_pb, profile_to_pb};
use crate::proto as pb;
use crate::service::subscriptions::{Subscription, SubscriptionPatch, SubscriptionSpec};
use crate::service::{ServiceError, Violations};
use std::collections::BTreeMap;
use std::time::Duration;

/// A complete subscription from CreateSubscription: unset fields take defaults.
pub(super) fn spec_from_pb(
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
    let profile = profile_from_pb(input.profile);
    let filter = filter(input.filter.as_ref(), &mut v);
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
        Some(filter),
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
        filter,
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
        profile,
        unsigned: input.unsigned,
        filter,
    })
}

/// The fields named by an update mask, each validated like on create.
pub(super) fn patch_from_pb(
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
            "profile" => patch.profile = Some(profile_from_pb(input.profile.clone())),
            "filter" => patch.filter = filter(input.filter.as_ref(), &mut v),
            "unsigned" => v.add(
                "update_mask",
                "\"unsigned\" is set on create; RotateSubscriptionSecret gives an unsigned subscription a secret",
            ),
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
                    "unknown field {other:?}; mutable fields: name, description, url, event_types, enabled, headers, retry_policy, signature, timeout, rate_limit, ordered, metadata, profile, filter"
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

/// The payload filter: unset or `{}` is none. A problem is named by its
/// place in the filter, `subscription.filter.amount.$gte`.
fn filter(
    input: Option<&prost_types::Struct>,
    v: &mut Violations,
) -> Option<Option<PayloadFilter>> {
    let Some(input) = input.filter(|s| !s.fields.is_empty()) else {
        return Some(None);
    };
    match PayloadFilter::parse(&convert::struct_to_json(input.clone())) {
        Ok(filter) => Some(Some(filter)),
        Err(err) => {
            let field = match err.path() {
                "" => "subscription.filter".to_owned(),
                path => format!("subscription.filter.{path}"),
            };
            v.add(field, err.reason());
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
    .map(|policy| policy.with_jitter(input.jitter.unwrap_or(true)))
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

fn backoff_to_pb(backoff: Backoff) -> pb::Backoff {
    match backoff {
        Backoff::Exponential => pb::Backoff::Exponential,
        Backoff::Linear => pb::Backoff::Linear,
        Backoff::Fixed => pb::Backoff::Fixed,
    }
}

pub(super) fn to_pb(subscription: Subscription) -> pb::Subscription {
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
            jitter: Some(policy.jitter),
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
        health: subscription.health.map(health_to_pb),
        profile: (!spec.profile.is_default()).then(|| profile_to_pb(spec.profile)),
        unsigned: spec.unsigned,
        filter: spec
            .filter
            .as_ref()
            .and_then(|f| convert::json_to_struct(&f.to_json())),
    }
}

fn health_to_pb(health: SubscriptionHealth) -> pb::SubscriptionHealth {
    pb::SubscriptionHealth {
        success_ratio_24h: health.success_ratio_24h(),
        last_success_time: health.last_success_time.map(timestamp),
        failing_since: health.failing_since.map(timestamp),
        consecutive_failures: health.consecutive_failures,
        attempts_24h: health.attempts_24h,
    }
}
