//! Issuing coupons: one issuer task per stock in this process takes every request
//! waiting, decides each in order against the stock's and the users' counts, and commits
//! the batch as one unit of work checked by version.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::{Expect, RecordWrite};
use serde::{Deserialize, Serialize};

use super::{
    Coupon, CouponStatus, Coupons, IssueRequest, Stock, StockStatus, coupon_write, stock_write,
};
use crate::error::PayError;
use crate::ids;
use crate::service::{CONFLICT_RETRIES_MAX, PayService, check_text, sha256_hex};
use crate::store::{self, kind, load};
use crate::time::Day;

/// Issue requests one stock's issuer takes in one unit of work at most.
const ISSUE_BATCH_MAX: usize = 256;
/// Issue requests waiting for one stock's issuer at most; further askers wait to queue.
/// 4,096 × ~300 bytes ≈ 1.2 MiB per busy stock.
const ISSUE_QUEUE_CAPACITY: usize = 4_096;

/// An issue request waiting for its stock's issuer.
pub(crate) struct Queued {
    request: IssueRequest,
    user_id: String,
    reply: tokio::sync::oneshot::Sender<Result<Coupon, PayError>>,
}

/// Coupons of one stock a user got.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UserCount {
    issued: u64,
}

/// The coupon an issue request made.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IssueReceipt {
    coupon_id: String,
    openid: String,
}

/// One batch being decided: the stock as the batch leaves it, the users' counts and the
/// coupons made so far, and what to write.
struct Batch {
    stock: Stock,
    counts: HashMap<String, (UserCount, Expect)>,
    receipts: HashMap<String, Coupon>,
    writes: Vec<RecordWrite>,
    now: Timestamp,
    day: String,
}

impl Coupons {
    /// The issuer of `stock_id`, started (with `service`) if none is running.
    fn issuer(
        &self,
        service: &Arc<PayService>,
        stock_id: &str,
    ) -> tokio::sync::mpsc::Sender<Queued> {
        let mut issuers = self
            .issuers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(sender) = issuers.get(stock_id)
            && !sender.is_closed()
        {
            return sender.clone();
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(ISSUE_QUEUE_CAPACITY);
        issuers.insert(stock_id.to_owned(), sender.clone());
        let service = Arc::clone(service);
        let lock = self.stock_lock(stock_id);
        let stock_id = stock_id.to_owned();
        tokio::spawn(async move { service.run_issuer(&stock_id, &lock, receiver).await });
        sender
    }

    fn forget_issuer(&self, stock_id: &str) {
        let mut issuers = self
            .issuers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        issuers.remove(stock_id);
    }
}

impl PayService {
    /// Issues a coupon of a running stock to a user, idempotent on `out_request_no`
    /// per stock.
    ///
    /// Requests for one stock are queued to that stock's issuer, which takes everything
    /// waiting, decides each in order against the stock's and the users' counts, and
    /// commits them as one unit of work: the limits hold exactly, and one durable commit
    /// serves many requests.
    ///
    /// # Errors
    ///
    /// [`PayError::StockNotFound`], [`PayError::StockNotActive`] (not running, or
    /// outside its window), [`PayError::UserNotFound`] for an openid nobody has,
    /// [`PayError::CouponLimitPerUser`], [`PayError::StockExhausted`].
    pub async fn issue_coupon(self: &Arc<Self>, request: IssueRequest) -> Result<Coupon, PayError> {
        check_text("/out_request_no", &request.out_request_no, 1, 128)?;
        let user_id = self
            .user_of_openid(&request.appid, &request.openid)
            .await?
            .ok_or_else(|| PayError::UserNotFound {
                user_id: format!("openid {} under {}", request.openid, request.appid),
            })?;
        let coupons = self.coupons()?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queued = Queued {
            request,
            user_id,
            reply,
        };
        let stock_id = queued.request.stock_id.clone();
        let sender = coupons.issuer(self, &stock_id);
        if let Err(returned) = sender.send(queued).await {
            // The issuer is gone (its task ended abnormally): start a new one, retry once.
            coupons.forget_issuer(&stock_id);
            coupons
                .issuer(self, &stock_id)
                .send(returned.0)
                .await
                .map_err(|_| PayError::Busy {
                    what: "stock".to_owned(),
                })?;
        }
        answer.await.map_err(|_| PayError::Busy {
            what: "stock".to_owned(),
        })?
    }

