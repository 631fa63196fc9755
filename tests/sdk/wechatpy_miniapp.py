"""Drives the unmodified PyPI SDK `wechatpy` (mini-program server API) against a running
Plaza sandbox.

wechatpy's token URL is hard-coded to https://api.weixin.qq.com, so the client is pointed
at Plaza the way any developer would: a transport adapter on its requests session that
rewrites that host to Plaza's base URL (paths kept verbatim). Usage:

    python wechatpy_miniapp.py --base-url http://127.0.0.1:PORT --admin-token TOKEN

It creates a developer and a mini program and a user through Plaza's admin API; the user
logs in through the container's `wx.login` endpoint; then, with wechatpy: the access
token, `wxa.code_to_session` with that code (openid, session_key of 16 bytes, unionid),
the same code again (40163, raised by the SDK), a subscribe message without consent
(43101) and with it (ok, in the user's service notifications), `checksession` with a signature computed
from the session key, a released version's `getwxacodeunlimit` PNG (written to
--png-out; the Rust side decodes it to the container URL) and a missing page (41030),
`msg_sec_check` against the operator's word list (ok, 87014), a visit, and — after the
sandbox clock moves a day — `checksession` again, which the SDK retries by itself after
fetching a new token on 42001, and the data cube's visit trend for the day before.
Exits non-zero on the first mismatch.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import io
import json
import zipfile

import requests
from requests.adapters import HTTPAdapter
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from wechatpayv3_flow import check


class ToPlaza(HTTPAdapter):
    """Sends requests for WeChat's API host to Plaza instead."""

    def __init__(self, base):
        super().__init__()
        self.base = base

    def send(self, request, **kwargs):
        for host in ("https://api.weixin.qq.com", "http://api.weixin.qq.com"):
            if request.url.startswith(host):
                request.url = self.base + request.url[len(host):]
        return super().send(request, **kwargs)


