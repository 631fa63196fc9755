//! Notifications to merchants: written in the unit of work of the change they report,
//! delivered by the `pay.notify` job on WeChat's retry schedule, every attempt kept.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::queue::NewJob;
use plaza_kernel::record::{Expect, IndexEntry, RecordWrite};

use super::{CONFLICT_RETRIES_MAX, PayService, records_only};
use crate::error::PayError;
use crate::ids;
use crate::model::{DeliveryAttempt, DeliveryState, Notification, NotificationSubject};
use crate::store::{self, index, kind, load, time_value};

/// Job kind: deliver a notification (payload: its id).
pub const JOB_NOTIFY: &str = "pay.notify";

/// WeChat's notification retry schedule after a failed delivery, in seconds: 15 retries
/// over about 24 hours.
pub const NOTIFY_RETRY_DELAYS_S: [i64; 15] = [
    15, 15, 30, 180, 600, 1_200, 1_800, 1_800, 1_800, 3_600, 10_800, 10_800, 10_800, 21_600, 21_600,
];

/// How a delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// The merchant answered 2xx.
    Delivered,
    /// Try again then.
    RetryAt(Timestamp),
    /// No retries left.
    GaveUp,
}

impl PayService {
    /// One notification.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn notification(&self, id: &str) -> Result<Option<Notification>, PayError> {
        Ok(load::<Notification>(&*self.records, kind::NOTIFICATION, id)
            .await?
            .map(|(notification, _)| notification))
    }

    /// A merchant's notifications, newest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn notifications_of(
        &self,
        mchid: &str,
        rows_max: usize,
    ) -> Result<Vec<Notification>, PayError> {
        let found: Vec<Notification> = self
            .listed(
                kind::NOTIFICATION,
                index::MERCHANT_CREATED,
                format!("{mchid}|"),
                format!("{mchid}}}"),
                rows_max,
                true,
            )
            .await?;
        Ok(found)
    }

    /// Every notification, newest first (the sandbox console).
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn notifications_all(&self, rows_max: usize) -> Result<Vec<Notification>, PayError> {
        self.listed(
            kind::NOTIFICATION,
            index::CREATED,
            String::new(),
            "~".to_owned(),
            rows_max,
            true,
        )
        .await
    }

    /// Records a delivery attempt and what happens next (`None`: the state and the
    /// schedule stay as they are); returns the updated notification.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn record_attempt(
        &self,
        id: &str,
        attempt: DeliveryAttempt,
        outcome: Option<NotifyOutcome>,
    ) -> Result<Notification, PayError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut notification, version)) =
                load::<Notification>(&*self.records, kind::NOTIFICATION, id).await?
            else {
                return Err(PayError::rule(format!("notification {id} does not exist")));
            };
            notification.attempts.push(attempt.clone());
            if outcome.is_some() {
                notification.held_until = None;
            }
            match outcome {
                None => {}
                Some(NotifyOutcome::Delivered) => {
                    notification.state = DeliveryState::Delivered;
                    notification.next_attempt_at = None;
                }
                Some(NotifyOutcome::RetryAt(at)) => {
                    notification.state = DeliveryState::Pending;
                    notification.next_attempt_at = Some(at);
                }
                Some(NotifyOutcome::GaveUp) => {
                    notification.state = DeliveryState::Failed;
                    notification.next_attempt_at = None;
                }
            }
            let write = notification_write(&notification, Expect::Version(version))?;
            if self.try_commit_write(records_only(vec![write])).await? {
                return Ok(notification);
            }
        }
        Err(PayError::Busy {
            what: "notification".to_owned(),
        })
    }
}

/// When the next delivery is due after `attempts` failed ones, or `None` when the
/// schedule is used up.
pub fn next_retry_at(attempts: usize, now: Timestamp) -> Option<Timestamp> {
    NOTIFY_RETRY_DELAYS_S
        .get(attempts.checked_sub(1)?)
        .map(|delay_s| now.plus_ms(delay_s * 1_000))
}

/// A notification's record.
pub(crate) fn notification_write(
    notification: &Notification,
    expect: Expect,
) -> Result<RecordWrite, PayError> {
    store::write(
        kind::NOTIFICATION,
        &notification.id,
        expect,
        notification,
        vec![
            IndexEntry::new(
                index::MERCHANT_CREATED,
                format!(
                    "{}|{}",
                    notification.mchid,
                    time_value(notification.created_at.unix_ms())
                ),
            ),
            IndexEntry::new(
                index::CREATED,
                format!(
                    "{}|{}",
                    time_value(notification.created_at.unix_ms()),
                    notification.id
                ),
            ),
        ],
    )
}

/// A new notification to `mchid` at `notify_url` and its first delivery, due now: both
/// go into the unit of work of the change it reports.
pub(crate) fn new_notification(
    mchid: &str,
    notify_url: &str,
    subject: NotificationSubject,
    now: Timestamp,
) -> Result<(RecordWrite, NewJob), PayError> {
    let notification = Notification {
        id: ids::new_notification_id(),
        mchid: mchid.to_owned(),
        notify_url: notify_url.to_owned(),
        created_at: now,
        subject,
        state: DeliveryState::Pending,
        attempts: Vec::new(),
        next_attempt_at: Some(now),
        held_until: None,
    };
    let job = NewJob {
        kind: JOB_NOTIFY.to_owned(),
        key: notification.id.clone(),
        payload: notification.id.clone(),
        due_at: now,
    };
    Ok((notification_write(&notification, Expect::Absent)?, job))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_schedule_is_wechats() {
        let now = Timestamp::from_unix_ms(0);
        assert_eq!(next_retry_at(1, now), Some(Timestamp::from_unix_ms(15_000)));
        assert_eq!(next_retry_at(3, now), Some(Timestamp::from_unix_ms(30_000)));
        assert_eq!(
            next_retry_at(15, now),
            Some(Timestamp::from_unix_ms(21_600_000))
        );
        assert_eq!(next_retry_at(16, now), None);
        let total_s: i64 = NOTIFY_RETRY_DELAYS_S.iter().sum();
        assert_eq!(total_s, 24 * 3_600 + 4 * 60 + 15 + 15 + 30 - 60);
    }
}
