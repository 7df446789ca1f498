//! Replies to people, sent after the ack: an ordered, bounded queue per lane, drained by one
//! worker each, so that nothing is spawned per request and a burst costs memory for at most
//! the queue's capacity.
//!
//! What goes here is help for one person at one moment (an ephemeral answer, a modal to
//! open, a Home tab): worthless once stale. Nothing durable waits here: step messages and
//! warnings are rendered from the database by the presenter and the monitor. So a reply that
//! is too old when its turn comes, or that finds its queue full, is dropped and counted
//! ([`ReplyStats`], and `scim_rotator_slack_replies_total` in the metrics).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// An ephemeral reply older than this can no longer help the person who clicked.
pub const REPLY_STALE_AFTER: Duration = Duration::from_secs(60);

/// A modal must open within its trigger's life (3 s); one that waited longer would fail.
pub const VIEW_STALE_AFTER: Duration = Duration::from_secs(3);

/// Replies that may wait: at Slack's 100 ephemerals a minute, more than a minute's worth
/// would be stale before their turn.
pub const REPLY_QUEUE: usize = 256;

/// Modals that may wait: each must open within 3 s, so only a few can ever be served in time.
pub const VIEW_QUEUE: usize = 32;

/// Counts of what became of the replies (per bot, so tests can tell theirs apart).
#[derive(Debug, Default)]
pub struct ReplyStats {
    pub queued: AtomicU64,
    pub sent: AtomicU64,
    /// Slack refused it or did not answer (logged).
    pub failed: AtomicU64,
    /// Too old when its turn came.
    pub dropped_stale: AtomicU64,
    /// The queue was full.
    pub dropped_full: AtomicU64,
    /// Taken from the queue by its worker (then sent, failed or found stale).
    pub taken: AtomicU64,
}

impl ReplyStats {
    /// Replies whose fate is known: sent, failed or dropped.
    pub fn accounted(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
            + self.failed.load(Ordering::SeqCst)
            + self.dropped_stale.load(Ordering::SeqCst)
            + self.dropped_full.load(Ordering::SeqCst)
    }

    /// Replies queued and not yet taken by their worker.
    pub fn waiting(&self) -> u64 {
        self.queued.load(Ordering::SeqCst) - self.taken.load(Ordering::SeqCst)
    }

    /// Every reply offered so far, whether queued or dropped for a full queue.
    pub fn offered(&self) -> u64 {
        self.queued.load(Ordering::SeqCst) + self.dropped_full.load(Ordering::SeqCst)
    }

    pub fn record(&self, outcome: ReplyOutcome) {
        let counter = match outcome {
            ReplyOutcome::Sent => &self.sent,
            ReplyOutcome::Failed => &self.failed,
            ReplyOutcome::Stale => &self.dropped_stale,
            ReplyOutcome::QueueFull => &self.dropped_full,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        crate::metrics::global().slack_reply(outcome.label());
    }
}

/// What became of one reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyOutcome {
    Sent,
    Failed,
    Stale,
    QueueFull,
}

impl ReplyOutcome {
    pub fn label(self) -> &'static str {
        match self {
            ReplyOutcome::Sent => "sent",
            ReplyOutcome::Failed => "failed",
            ReplyOutcome::Stale => "dropped_stale",
            ReplyOutcome::QueueFull => "dropped_queue_full",
        }
    }
}

struct Queued<T> {
    item: T,
    at: Instant,
}

/// The sending side of one lane.
pub struct Lane<T> {
    queue: mpsc::Sender<Queued<T>>,
    stats: Arc<ReplyStats>,
}

/// The worker's side of one lane: yields items in order, skipping (and counting) stale ones.
pub struct LaneReceiver<T> {
    queue: mpsc::Receiver<Queued<T>>,
    stale_after: Duration,
    stats: Arc<ReplyStats>,
}

/// A lane holding at most `capacity` items, each useful for `stale_after`.
pub fn lane<T>(
    capacity: usize,
    stale_after: Duration,
    stats: Arc<ReplyStats>,
) -> (Lane<T>, LaneReceiver<T>) {
    let (queue, receiver) = mpsc::channel(capacity);
    (
        Lane {
            queue,
            stats: Arc::clone(&stats),
        },
        LaneReceiver {
            queue: receiver,
            stale_after,
            stats,
        },
    )
}

impl<T> Lane<T> {
    /// Queues `item` without waiting; a full queue drops it (counted). `false` when dropped.
    pub fn push(&self, item: T) -> bool {
        let queued = Queued {
            item,
            at: Instant::now(),
        };
        match self.queue.try_send(queued) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::SeqCst);
                crate::metrics::global().reply_waiting(true);
                true
            }
            Err(_) => {
                self.stats.record(ReplyOutcome::QueueFull);
                false
            }
        }
    }
}

impl<T> LaneReceiver<T> {
    /// The next item still fresh, with how long it waited; `None` when every sender is gone.
    pub async fn next(&mut self) -> Option<(T, Duration)> {
        loop {
            let queued = self.queue.recv().await?;
            self.stats.taken.fetch_add(1, Ordering::SeqCst);
            crate::metrics::global().reply_waiting(false);
            let waited = queued.at.elapsed();
            if is_stale(waited, self.stale_after) {
                self.stats.record(ReplyOutcome::Stale);
                continue;
            }
            return Some((queued.item, waited));
        }
    }
}

/// Whether an item that waited `waited` can no longer help.
fn is_stale(waited: Duration, stale_after: Duration) -> bool {
    waited >= stale_after
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_is_counted_and_items_come_in_order() {
        let stats = Arc::new(ReplyStats::default());
        let (lane, mut receiver) = lane(2, Duration::from_secs(60), Arc::clone(&stats));
        assert!(lane.push(1));
        assert!(lane.push(2));
        assert!(!lane.push(3), "the queue holds two");
        assert_eq!(receiver.next().await.map(|(item, _)| item), Some(1));
        assert!(lane.push(4));
        drop(lane);
        assert_eq!(receiver.next().await.map(|(item, _)| item), Some(2));
        assert_eq!(receiver.next().await.map(|(item, _)| item), Some(4));
        assert_eq!(receiver.next().await.map(|(item, _)| item), None);
        assert_eq!(stats.dropped_full.load(Ordering::SeqCst), 1);
        assert_eq!(stats.offered(), 4);
        for _ in 0..3 {
            stats.record(ReplyOutcome::Sent);
        }
        assert_eq!(stats.accounted(), stats.offered());
    }

    #[tokio::test]
    async fn a_stale_item_is_skipped_and_counted() {
        let stats = Arc::new(ReplyStats::default());
        let (lane, mut receiver) = lane(4, Duration::ZERO, Arc::clone(&stats));
        assert!(lane.push("old"));
        drop(lane);
        assert_eq!(receiver.next().await.map(|(item, _)| item), None);
        assert_eq!(stats.dropped_stale.load(Ordering::SeqCst), 1);
        assert!(is_stale(Duration::from_secs(61), REPLY_STALE_AFTER));
        assert!(!is_stale(Duration::from_secs(59), REPLY_STALE_AFTER));
        assert!(is_stale(Duration::ZERO, Duration::ZERO));
    }
}
