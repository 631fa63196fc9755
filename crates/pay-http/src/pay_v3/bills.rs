//! Trade and fund-flow bills (§5): the `download_url` answer, the download itself, and
//! the CSV files in WeChat's layout (header row, back-quoted data rows, summary).
//!
//! Bills are made from the records on request: a closed day never changes, so the file
//! and its SHA-1 are the same at every download. Download tokens are self-contained
//! (HMAC-signed merchant, bill and expiry), so nothing is stored per download.

use std::io::Write as _;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use plaza_ledger::Transfer;
use plaza_pay::model::{Merchant, MerchantKind, Order, Refund, RefundBillParts};
use plaza_pay::time::{Day, bill_time};
use serde::{Deserialize, Serialize};

use super::{Caller, Location, PaySurface, V3Error, bad_query, json_response};
use crate::PayState;
use crate::extract::{constant_time_eq, hmac_hex};
use crate::host::wechat_pay_origin;
use plaza_http::host::Scheme;
use plaza_http::web::yuan;

/// How long a `download_url` works, in seconds.
const DOWNLOAD_TOKEN_TTL_S: i64 = 600;
/// How far back bills can be asked for, in days (three months).
const BILL_DAYS_BACK_MAX: i64 = 92;

#[derive(Debug, Deserialize)]
pub(crate) struct BillQuery {
    bill_date: Option<String>,
    bill_type: Option<String>,
    account_type: Option<String>,
    tar_type: Option<String>,
    sub_mchid: Option<String>,
    algorithm: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum BillKind {
    Trade,
    FundFlow,
}

/// Whose activity a bill covers, as the caller asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
enum Scope {
    /// The caller's own.
    #[default]
    Own,
    /// One sub-merchant of the calling service provider (`sub_mchid`).
    Sub(String),
    /// Every sub-merchant of the calling service provider (a provider without
    /// `sub_mchid`).
    AllSubs,
}

#[derive(Debug, Serialize, Deserialize)]
struct Token {
    mchid: String,
    kind: BillKind,
    day: String,
    bill_type: String,
    gzip: bool,
    expires_s: i64,
    #[serde(default)]
    scope: Scope,
    /// Encrypted bills (a sub-merchant's fund flow): a random salt from which the file's
    /// key and nonce are derived with the token secret, so neither travels in the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<String>,
}

/// The AES-256-GCM key (32 characters) and nonce (12) of an encrypted bill.
fn sealing(secret: &[u8], token: &Token) -> Option<(String, String)> {
    let salt = token.sealed.as_deref()?;
    let derive = |purpose: &str, len: usize| {
        let mac = hmac_hex(
            secret,
            format!("bill-{purpose}|{}|{salt}", token.mchid).as_bytes(),
        );
        mac.get(..len).map(str::to_owned)
    };
    Some((
        derive("key", plaza_wx::aead::KEY_LEN)?,
        derive("nonce", plaza_wx::aead::NONCE_LEN)?,
    ))
}

fn encode_token(secret: &[u8], token: &Token) -> String {
    let payload = serde_json::to_vec(token).unwrap_or_default();
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&payload);
    format!("{encoded}.{}", hmac_hex(secret, encoded.as_bytes()))
}

fn decode_token(secret: &[u8], text: &str) -> Option<Token> {
    let (encoded, tag) = text.split_once('.')?;
    let expected = hmac_hex(secret, encoded.as_bytes());
    if !constant_time_eq(expected.as_bytes(), tag.as_bytes()) {
        return None;
    }
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()?;
    serde_json::from_slice(&payload).ok()
}

fn no_statement(message: impl Into<String>) -> V3Error {
    V3Error::new(StatusCode::BAD_REQUEST, "NO_STATEMENT_EXIST", message)
}

/// A bill's sum or difference that does not fit in fen: a clear error, never a wrapped
/// number in a file merchants reconcile against.
fn overflow() -> V3Error {
    V3Error::system("a bill amount does not fit in 64-bit fen")
}

