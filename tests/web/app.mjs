// End-to-end in headless Chromium, at a phone's size (390×844): the user app's three
// tabs. A payer whose earlier payment was partly refunded signs in, pays a merchant's
// order through the checkout's old address (which now redirects into the app), and then
// finds that payment in the 账单 and as WeChat Pay's receipt in Chats, the refund beside
// it; Discover offers Scan, which opens the paid order's checkout from its code. The old
// page addresses answer with redirects into /app, query kept.
//
// Usage: node app.mjs BASE_URL PAYER_NAME PASSWORD CHECKOUT_URL CODE_URL SCREENSHOT_DIR
// (the merchant, the payer, the refunded order and the order to pay are made by the
// Rust test, web_app.rs.) Exits non-zero with a message on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, payerName, password, checkoutUrl, codeUrl, screenshots] = process.argv.slice(2);
if (!base || !payerName || !password || !checkoutUrl || !codeUrl || !screenshots) {
  console.error("usage: node app.mjs BASE_URL PAYER_NAME PASSWORD CHECKOUT_URL CODE_URL SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(screenshots, { recursive: true });

function check(condition, message) {
  if (!condition) {
    console.error("FAILED: " + message);
    process.exit(1);
  }
  console.log("ok: " + message);
}

// The old addresses redirect into the app, keeping the query; forms keep their method.
for (const [method, from, status] of [
  ["GET", "/me", 303],
  ["GET", "/pay/checkout?code=abc&x=%2F", 303],
  ["GET", "/collect", 303],
  ["GET", "/pay/collect/tok123", 303],
  ["GET", "/coupons/9856000", 303],
  ["POST", "/me/payment-code", 307],
  ["POST", "/coupons/9856000/claim", 307],
]) {
  const reply = await fetch(base + from, { method, redirect: "manual" });
  const location = reply.headers.get("location");
  check(reply.status === status && location === "/app" + from, `${method} ${from} → ${reply.status} ${location}`);
}

const browser = await chromium.launch({
  executablePath: process.env.PLAZA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
});
try {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
  const page = await context.newPage();

  async function fitsThePhone(what) {
    const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, view: window.innerWidth }));
    check(widths.page <= 390 && widths.view <= 390, `${what} fits the phone (${widths.page} ≤ 390)`);
  }
  async function tabBarAtTheBottom(what, current) {
    const bar = await page.evaluate(() => {
      const tabbar = document.querySelector("nav.tabbar");
      const box = tabbar.getBoundingClientRect();
      return { bottom: box.bottom, width: box.width, current: tabbar.querySelector("a.current").id };
    });
    check(Math.round(bar.bottom) === 844 && Math.round(bar.width) === 390, `${what}: the tab bar sits at the bottom`);
    check(bar.current === "tab-" + current, `${what}: the ${current} tab is marked`);
  }

  // Signing in from the app lands back in it.
  await page.goto(base + "/app");
  check(page.url().includes("/signin?next=/app"), "the app asks to sign in first");
  await page.screenshot({ path: screenshots + "/app-signin.png", fullPage: true });
  await page.click(`button[data-user="${payerName}"]`);
  await page.waitForURL(/\/app$/);
  check((await page.textContent("#chat-wechat-pay .chat-preview")).includes("退款到账"), "Chats: the refund is the latest notice");

  // Pay the order through the checkout's old address.
  await page.goto(checkoutUrl);
  check(page.url().includes("/app/pay/checkout?code="), "the old checkout address leads into the app: " + page.url());
  check((await page.textContent("#merchant-name")) === "Harbour Coffee", "the checkout names the merchant");
  const boxes = page.locator(".pin input");
  for (const [index, digit] of [...password].entries()) {
    await boxes.nth(index).fill(digit);
  }
  await page.click("#pay");
  await page.waitForSelector("#done:not([hidden])");
  const transaction = await page.textContent("#done .paid-transaction");
  check(/^\d{28}$/.test(transaction), "paid, transaction " + transaction);
  await page.click("#done-button");
  await page.waitForURL(/\/app\/me$/);

  // Me: the wallet with what is left, the actions, the coupons, the entries.
  check((await page.textContent("#balance")).includes("74.50"), "Me: ¥100 − ¥12 + ¥5 − ¥18.50 = ¥74.50 left");
  check((await page.textContent("#me-name")) === payerName, "Me: the payer's name");
  check(await page.isVisible("#show-code"), "Me: the payment code");
  check(await page.isVisible("#scan"), "Me: Scan");
  check((await page.textContent("#my-coupons")).includes("No coupons yet"), "Me: the coupons' empty state");
  check((await page.textContent("#me-entries")).includes("账单 Bills"), "Me: Pay's entries");
  await tabBarAtTheBottom("Me", "me");
  await fitsThePhone("Me");
  await page.screenshot({ path: screenshots + "/app-me.png", fullPage: true });

  // The payment code: a fresh 18-digit code with its QR code, back to Me.
  await page.click("#show-code");
  await page.waitForURL(/\/app\/me\/payment-code$/);
  check(/^\d{18}$/.test(await page.getAttribute("#payment-code", "data-code")), "Me: a fresh 18-digit payment code");
  await fitsThePhone("the payment code");
  await page.screenshot({ path: screenshots + "/app-paycode.png", fullPage: true });
  await page.click("#app-back");
  await page.waitForURL(/\/app\/me$/);

  // 账单: the payment just made on top, then the refund, the refunded payment, the top-up.
  await page.click("#bills-link");
  await page.waitForURL(/\/app\/me\/bills$/);
  const bills = await page.$$eval("li.bill", (rows) => rows.map((row) => row.textContent));
  check(bills.length === 4, "账单: four lines: " + bills.length);
  check(bills[0].includes("Harbour Coffee") && bills[0].includes("Flat white") && bills[0].includes("-18.50"), "账单: the payment made here first: " + bills[0]);
  check(bills[1].includes("Morning bun") && bills[1].includes("+5.00"), "账单: the refund: " + bills[1]);
  check(bills[2].includes("Morning bun") && bills[2].includes("-12.00"), "账单: the refunded payment: " + bills[2]);
  check(bills[3].includes("Top-up") && bills[3].includes("+100.00"), "账单: the top-up: " + bills[3]);
  check((await page.getAttribute("li.bill", "data-reference")) === transaction, "账单: the line carries its transaction");
  check((await page.textContent(".month-head")).includes("支出 Out ¥30.50"), "账单: the month's spending: " + (await page.textContent(".month-head")));
  await fitsThePhone("账单");
  await page.screenshot({ path: screenshots + "/app-bills.png", fullPage: true });
  await page.click("li.bill a");
  check((await page.textContent("#end-state")).includes("已支付 Paid"), "a line opens its order, paid");
  await page.goBack();
  await page.click("#app-back");
  await page.waitForURL(/\/app\/me$/);

  // Chats: WeChat Pay's receipt for this payment, newest first, the refund notice after.
  await page.click("#tab-chats");
  await page.waitForURL(/\/app$/);
  const preview = await page.textContent("#chat-wechat-pay .chat-preview");
  check(preview.includes("付款成功") && preview.includes("18.50") && preview.includes("Harbour Coffee"), "Chats: the latest notice is the payment: " + preview);
  await tabBarAtTheBottom("Chats", "chats");
  await fitsThePhone("Chats");
  await page.screenshot({ path: screenshots + "/app-chats.png", fullPage: true });
  await page.click("#chat-wechat-pay");
  await page.waitForURL(/\/app\/chats\/wechat-pay$/);
  const notices = await page.$$eval(".notice-card", (cards) => cards.map((card) => card.textContent));
  check(notices.length === 3, "the conversation: two receipts and a refund notice");
  check(notices[0].includes("付款成功") && notices[0].includes("¥18.50") && notices[0].includes("Flat white") && notices[0].includes(transaction), "the newest is this payment's receipt");
  check(notices[1].includes("退款到账") && notices[1].includes("+5.00"), "then the refund: " + notices[1]);
  await fitsThePhone("the conversation");
  await page.screenshot({ path: screenshots + "/app-chat-wechat-pay.png", fullPage: true });

  // Discover: Scan, which opens what a code pays.
  await page.goto(base + "/app/discover");
  check((await page.textContent("#entry-scan")).includes("Scan"), "Discover: Scan");
  await tabBarAtTheBottom("Discover", "discover");
  await fitsThePhone("Discover");
  await page.screenshot({ path: screenshots + "/app-discover.png", fullPage: true });
  await page.click("#entry-scan");
  await page.fill("#scan-code", "hello");
  await page.click("#scan-go");
  check((await page.textContent("#notice")).includes("无法识别"), "Scan: text that is no code is refused");
  await fitsThePhone("Scan");
  await page.screenshot({ path: screenshots + "/app-scan.png", fullPage: true });
  await page.fill("#scan-code", codeUrl);
  await page.click("#scan-go");
  await page.waitForURL(/\/app\/pay\/checkout\?code=/);
  check((await page.textContent("#end-state")).includes("已支付 Paid"), "Scan: the order's code opens its checkout, paid");

  // On a desktop the app stays a phone-wide column.
  const desktop = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, storageState: await context.storageState() })).newPage();
  await desktop.goto(base + "/app/me");
  const column = await desktop.evaluate(() => document.querySelector(".app-frame").getBoundingClientRect().width);
  check(column === 480, "desktop: the app is a 480px column: " + column);
  await desktop.screenshot({ path: screenshots + "/app-me-desktop.png" });
  console.log("web app: all checks passed");
} finally {
  await browser.close();
}
