//! The idempotency step of a publish: an event whose caller-supplied id was
//! published before (or earlier in the same group) is not stored again; the
//! caller gets the original back, marked as a duplicate.

use super::reads::to_event;
use super::{Event, Job, Published};
use crate::service::ServiceError;
use crate::store::{Connection, publish};
use std::collections::{HashMap, HashSet};

/// (tenant, event id).
type Key = (String, String);

/// What a group knows about ids: those stored before it, and those it
/// stores itself.
pub(super) struct Duplicates {
    /// Stored before, with how many deliveries each fanned out to.
    stored: HashMap<Key, (Event, u32)>,
    /// First seen in this group: (request, index in its results).
    seen: HashMap<Key, (usize, usize)>,
}

/// Whether an event repeats an id.
pub(super) enum Repeat {
    /// A new id: store the event.
    No,
    /// The id's original, to return instead.
    Of(Published),
    /// The id came first in a request that was refused: nothing to return.
    OfRefused,
}

impl Duplicates {
    /// No id stored before, taken on trust: a write planned with this must
    /// fail on a taken id (the events' primary key) rather than skip it.
    pub(super) fn none() -> Self {
        Self {
            stored: HashMap::new(),
            seen: HashMap::new(),
        }
    }

    /// Reads, in one statement, the events stored under the group's caller ids.
    pub(super) async fn load<C: Connection>(db: &C, jobs: &[Job]) -> Result<Self, ServiceError> {
        let mut wanted: HashSet<(&str, &str)> = HashSet::new();
        for job in jobs {
            for id in job.events.iter().filter_map(|e| e.id.as_ref()) {
                wanted.insert((job.tenant_id.as_str(), id.as_str()));
            }
        }
        let mut stored = HashMap::new();
        for (row, count) in publish::existing_events(db, &wanted).await? {
            let tenant_id = row.tenant_id.clone();
            let event = to_event(row)?;
            stored.insert((tenant_id, event.id.clone()), (event, count));
        }
        Ok(Self {
            stored,
            seen: HashMap::new(),
        })
    }

    /// Whether `id`, published by request `job` of tenant `tenant_id`,
    /// repeats an id; `results` are that request's results so far and
    /// `outcomes` every request's.
    pub(super) fn check(
        &self,
        tenant_id: &str,
        id: &str,
        job: usize,
        results: &[Published],
        outcomes: &[Result<Vec<Published>, ServiceError>],
    ) -> Repeat {
        let key = (tenant_id.to_owned(), id.to_owned());
        if let Some((event, count)) = self.stored.get(&key) {
            return Repeat::Of(Published {
                event: event.clone(),
                subscription_count: *count,
                duplicate: true,
            });
        }
        let Some(&(first_job, first_index)) = self.seen.get(&key) else {
            return Repeat::No;
        };
        let original = if first_job == job {
            results[first_index].clone()
        } else {
            match &outcomes[first_job] {
                Ok(published) => published[first_index].clone(),
                Err(_) => return Repeat::OfRefused,
            }
        };
        Repeat::Of(Published {
            duplicate: true,
            ..original
        })
    }

    /// Records that request `job` stores `id` as its result number `index`.
    pub(super) fn remember(&mut self, tenant_id: &str, id: &str, job: usize, index: usize) {
        self.seen
            .insert((tenant_id.to_owned(), id.to_owned()), (job, index));
    }
}