fn bill_day(surface: &PaySurface, query: &BillQuery) -> Result<Day, V3Error> {
    let text = query
        .bill_date
        .as_deref()
        .ok_or_else(|| V3Error::param("bill_date", "is required", Location::Query))?;
    let day =
        Day::parse(text).map_err(|issue| V3Error::param("bill_date", issue, Location::Query))?;
    let today = Day::of(surface.pay.now());
    if day >= today {
        return Err(no_statement(format!(
            "账单文件不存在: the bill of {} is made once the day is over",
            day.iso()
        )));
    }
    if today.start().unix_ms() - day.start().unix_ms() > BILL_DAYS_BACK_MAX * 86_400_000 {
        return Err(no_statement(
            "账单文件不存在: bills are kept for three months",
        ));
    }
    Ok(day)
}

fn gzip_wanted(query: &BillQuery) -> Result<bool, V3Error> {
    match query.tar_type.as_deref() {
        None | Some("") => Ok(false),
        Some("GZIP") => Ok(true),
        Some(_) => Err(V3Error::param(
            "tar_type",
            "must be GZIP or absent",
            Location::Query,
        )),
    }
}

/// The scope of a trade bill request: a direct merchant's own; a provider's one
/// sub-merchant (which must be its own) or, without `sub_mchid`, all of them.
async fn trade_scope(
    surface: &PaySurface,
    caller: &Caller,
    sub_mchid: Option<&str>,
) -> Result<Scope, V3Error> {
    let provider = caller.merchant.kind == MerchantKind::Provider;
    match sub_mchid {
        Some(sub_mchid) if provider => {
            surface
                .pay
                .sub_merchant_of(&caller.merchant.mchid, sub_mchid)
                .await?;
            Ok(Scope::Sub(sub_mchid.to_owned()))
        }
        Some(_) => Err(V3Error::param(
            "sub_mchid",
            "is for service providers; a merchant's bill is its own",
            Location::Query,
        )),
        None if provider => Ok(Scope::AllSubs),
        None => Ok(Scope::Own),
    }
}

/// The merchants whose activity a bill of `scope` covers, checked again at download.
async fn scope_merchants(
    surface: &PaySurface,
    caller: &Arc<Merchant>,
    scope: &Scope,
) -> Result<Vec<Arc<Merchant>>, V3Error> {
    Ok(match scope {
        Scope::Own => vec![caller.clone()],
        Scope::Sub(sub_mchid) => vec![
            surface
                .pay
                .sub_merchant_of(&caller.mchid, sub_mchid)
                .await?,
        ],
        Scope::AllSubs => surface
            .pay
            .all_sub_merchants(&caller.mchid)
            .await?
            .into_iter()
            .map(Arc::new)
            .collect(),
    })
}

fn fee_yuan(fen: i64) -> String {
    format!("{}000", yuan(fen))
}

/// Free text in a bill cell: no separators or line breaks.
fn cell(text: &str) -> String {
    text.replace([',', '\r', '\n'], " ")
}

fn row(fields: &[String]) -> String {
    let mut line = String::new();
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        line.push('`');
        line.push_str(field);
    }
    line.push_str("\r\n");
    line
}

const TRADE_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
const TRADE_SUMMARY_HEADER: &str =
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";

/// 商户号 and 特约商户号 of a row: a partner order's provider and sub-merchant, or a
/// direct merchant and `0`.
fn merchant_columns(mchid: &str, sp_mchid: Option<&str>) -> [String; 2] {
    match sp_mchid {
        Some(sp_mchid) => [sp_mchid.to_owned(), mchid.to_owned()],
        None => [mchid.to_owned(), "0".to_owned()],
    }
}

/// The summary row's sums, each checked.
#[derive(Debug, Default)]
struct TradeTotals {
    rows: u64,
    settlement_minor: i64,
    settlement_refund_minor: i64,
    prepaid_coupon_refund_minor: i64,
    fee_minor: i64,
    total_minor: i64,
    refund_minor: i64,
}