    /// One stock's issuer: batches of waiting requests, each batch one unit of work
    /// under the stock's `lock`.
    async fn run_issuer(
        &self,
        stock_id: &str,
        lock: &tokio::sync::Mutex<()>,
        mut receiver: tokio::sync::mpsc::Receiver<Queued>,
    ) {
        while let Some(first) = receiver.recv().await {
            let mut batch = vec![first];
            while batch.len() < ISSUE_BATCH_MAX {
                match receiver.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let _held = lock.lock().await;
            let answers = self.issue_batch(stock_id, &batch).await;
            for (queued, answer) in batch.into_iter().zip(answers) {
                // The asker may have gone away; its coupon stands either way.
                let _ = queued.reply.send(answer);
            }
        }
    }

    /// Decides and commits one batch; every request gets an answer.
    async fn issue_batch(&self, stock_id: &str, batch: &[Queued]) -> Vec<Result<Coupon, PayError>> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            match self.try_issue_batch(stock_id, batch).await {
                Ok(Some(answers)) => return answers,
                Ok(None) => {}
                Err(error) => return batch.iter().map(|_| Err(error.clone())).collect(),
            }
        }
        batch
            .iter()
            .map(|_| {
                Err(PayError::Busy {
                    what: "stock".to_owned(),
                })
            })
            .collect()
    }

    /// `Ok(None)` when a record changed under the batch (it is decided again).
    async fn try_issue_batch(
        &self,
        stock_id: &str,
        queue: &[Queued],
    ) -> Result<Option<Vec<Result<Coupon, PayError>>>, PayError> {
        let found = load::<Stock>(&*self.records_port(), kind::STOCK, stock_id).await?;
        let now = self.now();
        let Some((stock, version)) = found else {
            return Ok(Some(
                queue
                    .iter()
                    .map(|_| {
                        Err(PayError::StockNotFound {
                            stock_id: stock_id.to_owned(),
                        })
                    })
                    .collect(),
            ));
        };
        let mut batch = Batch {
            stock,
            counts: HashMap::new(),
            receipts: HashMap::new(),
            writes: Vec::new(),
            now,
            day: Day::of(now).iso(),
        };
        let mut answers = Vec::with_capacity(queue.len());
        for queued in queue {
            answers.push(self.decide(&mut batch, queued).await?);
        }
        if batch.writes.is_empty() {
            return Ok(Some(answers));
        }
        let mut writes = batch.writes;
        writes.push(stock_write(&batch.stock, Expect::Version(version))?);
        for (user_id, (count, expect)) in &batch.counts {
            writes.push(store::write(
                kind::COUPON_COUNT,
                &format!("{stock_id}|{user_id}"),
                *expect,
                count,
                vec![],
            )?);
        }
        if self.try_commit_records(writes).await? {
            Ok(Some(answers))
        } else {
            Ok(None)
        }
    }

    /// Decides one queued request against the batch so far: its answer, and (for a new
    /// coupon) its writes added to the batch.
    async fn decide(
        &self,
        batch: &mut Batch,
        queued: &Queued,
    ) -> Result<Result<Coupon, PayError>, PayError> {
        let request = &queued.request;
        let stock_id = batch.stock.stock_id.clone();
        if batch.stock.creator_mchid != request.creator_mchid {
            return Ok(Err(PayError::StockNotFound { stock_id }));
        }
        let receipt_key = format!("{stock_id}|{}", request.out_request_no);
        if let Some(coupon) = batch.receipts.get(&receipt_key) {
            return Ok(same_request(coupon, request));
        }
        if let Some(answer) = self.earlier_request(&receipt_key, request).await? {
            return Ok(answer);
        }
        if let Err(refusal) = check_issuable(&batch.stock, &batch.day, batch.now) {
            return Ok(Err(refusal));
        }
        let user_id = &queued.user_id;
        let count = match batch.counts.entry(user_id.clone()) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(self.user_count(&stock_id, user_id).await?),
        };
        let (count, _) = count;
        if count.issued >= batch.stock.max_coupons_per_user {
            return Ok(Err(PayError::CouponLimitPerUser {
                limit: batch.stock.max_coupons_per_user,
            }));
        }
        count.issued += 1;
        let coupon = batch.issue(request, user_id)?;
        batch.receipts.insert(receipt_key, coupon.clone());
        Ok(Ok(coupon))
    }

    /// The answer to a request number an earlier batch already used, if one did.
    async fn earlier_request(
        &self,
        receipt_key: &str,
        request: &IssueRequest,
    ) -> Result<Option<Result<Coupon, PayError>>, PayError> {
        let records = self.records_port();
        let Some((receipt, _)) =
            load::<IssueReceipt>(&*records, kind::COUPON_REQUEST, receipt_key).await?
        else {
            return Ok(None);
        };
        let coupon = load::<Coupon>(&*records, kind::COUPON, &receipt.coupon_id)
            .await?
            .map(|(coupon, _)| coupon);
        Ok(Some(match coupon {
            Some(coupon) => same_request(&coupon, request),
            None => Err(PayError::Busy {
                what: "coupon".to_owned(),
            }),
        }))
    }

    /// A user's count of coupons from a stock, and how to write it back.
    async fn user_count(
        &self,
        stock_id: &str,
        user_id: &str,
    ) -> Result<(UserCount, Expect), PayError> {
        let count_key = format!("{stock_id}|{user_id}");
        Ok(
            load::<UserCount>(&*self.records_port(), kind::COUPON_COUNT, &count_key)
                .await?
                .map_or(
                    (UserCount::default(), Expect::Absent),
                    |(count, version)| (count, Expect::Version(version)),
                ),
        )
    }

    /// A user claims a coupon of a running stock for themselves (a merchant's claim
    /// page); `client_ref` makes a repeated claim the same claim.
    ///
    /// # Errors
    ///
    /// As [`PayService::issue_coupon`].
    pub async fn claim_coupon(
        self: &Arc<Self>,
        user_id: &str,
        stock_id: &str,
        client_ref: &str,
    ) -> Result<Coupon, PayError> {
        check_text("client_ref", client_ref, 8, 64)?;
        let stock = load::<Stock>(&*self.records_port(), kind::STOCK, stock_id)
            .await?
            .map(|(stock, _)| stock)
            .ok_or_else(|| PayError::StockNotFound {
                stock_id: stock_id.to_owned(),
            })?;
        let creator = self.existing_merchant(&stock.creator_mchid).await?;
        let appid = creator.appids.first().cloned().ok_or_else(|| {
            PayError::rule("the stock's creator has no app to issue coupons under")
        })?;
        let openid = self.openid_remembered(&appid, user_id).await?;
        let reference = sha256_hex(format!("{user_id}\n{client_ref}").as_bytes());
        self.issue_coupon(IssueRequest {
            stock_id: stock_id.to_owned(),
            creator_mchid: stock.creator_mchid,
            appid,
            openid,
            out_request_no: format!("claim-{}", &reference[..24]),
        })
        .await
    }
}

