//! Events: publishing and reading them. A publish writes the event and one
//! delivery per matching, enabled subscription in one transaction (the
//! transactional outbox), so nothing is sent before the commit and nothing
//! committed is lost. The publish path is one step per file:
//!
//! - `prepare`: what needs no database (capability, batch size, scope);
//! - `catalog`: every type registered and active, payloads valid;
//! - `idempotency`: caller ids already published, or twice in a group;
//! - `routing`: each tenant's subscriptions and catalog, kept in memory
//!   until the database says they changed;
//! - `route`: which subscriptions get a delivery, and which of those the
//!   local dispatcher takes at once;
//! - `write`: a group of publishes in one transaction.
//!
//! `reads` serves GetEvent and ListEvents, `expunge` ExpungeEvent.

mod catalog;
mod expunge;
mod idempotency;
mod prepare;
mod reads;
mod route;
mod routing;
mod write;

pub use crate::domain::OPERATIONAL_PREFIX;
pub use expunge::{EXPUNGED_REASON, expunge};
pub use prepare::{MAX_BATCH, check_batch_size, prepare, publish_operational};
pub use reads::{event_page_key, get, list};
pub(super) use routing::RoutingCache;
pub(super) use write::{Written, write_jobs};

use crate::domain::{EventId, EventTypeName, Scope};

/// Published to a tenant when one of its subscriptions is disabled.
pub const SUBSCRIPTION_DISABLED: &str = "hookrelay.subscription.disabled";
/// SendTestEvent's ping; never stored or fanned out.
pub const TEST_EVENT: &str = "hookrelay.test";

/// A validated event to publish.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// The publisher's own id (an idempotency key), or `None` for a new one.
    pub id: Option<EventId>,
    pub event_type: EventTypeName,
    pub scope: Option<Scope>,
    /// A JSON object's text, kept byte for byte.
    pub payload: String,
    /// String labels, or any JSON object.
    pub metadata: JsonObject,
    /// Top-level attributes a delivery profile can place in the body.
    pub attributes: Option<JsonObject>,
}

/// A JSON object, keys sorted (so stored text is deterministic).
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

#[derive(Clone, Debug)]
pub struct Event {
    pub id: String,
    pub event_type: String,
    pub scope: Option<String>,
    pub payload: String,
    pub metadata: JsonObject,
    pub attributes: Option<JsonObject>,
    pub create_time: i64,
    /// When ExpungeEvent removed its data: `payload` is then empty, and
    /// `metadata` and `attributes` too.
    pub expunge_time: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct Published {
    pub event: Event,
    pub subscription_count: u32,
    /// The id was already published: this is the original, nothing new was queued.
    pub duplicate: bool,
}

/// One publish request as the writer sees it.
pub(in crate::service) struct Job {
    pub tenant_id: String,
    pub events: Vec<NewEvent>,
    /// Check types and payloads against the catalog, naming fields this
    /// way; `None` for hookrelay's own events.
    pub catalog: Option<FieldPaths>,
}

/// How the request names its events in field violations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldPaths {
    /// PublishEvent: `event.type`.
    Single,
    /// BatchPublishEvents: `events[2].type`, even in a batch of one.
    Batch,
}

impl FieldPaths {
    fn of(self, index: usize) -> String {
        match self {
            Self::Single => "event".to_owned(),
            Self::Batch => format!("events[{index}]"),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    pub scope: Option<Scope>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    /// Newest first (`create_time desc`) rather than oldest first.
    pub newest_first: bool,
}
