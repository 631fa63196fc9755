//! The operator's view of a day: payments and volume by channel, and how much of the
//! offline (in-person) volume came through service providers — the figure the WeChat
//! Open Class put at 97%, computed here from the day's real orders.

use std::collections::HashMap;

use crate::error::PayError;
use crate::model::{MerchantKind, Order, TradeType};
use crate::service::PayService;
use crate::store::{index, kind};
use crate::time::Day;

/// Where a payment came from, each payment in exactly one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A direct merchant's own order (JSAPI, Native, H5, App).
    Direct,
    /// A direct merchant charging a payment code at its counter.
    PaymentCode,
    /// Any order a service provider placed for a sub-merchant (its counter payments
    /// too).
    ServiceProvider,
    /// A payment through a micro-merchant's collection code.
    CollectionCode,
}

impl Channel {
    /// Every channel, in report order.
    pub const ALL: [Self; 4] = [
        Self::Direct,
        Self::ServiceProvider,
        Self::CollectionCode,
        Self::PaymentCode,
    ];

    /// The spelling in `/api/v1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::PaymentCode => "payment_code",
            Self::ServiceProvider => "service_provider",
            Self::CollectionCode => "collection_code",
        }
    }
}

/// Payments and their volume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Payments.
    pub payments: u64,
    /// Their total, fen.
    pub volume_minor: i64,
}

impl Tally {
    fn add(&mut self, order: &Order) -> Result<(), PayError> {
        self.payments += 1;
        self.volume_minor =
            crate::money::add(self.volume_minor, order.total_minor, "the day's volume")?;
        Ok(())
    }
}

/// One day, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayReport {
    /// The day (China Standard Time).
    pub day: Day,
    /// Every payment of the day.
    pub total: Tally,
    /// By channel, in [`Channel::ALL`] order.
    pub channels: Vec<(Channel, Tally)>,
    /// In-person payments: payment codes at counters (direct or through providers) and
    /// collection codes.
    pub offline: Tally,
    /// The part of [`DayReport::offline`] a service provider handled.
    pub offline_through_providers: Tally,
}

impl DayReport {
    /// The providers' share of offline volume, in basis points (0 when there was none).
    pub fn provider_share_bps(&self) -> i64 {
        if self.offline.volume_minor <= 0 {
            return 0;
        }
        // In i128: volumes up to i64::MAX times 10,000 do not fit in i64. The share is
        // at most 10,000 since the providers' volume is part of the offline one.
        let share = i128::from(self.offline_through_providers.volume_minor) * 10_000
            / i128::from(self.offline.volume_minor);
        i64::try_from(share).unwrap_or(10_000)
    }
}

impl PayService {
    /// The operator's report of `day`, from every order paid that day.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn day_report(&self, day: Day) -> Result<DayReport, PayError> {
        let orders: Vec<Order> = self
            .all_under(kind::ORDER, index::PAID_DAY, &day.iso())
            .await?;
        let mut kinds: HashMap<String, MerchantKind> = HashMap::new();
        let mut report = DayReport {
            day,
            total: Tally::default(),
            channels: Channel::ALL
                .iter()
                .map(|channel| (*channel, Tally::default()))
                .collect(),
            offline: Tally::default(),
            offline_through_providers: Tally::default(),
        };
        for order in &orders {
            if !kinds.contains_key(&order.mchid) {
                let merchant_kind = self
                    .merchant_shared(&order.mchid)
                    .await?
                    .map_or(MerchantKind::Direct, |merchant| merchant.kind);
                kinds.insert(order.mchid.clone(), merchant_kind);
            }
            let merchant_kind = kinds
                .get(&order.mchid)
                .copied()
                .unwrap_or(MerchantKind::Direct);
            let channel = if order.sp_mchid.is_some() {
                Channel::ServiceProvider
            } else if merchant_kind == MerchantKind::Micro {
                Channel::CollectionCode
            } else if order.trade_type == TradeType::Micropay {
                Channel::PaymentCode
            } else {
                Channel::Direct
            };
            report.total.add(order)?;
            if let Some((_, tally)) = report.channels.iter_mut().find(|(c, _)| *c == channel) {
                tally.add(order)?;
            }
            let offline =
                order.trade_type == TradeType::Micropay || merchant_kind == MerchantKind::Micro;
            if offline {
                report.offline.add(order)?;
                if order.sp_mchid.is_some() {
                    report.offline_through_providers.add(order)?;
                }
            }
        }
        Ok(report)
    }
}