def plaza_client(base, appid, secret):
    client = WeChatClient(appid, secret)
    adapter = ToPlaza(base)
    client._http.mount("https://", adapter)
    client._http.mount("http://", adapter)
    return client


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--png-out", required=True, help="where to write the wxacode PNG for the Rust side to decode")
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    admin = {"Authorization": "Bearer " + args.admin_token}

    def admin_post(path, body):
        reply = requests.post(base + path, json=body, headers=admin, timeout=30)
        check(reply.status_code in (200, 201), "POST %s: %s" % (path, reply.text[:200]))
        return reply.json()

    developer = admin_post("/api/v1/admin/users", {"name": "Developer", "password": "123456", "balance": 1})
    app = admin_post("/api/v1/admin/miniapps", {"developer": developer["user_id"], "name": "核酸检测预约"})
    user = admin_post("/api/v1/admin/users", {"name": "Visitor", "password": "123456", "balance": 1})

    def wx_login():
        reply = requests.post(base + "/api/v1/mp/%s/login" % app["appid"], json={},
                              headers={"Authorization": "Bearer " + user["token"]}, timeout=10)
        check(reply.status_code == 200 and reply.json()["errMsg"] == "login:ok", "wx.login gives a code")
        return reply.json()["code"]

    client = plaza_client(base, app["appid"], app["secret"])
    token = client.access_token
    check(isinstance(token, str) and len(token) >= 64, "the SDK fetched an access token from Plaza")

    code = wx_login()
    session = client.wxa.code_to_session(code)
    check(len(session["openid"]) == 28, "code_to_session answers an openid")
    check(len(base64.b64decode(session["session_key"])) == 16, "session_key is base64 of 16 bytes")
    check(session["unionid"] != session["openid"], "the app's developer account gives a unionid")
    try:
        client.wxa.code_to_session(code)
        check(False, "a code works once")
    except WeChatClientException as error:
        check(error.errcode == 40163, "the same code again raises 40163 (%s)" % error.errcode)

    # Subscribe messages: a template from the library (through the SDK's own session and
    # token), then a send without consent (43101) and with one (ok).
    added = client.post("https://api.weixin.qq.com/wxaapi/newtmpl/addtemplate",
                        data={"tid": "1001", "kidList": [1, 2, 3], "sceneDesc": "预约成功"})
    template_id = added["priTmplId"]
    data = {"thing1": {"value": "核酸检测"}, "time2": {"value": "2026年12月8日 09:30"},
            "thing3": {"value": "市民中心采样点"}}
    try:
        client.wxa.send_subscribe_message(session["openid"], template_id, data, page="pages/index/index")
        check(False, "a send without consent is refused")
    except WeChatClientException as error:
        check(error.errcode == 43101, "without consent the SDK raises 43101 (%s)" % error.errcode)
    consent = requests.post(base + "/api/v1/mp/%s/subscribe" % app["appid"], json={"accept": [template_id]},
                            headers={"Authorization": "Bearer " + user["token"]}, timeout=10)
    check(consent.status_code == 200 and consent.json()[template_id] == "accept", "the user accepts in the consent sheet")
    sent = client.wxa.send_subscribe_message(session["openid"], template_id, data, page="pages/index/index")
    check(sent["errcode"] == 0 and len(sent["msgid"]) == 19, "with one consent the send succeeds")
    notes = requests.get(base + "/api/v1/me/notifications", headers={"Authorization": "Bearer " + user["token"]},
                         timeout=10).json()["notifications"]
    check(notes[0]["title"] == "预约成功通知", "the user has the service notification")

    signature = hmac.new(session["session_key"].encode(), b"", hashlib.sha256).hexdigest()
    params = {"openid": session["openid"], "signature": signature, "sig_method": "hmac_sha256"}
    result = client.get("https://api.weixin.qq.com/wxa/checksession", params=dict(params))
    check(result["errcode"] == 0, "checksession accepts the session key's signature")

    # A released version, so codes can open its pages.
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.json", json.dumps({"pages": ["pages/index/index"], "window": {"navigationBarTitleText": "预约"}}))
        archive.writestr("pages/index/index.html", "<h1>预约</h1>")
    developer_headers = {"Authorization": "Bearer " + developer["token"]}
    uploaded = requests.post(base + "/api/v1/admin/miniapps/%s/versions?user_version=1.0.0" % app["appid"],
                             data=package.getvalue(), headers=dict(admin, **{"content-type": "application/zip"}), timeout=30)
    check(uploaded.status_code == 201, "a package is uploaded")
    me = base + "/api/v1/me/miniapps/" + app["appid"]
    check(requests.post(me + "/versions/1/submit", json={}, headers=developer_headers, timeout=10).status_code == 200, "submitted")
    admin_post("/api/v1/admin/miniapps/%s/review" % app["appid"], {"decision": "approve"})
    check(requests.post(me + "/release", json={}, headers=developer_headers, timeout=10).json()["release"] == 1, "released")

    code_image = client.wxa.get_wxa_code_unlimited("site=7", page="pages/index/index")
    check(code_image.headers.get("content-type") == "image/png", "getwxacodeunlimit answers a PNG")
    with open(args.png_out, "wb") as out:
        out.write(code_image.content)
    try:
        client.wxa.get_wxa_code_unlimited("x", page="pages/missing/missing")
        check(False, "a missing page is refused")
    except WeChatClientException as error:
        check(error.errcode == 41030, "a page the release lacks raises 41030 (%s)" % error.errcode)

    # Content security against the operator's word list.
    requests.put(base + "/api/v1/admin/miniapp-words", json={"words": [{"word": "代开发票", "label": 20006}]},
                 headers=admin, timeout=10)
    check(client.wxa.check_text_security("预约核酸检测")["errcode"] == 0, "msg_sec_check passes plain text")
    try:
        client.wxa.check_text_security("专业代开发票")
        check(False, "risky text is refused")
    except WeChatClientException as error:
        check(error.errcode == 87014, "risky text raises 87014 (%s)" % error.errcode)

    # Visits today, read tomorrow through the data cube.
    visit = requests.post(base + "/api/v1/mp/%s/visit" % app["appid"], json={"event": "open"},
                          headers={"Authorization": "Bearer " + user["token"]}, timeout=10)
    check(visit.status_code == 204, "the container records a visit")
    now_ms = requests.get(base + "/api/v1/sandbox/clock", headers=admin, timeout=10).json()["now_ms"]
    china = datetime.timezone(datetime.timedelta(hours=8))
    visit_day = datetime.datetime.fromtimestamp(now_ms / 1000, china).strftime("%Y%m%d")

    moved = requests.post(base + "/api/v1/sandbox/clock/advance", json={"by_ms": 24 * 3600 * 1000 + 60000},
                          headers=admin, timeout=30)
    check(moved.status_code == 200, "the sandbox clock moves a day, past the token's two hours")
    check(client.access_token == token, "the SDK still holds the old token (its own clock did not move)")
    result = client.get("https://api.weixin.qq.com/wxa/checksession", params=dict(params))
    check(result["errcode"] == 0, "after 42001 the SDK fetched a new token and retried by itself")
    check(client.access_token != token, "the SDK now holds a new token")
    trend = client.post("https://api.weixin.qq.com/datacube/getweanalysisappiddailyvisittrend",
                        data={"begin_date": visit_day, "end_date": visit_day})
    row = trend["list"][0]
    check(row["ref_date"] == visit_day and row["visit_uv"] == 1 and row["session_cnt"] == 1,
          "the data cube counts yesterday's visit: %s" % row)
    print("all checks passed")


if __name__ == "__main__":
    main()
