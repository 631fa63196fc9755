"""Drives the unmodified PyPI SDK `wechatpayv3` through cash coupons (the "favor" API)
against a running Plaza sandbox; only the SDK's gateway is changed. Usage:

    python wechatpayv3_coupons.py --base-url http://127.0.0.1:PORT --admin-token TOKEN

It creates a merchant and funds it (sandbox top-up) and two payers through Plaza's admin
API; then, with the SDK: create a stock, start it, issue coupons to a payer (idempotent,
then the per-user limit), query the stock, list stocks and merchants, query a coupon,
pause (issuing refused), restart, and check the budget reserved in the merchant's
balance. Exits non-zero on the first mismatch.
"""

import argparse
import datetime
import json
import time

import requests
from wechatpayv3 import WeChatPay, WeChatPayType

from wechatpayv3_flow import check


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--admin-token", required=True)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    admin = {"Authorization": "Bearer " + args.admin_token}

    def admin_post(path, body):
        reply = requests.post(base + path, json=body, headers=admin, timeout=30)
        check(reply.status_code in (200, 201), "POST %s: %s" % (path, reply.text[:200]))
        return reply.json()

    creds = admin_post("/api/v1/admin/merchants", {"name": "SDK coupon shop"})
    admin_post("/api/v1/sandbox/merchants/%s/top-up" % creds["mchid"], {"amount": 100000, "request_id": "sdk-fund"})
    wxpay = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=creds["mchid"], private_key=creds["private_key"], cert_serial_no=creds["cert_serial_no"],
        appid=creds["appid"], apiv3_key=creds["apiv3_key"],
        public_key=creds["public_key"], public_key_id=creds["public_key_id"],
    )
    wxpay._core._gate_way = creds["gateway"]
    mchid = creds["mchid"]

    def openid_of(name):
        payer = admin_post("/api/v1/admin/users", {"name": name, "password": "123456", "balance": 1})
        reply = requests.get(base + "/api/v1/me/openid", params={"appid": creds["appid"]},
                             headers={"Authorization": "Bearer " + payer["token"]}, timeout=10)
        return reply.json()["openid"]

    now = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8)))
    stamp = str(int(time.time() * 1000))
    code, message = wxpay.marketing_favor_stock_create(
        stock_name="SDK ¥5 off",
        belong_merchant=mchid,
        available_begin_time=(now - datetime.timedelta(hours=1)).isoformat(timespec="milliseconds"),
        available_end_time=(now + datetime.timedelta(days=7)).isoformat(timespec="milliseconds"),
        stock_use_rule={"max_coupons": 10, "max_amount": 5000, "max_coupons_per_user": 2,
                        "natural_person_limit": False, "prevent_api_abuse": False},
        coupon_use_rule={"fixed_normal_coupon": {"coupon_amount": 500, "transaction_minimum": 1000},
                         "available_merchants": [mchid]},
        out_request_no="SDKSTOCK" + stamp,
        pattern_info={"description": "SDK coupons"},
    )
    check(code == 200 and "stock_id" in json.loads(message), "create a stock: %s %s" % (code, message))
    stock_id = json.loads(message)["stock_id"]
    merchant = requests.get(base + "/api/v1/admin/merchants/%s" % mchid, headers=admin, timeout=10).json()
    check(merchant["available_balance"] == 95000, "the ¥50 budget is reserved from the merchant's balance")

    openid = openid_of("SDK coupon fan")
    code, message = wxpay.marketing_favor_stock_send(stock_id=stock_id, openid=openid, out_request_no="SDKSEND1" + stamp,
                                                     stock_creator_mchid=mchid)
    check(code == 400 and json.loads(message)["code"] == "STOCK_IS_NOT_ACTIVE",
          "issuing before start is refused: %s %s" % (code, message))
    code, message = wxpay.marketing_favor_stock_start(stock_creator_mchid=mchid, stock_id=stock_id)
    check(code == 200 and json.loads(message)["stock_id"] == stock_id, "start: %s %s" % (code, message))

    code, message = wxpay.marketing_favor_stock_send(stock_id=stock_id, openid=openid, out_request_no="SDKSEND1" + stamp,
                                                     stock_creator_mchid=mchid)
    check(code == 200 and "coupon_id" in json.loads(message), "issue a coupon: %s %s" % (code, message))
    coupon_id = json.loads(message)["coupon_id"]
    code, message = wxpay.marketing_favor_stock_send(stock_id=stock_id, openid=openid, out_request_no="SDKSEND1" + stamp,
                                                     stock_creator_mchid=mchid)
    check(json.loads(message)["coupon_id"] == coupon_id, "the same out_request_no issues the same coupon")
    code, message = wxpay.marketing_favor_stock_send(stock_id=stock_id, openid=openid, out_request_no="SDKSEND2" + stamp,
                                                     stock_creator_mchid=mchid)
    check(code == 200, "a second coupon for the same user")
    code, message = wxpay.marketing_favor_stock_send(stock_id=stock_id, openid=openid, out_request_no="SDKSEND3" + stamp,
                                                     stock_creator_mchid=mchid)
    check(code == 403 and json.loads(message)["code"] == "USER_AL_GET_COUPON",
          "a third is over the per-user limit: %s %s" % (code, message))

    code, message = wxpay.marketing_favor_stock_detail(stock_creator_mchid=mchid, stock_id=stock_id)
    detail = json.loads(message)
    check(code == 200 and detail["distributed_coupons"] == 2 and detail["status"] == "running",
          "stock detail: %s" % message)
    code, message = wxpay.marketing_favor_stock_list(stock_creator_mchid=mchid)
    check(code == 200 and json.loads(message)["total_count"] == 1, "list stocks: %s" % message)
    code, message = wxpay.marketing_favor_stock_merchant(stock_creator_mchid=mchid, stock_id=stock_id)
    check(code == 200 and json.loads(message)["data"] == [mchid], "the stock's merchants: %s" % message)
    code, message = wxpay.marketing_favor_coupon_detail(coupon_id=coupon_id, openid=openid)
    coupon = json.loads(message)
    check(code == 200 and coupon["status"] == "SENDED" and coupon["normal_coupon_information"]["coupon_amount"] == 500,
          "coupon detail: %s" % message)

    code, message = wxpay.marketing_favor_stock_pause(stock_creator_mchid=mchid, stock_id=stock_id)
    check(code == 200, "pause: %s %s" % (code, message))
    other = openid_of("SDK latecomer")
    code, message = wxpay.marketing_favor_stock_send(stock_id=stock_id, openid=other, out_request_no="SDKSEND4" + stamp,
                                                     stock_creator_mchid=mchid)
    check(code == 400 and json.loads(message)["code"] == "STOCK_IS_NOT_ACTIVE", "a paused stock issues nothing")
    code, message = wxpay.marketing_favor_stock_restart(stock_creator_mchid=mchid, stock_id=stock_id)
    check(code == 200, "restart: %s %s" % (code, message))
    code, message = wxpay.marketing_favor_stock_send(stock_id=stock_id, openid=other, out_request_no="SDKSEND4" + stamp,
                                                     stock_creator_mchid=mchid)
    check(code == 200, "a restarted stock issues again")
    print("wechatpayv3 coupons: all checks passed")


if __name__ == "__main__":
    main()
