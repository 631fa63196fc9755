"""Runs the Python recipes of docs/sdks.md exactly as written, against a running Plaza
sandbox, so the guide cannot drift from what the SDKs accept.

Usage:

    python recipes.py --base-url http://127.0.0.1:PORT --admin-token TOKEN

The guide marks what is run with an HTML comment before a fenced block:

    <!-- recipe: keys -->         the shell steps that make a merchant and its key files
    <!-- recipe: NAME -->         a Python block that constructs an SDK client

For each Python recipe this script does what the keys block says (the merchant is made
through the admin API with the block's --name and --sign-mode, and each `jq -r .FIELD
merchant.json > FILE` line is carried out in Python, so jq is not needed) in a fresh
directory, replaces the one placeholder, Plaza's default address http://127.0.0.1:8080,
with --base-url, runs the block there, and makes real calls with the client it built.
A keys step it does not understand, a recipe it does not know, or a known recipe missing
from the guide is a failure. Exits non-zero on the first failure.
"""

import argparse
import json
import os
import re
import shlex
import sys
import tempfile
import time
import traceback

import requests

DOC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "sdks.md"))
PLACEHOLDER = "http://127.0.0.1:8080"
MARKED_BLOCK = re.compile(r"^<!-- recipe: ([A-Za-z0-9_-]+) -->[ \t]*\n```([A-Za-z0-9_-]*)[ \t]*\n(.*?)\n```", re.S | re.M)
MARKER = re.compile(r"^<!-- recipe:", re.M)


def check(condition, message):
    if not condition:
        print("FAILED: " + message, file=sys.stderr)
        sys.exit(1)
    print("ok: " + message)


def marked_blocks():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    blocks = {}
    for name, language, body in MARKED_BLOCK.findall(text):
        check(name not in blocks, "recipe %r is marked once in docs/sdks.md" % name)
        blocks[name] = (language, body)
    # A marker (at the start of a line) not followed by a fence would be skipped: count them.
    check(len(MARKER.findall(text)) == len(blocks), "every recipe marker in docs/sdks.md is followed by a fenced block")
    return blocks


def keys_steps(body):
    """The keys block as data: what merchant to create, and which field goes to which file."""
    create = None
    files = []
    for raw in body.splitlines():
        words = shlex.split(raw, comments=True)
        if not words:
            continue
        if words[:4] == ["plaza", "admin", "merchant", "create"]:
            check(create is None, "the keys block creates one merchant")
            create = parse_create(words[4:], raw)
        elif len(words) == 6 and words[:2] == ["jq", "-r"] and words[2].startswith(".") and words[4] == ">":
            files.append((words[2][1:], words[3], words[5]))
        else:
            check(False, "the keys block has a step recipes.py does not know: %r" % raw)
    check(create is not None, "the keys block creates a merchant")
    for field, source, _ in files:
        check(source == create["output"], "jq reads %s, the file merchant create wrote (%s)" % (source, field))
    return create, files


