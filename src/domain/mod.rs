//! Pure domain layer: validated value types and the algorithms (signing, retry timing,
//! encryption) that the rest of hookrelay builds on. No I/O lives here.

pub mod api_token;
pub mod capability;
pub mod cipher;
pub mod delivery_stats;
pub mod delivery_status;
pub mod endpoint_health;
pub mod endpoint_url;
pub mod event_id;
pub mod event_type_name;
pub mod event_type_pattern;
pub mod headers;
pub mod ids;
pub mod names;
pub mod next_step;
pub mod outgoing_request;
pub mod pagination;
pub mod payload_filter;
pub mod profile;
pub mod retention;
pub mod retry;
pub mod routing;
pub mod secret;
pub mod signature_profile;
pub mod signing;

pub use api_token::{generate_token, hash_token, looks_like_token};
pub use capability::{Capabilities, Capability, CapabilityError};
pub use cipher::{CipherError, SecretCipher};
pub use delivery_stats::{DeliveryStats, StatsWindow, StatsWindowError};
pub use delivery_status::DeliveryStatus;
pub use endpoint_health::{HealthChange, Streak, SubscriptionHealth, health_changes};
pub use endpoint_url::{EndpointUrl, EndpointUrlError, TargetPolicy, is_forbidden_ip};
pub use event_id::{EventId, EventIdError};
pub use event_type_name::{EventTypeName, EventTypeNameError};
pub use event_type_pattern::{EventTypePattern, EventTypePatternError};
pub use headers::{CustomHeaders, HeaderError, HeaderViolation, TRANSPORT_HEADERS};
pub use ids::{IdKind, is_valid_id, new_id};
pub use names::{Description, ResourceName, Scope, TextError};
pub use next_step::{Answer, AttemptRecord, NextStep, decide, latest_by_subscription};
pub use outgoing_request::OutgoingRequest;
pub use pagination::{
    PageSizeError, PageTokenError, clamp_page_size, decode_page_token, encode_page_token,
};
pub use payload_filter::{PayloadFilter, PayloadFilterError};
pub use profile::{DeliveryProfile, OutgoingEvent, ProfileSpec, ProfileViolation};
pub use retention::{
    Cutoffs, MAX_RETENTION, RetentionPeriod, RetentionPeriodError, RetentionPolicy,
};
pub use retry::{Backoff, RetryPolicy, RetryPolicyError};
pub use routing::{OPERATIONAL_PREFIX, Route};
pub use secret::{WebhookSecret, WebhookSecretError};
pub use signature_profile::{SignatureProfile, SignatureProfileError};
pub use signing::{HexAlgorithm, hex_signature, standard_signature};
pub mod delivery_limits;
pub use delivery_limits::{
    DeliveryTimeout, DeliveryTimeoutError, RateLimit, RateLimitError, RotationOverlap,
    RotationOverlapError,
};
pub mod event_type_patterns;
pub use event_type_patterns::{
    MAX_EVENT_TYPE_PATTERNS, PatternEntryError, PatternEntryReason, PatternListError,
    parse_pattern_list,
};
pub mod subscription_spec;
pub use subscription_spec::SubscriptionSpec;
