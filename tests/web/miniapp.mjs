// End-to-end in headless Chromium: a user opens a released mini program in the
// container (390×844), and the package's page, in its sandboxed frame, checks what it
// can and cannot do (login, wx.request to an allowed and a refused domain, storage and
// its limit, no access to Plaza's page, cookies, storage or network); then pays with
// wx.requestPayment on the checkout sheet (password), sees a bad paySign refused,
// accepts a subscribe message in the consent sheet and navigates to another page and
// back. The Rust test then sends the subscribe message; the user finds it in Chats and
// opens its page.
//
// Usage: node miniapp.mjs BASE_URL CONTAINER_PATH USER_NAME SCREENSHOT_DIR
// Prints "SUBSCRIBED" once the consent was given and waits for a line on stdin (the
// Rust test sends the message, then writes "sent"); exits non-zero on the first failed
// check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { createInterface } from "node:readline";

const [base, containerPath, userName, screenshots] = process.argv.slice(2);
if (!base || !containerPath || !userName || !screenshots) {
  console.error("usage: node miniapp.mjs BASE_URL CONTAINER_PATH USER_NAME SCREENSHOT_DIR");
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

const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));

const browser = await chromium.launch({
  executablePath: process.env.PLAZA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
});
try {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const page = await context.newPage();
  await page.goto(base + containerPath);
  check(page.url().includes("/signin"), "the container asks to sign in first");
  await page.click(`button[data-user="${userName}"]`);
  await page.waitForURL(/\/app\/mp\//);
  const view = page.frameLocator("#mp-view");
  await view.locator("#state").filter({ hasText: /ready|error/ }).waitFor({ timeout: 20000 });
  check((await view.locator("#state").textContent()) === "ready", "the package ran its checks: " + (await view.locator("#state").textContent()));
  for (const name of ["login", "systeminfo", "request", "request-denied", "storage", "storage-limit", "storage-removed",
                      "no-parent", "no-cookies", "no-local-storage", "no-fetch"]) {
    const text = await view.locator("#r-" + name).textContent();
    check(text.includes(": ok"), name + " — " + text);
  }
  check((await page.textContent(".app-bar h1")) === "核酸检测预约", "the title bar shows the window title");
  await page.screenshot({ path: screenshots + "/miniapp-container.png" });

  // wx.requestPayment: the checkout sheet over the mini program.
  await view.locator("#pay").click();
  await page.waitForSelector("#mp-pay-password");
  check((await page.textContent("#mp-pay-amount")) === "¥5.00", "the sheet shows the order's amount");
  await page.screenshot({ path: screenshots + "/miniapp-pay-sheet.png" });
  await page.fill("#mp-pay-password", "000000");
  await page.click("#mp-pay-confirm");
  await page.waitForFunction(() => document.querySelector("#mp-pay-error")?.textContent.length > 0);
  check((await page.textContent("#mp-pay-error")).length > 0, "a wrong password is said on the sheet: " + (await page.textContent("#mp-pay-error")));
  await page.fill("#mp-pay-password", "123456");
  await page.click("#mp-pay-confirm");
  await view.locator("#r-paid").waitFor();
  check((await view.locator("#r-paid").textContent()).includes(": ok"), "requestPayment succeeds after the password");

  await view.locator("#pay-bad").click();
  await view.locator("#r-bad-sign").waitFor();
  check((await view.locator("#r-bad-sign").textContent()).includes(": ok"), "a bad paySign is refused: " + (await view.locator("#r-bad-sign").textContent()));

  // Subscribe consent.
  await view.locator("#subscribe").click();
  await page.waitForSelector("#mp-consent-allow");
  await page.screenshot({ path: screenshots + "/miniapp-consent.png" });
  await page.click("#mp-consent-allow");
  await view.locator("#r-subscribed").waitFor();
  check((await view.locator("#r-subscribed").textContent()).includes(": ok"), "the consent is accepted");

  // Navigation: another page with its query, then back.
  await view.locator("#about").click();
  await page.waitForURL(/pages\/about\/about\?from=index/);
  await view.locator("#from").filter({ hasText: "from=index" }).waitFor();
  check(true, "navigateTo opened the about page with its query");
  await view.locator("#back").click();
  await page.waitForURL(/pages\/index\/index/);
  check(true, "navigateBack returned to the home page");

  // A banner ad: shown (one impression), tapped (one click), opening its link.
  await view.locator("#ad").click();
  await view.locator("#r-ad").waitFor();
  check((await view.locator("#r-ad").textContent()).includes(": ok"), "the banner ad is shown");
  await page.waitForSelector("#mp-ad");
  check((await page.textContent("#mp-ad")).includes("第二杯半价"), "the banner shows the campaign");
  await page.screenshot({ path: screenshots + "/miniapp-ad.png" });
  await page.click("#mp-ad-open");
  await page.waitForURL(/pages\/about\/about\?from=ad/);
  await view.locator("#from").filter({ hasText: "from=ad" }).waitFor();
  check(true, "tapping the ad opens its link");

  console.log("SUBSCRIBED");
  await nextLine();
  await page.goto(base + "/app/chats/service-notifications");
  const notices = await page.textContent("#notices");
  check(notices.includes("预约成功通知") && notices.includes("市民中心采样点"), "the message is in Chats: " + notices.slice(0, 120));
  await page.screenshot({ path: screenshots + "/miniapp-notification.png" });
  await page.click(".notice-link");
  await page.waitForURL(/\/app\/mp\/.*pages\/about\/about\?from=notice/);
  await view.locator("#from").filter({ hasText: "from=notice" }).waitFor();
  check(true, "the notification opens its page in the container");
  console.log("web miniapp: all checks passed");
} finally {
  lines.close();
  await browser.close();
}
