//! Profit sharing (分账, `/v3/profitsharing/...`): receivers, split orders, unfreeze,
//! returns and the unsplit amount — for a direct merchant's own orders, or by a service
//! provider for a sub-merchant's (`sub_mchid`).

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use plaza_pay::PayError;
use plaza_pay::model::MerchantKind;
use plaza_pay::sharing::{
    NewReceiver, ReceiverType, SHARING_RATIO_MAX_BPS, SharingOrder, SharingReturn, SplitRequest,
};
use plaza_pay::time::rfc3339;
use serde::Deserialize;
use serde_json::{Value, json};

use super::refunds::refund_parties;
use super::{Caller, Location, V3Error, bad_query, json_response, parse_body};
use crate::PayState;

fn receiver_type(text: &str, field: &str) -> Result<ReceiverType, V3Error> {
    ReceiverType::parse(text).ok_or_else(|| {
        V3Error::param(
            field,
            "must be MERCHANT_ID, PERSONAL_OPENID or PERSONAL_SUB_OPENID",
            Location::Body,
        )
    })
}

fn not_found(what: &str) -> V3Error {
    V3Error::new(
        StatusCode::NOT_FOUND,
        "RESOURCE_NOT_EXISTS",
        format!("记录不存在: {what}"),
    )
}

/// The app a request names must be the signer's (a provider's `sp_appid`).
fn check_app(caller: &Caller, appid: &str) -> Result<(), V3Error> {
    if caller.merchant.appids.iter().any(|bound| bound == appid) {
        return Ok(());
    }
    Err(PayError::AppidMchidNotMatch {
        appid: appid.to_owned(),
        mchid: caller.merchant.mchid.clone(),
    }
    .into())
}

fn with_sub(mut value: Value, sp_mchid: &Option<String>, mchid: &str) -> Value {
    if sp_mchid.is_some() {
        value["sub_mchid"] = json!(mchid);
    }
    value
}

fn orders_entity(sharing: &SharingOrder) -> Value {
    let receivers: Vec<Value> = sharing
        .lines
        .iter()
        .map(|line| {
            json!({
                "amount": line.amount_minor,
                "description": line.description,
                "type": line.receiver_type.wire(),
                "account": line.account,
                "result": "SUCCESS",
                "detail_id": line.detail_id,
                "create_time": rfc3339(sharing.created_at),
                "finish_time": rfc3339(line.finished_at),
            })
        })
        .collect();
    with_sub(
        json!({
            "transaction_id": sharing.transaction_id,
            "out_order_no": sharing.out_order_no,
            "order_id": sharing.order_id,
            "state": "FINISHED",
            "receivers": receivers,
        }),
        &sharing.sp_mchid,
        &sharing.mchid,
    )
}

fn return_entity(back: &SharingReturn, sp_mchid: &Option<String>) -> Value {
    with_sub(
        json!({
            "order_id": back.order_id,
            "out_order_no": back.out_order_no,
            "out_return_no": back.out_return_no,
            "return_id": back.return_id,
            "return_mchid": back.return_mchid,
            "amount": back.amount_minor,
            "description": back.description,
            "result": "SUCCESS",
            "create_time": rfc3339(back.created_at),
            "finish_time": rfc3339(back.created_at),
        }),
        sp_mchid,
        &back.mchid,
    )
}

#[derive(Debug, Deserialize)]
struct ReceiverBody {
    #[serde(default)]
    sub_mchid: Option<String>,
    appid: String,
    #[serde(default)]
    sub_appid: Option<String>,
    #[serde(rename = "type")]
    receiver_type: String,
    account: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    relation_type: Option<String>,
    #[serde(default)]
    custom_relation: Option<String>,
}

/// The app a personal receiver's openid is under.
fn receiver_app(body: &ReceiverBody, receiver: ReceiverType) -> Result<String, V3Error> {
    match receiver {
        ReceiverType::PersonalSubOpenid => body.sub_appid.clone().ok_or_else(|| {
            V3Error::param(
                "/sub_appid",
                "is required for a PERSONAL_SUB_OPENID receiver",
                Location::Body,
            )
        }),
        _ => Ok(body.appid.clone()),
    }
}

