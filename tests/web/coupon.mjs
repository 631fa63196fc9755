// End-to-end in headless Chromium: a payer claims a coupon on a merchant's claim page,
// sees it under "My coupons", and pays an order with it on the checkout page, where the
// best coupon is chosen and the button shows what is left to pay.
//
// Usage: node coupon.mjs BASE_URL STOCK_ID CHECKOUT_URL SCREENSHOT_DIR
// (the merchant, its running stock and the order are made by the Rust test.)
// Exits non-zero with a message on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, stockId, checkoutUrl, screenshots] = process.argv.slice(2);
if (!base || !stockId || !checkoutUrl || !screenshots) {
  console.error("usage: node coupon.mjs BASE_URL STOCK_ID CHECKOUT_URL SCREENSHOT_DIR");
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

const browser = await chromium.launch({
  executablePath: process.env.PLAZA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
});
try {
  const page = await (
    await browser.newContext({ viewport: { width: 420, height: 900 }, deviceScaleFactor: 2 })
  ).newPage();
  await page.goto(base + "/coupons/" + stockId);
  check(page.url().includes("/signin"), "the claim page asks to sign in first");
  await page.click(`button[data-user="Mei Lin"]`);
  await page.waitForURL(/\/coupons\//);
  check((await page.textContent(".coupon-claim .amount")).includes("5.00"), "the claim page shows ¥5 off");
  await page.screenshot({ path: screenshots + "/coupon-claim.png", fullPage: true });
  await page.click("#claim");
  await page.waitForURL(/\/me/);
  const mine = await page.textContent("#my-coupons");
  check(mine.includes("¥5.00") && mine.includes("usable"), "the wallet lists the coupon: " + mine);

  await page.goto(checkoutUrl);
  const selected = await page.$eval("#coupon", (select) => select.selectedOptions[0].textContent);
  check(selected.includes("5.00"), "the checkout picks the coupon: " + selected);
  check((await page.textContent("#pay")) === "Pay ¥15.00", "the button shows what is left to pay");
  await page.selectOption("#coupon", "none");
  check((await page.textContent("#pay")) === "Pay ¥20.00", "without the coupon, the whole total");
  await page.selectOption("#coupon", { index: 0 });
  const boxes = page.locator(".pin input");
  for (const [index, digit] of [..."135791"].entries()) {
    await boxes.nth(index).fill(digit);
  }
  await page.screenshot({ path: screenshots + "/checkout-coupon.png", fullPage: true });
  await page.click("#pay");
  await page.waitForSelector("#done:not([hidden])");
  check((await page.textContent("#done .paid-amount")) === "¥15.00", "¥15.00 paid with the coupon");
  check((await page.textContent("#done .paid-balance")) === "¥85.00", "and ¥85.00 left");
  check((await page.textContent("#done .paid-saving")).includes("−¥5.00"), "the success page shows the coupon's saving");
  check((await page.textContent("#done .paid-total")) === "¥20.00", "and the order's total");
  await page.screenshot({ path: screenshots + "/checkout-coupon-paid.png", fullPage: true });
  await page.click("#done-button");
  await page.waitForURL(/\/me$/);
  check((await page.textContent("#my-coupons")).includes("used"), "the coupon now reads used");

  // Its claim page says it is claimed; the paid order's checkout shows the saving.
  await page.goto(base + "/coupons/" + stockId);
  check((await page.textContent("#claimed")).includes("已领取 Claimed"), "the claim page says the coupon is claimed");
  await page.goto(checkoutUrl);
  check((await page.textContent("#saving")).includes("5.00"), "the paid order's checkout shows the saving");
  check((await page.textContent("#paid")) === "¥15.00", "and what was paid");
  await page.screenshot({ path: screenshots + "/checkout-coupon-ended.png", fullPage: true });
  console.log("web coupon: all checks passed");
} finally {
  await browser.close();
}
