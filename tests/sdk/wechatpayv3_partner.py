"""Drives the unmodified PyPI SDK `wechatpayv3` in partner mode (服务商) against Plaza.

Only the SDK's gateway is changed. Usage:

    python wechatpayv3_partner.py --base-url http://127.0.0.1:PORT --admin-token TOKEN

It creates two service providers, a sub-merchant with its own app under the first and one
under the second, and a payer, through Plaza's admin API; then, with the SDK constructed
with partner_mode=True as the first provider: Native prepay for the sub-merchant, JSAPI
prepay made out to the payer's sub_openid, query both ways, close, the payer pays, the
SDK's callback() verifies and decrypts the partner-shaped notification, refund and refund
query with sub_mchid and the partner-shaped refund notification, and NO_AUTH for the other
provider's sub-merchant; then profit sharing through the SDK's own calls (receiver with
an encrypted name, split, query, return, unfreeze, amounts, config); a day on, the
provider's trade bills with and without sub_mchid, downloaded and hash-checked, and another
provider's sub-merchant's refused; a day later the sub-merchant's encrypted fund-flow bill,
decrypted with the provider's key. Exits non-zero on the first mismatch.
"""

import argparse
import base64
import datetime
import gzip
import hashlib
import json
import time

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3 import WeChatPay, WeChatPayType