/// `POST /v3/profitsharing/receivers/add`.
pub(crate) async fn add_receiver(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let body: ReceiverBody = parse_body(&caller.body)?;
    let (mchid, sp_mchid) =
        refund_parties(&state, &caller, body.sub_mchid.clone(), Location::Body).await?;
    check_app(&caller, &body.appid)?;
    let receiver = receiver_type(&body.receiver_type, "/type")?;
    let surface = &state.pay;
    let name = match &body.name {
        Some(cipher) => Some(surface.platform.decrypt_field(cipher).map_err(|issue| {
            V3Error::param(
                "/name",
                format!("must be encrypted with the platform key (RSA-OAEP): {issue}"),
                Location::Body,
            )
        })?),
        None => None,
    };
    let relation_type = body
        .relation_type
        .clone()
        .ok_or_else(|| V3Error::param("/relation_type", "is required", Location::Body))?;
    let added = surface
        .pay
        .add_receiver(NewReceiver {
            mchid: mchid.clone(),
            appid: receiver_app(&body, receiver)?,
            receiver_type: receiver,
            account: body.account.clone(),
            name,
            relation_type,
            custom_relation: body.custom_relation.clone(),
        })
        .await?;
    let mut answer = json!({
        "type": added.receiver_type.wire(),
        "account": added.account,
        "relation_type": added.relation_type,
    });
    if let Some(custom) = &added.custom_relation {
        answer["custom_relation"] = json!(custom);
    }
    Ok(json_response(
        StatusCode::OK,
        with_sub(answer, &sp_mchid, &mchid).to_string(),
    ))
}

/// `POST /v3/profitsharing/receivers/delete`.
pub(crate) async fn delete_receiver(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let body: ReceiverBody = parse_body(&caller.body)?;
    let (mchid, sp_mchid) =
        refund_parties(&state, &caller, body.sub_mchid.clone(), Location::Body).await?;
    check_app(&caller, &body.appid)?;
    let receiver = receiver_type(&body.receiver_type, "/type")?;
    state
        .pay
        .pay
        .delete_receiver(&mchid, receiver, &body.account)
        .await?;
    let answer = json!({ "type": receiver.wire(), "account": body.account });
    Ok(json_response(
        StatusCode::OK,
        with_sub(answer, &sp_mchid, &mchid).to_string(),
    ))
}

