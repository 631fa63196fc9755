"""Drives the unmodified PyPI SDK `wechatpy` (APIv2, XML) against a running Plaza sandbox.

Only the SDK's API_BASE_URL is changed. Usage:

    python wechatpy_micropay.py --base-url http://127.0.0.1:PORT --admin-token TOKEN

It creates a merchant, a service provider with a sub-merchant, and a payer through Plaza's
admin API; the payer shows payment codes through /api/v1; then, with wechatpy:
micropay (MD5) paid at once, orderquery, reverse and the REVOKED state; micropay signed
HMAC-SHA256; USERPAYING above the payer's password-free limit, then paid after the payer
confirms; a provider's micropay for its sub-merchant; and the SDK's exceptions for a
wrong key (SIGNERROR) and a reused code. Exits non-zero on the first mismatch.
"""

import argparse
import time

import requests
from wechatpy.pay import WeChatPay
from wechatpy.exceptions import WeChatPayException

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

    merchant = admin_post("/api/v1/admin/merchants", {"name": "wechatpy counter"})
    payer = admin_post("/api/v1/admin/users", {"name": "Counter payer", "password": "123456", "balance": 100000})
    payer_headers = {"Authorization": "Bearer " + payer["token"]}

    def payment_code():
        reply = requests.post(base + "/api/v1/me/payment-code", json={}, headers=payer_headers, timeout=10)
        check(reply.status_code == 200, "the payer shows a payment code")
        return reply.json()["code"]

    def client_for(appid, api_key, mch_id, sub_mch_id=None):
        client = WeChatPay(appid=appid, api_key=api_key, mch_id=mch_id, sub_mch_id=sub_mch_id)
        client.API_BASE_URL = base + "/"
        return client

    client = client_for(merchant["appid"], merchant["apiv2_key"], merchant["mchid"])
    stamp = str(int(time.time() * 1000))

    paid = client.micropay.create(body="Counter coffee", total_fee=880, auth_code=payment_code(),
                                  client_ip="10.0.0.8", out_trade_no="WPY" + stamp, attach="till 2")
    check(paid["result_code"] == "SUCCESS" and paid["trade_type"] == "MICROPAY", "micropay (MD5) pays at once")
    check(paid["total_fee"] == "880" and paid["attach"] == "till 2", "total_fee and attach echoed")
    found = client.micropay.query(out_trade_no="WPY" + stamp)
    check(found["trade_state"] == "SUCCESS" and found["transaction_id"] == paid["transaction_id"], "orderquery finds it paid")
    found = client.micropay.query(transaction_id=paid["transaction_id"])
    check(found["out_trade_no"] == "WPY" + stamp, "orderquery by transaction_id")
    reversed_ = client.order.reverse(out_trade_no="WPY" + stamp)
    check(reversed_["result_code"] == "SUCCESS" and reversed_["recall"] == "N", "reverse refunds it (recall N)")
    check(client.micropay.query(out_trade_no="WPY" + stamp)["trade_state"] == "REVOKED", "the reversed order reads REVOKED")

    hmac_paid = client.post("pay/micropay", data={
        "appid": merchant["appid"], "body": "HMAC tea", "total_fee": 120, "spbill_create_ip": "10.0.0.8",
        "out_trade_no": "WPH" + stamp, "auth_code": payment_code(), "sign_type": "HMAC-SHA256",
    })
    check(hmac_paid["result_code"] == "SUCCESS", "micropay signed HMAC-SHA256")

    code = payment_code()
    used_once = client.micropay.create(body="Once", total_fee=100, auth_code=code, client_ip="10.0.0.8",
                                       out_trade_no="WPO" + stamp)
    check(used_once["result_code"] == "SUCCESS", "a code pays once")
    try:
        client.micropay.create(body="Twice", total_fee=100, auth_code=code, client_ip="10.0.0.8",
                               out_trade_no="WPT" + stamp)
        check(False, "a used code is refused")
    except WeChatPayException as error:
        check(error.errcode == "AUTH_CODE_INVALID", "a used code raises AUTH_CODE_INVALID (%s)" % error.errcode)

    wrong_key = client_for(merchant["appid"], "0" * 32, merchant["mchid"])
    try:
        wrong_key.micropay.query(out_trade_no="WPY" + stamp)
        check(False, "a wrong APIv2 key is refused")
    except WeChatPayException as error:
        check(error.errcode == "SIGNERROR", "a wrong key raises SIGNERROR (%s)" % error.errcode)

    admin_post("/api/v1/admin/users/%s/password-free-limit" % payer["user_id"], {"password_free_limit": 500})
    try:
        client.micropay.create(body="Big", total_fee=3000, auth_code=payment_code(), client_ip="10.0.0.8",
                               out_trade_no="WPU" + stamp)
        check(False, "above the limit the payer must confirm")
    except WeChatPayException as error:
        check(error.errcode == "USERPAYING", "USERPAYING above the password-free limit (%s)" % error.errcode)
    check(client.micropay.query(out_trade_no="WPU" + stamp)["trade_state"] == "USERPAYING", "orderquery reads USERPAYING")
    awaiting = requests.get(base + "/api/v1/me/awaiting", headers=payer_headers, timeout=10).json()["orders"]
    confirmed = requests.post(base + "/api/v1/pay/confirm", json={"prepay_id": awaiting[0]["prepay_id"], "password": "123456"},
                              headers=payer_headers, timeout=10)
    check(confirmed.status_code == 200, "the payer confirms with the password")
    check(client.micropay.query(out_trade_no="WPU" + stamp)["trade_state"] == "SUCCESS", "then orderquery reads SUCCESS")

    provider = admin_post("/api/v1/admin/providers", {"name": "wechatpy provider"})
    sub = admin_post("/api/v1/admin/providers/%s/sub-merchants" % provider["sp_mchid"], {"name": "Sub counter"})
    partner = client_for(provider["sp_appid"], provider["apiv2_key"], provider["sp_mchid"], sub["sub_mchid"])
    sub_paid = partner.micropay.create(body="Partner bun", total_fee=200, auth_code=payment_code(),
                                       client_ip="10.0.0.8", out_trade_no="WPS" + stamp)
    check(sub_paid["result_code"] == "SUCCESS" and sub_paid["sub_mch_id"] == sub["sub_mchid"],
          "a provider's micropay for its sub-merchant")
    print("wechatpy micropay: all checks passed")


if __name__ == "__main__":
    main()