fn add(sum: &mut i64, amount: i64) -> Result<(), V3Error> {
    *sum = sum.checked_add(amount).ok_or_else(overflow)?;
    Ok(())
}

impl TradeTotals {
    fn payment(&mut self, order: &Order) -> Result<(), V3Error> {
        self.rows += 1;
        let settlement = order.settlement_total_minor().ok_or_else(overflow)?;
        add(&mut self.settlement_minor, settlement)?;
        add(&mut self.fee_minor, order.fee_minor)?;
        add(&mut self.total_minor, order.total_minor)
    }

    fn refund(&mut self, refund: &Refund, parts: RefundBillParts) -> Result<(), V3Error> {
        self.rows += 1;
        add(
            &mut self.settlement_refund_minor,
            parts.settlement_refund_minor,
        )?;
        add(
            &mut self.prepaid_coupon_refund_minor,
            parts.prepaid_coupon_refund_minor,
        )?;
        let fee_back = refund.fee_refund_minor.checked_neg().ok_or_else(overflow)?;
        add(&mut self.fee_minor, fee_back)?;
        add(&mut self.refund_minor, refund.refund_minor)
    }

    fn summary(&self) -> String {
        row(&[
            self.rows.to_string(),
            yuan(self.settlement_minor),
            yuan(self.settlement_refund_minor),
            yuan(self.prepaid_coupon_refund_minor),
            fee_yuan(self.fee_minor),
            yuan(self.total_minor),
            yuan(self.refund_minor),
        ])
    }
}

fn payment_row(merchant: &Merchant, order: &Order) -> Result<String, V3Error> {
    let [mchid, sub_mchid] = merchant_columns(&order.mchid, order.sp_mchid.as_deref());
    Ok(row(&[
        order.success_time.map(bill_time).unwrap_or_default(),
        order.appid.clone(),
        mchid,
        sub_mchid,
        cell(order.device_id.as_deref().unwrap_or("")),
        order.transaction_id.clone().unwrap_or_default(),
        order.out_trade_no.clone(),
        order.paid_openid.clone().unwrap_or_default(),
        order.trade_type.wire().to_owned(),
        "SUCCESS".to_owned(),
        "OTHERS".to_owned(),
        "CNY".to_owned(),
        yuan(order.settlement_total_minor().ok_or_else(overflow)?),
        yuan(order.discount_minor()),
        "0".to_owned(),
        "0".to_owned(),
        yuan(0),
        yuan(0),
        String::new(),
        String::new(),
        cell(&order.description),
        cell(order.attach.as_deref().unwrap_or("")),
        fee_yuan(order.fee_minor),
        merchant.fee_rate_text(),
        yuan(order.total_minor),
        yuan(0),
        String::new(),
    ]))
}

fn refund_row(
    merchant: &Merchant,
    refund: &Refund,
    order: Option<&Order>,
    parts: RefundBillParts,
) -> String {
    let [mchid, sub_mchid] = merchant_columns(&refund.mchid, refund.sp_mchid.as_deref());
    row(&[
        refund.success_time.map(bill_time).unwrap_or_default(),
        order.map(|order| order.appid.clone()).unwrap_or_default(),
        mchid,
        sub_mchid,
        cell(
            order
                .and_then(|order| order.device_id.as_deref())
                .unwrap_or(""),
        ),
        refund.transaction_id.clone(),
        refund.out_trade_no.clone(),
        order
            .and_then(|order| order.paid_openid.clone())
            .unwrap_or_default(),
        order.map_or("", |order| order.trade_type.wire()).to_owned(),
        "REFUND".to_owned(),
        "OTHERS".to_owned(),
        "CNY".to_owned(),
        yuan(0),
        yuan(0),
        refund.refund_id.clone(),
        refund.out_refund_no.clone(),
        yuan(parts.settlement_refund_minor),
        yuan(parts.prepaid_coupon_refund_minor),
        "ORIGINAL".to_owned(),
        refund.status.wire().to_owned(),
        cell(order.map_or("", |order| order.description.as_str())),
        cell(
            order
                .and_then(|order| order.attach.as_deref())
                .unwrap_or(""),
        ),
        fee_yuan(-refund.fee_refund_minor),
        merchant.fee_rate_text(),
        yuan(0),
        yuan(refund.refund_minor),
        String::new(),
    ])
}

