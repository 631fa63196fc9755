// End-to-end in headless Chromium at 1280×800: the three consoles. A merchant signs in,
// opens its orders, clicks into a paid one, reads its timeline, refunds part of it from
// the page and sees the refund join the timeline; has the sandbox robot pay an open
// order and expires another. A service provider signs in and reads its sub-merchants'
// volume and commission, then clicks into a sub-merchant's orders. The operator opens
// the day's payments, a merchant and an order from the console, and an order from the
// notification console. Every page fits the window; wide tables scroll in their card.
//
// Usage: node consoles.mjs BASE_URL MERCHANT_NAME PROVIDER_NAME SCREENSHOT_DIR
// Exits non-zero with a message on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, merchantName, providerName, screenshots] = process.argv.slice(2);
if (!base || !merchantName || !providerName || !screenshots) {
  console.error("usage: node consoles.mjs BASE_URL MERCHANT_NAME PROVIDER_NAME SCREENSHOT_DIR");
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

const kinds = (page) =>
  page.$$eval("#timeline li.event", (lines) => lines.map((line) => line.dataset.kind));

// The page is no wider than the window, and every table's card holds its table.
async function fits(page, what) {
  const widths = await page.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    view: window.innerWidth,
    cards: [...document.querySelectorAll(".table-scroll")].map(
      (scroller) => scroller.getBoundingClientRect().right <= scroller.closest(".card").getBoundingClientRect().right,
    ),
  }));
  check(widths.page <= widths.view, `${what}: the page fits the window (${widths.page} ≤ ${widths.view})`);
  check(widths.cards.every(Boolean), `${what}: its tables stay inside their cards`);
}

async function shot(page, name) {
  await page.screenshot({ path: `${screenshots}/${name}`, fullPage: true });
}

