// End-to-end in headless Chromium on `plaza demo`: from the demo mini program's QR page,
// open it in the container, choose a 核酸检测 slot, log in, allow the "预约成功"
// message, pay the fee with the password on the checkout sheet over the mini program,
// see the booking succeed, find the notification in Chats and open it on the booking.
//
// Usage: node demo-miniapp.mjs BASE_URL APPID SCREENSHOT_DIR
// Exits non-zero on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, appid, screenshots] = process.argv.slice(2);
if (!base || !appid || !screenshots) {
  console.error("usage: node demo-miniapp.mjs BASE_URL APPID SCREENSHOT_DIR");
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
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const page = await context.newPage();
  await page.goto(`${base}/mp/${appid}/qr`);
  if (page.url().includes("/signin")) {
    await page.click(`button[data-user="Chen Jing"]`);
    await page.waitForURL(/\/mp\/.*\/qr/);
  }
  const qrWidth = await page.$eval("#mp-qr", (img) => img.naturalWidth);
  check(qrWidth > 100, "the QR page shows the mini program's code");
  await page.screenshot({ path: screenshots + "/demo-miniapp-qr.png" });
  await page.click("#mp-open");
  if (page.url().includes("/signin")) {
    await page.click(`button[data-user="Chen Jing"]`);
  }
  await page.waitForURL(/\/app\/mp\//);
  const view = page.frameLocator("#mp-view");
  await view.locator("#services .choice").first().waitFor({ timeout: 20000 });
  await view.locator("#services .choice", { hasText: "核酸检测" }).click();
  await view.locator("#sites .choice", { hasText: "市民中心采样点" }).click();
  await view.locator("#slots .choice").first().click();
  await page.screenshot({ path: screenshots + "/demo-miniapp-home.png" });
  await view.locator("#next").click();
  await page.waitForURL(/pages\/book\/book/);
  await view.locator("#fee").filter({ hasText: "¥5.00" }).waitFor();
  await view.locator("#name").fill("陈静");
  await view.locator("#book").click();
  await page.waitForSelector("#mp-consent-allow");
  check((await page.textContent(".mp-sheet")).includes("预约成功通知"), "the consent sheet names the message");
  await page.click("#mp-consent-allow");
  await page.waitForSelector("#mp-pay-password");
  check((await page.textContent("#mp-pay-amount")) === "¥5.00", "the checkout sheet shows ¥5.00");
  await page.screenshot({ path: screenshots + "/demo-miniapp-pay.png" });
  await page.fill("#mp-pay-password", "123456");
  await page.click("#mp-pay-confirm");
  await view.locator("#done").waitFor({ state: "visible", timeout: 20000 });
  check((await view.locator("#done").textContent()).includes("预约成功"), "the booking succeeded");
  await page.screenshot({ path: screenshots + "/demo-miniapp-booked.png" });

  await page.goto(base + "/app/chats/service-notifications");
  const notices = await page.textContent("#notices");
  check(notices.includes("预约成功通知") && notices.includes("市民中心采样点") && notices.includes("陈静"),
        "预约成功 is in Chats: " + notices.slice(0, 160));
  await page.screenshot({ path: screenshots + "/demo-miniapp-notice.png" });
  await page.click(".notice-link");
  await page.waitForURL(/pages\/mine\/mine\?booking=/);
  await view.locator(".status.paid").first().waitFor({ timeout: 20000 });
  check((await view.locator("#list").textContent()).includes("已预约"), "the notification opens the booking, paid");
  await page.screenshot({ path: screenshots + "/demo-miniapp-mine.png" });
  console.log("web demo miniapp: all checks passed");
} finally {
  await browser.close();
}
