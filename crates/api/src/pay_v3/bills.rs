//! Trade and fund-flow bills (§5): the `download_url` answer, the download itself, and
//! the CSV files in WeChat's layout (header row, back-quoted data rows, summary).
//!
//! Bills are made from the records on request: a closed day never changes, so the file
//! and its SHA-1 are the same at every download. Download tokens are self-contained
//! (HMAC-signed merchant, bill and expiry), so nothing is stored per download.

use std::io::Write as _;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use plaza_ledger::Transfer;
use plaza_pay::model::{Merchant, Order, Refund};
use plaza_pay::time::{Day, bill_time};
use serde::{Deserialize, Serialize};

use super::{Caller, Location, PaySurface, V3Error, bad_query, json_response, surface};
use crate::AppState;
use crate::extract::{constant_time_eq, hmac_hex};
use crate::web::yuan;

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum BillKind {
    Trade,
    FundFlow,
}

#[derive(Debug, Serialize, Deserialize)]
struct Token {
    mchid: String,
    kind: BillKind,
    day: String,
    bill_type: String,
    gzip: bool,
    expires_s: i64,
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

fn payment_row(merchant: &Merchant, order: &Order) -> String {
    row(&[
        order.success_time.map(bill_time).unwrap_or_default(),
        order.appid.clone(),
        order.mchid.clone(),
        "0".to_owned(),
        cell(order.device_id.as_deref().unwrap_or("")),
        order.transaction_id.clone().unwrap_or_default(),
        order.out_trade_no.clone(),
        order.paid_openid.clone().unwrap_or_default(),
        order.trade_type.wire().to_owned(),
        "SUCCESS".to_owned(),
        "OTHERS".to_owned(),
        "CNY".to_owned(),
        yuan(order.total_minor),
        yuan(0),
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
    ])
}

fn refund_row(merchant: &Merchant, refund: &Refund, order: Option<&Order>) -> String {
    row(&[
        refund.success_time.map(bill_time).unwrap_or_default(),
        order.map(|order| order.appid.clone()).unwrap_or_default(),
        refund.mchid.clone(),
        "0".to_owned(),
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
        yuan(refund.refund_minor),
        yuan(0),
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

async fn trade_bill_text(
    surface: &PaySurface,
    merchant: &Merchant,
    day: Day,
    bill_type: &str,
) -> Result<Option<String>, V3Error> {
    let pay = &surface.pay;
    let orders = if bill_type == "REFUND" {
        Vec::new()
    } else {
        pay.orders_paid_on(&merchant.mchid, day).await?
    };
    let refunds = if bill_type == "SUCCESS" {
        Vec::new()
    } else {
        pay.refunds_on(&merchant.mchid, day).await?
    };
    if orders.is_empty() && refunds.is_empty() {
        return Ok(None);
    }
    let mut text = String::new();
    text.push_str(TRADE_HEADER);
    text.push_str("\r\n");
    let (mut settled, mut refunded, mut fees, mut ordered) = (0_i64, 0_i64, 0_i64, 0_i64);
    for order in &orders {
        text.push_str(&payment_row(merchant, order));
        settled += order.total_minor;
        ordered += order.total_minor;
        fees += order.fee_minor;
    }
    for refund in &refunds {
        let order = pay.order(&refund.mchid, &refund.out_trade_no).await?;
        text.push_str(&refund_row(merchant, refund, order.as_ref()));
        refunded += refund.refund_minor;
        fees -= refund.fee_refund_minor;
    }
    text.push_str(TRADE_SUMMARY_HEADER);
    text.push_str("\r\n");
    text.push_str(&row(&[
        (orders.len() + refunds.len()).to_string(),
        yuan(settled),
        yuan(refunded),
        yuan(0),
        fee_yuan(fees),
        yuan(ordered),
        yuan(refunded),
    ]));
    Ok(Some(text))
}

const FUND_FLOW_HEADER: &str = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,资金变更提交申请人,备注,业务凭证号";
const FUND_FLOW_SUMMARY_HEADER: &str = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额";

fn fund_flow_text(account: &str, transfers: &[Transfer]) -> Option<String> {
    if transfers.is_empty() {
        return None;
    }
    let mut text = String::new();
    text.push_str(FUND_FLOW_HEADER);
    text.push_str("\r\n");
    let (mut income_count, mut income, mut outgo_count, mut outgo) = (0, 0_i64, 0, 0_i64);
    for transfer in transfers {
        let incoming = transfer.to.as_str() == account;
        let (direction, balance_after) = if incoming {
            income_count += 1;
            income += transfer.amount_minor;
            ("收入", transfer.to_balance_after_minor)
        } else {
            outgo_count += 1;
            outgo += transfer.amount_minor;
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
    Some(text)
}

async fn bill_text(
    surface: &PaySurface,
    merchant: &Merchant,
    token: &Token,
) -> Result<Option<String>, V3Error> {
    let day =
        Day::parse(&token.day).map_err(|issue| V3Error::param("token", issue, Location::Query))?;
    match token.kind {
        BillKind::Trade => trade_bill_text(surface, merchant, day, &token.bill_type).await,
        BillKind::FundFlow => {
            if token.bill_type != "BASIC" {
                return Ok(None);
            }
            let transfers = surface
                .pay
                .available_movements_on(&merchant.mchid, day)
                .await?;
            let account = surface.pay.available_account(&merchant.mchid)?;
            Ok(fund_flow_text(account.as_str(), &transfers))
        }
    }
}

async fn answer_bill(
    surface: &PaySurface,
    caller: &Caller,
    kind: BillKind,
    day: Day,
    bill_type: String,
    gzip: bool,
) -> Result<Response, V3Error> {
    let now_s = surface.wall_clock.now().unix_ms().div_euclid(1_000);
    let token = Token {
        mchid: caller.merchant.mchid.clone(),
        kind,
        day: day.iso(),
        bill_type,
        gzip,
        expires_s: now_s + DOWNLOAD_TOKEN_TTL_S,
    };
    let Some(text) = bill_text(surface, &caller.merchant, &token).await? else {
        return Err(no_statement(format!(
            "账单文件不存在: no activity on {} for this bill",
            day.iso()
        )));
    };
    let download_url = format!(
        "{}/v3/billdownload/file?token={}",
        surface.public_base_url,
        encode_token(&surface.token_secret, &token)
    );
    let body = serde_json::json!({
        "hash_type": "SHA1",
        "hash_value": plaza_wx::digest::sha1_hex(text.as_bytes()),
        "download_url": download_url,
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// `GET /v3/bill/tradebill?bill_date=&bill_type=&tar_type=`.
pub(crate) async fn trade_bill(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<BillQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    let surface = surface(&state)?;
    let bill_type = query.bill_type.clone().unwrap_or_else(|| "ALL".to_owned());
    if !matches!(bill_type.as_str(), "ALL" | "SUCCESS" | "REFUND") {
        return Err(V3Error::param(
            "bill_type",
            "must be ALL, SUCCESS or REFUND",
            Location::Query,
        ));
    }
    let gzip = gzip_wanted(&query)?;
    let day = bill_day(surface, &query)?;
    answer_bill(surface, &caller, BillKind::Trade, day, bill_type, gzip).await
}

/// `GET /v3/bill/fundflowbill?bill_date=&account_type=&tar_type=`.
pub(crate) async fn fund_flow_bill(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<BillQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    let surface = surface(&state)?;
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
    let gzip = gzip_wanted(&query)?;
    let day = bill_day(surface, &query)?;
    answer_bill(
        surface,
        &caller,
        BillKind::FundFlow,
        day,
        account_type,
        gzip,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct DownloadQuery {
    token: Option<String>,
}

/// `GET /v3/billdownload/file?token=`: the bill, gzip or plain, not JSON.
pub(crate) async fn download(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<DownloadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    let surface = surface(&state)?;
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
    if token.gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(bill.as_bytes())
            .map_err(|error| V3Error::system(&error.to_string()))?;
        let bytes = encoder
            .finish()
            .map_err(|error| V3Error::system(&error.to_string()))?;
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
            bill,
        )
            .into_response())
    }
}

#[cfg(test)]
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
        };
        let text = encode_token(b"secret", &token);
        let back = decode_token(b"secret", &text).unwrap();
        assert_eq!((back.mchid.as_str(), back.gzip), ("1600000001", true));
        assert!(decode_token(b"other", &text).is_none());
        let mut tampered = text;
        tampered.insert(0, 'x');
        assert!(decode_token(b"secret", &tampered).is_none());
    }

    #[test]
    fn rows_are_back_quoted_and_crlf_terminated() {
        let line = row(&["a".to_owned(), "1.00".to_owned()]);
        assert_eq!(line, "`a,`1.00\r\n");
        assert_eq!(cell("x,y\nz"), "x y z");
    }
}