#[derive(Debug, Deserialize)]
struct LineBody {
    #[serde(rename = "type")]
    receiver_type: String,
    account: String,
    amount: i64,
    description: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SplitBody {
    #[serde(default)]
    sub_mchid: Option<String>,
    appid: String,
    #[serde(default)]
    sub_appid: Option<String>,
    transaction_id: String,
    out_order_no: String,
    receivers: Vec<LineBody>,
    unfreeze_unsplit: bool,
}

/// `POST /v3/profitsharing/orders`.
pub(crate) async fn split(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let body: SplitBody = parse_body(&caller.body)?;
    let (mchid, sp_mchid) = refund_parties(&state, &caller, body.sub_mchid, Location::Body).await?;
    check_app(&caller, &body.appid)?;
    let _ = &body.sub_appid;
    let mut lines = Vec::new();
    for (index, line) in body.receivers.into_iter().enumerate() {
        let receiver = receiver_type(&line.receiver_type, &format!("/receivers/{index}/type"))?;
        let _ = &line.name;
        lines.push((receiver, line.account, line.amount, line.description));
    }
    let sharing = state
        .pay
        .pay
        .split(SplitRequest {
            mchid,
            sp_mchid,
            transaction_id: body.transaction_id,
            out_order_no: body.out_order_no,
            lines,
            unfreeze_unsplit: body.unfreeze_unsplit,
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        orders_entity(&sharing).to_string(),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct SplitQuery {
    transaction_id: Option<String>,
    sub_mchid: Option<String>,
}

type QueryResult<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

/// `GET /v3/profitsharing/orders/{out_order_no}?transaction_id=[&sub_mchid=]`.
pub(crate) async fn split_query(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(out_order_no): Path<String>,
    query: QueryResult<SplitQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    let (mchid, _) = refund_parties(&state, &caller, query.sub_mchid, Location::Query).await?;
    let transaction_id = query
        .transaction_id
        .ok_or_else(|| V3Error::param("transaction_id", "is required", Location::Query))?;
    let sharing = state
        .pay
        .pay
        .sharing_order(&mchid, &out_order_no)
        .await?
        .filter(|sharing| sharing.transaction_id == transaction_id)
        .ok_or_else(|| not_found("分账单不存在: no such profit-sharing order"))?;
    Ok(json_response(
        StatusCode::OK,
        orders_entity(&sharing).to_string(),
    ))
}

#[derive(Debug, Deserialize)]
struct UnfreezeBody {
    #[serde(default)]
    sub_mchid: Option<String>,
    transaction_id: String,
    out_order_no: String,
    description: String,
}

/// `POST /v3/profitsharing/orders/unfreeze`.
pub(crate) async fn unfreeze(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let body: UnfreezeBody = parse_body(&caller.body)?;
    let (mchid, sp_mchid) = refund_parties(&state, &caller, body.sub_mchid, Location::Body).await?;
    let sharing = state
        .pay
        .pay
        .unfreeze(
            &mchid,
            sp_mchid,
            &body.transaction_id,
            &body.out_order_no,
            &body.description,
        )
        .await?;
    Ok(json_response(
        StatusCode::OK,
        orders_entity(&sharing).to_string(),
    ))
}

#[derive(Debug, Deserialize)]
struct ReturnBody {
    #[serde(default)]
    sub_mchid: Option<String>,
    #[serde(default)]
    order_id: Option<String>,
    #[serde(default)]
    out_order_no: Option<String>,
    out_return_no: String,
    return_mchid: String,
    amount: i64,
    description: String,
}

/// `POST /v3/profitsharing/return-orders`.
pub(crate) async fn return_split(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let body: ReturnBody = parse_body(&caller.body)?;
    let (mchid, sp_mchid) = refund_parties(&state, &caller, body.sub_mchid, Location::Body).await?;
    let out_order_no = body.out_order_no.ok_or_else(|| {
        V3Error::param(
            "/out_order_no",
            if body.order_id.is_some() {
                "is required: Plaza finds the split by the merchant's number"
            } else {
                "is required"
            },
            Location::Body,
        )
    })?;
    let back = state
        .pay
        .pay
        .return_split(
            &mchid,
            &out_order_no,
            &body.out_return_no,
            &body.return_mchid,
            body.amount,
            &body.description,
        )
        .await
        .map_err(|error| match error {
            PayError::OrderNotFound => not_found("分账单不存在: no such profit-sharing order"),
            other => other.into(),
        })?;
    Ok(json_response(
        StatusCode::OK,
        return_entity(&back, &sp_mchid).to_string(),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReturnQuery {
    out_order_no: Option<String>,
    sub_mchid: Option<String>,
}

/// `GET /v3/profitsharing/return-orders/{out_return_no}?out_order_no=[&sub_mchid=]`.
pub(crate) async fn return_query(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(out_return_no): Path<String>,
    query: QueryResult<ReturnQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    let (mchid, sp_mchid) =
        refund_parties(&state, &caller, query.sub_mchid, Location::Query).await?;
    let back = state
        .pay
        .pay
        .sharing_return(&mchid, &out_return_no)
        .await?
        .filter(|back| {
            query
                .out_order_no
                .as_deref()
                .is_none_or(|no| no == back.out_order_no)
        })
        .ok_or_else(|| not_found("回退单不存在: no such return"))?;
    Ok(json_response(
        StatusCode::OK,
        return_entity(&back, &sp_mchid).to_string(),
    ))
}

/// `GET /v3/profitsharing/transactions/{transaction_id}/amounts`.
pub(crate) async fn amounts(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(transaction_id): Path<String>,
) -> Result<Response, V3Error> {
    let pay = &state.pay.pay;
    let order = pay
        .order_for_caller(&caller.merchant.mchid, &transaction_id)
        .await?;
    let unsplit = pay.unsplit_amount(&order.mchid, &transaction_id).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "transaction_id": transaction_id, "unsplit_amount": unsplit }).to_string(),
    ))
}

/// `GET /v3/profitsharing/merchant-configs/{sub_mchid}` (providers).
pub(crate) async fn merchant_config(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(sub_mchid): Path<String>,
) -> Result<Response, V3Error> {
    if caller.merchant.kind != MerchantKind::Provider {
        return Err(PayError::NoAuth {
            reason: "无权限: merchant-configs is for service providers".to_owned(),
        }
        .into());
    }
    state
        .pay
        .pay
        .sub_merchant_of(&caller.merchant.mchid, &sub_mchid)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "sub_mchid": sub_mchid, "max_ratio": SHARING_RATIO_MAX_BPS }).to_string(),
    ))
}