/// The rows of a trade bill: payments then refunds, each in time order across the
/// merchants it covers (ties broken by number, so every download is the same file).
async fn trade_rows(
    surface: &PaySurface,
    merchants: &[Arc<Merchant>],
    day: Day,
    bill_type: &str,
) -> Result<(Vec<(Arc<Merchant>, Order)>, Vec<(Arc<Merchant>, Refund)>), V3Error> {
    let pay = &surface.pay;
    let (mut orders, mut refunds) = (Vec::new(), Vec::new());
    for merchant in merchants {
        if bill_type != "REFUND" {
            for order in pay.orders_paid_on(&merchant.mchid, day).await? {
                orders.push((merchant.clone(), order));
            }
        }
        if bill_type != "SUCCESS" {
            for refund in pay.refunds_on(&merchant.mchid, day).await? {
                refunds.push((merchant.clone(), refund));
            }
        }
    }
    orders.sort_by(|(_, a), (_, b)| {
        (a.success_time, &a.mchid, &a.out_trade_no).cmp(&(
            b.success_time,
            &b.mchid,
            &b.out_trade_no,
        ))
    });
    refunds.sort_by(|(_, a), (_, b)| {
        (a.success_time, &a.mchid, &a.out_refund_no).cmp(&(
            b.success_time,
            &b.mchid,
            &b.out_refund_no,
        ))
    });
    Ok((orders, refunds))
}

async fn trade_bill_text(
    surface: &PaySurface,
    merchants: &[Arc<Merchant>],
    day: Day,
    bill_type: &str,
) -> Result<Option<String>, V3Error> {
    let (orders, refunds) = trade_rows(surface, merchants, day, bill_type).await?;
    if orders.is_empty() && refunds.is_empty() {
        return Ok(None);
    }
    let mut text = String::new();
    text.push_str(TRADE_HEADER);
    text.push_str("\r\n");
    let mut totals = TradeTotals::default();
    for (merchant, order) in &orders {
        text.push_str(&payment_row(merchant, order)?);
        totals.payment(order)?;
    }
    for (merchant, refund) in &refunds {
        let order = surface
            .pay
            .order(&refund.mchid, &refund.out_trade_no)
            .await?;
        // A refund's order is always there; without it the refund is all the merchant's.
        let parts = match &order {
            Some(order) => order.refund_bill_parts(refund).ok_or_else(overflow)?,
            None => RefundBillParts {
                settlement_refund_minor: refund.refund_minor,
                prepaid_coupon_refund_minor: 0,
            },
        };
        text.push_str(&refund_row(merchant, refund, order.as_ref(), parts));
        totals.refund(refund, parts)?;
    }
    text.push_str(TRADE_SUMMARY_HEADER);
    text.push_str("\r\n");
    text.push_str(&totals.summary());
    Ok(Some(text))
}

const FUND_FLOW_HEADER: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号";
const FUND_FLOW_SUMMARY_HEADER: &str = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额";

