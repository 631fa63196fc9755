//! Realtime fan-out: chat messages, read receipts, live rooms. A publisher sends a
//! payload to a topic; every live subscription of that topic receives it, in the order
//! it was published.
//!
//! The one design decision: delivery here is best effort by design, and the systems
//! stay exact anyway. What is published was persisted first, each payload carries its
//! place (a sequence number), and a subscriber that lagged (its buffer overflowed) or
//! reconnected reads what it missed from the store and skips what it has seen. So a
//! broker that can drop messages under load (NATS core) fits behind [`FanOut`] without
//! changing a caller; [`InProcess`] is the implementation for one node.

#![deny(missing_docs)]

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// A payload as published: shared, so one serialisation serves every subscriber. Most
/// are JSON text (chat messages, receipts, a live room's events); a live room's media
/// goes as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Text, usually JSON.
    Text(Arc<str>),
    /// Bytes, e.g. a piece of a live video stream.
    Binary(Arc<[u8]>),
}

impl From<Arc<str>> for Payload {
    fn from(text: Arc<str>) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Payload {
    fn from(text: &str) -> Self {
        Self::Text(Arc::from(text))
    }
}

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// The next payload.
    Payload(Payload),
    /// This many payloads were dropped because the subscriber fell behind: read what
    /// was missed from the store.
    Lagged(u64),
    /// The topic is gone (the fan-out shut down).
    Closed,
}

/// One subscription to one topic.
pub trait Subscription: Send {
    /// The next payload, waiting for it.
    fn recv(&mut self) -> Pin<Box<dyn Future<Output = Received> + Send + '_>>;
}

/// Publish and subscribe by topic.
pub trait FanOut: Send + Sync {
    /// Sends `payload` to every current subscriber of `topic` (none is fine).
    fn publish(&self, topic: &str, payload: Payload);
    /// Subscribes to `topic`; payloads published from now on arrive.
    fn subscribe(&self, topic: &str) -> Box<dyn Subscription>;
}

/// Payloads a slow subscriber may be behind before it lags.
pub const BUFFER_PER_TOPIC: usize = 1_024;

/// Fan-out within this process: one broadcast channel per topic with subscribers.
#[derive(Debug, Default)]
pub struct InProcess {
    topics: Mutex<HashMap<String, broadcast::Sender<Payload>>>,
}

impl InProcess {
    /// An empty fan-out.
    pub fn new() -> Self {
        Self::default()
    }

    /// Topics that have (or recently had) subscribers.
    pub fn topics(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Payload>>> {
        // A panic while holding this lock leaves the map consistent (each operation is
        // one insert, lookup or removal), so a poisoned lock is still usable.
        self.topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct InProcessSubscription(broadcast::Receiver<Payload>);

impl Subscription for InProcessSubscription {
    fn recv(&mut self) -> Pin<Box<dyn Future<Output = Received> + Send + '_>> {
        Box::pin(async move {
            match self.0.recv().await {
                Ok(payload) => Received::Payload(payload),
                Err(broadcast::error::RecvError::Lagged(missed)) => Received::Lagged(missed),
                Err(broadcast::error::RecvError::Closed) => Received::Closed,
            }
        })
    }
}

impl FanOut for InProcess {
    fn publish(&self, topic: &str, payload: Payload) {
        let mut topics = self.lock();
        if let Some(sender) = topics.get(topic)
            && sender.send(payload).is_err()
        {
            // Nobody listens any more: forget the topic.
            topics.remove(topic);
        }
    }

    fn subscribe(&self, topic: &str) -> Box<dyn Subscription> {
        let mut topics = self.lock();
        let sender = topics
            .entry(topic.to_owned())
            .or_insert_with(|| broadcast::channel(BUFFER_PER_TOPIC).0);
        Box::new(InProcessSubscription(sender.subscribe()))
    }
}

/// The fan-out as shared by the systems.
pub type SharedFanOut = Arc<dyn FanOut>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_receive_in_order_and_others_nothing() {
        let fanout = InProcess::new();
        let mut first = fanout.subscribe("a");
        let mut second = fanout.subscribe("a");
        let mut other = fanout.subscribe("b");
        fanout.publish("a", Payload::Text(Arc::from("1")));
        fanout.publish("a", Payload::Text(Arc::from("2")));
        fanout.publish("nobody", Payload::Text(Arc::from("x")));
        for subscription in [&mut first, &mut second] {
            assert_eq!(
                subscription.recv().await,
                Received::Payload(Payload::from("1"))
            );
            assert_eq!(
                subscription.recv().await,
                Received::Payload(Payload::from("2"))
            );
        }
        fanout.publish("b", Payload::Text(Arc::from("3")));
        assert_eq!(other.recv().await, Received::Payload(Payload::from("3")));
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_how_much_it_missed() {
        let fanout = InProcess::new();
        let mut slow = fanout.subscribe("t");
        for i in 0..BUFFER_PER_TOPIC + 10 {
            fanout.publish("t", Payload::Text(Arc::from(i.to_string())));
        }
        assert_eq!(slow.recv().await, Received::Lagged(10));
        assert_eq!(slow.recv().await, Received::Payload(Payload::from("10")));
    }

    #[tokio::test]
    async fn a_topic_without_subscribers_is_forgotten() {
        let fanout = InProcess::new();
        drop(fanout.subscribe("t"));
        fanout.publish("t", Payload::Text(Arc::from("x")));
        assert_eq!(fanout.topics(), 0);
    }
}