impl Batch {
    /// Issues one coupon of the batch's stock to `user_id`: counted on the stock, its
    /// record and its request's receipt added to the writes.
    fn issue(&mut self, request: &IssueRequest, user_id: &str) -> Result<Coupon, PayError> {
        let stock = &mut self.stock;
        let today = stock
            .distributed_by_day_minor
            .get(&self.day)
            .copied()
            .unwrap_or(0);
        stock.distributed_coupons += 1;
        // At most max_coupons × coupon_amount = max_amount, which `check_stock`
        // computed with a checked product: these sums stay in range.
        stock.distributed_amount_minor += stock.coupon_amount_minor;
        stock
            .distributed_by_day_minor
            .insert(self.day.clone(), today + stock.coupon_amount_minor);
        let coupon = Coupon {
            coupon_id: ids::new_coupon_id(),
            stock_id: stock.stock_id.clone(),
            creator_mchid: stock.creator_mchid.clone(),
            name: stock.name.clone(),
            user_id: user_id.to_owned(),
            appid: request.appid.clone(),
            openid: request.openid.clone(),
            amount_minor: stock.coupon_amount_minor,
            transaction_minimum_minor: stock.transaction_minimum_minor,
            status: CouponStatus::Sended,
            available_begin: stock.available_begin,
            available_end: stock.available_end,
            no_cash: stock.no_cash,
            created_at: self.now,
            out_request_no: request.out_request_no.clone(),
            consumed: None,
        };
        self.writes.push(coupon_write(&coupon, Expect::Absent)?);
        self.writes.push(store::write(
            kind::COUPON_REQUEST,
            &format!("{}|{}", stock.stock_id, request.out_request_no),
            Expect::Absent,
            &IssueReceipt {
                coupon_id: coupon.coupon_id.clone(),
                openid: request.openid.clone(),
            },
            vec![],
        )?);
        Ok(coupon)
    }
}

/// Whether `stock` issues now: running, within its window, with coupons and the day's
/// budget left.
fn check_issuable(stock: &Stock, day: &str, now: Timestamp) -> Result<(), PayError> {
    let stock_id = &stock.stock_id;
    if stock.status != StockStatus::Running {
        return Err(PayError::StockNotActive {
            reason: format!(
                "批次不在发放状态: stock {stock_id} is {}",
                stock.status.wire()
            ),
        });
    }
    if now < stock.available_begin || now >= stock.available_end {
        return Err(PayError::StockNotActive {
            reason: format!("stock {stock_id} issues only within its available window"),
        });
    }
    let today = stock
        .distributed_by_day_minor
        .get(day)
        .copied()
        .unwrap_or(0);
    let over_day = stock
        .max_amount_by_day_minor
        .is_some_and(|by_day| today.saturating_add(stock.coupon_amount_minor) > by_day);
    if stock.distributed_coupons >= stock.max_coupons || over_day {
        return Err(PayError::StockExhausted {
            stock_id: stock_id.clone(),
        });
    }
    Ok(())
}

/// The answer to an `out_request_no` used before: its coupon, if for the same user.
fn same_request(coupon: &Coupon, request: &IssueRequest) -> Result<Coupon, PayError> {
    if coupon.openid == request.openid {
        Ok(coupon.clone())
    } else {
        Err(PayError::rule(format!(
            "out_request_no {} was already used for another user",
            request.out_request_no
        )))
    }
}