const browser = await chromium.launch({
  executablePath: process.env.PLAZA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
});
const context = () => browser.newContext({ viewport: { width: 1280, height: 800 } });
try {
  // ---- The merchant console.
  const merchant = await (await context()).newPage();
  await merchant.goto(base + "/merchant/console/orders");
  check(merchant.url().includes("/signin"), "the merchant console asks to sign in first");
  await merchant.click(`button[data-merchant="${merchantName}"]`);
  await merchant.waitForURL(/\/merchant\/console\/orders$/);
  check((await merchant.locator("tr.order").count()) === 4, "four orders are listed");
  check((await merchant.textContent(".console-nav a.current")) === "Orders", "the Orders tab is current");
  await fits(merchant, "the order list");
  await shot(merchant, "console-merchant-orders.png");

  await merchant.click("text=NOODLE-0001");
  await merchant.waitForURL(/\/orders\/NOODLE-0001$/);
  check(
    JSON.stringify(await kinds(merchant)) === JSON.stringify(["created", "paid", "notification", "settled"]),
    "the timeline reads created → paid → notification → settled: " + (await kinds(merchant)),
  );
  check((await merchant.textContent("#timeline li.notification")).includes("HTTP 200"), "the delivery attempt is shown");
  await fits(merchant, "the order page");
  await shot(merchant, "console-merchant-order.png");

  await merchant.fill("#refund-amount", "5.00");
  await merchant.fill("#refund-reason", "Cold noodles");
  await merchant.click("#refund");
  await merchant.waitForSelector("#notice.good");
  check((await merchant.textContent("#notice")).includes("Refunded ¥5.00"), "the refund went through: " + (await merchant.textContent("#notice")));
  check((await kinds(merchant)).at(-1) === "refund", "the refund joined the timeline");
  const refundLine = await merchant.textContent("#timeline li.refund");
  check(refundLine.includes("¥5.00") && refundLine.includes("Cold noodles") && refundLine.includes("Refunded"), "with its amount, reason and status: " + refundLine);
  check((await merchant.textContent("#order-refunded")) === "¥5.00", "the order shows ¥5.00 refunded");
  await shot(merchant, "console-merchant-order-refunded.png");

  await merchant.fill("#refund-amount", "100");
  await merchant.click("#refund");
  await merchant.waitForSelector("#notice.bad");
  check((await merchant.textContent("#notice")).includes("At most ¥23.00"), "too much is refused in words: " + (await merchant.textContent("#notice")));
  await shot(merchant, "console-merchant-refund-refused.png");

  await merchant.goto(base + "/merchant/console/orders/NOODLE-0002");
  await merchant.click("#robot-pay");
  await merchant.waitForSelector("#notice.good");
  check((await merchant.getAttribute("#order-state .status", "data-state")) === "SUCCESS", "the robot paid the open order");
  check((await kinds(merchant)).includes("paid"), "and the payment is on its timeline");
  await merchant.goto(base + "/merchant/console/orders/NOODLE-0003");
  await merchant.click("#expire-now");
  await merchant.waitForSelector("#notice.good");
  check((await merchant.getAttribute("#order-state .status", "data-state")) === "CLOSED", "expire now closed the other");
  await shot(merchant, "console-merchant-order-expired.png");

  // ---- The provider console.
  const provider = await (await context()).newPage();
  await provider.goto(base + "/provider");
  check(provider.url().includes("/provider/signin"), "the provider console asks to sign in first");
  await provider.click(`button[data-provider="${providerName}"]`);
  await provider.waitForURL(/\/provider$/);
  check((await provider.textContent("#total-volume")) === "¥150.00", "the sub-merchants' volume");
  check((await provider.textContent("#commission-settled")) === "¥0.15", "the commission settled");
  check((await provider.textContent("#commission-to-come")) === "¥0.07", "the commission to come");
  await fits(provider, "the provider console");
  await shot(provider, "console-provider.png");
  await provider.click("tr.sub-merchant a");
  await provider.waitForURL(/\/provider\/sub-merchants\/\d+\/orders$/);
  check((await provider.locator("tr.order").count()) === 2, "the sub-merchant's two orders");
  await provider.click("text=HD-0001");
  check((await kinds(provider)).includes("settled"), "its order's timeline shows the settlement");
  check((await provider.textContent("#timeline li.settled")).includes("commission"), "with the provider's commission");
  await fits(provider, "a sub-merchant's order");
  await shot(provider, "console-provider-order.png");

  // ---- The operator console.
  const operator = await (await context()).newPage();
  await operator.goto(base + "/console");
  await operator.click(`button[data-operator="operator"]`);
  await operator.waitForURL(/\/console$/);
  check((await operator.locator("#payments tr.payment").count()) >= 2, "today's payments are listed");
  await fits(operator, "the console");
  await shot(operator, "console-operator.png");
  await operator.click("#payments tr.payment td:nth-child(3) a >> nth=0");
  await operator.waitForURL(/\/console\/merchants\/\d+\/orders\//);
  check((await operator.locator("#refund-form").count()) === 0, "the operator reads orders without refunding");
  check((await kinds(operator)).includes("paid"), "the order's timeline");
  await shot(operator, "console-operator-order.png");

  await operator.click(".console-nav a[href='/console/merchants']");
  await operator.waitForURL(/\/console\/merchants$/);
  await fits(operator, "the merchants");
  await shot(operator, "console-operator-merchants.png");
  await operator.click(`#merchants a:text-is("${merchantName}")`);
  await operator.waitForURL(/\/console\/merchants\/\d+$/);
  check((await operator.locator("tr.order").count()) === 4, "the merchant's orders, for the operator");
  await shot(operator, "console-operator-merchant.png");

  await operator.goto(base + "/console/notifications");
  await operator.click("a.order-link >> nth=0");
  await operator.waitForURL(/\/console\/merchants\/\d+\/orders\//);
  check((await operator.locator("#timeline li.notification a").count()) >= 1, "a notification's order links back to the notification");
  await fits(operator, "the notifications");
} finally {
  await browser.close();
}
console.log("all checks passed");
