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
import base64
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import requests
from requests.adapters import HTTPAdapter
from wechatpy.enterprise import WeChatClient, parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
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


class CorpCallbacks(BaseHTTPRequestHandler):
    """The corp's callback server: wechatpy's own WeChatCrypto answers the URL
    verification and decrypts every event."""

    crypto = None
    events = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        echo = self.crypto.check_signature(query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"])
        body = echo if isinstance(echo, bytes) else echo.encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        xml = self.crypto.decrypt_message(raw, query["msg_signature"], query["timestamp"], query["nonce"])
        CorpCallbacks.events.append(xml if isinstance(xml, str) else xml.decode())
        self.send_response(200)
        self.end_headers()


def wait_for_event(*parts):
    for _ in range(200):
        for event in CorpCallbacks.events:
            if all(part in event for part in parts):
                return event
        time.sleep(0.1)
    check(False, "an event with %s arrived (got %s)" % (parts, CorpCallbacks.events))


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

    # Callbacks: wechatpy's WeChatCrypto answers Plaza's URL verification and decrypts
    # what Plaza sends.
    aes_key = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    CorpCallbacks.crypto = WeChatCrypto("PlazaSdkToken", aes_key, corp["corpid"])
    callbacks = ThreadingHTTPServer(("127.0.0.1", 0), CorpCallbacks)
    threading.Thread(target=callbacks.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/callback" % callbacks.server_address[1]
    registered = requests.put(base + "/api/v1/admin/corps/%s/callback" % corp["corpid"],
                              json={"url": url, "token": "PlazaSdkToken", "encoding_aes_key": aes_key},
                              headers=admin, timeout=30)
    check(registered.status_code == 200, "Plaza accepts WeChatCrypto's URL verification reply: %s" % registered.text[:200])

    # Customer contact: a contact way, a Plaza user who scans it, and what the SDK reads.
    way = app.external_contact.add_contact_way(1, 2, user=["zhangsan"], state="sdk")
    check(way["config_id"] and way["qr_code"].endswith(way["config_id"]), "external_contact.add_contact_way: %s" % way)
    check(app.external_contact.get_contact_way(way["config_id"])["contact_way"]["state"] == "sdk", "get_contact_way")
    buyers = []
    for name in ("小王", "小李", "小赵"):
        buyer = requests.post(base + "/api/v1/admin/users", json={"name": name, "password": "123456", "balance": 1},
                              headers=admin, timeout=30).json()
        scanned = requests.post(base + "/api/v1/me/wecom/contact-ways/" + way["config_id"], json={},
                                headers={"Authorization": "Bearer " + buyer["token"]}, timeout=30)
        check(scanned.status_code == 200, "%s scans the contact QR: %s" % (name, scanned.text[:200]))
        buyers.append((buyer, scanned.json()["external_userid"]))
    event = wait_for_event("add_external_contact", buyers[0][1])
    check("<UserID><![CDATA[zhangsan]]></UserID>" in event and "<State><![CDATA[sdk]]></State>" in event,
          "WeChatCrypto decrypts change_external_contact: %s" % event[:300])
    check(app.external_contact.get_follow_user_list()["follow_user"] == ["lisi", "zhangsan"], "get_follow_user_list")
    listed = app.external_contact.list("zhangsan")["external_userid"]
    check(sorted(listed) == sorted(b[1] for b in buyers), "external_contact.list: %s" % listed)
    detail = app.external_contact.get(buyers[0][1])
    check(detail["external_contact"]["name"] == "小王" and detail["follow_user"][0]["state"] == "sdk",
          "external_contact.get: %s" % detail)
    batch = app.post("externalcontact/batch/get_by_user", data={"userid_list": ["zhangsan"], "limit": 2})
    rest = app.post("externalcontact/batch/get_by_user", data={"userid": "zhangsan", "cursor": batch["next_cursor"], "limit": 2})
    names = [c["external_contact"]["name"] for c in batch["external_contact_list"] + rest["external_contact_list"]]
    check(names == ["小王", "小李", "小赵"] and rest["next_cursor"] == "", "batch/get_by_user pages to the end: %s" % names)

    # Session archive: the corp archives zhangsan; one customer consents.
    permits = requests.put(base + "/api/v1/admin/corps/%s/archive-permits" % corp["corpid"], json={"userids": ["zhangsan"]},
                           headers=admin, timeout=30)
    check(permits.status_code == 200, "the corp archives zhangsan: %s" % permits.text[:200])
    requests.post(base + "/api/v1/me/wecom/archive-consent/" + corp["corpid"], json={"agree": True},
                  headers={"Authorization": "Bearer " + buyers[0][0]["token"]}, timeout=30)
    check(app.post("msgaudit/get_permit_user_list", data={})["ids"] == ["zhangsan"], "msgaudit/get_permit_user_list")
    agree = app.post("msgaudit/check_single_agree", data={"info": [
        {"userid": "zhangsan", "exteranalopenid": buyers[0][1]}, {"userid": "zhangsan", "exteranalopenid": buyers[1][1]}]})
    check([a["agree_status"] for a in agree["agreeinfo"]] == ["Agree", "Disagree"], "msgaudit/check_single_agree: %s" % agree)

    # Customer groups: zhangsan (a Plaza user through the invitation) makes two groups;
    # the customers join the first by its QR.
    staff = requests.post(base + "/api/v1/admin/users", json={"name": "张三", "password": "123456", "balance": 1},
                          headers=admin, timeout=30).json()
    staff_auth = {"Authorization": "Bearer " + staff["token"]}
    members = requests.get(base + "/api/v1/admin/corps/%s/members" % corp["corpid"], headers=admin, timeout=30).json()
    invitation = [m for m in members["members"] if m["userid"] == "zhangsan"][0]["invitation"]
    requests.post(base + "/api/v1/me/wecom/invitations/" + invitation, json={}, headers=staff_auth, timeout=30)
    # zhangsan writes to the app; wechatpy's parse_message reads what the corp hears.
    wrote = requests.post(base + "/api/v1/me/wecom/%s/apps/%d/messages" % (corp["corpid"], agentid),
                          json={"content": "收到，准时参加"}, headers=staff_auth, timeout=30)
    check(wrote.status_code == 201, "zhangsan writes to the app: %s" % wrote.text[:200])
    heard = parse_message(wait_for_event("收到，准时参加"))
    check(heard.type == "text" and heard.content == "收到，准时参加" and heard.source == "zhangsan"
          and heard.agent == agentid and str(heard.id) == wrote.json()["msgid"],
          "parse_message reads the member's message to the app: %s" % heard)
    groups = []
    for name in ("车友群", "售后群", "团购群"):
        made = requests.post(base + "/api/v1/me/wecom/%s/groups" % corp["corpid"], json={"name": name, "staff": ["lisi"]},
                             headers=staff_auth, timeout=30)
        check(made.status_code == 201, "zhangsan makes %s: %s" % (name, made.text[:200]))
        groups.append(made.json()["chat_id"])
    join = requests.post(base + "/api/v1/me/wecom/%s/groups/%s/join-way" % (corp["corpid"], groups[0]), json={},
                         headers=staff_auth, timeout=30).json()
    for buyer, _ in buyers[:2]:
        requests.post(base + "/api/v1/me/wecom/join-ways/" + join["config_id"], json={},
                      headers={"Authorization": "Bearer " + buyer["token"]}, timeout=30)
    wait_for_event("change_external_chat", "add_member", groups[0])
    # The archive, read over plain HTTP: zhangsan's message and the consenting customer's,
    # not the other customer's.
    conversation = "g:%s:%s" % (corp["corpid"], groups[0])
    for who, text in ((staff["token"], "欢迎试驾"), (buyers[0][0]["token"], "周六可以"), (buyers[1][0]["token"], "不同意存档")):
        sent = requests.post(base + "/api/v1/me/wecom/conversations/%s/messages" % conversation,
                             json={"msgtype": "text", "text": {"content": text}},
                             headers={"Authorization": "Bearer " + who}, timeout=30)
        check(sent.status_code == 201, "a message in the group: %s" % sent.text[:200])
    archived = app.post("msgaudit/get_chat_data", data={"seq": 0, "limit": 100})["chatdata"]
    check([(m["from"], m["text"]["content"], m["roomid"]) for m in archived]
          == [("zhangsan", "欢迎试驾", groups[0]), (buyers[0][1], "周六可以", groups[0])],
          "msgaudit/get_chat_data: %s" % archived)
    later = app.post("msgaudit/get_chat_data", data={"seq": archived[0]["seq"], "limit": 10})["chatdata"]
    check([m["msgid"] for m in later] == [archived[1]["msgid"]], "get_chat_data pages by seq: %s" % later)
    every = app.external_contact_group_chat.list_all(limit=2)
    check(sorted(g["chat_id"] for g in every) == sorted(groups), "groupchat list_all pages to the empty cursor: %s" % every)
    chat = app.external_contact_group_chat.get(groups[0])["group_chat"]
    kinds = [(m["type"], m["userid"]) for m in chat["member_list"]]
    check(kinds == [(1, "zhangsan"), (1, "lisi"), (2, buyers[0][1]), (2, buyers[1][1])] and chat["owner"] == "zhangsan"
          and len(chat["member_version"]) == 32, "groupchat get mixes members and customers: %s" % chat)

    # zhangsan leaves: the deprecated transfer (what this wechatpy calls) hands a customer
    # over at once; the groups go to lisi.
    contacts.user.delete("zhangsan")
    app.external_contact.transfer(buyers[2][1], "zhangsan", "lisi")
    check(app.external_contact.list("lisi")["external_userid"] == [buyers[2][1]], "external_contact.transfer")
    moved = app.post("externalcontact/groupchat/transfer", data={"chat_id_list": groups, "new_owner": "lisi"})
    check(moved["failed_chat_list"] == [], "groupchat/transfer: %s" % moved)
    check(app.external_contact_group_chat.get(groups[0])["group_chat"]["owner"] == "lisi", "the group's owner is lisi")

    # Two hours on, the cached token has ended: the SDK meets 42001, fetches a new one
    # and repeats the call by itself.
    moved = requests.post(base + "/api/v1/sandbox/clock/advance", json={"by_ms": 2 * 3600 * 1000}, headers=admin, timeout=30)
    check(moved.status_code == 200, "the sandbox clock moves: %s" % moved.text[:200])
    check(contacts.user.get("lisi")["name"] == "李四", "the SDK renews its token after 42001")
    print("all checks passed")


if __name__ == "__main__":
    main()
