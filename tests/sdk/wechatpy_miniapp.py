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
from the session key, and — after the sandbox clock moves past the token's two hours —
the same call again, which the SDK retries by itself after fetching a new token on 42001.
Exits non-zero on the first mismatch.
"""

import argparse
import base64
import hashlib
import hmac

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

    moved = requests.post(base + "/api/v1/sandbox/clock/advance", json={"by_ms": 2 * 3600 * 1000 + 60000},
                          headers=admin, timeout=30)
    check(moved.status_code == 200, "the sandbox clock moves past the token's two hours")
    check(client.access_token == token, "the SDK still holds the old token (its own clock did not move)")
    result = client.get("https://api.weixin.qq.com/wxa/checksession", params=dict(params))
    check(result["errcode"] == 0, "after 42001 the SDK fetched a new token and retried by itself")
    check(client.access_token != token, "the SDK now holds a new token")
    print("all checks passed")


if __name__ == "__main__":
    main()
