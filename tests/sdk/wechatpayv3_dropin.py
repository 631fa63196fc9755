"""Drop-in mode with the unmodified PyPI SDK `wechatpayv3`: its gateway is NOT changed.

The SDK talks to its built-in `https://api.mch.weixin.qq.com`. What a hosts-file line and
a trusted CA would do on a developer's machine is done here for this process only:
`socket.getaddrinfo` answers WeChat's API hosts with Plaza's TLS listener, and
`REQUESTS_CA_BUNDLE` trusts Plaza's CA (`plaza ca`). Usage:

    python wechatpayv3_dropin.py --base-url http://127.0.0.1:PORT --admin-token TOKEN \
        --tls-port PORT --ca DATA_DIR/ca/ca.pem

Creates a merchant through Plaza's admin API (plain HTTP), then with the SDK: Native
prepay, query; a payer pays and the clock moves a day; the SDK downloads the day's trade
bill through its own host and checks its SHA-1; checks that the certificate the SDK saw is
Plaza's. Exits non-zero on the first mismatch.
"""

import argparse
import datetime
import gzip
import hashlib
import json
import os
import socket
import ssl
import sys
import time

import requests
from wechatpayv3 import WeChatPay, WeChatPayType

WECHAT_HOSTS = ("api.mch.weixin.qq.com", "api.weixin.qq.com", "qyapi.weixin.qq.com")


def check(condition, message):
    if not condition:
        print("FAILED: " + message, file=sys.stderr)
        sys.exit(1)
    print("ok: " + message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--tls-port", type=int, required=True)
    parser.add_argument("--ca", required=True)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")

    reply = requests.post(
        base + "/api/v1/admin/merchants",
        json={"name": "Drop-in shop", "sign_mode": "public_key"},
        headers={"Authorization": "Bearer " + args.admin_token},
        timeout=30,
    )
    check(reply.status_code == 201, "merchant created: %s" % reply.text[:200])
    creds = reply.json()

    # The hosts-file line, for this process only.
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *rest, **kwargs):
        if isinstance(host, str) and host.lower().rstrip(".") in WECHAT_HOSTS:
            return real_getaddrinfo("127.0.0.1", args.tls_port, *rest, **kwargs)
        return real_getaddrinfo(host, port, *rest, **kwargs)

    socket.getaddrinfo = getaddrinfo
    # The trusted CA, for this process only.
    os.environ["REQUESTS_CA_BUNDLE"] = args.ca

    wxpay = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=creds["mchid"],
        private_key=creds["private_key"],
        cert_serial_no=creds["cert_serial_no"],
        appid=creds["appid"],
        apiv3_key=creds["apiv3_key"],
        notify_url="https://merchant.example/notify",
        public_key=creds["public_key"],
        public_key_id=creds["public_key_id"],
    )
    check(wxpay._core._gate_way == "https://api.mch.weixin.qq.com", "the SDK keeps WeChat's own host")

    # Start from a known instant (10:00 China time, two days on), so the day arithmetic
    # below is the same whatever the hour the test runs at.
    now_ms = requests.get(base + "/api/v1/sandbox/clock", timeout=30).json()["now_ms"]
    china = datetime.timezone(datetime.timedelta(hours=8))
    today = datetime.datetime.fromtimestamp(now_ms / 1000, china).date()
    pinned = datetime.datetime.combine(today + datetime.timedelta(days=2), datetime.time(10, 0), china)
    pin = requests.post(base + "/api/v1/sandbox/clock/set", json={"to": pinned.isoformat()}, headers={"Authorization": "Bearer " + args.admin_token}, timeout=30)
    check(pin.status_code == 200, "the clock is pinned: %s" % pin.text[:200])

    out_trade_no = "DROPIN%d" % int(time.time() * 1000)
    code, message = wxpay.pay(description="Drop-in latte", out_trade_no=out_trade_no, amount={"total": 1800})
    check(code == 200 and json.loads(message)["code_url"].startswith("weixin://"), "Native prepay through https://api.mch.weixin.qq.com: %s %s" % (code, message))
    code_url = json.loads(message)["code_url"]
    code, message = wxpay.query(out_trade_no=out_trade_no)
    check(code == 200 and json.loads(message)["trade_state"] == "NOTPAY", "query: %s %s" % (code, message))

    # A payer pays (through Plaza's own API, plain HTTP); a day on, the SDK asks for the
    # day's bill and downloads it through its own host.
    admin = {"Authorization": "Bearer " + args.admin_token}
    payer = requests.post(base + "/api/v1/admin/users", json={"name": "Drop-in payer", "password": "123456", "balance": 10000}, headers=admin, timeout=30)
    check(payer.status_code == 201, "payer created: %s" % payer.text[:200])
    paid = requests.post(base + "/api/v1/pay/confirm", json={"code_url": code_url, "password": "123456"}, headers={"Authorization": "Bearer " + payer.json()["token"]}, timeout=30)
    check(paid.status_code == 200, "the payer pays: %s" % paid.text[:200])
    code, message = wxpay.query(out_trade_no=out_trade_no)
    bill_date = json.loads(message)["success_time"][:10]
    moved = requests.post(base + "/api/v1/sandbox/clock/advance", json={"by_ms": 86400000}, headers=admin, timeout=30)
    check(moved.status_code == 200, "the sandbox clock moves a day")
    code, message = wxpay.trade_bill(bill_date=bill_date)
    check(code == 200, "trade bill: %s %s" % (code, message))
    bill = json.loads(message)
    check(bill["download_url"].startswith("https://api.mch.weixin.qq.com/v3/billdownload/file?token="), "download_url is at WeChat Pay's host, over HTTPS: %s" % bill["download_url"])
    code, content = wxpay.download_bill(bill["download_url"])
    check(code == 200 and isinstance(content, bytes), "the SDK downloads the bill from its own host: %s" % code)
    text = gzip.decompress(content)
    check(hashlib.sha1(text).hexdigest() == bill["hash_value"], "the bill matches its SHA-1")
    check(("`" + out_trade_no).encode() in text, "the bill has the order")

    # It was Plaza's certificate, for WeChat's name, that the SDK's TLS accepted.
    context = ssl.create_default_context(cafile=args.ca)
    with socket.create_connection(("api.mch.weixin.qq.com", 443)) as raw:
        with context.wrap_socket(raw, server_hostname="api.mch.weixin.qq.com") as tls:
            peer = tls.getpeercert()
    names = [value for kind, value in peer.get("subjectAltName", ()) if kind == "DNS"]
    check("api.mch.weixin.qq.com" in names, "Plaza's certificate names api.mch.weixin.qq.com: %s" % names)

    # Without the CA the same call fails: the trust is what makes it work.
    os.environ["REQUESTS_CA_BUNDLE"] = requests.certs.where()
    try:
        wxpay.query(out_trade_no=out_trade_no)
        check(False, "an SDK that does not trust Plaza's CA is refused")
    except requests.exceptions.SSLError:
        check(True, "an SDK that does not trust Plaza's CA is refused")

    print("all checks passed")


if __name__ == "__main__":
    main()