fn fund_flow_text(account: &str, transfers: &[Transfer]) -> Result<Option<String>, V3Error> {
    if transfers.is_empty() {
        return Ok(None);
    }
    let mut text = String::new();
    text.push_str(FUND_FLOW_HEADER);
    text.push_str("\r\n");
    let (mut income_count, mut income, mut outgo_count, mut outgo) = (0_u64, 0_i64, 0_u64, 0_i64);
    for transfer in transfers {
        let incoming = transfer.to.as_str() == account;
        let (direction, balance_after) = if incoming {
            income_count += 1;
            add(&mut income, transfer.amount_minor)?;
            ("收入", transfer.to_balance_after_minor)
        } else {
            outgo_count += 1;
            add(&mut outgo, transfer.amount_minor)?;
            ("支出", transfer.from_balance_after_minor)
        };
        let business = if transfer.id.as_str().starts_with("refund:") {
            "退款"
        } else {
            "交易"
        };
        text.push_str(&row(&[
            bill_time(transfer.committed_at),
            transfer.id.as_str().to_owned(),
            format!("{:028}", transfer.seq),
            business.to_owned(),
            business.to_owned(),
            direction.to_owned(),
            yuan(transfer.amount_minor),
            yuan(balance_after),
            "system".to_owned(),
            cell(&transfer.memo),
            transfer.id.as_str().to_owned(),
        ]));
    }
    text.push_str(FUND_FLOW_SUMMARY_HEADER);
    text.push_str("\r\n");
    text.push_str(&row(&[
        (income_count + outgo_count).to_string(),
        income_count.to_string(),
        yuan(income),
        outgo_count.to_string(),
        yuan(outgo),
    ]));
    Ok(Some(text))
}

async fn bill_text(
    surface: &PaySurface,
    merchant: &Arc<Merchant>,
    token: &Token,
) -> Result<Option<String>, V3Error> {
    let day =
        Day::parse(&token.day).map_err(|issue| V3Error::param("token", issue, Location::Query))?;
    match token.kind {
        BillKind::Trade => {
            let merchants = scope_merchants(surface, merchant, &token.scope).await?;
            trade_bill_text(surface, &merchants, day, &token.bill_type).await
        }
        BillKind::FundFlow => {
            if token.bill_type != "BASIC" {
                return Ok(None);
            }
            // The caller's own account, or a provider's sub-merchant's.
            let owner = match &token.scope {
                Scope::Sub(sub_mchid) => {
                    surface
                        .pay
                        .sub_merchant_of(&merchant.mchid, sub_mchid)
                        .await?
                }
                Scope::Own | Scope::AllSubs => merchant.clone(),
            };
            let transfers = surface
                .pay
                .available_movements_on(&owner.mchid, day)
                .await?;
            let account = surface.pay.available_account(&owner.mchid)?;
            fund_flow_text(account.as_str(), &transfers)
        }
    }
}

/// Where a bill's `download_url` points: WeChat Pay's own origin when the request came
/// in under that host name (drop-in mode: SDKs with WeChat's host built in strip exactly
/// that prefix before signing the download), else Plaza's public base URL.
#[derive(Debug)]
pub(crate) struct DownloadBase(String);

impl DownloadBase {
    fn of(surface: &PaySurface, parts: &axum::http::request::Parts) -> Self {
        let scheme = parts
            .extensions
            .get::<Scheme>()
            .copied()
            .unwrap_or(Scheme::Http);
        Self(
            wechat_pay_origin(&parts.headers, &parts.uri, scheme)
                .unwrap_or_else(|| surface.public_base_url.clone()),
        )
    }
}

/// A bill request: who asks, for what, and where its download is to be fetched.
struct BillRequest<'a> {
    surface: &'a PaySurface,
    caller: &'a Caller,
    base: DownloadBase,
}

impl<'a> BillRequest<'a> {
    /// `caller`'s request, its download to be fetched from where `parts` came in.
    fn of(surface: &'a PaySurface, caller: &'a Caller, parts: &axum::http::request::Parts) -> Self {
        Self {
            surface,
            caller,
            base: DownloadBase::of(surface, parts),
        }
    }
}

/// A bill request's query, and the payment surface that answers it.
fn bill_query<'s>(
    state: &'s PayState,
    parts: &axum::http::request::Parts,
) -> Result<(BillQuery, &'s PaySurface), V3Error> {
    let Query(query) = Query::try_from_uri(&parts.uri).map_err(|error| bad_query(&error))?;
    Ok((query, &state.pay))
}

