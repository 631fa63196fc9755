// End-to-end in headless Chromium: a merchant shows a Native order's QR code, a demo payer
// opens the checkout, gets the password wrong once, pays, and the merchant page sees it.
//
// Usage: node checkout.mjs BASE_URL ADMIN_TOKEN SCREENSHOT_DIR
// Exits non-zero with a message on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, adminToken, screenshots] = process.argv.slice(2);
if (!base || !adminToken || !screenshots) {
  console.error("usage: node checkout.mjs BASE_URL ADMIN_TOKEN SCREENSHOT_DIR");
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

async function admin(path, body) {
  const reply = await fetch(base + path, {
    method: "POST",
    headers: { authorization: "Bearer " + adminToken, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  check(reply.status === 201, `POST ${path} answers 201 (${reply.status})`);
  return reply.json();
}

// Start from a known instant (10:00 China time, two days on): the page reads the same
// whatever the hour the test runs at.
{
  const nowMs = (await (await fetch(base + "/api/v1/sandbox/clock")).json()).now_ms;
  const chinaDay = Math.floor((nowMs + 8 * 3600000) / 86400000);
  const to = new Date((chinaDay + 2) * 86400000 - 8 * 3600000 + 10 * 3600000).toISOString();
  const pinned = await fetch(base + "/api/v1/sandbox/clock/set", {
    method: "POST",
    headers: { authorization: "Bearer " + adminToken, "content-type": "application/json" },
    body: JSON.stringify({ to }),
  });
  check(pinned.ok, "the clock is pinned to 10:00 China time");
}

const merchant = await admin("/api/v1/admin/merchants", { name: "Harbour Coffee" });
await admin("/api/v1/admin/users", { name: "Lin Wei", password: "246810", balance: 5000 });

const browser = await chromium.launch({
  executablePath: process.env.PLAZA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
});
try {
  // The merchant signs in (sandbox demo sign-in) and creates a Native order.
  const merchantPage = await (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();
  await merchantPage.goto(base + "/merchant");
  check(merchantPage.url().includes("/signin"), "the merchant page asks to sign in first");
  await merchantPage.click(`button[data-merchant="Harbour Coffee"]`);
  await merchantPage.waitForURL(/\/merchant$/);
  check((await merchantPage.textContent("h1")) === "Harbour Coffee", "signed in as the merchant");
  await merchantPage.fill("#description", "Flat white");
  await merchantPage.fill("#amount", "18.50");
  await merchantPage.click("#create");
  await merchantPage.waitForSelector("#order:not([hidden]) .qr svg");
  check(true, "the order's QR code is shown");
  const codeUrl = await merchantPage.textContent("#order .code-url");
  check(codeUrl.startsWith("weixin://wxpay/bizpayurl?pr="), "the QR code carries the code_url " + codeUrl);
  const checkoutUrl = await merchantPage.getAttribute("#order .checkout-link", "href");
  await merchantPage.screenshot({ path: screenshots + "/merchant-order.png", fullPage: true });

  // The payer opens the checkout link, signs in as a demo user, and sees the order.
  const payerPage = await (
    await browser.newContext({ viewport: { width: 420, height: 860 }, deviceScaleFactor: 2 })
  ).newPage();
  await payerPage.goto(checkoutUrl);
  check(payerPage.url().includes("/signin"), "the checkout asks the payer to sign in");
  await payerPage.click(`button[data-user="Lin Wei"]`);
  await payerPage.waitForURL(/\/pay\/checkout/);
  check((await payerPage.textContent("#merchant-name")) === "Harbour Coffee", "the checkout names the merchant");
  check((await payerPage.textContent("#amount")).includes("18.50"), "the checkout shows the amount");
  check((await payerPage.textContent("#description")) === "Flat white", "the checkout shows the description");

  async function typePassword(digits) {
    const boxes = payerPage.locator(".pin input");
    for (let index = 0; index < digits.length; index++) {
      await boxes.nth(index).fill(digits[index]);
    }
  }
  await typePassword("111111");
  await payerPage.click("#pay");
  await payerPage.waitForFunction(() => document.querySelector("#error").textContent.length > 0);
  const wrong = await payerPage.textContent("#error");
  check(wrong.includes("Wrong payment password") && wrong.includes("4 tries left"), "a wrong password is refused: " + wrong);
  await typePassword("246810");
  await payerPage.screenshot({ path: screenshots + "/checkout.png", fullPage: true });
  await payerPage.click("#pay");
  await payerPage.waitForSelector("#done:not([hidden])");
  check((await payerPage.textContent("#done .paid-amount")).includes("18.50"), "the result shows what was paid");
  check((await payerPage.textContent("#done .paid-balance")).includes("31.50"), "and the balance left");
  const transaction = await payerPage.textContent("#done .paid-transaction");
  check(/^\d{28}$/.test(transaction), "and the 28-digit transaction id " + transaction);
  check(await payerPage.isVisible("#done-button"), "the success page has a Done button");
  await payerPage.screenshot({ path: screenshots + "/checkout-paid.png", fullPage: true });

  // The merchant page sees the payment.
  await merchantPage.waitForFunction(
    () => document.querySelector("#order .status").classList.contains("SUCCESS"),
    null,
    { timeout: 10000 },
  );
  check(true, "the merchant page shows the order paid");
  await merchantPage.screenshot({ path: screenshots + "/merchant-paid.png", fullPage: true });

  // Opening the paid order's checkout again shows it paid: no password pad.
  await payerPage.goto(checkoutUrl);
  check((await payerPage.textContent("#end-state")).includes("已支付 Paid"), "a paid order shows its end state");
  check((await payerPage.locator(".pin input").count()) === 0, "and no password pad");
  check((await payerPage.textContent("#ended")).includes(transaction), "with its transaction");
  await payerPage.screenshot({ path: screenshots + "/checkout-ended-paid.png", fullPage: true });
  await payerPage.click("#done-button");
  await payerPage.waitForURL(/\/me$/);
  check(true, "Done goes back to the wallet");

  // Short of money: the payer reads yuan, not fen, and no parser's words.
  const dear = await admin(`/api/v1/admin/merchants/${merchant.mchid}/orders`, { description: "Espresso machine", total: 8000 });
  await payerPage.goto(dear.checkout_url);
  await typePassword("246810");
  await payerPage.click("#pay");
  await payerPage.waitForFunction(() => document.querySelector("#error").textContent.length > 0);
  const short = await payerPage.textContent("#error");
  check(short === "余额不足 Balance ¥31.50, this payment needs ¥80.00", "a short wallet reads in yuan: " + short);

  // An order whose time ran out shows it closed.
  const late = await admin(`/api/v1/admin/merchants/${merchant.mchid}/orders`, { description: "Cold brew", total: 900 });
  const moved = await fetch(base + "/api/v1/sandbox/clock/advance", {
    method: "POST",
    headers: { authorization: "Bearer " + adminToken, "content-type": "application/json" },
    body: JSON.stringify({ by_ms: 2 * 3600000 + 60000 }),
  });
  check(moved.ok, "the clock moved past the order's expiry");
  await payerPage.goto(late.checkout_url);
  check((await payerPage.textContent("#end-state")).includes("已关闭 Closed"), "an expired order shows it closed");
  check((await payerPage.locator(".pin input").count()) === 0, "and no password pad");
  await payerPage.screenshot({ path: screenshots + "/checkout-ended-closed.png", fullPage: true });

  // The merchant demo refuses an amount it cannot read, in words.
  await merchantPage.fill("#amount", "abc");
  await merchantPage.click("#create");
  const refusal = await merchantPage.textContent("#new-order .error");
  check(refusal.includes("Enter an amount") && !refusal.includes("invalid type"), "a bad amount reads plainly: " + refusal);

  // Pages without their parameters, and unknown ones, are pages with a way back.
  await payerPage.goto(base + "/pay/checkout");
  check((await payerPage.textContent("#error-page h2")).includes("Bad request"), "a checkout without its order is a 400 page");
  const missing = await payerPage.goto(base + "/no/such/page");
  check(missing.status() === 404 && (await payerPage.isVisible("#back")), "an unknown path is a 404 page with a way back");
  await payerPage.screenshot({ path: screenshots + "/not-found.png", fullPage: true });
  console.log("web checkout: all checks passed (merchant " + merchant.mchid + ")");
} finally {
  await browser.close();
}
