"""Drives the unmodified PyPI SDK `wechatpy` (its WeCom client,
`wechatpy.enterprise.WeChatClient`) against a running Plaza sandbox.

wechatpy's token URL is hard-coded to https://qyapi.weixin.qq.com, so the client is
pointed at Plaza as spec §2 recipe 1 says: a transport adapter on its requests session
rewrites that origin to Plaza's WeCom gateway (`<base>/wecom`), paths kept verbatim.
Usage:

    python wechatpy_wecom.py --base-url http://127.0.0.1:PORT --admin-token TOKEN

Creates a corp through Plaza's admin API, then with wechatpy: the contacts secret's
client makes departments and members (a duplicate userid raises 60102, an unknown one
60111), lists them; the app's client sends text and markdown app messages (an unknown
recipient comes back in `invaliduser`, nobody valid raises 81013), makes an appchat,
reads it and speaks in it; after the sandbox clock moves two hours the SDK's cached
token has ended and the SDK fetches a new one by itself (42001). Exits non-zero on the
first mismatch.
"""

import argparse

import requests
from requests.adapters import HTTPAdapter
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

from wechatpayv3_flow import check


class ToPlaza(HTTPAdapter):
    """Sends requests for WeCom's API host to Plaza's WeCom gateway instead."""

    def __init__(self, gateway):
        super().__init__()
        self.gateway = gateway

    def send(self, request, **kwargs):
        for host in ("https://qyapi.weixin.qq.com", "http://qyapi.weixin.qq.com"):
            if request.url.startswith(host):
                request.url = self.gateway + request.url[len(host):]
        return super().send(request, **kwargs)


def plaza_client(gateway, corpid, secret):
    client = WeChatClient(corpid, secret)
    adapter = ToPlaza(gateway)
    client._http.mount("https://", adapter)
    client._http.mount("http://", adapter)
    return client


def raises(errcode, call):
    try:
        call()
    except WeChatClientException as error:
        return int(error.errcode) == errcode
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--admin-token", required=True)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    admin = {"Authorization": "Bearer " + args.admin_token}

    reply = requests.post(base + "/api/v1/admin/corps", json={"name": "星河汽车"}, headers=admin, timeout=30)
    check(reply.status_code == 201, "the corp is created: %s" % reply.text[:200])
    corp = reply.json()
    gateway = corp["gateway"]
    check(gateway == base + "/wecom", "the corp names its gateway: %s" % gateway)

    contacts = plaza_client(gateway, corp["corpid"], corp["contacts_secret"])
    sales = contacts.department.create("销售部", parent_id=1, order=10)
    check(sales["errcode"] == 0 and sales["id"] == 2, "department.create: %s" % sales)
    east = contacts.department.create("华东区", parent_id=sales["id"])
    contacts.department.update(east["id"], name="华东大区")
    departments = contacts.department.get()
    check([d["name"] for d in departments] == ["星河汽车", "销售部", "华东大区"], "department.get: %s" % departments)
    check([d["id"] for d in contacts.department.get(sales["id"])] == [2, east["id"]], "department.get(id) is the subtree")

    contacts.user.create("zhangsan", "张三", department=[sales["id"]], position="销售顾问", mobile="13800000001")
    contacts.user.create("lisi", "李四", department=[east["id"]], mobile="13800000002", gender=2, email="lisi@example.com")
    check(raises(60102, lambda: contacts.user.create("ZhangSan", "又一个张三", department=[1], mobile="13800000009")),
          "a userid taken in another case raises 60102")
    check(raises(60111, lambda: contacts.user.get("nobody")), "an unknown userid raises 60111")
    zhangsan = contacts.user.get("zhangsan")
    check(zhangsan["name"] == "张三" and zhangsan["position"] == "销售顾问" and zhangsan["status"] == 4,
          "user.get: %s" % zhangsan)
    contacts.user.update("lisi", position="店长")
    check(contacts.user.get("lisi")["position"] == "店长", "user.update")
    listed = contacts.user.list(1, fetch_child=True)
    check(sorted(u["userid"] for u in listed) == ["lisi", "zhangsan"], "user.list with fetch_child: %s" % listed)
    simple = contacts.department.get_users(sales["id"], fetch_child=1)
    check(sorted(u["userid"] for u in simple) == ["lisi", "zhangsan"], "department.get_users: %s" % simple)
    contacts.user.create("temp", "临时工", department=[1], mobile="13800000003")
    contacts.user.batch_delete(["temp"])
    check(raises(60111, lambda: contacts.user.get("temp")), "user.batch_delete")

    app = plaza_client(gateway, corp["corpid"], corp["app"]["secret"])
    agentid = corp["app"]["agentid"]
    sent = app.message.send_text(agentid, ["zhangsan", "ghost"], "今晚 8 点试驾会")
    check(sent["errcode"] == 0 and sent["invaliduser"] == "ghost" and sent["msgid"], "message.send_text: %s" % sent)
    sent = app.message.send_markdown(agentid, "@all", "**本周目标**：试驾 20 组")
    check(sent["errcode"] == 0 and sent["invaliduser"] == "", "message.send_markdown to @all: %s" % sent)
    check(raises(81013, lambda: app.message.send_text(agentid, ["ghost"], "x")), "nobody valid raises 81013")

    chat = app.appchat.create(name="销售群", owner="zhangsan", user_list=["zhangsan", "lisi"])
    chatid = chat["chatid"]
    info = app.appchat.get(chatid)
    check(info["name"] == "销售群" and info["owner"] == "zhangsan" and info["userlist"] == ["zhangsan", "lisi"],
          "appchat.get: %s" % info)
    app.appchat.update(chatid, name="华东销售群")
    check(app.appchat.get(chatid)["name"] == "华东销售群", "appchat.update")
    check(app.appchat.send_text(chatid, "早会 9 点")["errcode"] == 0, "appchat.send_text")

    # Two hours on, the cached token has ended: the SDK meets 42001, fetches a new one
    # and repeats the call by itself.
    moved = requests.post(base + "/api/v1/sandbox/clock/advance", json={"by_ms": 2 * 3600 * 1000}, headers=admin, timeout=30)
    check(moved.status_code == 200, "the sandbox clock moves: %s" % moved.text[:200])
    check(contacts.user.get("lisi")["name"] == "李四", "the SDK renews its token after 42001")
    print("all checks passed")


if __name__ == "__main__":
    main()
