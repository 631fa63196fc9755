//! Payment codes at the counter: `codepay` (direct and partner) and `reverse`.
//!
//! A code paid at once answers 200 with the Transaction; one above the payer's
//! password-free limit answers 202 `USERPAYING`, and the merchant polls the query API
//! until the payer confirms, or reverses.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use plaza_pay::model::{Order, TradeType};
use plaza_pay::{CodepayOutcome, CodepayRequest, PrepayRequest};
use serde::Deserialize;
use serde_json::json;

use super::orders::{Api, PartyFields, parties_of};
use super::wire::{PrepayAmount, SettleInfo, transaction_json};
use super::{Caller, V3Error, json_response, parse_body};
use crate::PayState;

#[derive(Debug, Deserialize)]
struct CodepayPayer {
    auth_code: String,
}

#[derive(Debug, Deserialize)]
struct CodepayScene {
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    device_ip: Option<String>,
    #[serde(default)]
    store_info: Option<serde_json::Value>,
}

/// A codepay request: the prepay fields without `notify_url`, and `payer.auth_code`.
#[derive(Debug, Deserialize)]
struct CodepayBody {
    #[serde(flatten)]
    parties: PartyFields,
    description: String,
    out_trade_no: String,
    #[serde(default)]
    attach: Option<String>,
    #[serde(default)]
    goods_tag: Option<String>,
    #[serde(default)]
    support_fapiao: Option<bool>,
    payer: CodepayPayer,
    amount: PrepayAmount,
    #[serde(default)]
    scene_info: Option<CodepayScene>,
    #[serde(default)]
    settle_info: Option<SettleInfo>,
    #[serde(default)]
    detail: Option<serde_json::Value>,
}

async fn codepay(state: &PayState, caller: &Caller, api: Api) -> Result<Response, V3Error> {
    let body: CodepayBody = parse_body(&caller.body)?;
    let (mchid, appid, sp_mchid, sub_appid) = parties_of(caller, body.parties, api)?;
    let _ = (&body.support_fapiao, &body.detail);
    let scene = body.scene_info;
    let _ = scene.as_ref().map(|scene| &scene.store_info);
    let request = CodepayRequest {
        order: PrepayRequest {
            mchid,
            appid,
            trade_type: TradeType::Micropay,
            description: body.description,
            out_trade_no: body.out_trade_no,
            time_expire: None,
            attach: body.attach,
            notify_url: String::new(),
            goods_tag: body.goods_tag,
            total_minor: body.amount.total,
            currency: body.amount.currency.unwrap_or_else(|| "CNY".to_owned()),
            payer_openid: None,
            payer_client_ip: scene.as_ref().and_then(|scene| scene.device_ip.clone()),
            device_id: scene.and_then(|scene| scene.device_id),
            profit_sharing: body
                .settle_info
                .and_then(|settle| settle.profit_sharing)
                .unwrap_or(false),
            sp_mchid,
            sub_appid,
            payer_sub_openid: None,
        },
        auth_code: body.payer.auth_code,
    };
    match state.pay.pay.codepay(request).await? {
        CodepayOutcome::Paid(order) => Ok(json_response(StatusCode::OK, transaction_json(&order))),
        CodepayOutcome::UserPaying(_) => Ok(json_response(
            StatusCode::ACCEPTED,
            json!({
                "code": "USERPAYING",
                "message": "用户支付中，需要输入密码: the payer confirms with the password; poll the order, or reverse it",
            })
            .to_string(),
        )),
    }
}

/// `POST /v3/pay/transactions/codepay`.
pub(crate) async fn direct(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    codepay(&state, &caller, Api::Direct).await
}

/// `POST /v3/pay/partner/transactions/codepay`.
pub(crate) async fn partner(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    codepay(&state, &caller, Api::Partner).await
}

#[derive(Debug, Deserialize)]
struct ReverseBody {
    #[serde(flatten)]
    parties: PartyFields,
}

async fn reverse(
    state: &PayState,
    caller: &Caller,
    out_trade_no: &str,
    api: Api,
) -> Result<Response, V3Error> {
    let body: ReverseBody = parse_body(&caller.body)?;
    let (mchid, appid, sp_mchid, sub_appid) = parties_of(caller, body.parties, api)?;
    let pay = &state.pay.pay;
    if let Some(sp_mchid) = &sp_mchid {
        pay.sub_merchant_of(sp_mchid, &mchid).await?;
    }
    let order: Order = pay
        .reverse(&mchid, out_trade_no, sp_mchid.as_deref())
        .await?;
    let answer = match &sp_mchid {
        None => json!({ "appid": appid, "mchid": mchid, "out_trade_no": order.out_trade_no }),
        Some(sp_mchid) => json!({
            "sp_appid": appid, "sp_mchid": sp_mchid, "sub_appid": sub_appid,
            "sub_mchid": mchid, "out_trade_no": order.out_trade_no,
        }),
    };
    Ok(json_response(StatusCode::OK, answer.to_string()))
}

/// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/reverse`.
pub(crate) async fn reverse_direct(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(out_trade_no): Path<String>,
) -> Result<Response, V3Error> {
    reverse(&state, &caller, &out_trade_no, Api::Direct).await
}

/// `POST /v3/pay/partner/transactions/out-trade-no/{out_trade_no}/reverse`.
pub(crate) async fn reverse_partner(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(out_trade_no): Path<String>,
) -> Result<Response, V3Error> {
    reverse(&state, &caller, &out_trade_no, Api::Partner).await
}