/// The bill a new token names and the `download_url` that fetches it, or
/// `NO_STATEMENT_EXIST` when nothing happened.
async fn prepare(request: &BillRequest<'_>, token: &Token) -> Result<(String, String), V3Error> {
    let day = &token.day;
    let Some(text) = bill_text(request.surface, &request.caller.merchant, token).await? else {
        let whose = match &token.scope {
            Scope::Own => "for this bill".to_owned(),
            Scope::Sub(sub_mchid) => format!("for sub-merchant {sub_mchid}"),
            Scope::AllSubs => "for any of this service provider's sub-merchants".to_owned(),
        };
        return Err(no_statement(format!(
            "账单文件不存在: no activity on {day} {whose}"
        )));
    };
    let download_url = format!(
        "{}/v3/billdownload/file?token={}",
        request.base.0,
        encode_token(&request.surface.token_secret, token)
    );
    Ok((text, download_url))
}

/// A new download token for `caller`, valid for [`DOWNLOAD_TOKEN_TTL_S`].
fn new_token(
    surface: &PaySurface,
    caller: &Caller,
    (kind, scope): (BillKind, Scope),
    day: Day,
    (bill_type, gzip): (String, bool),
) -> Token {
    let now_s = surface.wall_clock.now().unix_ms().div_euclid(1_000);
    Token {
        mchid: caller.merchant.mchid.clone(),
        kind,
        day: day.iso(),
        bill_type,
        gzip,
        expires_s: now_s + DOWNLOAD_TOKEN_TTL_S,
        scope,
        sealed: None,
    }
}

