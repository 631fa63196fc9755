"""Drives the unmodified PyPI SDK `wechatpayv3` against a running Plaza sandbox.

Only the SDK's gateway is changed. Usage:

    python wechatpayv3_flow.py --base-url http://127.0.0.1:PORT --admin-token TOKEN --mode certificate|public_key

It creates a merchant and a payer through Plaza's admin API, then, with the SDK:
Native and JSAPI prepay, query by out_trade_no and transaction_id, close, the payer pays
through /api/v1, the SDK's own callback() verifies and decrypts the notification a small
merchant server received, refund and refund query, then moves the sandbox clock a day
and downloads and hash-checks the trade and fund-flow bills. Exits non-zero on the first
mismatch.
"""

import argparse
import datetime
import gzip
import hashlib
import http.server
import json
import os
import sys
import tempfile
import threading
import time

import requests
from wechatpayv3 import WeChatPay, WeChatPayType


def check(condition, message):
    if not condition:
        print("FAILED: " + message, file=sys.stderr)
        sys.exit(1)
    print("ok: " + message)


class Notifications:
    """A merchant's notify_url: keeps each request's headers and body, answers 200."""

    def __init__(self):
        self.received = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("utf-8")
                with outer.lock:
                    outer.received.append((dict(self.headers), body))
                payload = b'{"code":"SUCCESS","message":"OK"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/notify" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count, timeout_s=20):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        check(False, "%d notifications arrived in time (got %d)" % (count, len(self.received)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--mode", choices=["certificate", "public_key"], required=True)
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
    creds = admin_post("/api/v1/admin/merchants", {"name": "SDK %s shop" % args.mode})
    payer = admin_post("/api/v1/admin/users", {"name": "SDK payer", "password": "123456", "balance": 100000})
    payer_headers = {"Authorization": "Bearer " + payer["token"]}

    common = dict(
        mchid=creds["mchid"],
        private_key=creds["private_key"],
        cert_serial_no=creds["cert_serial_no"],
        appid=creds["appid"],
        apiv3_key=creds["apiv3_key"],
        notify_url=notifications.url,
    )
    if args.mode == "public_key":
        wxpay = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            public_key=creds["public_key"],
            public_key_id=creds["public_key_id"],
            **common,
        )
    else:
        # The SDK fetches certificates from the real host in its constructor unless
        # cert_dir already holds one; seed it with Plaza's certificate.
        cert_dir = tempfile.mkdtemp() + os.sep
        with open(cert_dir + creds["platform_serial_no"] + ".pem", "w") as f:
            f.write(creds["platform_certificate"])
        wxpay = WeChatPay(wechatpay_type=WeChatPayType.NATIVE, cert_dir=cert_dir, **common)
    wxpay._core._gate_way = creds["gateway"]
    check(creds["gateway"] == base, "the gateway is Plaza's base URL")

    if args.mode == "certificate":
        # Download the certificate list through the gateway, as the SDK does when it
        # meets an unknown serial.
        wxpay._core._certificates = []
        wxpay._core._update_certificates()
        serials = ["%X" % c.serial_number for c in wxpay._core._certificates]
        check(serials == [creds["platform_serial_no"]], "GET /v3/certificates decrypts to the platform certificate")

    stamp = str(int(time.time() * 1000))
    native_no = "PYN" + stamp
    code, message = wxpay.pay(description="SDK coffee", out_trade_no=native_no, amount={"total": 1234}, attach="sdk")
    check(code == 200 and "code_url" in json.loads(message), "Native prepay: %s %s" % (code, message))
    code_url = json.loads(message)["code_url"]

    openid = requests.get(base + "/api/v1/me/openid", params={"appid": creds["appid"]}, headers=payer_headers, timeout=10).json()["openid"]
    jsapi_no = "PYJ" + stamp
    code, message = wxpay.pay(
        description="SDK tea", out_trade_no=jsapi_no, amount={"total": 300},
        payer={"openid": openid}, pay_type=WeChatPayType.JSAPI,
    )
    check(code == 200 and json.loads(message)["prepay_id"].startswith("wx"), "JSAPI prepay: %s %s" % (code, message))

    code, message = wxpay.query(out_trade_no=native_no)
    check(code == 200 and json.loads(message)["trade_state"] == "NOTPAY", "query unpaid by out_trade_no")
    code, message = wxpay.close(out_trade_no=jsapi_no)
    check(code == 204, "close answers 204 (%s)" % code)
    code, message = wxpay.query(out_trade_no=jsapi_no)
    check(json.loads(message)["trade_state"] == "CLOSED", "the closed order reads CLOSED")

    paid = requests.post(base + "/api/v1/pay/confirm", json={"code_url": code_url, "password": "123456"}, headers=payer_headers, timeout=10)
    check(paid.status_code == 200, "the payer pays through /api/v1: %s" % paid.text[:200])

    headers, body = notifications.wait_for(1)[0]
    decrypted = wxpay.decrypt_callback(headers, body)
    check(decrypted is not None and json.loads(decrypted)["out_trade_no"] == native_no,
          "the SDK's decrypt_callback() verifies and decrypts the notification")
    result = wxpay.callback(headers, body)
    check(result is not None, "the SDK's callback() verifies the notification's signature")
    resource = result["resource"]
    check(result["event_type"] == "TRANSACTION.SUCCESS", "event_type TRANSACTION.SUCCESS")
    check(resource["out_trade_no"] == native_no and resource["trade_state"] == "SUCCESS", "decrypted resource names the order, SUCCESS")
    check(resource["amount"]["total"] == 1234 and resource["attach"] == "sdk", "amount and attach echoed")
    check(resource["payer"]["openid"] == openid, "payer openid is the user's openid under the app")
    transaction_id = resource["transaction_id"]

    code, message = wxpay.query(transaction_id=transaction_id)
    check(code == 200 and json.loads(message)["out_trade_no"] == native_no, "query by transaction_id")

    refund_no = "PYR" + stamp
    code, message = wxpay.refund(out_refund_no=refund_no, amount={"refund": 234, "total": 1234, "currency": "CNY"}, transaction_id=transaction_id, notify_url=notifications.url)
    check(code == 200 and json.loads(message)["status"] in ("SUCCESS", "PROCESSING"), "refund: %s %s" % (code, message))
    code, message = wxpay.query_refund(out_refund_no=refund_no)
    check(code == 200 and json.loads(message)["amount"]["refund"] == 234, "refund query")
    headers, body = notifications.wait_for(2)[1]
    refund_note = wxpay.callback(headers, body)
    check(refund_note is not None and refund_note["event_type"] == "REFUND.SUCCESS", "REFUND.SUCCESS verifies")
    check(refund_note["resource"]["out_refund_no"] == refund_no, "the refund notification names the refund")

    bill_date = resource["success_time"][:10]
    code, message = wxpay.trade_bill(bill_date=bill_date)
    check(code == 400 and json.loads(message)["code"] == "NO_STATEMENT_EXIST", "no bill before the day closes")
    # One day on, the day settles (at 02:00); one more, and the settlement day closes.
    for _ in range(2):
        moved = requests.post(base + "/api/v1/sandbox/clock/advance", json={"by_ms": 86400000}, headers=admin, timeout=30)
        check(moved.status_code == 200, "the sandbox clock moves a day")

    for name, call in (("trade", lambda: wxpay.trade_bill(bill_date=bill_date)),
                       ("fund-flow", lambda: wxpay.fundflow_bill(bill_date=next_day(bill_date)))):
        code, message = call()
        check(code == 200, "%s bill: %s %s" % (name, code, message))
        bill = json.loads(message)
        check(bill["download_url"].startswith(base), "%s bill download_url starts with the gateway" % name)
        code, content = wxpay.download_bill(bill["download_url"])
        check(code == 200 and isinstance(content, bytes), "%s bill downloads as bytes" % name)
        text = gzip.decompress(content)
        check(hashlib.sha1(text).hexdigest() == bill["hash_value"], "%s bill matches its SHA1" % name)
        print(text.decode("utf-8"))
    print("wechatpayv3 %s mode: all checks passed" % args.mode)


def next_day(day):
    return (datetime.date.fromisoformat(day) + datetime.timedelta(days=1)).isoformat()


if __name__ == "__main__":
    main()
