//! The live feed behind WatchEvents and WatchDeliveries: a bounded broadcast
//! of what this process published and delivered. Publishing never waits for
//! a watcher: a watcher that falls behind skips ahead (and is told how much
//! it missed in the log) rather than slowing the dispatcher.

use super::deliveries::Delivery;
use super::events::Event;
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many changes a slow watcher may fall behind before it skips.
const FEED_CAPACITY: usize = 4096;

#[derive(Clone, Debug)]
pub enum Change {
    EventPublished { tenant_id: String, event: Event },
    DeliveryUpdated { delivery: Delivery },
}

#[derive(Clone)]
pub struct ChangeFeed(broadcast::Sender<Arc<Change>>);

impl Default for ChangeFeed {
    fn default() -> Self {
        Self(broadcast::channel(FEED_CAPACITY).0)
    }
}

impl ChangeFeed {
    /// Sends to current watchers, if any; never blocks.
    pub fn send(&self, change: Change) {
        if self.0.receiver_count() > 0 {
            let _ = self.0.send(Arc::new(change));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.0.subscribe()
    }
}
