//! `SubscriptionSpec`: everything a subscription is, each field already a
//! parsed domain value. The use cases build and change it, the store keeps
//! it, the dispatcher sends by it.

use super::{
    CustomHeaders, EndpointUrl, EventTypePattern, PayloadFilter, ProfileSpec, ResourceName,
    RetryPolicy, Scope, SignatureProfile,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// `timeout` and `rate_limit` are plain numbers because the dispatcher reads
/// them on every send; they were parsed by [`super::DeliveryTimeout`] and
/// [`super::RateLimit`] on the way in.
#[derive(Clone, Debug)]
pub struct SubscriptionSpec {
    pub name: ResourceName,
    pub description: String,
    pub url: EndpointUrl,
    pub event_types: Vec<EventTypePattern>,
    pub scope: Option<Scope>,
    pub enabled: bool,
    pub headers: CustomHeaders,
    pub retry_policy: RetryPolicy,
    pub signature: Option<SignatureProfile>,
    pub timeout: Duration,
    pub rate_limit: u32,
    pub ordered: bool,
    pub metadata: BTreeMap<String, String>,
    /// The delivery profile as declared (a preset and overrides).
    pub profile: ProfileSpec,
    /// No secret: requests carry no signature.
    pub unsigned: bool,
    /// Only events whose data matches; `None` (or an empty filter, which
    /// is stored as none) lets every event of its types through.
    pub filter: Option<PayloadFilter>,
}