async fn answer_bill(
    request: BillRequest<'_>,
    what: (BillKind, Scope),
    day: Day,
    bill_type: String,
    gzip: bool,
) -> Result<Response, V3Error> {
    let token = new_token(
        request.surface,
        request.caller,
        what,
        day,
        (bill_type, gzip),
    );
    let (text, download_url) = prepare(&request, &token).await?;
    let body = serde_json::json!({
        "hash_type": "SHA1",
        "hash_value": plaza_wx::digest::sha1_hex(text.as_bytes()),
        "download_url": download_url,
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// `GET /v3/bill/tradebill?bill_date=&bill_type=&tar_type=[&sub_mchid=]`: a merchant's
/// own bill; a service provider's bill of one sub-merchant, or of all of them.
pub(crate) async fn trade_bill(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    parts: axum::http::request::Parts,
) -> Result<Response, V3Error> {
    let (query, surface) = bill_query(&state, &parts)?;
    let bill_type = query.bill_type.clone().unwrap_or_else(|| "ALL".to_owned());
    if !matches!(bill_type.as_str(), "ALL" | "SUCCESS" | "REFUND") {
        return Err(V3Error::param(
            "bill_type",
            "must be ALL, SUCCESS or REFUND",
            Location::Query,
        ));
    }
    let gzip = gzip_wanted(&query)?;
    let scope = trade_scope(surface, &caller, query.sub_mchid.as_deref()).await?;
    let day = bill_day(surface, &query)?;
    let request = BillRequest::of(surface, &caller, &parts);
    answer_bill(request, (BillKind::Trade, scope), day, bill_type, gzip).await
}

/// `GET /v3/bill/fundflowbill?bill_date=&account_type=&tar_type=`: the caller's own
/// account (a service provider's holds its commission).
pub(crate) async fn fund_flow_bill(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    parts: axum::http::request::Parts,
) -> Result<Response, V3Error> {
    let (query, surface) = bill_query(&state, &parts)?;
    if query.sub_mchid.is_some() {
        return Err(V3Error::param(
            "sub_mchid",
            "is not a parameter of the fund-flow bill, which covers the caller's own account",
            Location::Query,
        ));
    }
    let (account_type, gzip) = fund_flow_format(&query)?;
    let day = bill_day(surface, &query)?;
    let request = BillRequest::of(surface, &caller, &parts);
    answer_bill(
        request,
        (BillKind::FundFlow, Scope::Own),
        day,
        account_type,
        gzip,
    )
    .await
}

/// A fund-flow bill's account type (BASIC when not given) and whether it is to be
/// gzipped.
fn fund_flow_format(query: &BillQuery) -> Result<(String, bool), V3Error> {
    let account_type = query
        .account_type
        .clone()
        .unwrap_or_else(|| "BASIC".to_owned());
    if !matches!(account_type.as_str(), "BASIC" | "OPERATION" | "FEES") {
        return Err(V3Error::param(
            "account_type",
            "must be BASIC, OPERATION or FEES",
            Location::Query,
        ));
    }
    Ok((account_type, gzip_wanted(query)?))
}

/// `GET /v3/bill/sub-merchant-fundflowbill?sub_mchid=&bill_date=&account_type=
/// &algorithm=AEAD_AES_256_GCM[&tar_type=]`: a service provider's copy of one of its
/// sub-merchants' fund-flow bill, encrypted. The file (gzipped first if asked) is sealed
/// with AES-256-GCM under a fresh key and nonce with no associated data; the key comes
/// back RSA-OAEP-encrypted with the public key of the certificate that signed the
/// request (`encrypt_key`), the hash is of the plain file.
pub(crate) async fn sub_merchant_fund_flow_bill(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    parts: axum::http::request::Parts,
) -> Result<Response, V3Error> {
    let (query, surface) = bill_query(&state, &parts)?;
    if caller.merchant.kind != MerchantKind::Provider {
        return Err(V3Error::new(
            StatusCode::FORBIDDEN,
            "NO_AUTH",
            "无权限: only a service provider asks for a sub-merchant's fund-flow bill",
        ));
    }
    let sub_mchid = query
        .sub_mchid
        .clone()
        .ok_or_else(|| V3Error::param("sub_mchid", "is required", Location::Query))?;
    if query.algorithm.as_deref() != Some(plaza_wx::aead::ALGORITHM) {
        return Err(V3Error::param(
            "algorithm",
            "must be AEAD_AES_256_GCM",
            Location::Query,
        ));
    }
    let (account_type, gzip) = fund_flow_format(&query)?;
    surface
        .pay
        .sub_merchant_of(&caller.merchant.mchid, &sub_mchid)
        .await?;
    let day = bill_day(surface, &query)?;
    let signer = signing_key(surface, &caller, &parts.headers)?;
    let request = BillRequest::of(surface, &caller, &parts);
    let mut token = new_token(
        surface,
        &caller,
        (BillKind::FundFlow, Scope::Sub(sub_mchid)),
        day,
        (account_type, gzip),
    );
    token.sealed = Some(plaza_wx::random::signature_nonce(&mut rand::rng()));
    let (text, download_url) = prepare(&request, &token).await?;
    let (key, nonce) = sealing(&surface.token_secret, &token)
        .ok_or_else(|| V3Error::system("an encrypted bill has no key"))?;
    let encrypt_key = signer
        .encrypt_oaep_sha1(key.as_bytes())
        .map_err(|error| V3Error::system(&error.to_string()))?;
    let body = serde_json::json!({
        "download_bill_count": 1,
        "download_bill_list": [{
            "bill_sequence": 1,
            "download_url": download_url,
            "encrypt_key": encrypt_key,
            "hash_type": "SHA1",
            "hash_value": plaza_wx::digest::sha1_hex(text.as_bytes()),
            "nonce": nonce,
        }],
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// The public key of the merchant certificate that signed this request (the
/// authentication layer has already checked that it is registered and verifies).
fn signing_key(
    surface: &PaySurface,
    caller: &Caller,
    headers: &axum::http::HeaderMap,
) -> Result<Arc<plaza_wx::rsa::PublicKey>, V3Error> {
    let serial = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| plaza_wx::auth::parse_authorization(value).ok())
        .map(|authorization| authorization.serial_no);
    let key = serial
        .and_then(|serial| caller.merchant.key(&serial))
        .ok_or_else(|| V3Error::sign("the request's certificate serial is not registered"))?;
    surface.merchant_key(&key.public_key_pem)
}

#[derive(Debug, Deserialize)]
pub(crate) struct DownloadQuery {
    token: Option<String>,
}

/// `GET /v3/billdownload/file?token=`: the bill, gzip or plain, not JSON.
pub(crate) async fn download(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<DownloadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    let surface = &state.pay;
    let text = query
        .token
        .ok_or_else(|| V3Error::param("token", "is required", Location::Query))?;
    let invalid = || V3Error::param("token", "is invalid or expired", Location::Query);
    let token = decode_token(&surface.token_secret, &text).ok_or_else(invalid)?;
    let now_s = surface.wall_clock.now().unix_ms().div_euclid(1_000);
    if token.mchid != caller.merchant.mchid || token.expires_s < now_s {
        return Err(invalid());
    }
    let Some(bill) = bill_text(surface, &caller.merchant, &token).await? else {
        return Err(no_statement("账单文件不存在"));
    };
    let bytes = if token.gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(bill.as_bytes())
            .map_err(|error| V3Error::system(&error.to_string()))?;
        encoder
            .finish()
            .map_err(|error| V3Error::system(&error.to_string()))?
    } else {
        bill.into_bytes()
    };
    if let Some((key, nonce)) = sealing(&surface.token_secret, &token) {
        let sealed = plaza_wx::aead::seal(&key, &nonce, "", &bytes)
            .map_err(|error| V3Error::system(&error.to_string()))?;
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            sealed,
        )
            .into_response())
    } else if token.gzip {
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response())
    } else {
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            bytes,
        )
            .into_response())
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    #[test]
    fn yuan_has_two_decimals_and_a_sign() {
        assert_eq!(yuan(1), "0.01");
        assert_eq!(yuan(129_902), "1299.02");
        assert_eq!(yuan(-5), "-0.05");
        assert_eq!(fee_yuan(779), "7.79000");
    }

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let token = Token {
            mchid: "1600000001".to_owned(),
            kind: BillKind::Trade,
            day: "2026-11-25".to_owned(),
            bill_type: "ALL".to_owned(),
            gzip: true,
            expires_s: 10,
            scope: Scope::Sub("1900000001".to_owned()),
            sealed: None,
        };
        let text = encode_token(b"secret", &token);
        let back = decode_token(b"secret", &text).unwrap();
        assert_eq!((back.mchid.as_str(), back.gzip), ("1600000001", true));
        assert_eq!(back.scope, Scope::Sub("1900000001".to_owned()));
        assert!(decode_token(b"other", &text).is_none());
        let mut tampered = text;
        tampered.insert(0, 'x');
        assert!(decode_token(b"secret", &tampered).is_none());
    }

    #[test]
    fn totals_that_do_not_fit_are_an_error_not_a_wrapped_number() {
        let mut sum = i64::MAX - 1;
        assert!(add(&mut sum, 1).is_ok());
        assert_eq!(sum, i64::MAX);
        let refused = add(&mut sum, 1).unwrap_err();
        assert_eq!(refused.code, "SYSTEM_ERROR");
        assert_eq!(sum, i64::MAX, "a refused sum is left as it was");
    }

    #[test]
    fn partner_rows_name_the_provider_and_the_sub_merchant() {
        assert_eq!(
            merchant_columns("1900000002", Some("1900000001")),
            ["1900000001".to_owned(), "1900000002".to_owned()]
        );
        assert_eq!(
            merchant_columns("1600000001", None),
            ["1600000001".to_owned(), "0".to_owned()]
        );
    }

    #[test]
    fn rows_are_back_quoted_and_crlf_terminated() {
        let line = row(&["a".to_owned(), "1.00".to_owned()]);
        assert_eq!(line, "`a,`1.00\r\n");
        assert_eq!(cell("x,y\nz"), "x y z");
    }
}