from wechatpayv3_flow import Notifications, check


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

    # Start from a known instant (10:00 China time, two days on), so the day arithmetic
    # below is the same whatever the hour the test runs at.
    now_ms = requests.get(base + "/api/v1/sandbox/clock", timeout=30).json()["now_ms"]
    china = datetime.timezone(datetime.timedelta(hours=8))
    today = datetime.datetime.fromtimestamp(now_ms / 1000, china).date()
    pinned = datetime.datetime.combine(today + datetime.timedelta(days=2), datetime.time(10, 0), china)
    admin_post("/api/v1/sandbox/clock/set", {"to": pinned.isoformat()})

    notifications = Notifications()
    sp = admin_post("/api/v1/admin/providers", {"name": "SDK services", "commission_bps": 2000})
    other = admin_post("/api/v1/admin/providers", {"name": "Other services"})
    sub_appid = "wx5ab00000000000" + str(int(time.time()) % 90 + 10)
    sub = admin_post("/api/v1/admin/providers/%s/sub-merchants" % sp["sp_mchid"],
                     {"name": "SDK noodles", "sub_appid": sub_appid})
    foreign = admin_post("/api/v1/admin/providers/%s/sub-merchants" % other["sp_mchid"], {"name": "Not ours"})
    payer = admin_post("/api/v1/admin/users", {"name": "SDK payer", "password": "123456", "balance": 100000})
    payer_headers = {"Authorization": "Bearer " + payer["token"]}

    wxpay = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=sp["sp_mchid"],
        private_key=sp["private_key"],
        cert_serial_no=sp["cert_serial_no"],
        appid=sp["sp_appid"],
        apiv3_key=sp["apiv3_key"],
        notify_url=notifications.url,
        partner_mode=True,
        public_key=sp["public_key"],
        public_key_id=sp["public_key_id"],
    )
    wxpay._core._gate_way = sp["gateway"]
    sub_mchid = sub["sub_mchid"]

    stamp = str(int(time.time() * 1000))
    native_no = "SPN" + stamp
    code, message = wxpay.pay(description="SDK noodles", out_trade_no=native_no, amount={"total": 2000},
                              sub_mchid=sub_mchid, sub_appid=sub_appid, attach="partner")
    check(code == 200 and "code_url" in json.loads(message), "partner Native prepay: %s %s" % (code, message))
    code_url = json.loads(message)["code_url"]

    def openid_under(appid):
        return requests.get(base + "/api/v1/me/openid", params={"appid": appid},
                            headers=payer_headers, timeout=10).json()["openid"]

    sub_openid = openid_under(sub_appid)
    jsapi_no = "SPJ" + stamp
    code, message = wxpay.pay(description="SDK dumplings", out_trade_no=jsapi_no, amount={"total": 500},
                              payer={"sub_openid": sub_openid}, pay_type=WeChatPayType.JSAPI,
                              sub_mchid=sub_mchid, sub_appid=sub_appid)
    check(code == 200 and json.loads(message)["prepay_id"].startswith("wx"),
          "partner JSAPI prepay for a sub_openid: %s %s" % (code, message))

    code, message = wxpay.query(out_trade_no=native_no, sub_mchid=sub_mchid)
    unpaid = json.loads(message)
    check(code == 200 and unpaid["trade_state"] == "NOTPAY", "partner query unpaid by out_trade_no")
    check(unpaid["sp_mchid"] == sp["sp_mchid"] and unpaid["sub_mchid"] == sub_mchid and "mchid" not in unpaid,
          "the partner Transaction names sp_mchid and sub_mchid")
    code, message = wxpay.close(out_trade_no=jsapi_no, sub_mchid=sub_mchid)
    check(code == 204, "partner close answers 204 (%s)" % code)
    code, message = wxpay.query(out_trade_no=jsapi_no, sub_mchid=sub_mchid)
    check(json.loads(message)["trade_state"] == "CLOSED", "the closed partner order reads CLOSED")

    code, message = wxpay.pay(description="x", out_trade_no="SPX" + stamp, amount={"total": 100},
                              sub_mchid=foreign["sub_mchid"])
    check(code == 403 and json.loads(message)["code"] == "NO_AUTH",
          "another provider's sub-merchant is NO_AUTH: %s %s" % (code, message))

    paid = requests.post(base + "/api/v1/pay/confirm", json={"code_url": code_url, "password": "123456"},
                         headers=payer_headers, timeout=10)
    check(paid.status_code == 200, "the payer pays through /api/v1: %s" % paid.text[:200])

    headers, body = notifications.wait_for(1)[0]
    result = wxpay.callback(headers, body)
    check(result is not None and result["event_type"] == "TRANSACTION.SUCCESS",
          "the SDK's callback() verifies the partner notification")
    resource = result["resource"]
    check(resource["sp_mchid"] == sp["sp_mchid"] and resource["sub_mchid"] == sub_mchid,
          "the decrypted resource names sp_mchid and sub_mchid")
    check(resource["sp_appid"] == sp["sp_appid"] and resource["sub_appid"] == sub_appid,
          "the decrypted resource names sp_appid and sub_appid")
    check(resource["payer"]["sp_openid"] == openid_under(sp["sp_appid"]) and resource["payer"]["sub_openid"] == sub_openid,
          "the payer appears with both openids")
    transaction_id = resource["transaction_id"]

    code, message = wxpay.query(transaction_id=transaction_id, sub_mchid=sub_mchid)
    check(code == 200 and json.loads(message)["out_trade_no"] == native_no, "partner query by transaction_id")

    refund_no = "SPR" + stamp
    code, message = wxpay.refund(out_refund_no=refund_no, amount={"refund": 500, "total": 2000, "currency": "CNY"},
                                 transaction_id=transaction_id, notify_url=notifications.url, sub_mchid=sub_mchid)
    check(code == 200 and json.loads(message)["status"] in ("SUCCESS", "PROCESSING"), "partner refund: %s %s" % (code, message))
    code, message = wxpay.query_refund(out_refund_no=refund_no, sub_mchid=sub_mchid)
    check(code == 200 and json.loads(message)["amount"]["refund"] == 500, "partner refund query")
    headers, body = notifications.wait_for(2)[1]
    refund_note = wxpay.callback(headers, body)
    check(refund_note is not None and refund_note["event_type"] == "REFUND.SUCCESS", "REFUND.SUCCESS verifies")
    check(refund_note["resource"]["sp_mchid"] == sp["sp_mchid"] and refund_note["resource"]["sub_mchid"] == sub_mchid,
          "the refund notification is in the partner shape")

    # Profit sharing for the sub-merchant, with the SDK's own calls (the receiver's name
    # is encrypted by the SDK with the platform key).
    brand = admin_post("/api/v1/admin/merchants", {"name": "SDK brand"})
    shared_no = "SPS" + stamp
    code, message = wxpay.pay(description="SDK shared", out_trade_no=shared_no, amount={"total": 10000},
                              sub_mchid=sub_mchid, settle_info={"profit_sharing": True})
    check(code == 200, "a profit-sharing partner order: %s %s" % (code, message))
    paid = requests.post(base + "/api/v1/pay/confirm", json={"code_url": json.loads(message)["code_url"], "password": "123456"},
                         headers=payer_headers, timeout=10)
    check(paid.status_code == 200, "the payer pays it")
    shared_tx = paid.json()["transaction_id"]
    code, message = wxpay.profitsharing_add_receiver(account_type="MERCHANT_ID", account=brand["mchid"],
                                                     relation_type="BRAND", name="SDK brand", sub_mchid=sub_mchid)
    check(code == 200 and json.loads(message)["account"] == brand["mchid"], "add a receiver: %s %s" % (code, message))
    code, message = wxpay.profitsharing_amount_query(shared_tx)
    check(code == 200 and json.loads(message)["unsplit_amount"] == 9940, "the net (10,000 less the 0.6%% fee) is frozen: %s" % message)
    order_no = "SPO" + stamp
    code, message = wxpay.profitsharing_order(transaction_id=shared_tx, out_order_no=order_no, unfreeze_unsplit=False,
                                              receivers=[{"type": "MERCHANT_ID", "account": brand["mchid"], "amount": 1500, "description": "royalty"}],
                                              sub_mchid=sub_mchid)
    check(code == 200 and json.loads(message)["state"] == "FINISHED", "split 1,500 to the receiver: %s %s" % (code, message))
    code, message = wxpay.profitsharing_order_query(shared_tx, order_no, sub_mchid=sub_mchid)
    check(code == 200 and json.loads(message)["receivers"][0]["amount"] == 1500, "query the split")
    code, message = wxpay.profitsharing_return(out_return_no="SPB" + stamp, return_mchid=brand["mchid"], amount=500,
                                               description="returned", out_order_no=order_no, sub_mchid=sub_mchid)
    check(code == 200 and json.loads(message)["result"] == "SUCCESS", "the receiver returns 500: %s %s" % (code, message))
    code, message = wxpay.profitsharing_return_query(order_no, "SPB" + stamp, sub_mchid=sub_mchid)
    check(code == 200 and json.loads(message)["amount"] == 500, "query the return (the SDK's ?& query)")
    code, message = wxpay.profitsharing_unfreeze(shared_tx, "SPU" + stamp, "unfreeze the rest", sub_mchid=sub_mchid)
    check(code == 200, "unfreeze the rest: %s %s" % (code, message))
    code, message = wxpay.profitsharing_amount_query(shared_tx)
    check(json.loads(message)["unsplit_amount"] == 0, "nothing is left frozen")
    code, message = wxpay.profitsharing_config_query(sub_mchid)
    check(code == 200 and json.loads(message)["max_ratio"] == 3000, "the sub-merchant's max ratio")

    # A day on, the provider's trade bills: the sub-merchant's (sub_mchid) and all of its
    # sub-merchants' (none given), each with the orders under 特约商户号; another
    # provider's sub-merchant is refused.
    code, message = wxpay.query(transaction_id=transaction_id, sub_mchid=sub_mchid)
    bill_date = json.loads(message)["success_time"][:10]
    moved = requests.post(base + "/api/v1/sandbox/clock/advance", json={"by_ms": 86400000}, headers=admin, timeout=30)
    check(moved.status_code == 200, "the sandbox clock moves a day")
    for name, sub in (("one sub-merchant's", sub_mchid), ("all sub-merchants'", None)):
        code, message = wxpay.trade_bill(bill_date=bill_date, sub_mchid=sub)
        check(code == 200, "%s trade bill: %s %s" % (name, code, message))
        bill = json.loads(message)
        code, content = wxpay.download_bill(bill["download_url"])
        check(code == 200, "%s trade bill downloads" % name)
        text = gzip.decompress(content)
        check(hashlib.sha1(text).hexdigest() == bill["hash_value"], "%s trade bill matches its SHA-1" % name)
        line = next((line for line in text.decode().split("\r\n") if ("`" + native_no + ",") in line), "")
        check(("`%s,`%s," % (sp["sp_mchid"], sub_mchid)) in line, "%s trade bill: the order under the provider and the sub-merchant: %s" % (name, line))
    code, message = wxpay.trade_bill(bill_date=bill_date, sub_mchid=foreign["sub_mchid"])
    check(code == 403 and json.loads(message)["code"] == "NO_AUTH", "another provider's sub-merchant's bill is refused: %s %s" % (code, message))

    # One more day, and the settlement's day is over: the sub-merchant's fund-flow bill,
    # asked for with the SDK's own call, comes encrypted for the provider.
    moved = requests.post(base + "/api/v1/sandbox/clock/advance", json={"by_ms": 86400000}, headers=admin, timeout=30)
    check(moved.status_code == 200, "the sandbox clock moves another day")
    settle_date = (datetime.date.fromisoformat(bill_date) + datetime.timedelta(days=1)).isoformat()
    code, message = wxpay.submch_fundflow_bill(sub_mchid=sub_mchid, bill_date=settle_date, account_type="BASIC", tar_type="GZIP")
    check(code == 200, "the sub-merchant's fund-flow bill: %s %s" % (code, message))
    part = json.loads(message)["download_bill_list"][0]
    private_key = serialization.load_pem_private_key(sp["private_key"].encode(), password=None)
    key = private_key.decrypt(base64.b64decode(part["encrypt_key"]),
                              padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
    code, sealed = wxpay.download_bill(part["download_url"])
    check(code == 200, "the encrypted bill downloads")
    text = gzip.decompress(AESGCM(key).decrypt(part["nonce"].encode(), sealed, None))
    check(hashlib.sha1(text).hexdigest() == part["hash_value"], "decrypted with the provider's key, it matches its SHA-1")
    check(("`settle " + sub_mchid).encode() in text, "it shows the sub-merchant's settlement")
    print("wechatpayv3 partner mode: all checks passed")


if __name__ == "__main__":
    main()