def parse_create(args, raw):
    create = {"name": None, "sign_mode": None, "output": None}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--name", "--sign-mode") and i + 1 < len(args):
            create[arg[2:].replace("-", "_")] = args[i + 1]
            i += 2
        elif arg == "--json":
            i += 1
        elif arg == ">" and i + 1 < len(args):
            create["output"] = args[i + 1]
            i += 2
        else:
            check(False, "recipes.py knows the merchant create flag %r (%r)" % (arg, raw))
    check(create["name"] and create["output"], "merchant create has --name and writes a file: %r" % raw)
    return create


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--admin-token", required=True)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    admin = {"Authorization": "Bearer " + args.admin_token}
    stamp = str(int(time.time() * 1000))

    def admin_post(path, body):
        reply = requests.post(base + path, json=body, headers=admin, timeout=30)
        if reply.status_code not in (200, 201):
            check(False, "POST %s: %s %s" % (path, reply.status_code, reply.text[:300]))
        print("ok: POST %s: %s" % (path, reply.status_code))
        return reply.json()

    blocks = marked_blocks()
    check("keys" in blocks and blocks["keys"][0] == "sh", "docs/sdks.md has the keys block (sh)")
    create, files = keys_steps(blocks["keys"][1])
    check(create["sign_mode"] == "public_key", "the keys block makes a public-key-mode merchant")

    def keys_in(directory, sign_mode):
        """Does what the keys block says, in `directory`; returns the merchant."""
        body = {"name": create["name"]}
        if sign_mode is not None:
            body["sign_mode"] = sign_mode
        merchant = admin_post("/api/v1/admin/merchants", body)
        check(merchant.get("sign_mode") == (sign_mode or "certificate"), "the merchant is in %s mode" % (sign_mode or "certificate"))
        # What `plaza admin merchant create --json > FILE` writes: the object on one line.
        with open(os.path.join(directory, create["output"]), "w") as f:
            f.write(json.dumps(merchant) + "\n")
        for field, _, target in files:
            value = merchant.get(field)
            check(isinstance(value, str) and value, "merchant.json has %s for %s" % (field, target))
            with open(os.path.join(directory, target), "w") as f:
                f.write(value + "\n")  # jq -r prints the string and a newline
        return merchant

    def run(name, sign_mode):
        """Runs recipe `name` in a fresh directory holding the keys; returns its globals."""
        language, body = blocks[name]
        check(language == "python", "recipe %s is a python block" % name)
        check(PLACEHOLDER in body, "recipe %s names Plaza as %s" % (name, PLACEHOLDER))
        directory = tempfile.mkdtemp(prefix="plaza-recipe-")
        merchant = keys_in(directory, sign_mode)
        source = body.replace(PLACEHOLDER, base)
        namespace = {"__name__": "recipe_" + name.replace("-", "_")}
        here = os.getcwd()
        os.chdir(directory)
        try:
            exec(compile(source, "docs/sdks.md [recipe: %s]" % name, "exec"), namespace)
        except Exception:
            traceback.print_exc()
            check(False, "recipe %s runs as written" % name)
        finally:
            os.chdir(here)
        print("ok: recipe %s runs as written" % name)
        return namespace, merchant

    def wechatpayv3(name, sign_mode):
        namespace, merchant = run(name, sign_mode)
        pay = namespace.get("pay")
        check(pay is not None, "recipe %s leaves the client in `pay`" % name)
        check(pay._core._gate_way == base, "recipe %s points wechatpayv3 at Plaza" % name)
        out_trade_no = "RCP%s%s" % (stamp, "C" if sign_mode is None else "P")
        # The SDK raises unless the answer's signature verifies with the configured key.
        code, message = pay.pay(description="Recipe latte", out_trade_no=out_trade_no, amount={"total": 1800})
        check(code == 200 and json.loads(message).get("code_url", "").startswith("weixin://"),
              "%s: Native prepay answers a code_url, signature verified (%s %s)" % (name, code, message))
        code, message = pay.query(out_trade_no=out_trade_no)
        check(code == 200 and json.loads(message)["trade_state"] == "NOTPAY", "%s: the order reads NOTPAY" % name)

    def wechatpy(name):
        from wechatpy.exceptions import WeChatPayException

        namespace, merchant = run(name, create["sign_mode"])
        client = namespace.get("client")
        check(client is not None, "recipe %s leaves the client in `client`" % name)
        check(client.API_BASE_URL == base + "/", "recipe %s points wechatpy at Plaza" % name)
        try:
            client.order.query(out_trade_no="RCPNONE" + stamp)
            check(False, "wechatpy: orderquery of an unknown order is refused")
        except WeChatPayException as error:
            # SIGNERROR would come first if the MD5 signature did not verify.
            check(error.errcode == "ORDERNOTEXIST", "wechatpy: orderquery of an unknown order: ORDERNOTEXIST (%s)" % error.errcode)
        payer = admin_post("/api/v1/admin/users", {"name": "Recipe payer", "password": "123456", "balance": 10000})
        reply = requests.post(base + "/api/v1/me/payment-code", json={},
                              headers={"Authorization": "Bearer " + payer["token"]}, timeout=10)
        check(reply.status_code == 200, "the payer shows a payment code")
        paid = client.micropay.create(body="Coffee", total_fee=880, auth_code=reply.json()["code"], client_ip="10.0.0.8")
        check(paid["result_code"] == "SUCCESS" and paid["total_fee"] == "880", "wechatpy: micropay charges the code")
        found = client.order.query(out_trade_no=paid["out_trade_no"])
        check(found["trade_state"] == "SUCCESS", "wechatpy: orderquery finds it paid")

    recipes = {
        # The keys block as written: public-key mode.
        "wechatpayv3": lambda: wechatpayv3("wechatpayv3", create["sign_mode"]),
        # The guide: "leave the flag out (certificate is the default)".
        "wechatpayv3-certificate": lambda: wechatpayv3("wechatpayv3-certificate", None),
        "wechatpy": lambda: wechatpy("wechatpy"),
    }
    python_blocks = sorted(name for name, (language, _) in blocks.items() if name != "keys")
    check(python_blocks == sorted(recipes), "docs/sdks.md marks exactly the recipes %s (found %s)" % (sorted(recipes), python_blocks))
    for name in sorted(recipes):
        recipes[name]()
    print("docs/sdks.md recipes: %d run, all checks passed" % len(recipes))


if __name__ == "__main__":
    main()
